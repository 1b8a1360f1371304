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
 * orders by value, then by lower id. NaN logits are skipped. */
RF_DEV unsigned long long rf_argmax_key(float v, int32_t i)
{
    uint32_t u = __float_as_uint(v);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* order-preserving */
    return ((unsigned long long)u << 32) | (0xffffffffu - (uint32_t)i);
}

static __global__ __launch_bounds__(256) void rf_k_argmax_part(const float *__restrict__ logits, int64_t n_vocab,
                                                               unsigned long long *keys)
{
    __shared__ unsigned long long sk[256 / 32];
    const float *row = logits + (int64_t)blockIdx.y * n_vocab;
    unsigned long long best = 0;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n_vocab; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = row[i];
        if (v == v) {
            const unsigned long long k = rf_argmax_key(v, (int32_t)i);
            best = k > best ? k : best;
        }
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
        rf_k_argmax_part<<<grid, 256, 0, g->stream>>>(d_logits, n_vocab, g->d_argmax);
        GPU_LAUNCHED("argmax_part");
        rf_k_argmax_done<<<rf_gpu_blocks(n_rows, 256), 256, 0, g->stream>>>(g->d_argmax, n_rows, d_out);
        GPU_LAUNCHED("argmax_done");
        return RF_OK;
    }
    rf_k_argmax<<<(unsigned)n_rows, SMP_THREADS, 0, g->stream>>>(d_logits, n_vocab, d_out);
    GPU_LAUNCHED("argmax");
    return RF_OK;
}
