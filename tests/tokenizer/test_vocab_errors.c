/* test_vocab_errors.c — bad or unsupported tokenizer metadata is a clear
 * load error naming the thing, never a crash. GGUF images are built in
 * memory with just the keys each case needs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

typedef struct gbuf {
    uint8_t b[1 << 16];
    size_t n;
    uint64_t n_kv;
} gbuf;

static void put(gbuf *g, const void *p, size_t n)
{
    memcpy(g->b + g->n, p, n);
    g->n += n;
}
static void put_u32(gbuf *g, uint32_t x) { put(g, &x, 4); }
static void put_u64(gbuf *g, uint64_t x) { put(g, &x, 8); }
static void put_s(gbuf *g, const char *s)
{
    put_u64(g, strlen(s));
    put(g, s, strlen(s));
}
static void kv_str(gbuf *g, const char *k, const char *v)
{
    put_s(g, k);
    put_u32(g, GGUF_VT_STRING);
    put_s(g, v);
    g->n_kv++;
}
static void kv_bool(gbuf *g, const char *k, bool v)
{
    put_s(g, k);
    put_u32(g, GGUF_VT_BOOL);
    uint8_t b = v;
    put(g, &b, 1);
    g->n_kv++;
}
static void kv_strs(gbuf *g, const char *k, const char *const *v, int n)
{
    put_s(g, k);
    put_u32(g, GGUF_VT_ARRAY);
    put_u32(g, GGUF_VT_STRING);
    put_u64(g, (uint64_t)n);
    for (int i = 0; i < n; i++)
        put_s(g, v[i]);
    g->n_kv++;
}
static void kv_arr(gbuf *g, const char *k, gguf_vtype t, const void *data, int n, size_t esz)
{
    put_s(g, k);
    put_u32(g, GGUF_VT_ARRAY);
    put_u32(g, t);
    put_u64(g, (uint64_t)n);
    put(g, data, (size_t)n * esz);
    g->n_kv++;
}

/* Header with n_kv patched in at the end. */
static void begin(gbuf *g)
{
    g->n = 0;
    g->n_kv = 0;
    put(g, "GGUF", 4);
    put_u32(g, 3);
    put_u64(g, 0);  /* tensors */
    put_u64(g, 0);  /* kv count, patched */
}

static rf_status load(gbuf *g, rf_error *err)
{
    memcpy(g->b + 16, &g->n_kv, 8);
    gguf_file *f;
    rf_status st = gguf_parse(g->b, g->n, &f, err);
    CHECKF(st == RF_OK, "synthetic GGUF does not parse: %s", err->msg);
    if (st != RF_OK)
        return st;
    rf_vocab *v = NULL;
    st = rf_vocab_load(f, &v, err);
    rf_vocab_free(v);
    gguf_free(f);
    return st;
}

static void expect(gbuf *g, rf_status want, const char *needle)
{
    rf_error err = {0};
    rf_status st = load(g, &err);
    CHECKF(st == want, "status %d, want %d (%s)", st, want, err.msg);
    CHECKF(strstr(err.msg, needle), "message '%s' does not name '%s'", err.msg, needle);
}

int main(void)
{
    static gbuf g;
    static const char *const toks[] = {"a", "b", "ab", "<0x41>"};
    static const char *const merges[] = {"a b"};

    begin(&g);
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 4);
    expect(&g, RF_ERR_FORMAT, "tokenizer.ggml.model");

    begin(&g);
    kv_str(&g, "tokenizer.ggml.model", "wordpiece-9000");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 4);
    expect(&g, RF_ERR_UNSUPPORTED, "wordpiece-9000");

    begin(&g);
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_str(&g, "tokenizer.ggml.pre", "my-new-pretok");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 4);
    kv_strs(&g, "tokenizer.ggml.merges", merges, 1);
    expect(&g, RF_ERR_UNSUPPORTED, "my-new-pretok");

    begin(&g);
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_str(&g, "tokenizer.ggml.pre", "gpt-2");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 4);
    expect(&g, RF_ERR_FORMAT, "tokenizer.ggml.merges");

    begin(&g);
    kv_str(&g, "tokenizer.ggml.model", "llama");
    expect(&g, RF_ERR_FORMAT, "tokenizer.ggml.tokens");

    begin(&g);
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 4);
    float sc[2] = {0, 0};
    kv_arr(&g, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, sc, 2, 4);
    expect(&g, RF_ERR_FORMAT, "tokenizer.ggml.scores");

    begin(&g);
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 4);
    float tt[4] = {1, 1, 1, 1};
    kv_arr(&g, "tokenizer.ggml.token_type", GGUF_VT_FLOAT32, tt, 4, 4);
    expect(&g, RF_ERR_FORMAT, "tokenizer.ggml.token_type");

    begin(&g);
    kv_str(&g, "tokenizer.ggml.model", "t5");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 4);
    uint8_t cm[8] = {0xff, 0xff, 0, 0, 1, 2, 3, 4};  /* claims 65535 bytes */
    kv_arr(&g, "tokenizer.ggml.precompiled_charsmap", GGUF_VT_UINT8, cm, 8, 1);
    expect(&g, RF_ERR_FORMAT, "precompiled_charsmap");

    /* a tiny valid SPM vocab: out-of-range special ids fall back, the
     * tokenizer still works, byte fallback covers what has no token */
    begin(&g);
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 4);
    int32_t ty[4] = {1, 1, 1, 6};
    kv_arr(&g, "tokenizer.ggml.token_type", GGUF_VT_INT32, ty, 4, 4);
    kv_bool(&g, "tokenizer.ggml.add_space_prefix", false);
    memcpy(g.b + 16, &g.n_kv, 8);
    gguf_file *f;
    rf_error err;
    CHECK(gguf_parse(g.b, g.n, &f, &err) == RF_OK);
    rf_vocab *v;
    CHECK(rf_vocab_load(f, &v, &err) == RF_OK);
    gguf_free(f);
    CHECK(rf_vocab_bos(v) == 1 && rf_vocab_eos(v) == 2);  /* SPM defaults, in range */
    int32_t out[16];
    /* "ab" merges; 'A' has only its byte token <0x41> */
    int n = rf_vocab_tokenize(v, "abA", 3, out, 16, false, false);
    CHECKF(n == 2 && out[0] == 2 && out[1] == 3, "n=%d", n);
    CHECK(rf_vocab_tokenize(v, "abA", 3, out, 1, false, false) == -2);
    /* with BOS as the metadata defaults say */
    n = rf_vocab_tokenize(v, "abA", 3, out, 16, true, false);
    CHECKF(n == 3 && out[0] == 1, "n=%d", n);
    rf_vocab_free(v);
    return rf_test_done("tokenizer_vocab_errors");
}
