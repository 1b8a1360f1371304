/* cmd_tokenize.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_tokenize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rocmforge tokenize: not available in this build\n");
    return 2;
}
