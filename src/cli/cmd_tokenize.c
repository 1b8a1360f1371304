/* cmd_tokenize.c — `rocmforge tokenize -m FILE [--ids|--pieces] [--special]
 * [--no-add-special] [--stdin | -f TEXTFILE | TEXT]`.
 *
 * Loads only the vocab (gguf_open + rf_vocab_load), so it works on
 * vocab-only files and never touches weights. Output forms:
 *   default   one line per token: "<id> -> '<piece>'" (llama-tokenize style)
 *   --ids     the ids as a list: [1, 15043, 3186]
 *   --pieces  the pieces as a list of quoted, escaped strings
 * --special recognises control tokens written in the text (and renders
 * them); BOS/EOS are added as the metadata says unless --no-add-special.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rocmforge tokenize -m FILE [options] [TEXT]\n"
            "  -m, --model FILE      GGUF file (a vocab-only file is enough)\n"
            "      --ids             print only the token ids, as a list\n"
            "      --pieces          print only the pieces, as a list of strings\n"
            "      --special         parse control tokens written in the text\n"
            "      --no-add-special  do not add BOS/EOS\n"
            "  -f, --file PATH       read the text from a file\n"
            "      --stdin           read the text from standard input\n");
}

static char *read_stream(FILE *f, size_t *n)
{
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    size_t r;
    while ((r = fread(b + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
    }
    *n = len;
    return b;
}

/* Piece as a quoted string with C escapes for quotes, backslashes and
 * control bytes; other bytes (UTF-8 included) are written as they are. */
static void print_quoted(const char *s, int n)
{
    putchar('\'');
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\'' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('\'');
}

int cmd_tokenize(int argc, char **argv)
{
    enum { OPT_IDS = 256, OPT_PIECES, OPT_SPECIAL, OPT_NO_ADD, OPT_STDIN };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"file", required_argument, 0, 'f'},
        {"ids", no_argument, 0, OPT_IDS},
        {"pieces", no_argument, 0, OPT_PIECES},
        {"special", no_argument, 0, OPT_SPECIAL},
        {"no-add-special", no_argument, 0, OPT_NO_ADD},
        {"stdin", no_argument, 0, OPT_STDIN},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *model = NULL, *file = NULL;
    bool ids = false, pieces = false, special = false, add_special = true, from_stdin = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'f': file = optarg; break;
        case OPT_IDS: ids = true; break;
        case OPT_PIECES: pieces = true; break;
        case OPT_SPECIAL: special = true; break;
        case OPT_NO_ADD: add_special = false; break;
        case OPT_STDIN: from_stdin = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int n_src = (optind < argc) + (file != NULL) + from_stdin;
    if (!model || n_src != 1 || (ids && pieces) || argc - optind > 1) {
        usage(stderr);
        return 2;
    }

    char *text = NULL;
    size_t len = 0;
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) {
            fprintf(stderr, "rocmforge tokenize: cannot open '%s'\n", file);
            return 1;
        }
        text = read_stream(f, &len);
        fclose(f);
    } else if (from_stdin) {
        text = read_stream(stdin, &len);
    } else {
        len = strlen(argv[optind]);
        text = malloc(len + 1);
        if (text)
            memcpy(text, argv[optind], len + 1);
    }
    if (!text) {
        fprintf(stderr, "rocmforge tokenize: out of memory reading the text\n");
        return 1;
    }

    rf_error err = {0};
    gguf_file *g = NULL;
    rf_vocab *v = NULL;
    int rc = 1;
    int32_t *toks = NULL;
    if (gguf_open(model, &g, &err) != RF_OK || rf_vocab_load(g, &v, &err) != RF_OK) {
        fprintf(stderr, "rocmforge tokenize: %s\n", err.msg);
        goto done;
    }
    int n = rf_vocab_tokenize(v, text, len, NULL, 0, add_special, special);
    if (n < 0 && n != -2147483647 - 1) {
        toks = malloc((size_t)(-n) * sizeof *toks);
        if (!toks) {
            fprintf(stderr, "rocmforge tokenize: out of memory for %d tokens\n", -n);
            goto done;
        }
        n = rf_vocab_tokenize(v, text, len, toks, -n, add_special, special);
    }
    if (n < 0) {
        fprintf(stderr, "rocmforge tokenize: tokenization failed\n");
        goto done;
    }
    char piece[4096];
    if (ids || pieces)
        putchar('[');
    for (int i = 0; i < n; i++) {
        int k = rf_vocab_token_to_piece(v, toks[i], piece, sizeof piece, special);
        char *p = piece;
        char *big = NULL;
        if (k < 0) {
            big = malloc((size_t)-k);
            k = big ? rf_vocab_token_to_piece(v, toks[i], big, -k, special) : 0;
            p = big;
        }
        if (ids) {
            printf(i ? ", %d" : "%d", toks[i]);
        } else if (pieces) {
            if (i)
                fputs(", ", stdout);
            print_quoted(p, k);
        } else {
            printf("%6d -> ", toks[i]);
            print_quoted(p, k);
            putchar('\n');
        }
        free(big);
    }
    if (ids || pieces)
        puts("]");
    rc = 0;
done:
    free(toks);
    free(text);
    rf_vocab_free(v);
    gguf_free(g);
    return rc;
}
