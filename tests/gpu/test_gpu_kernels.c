/* test_gpu_kernels.c — every GPU kernel against the scalar CPU reference.
 *
 * References: src/quant's dequantizers (bit-exact with llama.cpp's, proven by
 * the quant_ tests) followed by double-precision dot products for the matrix
 * products; the CPU backend's ops (backend.h) for everything else. Inputs are
 * fresh random data every run (the seed is printed; RF_TEST_SEED repeats a
 * run), sizes are odd where the kernel allows it, and every output buffer is
 * filled with NaN before the kernel runs, so an element the kernel forgot
 * to write fails the comparison.
 *
 * Tolerances (relative L2 error over the whole output, and no NaN):
 *   - F32 arithmetic paths (vec matmul, norms, rope, attention): 1e-5..1e-4,
 *     sums in a different order than the reference and the device's
 *     expf/sinf/cosf/tanhf differing from glibc's by a few ulp;
 *   - the matrix-unit matmul: 5e-3, because weights and activations are
 *     rounded to F16 (11-bit mantissa: 2^-11 ~ 4.9e-4 per operand) before
 *     the F32-accumulated products.
 * Skips (exit 77) when no GPU is present or the build has no GPU backend.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/gpu/gpu.h"
#include "quant/quant.h"
#include "test_util.h"

static uint64_t rng_state;
static uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rng_f(void) { return (float)((rng_u32() & 0xffffff) / 16777216.0 * 2.0 - 1.0); }
static void fill_rand(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = rng_f() * scale;
}

static rf_gpu *G;
/* a second context with the F16 weight scratch (the prompt GEMM): room for
 * 128 rows of 14336 */
static rf_gpu *G2;
#define GEMM_WH ((int64_t)128 * 14336)
static rf_backend CPU;

#define OK(call) do { rf_error e_ = {0}; rf_status s_ = (call); \
    if (s_ != RF_OK) { fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, e_.msg); exit(1); } } while (0)
#define E (&e_)

static void *dev_alloc(size_t n)
{
    void *d;
    OK(rf_gpu_alloc(G, n, &d, "test buffer", E));
    return d;
}
static void *dev_from(const void *h, size_t n)
{
    void *d = dev_alloc(n);
    OK(rf_gpu_upload(G, d, h, n, E));
    return d;
}
/* NaN everywhere, done before the next call on any context (G2 has its own stream) */
static void dev_poison(float *d, size_t n)
{
    OK(rf_gpu_fill_f32(G, d, n, NAN, E));
    OK(rf_gpu_sync(G, E));
}
static void dev_get(void *h, const void *d, size_t n)
{
    OK(rf_gpu_sync(G, E));
    OK(rf_gpu_download(G, h, d, n, E));
}

/* ||a - ref|| / ||ref||, or +inf when a has a NaN/inf. */
static double rel_err(const float *a, const double *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        num += (a[i] - ref[i]) * (a[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}
static double rel_err_f(const float *a, const float *ref, size_t n)
{
    double *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) r[i] = ref[i];
    double e = rel_err(a, r, n);
    free(r);
    return e;
}

/* -------------------------------------------------------------- matmul */

static int bits_differ(const float *a, const float *b, size_t n);
static void test_matmul_type(rf_type t, int64_t n_rows, int64_t n_cols, const int *toks, int n_toks)
{
    const rf_quant_ops *q = rf_quant_get(t);
    const rf_type_traits *tr = rf_type_get(t);
    if (!q || !tr) {
        CHECKF(0, "no reference for %s", rf_type_name(t));
        return;
    }
    const size_t row_bytes = rf_type_row_bytes(t, (uint64_t)n_cols);
    /* pad rows to 16 bytes like a GGUF tensor's start, and once without */
    const size_t stride = row_bytes;
    float *wf = malloc(sizeof(float) * n_rows * n_cols);
    fill_rand(wf, (size_t)(n_rows * n_cols), 1.0f);
    uint8_t *wq = malloc(stride * n_rows);
    for (int64_t r = 0; r < n_rows; r++) q->quantize_row(wf + r * n_cols, wq + r * stride, n_cols);
    /* reference weights: the quantized matrix dequantized by src/quant */
    float *wd = malloc(sizeof(float) * n_rows * n_cols);
    for (int64_t r = 0; r < n_rows; r++) q->dequantize_row(wq + r * stride, wd + r * n_cols, n_cols);
    /* the device's layout (Q6_K in 224-byte slots), its stride in every call */
    const size_t dstride = rf_gpu_row_bytes(t, n_cols);
    void *d_w = dev_alloc(dstride * n_rows);
    OK(rf_gpu_upload_rows(G, d_w, wq, t, n_rows, n_cols, stride, E));

    int max_tok = 0;
    for (int k = 0; k < n_toks; k++) max_tok = toks[k] > max_tok ? toks[k] : max_tok;
    float *x = malloc(sizeof(float) * max_tok * n_cols);
    fill_rand(x, (size_t)(max_tok * n_cols), 1.0f);
    float *d_x = dev_from(x, sizeof(float) * max_tok * n_cols);
    float *d_y = dev_alloc(sizeof(float) * max_tok * n_rows);
    float *y = malloc(sizeof(float) * max_tok * n_rows);
    double *ref = malloc(sizeof(double) * max_tok * n_rows);
    for (int t2 = 0; t2 < max_tok; t2++)
        for (int64_t r = 0; r < n_rows; r++) {
            double s = 0;
            for (int64_t i = 0; i < n_cols; i++) s += (double)wd[r * n_cols + i] * x[t2 * n_cols + i];
            ref[t2 * n_rows + r] = s;
        }

    for (int k = 0; k < n_toks; k++) {
        const int nt = toks[k];
        /* vec_f32: F32 products (1e-5); vec: the integer products for the
         * types that have them, activations rounded to 8 bits per 32
         * (uniform rounding of 1/254 of the block max: ~4e-3 relative on
         * these inputs, so 1.5e-2), else the F32 products; mma: F16
         * operands (5e-3, see the header). */
        const bool int_path = t == RF_TYPE_Q4_0 || t == RF_TYPE_Q8_0 || t == RF_TYPE_Q4_K || t == RF_TYPE_Q5_K ||
                              t == RF_TYPE_Q6_K || t == RF_TYPE_IQ4_NL || t == RF_TYPE_IQ4_XS;
        /* path 2: the matrix-unit entry on G, which has no F16 weight
         * scratch: it must fall back (F16 weights excepted, read in place);
         * path 3: the same on G2, whose scratch turns on the GEMM (blocks of
         * whole 128-row multiples that fit GEMM_WH elements) */
        const bool gemm = n_cols % 32 == 0 && (int64_t)nt * n_cols <= ((int64_t)1 << 20) &&
                          (t == RF_TYPE_F16 || GEMM_WH / n_cols >= 128);
        for (int path = 0; path < 4; path++) {
            dev_poison(d_y, (size_t)(max_tok * n_rows));
            rf_error e = {0};
            const uint64_t g0 = rf_gpu_gemm_launches(G2);
            if (path == 3) OK(rf_gpu_sync(G, E)); /* G2 runs on its own stream */
            rf_status st = path == 0 ? rf_gpu_matmul_vec_f32(G, t, d_w, n_rows, n_cols, dstride, d_x, nt, d_y, &e)
                         : path == 1 ? rf_gpu_matmul_vec(G, t, d_w, n_rows, n_cols, dstride, d_x, nt, d_y, &e)
                         : path == 2 ? rf_gpu_matmul_mma(G, t, d_w, n_rows, n_cols, dstride, d_x, nt, d_y, &e)
                                     : rf_gpu_matmul_mma(G2, t, d_w, n_rows, n_cols, dstride, d_x, nt, d_y, &e);
            CHECKF(st == RF_OK, "%s: %s", rf_type_name(t), e.msg);
            if (path == 3) {
                OK(rf_gpu_sync(G2, E));
                CHECKF((rf_gpu_gemm_launches(G2) > g0) == gemm, "matmul gemm %s %lld x %lld, %d tokens: GEMM %s",
                       rf_type_name(t), (long long)n_rows, (long long)n_cols, nt, gemm ? "did not run" : "ran");
            }
            dev_get(y, d_y, sizeof(float) * nt * n_rows);
            double err = rel_err(y, ref, (size_t)(nt * n_rows));
            /* path 2 (no weight scratch) falls back to the vec path, integer
             * products included, unless F16 rows are read in place */
            double tol = path == 0 ? 1e-5 : path == 1 ? (int_path ? 1.5e-2 : 1e-5)
                       : path == 2 && int_path ? 1.5e-2 : 5e-3;
            static const char *pn[] = {"vec_f32", "vec", "mma without scratch", "gemm"};
            CHECKF(err < tol, "matmul %s %s: %lld x %lld, %d tokens: rel err %.3g (tol %g)", pn[path],
                   rf_type_name(t), (long long)n_rows, (long long)n_cols, nt, err, tol);
            /* the integer path must really be different from F32 (it ran) and close */
            if (path == 1 && int_path && nt == 1)
                CHECKF(err > 1e-7, "matmul vec %s: integer path did not run (err %.3g)", rf_type_name(t), err);
        }
    }

    /* Token roles on G2 (which has the weight scratch): the prompt path
     * takes the GEMM for any count, one token included, and a token's
     * result is the same bits alone as in the batch (the engine's batch
     * invariance for prompts); the step path gives exactly the decode
     * paths' bits (G: no scratch, so those), whatever the count. */
    const bool gemm_any = n_cols % 32 == 0 && (int64_t)max_tok * n_cols <= ((int64_t)1 << 20) &&
                          (t == RF_TYPE_F16 || GEMM_WH / n_cols >= 128);
    if (gemm_any) {
        float *y1 = malloc(sizeof(float) * max_tok * n_rows);
        OK(rf_gpu_sync(G, E));
        rf_gpu_set_path(G2, RF_GPU_PATH_PROMPT);
        dev_poison(d_y, (size_t)(max_tok * n_rows));
        OK(rf_gpu_matmul(G2, t, d_w, n_rows, n_cols, dstride, d_x, max_tok, d_y, E));
        OK(rf_gpu_sync(G2, E));
        dev_get(y, d_y, sizeof(float) * max_tok * n_rows);
        CHECKF(rel_err(y, ref, (size_t)(max_tok * n_rows)) < 5e-3, "matmul %s, prompt path: rel err %.3g",
               rf_type_name(t), rel_err(y, ref, (size_t)(max_tok * n_rows)));
        const uint64_t g0 = rf_gpu_gemm_launches(G2);
        dev_poison(d_y, (size_t)(max_tok * n_rows));
        for (int t2 = 0; t2 < max_tok; t2++)
            OK(rf_gpu_matmul(G2, t, d_w, n_rows, n_cols, dstride, d_x + (int64_t)t2 * n_cols, 1,
                             d_y + (int64_t)t2 * n_rows, E));
        OK(rf_gpu_sync(G2, E));
        CHECKF(rf_gpu_gemm_launches(G2) >= g0 + (uint64_t)max_tok, "matmul %s, prompt path, one token: GEMM did not run",
               rf_type_name(t));
        dev_get(y1, d_y, sizeof(float) * max_tok * n_rows);
        int nd = bits_differ(y, y1, (size_t)(max_tok * n_rows));
        CHECKF(nd == 0, "matmul %s %lld x %lld, prompt path: %d tokens in one GEMM differ from one-token GEMMs in %d "
               "of %lld", rf_type_name(t), (long long)n_rows, (long long)n_cols, max_tok, nd,
               (long long)(max_tok * n_rows));
        rf_gpu_set_path(G2, RF_GPU_PATH_STEP);
        dev_poison(d_y, (size_t)(max_tok * n_rows));
        OK(rf_gpu_matmul(G2, t, d_w, n_rows, n_cols, dstride, d_x, max_tok, d_y, E));
        OK(rf_gpu_sync(G2, E));
        dev_get(y, d_y, sizeof(float) * max_tok * n_rows);
        rf_gpu_set_path(G2, RF_GPU_PATH_AUTO);
        dev_poison(d_y, (size_t)(max_tok * n_rows));
        OK(rf_gpu_matmul(G, t, d_w, n_rows, n_cols, dstride, d_x, max_tok, d_y, E));
        dev_get(y1, d_y, sizeof(float) * max_tok * n_rows);
        nd = bits_differ(y, y1, (size_t)(max_tok * n_rows));
        CHECKF(nd == 0, "matmul %s, step path (%d tokens, weight scratch present) differs from the decode paths in %d",
               rf_type_name(t), max_tok, nd);
        free(y1);
    }

    /* 16+ tokens of these types run on the integer tiles here (main sets
     * RF_GPU_IMMA=16), fewer on the decode kernels a few tokens a launch
     * (13: launches of 8, 4 and 1); either must give the one-token decode
     * kernels' bits for every token (batch invariance) */
    const bool tiles = t == RF_TYPE_Q4_0 || t == RF_TYPE_Q8_0 || t == RF_TYPE_Q4_K || t == RF_TYPE_Q6_K ||
                       t == RF_TYPE_IQ4_NL || t == RF_TYPE_IQ4_XS;
    const bool int_types = tiles || t == RF_TYPE_Q5_K;
    for (int pass = 0; pass < 2 && int_types; pass++) {
        const int nt = pass == 0 ? (max_tok < 13 ? max_tok : 13) : max_tok;
        const bool on_tiles = tiles && nt >= 16;
        if (nt < 2 || (pass == 1 && !on_tiles)) continue;
        float *y1 = malloc(sizeof(float) * nt * n_rows);
        const uint64_t before = rf_gpu_int_tile_launches(G), lg_before = rf_gpu_lg_tile_launches(G);
        dev_poison(d_y, (size_t)(nt * n_rows));
        OK(rf_gpu_matmul(G, t, d_w, n_rows, n_cols, dstride, d_x, nt, d_y, E));
        dev_get(y, d_y, sizeof(float) * nt * n_rows);
        CHECKF((rf_gpu_int_tile_launches(G) > before) == on_tiles, "matmul %s, %d tokens: the integer tiles %s",
               rf_type_name(t), nt, on_tiles ? "did not run" : "ran");
        /* which tiles: the lane-group ones on NVIDIA unless switched off
         * (the gpu_kernels_lg_off test runs the older ones) */
        const char *lg_env = getenv("RF_GPU_LG");
        const bool want_lg = on_tiles && !(lg_env && lg_env[0] == '0');
        if (!strcmp(rf_gpu_vendor(), "cuda"))
            CHECKF((rf_gpu_lg_tile_launches(G) > lg_before) == want_lg, "matmul %s, %d tokens: the lane-group tiles %s",
                   rf_type_name(t), nt, want_lg ? "did not run" : "ran");
        for (int t2 = 0; t2 < nt; t2++)
            OK(rf_gpu_matmul(G, t, d_w, n_rows, n_cols, dstride, d_x + (int64_t)t2 * n_cols, 1,
                             d_y + (int64_t)t2 * n_rows, E));
        dev_get(y1, d_y, sizeof(float) * nt * n_rows);
        const int nd = bits_differ(y, y1, (size_t)(nt * n_rows));
        CHECKF(nd == 0, "matmul %s %lld x %lld: %s (%d tokens) differ from one-token products in %d of %lld",
               rf_type_name(t), (long long)n_rows, (long long)n_cols, on_tiles ? "integer tiles" : "decode products",
               nt, nd, (long long)(nt * n_rows));
        free(y1);
    }

    /* get_rows: rows dequantized exactly as the reference (x scale) */
    int32_t ids[5] = {0, (int32_t)(n_rows - 1), (int32_t)(n_rows / 2), 1 % (int32_t)n_rows, (int32_t)(n_rows / 3)};
    int32_t *d_ids = dev_from(ids, sizeof ids);
    float *d_o = dev_alloc(sizeof(float) * 5 * n_cols);
    dev_poison(d_o, (size_t)(5 * n_cols));
    OK(rf_gpu_get_rows(G, t, d_w, n_rows, n_cols, dstride, d_ids, 5, 0.5f, d_o, E));
    float *o = malloc(sizeof(float) * 5 * n_cols);
    dev_get(o, d_o, sizeof(float) * 5 * n_cols);
    int bad = 0;
    for (int i = 0; i < 5; i++)
        for (int64_t j = 0; j < n_cols; j++) {
            float want = wd[(int64_t)ids[i] * n_cols + j] * 0.5f;
            if (!(fabsf(o[i * n_cols + j] - want) <= 1e-6f * fabsf(want) + 1e-30f)) bad++;
        }
    CHECKF(bad == 0, "get_rows %s: %d of %lld elements differ from the reference dequantizer", rf_type_name(t), bad,
           (long long)(5 * n_cols));

    free(o); free(wf); free(wq); free(wd); free(x); free(y); free(ref);
    rf_gpu_free(G, d_w); rf_gpu_free(G, d_x); rf_gpu_free(G, d_y); rf_gpu_free(G, d_ids); rf_gpu_free(G, d_o);
}

static void test_matmul(void)
{
    static const rf_type types[] = {RF_TYPE_F32, RF_TYPE_F16, RF_TYPE_BF16, RF_TYPE_Q4_0, RF_TYPE_Q4_1,
                                    RF_TYPE_Q5_0, RF_TYPE_Q5_1, RF_TYPE_Q8_0, RF_TYPE_Q2_K, RF_TYPE_Q3_K,
                                    RF_TYPE_Q4_K, RF_TYPE_Q5_K, RF_TYPE_Q6_K, RF_TYPE_IQ4_NL, RF_TYPE_IQ4_XS,
                                    RF_TYPE_MXFP4};
    static const int toks[] = {1, 3, 8, 13, 77};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        const rf_type t = types[i];
        const uint32_t bs = rf_type_get(t)->block_size;
        const int64_t cols = bs == 256 ? 768 : bs == 32 ? 96 + 32 * (int64_t)(rng_u32() % 7) : 160;
        test_matmul_type(t, 129 + (int64_t)(rng_u32() % 64), cols, toks, 5);
        /* one more shape: odd rows, a few hundred columns, a big batch */
        const int toks2[] = {2, 200};
        test_matmul_type(t, 37, bs == 256 ? 512 : 320, toks2, 2);
    }
    /* model-sized rows: whole warp steps of superblocks (8 on 32-wide warps,
     * 16 on 64-wide wavefronts) */
    const int toks4[] = {1, 3, 8, 40};
    test_matmul_type(RF_TYPE_Q6_K, 45, 4096, toks4, 4);
    test_matmul_type(RF_TYPE_Q4_K, 21, 4096, toks4, 4);
    /* rows of many superblocks per lane (the tiles' lane walk) and a long batch */
    const int toks5[] = {1, 16, 129};
    test_matmul_type(RF_TYPE_Q4_K, 70, 14336, toks5, 3);
    test_matmul_type(RF_TYPE_Q6_K, 19, 5120, toks5, 3);
    test_matmul_type(RF_TYPE_Q4_0, 33, 4160, toks5, 3);
    test_matmul_type(RF_TYPE_Q8_0, 65, 2080, toks5, 3);
    test_matmul_type(RF_TYPE_IQ4_XS, 17, 3072, toks5, 3);
    /* the GEMM's row blocks: 256 rows of 6336 fit G2's scratch, so 290
     * rows take two blocks, the second a part of a 128-row tile */
    const int toks6[] = {13, 77};
    test_matmul_type(RF_TYPE_Q8_0, 290, 6336, toks6, 2);
    test_matmul_type(RF_TYPE_F16, 290, 2048, toks6, 2);
    /* plain rows whose length is not a multiple of 4 (element tail path) */
    const int toks3[] = {1, 5, 20};
    test_matmul_type(RF_TYPE_F32, 33, 67, toks3, 3);
    test_matmul_type(RF_TYPE_F16, 9, 172, toks3, 3);
    test_matmul_type(RF_TYPE_BF16, 11, 45, toks3, 3);
    CHECK(!rf_gpu_type_supported(RF_TYPE_IQ2_XXS));
}

/* ------------------------------------------------------------ fusions */
/* The fused entry points (one launch for what the step recorded as several
 * ops) must give exactly what the separate calls give: bit for bit, since
 * the fusion is only a scheduling change. Also the 8-bit form an rmsnorm or
 * a glu leaves in the scratch for the next product must equal what the
 * product's own rounding pass makes (a product after an unrelated launch). */
static int bits_differ(const float *a, const float *b, size_t n)
{
    int d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

static void *quantized_rand(rf_type t, int64_t rows, int64_t cols)
{
    const rf_quant_ops *q = rf_quant_get(t);
    const size_t rb = rf_type_row_bytes(t, (uint64_t)cols);
    float *wf = malloc(sizeof(float) * rows * cols);
    fill_rand(wf, (size_t)(rows * cols), 1.0f);
    uint8_t *wq = malloc(rb * rows);
    for (int64_t r = 0; r < rows; r++) q->quantize_row(wf + r * cols, wq + r * rb, cols);
    /* in the device's layout: callers pass rf_gpu_row_bytes as the stride */
    void *d = dev_alloc(rf_gpu_row_bytes(t, cols) * rows);
    OK(rf_gpu_upload_rows(G, d, wq, t, rows, cols, rb, E));
    free(wf);
    free(wq);
    return d;
}

/* how many of three outputs' values (nt tokens of rows[m]) differ in bits */
static int outputs_differ(float *const d1[3], float *const d2[3], const int64_t rows[3], int nt)
{
    int diff = 0;
    for (int m = 0; m < 3; m++) {
        float *a = malloc(sizeof(float) * nt * rows[m]), *b = malloc(sizeof(float) * nt * rows[m]);
        dev_get(a, d1[m], sizeof(float) * nt * rows[m]);
        dev_get(b, d2[m], sizeof(float) * nt * rows[m]);
        diff += bits_differ(a, b, (size_t)(nt * rows[m]));
        free(a); free(b);
    }
    return diff;
}

static void test_fused(void)
{
    float *dz = dev_alloc(sizeof(float));
    OK(rf_gpu_fill_f32(G, dz, 1, 0.0f, E));
    /* add + rmsnorm == add; rmsnorm (out aliasing y, as the layer loop does) */
    {
        const int rows = 3, n = 2048 + 32;
        const size_t N = (size_t)rows * n;
        float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N), *w = malloc(sizeof(float) * n);
        float *r1 = malloc(sizeof(float) * N), *r2 = malloc(sizeof(float) * N);
        float *o1 = malloc(sizeof(float) * N), *o2 = malloc(sizeof(float) * N);
        fill_rand(x, N, 2.0f); fill_rand(y, N, 2.0f); fill_rand(w, (size_t)n, 1.0f);
        float *dx1 = dev_from(x, sizeof(float) * N), *dy1 = dev_from(y, sizeof(float) * N);
        float *dx2 = dev_from(x, sizeof(float) * N), *dy2 = dev_from(y, sizeof(float) * N);
        float *dw = dev_from(w, sizeof(float) * n);
        OK(rf_gpu_add(G, dx1, dy1, dx1, (int64_t)N, E));
        OK(rf_gpu_rmsnorm(G, dx1, dw, dy1, rows, n, 1e-5f, E));
        OK(rf_gpu_add_rmsnorm(G, dx2, dy2, dw, dy2, rows, n, 1e-5f, E));
        dev_get(r1, dx1, sizeof(float) * N); dev_get(r2, dx2, sizeof(float) * N);
        dev_get(o1, dy1, sizeof(float) * N); dev_get(o2, dy2, sizeof(float) * N);
        CHECKF(bits_differ(r1, r2, N) == 0 && bits_differ(o1, o2, N) == 0,
               "add_rmsnorm differs from add + rmsnorm (%d residual, %d normed values)", bits_differ(r1, r2, N),
               bits_differ(o1, o2, N));
        rf_error e = {0};
        CHECK(rf_gpu_add_rmsnorm(G, dx2, dy2, dw, dx2, rows, n, 1e-5f, &e) == RF_ERR_INVALID_ARG);
        free(x); free(y); free(w); free(r1); free(r2); free(o1); free(o2);
        rf_gpu_free(G, dx1); rf_gpu_free(G, dy1); rf_gpu_free(G, dx2); rf_gpu_free(G, dy2); rf_gpu_free(G, dw);
    }
    /* rope2(q, k) == rope(q); rope(k) */
    {
        const int n_tok = 4, hq = 6, hk = 2, hd = 64;
        rf_rope_params p;
        memset(&p, 0, sizeof p);
        p.style = RF_ROPE_NEOX; p.n_rot = hd; p.freq_base = 500000.0f; p.freq_scale = 1.0f; p.attn_factor = 1.0f;
        int32_t pos[4] = {0, 17, 400, 3999};
        const size_t nq = (size_t)n_tok * hq * hd, nk = (size_t)n_tok * hk * hd;
        float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nk);
        float *a = malloc(sizeof(float) * nq), *b = malloc(sizeof(float) * nq);
        fill_rand(q, nq, 2.0f); fill_rand(k, nk, 2.0f);
        float *dq1 = dev_from(q, sizeof(float) * nq), *dk1 = dev_from(k, sizeof(float) * nk);
        float *dq2 = dev_from(q, sizeof(float) * nq), *dk2 = dev_from(k, sizeof(float) * nk);
        int32_t *dpos = dev_from(pos, sizeof pos);
        OK(rf_gpu_rope(G, dq1, n_tok, hq, hd, dpos, &p, E));
        OK(rf_gpu_rope(G, dk1, n_tok, hk, hd, dpos, &p, E));
        OK(rf_gpu_rope2(G, dq2, hq, dk2, hk, n_tok, hd, dpos, &p, E));
        dev_get(a, dq1, sizeof(float) * nq); dev_get(b, dq2, sizeof(float) * nq);
        int dq = bits_differ(a, b, nq);
        dev_get(a, dk1, sizeof(float) * nk); dev_get(b, dk2, sizeof(float) * nk);
        int dk = bits_differ(a, b, nk);
        CHECKF(dq == 0 && dk == 0, "rope2 differs from two ropes (%d q, %d k values)", dq, dk);
        free(q); free(k); free(a); free(b);
        rf_gpu_free(G, dq1); rf_gpu_free(G, dk1); rf_gpu_free(G, dq2); rf_gpu_free(G, dk2); rf_gpu_free(G, dpos);
    }
    /* rope2 + kv_write == rope2_kv (both cache types, full and partial rotation) */
    for (int kt = 0; kt < 2; kt++)
        for (int nr = 0; nr < 2; nr++) {
            const rf_type kvt = kt ? RF_TYPE_F32 : RF_TYPE_F16;
            const int n_tok = 5, hq = 4, hk = 2, hd = 64, kvd = hk * hd, n_slots = 16;
            const size_t es = kt ? 4 : 2, pool = (size_t)n_slots * kvd * es;
            rf_rope_params p;
            memset(&p, 0, sizeof p);
            p.style = nr ? RF_ROPE_NORM : RF_ROPE_NEOX; p.n_rot = nr ? 32 : hd; p.freq_base = 10000.0f;
            p.freq_scale = 1.0f; p.attn_factor = 1.0f;
            int32_t pos[5] = {0, 1, 17, 300, 4000}, slots[5] = {3, 9, 0, 15, 7};
            const size_t nq = (size_t)n_tok * hq * hd, nk = (size_t)n_tok * kvd;
            float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nk), *v = malloc(sizeof(float) * nk);
            fill_rand(q, nq, 2.0f); fill_rand(k, nk, 2.0f); fill_rand(v, nk, 2.0f);
            float *dq1 = dev_from(q, sizeof(float) * nq), *dk1 = dev_from(k, sizeof(float) * nk);
            float *dq2 = dev_from(q, sizeof(float) * nq), *dk2 = dev_from(k, sizeof(float) * nk);
            float *dv = dev_from(v, sizeof(float) * nk);
            int32_t *dpos = dev_from(pos, sizeof pos), *dsl = dev_from(slots, sizeof slots);
            uint8_t *zero = calloc(pool, 1), *c1 = malloc(pool), *c2 = malloc(pool);
            void *kp1 = dev_from(zero, pool), *vp1 = dev_from(zero, pool), *kp2 = dev_from(zero, pool), *vp2 = dev_from(zero, pool);
            OK(rf_gpu_rope2(G, dq1, hq, dk1, hk, n_tok, hd, dpos, &p, E));
            OK(rf_gpu_kv_write_typed(G, kp1, vp1, dk1, dv, dsl, n_tok, kvd, kvt, E));
            OK(rf_gpu_rope2_kv(G, dq2, hq, dk2, hk, n_tok, hd, dpos, &p, kp2, vp2, dv, dsl, kvt, E));
            float *a = malloc(sizeof(float) * nq), *b = malloc(sizeof(float) * nq);
            dev_get(a, dq1, sizeof(float) * nq); dev_get(b, dq2, sizeof(float) * nq);
            int d = bits_differ(a, b, nq);
            dev_get(a, dk1, sizeof(float) * nk); dev_get(b, dk2, sizeof(float) * nk);
            d += bits_differ(a, b, nk);
            dev_get(c1, kp1, pool); dev_get(c2, kp2, pool);
            int dc = memcmp(c1, c2, pool) != 0;
            dev_get(c1, vp1, pool); dev_get(c2, vp2, pool);
            dc += memcmp(c1, c2, pool) != 0;
            CHECKF(d == 0 && dc == 0, "rope2_kv (%s cache, n_rot %d) differs from rope2 + kv_write: %d q/k values, %d caches",
                   rf_type_name(kvt), p.n_rot, d, dc);
            free(q); free(k); free(v); free(zero); free(c1); free(c2); free(a); free(b);
            rf_gpu_free(G, dq1); rf_gpu_free(G, dk1); rf_gpu_free(G, dq2); rf_gpu_free(G, dk2); rf_gpu_free(G, dv);
            rf_gpu_free(G, dpos); rf_gpu_free(G, dsl); rf_gpu_free(G, kp1); rf_gpu_free(G, vp1); rf_gpu_free(G, kp2);
            rf_gpu_free(G, vp2);
        }
    /* matmul_multi == one matmul per weight; the 8-bit form left by rmsnorm
     * and glu == the product's own rounding */
    static const rf_type types[] = {RF_TYPE_Q4_0, RF_TYPE_Q8_0, RF_TYPE_Q4_K, RF_TYPE_Q5_K, RF_TYPE_Q6_K, RF_TYPE_F16};
    const size_t n_types = sizeof types / sizeof *types;
    /* the last pass: q, k in Q4_K and v in Q6_K (Q4_K_M), one launch too */
    for (size_t ti = 0; ti <= n_types; ti++) {
        const bool mixed = ti == n_types;
        const rf_type t = mixed ? RF_TYPE_Q4_K : types[ti];
        const int64_t cols = 1024, rows[3] = {96, 32, 40};
        rf_type tm[3];
        size_t rbm[3];
        void *dw[3];
        for (int m = 0; m < 3; m++) {
            tm[m] = mixed && m == 2 ? RF_TYPE_Q6_K : t;
            rbm[m] = rf_gpu_row_bytes(tm[m], cols);
            dw[m] = quantized_rand(tm[m], rows[m], cols);
        }
        static const int toks[] = {1, 3, 8, 11, 40};
        for (size_t k = 0; k < sizeof toks / sizeof *toks; k++) {
            const int nt = toks[k];
            float *x = malloc(sizeof(float) * nt * cols), *w = malloc(sizeof(float) * cols);
            fill_rand(x, (size_t)(nt * cols), 1.0f);
            fill_rand(w, (size_t)cols, 1.0f);
            float *dx = dev_from(x, sizeof(float) * nt * cols), *dnw = dev_from(w, sizeof(float) * cols);
            float *dxn = dev_alloc(sizeof(float) * nt * cols);
            float *dy1[3], *dy2[3];
            rf_gpu_mat set[3];
            for (int m = 0; m < 3; m++) {
                dy1[m] = dev_alloc(sizeof(float) * nt * rows[m]);
                dy2[m] = dev_alloc(sizeof(float) * nt * rows[m]);
                dev_poison(dy2[m], (size_t)(nt * rows[m]));
                set[m] = (rf_gpu_mat){tm[m], dw[m], rows[m], cols, rbm[m]};
            }
            /* separate products, each after its own rounding of a plain input */
            OK(rf_gpu_rmsnorm(G, dx, dnw, dxn, nt, cols, 1e-5f, E));
            for (int m = 0; m < 3; m++) {
                OK(rf_gpu_add(G, dz, dz, dz, 1, E)); /* an unrelated launch: the product rounds dxn itself */
                OK(rf_gpu_matmul(G, tm[m], dw[m], rows[m], cols, rbm[m], dxn, nt, dy1[m], E));
            }
            /* rmsnorm leaving its 8-bit form, then the set in one call */
            OK(rf_gpu_rmsnorm(G, dx, dnw, dxn, nt, cols, 1e-5f, E));
            const uint64_t mx0 = rf_gpu_mixed_launches(G);
            OK(rf_gpu_matmul_multi(G, 3, set, dxn, nt, dy2, E));
            int diff = outputs_differ(dy1, dy2, rows, nt);
            CHECKF(diff == 0, "matmul_multi %s%s, %d tokens: %d outputs differ from separate products", rf_type_name(t),
                   mixed ? " + Q6_K" : "", nt, diff);
            /* the mixed set in one launch where the decode kernels take it
             * (below 16 tokens: main sets RF_GPU_IMMA=16) */
            if (mixed && !strcmp(rf_gpu_vendor(), "cuda"))
                CHECKF((rf_gpu_mixed_launches(G) > mx0) == (nt < 16), "matmul_multi Q4_K + Q6_K, %d tokens: one launch %s",
                       nt, nt < 16 ? "did not run" : "ran");
            /* on G2 (matrix units, F16 weight scratch) a set of quantized
             * weights is one GEMM over their decoded rows: the same bits as
             * a GEMM per weight */
            if (nt >= 12) {
                OK(rf_gpu_sync(G, E));
                for (int m = 0; m < 3; m++)
                    OK(rf_gpu_matmul(G2, tm[m], dw[m], rows[m], cols, rbm[m], dxn, nt, dy1[m], E));
                const uint64_t g0 = rf_gpu_gemm_launches(G2);
                OK(rf_gpu_matmul_multi(G2, 3, set, dxn, nt, dy2, E));
                OK(rf_gpu_sync(G2, E));
                const uint64_t launched = rf_gpu_gemm_launches(G2) - g0;
                CHECKF(launched == (t == RF_TYPE_F16 ? 3u : 1u), "matmul_multi %s on the GEMM: %llu launches",
                       rf_type_name(t), (unsigned long long)launched);
                diff = outputs_differ(dy1, dy2, rows, nt);
                CHECKF(diff == 0, "matmul_multi %s, %d tokens on the GEMM: %d outputs differ from a GEMM per weight",
                       rf_type_name(t), nt, diff);
            }
            for (int m = 0; m < 3; m++) { rf_gpu_free(G, dy1[m]); rf_gpu_free(G, dy2[m]); }
            free(x); free(w);
            rf_gpu_free(G, dx); rf_gpu_free(G, dnw); rf_gpu_free(G, dxn);
        }
        for (int m = 0; m < 3; m++) rf_gpu_free(G, dw[m]);
    }
    /* glu leaving its 8-bit form for the down projection */
    {
        const int nt = 2, n = 1024, rows = 64;
        const size_t N = (size_t)nt * n;
        float *gu = malloc(sizeof(float) * 2 * N);
        fill_rand(gu, 2 * N, 2.0f);
        float *dgu = dev_from(gu, sizeof(float) * 2 * N), *dh = dev_alloc(sizeof(float) * N);
        void *dw = quantized_rand(RF_TYPE_Q4_K, rows, n);
        const size_t rb = rf_gpu_row_bytes(RF_TYPE_Q4_K, n);
        float *dy1 = dev_alloc(sizeof(float) * nt * rows), *dy2 = dev_alloc(sizeof(float) * nt * rows);
        OK(rf_gpu_glu(G, RF_ACT_SILU, dgu, dgu + n, nt, n, 2 * n, dh, E));
        OK(rf_gpu_matmul(G, RF_TYPE_Q4_K, dw, rows, n, rb, dh, nt, dy2, E));
        OK(rf_gpu_add(G, dz, dz, dz, 1, E));
        OK(rf_gpu_matmul(G, RF_TYPE_Q4_K, dw, rows, n, rb, dh, nt, dy1, E));
        float *a = malloc(sizeof(float) * nt * rows), *b = malloc(sizeof(float) * nt * rows);
        dev_get(a, dy1, sizeof(float) * nt * rows);
        dev_get(b, dy2, sizeof(float) * nt * rows);
        CHECKF(bits_differ(a, b, (size_t)(nt * rows)) == 0, "glu's 8-bit form differs from the product's own rounding");
        free(gu); free(a); free(b);
        rf_gpu_free(G, dgu); rf_gpu_free(G, dh); rf_gpu_free(G, dw); rf_gpu_free(G, dy1); rf_gpu_free(G, dy2);
    }
    rf_gpu_free(G, dz);
}

/* ------------------------------------------------- ops vs the CPU backend */

static void test_rmsnorm_n(int n);
static void test_rmsnorm(void)
{
    /* register-held rows (up to 8 elements per thread), and a row too wide
     * for that which streams from memory */
    test_rmsnorm_n(4096 + 13);
    test_rmsnorm_n(8192 + 4096 + 32);
}

static void test_rmsnorm_n(int n)
{
    const int rows = 7;
    float *x = malloc(sizeof(float) * rows * n), *w = malloc(sizeof(float) * n);
    fill_rand(x, (size_t)rows * n, 3.0f);
    fill_rand(w, (size_t)n, 1.0f);
    float *ref = malloc(sizeof(float) * rows * n), *y = malloc(sizeof(float) * rows * n);
    CPU.ops->rmsnorm(CPU.ctx, x, w, 1e-5f, rows, n, ref);
    float *d_x = dev_from(x, sizeof(float) * rows * n), *d_w = dev_from(w, sizeof(float) * n);
    float *d_y = dev_alloc(sizeof(float) * rows * n);
    dev_poison(d_y, (size_t)rows * n);
    OK(rf_gpu_rmsnorm(G, d_x, d_w, d_y, rows, n, 1e-5f, E));
    dev_get(y, d_y, sizeof(float) * rows * n);
    double err = rel_err_f(y, ref, (size_t)rows * n);
    CHECKF(err < 1e-5, "rmsnorm (n %d): rel err %.3g", n, err);
    /* in place, short rows (Q/K norm shape: head_dim 64) */
    CPU.ops->rmsnorm(CPU.ctx, x, w, 1e-6f, rows * 3, 64, ref);
    OK(rf_gpu_rmsnorm(G, d_x, d_w, d_x, rows * 3, 64, 1e-6f, E));
    dev_get(y, d_x, sizeof(float) * rows * 3 * 64);
    err = rel_err_f(y, ref, (size_t)rows * 3 * 64);
    CHECKF(err < 1e-5, "rmsnorm in place: rel err %.3g", err);
    free(x); free(w); free(ref); free(y);
    rf_gpu_free(G, d_x); rf_gpu_free(G, d_w); rf_gpu_free(G, d_y);
}

static void test_rope(void)
{
    const int n_tok = 5, n_head = 3;
    const int hds[] = {64, 128, 80};
    for (int v = 0; v < 6; v++) {
        const int hd = hds[v % 3];
        rf_rope_params p;
        memset(&p, 0, sizeof p);
        p.style = v % 2 ? RF_ROPE_NEOX : RF_ROPE_NORM;
        p.n_rot = v == 2 ? hd / 2 : hd;   /* partial rotation once */
        p.freq_base = v < 3 ? 10000.0f : 500000.0f;
        p.freq_scale = v >= 4 ? 0.25f : 1.0f;
        p.ext_factor = v >= 4 ? 1.0f : 0.0f;
        p.attn_factor = 1.0f;
        p.corr_dims[0] = 12.0f;
        p.corr_dims[1] = 40.0f;
        float ff[128];
        for (int i = 0; i < p.n_rot / 2; i++) ff[i] = 1.0f + (float)(rng_u32() % 8);
        float *d_ff = NULL;
        if (v == 3) {
            d_ff = dev_from(ff, sizeof(float) * (size_t)p.n_rot / 2);
            p.freq_factors = ff;   /* the CPU reads host memory */
        }
        int32_t pos[5];
        for (int t = 0; t < n_tok; t++) pos[t] = (int32_t)(rng_u32() % 6000);
        const size_t n = (size_t)n_tok * n_head * hd;
        float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
        fill_rand(x, n, 2.0f);
        float *d_x = dev_from(x, sizeof(float) * n);
        int32_t *d_pos = dev_from(pos, sizeof pos);
        CPU.ops->rope(CPU.ctx, x, pos, n_tok, n_head, hd, &p);
        rf_rope_params pd = p;
        pd.freq_factors = d_ff;
        OK(rf_gpu_rope(G, d_x, n_tok, n_head, hd, d_pos, &pd, E));
        dev_get(y, d_x, sizeof(float) * n);
        double err = rel_err_f(y, x, n);
        /* angles up to 6000 rad: float sinf/cosf argument reduction differs by ulps of the angle */
        CHECKF(err < 2e-5, "rope variant %d (%s, n_rot %d, head_dim %d): rel err %.3g", v,
               p.style == RF_ROPE_NEOX ? "neox" : "norm", p.n_rot, hd, err);
        free(x); free(y);
        rf_gpu_free(G, d_x); rf_gpu_free(G, d_pos);
        if (d_ff) rf_gpu_free(G, d_ff);
    }
}

static void test_elementwise(void)
{
    const int n_tok = 3, n = 1000 + 7, stride = 2 * n + 5;
    const size_t ng = (size_t)n_tok * stride;
    float *gu = malloc(sizeof(float) * ng), *ref = malloc(sizeof(float) * n_tok * n), *y = malloc(sizeof(float) * n_tok * n);
    fill_rand(gu, ng, 6.0f);
    float *d_gu = dev_from(gu, sizeof(float) * ng), *d_o = dev_alloc(sizeof(float) * n_tok * n);
    for (int act = 0; act < 2; act++) {
        CPU.ops->glu(CPU.ctx, (rf_act)act, gu, gu + n, n_tok, n, stride, ref);
        dev_poison(d_o, (size_t)n_tok * n);
        OK(rf_gpu_glu(G, (rf_act)act, d_gu, d_gu + n, n_tok, n, stride, d_o, E));
        dev_get(y, d_o, sizeof(float) * n_tok * n);
        double err = rel_err_f(y, ref, (size_t)n_tok * n);
        CHECKF(err < 1e-6, "glu %s: rel err %.3g", act ? "gelu" : "silu", err);
    }
    /* add (in place, as the engine calls it), add_bias, softcap, gather */
    const size_t m = (size_t)n_tok * n;
    float *a = malloc(sizeof(float) * m), *b = malloc(sizeof(float) * m);
    fill_rand(a, m, 1.0f);
    fill_rand(b, m, 1.0f);
    float *d_a = dev_from(a, sizeof(float) * m), *d_b = dev_from(b, sizeof(float) * m);
    OK(rf_gpu_add(G, d_a, d_b, d_a, (int64_t)m, E));
    CPU.ops->add(CPU.ctx, a, b, (int64_t)m);
    dev_get(y, d_a, sizeof(float) * m);
    CHECKF(memcmp(y, a, sizeof(float) * m) == 0, "add differs from the CPU");
    OK(rf_gpu_add_bias(G, d_a, d_b, n_tok, n, E));
    CPU.ops->add_bias(CPU.ctx, a, b, n_tok, n);
    dev_get(y, d_a, sizeof(float) * m);
    CHECKF(memcmp(y, a, sizeof(float) * m) == 0, "add_bias differs from the CPU");
    for (size_t i = 0; i < m; i++) a[i] *= 40.0f;
    OK(rf_gpu_upload(G, d_a, a, sizeof(float) * m, E));
    OK(rf_gpu_softcap(G, d_a, (int64_t)m, 30.0f, E));
    CPU.ops->softcap(CPU.ctx, a, (int64_t)m, 30.0f);
    dev_get(y, d_a, sizeof(float) * m);
    double err = rel_err_f(y, a, m);
    CHECKF(err < 1e-6, "softcap: rel err %.3g", err);
    int32_t idx[2] = {2, 0};
    int32_t *d_idx = dev_from(idx, sizeof idx);
    OK(rf_gpu_gather(G, d_b, d_idx, 2, n, d_o, E));
    CPU.ops->gather(CPU.ctx, b, idx, 2, n, ref);
    dev_get(y, d_o, sizeof(float) * 2 * n);
    CHECKF(memcmp(y, ref, sizeof(float) * 2 * n) == 0, "gather differs from the CPU");
    free(gu); free(ref); free(y); free(a); free(b);
    rf_gpu_free(G, d_gu); rf_gpu_free(G, d_o); rf_gpu_free(G, d_a); rf_gpu_free(G, d_b); rf_gpu_free(G, d_idx);
}

/* ------------------------------------------------ KV cache and attention */

/* The 8-bit form an attention leaves for the output projection (head dims
 * that are multiples of 32) must be the product's own rounding of its
 * output: a Q8_0 product right after the attention (which reads that form)
 * against one after another launch (which rounds the output itself), bit
 * for bit. */
static void check_attn_q8(rf_gpu *g, const float *d_q, const void *d_kp, const void *d_vp, const int32_t *d_btab,
                          const int32_t *d_seq, const int32_t *d_pos, int n_rows, const rf_attn_params *ap,
                          float *d_out)
{
    const int64_t cols = (int64_t)ap->n_head * ap->head_dim, rows = 48;
    void *dw = quantized_rand(RF_TYPE_Q8_0, rows, cols);
    const size_t rb = rf_gpu_row_bytes(RF_TYPE_Q8_0, cols);
    float *dy1 = dev_alloc(sizeof(float) * n_rows * rows), *dy2 = dev_alloc(sizeof(float) * n_rows * rows);
    float *dz = dev_alloc(sizeof(float));
    OK(rf_gpu_fill_f32(g, dz, 1, 0.0f, E));
    OK(rf_gpu_attention(g, d_q, d_kp, d_vp, d_btab, d_seq, d_pos, n_rows, ap, d_out, E));
    OK(rf_gpu_matmul(g, RF_TYPE_Q8_0, dw, rows, cols, rb, d_out, n_rows, dy2, E));
    OK(rf_gpu_add(g, dz, dz, dz, 1, E));
    OK(rf_gpu_matmul(g, RF_TYPE_Q8_0, dw, rows, cols, rb, d_out, n_rows, dy1, E));
    OK(rf_gpu_sync(g, E));
    float *a = malloc(sizeof(float) * n_rows * rows), *b = malloc(sizeof(float) * n_rows * rows);
    dev_get(a, dy1, sizeof(float) * n_rows * rows);
    dev_get(b, dy2, sizeof(float) * n_rows * rows);
    CHECKF(bits_differ(a, b, (size_t)n_rows * rows) == 0,
           "attention's 8-bit output (head_dim %d, %d rows, %s path) differs from the product's own rounding",
           ap->head_dim, n_rows, g == G ? "plain" : "step");
    free(a); free(b);
    rf_gpu_free(G, dw); rf_gpu_free(G, dy1); rf_gpu_free(G, dy2); rf_gpu_free(G, dz);
}

static void test_attention_case(int n_head, int n_head_kv, int hd, int bs, float softcap, int window, rf_type kvt)
{
    const size_t es = kvt == RF_TYPE_F16 ? 2 : 4;
    const int n_seq = 3, max_blocks = 40, n_blocks = 100;
    const int kv_dim = n_head_kv * hd;
    const size_t pool = (size_t)n_blocks * bs * kv_dim;
    uint8_t *kp = calloc(pool, es), *vp = calloc(pool, es);
    int32_t btab[3 * 40];
    /* distinct random physical blocks per sequence */
    int perm[100];
    for (int i = 0; i < n_blocks; i++) perm[i] = i;
    for (int i = n_blocks - 1; i > 0; i--) {
        int j = (int)(rng_u32() % (uint32_t)(i + 1)), tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (int i = 0; i < n_seq * max_blocks; i++) btab[i] = perm[i % n_blocks];
    int len[3];
    for (int s = 0; s < n_seq; s++) len[s] = 1 + (int)(rng_u32() % (uint32_t)(bs * 6));
    len[1] = 1;   /* a sequence with a single key */
    int n_all = len[0] + len[1] + len[2];
    /* fill every sequence's keys with one kv_write of all positions */
    int32_t *slots = malloc(sizeof(int32_t) * n_all), *pos = malloc(sizeof(int32_t) * n_all);
    int32_t *seq = malloc(sizeof(int32_t) * n_all);
    int k = 0;
    for (int s = 0; s < n_seq; s++)
        for (int p = 0; p < len[s]; p++, k++) {
            pos[k] = p;
            seq[k] = s;
            slots[k] = btab[s * max_blocks + p / bs] * bs + p % bs;
        }
    float *kk = malloc(sizeof(float) * n_all * kv_dim), *vv = malloc(sizeof(float) * n_all * kv_dim);
    fill_rand(kk, (size_t)n_all * kv_dim, 2.0f);
    fill_rand(vv, (size_t)n_all * kv_dim, 1.0f);
    CPU.ops->kv_write_typed(CPU.ctx, kp, vp, kk, vv, slots, n_all, kv_dim, kvt);
    void *d_kp = dev_alloc(pool * es), *d_vp = dev_alloc(pool * es);
    OK(rf_gpu_upload(G, d_kp, kp, pool * es, E));   /* untouched slots equal on both sides */
    OK(rf_gpu_upload(G, d_vp, vp, pool * es, E));
    float *d_kk = dev_from(kk, sizeof(float) * n_all * kv_dim), *d_vv = dev_from(vv, sizeof(float) * n_all * kv_dim);
    int32_t *d_slots = dev_from(slots, sizeof(int32_t) * n_all);
    memset(kp, 0, pool * es);
    memset(vp, 0, pool * es);
    CPU.ops->kv_write_typed(CPU.ctx, kp, vp, kk, vv, slots, n_all, kv_dim, kvt);
    OK(rf_gpu_kv_write_typed(G, d_kp, d_vp, d_kk, d_vv, d_slots, n_all, kv_dim, kvt, E));
    uint8_t *chk = malloc(pool * es);
    const size_t rb = (size_t)kv_dim * es;
    dev_get(chk, d_kp, pool * es);
    int kdiff = 0;
    for (int i = 0; i < n_all; i++) kdiff += memcmp(chk + (size_t)slots[i] * rb, kp + (size_t)slots[i] * rb, rb) != 0;
    dev_get(chk, d_vp, pool * es);
    for (int i = 0; i < n_all; i++) kdiff += memcmp(chk + (size_t)slots[i] * rb, vp + (size_t)slots[i] * rb, rb) != 0;
    CHECKF(kdiff == 0, "kv_write %s: %d rows differ from the CPU's", rf_type_name(kvt), kdiff);

    /* queries: every position of every sequence (prefill shape) */
    rf_attn_params ap = {.n_head = n_head, .n_head_kv = n_head_kv, .head_dim = hd, .block_size = bs,
                         .max_blocks = max_blocks, .scale = 1.0f / sqrtf((float)hd), .softcap = softcap,
                         .window = window, .kv_type = kvt};
    const size_t qn = (size_t)n_all * n_head * hd;
    float *q = malloc(sizeof(float) * qn), *ref = malloc(sizeof(float) * qn), *out = malloc(sizeof(float) * qn);
    fill_rand(q, qn, 2.0f);
    CPU.ops->attention(CPU.ctx, q, kp, vp, btab, seq, pos, n_all, &ap, ref);
    float *d_q = dev_from(q, sizeof(float) * qn), *d_out = dev_alloc(sizeof(float) * qn);
    int32_t *d_btab = dev_from(btab, sizeof btab), *d_pos = dev_from(pos, sizeof(int32_t) * n_all);
    int32_t *d_seq = dev_from(seq, sizeof(int32_t) * n_all);
    dev_poison(d_out, qn);
    OK(rf_gpu_attention(G, d_q, d_kp, d_vp, d_btab, d_seq, d_pos, n_all, &ap, d_out, E));
    dev_get(out, d_out, sizeof(float) * qn);
    double err = rel_err_f(out, ref, qn);
    CHECKF(err < 1e-4, "attention %d/%d heads, head_dim %d, block %d, softcap %g, window %d, KV %s: rel err %.3g",
           n_head, n_head_kv, hd, bs, softcap, window, rf_type_name(kvt), err);
    /* G2 allows the matrix units: head dims 16, 32, 64, 80, 96, 128 and (where a block may
     * have 130 KB of shared memory: NVIDIA sm_80 and later) 256 take them (Q, K, P,
     * V rounded to F16, so the bound of the matrix-unit matmul) */
    {
        const uint64_t f0 = rf_gpu_fa_launches(G2);
        dev_poison(d_out, qn);
        OK(rf_gpu_sync(G, E));
        OK(rf_gpu_attention(G2, d_q, d_kp, d_vp, d_btab, d_seq, d_pos, n_all, &ap, d_out, E));
        OK(rf_gpu_sync(G2, E));
        const bool big_smem = !strncmp(rf_gpu_info(G2)->arch, "sm_", 3) && atoi(rf_gpu_info(G2)->arch + 3) >= 80;
        const bool fa = (hd == 16 || hd == 32 || hd == 64 || hd == 80 || hd == 96 || hd == 128 ||
                         (hd == 256 && big_smem)) && n_all >= 12;
        CHECKF((rf_gpu_fa_launches(G2) > f0) == fa, "attention head_dim %d, %d tokens: matrix-unit kernel %s", hd,
               n_all, fa ? "did not run" : "ran");
        dev_get(out, d_out, sizeof(float) * qn);
        err = rel_err_f(out, ref, qn);
        CHECKF(err < 5e-3, "attention (matrix units) %d/%d heads, head_dim %d, block %d, softcap %g, window %d, KV %s: "
               "rel err %.3g", n_head, n_head_kv, hd, bs, softcap, window, rf_type_name(kvt), err);
        /* the prompt path (token roles) takes them for any count, and a
         * query's result is the same bits whatever shares its block: the
         * whole batch against runs of 1, 2, 3, ... queries from a
         * rotating start (runs that cut sequences and windows anywhere) */
        if (fa) {
            rf_gpu_set_path(G2, RF_GPU_PATH_PROMPT);
            float *d_o2 = dev_alloc(sizeof(float) * qn), *o2 = malloc(sizeof(float) * qn);
            dev_poison(d_o2, qn);
            const uint64_t f1 = rf_gpu_fa_launches(G2);
            int runs = 0;
            for (int t0 = 0, len = 1; t0 < n_all; t0 += len, len = len % 7 + 1, runs++) {
                const int nq = t0 + len <= n_all ? len : n_all - t0;
                const size_t o = (size_t)t0 * n_head * hd;
                OK(rf_gpu_attention(G2, d_q + o, d_kp, d_vp, d_btab, d_seq + t0, d_pos + t0, nq, &ap, d_o2 + o, E));
            }
            OK(rf_gpu_sync(G2, E));
            rf_gpu_set_path(G2, RF_GPU_PATH_AUTO);
            CHECKF(rf_gpu_fa_launches(G2) == f1 + (uint64_t)runs, "attention head_dim %d, prompt path: %llu of %d runs "
                   "on the matrix units", hd, (unsigned long long)(rf_gpu_fa_launches(G2) - f1), runs);
            dev_get(o2, d_o2, sizeof(float) * qn);
            const int nd = bits_differ(out, o2, qn);
            CHECKF(nd == 0, "attention (matrix units) head_dim %d, window %d, KV %s: queries run in small groups differ "
                   "from the whole batch in %d of %zu values", hd, window, rf_type_name(kvt), nd, qn);
            free(o2);
            rf_gpu_free(G, d_o2);
        }
    }
    /* the 8-bit form the attention leaves for the output projection */
    check_attn_q8(G, d_q, d_kp, d_vp, d_btab, d_seq, d_pos, n_all, &ap, d_out);

    free(kp); free(vp); free(slots); free(pos); free(seq); free(kk); free(vv); free(chk); free(q); free(ref); free(out);
    rf_gpu_free(G, d_kp); rf_gpu_free(G, d_vp); rf_gpu_free(G, d_kk); rf_gpu_free(G, d_vv); rf_gpu_free(G, d_slots);
    rf_gpu_free(G, d_q); rf_gpu_free(G, d_out); rf_gpu_free(G, d_btab); rf_gpu_free(G, d_pos); rf_gpu_free(G, d_seq);
}

/* Generated tokens (one query per sequence, at its last position) over
 * long contexts take the split kernel on the step path: keys in chunks over
 * several blocks, merged by the last. Against the CPU's attention; a
 * query's bits are the same alone as in the batch (the chunks depend on its
 * own key count only, and a head's sums not on how many query heads share its
 * block: 1 alone, 4 in an 18-row batch of 32 heads); its 8-bit output is
 * the product's own rounding. */
static void test_attention_split_case(int n_head, int n_head_kv, int hd, float softcap, int window, rf_type kvt)
{
    enum { NS = 6, BS = 16, MAXB = 160 };
    const int lens[NS] = {1, 127, 129, 700, 2047, 2500}; /* one chunk; 2, 6, 16 and 16 chunks */
    const size_t es = kvt == RF_TYPE_F16 ? 2 : 4;
    const int kv_dim = n_head_kv * hd, n_blocks = NS * MAXB;
    const size_t pool = (size_t)n_blocks * BS * kv_dim;
    uint8_t *kp = calloc(pool, es), *vp = calloc(pool, es);
    int32_t *btab = malloc(sizeof(int32_t) * NS * MAXB), *perm = malloc(sizeof(int32_t) * n_blocks);
    for (int i = 0; i < n_blocks; i++) perm[i] = i;
    for (int i = n_blocks - 1; i > 0; i--) {
        int j = (int)(rng_u32() % (uint32_t)(i + 1)), tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (int i = 0; i < NS * MAXB; i++) btab[i] = perm[i];
    /* every key of every sequence: random K and V rows written into the pools */
    int n_keys = 0;
    for (int s = 0; s < NS; s++) n_keys += lens[s];
    int32_t *slots = malloc(sizeof(int32_t) * n_keys);
    for (int s = 0, k = 0; s < NS; s++)
        for (int p = 0; p < lens[s]; p++, k++) slots[k] = btab[s * MAXB + p / BS] * BS + p % BS;
    float *kk = malloc(sizeof(float) * n_keys * kv_dim), *vv = malloc(sizeof(float) * n_keys * kv_dim);
    fill_rand(kk, (size_t)n_keys * kv_dim, 2.0f);
    fill_rand(vv, (size_t)n_keys * kv_dim, 1.0f);
    CPU.ops->kv_write_typed(CPU.ctx, kp, vp, kk, vv, slots, n_keys, kv_dim, kvt);
    void *d_kp = dev_from(kp, pool * es), *d_vp = dev_from(vp, pool * es);
    /* the queries: the last position of each sequence, in a shuffled order,
     * three each (18 rows: 4 query heads a block where there are 32) */
    enum { NQ = 3 * NS };
    int32_t pos[NQ], seq[NQ];
    for (int i = 0; i < NQ; i++) seq[i] = (i * 5 + 3) % NS, pos[i] = lens[seq[i]] - 1;
    rf_attn_params ap = {.n_head = n_head, .n_head_kv = n_head_kv, .head_dim = hd, .block_size = BS,
                         .max_blocks = MAXB, .scale = 1.0f / sqrtf((float)hd), .softcap = softcap,
                         .window = window, .kv_type = kvt};
    const size_t qn = (size_t)NQ * n_head * hd;
    float *q = malloc(sizeof(float) * qn), *ref = malloc(sizeof(float) * qn), *out = malloc(sizeof(float) * qn);
    float *one = malloc(sizeof(float) * qn);
    fill_rand(q, qn, 2.0f);
    CPU.ops->attention(CPU.ctx, q, kp, vp, btab, seq, pos, NQ, &ap, ref);
    float *d_q = dev_from(q, sizeof(float) * qn), *d_out = dev_alloc(sizeof(float) * qn);
    float *d_one = dev_alloc(sizeof(float) * qn);
    int32_t *d_btab = dev_from(btab, sizeof(int32_t) * NS * MAXB), *d_pos = dev_from(pos, sizeof pos);
    int32_t *d_seq = dev_from(seq, sizeof seq);
    rf_gpu_set_path(G2, RF_GPU_PATH_STEP);
    const uint64_t n0 = rf_gpu_att_split_launches(G2);
    dev_poison(d_out, qn);
    OK(rf_gpu_sync(G, E));
    OK(rf_gpu_attention(G2, d_q, d_kp, d_vp, d_btab, d_seq, d_pos, NQ, &ap, d_out, E));
    /* each query alone, from poisoned outputs */
    dev_poison(d_one, qn);
    OK(rf_gpu_sync(G, E));
    for (int i = 0; i < NQ; i++) {
        const size_t o = (size_t)i * n_head * hd;
        OK(rf_gpu_attention(G2, d_q + o, d_kp, d_vp, d_btab, d_seq + i, d_pos + i, 1, &ap, d_one + o, E));
    }
    OK(rf_gpu_sync(G2, E));
    CHECKF(rf_gpu_att_split_launches(G2) == n0 + 1 + NQ, "split attention head_dim %d: %llu of %d launches split",
           hd, (unsigned long long)(rf_gpu_att_split_launches(G2) - n0), 1 + NQ);
    dev_get(out, d_out, sizeof(float) * qn);
    dev_get(one, d_one, sizeof(float) * qn);
    const double err = rel_err_f(out, ref, qn);
    CHECKF(err < 1e-4, "split attention %d/%d heads, head_dim %d, softcap %g, window %d, KV %s: rel err %.3g",
           n_head, n_head_kv, hd, softcap, window, rf_type_name(kvt), err);
    const int nd = bits_differ(out, one, qn);
    CHECKF(nd == 0, "split attention head_dim %d, KV %s: queries alone differ from the batch in %d of %zu values",
           hd, rf_type_name(kvt), nd, qn);
    /* again, the same bits: the chunk counters were left at zero */
    dev_poison(d_one, qn);
    OK(rf_gpu_sync(G, E));
    OK(rf_gpu_attention(G2, d_q, d_kp, d_vp, d_btab, d_seq, d_pos, NQ, &ap, d_one, E));
    OK(rf_gpu_sync(G2, E));
    dev_get(one, d_one, sizeof(float) * qn);
    CHECKF(bits_differ(out, one, qn) == 0, "split attention head_dim %d: a second launch differs", hd);
    /* the 8-bit form it leaves for the output projection */
    check_attn_q8(G2, d_q, d_kp, d_vp, d_btab, d_seq, d_pos, NQ, &ap, d_out);
    rf_gpu_set_path(G2, RF_GPU_PATH_AUTO);
    free(kp); free(vp); free(btab); free(perm); free(slots); free(kk); free(vv); free(q); free(ref); free(out); free(one);
    rf_gpu_free(G, d_kp); rf_gpu_free(G, d_vp); rf_gpu_free(G, d_q); rf_gpu_free(G, d_out); rf_gpu_free(G, d_one);
    rf_gpu_free(G, d_btab); rf_gpu_free(G, d_pos); rf_gpu_free(G, d_seq);
}

static void test_attention(void)
{
    for (int k = 0; k < 2; k++) {
        const rf_type t = k ? RF_TYPE_F32 : RF_TYPE_F16;
        test_attention_case(8, 2, 64, 16, 0.0f, 0, t);     /* GQA */
        test_attention_case(4, 4, 128, 16, 0.0f, 0, t);    /* MHA, 128-dim heads */
        test_attention_case(6, 1, 80, 32, 0.0f, 0, t);     /* MQA, odd head dim */
        test_attention_case(8, 4, 8, 16, 0.0f, 0, t);      /* stories260K's 8-dim heads */
        test_attention_case(8, 4, 256, 16, 50.0f, 0, t);   /* soft-capping, 256-dim heads (gemma2) */
        test_attention_case(4, 2, 256, 16, 0.0f, 40, t);   /* 256-dim heads, a window (gemma3) */
        test_attention_case(8, 2, 64, 16, 0.0f, 23, t);    /* sliding window */
        test_attention_case(8, 4, 128, 16, 30.0f, 0, t);  /* soft-capping on the matrix units */
        test_attention_case(4, 2, 128, 64, 0.0f, 0, t);    /* sequences of up to 384 keys */
        test_attention_case(4, 2, 64, 64, 0.0f, 100, t);   /* a window across key tiles */
        test_attention_case(6, 2, 96, 32, 0.0f, 0, t);    /* 96-dim heads */
        test_attention_case(4, 2, 32, 16, 0.0f, 0, t);    /* 32-dim heads (the tiny fixtures) */
        test_attention_split_case(32, 8, 64, 0.0f, 0, t);    /* Llama-3.2-1B's heads */
        test_attention_split_case(32, 8, 128, 0.0f, 0, t);   /* Llama-3-8B's */
        test_attention_split_case(28, 4, 128, 0.0f, 0, t);   /* Qwen2.5-7B's: 7 per KV head */
        test_attention_split_case(16, 1, 64, 0.0f, 0, t);    /* MQA: two groups of 8 per KV head */
        test_attention_split_case(8, 4, 256, 50.0f, 600, t); /* gemma2: soft-capping, a window across chunks */
        test_attention_split_case(6, 2, 96, 0.0f, 0, t);     /* 96-dim heads */
        test_attention_split_case(4, 2, 32, 0.0f, 100, t);   /* 32-dim heads, a short window */
    }
}

/* ----------------------------------------------------------- sampling */

static void test_argmax(void)
{
    const int rows = 3, nv = 32000 + 7;
    float *l = malloc(sizeof(float) * rows * nv);
    fill_rand(l, (size_t)rows * nv, 10.0f);
    l[1 * nv + 12345] = 50.0f;   /* a tie: the lower id wins */
    l[1 * nv + 23456] = 50.0f;
    float *d_l = dev_from(l, sizeof(float) * rows * nv);
    int32_t *d_o = dev_alloc(sizeof(int32_t) * rows), o[3];
    rf_gpu_sample_params sp = {.temperature = 0.0f, .top_p = 1.0f, .repeat_penalty = 1.0f};
    OK(rf_gpu_sample(G, d_l, rows, nv, &sp, NULL, 0, NULL, d_o, E));
    dev_get(o, d_o, sizeof o);
    for (int r = 0; r < rows; r++) {
        int best = 0;
        for (int i = 1; i < nv; i++)
            if (l[r * nv + i] > l[r * nv + best]) best = i;
        CHECKF(o[r] == best, "argmax row %d: GPU %d, CPU %d", r, o[r], best);
    }
    free(l);
    rf_gpu_free(G, d_l); rf_gpu_free(G, d_o);
}

/* -------------------------------------------------------------- graphs */

/* A recorded sequence replayed after its input changed gives the eager
 * result for the new input. */
static void test_graph(void)
{
    const int rows = 300, cols = 512;
    const size_t wb = rf_type_row_bytes(RF_TYPE_Q4_K, cols);
    float *wf = malloc(sizeof(float) * rows * cols);
    fill_rand(wf, (size_t)rows * cols, 1.0f);
    uint8_t *wq = malloc(wb * rows);
    OK(rf_quantize_rows(RF_TYPE_Q4_K, wf, wq, rows, cols, E));
    void *d_w = dev_from(wq, wb * rows);
    float x[512], nw[512];
    fill_rand(nw, 512, 1.0f);
    float *d_x = dev_alloc(sizeof x), *d_h = dev_alloc(sizeof x), *d_y = dev_alloc(sizeof(float) * rows);
    float *d_nw = dev_from(nw, sizeof nw);
    float y1[300], y2[300];
    OK(rf_gpu_graph_begin(G, E));
    OK(rf_gpu_rmsnorm(G, d_x, d_nw, d_h, 1, cols, 1e-5f, E));
    OK(rf_gpu_matmul(G, RF_TYPE_Q4_K, d_w, rows, cols, wb, d_h, 1, d_y, E));
    OK(rf_gpu_graph_end(G, E));
    for (int rep = 0; rep < 3; rep++) {
        fill_rand(x, 512, 1.0f);
        OK(rf_gpu_upload(G, d_x, x, sizeof x, E));
        dev_poison(d_y, rows);
        OK(rf_gpu_graph_replay(G, E));
        dev_get(y1, d_y, sizeof y1);
        dev_poison(d_y, rows);
        OK(rf_gpu_rmsnorm(G, d_x, d_nw, d_h, 1, cols, 1e-5f, E));
        OK(rf_gpu_matmul(G, RF_TYPE_Q4_K, d_w, rows, cols, wb, d_h, 1, d_y, E));
        dev_get(y2, d_y, sizeof y2);
        CHECKF(memcmp(y1, y2, sizeof y1) == 0 && isfinite(y1[0]), "graph replay %d differs from eager launches", rep);
    }
    free(wf); free(wq);
    rf_gpu_free(G, d_w); rf_gpu_free(G, d_x); rf_gpu_free(G, d_h); rf_gpu_free(G, d_y); rf_gpu_free(G, d_nw);
}

/* Not enough memory is an error that names the sizes, never a crash. */
static void test_oom(void)
{
    void *d = NULL;
    rf_error e = {0};
    rf_status st = rf_gpu_alloc(G, (size_t)1 << 50, &d, "weights", &e);
    CHECKF(st == RF_ERR_NOMEM && strstr(e.msg, "MiB") && strstr(e.msg, "-ngl"), "OOM message: %s", e.msg);
    CHECK(d == NULL);
}

int main(void)
{
    if (rf_gpu_device_count() <= 0) {
        if (!strcmp(rf_gpu_vendor(), "none")) rf_test_skip("built without a GPU backend (RF_GPU=off or no toolkit)");
        rf_test_skip("no GPU device found");
    }
    /* the integer tiles from 16 tokens (default 128), so that this test's
     * shapes exercise them against the one-token products */
    setenv("RF_GPU_IMMA", "16", 0);
    const char *seed = getenv("RF_TEST_SEED");
    rng_state = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL) * 2654435761u + (uint64_t)clock();
    if (!rng_state) rng_state = 1;
    fprintf(stderr, "gpu_kernels: seed %llu (RF_TEST_SEED repeats it)\n", (unsigned long long)rng_state);
    OK(rf_gpu_open(0, &G, E));
    const rf_gpu_device_info *inf = rf_gpu_info(G);
    fprintf(stderr, "gpu_kernels: %s %s, warp %d, %.0f MiB\n", inf->name, inf->arch, inf->warp, inf->mem_total / 1048576.0);
    OK(rf_backend_cpu_create(1, &CPU, E));
    OK(rf_gpu_reserve_q8(G, (size_t)1 << 20, E));
    OK(rf_gpu_open(0, &G2, E));
    OK(rf_gpu_reserve_q8(G2, (size_t)1 << 20, E));
    OK(rf_gpu_reserve_wh(G2, (size_t)GEMM_WH, E));
    rf_gpu_set_mma(G2, true);
    OK(rf_gpu_reserve_attn(G2, 24, 32, 256, E));
    test_matmul();
    test_fused();
    test_rmsnorm();
    test_rope();
    test_elementwise();
    test_attention();
    test_argmax();
    test_graph();
    test_oom();
    CPU.ops->destroy(CPU.ctx);
    rf_gpu_close(G2);
    rf_gpu_close(G);
    return rf_test_done("gpu_kernels");
}
