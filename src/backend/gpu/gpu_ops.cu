/* gpu_ops.cu — the element-wise and per-row operations of the layer loop:
 * RMSNorm, RoPE (normal/NeoX, frequency factors, YaRN), gated activations,
 * adds, soft-capping, row gathers and KV-cache writes.
 *
 * Each follows the CPU backend's definition (cpu_backend.c) operation for
 * operation where that decides results (RoPE's theta is advanced by
 * repeated multiplication like ggml's; K/V are rounded to F16 to nearest
 * even), so GPU and CPU differ only by the rounding of sums and of the
 * device's transcendental functions.
 */
#include "gpu_impl.cuh"

#define OPS_THREADS 256

/* ------------------------------------------------------------- rmsnorm */
/* One block per row; the sum of squares is reduced lane-strided, then by a
 * warp tree, then the warps' sums by another warp tree (a serial loop over
 * them cost 1-2% of a decode step): a fixed order for a given n (the block
 * size depends on n only). Each thread first loads its PER elements into
 * registers, so no load waits on a store that might alias it (y may be x,
 * and the residual add writes x): the earlier loop over memory spent ~20 us
 * per 4096-wide row on such round trips (ncu, H200). With xq, the
 * normalised row is also rounded to 8 bits for the next product (a warp's
 * pass covers one 32-group: n and blockDim are multiples of 32). With add,
 * x += add first (the residual), written back before the norm.
 * PER = 0: any n, elements streamed from memory. */
#define RF_NORM_MAX_THREADS 1024
template <int PER>
static __global__ __launch_bounds__(RF_NORM_MAX_THREADS) void rf_k_rmsnorm(float *x, const float *add,
                                                                          const float *__restrict__ w, float *y,
                                                                          int n, float eps, int8_t *xq, float *xd)
{
    RF_PDL_WAIT();
    RF_PDL_LAUNCH_NEXT();
    __shared__ float part[RF_NORM_MAX_THREADS / 32];
    const int64_t row = blockIdx.x;
    float *xr = x + row * n;
    float *yr = y + row * n;
    const float *ar = add ? add + row * n : NULL;
    const int tid = threadIdx.x, nt = blockDim.x;
    float v[PER > 0 ? PER : 1], wv[PER > 0 ? PER : 1];
    float ss = 0.f;
    if (PER > 0) {
        /* the weights too, now: their loads (from DRAM: the step's weight
         * stream evicts them from L2) overlap the row's and the sum's
         * instead of starting after the barrier (+4% on 8B and 1B decode) */
#pragma unroll
        for (int k = 0; k < PER; k++) {
            const int i = tid + k * nt;
            v[k] = i < n ? xr[i] + (ar ? ar[i] : 0.0f) : 0.0f;
            wv[k] = w && i < n ? w[i] : 1.0f;
        }
#pragma unroll
        for (int k = 0; k < PER; k++) {
            const int i = tid + k * nt;
            if (ar && i < n) xr[i] = v[k];
            ss += v[k] * v[k];
        }
    } else {
        for (int i = tid; i < n; i += nt) {
            float e = xr[i];
            if (ar) {
                e += ar[i];
                xr[i] = e;
            }
            ss += e * e;
        }
    }
    ss = rf_warp_sum(ss);
    if (rf_lane() == 0) part[rf_warp_id()] = ss;
    __syncthreads(); /* also: every read of x and add (which y may alias) is done */
    /* the warps' sums by a warp tree (every warp forms the same total) */
    float tot = rf_lane() < rf_warps_per_block() ? part[rf_lane()] : 0.f;
    tot = rf_warp_sum(tot);
    const float scale = 1.0f / sqrtf(tot / n + eps);
    if (PER > 0) {
#pragma unroll
        for (int k = 0; k < PER; k++) {
            const int i = tid + k * nt;
            if (i < n) {
                const float o = w ? (v[k] * scale) * wv[k] : v[k] * scale;
                yr[i] = o;
                if (xq) rf_q8_put(o, row * n + i, xq, xd);
            }
        }
    } else {
        for (int i = tid; i < n; i += nt) {
            const float o = w ? (xr[i] * scale) * w[i] : xr[i] * scale;
            yr[i] = o;
            if (xq) rf_q8_put(o, row * n + i, xq, xd);
        }
    }
}

static rf_status rf_rmsnorm_launch(rf_gpu *g, float *d_x, const float *d_add, const float *d_w, float *d_y,
                                   int64_t n_rows, int64_t n, float eps, rf_error *err)
{
    if (n_rows <= 0) return RF_OK;
    if (n <= 0 || n > 0x7fffffff || n_rows > 0x7fffffff)
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU rmsnorm: bad shape %lld x %lld", (long long)n_rows, (long long)n);
    const bool q8 = d_w && rf_gpu_q8_fusable(g, n_rows * n, n);
    int8_t *xq = q8 ? g->d_xq : NULL;
    float *xd = q8 ? g->d_xd : NULL;
    /* 1024 threads: 512 and 256 measured slower (H200, 8B Q4_K_M tg128 314
     * and 279 vs 338 t/s) */
    const int threads = n >= 1024 ? RF_NORM_MAX_THREADS : 64;
    const int64_t per = (n + threads - 1) / threads;
    const unsigned nb = (unsigned)n_rows;
    if (per <= 1) rf_launch(g->pdl, rf_k_rmsnorm<1>, dim3(nb), dim3(threads), 0, g->stream, d_x, d_add, d_w, d_y, (int)n, eps, xq, xd);
    else if (per <= 2) rf_launch(g->pdl, rf_k_rmsnorm<2>, dim3(nb), dim3(threads), 0, g->stream, d_x, d_add, d_w, d_y, (int)n, eps, xq, xd);
    else if (per <= 4) rf_launch(g->pdl, rf_k_rmsnorm<4>, dim3(nb), dim3(threads), 0, g->stream, d_x, d_add, d_w, d_y, (int)n, eps, xq, xd);
    else if (per <= 8) rf_launch(g->pdl, rf_k_rmsnorm<8>, dim3(nb), dim3(threads), 0, g->stream, d_x, d_add, d_w, d_y, (int)n, eps, xq, xd);
    else rf_launch(g->pdl, rf_k_rmsnorm<0>, dim3(nb), dim3(threads), 0, g->stream, d_x, d_add, d_w, d_y, (int)n, eps, xq, xd);
    if (q8) GPU_LAUNCHED_Q8("rmsnorm", d_y, n_rows * n);
    else GPU_LAUNCHED("rmsnorm");
    return RF_OK;
}

extern "C" rf_status rf_gpu_rmsnorm(rf_gpu *g, const float *d_x, const float *d_w, float *d_y,
                                    int64_t n_rows, int64_t n, float eps, rf_error *err)
{
    /* x is only read when there is nothing to add */
    return rf_rmsnorm_launch(g, (float *)d_x, NULL, d_w, d_y, n_rows, n, eps, err);
}

extern "C" rf_status rf_gpu_add_rmsnorm(rf_gpu *g, float *d_x, const float *d_y, const float *d_w, float *d_out,
                                        int64_t n_rows, int64_t n, float eps, rf_error *err)
{
    if (d_out == d_x) return rf_err(err, RF_ERR_INVALID_ARG, "GPU add_rmsnorm: out must not alias x");
    return rf_rmsnorm_launch(g, d_x, d_y, d_w, d_out, n_rows, n, eps, err);
}

/* ---------------------------------------------------------------- rope */
struct rf_rope_dev {
    int style, n_rot;
    float theta_scale, freq_base, freq_scale, ext_factor, attn_factor, corr0, corr1;
    const float *freq_factors;
};

/* One thread per (token, head, rotated pair); heads [0, n_head) are x's,
 * [n_head, n_head + n_head2) x2's (q and k in one launch). With a cache
 * (kc), x2's rotated values also go to their token's slot in it, and n_copy
 * more threads copy v and x2's unrotated dims there: the KV write of the
 * same step, with the same values as a separate kv_write. */
RF_DEV void rf_kv_put(__half *p, int64_t i, float v) { p[i] = __float2half_rn(v); }
RF_DEV void rf_kv_put(float *p, int64_t i, float v) { p[i] = v; }
template <typename KV>
static __global__ void rf_k_rope(float *x, int n_head, float *x2, int n_head2, const int32_t *__restrict__ pos,
                                 int64_t n_pairs_total, int head_dim, rf_rope_dev p, KV *kc, KV *vc,
                                 const float *__restrict__ v, const int32_t *__restrict__ slots, int64_t n_copy)
{
    RF_PDL_WAIT();
    RF_PDL_LAUNCH_NEXT();
    const int64_t gid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int kv_dim = n_head2 * head_dim;
    if (gid >= n_pairs_total) {
        const int64_t c = gid - n_pairs_total;
        if (c >= n_copy) return;
        const int64_t t = c / kv_dim, i = c % kv_dim, dst = (int64_t)slots[t] * kv_dim + i;
        rf_kv_put(vc, dst, v[c]);
        if (i % head_dim >= p.n_rot) rf_kv_put(kc, dst, x2[c]);
        return;
    }
    const int n_pairs = p.n_rot / 2;
    const int i = (int)(gid % n_pairs);
    const int64_t th = gid / n_pairs; /* token * (n_head + n_head2) + head */
    const int nh = n_head + n_head2;
    const int64_t t = th / nh;
    const int h = (int)(th % nh);
    /* theta = pos * theta_scale^i by repeated multiplication, as ggml; the
     * scale comes from the host's powf so its bits equal the CPU's (a 1-ulp
     * difference, compounded over 64 steps, moves high-position angles by
     * ~1e-3 rad) */
    float theta = (float)pos[t];
    for (int k = 0; k < i; k++) theta *= p.theta_scale;
    const float ff = p.freq_factors ? p.freq_factors[i] : 1.0f;
    const float theta_extrap = theta / ff;
    const float theta_interp = p.freq_scale * theta_extrap;
    float ang = theta_interp, mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
        const float y = ((float)i - p.corr0) / fmaxf(0.001f, p.corr1 - p.corr0);
        const float mix = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * p.ext_factor;
        ang = theta_interp * (1 - mix) + theta_extrap * mix;
        mscale *= 1.0f + 0.1f * logf(1.0f / p.freq_scale);
    }
    const float c = cosf(ang) * mscale, s = sinf(ang) * mscale;
    float *vr = h < n_head ? x + (t * n_head + h) * head_dim : x2 + (t * n_head2 + (h - n_head)) * head_dim;
    const int a = p.style == RF_ROPE_NORM ? 2 * i : i;
    const int b = p.style == RF_ROPE_NORM ? 2 * i + 1 : i + n_pairs;
    const float x0 = vr[a], x1 = vr[b];
    const float ya = x0 * c - x1 * s, yb = x0 * s + x1 * c;
    vr[a] = ya;
    vr[b] = yb;
    if (kc && h >= n_head) {
        const int64_t base = (int64_t)slots[t] * kv_dim + (int64_t)(h - n_head) * head_dim;
        rf_kv_put(kc, base + a, ya);
        rf_kv_put(kc, base + b, yb);
    }
}

static rf_status rf_rope_check(const rf_rope_params *p, int head_dim, int n_head_q, int n_head_k, const float *d_k,
                               rf_error *err)
{
    if (p->n_rot <= 0 || p->n_rot % 2 || p->n_rot > head_dim)
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU rope: n_rot %d must be even and <= head_dim %d", p->n_rot, head_dim);
    if (n_head_q < 0 || n_head_k < 0 || (n_head_k > 0 && !d_k))
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU rope: bad head counts %d, %d", n_head_q, n_head_k);
    return RF_OK;
}

static rf_rope_dev rf_rope_dev_of(const rf_rope_params *p)
{
    rf_rope_dev d = {(int)p->style, p->n_rot, powf(p->freq_base, -2.0f / (float)p->n_rot), p->freq_base, p->freq_scale, p->ext_factor, p->attn_factor,
                     p->corr_dims[0], p->corr_dims[1], p->freq_factors};
    return d;
}

extern "C" rf_status rf_gpu_rope2_kv(rf_gpu *g, float *d_q, int n_head_q, float *d_k, int n_head_k, int64_t n_tok,
                                     int head_dim, const int32_t *d_pos, const rf_rope_params *p, void *d_k_pool,
                                     void *d_v_pool, const float *d_v, const int32_t *d_slots, rf_type kv_type,
                                     rf_error *err)
{
    rf_status st = rf_rope_check(p, head_dim, n_head_q, n_head_k, d_k, err);
    if (st != RF_OK) return st;
    if (kv_type != RF_TYPE_F16 && kv_type != RF_TYPE_F32)
        return rf_err(err, RF_ERR_UNSUPPORTED, "GPU kv_write: KV cache type %s (F16 or F32 only)", rf_type_name(kv_type));
    const int64_t pairs = n_tok * (int64_t)(n_head_q + n_head_k) * (int64_t)(p->n_rot / 2);
    const int64_t copy = n_tok * (int64_t)n_head_k * head_dim;
    if (pairs + copy <= 0) return RF_OK;
    const rf_rope_dev d = rf_rope_dev_of(p);
    const dim3 grid(rf_gpu_blocks(pairs + copy, OPS_THREADS));
    if (kv_type == RF_TYPE_F16)
        rf_launch(g->pdl, rf_k_rope<__half>, grid, dim3(OPS_THREADS), 0, g->stream, d_q, n_head_q, d_k, n_head_k, d_pos,
                  pairs, head_dim, d, (__half *)d_k_pool, (__half *)d_v_pool, d_v, d_slots, copy);
    else
        rf_launch(g->pdl, rf_k_rope<float>, grid, dim3(OPS_THREADS), 0, g->stream, d_q, n_head_q, d_k, n_head_k, d_pos,
                  pairs, head_dim, d, (float *)d_k_pool, (float *)d_v_pool, d_v, d_slots, copy);
    GPU_LAUNCHED("rope_kv");
    return RF_OK;
}

extern "C" rf_status rf_gpu_rope2(rf_gpu *g, float *d_q, int n_head_q, float *d_k, int n_head_k, int64_t n_tok,
                                  int head_dim, const int32_t *d_pos, const rf_rope_params *p, rf_error *err)
{
    rf_status st = rf_rope_check(p, head_dim, n_head_q, n_head_k, d_k, err);
    if (st != RF_OK) return st;
    const int64_t total = n_tok * (int64_t)(n_head_q + n_head_k) * (int64_t)(p->n_rot / 2);
    if (total <= 0) return RF_OK;
    const rf_rope_dev d = rf_rope_dev_of(p);
    rf_launch(g->pdl, rf_k_rope<float>, dim3(rf_gpu_blocks(total, OPS_THREADS)), dim3(OPS_THREADS), 0, g->stream, d_q,
              n_head_q, d_k, n_head_k, d_pos, total, head_dim, d, (float *)NULL, (float *)NULL, (const float *)NULL,
              (const int32_t *)NULL, (int64_t)0);
    GPU_LAUNCHED("rope");
    return RF_OK;
}

extern "C" rf_status rf_gpu_rope(rf_gpu *g, float *d_x, int64_t n_tok, int n_head, int head_dim,
                                 const int32_t *d_pos, const rf_rope_params *p, rf_error *err)
{
    return rf_gpu_rope2(g, d_x, n_head, NULL, 0, n_tok, head_dim, d_pos, p, err);
}

/* ----------------------------------------------------- glu, add, softcap */
/* With xq, the output is also rounded to 8 bits for the down projection
 * (n a multiple of 32: a warp's threads cover whole 32-groups). */
static __global__ void rf_k_glu(int act, const float *__restrict__ gate, const float *__restrict__ up,
                                int64_t n_tok, int64_t n, int64_t stride, float *__restrict__ out,
                                int8_t *xq, float *xd)
{
    RF_PDL_WAIT();
    RF_PDL_LAUNCH_NEXT();
    const int64_t gid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (gid >= n_tok * n) return;
    const int64_t t = gid / n, i = gid % n;
    const float gv = gate[t * stride + i], uv = up[t * stride + i];
    float a;
    if (act == RF_ACT_SILU) {
        a = gv / (1.0f + expf(-gv));
    } else {
        const float k = 0.7978845608028654f; /* sqrt(2/pi) */
        a = 0.5f * gv * (1.0f + tanhf(k * gv * (1.0f + 0.044715f * gv * gv)));
    }
    out[gid] = a * uv;
    if (xq) rf_q8_put(a * uv, gid, xq, xd);
}

extern "C" rf_status rf_gpu_glu(rf_gpu *g, rf_act act, const float *d_gate, const float *d_up, int64_t n_tok,
                                int64_t n, int64_t stride, float *d_out, rf_error *err)
{
    if (n_tok * n <= 0) return RF_OK;
    const bool q8 = rf_gpu_q8_fusable(g, n_tok * n, n);
    rf_launch(g->pdl, rf_k_glu, dim3(rf_gpu_blocks(n_tok * n, OPS_THREADS)), dim3(OPS_THREADS), 0, g->stream, 
        (int)act, d_gate, d_up, n_tok, n, stride, d_out, q8 ? g->d_xq : NULL, q8 ? g->d_xd : NULL);
    if (q8) GPU_LAUNCHED_Q8("glu", d_out, n_tok * n);
    else GPU_LAUNCHED("glu");
    return RF_OK;
}

static __global__ void rf_k_add(const float *a, const float *b, float *y, int64_t n)
{
    RF_PDL_WAIT();
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a[i] + b[i];
}

extern "C" rf_status rf_gpu_add(rf_gpu *g, const float *d_a, const float *d_b, float *d_y, int64_t n, rf_error *err)
{
    if (n <= 0) return RF_OK;
    rf_launch(g->pdl, rf_k_add, dim3(rf_gpu_blocks(n, OPS_THREADS)), dim3(OPS_THREADS), 0, g->stream, d_a, d_b, d_y, n);
    GPU_LAUNCHED("add");
    return RF_OK;
}

static __global__ void rf_k_add_bias(float *x, const float *__restrict__ b, int64_t n_tok, int64_t n)
{
    RF_PDL_WAIT();
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n_tok * n) x[i] += b[i % n];
}

extern "C" rf_status rf_gpu_add_bias(rf_gpu *g, float *d_x, const float *d_b, int64_t n_tok, int64_t n, rf_error *err)
{
    if (n_tok * n <= 0) return RF_OK;
    rf_launch(g->pdl, rf_k_add_bias, dim3(rf_gpu_blocks(n_tok * n, OPS_THREADS)), dim3(OPS_THREADS), 0, g->stream, d_x, d_b, n_tok, n);
    GPU_LAUNCHED("add_bias");
    return RF_OK;
}

static __global__ void rf_k_softcap(float *x, int64_t n, float cap)
{
    RF_PDL_WAIT();
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = cap * tanhf(x[i] / cap);
}

extern "C" rf_status rf_gpu_softcap(rf_gpu *g, float *d_x, int64_t n, float cap, rf_error *err)
{
    if (n <= 0) return RF_OK;
    if (!(cap > 0.0f)) return rf_err(err, RF_ERR_INVALID_ARG, "GPU softcap: cap %g must be > 0", cap);
    rf_launch(g->pdl, rf_k_softcap, dim3(rf_gpu_blocks(n, OPS_THREADS)), dim3(OPS_THREADS), 0, g->stream, d_x, n, cap);
    GPU_LAUNCHED("softcap");
    return RF_OK;
}

static __global__ void rf_k_gather(const float *__restrict__ x, const int32_t *__restrict__ idx, int64_t n_rows,
                                   int64_t n, float *__restrict__ out)
{
    RF_PDL_WAIT();
    const int64_t gid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (gid >= n_rows * n) return;
    const int64_t r = gid / n, i = gid % n;
    out[gid] = x[(int64_t)idx[r] * n + i];
}

extern "C" rf_status rf_gpu_gather(rf_gpu *g, const float *d_x, const int32_t *d_idx, int64_t n_rows, int64_t n,
                                   float *d_out, rf_error *err)
{
    if (n_rows * n <= 0) return RF_OK;
    rf_launch(g->pdl, rf_k_gather, dim3(rf_gpu_blocks(n_rows * n, OPS_THREADS)), dim3(OPS_THREADS), 0, g->stream, d_x, d_idx, n_rows, n, d_out);
    GPU_LAUNCHED("gather");
    return RF_OK;
}

/* ------------------------------------------------------------ kv_write */
static __global__ void rf_k_kv_write(__half *kp, __half *vp, const float *__restrict__ k,
                                     const float *__restrict__ v, const int32_t *__restrict__ slots,
                                     int64_t n_tok, int kv_dim)
{
    RF_PDL_WAIT();
    const int64_t gid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (gid >= n_tok * kv_dim) return;
    const int64_t t = gid / kv_dim, i = gid % kv_dim;
    const int64_t dst = (int64_t)slots[t] * kv_dim + i;
    kp[dst] = __float2half_rn(k[gid]);
    vp[dst] = __float2half_rn(v[gid]);
}

static __global__ void rf_k_kv_write_f32(float *kp, float *vp, const float *__restrict__ k,
                                         const float *__restrict__ v, const int32_t *__restrict__ slots,
                                         int64_t n_tok, int kv_dim)
{
    RF_PDL_WAIT();
    const int64_t gid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (gid >= n_tok * kv_dim) return;
    const int64_t t = gid / kv_dim, i = gid % kv_dim;
    const int64_t dst = (int64_t)slots[t] * kv_dim + i;
    kp[dst] = k[gid];
    vp[dst] = v[gid];
}

extern "C" rf_status rf_gpu_kv_write_typed(rf_gpu *g, void *d_k_pool, void *d_v_pool, const float *d_k,
                                           const float *d_v, const int32_t *d_slots, int64_t n_tok, int kv_dim,
                                           rf_type kv_type, rf_error *err)
{
    if (n_tok * kv_dim <= 0) return RF_OK;
    if (kv_type == RF_TYPE_F16) {
        rf_launch(g->pdl, rf_k_kv_write, dim3(rf_gpu_blocks(n_tok * kv_dim, OPS_THREADS)), dim3(OPS_THREADS), 0, g->stream, 
            (__half *)d_k_pool, (__half *)d_v_pool, d_k, d_v, d_slots, n_tok, kv_dim);
    } else if (kv_type == RF_TYPE_F32) {
        rf_launch(g->pdl, rf_k_kv_write_f32, dim3(rf_gpu_blocks(n_tok * kv_dim, OPS_THREADS)), dim3(OPS_THREADS), 0, g->stream, 
            (float *)d_k_pool, (float *)d_v_pool, d_k, d_v, d_slots, n_tok, kv_dim);
    } else {
        return rf_err(err, RF_ERR_UNSUPPORTED, "GPU kv_write: KV cache type %s (F16 or F32 only)", rf_type_name(kv_type));
    }
    GPU_LAUNCHED("kv_write");
    return RF_OK;
}

extern "C" rf_status rf_gpu_kv_write(rf_gpu *g, void *d_k_pool, void *d_v_pool, const float *d_k, const float *d_v,
                                     const int32_t *d_slots, int64_t n_tok, int kv_dim, rf_error *err)
{
    return rf_gpu_kv_write_typed(g, d_k_pool, d_v_pool, d_k, d_v, d_slots, n_tok, kv_dim, RF_TYPE_F16, err);
}
