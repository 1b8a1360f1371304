/* cpu_backend.c — the CPU implementation of the backend ops table.
 *
 * "Device" buffers are 64-byte aligned host memory. Weights stay in their
 * GGUF type: those whose type has a packed kernel in the SIMD variant in use
 * are repacked once at bind time (rf_cpu_pack: rows interleaved by 16, the
 * same blocks and scales) into memory the backend owns; the others are used
 * in place in the mmap'd file. Embedding lookups always read the file's rows
 * (w->host). Matrix products go to rf_cpu_matmul(_packed); everything else is
 * plain C here, F32 activations, F16 or F32 KV pool. Attention and matmul are
 * spread over the thread pool; the small per-row ops run on the caller,
 * they are a rounding error next to the matrix products.
 *
 * Numerics: RMSNorm, RoPE, attention (scores, softmax, weighted values) and
 * SwiGLU compute what llama.cpp's CPU backend computes, to the last bit (see
 * "ggml-compatible arithmetic" below), so that a quantized model, whose
 * matmul inputs are rounded to 8 bits, follows llama.cpp token for token.
 *
 * Batch invariance: each output row is computed by one thread with a fixed
 * reduction order; the split over threads only decides who computes which
 * rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_kernels.h"
#include "base/base.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CPU_X86_SCORES 1
#endif

#define CPU_MAX_HEAD_DIM RF_BACKEND_MAX_HEAD_DIM
#define CPU_MAX_BLOCK 4096 /* kv_block_size limit of rf_ctx_create */

/* x86-64 builds target baseline SSE2; the float ops that must agree with
 * ggml bit for bit (fmaf everywhere, see below) are also built for
 * x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512) and picked at load time by
 * the CPU (ifunc), where each fmaf is one instruction instead of a libm
 * call. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(RF_NO_CLONES)
#define CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CPU_CLONES
#endif

/* ---------------------------------------------- ggml-compatible arithmetic
 * The float ops below compute, bit for bit, what llama.cpp's CPU backend
 * computes in its AVX-512 builds (ggml-cpu vec.h, vec.cpp, ops.cpp; the
 * libggml-cpu variant it loads on an AVX-512 machine), written as scalar C
 * with an explicit fmaf wherever ggml has an FMA: in its intrinsics, and
 * where its compiler fuses a product and a sum in its scalar code (it builds
 * with FP contraction on; we build with it off). The last bit matters for
 * quantized models: every matmul input is rounded to 8 bits, and a 1-ulp
 * difference that lands on a rounding boundary moves the logits by ~1e-2
 * from there on. The results depend on nothing but the inputs (not on our
 * SIMD variant or thread count). Reference: llama.cpp v0.4.0 of
 * node-llama-cpp (scripts/fixtures/llamacpp/gen_greedy.sh). */

/* _mm512_reduce_add_ps: halves added pairwise, 16 -> 8 -> 4 -> 2 -> 1 */
static inline float sum16_ggml(const float *v)
{
    float t[8], u[4];
    for (int k = 0; k < 8; k++) t[k] = v[k] + v[k + 8];
    for (int k = 0; k < 4; k++) u[k] = t[k] + t[k + 4];
    return (u[0] + u[2]) + (u[1] + u[3]);
}

/* ggml_vec_dot_f32 (AVX-512): 64 running sums (4 registers of 16 lanes),
 * element i into sum i % 64, over the largest multiple of 64; the registers
 * folded as (r0 + r2) + (r1 + r3), the lanes by sum16_ggml; then the rest
 * one by one into that total: rounded products, except the last
 * (n - np) % 8, fused (its compiler vectorizes that loop 8 wide and leaves
 * a contracted scalar tail). */
static inline float dot_ggml(const float *x, const float *y, int n)
{
    const int np = n & ~63;
    float s = 0.0f;
    if (np) {
        /* the fold and the first halving written 8 wide, so they vectorize */
        float a[64], t[8], u[4];
        for (int l = 0; l < 64; l++) a[l] = fmaf(x[l], y[l], 0.0f);
        for (int i = 64; i < np; i += 64)
            for (int l = 0; l < 64; l++) a[l] = fmaf(x[i + l], y[i + l], a[l]);
        for (int k = 0; k < 8; k++)
            t[k] = ((a[k] + a[k + 32]) + (a[k + 16] + a[k + 48])) + ((a[k + 8] + a[k + 40]) + (a[k + 24] + a[k + 56]));
        for (int k = 0; k < 4; k++) u[k] = t[k] + t[k + 4];
        s = (u[0] + u[2]) + (u[1] + u[3]);
    }
    const int nv = np + ((n - np) & ~7);
    for (int i = np; i < nv; i++) s += x[i] * y[i];
    for (int i = nv; i < n; i++) s = fmaf(x[i], y[i], s);
    return s;
}

/* 2^e as a float, -126 <= e <= 127 */
static inline float pow2i_ggml(int e)
{
    const uint32_t bits = (uint32_t)(e + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ggml_v_expf (AVX-512): exp(x) = 2^n * p(b), n = round(x / ln 2), b the
 * reduced argument in two steps, p a degree-5 polynomial (ARM's optimized
 * routine, max error ~1.5 ulp), then vscalefps(p, n): p * 2^n rounded once.
 * Here p * 2^n is two products, the first exact and the second the only
 * rounding (2^-100 for the tiny results, whose rounding is to a subnormal;
 * 2^100 for n > 127), so it is correctly rounded too, without branches
 * (loops over it vectorize). NaN inputs are not ggml's (they give 0 or inf
 * here). Checked equal to the direct form on every 7th float. */
static inline float expf_ggml(float x)
{
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                         u, fmaf(0x1.ffffecp-1f, b, 1.0f));
    /* fmaxf / fminf as compares (NaN -> -193 as they give): the libm calls
     * would not inline */
    const float nl = n >= -193.0f ? n : -193.0f;
    const int ni = (int)(nl <= 193.0f ? nl : 193.0f);
    const int sh = ni < -100 ? -100 : ni > 127 ? 100 : 0;
    const float res = (j * pow2i_ggml(ni - sh)) * pow2i_ggml(sh);
    return fabsf(n) > 192.0f ? (n <= 0.0f ? 0.0f : INFINITY) : res;
}

/* ggml_v_silu (AVX-512) */
static inline float silu_ggml(float x)
{
    return x / (1.0f + expf_ggml(0.0f - x));
}

typedef struct cpu_ctx {
    rf_threadpool *pool;
    void *scratch;          /* rf_cpu_matmul scratch, sized by reserve */
    size_t scratch_size;
    float *attn_scratch;    /* (n_threads, ATTN_SCRATCH_FLOATS), see attn_group */
    void **packed;          /* (n_packed) repacked weights, freed by destroy */
    int n_packed, cap_packed;
} cpu_ctx;

static bool cpu_supports(void *ctx, rf_type t)
{
    (void)ctx;
    return rf_cpu_matmul_supports(t);
}

static void *cpu_alloc(void *ctx, size_t bytes, rf_error *err)
{
    (void)ctx;
    void *p = NULL;
    size_t n = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, n ? n : 64) != 0) {
        rf_err(err, RF_ERR_NOMEM, "out of memory allocating %zu bytes of CPU buffer", bytes);
        return NULL;
    }
    memset(p, 0, n ? n : 64);
    return p;
}

static void cpu_free(void *ctx, void *buf)
{
    (void)ctx;
    free(buf);
}

static rf_status cpu_upload(void *ctx, void *dst, size_t off, const void *src, size_t n, rf_error *err)
{
    (void)ctx;
    (void)err;
    if (n) memcpy((char *)dst + off, src, n);
    return RF_OK;
}

static rf_status cpu_download(void *ctx, void *dst, const void *src, size_t off, size_t n, rf_error *err)
{
    (void)ctx;
    (void)err;
    if (n) memcpy(dst, (const char *)src + off, n);
    return RF_OK;
}

static rf_status cpu_weight_bind(void *ctx, rf_bweight *w, rf_error *err)
{
    cpu_ctx *c = ctx;
    if (w->type != RF_TYPE_F32 && !rf_cpu_matmul_supports(w->type))
        return rf_err(err, RF_ERR_UNSUPPORTED, "tensor '%s': type %s is not supported by the CPU kernels",
                      w->name, rf_type_name(w->type));
    w->dev = (void *)w->host;
    const size_t bytes = w->lookup_only || w->n_rows <= 1 || rf_cpu_q8_0_ggml_order(w->type, w->n_rows)
                             ? 0 : rf_cpu_pack_size(w->type, w->n_rows, w->n_cols);
    if (!bytes) return RF_OK;
    if (c->n_packed == c->cap_packed) {
        int cap = c->cap_packed ? 2 * c->cap_packed : 64;
        void **p = realloc(c->packed, (size_t)cap * sizeof *p);
        if (!p) return rf_err(err, RF_ERR_NOMEM, "tensor '%s': out of memory", w->name);
        c->packed = p;
        c->cap_packed = cap;
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, (bytes + 63) & ~(size_t)63) != 0)
        return rf_err(err, RF_ERR_NOMEM, "tensor '%s': out of memory repacking %zu bytes", w->name, bytes);
    rf_status st = rf_cpu_pack(w->type, w->host, w->n_rows, w->n_cols, w->row_stride, p, bytes, err);
    if (st != RF_OK) {
        free(p);
        return st;
    }
    c->packed[c->n_packed++] = p;
    w->dev = p;
    if (w->host_in_file) {
        /* The packed copy is what the kernels read: the file's pages of this
         * tensor leave the process's memory now rather than whenever the
         * kernel reclaims them (a later read, e.g. an embedding lookup of a
         * tied matrix, maps them in again from the file). */
        const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)w->host;
        const uintptr_t lo = (a + pg - 1) & ~(pg - 1), hi = (a + (uintptr_t)(w->n_rows * (int64_t)w->row_stride)) & ~(pg - 1);
        if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    return RF_OK;
}

static rf_status cpu_reserve(void *ctx, const rf_bweight *const *ws, int n_w, int n_tok, rf_error *err)
{
    cpu_ctx *c = ctx;
    size_t need = 0;
    for (int i = 0; i < n_w; i++) {
        size_t s = rf_cpu_matmul_scratch_size(ws[i]->type, ws[i]->n_cols, n_tok);
        if (s > need) need = s;
    }
    if (need <= c->scratch_size) return RF_OK;
    void *p = cpu_alloc(ctx, need, err);
    if (!p) return RF_ERR_NOMEM;
    free(c->scratch);
    c->scratch = p;
    c->scratch_size = need;
    return RF_OK;
}

static rf_status cpu_get_rows(void *ctx, const rf_bweight *w, const int32_t *ids, int n, float scale, float *out,
                              rf_error *err)
{
    (void)ctx;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= w->n_rows)
            return rf_err(err, RF_ERR_INVALID_ARG, "token id %d out of range [0, %lld)", ids[i], (long long)w->n_rows);
        float *o = out + (size_t)i * (size_t)w->n_cols;
        rf_status st = rf_cpu_dequantize_row(w->type, (const char *)w->host + (size_t)ids[i] * w->row_stride, o,
                                             w->n_cols, err);
        if (st != RF_OK) return st;
        if (scale != 1.0f)
            for (int64_t j = 0; j < w->n_cols; j++) o[j] *= scale;
    }
    return RF_OK;
}

static rf_status cpu_matmul(void *ctx, const rf_bweight *w, const float *x, int n_tok, float *y, rf_error *err)
{
    cpu_ctx *c = ctx;
    if (w->dev != w->host)
        return rf_cpu_matmul_packed(c->pool, w->type, w->dev, w->n_rows, w->n_cols, x, n_tok, y, c->scratch, err);
    if (rf_cpu_q8_0_ggml_order(w->type, w->n_rows))
        return rf_cpu_matmul_q8_0_ggml(c->pool, w->dev, w->n_rows, w->n_cols, w->row_stride, x, n_tok, y, c->scratch,
                                       err);
    return rf_cpu_matmul(c->pool, w->type, w->dev, w->n_rows, w->n_cols, w->row_stride, x, n_tok, y, c->scratch, err);
}

static void cpu_add_bias(void *ctx, float *x, const float *b, int n_tok, int n)
{
    (void)ctx;
    for (int t = 0; t < n_tok; t++)
        for (int i = 0; i < n; i++) x[(size_t)t * n + i] += b[i];
}

/* As ggml: the sum of squares in double, then one float scale. */
static void cpu_rmsnorm(void *ctx, const float *x, const float *w, float eps, int n_rows, int n, float *y)
{
    (void)ctx;
    for (int r = 0; r < n_rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        double ss = 0.0;
        for (int i = 0; i < n; i++) ss += (double)(xr[i] * xr[i]);
        float scale = 1.0f / sqrtf((float)(ss / n) + eps);
        for (int i = 0; i < n; i++) yr[i] = (xr[i] * scale) * w[i];
    }
}

/* cos/sin for one position, computed exactly as ggml does (theta advanced
 * by repeated multiplication, YaRN ramp; the products that ggml's compiler
 * fuses into FMAs written as fmaf), so that positions agree to the last bit
 * with the reference where the math is the same. */
static void rope_cache(const rf_rope_params *p, int32_t pos, float *cache)
{
    float theta = (float)pos;
    float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
    for (int i0 = 0; i0 < p->n_rot; i0 += 2) {
        float ff = p->freq_factors ? p->freq_factors[i0 / 2] : 1.0f;
        float theta_extrap = theta / ff;
        float theta_interp = p->freq_scale * theta_extrap;
        float th = theta_interp, mscale = p->attn_factor;
        if (p->ext_factor != 0.0f) {
            float y = ((float)(i0 / 2) - p->corr_dims[0]) / fmaxf(0.001f, p->corr_dims[1] - p->corr_dims[0]);
            float ramp = 1.0f - fminf(1.0f, fmaxf(0.0f, y));
            float mix = ramp * p->ext_factor;
            th = fmaf(theta_interp, 1 - mix, theta_extrap * mix);
            mscale *= fmaf(0.1f, logf(1.0f / p->freq_scale), 1.0f);
        }
        cache[i0] = cosf(th) * mscale;
        cache[i0 + 1] = sinf(th) * mscale;
        theta *= theta_scale;
    }
}

/* The rotation as ggml's rotate_pairs, whose two products and sum its
 * compiler turns into one fmaf and one product. */
CPU_CLONES static void cpu_rope(void *ctx, float *x, const int32_t *pos, int n_tok, int n_head, int head_dim,
                                const rf_rope_params *p)
{
    (void)ctx;
    float cache[CPU_MAX_HEAD_DIM];
    int half = p->n_rot / 2;
    for (int t = 0; t < n_tok; t++) {
        rope_cache(p, pos[t], cache);
        for (int h = 0; h < n_head; h++) {
            float *v = x + ((size_t)t * n_head + h) * head_dim;
            for (int i0 = 0; i0 < p->n_rot; i0 += 2) {
                float c = cache[i0], s = cache[i0 + 1];
                int a = p->style == RF_ROPE_NORM ? i0 : i0 / 2;
                int b = p->style == RF_ROPE_NORM ? i0 + 1 : i0 / 2 + half;
                float x0 = v[a], x1 = v[b];
                v[a] = fmaf(x0, c, -(x1 * s));
                v[b] = fmaf(x0, s, x1 * c);
            }
        }
    }
}

static void cpu_kv_write(void *ctx, void *k_pool, void *v_pool, const float *k, const float *v, const int32_t *slots,
                         int n_tok, int kv_dim)
{
    (void)ctx;
    uint16_t *kp = k_pool, *vp = v_pool;
    for (int t = 0; t < n_tok; t++) {
        uint16_t *kd = kp + (size_t)slots[t] * kv_dim, *vd = vp + (size_t)slots[t] * kv_dim;
        const float *ks = k + (size_t)t * kv_dim, *vs = v + (size_t)t * kv_dim;
        for (int i = 0; i < kv_dim; i++) {
            kd[i] = rf_f32_to_f16(ks[i]);
            vd[i] = rf_f32_to_f16(vs[i]);
        }
    }
}

static void cpu_kv_write_typed(void *ctx, void *k_pool, void *v_pool, const float *k, const float *v,
                               const int32_t *slots, int n_tok, int kv_dim, rf_type kv_type)
{
    if (kv_type == RF_TYPE_F16) {
        cpu_kv_write(ctx, k_pool, v_pool, k, v, slots, n_tok, kv_dim);
        return;
    }
    float *kp = k_pool, *vp = v_pool;
    for (int t = 0; t < n_tok; t++) {
        memcpy(kp + (size_t)slots[t] * kv_dim, k + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
        memcpy(vp + (size_t)slots[t] * kv_dim, v + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
    }
}

/* One token and one KV head with the g query heads that share it (GQA),
 * over the sequence's keys first..last in position order, as ggml's
 * non-flash attention computes it with an F32 KV cache:
 *   s = dot_ggml(k, q) * scale                    (ggml_mul_mat, soft_max)
 *   e = expf_ggml(s - max), sum = double sum of sum16_ggml over 16-aligned
 *       groups of positions (ggml_vec_soft_max_f32; masked keys are 0)
 *   p = e * (float)(1 / sum)                      (ggml_vec_scale_f32)
 *   out[c] = ggml_vec_dot_f32 over positions of p and V's column c: 64
 *       running sums by position % 64, folded as in dot_ggml.
 * The grouping is by absolute position, as llama.cpp's KV cell index for a
 * sequence decoded from an empty cache, so the padding of its KV view (to
 * 256 cells) changes nothing. That is the order of its one-token decode;
 * for prompt batches (n_tok >= 2) it takes llamafile's sgemm for the last
 * product, whose order (16 running sums) is the same up to 16 positions and
 * not beyond; we keep one order, since a row's result here must not depend
 * on the batch.
 * Each K and V row is read once for the group (three passes: scores and
 * max, exponentials and sum, weighted values), the scores kept in the
 * thread's scratch; where they do not fit (contexts of ~100k positions),
 * each pass recomputes them, with the same result. */
#define ATTN_CHUNK 64
#define ATTN_MAX_GROUP 64
#define ATTN_SCRATCH_FLOATS (1 << 17)   /* per thread: (g, 64, hd) sums + (g, n_pos) scores */

typedef struct attn_job {
    const float *q;
    const void *k_pool, *v_pool;
    const int32_t *btab, *seq_row, *pos;
    int n_tok;
    const rf_attn_params *p;
    float *out;
    float *scratch;         /* (nth, ATTN_SCRATCH_FLOATS) */
    int sl;                 /* query heads per work item */
    int conv;               /* how kv_row reads the pool's rows (kv_conv) */
} attn_job;

#if CPU_X86_SCORES
__attribute__((target("avx512f"))) static void f16_rows_avx512(const uint16_t *src, float *dst, int hd)
{
    for (int i = 0; i < hd; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
}

__attribute__((target("avx2,f16c"))) static void f16_rows_f16c(const uint16_t *src, float *dst, int hd)
{
    for (int i = 0; i < hd; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
}
#endif

/* How kv_row reads the pool's rows: F32 in place (0); F16 converted one
 * at a time (1), 8 (2, F16C) or 16 (3, AVX-512) at a time. The conversion
 * is exact, so all give the same floats; one at a time made the prompt's
 * attention over F16 keys ~30% slower than over F32 ones (1B Q4_0 pp512,
 * 2 threads). */
static int kv_conv(const rf_attn_params *p)
{
    if (p->kv_type != RF_TYPE_F16) return 0;
#if CPU_X86_SCORES
    const rf_cpu_isa isa = rf_cpu_kernels_init();
    if ((isa == RF_ISA_AVX512 || isa == RF_ISA_AMX) && p->head_dim % 16 == 0) return 3;
    /* every x86 variant past scalar requires F16C (cpu_kernels.c, x86_detect) */
    if (isa != RF_ISA_SCALAR && p->head_dim % 8 == 0) return 2;
#endif
    return 1;
}

/* A K or V row of the pool as F32: in place, or converted into buf. */
static inline const float *kv_row(const void *pool, size_t off, int conv, int hd, float *buf)
{
    if (!conv) return (const float *)pool + off;
    const uint16_t *r16 = (const uint16_t *)pool + off;
#if CPU_X86_SCORES
    if (conv == 3) {
        f16_rows_avx512(r16, buf, hd);
        return buf;
    }
    if (conv == 2) {
        f16_rows_f16c(r16, buf, hd);
        return buf;
    }
#endif
    for (int i = 0; i < hd; i++) buf[i] = rf_f16_to_f32(r16[i]);
    return buf;
}

#if CPU_X86_SCORES
/* dot_ggml of 16 keys with one query at once (head_dim a multiple of 64, at
 * most 256): each key's 64 running sums folded to one vector v as dot_ggml
 * does, then the 16 vectors' lane sums (_mm512_reduce_add_ps's tree:
 * halves 16 -> 8 -> 4 -> 2 -> 1) formed together by shuffles, each addition
 * the one dot_ggml makes. Same bits as 16 calls of dot_ggml. */
__attribute__((target("avx512f"))) static void dot16_ggml_avx512(const float *k, int hd, const float *q, float scale,
                                                                 float *out)
{
    __m512 v[16];
    for (int r = 0; r < 16; r++) {
        const float *x = k + (size_t)r * hd;
        const __m512 z = _mm512_setzero_ps();
        __m512 a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(q), z);
        __m512 a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16), _mm512_loadu_ps(q + 16), z);
        __m512 a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 32), _mm512_loadu_ps(q + 32), z);
        __m512 a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + 48), _mm512_loadu_ps(q + 48), z);
        for (int i = 64; i < hd; i += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(q + i), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(q + i + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(q + i + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(q + i + 48), a3);
        }
        v[r] = _mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3));
    }
    __m512 t[8], u[4], w[2];
    for (int i = 0; i < 8; i++)   /* lanes 0-7: key i's v[k] + v[k+8]; 8-15: key i+8's */
        t[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[i], v[i + 8], 0x44), _mm512_shuffle_f32x4(v[i], v[i + 8], 0xEE));
    for (int i = 0; i < 4; i++)   /* quarters: keys i, i+8, i+4, i+12, each t[k] + t[k+4] */
        u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(t[i], t[i + 4], 0x88), _mm512_shuffle_f32x4(t[i], t[i + 4], 0xDD));
    for (int i = 0; i < 2; i++)   /* per quarter: (u0 + u2, u1 + u3) of u[i], then of u[i+2] */
        w[i] = _mm512_add_ps(_mm512_shuffle_ps(u[i], u[i + 2], 0x44), _mm512_shuffle_ps(u[i], u[i + 2], 0xEE));
    const __m512 o = _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xDD));
    /* lane 4j + m holds key {0,2,1,3}[m] + {0,8,4,12}[j]: an involution */
    const __m512i perm = _mm512_setr_epi32(0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15);
    _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_permutexvar_ps(perm, o), _mm512_set1_ps(scale)));
}

#endif

/* Scores of query heads h0..h0+g-1 against keys p0..p1: sc[h * ld + pos - p0]. */
CPU_CLONES static void attn_scores(const attn_job *j, int t, int hk, int h0, int g, int p0, int p1, float *sc, int ld)
{
    const rf_attn_params *p = j->p;
    const int hd = p->head_dim, kv_dim = p->n_head_kv * hd, bs = p->block_size;
    const float *q = j->q + ((size_t)t * p->n_head + h0) * hd;      /* (g, hd) */
    const int32_t *tab = j->btab + (size_t)j->seq_row[t] * p->max_blocks;
    const int conv = j->conv;
    float buf[CPU_MAX_HEAD_DIM];
    int pos = p0;
#if CPU_X86_SCORES
    /* with the AVX-512 variants (which the CPU has, since they were chosen) */
    const bool f16 = conv != 0;
    const rf_cpu_isa isa = rf_cpu_kernels_init();
    if ((isa == RF_ISA_AVX512 || isa == RF_ISA_AMX) && hd % 64 == 0 && hd <= 256 && p->softcap <= 0.0f) {
        /* 16 keys at a time, as F32 rows side by side */
        float kb[16 * 256], o16[16];
        for (; pos + 15 <= p1; pos += 16) {
            for (int r = 0; r < 16; r++) {
                const int pp = pos + r, blk = pp / bs;
                const size_t off = ((size_t)tab[blk] * bs + (size_t)(pp - blk * bs)) * kv_dim + (size_t)hk * hd;
                if (f16) f16_rows_avx512((const uint16_t *)j->k_pool + off, kb + (size_t)r * hd, hd);
                else memcpy(kb + (size_t)r * hd, (const float *)j->k_pool + off, (size_t)hd * sizeof(float));
            }
            for (int h = 0; h < g; h++) {
                dot16_ggml_avx512(kb, hd, q + (size_t)h * hd, p->scale, o16);
                memcpy(sc + (size_t)h * ld + (pos - p0), o16, sizeof o16);
            }
        }
    }
#endif
    while (pos <= p1) {
        const int blk = pos / bs, end = (blk + 1) * bs - 1 < p1 ? (blk + 1) * bs - 1 : p1;
        size_t off = ((size_t)tab[blk] * bs + (size_t)(pos - blk * bs)) * kv_dim + (size_t)hk * hd;
        for (; pos <= end; pos++, off += kv_dim) {
            const float *kr = kv_row(j->k_pool, off, conv, hd, buf);
            for (int h = 0; h < g; h++) {
                float s = dot_ggml(kr, q + (size_t)h * hd, hd) * p->scale;
                if (p->softcap > 0.0f) s = p->softcap * tanhf(s / p->softcap);
                sc[(size_t)h * ld + (pos - p0)] = s;
            }
        }
    }
}

CPU_CLONES static void attn_group(const attn_job *j, float *scratch, int t, int hk, int h0, int g)
{
    const rf_attn_params *p = j->p;
    const int hd = p->head_dim, kv_dim = p->n_head_kv * hd, bs = p->block_size;
    float *o = j->out + ((size_t)t * p->n_head + h0) * hd;          /* (g, hd) */
    const int32_t *tab = j->btab + (size_t)j->seq_row[t] * p->max_blocks;
    const int last = j->pos[t];
    const int first = p->window > 0 && last - p->window + 1 > 0 ? last - p->window + 1 : 0;
    const int n_pos = last - first + 1;
    const int conv = j->conv;
    float *acc = scratch;                                           /* (g, 64, hd) */
    float *st = scratch + (size_t)g * 64 * hd;                      /* (g, n_pos) when store */
    const bool store = (size_t)g * 64 * hd + (size_t)g * n_pos <= ATTN_SCRATCH_FLOATS;
    float ch[ATTN_MAX_GROUP * ATTN_CHUNK];                          /* (g, ATTN_CHUNK) otherwise */
    float mx[ATTN_MAX_GROUP], inv[ATTN_MAX_GROUP], grp[ATTN_MAX_GROUP][16];
    double sum[ATTN_MAX_GROUP];

    /* pass 1: scores, max */
    for (int h = 0; h < g; h++) mx[h] = -INFINITY;
    for (int c0 = first; c0 <= last; c0 += ATTN_CHUNK) {
        const int c1 = c0 + ATTN_CHUNK - 1 < last ? c0 + ATTN_CHUNK - 1 : last;
        float *sc = store ? st + (c0 - first) : ch;
        const int ld = store ? n_pos : ATTN_CHUNK;
        attn_scores(j, t, hk, h0, g, c0, c1, sc, ld);
        for (int h = 0; h < g; h++)
            for (int k = 0; k <= c1 - c0; k++) mx[h] = sc[(size_t)h * ld + k] > mx[h] ? sc[(size_t)h * ld + k] : mx[h];
    }
    /* pass 2: exponentials (kept in place of the scores), their sum by
     * 16-aligned groups of positions */
    for (int h = 0; h < g; h++) {
        sum[h] = 0.0;
        for (int l = 0; l < 16; l++) grp[h][l] = 0.0f;
    }
    for (int c0 = first; c0 <= last; c0 += ATTN_CHUNK) {
        const int c1 = c0 + ATTN_CHUNK - 1 < last ? c0 + ATTN_CHUNK - 1 : last;
        float *sc = store ? st + (c0 - first) : ch;
        const int ld = store ? n_pos : ATTN_CHUNK;
        if (!store) attn_scores(j, t, hk, h0, g, c0, c1, sc, ld);
        for (int h = 0; h < g; h++) {
            float *e = sc + (size_t)h * ld;
            for (int k = 0; k <= c1 - c0; k++) e[k] = expf_ggml(e[k] - mx[h]);
            for (int pos = c0; pos <= c1; pos++) {
                grp[h][pos % 16] = e[pos - c0];
                if (pos % 16 == 15 || pos == last) {
                    sum[h] += (double)sum16_ggml(grp[h]);
                    for (int l = 0; l < 16; l++) grp[h][l] = 0.0f;
                }
            }
        }
    }
    for (int h = 0; h < g; h++) inv[h] = (float)(1.0 / sum[h]);
    /* pass 3: out = sum of p * V in 64 running sums by position % 64 */
    float buf[CPU_MAX_HEAD_DIM], pr[ATTN_MAX_GROUP];
    if (store) {
        /* running sum l of a few heads at a time held in registers across
         * its positions l, l + 64, ... (each sum still adds its positions
         * in order: the same bits as the position-major loop below) */
        const int hb_n = hd >= 256 ? 1 : 256 / hd;
        float a[CPU_MAX_HEAD_DIM > 256 ? CPU_MAX_HEAD_DIM : 256];
        for (int hb = 0; hb < g; hb += hb_n) {
            const int nh = g - hb < hb_n ? g - hb : hb_n;
            for (int l = 0; l < 64; l++) {
                memset(a, 0, (size_t)nh * hd * sizeof(float));
                for (int pos = first + ((l - first % 64) + 64) % 64; pos <= last; pos += 64) {
                    const int blk = pos / bs;
                    const size_t off = ((size_t)tab[blk] * bs + (size_t)(pos - blk * bs)) * kv_dim + (size_t)hk * hd;
                    const float *vr = kv_row(j->v_pool, off, conv, hd, buf);
                    for (int hh = 0; hh < nh; hh++) {
                        const float pp = st[(size_t)(hb + hh) * n_pos + (pos - first)] * inv[hb + hh];
                        float *ah = a + (size_t)hh * hd;
                        for (int i = 0; i < hd; i++) ah[i] = fmaf(vr[i], pp, ah[i]);
                    }
                }
                for (int hh = 0; hh < nh; hh++)
                    memcpy(acc + ((size_t)(hb + hh) * 64 + l) * hd, a + (size_t)hh * hd, (size_t)hd * sizeof(float));
            }
        }
    } else
        memset(acc, 0, (size_t)g * 64 * hd * sizeof(float));
    for (int c0 = first; !store && c0 <= last; c0 += ATTN_CHUNK) {
        const int c1 = c0 + ATTN_CHUNK - 1 < last ? c0 + ATTN_CHUNK - 1 : last;
        if (!store) {
            attn_scores(j, t, hk, h0, g, c0, c1, ch, ATTN_CHUNK);
            for (int h = 0; h < g; h++)
                for (int k = 0; k <= c1 - c0; k++) ch[h * ATTN_CHUNK + k] = expf_ggml(ch[h * ATTN_CHUNK + k] - mx[h]);
        }
        for (int pos = c0; pos <= c1;) {
            const int blk = pos / bs, end = (blk + 1) * bs - 1 < c1 ? (blk + 1) * bs - 1 : c1;
            size_t off = ((size_t)tab[blk] * bs + (size_t)(pos - blk * bs)) * kv_dim + (size_t)hk * hd;
            for (; pos <= end; pos++, off += kv_dim) {
                const float *vr = kv_row(j->v_pool, off, conv, hd, buf);
                for (int h = 0; h < g; h++)
                    pr[h] = (store ? st[(size_t)h * n_pos + (pos - first)] : ch[h * ATTN_CHUNK + (pos - c0)]) * inv[h];
                for (int h = 0; h < g; h++) {
                    float *a = acc + ((size_t)h * 64 + pos % 64) * hd;
                    for (int i = 0; i < hd; i++) a[i] = fmaf(vr[i], pr[h], a[i]);
                }
            }
        }
    }
    /* the fold of dot_ggml, each step over all hd columns at once: sum l
     * becomes lane l % 16 as (l, l+32) + (l+16, l+48), then the halvings */
    for (int h = 0; h < g; h++) {
        float *ah = acc + (size_t)h * 64 * hd, *oh = o + (size_t)h * hd;
#define LANE(l) (ah + (size_t)(l) * hd)
        for (int l = 0; l < 16; l++) {
            float *d = LANE(l);
            const float *b = LANE(l + 32), *c = LANE(l + 16), *e = LANE(l + 48);
            for (int i = 0; i < hd; i++) d[i] = (d[i] + b[i]) + (c[i] + e[i]);
        }
        for (int w = 8; w >= 1; w /= 2) /* t[k] = r[k] + r[k+8], u[k] = t[k] + t[k+4], ... */
            for (int l = 0; l < w; l++) {
                float *d = LANE(l);
                const float *b = LANE(l + w);
                for (int i = 0; i < hd; i++) d[i] = d[i] + b[i];
            }
        for (int i = 0; i < hd; i++) oh[i] = LANE(0)[i];
#undef LANE
    }
}

/* Query heads per work item: the whole group unless its sums do not fit
 * the scratch; with room for the scores of the longest sequence if that
 * fits too. */
static int attn_slice(const rf_attn_params *p)
{
    const int g = p->n_head / p->n_head_kv;
    const size_t max_pos = (size_t)p->max_blocks * p->block_size;
    for (int need_scores = 1; need_scores >= 0; need_scores--)
        for (int sl = g < ATTN_MAX_GROUP ? g : ATTN_MAX_GROUP; sl >= 1; sl--)
            if (g % sl == 0 && (size_t)sl * (64 * (size_t)p->head_dim + (need_scores ? max_pos : 0)) <= ATTN_SCRATCH_FLOATS)
                return sl;
    return 1;
}

static void attn_worker(void *arg, int ith, int nth)
{
    const attn_job *j = arg;
    const rf_attn_params *p = j->p;
    int sl = j->sl, per_kv = p->n_head / p->n_head_kv / sl;
    int n = j->n_tok * p->n_head_kv * per_kv;
    /* items dealt round-robin: in a causal prompt later tokens see more
     * positions, so contiguous ranges would leave the first threads idle */
    for (int w = ith; w < n; w += nth) {
        int t = w / (p->n_head_kv * per_kv), r = w % (p->n_head_kv * per_kv);
        int hk = r / per_kv, h0 = hk * (p->n_head / p->n_head_kv) + (r % per_kv) * sl;
        attn_group(j, j->scratch + (size_t)ith * ATTN_SCRATCH_FLOATS, t, hk, h0, sl);
    }
}

static void cpu_attention(void *ctx, const float *q, const void *k_pool, const void *v_pool, const int32_t *btab,
                          const int32_t *seq_row, const int32_t *pos, int n_tok, const rf_attn_params *p, float *out)
{
    cpu_ctx *c = ctx;
    attn_job j = {q, k_pool, v_pool, btab, seq_row, pos, n_tok, p, out, c->attn_scratch, attn_slice(p), kv_conv(p)};
    if (n_tok * p->n_head_kv < 2) {
        attn_worker(&j, 0, 1);
        return;
    }
    rf_threadpool_run(c->pool, attn_worker, &j);
}

static inline float gelu_tanh(float x)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * x * (1.0f + 0.044715f * x * x)));
}

typedef struct glu_job {
    rf_act act;
    const float *gate, *up;
    int n_tok, n, stride;
    float *out;
} glu_job;

CPU_CLONES static void glu_rows(const glu_job *j, int t0, int t1)
{
    for (int t = t0; t < t1; t++) {
        const float *g = j->gate + (size_t)t * j->stride, *u = j->up + (size_t)t * j->stride;
        float *o = j->out + (size_t)t * j->n;
        if (j->act == RF_ACT_SILU) {
            /* ggml_vec_swiglu_f32 (AVX-512): 16 at a time with ggml_v_silu,
             * the last n % 16 with libm's expf */
            const int n16 = j->n & ~15;
            for (int i = 0; i < n16; i++) o[i] = silu_ggml(g[i]) * u[i];
            for (int i = n16; i < j->n; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
        }
        else
            for (int i = 0; i < j->n; i++) o[i] = gelu_tanh(g[i]) * u[i];
    }
}

static void glu_worker(void *arg, int ith, int nth)
{
    const glu_job *j = arg;
    int per = (j->n_tok + nth - 1) / nth, a = ith * per, b = a + per < j->n_tok ? a + per : j->n_tok;
    if (a < b) glu_rows(j, a, b);
}

/* Rows are independent: big batches (prompts) are split over the pool. */
static void cpu_glu(void *ctx, rf_act act, const float *gate, const float *up, int n_tok, int n, int stride, float *out)
{
    cpu_ctx *c = ctx;
    glu_job j = {act, gate, up, n_tok, n, stride, out};
    if ((int64_t)n_tok * n < (1 << 16) || n_tok < 2) glu_rows(&j, 0, n_tok);
    else rf_threadpool_run(c->pool, glu_worker, &j);
}

static void cpu_add(void *ctx, float *x, const float *y, int64_t n)
{
    (void)ctx;
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

static void cpu_gather(void *ctx, const float *x, const int32_t *idx, int n_rows, int n, float *out)
{
    (void)ctx;
    for (int r = 0; r < n_rows; r++) memmove(out + (size_t)r * n, x + (size_t)idx[r] * n, (size_t)n * sizeof(float));
}

static void cpu_softcap(void *ctx, float *x, int64_t n, float cap)
{
    (void)ctx;
    for (int64_t i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

static void cpu_copy2d(void *ctx, void *dst, size_t dst_stride, const void *src, size_t src_stride, int n_rows,
                       size_t row_bytes)
{
    (void)ctx;
    for (int r = 0; r < n_rows; r++)
        memmove((char *)dst + (size_t)r * dst_stride, (const char *)src + (size_t)r * src_stride, row_bytes);
}

static void cpu_destroy(void *ctx)
{
    cpu_ctx *c = ctx;
    if (!c) return;
    rf_threadpool_free(c->pool);
    free(c->scratch);
    free(c->attn_scratch);
    for (int i = 0; i < c->n_packed; i++) free(c->packed[i]);
    free(c->packed);
    free(c);
}

static const rf_backend_ops cpu_ops = {
    .name = "cpu",
    /* F32: over F16 keys (rows converted 16 at a time, kv_conv) prompts still ran 0-5% slower
     * (1B Q4_0 / Q5_K_M pp512, 2 threads), and Q5_K_M's fell to 0.97x llama.cpp in one
     * cpu-compare run; generation at depth 1024 was as fast or faster (BENCHMARKS.md) */
    .kv_f16_default = false,
    .supports = cpu_supports,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .weight_bind = cpu_weight_bind,
    .reserve = cpu_reserve,
    .get_rows = cpu_get_rows,
    .matmul = cpu_matmul,
    .add_bias = cpu_add_bias,
    .rmsnorm = cpu_rmsnorm,
    .rope = cpu_rope,
    .kv_write = cpu_kv_write,
    .kv_write_typed = cpu_kv_write_typed,
    .attention = cpu_attention,
    .glu = cpu_glu,
    .add = cpu_add,
    .gather = cpu_gather,
    .softcap = cpu_softcap,
    .copy2d = cpu_copy2d,
    .graph_begin = NULL,
    .graph_end = NULL,
    .destroy = cpu_destroy,
};

rf_status rf_backend_cpu_create(int n_threads, rf_backend *out, rf_error *err)
{
    rf_cpu_kernels_init();
    cpu_ctx *c = rf_calloc(1, sizeof *c, err, "CPU backend");
    if (!c) return RF_ERR_NOMEM;
    if (n_threads <= 0) n_threads = rf_cpu_count();
    c->pool = rf_threadpool_create(n_threads, err);
    if (!c->pool) {
        free(c);
        return err ? err->code : RF_ERR_NOMEM;
    }
    c->attn_scratch = cpu_alloc(c, (size_t)rf_threadpool_size(c->pool) * ATTN_SCRATCH_FLOATS * sizeof(float), err);
    if (!c->attn_scratch) {
        rf_threadpool_free(c->pool);
        free(c);
        return RF_ERR_NOMEM;
    }
    out->ops = &cpu_ops;
    out->ctx = c;
    return RF_OK;
}
