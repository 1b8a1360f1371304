/* cmd_chat.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_chat(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "rocmforge chat: not available in this build\n");
    return 2;
}
