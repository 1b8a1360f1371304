/* test_sampler_llamacpp.c — the filter chain against llama.cpp's samplers.
 *
 * For many random logit vectors (several vocabulary sizes, flat and peaked
 * distributions, sizes above llama.cpp's 1024-candidate adaptive top-p path)
 * and parameter combinations, llama.cpp's own samplers are applied in the
 * default-chain order (penalties, top-k, typical, top-p, min-p, temperature)
 * to one llama_token_data_array, and the surviving token set and their final
 * logits must equal what rf_sampler_candidates returns. llama.cpp is loaded
 * with dlopen (see tests/model/llama_ref.h); absent, the test skips.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sampler_internal.h"
#include "model/llama_ref.h"
#include "test_util.h"

static uint64_t rs = 0x853c49e6748fea9bull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static double nrand(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

typedef struct pair { int32_t id; float v; } pair;
static int cmp_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

int main(void)
{
    rf_llama_ref r;
    char why[512];
    if (!rf_llama_ref_open(&r, why, sizeof why))
        rf_test_skip(why);

    const int sizes[] = {7, 100, 2000, 32000};
    int n_cases = 0, n_mismatch = 0;
    for (int si = 0; si < 4; si++) {
        int n = sizes[si];
        float *logits = malloc(sizeof(float) * n);
        rf_ll_token_data *td = malloc(sizeof *td * n);
        int32_t *ids = malloc(sizeof(int32_t) * n);
        float *vals = malloc(sizeof(float) * n);
        pair *a = malloc(sizeof *a * n), *b = malloc(sizeof *b * n);
        int32_t *hist = malloc(sizeof(int32_t) * 64);
        for (int trial = 0; trial < 60; trial++) {
            double scale = trial % 3 == 0 ? 0.3 : trial % 3 == 1 ? 2.0 : 6.0;
            for (int i = 0; i < n; i++) logits[i] = (float)(nrand() * scale);
            rf_sampler_params p = rf_sampler_default_params();
            p.seed = (uint64_t)trial;
            p.top_k = (int[]){0, 1, 5, 40, 1000}[trial % 5];
            p.top_p = (float[]){1.0f, 0.9f, 0.5f, 0.99f}[trial % 4];
            p.min_p = (float[]){0.0f, 0.05f, 0.3f}[trial % 3];
            p.typical_p = trial % 7 == 3 ? 0.8f : trial % 7 == 5 ? 0.3f : 1.0f;
            p.temperature = (float[]){0.8f, 1.0f, 1.7f, 0.3f}[(trial / 2) % 4];
            p.repeat_penalty = trial % 4 == 1 ? 1.3f : 1.0f;
            p.frequency_penalty = trial % 6 == 2 ? 0.2f : 0.0f;
            p.presence_penalty = trial % 5 == 4 ? 0.4f : 0.0f;
            p.repeat_last_n = (int[]){16, 64, 3}[trial % 3];
            int n_hist = 1 + trial % 40;
            for (int i = 0; i < n_hist; i++) hist[i] = (int32_t)(urand() * (n < 20 ? n : 20));

            rf_sampler *s = NULL;
            rf_error err = {0};
            if (rf_sampler_create_n(n, &p, &s, &err) != RF_OK) {
                CHECKF(0, "create: %s", err.msg);
                continue;
            }
            for (int i = 0; i < n_hist; i++) rf_sampler_accept(s, hist[i]);
            int n_ours = rf_sampler_candidates(s, logits, ids, vals, n);
            rf_sampler_free(s);

            /* llama.cpp, same order */
            for (int i = 0; i < n; i++) { td[i].id = i; td[i].logit = logits[i]; td[i].p = 0; }
            rf_ll_token_data_array cur = {td, (size_t)n, -1, false};
            void *pen = r.smp_init_penalties(n, p.repeat_last_n, p.repeat_penalty, p.frequency_penalty, p.presence_penalty);
            for (int i = 0; i < n_hist; i++) r.smp_accept(pen, hist[i]);
            void *chain[5] = {
                r.smp_init_top_k(p.top_k), r.smp_init_typical(p.typical_p, 1),
                r.smp_init_top_p(p.top_p, 1), r.smp_init_min_p(p.min_p, 1),
                r.smp_init_temp(p.temperature)};
            r.smp_apply(pen, &cur);
            for (int k = 0; k < 5; k++) r.smp_apply(chain[k], &cur);
            r.smp_free(pen);
            for (int k = 0; k < 5; k++) r.smp_free(chain[k]);

            n_cases++;
            int n_ref = (int)cur.size;
            bool ok = n_ref == n_ours;
            if (ok) {
                for (int i = 0; i < n_ref; i++) {
                    a[i].id = cur.data[i].id; a[i].v = cur.data[i].logit;
                    b[i].id = ids[i]; b[i].v = vals[i];
                }
                qsort(a, n_ref, sizeof *a, cmp_pair);
                qsort(b, n_ref, sizeof *b, cmp_pair);
                for (int i = 0; i < n_ref && ok; i++)
                    ok = a[i].id == b[i].id && fabsf(a[i].v - b[i].v) <= 1e-5f * (1 + fabsf(a[i].v));
            }
            if (!ok) {
                n_mismatch++;
                fprintf(stderr, "n=%d trial %d (k=%d typ=%.2f p=%.2f min_p=%.2f T=%.2f rep=%.2f): llama.cpp keeps %d, we keep %d\n",
                        n, trial, p.top_k, p.typical_p, p.top_p, p.min_p, p.temperature, p.repeat_penalty, n_ref, n_ours);
            }
        }
        free(logits); free(td); free(ids); free(vals); free(a); free(b); free(hist);
    }
    CHECKF(n_mismatch == 0, "%d of %d cases differ from llama.cpp", n_mismatch, n_cases);
    fprintf(stderr, "sampler vs llama.cpp: %d cases, %d mismatches\n", n_cases, n_mismatch);
    return rf_test_done("sampler_llamacpp");
}
