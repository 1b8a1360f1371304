/* cmd_run.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rocmforge run: not available in this build\n");
    return 2;
}
