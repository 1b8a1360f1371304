/* test_detok.c — the streaming detokenizer's contract.
 *
 * Expected texts come from the inputs and Unicode's rules, not from our
 * own earlier outputs:
 *   - streaming the tokens of a text gives the text back (SPM without the
 *     prefix space it added), and no push ever emits part of a character;
 *   - a push that does not fit returns the negated size and changes
 *     nothing (a retry with room gives the same bytes);
 *   - bytes that cannot complete a character become U+FFFD, one per
 *     maximal ill-formed subpart; a dangling prefix is held until flush;
 *   - control tokens render only when asked; reset restarts the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

static rf_vocab *load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", rf_test_models_dir(), name);
    gguf_file *f;
    rf_error err;
    rf_vocab *v = NULL;
    if (gguf_open(path, &f, &err) != RF_OK)
        return NULL;
    if (rf_vocab_load(f, &v, &err) != RF_OK)
        CHECKF(0, "%s: %s", name, err.msg);
    gguf_free(f);
    return v;
}

static int32_t id_of(const rf_vocab *v, const char *text)
{
    for (int i = 0; i < rf_vocab_n_tokens(v); i++)
        if (!strcmp(rf_vocab_token_text(v, i), text))
            return i;
    return -1;
}

/* A partial character is one whose lead byte announces more bytes than
 * follow in the chunk. */
static bool ends_mid_char(const char *s, int n)
{
    for (int back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xc0) == 0x80)
            continue;
        int need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        return need > back;
    }
    return false;
}

static void stream_roundtrip(rf_vocab *v, const char *text)
{
    int32_t toks[512];
    int n = rf_vocab_tokenize(v, text, strlen(text), toks, 512, false, false);
    CHECK(n > 0);
    rf_detok *d = rf_vocab_detok_create(v, false);
    char out[2048];
    int o = 0;
    for (int i = 0; i < n; i++) {
        int k = rf_detok_push(d, toks[i], out + o, (int)sizeof out - o);
        CHECK(k >= 0);
        CHECKF(!ends_mid_char(out + o, k), "push %d emitted half a character", i);
        o += k;
    }
    o += rf_detok_flush(d, out + o, (int)sizeof out - o);
    CHECKF(o == (int)strlen(text) && !memcmp(out, text, (size_t)o), "stream gave '%.*s' for '%s'", o, out, text);
    rf_detok_free(d);
}

int main(void)
{
    rf_vocab *spm = load("llama-2-tiny-random.gguf");
    rf_vocab *bpe = load("ggml-vocab-llama-bpe.gguf");
    if (!spm || !bpe)
        rf_test_skip("llama-2-tiny-random.gguf / ggml-vocab-llama-bpe.gguf not found (set RF_MODELS_DIR)");

    /* round trips, emoji split over byte tokens included */
    stream_roundtrip(spm, "Hello \xf0\x9f\xa6\x99 caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd");
    stream_roundtrip(bpe, "Hello \xf0\x9f\xa6\x99 caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\xb6\xe2\x80\x8d\xf0\x9f\x8c\xab\xef\xb8\x8f");

    /* byte tokens of the llama emoji F0 9F A6 99: nothing until the last */
    int32_t b[4] = {id_of(spm, "<0xF0>"), id_of(spm, "<0x9F>"), id_of(spm, "<0xA6>"), id_of(spm, "<0x99>")};
    CHECK(b[0] >= 0 && b[3] >= 0);
    rf_detok *d = rf_vocab_detok_create(spm, false);
    char out[64];
    for (int i = 0; i < 3; i++)
        CHECK(rf_detok_push(d, b[i], out, sizeof out) == 0);
    /* no room: negated size, state unchanged */
    CHECK(rf_detok_push(d, b[3], out, 2) == -4);
    CHECK(rf_detok_push(d, b[3], out, sizeof out) == 4 && !memcmp(out, "\xf0\x9f\xa6\x99", 4));
    CHECK(rf_detok_flush(d, out, sizeof out) == 0);

    /* dangling prefix F0 9F: held, then one U+FFFD at flush */
    rf_detok_reset(d);
    CHECK(rf_detok_push(d, b[0], out, sizeof out) == 0);
    CHECK(rf_detok_push(d, b[1], out, sizeof out) == 0);
    CHECK(rf_detok_flush(d, out, 2) == -3);
    CHECK(rf_detok_flush(d, out, sizeof out) == 3 && !memcmp(out, "\xef\xbf\xbd", 3));
    CHECK(rf_detok_flush(d, out, sizeof out) == 0);

    /* invalid byte then a letter: U+FFFD then the letter; F0 then 'A' is
     * an ill-formed subpart of one byte */
    rf_detok_reset(d);
    int32_t ff = id_of(spm, "<0xFF>"), a = id_of(spm, "A");
    CHECK(rf_detok_push(d, ff, out, sizeof out) == 3 && !memcmp(out, "\xef\xbf\xbd", 3));
    CHECK(rf_detok_push(d, b[0], out, sizeof out) == 0);
    CHECK(rf_detok_push(d, a, out, sizeof out) == 4 && !memcmp(out, "\xef\xbf\xbd" "A", 4));

    /* first piece loses the SPM prefix space; after reset again */
    int32_t hello = id_of(spm, "\xe2\x96\x81Hello");
    CHECK(hello >= 0);
    rf_detok_reset(d);
    CHECK(rf_detok_push(d, hello, out, sizeof out) == 5 && !memcmp(out, "Hello", 5));
    CHECK(rf_detok_push(d, hello, out, sizeof out) == 6 && !memcmp(out, " Hello", 6));
    rf_detok_reset(d);
    CHECK(rf_detok_push(d, hello, out, sizeof out) == 5);
    rf_detok_free(d);

    /* control tokens render only when asked */
    int32_t bot = rf_vocab_bos(bpe);
    d = rf_vocab_detok_create(bpe, false);
    CHECK(rf_detok_push(d, bot, out, sizeof out) == 0);
    rf_detok_free(d);
    d = rf_vocab_detok_create(bpe, true);
    CHECK(rf_detok_push(d, bot, out, sizeof out) == 17 && !memcmp(out, "<|begin_of_text|>", 17));
    rf_detok_free(d);

    rf_vocab_free(spm);
    rf_vocab_free(bpe);
    return rf_test_done("tokenizer_detok");
}
