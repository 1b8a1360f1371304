/* gpu_impl.cuh — what the GPU sources share: the context struct and the
 * checking wrappers that turn a runtime failure into an rf_error naming the
 * call, file and line. */
#ifndef RF_GPU_IMPL_CUH
#define RF_GPU_IMPL_CUH

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vendor.h"
#include "gpu.h"

extern "C" {
#include "base/base.h"
}

struct rf_gpu {
    int device;
    rf_gpu_device_info info;
    gpuStream_t stream;
    gpuEvent_t ev_start, ev_stop;
    /* rf_gpu_upload_staged: two pinned slots copies leave from, each free
     * again once its event has passed */
    uint8_t *h_stage;             /* (2 * RF_GPU_STAGE_BYTES), pinned, made on first use */
    gpuEvent_t ev_stage[2];
    bool stage_busy[2];
    int stage_next;
    bool capturing;
    gpuGraph_t graph;
    gpuGraphExec_t graph_exec;    /* NULL until a capture ended */
    unsigned long long *d_argmax; /* (RF_GPU_ARGMAX_ROWS) packed (value, id) keys of the greedy pick */
    int8_t *d_xq;                 /* (q8_cap) activations rounded to 8 bits, for the integer decode products */
    float *d_xd;                  /* (q8_cap / 32) their per-32 scales */
    size_t q8_cap;                /* elements; 0: integer products off */
    bool q8_owned;
    __half *d_xh;                 /* (q8_cap) activations in F16 for the prompt GEMM, owned with d_xq */
    const float *xh_src;          /* what d_xh holds (xh_n floats of), until any other launch */
    int64_t xh_n;
    /* The scratch holds the 8-bit form of q8_src (q8_n floats) until any
     * other launch, copy or sync: q, k, v (and gate, up) of one input then
     * share one rounding pass. */
    const float *q8_src;
    int64_t q8_n;
    bool allow_mma;               /* matrix units for prompts (not batch-invariant) */
    int path;                     /* RF_GPU_PATH_*: token roles (rf_gpu_set_path) */
    bool pdl;                     /* programmatic dependent launch (sm_90+; RF_GPU_PDL=0: off) */
    int code_cc;                  /* NVIDIA: the running code's architecture (90: sm_90), 0 elsewhere */
    float *d_srow;                /* (srow_cap) adjusted logits row of the greedy pick */
    int64_t srow_cap;
    int32_t *d_adj, *h_adj;       /* (adj_cap * 2) packed adjustments, device and host staging */
    int adj_cap;
    int32_t *d_pick;              /* the chosen id */
    uint64_t n_int_tiles;         /* integer tiles launched (tests) */
    uint64_t n_lg_tiles;          /* of those, lane-group tiles */
    uint64_t n_mixed;             /* decode launches of a Q4_K ... Q6_K set (tests) */
    uint32_t lg_smem_set;         /* bit per lane-group tile kernel: its shared-memory limit raised */
    uint32_t lg_smem_bad;         /* the same: refused (those products take rf_k_matmul_int) */
    __half *d_wh;                 /* (wh_cap) weights decoded to F16 for the prompt GEMM, a row block at a time */
    size_t wh_cap;                /* elements; 0: no GEMM (prompts take the batch-invariant paths) */
    bool wh_owned;
    bool gemm_smem_set;           /* the GEMM's shared-memory limit raised on this device */
    uint64_t n_gemm;              /* F16 GEMM launches (tests) */
    uint64_t n_fa;                /* matrix-unit attention launches (tests) */
    uint64_t fa_smem_set;         /* bit per (head dim / 16, KV type): its shared-memory limit raised */
    uint64_t fa_smem_bad;         /* the same: refused (that attention takes the plain kernel) */
    float *d_att_part;            /* split decode attention: a state per (row, head, chunk) (rf_gpu_reserve_attn) */
    unsigned *d_att_cnt;          /* (att_heads_cap) chunks done per (row, KV head group), zero between launches */
    int64_t att_heads_cap;        /* rows x heads the scratch holds */
    int att_hd_cap;               /* widest head it holds */
    bool att_owned;
    uint64_t n_att_split;         /* split attention launches (tests) */
};

/* After any launch, copy or sync: the activation scratches (8-bit, F16) no
 * longer stand for what they were made from. */
static inline void rf_gpu_forget_scratch(rf_gpu *g)
{
    g->q8_src = NULL;
    g->xh_src = NULL;
}

/* Evaluates a runtime call; on failure fills err and returns RF_ERR_BACKEND
 * from the enclosing function. */
#define GPU_TRY(call) do { gpuError_t e_ = (call); if (e_ != gpuSuccess) \
    return rf_err(err, RF_ERR_BACKEND, "%s failed: %s (%s:%d)", #call, gpuGetErrorString(e_), \
                  __FILE__, __LINE__); } while (0)

/* After a launch: configuration errors (bad grid, too much shared memory)
 * are reported at once; faults inside the kernel surface at rf_gpu_sync. */
#define GPU_LAUNCHED(name) do { rf_gpu_forget_scratch(g); gpuError_t e_ = gpuGetLastError(); if (e_ != gpuSuccess) \
    return rf_err(err, RF_ERR_BACKEND, "kernel %s: launch failed: %s", (name), gpuGetErrorString(e_)); \
    } while (0)

#define RF_GPU_ARGMAX_ROWS 1024
#define RF_GPU_STAGE_BYTES ((size_t)256 << 10)

static inline unsigned rf_gpu_blocks(int64_t n, int per) { return (unsigned)((n + per - 1) / per); }

/* Whether n_tok tokens may take the matrix units (F16 operands, not batch
 * invariant): contexts that allow it, or RF_GPU_MMA=1, from a dozen tokens. */
bool rf_gpu_mma_for(const rf_gpu *g, int64_t n_tok);

/* Whether the integer decode products are on (RF_GPU_DP4A=0 turns them off). */
bool rf_gpu_int_on(void);

/* Whether an op writing n_total floats in rows of n may also leave their
 * 8-bit form in the scratch for the next product (rows of whole 32-groups,
 * wide enough to be a product's input, and the scratch holds them). */
static inline bool rf_gpu_q8_fusable(const rf_gpu *g, int64_t n_total, int64_t n)
{
    return rf_gpu_int_on() && n % 32 == 0 && n >= 256 && n_total > 0 && (uint64_t)n_total <= g->q8_cap;
}

/* After a launch that also wrote the 8-bit form of y (n floats). */
#define GPU_LAUNCHED_Q8(name, y, n) do { GPU_LAUNCHED(name); g->q8_src = (y); g->q8_n = (n); } while (0)

/* Element i of a 32-group rounded to 8 bits, as ggml's quantize_row_q8_0:
 * d = max|x| / 127, q = roundf(x / d), d kept as F16. All 32 lanes of the
 * group call it together (on wave64 the group is half a wavefront). */
#if defined(__CUDACC__) || defined(__HIPCC__) || defined(__HIP__)
RF_DEV void rf_q8_put(float v, int64_t i, int8_t *xq, float *xd)
{
    const float d = rf_max32(fabsf(v)) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    xq[i] = (int8_t)roundf(v * id);
    if ((i & 31) == 0) xd[i >> 5] = __half2float(__float2half_rn(d));
}
#endif

#endif
