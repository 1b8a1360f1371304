/* gpu_mma.cuh — one warp-level matrix-multiply interface over each vendor's
 * matrix units, with a portable fallback.
 *
 * A warp (wavefront) accumulates a 16x16 F32 tile:
 *     C[m][n] += sum_k A[m][k] * B[n][k]      m, n, k < 16
 * A and B are F16 in shared memory, row-major with leading dimensions lda /
 * ldb (B is stored as [n][k], i.e. the weight-row-by-token layout the matmul
 * tiles use). Fragments are loaded apart from the product (rf_mma_load_a /
 * _b, rf_mma_run) so a warp reuses each across several tiles. A lane's
 * accumulator elements c.v[e], e < RF_MMA_NE, sit at C[rf_mma_row(e)]
 * [rf_mma_col(e)] (per-row scaling in registers). Implementations:
 *   - NVIDIA sm_80+: ldmatrix + mma.sync m16n8k16 (HMMA).
 *   - AMD CDNA (gfx908/90a/94x, wave64): v_mfma_f32_16x16x16f16. Lane l holds
 *     A[l%16][4(l/16)+j], B[n=l%16][4(l/16)+j] and C[4(l/16)+j][l%16], j<4.
 *   - AMD RDNA3 (gfx11, wave32): v_wmma_f32_16x16x16_f16. Lane l holds all 16
 *     k of A row l%16 and of B column l%16; C[2j + l/16][l%16], j<8.
 *   - anything else (RDNA2 gfx1030, NVIDIA before sm_80, ...): FMA loops, each lane owning
 *     256/RF_WARP elements of C.
 * The AMD paths are compiled in CI (gfx90a; gfx11 needs a full ROCm, see
 * docs/gpu.md) but have only been run on NVIDIA so far.
 */
#ifndef RF_GPU_MMA_CUH
#define RF_GPU_MMA_CUH

#include "vendor.h"

#if defined(RF_MMA_MMA_NV)
/* Two mma.sync m16n8k16 per tile, fragments by ldmatrix (rows 16-byte
 * aligned). Lane l = 4g + t holds C[g][8h + 2t + {0,1}] in v[4h + {0,1}]
 * and C[g + 8][...] in v[4h + {2,3}]; b.r[2h], b.r[2h + 1] are columns
 * 8h..8h+7. */
struct rf_mma_acc { float v[8]; };
struct rf_mma_a { uint32_t r[4]; };
struct rf_mma_b { uint32_t r[4]; };
RF_DEV void rf_mma_zero(rf_mma_acc &c)
{
#pragma unroll
    for (int j = 0; j < 8; j++) c.v[j] = 0.f;
}
RF_DEV void rf_ldsm4(uint32_t r[4], const __half *p)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}
/* A rows 0-15 at k 0 (lanes 0-15), then at k 8 (lanes 16-31): a0..a3 */
RF_DEV void rf_mma_load_a(rf_mma_a &a, const __half *A, int lda)
{
    const int l = rf_lane();
    rf_ldsm4(a.r, A + (l % 16) * lda + (l / 16) * 8);
}
/* B (stored [n][k]): n 0-7 at k 0, k 8, then n 8-15 at k 0, k 8 */
RF_DEV void rf_mma_load_b(rf_mma_b &b, const __half *B, int ldb)
{
    const int l = rf_lane();
    rf_ldsm4(b.r, B + ((l & 7) + 8 * (l >> 4)) * ldb + 8 * ((l >> 3) & 1));
}
RF_DEV void rf_mma_run(rf_mma_acc &c, const rf_mma_a &a, const rf_mma_b &b)
{
#pragma unroll
    for (int h = 0; h < 2; h++)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};"
                     : "+f"(c.v[4 * h]), "+f"(c.v[4 * h + 1]), "+f"(c.v[4 * h + 2]), "+f"(c.v[4 * h + 3])
                     : "r"(a.r[0]), "r"(a.r[1]), "r"(a.r[2]), "r"(a.r[3]), "r"(b.r[2 * h]), "r"(b.r[2 * h + 1]));
}
#define RF_MMA_NE 8
RF_DEV int rf_mma_row(int e) { return rf_lane() / 4 + 8 * ((e >> 1) & 1); }
RF_DEV int rf_mma_col(int e) { return 8 * (e >> 2) + 2 * (rf_lane() % 4) + (e & 1); }
RF_DEV void rf_mma_store(const rf_mma_acc &c, float *C, int ldc)
{
    const int g = rf_lane() / 4, t = rf_lane() % 4;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        C[g * ldc + 8 * h + 2 * t] = c.v[4 * h];
        C[g * ldc + 8 * h + 2 * t + 1] = c.v[4 * h + 1];
        C[(g + 8) * ldc + 8 * h + 2 * t] = c.v[4 * h + 2];
        C[(g + 8) * ldc + 8 * h + 2 * t + 1] = c.v[4 * h + 3];
    }
}

#elif defined(RF_MMA_MFMA)
typedef float rf_f32x4 __attribute__((ext_vector_type(4)));
typedef _Float16 rf_f16x4 __attribute__((ext_vector_type(4)));
struct rf_mma_acc { rf_f32x4 v; };
struct rf_mma_a { rf_f16x4 v; };
struct rf_mma_b { rf_f16x4 v; };
RF_DEV void rf_mma_zero(rf_mma_acc &c) { c.v = (rf_f32x4){0.f, 0.f, 0.f, 0.f}; }
RF_DEV void rf_mma_load_a(rf_mma_a &a, const __half *A, int lda)
{
    const int l = rf_lane();
    const _Float16 *p = (const _Float16 *)A + (l % 16) * lda + 4 * (l / 16);
    a.v = (rf_f16x4){p[0], p[1], p[2], p[3]};
}
RF_DEV void rf_mma_load_b(rf_mma_b &b, const __half *B, int ldb)
{
    const int l = rf_lane();
    const _Float16 *p = (const _Float16 *)B + (l % 16) * ldb + 4 * (l / 16);
    b.v = (rf_f16x4){p[0], p[1], p[2], p[3]};
}
RF_DEV void rf_mma_run(rf_mma_acc &c, const rf_mma_a &a, const rf_mma_b &b)
{
    c.v = __builtin_amdgcn_mfma_f32_16x16x16f16(a.v, b.v, c.v, 0, 0, 0);
}
#define RF_MMA_NE 4
RF_DEV int rf_mma_row(int e) { return 4 * (rf_lane() / 16) + e; }
RF_DEV int rf_mma_col(int e) { (void)e; return rf_lane() % 16; }
RF_DEV void rf_mma_store(const rf_mma_acc &c, float *C, int ldc)
{
    const int l = rf_lane(), n = l % 16, m0 = 4 * (l / 16);
#pragma unroll
    for (int j = 0; j < 4; j++) C[(m0 + j) * ldc + n] = c.v[j];
}

#elif defined(RF_MMA_WMMA_RDNA3)
typedef float rf_f32x8 __attribute__((ext_vector_type(8)));
typedef _Float16 rf_f16x16 __attribute__((ext_vector_type(16)));
struct rf_mma_acc { rf_f32x8 v; };
RF_DEV void rf_mma_zero(rf_mma_acc &c)
{
#pragma unroll
    for (int j = 0; j < 8; j++) c.v[j] = 0.f;
}
struct rf_mma_a { rf_f16x16 v; };
struct rf_mma_b { rf_f16x16 v; };
RF_DEV void rf_mma_load_a(rf_mma_a &a, const __half *A, int lda)
{
    const _Float16 *p = (const _Float16 *)A + (rf_lane() % 16) * lda;
#pragma unroll
    for (int k = 0; k < 16; k++) a.v[k] = p[k];
}
RF_DEV void rf_mma_load_b(rf_mma_b &b, const __half *B, int ldb)
{
    const _Float16 *p = (const _Float16 *)B + (rf_lane() % 16) * ldb;
#pragma unroll
    for (int k = 0; k < 16; k++) b.v[k] = p[k];
}
RF_DEV void rf_mma_run(rf_mma_acc &c, const rf_mma_a &a, const rf_mma_b &b)
{
    c.v = __builtin_amdgcn_wmma_f32_16x16x16_f16_w32(a.v, b.v, c.v);
}
#define RF_MMA_NE 8
RF_DEV int rf_mma_row(int e) { return 2 * e + rf_lane() / 16; }
RF_DEV int rf_mma_col(int e) { (void)e; return rf_lane() % 16; }
RF_DEV void rf_mma_store(const rf_mma_acc &c, float *C, int ldc)
{
    const int l = rf_lane(), n = l % 16, half = l / 16;
#pragma unroll
    for (int j = 0; j < 8; j++) C[(2 * j + half) * ldc + n] = c.v[j];
}

#else
/* Portable fallback: lane l owns C elements l, l + RF_WARP, ... (row-major). */
#define RF_MMA_PER_LANE (256 / RF_WARP)
struct rf_mma_acc { float v[RF_MMA_PER_LANE]; };
#define RF_MMA_NE RF_MMA_PER_LANE
RF_DEV int rf_mma_row(int e) { return (rf_lane() + e * RF_WARP) / 16; }
RF_DEV int rf_mma_col(int e) { return (rf_lane() + e * RF_WARP) % 16; }
RF_DEV void rf_mma_zero(rf_mma_acc &c)
{
#pragma unroll
    for (int j = 0; j < RF_MMA_PER_LANE; j++) c.v[j] = 0.f;
}
/* the fragments stay in shared memory: a pointer and its leading dimension */
struct rf_mma_a { const __half *p; int ld; };
struct rf_mma_b { const __half *p; int ld; };
RF_DEV void rf_mma_load_a(rf_mma_a &a, const __half *A, int lda) { a.p = A; a.ld = lda; }
RF_DEV void rf_mma_load_b(rf_mma_b &b, const __half *B, int ldb) { b.p = B; b.ld = ldb; }
RF_DEV void rf_mma_run(rf_mma_acc &c, const rf_mma_a &a, const rf_mma_b &b)
{
#pragma unroll
    for (int j = 0; j < RF_MMA_PER_LANE; j++) {
        const int e = rf_lane() + j * RF_WARP, m = e / 16, n = e % 16;
        float s = c.v[j];
        for (int k = 0; k < 16; k++) s += __half2float(a.p[m * a.ld + k]) * __half2float(b.p[n * b.ld + k]);
        c.v[j] = s;
    }
}
RF_DEV void rf_mma_store(const rf_mma_acc &c, float *C, int ldc)
{
#pragma unroll
    for (int j = 0; j < RF_MMA_PER_LANE; j++) {
        const int e = rf_lane() + j * RF_WARP;
        C[(e / 16) * ldc + e % 16] = c.v[j];
    }
}
#endif

/* One product with fragments loaded for it alone. */
RF_DEV void rf_mma_16x16x16(rf_mma_acc &c, const __half *A, int lda, const __half *B, int ldb)
{
    rf_mma_a a;
    rf_mma_b b;
    rf_mma_load_a(a, A, lda);
    rf_mma_load_b(b, B, ldb);
    rf_mma_run(c, a, b);
}

/* ------------------------------------------------------ integer products */
/* A warp accumulates a 16x16 int32 tile from 8-bit operands:
 *     C[m][n] += sum_k A[m][k] * B[n][k]      m, n, k < 16
 * A lane supplies the 4-byte words (4 consecutive k) of A and B that the
 * layout asks of it -- word i is row rf_imma_a_row(i) (token
 * rf_imma_b_col(i)), k = 4 * rf_imma_kq(i) .. +3 -- and owns the C elements
 * e < RF_IMMA_NC at (rf_imma_c_row(e), rf_imma_c_col(e)). The rows a lane's
 * C elements touch are RF_IMMA_NRS "row slots" (rf_imma_rs(e) ->
 * rf_imma_rs_row(s)), the tokens RF_IMMA_NTS "token slots", so per-row and
 * per-token data are loaded once per slot. Implementations:
 *   - NVIDIA (sm_80+): two mma.sync m16n8k16 s8 (IMMA). Lane l = 4g + t
 *     holds A rows g and g + 8 and B columns g and g + 8 at k = 4t..4t+3;
 *     C rows g, g + 8 by columns 2t, 2t + 1 of each 8-wide half.
 *   - AMD CDNA1/2 (gfx908, gfx90a): v_mfma_i32_16x16x16i8, laid out as the
 *     F16 form above (compiled in CI, not run).
 *   - anything else: four DP4A per element, lane l owning elements
 *     l, l + RF_WARP, ... of C (row-major).
 */
#if defined(RF_GPU_VENDOR_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define RF_IMMA_NV 1
#define RF_IMMA_NA 2
#define RF_IMMA_NC 8
#define RF_IMMA_NRS 2
#define RF_IMMA_NTS 4
RF_DEV int rf_imma_a_row(int i) { return rf_lane() / 4 + 8 * i; }
RF_DEV int rf_imma_b_col(int i) { return rf_lane() / 4 + 8 * i; }
RF_DEV int rf_imma_kq(int) { return rf_lane() % 4; }
RF_DEV int rf_imma_c_row(int e) { return rf_lane() / 4 + 8 * ((e >> 1) & 1); }
RF_DEV int rf_imma_c_col(int e) { return 8 * (e >> 2) + 2 * (rf_lane() % 4) + (e & 1); }
RF_DEV int rf_imma_rs(int e) { return (e >> 1) & 1; }
RF_DEV int rf_imma_rs_row(int s) { return rf_lane() / 4 + 8 * s; }
RF_DEV int rf_imma_ts(int e) { return (e & 1) + 2 * (e >> 2); }
RF_DEV int rf_imma_ts_col(int s) { return 8 * (s >> 1) + 2 * (rf_lane() % 4) + (s & 1); }
RF_DEV void rf_imma_run(int c[RF_IMMA_NC], const uint32_t a[RF_IMMA_NA], const uint32_t b[RF_IMMA_NA])
{
#pragma unroll
    for (int h = 0; h < 2; h++)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5}, {%6}, "
                     "{%0, %1, %2, %3};"
                     : "+r"(c[4 * h]), "+r"(c[4 * h + 1]), "+r"(c[4 * h + 2]), "+r"(c[4 * h + 3])
                     : "r"(a[0]), "r"(a[1]), "r"(b[h]));
}

#elif defined(RF_GPU_VENDOR_HIP) && defined(__HIP_DEVICE_COMPILE__) && (defined(__gfx908__) || defined(__gfx90a__))
#define RF_IMMA_MFMA 1
#define RF_IMMA_NA 1
#define RF_IMMA_NC 4
#define RF_IMMA_NRS 4
#define RF_IMMA_NTS 1
typedef int rf_i32x4 __attribute__((ext_vector_type(4)));
RF_DEV int rf_imma_a_row(int) { return rf_lane() % 16; }
RF_DEV int rf_imma_b_col(int) { return rf_lane() % 16; }
RF_DEV int rf_imma_kq(int) { return rf_lane() / 16; }
RF_DEV int rf_imma_c_row(int e) { return 4 * (rf_lane() / 16) + e; }
RF_DEV int rf_imma_c_col(int) { return rf_lane() % 16; }
RF_DEV int rf_imma_rs(int e) { return e; }
RF_DEV int rf_imma_rs_row(int s) { return 4 * (rf_lane() / 16) + s; }
RF_DEV int rf_imma_ts(int) { return 0; }
RF_DEV int rf_imma_ts_col(int) { return rf_lane() % 16; }
RF_DEV void rf_imma_run(int c[RF_IMMA_NC], const uint32_t a[RF_IMMA_NA], const uint32_t b[RF_IMMA_NA])
{
    rf_i32x4 v = {c[0], c[1], c[2], c[3]};
    v = __builtin_amdgcn_mfma_i32_16x16x16i8((int)a[0], (int)b[0], v, 0, 0, 0);
#pragma unroll
    for (int e = 0; e < 4; e++) c[e] = v[e];
}

#else
#define RF_IMMA_NC (256 / RF_WARP)
#define RF_IMMA_NA (4 * RF_IMMA_NC)
#define RF_IMMA_NRS RF_IMMA_NC
#define RF_IMMA_NTS RF_IMMA_NC
RF_DEV int rf_imma_c_row(int e) { return (rf_lane() + RF_WARP * e) / 16; }
RF_DEV int rf_imma_c_col(int e) { return (rf_lane() + RF_WARP * e) % 16; }
RF_DEV int rf_imma_a_row(int i) { return rf_imma_c_row(i / 4); }
RF_DEV int rf_imma_b_col(int i) { return rf_imma_c_col(i / 4); }
RF_DEV int rf_imma_kq(int i) { return i % 4; }
RF_DEV int rf_imma_rs(int e) { return e; }
RF_DEV int rf_imma_rs_row(int s) { return rf_imma_c_row(s); }
RF_DEV int rf_imma_ts(int e) { return e; }
RF_DEV int rf_imma_ts_col(int s) { return rf_imma_c_col(s); }
RF_DEV void rf_imma_run(int c[RF_IMMA_NC], const uint32_t a[RF_IMMA_NA], const uint32_t b[RF_IMMA_NA])
{
#pragma unroll
    for (int e = 0; e < RF_IMMA_NC; e++)
#pragma unroll
        for (int q = 0; q < 4; q++) c[e] = rf_dp4a((int)a[4 * e + q], (int)b[4 * e + q], c[e]);
}
#endif

#endif
