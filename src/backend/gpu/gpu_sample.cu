/* gpu_sample.cu — choosing the next token on the device, so only its id
 * crosses to the host.
 *
 * Greedy (temperature <= 0) is an argmax with the lowest id winning ties,
 * as the CPU sampler does. Stochastic sampling with temperature, top-k,
 * top-p, min-p and the repetition penalties is done on the host for now
 * (rf_gpu_sample reports RF_ERR_UNSUPPORTED so callers fall back).
 */
#include "gpu_impl.cuh"

#define SMP_THREADS 1024

static __global__ __launch_bounds__(SMP_THREADS) void rf_k_argmax(const float *__restrict__ logits, int64_t n_vocab,
                                                                  int32_t *__restrict__ out)
{
    RF_PDL_WAIT();
    __shared__ float sv[SMP_THREADS / 32];
    __shared__ int32_t si[SMP_THREADS / 32];
    const float *row = logits + (int64_t)blockIdx.x * n_vocab;
    float best = -INFINITY;
    int32_t bi = 0x7fffffff;
    for (int64_t i = threadIdx.x; i < n_vocab; i += blockDim.x) {
        const float v = row[i];
        if (v > best) { best = v; bi = (int32_t)i; } /* strided: first hit per thread is its lowest id */
    }
    for (int m = RF_WARP / 2; m > 0; m >>= 1) {
        const float ov = rf_shfl_xor(best, m);
        const int32_t oi = rf_shfl_xor(bi, m);
        if (ov > best || (ov == best && oi < bi)) { best = ov; bi = oi; }
    }
    if (rf_lane() == 0) { sv[rf_warp_id()] = best; si[rf_warp_id()] = bi; }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < rf_warps_per_block(); w++)
            if (sv[w] > best || (sv[w] == best && si[w] < bi)) { best = sv[w]; bi = si[w]; }
        /* all -inf/NaN rows: token 0, like a scan that never found a larger value */
        out[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
    }
}

/* Many blocks per row: each reduces a strided share of the vocabulary and
 * folds (value, id) into one 64-bit key per row with atomicMax; the key
 * orders by value, then by lower id. NaN logits count as -inf (the host
 * sampler's rule), so a row of NaN and -inf picks its first id. */
RF_DEV unsigned long long rf_argmax_key(float v, int32_t i)
{
    uint32_t u = __float_as_uint(v);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* order-preserving */
    return ((unsigned long long)u << 32) | (0xffffffffu - (uint32_t)i);
}

static __global__ __launch_bounds__(256) void rf_k_argmax_part(const float *__restrict__ logits, int64_t n_vocab,
                                                               unsigned long long *keys)
{
    RF_PDL_WAIT();
    __shared__ unsigned long long sk[256 / 32];
    const float *row = logits + (int64_t)blockIdx.y * n_vocab;
    unsigned long long best = 0;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n_vocab; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = row[i];
        const unsigned long long k = rf_argmax_key(v == v ? v : -INFINITY, (int32_t)i);
        best = k > best ? k : best;
    }
    for (int m = RF_WARP / 2; m > 0; m >>= 1) {
        const unsigned long long o = rf_shfl_xor(best, m);
        best = o > best ? o : best;
    }
    if (rf_lane() == 0) sk[rf_warp_id()] = best;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < rf_warps_per_block(); w++) best = sk[w] > best ? sk[w] : best;
        if (best) atomicMax(keys + blockIdx.y, best);
    }
}

static __global__ void rf_k_argmax_done(const unsigned long long *keys, int64_t n_rows, int32_t *out)
{
    RF_PDL_WAIT();
    const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r < n_rows) out[r] = keys[r] ? (int32_t)(0xffffffffu - (uint32_t)(keys[r] & 0xffffffffu)) : 0;
}

extern "C" rf_status rf_gpu_sample(rf_gpu *g, const float *d_logits, int64_t n_rows, int64_t n_vocab,
                                   const rf_gpu_sample_params *p, const int32_t *d_hist, int hist_cap,
                                   const float *d_uniform, int32_t *d_out, rf_error *err)
{
    (void)d_hist; (void)hist_cap; (void)d_uniform;
    if (n_rows <= 0) return RF_OK;
    if (n_vocab <= 0 || n_rows > 0x7fffffff) return rf_err(err, RF_ERR_INVALID_ARG, "GPU sample: bad shape");
    const bool greedy = p->temperature <= 0.0f && p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f &&
                        p->frequency_penalty == 0.0f;
    if (!greedy)
        return rf_err(err, RF_ERR_UNSUPPORTED, "GPU sample: only greedy sampling runs on the GPU; sample on the host");
    if (g->d_argmax && n_rows <= RF_GPU_ARGMAX_ROWS && n_rows <= 65535) {
        GPU_TRY(gpuMemsetAsync(g->d_argmax, 0, sizeof(unsigned long long) * (size_t)n_rows, g->stream));
        const int64_t nb = (n_vocab + 4095) / 4096; /* ~16 logits per thread */
        dim3 grid((unsigned)(nb < 1 ? 1 : nb > 1024 ? 1024 : nb), (unsigned)n_rows);
        rf_launch(g->pdl, rf_k_argmax_part, dim3(grid), dim3(256), 0, g->stream, d_logits, n_vocab, g->d_argmax);
        GPU_LAUNCHED("argmax_part");
        rf_launch(g->pdl, rf_k_argmax_done, dim3(rf_gpu_blocks(n_rows, 256)), dim3(256), 0, g->stream, g->d_argmax, n_rows, d_out);
        GPU_LAUNCHED("argmax_done");
        return RF_OK;
    }
    rf_launch(g->pdl, rf_k_argmax, dim3((unsigned)n_rows), dim3(SMP_THREADS), 0, g->stream, d_logits, n_vocab, d_out);
    GPU_LAUNCHED("argmax");
    return RF_OK;
}

/* ------------------------------------------------ greedy with adjustments */
/* adj layout (int32 words): pen_tok[n_pen] pen_cnt[n_pen] bias_tok[n_bias]
 * bias_val[n_bias] (float bits). Penalised tokens are unique: one thread
 * each. Biases run in order on one thread (a token may appear twice). Both
 * compute what sampler.c's smp_prepare computes, in the same float ops. */
static __global__ void rf_k_penalize(float *row, const int32_t *adj, int n_pen, float rp, float fp, float pp)
{
    RF_PDL_WAIT();
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_pen) return;
    const int32_t t = adj[i], cnt = adj[n_pen + i];
    if (cnt <= 0) return;
    float l = row[t];
    if (l != l) l = -INFINITY;
    l = l <= 0.0f ? l * rp : l / rp;
    l -= (float)cnt * fp + pp;
    row[t] = l;
}

static __global__ void rf_k_bias(float *row, const int32_t *adj, int n_pen, int n_bias)
{
    RF_PDL_WAIT();
    const int32_t *tok = adj + 2 * n_pen;
    const float *val = (const float *)(adj + 2 * n_pen + n_bias);
    for (int i = 0; i < n_bias; i++) {
        float l = row[tok[i]];
        if (l != l) l = -INFINITY;
        row[tok[i]] = l + val[i];
    }
}

extern "C" rf_status rf_gpu_reserve_sample(rf_gpu *g, int64_t n_vocab, int n_adj, rf_error *err)
{
    if (n_vocab <= g->srow_cap && n_adj <= g->adj_cap) return RF_OK;
    if (n_vocab < g->srow_cap) n_vocab = g->srow_cap;
    if (n_adj < g->adj_cap) n_adj = g->adj_cap;
    float *row = NULL;
    int32_t *adj = NULL, *pick = NULL;
    rf_status st = rf_gpu_alloc(g, sizeof(float) * (size_t)n_vocab, (void **)&row, "greedy pick row", err);
    if (st == RF_OK) st = rf_gpu_alloc(g, sizeof(int32_t) * 2 * (size_t)n_adj, (void **)&adj, "sampler adjustments", err);
    if (st == RF_OK) st = rf_gpu_alloc(g, sizeof(int32_t), (void **)&pick, "greedy pick", err);
    int32_t *h = st == RF_OK ? (int32_t *)malloc(sizeof(int32_t) * 2 * (size_t)n_adj) : NULL;
    if (st == RF_OK && !h) st = rf_err(err, RF_ERR_NOMEM, "GPU greedy pick: host staging of %d adjustments", n_adj);
    if (st != RF_OK) {
        rf_gpu_free(g, row); rf_gpu_free(g, adj); rf_gpu_free(g, pick);
        return st;
    }
    rf_gpu_free(g, g->d_srow); rf_gpu_free(g, g->d_adj); rf_gpu_free(g, g->d_pick);
    free(g->h_adj);
    g->d_srow = row; g->srow_cap = n_vocab;
    g->d_adj = adj; g->h_adj = h; g->adj_cap = n_adj;
    g->d_pick = pick;
    return RF_OK;
}

extern "C" rf_status rf_gpu_greedy(rf_gpu *g, const float *d_logits, int64_t n_vocab, const rf_greedy_adj *adj,
                                   int32_t *h_id, rf_error *err)
{
    const int n_pen = adj ? adj->n_pen : 0, n_bias = adj ? adj->n_bias : 0;
    if (n_vocab <= 0 || n_vocab > g->srow_cap || n_pen < 0 || n_bias < 0 || n_pen + n_bias > g->adj_cap || !g->d_argmax)
        return rf_err(err, RF_ERR_UNSUPPORTED, "GPU greedy pick: %lld logits, %d adjustments exceed the reserved scratch",
                      (long long)n_vocab, n_pen + n_bias);
    const float *row = d_logits;
    if (n_pen + n_bias > 0) {
        int32_t *h = g->h_adj;
        for (int i = 0; i < n_pen; i++) {
            if (adj->pen_tok[i] < 0 || adj->pen_tok[i] >= n_vocab)
                return rf_err(err, RF_ERR_INVALID_ARG, "GPU greedy pick: penalised token %d out of range", adj->pen_tok[i]);
            h[i] = adj->pen_tok[i];
            h[n_pen + i] = adj->pen_cnt[i];
        }
        for (int i = 0; i < n_bias; i++) {
            if (adj->bias_tok[i] < 0 || adj->bias_tok[i] >= n_vocab)
                return rf_err(err, RF_ERR_INVALID_ARG, "GPU greedy pick: biased token %d out of range", adj->bias_tok[i]);
            h[2 * n_pen + i] = adj->bias_tok[i];
            memcpy(&h[2 * n_pen + n_bias + i], &adj->bias_val[i], sizeof(float));
        }
        GPU_TRY(gpuMemcpyAsync(g->d_adj, h, sizeof(int32_t) * 2 * (size_t)(n_pen + n_bias), gpuMemcpyHostToDevice,
                               g->stream));
        GPU_TRY(gpuMemcpyAsync(g->d_srow, d_logits, sizeof(float) * (size_t)n_vocab, gpuMemcpyDeviceToDevice, g->stream));
        if (n_pen > 0) {
            rf_launch(g->pdl, rf_k_penalize, dim3(rf_gpu_blocks(n_pen, 256)), dim3(256), 0, g->stream, g->d_srow, g->d_adj, n_pen, adj->repeat_penalty,
                                                                          adj->frequency_penalty, adj->presence_penalty);
            GPU_LAUNCHED("penalize");
        }
        if (n_bias > 0) {
            rf_launch(g->pdl, rf_k_bias, dim3(1), dim3(1), 0, g->stream, g->d_srow, g->d_adj, n_pen, n_bias);
            GPU_LAUNCHED("bias");
        }
        row = g->d_srow;
    }
    rf_gpu_sample_params p;
    memset(&p, 0, sizeof p);
    p.repeat_penalty = 1.0f;
    rf_status st = rf_gpu_sample(g, row, 1, n_vocab, &p, NULL, 0, NULL, g->d_pick, err);
    if (st != RF_OK) return st;
    GPU_TRY(gpuMemcpyAsync(h_id, g->d_pick, sizeof(int32_t), gpuMemcpyDeviceToHost, g->stream));
    GPU_TRY(gpuStreamSynchronize(g->stream));
    rf_gpu_forget_scratch(g);
    return RF_OK;
}
