/* test_llama_ref.c — our tokenizers against llama.cpp on a varied corpus.
 *
 * tests/fixtures/tokenizer/<vocab>.ref were written by llama.cpp itself
 * (scripts/fixtures/tokenizer/gen_fixtures.sh: libllama from node-llama-cpp
 * driven by llama_tok_ref.c) over tests/fixtures/tokenizer/corpus.bin. For
 * every vocab found in RF_MODELS_DIR this checks, exactly:
 *   - the special ids, add_bos/add_eos and the whole EOG set;
 *   - every case with add_special x parse_special in {0,1}^2;
 *   - token_to_piece (special = false and true) of every token those
 *     outputs use plus an even sample of the vocab;
 *   - rf_vocab_detokenize against llama_detokenize;
 *   - the streaming detokenizer: its output equals the whole-sequence text
 *     wherever that text is valid UTF-8, and is valid UTF-8 always.
 * Usage: test_llama_ref [vocab-name ...]
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

typedef struct corpus {
    const char *p[256];
    size_t n[256];
    int count;
} corpus;

static int unhex(const char *h, char *out)
{
    if (!strcmp(h, "-"))
        return 0;
    int n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (char)v;
    }
    return n;
}

static bool valid_utf8(const unsigned char *s, int n)
{
    for (int i = 0; i < n;) {
        unsigned c = s[i];
        int k;
        unsigned min, cp;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { k = 2; min = 0x80; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { k = 3; min = 0x800; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { k = 4; min = 0x10000; cp = c & 0x07; }
        else return false;
        if (i + k > n) return false;
        for (int j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += k;
    }
    return true;
}

static void print_ids(const char *tag, const int32_t *t, int n)
{
    fprintf(stderr, "    %s:", tag);
    for (int i = 0; i < n && i < 64; i++)
        fprintf(stderr, " %d", t[i]);
    fprintf(stderr, n > 64 ? " ...\n" : "\n");
}

static void run_vocab(const char *models, const char *fixdir, const char *name, const corpus *cp)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.gguf", models, name);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        fprintf(stderr, "%s: vocab file absent, skipped\n", name);
        return;
    }
    fclose(probe);
    gguf_file *f;
    rf_error err;
    rf_vocab *v;
    if (gguf_open(path, &f, &err) != RF_OK || rf_vocab_load(f, &v, &err) != RF_OK) {
        CHECKF(0, "%s: %s", name, err.msg);
        return;
    }
    gguf_free(f);
    snprintf(path, sizeof path, "%s/%s.ref", fixdir, name);
    size_t nref;
    char *ref = read_file(path, &nref);
    CHECKF(ref, "%s: cannot read %s", name, path);
    if (!ref) {
        rf_vocab_free(v);
        return;
    }
    int n_vocab = rf_vocab_n_tokens(v);
    static int32_t want[1 << 16], got[1 << 16];
    static char hex1[1 << 16], hex2[1 << 16], b1[1 << 15], b2[1 << 15], b3[1 << 15];
    static int32_t mode0[256][2048];
    static int n_mode0[256];
    int n_case_fail = 0, n_cases = 0, n_piece_fail = 0, n_pieces = 0, n_detok = 0, n_detok_fail = 0;
    char *save;
    for (char *line = strtok_r(ref, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "vocab ", 6)) {
            char fname[256];
            int nt, bos, eos, eot, ab, ae;
            if (sscanf(line, "vocab %255s n_tokens %d bos %d eos %d eot %d add_bos %d add_eos %d", fname, &nt, &bos,
                       &eos, &eot, &ab, &ae) == 7) {
                CHECKF(nt == n_vocab, "%s: n_tokens %d vs %d", name, n_vocab, nt);
                CHECKF(bos == rf_vocab_bos(v), "%s: bos %d vs llama %d", name, rf_vocab_bos(v), bos);
                CHECKF(eos == rf_vocab_eos(v), "%s: eos %d vs llama %d", name, rf_vocab_eos(v), eos);
                CHECKF(eot == rf_vocab_eot(v), "%s: eot %d vs llama %d", name, rf_vocab_eot(v), eot);
                CHECKF(ab == rf_vocab_add_bos(v), "%s: add_bos %d vs llama %d", name, rf_vocab_add_bos(v), ab);
                CHECKF(ae == rf_vocab_add_eos(v), "%s: add_eos %d vs llama %d", name, rf_vocab_add_eos(v), ae);
            } else {
                CHECKF(0, "%s: bad header line", name);
            }
        } else if (!strncmp(line, "eog", 3)) {
            int n_eog = 0;
            char *q = line + 3;
            for (;;) {
                char *e;
                long x = strtol(q, &e, 10);
                if (e == q)
                    break;
                CHECKF(rf_vocab_is_eog(v, (int32_t)x), "%s: token %ld is EOG in llama.cpp", name, x);
                n_eog++;
                q = e;
            }
            int ours = 0;
            for (int t = 0; t < n_vocab; t++)
                ours += rf_vocab_is_eog(v, t);
            CHECKF(ours == n_eog, "%s: %d EOG tokens, llama.cpp %d", name, ours, n_eog);
        } else if (!strncmp(line, "case ", 5)) {
            int ci, add, parse, off;
            if (sscanf(line, "case %d %d %d :%n", &ci, &add, &parse, &off) != 3 || ci >= cp->count) {
                CHECKF(0, "%s: bad case line", name);
                continue;
            }
            int nw = 0;
            for (char *q = line + off;;) {
                char *e;
                long x = strtol(q, &e, 10);
                if (e == q || nw >= (1 << 16))
                    break;
                want[nw++] = (int32_t)x;
                q = e;
            }
            int n = rf_vocab_tokenize(v, cp->p[ci], cp->n[ci], got, 1 << 16, add, parse);
            bool same = n == nw && !memcmp(got, want, sizeof(int32_t) * (size_t)(n > 0 ? n : 0));
            n_cases++;
            if (!same) {
                n_case_fail++;
                CHECKF(0, "%s: case %d add_special=%d parse_special=%d: '%.*s'", name, ci, add, parse,
                       (int)(cp->n[ci] > 80 ? 80 : cp->n[ci]), cp->p[ci]);
                print_ids("llama.cpp", want, nw);
                print_ids("ours     ", got, n);
            }
            if (!add && !parse && nw <= 2048) {
                memcpy(mode0[ci], want, sizeof(int32_t) * (size_t)nw);
                n_mode0[ci] = nw;
            }
        } else if (!strncmp(line, "piece ", 6)) {
            int id;
            if (sscanf(line, "piece %d %65535s %65535s", &id, hex1, hex2) != 3)
                continue;
            int l1 = unhex(hex1, b1), l2 = unhex(hex2, b2);
            int g1 = rf_vocab_token_to_piece(v, id, b3, sizeof b3, false);
            bool ok1 = g1 == l1 && !memcmp(b3, b1, (size_t)l1);
            int g2 = rf_vocab_token_to_piece(v, id, b3, sizeof b3, true);
            bool ok2 = g2 == l2 && !memcmp(b3, b2, (size_t)l2);
            n_pieces++;
            if (!ok1 || !ok2)
                n_piece_fail++;
            CHECKF(ok1 && ok2, "%s: piece of %d ('%s') differs (special=%s)", name, id, rf_vocab_token_text(v, id),
                   ok1 ? "true" : "false");
        } else if (!strncmp(line, "detok ", 6)) {
            int ci;
            if (sscanf(line, "detok %d %65535s", &ci, hex1) != 2 || ci >= cp->count)
                continue;
            int l1 = unhex(hex1, b1);
            int g = rf_vocab_detokenize(v, mode0[ci], n_mode0[ci], b3, sizeof b3, false, false);
            n_detok++;
            bool ok = g == l1 && !memcmp(b3, b1, (size_t)l1);
            if (!ok)
                n_detok_fail++;
            CHECKF(ok, "%s: detokenize case %d: '%.*s' vs llama.cpp '%.*s'", name, ci, g > 0 ? g : 0, b3, l1, b1);

            /* streaming: pieces one by one, then flush */
            rf_detok *d = rf_vocab_detok_create(v, false);
            int o = 0;
            for (int i = 0; i < n_mode0[ci]; i++) {
                int k = rf_detok_push(d, mode0[ci][i], b2 + o, (int)sizeof b2 - o);
                CHECK(k >= 0);
                if (k > 0)
                    o += k;
            }
            int k = rf_detok_flush(d, b2 + o, (int)sizeof b2 - o);
            if (k > 0)
                o += k;
            rf_detok_free(d);
            CHECKF(valid_utf8((unsigned char *)b2, o), "%s: stream of case %d is not valid UTF-8", name, ci);
            /* whole-sequence text without the clean-up passes */
            int raw = 0;
            bool first = true;
            for (int i = 0; i < n_mode0[ci]; i++) {
                int kk = rf_vocab_token_to_piece(v, mode0[ci][i], b3 + raw, (int)sizeof b3 - raw, false);
                if (kk > 0 && first && b3[raw] == ' ' && rf_vocab_add_space_prefix(v)) {
                    memmove(b3 + raw, b3 + raw + 1, (size_t)kk - 1);
                    kk--;
                }
                first = false;
                if (kk > 0)
                    raw += kk;
            }
            if (valid_utf8((unsigned char *)b3, raw))
                CHECKF(o == raw && !memcmp(b2, b3, (size_t)o), "%s: stream of case %d: '%.*s' vs '%.*s'", name, ci,
                       o, b2, raw, b3);
        }
    }
    fprintf(stderr, "%s: %d/%d cases, %d/%d pieces, %d/%d detokenize differ\n", name, n_case_fail, n_cases,
            n_piece_fail, n_pieces, n_detok_fail, n_detok);
    CHECKF(n_cases > 0, "%s: no cases in the fixture", name);
    free(ref);
    rf_vocab_free(v);
}

int main(int argc, char **argv)
{
    const char *models = rf_test_models_dir();
    const char *src = getenv("RF_SOURCE_DIR");
    char fixdir[1024], cpath[1100];
    snprintf(fixdir, sizeof fixdir, "%s/tests/fixtures/tokenizer", src ? src : ".");
    snprintf(cpath, sizeof cpath, "%s/corpus.bin", fixdir);
    size_t n;
    char *buf = read_file(cpath, &n);
    if (!buf)
        rf_test_skip("tests/fixtures/tokenizer/corpus.bin not found (set RF_SOURCE_DIR)");
    DIR *md = opendir(models);
    if (!md)
        rf_test_skip("models directory not found (set RF_MODELS_DIR)");
    closedir(md);
    static corpus cp;
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sep_n = strlen(sep);
    for (char *p = buf; p < buf + n && cp.count < 256;) {
        char *e = memmem(p, (size_t)(buf + n - p), sep, sep_n);
        if (!e)
            break;
        cp.p[cp.count] = p;
        cp.n[cp.count++] = (size_t)(e - p);
        p = e + sep_n;
    }
    CHECK(cp.count > 40);
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            run_vocab(models, fixdir, argv[i], &cp);
    } else {
        DIR *d = opendir(fixdir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l > 4 && !strcmp(e->d_name + l - 4, ".ref")) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)(l - 4), e->d_name);
                run_vocab(models, fixdir, name, &cp);
            }
        }
        if (d)
            closedir(d);
    }
    free(buf);
    return rf_test_done("tokenizer_llama_ref");
}
