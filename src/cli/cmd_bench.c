/* cmd_bench.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rocmforge bench: not available in this build\n");
    return 2;
}
