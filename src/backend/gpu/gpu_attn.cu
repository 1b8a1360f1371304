/* gpu_attn.cu — causal attention over the paged KV cache, fused: scores,
 * soft-capping, masking, online softmax and the V sum in one pass, nothing
 * written to memory but the output (FlashAttention's idea, on CUDA cores).
 *
 * One block per (query token, head). The keys of the token's sequence,
 * [first, pos] (first > 0 under a sliding window), are dealt to the block's
 * warps round-robin; each warp keeps a running max, sum and V accumulator
 * (lane l owns dims [l*dpl, l*dpl + dpl) of the head), and the warps' states
 * are merged at the end. Prefill and decode use the same kernel: many
 * tokens give many blocks; GQA/MQA map head h to KV head h / (n_head /
 * n_head_kv). Block tables, positions and sequence rows are read on the
 * device, so a captured decode graph stays valid as sequences grow.
 */
#include "gpu_impl.cuh"
#include "gpu_mma.cuh"

/* 32 warps per (token, head): a long context's keys are the whole cost of a
 * decode step's attention, one key per warp at a time (a dependent chain of
 * loads, a warp tree and two exponentials), so the warps set its speed.
 * H200, tg128 at depths 0 / 1024 / 4096 with 256, 512, 1024 threads:
 * 1B Q4_K_M 1139 / 473 / 174, 1146 / 671 / 302, 1150 / 809 / 442 t/s;
 * 8B Q4_K_M 371 / 187 / 75, 380 / 249 / 125, 371 / 290 / 175. */
#ifndef ATT_THREADS
#define ATT_THREADS 1024
#endif
#define ATT_MAX_HD 256
#define ATT_MAX_WARPS (ATT_THREADS / 32)

RF_DEV float rf_kv_get(const __half *p, int64_t i) { return __half2float(p[i]); }
RF_DEV float rf_kv_get(const float *p, int64_t i) { return p[i]; }

/* N (2 or 4) consecutive elements in one load (aligned: N elements apart) */
template <int N> RF_DEV void rf_kv_vec(const float *p, float v[4])
{
    if (N == 4) {
        const float4 a = *(const float4 *)p;
        v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
    } else {
        const float2 a = *(const float2 *)p;
        v[0] = a.x, v[1] = a.y;
    }
}
template <int N> RF_DEV void rf_kv_vec(const __half *p, float v[4])
{
    if (N == 4) {
        const uint2 a = *(const uint2 *)p;
        v[0] = rf_h2f((uint16_t)(a.x & 0xffff)), v[1] = rf_h2f((uint16_t)(a.x >> 16));
        v[2] = rf_h2f((uint16_t)(a.y & 0xffff)), v[3] = rf_h2f((uint16_t)(a.y >> 16));
    } else {
        const uint32_t a = *(const uint32_t *)p;
        v[0] = rf_h2f((uint16_t)(a & 0xffff)), v[1] = rf_h2f((uint16_t)(a >> 16));
    }
}

/* KV: __half or float, the pool's element type */
template <typename KV>
static __global__ __launch_bounds__(ATT_THREADS) void rf_k_attention(
    const float *__restrict__ q, const KV *__restrict__ kp, const KV *__restrict__ vp,
    const int32_t *__restrict__ btab, const int32_t *__restrict__ seq_row, const int32_t *__restrict__ pos,
    rf_attn_params p, float *__restrict__ out, int8_t *xq, float *xd)
{
    enum { DPL_MAX = ATT_MAX_HD / RF_WARP };
    __shared__ float sm_m[ATT_MAX_WARPS], sm_l[ATT_MAX_WARPS];
    __shared__ float sm_acc[ATT_MAX_WARPS][ATT_MAX_HD];

    const int t = blockIdx.x, h = blockIdx.y;
    const int hd = p.head_dim, kv_dim = p.n_head_kv * hd;
    const int hk = h / (p.n_head / p.n_head_kv);
    const int lane = rf_lane(), warp = rf_warp_id(), nw = rf_warps_per_block();
    const int dpl = (hd + RF_WARP - 1) / RF_WARP, d0 = lane * dpl;
    const float *qr = q + ((int64_t)t * p.n_head + h) * hd;
    const int32_t *tab = btab + (int64_t)seq_row[t] * p.max_blocks;
    const int last = pos[t];
    const int first = p.window > 0 && last - p.window + 1 > 0 ? last - p.window + 1 : 0;
    /* positions and block tables come from the host, not the predecessor:
     * this warp's first two keys (earlier than the step's own, which the
     * predecessor writes) head for L2 while it drains (vendor.h) */
    for (int kpos = first + warp, k2 = 0; k2 < 2 && kpos < last; kpos += nw, k2++) {
        const int64_t o = ((int64_t)tab[kpos / p.block_size] * p.block_size + kpos % p.block_size) * kv_dim +
                          (int64_t)hk * hd + (d0 < hd ? d0 : 0);
        RF_PREFETCH_L2(kp + o);
        RF_PREFETCH_L2(vp + o);
    }
    RF_PDL_WAIT();
    RF_PDL_LAUNCH_NEXT();

    float qv[DPL_MAX], acc[DPL_MAX];
#pragma unroll
    for (int j = 0; j < DPL_MAX; j++) {
        qv[j] = (j < dpl && d0 + j < hd) ? qr[d0 + j] * p.scale : 0.f;
        acc[j] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    if ((dpl == 4 || dpl == 2) && dpl * RF_WARP == hd) {
        /* whole vectors per lane: one load each for a key's K and V slices,
         * the next key's loaded while this one's are used (same sums) */
        const int64_t ho = (int64_t)hk * hd + d0;
        float kc[4], vc[4], kn[4], vn[4];
        int kpos = first + warp;
        if (kpos <= last) {
            const int64_t slot = (int64_t)tab[kpos / p.block_size] * p.block_size + kpos % p.block_size;
            if (dpl == 4) { rf_kv_vec<4>(kp + slot * kv_dim + ho, kc); rf_kv_vec<4>(vp + slot * kv_dim + ho, vc); }
            else { rf_kv_vec<2>(kp + slot * kv_dim + ho, kc); rf_kv_vec<2>(vp + slot * kv_dim + ho, vc); }
        }
        for (; kpos <= last; kpos += nw) {
            const int nk = kpos + nw;
            if (nk <= last) {
                const int64_t slot = (int64_t)tab[nk / p.block_size] * p.block_size + nk % p.block_size;
                if (dpl == 4) { rf_kv_vec<4>(kp + slot * kv_dim + ho, kn); rf_kv_vec<4>(vp + slot * kv_dim + ho, vn); }
                else { rf_kv_vec<2>(kp + slot * kv_dim + ho, kn); rf_kv_vec<2>(vp + slot * kv_dim + ho, vn); }
            }
            float s = 0.f;
#pragma unroll
            for (int j = 0; j < 4; j++)
                if (j < dpl) s += qv[j] * kc[j];
            s = rf_warp_sum(s);
            if (p.softcap > 0.0f) s = p.softcap * tanhf(s / p.softcap);
            const float m_new = fmaxf(m, s);
            const float corr = __expf(m - m_new), e = __expf(s - m_new);
            l = l * corr + e;
#pragma unroll
            for (int j = 0; j < 4; j++)
                if (j < dpl) acc[j] = acc[j] * corr + e * vc[j];
            m = m_new;
#pragma unroll
            for (int j = 0; j < 4; j++) kc[j] = kn[j], vc[j] = vn[j];
        }
    } else {
        for (int kpos = first + warp; kpos <= last; kpos += nw) {
            const int64_t slot = (int64_t)tab[kpos / p.block_size] * p.block_size + kpos % p.block_size;
            const KV *kr = kp + slot * kv_dim + (int64_t)hk * hd;
            const KV *vr = vp + slot * kv_dim + (int64_t)hk * hd;
            float s = 0.f;
#pragma unroll
            for (int j = 0; j < DPL_MAX; j++)
                if (j < dpl && d0 + j < hd) s += qv[j] * rf_kv_get(kr, d0 + j);
            s = rf_warp_sum(s);
            if (p.softcap > 0.0f) s = p.softcap * tanhf(s / p.softcap);
            const float m_new = fmaxf(m, s);
            const float corr = __expf(m - m_new), e = __expf(s - m_new);
            l = l * corr + e;
#pragma unroll
            for (int j = 0; j < DPL_MAX; j++)
                if (j < dpl && d0 + j < hd) acc[j] = acc[j] * corr + e * rf_kv_get(vr, d0 + j);
            m = m_new;
        }
    }
    if (lane == 0) { sm_m[warp] = m; sm_l[warp] = l; }
#pragma unroll
    for (int j = 0; j < DPL_MAX; j++)
        if (j < dpl && d0 + j < hd) sm_acc[warp][d0 + j] = acc[j];
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < nw; w++) M = fmaxf(M, sm_m[w]);
    float L = 0.f;
    for (int w = 0; w < nw; w++) L += sm_m[w] == -INFINITY ? 0.f : sm_l[w] * __expf(sm_m[w] - M);
    const int64_t o0 = ((int64_t)t * p.n_head + h) * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float s = 0.f;
        for (int w = 0; w < nw; w++)
            if (sm_m[w] != -INFINITY) s += sm_acc[w][d] * __expf(sm_m[w] - M);
        const float v = L > 0.f ? s / L : 0.f;
        out[o0 + d] = v;
        /* the output projection's 8-bit input (hd a multiple of 32: whole
         * groups of 32 threads) */
        if (xq) rf_q8_put(v, o0 + d, xq, xd);
    }
}

/* ------------------------------------- generated tokens: split keys */
/* A generated token's attention (one query per sequence) over a long
 * context: the kernel above gives each (token, head) one block, whose warps
 * take one key at a time (a dependent chain of loads, a warp tree and two
 * exponentials per key), and leaves most SMs idle (1B: 32 heads on 132
 * SMs). Here a block takes HPB query heads of one GQA group of one token
 * (they share each K and V load) and one chunk of its keys; a warp takes RF_WARP consecutive keys at a time, one per lane, each
 * lane forming its key's whole dot products with the group's queries (in
 * shared memory), then one max tree per head and tile and the V rows added
 * with the keys' weights broadcast from shared memory. The chunk depends on
 * the sequence's key count only (never on the batch), so a token's sums do
 * not depend on what shares its batch: one block when the keys fit
 * ATS_CHUNK, else up to ATS_SPLITS blocks whose states (max, sum, V
 * accumulators) the last one to finish merges in chunk order. */
#define ATS_THREADS 128
#define ATS_CHUNK 128
#define ATS_SPLITS RF_ATTN_SPLITS

/* keys per block for a sequence of n keys: a multiple of ATS_CHUNK, at most
 * ATS_SPLITS chunks */
RF_DEV int rf_ats_chunk(int n)
{
    const int c = (n + ATS_SPLITS - 1) / ATS_SPLITS;
    return (c + ATS_CHUNK - 1) / ATS_CHUNK * ATS_CHUNK;
}

/* 8 consecutive elements of a key row (16 bytes of F16, 32 of F32) */
RF_DEV void rf_kv_row8(const __half *p, float f[8])
{
    const uint4 u = *(const uint4 *)p;
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        f[2 * i] = rf_h2f((uint16_t)(w[i] & 0xffff));
        f[2 * i + 1] = rf_h2f((uint16_t)(w[i] >> 16));
    }
}
RF_DEV void rf_kv_row8(const float *p, float f[8])
{
    const float4 a = *(const float4 *)p, b = *(const float4 *)(p + 4);
    f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
}

/* a lane's N consecutive elements of a V row (N elements apart, aligned) */
template <int N, typename KV> RF_DEV void rf_kv_lane(const KV *p, float f[N])
{
    if (N == 8) {
        rf_kv_row8(p, f);
    } else if (N == 4 || N == 2) {
        float v[4];
        rf_kv_vec<N == 4 ? 4 : 2>(p, v);
#pragma unroll
        for (int i = 0; i < N; i++) f[i] = v[i];
    } else {
#pragma unroll
        for (int i = 0; i < N; i++) f[i] = rf_kv_get(p, i);
    }
}

template <typename KV, int HD, int HPB>
static __global__ __launch_bounds__(ATS_THREADS) void rf_k_attention_split(
    const float *__restrict__ q, const KV *__restrict__ kp, const KV *__restrict__ vp,
    const int32_t *__restrict__ btab, const int32_t *__restrict__ seq_row, const int32_t *__restrict__ pos,
    rf_attn_params p, float *__restrict__ out, int8_t *xq, float *xd, float *part, unsigned *cnt)
{
    /* V rows in flight per lane: 8, or 4 where a lane holds 8 dims per head */
    enum { DPL = (HD + RF_WARP - 1) / RF_WARP, NW = ATS_THREADS / RF_WARP, VU = DPL >= 8 ? 4 : 8 };
    __shared__ __align__(16) float sq[HPB][HD];
    __shared__ float sp[NW][HPB][RF_WARP];
    __shared__ float sm_m[NW][HPB], sm_l[NW][HPB];
    __shared__ float sacc[NW][HPB][HD];
    __shared__ int s_last;

    const int t = blockIdx.x, split = blockIdx.z;
    const int G = p.n_head / p.n_head_kv, n_grp = (G + HPB - 1) / HPB;
    const int hk = blockIdx.y / n_grp, g0 = (blockIdx.y % n_grp) * HPB;
    const int ng = G - g0 < HPB ? G - g0 : HPB;
    const int h0 = hk * G + g0;
    const int kv_dim = p.n_head_kv * HD, bs = p.block_size;
    const int lane = rf_lane(), warp = rf_warp_id(), d0 = lane * DPL;
    const int32_t *tab = btab + (int64_t)seq_row[t] * p.max_blocks;
    const int last = pos[t];
    const int first = p.window > 0 && last - p.window + 1 > 0 ? last - p.window + 1 : 0;
    const int chunk = rf_ats_chunk(last - first + 1);
    const int n_act = (last - first + chunk) / chunk;
    const int kb = first + split * chunk, ke = kb + chunk - 1 < last ? kb + chunk - 1 : last;
    if (split >= n_act) return; /* reads nothing its predecessor writes */
    /* positions and block tables come from the host: this warp's first keys'
     * rows (earlier than the step's own, which the predecessor writes) head
     * for L1 while it drains (vendor.h) */
    {
        const int kpos = kb + warp * RF_WARP + lane;
        if (kpos <= ke && kpos < last) {
            const int64_t o = ((int64_t)tab[kpos / bs] * bs + kpos % bs) * kv_dim + (int64_t)hk * HD;
#pragma unroll
            for (int b = 0; b < HD * (int)sizeof(KV); b += 128) {
                RF_PREFETCH_L1((const char *)(kp + o) + b);
                RF_PREFETCH_L1((const char *)(vp + o) + b);
            }
        }
    }
    RF_PDL_WAIT();
    RF_PDL_LAUNCH_NEXT_ANY(); /* 128-thread blocks: the grid is resident at once */
    const float *qb = q + ((int64_t)t * p.n_head + h0) * HD;
    for (int i = threadIdx.x; i < ng * HD; i += ATS_THREADS) sq[i / HD][i % HD] = qb[i] * p.scale;
    __syncthreads();

    float m[HPB], l[HPB], acc[HPB][DPL];
#pragma unroll
    for (int g = 0; g < HPB; g++) {
        m[g] = -INFINITY, l[g] = 0.f;
#pragma unroll
        for (int d = 0; d < DPL; d++) acc[g][d] = 0.f;
    }
    const KV *kh = kp + (int64_t)hk * HD, *vh = vp + (int64_t)hk * HD + (d0 < HD ? d0 : 0);
    for (int k0 = kb + warp * RF_WARP; k0 <= ke; k0 += NW * RF_WARP) {
        const int kpos = k0 + lane;
        const bool ok = kpos <= ke;
        const int slot = ok ? tab[kpos / bs] * bs + kpos % bs : 0;
        /* this lane's V row heads for L1 while the scores are formed: the
         * tile's V rows are then read from there, 8 keys at a time */
        if (ok) {
#pragma unroll
            for (int b = 0; b < HD * (int)sizeof(KV); b += 128)
                RF_PREFETCH_L1((const char *)(vp + (int64_t)slot * kv_dim + (int64_t)hk * HD) + b);
        }
        float s[HPB];
#pragma unroll
        for (int g = 0; g < HPB; g++) s[g] = 0.f;
        if (ok) {
            const KV *kr = kh + (int64_t)slot * kv_dim;
#pragma unroll 4
            for (int c = 0; c < HD / 8; c++) {
                float f[8];
                rf_kv_row8(kr + 8 * c, f);
#pragma unroll
                for (int g = 0; g < HPB; g++)
                    if (g < ng) {
                        const float4 a = *(const float4 *)&sq[g][8 * c], b = *(const float4 *)&sq[g][8 * c + 4];
                        s[g] += a.x * f[0] + a.y * f[1] + a.z * f[2] + a.w * f[3] + b.x * f[4] + b.y * f[5] +
                                b.z * f[6] + b.w * f[7];
                    }
            }
        }
        /* the tile's softmax per head: one max tree; the sums stay per lane */
#pragma unroll
        for (int g = 0; g < HPB; g++)
            if (g < ng) {
                float sg = s[g];
                if (p.softcap > 0.0f) sg = p.softcap * tanhf(sg / p.softcap);
                sg = ok ? sg : -INFINITY;
                const float mn = fmaxf(m[g], rf_warp_max(sg)); /* lane 0's key is in range */
                const float corr = __expf(m[g] - mn), e = ok ? __expf(sg - mn) : 0.f;
                l[g] = l[g] * corr + e;
#pragma unroll
                for (int d = 0; d < DPL; d++) acc[g][d] *= corr;
                sp[warp][g][lane] = e;
                m[g] = mn;
            }
        rf_syncwarp();
        /* V rows of the tile's keys in order; lanes own head dims */
        const int nk = ke - k0 + 1 < RF_WARP ? ke - k0 + 1 : RF_WARP;
        for (int j0 = 0; j0 < nk; j0 += VU) {
            float vv[VU][DPL];
#pragma unroll
            for (int i = 0; i < VU; i++) {
                const int sj = rf_shfl(slot, (j0 + i) & (RF_WARP - 1));
                if (j0 + i < nk && d0 < HD) rf_kv_lane<DPL>(vh + (int64_t)sj * kv_dim, vv[i]);
                else {
#pragma unroll
                    for (int d = 0; d < DPL; d++) vv[i][d] = 0.f;
                }
            }
#pragma unroll
            for (int i = 0; i < VU; i++)
                if (j0 + i < nk) {
#pragma unroll
                    for (int g = 0; g < HPB; g++)
                        if (g < ng) {
                            const float e = sp[warp][g][j0 + i];
#pragma unroll
                            for (int d = 0; d < DPL; d++) acc[g][d] += e * vv[i][d];
                        }
                }
        }
        rf_syncwarp();
    }
    /* the block's state: warps merged in order */
#pragma unroll
    for (int g = 0; g < HPB; g++)
        if (g < ng) {
            const float lw = rf_warp_sum(l[g]);
            if (lane == 0) sm_m[warp][g] = m[g], sm_l[warp][g] = lw;
            if (d0 < HD) {
#pragma unroll
                for (int d = 0; d < DPL; d++) sacc[warp][g][d0 + d] = acc[g][d];
            }
        }
    __syncthreads();
    const int64_t o0 = ((int64_t)t * p.n_head + h0) * HD;
    /* the warps' states merged in order, per (head, dim), in two loops (one
     * loop branching on n_act inside ran 4% slower at depth 4096: 1B Q4_K_M
     * 840 / 841 / 824 vs 871 / 885 / 881 t/s, H200, three alternations) */
    if (n_act == 1) {
        /* whole groups of 32 threads over the contiguous rows of the group's
         * heads (HD a multiple of 32 where xq is given) */
        for (int i = threadIdx.x; i < ng * HD; i += ATS_THREADS) {
            const int g = i / HD, d = i % HD;
            float M = -INFINITY;
            for (int w = 0; w < NW; w++) M = fmaxf(M, sm_m[w][g]);
            float L = 0.f, a = 0.f;
            for (int w = 0; w < NW; w++)
                if (sm_m[w][g] != -INFINITY) {
                    const float c = __expf(sm_m[w][g] - M);
                    L += sm_l[w][g] * c;
                    a += sacc[w][g][d] * c;
                }
            const float v = L > 0.f ? a / L : 0.f;
            out[o0 + i] = v;
            if (xq) rf_q8_put(v, o0 + i, xq, xd);
        }
        return;
    }
    /* a chunk's state: (head, chunk) rows of HD accumulators, max, sum */
    for (int i = threadIdx.x; i < ng * HD; i += ATS_THREADS) {
        const int g = i / HD, d = i % HD;
        float M = -INFINITY;
        for (int w = 0; w < NW; w++) M = fmaxf(M, sm_m[w][g]);
        float L = 0.f, a = 0.f;
        for (int w = 0; w < NW; w++)
            if (sm_m[w][g] != -INFINITY) {
                const float c = __expf(sm_m[w][g] - M);
                L += sm_l[w][g] * c;
                a += sacc[w][g][d] * c;
            }
        float *pr = part + (((int64_t)t * p.n_head + h0 + g) * ATS_SPLITS + split) * (HD + 2);
        pr[d] = a;
        if (d == 0) pr[HD] = M, pr[HD + 1] = L;
    }
    __threadfence();
    __syncthreads();
    unsigned *cn = cnt + (int64_t)t * gridDim.y + blockIdx.y;
    if (threadIdx.x == 0) s_last = atomicAdd(cn, 1u) == (unsigned)n_act - 1;
    __syncthreads();
    if (!s_last) return;
    /* the last block: every chunk's state, merged in chunk order */
    __threadfence();
    for (int i = threadIdx.x; i < ng * HD; i += ATS_THREADS) {
        const int g = i / HD, d = i % HD;
        const volatile float *pr = part + ((int64_t)t * p.n_head + h0 + g) * ATS_SPLITS * (HD + 2);
        float M = -INFINITY;
        for (int c = 0; c < n_act; c++) M = fmaxf(M, pr[c * (HD + 2) + HD]);
        float L = 0.f, a = 0.f;
        for (int c = 0; c < n_act; c++) {
            const float mc = pr[c * (HD + 2) + HD];
            if (mc == -INFINITY) continue;
            const float e = __expf(mc - M);
            L += pr[c * (HD + 2) + HD + 1] * e;
            a += pr[c * (HD + 2) + d] * e;
        }
        const float v = L > 0.f ? a / L : 0.f;
        out[o0 + i] = v;
        if (xq) rf_q8_put(v, o0 + i, xq, xd);
    }
    if (threadIdx.x == 0) *cn = 0; /* ready for the next launch */
}

template <int HD, int HPB>
static void rf_ats_go(rf_gpu *g, int64_t n_tok, const float *d_q, const void *d_k, const void *d_v,
                      const int32_t *d_btab, const int32_t *d_seq_row, const int32_t *d_pos, const rf_attn_params *p,
                      float *d_out, int8_t *xq, float *xd)
{
    const int G = p->n_head / p->n_head_kv;
    const dim3 grid((unsigned)n_tok, (unsigned)(p->n_head_kv * ((G + HPB - 1) / HPB)), ATS_SPLITS);
    if (p->kv_type == RF_TYPE_F16)
        rf_launch(g->pdl, rf_k_attention_split<__half, HD, HPB>, grid, dim3(ATS_THREADS), 0, g->stream, d_q,
                  (const __half *)d_k, (const __half *)d_v, d_btab, d_seq_row, d_pos, *p, d_out, xq, xd, g->d_att_part,
                  g->d_att_cnt);
    else
        rf_launch(g->pdl, rf_k_attention_split<float, HD, HPB>, grid, dim3(ATS_THREADS), 0, g->stream, d_q,
                  (const float *)d_k, (const float *)d_v, d_btab, d_seq_row, d_pos, *p, d_out, xq, xd, g->d_att_part,
                  g->d_att_cnt);
}

/* Query heads per block: 1 gives the most blocks (one token's short
 * context: 1B has 8 KV heads, 32 query heads), 4 shares each K and V load
 * among 4 heads of a GQA group where there are blocks enough; a head's sums
 * are the same either way (its scores, softmax and V sums do not depend on
 * which heads share its block), so the choice may follow the batch.
 * RF_GPU_ATT_HPB=1 or 4 forces one (comparisons). */
template <int HD>
static void rf_ats_pick(rf_gpu *g, int64_t n_tok, const float *d_q, const void *d_k, const void *d_v,
                        const int32_t *d_btab, const int32_t *d_seq_row, const int32_t *d_pos, const rf_attn_params *p,
                        float *d_out, int8_t *xq, float *xd)
{
    static int force = -1;
    if (force < 0) {
        const char *e = getenv("RF_GPU_ATT_HPB");
        force = e ? atoi(e) : 0;
    }
    const int G = p->n_head / p->n_head_kv;
    const bool four = force ? force == 4 : G >= 4 && n_tok * p->n_head >= 4 * 128;
    if (four) rf_ats_go<HD, 4>(g, n_tok, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, p, d_out, xq, xd);
    else rf_ats_go<HD, 1>(g, n_tok, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, p, d_out, xq, xd);
}

/* RF_GPU_ATT_SPLIT=0: every generated token on the plain kernel (comparisons) */
static bool rf_gpu_att_split_on(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("RF_GPU_ATT_SPLIT");
        on = !(e && e[0] == '0');
    }
    return on != 0;
}

/* The split kernel for these rows, when it applies (not prompt rows, which
 * take the matrix units or the plain kernel; head dims 32, 64, 96, 128,
 * 256; rows within the reserved scratch); false: the plain kernel. */
static bool rf_ats_try(rf_gpu *g, const float *d_q, const void *d_k, const void *d_v, const int32_t *d_btab,
                       const int32_t *d_seq_row, const int32_t *d_pos, int64_t n_tok, const rf_attn_params *p,
                       float *d_out, int8_t *xq, float *xd)
{
    if (!rf_gpu_att_split_on() || g->path == RF_GPU_PATH_PROMPT || !g->d_att_part) return false;
    if ((p->kv_type != RF_TYPE_F16 && p->kv_type != RF_TYPE_F32) || n_tok * p->n_head > g->att_heads_cap ||
        p->head_dim > g->att_hd_cap)
        return false;
    switch (p->head_dim) {
    case 32: rf_ats_pick<32>(g, n_tok, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, p, d_out, xq, xd); break;
    case 64: rf_ats_pick<64>(g, n_tok, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, p, d_out, xq, xd); break;
    case 96: rf_ats_pick<96>(g, n_tok, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, p, d_out, xq, xd); break;
    case 128: rf_ats_pick<128>(g, n_tok, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, p, d_out, xq, xd); break;
    case 256: rf_ats_pick<256>(g, n_tok, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, p, d_out, xq, xd); break;
    default: return false;
    }
    g->n_att_split++;
    return true;
}

extern "C" uint64_t rf_gpu_att_split_launches(const rf_gpu *g) { return g->n_att_split; }

/* ----------------------------------------- prompts on the matrix units */
/* Where batch invariance is not asked for (rf_gpu_mma_for), prompts take a
 * FlashAttention-2 style kernel: a block holds 16 queries per warp of one
 * head (Q scaled and rounded to F16 in shared memory), walks the keys of
 * their sequence 64 at a time (K and V^T rounded to F16 in shared memory,
 * read through the block table), forms S = Q K^T on the matrix units,
 * applies soft-capping, the causal / window / sequence mask and the online
 * softmax per row through shared memory, rescales the output accumulators
 * in registers and adds P V on the matrix units. A block's queries may
 * belong to several sequences (a mixed batch): it runs one pass per
 * sequence, masking the others' rows. The plain kernel above spent ~850 us
 * per 8B layer on a 512-token prompt (38% of the prompt, H200): one key
 * per warp step, a dependent chain of loads, shuffles and exponentials. */
#define FA_BK 64
#define FA_THREADS 128

template <int HD>
static size_t rf_fa_smem(int nw)
{
    const size_t bq = 16 * (size_t)nw;
    return 2 * (bq * (HD + 8) + (size_t)FA_BK * (HD + 8) + (size_t)HD * (FA_BK + 8) + bq * (FA_BK + 8)) +
           4 * (bq * (FA_BK + 4) + 7 * bq);
}

template <typename KV, int HD>
static __global__ __launch_bounds__(FA_THREADS) void rf_k_attention_mma(
    const float *__restrict__ q, const KV *__restrict__ kp, const KV *__restrict__ vp,
    const int32_t *__restrict__ btab, const int32_t *__restrict__ seq_row, const int32_t *__restrict__ pos,
    rf_attn_params p, int n_tok, float *__restrict__ out)
{
    extern __shared__ __align__(16) unsigned char rf_fa_sm[];
    enum { NW = FA_THREADS / RF_WARP, BQ = 16 * NW, LDH = HD + 8, LDK = FA_BK + 8, LDS = FA_BK + 4, NO = HD / 16,
           NS = FA_BK / 16, LPR = RF_WARP / 16, H4 = HD / 4 };
    __half *Qs = (__half *)rf_fa_sm;   /* [BQ][LDH] */
    __half *Ks = Qs + BQ * LDH;        /* [FA_BK][LDH] */
    __half *Vt = Ks + FA_BK * LDH;     /* [HD][LDK] */
    __half *Ps = Vt + HD * LDK;        /* [BQ][LDK] */
    float *Ss = (float *)(Ps + BQ * LDK); /* [BQ][LDS] */
    float *rm = Ss + BQ * LDS, *rl = rm + BQ, *rc = rl + BQ;
    int *rfirst = (int *)(rc + BQ), *rlast = rfirst + BQ, *rseq = rlast + BQ, *rdone = rseq + BQ;
    __shared__ int s_seq, s_lo, s_hi;
    RF_PDL_WAIT();
    const int q0 = blockIdx.x * BQ, h = blockIdx.y, tid = threadIdx.x, warp = rf_warp_id(), lane = rf_lane();
    const int hk = h / (p.n_head / p.n_head_kv), kv_dim = p.n_head_kv * HD;
    for (int r = tid; r < BQ; r += FA_THREADS) {
        const int t = q0 + r;
        const bool in = t < n_tok;
        const int last = in ? pos[t] : -1;
        rlast[r] = last;
        rfirst[r] = p.window > 0 && last - p.window + 1 > 0 ? last - p.window + 1 : 0;
        rseq[r] = in ? seq_row[t] : -1;
        rdone[r] = !in;
        rm[r] = -INFINITY;
        rl[r] = 0.f;
    }
    for (int i = tid; i < BQ * H4; i += FA_THREADS) {
        const int r = i / H4, c = (i % H4) * 4, t = q0 + r;
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (t < n_tok) v = *(const float4 *)(q + ((int64_t)t * p.n_head + h) * HD + c);
        __half2 *d = (__half2 *)(Qs + r * LDH + c);
        d[0] = __floats2half2_rn(v.x * p.scale, v.y * p.scale);
        d[1] = __floats2half2_rn(v.z * p.scale, v.w * p.scale);
    }
    rf_mma_acc o[NO];
#pragma unroll
    for (int i = 0; i < NO; i++) rf_mma_zero(o[i]);
    __syncthreads();
    const int R0 = warp * 16;
    for (;;) {
        /* the next sequence among the rows not done, and its key range */
        if (tid == 0) {
            int sq = -1, lo = 0x7fffffff, hi = -1;
            for (int r = 0; r < BQ; r++)
                if (!rdone[r]) { sq = rseq[r]; break; }
            for (int r = 0; r < BQ && sq >= 0; r++)
                if (!rdone[r] && rseq[r] == sq) {
                    lo = min(lo, rfirst[r]);
                    hi = max(hi, rlast[r]);
                }
            s_seq = sq, s_lo = lo, s_hi = hi;
        }
        __syncthreads();
        const int sq = s_seq, lo = s_lo, hi = s_hi;
        if (sq < 0) break;
        const int32_t *tab = btab + (int64_t)sq * p.max_blocks;
        /* key tiles at fixed positions (multiples of FA_BK), whatever the
         * window start of the other queries in the block: a query sees the
         * same tiles, hence the same sums, in any batch (the leading tiles
         * it masks whole leave its row untouched) */
        for (int k0 = lo / FA_BK * FA_BK; k0 <= hi; k0 += FA_BK) {
#pragma unroll 4
            for (int i = tid; i < FA_BK * H4; i += FA_THREADS) {
                const int kr = i / H4, c = (i % H4) * 4, kpos = k0 + kr;
                float kv[4] = {0.f, 0.f, 0.f, 0.f}, vv[4] = {0.f, 0.f, 0.f, 0.f};
                if (kpos >= lo && kpos <= hi) {
                    const int64_t slot = (int64_t)tab[kpos / p.block_size] * p.block_size + kpos % p.block_size;
                    const int64_t off = slot * kv_dim + (int64_t)hk * HD + c;
                    rf_kv_vec<4>(kp + off, kv);
                    rf_kv_vec<4>(vp + off, vv);
                }
                __half2 *d = (__half2 *)(Ks + kr * LDH + c);
                d[0] = __floats2half2_rn(kv[0], kv[1]);
                d[1] = __floats2half2_rn(kv[2], kv[3]);
#pragma unroll
                for (int j = 0; j < 4; j++) Vt[(c + j) * LDK + kr] = __float2half_rn(vv[j]);
            }
            __syncthreads();
            /* S = Q K^T for this warp's 16 rows, through shared memory */
            rf_mma_acc sa[NS];
#pragma unroll
            for (int j = 0; j < NS; j++) rf_mma_zero(sa[j]);
#pragma unroll
            for (int kk = 0; kk < HD; kk += 16) {
                rf_mma_a a;
                rf_mma_load_a(a, Qs + R0 * LDH + kk, LDH);
#pragma unroll
                for (int j = 0; j < NS; j++) {
                    rf_mma_b b;
                    rf_mma_load_b(b, Ks + j * 16 * LDH + kk, LDH);
                    rf_mma_run(sa[j], a, b);
                }
            }
            float *Sw = Ss + R0 * LDS;
#pragma unroll
            for (int j = 0; j < NS; j++) rf_mma_store(sa[j], Sw + j * 16, LDS);
            rf_syncwarp();
            {
                /* LPR lanes per row, columns interleaved */
                const int r = lane / LPR, part = lane % LPR, R = R0 + r;
                const bool act = !rdone[R] && rseq[R] == sq;
                const int f = rfirst[R], l = rlast[R];
                float mx = -INFINITY;
                for (int c = part; c < FA_BK; c += LPR) {
                    float v = Sw[r * LDS + c];
                    if (p.softcap > 0.0f) v = p.softcap * tanhf(v / p.softcap);
                    const int kpos = k0 + c;
                    v = act && kpos >= f && kpos <= l ? v : -INFINITY;
                    Sw[r * LDS + c] = v;
                    mx = fmaxf(mx, v);
                }
#pragma unroll
                for (int m = 1; m < LPR; m <<= 1) mx = fmaxf(mx, rf_shfl_xor(mx, m));
                const float m_old = rm[R], m_new = fmaxf(m_old, mx);
                float sum = 0.f;
                for (int c = part; c < FA_BK; c += LPR) {
                    const float v = Sw[r * LDS + c];
                    const float e = v == -INFINITY ? 0.f : __expf(v - m_new);
                    Ps[R * LDK + c] = __float2half_rn(e);
                    sum += e;
                }
#pragma unroll
                for (int m = 1; m < LPR; m <<= 1) sum += rf_shfl_xor(sum, m);
                const float corr = m_new == -INFINITY ? 1.f : __expf(m_old - m_new);
                rf_syncwarp();
                if (part == 0) {
                    rc[R] = corr;
                    rl[R] = rl[R] * corr + sum;
                    rm[R] = m_new;
                }
            }
            rf_syncwarp();
#pragma unroll
            for (int i = 0; i < NO; i++)
#pragma unroll
                for (int e = 0; e < RF_MMA_NE; e++) o[i].v[e] *= rc[R0 + rf_mma_row(e)];
#pragma unroll
            for (int kk = 0; kk < FA_BK; kk += 16) {
                rf_mma_a a;
                rf_mma_load_a(a, Ps + R0 * LDK + kk, LDK);
#pragma unroll
                for (int i = 0; i < NO; i++) {
                    rf_mma_b b;
                    rf_mma_load_b(b, Vt + i * 16 * LDK + kk, LDK);
                    rf_mma_run(o[i], a, b);
                }
            }
            __syncthreads(); /* K, V^T free for the next tile */
        }
        for (int r = tid; r < BQ; r += FA_THREADS)
            if (rseq[r] == sq) rdone[r] = 1;
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < NO; i++)
#pragma unroll
        for (int e = 0; e < RF_MMA_NE; e++) {
            const int R = R0 + rf_mma_row(e), t = q0 + R;
            if (t < n_tok) {
                const float L = rl[R];
                out[((int64_t)t * p.n_head + h) * HD + i * 16 + rf_mma_col(e)] = L > 0.f ? o[i].v[e] / L : 0.f;
            }
        }
}

/* RF_GPU_FA=0 keeps prompts on the plain kernel (comparisons) */
static bool rf_gpu_fa_on(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("RF_GPU_FA");
        on = !(e && e[0] == '0');
    }
    return on;
}

template <typename KV, int HD>
static bool rf_fa_go(rf_gpu *g, const float *d_q, const void *d_k, const void *d_v, const int32_t *d_btab,
                     const int32_t *d_seq_row, const int32_t *d_pos, int64_t n_tok, const rf_attn_params *p,
                     float *d_out)
{
    const int nw = FA_THREADS / g->info.warp;
    const size_t smem = rf_fa_smem<HD>(nw);
    void (*k)(const float *, const KV *, const KV *, const int32_t *, const int32_t *, const int32_t *,
              rf_attn_params, int, float *) = rf_k_attention_mma<KV, HD>;
    /* the shared-memory limit, raised once per kernel and device */
    const uint64_t bit = (uint64_t)1 << (2 * (HD / 16) + (sizeof(KV) == 2));
    if (g->fa_smem_bad & bit) return false;
    if (!(g->fa_smem_set & bit)) {
        if (gpuFuncSetMaxDynamicShared(k, (int)smem) != gpuSuccess) {
            (void)gpuGetLastError();
            g->fa_smem_bad |= bit;
            return false; /* more than the device grants a block (head dim 256 on 64 KB of LDS): the plain kernel */
        }
        g->fa_smem_set |= bit;
    }
    const dim3 grid(rf_gpu_blocks(n_tok, 16 * nw), (unsigned)p->n_head);
    rf_launch(g->pdl, k, grid, dim3(FA_THREADS), smem, g->stream, d_q, (const KV *)d_k,
              (const KV *)d_v, d_btab, d_seq_row, d_pos, *p, (int)n_tok, d_out);
    g->n_fa++;
    return true;
}

/* The matrix-unit kernel for this prompt, when it applies; false: use the plain one. */
static bool rf_fa_try(rf_gpu *g, const float *d_q, const void *d_k, const void *d_v, const int32_t *d_btab,
                      const int32_t *d_seq_row, const int32_t *d_pos, int64_t n_tok, const rf_attn_params *p,
                      float *d_out)
{
    if (!rf_gpu_fa_on() || !rf_gpu_mma_for(g, n_tok)) return false;
    bool ok = false;
    const bool f16 = p->kv_type == RF_TYPE_F16;
    switch (p->head_dim) {
    case 16: ok = f16 ? rf_fa_go<__half, 16>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out)
                      : rf_fa_go<float, 16>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out); break;
    case 32: ok = f16 ? rf_fa_go<__half, 32>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out)
                      : rf_fa_go<float, 32>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out); break;
    case 64: ok = f16 ? rf_fa_go<__half, 64>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out)
                      : rf_fa_go<float, 64>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out); break;
    case 80: ok = f16 ? rf_fa_go<__half, 80>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out)
                      : rf_fa_go<float, 80>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out); break;
    case 96: ok = f16 ? rf_fa_go<__half, 96>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out)
                      : rf_fa_go<float, 96>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out); break;
    case 128: ok = f16 ? rf_fa_go<__half, 128>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out)
                       : rf_fa_go<float, 128>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out); break;
    case 256: ok = f16 ? rf_fa_go<__half, 256>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out)
                       : rf_fa_go<float, 256>(g, d_q, d_k, d_v, d_btab, d_seq_row, d_pos, n_tok, p, d_out); break;
    default: return false;
    }
    return ok;
}

extern "C" uint64_t rf_gpu_fa_launches(const rf_gpu *g) { return g->n_fa; }

extern "C" rf_status rf_gpu_attention(rf_gpu *g, const float *d_q, const void *d_k_pool, const void *d_v_pool,
                                      const int32_t *d_btab, const int32_t *d_seq_row, const int32_t *d_pos,
                                      int64_t n_tok, const rf_attn_params *p, float *d_out, rf_error *err)
{
    if (n_tok <= 0) return RF_OK;
    if (p->head_dim <= 0 || p->head_dim > ATT_MAX_HD || p->n_head <= 0 || p->n_head_kv <= 0 ||
        p->n_head % p->n_head_kv || p->block_size <= 0 || p->max_blocks <= 0)
        return rf_err(err, RF_ERR_UNSUPPORTED,
                      "GPU attention: head_dim %d (max %d), %d heads over %d KV heads, block size %d not supported",
                      p->head_dim, ATT_MAX_HD, p->n_head, p->n_head_kv, p->block_size);
    if (n_tok > 0x7fffffff || p->n_head > 65535)
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU attention: too many tokens/heads");
    if ((p->kv_type == RF_TYPE_F16 || p->kv_type == RF_TYPE_F32) &&
        rf_fa_try(g, d_q, d_k_pool, d_v_pool, d_btab, d_seq_row, d_pos, n_tok, p, d_out)) {
        GPU_LAUNCHED("attention_mma");
        return RF_OK;
    }
    dim3 grid((unsigned)n_tok, (unsigned)p->n_head);
    const int64_t n_out = n_tok * (int64_t)p->n_head * p->head_dim;
    const bool q8 = p->head_dim % 32 == 0 && rf_gpu_q8_fusable(g, n_out, (int64_t)p->n_head * p->head_dim);
    int8_t *xq = q8 ? g->d_xq : NULL;
    float *xd = q8 ? g->d_xd : NULL;
    if (rf_ats_try(g, d_q, d_k_pool, d_v_pool, d_btab, d_seq_row, d_pos, n_tok, p, d_out, xq, xd)) {
        if (q8) GPU_LAUNCHED_Q8("attention_split", d_out, n_out);
        else GPU_LAUNCHED("attention_split");
        return RF_OK;
    }
    if (p->kv_type == RF_TYPE_F32)
        rf_launch(g->pdl, rf_k_attention<float>, dim3(grid), dim3(ATT_THREADS), 0, g->stream, d_q, (const float *)d_k_pool,
                                                                   (const float *)d_v_pool, d_btab, d_seq_row, d_pos,
                                                                   *p, d_out, xq, xd);
    else if (p->kv_type == RF_TYPE_F16)
        rf_launch(g->pdl, rf_k_attention<__half>, dim3(grid), dim3(ATT_THREADS), 0, g->stream, d_q, (const __half *)d_k_pool,
                                                                    (const __half *)d_v_pool, d_btab, d_seq_row,
                                                                    d_pos, *p, d_out, xq, xd);
    else
        return rf_err(err, RF_ERR_UNSUPPORTED, "GPU attention: KV cache type %s (F16 or F32 only)",
                      rf_type_name(p->kv_type));
    if (q8) GPU_LAUNCHED_Q8("attention", d_out, n_out);
    else GPU_LAUNCHED("attention");
    return RF_OK;
}
