/* test_vocab_files.c — every ../shared/models/ggml-vocab-*.gguf that has a
 * .inp/.out pair (llama.cpp's test vectors, produced by the Hugging Face
 * tokenizers) must tokenize exactly as listed: add_special = false,
 * parse_special = false. Where the tokenizer is lossless (SPM, byte-level
 * BPE) the concatenated pieces must give the input back.
 *
 * Usage: test_vocab_files [vocab-name ...]  (default: all pairs found)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[sz] = 0;
        *n = (size_t)sz;
    }
    return b;
}

static void print_ids(const char *tag, const int32_t *t, int n)
{
    fprintf(stderr, "    %s:", tag);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %d", t[i]);
    fprintf(stderr, "\n");
}

static int run_vocab(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gguf_file *f;
    rf_error err;
    if (gguf_open(path, &f, &err) != RF_OK) {
        CHECKF(0, "%s: %s", path, err.msg);
        return 0;
    }
    rf_vocab *v;
    if (rf_vocab_load(f, &v, &err) != RF_OK) {
        CHECKF(0, "%s: %s", name, err.msg);
        gguf_free(f);
        return 0;
    }
    gguf_free(f);

    size_t n_inp, n_out;
    char ipath[1100], opath[1100];
    snprintf(ipath, sizeof ipath, "%s.inp", path);
    snprintf(opath, sizeof opath, "%s.out", path);
    char *inp = read_file(ipath, &n_inp), *outs = read_file(opath, &n_out);
    CHECKF(inp && outs, "%s: cannot read .inp/.out", name);
    if (!inp || !outs) {
        free(inp);
        free(outs);
        rf_vocab_free(v);
        return 0;
    }
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sep_n = strlen(sep);
    bool lossless = !strcmp(rf_vocab_type_name(v), "SPM") || !strcmp(rf_vocab_type_name(v), "BPE");
    char *ip = inp, *op = outs;
    int n_case = 0, n_fail = 0;
    int32_t *toks = malloc(1 << 20);
    char *back = malloc(1 << 20);
    for (;;) {
        char *end = strstr(ip, sep);
        if (!end)
            break;
        size_t len = (size_t)(end - ip);
        char *eol = strchr(op, '\n');
        if (!eol)
            break;
        *eol = 0;
        int32_t want[4096];
        int n_want = 0;
        for (char *q = op; *q;) {
            char *e2;
            long x = strtol(q, &e2, 10);
            if (e2 == q)
                break;
            want[n_want++] = (int32_t)x;
            q = e2;
        }
        int n = rf_vocab_tokenize(v, ip, len, toks, 1 << 18, false, false);
        bool same = n == n_want && !memcmp(toks, want, sizeof(int32_t) * (size_t)(n > 0 ? n : 0));
        CHECKF(same, "%s case %d: '%.*s'", name, n_case, (int)len, ip);
        if (!same) {
            print_ids("want", want, n_want);
            print_ids("got ", toks, n);
            n_fail++;
        }
        if (lossless && n > 0) {
            /* SPM drops the leading space it added */
            size_t o = 0;
            for (int i = 0; i < n; i++) {
                int k = rf_vocab_token_to_piece(v, toks[i], back + o, (1 << 20) - (int)o, false);
                if (k > 0)
                    o += (size_t)k;
            }
            const char *b = back;
            if (!strcmp(rf_vocab_type_name(v), "SPM") && o > 0 && b[0] == ' ') {
                b++;
                o--;
            }
            CHECKF(o == len && !memcmp(b, ip, len), "%s case %d: round trip gives '%.*s'", name, n_case, (int)o, b);
        }
        n_case++;
        ip = end + sep_n;
        op = eol + 1;
    }
    fprintf(stderr, "%s: %d cases, %d mismatches\n", name, n_case, n_fail);
    CHECKF(n_case > 0, "%s: no cases read", name);
    free(toks);
    free(back);
    free(inp);
    free(outs);
    rf_vocab_free(v);
    return n_case;
}

int main(int argc, char **argv)
{
    const char *dir = rf_test_models_dir();
    int total = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            char name[512];
            snprintf(name, sizeof name, "ggml-vocab-%s.gguf", argv[i]);
            total += run_vocab(dir, name);
        }
        return rf_test_done("tokenizer_vocab_files");
    }
    DIR *d = opendir(dir);
    if (!d)
        rf_test_skip("models directory not found (set RF_MODELS_DIR)");
    struct dirent *e;
    char names[64][256];
    int n_names = 0;
    while ((e = readdir(d)) && n_names < 64) {
        size_t l = strlen(e->d_name);
        if (!strncmp(e->d_name, "ggml-vocab-", 11) && l > 9 && !strcmp(e->d_name + l - 9, ".gguf.inp")) {
            snprintf(names[n_names], sizeof names[0], "%.*s", (int)(l - 4), e->d_name);
            n_names++;
        }
    }
    closedir(d);
    if (!n_names)
        rf_test_skip("no ggml-vocab-*.gguf.inp files in the models directory");
    for (int i = 0; i < n_names; i++) {
        char gg[2048];
        snprintf(gg, sizeof gg, "%.1500s/%.255s", dir, names[i]);
        FILE *f = fopen(gg, "rb");
        if (!f)
            continue;  /* test vectors without their vocab file */
        fclose(f);
        total += run_vocab(dir, names[i]);
    }
    return rf_test_done("tokenizer_vocab_files");
}
