/* fuzz_tokenizer.c — libFuzzer target for the tokenizers.
 *
 * Input: one selector byte, then the text. The selector picks the vocab
 * (one per family and pre-tokenizer style: SPM, llama3/qwen2/gemma4/
 * deepseek BPE, WPM, UGM; loaded once from RF_MODELS_DIR or the shared
 * models directory) and the add_special / parse_special flags. For every
 * input: ids must be in range, byte-level BPE and SPM must give the text
 * back from the pieces when the text is valid UTF-8 and holds no special
 * token text, the streaming detokenizer must emit valid UTF-8, and the
 * whole-sequence detokenizer must agree with its own size query. Any
 * violation aborts, so libFuzzer reports it with the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static const char *const names[] = {
    "llama-2-tiny-random.gguf", "ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf", "ggml-vocab-gemma-4.gguf",
    "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-bert-bge.gguf", "ggml-vocab-nomic-bert-moe.gguf",
    "ggml-vocab-gpt-2.gguf",
};
enum { N_VOCAB = sizeof names / sizeof names[0] };
static rf_vocab *vocabs[N_VOCAB];
static int n_loaded;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* RF_MODELS_DIR, else the shared models seen from the repository root
     * or from a build directory inside it */
    const char *env = getenv("RF_MODELS_DIR");
    const char *dirs[] = {env, "../shared/models", "../../shared/models", "../../../shared/models"};
    const char *dir = NULL;
    for (int d = 0; d < 4 && !dir; d++) {
        char probe[1024];
        if (!dirs[d])
            continue;
        snprintf(probe, sizeof probe, "%s/%s", dirs[d], names[0]);
        FILE *pf = fopen(probe, "rb");
        if (pf) {
            fclose(pf);
            dir = dirs[d];
        }
    }
    if (!dir)
        dir = env ? env : "../shared/models";
    for (int i = 0; i < N_VOCAB; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        gguf_file *f;
        rf_error err;
        if (gguf_open(path, &f, &err) != RF_OK)
            continue;
        if (rf_vocab_load(f, &vocabs[i], &err) == RF_OK)
            n_loaded++;
        gguf_free(f);
    }
    if (!n_loaded) {
        fprintf(stderr, "fuzz_tokenizer: no vocab found in %s (set RF_MODELS_DIR)\n", dir);
        abort();
    }
    return 0;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], cp, min;
        size_t k;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { k = 2; min = 0x80; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { k = 3; min = 0x800; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { k = 4; min = 0x10000; cp = c & 0x07; }
        else return false;
        if (i + k > n) return false;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += k;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    rf_vocab *v = vocabs[(sel & 0x3f) % N_VOCAB];
    if (!v)
        return 0;
    bool add = sel & 0x40, parse = sel & 0x80;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    int n = rf_vocab_tokenize(v, text, len, NULL, 0, add, parse);
    if (n == 0)
        return 0;
    if (n > 0)
        abort();  /* with no room, a non-empty result must ask for it */
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)-n);
    int m = rf_vocab_tokenize(v, text, len, toks, -n, add, parse);
    if (m != -n)
        abort();
    int n_vocab = rf_vocab_n_tokens(v);
    for (int i = 0; i < m; i++)
        if (toks[i] < 0 || toks[i] >= n_vocab)
            abort();

    /* pieces give the text back (lossless families, plain valid text) */
    const char *ty = rf_vocab_type_name(v);
    bool lossless = !strcmp(ty, "SPM") || (!strcmp(ty, "BPE") && strcmp(rf_vocab_pre_name(v), "gemma4"));
    if (lossless && !add && !parse && valid_utf8((const unsigned char *)text, len) && !memchr(text, '<', len) &&
        !memchr(text, '[', len) && !memchr(text, 0, len) && !memmem(text, len, "\xe2\x96\x81", 3)) {
        size_t cap = len * 4 + 64, o = 0;
        char *back = malloc(cap);
        for (int i = 0; i < m; i++) {
            int k = rf_vocab_token_to_piece(v, toks[i], back + o, (int)(cap - o), false);
            if (k < 0)
                abort();
            o += (size_t)k;
        }
        const char *b = back;
        if (rf_vocab_add_space_prefix(v) && o > 0 && b[0] == ' ') {
            b++;
            o--;
        }
        if (o != len || memcmp(b, text, len))
            abort();
        free(back);
    }

    /* streaming detokenizer: valid UTF-8, never more than asked */
    rf_detok *d = rf_vocab_detok_create(v, parse);
    if (!d)
        abort();
    char small[8], big[1 << 16];
    for (int i = 0; i < m; i++) {
        int k = rf_detok_push(d, toks[i], small, sizeof small);
        if (k < 0) {
            k = rf_detok_push(d, toks[i], big, (int)sizeof big);
            if (k < 0)
                abort();
            if (!valid_utf8((unsigned char *)big, (size_t)k))
                abort();
        } else if (!valid_utf8((unsigned char *)small, (size_t)k)) {
            abort();
        }
    }
    int k = rf_detok_flush(d, big, (int)sizeof big);
    if (k < 0 || !valid_utf8((unsigned char *)big, (size_t)k))
        abort();
    rf_detok_free(d);

    /* whole-sequence detokenizer: size query then fill */
    int need = rf_vocab_detokenize(v, toks, m, NULL, 0, true, parse);
    if (need < 0) {
        char *buf = malloc((size_t)-need);
        int got = rf_vocab_detokenize(v, toks, m, buf, -need, true, parse);
        if (got < 0 || got > -need)
            abort();
        free(buf);
    }
    free(toks);
    return 0;
}
