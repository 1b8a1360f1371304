/* cmd_synth.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_synth(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rocmforge synth: not available in this build\n");
    return 2;
}
