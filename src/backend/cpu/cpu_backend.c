/* cpu_backend.c — the CPU implementation of the backend ops table.
 *
 * "Device" buffers are 64-byte aligned host memory. Weights stay in their
 * GGUF type: those whose type has a packed kernel in the SIMD variant in use
 * are repacked once at bind time (rf_cpu_pack: rows interleaved by 16, the
 * same blocks and scales) into memory the backend owns; the others are used
 * in place in the mmap'd file. Embedding lookups always read the file's rows
 * (w->host). Matrix products go to rf_cpu_matmul(_packed); everything else is
 * plain C here, F32 activations, F16 KV pool. Attention and matmul are
 * spread over the thread pool; the small per-row ops run on the caller,
 * they are a rounding error next to the matrix products.
 *
 * Batch invariance: each output row is computed by one thread with a fixed
 * reduction order; the split over threads only decides who computes which
 * rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_kernels.h"
#include "base/base.h"

#define CPU_MAX_HEAD_DIM RF_BACKEND_MAX_HEAD_DIM
#define CPU_MAX_BLOCK 4096 /* kv_block_size limit of rf_ctx_create */

typedef struct cpu_ctx {
    rf_threadpool *pool;
    void *scratch;          /* rf_cpu_matmul scratch, sized by reserve */
    size_t scratch_size;
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
    const size_t bytes = w->lookup_only || w->n_rows <= 1 ? 0 : rf_cpu_pack_size(w->type, w->n_rows, w->n_cols);
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
 * by repeated multiplication, YaRN ramp), so that positions agree to the
 * last bit with the reference where the math is the same. */
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
            th = theta_interp * (1 - mix) + theta_extrap * mix;
            mscale *= 1.0f + 0.1f * logf(1.0f / p->freq_scale);
        }
        cache[i0] = cosf(th) * mscale;
        cache[i0 + 1] = sinf(th) * mscale;
        theta *= theta_scale;
    }
}

static void cpu_rope(void *ctx, float *x, const int32_t *pos, int n_tok, int n_head, int head_dim,
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
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
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

typedef struct attn_job {
    const float *q;
    const void *k_pool, *v_pool;
    const int32_t *btab, *seq_row, *pos;
    int n_tok;
    const rf_attn_params *p;
    float *out;
} attn_job;

/* x86-64 builds target baseline SSE2; the attention loops are also built
 * for x86-64-v3 (AVX2 + FMA) and picked at load time by the CPU (ifunc). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(RF_NO_CLONES)
#define CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CPU_CLONES
#endif

/* dot of n floats with 8 running sums (vectorizes; fixed order) */
static inline float dot8(const float *a, const float *b, int n)
{
    float s8[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s8[k] += a[i + k] * b[i + k];
    float s = ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* One token and one KV head with the g query heads that share it (GQA):
 * softmax over the sequence's keys in position order, in chunks of at most
 * ATTN_CHUNK keys inside one KV block (scores of the chunk, then one rescale
 * of each running sum, then the weighted values). Each K and V row is read
 * once for the whole group. A head's arithmetic is the same whatever the
 * group or the batch, so results depend on nothing but the token's own
 * history. */
#define ATTN_CHUNK 64
#define ATTN_MAX_GROUP_FLOATS 8192  /* g * head_dim held on the stack */
#define ATTN_MAX_GROUP 64

CPU_CLONES static void attn_group(const attn_job *j, int t, int hk, int h0, int g)
{
    const rf_attn_params *p = j->p;
    const int hd = p->head_dim, kv_dim = p->n_head_kv * hd, bs = p->block_size;
    const float *q = j->q + ((size_t)t * p->n_head + h0) * hd;      /* (g, hd) */
    float *o = j->out + ((size_t)t * p->n_head + h0) * hd;          /* (g, hd) */
    const int32_t *tab = j->btab + (size_t)j->seq_row[t] * p->max_blocks;
    const int last = j->pos[t];
    const int first = p->window > 0 && last - p->window + 1 > 0 ? last - p->window + 1 : 0;
    const bool f16 = p->kv_type == RF_TYPE_F16;
    float acc[ATTN_MAX_GROUP_FLOATS], buf[CPU_MAX_HEAD_DIM], sc[ATTN_MAX_GROUP * ATTN_CHUNK];
    float m[ATTN_MAX_GROUP], l[ATTN_MAX_GROUP];
    for (int i = 0; i < g * hd; i++) acc[i] = 0.0f;
    for (int h = 0; h < g; h++) { m[h] = -INFINITY; l[h] = 0.0f; }
    for (int c0 = first; c0 <= last;) {
        const int blk = c0 / bs;
        int c1 = (blk + 1) * bs - 1 < last ? (blk + 1) * bs - 1 : last;
        if (c1 - c0 + 1 > ATTN_CHUNK) c1 = c0 + ATTN_CHUNK - 1;
        const int nc = c1 - c0 + 1;
        const size_t base = ((size_t)tab[blk] * bs) * kv_dim + (size_t)hk * hd;
        for (int pos = c0; pos <= c1; pos++) {
            size_t off = base + (size_t)(pos % bs) * kv_dim;
            const float *kr;
            if (f16) {
                rf_cpu_f16_to_f32_row((const uint16_t *)j->k_pool + off, buf, hd);
                kr = buf;
            } else {
                kr = (const float *)j->k_pool + off;
            }
            for (int h = 0; h < g; h++) {
                float s = dot8(q + (size_t)h * hd, kr, hd) * p->scale;
                if (p->softcap > 0.0f) s = p->softcap * tanhf(s / p->softcap);
                sc[h * ATTN_CHUNK + (pos - c0)] = s;
            }
        }
        for (int h = 0; h < g; h++) {
            float cmax = -INFINITY;
            for (int k = 0; k < nc; k++) cmax = sc[h * ATTN_CHUNK + k] > cmax ? sc[h * ATTN_CHUNK + k] : cmax;
            if (cmax > m[h]) { /* m = -inf before the first chunk: the factor is 0 */
                float corr = expf(m[h] - cmax);
                l[h] *= corr;
                float *a = acc + (size_t)h * hd;
                for (int i = 0; i < hd; i++) a[i] *= corr;
                m[h] = cmax;
            }
            for (int k = 0; k < nc; k++) sc[h * ATTN_CHUNK + k] = expf(sc[h * ATTN_CHUNK + k] - m[h]);
        }
        for (int h = 0; h < g; h++)
            for (int k = 0; k < nc; k++) l[h] += sc[h * ATTN_CHUNK + k];
        if (!f16 && hd % 8 == 0) {
            /* F32 pool: 8 output lanes stay in registers across the chunk's
             * keys (same per-element order as the key-by-key loop below) */
            const float *v0 = (const float *)j->v_pool + base + (size_t)(c0 % bs) * kv_dim;
            for (int h = 0; h < g; h++) {
                const float *e = sc + h * ATTN_CHUNK;
                float *a = acc + (size_t)h * hd;
                for (int i0 = 0; i0 < hd; i0 += 8) {
                    float a8[8];
                    for (int ii = 0; ii < 8; ii++) a8[ii] = a[i0 + ii];
                    for (int k = 0; k < nc; k++) {
                        const float *vr = v0 + (size_t)k * kv_dim + i0;
                        for (int ii = 0; ii < 8; ii++) a8[ii] += e[k] * vr[ii];
                    }
                    for (int ii = 0; ii < 8; ii++) a[i0 + ii] = a8[ii];
                }
            }
        } else {
            for (int pos = c0; pos <= c1; pos++) {
                size_t off = base + (size_t)(pos % bs) * kv_dim;
                const float *vr;
                if (f16) {
                    rf_cpu_f16_to_f32_row((const uint16_t *)j->v_pool + off, buf, hd);
                    vr = buf;
                } else {
                    vr = (const float *)j->v_pool + off;
                }
                for (int h = 0; h < g; h++) {
                    float e = sc[h * ATTN_CHUNK + (pos - c0)];
                    float *a = acc + (size_t)h * hd;
                    for (int i = 0; i < hd; i++) a[i] += e * vr[i];
                }
            }
        }
        c0 = c1 + 1;
    }
    for (int h = 0; h < g; h++) {
        float inv = l[h] > 0.0f ? 1.0f / l[h] : 0.0f;
        for (int i = 0; i < hd; i++) o[(size_t)h * hd + i] = acc[(size_t)h * hd + i] * inv;
    }
}

/* Work items: (token, KV head, slice of its query heads); the slice is the
 * whole group unless the group does not fit the stack buffers. */
static int attn_slice(const rf_attn_params *p)
{
    int g = p->n_head / p->n_head_kv, sl = g;
    while (sl > 1 && (sl * p->head_dim > ATTN_MAX_GROUP_FLOATS || sl > ATTN_MAX_GROUP || g % sl)) sl--;
    return sl;
}

static void attn_worker(void *arg, int ith, int nth)
{
    const attn_job *j = arg;
    const rf_attn_params *p = j->p;
    int sl = attn_slice(p), per_kv = p->n_head / p->n_head_kv / sl;
    int n = j->n_tok * p->n_head_kv * per_kv;
    int per = (n + nth - 1) / nth, a = ith * per, b = a + per < n ? a + per : n;
    for (int w = a; w < b; w++) {
        int t = w / (p->n_head_kv * per_kv), r = w % (p->n_head_kv * per_kv);
        int hk = r / per_kv, h0 = hk * (p->n_head / p->n_head_kv) + (r % per_kv) * sl;
        attn_group(j, t, hk, h0, sl);
    }
}

static void cpu_attention(void *ctx, const float *q, const void *k_pool, const void *v_pool, const int32_t *btab,
                          const int32_t *seq_row, const int32_t *pos, int n_tok, const rf_attn_params *p, float *out)
{
    cpu_ctx *c = ctx;
    attn_job j = {q, k_pool, v_pool, btab, seq_row, pos, n_tok, p, out};
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

static void glu_rows(const glu_job *j, int t0, int t1)
{
    for (int t = t0; t < t1; t++) {
        const float *g = j->gate + (size_t)t * j->stride, *u = j->up + (size_t)t * j->stride;
        float *o = j->out + (size_t)t * j->n;
        if (j->act == RF_ACT_SILU)
            for (int i = 0; i < j->n; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
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
    for (int i = 0; i < c->n_packed; i++) free(c->packed[i]);
    free(c->packed);
    free(c);
}

static const rf_backend_ops cpu_ops = {
    .name = "cpu",
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
    out->ops = &cpu_ops;
    out->ctx = c;
    return RF_OK;
}
