/* main.c — the rocmforge command: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rocmforge.h"

typedef struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
    {"run", cmd_run, "generate text from a prompt"},
    {"chat", cmd_chat, "interactive chat through the model's chat template"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server"},
    {"bench", cmd_bench, "prompt-processing and generation speed (pp/tg)"},
    {"inspect", cmd_inspect, "show what a GGUF file holds"},
    {"tokenize", cmd_tokenize, "tokenize text with a model's tokenizer"},
    {"template", cmd_template, "render a chat template"},
    {"quantize", cmd_quantize, "convert a GGUF model to another quant type"},
    {"synth", cmd_synth, "write a random-weight model of a real shape"},
    {"devices", cmd_devices, "list GPUs"},
};

static void usage(FILE *f)
{
    fprintf(f, "rocmforge %s — LLM inference for GGUF models\n\nusage: rocmforge COMMAND [options]\n\ncommands:\n",
            rf_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'rocmforge COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("rocmforge %s\n", rf_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "rocmforge: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
