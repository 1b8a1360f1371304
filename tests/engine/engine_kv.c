/* engine_kv.c — the paged KV cache: prefix sharing (fork), rewind
 * (truncate), copy-on-write of a shared block, capacity errors, block
 * accounting. The oracle is the engine's own single-sequence run on the
 * same tokens, which engine_greedy ties to llama.cpp: a sequence's logits
 * must be bit-identical however its KV got there (fresh, forked,
 * truncated and refilled), since every path computes the same values in
 * the same order. */
#include <math.h>
#include <string.h>

#include "rocmforge.h"
#include "test_util.h"

static rf_model *m;
static int V;

static const float *feed(rf_ctx *c, int seq, const int32_t *t, int n)
{
    int32_t sq[256];
    for (int i = 0; i < n; i++) sq[i] = seq;
    rf_batch b = {n, t, sq, NULL};
    rf_error err = {0};
    rf_status st = rf_decode(c, &b, &err);
    CHECKF(st == RF_OK, "decode: %s", err.msg);
    return st ? NULL : rf_get_logits(c, n - 1);
}

/* logits after a fresh sequence reads t[0..n_first) in one batch, then
 * t[n_first..n) in another (none when n_first == n). A token's role in a
 * batch (prompt: two or more tokens of its sequence; generated step: one)
 * may choose its numerics (the GPU reads prompts on its matrix units), so
 * each reference gives every token the role it has in the run it checks;
 * chunks of the same role must give the same bits however they are cut. */
static void fresh2(const int32_t *t, int n_first, int n, float *out)
{
    rf_ctx_params cp = rf_ctx_default_params();
    cp.n_ctx = 256;
    rf_ctx *c;
    rf_error err;
    int s;
    CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_OK);
    CHECK(rf_seq_open(c, &s, &err) == RF_OK);
    const float *l = feed(c, s, t, n_first);
    if (n_first < n) l = feed(c, s, t + n_first, n - n_first);
    if (l) memcpy(out, l, (size_t)V * sizeof(float));
    rf_ctx_free(c);
}

static void fresh(const int32_t *t, int n, float *out) { fresh2(t, n, n, out); }

static bool same(const float *a, const float *b) { return a && b && !memcmp(a, b, (size_t)V * sizeof(float)); }

int main(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/stories260K.gguf", rf_test_models_dir());
    FILE *f = fopen(path, "rb");
    if (!f) rf_test_skip("reference model files absent (set RF_MODELS_DIR)");
    fclose(f);
    rf_model_params mp = rf_model_default_params();
    mp.n_threads = 1;
    rf_error err = {0};
    if (rf_model_load(path, &mp, &m, &err)) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    rf_model_info info;
    rf_model_get_info(m, &info);
    V = info.n_vocab;

    int32_t P[40], X[8], Y[8];
    for (int i = 0; i < 40; i++) P[i] = 260 + (i * 7) % 200;
    P[0] = 1;
    for (int i = 0; i < 8; i++) { X[i] = 300 + i; Y[i] = 400 + i; }
    static float ref[8][512];
    int32_t tmp[64];

    /* fresh references: P[0..21) then X[0..1) (a generated step), and in one
     * batch each: P[0..21)+Y[0..3), P[0..10)+Y[0..3), P[0..16)+X[0..2) (the
     * runs below read them in other chunks) */
    memcpy(tmp, P, 21 * 4); memcpy(tmp + 21, X, 4); fresh2(tmp, 21, 22, ref[0]);
    memcpy(tmp + 21, Y, 3 * 4); fresh(tmp, 24, ref[1]);
    memcpy(tmp, P, 10 * 4); memcpy(tmp + 10, Y, 3 * 4); fresh(tmp, 13, ref[2]);
    memcpy(tmp, P, 16 * 4); memcpy(tmp + 16, X, 2 * 4); fresh(tmp, 18, ref[3]);

    rf_ctx_params cp = rf_ctx_default_params();
    cp.n_ctx = 128;
    cp.n_seq_max = 3;
    cp.kv_block_size = 16;
    rf_ctx *c;
    CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_OK);
    int a, b, d, used, total;
    CHECK(rf_seq_open(c, &a, &err) == RF_OK);
    CHECK(rf_seq_open(c, &b, &err) == RF_OK);
    feed(c, a, P, 21);
    rf_ctx_kv_usage(c, &used, &total);
    CHECKF(used == 2, "21 tokens in blocks of 16 use 2 blocks, got %d", used);

    /* fork the whole prompt: one block shared, the partial one copied */
    CHECK(rf_seq_fork(c, a, b, 21, &err) == RF_OK);
    CHECK(rf_seq_len(c, b) == 21);
    rf_ctx_kv_usage(c, &used, &total);
    CHECKF(used == 3, "after fork: %d blocks, want 3 (one shared)", used);
    CHECKF(same(feed(c, b, X, 1), ref[0]), "forked sequence + X differs from a fresh run");
    CHECKF(same(feed(c, a, Y, 3), ref[1]), "source sequence + Y after fork differs from a fresh run");

    /* truncate a into the shared block (copy-on-write), refill: b unaffected */
    rf_seq_truncate(c, a, 10);
    CHECK(rf_seq_len(c, a) == 10);
    CHECKF(same(feed(c, a, Y, 3), ref[2]), "truncated + refilled sequence differs from a fresh run");
    rf_seq_truncate(c, b, 21);
    CHECKF(same(feed(c, b, X, 1), ref[0]), "write into a shared block leaked into the other sequence");

    /* fork at a block boundary: nothing copied */
    CHECK(rf_seq_open(c, &d, &err) == RF_OK);
    rf_ctx_kv_usage(c, &used, &total);
    int before = used;
    CHECK(rf_seq_fork(c, b, d, 16, &err) == RF_OK);
    rf_ctx_kv_usage(c, &used, &total);
    CHECKF(used == before, "fork at a block boundary took %d blocks", used - before);
    CHECKF(same(feed(c, d, X, 2), ref[3]), "fork at 16 + X differs from a fresh run");

    /* bad arguments */
    CHECK(rf_seq_fork(c, a, a, 1, &err) == RF_ERR_INVALID_ARG);
    CHECK(rf_seq_fork(c, a, b, 999, &err) == RF_ERR_INVALID_ARG);
    int e;
    CHECK(rf_seq_open(c, &e, &err) == RF_ERR_CONTEXT_FULL);

    rf_seq_close(c, a);
    rf_seq_close(c, b);
    rf_seq_close(c, d);
    rf_ctx_kv_usage(c, &used, &total);
    CHECKF(used == 0, "%d blocks leaked after closing every sequence", used);
    rf_ctx_free(c);

    /* capacity: a refused batch changes nothing */
    cp = rf_ctx_default_params();
    cp.n_ctx = 32;
    CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_OK);
    CHECK(rf_seq_open(c, &a, &err) == RF_OK);
    feed(c, a, P, 20);
    int32_t sq[40];
    for (int i = 0; i < 40; i++) sq[i] = a;
    rf_batch bb = {20, P, sq, NULL};
    memset(&err, 0, sizeof err);
    CHECK(rf_decode(c, &bb, &err) == RF_ERR_CONTEXT_FULL);
    CHECKF(strstr(err.msg, "context") != NULL, "message: %s", err.msg);
    CHECK(rf_seq_len(c, a) == 20);
    bb.n_tokens = 12;
    CHECK(rf_decode(c, &bb, &err) == RF_OK);
    CHECK(rf_seq_len(c, a) == 32);
    bb.n_tokens = 1;
    CHECK(rf_decode(c, &bb, &err) == RF_ERR_CONTEXT_FULL);
    /* bad token id, unknown sequence, empty batch */
    int32_t bad = V + 5;
    rf_batch b2 = {1, &bad, sq, NULL};
    rf_seq_truncate(c, a, 0);
    CHECK(rf_decode(c, &b2, &err) == RF_ERR_INVALID_ARG);
    CHECKF(strstr(err.msg, "token id") != NULL, "message: %s", err.msg);
    int32_t sq9 = 9;
    rf_batch b3 = {1, P, &sq9, NULL};
    CHECK(rf_decode(c, &b3, &err) == RF_ERR_INVALID_ARG);
    rf_batch b4 = {0, P, sq, NULL};
    CHECK(rf_decode(c, &b4, &err) == RF_ERR_INVALID_ARG);
    rf_ctx_free(c);

    /* a chunk that asks for no logits still fills the KV (its last layer
     * stops after the KV write) */
    {
        cp = rf_ctx_default_params();
        CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_OK);
        CHECK(rf_seq_open(c, &a, &err) == RF_OK);
        int32_t sq0[32];
        uint8_t none[32] = {0};
        for (int i = 0; i < 32; i++) sq0[i] = a;
        rf_batch b0 = {10, P, sq0, none};
        CHECK(rf_decode(c, &b0, &err) == RF_OK);
        CHECK(rf_get_logits(c, 9) == NULL);
        feed(c, a, P + 10, 11);
        CHECKF(same(feed(c, a, X, 1), ref[0]), "KV of a no-logits chunk differs");
        rf_ctx_free(c);
    }

    /* F16 KV cache against F32: the same logits within F16 rounding (~3e-4
     * measured), and not the same bits; the default is the backend's pick
     * (F16 on a GPU, F32 on the CPU) */
    {
        float *l32 = malloc(sizeof(float) * V);
        const float *l = NULL;
        memcpy(tmp, P, 21 * 4);
        memcpy(tmp + 21, Y, 3 * 4);
        for (int k = 0; k < 3; k++) {
            cp = rf_ctx_default_params();
            cp.kv_type = k == 0 ? RF_KV_F32 : k == 1 ? RF_KV_F16 : RF_KV_AUTO;
            CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_OK);
            const rf_kv_type want = k == 0 ? RF_KV_F32 : k == 1 ? RF_KV_F16
                                  : strcmp(info.backend, "cpu") ? RF_KV_F16 : RF_KV_F32;
            CHECKF(rf_ctx_kv_type(c) == want, "K/V type %d asked for %d on %s", (int)rf_ctx_kv_type(c),
                   (int)cp.kv_type, info.backend);
            if (k == 2) { rf_ctx_free(c); break; }
            CHECK(rf_seq_open(c, &a, &err) == RF_OK);
            l = feed(c, a, tmp, 24);
            if (k == 0 && l) memcpy(l32, l, sizeof(float) * V);
            if (k == 1 && l) {
                double d2 = 0, r2 = 0;
                for (int i = 0; i < V; i++) {
                    d2 += ((double)l[i] - l32[i]) * ((double)l[i] - l32[i]);
                    r2 += (double)l32[i] * l32[i];
                }
                CHECKF(sqrt(d2 / r2) < 2e-3 && d2 > 0, "F16 KV: rel L2 %g vs F32 KV", sqrt(d2 / r2));
            }
            CHECK(l != NULL);
            rf_ctx_free(c);
        }
        free(l32);
    }

    /* embeddings: unit length, and identical for identical inputs */
    cp = rf_ctx_default_params();
    cp.embeddings = true;
    cp.n_seq_max = 2;
    CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_OK);
    CHECK(rf_seq_open(c, &a, &err) == RF_OK);
    CHECK(rf_seq_open(c, &b, &err) == RF_OK);
    int32_t tt[20], ss[20];
    for (int i = 0; i < 10; i++) { tt[i] = P[i]; ss[i] = a; tt[10 + i] = P[i]; ss[10 + i] = b; }
    rf_batch be = {20, tt, ss, NULL};
    CHECK(rf_decode(c, &be, &err) == RF_OK);
    const float *ea = rf_get_embeddings(c, a), *eb = rf_get_embeddings(c, b);
    CHECK(ea && eb);
    if (ea && eb) {
        double n2 = 0;
        for (int i = 0; i < info.n_embd; i++) n2 += (double)ea[i] * ea[i];
        CHECKF(n2 > 0.999 && n2 < 1.001, "embedding norm^2 %f", n2);
        CHECK(!memcmp(ea, eb, (size_t)info.n_embd * sizeof(float)));
    }
    rf_ctx_free(c);

    /* the thread count does not change a bit of the result */
    {
        rf_model *m1 = m;
        mp.n_threads = 2;
        CHECK(rf_model_load(path, &mp, &m, &err) == RF_OK);
        static float two[512];
        memcpy(tmp, P, 21 * 4);
        memcpy(tmp + 21, Y, 3 * 4);
        fresh(tmp, 24, two);
        CHECKF(!memcmp(two, ref[1], (size_t)V * sizeof(float)), "2 threads give other logits than 1");
        rf_model_free(m);
        m = m1;
    }
    /* the context's thread count is the model's (1 here) or 0; another is an
     * error that names the setting, not silently ignored */
    cp = rf_ctx_default_params();
    cp.n_threads = 1;
    CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_OK);
    rf_ctx_free(c);
    cp.n_threads = 3;
    c = NULL;
    CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_ERR_UNSUPPORTED && !c && strstr(err.msg, "n_threads 3"));
    rf_model_free(m);
    return rf_test_done("engine_kv");
}
