/* cmd_serve.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rocmforge serve: not available in this build\n");
    return 2;
}
