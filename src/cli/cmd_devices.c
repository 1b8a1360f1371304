/* cmd_devices.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_devices(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rocmforge devices: not available in this build\n");
    return 2;
}
