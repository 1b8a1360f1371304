/* test_sampler_basic.c — sampler properties checked from their definitions:
 * parameter validation, greedy/top_k=1 is the argmax, the empirical
 * distribution of draws matches softmax(logits / T) (chi-square), seeds
 * reproduce, penalties follow the window, logit bias moves the argmax.
 * (The filters are compared token for token with llama.cpp's samplers in
 * test_sampler_llamacpp.c.) */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/sampler_internal.h"
#include "test_util.h"

static uint64_t rng_state = 88172645463325252ull;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static rf_sampler_params neutral(void)
{
    rf_sampler_params p = rf_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.typical_p = 1.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

static void expect_invalid(rf_sampler_params p, int n_vocab, const char *name)
{
    rf_sampler *s = NULL;
    rf_error err = {0};
    rf_status st = rf_sampler_create_n(n_vocab, &p, &s, &err);
    CHECKF(st == RF_ERR_INVALID_ARG && s == NULL, "%s: expected RF_ERR_INVALID_ARG, got %d", name, st);
    CHECKF(strstr(err.msg, name) != NULL, "message '%s' does not name %s", err.msg, name);
    rf_sampler_free(s);
}

static void test_validation(void)
{
    rf_sampler_params p;
    p = neutral(); p.temperature = -0.5f; expect_invalid(p, 10, "temperature");
    p = neutral(); p.temperature = NAN; expect_invalid(p, 10, "temperature");
    p = neutral(); p.top_k = -1; expect_invalid(p, 10, "top_k");
    p = neutral(); p.top_p = 0.0f; expect_invalid(p, 10, "top_p");
    p = neutral(); p.top_p = 1.5f; expect_invalid(p, 10, "top_p");
    p = neutral(); p.min_p = -0.1f; expect_invalid(p, 10, "min_p");
    p = neutral(); p.min_p = 1.1f; expect_invalid(p, 10, "min_p");
    p = neutral(); p.typical_p = 0.0f; expect_invalid(p, 10, "typical_p");
    p = neutral(); p.typical_p = 2.0f; expect_invalid(p, 10, "typical_p");
    p = neutral(); p.repeat_penalty = INFINITY; expect_invalid(p, 10, "repeat_penalty");
    p = neutral(); p.repeat_penalty = 0.0f; expect_invalid(p, 10, "repeat_penalty");
    p = neutral(); p.presence_penalty = NAN; expect_invalid(p, 10, "presence_penalty");
    p = neutral(); p.frequency_penalty = -INFINITY; expect_invalid(p, 10, "frequency_penalty");
    p = neutral(); p.repeat_last_n = -2; expect_invalid(p, 10, "repeat_last_n");
    rf_logit_bias lb[2] = {{3, 1.0f}, {10, 1.0f}};
    p = neutral(); p.n_logit_bias = 2; p.logit_bias = lb; expect_invalid(p, 10, "logit_bias");
    rf_logit_bias lb2[1] = {{3, NAN}};
    p = neutral(); p.n_logit_bias = 1; p.logit_bias = lb2; expect_invalid(p, 10, "logit_bias");
    /* valid edge values */
    rf_logit_bias ban[1] = {{9, -INFINITY}};
    p = neutral(); p.top_p = 1.0f; p.min_p = 1.0f; p.temperature = 0.0f;
    p.n_logit_bias = 1; p.logit_bias = ban; p.repeat_last_n = -1;
    rf_sampler *s = NULL;
    rf_error err = {0};
    CHECKF(rf_sampler_create_n(10, &p, &s, &err) == RF_OK, "edge values rejected: %s", err.msg);
    rf_sampler_free(s);
}

static void test_greedy_and_topk1(void)
{
    enum { N = 1000 };
    static float logits[N];
    rf_sampler_params p1 = neutral();
    p1.top_k = 1;
    p1.temperature = 1.5f;
    rf_sampler_params p0 = neutral();
    p0.temperature = 0.0f;
    rf_sampler *s1 = NULL, *s0 = NULL;
    CHECK(rf_sampler_create_n(N, &p1, &s1, NULL) == RF_OK);
    CHECK(rf_sampler_create_n(N, &p0, &s0, NULL) == RF_OK);
    int bad1 = 0, bad0 = 0;
    for (int t = 0; t < 200; t++) {
        for (int i = 0; i < N; i++) logits[i] = (float)(urand() * 10.0 - 5.0);
        int am = argmax(logits, N);
        bad1 += rf_sampler_sample(s1, logits) != am;
        bad0 += rf_sampler_sample(s0, logits) != am;
    }
    CHECKF(bad1 == 0, "top_k=1 missed the argmax %d times", bad1);
    CHECKF(bad0 == 0, "temperature 0 missed the argmax %d times", bad0);
    rf_sampler_free(s1);
    rf_sampler_free(s0);
}

/* Chi-square goodness of fit of n_draws draws against probabilities q. */
static double chi_square(const int *obs, const double *q, int k, int n_draws)
{
    double x2 = 0;
    for (int i = 0; i < k; i++) {
        double e = q[i] * n_draws;
        x2 += (obs[i] - e) * (obs[i] - e) / e;
    }
    return x2;
}

static void test_distribution(void)
{
    enum { K = 8, DRAWS = 40000 };
    const float logits[K] = {1.0f, 0.5f, 2.0f, -1.0f, 0.0f, 1.5f, -0.5f, 0.8f};
    const float temps[3] = {1.0f, 0.7f, 1.8f};
    for (int t = 0; t < 3; t++) {
        rf_sampler_params p = neutral();
        p.temperature = temps[t];
        p.seed = 1234 + t;
        rf_sampler *s = NULL;
        CHECK(rf_sampler_create_n(K, &p, &s, NULL) == RF_OK);
        int obs[K] = {0};
        for (int d = 0; d < DRAWS; d++) {
            int tok = rf_sampler_sample(s, logits);
            CHECK(tok >= 0 && tok < K);
            if (tok >= 0 && tok < K) obs[tok]++;
        }
        double q[K], z = 0;
        for (int i = 0; i < K; i++) { q[i] = exp(logits[i] / temps[t]); z += q[i]; }
        for (int i = 0; i < K; i++) q[i] /= z;
        double x2 = chi_square(obs, q, K, DRAWS);
        /* 7 degrees of freedom: P(X2 > 24.32) = 0.001 */
        CHECKF(x2 < 24.32, "T=%.1f: chi-square %.2f >= 24.32 (draws do not follow softmax(l/T))", temps[t], x2);
        rf_sampler_free(s);
    }
    /* top_k = 3 then T = 0.9: renormalised softmax over the 3 best */
    {
        rf_sampler_params p = neutral();
        p.temperature = 0.9f;
        p.top_k = 3;
        p.seed = 99;
        rf_sampler *s = NULL;
        CHECK(rf_sampler_create_n(K, &p, &s, NULL) == RF_OK);
        int obs[K] = {0};
        for (int d = 0; d < DRAWS; d++) obs[rf_sampler_sample(s, logits)]++;
        const int best[3] = {2, 5, 0};
        int o3[3];
        double q[3], z = 0;
        for (int i = 0; i < 3; i++) { q[i] = exp(logits[best[i]] / 0.9); z += q[i]; o3[i] = obs[best[i]]; }
        for (int i = 0; i < 3; i++) q[i] /= z;
        CHECKF(o3[0] + o3[1] + o3[2] == DRAWS, "top_k=3 drew outside the top 3");
        double x2 = chi_square(o3, q, 3, DRAWS);
        CHECKF(x2 < 13.82, "top_k=3: chi-square %.2f >= 13.82 (2 dof, p=0.001)", x2);
        rf_sampler_free(s);
    }
}

static void test_seed(void)
{
    enum { N = 300, T = 200 };
    static float logits[N];
    for (int i = 0; i < N; i++) logits[i] = (float)(urand() * 4.0);
    rf_sampler_params p = neutral();
    p.temperature = 1.0f;
    p.seed = 42;
    rf_sampler *a = NULL, *b = NULL, *c = NULL;
    CHECK(rf_sampler_create_n(N, &p, &a, NULL) == RF_OK);
    CHECK(rf_sampler_create_n(N, &p, &b, NULL) == RF_OK);
    p.seed = 43;
    CHECK(rf_sampler_create_n(N, &p, &c, NULL) == RF_OK);
    int32_t sa[T], same_ab = 0, same_ac = 0;
    for (int t = 0; t < T; t++) {
        sa[t] = rf_sampler_sample(a, logits);
        int32_t tb = rf_sampler_sample(b, logits), tc = rf_sampler_sample(c, logits);
        same_ab += sa[t] == tb;
        same_ac += sa[t] == tc;
    }
    CHECKF(same_ab == T, "same seed diverged (%d/%d equal)", same_ab, T);
    CHECKF(same_ac < T / 2, "different seeds gave nearly the same draws (%d/%d)", same_ac, T);
    rf_sampler_reset(a);
    int again = 0;
    for (int t = 0; t < T; t++) again += rf_sampler_sample(a, logits) == sa[t];
    CHECKF(again == T, "reset did not restart the sequence (%d/%d)", again, T);
    rf_sampler_free(a);
    rf_sampler_free(b);
    rf_sampler_free(c);
}

static void test_penalties_and_bias(void)
{
    enum { N = 6 };
    const float logits[N] = {2.0f, 1.9f, -1.0f, 0.5f, 1.0f, -3.0f};
    float got[N];
    int32_t ids[N];
    rf_sampler_params p = neutral();
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.25f;
    p.presence_penalty = 0.1f;
    p.repeat_last_n = 3;
    rf_sampler *s = NULL;
    CHECK(rf_sampler_create_n(N, &p, &s, NULL) == RF_OK);
    /* window (last 3): 0 0 2 -> after the 4th accept (4): 0 2 4 */
    rf_sampler_accept(s, 0);
    rf_sampler_accept(s, 0);
    rf_sampler_accept(s, 2);
    rf_sampler_accept(s, 4);
    int n = rf_sampler_candidates(s, logits, ids, got, N);
    CHECK(n == N);
    float want[N];
    memcpy(want, logits, sizeof want);
    want[0] = 2.0f / 2.0f - (1 * 0.25f + 0.1f);    /* one 0 left in the window */
    want[2] = -1.0f * 2.0f - (1 * 0.25f + 0.1f);   /* negative: multiplied */
    want[4] = 1.0f / 2.0f - (1 * 0.25f + 0.1f);
    for (int i = 0; i < n; i++)
        CHECKF(fabsf(got[i] - want[ids[i]]) < 1e-6f, "token %d: %g vs %g", ids[i], got[i], want[ids[i]]);
    /* greedy with the same penalties: token 1 now wins over 0 */
    rf_sampler_free(s);
    p.temperature = 0.0f;
    CHECK(rf_sampler_create_n(N, &p, &s, NULL) == RF_OK);
    rf_sampler_accept(s, 0);
    CHECKF(rf_sampler_sample(s, logits) == 1, "penalised argmax should move to token 1");
    rf_sampler_free(s);
    /* logit bias: ban the argmax, then force token 5 */
    rf_logit_bias lb[1] = {{0, -INFINITY}};
    p = neutral();
    p.temperature = 0.0f;
    p.n_logit_bias = 1;
    p.logit_bias = lb;
    CHECK(rf_sampler_create_n(N, &p, &s, NULL) == RF_OK);
    lb[0].bias = 100.0f;   /* the sampler copied the array at creation */
    CHECKF(rf_sampler_sample(s, logits) == 1, "banned token 0 still chosen");
    rf_sampler_free(s);
    rf_logit_bias lb5[1] = {{5, 6.0f}};
    p.logit_bias = lb5;
    p.temperature = 0.5f;
    p.top_k = 1;
    CHECK(rf_sampler_create_n(N, &p, &s, NULL) == RF_OK);
    CHECKF(rf_sampler_sample(s, logits) == 5, "bias +6 should make token 5 the top-1");
    rf_sampler_free(s);
    /* repeat_last_n = -1 keeps every accepted token */
    p = neutral();
    p.temperature = 0.0f;
    p.repeat_penalty = 100.0f;
    p.repeat_last_n = -1;
    CHECK(rf_sampler_create_n(N, &p, &s, NULL) == RF_OK);
    for (int i = 0; i < 1000; i++) rf_sampler_accept(s, 3);
    rf_sampler_accept(s, 0);
    for (int i = 0; i < 1000; i++) rf_sampler_accept(s, 3);
    CHECKF(rf_sampler_sample(s, logits) == 1, "token 0 accepted 1000 tokens ago must still be penalised");
    rf_sampler_free(s);
}

int main(void)
{
    test_validation();
    test_greedy_and_topk1();
    test_distribution();
    test_seed();
    test_penalties_and_bias();
    return rf_test_done("sampler_basic");
}
