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

#define ATT_THREADS 256
#define ATT_MAX_HD 256
#define ATT_MAX_WARPS (ATT_THREADS / 32)

RF_DEV float rf_kv_get(const __half *p, int64_t i) { return __half2float(p[i]); }
RF_DEV float rf_kv_get(const float *p, int64_t i) { return p[i]; }

/* KV: __half or float, the pool's element type */
template <typename KV>
static __global__ __launch_bounds__(ATT_THREADS) void rf_k_attention(
    const float *__restrict__ q, const KV *__restrict__ kp, const KV *__restrict__ vp,
    const int32_t *__restrict__ btab, const int32_t *__restrict__ seq_row, const int32_t *__restrict__ pos,
    rf_attn_params p, float *__restrict__ out, int8_t *xq, float *xd)
{
    RF_PDL_WAIT();
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

    float qv[DPL_MAX], acc[DPL_MAX];
#pragma unroll
    for (int j = 0; j < DPL_MAX; j++) {
        qv[j] = (j < dpl && d0 + j < hd) ? qr[d0 + j] * p.scale : 0.f;
        acc[j] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
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
    dim3 grid((unsigned)n_tok, (unsigned)p->n_head);
    const int64_t n_out = n_tok * (int64_t)p->n_head * p->head_dim;
    const bool q8 = p->head_dim % 32 == 0 && rf_gpu_q8_fusable(g, n_out, (int64_t)p->n_head * p->head_dim);
    int8_t *xq = q8 ? g->d_xq : NULL;
    float *xd = q8 ? g->d_xd : NULL;
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
