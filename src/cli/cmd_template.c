/* cmd_template.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_template(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rocmforge template: not available in this build\n");
    return 2;
}
