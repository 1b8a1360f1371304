/* gpu_matmul.cu — products of GGUF-typed weights with F32 activations, and
 * embedding-row lookups.
 *
 * Two paths (gpu.h):
 *   - vec (decode, up to a few tokens): one warp per weight row; lanes take
 *     consecutive 32-element chunks (gpu_quant.cuh), decode them into
 *     registers once and multiply them with every token's activations
 *     (NT tokens per pass), so W is read once per pass. Each output's
 *     reduction order (lane partial sums, then the warp tree) depends only
 *     on n_cols, not on how many tokens share the pass.
 *   - integer tiles (many sequences' steps, batch invariant): the decode
 *     lanes' bits from the 8-bit matrix units (rf_k_matmul_lg, or
 *     rf_k_matmul_int where a device refuses the former's shared memory);
 *   - F16 GEMM (prompts where batch invariance is not asked for): each
 *     weight decoded to F16 once per call, then a pipelined tiled GEMM on
 *     the matrix units (rf_k_gemm_f16).
 */
#include "gpu_impl.cuh"
#include "gpu_mma.cuh"
#include "gpu_quant.cuh"

#define MV_THREADS 256
/* Few tokens: the vec path reads W once per 8 tokens at full bandwidth; from
 * a dozen tokens on, the GEMM's reuse of W wins. */
#define RF_GPU_MMA_MIN_TOK 12

/* Whether a product / attention of n_tok tokens takes the matrix units.
 * By token role (rf_gpu_set_path, what the engine's batch-invariant
 * contexts use): prompt tokens always, generated tokens never, so a token's
 * bits depend on its role alone. By count (RF_GPU_PATH_AUTO): from
 * RF_GPU_MMA_MIN_TOK tokens in contexts that are not deterministic
 * (rf_gpu_set_mma; RF_GPU_MMA=1 everywhere), where a token's result then
 * depends on whether its batch reached the GEMM. The F16 operands move
 * logits ~1e-3 from the reference; with the matrix-unit attention they are
 * 5x faster for 512-token prompts (H200, 8B Q4_K_M). */
bool rf_gpu_mma_for(const rf_gpu *g, int64_t n_tok)
{
    static int use_mma = -1;
    if (use_mma < 0) {
        const char *e = getenv("RF_GPU_MMA");
        use_mma = e && e[0] == '1';
    }
    if (g->path == RF_GPU_PATH_PROMPT) return n_tok > 0;
    if (g->path == RF_GPU_PATH_STEP) return false;
    return (use_mma || g->allow_mma) && n_tok >= RF_GPU_MMA_MIN_TOK;
}
#define MV_MAX_NT 8

template <int T, int NT>
static __global__ __launch_bounds__(MV_THREADS) void rf_k_matvec(
    const uint8_t *__restrict__ w, int64_t n_rows, int64_t n_cols, size_t row_stride,
    const float *__restrict__ x, float *__restrict__ y, int64_t y_stride, int64_t n_chunks,
    int64_t tail_start)
{
    typedef rf_q<T> Q;
    const int64_t r = (int64_t)blockIdx.x * rf_warps_per_block() + rf_warp_id();
    if (r >= n_rows) return; /* the whole warp leaves together */
    const uint8_t *row = w + r * row_stride;
    const int lane = rf_lane();
    if ((size_t)lane * 16 < row_stride) RF_PREFETCH_L2(row + lane * 16); /* vendor.h */
    RF_PDL_WAIT();
    const int cpb = Q::QK / 32;
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = 0.f;

    /* lane = 4 * chunk slot + slice: a warp covers RF_WARP/4 consecutive
     * chunks per step, each load instruction a contiguous run */
    const int sl = lane % 4;
#pragma unroll 4
    for (int64_t c = lane / 4; c < n_chunks; c += RF_WARP / 4) {
        float wv[8];
        rf_slice<T>::get(row + (c / cpb) * Q::BYTES, (int)(c % cpb), sl, wv);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const float4 *xp = (const float4 *)(x + t * n_cols + c * 32 + sl * 8);
            const float4 a = xp[0], b = xp[1];
            acc[t] += wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w +
                      wv[4] * b.x + wv[5] * b.y + wv[6] * b.z + wv[7] * b.w;
        }
    }
    if (T == RF_TYPE_F32 || T == RF_TYPE_F16 || T == RF_TYPE_BF16) {
        for (int64_t i = tail_start + lane; i < n_cols; i += RF_WARP) {
            const float wi = rf_plain_get(T, row, i);
#pragma unroll
            for (int t = 0; t < NT; t++) acc[t] += wi * x[t * n_cols + i];
        }
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        const float s = rf_warp_sum(acc[t]);
        if (lane == 0) y[t * y_stride + r] = s;
    }
}

/* Up to three weights of one type and width multiplied with the same
 * input in one launch (q, k, v; gate, up): the grid runs over their rows
 * end to end, and each row is computed exactly as a launch of its own
 * weight would compute it. */
#define RF_MV_SET 3
struct rf_mv_set {
    const uint8_t *w[RF_MV_SET];
    float *y[RF_MV_SET];
    size_t stride[RF_MV_SET];
    int64_t end[RF_MV_SET];   /* cumulative row counts */
    int n;
};

/* Row r of the set: its bytes, its output column and its weight's rows
 * (constant indices only: kernel parameters stay out of local memory). */
RF_DEV bool rf_mv_pick(const rf_mv_set &s, int64_t r, const uint8_t **row, float **y, int64_t *lr, int64_t *rows)
{
    if (r < s.end[0]) {
        *lr = r; *row = s.w[0] + r * s.stride[0]; *y = s.y[0]; *rows = s.end[0];
    } else if (s.n > 1 && r < s.end[1]) {
        *lr = r - s.end[0]; *row = s.w[1] + *lr * s.stride[1]; *y = s.y[1]; *rows = s.end[1] - s.end[0];
    } else if (s.n > 2 && r < s.end[2]) {
        *lr = r - s.end[1]; *row = s.w[2] + *lr * s.stride[2]; *y = s.y[2]; *rows = s.end[2] - s.end[1];
    } else {
        return false;
    }
    return true;
}

/* ------------------------------------------------- integer decode path */
/* x (n elements, rows of a multiple of 32) -> 8-bit quants + one scale per
 * 32, exactly as ggml's quantize_row_q8_0: d = max|x| / 127, q =
 * roundf(x * (1/d)), d kept as F16. With the same rounding as llama.cpp's
 * CPU, products with Q8_0 weights agree with it to float summation order.
 * Groups of 32 lanes own a chunk. */
static __global__ void rf_k_quant_q8(const float *__restrict__ x, int64_t n, int8_t *__restrict__ xq,
                                     float *__restrict__ xd)
{
    RF_PDL_WAIT();
    RF_PDL_LAUNCH_NEXT();
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return; /* n and blockDim are multiples of 32: whole groups leave */
    rf_q8_put(x[i], i, xq, xd);
}

/* x -> F16 (round to nearest even, as the tiles' own conversion), 4 per thread */
static __global__ void rf_k_to_f16(const float *__restrict__ x, int64_t n4, __half *__restrict__ xh)
{
    RF_PDL_WAIT();
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n4) return;
    const float4 v = ((const float4 *)x)[i];
    __half2 *o = (__half2 *)(xh + 4 * i);
    o[0] = __floats2half2_rn(v.x, v.y);
    o[1] = __floats2half2_rn(v.z, v.w);
}

/* K-quants unrolled by 2, not 4: at 4 they took 48 registers and the
 * occupancy fell to 53% (measured, Q4_K latency-bound); capping registers
 * instead spilled. Q4_0 / Q8_0 fit 32 registers at 4. */
template <int T, int NT>
static __global__ __launch_bounds__(MV_THREADS) void rf_k_matvec_q8(
    const rf_mv_set set, int64_t n_cols, const int8_t *__restrict__ xq, const float *__restrict__ xd)
{
    constexpr int RF_MV_UNROLL = (T == RF_TYPE_Q4_K || T == RF_TYPE_Q5_K || T == RF_TYPE_Q6_K) ? 2 : 4;
    typedef rf_q<T> Q;
    const uint8_t *row;
    float *y;
    int64_t r, y_stride;
    if (!rf_mv_pick(set, (int64_t)blockIdx.x * rf_warps_per_block() + rf_warp_id(), &row, &y, &r, &y_stride))
        return; /* the whole warp leaves together */
    const int lane = rf_lane(), sl = lane % 4;
    if (lane * 16 < n_cols / Q::QK * Q::BYTES) RF_PREFETCH_L2(row + lane * 16); /* vendor.h */
    RF_PDL_WAIT();
    const int cpb = Q::QK / 32;
    const int64_t n_chunks = n_cols / 32;
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = 0.f;
#pragma unroll RF_MV_UNROLL
    for (int64_t c = lane / 4; c < n_chunks; c += RF_WARP / 4) {
        uint32_t qa, qb;
        float dl, ml;
        rf_dot8<T>::get(row + (c / cpb) * Q::BYTES, (int)(c % cpb), sl, &qa, &qb, &dl, &ml);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const uint2 xv = *(const uint2 *)(xq + t * n_cols + c * 32 + sl * 8);
            const int dot = rf_dp4a((int)qb, (int)xv.y, rf_dp4a((int)qa, (int)xv.x, 0));
            const int sx = rf_dp4a(0x01010101, (int)xv.y, rf_dp4a(0x01010101, (int)xv.x, 0));
            const float dx = xd[t * (n_cols / 32) + c];
            if (T == RF_TYPE_Q8_0) acc[t] += (float)dot * (dl * dx); /* ggml's order for Q8_0 x Q8_0 */
            else acc[t] += dx * (dl * (float)dot - ml * (float)sx);
        }
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        const float s = rf_warp_sum(acc[t]);
        if (lane == 0) y[t * y_stride + r] = s;
    }
}

/* K-quant decode with wide lanes (Q4_K, Q6_K). The kernel above gives a
 * lane 8 weights per step (one 8-byte load, most of it shared with another
 * lane's plane), which left the products latency-bound at ~35% of the copy
 * rate: too few bytes in flight per warp. Here a lane owns a 16-byte run of
 * quants of one superblock per step, i.e. 32 (Q4_K: both nibble planes) or
 * 64 (Q6_K: both planes of ql and their qh bits) weights, and the warp
 * covers 4 (Q4_K) or 8 (Q6_K) superblocks per step. Products are exact
 * integers per 16-weight run (the Q6_K offset -32 is applied in integers);
 * each output's reduction order depends only on n_cols. */
#define RF_M4 0x0F0F0F0Fu
#define RF_ONES 0x01010101

/* 16 bytes from a 2-byte aligned address (blocks of 18 or 34 bytes)
 * as four words: aligned loads and a funnel shift. The fifth word is read
 * only when the run is not 4-byte aligned, so no byte past the run's last
 * aligned word is touched. */
RF_DEV void rf_ld16_a2(const uint8_t *p, uint32_t w[4])
{
    const uint32_t *a = (const uint32_t *)((uintptr_t)p & ~(uintptr_t)3);
    const int sh = 8 * (int)((uintptr_t)p & 3);
    uint32_t v[5];
#pragma unroll
    for (int i = 0; i < 4; i++) v[i] = a[i];
    v[4] = sh ? a[4] : 0u;
#pragma unroll
    for (int i = 0; i < 4; i++) w[i] = (uint32_t)((((uint64_t)v[i + 1] << 32) | v[i]) >> sh);
}

/* The float formula of one lane's item, shared by the decode lanes and the
 * integer tiles (rf_k_matmul_int) so both compile to the same roundings. */
/* Each takes its integer dots and sums as floats (exact conversions: the
 * tiles convert the run sums once per token and block, the decode lanes
 * each time). */
RF_DEV float rf_f_q4k_f(float acc, float dx0, float dx1, float dl0, float ml0, float dl1, float ml1, float p0,
                        float s0, float p1, float s1)
{
    return acc + (dx0 * (dl0 * p0 - ml0 * s0) + dx1 * (dl1 * p1 - ml1 * s1));
}
/* Q6_K: one 16-weight run, p already minus 32 x its activation sum */
RF_DEV float rf_f_q6k(float s, float dx, float dk, float p) { return s + dx * (dk * p); }
/* a 32-weight block with one scale (Q4_0, IQ4_NL, Q8_0: ggml's order) */
RF_DEV float rf_f_blk(float acc, float p, float d, float dx) { return acc + p * (d * dx); }
RF_DEV float rf_f_xs(float acc, float dx, float dl, float p) { return acc + dx * (dl * p); }
RF_DEV void rf_q4k_scales(const uint8_t *b, int g, float *dl0, float *ml0, float *dl1, float *ml1)
{
    const uint32_t dm = *(const uint32_t *)b;
    int sc0, mn0, sc1, mn1;
    rf_scale_min_k4(2 * g, b + 4, &sc0, &mn0);
    rf_scale_min_k4(2 * g + 1, b + 4, &sc1, &mn1);
    const float d = rf_h2f((uint16_t)(dm & 0xffff)), dmin = rf_h2f((uint16_t)(dm >> 16));
    *dl0 = d * sc0; *ml0 = dmin * mn0; *dl1 = d * sc1; *ml1 = dmin * mn1;
}
RF_DEV float rf_iq4xs_scale(const uint8_t *b, int j)
{
    const uint2 hd = *(const uint2 *)b; /* d | scales_h | scales_l[4] */
    const float d = rf_h2f((uint16_t)(hd.x & 0xffff));
    const int sh = (int)(hd.x >> 16);
    const int ls = (int)((hd.y >> (8 * (j / 2) + 4 * (j % 2))) & 15) | (((sh >> (2 * j)) & 3) << 4);
    return d * (float)(ls - 32);
}

template <int T> struct rf_kq;

template <> struct rf_kq<RF_TYPE_Q4_K> {
    enum { LPB = 8, QK = 256, BYTES = 144 };
    /* lane j of the superblock: nibble bytes [32g + 16h, +16) with g = j/2,
     * h = j%2: elements 64g + 16h + i (low) and 64g + 32 + 16h + i (high) */
    template <int NT>
    RF_DEV void run(const uint8_t *b, int j, const int8_t *xq, const float *xd, int64_t n_cols, int64_t sb,
                    float *acc)
    {
        const int g = j >> 1, h = j & 1;
        const uint4 u = *(const uint4 *)(b + 16 + 32 * g + 16 * h);
        float dl0, ml0, dl1, ml1;
        rf_q4k_scales(b, g, &dl0, &ml0, &dl1, &ml1);
        const int lo0 = (int)(u.x & RF_M4), lo1 = (int)(u.y & RF_M4), lo2 = (int)(u.z & RF_M4), lo3 = (int)(u.w & RF_M4);
        const int hi0 = (int)((u.x >> 4) & RF_M4), hi1 = (int)((u.y >> 4) & RF_M4), hi2 = (int)((u.z >> 4) & RF_M4),
                  hi3 = (int)((u.w >> 4) & RF_M4);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int8_t *xt = xq + t * n_cols + sb * 256 + 64 * g + 16 * h;
            const int4 a = *(const int4 *)xt, c = *(const int4 *)(xt + 32);
            const int p0 = rf_dp4a(lo3, a.w, rf_dp4a(lo2, a.z, rf_dp4a(lo1, a.y, rf_dp4a(lo0, a.x, 0))));
            const int s0 = rf_dp4a(RF_ONES, a.w, rf_dp4a(RF_ONES, a.z, rf_dp4a(RF_ONES, a.y, rf_dp4a(RF_ONES, a.x, 0))));
            const int p1 = rf_dp4a(hi3, c.w, rf_dp4a(hi2, c.z, rf_dp4a(hi1, c.y, rf_dp4a(hi0, c.x, 0))));
            const int s1 = rf_dp4a(RF_ONES, c.w, rf_dp4a(RF_ONES, c.z, rf_dp4a(RF_ONES, c.y, rf_dp4a(RF_ONES, c.x, 0))));
            const float2 dx = *(const float2 *)(xd + t * (n_cols / 32) + sb * 8 + 2 * g);
            acc[t] = rf_f_q4k_f(acc[t], dx.x, dx.y, dl0, ml0, dl1, ml1, (float)p0, (float)s0, (float)p1, (float)s1);
        }
    }
};

template <> struct rf_kq<RF_TYPE_Q6_K> {
    enum { LPB = 4, QK = 256, BYTES = RF_GPU_Q6K_SLOT };
    /* lane j: half n = j/2 of the superblock, l in [16(j%2), +16): the
     * elements 128n + l + 32k (k = 0..3) built from ql[l], ql[l + 32] and
     * the 2-bit fields of qh[l] */
    template <int NT>
    RF_DEV void run(const uint8_t *b, int j, const int8_t *xq, const float *xd, int64_t n_cols, int64_t sb,
                    float *acc)
    {
        const int n = j >> 1, l = 16 * (j & 1);
        /* 224-byte slots: all three runs 16-byte aligned */
        const uint4 ua = *(const uint4 *)(b + 64 * n + l), ub = *(const uint4 *)(b + 64 * n + l + 32),
                    uh = *(const uint4 *)(b + 128 + 32 * n + l);
        const uint32_t qa[4] = {ua.x, ua.y, ua.z, ua.w}, qb[4] = {ub.x, ub.y, ub.z, ub.w},
                       qh[4] = {uh.x, uh.y, uh.z, uh.w};
        const int8_t *sc = (const int8_t *)(b + 192) + 8 * n + (j & 1);
        const float d = rf_h2f(rf_ld16(b + 208));
        const float dk[4] = {d * sc[0], d * sc[2], d * sc[4], d * sc[6]};
        int q[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            q[0][i] = (int)((qa[i] & RF_M4) | ((qh[i] & 0x03030303u) << 4));
            q[1][i] = (int)((qb[i] & RF_M4) | (((qh[i] >> 2) & 0x03030303u) << 4));
            q[2][i] = (int)(((qa[i] >> 4) & RF_M4) | (((qh[i] >> 4) & 0x03030303u) << 4));
            q[3][i] = (int)(((qb[i] >> 4) & RF_M4) | (((qh[i] >> 6) & 0x03030303u) << 4));
        }
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int8_t *xt = xq + t * n_cols + sb * 256 + 128 * n + l;
            const float4 dx = *(const float4 *)(xd + t * (n_cols / 32) + sb * 8 + 4 * n);
            const float dxk[4] = {dx.x, dx.y, dx.z, dx.w};
            float s = 0.f;
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const int4 a = *(const int4 *)(xt + 32 * k);
                const int p = rf_dp4a(q[k][3], a.w, rf_dp4a(q[k][2], a.z, rf_dp4a(q[k][1], a.y, rf_dp4a(q[k][0], a.x, 0))));
                const int sx = rf_dp4a(RF_ONES, a.w, rf_dp4a(RF_ONES, a.z, rf_dp4a(RF_ONES, a.y, rf_dp4a(RF_ONES, a.x, 0))));
                s = rf_f_q6k(s, dxk[k], dk[k], (float)(p - 32 * sx));
            }
            acc[t] += s;
        }
    }
};

/* Q4_0, IQ4_NL and Q8_0: a lane owns a whole 32-weight block (16 or 32
 * quant bytes), the warp 32 blocks per step. Q4_0's offset -8 is applied in
 * integers; IQ4_NL's levels come from its codebook (rf_lut_iq4, below);
 * Q8_0 multiplies in ggml's order. */
RF_DEV int rf_lut_iq4(uint32_t idx);
template <bool NL> struct rf_kq_nib32 {
    enum { LPB = 1, QK = 32, BYTES = 18 };
    template <int NT>
    RF_DEV void run(const uint8_t *b, int, const int8_t *xq, const float *xd, int64_t n_cols, int64_t blk,
                    float *acc)
    {
        uint32_t q[4];
        rf_ld16_a2(b + 2, q);
        const float d = rf_h2f(rf_ld16(b));
        int lo[4], hi[4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            lo[i] = NL ? rf_lut_iq4(q[i] & RF_M4) : (int)(q[i] & RF_M4);
            hi[i] = NL ? rf_lut_iq4((q[i] >> 4) & RF_M4) : (int)((q[i] >> 4) & RF_M4);
        }
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int8_t *xt = xq + t * n_cols + blk * 32;
            const int4 a = *(const int4 *)xt, c = *(const int4 *)(xt + 16);
            int p = rf_dp4a(lo[0], a.x, rf_dp4a(lo[1], a.y, rf_dp4a(lo[2], a.z, rf_dp4a(lo[3], a.w, 0))));
            p = rf_dp4a(hi[0], c.x, rf_dp4a(hi[1], c.y, rf_dp4a(hi[2], c.z, rf_dp4a(hi[3], c.w, p))));
            if (!NL) {
                int sx = rf_dp4a(RF_ONES, a.x, rf_dp4a(RF_ONES, a.y, rf_dp4a(RF_ONES, a.z, rf_dp4a(RF_ONES, a.w, 0))));
                sx = rf_dp4a(RF_ONES, c.x, rf_dp4a(RF_ONES, c.y, rf_dp4a(RF_ONES, c.z, rf_dp4a(RF_ONES, c.w, sx))));
                p -= 8 * sx;
            }
            acc[t] = rf_f_blk(acc[t], (float)p, d, xd[t * (n_cols / 32) + blk]);
        }
    }
};
template <> struct rf_kq<RF_TYPE_Q4_0> : rf_kq_nib32<false> {};
template <> struct rf_kq<RF_TYPE_IQ4_NL> : rf_kq_nib32<true> {};

template <> struct rf_kq<RF_TYPE_Q8_0> {
    enum { LPB = 1, QK = 32, BYTES = 34 };
    template <int NT>
    RF_DEV void run(const uint8_t *b, int, const int8_t *xq, const float *xd, int64_t n_cols, int64_t blk,
                    float *acc)
    {
        uint32_t q[8];
        rf_ld16_a2(b + 2, q);
        rf_ld16_a2(b + 18, q + 4);
        const float d = rf_h2f(rf_ld16(b));
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int8_t *xt = xq + t * n_cols + blk * 32;
            const int4 a = *(const int4 *)xt, c = *(const int4 *)(xt + 16);
            int p = rf_dp4a((int)q[0], a.x, rf_dp4a((int)q[1], a.y, rf_dp4a((int)q[2], a.z, rf_dp4a((int)q[3], a.w, 0))));
            p = rf_dp4a((int)q[4], c.x, rf_dp4a((int)q[5], c.y, rf_dp4a((int)q[6], c.z, rf_dp4a((int)q[7], c.w, p))));
            acc[t] = rf_f_blk(acc[t], (float)p, d, xd[t * (n_cols / 32) + blk]);
        }
    }
};

/* The non-linear 4-bit types: 16-entry codebook (ggml's kvalues_iq4nl)
 * looked up in registers, four nibbles at a time: two byte permutes pick
 * among entries 0-7 and 8-15, bit 3 of each index chooses. */
#define RF_PACK4(a, b, c, d) ((uint32_t)(uint8_t)(int8_t)(a) | ((uint32_t)(uint8_t)(int8_t)(b) << 8) | \
                              ((uint32_t)(uint8_t)(int8_t)(c) << 16) | ((uint32_t)(uint8_t)(int8_t)(d) << 24))
RF_DEV int rf_lut_iq4(uint32_t idx)
{
    const uint32_t t0 = RF_PACK4(-127, -104, -83, -65), t1 = RF_PACK4(-49, -35, -22, -10);
    const uint32_t t2 = RF_PACK4(1, 13, 25, 38), t3 = RF_PACK4(53, 69, 89, 113);
    const uint32_t q = idx & 0x07070707u;
    const uint32_t sel = (q & 0x7u) | ((q >> 4) & 0x70u) | ((q >> 8) & 0x700u) | ((q >> 12) & 0x7000u);
    const uint32_t lo = __byte_perm(t0, t1, sel), hi = __byte_perm(t2, t3, sel);
    const uint32_t m = ((idx >> 3) & 0x01010101u) * 0xFFu;
    return (int)((lo & ~m) | (hi & m));
}

/* IQ4_XS: d | scales_h (u16) | scales_l[4] | qs[128]; lane j of the
 * superblock owns sub-block j (16 quant bytes, 32 weights, a 6-bit scale). */
template <> struct rf_kq<RF_TYPE_IQ4_XS> {
    enum { LPB = 8, QK = 256, BYTES = 136 };
    template <int NT>
    RF_DEV void run(const uint8_t *b, int j, const int8_t *xq, const float *xd, int64_t n_cols, int64_t sb,
                    float *acc)
    {
        const uint2 u0 = *(const uint2 *)(b + 8 + 16 * j), u1 = *(const uint2 *)(b + 16 + 16 * j);
        const uint32_t q[4] = {u0.x, u0.y, u1.x, u1.y};
        const float dl = rf_iq4xs_scale(b, j);
        int lo[4], hi[4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            lo[i] = rf_lut_iq4(q[i] & RF_M4);
            hi[i] = rf_lut_iq4((q[i] >> 4) & RF_M4);
        }
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const int8_t *xt = xq + t * n_cols + sb * 256 + 32 * j;
            const int4 a = *(const int4 *)xt, c = *(const int4 *)(xt + 16);
            int p = rf_dp4a(lo[0], a.x, rf_dp4a(lo[1], a.y, rf_dp4a(lo[2], a.z, rf_dp4a(lo[3], a.w, 0))));
            p = rf_dp4a(hi[0], c.x, rf_dp4a(hi[1], c.y, rf_dp4a(hi[2], c.z, rf_dp4a(hi[3], c.w, p))));
            acc[t] = rf_f_xs(acc[t], xd[t * (n_cols / 32) + sb * 8 + j], dl, (float)p);
        }
    }
};

/* One row's decode product by one warp (the wide lanes). */
template <int T, int NT>
RF_DEV void rf_matvec_kq_row(const uint8_t *row, float *y, int64_t r, int64_t y_stride, int64_t n_cols,
                             const int8_t *__restrict__ xq, const float *__restrict__ xd)
{
    typedef rf_kq<T> K;
    const int lane = rf_lane(), j = lane % K::LPB;
    if (lane * 16 < n_cols / K::QK * K::BYTES) RF_PREFETCH_L2(row + lane * 16); /* vendor.h */
    RF_PDL_WAIT();
    const int64_t n_blk = n_cols / K::QK;
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = 0.f;
#pragma unroll 2
    for (int64_t blk = lane / K::LPB; blk < n_blk; blk += RF_WARP / K::LPB)
        K::template run<NT>(row + blk * K::BYTES, j, xq, xd, n_cols, blk, acc);
#pragma unroll
    for (int t = 0; t < NT; t++) {
        const float s = rf_warp_sum(acc[t]);
        if (lane == 0) y[t * y_stride + r] = s;
    }
}

template <int T, int NT>
static __global__ __launch_bounds__(MV_THREADS) void rf_k_matvec_kq(
    const rf_mv_set set, int64_t n_cols, const int8_t *__restrict__ xq, const float *__restrict__ xd)
{
    const uint8_t *row;
    float *y;
    int64_t r, y_stride;
    if (rf_mv_pick(set, (int64_t)blockIdx.x * rf_warps_per_block() + rf_warp_id(), &row, &y, &r, &y_stride))
        rf_matvec_kq_row<T, NT>(row, y, r, y_stride, n_cols, xq, xd);
}

/* The same over a set whose last weight has type T2, the others T1 (q, k
 * in Q4_K and v in Q6_K, as Q4_K_M files have them in half the layers):
 * one launch instead of two, each row computed as above. */
template <int T1, int T2, int NT>
static __global__ __launch_bounds__(MV_THREADS) void rf_k_matvec_kq2(
    const rf_mv_set set, int64_t n_cols, const int8_t *__restrict__ xq, const float *__restrict__ xd)
{
    const uint8_t *row;
    float *y;
    int64_t r, y_stride;
    const int64_t gr = (int64_t)blockIdx.x * rf_warps_per_block() + rf_warp_id();
    if (!rf_mv_pick(set, gr, &row, &y, &r, &y_stride)) return;
    /* constant indices only (a run-time one puts the parameters in local memory) */
    const int64_t split = set.n == 3 ? set.end[1] : set.end[0];
    if (gr < split) rf_matvec_kq_row<T1, NT>(row, y, r, y_stride, n_cols, xq, xd);
    else rf_matvec_kq_row<T2, NT>(row, y, r, y_stride, n_cols, xq, xd);
}

/* ------------------------------------------------ integer tiles (older) */
/* Products of many tokens on the integer matrix units with the decode
 * lanes' bits, where the lane-group tiles below are refused.
 *
 * A decode warp (rf_k_matvec_kq) gives output (row, token) as: lane L sums
 * its items -- blocks L / LPB, L / LPB + RF_WARP / LPB, ... at sub-block
 * j = L % LPB -- each through its type's float formula over exact integer
 * dots of 16-weight runs, then rf_warp_sum adds the lanes' sums in a fixed
 * tree (lanes L and L ^ RF_WARP/2 first, ... L ^ 1 last). The tile below
 * forms the same integer dots with rf_imma_run (16 rows x 16 tokens per
 * product), applies the same formula (the rf_f_* helpers) to each item in
 * the same order, and walks the lanes in bit-reversed order so that the
 * tree becomes a binary counter: the partial sum of the lanes walked so
 * far waits in stk at the level of the lowest clear bit of s. So a token's
 * outputs are the same bits whether its batch ran here or through the
 * decode kernels, and batch invariance costs nothing. Offsets (Q4_0's -8,
 * Q6_K's -32) are folded into the 8-bit weights; Q4_K's activation run sums
 * are formed once per token when its activations are staged. A block
 * stages a few items of one lane (64 rows' weights and scales, 64 tokens'
 * activations) in shared memory per barrier; a warp covers UM x 16 rows by
 * 16 tokens. */
#define RF_IT_THREADS 256
/* 16-row units per warp: 1 for Q4_K / Q6_K, 2 for the others (H200 pp512,
 * UM 1 vs 2: 8B Q4_K_M 2133 vs 2052, 1B Q4_K_M 11057 vs 9787, 8B Q8_0
 * 1821 vs 2004) */
#define RF_IT_UM(T) ((T) == RF_TYPE_Q4_K || (T) == RF_TYPE_Q6_K ? 1 : 2)
#define RF_LOG2W (RF_WARP == 64 ? 6 : 5)

RF_DEV uint32_t rf_ld32_a2(const uint8_t *p)
{
    return (uint32_t)*(const uint16_t *)p | ((uint32_t)*(const uint16_t *)(p + 2) << 16);
}
/* bytes 0..15 -> signed v - 8; bytes 0..63 -> v - 32 (sign-extend after flipping the top bit) */
RF_DEV uint32_t rf_sx4m8(uint32_t v)
{
    const uint32_t t = v ^ 0x08080808u;
    return t | ((t & 0x08080808u) * 0x1Eu);
}
RF_DEV uint32_t rf_sx6m32(uint32_t v)
{
    const uint32_t t = v ^ 0x20202020u;
    return t | ((t & 0x20202020u) * 0x6u);
}

/* Tile traits: NR runs of 16 weights per item (run r at element xoff(j, r)
 * of the block), summed into NP integer dots; words() gives the 8-bit
 * weights k = 4kq..4kq+3 of every run; SX: the formula needs each run's
 * activation sum. */
template <int T> struct rf_kt;
template <> struct rf_kt<RF_TYPE_Q4_K> {
    enum { LPB = 8, QK = 256, BYTES = 144, NR = 2, NP = 2, SX = 1 };
    struct S { float dl0, ml0, dl1, ml1; };
    RF_DEV int xoff(int j, int r) { return 64 * (j >> 1) + 16 * (j & 1) + 32 * r; }
    RF_DEV int pidx(int r) { return r; }
    RF_DEV void words(const uint8_t *b, int j, int kq, uint32_t a[NR])
    {
        const uint32_t w = *(const uint32_t *)(b + 16 + 32 * (j >> 1) + 16 * (j & 1) + 4 * kq);
        a[0] = w & RF_M4;
        a[1] = (w >> 4) & RF_M4;
    }
    RF_DEV S scales(const uint8_t *b, int j)
    {
        S s;
        rf_q4k_scales(b, j >> 1, &s.dl0, &s.ml0, &s.dl1, &s.ml1);
        return s;
    }
    enum { NDX = 2 };
    RF_DEV int64_t dxoff(int64_t blk, int j) { return blk * 8 + 2 * (j >> 1); }
    /* PT, SXT: the dots and run sums as int or already as float (the same values) */
    template <typename PT, typename SXT>
    RF_DEV float item(float acc, const S &s, const float *dx, const PT *p, const SXT *sx)
    {
        return rf_f_q4k_f(acc, dx[0], dx[1], s.dl0, s.ml0, s.dl1, s.ml1, (float)p[0], (float)sx[0], (float)p[1],
                          (float)sx[1]);
    }
};
template <> struct rf_kt<RF_TYPE_Q6_K> {
    enum { LPB = 4, QK = 256, BYTES = RF_GPU_Q6K_SLOT, NR = 4, NP = 4, SX = 0 };
    struct S { float dk[4]; };
    RF_DEV int xoff(int j, int r) { return 128 * (j >> 1) + 16 * (j & 1) + 32 * r; }
    RF_DEV int pidx(int r) { return r; }
    RF_DEV void words(const uint8_t *b, int j, int kq, uint32_t a[NR])
    {
        const int n = j >> 1, l = 16 * (j & 1);
        const uint32_t qa = rf_ld32_a2(b + 64 * n + l + 4 * kq), qb = rf_ld32_a2(b + 64 * n + l + 32 + 4 * kq);
        const uint32_t qh = rf_ld32_a2(b + 128 + 32 * n + l + 4 * kq);
        a[0] = rf_sx6m32((qa & RF_M4) | ((qh & 0x03030303u) << 4));
        a[1] = rf_sx6m32((qb & RF_M4) | (((qh >> 2) & 0x03030303u) << 4));
        a[2] = rf_sx6m32(((qa >> 4) & RF_M4) | (((qh >> 4) & 0x03030303u) << 4));
        a[3] = rf_sx6m32(((qb >> 4) & RF_M4) | (((qh >> 6) & 0x03030303u) << 4));
    }
    RF_DEV S scales(const uint8_t *b, int j)
    {
        const int8_t *sc = (const int8_t *)(b + 192) + 8 * (j >> 1) + (j & 1);
        const float d = rf_h2f(rf_ld16(b + 208));
        S s;
        s.dk[0] = d * sc[0]; s.dk[1] = d * sc[2]; s.dk[2] = d * sc[4]; s.dk[3] = d * sc[6];
        return s;
    }
    enum { NDX = 4 };
    RF_DEV int64_t dxoff(int64_t blk, int j) { return blk * 8 + 4 * (j >> 1); }
    template <typename PT, typename SXT> RF_DEV float item(float acc, const S &s, const float *dx, const PT *p, const SXT *)
    {
        float t = 0.f;
        t = rf_f_q6k(t, dx[0], s.dk[0], (float)p[0]);
        t = rf_f_q6k(t, dx[1], s.dk[1], (float)p[1]);
        t = rf_f_q6k(t, dx[2], s.dk[2], (float)p[2]);
        t = rf_f_q6k(t, dx[3], s.dk[3], (float)p[3]);
        return acc + t;
    }
};
/* Q4_0, IQ4_NL, Q8_0: an item is a 32-weight block, runs = its two halves */
template <int T> struct rf_kt_b32 {
    enum { LPB = 1, QK = 32, BYTES = T == RF_TYPE_Q8_0 ? 34 : 18, NR = 2, NP = 1, SX = 0 };
    struct S { float d; };
    RF_DEV int xoff(int, int r) { return 16 * r; }
    RF_DEV int pidx(int) { return 0; }
    RF_DEV void words(const uint8_t *b, int, int kq, uint32_t a[NR])
    {
        if (T == RF_TYPE_Q8_0) {
            a[0] = rf_ld32_a2(b + 2 + 4 * kq);
            a[1] = rf_ld32_a2(b + 18 + 4 * kq);
        } else {
            const uint32_t w = rf_ld32_a2(b + 2 + 4 * kq);
            a[0] = T == RF_TYPE_IQ4_NL ? (uint32_t)rf_lut_iq4(w & RF_M4) : rf_sx4m8(w & RF_M4);
            a[1] = T == RF_TYPE_IQ4_NL ? (uint32_t)rf_lut_iq4((w >> 4) & RF_M4) : rf_sx4m8((w >> 4) & RF_M4);
        }
    }
    RF_DEV S scales(const uint8_t *b, int)
    {
        S s;
        s.d = rf_h2f(rf_ld16(b));
        return s;
    }
    enum { NDX = 1 };
    RF_DEV int64_t dxoff(int64_t blk, int) { return blk; }
    template <typename PT, typename SXT> RF_DEV float item(float acc, const S &s, const float *dx, const PT *p, const SXT *)
    {
        return rf_f_blk(acc, (float)p[0], s.d, dx[0]);
    }
};
template <> struct rf_kt<RF_TYPE_Q4_0> : rf_kt_b32<RF_TYPE_Q4_0> {};
template <> struct rf_kt<RF_TYPE_IQ4_NL> : rf_kt_b32<RF_TYPE_IQ4_NL> {};
template <> struct rf_kt<RF_TYPE_Q8_0> : rf_kt_b32<RF_TYPE_Q8_0> {};
template <> struct rf_kt<RF_TYPE_IQ4_XS> {
    enum { LPB = 8, QK = 256, BYTES = 136, NR = 2, NP = 1, SX = 0 };
    struct S { float dl; };
    RF_DEV int xoff(int j, int r) { return 32 * j + 16 * r; }
    RF_DEV int pidx(int) { return 0; }
    RF_DEV void words(const uint8_t *b, int j, int kq, uint32_t a[NR])
    {
        const uint32_t w = *(const uint32_t *)(b + 8 + 16 * j + 4 * kq);
        a[0] = (uint32_t)rf_lut_iq4(w & RF_M4);
        a[1] = (uint32_t)rf_lut_iq4((w >> 4) & RF_M4);
    }
    RF_DEV S scales(const uint8_t *b, int j)
    {
        S s;
        s.dl = rf_iq4xs_scale(b, j);
        return s;
    }
    enum { NDX = 1 };
    RF_DEV int64_t dxoff(int64_t blk, int j) { return blk * 8 + j; }
    template <typename PT, typename SXT> RF_DEV float item(float acc, const S &s, const float *dx, const PT *p, const SXT *)
    {
        return rf_f_xs(acc, dx[0], s.dl, (float)p[0]);
    }
};

/* One 16 x 16 unit of a tile (both kernels below): the runs' integer dots
 * on the matrix units, then each element's item formula into acc. */
template <typename K, typename SXT>
RF_DEV void rf_it_unit(float *acc, const uint32_t (*aw)[RF_IMMA_NA], const uint32_t (*bw)[RF_IMMA_NA],
                       const typename K::S *sc, const float (*dx)[K::NDX], const SXT (*sx)[K::NR])
{
    int cp[K::NP][RF_IMMA_NC];
#pragma unroll
    for (int q = 0; q < K::NP; q++)
#pragma unroll
        for (int e = 0; e < RF_IMMA_NC; e++) cp[q][e] = 0;
#pragma unroll
    for (int r = 0; r < K::NR; r++) rf_imma_run(cp[K::pidx(r)], aw[r], bw[r]);
#pragma unroll
    for (int e = 0; e < RF_IMMA_NC; e++) {
        int p[K::NP];
#pragma unroll
        for (int q = 0; q < K::NP; q++) p[q] = cp[q][e];
        acc[e] = K::item(acc[e], sc[rf_imma_rs(e)], dx[rf_imma_ts(e)], p, sx[rf_imma_ts(e)]);
    }
}

template <int T, int UM>
static __global__ __launch_bounds__(RF_IT_THREADS) void rf_k_matmul_int(
    const uint8_t *__restrict__ w, int64_t n_rows, int64_t n_cols, size_t row_stride,
    const int8_t *__restrict__ xq, const float *__restrict__ xd, int64_t n_tok, float *__restrict__ y)
{
    RF_PDL_WAIT();
    typedef rf_kt<T> K;
    typedef typename K::S S;
    enum { NW = RF_IT_THREADS / RF_WARP, WN = NW >= 8 ? 4 : 2, WM = NW / WN, NC = RF_IMMA_NC, NA = RF_IMMA_NA,
           NE = UM * NC, BM = WM * 16 * UM, BN = WN * 16, LDW = K::NR * 4 + 4,
           NI = K::NR == 4 ? 2 : 4 /* items per stage (static shared memory stays under 48 KiB) */ };
    static_assert(BM + BN <= RF_IT_THREADS, "one loader thread per row and per token");
    /* NI items of one lane: the rows' 8-bit weights (runs x 4 words, padded
     * against bank conflicts) and scales, the tokens' 8-bit activations,
     * scales and (Q4_K) run sums */
    __shared__ __align__(16) uint32_t sA[NI][BM * LDW], sB[NI][BN * LDW];
    __shared__ S sS[NI][BM];
    __shared__ float sD[NI][BN * K::NDX];
    __shared__ int sX[NI][BN * K::NR];

    const int tid = threadIdx.x, warp = rf_warp_id(), wm = warp % WM, wn = warp / WM;
    const int64_t R0 = (int64_t)blockIdx.y * BM, T0 = (int64_t)blockIdx.x * BN;
    const int64_t n_blk = n_cols / K::QK, step = RF_WARP / K::LPB;
    /* thread tid < BM stages row R0 + tid, BM <= tid < BM + BN token T0 + tid - BM
     * (past the ends: the last row / token, whose outputs are not stored) */
    const bool ld_row = tid < BM, ld_tok = tid >= BM && tid < BM + BN;
    const int64_t lr = R0 + tid < n_rows ? R0 + tid : n_rows - 1;
    const int64_t lt = T0 + (tid - BM) < n_tok ? T0 + (tid - BM) : n_tok - 1;

    float stk[RF_LOG2W][NE]; /* rarely touched: may live in local memory */
    float acc[NE];
    for (int s = 0; s < RF_WARP; s++) {
        int L = 0;
#pragma unroll
        for (int b = 0; b < RF_LOG2W; b++) L |= ((s >> b) & 1) << (RF_LOG2W - 1 - b);
        const int j = L % K::LPB;
#pragma unroll
        for (int e = 0; e < NE; e++) acc[e] = 0.f;
        for (int64_t blk0 = L / K::LPB; blk0 < n_blk; blk0 += NI * step) {
            const int ni = (int)((n_blk - blk0 + step - 1) / step < NI ? (n_blk - blk0 + step - 1) / step : NI);
            __syncthreads(); /* the last stage's readers are done */
            for (int it = 0; it < ni; it++) {
                const int64_t blk = blk0 + it * step;
                if (ld_row) {
                    const uint8_t *b = w + lr * (int64_t)row_stride + blk * K::BYTES;
#pragma unroll
                    for (int kq = 0; kq < 4; kq++) {
                        uint32_t a4[K::NR];
                        K::words(b, j, kq, a4);
#pragma unroll
                        for (int r = 0; r < K::NR; r++) sA[it][tid * LDW + r * 4 + kq] = a4[r];
                    }
                    sS[it][tid] = K::scales(b, j);
                } else if (ld_tok) {
                    const int t = tid - BM;
                    const int8_t *xp = xq + lt * n_cols + blk * K::QK;
#pragma unroll
                    for (int r = 0; r < K::NR; r++) {
                        const uint4 v = *(const uint4 *)(xp + K::xoff(j, r));
                        *(uint4 *)&sB[it][t * LDW + r * 4] = v;
                        if (K::SX)
                            sX[it][t * K::NR + r] = rf_dp4a(0x01010101, (int)v.w, rf_dp4a(0x01010101, (int)v.z,
                                                    rf_dp4a(0x01010101, (int)v.y, rf_dp4a(0x01010101, (int)v.x, 0))));
                    }
                    const float *dp = xd + lt * (n_cols / 32) + K::dxoff(blk, j);
#pragma unroll
                    for (int q = 0; q < K::NDX; q++) sD[it][t * K::NDX + q] = dp[q];
                }
            }
            __syncthreads();
            for (int it = 0; it < ni; it++) {
                const uint32_t *Ab = sA[it] + (wm * 16 * UM) * LDW, *Bb = sB[it] + (wn * 16) * LDW;
                uint32_t bw[K::NR][NA];
#pragma unroll
                for (int i = 0; i < NA; i++)
#pragma unroll
                    for (int r = 0; r < K::NR; r++) bw[r][i] = Bb[rf_imma_b_col(i) * LDW + r * 4 + rf_imma_kq(i)];
                float dx[RF_IMMA_NTS][K::NDX];
                int sx[RF_IMMA_NTS][K::NR];
#pragma unroll
                for (int q = 0; q < RF_IMMA_NTS; q++) {
                    const int t = wn * 16 + rf_imma_ts_col(q);
#pragma unroll
                    for (int d = 0; d < K::NDX; d++) dx[q][d] = sD[it][t * K::NDX + d];
#pragma unroll
                    for (int r = 0; r < K::NR; r++) sx[q][r] = K::SX ? sX[it][t * K::NR + r] : 0;
                }
#pragma unroll
                for (int u = 0; u < UM; u++) {
                    uint32_t aw[K::NR][NA];
#pragma unroll
                    for (int i = 0; i < NA; i++)
#pragma unroll
                        for (int r = 0; r < K::NR; r++)
                            aw[r][i] = Ab[(16 * u + rf_imma_a_row(i)) * LDW + r * 4 + rf_imma_kq(i)];
                    S sc[RF_IMMA_NRS];
#pragma unroll
                    for (int q = 0; q < RF_IMMA_NRS; q++) sc[q] = sS[it][wm * 16 * UM + 16 * u + rf_imma_rs_row(q)];
                    rf_it_unit<K>(acc + u * NC, aw, bw, sc, dx, sx);
                }
            }
        }
        /* lane L's sums join the tree: the partial sum of lanes bitrev(0..s)
         * waits at the level of the lowest clear bit of s */
#pragma unroll
        for (int e = 0; e < NE; e++) {
            float c = acc[e];
            int lv = 0;
            for (; lv < RF_LOG2W && ((s >> lv) & 1); lv++) c = stk[lv][e] + c;
            if (lv < RF_LOG2W) {
                stk[lv][e] = c;
            } else {
                const int64_t r = R0 + wm * 16 * UM + 16 * (e / NC) + rf_imma_c_row(e % NC);
                const int64_t t = T0 + wn * 16 + rf_imma_c_col(e % NC);
                if (r < n_rows && t < n_tok) y[t * n_rows + r] = c;
            }
        }
    }
}

/* ------------------------------------------- lane-group integer tiles */
/* The integer tiles again, with the same bits, arranged so that a block
 * reads its rows' weights in order, a few blocks at a time, with copies in
 * flight while it multiplies. The decode warp's tree (rf_warp_sum: lanes L
 * and L ^ RF_WARP/2 first, ... L ^ 1 last) is cut into RF_LG_WARPS
 * subtrees: warp w of a block owns the lanes L = w + RF_LG_WARPS * u,
 * u < ACC = RF_WARP / RF_LG_WARPS (they differ in the bits of L the tree
 * joins first), and keeps one accumulator per lane for the block's whole
 * tile of BM rows by BN tokens. Lane L's items are blocks
 * L / LPB + k * (RF_WARP / LPB), part L % LPB, so within every RF_WARP /
 * LPB consecutive blocks the block's warps use each byte once; the block
 * stages NB (a divisor of that) consecutive blocks of its rows and tokens
 * at a time with asynchronous 16-byte copies, one stage ahead. Each
 * accumulator takes its lane's items in block order through the decode
 * lane's formula (K::item); at the end a warp joins its accumulators in
 * the tree's order (u ^ ACC/2 first), and the warps' sums are joined
 * through shared memory in the rest of it (w ^ RF_LG_WARPS/2 first). A
 * row's staged bytes start at the 16-byte boundary below them (rows of 18-
 * or 34-byte blocks are only 2-byte aligned); a granule is copied only
 * when it holds bytes of the row's stage. */
#define RF_LG_WARPS 8
#define RF_LG_THREADS (RF_LG_WARPS * RF_WARP)
#if defined(RF_GPU_VENDOR_CUDA)
#define RF_LG_MINB 2 /* two blocks per SM: at most 128 registers */
#else
#define RF_LG_MINB 1
#endif
/* the loop over a warp's lanes, unrolled where the fragments are narrow (no
 * matrix units: 32 words a fragment, too much code to unroll) */
#if defined(RF_IMMA_NV) || defined(RF_IMMA_MFMA)
#define RF_LG_UNROLL_LANES _Pragma("unroll")
#else
#define RF_LG_UNROLL_LANES _Pragma("unroll 1")
#endif

template <int T, int W> struct rf_lg { /* W: the warp width (host code asks for the device's) */
    typedef rf_kt<T> K;
    enum {
        STEP = W / K::LPB,
        NB = K::QK == 256 ? (STEP < 4 ? STEP : 4) : (STEP < 32 ? STEP : 32), /* blocks a stage */
        WB = NB * K::BYTES,                                                    /* a row's bytes a stage */
        WP0 = (WB + 16 + 15) / 16 * 16,
        WP = (WP0 / 4) % 8 == 4 ? WP0 : WP0 + 16, /* row pitch: 8 rows x 4 words on distinct banks */
        GW = WB / 16 + 1,                         /* granules a row, from the boundary below */
        XB = NB * K::QK, XP = XB + 16, DXN = XB / 32, SXN = K::SX ? XB / 16 : 0
    };
};
template <int T, int UMR, int UNT, int W> struct rf_lg_geo {
    typedef rf_lg<T, W> L;
    enum {
        BM = 16 * UMR, BN = 16 * UNT,
        SP = L::NB * rf_kt<T>::LPB + 1, /* decoded scales a row (+1: rows on distinct banks) */
        STAGE = BM * L::WP + BN * L::XP + BN * L::DXN * 4,
        EXTRA = BN * L::SXN * 4 + BM * SP * (int)sizeof(typename rf_kt<T>::S), /* one buffer: sums, scales */
        RED = RF_LG_WARPS * BM * BN * 4,
        SMEM = 2 * STAGE + EXTRA > RED ? 2 * STAGE + EXTRA : RED
    };
};

template <int T, int UMR, int UNT>
RF_DEV void rf_lg_issue(uint8_t *buf, int64_t s, const uint8_t *w, int64_t n_rows, int64_t n_blk, size_t row_stride,
                        const int8_t *xq, const float *xd, int64_t n_cols, int64_t n_tok, int64_t R0, int64_t T0)
{
    typedef rf_kt<T> K;
    typedef rf_lg<T, RF_WARP> L;
    typedef rf_lg_geo<T, UMR, UNT, RF_WARP> G;
    enum { GX = L::XB / 16 };
    const int64_t b0 = s * L::NB, nb = n_blk - b0 < L::NB ? n_blk - b0 : L::NB;
    uint8_t *sW = buf, *sX = buf + G::BM * L::WP;
    float *sD = (float *)(sX + G::BN * L::XP);
    for (int i = threadIdx.x; i < G::BM * L::GW; i += RF_LG_THREADS) {
        const int r = i / L::GW, q = i % L::GW;
        const bool rok = R0 + r < n_rows;
        const uint8_t *a = w + (rok ? R0 + r : 0) * (int64_t)row_stride + b0 * K::BYTES;
        const uint8_t *g = (const uint8_t *)((uintptr_t)a & ~(uintptr_t)15) + 16 * q;
        const bool ok = rok && g < a + nb * K::BYTES;
        rf_cp16(sW + r * L::WP + 16 * q, ok ? g : w, ok);
    }
    for (int i = threadIdx.x; i < G::BN * GX; i += RF_LG_THREADS) {
        const int t = i / GX, q = i % GX;
        const bool ok = T0 + t < n_tok && 16 * q < nb * K::QK;
        rf_cp16(sX + t * L::XP + 16 * q, ok ? xq + (T0 + t) * n_cols + b0 * K::QK + 16 * q : xq, ok);
    }
    for (int i = threadIdx.x; i < G::BN * L::DXN; i += RF_LG_THREADS) {
        const int t = i / L::DXN, q = i % L::DXN;
        const bool ok = T0 + t < n_tok && q < nb * (K::QK / 32);
        rf_cp4(sD + t * L::DXN + q, ok ? xd + (T0 + t) * (n_cols / 32) + b0 * (K::QK / 32) + q : xd, ok);
    }
    rf_cp_commit();
}

template <int T, int UMR, int UNT>
static __global__ __launch_bounds__(RF_LG_THREADS, RF_LG_MINB) void rf_k_matmul_lg(
    const uint8_t *__restrict__ w, int64_t n_rows, int64_t n_cols, size_t row_stride,
    const int8_t *__restrict__ xq, const float *__restrict__ xd, int64_t n_tok, float *__restrict__ y)
{
    typedef rf_kt<T> K;
    typedef rf_lg<T, RF_WARP> L;
    typedef rf_lg_geo<T, UMR, UNT, RF_WARP> G;
    typedef typename K::S S;
    enum { ACC = RF_WARP / RF_LG_WARPS, NC = RF_IMMA_NC, NA = RF_IMMA_NA, NE = UMR * UNT * NC, BM = G::BM,
           BN = G::BN };
    extern __shared__ __align__(16) uint8_t rf_lg_smem[];
    const int tid = threadIdx.x, warp = rf_warp_id();
    const int64_t R0 = (int64_t)blockIdx.y * BM, T0 = (int64_t)blockIdx.x * BN;
    const int64_t n_blk = n_cols / K::QK, n_st = (n_blk + L::NB - 1) / L::NB;
    /* where each fragment row's bytes sit past the 16-byte boundary, before the stage's offset */
    int ra[UMR][NA];
#pragma unroll
    for (int m = 0; m < UMR; m++) {
#pragma unroll
        for (int i = 0; i < NA; i++) {
            const int64_t r = R0 + 16 * m + rf_imma_a_row(i);
            ra[m][i] = (int)((uintptr_t)(w + (r < n_rows ? r : 0) * (int64_t)row_stride) & 15);
        }
    }
    float acc[ACC][NE];
#pragma unroll
    for (int u = 0; u < ACC; u++)
#pragma unroll
        for (int e = 0; e < NE; e++) acc[u][e] = 0.f;

    RF_PDL_WAIT();
    rf_lg_issue<T, UMR, UNT>(rf_lg_smem, 0, w, n_rows, n_blk, row_stride, xq, xd, n_cols, n_tok, R0, T0);
    for (int64_t s = 0; s < n_st; s++) {
        if (s + 1 < n_st)
            rf_lg_issue<T, UMR, UNT>(rf_lg_smem + ((s + 1) & 1) * G::STAGE, s + 1, w, n_rows, n_blk, row_stride, xq,
                                     xd, n_cols, n_tok, R0, T0);
        else
            rf_cp_commit();
        rf_cp_wait<1>();
        __syncthreads();
        const uint8_t *sW = rf_lg_smem + (s & 1) * G::STAGE, *sX = sW + BM * L::WP;
        const float *sD = (const float *)(sX + BN * L::XP);
        float *sS = (float *)(rf_lg_smem + 2 * G::STAGE);
        S *sC = (S *)(sS + BN * L::SXN);
        const int64_t b0 = s * L::NB, kb = b0 - b0 % L::STEP;
        const int wo = (int)((b0 * K::BYTES) & 15);
        /* each (row, block, part)'s scales decoded once (a warp's lanes
         * would each decode their rows' four times), and (Q4_K) the
         * activations' 16-element run sums */
        for (int i = tid; i < BM * L::NB * K::LPB; i += RF_LG_THREADS) {
            const int r = i / (L::NB * K::LPB), lb = i / K::LPB % L::NB, j = i % K::LPB;
            const int64_t rr = R0 + r < n_rows ? R0 + r : 0;
            const int o = (int)((uintptr_t)(w + rr * (int64_t)row_stride + b0 * K::BYTES) & 15);
            sC[r * G::SP + lb * K::LPB + j] = K::scales(sW + r * L::WP + o + lb * K::BYTES, j);
        }
        if (K::SX) {
            for (int i = tid; i < BN * L::SXN; i += RF_LG_THREADS) {
                enum { D = L::SXN ? L::SXN : 1 }; /* (a loop that runs only where SXN > 0) */
                const uint4 v = *(const uint4 *)(sX + (i / D) * L::XP + 16 * (i % D));
                sS[i] = (float)rf_dp4a(RF_ONES, (int)v.w, rf_dp4a(RF_ONES, (int)v.z, rf_dp4a(RF_ONES, (int)v.y,
                        rf_dp4a(RF_ONES, (int)v.x, 0))));
            }
        }
        __syncthreads();
        RF_LG_UNROLL_LANES
        for (int u = 0; u < ACC; u++) {
            const int ln = warp + RF_LG_WARPS * u, j = ln % K::LPB;
            const int64_t blk = kb + ln / K::LPB;
            if (blk < b0 || blk >= b0 + L::NB || blk >= n_blk) continue; /* lane ln has no item here */
            const int lb = (int)(blk - b0);
            uint32_t aw[UMR][K::NR][NA];
            S sc[UMR][RF_IMMA_NRS];
#pragma unroll
            for (int m = 0; m < UMR; m++) {
#pragma unroll
                for (int i = 0; i < NA; i++) {
                    const int row = 16 * m + rf_imma_a_row(i);
                    uint32_t a4[K::NR];
                    K::words(sW + row * L::WP + ((ra[m][i] + wo) & 15) + lb * K::BYTES, j, rf_imma_kq(i), a4);
#pragma unroll
                    for (int r = 0; r < K::NR; r++) aw[m][r][i] = a4[r];
                }
#pragma unroll
                for (int q = 0; q < RF_IMMA_NRS; q++)
                    sc[m][q] = sC[(16 * m + rf_imma_rs_row(q)) * G::SP + lb * K::LPB + j];
            }
#pragma unroll
            for (int n = 0; n < UNT; n++) {
                uint32_t bw[K::NR][NA];
#pragma unroll
                for (int i = 0; i < NA; i++)
#pragma unroll
                    for (int r = 0; r < K::NR; r++)
                        bw[r][i] = *(const uint32_t *)(sX + (16 * n + rf_imma_b_col(i)) * L::XP + lb * K::QK +
                                                       K::xoff(j, r) + 4 * rf_imma_kq(i));
                float dx[RF_IMMA_NTS][K::NDX];
                float sx[RF_IMMA_NTS][K::NR];
#pragma unroll
                for (int q = 0; q < RF_IMMA_NTS; q++) {
                    const int t = 16 * n + rf_imma_ts_col(q);
#pragma unroll
                    for (int d = 0; d < K::NDX; d++) dx[q][d] = sD[t * L::DXN + K::dxoff(lb, j) + d];
#pragma unroll
                    for (int r = 0; r < K::NR; r++)
                        sx[q][r] = K::SX ? sS[t * L::SXN + (lb * K::QK + K::xoff(j, r)) / 16] : 0.f;
                }
#pragma unroll
                for (int m = 0; m < UMR; m++) rf_it_unit<K>(acc[u] + (m * UNT + n) * NC, aw[m], bw, sc[m], dx, sx);
            }
        }
        __syncthreads(); /* this buffer is refilled next */
    }
    /* the warp's lanes, in the tree's order */
#pragma unroll
    for (int h = ACC / 2; h >= 1; h /= 2)
#pragma unroll
        for (int u = 0; u < h; u++)
#pragma unroll
            for (int e = 0; e < NE; e++) acc[u][e] = acc[u][e] + acc[u + h][e];
    float *red = (float *)rf_lg_smem; /* [warp][token][row] */
#pragma unroll
    for (int m = 0; m < UMR; m++)
#pragma unroll
        for (int n = 0; n < UNT; n++)
#pragma unroll
            for (int e = 0; e < NC; e++)
                red[(warp * BN + 16 * n + rf_imma_c_col(e)) * BM + 16 * m + rf_imma_c_row(e)] =
                    acc[0][(m * UNT + n) * NC + e];
    __syncthreads();
    for (int i = tid; i < BM * BN; i += RF_LG_THREADS) {
        const int row = i % BM, tok = i / BM;
        float v[RF_LG_WARPS];
#pragma unroll
        for (int q = 0; q < RF_LG_WARPS; q++) v[q] = red[(q * BN + tok) * BM + row];
#pragma unroll
        for (int h = RF_LG_WARPS / 2; h >= 1; h /= 2)
#pragma unroll
            for (int q = 0; q < h; q++) v[q] = v[q] + v[q + h];
        if (R0 + row < n_rows && T0 + tok < n_tok) y[(T0 + tok) * n_rows + R0 + row] = v[0];
    }
}

/* ------------------------------------------------- F16 GEMM (prompts) */
/* Prompts where batch invariance is not asked for: each weight is decoded
 * to F16 once per call (a row block at a time, into the d_wh scratch; F16
 * weights are read in place), then multiplied with the F16 activations by
 * a plain tiled GEMM: 128 rows x 128 tokens per block, k-steps of 32, four
 * shared-memory stages filled by asynchronous 16-byte copies (sm_80+; two
 * stages of plain loads elsewhere), so each step's loads are three steps
 * ahead of its products; 8 warps as 2 (rows) x 4 (tokens), each 64 x 32
 * in 16x16 pieces on the matrix units (gpu_mma.cuh). Blocks run
 * tokens-fastest, so the 4 token blocks of a row block read its weights
 * from L2. It replaced F16 tiles that decoded the weights inside every tile
 * with one k-step of loads ahead, bound by those loads (docs/gpu-notes.md,
 * v20-v21: 8B Q4_K_M pp512 5.1k -> 7.5k t/s before the attention). */
#define GM_BN 128
#define GM_BK 32
#define GM_LD (GM_BK + 8) /* halves: 80-byte rows, ldmatrix rows on distinct bank groups */
#if defined(RF_GPU_VENDOR_CUDA)
#define GM_ST 4
#else
#define GM_ST 2
#endif
#define GM_THREADS 256
#define GM_SMEM(BM) ((size_t)GM_ST * ((BM) + GM_BN) * GM_LD * 2)

/* rows [0, n_rows) of w -> out (F16, n_cols per row), 8 weights a thread */
template <int T>
static __global__ __launch_bounds__(256) void rf_k_dequant_f16(const uint8_t *__restrict__ w, int64_t n_rows,
                                                              int64_t n_cols, size_t row_stride,
                                                              __half *__restrict__ out)
{
    RF_PDL_WAIT(); /* out may still be read by the previous GEMM */
    typedef rf_q<T> Q;
    const int64_t per = n_cols / 8, i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_rows * per) return;
    const int64_t r = i / per, sl = i % per, c = sl / 4;
    const int cpb = Q::QK / 32;
    float wv[8];
    rf_slice<T>::get(w + r * row_stride + (c / cpb) * Q::BYTES, (int)(c % cpb), (int)(sl % 4), wv);
    __half2 h[4];
#pragma unroll
    for (int j = 0; j < 4; j++) h[j] = __floats2half2_rn(wv[2 * j], wv[2 * j + 1]);
    *(uint4 *)(out + r * n_cols + sl * 8) = *(const uint4 *)h;
}

/* Where a GEMM's output rows go: rows [end[i-1], end[i]) to y[i], token t's
 * row r at y[i][t * ld[i] + r - end[i-1]] (one weight's rows, or up to 3
 * weights of one input decoded one after another) */
struct rf_gm_out {
    float *y[RF_MV_SET];
    int64_t end[RF_MV_SET];
    int64_t ld[RF_MV_SET];
    int n;
};
RF_DEV float *rf_gm_at(const rf_gm_out &o, int64_t r, int64_t t)
{
    if (r < o.end[0]) return o.y[0] + t * o.ld[0] + r;
    if (o.n > 1 && r < o.end[1]) return o.y[1] + t * o.ld[1] + (r - o.end[0]);
    return o.y[2] + t * o.ld[2] + (r - o.end[1]);
}

/* out(r, t) = sum_k A[r][k] * B[t][k]: A m rows (lda halves apart), B
 * n rows of k halves (k a multiple of GM_BK, rows 16-byte aligned). GM_BM
 * rows a block: 128, or 64 where 128 would leave SMs idle. */
template <int GM_BM>
static __global__ __launch_bounds__(GM_THREADS, 2) void rf_k_gemm_f16(const __half *__restrict__ A, int64_t lda,
                                                                     int64_t m, const __half *__restrict__ B,
                                                                     int64_t n, int64_t k, const rf_gm_out out)
{
    extern __shared__ __align__(128) unsigned char rf_gm_smem[];
    __half *sm = (__half *)rf_gm_smem;
    RF_PDL_WAIT();
    enum { STAGE = (GM_BM + GM_BN) * GM_LD, NW = GM_THREADS / RF_WARP, WN = NW >= 8 ? 4 : 2, WM = NW / WN,
           WROWS = GM_BM / WM, WTOK = GM_BN / WN, PM = WROWS / 16, PN = WTOK / 16, PIECES = GM_BK / 8,
           NA = GM_BM * PIECES / GM_THREADS, NB = GM_BN * PIECES / GM_THREADS };
    static_assert(NA * GM_THREADS == GM_BM * PIECES && NB * GM_THREADS == GM_BN * PIECES, "whole copies");
    const int tid = threadIdx.x, warp = rf_warp_id(), wm = warp % WM, wn = warp / WM;
    const int64_t t0 = (int64_t)blockIdx.x * GM_BN, r0 = (int64_t)blockIdx.y * GM_BM;
    auto load = [&](int st, int64_t k0) {
        __half *As = sm + st * STAGE, *Bs = As + GM_BM * GM_LD;
#pragma unroll
        for (int i = 0; i < NA; i++) {
            const int q = tid + GM_THREADS * i, row = q / PIECES, pc = q % PIECES;
            const bool ok = r0 + row < m;
            rf_cp16(As + row * GM_LD + pc * 8, ok ? A + (r0 + row) * lda + k0 + pc * 8 : A, ok);
        }
#pragma unroll
        for (int i = 0; i < NB; i++) {
            const int q = tid + GM_THREADS * i, row = q / PIECES, pc = q % PIECES;
            const bool ok = t0 + row < n;
            rf_cp16(Bs + row * GM_LD + pc * 8, ok ? B + (t0 + row) * k + k0 + pc * 8 : B, ok);
        }
    };
    rf_mma_acc acc[PM][PN];
#pragma unroll
    for (int i = 0; i < PM; i++)
#pragma unroll
        for (int j = 0; j < PN; j++) rf_mma_zero(acc[i][j]);
    const int64_t nk = k / GM_BK;
#pragma unroll
    for (int s = 0; s < GM_ST - 1; s++) {
        if (s < nk) load(s, s * GM_BK);
        rf_cp_commit();
    }
    for (int64_t kt = 0; kt < nk; kt++) {
        rf_cp_wait<GM_ST - 2>(); /* step kt's copies (this thread's) have landed */
        __syncthreads();         /* everyone's have, and step kt - 1's stage is free */
        if (kt + GM_ST - 1 < nk) load((int)((kt + GM_ST - 1) % GM_ST), (kt + GM_ST - 1) * GM_BK);
        rf_cp_commit();
        const __half *As = sm + (kt % GM_ST) * STAGE + (wm * WROWS) * GM_LD;
        const __half *Bs = sm + (kt % GM_ST) * STAGE + GM_BM * GM_LD + (wn * WTOK) * GM_LD;
#pragma unroll
        for (int kk = 0; kk < GM_BK; kk += 16) {
            rf_mma_a fa[PM];
            rf_mma_b fb[PN];
#pragma unroll
            for (int i = 0; i < PM; i++) rf_mma_load_a(fa[i], As + i * 16 * GM_LD + kk, GM_LD);
#pragma unroll
            for (int j = 0; j < PN; j++) rf_mma_load_b(fb[j], Bs + j * 16 * GM_LD + kk, GM_LD);
#pragma unroll
            for (int i = 0; i < PM; i++)
#pragma unroll
                for (int j = 0; j < PN; j++) rf_mma_run(acc[i][j], fa[i], fb[j]);
        }
    }
    rf_cp_wait<0>();
    __syncthreads(); /* the stages become the output staging area */
    float *Cs = (float *)sm + warp * 256;
#pragma unroll
    for (int i = 0; i < PM; i++)
#pragma unroll
        for (int j = 0; j < PN; j++) {
            rf_mma_store(acc[i][j], Cs, 16);
            rf_syncwarp();
            for (int e = rf_lane(); e < 256; e += RF_WARP) {
                const int64_t r = r0 + wm * WROWS + i * 16 + e % 16, t = t0 + wn * WTOK + j * 16 + e / 16;
                if (r < m && t < n) *rf_gm_at(out, r, t) = Cs[(e % 16) * 16 + e / 16];
            }
            rf_syncwarp();
        }
}

/* ------------------------------------------------------------ get_rows */
template <int T>
static __global__ void rf_k_get_rows(const uint8_t *__restrict__ w, int64_t n_rows, int64_t n_cols,
                                     size_t row_stride, const int32_t *__restrict__ ids, float scale,
                                     float *__restrict__ out, int64_t n_chunks, int64_t tail_start)
{
    RF_PDL_WAIT();
    typedef rf_q<T> Q;
    const int64_t i = blockIdx.x;
    const int32_t id = ids[i];
    float *o = out + i * n_cols;
    if (id < 0 || id >= n_rows) { /* the host validates ids; make a slip loud, not a stray read */
        for (int64_t j = threadIdx.x; j < n_cols; j += blockDim.x) o[j] = __int_as_float(0x7fc00000);
        return;
    }
    const uint8_t *row = w + (int64_t)id * row_stride;
    const int cpb = Q::QK / 32;
    for (int64_t c = threadIdx.x; c < n_chunks; c += blockDim.x) {
        float wv[32];
        Q::chunk(row + (c / cpb) * Q::BYTES, (int)(c % cpb), wv);
#pragma unroll
        for (int j = 0; j < 32; j++) o[c * 32 + j] = wv[j] * scale;
    }
    if (T == RF_TYPE_F32 || T == RF_TYPE_F16 || T == RF_TYPE_BF16)
        for (int64_t j = tail_start + threadIdx.x; j < n_cols; j += blockDim.x)
            o[j] = rf_plain_get(T, row, j) * scale;
}

/* --------------------------------------------------------------- hosts */

static bool rf_gpu_is_plain(rf_type t) { return t == RF_TYPE_F32 || t == RF_TYPE_F16 || t == RF_TYPE_BF16; }

extern "C" size_t rf_gpu_row_bytes(rf_type t, int64_t n_cols)
{
    if (t == RF_TYPE_Q6_K && n_cols > 0 && n_cols % 256 == 0) return (size_t)(n_cols / 256) * RF_GPU_Q6K_SLOT;
    return rf_type_row_bytes(t, (uint64_t)n_cols);
}

extern "C" rf_status rf_gpu_upload_rows(rf_gpu *g, void *d_dst, const void *src, rf_type t, int64_t n_rows,
                                        int64_t n_cols, size_t src_stride, rf_error *err)
{
    const size_t db = rf_gpu_row_bytes(t, n_cols), hb = rf_type_row_bytes(t, (uint64_t)n_cols);
    if (n_rows <= 0) return RF_OK;
    if (db == 0 || src_stride < hb)
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU upload: %s rows of %lld elements, host stride %zu", rf_type_name(t),
                      (long long)n_cols, src_stride);
    if (db == hb && src_stride == db) return rf_gpu_upload(g, d_dst, src, db * (size_t)n_rows, err);
    /* repacked through a host buffer, up to 16 MiB of device rows at a time */
    const int64_t per = (int64_t)((((size_t)16 << 20) / db) > 0 ? ((size_t)16 << 20) / db : 1);
    const int64_t chunk = per < n_rows ? per : n_rows;
    uint8_t *buf = (uint8_t *)rf_calloc((size_t)chunk, db, err, "GPU upload staging");
    if (!buf) return RF_ERR_NOMEM;
    rf_status st = RF_OK;
    for (int64_t r0 = 0; r0 < n_rows && st == RF_OK; r0 += chunk) {
        const int64_t k = n_rows - r0 < chunk ? n_rows - r0 : chunk;
        for (int64_t r = 0; r < k; r++) {
            const uint8_t *s = (const uint8_t *)src + (size_t)(r0 + r) * src_stride;
            uint8_t *d = buf + (size_t)r * db;
            if (t == RF_TYPE_Q6_K && db != hb) {
                const size_t blk = hb / (size_t)(n_cols / 256); /* a block's bytes, then zeros to the slot's end */
                for (int64_t b = 0; b < n_cols / 256; b++) memcpy(d + b * RF_GPU_Q6K_SLOT, s + b * blk, blk);
            } else {
                memcpy(d, s, hb);
            }
        }
        st = rf_gpu_upload(g, (uint8_t *)d_dst + (size_t)r0 * db, buf, (size_t)k * db, err);
    }
    free(buf);
    return st;
}

extern "C" bool rf_gpu_type_supported(rf_type t)
{
    switch ((int)t) {
#define X(T) case T:
        RF_GPU_TYPES(X)
#undef X
        return true;
    default:
        return false;
    }
}

/* Checks shapes and works out how much of a row the chunk decoder covers:
 * quantized rows are whole blocks; plain rows use chunks only when every
 * chunk is 16-byte aligned (vector loads) and finish with an element tail. */
static rf_status rf_gpu_row_plan(rf_type t, const void *w, int64_t n_rows, int64_t n_cols,
                                 size_t row_stride, const float *x, int64_t *n_chunks,
                                 int64_t *tail_start, rf_error *err)
{
    const rf_type_traits *tr = rf_type_get(t);
    if (!tr || !rf_gpu_type_supported(t))
        return rf_err(err, RF_ERR_UNSUPPORTED, "GPU matmul: weight type %s has no GPU kernel", rf_type_name(t));
    if (n_rows <= 0 || n_cols <= 0)
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU matmul: bad shape %lld x %lld", (long long)n_rows,
                      (long long)n_cols);
    if (n_cols % tr->block_size)
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU matmul: %s rows of %lld elements are not whole %u-element blocks",
                      tr->name, (long long)n_cols, tr->block_size);
    if (row_stride < rf_gpu_row_bytes(t, n_cols))
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU matmul: row stride %zu below the %s row size on the device (%zu)",
                      row_stride, tr->name, rf_gpu_row_bytes(t, n_cols));
    if (rf_gpu_is_plain(t)) {
        const bool aligned = n_cols % 4 == 0 && ((uintptr_t)w % 16) == 0 && row_stride % 16 == 0 &&
                             (x == NULL || ((uintptr_t)x % 16) == 0);
        *n_chunks = aligned ? n_cols / 32 : 0;
        *tail_start = *n_chunks * 32;
    } else {
        /* slice decoders use 8-byte (Q4_K) and 2-byte loads: GGUF data is
         * 32-byte aligned and K-quant rows are multiples of 16 bytes */
        const bool wide = t == RF_TYPE_Q4_0 || t == RF_TYPE_Q8_0 || t == RF_TYPE_Q4_K || t == RF_TYPE_Q5_K ||
                          t == RF_TYPE_Q6_K || t == RF_TYPE_IQ4_NL || t == RF_TYPE_IQ4_XS;
        const bool wide8 = t == RF_TYPE_Q4_K || t == RF_TYPE_Q5_K || t == RF_TYPE_IQ4_XS;
        if (wide && ((uintptr_t)w % 16 || row_stride % 2 || (wide8 && row_stride % 8)))
            return rf_err(err, RF_ERR_INVALID_ARG, "GPU matmul: %s weights must be 16-byte aligned with even row strides",
                          tr->name);
        if (x && (((uintptr_t)x % 16) || n_cols % 4))
            return rf_err(err, RF_ERR_INVALID_ARG, "GPU matmul: activations must be 16-byte aligned");
        *n_chunks = n_cols / 32;
        *tail_start = n_cols;
    }
    return RF_OK;
}

template <int T, int NT>
static void rf_launch_matvec(rf_gpu *g, const void *w, int64_t n_rows, int64_t n_cols, size_t row_stride,
                             const float *x, float *y, int64_t y_stride, int64_t n_chunks, int64_t tail)
{
    const int rows_per_block = MV_THREADS / g->info.warp;
    rf_launch(g->pdl, rf_k_matvec<T, NT>, dim3(rf_gpu_blocks(n_rows, rows_per_block)), dim3(MV_THREADS), 0, g->stream, 
        (const uint8_t *)w, n_rows, n_cols, row_stride, x, y, y_stride, n_chunks, tail);
}

template <int T>
static void rf_matvec_t(rf_gpu *g, const void *w, int64_t n_rows, int64_t n_cols, size_t row_stride,
                        const float *x, int64_t n_tok, float *y, int64_t n_chunks, int64_t tail)
{
    int64_t t = 0;
    while (t < n_tok) {
        const int64_t left = n_tok - t;
        const float *xt = x + t * n_cols;
        float *yt = y + t * n_rows;
        if (left >= 8) { rf_launch_matvec<T, 8>(g, w, n_rows, n_cols, row_stride, xt, yt, n_rows, n_chunks, tail); t += 8; }
        else if (left >= 4) { rf_launch_matvec<T, 4>(g, w, n_rows, n_cols, row_stride, xt, yt, n_rows, n_chunks, tail); t += 4; }
        else if (left >= 2) { rf_launch_matvec<T, 2>(g, w, n_rows, n_cols, row_stride, xt, yt, n_rows, n_chunks, tail); t += 2; }
        else { rf_launch_matvec<T, 1>(g, w, n_rows, n_cols, row_stride, xt, yt, n_rows, n_chunks, tail); t += 1; }
    }
}

/* RF_GPU_WIDE=0 keeps Q4_0, Q8_0, Q4_K and Q6_K on the 8-weight slices
 * (comparisons) */
static bool rf_gpu_wide_kq(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("RF_GPU_WIDE");
        on = !(e && e[0] == '0');
    }
    return on;
}

/* T2 != T: the set's last weight has type T2 (rf_k_matvec_kq2) */
template <int T, int T2, int NT>
static void rf_launch_matvec_q8(rf_gpu *g, const rf_mv_set &set, int64_t n_cols, const int8_t *xq, const float *xd)
{
    const int rows_per_block = MV_THREADS / g->info.warp;
    const unsigned nb = (unsigned)rf_gpu_blocks(set.end[set.n - 1], rows_per_block);
    if constexpr (T != T2) {
        rf_launch(g->pdl, rf_k_matvec_kq2<T, T2, NT>, dim3(nb), dim3(MV_THREADS), 0, g->stream, set, n_cols, xq, xd);
        g->n_mixed++;
        return;
    }
    /* the IQ4 types have no 8-weight slice: always the wide lanes */
    if (((T == RF_TYPE_Q4_K || T == RF_TYPE_Q6_K || T == RF_TYPE_Q4_0 || T == RF_TYPE_Q8_0) && rf_gpu_wide_kq()) ||
        T == RF_TYPE_IQ4_NL || T == RF_TYPE_IQ4_XS) {
        rf_launch(g->pdl, rf_k_matvec_kq<T == RF_TYPE_Q5_K ? RF_TYPE_Q4_K : T, NT>, dim3(nb), dim3(MV_THREADS), 0, g->stream, set, n_cols, xq, xd);
        return;
    }
    rf_launch(g->pdl, rf_k_matvec_q8<T, NT>, dim3(nb), dim3(MV_THREADS), 0, g->stream, set, n_cols, xq, xd);
}

/* token t of every weight of the set: outputs move by t * rows */
static rf_mv_set rf_mv_at(const rf_mv_set &s, int64_t t)
{
    rf_mv_set o = s;
    for (int m = 0; m < s.n; m++) o.y[m] = s.y[m] + t * (s.end[m] - (m ? s.end[m - 1] : 0));
    return o;
}

template <int T, int T2 = T>
static void rf_matvec_q8_t(rf_gpu *g, const rf_mv_set &set, int64_t n_cols, int64_t n_tok)
{
    for (int64_t t = 0; t < n_tok;) {
        const int64_t left = n_tok - t;
        const int8_t *xq = g->d_xq + t * n_cols;
        const float *xd = g->d_xd + t * (n_cols / 32);
        const rf_mv_set st = rf_mv_at(set, t);
        if (left >= 8) { rf_launch_matvec_q8<T, T2, 8>(g, st, n_cols, xq, xd); t += 8; }
        else if (left >= 4) { rf_launch_matvec_q8<T, T2, 4>(g, st, n_cols, xq, xd); t += 4; }
        else if (left >= 2) { rf_launch_matvec_q8<T, T2, 2>(g, st, n_cols, xq, xd); t += 2; }
        else { rf_launch_matvec_q8<T, T2, 1>(g, st, n_cols, xq, xd); t += 1; }
    }
}

static int rf_gpu_int_flag = -1;
bool rf_gpu_int_on(void)
{
    if (rf_gpu_int_flag < 0) {
        const char *e = getenv("RF_GPU_DP4A");
        rf_gpu_int_flag = !(e && e[0] == '0');
    }
    return rf_gpu_int_flag;
}

static bool rf_gpu_int_type(rf_type t)
{
    return t == RF_TYPE_Q4_0 || t == RF_TYPE_Q8_0 || t == RF_TYPE_Q4_K || t == RF_TYPE_Q5_K || t == RF_TYPE_Q6_K ||
           t == RF_TYPE_IQ4_NL || t == RF_TYPE_IQ4_XS;
}

/* The lane-group tiles (rf_k_matmul_lg) of one type: 32 rows x 16 tokens
 * a block. Usable unless switched off (RF_GPU_LG=0) or refused their
 * shared memory (76-110 KiB: more than RDNA / CDNA grant a block), where
 * the older tiles (rf_k_matmul_int) serve. The limit is raised once per
 * kernel and device. */
enum { RF_LG_UMR = 2, RF_LG_UNT = 1 };
/* its dynamic shared memory on the device's warp width */
template <int T> static int rf_gpu_lg_smem(const rf_gpu *g)
{
    return g->info.warp == 64 ? (int)rf_lg_geo<T, RF_LG_UMR, RF_LG_UNT, 64>::SMEM
                              : (int)rf_lg_geo<T, RF_LG_UMR, RF_LG_UNT, 32>::SMEM;
}
template <int T> static bool rf_gpu_lg_ready(rf_gpu *g)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("RF_GPU_LG");
        on = !(e && e[0] == '0');
    }
    const uint32_t bit = 1u << (T % 32);
    if (!on || (g->lg_smem_bad & bit)) return false;
    if (!(g->lg_smem_set & bit)) {
        void (*k)(const uint8_t *, int64_t, int64_t, size_t, const int8_t *, const float *, int64_t, float *) =
            rf_k_matmul_lg<T, RF_LG_UMR, RF_LG_UNT>;
        if (gpuFuncSetMaxDynamicShared(k, rf_gpu_lg_smem<T>(g)) != gpuSuccess) {
            (void)gpuGetLastError();
            g->lg_smem_bad |= bit;
            return false;
        }
        g->lg_smem_set |= bit;
    }
    return true;
}
template <int T>
static bool rf_gpu_lg_t(rf_gpu *g, const uint8_t *w, int64_t rows, int64_t n_cols, size_t stride, int64_t n_tok,
                        float *y)
{
    if (!rf_gpu_lg_ready<T>(g)) return false;
    const dim3 grid(rf_gpu_blocks(n_tok, 16 * RF_LG_UNT), rf_gpu_blocks(rows, 16 * RF_LG_UMR));
    rf_launch(g->pdl, rf_k_matmul_lg<T, RF_LG_UMR, RF_LG_UNT>, grid, dim3(RF_LG_WARPS * g->info.warp),
              (size_t)rf_gpu_lg_smem<T>(g), g->stream, w, rows, n_cols, stride, (const int8_t *)g->d_xq, (const float *)g->d_xd, n_tok, y);
    return true;
}
/* w == NULL: only whether they are usable */
static bool rf_gpu_lg_launch(rf_gpu *g, rf_type wtype, const uint8_t *w, int64_t rows, int64_t n_cols, size_t stride,
                             int64_t n_tok, float *y)
{
    switch ((int)wtype) {
#define X(T) case T: return w ? rf_gpu_lg_t<T>(g, w, rows, n_cols, stride, n_tok, y) : rf_gpu_lg_ready<T>(g);
    X(RF_TYPE_Q4_0) X(RF_TYPE_Q8_0) X(RF_TYPE_Q4_K) X(RF_TYPE_Q6_K) X(RF_TYPE_IQ4_NL) X(RF_TYPE_IQ4_XS)
#undef X
    }
    return false;
}

/* Whether n_tok tokens of a wtype product go to the integer tiles
 * (bit-identical to the decode kernels, so any threshold keeps batch
 * invariance): from RF_GPU_IMMA tokens (0 turns them off), by default 16
 * where the lane-group tiles serve and 128 where the older ones do. Below
 * that the decode kernels take 8 tokens a launch, each launch streaming
 * the weights. H200, tg32 of 16 / 64 sequences, t/s summed: 1B Q4_K_M
 * 4924 / 5594 on the decode kernels, 6634 / 13123 on the lane-group tiles,
 * 8B 1054 / 1091 vs 1584 / 2489; 8 sequences ran faster on the decode
 * kernels (1B 4308 vs 3226 on a build of the tiles ~4% slower than
 * these). The older tiles, bound by their per-lane scale decoding
 * (gpu-notes v16), lost to the decode kernels below 128 tokens (H100,
 * 16 / 64 sequences: 8B 302 / 1104 vs 1079 / 1131). */
static bool rf_gpu_int_tiles(rf_gpu *g, rf_type t, int64_t n_tok)
{
    static int64_t env_min = -1;
    if (env_min < 0) {
        const char *e = getenv("RF_GPU_IMMA");
        env_min = e && *e ? atoll(e) : 0;
        if (e && *e && env_min <= 0) env_min = INT64_MAX;
    }
    if (!(t == RF_TYPE_Q4_0 || t == RF_TYPE_Q8_0 || t == RF_TYPE_Q4_K || t == RF_TYPE_Q6_K || t == RF_TYPE_IQ4_NL ||
          t == RF_TYPE_IQ4_XS))
        return false;
    const int64_t min_tok = env_min ? env_min : rf_gpu_lg_launch(g, t, NULL, 0, 0, 0, 0, NULL) ? 16 : 128;
    return n_tok >= min_tok;
}

/* The integer products of a set sharing x (n_tok rows of n_cols): rounds x
 * to 8 bits unless the scratch already holds it, then one launch per group
 * of up to 8 tokens. */
static rf_status rf_gpu_matvec_set(rf_gpu *g, rf_type wtype, const rf_mv_set &set, int64_t n_cols,
                                   const float *d_x, int64_t n_tok, rf_error *err, bool mixed = false)
{
    const int64_t n = n_tok * n_cols;
    if (g->q8_src != d_x || g->q8_n != n) {
        rf_launch(g->pdl, rf_k_quant_q8, dim3(rf_gpu_blocks(n, 256)), dim3(256), 0, g->stream, d_x, n, g->d_xq, g->d_xd);
        GPU_LAUNCHED("quant_q8");
    }
    /* (a grid row per 32-64 weight rows: past 65535 of them, the decode kernels) */
    if (rf_gpu_int_tiles(g, wtype, n_tok) && set.end[set.n - 1] < 65535 * 32) {
        /* the tile's geometry (rf_k_matmul_int) from the device's warp width */
        const int um = RF_IT_UM(wtype), nw = RF_IT_THREADS / g->info.warp, wn = nw >= 8 ? 4 : 2, wm = nw / wn;
        for (int m = 0; m < set.n; m++) {
            if (rf_gpu_lg_launch(g, wtype, set.w[m], set.end[m] - (m ? set.end[m - 1] : 0), n_cols, set.stride[m],
                                 n_tok, set.y[m])) {
                g->n_int_tiles++;
                g->n_lg_tiles++;
                continue;
            }
            const int64_t rows = set.end[m] - (m ? set.end[m - 1] : 0);
            const dim3 grid(rf_gpu_blocks(n_tok, 16 * wn), rf_gpu_blocks(rows, 16 * um * wm));
            switch ((int)wtype) {
#define X(T) case T: rf_launch(g->pdl, rf_k_matmul_int<T, RF_IT_UM(T)>, grid, dim3(RF_IT_THREADS), 0, g->stream, \
                               set.w[m], rows, n_cols, set.stride[m], (const int8_t *)g->d_xq, (const float *)g->d_xd, \
                               n_tok, set.y[m]); break;
            X(RF_TYPE_Q4_0) X(RF_TYPE_Q8_0) X(RF_TYPE_Q4_K) X(RF_TYPE_Q6_K) X(RF_TYPE_IQ4_NL) X(RF_TYPE_IQ4_XS)
#undef X
            }
            g->n_int_tiles++;
        }
        GPU_LAUNCHED("matmul_int");
    } else if (mixed) { /* rf_gpu_mixed_set: never on the tiles */
        rf_matvec_q8_t<RF_TYPE_Q4_K, RF_TYPE_Q6_K>(g, set, n_cols, n_tok);
    } else switch ((int)wtype) {
    case RF_TYPE_Q4_0: rf_matvec_q8_t<RF_TYPE_Q4_0>(g, set, n_cols, n_tok); break;
    case RF_TYPE_Q8_0: rf_matvec_q8_t<RF_TYPE_Q8_0>(g, set, n_cols, n_tok); break;
    case RF_TYPE_Q4_K: rf_matvec_q8_t<RF_TYPE_Q4_K>(g, set, n_cols, n_tok); break;
    case RF_TYPE_Q5_K: rf_matvec_q8_t<RF_TYPE_Q5_K>(g, set, n_cols, n_tok); break;
    case RF_TYPE_Q6_K: rf_matvec_q8_t<RF_TYPE_Q6_K>(g, set, n_cols, n_tok); break;
    case RF_TYPE_IQ4_NL: rf_matvec_q8_t<RF_TYPE_IQ4_NL>(g, set, n_cols, n_tok); break;
    case RF_TYPE_IQ4_XS: rf_matvec_q8_t<RF_TYPE_IQ4_XS>(g, set, n_cols, n_tok); break;
    }
    GPU_LAUNCHED("matvec_q8");
    /* still valid for the next product of the same input, unless a y overwrote it */
    bool overlap = false;
    for (int m = 0; m < set.n; m++) {
        const int64_t rows = set.end[m] - (m ? set.end[m - 1] : 0);
        overlap |= set.y[m] < d_x + n && d_x < set.y[m] + n_tok * rows;
    }
    g->q8_src = overlap ? NULL : d_x;
    g->q8_n = n;
    return RF_OK;
}

extern "C" rf_status rf_gpu_matmul_vec(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows,
                                       int64_t n_cols, size_t row_stride, const float *d_x, int64_t n_tok,
                                       float *d_y, rf_error *err)
{
    if (!rf_gpu_int_on() || !rf_gpu_int_type(wtype) || n_tok <= 0 || (uint64_t)n_cols > g->q8_cap)
        return rf_gpu_matmul_vec_f32(g, wtype, d_w, n_rows, n_cols, row_stride, d_x, n_tok, d_y, err);
    int64_t n_chunks = 0, tail = 0;
    rf_status st = rf_gpu_row_plan(wtype, d_w, n_rows, n_cols, row_stride, d_x, &n_chunks, &tail, err);
    if (st != RF_OK) return st;
    /* more tokens than the scratch holds: in groups, so every token takes
     * the same path whatever the batch size */
    const int64_t fit = (int64_t)(g->q8_cap / (uint64_t)n_cols);
    if (n_tok > fit) {
        for (int64_t t0 = 0; t0 < n_tok; t0 += fit) {
            const int64_t k = n_tok - t0 < fit ? n_tok - t0 : fit;
            st = rf_gpu_matmul_vec(g, wtype, d_w, n_rows, n_cols, row_stride, d_x + t0 * n_cols, k,
                                   d_y + t0 * n_rows, err);
            if (st != RF_OK) return st;
        }
        return RF_OK;
    }
    rf_mv_set set;
    memset(&set, 0, sizeof set);
    set.n = 1;
    set.w[0] = (const uint8_t *)d_w;
    set.y[0] = d_y;
    set.stride[0] = row_stride;
    set.end[0] = n_rows;
    return rf_gpu_matvec_set(g, wtype, set, n_cols, d_x, n_tok, err);
}

static bool rf_gpu_gemm_multi(rf_gpu *g, int n_w, const rf_gpu_mat *w, const float *d_x, int64_t n_tok,
                              float *const *d_y, rf_status *st, rf_error *err);

/* The decode products of a set whose last weight is Q6_K and the others
 * Q4_K (rf_k_matvec_kq2), where the decode kernels take them. */
static bool rf_gpu_mixed_set(rf_gpu *g, int n_w, const rf_gpu_mat *w, int64_t n_tok)
{
    if (n_w < 2 || w[n_w - 1].type != RF_TYPE_Q6_K || !rf_gpu_wide_kq()) return false;
    for (int m = 0; m < n_w - 1; m++)
        if (w[m].type != RF_TYPE_Q4_K) return false;
    return !rf_gpu_int_tiles(g, RF_TYPE_Q4_K, n_tok) && !rf_gpu_int_tiles(g, RF_TYPE_Q6_K, n_tok);
}

extern "C" rf_status rf_gpu_matmul_multi(rf_gpu *g, int n_w, const rf_gpu_mat *w, const float *d_x, int64_t n_tok,
                                         float *const *d_y, rf_error *err)
{
    if (n_w <= 0) return RF_OK;
    rf_status gst = RF_OK;
    if (rf_gpu_gemm_multi(g, n_w, w, d_x, n_tok, d_y, &gst, err)) return gst;
    bool one = n_w <= RF_MV_SET && n_tok > 0 && rf_gpu_int_on() && rf_gpu_int_type(w[0].type) &&
               (uint64_t)(n_tok * w[0].n_cols) <= g->q8_cap && !rf_gpu_mma_for(g, n_tok);
    const bool mixed = one && rf_gpu_mixed_set(g, n_w, w, n_tok);
    for (int m = 0; m < n_w && one; m++) {
        one = (w[m].type == w[0].type || mixed) && w[m].n_cols == w[0].n_cols;
        /* no output may overwrite the shared input */
        one = one && !(d_y[m] < d_x + n_tok * w[0].n_cols && d_x < d_y[m] + n_tok * w[m].n_rows);
    }
    if (!one) {
        for (int m = 0; m < n_w; m++) {
            rf_status st = rf_gpu_matmul(g, w[m].type, w[m].d, w[m].n_rows, w[m].n_cols, w[m].row_stride, d_x, n_tok,
                                         d_y[m], err);
            if (st != RF_OK) return st;
        }
        return RF_OK;
    }
    rf_mv_set set;
    memset(&set, 0, sizeof set);
    set.n = n_w;
    for (int m = 0; m < n_w; m++) {
        int64_t n_chunks = 0, tail = 0;
        rf_status st = rf_gpu_row_plan(w[m].type, w[m].d, w[m].n_rows, w[m].n_cols, w[m].row_stride, d_x, &n_chunks,
                                       &tail, err);
        if (st != RF_OK) return st;
        set.w[m] = (const uint8_t *)w[m].d;
        set.y[m] = d_y[m];
        set.stride[m] = w[m].row_stride;
        set.end[m] = (m ? set.end[m - 1] : 0) + w[m].n_rows;
    }
    return rf_gpu_matvec_set(g, w[0].type, set, w[0].n_cols, d_x, n_tok, err, mixed);
}

extern "C" rf_status rf_gpu_matmul_vec_f32(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows,
                                           int64_t n_cols, size_t row_stride, const float *d_x, int64_t n_tok,
                                           float *d_y, rf_error *err)
{
    int64_t n_chunks = 0, tail = 0;
    rf_status st = rf_gpu_row_plan(wtype, d_w, n_rows, n_cols, row_stride, d_x, &n_chunks, &tail, err);
    if (st != RF_OK) return st;
    if (n_tok <= 0) return RF_OK;
    switch ((int)wtype) {
#define X(T) case T: rf_matvec_t<T>(g, d_w, n_rows, n_cols, row_stride, d_x, n_tok, d_y, n_chunks, tail); break;
        RF_GPU_TYPES(X)
#undef X
    }
    GPU_LAUNCHED("matvec");
    return RF_OK;
}

static void rf_dequant_launch(rf_gpu *g, rf_type wtype, const uint8_t *w, int64_t rows, int64_t n_cols,
                              size_t row_stride, __half *dst)
{
    const unsigned nb = rf_gpu_blocks(rows * (n_cols / 8), 256);
    switch ((int)wtype) {
#define X(T) case T: rf_launch(g->pdl, rf_k_dequant_f16<T>, dim3(nb), dim3(256), 0, g->stream, w, rows, n_cols, \
                           row_stride, dst); break;
        RF_GPU_TYPES(X)
#undef X
    }
}

/* rows of A (F16, lda apart) times the tokens' F16 activations in d_xh */
static rf_status rf_gemm_launch(rf_gpu *g, const __half *a, int64_t lda, int64_t rows, int64_t n_cols, int64_t n_tok,
                                const rf_gm_out &out, rf_error *err)
{
    if (!g->gemm_smem_set) {
        GPU_TRY(gpuFuncSetMaxDynamicShared(rf_k_gemm_f16<128>, (int)GM_SMEM(128)));
        GPU_TRY(gpuFuncSetMaxDynamicShared(rf_k_gemm_f16<64>, (int)GM_SMEM(64)));
        g->gemm_smem_set = true;
    }
    if ((n_tok + GM_BN - 1) / GM_BN > 0x7fffffff || (rows + 63) / 64 > 65535)
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU GEMM: %lld tokens x %lld rows is too large", (long long)n_tok,
                      (long long)rows);
    /* 64-row blocks when 128-row ones would not fill two per SM */
    const bool small = (int64_t)rf_gpu_blocks(rows, 128) * rf_gpu_blocks(n_tok, GM_BN) <
                       2 * (int64_t)(g->info.n_sm > 0 ? g->info.n_sm : 1);
    if (small)
        rf_launch(g->pdl, rf_k_gemm_f16<64>, dim3(rf_gpu_blocks(n_tok, GM_BN), rf_gpu_blocks(rows, 64)),
                  dim3(GM_THREADS), GM_SMEM(64), g->stream, a, lda, rows, (const __half *)g->d_xh, n_tok, n_cols, out);
    else
        rf_launch(g->pdl, rf_k_gemm_f16<128>, dim3(rf_gpu_blocks(n_tok, GM_BN), rf_gpu_blocks(rows, 128)),
                  dim3(GM_THREADS), GM_SMEM(128), g->stream, a, lda, rows, (const __half *)g->d_xh, n_tok, n_cols, out);
    g->n_gemm++;
    GPU_LAUNCHED("gemm_f16");
    return RF_OK;
}

/* The F16 GEMM of a product whose activations are in d_xh: row blocks of
 * `block` rows decoded into d_wh (or read in place), each multiplied with
 * every token. */
static rf_status rf_gpu_gemm(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows, int64_t n_cols,
                             size_t row_stride, int64_t n_tok, float *d_y, int64_t block, bool in_place,
                             rf_error *err)
{
    for (int64_t r0 = 0; r0 < n_rows; r0 += block) {
        const int64_t rows = n_rows - r0 < block ? n_rows - r0 : block;
        const uint8_t *wr = (const uint8_t *)d_w + r0 * row_stride;
        const __half *a = (const __half *)wr;
        int64_t lda = (int64_t)(row_stride / 2);
        if (!in_place) {
            rf_dequant_launch(g, wtype, wr, rows, n_cols, row_stride, g->d_wh);
            a = g->d_wh;
            lda = n_cols;
        }
        rf_gm_out out;
        memset(&out, 0, sizeof out);
        out.n = 1;
        out.y[0] = d_y + r0;
        out.end[0] = rows;
        out.ld[0] = n_rows;
        rf_status st = rf_gemm_launch(g, a, lda, rows, n_cols, n_tok, out, err);
        if (st != RF_OK) return st;
    }
    return RF_OK;
}

/* The activations' F16 form in d_xh, made once per input; false: the
 * scratch cannot hold them */
static bool rf_gpu_xh_ready(rf_gpu *g, const float *d_x, int64_t n_tok, int64_t n_cols)
{
    const int64_t n = n_tok * n_cols;
    if (!g->d_xh || (uint64_t)n > g->q8_cap || n_cols % 8) return false;
    if (g->xh_src != d_x || g->xh_n != n) {
        rf_launch(g->pdl, rf_k_to_f16, dim3(rf_gpu_blocks(n / 4, 256)), dim3(256), 0, g->stream, d_x, n / 4, g->d_xh);
        rf_gpu_forget_scratch(g);
    }
    return true;
}

/* Up to RF_MV_SET quantized weights of one input decoded one after another
 * into d_wh and multiplied in one GEMM (q, k, v; gate, up): false when they
 * do not qualify (types, widths, room), nothing launched then. */
static bool rf_gpu_gemm_multi(rf_gpu *g, int n_w, const rf_gpu_mat *w, const float *d_x, int64_t n_tok,
                              float *const *d_y, rf_status *st, rf_error *err)
{
    if (n_w < 2 || n_w > RF_MV_SET || !rf_gpu_mma_for(g, n_tok)) return false;
    const int64_t n_cols = w[0].n_cols;
    int64_t total = 0;
    for (int m = 0; m < n_w; m++) {
        int64_t n_chunks = 0, tail = 0;
        rf_error e2;
        /* types may differ (each is decoded on its own): not F16, read in place */
        if (w[m].n_cols != n_cols || w[m].type == RF_TYPE_F16 ||
            rf_gpu_row_plan(w[m].type, w[m].d, w[m].n_rows, n_cols, w[m].row_stride, d_x, &n_chunks, &tail, &e2) ||
            n_chunks * 32 != n_cols)
            return false;
        /* no output may overwrite the shared input */
        if (d_y[m] < d_x + n_tok * n_cols && d_x < d_y[m] + n_tok * w[m].n_rows) return false;
        total += w[m].n_rows;
    }
    if ((uint64_t)(total * n_cols) > g->wh_cap || !rf_gpu_xh_ready(g, d_x, n_tok, n_cols)) return false;
    rf_gm_out out;
    memset(&out, 0, sizeof out);
    out.n = n_w;
    int64_t r0 = 0;
    for (int m = 0; m < n_w; m++) {
        rf_dequant_launch(g, w[m].type, (const uint8_t *)w[m].d, w[m].n_rows, n_cols, w[m].row_stride,
                          g->d_wh + r0 * n_cols);
        r0 += w[m].n_rows;
        out.y[m] = d_y[m];
        out.end[m] = r0;
        out.ld[m] = w[m].n_rows;
    }
    *st = rf_gemm_launch(g, g->d_wh, n_cols, total, n_cols, n_tok, out, err);
    if (*st == RF_OK) {
        g->xh_src = d_x;
        g->xh_n = n_tok * n_cols;
    }
    return true;
}

extern "C" uint64_t rf_gpu_gemm_launches(const rf_gpu *g) { return g->n_gemm; }

extern "C" rf_status rf_gpu_matmul_mma(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows,
                                       int64_t n_cols, size_t row_stride, const float *d_x, int64_t n_tok,
                                       float *d_y, rf_error *err)
{
    int64_t n_chunks = 0, tail = 0;
    rf_status st = rf_gpu_row_plan(wtype, d_w, n_rows, n_cols, row_stride, d_x, &n_chunks, &tail, err);
    if (st != RF_OK) return st;
    if (n_tok <= 0) return RF_OK;
    /* the GEMM needs whole 32-wide k-steps, the activations' F16 form (the
     * scratch must hold them) and room to decode 128 rows, or F16 rows it
     * can read in place; otherwise the batch-invariant paths take it */
    const bool in_place = wtype == RF_TYPE_F16 && row_stride % 16 == 0 && (uintptr_t)d_w % 16 == 0;
    const int64_t block = in_place ? n_rows : (int64_t)(g->wh_cap / (uint64_t)n_cols) / 128 * 128;
    if (n_chunks * 32 != n_cols || block <= 0 || !rf_gpu_xh_ready(g, d_x, n_tok, n_cols))
        return rf_gpu_matmul_vec(g, wtype, d_w, n_rows, n_cols, row_stride, d_x, n_tok, d_y, err);
    st = rf_gpu_gemm(g, wtype, d_w, n_rows, n_cols, row_stride, n_tok, d_y, block, in_place, err);
    if (st == RF_OK) { /* still valid for the next product of the same input (y never overlaps x here) */
        g->xh_src = d_x;
        g->xh_n = n_tok * n_cols;
    }
    return st;
}


extern "C" rf_status rf_gpu_matmul(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows,
                                   int64_t n_cols, size_t row_stride, const float *d_x, int64_t n_tok,
                                   float *d_y, rf_error *err)
{
    /* not batch invariant, but 5x the integer tiles' speed (H200, 8B
     * Q4_K_M pp512): for contexts that allow it */
    if (rf_gpu_mma_for(g, n_tok))
        return rf_gpu_matmul_mma(g, wtype, d_w, n_rows, n_cols, row_stride, d_x, n_tok, d_y, err);
    return rf_gpu_matmul_vec(g, wtype, d_w, n_rows, n_cols, row_stride, d_x, n_tok, d_y, err);
}

extern "C" uint64_t rf_gpu_int_tile_launches(const rf_gpu *g) { return g->n_int_tiles; }
extern "C" uint64_t rf_gpu_lg_tile_launches(const rf_gpu *g) { return g->n_lg_tiles; }
extern "C" uint64_t rf_gpu_mixed_launches(const rf_gpu *g) { return g->n_mixed; }

extern "C" rf_status rf_gpu_get_rows(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows,
                                     int64_t n_cols, size_t row_stride, const int32_t *d_ids, int64_t n,
                                     float scale, float *d_out, rf_error *err)
{
    int64_t n_chunks = 0, tail = 0;
    rf_status st = rf_gpu_row_plan(wtype, d_w, n_rows, n_cols, row_stride, NULL, &n_chunks, &tail, err);
    if (st != RF_OK) return st;
    if (n <= 0) return RF_OK;
    if (n > 0x7fffffff) return rf_err(err, RF_ERR_INVALID_ARG, "GPU get_rows: too many rows");
    switch ((int)wtype) {
#define X(T) case T: rf_launch(g->pdl, rf_k_get_rows<T>, dim3((unsigned)n), dim3(128), 0, g->stream,  \
        (const uint8_t *)d_w, n_rows, n_cols, row_stride, d_ids, scale, d_out, n_chunks, tail); break;
        RF_GPU_TYPES(X)
#undef X
    }
    GPU_LAUNCHED("get_rows");
    return RF_OK;
}
