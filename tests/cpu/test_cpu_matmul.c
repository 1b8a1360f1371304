/* test_cpu_matmul.c — every CPU kernel variant the machine can run
 * (scalar, AVX2, AVX-512, NEON; each forced in turn) against the reference:
 * weights dequantized by the reference dequantizer (itself bit-exact with
 * llama.cpp, see quant_ggml) and a double-precision dot product.
 *
 * Tolerance, per output y = sum_i w_i x_i (derived, not tuned):
 *  - activation quantization: the kernels see x_i' = d_b * q_i with
 *    |x_i - x_i'| <= d_b / 2, d_b = max|x| of x_i's block / 127 (32-value
 *    blocks for the Q8 activations, 256 for Q8_K). That contributes at most
 *    sum_i |w_i| d_b / 2 (times 1.001 for the rounding of 1/d_b). The Q8
 *    activations store d_b rounded to F16 (as ggml does), which moves each
 *    x_i' by at most 127 * 2^-11 * d_b more.
 *  - float accumulation: products of exact integer block sums by float
 *    scales, summed block after block (or lane-wise then reduced): at most
 *    (n_terms + 8) * 2^-24 * sum_i |w_i x_i'| with n_terms the number of
 *    float additions in the longest chain (blocks, or columns for F32/F16/BF16).
 * SIMD variants are also compared with the scalar kernel directly: the
 * activations are quantized identically, so the two may differ only by two
 * such float-summation bounds (catches integer slips too small for the
 * first bound).
 * Odd sizes: rows not a multiple of any tile, n_tok = 1, 3, 17, 70 (more than
 * one token tile), a padded row stride, 1 and 3 threads. Also: results do not
 * depend on the batch (each token alone gives the same bits) nor on the
 * thread count; bad arguments are errors, not crashes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/cpu/cpu_kernels.h"
#include "quant/quant.h"
#include "test_util.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng_u64(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float rng_unif(void) { return (float)((rng_u64() >> 40) * (1.0 / 16777216.0)); }
static float rng_gauss(void)
{
    float u = rng_unif() + 1e-7f, v = rng_unif();
    return sqrtf(-2.f * logf(u)) * cosf(6.2831853f * v);
}

static int act_block(rf_type t)
{
    switch (t) {
    case RF_TYPE_F32: case RF_TYPE_F16: case RF_TYPE_BF16: return 0;
    case RF_TYPE_Q2_K: case RF_TYPE_Q3_K: case RF_TYPE_Q4_K: case RF_TYPE_Q5_K: case RF_TYPE_Q6_K:
    case RF_TYPE_IQ4_XS: return 256;
    default: return 32;
    }
}

static double worst_ratio[RF_ISA_COUNT][RF_TYPE_COUNT];

/* Types whose every kernel (row dot, tile, packed) computes the one formula
 * of cpu_pack.c: all variants give the scalar kernel's bits. */
static bool one_formula(rf_type t)
{
    return t == RF_TYPE_Q4_0 || t == RF_TYPE_Q8_0 || t == RF_TYPE_Q4_K || t == RF_TYPE_Q6_K || t == RF_TYPE_IQ4_NL;
}

static void run_case(rf_cpu_isa isa, rf_type t, int64_t n_rows, int64_t n_cols, int64_t n_tok, size_t pad,
                     rf_threadpool *pool)
{
    const rf_type_traits *tr = rf_type_get((uint32_t)t);
    const size_t rb = (size_t)rf_type_row_bytes(t, (uint64_t)n_cols), stride = rb + pad;
    float *wf = malloc(sizeof(float) * (size_t)(n_rows * n_cols));
    float *wd = malloc(sizeof(float) * (size_t)(n_rows * n_cols));
    float *x = malloc(sizeof(float) * (size_t)(n_tok * n_cols));
    float *y = malloc(sizeof(float) * (size_t)(n_tok * n_rows));
    float *y1 = malloc(sizeof(float) * (size_t)n_rows);
    uint8_t *w = malloc(stride * (size_t)n_rows + 64);
    for (int64_t i = 0; i < n_rows * n_cols; i++) wf[i] = rng_gauss() * (rng_unif() < 0.01f ? 8.f : 1.f);
    for (int64_t i = 0; i < n_tok * n_cols; i++) x[i] = rng_gauss() * (rng_unif() < 0.01f ? 10.f : 1.f);
    rf_error err = {0};
    for (int64_t r = 0; r < n_rows; r++) {
        CHECK(rf_quantize_rows(t, wf + r * n_cols, w + (size_t)r * stride, 1, n_cols, &err) == RF_OK);
        memset(w + (size_t)r * stride + rb, 0x7f, pad);   /* padding must not be read */
        rf_quant_get(t)->dequantize_row(w + (size_t)r * stride, wd + r * n_cols, n_cols);
    }
    size_t ss = rf_cpu_matmul_scratch_size(t, n_cols, n_tok);
    void *scratch = ss ? aligned_alloc(64, (ss + 63) / 64 * 64) : NULL;
    rf_status st = rf_cpu_matmul(pool, t, w, n_rows, n_cols, stride, x, n_tok, y, scratch, &err);
    CHECKF(st == RF_OK, "%s %s: %s", rf_cpu_isa_name(isa), tr->name, err.msg);

    /* Against the scalar kernel: both quantize the activations identically
     * (round half to even), so only the float summation order differs. */
    float *ys = NULL;
    if (isa != RF_ISA_SCALAR) {
        ys = malloc(sizeof(float) * (size_t)(n_tok * n_rows));
        rf_cpu_kernels_force(RF_ISA_SCALAR);
        CHECK(rf_cpu_matmul(pool, t, w, n_rows, n_cols, stride, x, n_tok, ys, scratch, &err) == RF_OK);
        rf_cpu_kernels_force(isa);
    }
    const int ab = act_block(t);
    const int64_t n_terms = ab ? n_cols / (ab == 256 ? 256 : 32) * (ab == 256 ? 16 : 1) : n_cols;
    int bad = 0;
    for (int64_t tk = 0; tk < n_tok; tk++) {
        const float *xt = x + tk * n_cols;
        for (int64_t r = 0; r < n_rows; r++) {
            const float *wr = wd + r * n_cols;
            double ref = 0, qerr = 0, mag = 0;
            for (int64_t b0 = 0; b0 < n_cols; b0 += ab ? ab : n_cols) {
                int64_t len = ab ? ab : n_cols;
                double amax = 0;
                for (int64_t i = b0; i < b0 + len; i++) amax = fmax(amax, fabs(xt[i]));
                /* Q8 (32-value) activations keep their scale rounded to F16
                 * (as ggml's block_q8_0): 127 * |d - d16| <= 127 * 2^-11 * d more */
                double half_step = ab ? amax / 127.0 * (0.5 * 1.001 + (ab == 32 ? 127.0 * 0x1p-11 : 0.0)) : 0;
                for (int64_t i = b0; i < b0 + len; i++) {
                    ref += (double)wr[i] * xt[i];
                    qerr += fabs(wr[i]) * half_step;
                    mag += fabs((double)wr[i]) * (fabs(xt[i]) + half_step);
                }
            }
            double tol = qerr + (double)(n_terms + 8) * 0x1p-24 * mag + 1e-30;
            if (ys && one_formula(t) && memcmp(&y[tk * n_rows + r], &ys[tk * n_rows + r], sizeof(float)) && bad++ < 3)
                fprintf(stderr, "%s %s tok %lld row %lld: %.9g, scalar kernel %.9g (the same formula must give the same bits)\n",
                        rf_cpu_isa_name(isa), tr->name, (long long)tk, (long long)r, y[tk * n_rows + r], ys[tk * n_rows + r]);
            if (ys) {
                /* two float summations of the same exact terms, each within
                 * (n_terms + 8) eps * mag of the exact sum */
                double es = fabs((double)y[tk * n_rows + r] - ys[tk * n_rows + r]);
                double tols = 2.0 * (double)(n_terms + 8) * 0x1p-24 * mag + 1e-30;
                if (!(es <= tols) && bad++ < 3)
                    fprintf(stderr, "%s %s tok %lld row %lld: %.9g vs scalar kernel %.9g (diff %.3g > %.3g)\n",
                            rf_cpu_isa_name(isa), tr->name, (long long)tk, (long long)r, y[tk * n_rows + r],
                            ys[tk * n_rows + r], es, tols);
            }
            double e = fabs((double)y[tk * n_rows + r] - ref);
            if (e / tol > worst_ratio[isa][t]) worst_ratio[isa][t] = e / tol;
            if (!(e <= tol) && bad++ < 3)
                fprintf(stderr, "%s %s %lldx%lld tok %lld row %lld: got %.9g want %.9g (err %.3g > tol %.3g)\n",
                        rf_cpu_isa_name(isa), tr->name, (long long)n_rows, (long long)n_cols, (long long)tk,
                        (long long)r, y[tk * n_rows + r], ref, e, tol);
        }
    }
    CHECKF(bad == 0, "%s %s rows %lld cols %lld tok %lld: %d outputs outside the bound", rf_cpu_isa_name(isa), tr->name,
           (long long)n_rows, (long long)n_cols, (long long)n_tok, bad);

    /* batch invariance: each token alone gives the same bits */
    int diff = 0;
    for (int64_t tk = 0; tk < n_tok; tk += (n_tok > 4 ? 5 : 1)) {
        CHECK(rf_cpu_matmul(NULL, t, w, n_rows, n_cols, stride, x + tk * n_cols, 1, y1, scratch, &err) == RF_OK);
        if (memcmp(y1, y + tk * n_rows, sizeof(float) * (size_t)n_rows)) diff++;
    }
    CHECKF(diff == 0, "%s %s: %d tokens give different results alone than in a batch of %lld (or with 1 thread)",
           rf_cpu_isa_name(isa), tr->name, diff, (long long)n_tok);
    free(ys); free(scratch); free(wf); free(wd); free(x); free(y); free(y1); free(w);
}

/* Packed weights (rf_cpu_pack): the variant's packed kernel gives exactly
 * the bits of the scalar row dot (one formula per type, exact integers),
 * for every token count, thread count and tail of rows, and each token
 * alone gives the bits it gets in the batch. */
static void run_packed(rf_cpu_isa isa, rf_type t, int64_t n_rows, int64_t n_cols, int64_t n_tok, rf_threadpool *pool)
{
    const rf_type_traits *tr = rf_type_get((uint32_t)t);
    const size_t rb = (size_t)rf_type_row_bytes(t, (uint64_t)n_cols), gb = rf_cpu_pack_block_bytes(t);
    const size_t psize = (size_t)((n_rows + RF_CPU_PACK_ROWS - 1) / RF_CPU_PACK_ROWS) * (size_t)(n_cols / tr->block_size) * gb;
    float *wf = malloc(sizeof(float) * (size_t)(n_rows * n_cols));
    float *x = malloc(sizeof(float) * (size_t)(n_tok * n_cols));
    float *y = malloc(sizeof(float) * (size_t)(n_tok * n_rows)), *ys = malloc(sizeof(float) * (size_t)(n_tok * n_rows));
    float *y1 = malloc(sizeof(float) * (size_t)n_rows);
    uint8_t *w = malloc(rb * (size_t)n_rows);
    void *pw = aligned_alloc(64, (psize + 63) / 64 * 64);
    for (int64_t i = 0; i < n_rows * n_cols; i++) wf[i] = rng_gauss() * (rng_unif() < 0.01f ? 8.f : 1.f);
    for (int64_t i = 0; i < n_tok * n_cols; i++) x[i] = rng_gauss() * (rng_unif() < 0.01f ? 10.f : 1.f);
    rf_error err = {0};
    CHECK(rf_quantize_rows(t, wf, w, n_rows, n_cols, &err) == RF_OK);
    CHECK(rf_cpu_pack(t, w, n_rows, n_cols, rb, pw, psize, &err) == RF_OK);
    size_t ss = rf_cpu_matmul_scratch_size(t, n_cols, n_tok);
    void *scratch = aligned_alloc(64, (ss + 63) / 64 * 64);
    rf_cpu_kernels_force(RF_ISA_SCALAR);
    CHECK(rf_cpu_matmul(NULL, t, w, n_rows, n_cols, rb, x, n_tok, ys, scratch, &err) == RF_OK);
    rf_cpu_kernels_force(isa);
    rf_status st = rf_cpu_matmul_packed(pool, t, pw, n_rows, n_cols, x, n_tok, y, scratch, &err);
    CHECKF(st == RF_OK, "%s packed %s: %s", rf_cpu_isa_name(isa), tr->name, err.msg);
    int bad = 0;
    for (int64_t i = 0; i < n_tok * n_rows; i++)
        if (memcmp(&y[i], &ys[i], sizeof(float)) && bad++ < 3)
            fprintf(stderr, "%s packed %s %lldx%lld tok %lld row %lld: %.9g, scalar row dot %.9g\n", rf_cpu_isa_name(isa),
                    tr->name, (long long)n_rows, (long long)n_cols, (long long)(i / n_rows), (long long)(i % n_rows), y[i],
                    ys[i]);
    CHECKF(bad == 0, "%s packed %s rows %lld cols %lld tok %lld: %d outputs differ from the scalar row dot",
           rf_cpu_isa_name(isa), tr->name, (long long)n_rows, (long long)n_cols, (long long)n_tok, bad);
    int diff = 0;
    for (int64_t tk = 0; tk < n_tok; tk += (n_tok > 4 ? 3 : 1)) {
        CHECK(rf_cpu_matmul_packed(NULL, t, pw, n_rows, n_cols, x + tk * n_cols, 1, y1, scratch, &err) == RF_OK);
        if (memcmp(y1, y + tk * n_rows, sizeof(float) * (size_t)n_rows)) diff++;
    }
    CHECKF(diff == 0, "%s packed %s: %d tokens give different results alone than in a batch of %lld",
           rf_cpu_isa_name(isa), tr->name, diff, (long long)n_tok);
    free(scratch); free(pw); free(w); free(wf); free(x); free(y); free(ys); free(y1);
}

/* Each variant's activation quantizers give the reference's bytes (the
 * Q8_K one is ggml's quantize_row_q8_K_ref, see quant_ggml), ties included. */
static void check_activation_quantizers(rf_cpu_isa isa)
{
    const rf_cpu_isa_kernels *tabs[RF_ISA_COUNT] = {rf_cpu_kernels_scalar(), rf_cpu_kernels_avx2(),
                                                    rf_cpu_kernels_avx512(), rf_cpu_kernels_neon(),
                                                    rf_cpu_kernels_amx()};
    const rf_cpu_isa_kernels *k = tabs[isa];
    static float x[1024];
    static rf_block_q8_K a[4], b[4];
    static rf_act_q8 c[32], d[32];
    int bad_k = 0, bad_8 = 0;
    for (int it = 0; it < 2000; it++) {
        for (int i = 0; i < 1024; i++) {
            float v = rng_gauss();
            if (it % 4 == 1) v = (float)((int)(rng_u64() % 9) - 4);   /* many ties */
            if (it % 4 == 2 && i % 256 < 128) v = 0;                    /* zero halves */
            x[i] = v;
        }
        if (it % 4 == 3) { x[3] = 5.f; x[7] = -5.f; }                   /* +-max tie */
        if (k->act_q8k) {
            k->act_q8k(x, a, 1024);
            rf_quantize_row_q8_K(x, b, 1024);
            bad_k += memcmp(a, b, sizeof a) != 0;
        }
        if (k->act_q8) {
            k->act_q8(x, c, 1024);
            rf_cpu_act_q8_scalar(x, d, 1024);
            bad_8 += memcmp(c, d, sizeof c) != 0;
        }
    }
    CHECKF(bad_k == 0 && bad_8 == 0, "%s: activation quantizers differ from the reference (Q8_K %d, Q8 %d of 2000)",
           rf_cpu_isa_name(isa), bad_k, bad_8);
}

/* Q8_0 in ggml's lane order (rf_cpu_matmul_q8_0_ggml, for weights whose row
 * count is not a multiple of 32): within the float bound of the double
 * reference, and each token alone gives the batch's bits. Its bits against
 * llama.cpp itself are checked end to end by engine_greedy (the 172-row FFN
 * matrices of stories260K Q8_0). */
static void check_q8_0_ggml(rf_threadpool *pool)
{
    const int64_t n_rows = 172, n_cols = 512, n_tok = 5;
    const size_t rb = (size_t)rf_type_row_bytes(RF_TYPE_Q8_0, (uint64_t)n_cols);
    float *wf = malloc(sizeof(float) * n_rows * n_cols), *wd = malloc(sizeof(float) * n_rows * n_cols);
    float *x = malloc(sizeof(float) * n_tok * n_cols), *y = malloc(sizeof(float) * n_tok * n_rows);
    uint8_t *w = malloc(rb * n_rows);
    for (int64_t i = 0; i < n_rows * n_cols; i++) wf[i] = rng_gauss();
    for (int64_t i = 0; i < n_tok * n_cols; i++) x[i] = rng_gauss();
    rf_error err = {0};
    CHECK(rf_quantize_rows(RF_TYPE_Q8_0, wf, w, n_rows, n_cols, &err) == RF_OK);
    for (int64_t r = 0; r < n_rows; r++) rf_quant_get(RF_TYPE_Q8_0)->dequantize_row(w + r * rb, wd + r * n_cols, n_cols);
    const size_t ss = rf_cpu_matmul_scratch_size(RF_TYPE_Q8_0, n_cols, n_tok);
    void *scratch = aligned_alloc(64, (ss + 63) / 64 * 64);
    CHECK(rf_cpu_q8_0_ggml_order(RF_TYPE_Q8_0, n_rows) && !rf_cpu_q8_0_ggml_order(RF_TYPE_Q8_0, 256) &&
          !rf_cpu_q8_0_ggml_order(RF_TYPE_Q4_0, n_rows));
    CHECK(rf_cpu_matmul_q8_0_ggml(pool, w, n_rows, n_cols, rb, x, n_tok, y, scratch, &err) == RF_OK);
    int bad = 0, differ = 0;
    for (int64_t t = 0; t < n_tok; t++) {
        float y1[172];
        CHECK(rf_cpu_matmul_q8_0_ggml(NULL, w, n_rows, n_cols, rb, x + t * n_cols, 1, y1, scratch, &err) == RF_OK);
        for (int64_t r = 0; r < n_rows; r++) {
            /* the same bound as run_case (aarch64 GCC 12 failed on a
             * fused version of these loops: internal compiler error) */
            double ref = 0, qerr = 0, mag = 0;
            for (int64_t b0 = 0; b0 < n_cols; b0 += 32) {
                float amax = 0.f;
                for (int64_t i = b0; i < b0 + 32; i++) {
                    const float a = fabsf(x[t * n_cols + i]);
                    if (a > amax) amax = a;
                }
                const double half_step = amax / 127.0 * (0.5 * 1.001 + 127.0 * 0x1p-11);
                for (int64_t i = b0; i < b0 + 32; i++) {
                    const double wi = wd[r * n_cols + i], xi = x[t * n_cols + i];
                    ref += wi * xi;
                    qerr += fabs(wi) * half_step;
                    mag += fabs(wi) * (fabs(xi) + half_step);
                }
            }
            const double tol = qerr + (double)(n_cols / 32 + 8) * 0x1p-24 * mag;
            if (!(fabs(y[t * n_rows + r] - ref) <= tol)) bad++;
            if (memcmp(&y1[r], &y[t * n_rows + r], sizeof(float)) != 0) differ++;
        }
    }
    CHECKF(bad == 0, "Q8_0 in ggml's lane order: %d outputs outside the bound", bad);
    CHECKF(differ == 0, "Q8_0 in ggml's lane order: %d outputs depend on the batch", differ);
    free(wf); free(wd); free(x); free(y); free(w); free(scratch);
}

int main(void)
{
    const rf_type types[] = {RF_TYPE_F32, RF_TYPE_F16, RF_TYPE_BF16, RF_TYPE_Q4_0, RF_TYPE_Q4_1, RF_TYPE_Q5_0,
                             RF_TYPE_Q5_1, RF_TYPE_Q8_0, RF_TYPE_Q2_K, RF_TYPE_Q3_K, RF_TYPE_Q4_K, RF_TYPE_Q5_K,
                             RF_TYPE_Q6_K, RF_TYPE_IQ4_NL, RF_TYPE_IQ4_XS, RF_TYPE_MXFP4};
    const int64_t shapes[][3] = {{1, 256, 1}, {7, 512, 3}, {37, 768, 17}, {130, 256, 1}, {19, 1024, 5}, {33, 512, 70}};
    rf_error err = {0};
    rf_threadpool *pool = rf_threadpool_create(3, &err);
    CHECK(pool != NULL);
    int n_isa = 0;
    for (int isa = 0; isa < RF_ISA_COUNT; isa++) {
        if (!rf_cpu_kernels_force((rf_cpu_isa)isa)) {
            fprintf(stderr, "variant %s: not available on this CPU/build\n", rf_cpu_isa_name((rf_cpu_isa)isa));
            continue;
        }
        n_isa++;
        check_activation_quantizers((rf_cpu_isa)isa);
        {
            /* F16 -> F32 rows (attention's KV reads): every non-NaN value exact */
            static uint16_t h[65536];
            static float f[65536];
            for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
            rf_cpu_f16_to_f32_row(h, f, 65536 - 3);
            int bad16 = 0;
            for (int i = 0; i < 65536 - 3; i++) {
                float want = rf_fp16_to_f32((rf_fp16)i);
                if (want == want && memcmp(&want, &f[i], 4)) bad16++;
            }
            CHECKF(bad16 == 0, "%s: %d F16 values convert wrongly", rf_cpu_isa_name((rf_cpu_isa)isa), bad16);
        }
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                run_case((rf_cpu_isa)isa, types[ti], shapes[s][0], shapes[s][1], shapes[s][2], s == 2 ? 48 : 0,
                         (s & 1) ? pool : NULL);
        }
        const rf_type packed_types[] = {RF_TYPE_Q4_0, RF_TYPE_Q8_0, RF_TYPE_Q4_K, RF_TYPE_Q5_K, RF_TYPE_Q6_K, RF_TYPE_IQ4_NL,
                                        RF_TYPE_IQ4_XS};
        for (size_t ti = 0; ti < sizeof packed_types / sizeof packed_types[0]; ti++) {
            const rf_type t = packed_types[ti];
            CHECK(rf_cpu_pack_block_bytes(t) > 0);
            run_packed((rf_cpu_isa)isa, t, 16, 256, 1, NULL);
            run_packed((rf_cpu_isa)isa, t, 37, 512, 70, pool);
            run_packed((rf_cpu_isa)isa, t, 130, 768, 19, pool);
            for (int nt = 1; nt <= 12; nt++) run_packed((rf_cpu_isa)isa, t, 1 + 7 * nt, 256, nt, (nt & 1) ? pool : NULL);
            /* many tokens (the AMX tiles take 16 at a time), rows spanning
             * several unpacked chunks of the columns */
            run_packed((rf_cpu_isa)isa, t, 45, 9216, 40, pool);
            run_packed((rf_cpu_isa)isa, t, 16, rf_type_get((uint32_t)t)->block_size == 32 ? 1056 : 2304, 17, NULL);
        }
        fprintf(stderr, "variant %-6s worst err/bound:", rf_cpu_isa_name((rf_cpu_isa)isa));
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
            fprintf(stderr, " %s %.2f", rf_type_name(types[ti]), worst_ratio[isa][types[ti]]);
        fputc('\n', stderr);
    }
    CHECK(n_isa >= 1);

    /* errors are values */
    float xs[256] = {0}, ys[4];
    uint8_t wq[4 * 144] = {0};
    uint8_t scr[4096] __attribute__((aligned(64)));
    CHECK(rf_cpu_matmul(NULL, RF_TYPE_IQ2_XXS, wq, 1, 256, 66, xs, 1, ys, scr, &err) == RF_ERR_UNSUPPORTED);
    CHECK(rf_cpu_matmul(NULL, RF_TYPE_Q4_K, wq, 1, 200, 144, xs, 1, ys, scr, &err) == RF_ERR_INVALID_ARG);
    CHECK(rf_cpu_matmul(NULL, RF_TYPE_Q4_K, wq, 2, 256, 100, xs, 1, ys, scr, &err) == RF_ERR_INVALID_ARG);
    CHECK(rf_cpu_matmul(NULL, RF_TYPE_Q4_K, wq, 1, 256, 144, xs, 1, ys, NULL, &err) == RF_ERR_INVALID_ARG);
    CHECK(!rf_cpu_matmul_supports(RF_TYPE_IQ2_XXS) && rf_cpu_matmul_supports(RF_TYPE_Q4_K));
    float row[32];
    CHECK(rf_cpu_dequantize_row(RF_TYPE_Q4_0, wq, row, 33, &err) == RF_ERR_INVALID_ARG);
    CHECK(rf_cpu_dequantize_row(RF_TYPE_IQ1_S, wq, row, 256, &err) == RF_ERR_UNSUPPORTED);
    check_q8_0_ggml(pool);
    rf_threadpool_free(pool);
    return rf_test_done("cpu_matmul");
}
