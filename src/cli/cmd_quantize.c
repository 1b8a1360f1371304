/* cmd_quantize.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_quantize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rocmforge quantize: not available in this build\n");
    return 2;
}
