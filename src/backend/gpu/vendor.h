/* vendor.h — the one place where HIP (AMD) and CUDA (NVIDIA) differ.
 *
 * Every GPU source of rocmforge is written once, in CUDA-style C, against the
 * names below: the runtime API (gpu*), half types, warp shuffles and the warp
 * size. hipcc builds it for AMD, nvcc for NVIDIA. No other file may spell a
 * vendor runtime call, a literal warp width or a full-warp lane mask.
 *
 * Warp (wavefront) width is a per-target compile-time constant, RF_WARP:
 *   - CDNA / GCN (gfx9xx: gfx90a, gfx942, ...)  64
 *   - RDNA (gfx10xx, gfx11xx)                    32 (hipcc defaults to wave32 there)
 *   - NVIDIA                                     32
 * In the host pass of a HIP build the device width is unknown: host code
 * never uses RF_WARP for launch geometry; it reads the device's width at run
 * time (rf_gpu_device.warp) and kernels derive lane/warp indices from RF_WARP.
 * Launch block sizes are multiples of 64, so they split evenly either way.
 */
#ifndef RF_GPU_VENDOR_H
#define RF_GPU_VENDOR_H

#include <stdint.h>

#if defined(__HIPCC__) || defined(__HIP__) || defined(__HIP_PLATFORM_AMD__)
/* ================================================================= HIP */
#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>

#define RF_GPU_VENDOR_HIP 1
#define RF_GPU_VENDOR_NAME "hip"

#if defined(__HIP_DEVICE_COMPILE__)
#if defined(__AMDGCN_WAVEFRONT_SIZE)
#define RF_WARP __AMDGCN_WAVEFRONT_SIZE
#elif defined(__GFX9__)
#define RF_WARP 64
#else
#define RF_WARP 32
#endif
#else
#define RF_WARP 64 /* host pass: never used for launch geometry */
#endif

/* Matrix-unit families (see gpu_mma.cuh). */
#if defined(__HIP_DEVICE_COMPILE__) && (defined(__gfx908__) || defined(__gfx90a__) || \
    defined(__gfx940__) || defined(__gfx941__) || defined(__gfx942__) || defined(__gfx950__))
#define RF_MMA_MFMA 1
#elif defined(__HIP_DEVICE_COMPILE__) && (defined(__gfx1100__) || defined(__gfx1101__) || \
    defined(__gfx1102__) || defined(__gfx1103__) || defined(__gfx1150__) || defined(__gfx1151__))
#define RF_MMA_WMMA_RDNA3 1
#endif

typedef hipStream_t gpuStream_t;
typedef hipEvent_t gpuEvent_t;
typedef hipError_t gpuError_t;
typedef hipGraph_t gpuGraph_t;
typedef hipGraphExec_t gpuGraphExec_t;
typedef hipDeviceProp_t gpuDeviceProp_t;
#define gpuSuccess hipSuccess
#define gpuGetErrorString hipGetErrorString
#define gpuGetLastError hipGetLastError
#define gpuGetDeviceCount hipGetDeviceCount
#define gpuGetDevice hipGetDevice
#define gpuGetDeviceProperties hipGetDeviceProperties
#define gpuSetDevice hipSetDevice
#define gpuMemGetInfo hipMemGetInfo
#define gpuMalloc hipMalloc
#define gpuFree hipFree
#define gpuMallocHost(p, n) hipHostMalloc((p), (n), hipHostMallocDefault)
#define gpuFreeHost hipHostFree
#define gpuMemcpy hipMemcpy
#define gpuMemcpyAsync hipMemcpyAsync
#define gpuMemsetAsync hipMemsetAsync
#define gpuMemcpyHostToDevice hipMemcpyHostToDevice
#define gpuMemcpyDeviceToHost hipMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define gpuStreamCreate(s) hipStreamCreateWithFlags((s), hipStreamNonBlocking)
#define gpuStreamDestroy hipStreamDestroy
#define gpuStreamSynchronize hipStreamSynchronize
#define gpuDeviceSynchronize hipDeviceSynchronize
#define gpuEventCreate hipEventCreate
#define gpuEventCreateNoTiming(e) hipEventCreateWithFlags((e), hipEventDisableTiming)
#define gpuEventDestroy hipEventDestroy
#define gpuEventRecord hipEventRecord
#define gpuEventSynchronize hipEventSynchronize
#define gpuEventElapsedTime hipEventElapsedTime
#define gpuStreamBeginCapture(s) hipStreamBeginCapture((s), hipStreamCaptureModeThreadLocal)
#define gpuStreamEndCapture hipStreamEndCapture
#define gpuGraphInstantiate(e, g) hipGraphInstantiate((e), (g), NULL, NULL, 0)
#define gpuGraphLaunch hipGraphLaunch
#define gpuGraphDestroy hipGraphDestroy
#define gpuGraphExecDestroy hipGraphExecDestroy
#define gpuFuncSetMaxDynamicShared(f, n) \
    hipFuncSetAttribute((const void *)(f), hipFuncAttributeMaxDynamicSharedMemorySize, (n))

/* Device architecture as the user knows it: "gfx90a" (feature suffixes cut). */
#define RF_GPU_ARCH_FMT(prop, buf, n) do { \
        snprintf((buf), (n), "%s", (prop).gcnArchName); \
        char *rf_colon_ = strchr((buf), ':'); if (rf_colon_) *rf_colon_ = 0; } while (0)

/* Warp intrinsics: HIP shuffles act on the whole wavefront. */
#define rf_shfl_xor(v, m) __shfl_xor((v), (m), RF_WARP)
#define rf_shfl(v, src) __shfl((v), (src), RF_WARP)
#define rf_syncwarp() __builtin_amdgcn_wave_barrier()

#else
/* ================================================================ CUDA */
#include <cuda_runtime.h>
#include <cuda_fp16.h>

#define RF_GPU_VENDOR_CUDA 1
#define RF_GPU_VENDOR_NAME "cuda"
#define RF_WARP 32
#define RF_WARP_MASK_ALL 0xffffffffu
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define RF_MMA_MMA_NV 1
#endif

typedef cudaStream_t gpuStream_t;
typedef cudaEvent_t gpuEvent_t;
typedef cudaError_t gpuError_t;
typedef cudaGraph_t gpuGraph_t;
typedef cudaGraphExec_t gpuGraphExec_t;
typedef cudaDeviceProp gpuDeviceProp_t;
#define gpuSuccess cudaSuccess
#define gpuGetErrorString cudaGetErrorString
#define gpuGetLastError cudaGetLastError
#define gpuGetDeviceCount cudaGetDeviceCount
#define gpuGetDevice cudaGetDevice
#define gpuGetDeviceProperties cudaGetDeviceProperties
#define gpuSetDevice cudaSetDevice
#define gpuMemGetInfo cudaMemGetInfo
#define gpuMalloc cudaMalloc
#define gpuFree cudaFree
#define gpuMallocHost cudaMallocHost
#define gpuFreeHost cudaFreeHost
#define gpuMemcpy cudaMemcpy
#define gpuMemcpyAsync cudaMemcpyAsync
#define gpuMemsetAsync cudaMemsetAsync
#define gpuMemcpyHostToDevice cudaMemcpyHostToDevice
#define gpuMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define gpuStreamCreate(s) cudaStreamCreateWithFlags((s), cudaStreamNonBlocking)
#define gpuStreamDestroy cudaStreamDestroy
#define gpuStreamSynchronize cudaStreamSynchronize
#define gpuDeviceSynchronize cudaDeviceSynchronize
#define gpuEventCreate cudaEventCreate
#define gpuEventCreateNoTiming(e) cudaEventCreateWithFlags((e), cudaEventDisableTiming)
#define gpuEventDestroy cudaEventDestroy
#define gpuEventRecord cudaEventRecord
#define gpuEventSynchronize cudaEventSynchronize
#define gpuEventElapsedTime cudaEventElapsedTime
#define gpuStreamBeginCapture(s) cudaStreamBeginCapture((s), cudaStreamCaptureModeThreadLocal)
#define gpuStreamEndCapture cudaStreamEndCapture
#define gpuGraphInstantiate(e, g) cudaGraphInstantiate((e), (g), 0)
#define gpuGraphLaunch cudaGraphLaunch
#define gpuGraphDestroy cudaGraphDestroy
#define gpuGraphExecDestroy cudaGraphExecDestroy
#define gpuFuncSetMaxDynamicShared(f, n) \
    cudaFuncSetAttribute((f), cudaFuncAttributeMaxDynamicSharedMemorySize, (n))

#define RF_GPU_ARCH_FMT(prop, buf, n) snprintf((buf), (n), "sm_%d%d", (prop).major, (prop).minor)

#define rf_shfl_xor(v, m) __shfl_xor_sync(RF_WARP_MASK_ALL, (v), (m), RF_WARP)
#define rf_shfl(v, src) __shfl_sync(RF_WARP_MASK_ALL, (v), (src), RF_WARP)
#define rf_syncwarp() __syncwarp()
#endif

/* ====================================================== shared helpers */
#if defined(__CUDACC__) || defined(__HIPCC__) || defined(__HIP__)
#define RF_DEV static __device__ __forceinline__

/* Sum / max over the whole warp; every lane gets the result. */
RF_DEV float rf_warp_sum(float v)
{
#pragma unroll
    for (int m = RF_WARP / 2; m > 0; m >>= 1) v += rf_shfl_xor(v, m);
    return v;
}
RF_DEV float rf_warp_max(float v)
{
#pragma unroll
    for (int m = RF_WARP / 2; m > 0; m >>= 1) v = fmaxf(v, rf_shfl_xor(v, m));
    return v;
}
RF_DEV int rf_lane(void) { return (int)(threadIdx.x % RF_WARP); }
RF_DEV int rf_warp_id(void) { return (int)(threadIdx.x / RF_WARP); }
RF_DEV int rf_warps_per_block(void) { return (int)(blockDim.x / RF_WARP); }

/* Dot product of 4 signed bytes in a and b, plus c (NVIDIA: one DP4A). */
RF_DEV int rf_dp4a(int a, int b, int c)
{
#if defined(RF_GPU_VENDOR_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 610
    return __dp4a(a, b, c);
#else
    return c + (int)(int8_t)(a & 0xff) * (int)(int8_t)(b & 0xff) +
           (int)(int8_t)((a >> 8) & 0xff) * (int)(int8_t)((b >> 8) & 0xff) +
           (int)(int8_t)((a >> 16) & 0xff) * (int)(int8_t)((b >> 16) & 0xff) +
           (int)(int8_t)((a >> 24) & 0xff) * (int)(int8_t)((b >> 24) & 0xff);
#endif
}

/* Max over groups of 32 lanes (a whole warp on NVIDIA/RDNA, half a wave64). */
RF_DEV float rf_max32(float v)
{
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) v = fmaxf(v, rf_shfl_xor(v, m));
    return v;
}

/* Programmatic dependent launch (NVIDIA sm_90+): a kernel launched with it
 * is scheduled while its predecessor in the stream drains, and waits for
 * that predecessor's results in RF_PDL_WAIT(), which every kernel runs
 * before it reads anything a kernel writes (weights, positions and block
 * tables may come first); results are unchanged. Elsewhere
 * (AMD, older NVIDIA) the wait is empty and launches are plain. (Every
 * kernel letting its successor in right after its wait, with the products
 * prefetching their whole weight rows into L2 before theirs, measured
 * slower: 8B Q4_K_M tg128 312 vs 335 t/s, 1B 999 vs 1004, H200.) */
/* The small kernels that precede a product or the attention (RMSNorm, GLU,
 * attention, RoPE, the 8-bit rounding pass: a few blocks) let it launch at
 * once (RF_PDL_LAUNCH_NEXT after their own wait), and the decode products
 * touch their first weight bytes, the attention its first keys
 * (RF_PREFETCH_L2), before theirs: the first wave's DRAM latency then
 * overlaps the small kernel. Only a grid of at most RF_PDL_SMALL blocks
 * (one wave: a decode step's) lets its successor in early: with 512
 * RMSNorm rows (a prompt) it made the next products 44% slower (1B Q4_K_M
 * pp512 in gpu_bench, H200), and the products never do. RF_PDL_WAIT still
 * waits for the whole predecessor and its writes, so results are
 * unchanged. */
#define RF_PDL_SMALL 128
#if defined(RF_GPU_VENDOR_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define RF_PDL_WAIT() asm volatile("griddepcontrol.wait;" ::: "memory")
#define RF_PDL_LAUNCH_NEXT()                                                                            \
    do {                                                                                                 \
        if (gridDim.x * gridDim.y * gridDim.z <= RF_PDL_SMALL)                                           \
            asm volatile("griddepcontrol.launch_dependents;" ::: "memory");                              \
    } while (0)
/* the successor's launch whatever this grid's size: for kernels whose
 * blocks are all resident at once */
#define RF_PDL_LAUNCH_NEXT_ANY() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#define RF_PREFETCH_L2(p) asm volatile("prefetch.global.L2 [%0];" ::"l"(p))
#define RF_PREFETCH_L1(p) asm volatile("prefetch.global.L1 [%0];" ::"l"(p))
#else
#define RF_PDL_WAIT() ((void)0)
#define RF_PDL_LAUNCH_NEXT() ((void)0)
#define RF_PDL_LAUNCH_NEXT_ANY() ((void)0)
#define RF_PREFETCH_L2(p) ((void)(p))
#define RF_PREFETCH_L1(p) ((void)(p))
#endif

/* k<<<grid, block, smem, st>>>(args...), with programmatic dependent
 * launch when pdl (CUDA only). Launch errors surface through
 * gpuGetLastError as with <<<>>>. */
template <typename... KArgs, typename... Args>
static inline void rf_launch(bool pdl, void (*k)(KArgs...), dim3 grid, dim3 block, size_t smem, gpuStream_t st,
                             Args... args)
{
#if defined(RF_GPU_VENDOR_CUDA)
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = st;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = pdl ? 1 : 0;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    (void)cudaLaunchKernelEx(&cfg, k, static_cast<KArgs>(args)...);
#else
    (void)pdl;
    k<<<grid, block, smem, st>>>(static_cast<KArgs>(args)...);
#endif
}

/* 16 bytes global -> shared, asynchronous where the hardware copies on its
 * own (NVIDIA sm_80+ cp.async; zeros where !ok, src then unread), else a
 * plain load and store. rf_cp_commit() closes a group of copies and
 * rf_cp_wait<N>() waits until at most N groups are in flight (both empty
 * where the copy was synchronous); a barrier must follow before other
 * threads read the data. */
RF_DEV void rf_cp16(void *dst, const void *src, bool ok)
{
#if defined(RF_GPU_VENDOR_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(d), "l"(src), "r"(ok ? 16 : 0) : "memory");
#else
    *(uint4 *)dst = ok ? *(const uint4 *)src : make_uint4(0u, 0u, 0u, 0u);
#endif
}
/* the same for 4 bytes (4-byte aligned both sides) */
RF_DEV void rf_cp4(void *dst, const void *src, bool ok)
{
#if defined(RF_GPU_VENDOR_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(d), "l"(src), "r"(ok ? 4 : 0) : "memory");
#else
    *(uint32_t *)dst = ok ? *(const uint32_t *)src : 0u;
#endif
}
RF_DEV void rf_cp_commit(void)
{
#if defined(RF_GPU_VENDOR_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
template <int N> RF_DEV void rf_cp_wait(void)
{
#if defined(RF_GPU_VENDOR_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

/* IEEE half / bfloat16 from raw bits, without relying on vendor casts. */
RF_DEV float rf_h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
RF_DEV float rf_bf2f(uint16_t b) { return __uint_as_float((uint32_t)b << 16); }
#endif

#endif
