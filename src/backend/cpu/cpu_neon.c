/* cpu_neon.c — the AArch64 NEON variant of the CPU dot products.
 *
 * Baseline ARMv8.0 NEON (no dot-product extension), so it runs on every
 * 64-bit ARM core: weights are unpacked to signed int8 levels, multiplied
 * with the int8 activations by vmull_s8 (exact in int16) and pairwise
 * accumulated into int32. Each 16-value group is reduced to one integer,
 * then scaled in float in the same order as the scalar kernels.
 * Tested under qemu-aarch64 by scripts/arm-test.sh.
 */
#include "backend/cpu/cpu_internal.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#include <math.h>
#include <string.h>

/* sum over 16 lanes of a * b */
static inline int dot16(int8x16_t a, int8x16_t b)
{
    int16x8_t p0 = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t p1 = vmull_s8(vget_high_s8(a), vget_high_s8(b));
    return vaddvq_s32(vpadalq_s16(vpaddlq_s16(p0), p1));
}

static inline int dot32(int8x16_t a0, int8x16_t a1, const int8_t *q8)
{
    return dot16(a0, vld1q_s8(q8)) + dot16(a1, vld1q_s8(q8 + 16));
}

/* bits 0..15 of qh (starting at bit `first`) as 16 bytes of 0x10 / 0 */
static inline int8x16_t high_bits16(uint32_t qh, int first)
{
    static const uint8_t sel[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x8_t b0 = vdup_n_u8((uint8_t)(qh >> first)), b1 = vdup_n_u8((uint8_t)(qh >> (first + 8)));
    uint8x16_t t = vtstq_u8(vcombine_u8(b0, b1), vld1q_u8(sel));
    return vreinterpretq_s8_u8(vandq_u8(t, vdupq_n_u8(0x10)));
}

/* ---------------------------------------------------------- float weights */
/* ggml's AVX-512 ggml_vec_dot_f32 order (see cpu_scalar.c): the 64 running
 * sums are 16 registers here, sum l in register l / 4. */
static float dot_f32(int64_t n, const void *vw, const void *vx)
{
    const float *w = vw, *x = vx;
    const int64_t np = n & ~(int64_t)63;
    float s = 0.0f;
    if (np) {
        float32x4_t a[16];
        for (int k = 0; k < 16; k++) a[k] = vfmaq_f32(vdupq_n_f32(0.0f), vld1q_f32(w + 4 * k), vld1q_f32(x + 4 * k));
        for (int64_t i = 64; i < np; i += 64)
            for (int k = 0; k < 16; k++) a[k] = vfmaq_f32(a[k], vld1q_f32(w + i + 4 * k), vld1q_f32(x + i + 4 * k));
        float32x4_t r[4];
        for (int q = 0; q < 4; q++) r[q] = vaddq_f32(vaddq_f32(a[q], a[q + 8]), vaddq_f32(a[q + 4], a[q + 12]));
        const float32x4_t u = vaddq_f32(vaddq_f32(r[0], r[2]), vaddq_f32(r[1], r[3]));
        const float32x2_t h = vadd_f32(vget_low_f32(u), vget_high_f32(u));
        s = vget_lane_f32(h, 0) + vget_lane_f32(h, 1);
    }
    const int64_t nv = np + ((n - np) & ~(int64_t)7);
    for (int64_t i = np; i < nv; i++) s += w[i] * x[i];
    for (int64_t i = nv; i < n; i++) s = fmaf(w[i], x[i], s);
    return s;
}

static float dot_f16(int64_t n, const void *vw, const void *vx)
{
    const rf_fp16 *w = vw;
    const float *x = vx;
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(w + i));
        a0 = vfmaq_f32(a0, vcvt_f32_f16(vget_low_f16(h)), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, vcvt_f32_f16(vget_high_f16(h)), vld1q_f32(x + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) s += rf_fp16_to_f32(w[i]) * x[i];
    return s;
}

static float dot_bf16(int64_t n, const void *vw, const void *vx)
{
    const rf_bf16 *w = vw;
    const float *x = vx;
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t h = vld1q_u16(w + i);
        a0 = vfmaq_f32(a0, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, vreinterpretq_f32_u32(vshll_n_u16(vget_high_u16(h), 16)), vld1q_f32(x + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) s += rf_bf16_to_f32(w[i]) * x[i];
    return s;
}

/* ------------------------------------------------------- 32-value blocks */
static float dot_q4_0(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q4_0 *w = vw;
    const rf_act_q8 *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        uint8x16_t q = vld1q_u8(w[b].qs);
        int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0xF))), vdupq_n_s8(8));
        int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
        s = fmaf((float)dot32(lo, hi, x[b].qs), rf_fp16_to_f32(w[b].d) * x[b].d, s);
    }
    return s;
}

/* Q4_1, Q5_0, Q5_1: ggml's x86 kernels to the bit (see cpu_scalar.c): the
 * 8 integer lane sums of 4 consecutive values (lo: values 0-15, lanes 0-3;
 * hi: values 16-31, lanes 4-7), each fused into its running float sum,
 * hsum_float_8's order at the end, the *_1 types' m * s1 fused beside. */
static inline void lanes8_fma(float32x4_t acc[2], int8x16_t lo, int8x16_t hi, const int8_t *xq, float dd)
{
    const int8x16_t q0 = vld1q_s8(xq), q1 = vld1q_s8(xq + 16);
    const int32x4_t l0 = vpaddq_s32(vpaddlq_s16(vmull_s8(vget_low_s8(lo), vget_low_s8(q0))),
                                    vpaddlq_s16(vmull_high_s8(lo, q0)));
    const int32x4_t l1 = vpaddq_s32(vpaddlq_s16(vmull_s8(vget_low_s8(hi), vget_low_s8(q1))),
                                    vpaddlq_s16(vmull_high_s8(hi, q1)));
    acc[0] = vfmaq_f32(acc[0], vdupq_n_f32(dd), vcvtq_f32_s32(l0));
    acc[1] = vfmaq_f32(acc[1], vdupq_n_f32(dd), vcvtq_f32_s32(l1));
}
static inline float hsum8_ggml(const float32x4_t acc[2])
{
    const float32x4_t u = vaddq_f32(acc[0], acc[1]);
    const float32x2_t h = vadd_f32(vget_low_f32(u), vget_high_f32(u));
    return vget_lane_f32(h, 0) + vget_lane_f32(h, 1);
}

static float dot_q4_1(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q4_1 *w = vw;
    const rf_act_q8 *x = vx;
    float32x4_t acc[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
    float summs = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        summs = fmaf(rf_fp16_to_f32(w[b].m), x[b].s1, summs);
        uint8x16_t q = vld1q_u8(w[b].qs);
        int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0xF))), hi = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
        lanes8_fma(acc, lo, hi, x[b].qs, rf_fp16_to_f32(w[b].d) * x[b].d);
    }
    return hsum8_ggml(acc) + summs;
}

static float dot_q5_0(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q5_0 *w = vw;
    const rf_act_q8 *x = vx;
    float32x4_t acc[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
    for (int64_t b = 0; b < n / 32; b++) {
        uint32_t qh;
        memcpy(&qh, w[b].qh, 4);
        uint8x16_t q = vld1q_u8(w[b].qs);
        int8x16_t lo = vorrq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0xF))), high_bits16(qh, 0));
        int8x16_t hi = vorrq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), high_bits16(qh, 16));
        lo = vsubq_s8(lo, vdupq_n_s8(16));
        hi = vsubq_s8(hi, vdupq_n_s8(16));
        lanes8_fma(acc, lo, hi, x[b].qs, rf_fp16_to_f32(w[b].d) * x[b].d);
    }
    return hsum8_ggml(acc);
}

static float dot_q5_1(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q5_1 *w = vw;
    const rf_act_q8 *x = vx;
    float32x4_t acc[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
    float summs = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        summs = fmaf(rf_fp16_to_f32(w[b].m), x[b].s1, summs);
        uint32_t qh;
        memcpy(&qh, w[b].qh, 4);
        uint8x16_t q = vld1q_u8(w[b].qs);
        int8x16_t lo = vorrq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0xF))), high_bits16(qh, 0));
        int8x16_t hi = vorrq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), high_bits16(qh, 16));
        lanes8_fma(acc, lo, hi, x[b].qs, rf_fp16_to_f32(w[b].d) * x[b].d);
    }
    return hsum8_ggml(acc) + summs;
}

static float dot_q8_0(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q8_0 *w = vw;
    const rf_act_q8 *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 32; b++)
        s = fmaf((float)dot32(vld1q_s8(w[b].qs), vld1q_s8(w[b].qs + 16), x[b].qs), rf_fp16_to_f32(w[b].d) * x[b].d, s);
    return s;
}

static float dot_iq4_nl(int64_t n, const void *vw, const void *vx)
{
    const rf_block_iq4_nl *w = vw;
    const rf_act_q8 *x = vx;
    const int8x16_t table = vld1q_s8(rf_kvalues_iq4nl);
    float s = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        uint8x16_t q = vld1q_u8(w[b].qs);
        int8x16_t lo = vqtbl1q_s8(table, vandq_u8(q, vdupq_n_u8(0xF))), hi = vqtbl1q_s8(table, vshrq_n_u8(q, 4));
        s = fmaf((float)dot32(lo, hi, x[b].qs), rf_fp16_to_f32(w[b].d) * x[b].d, s);
    }
    return s;
}

static float dot_mxfp4(int64_t n, const void *vw, const void *vx)
{
    const rf_block_mxfp4 *w = vw;
    const rf_act_q8 *x = vx;
    const int8x16_t table = vld1q_s8(rf_kvalues_mxfp4);
    float s = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        uint8x16_t q = vld1q_u8(w[b].qs);
        int8x16_t lo = vqtbl1q_s8(table, vandq_u8(q, vdupq_n_u8(0xF))), hi = vqtbl1q_s8(table, vshrq_n_u8(q, 4));
        s += rf_e8m0_to_f32_half(w[b].e) * x[b].d * (float)dot32(lo, hi, x[b].qs);
    }
    return s;
}

/* -------------------------------------------------------------- K-quants */
static float dot_q2_K(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q2_K *w = vw;
    const rf_block_q8_K *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *sc = w[b].scales;
        const int8_t *q8 = x[b].qs;
        int summs = 0;
        for (int j = 0; j < 16; j++) summs += x[b].bsums[j] * (sc[j] >> 4);
        int isum = 0, is = 0;
        for (int k = 0; k < 2; k++) {
            uint8x16_t q0 = vld1q_u8(w[b].qs + 32 * k), q1 = vld1q_u8(w[b].qs + 32 * k + 16);
            for (int sh = 0; sh < 8; sh += 2, q8 += 32, is += 2) {
                int8x16_t a = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q0, vdupq_n_s8((int8_t)-sh)), vdupq_n_u8(3)));
                int8x16_t c = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q1, vdupq_n_s8((int8_t)-sh)), vdupq_n_u8(3)));
                isum += (sc[is] & 0xF) * dot16(a, vld1q_s8(q8)) + (sc[is + 1] & 0xF) * dot16(c, vld1q_s8(q8 + 16));
            }
        }
        const float dall = x[b].d * rf_fp16_to_f32(w[b].d);
        const float dmin = x[b].d * rf_fp16_to_f32(w[b].dmin);
        s += dall * (float)isum - dmin * (float)summs;
    }
    return s;
}

static float dot_q3_K(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q3_K *w = vw;
    const rf_block_q8_K *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        int8_t sc[16];
        rf_q3k_unpack_scales(w[b].scales, sc);
        const uint8x16_t hm0 = vld1q_u8(w[b].hmask), hm1 = vld1q_u8(w[b].hmask + 16);
        const int8_t *q8 = x[b].qs;
        int isum = 0, is = 0, bit = 0;
        for (int k = 0; k < 2; k++) {
            uint8x16_t q0 = vld1q_u8(w[b].qs + 32 * k), q1 = vld1q_u8(w[b].qs + 32 * k + 16);
            for (int sh = 0; sh < 8; sh += 2, q8 += 32, is += 2, bit++) {
                const uint8x16_t m = vdupq_n_u8((uint8_t)(1u << bit));
                /* level = q2 - 4 where the high bit is clear */
                int8x16_t a = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q0, vdupq_n_s8((int8_t)-sh)), vdupq_n_u8(3)));
                int8x16_t c = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q1, vdupq_n_s8((int8_t)-sh)), vdupq_n_u8(3)));
                a = vsubq_s8(a, vreinterpretq_s8_u8(vbicq_u8(vdupq_n_u8(4), vtstq_u8(hm0, m))));
                c = vsubq_s8(c, vreinterpretq_s8_u8(vbicq_u8(vdupq_n_u8(4), vtstq_u8(hm1, m))));
                isum += sc[is] * dot16(a, vld1q_s8(q8)) + sc[is + 1] * dot16(c, vld1q_s8(q8 + 16));
            }
        }
        s += x[b].d * rf_fp16_to_f32(w[b].d) * (float)isum;
    }
    return s;
}

static float dot_q4_K(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q4_K *w = vw;
    const rf_block_q8_K *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        int isum = 0, summ = 0;
        for (int p = 0; p < 4; p++) {
            uint8_t sc0, m0, sc1, m1;
            rf_q4k_scale_min(2 * p, w[b].scales, &sc0, &m0);
            rf_q4k_scale_min(2 * p + 1, w[b].scales, &sc1, &m1);
            summ += m0 * (x[b].bsums[4 * p] + x[b].bsums[4 * p + 1]) + m1 * (x[b].bsums[4 * p + 2] + x[b].bsums[4 * p + 3]);
            uint8x16_t q0 = vld1q_u8(w[b].qs + 32 * p), q1 = vld1q_u8(w[b].qs + 32 * p + 16);
            const int8_t *q8 = x[b].qs + 64 * p;
            int d0 = dot32(vreinterpretq_s8_u8(vandq_u8(q0, vdupq_n_u8(0xF))), vreinterpretq_s8_u8(vandq_u8(q1, vdupq_n_u8(0xF))), q8);
            int d1 = dot32(vreinterpretq_s8_u8(vshrq_n_u8(q0, 4)), vreinterpretq_s8_u8(vshrq_n_u8(q1, 4)), q8 + 32);
            isum += sc0 * d0 + sc1 * d1;
        }
        s = fmaf(-(float)summ, rf_fp16_to_f32(w[b].dmin) * x[b].d, fmaf((float)isum, rf_fp16_to_f32(w[b].d) * x[b].d, s));
    }
    return s;
}

static float dot_q5_K(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q5_K *w = vw;
    const rf_block_q8_K *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8x16_t qh0 = vld1q_u8(w[b].qh), qh1 = vld1q_u8(w[b].qh + 16);
        int isum = 0, summ = 0;
        for (int p = 0; p < 4; p++) {
            uint8_t sc0, m0, sc1, m1;
            rf_q4k_scale_min(2 * p, w[b].scales, &sc0, &m0);
            rf_q4k_scale_min(2 * p + 1, w[b].scales, &sc1, &m1);
            summ += m0 * (x[b].bsums[4 * p] + x[b].bsums[4 * p + 1]) + m1 * (x[b].bsums[4 * p + 2] + x[b].bsums[4 * p + 3]);
            const uint8x16_t mlo = vdupq_n_u8((uint8_t)(1u << (2 * p))), mhi = vdupq_n_u8((uint8_t)(2u << (2 * p)));
            const uint8x16_t h16 = vdupq_n_u8(0x10);
            uint8x16_t q0 = vld1q_u8(w[b].qs + 32 * p), q1 = vld1q_u8(w[b].qs + 32 * p + 16);
            uint8x16_t l0 = vorrq_u8(vandq_u8(q0, vdupq_n_u8(0xF)), vandq_u8(vtstq_u8(qh0, mlo), h16));
            uint8x16_t l1 = vorrq_u8(vandq_u8(q1, vdupq_n_u8(0xF)), vandq_u8(vtstq_u8(qh1, mlo), h16));
            uint8x16_t u0 = vorrq_u8(vshrq_n_u8(q0, 4), vandq_u8(vtstq_u8(qh0, mhi), h16));
            uint8x16_t u1 = vorrq_u8(vshrq_n_u8(q1, 4), vandq_u8(vtstq_u8(qh1, mhi), h16));
            const int8_t *q8 = x[b].qs + 64 * p;
            int d0 = dot32(vreinterpretq_s8_u8(l0), vreinterpretq_s8_u8(l1), q8);
            int d1 = dot32(vreinterpretq_s8_u8(u0), vreinterpretq_s8_u8(u1), q8 + 32);
            isum += sc0 * d0 + sc1 * d1;
        }
        s += x[b].d * rf_fp16_to_f32(w[b].d) * (float)isum - x[b].d * rf_fp16_to_f32(w[b].dmin) * (float)summ;
    }
    return s;
}

static float dot_q6_K(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q6_K *w = vw;
    const rf_block_q8_K *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        int isum = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[b].ql + 64 * h, *qh = w[b].qh + 32 * h;
            const int8_t *sc = w[b].scales + 8 * h;
            const int8_t *q8 = x[b].qs + 128 * h;
            for (int half = 0; half < 2; half++) {
                const int o = 16 * half;
                uint8x16_t a = vld1q_u8(ql + o), c = vld1q_u8(ql + 32 + o), hh = vld1q_u8(qh + o);
                const uint8x16_t m4 = vdupq_n_u8(0xF), m3 = vdupq_n_u8(3);
                const int8x16_t k32 = vdupq_n_s8(32);
                int8x16_t v1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(a, m4), vshlq_n_u8(vandq_u8(hh, m3), 4))), k32);
                int8x16_t v2 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(c, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hh, 2), m3), 4))), k32);
                int8x16_t v3 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(a, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hh, 4), m3), 4))), k32);
                int8x16_t v4 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(c, 4), vshlq_n_u8(vshrq_n_u8(hh, 6), 4))), k32);
                isum += sc[half] * dot16(v1, vld1q_s8(q8 + o)) + sc[half + 2] * dot16(v2, vld1q_s8(q8 + 32 + o)) +
                        sc[half + 4] * dot16(v3, vld1q_s8(q8 + 64 + o)) + sc[half + 6] * dot16(v4, vld1q_s8(q8 + 96 + o));
            }
        }
        s = fmaf((float)isum, rf_fp16_to_f32(w[b].d) * x[b].d, s);
    }
    return s;
}

static float dot_iq4_xs(int64_t n, const void *vw, const void *vx)
{
    const rf_block_iq4_xs *w = vw;
    const rf_block_q8_K *x = vx;
    const int8x16_t table = vld1q_s8(rf_kvalues_iq4nl);
    float s = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        int isum = 0;
        for (int ib = 0; ib < 8; ib++) {
            const int ls = ((w[b].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((w[b].scales_h >> 2 * ib) & 3) << 4);
            uint8x16_t q = vld1q_u8(w[b].qs + 16 * ib);
            int8x16_t lo = vqtbl1q_s8(table, vandq_u8(q, vdupq_n_u8(0xF))), hi = vqtbl1q_s8(table, vshrq_n_u8(q, 4));
            isum += (ls - 32) * dot32(lo, hi, x[b].qs + 32 * ib);
        }
        s += x[b].d * rf_fp16_to_f32(w[b].d) * (float)isum;
    }
    return s;
}

static const rf_cpu_isa_kernels neon_kernels = {
    .dot = {
        [RF_TYPE_F32] = dot_f32, [RF_TYPE_F16] = dot_f16, [RF_TYPE_BF16] = dot_bf16,
        [RF_TYPE_Q4_0] = dot_q4_0, [RF_TYPE_Q4_1] = dot_q4_1, [RF_TYPE_Q5_0] = dot_q5_0,
        [RF_TYPE_Q5_1] = dot_q5_1, [RF_TYPE_Q8_0] = dot_q8_0, [RF_TYPE_IQ4_NL] = dot_iq4_nl,
        [RF_TYPE_MXFP4] = dot_mxfp4, [RF_TYPE_Q2_K] = dot_q2_K, [RF_TYPE_Q3_K] = dot_q3_K,
        [RF_TYPE_Q4_K] = dot_q4_K, [RF_TYPE_Q5_K] = dot_q5_K, [RF_TYPE_Q6_K] = dot_q6_K,
        [RF_TYPE_IQ4_XS] = dot_iq4_xs,
    },
};

const rf_cpu_isa_kernels *rf_cpu_kernels_neon(void) { return &neon_kernels; }

#else
const rf_cpu_isa_kernels *rf_cpu_kernels_neon(void) { return NULL; }
#endif
