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
    bool capturing;
    gpuGraph_t graph;
    gpuGraphExec_t graph_exec;    /* NULL until a capture ended */
    unsigned long long *d_argmax; /* (RF_GPU_ARGMAX_ROWS) packed (value, id) keys of the greedy pick */
    int8_t *d_xq;                 /* (q8_cap) activations rounded to 8 bits, for the integer decode products */
    float *d_xd;                  /* (q8_cap / 32) their per-32 scales */
    size_t q8_cap;                /* elements; 0: integer products off */
    bool q8_owned;
    /* The scratch holds the 8-bit form of q8_src (q8_n floats) until any
     * other launch, copy or sync: q, k, v (and gate, up) of one input then
     * share one rounding pass. */
    const float *q8_src;
    int64_t q8_n;
    bool allow_mma;               /* matrix units for prompts (not batch-invariant) */
};

/* Evaluates a runtime call; on failure fills err and returns RF_ERR_BACKEND
 * from the enclosing function. */
#define GPU_TRY(call) do { gpuError_t e_ = (call); if (e_ != gpuSuccess) \
    return rf_err(err, RF_ERR_BACKEND, "%s failed: %s (%s:%d)", #call, gpuGetErrorString(e_), \
                  __FILE__, __LINE__); } while (0)

/* After a launch: configuration errors (bad grid, too much shared memory)
 * are reported at once; faults inside the kernel surface at rf_gpu_sync. */
#define GPU_LAUNCHED(name) do { g->q8_src = NULL; gpuError_t e_ = gpuGetLastError(); if (e_ != gpuSuccess) \
    return rf_err(err, RF_ERR_BACKEND, "kernel %s: launch failed: %s", (name), gpuGetErrorString(e_)); \
    } while (0)

#define RF_GPU_ARGMAX_ROWS 1024

static inline unsigned rf_gpu_blocks(int64_t n, int per) { return (unsigned)((n + per - 1) / per); }

#endif
