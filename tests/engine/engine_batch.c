/* engine_batch.c — batch invariance with quantized weights, many sequences.
 *
 * A deterministic context (the default) promises that a token's logits
 * depend on its own sequence and role only, never on what shares its
 * batch. engine_greedy checks that on stories260K, whose 64-wide rows no
 * integer path takes; here random-weight models (`rocmforge synth`) of
 * 256-wide rows in Q4_K_M, Q4_0, Q8_0, IQ4_XS and Q5_K_M go through the
 * backends' integer products: on a GPU, generated steps of 16+ sequences
 * take the integer tiles, fewer the decode kernels several tokens a
 * launch; on the CPU, its batched products.
 *
 * Each of 20 sequences reads its own prompt (3-6 tokens, one batch) and
 * then 24 teacher-forced steps (tokens from a fixed rule, so the inputs do
 * not depend on the logits). Run once with each sequence alone, and once
 * staggered: sequence i's prompt arrives in round i, beside the steps of
 * the sequences already started, so a round holds one prompt and 0-20
 * generated steps (every count from 1 to 20 occurs). Every step's logits
 * must be the same bits in both runs, and in a third where the first four
 * sequences run in four contexts of the model at once, their steps
 * interleaved. On a GPU the staggered run is
 * repeated in a context without batch invariance, where it must differ
 * (so the comparison can fail).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rocmforge.h"
#include "test_util.h"

#define N_SEQ 20
#define N_GEN 24
#define N_VOCAB 512

static int prompt_len(int i) { return 3 + i % 4; }
static int32_t prompt_tok(int i, int k) { return (int32_t)((i * 31 + k * 17 + 1) % N_VOCAB); }
static int32_t gen_tok(int i, int g) { return (int32_t)((i * 7 + g * 13 + 5) % N_VOCAB); }

static rf_ctx *new_ctx(rf_model *m, bool deterministic)
{
    rf_ctx_params cp = rf_ctx_default_params();
    cp.deterministic = deterministic;
    cp.n_ctx = 1024;
    cp.n_seq_max = N_SEQ;
    rf_ctx *c = NULL;
    rf_error err = {0};
    CHECKF(rf_ctx_create(m, &cp, &c, &err) == RF_OK, "ctx: %s", err.msg);
    return c;
}

/* logits[i][g]: sequence i after its prompt (g = 0) and after step g */
static float *lg_at(float *all, int i, int g) { return all + ((size_t)i * (N_GEN + 1) + g) * N_VOCAB; }

static void run_alone(rf_model *m, float *all)
{
    for (int i = 0; i < N_SEQ; i++) {
        rf_ctx *c = new_ctx(m, true);
        if (!c) return;
        rf_error err = {0};
        int s;
        CHECK(rf_seq_open(c, &s, &err) == RF_OK);
        int32_t tok[8], sq[8];
        for (int k = 0; k < prompt_len(i); k++) { tok[k] = prompt_tok(i, k); sq[k] = s; }
        rf_batch b = {prompt_len(i), tok, sq, NULL};
        for (int g = 0; g <= N_GEN; g++) {
            CHECKF(rf_decode(c, &b, &err) == RF_OK, "decode alone: %s", err.msg);
            const float *lg = rf_get_logits(c, b.n_tokens - 1);
            CHECK(lg != NULL);
            if (lg) memcpy(lg_at(all, i, g), lg, sizeof(float) * N_VOCAB);
            tok[0] = gen_tok(i, g);
            b.n_tokens = 1;
        }
        rf_ctx_free(c);
    }
}

/* returns the largest number of generated steps that shared a round */
static int run_staggered(rf_model *m, float *all, bool deterministic)
{
    rf_ctx *c = new_ctx(m, deterministic);
    if (!c) return 0;
    rf_error err = {0};
    int seq[N_SEQ], done[N_SEQ] = {0}, max_steps = 0;
    for (int i = 0; i < N_SEQ; i++) CHECK(rf_seq_open(c, &seq[i], &err) == RF_OK);
    for (int r = 0; r < N_SEQ + N_GEN; r++) {
        int32_t tok[N_SEQ + 8], sq[N_SEQ + 8], who[N_SEQ + 8];
        int n = 0, steps = 0;
        /* the steps first, then (round r < N_SEQ) sequence r's prompt */
        for (int i = 0; i < N_SEQ; i++)
            if (i < r && done[i] < N_GEN) {
                tok[n] = gen_tok(i, done[i]);
                sq[n] = seq[i];
                who[n++] = i;
                steps++;
            }
        if (r < N_SEQ)
            for (int k = 0; k < prompt_len(r); k++) {
                tok[n] = prompt_tok(r, k);
                sq[n] = seq[r];
                who[n++] = r;
            }
        if (n == 0) break;
        max_steps = steps > max_steps ? steps : max_steps;
        rf_batch b = {n, tok, sq, NULL};
        CHECKF(rf_decode(c, &b, &err) == RF_OK, "decode staggered: %s", err.msg);
        for (int e = 0; e < n; e++) {
            const int i = who[e];
            if (e + 1 < n && who[e + 1] == i) continue; /* not the sequence's last entry */
            const float *lg = rf_get_logits(c, e);
            CHECK(lg != NULL);
            const int g = i == r ? 0 : ++done[i];
            if (lg) memcpy(lg_at(all, i, g), lg, sizeof(float) * N_VOCAB);
        }
    }
    rf_ctx_free(c);
    return max_steps;
}

/* Several contexts on one model at once, their steps interleaved: each
 * must give what its sequence gives alone (the contexts share the model's
 * backend, and a GPU's cache of recorded steps with it). Sequences
 * 0..N_CTX-1, logits into all. */
#define N_CTX 4
static void run_contexts(rf_model *m, float *all)
{
    rf_ctx *c[N_CTX] = {0};
    int32_t tok[N_CTX][8], sq[N_CTX][8];
    rf_batch b[N_CTX];
    rf_error err = {0};
    for (int i = 0; i < N_CTX; i++) {
        c[i] = new_ctx(m, true);
        if (!c[i]) goto out;
        int s;
        CHECK(rf_seq_open(c[i], &s, &err) == RF_OK);
        for (int k = 0; k < prompt_len(i); k++) { tok[i][k] = prompt_tok(i, k); sq[i][k] = s; }
        b[i] = (rf_batch){prompt_len(i), tok[i], sq[i], NULL};
    }
    for (int g = 0; g <= N_GEN; g++)
        for (int i = 0; i < N_CTX; i++) {
            CHECKF(rf_decode(c[i], &b[i], &err) == RF_OK, "decode, context %d: %s", i, err.msg);
            const float *lg = rf_get_logits(c[i], b[i].n_tokens - 1);
            CHECK(lg != NULL);
            if (lg) memcpy(lg_at(all, i, g), lg, sizeof(float) * N_VOCAB);
            tok[i][0] = gen_tok(i, g);
            b[i].n_tokens = 1;
        }
out:
    for (int i = 0; i < N_CTX; i++) rf_ctx_free(c[i]);
}

static int n_differ_seqs(float *a, float *b, int n_seq)
{
    int d = 0;
    for (int i = 0; i < n_seq; i++)
        for (int g = 0; g <= N_GEN; g++) d += memcmp(lg_at(a, i, g), lg_at(b, i, g), sizeof(float) * N_VOCAB) != 0;
    return d;
}

static int n_differ(float *a, float *b) { return n_differ_seqs(a, b, N_SEQ); }

static void run_type(const char *bin, const char *type)
{
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "/tmp/rf_engine_batch_%s_%d.gguf", type, (int)getpid());
    snprintf(cmd, sizeof cmd,
             "%s synth --arch llama --shape n_embd=256,n_layer=2,n_head=4,n_head_kv=2,head_dim=64,n_ff=512,"
             "n_vocab=%d --type %s -o %s -q",
             bin, N_VOCAB, type, path);
    int rc = system(cmd);
    CHECKF(rc == 0, "%s", cmd);
    if (rc != 0) return;
    rf_model_params mp = rf_model_default_params();
    rf_model *m = NULL;
    rf_error err = {0};
    CHECKF(rf_model_load(path, &mp, &m, &err) == RF_OK, "load %s: %s", path, err.msg);
    unlink(path);
    if (!m) return;
    rf_model_info info;
    rf_model_get_info(m, &info);
    CHECK(info.n_vocab == N_VOCAB);
    const size_t n = (size_t)N_SEQ * (N_GEN + 1) * N_VOCAB;
    float *alone = malloc(sizeof(float) * n), *mixed = malloc(sizeof(float) * n);
    memset(alone, 0xff, sizeof(float) * n); /* NaN: a vector never written cannot match */
    memset(mixed, 0xfe, sizeof(float) * n);
    run_alone(m, alone);
    const int max_steps = run_staggered(m, mixed, true);
    CHECKF(max_steps == N_SEQ, "%s: at most %d steps shared a round (want %d)", type, max_steps, N_SEQ);
    const int differ = n_differ(alone, mixed);
    /* and the logits are not all alike (the run computed something) */
    int same_as_first = 0;
    for (int i = 1; i < N_SEQ; i++)
        same_as_first += memcmp(lg_at(alone, i, 1), lg_at(alone, 0, 1), sizeof(float) * N_VOCAB) == 0;
    CHECKF(same_as_first == 0, "%s: %d sequences' logits equal sequence 0's", type, same_as_first);
    CHECKF(differ == 0, "%s (%s): %d of %d logit vectors differ between sequences alone and %d-sequence batches",
           type, info.backend, differ, N_SEQ * (N_GEN + 1), N_SEQ);
    fprintf(stderr, "engine_batch %s (%s): %d logit vectors, %d differ\n", type, info.backend, N_SEQ * (N_GEN + 1),
            differ);
    memset(mixed, 0xfe, sizeof(float) * n);
    run_contexts(m, mixed);
    const int dc = n_differ_seqs(alone, mixed, N_CTX);
    CHECKF(dc == 0, "%s (%s): %d of %d logit vectors differ between a context alone and %d contexts interleaved",
           type, info.backend, dc, N_CTX * (N_GEN + 1), N_CTX);
    /* The comparison can fail: without batch invariance a GPU takes
     * batches of 12+ tokens on its matrix units (F16 operands), so there
     * the staggered run must differ. (The CPU computes the same either way.) */
    if (strcmp(info.backend, "cpu") != 0) {
        memset(mixed, 0xfe, sizeof(float) * n);
        run_staggered(m, mixed, false);
        const int nd = n_differ(alone, mixed);
        CHECKF(nd > 0, "%s (%s): a context without batch invariance gave the same bits", type, info.backend);
        fprintf(stderr, "engine_batch %s (%s), not deterministic: %d differ\n", type, info.backend, nd);
    }
    free(alone);
    free(mixed);
    rf_model_free(m);
}

int main(void)
{
    const char *bin = getenv("RF_BIN");
    if (!bin) rf_test_skip("RF_BIN (the rocmforge binary) not set; run through ctest");
    static const char *types[] = {"Q4_K_M", "Q4_0", "Q8_0", "IQ4_XS", "Q5_K_M"};
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) run_type(bin, types[k]);
    return rf_test_done("engine_batch");
}
