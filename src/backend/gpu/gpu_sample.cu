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
    rf_k_argmax<<<(unsigned)n_rows, SMP_THREADS, 0, g->stream>>>(d_logits, n_vocab, d_out);
    GPU_LAUNCHED("argmax");
    return RF_OK;
}
