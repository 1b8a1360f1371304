/* quant.h — block formats of the quantized tensor types and their reference
 * (scalar) quantize / dequantize routines.
 *
 * The block structs below are the on-disk GGUF layouts (identical to ggml's,
 * byte for byte): weights are used straight from the mmap'ed file. The
 * reference routines are the oracle every SIMD / GPU kernel is tested
 * against, and `rocmforge quantize` uses them to produce files; they are
 * written to give bit-identical output to llama.cpp's quantizer without an
 * importance matrix (ggml_quantize_chunk(type, ..., imatrix = NULL)), which
 * the quant_ tests check on random data.
 *
 * Bit-exactness depends on doing the same float operations in the same
 * order, so this code must not be compiled with -ffast-math or FP
 * contraction (C11 mode disables contraction in GCC and clang).
 */
#ifndef RF_QUANT_H
#define RF_QUANT_H

#include <stdint.h>
#include <string.h>

#include "gguf/gguf.h"

/* ------------------------------------------------------ half precision */
typedef uint16_t rf_fp16;
typedef uint16_t rf_bf16;

static inline float rf_bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t rf_f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* IEEE binary16 -> binary32, exact for every input (subnormals, inf, NaN). */
static inline float rf_fp16_to_f32(rf_fp16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return rf_bits_to_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* subnormal: man * 2^-24, exact in float */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return rf_bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

/* binary32 -> binary16, round to nearest even; overflow -> inf; NaN stays
 * NaN (quiet 0x7e00, as ggml does). */
static inline rf_fp16 rf_f32_to_fp16(float f)
{
    uint32_t x = rf_f32_to_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (rf_fp16)(sign | 0x7e00);
    if (ax >= 0x477ff000u) return (rf_fp16)(sign | 0x7c00);     /* >= 65520: rounds to inf */
    if (ax < 0x38800000u) {                                       /* below 2^-14: subnormal half */
        if (ax < 0x33000000u) return (rf_fp16)sign;               /* < 2^-25: rounds to 0 */
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;                                 /* 14..24 + 13 ... */
        /* value = m * 2^(e-150); half subnormal unit = 2^-24 -> q = m >> (126 - e) */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (rf_fp16)(sign | q);
    }
    uint32_t r = ax + 0xfff + ((ax >> 13) & 1);                   /* round to nearest even */
    r -= 0x38000000u;                                             /* rebias 127 -> 15 */
    return (rf_fp16)(sign | (r >> 13));
}

static inline float rf_bf16_to_f32(rf_bf16 h) { return rf_bits_to_f32((uint32_t)h << 16); }
/* Round to nearest even; NaN forced quiet (as ggml). */
static inline rf_bf16 rf_f32_to_bf16(float f)
{
    uint32_t u = rf_f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (rf_bf16)((u >> 16) | 64);
    return (rf_bf16)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

/* E8M0 scale of MXFP4 halved (the value table stores 2 * E2M1). */
static inline float rf_e8m0_to_f32_half(uint8_t e)
{
    uint32_t bits = e < 2 ? (0x00200000u << e) : ((uint32_t)(e - 1) << 23);
    return rf_bits_to_f32(bits);
}

/* ------------------------------------------------------------- blocks */
#define RF_QK4_0 32
#define RF_QK8_0 32
#define RF_QK_K 256

typedef struct { rf_fp16 d; uint8_t qs[16]; } rf_block_q4_0;                       /* 18 B */
typedef struct { rf_fp16 d, m; uint8_t qs[16]; } rf_block_q4_1;                    /* 20 B */
typedef struct { rf_fp16 d; uint8_t qh[4]; uint8_t qs[16]; } rf_block_q5_0;        /* 22 B */
typedef struct { rf_fp16 d, m; uint8_t qh[4]; uint8_t qs[16]; } rf_block_q5_1;     /* 24 B */
typedef struct { rf_fp16 d; int8_t qs[32]; } rf_block_q8_0;                        /* 34 B */
typedef struct { rf_fp16 d, s; int8_t qs[32]; } rf_block_q8_1;                     /* 36 B */
typedef struct { uint8_t e; uint8_t qs[16]; } rf_block_mxfp4;                      /* 17 B */
typedef struct { rf_fp16 d; uint8_t qs[16]; } rf_block_iq4_nl;                     /* 18 B */

/* K-quants: super-blocks of 256 */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; rf_fp16 d, dmin; } rf_block_q2_K;            /* 84 B */
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; rf_fp16 d; } rf_block_q3_K; /* 110 B */
typedef struct { rf_fp16 d, dmin; uint8_t scales[12]; uint8_t qs[128]; } rf_block_q4_K;           /* 144 B */
typedef struct { rf_fp16 d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } rf_block_q5_K; /* 176 B */
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; rf_fp16 d; } rf_block_q6_K; /* 210 B */
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } rf_block_q8_K;                    /* 292 B */
typedef struct { rf_fp16 d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } rf_block_iq4_xs; /* 136 B */

_Static_assert(sizeof(rf_block_q4_0) == 18, "q4_0");
_Static_assert(sizeof(rf_block_q4_1) == 20, "q4_1");
_Static_assert(sizeof(rf_block_q5_0) == 22, "q5_0");
_Static_assert(sizeof(rf_block_q5_1) == 24, "q5_1");
_Static_assert(sizeof(rf_block_q8_0) == 34, "q8_0");
_Static_assert(sizeof(rf_block_q8_1) == 36, "q8_1");
_Static_assert(sizeof(rf_block_mxfp4) == 17, "mxfp4");
_Static_assert(sizeof(rf_block_iq4_nl) == 18, "iq4_nl");
_Static_assert(sizeof(rf_block_q2_K) == 84, "q2_K");
_Static_assert(sizeof(rf_block_q3_K) == 110, "q3_K");
_Static_assert(sizeof(rf_block_q4_K) == 144, "q4_K");
_Static_assert(sizeof(rf_block_q5_K) == 176, "q5_K");
_Static_assert(sizeof(rf_block_q6_K) == 210, "q6_K");
_Static_assert(sizeof(rf_block_q8_K) == 292, "q8_K");
_Static_assert(sizeof(rf_block_iq4_xs) == 136, "iq4_xs");

/* Non-linear 4-bit codebooks. */
extern const int8_t rf_kvalues_iq4nl[16];
extern const int8_t rf_kvalues_mxfp4[16];   /* 2 * E2M1 */

/* 6-bit scale/min pair j (0..7) of Q4_K / Q5_K's 12-byte packed scales. */
static inline void rf_q4k_scale_min(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q3_K's 16 signed 6-bit scales (already minus 32). */
void rf_q3k_unpack_scales(const uint8_t packed[12], int8_t out[16]);

/* -------------------------------------------------------- the op table */
typedef struct rf_quant_ops {
    /* n elements, a multiple of the type's block size */
    void (*dequantize_row)(const void *src, float *dst, int64_t n);
    /* reference, bit-exact with ggml's quantize_row_*_ref / ggml_quantize_chunk without imatrix */
    void (*quantize_row)(const float *src, void *dst, int64_t n);
} rf_quant_ops;

/* Ops of a type; NULL when the type is not supported here. */
const rf_quant_ops *rf_quant_get(rf_type t);

/* Quantize n_rows rows of n_per_row floats into dst (n_rows * row bytes).
 * Fails naming the type when it is unsupported or n_per_row is not a
 * multiple of its block size. */
rf_status rf_quantize_rows(rf_type t, const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                           rf_error *err);

/* Activation formats for integer dot products (see cpu_kernels.h). */
void rf_quantize_row_q8_0(const float *x, rf_block_q8_0 *y, int64_t n);
void rf_quantize_row_q8_K(const float *x, rf_block_q8_K *y, int64_t n);

#endif
