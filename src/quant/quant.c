/* quant.c — the type table and the reference (de)quantizers of the simple
 * 32-element formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, MXFP4, IQ4_NL, plus
 * F16 / BF16 / F32 rows and the Q8_0 / Q8_K activation formats.
 *
 * Each quantizer reproduces ggml's arithmetic step by step (same float ops
 * in the same order, same truncating casts), because the goal is files
 * bit-identical to llama.cpp's. Where the rounding looks odd (e.g.
 * (int8_t)(x + 8.5f) instead of roundf) that is why.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "base/base.h"
#include "quant/quant.h"
#include "quant/quant_internal.h"

const int8_t rf_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
const int8_t rf_kvalues_mxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* ------------------------------------------------------------ plain rows */
static void deq_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }
static void q_f32(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

static void deq_f16(const void *src, float *dst, int64_t n)
{
    const rf_fp16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = rf_fp16_to_f32(h[i]);
}
static void q_f16(const float *src, void *dst, int64_t n)
{
    rf_fp16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = rf_f32_to_fp16(src[i]);
}
static void deq_bf16(const void *src, float *dst, int64_t n)
{
    const rf_bf16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = rf_bf16_to_f32(h[i]);
}
static void q_bf16(const float *src, void *dst, int64_t n)
{
    rf_bf16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = rf_f32_to_bf16(src[i]);
}

/* ------------------------------------------------------------------ Q4_0 */
static void q_q4_0(const float *x, void *vy, int64_t n)
{
    rf_block_q4_0 *y = vy;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        /* scale from the signed value of largest magnitude, so it maps to -8 */
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = rf_f32_to_fp16(d);
        for (int j = 0; j < 16; j++) {
            int a = (int8_t)(x[j] * id + 8.5f), c = (int8_t)(x[j + 16] * id + 8.5f);
            uint8_t q0 = (uint8_t)(a < 15 ? a : 15), q1 = (uint8_t)(c < 15 ? c : 15);
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}
static void deq_q4_0(const void *vx, float *y, int64_t n)
{
    const rf_block_q4_0 *x = vx;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        const float d = rf_fp16_to_f32(x[b].d);
        for (int j = 0; j < 16; j++) {
            y[j] = ((x[b].qs[j] & 0xF) - 8) * d;
            y[j + 16] = ((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}

/* ------------------------------------------------------------------ Q4_1 */
static void q_q4_1(const float *x, void *vy, int64_t n)
{
    rf_block_q4_1 *y = vy;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = rf_f32_to_fp16(d);
        y[b].m = rf_f32_to_fp16(min);
        for (int j = 0; j < 16; j++) {
            int a = (int8_t)((x[j] - min) * id + 0.5f), c = (int8_t)((x[j + 16] - min) * id + 0.5f);
            uint8_t q0 = (uint8_t)(a < 15 ? a : 15), q1 = (uint8_t)(c < 15 ? c : 15);
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}
static void deq_q4_1(const void *vx, float *y, int64_t n)
{
    const rf_block_q4_1 *x = vx;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        const float d = rf_fp16_to_f32(x[b].d), m = rf_fp16_to_f32(x[b].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (x[b].qs[j] & 0xF) * d + m;
            y[j + 16] = (x[b].qs[j] >> 4) * d + m;
        }
    }
}

/* ------------------------------------------------------------------ Q5_0 */
static void q_q5_0(const float *x, void *vy, int64_t n)
{
    rf_block_q5_0 *y = vy;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = rf_f32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int a = (int8_t)(x[j] * id + 16.5f), c = (int8_t)(x[j + 16] * id + 16.5f);
            uint8_t q0 = (uint8_t)(a < 31 ? a : 31), q1 = (uint8_t)(c < 31 ? c : 31);
            y[b].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= (uint32_t)((q0 & 0x10u) >> 4) << j;
            qh |= (uint32_t)((q1 & 0x10u) >> 4) << (j + 16);
        }
        memcpy(y[b].qh, &qh, 4);
    }
}
static void deq_q5_0(const void *vx, float *y, int64_t n)
{
    const rf_block_q5_0 *x = vx;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        const float d = rf_fp16_to_f32(x[b].d);
        uint32_t qh;
        memcpy(&qh, x[b].qh, 4);
        for (int j = 0; j < 16; j++) {
            int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = (((x[b].qs[j] & 0xF) | h0) - 16) * d;
            y[j + 16] = (((x[b].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

/* ------------------------------------------------------------------ Q5_1 */
static void q_q5_1(const float *x, void *vy, int64_t n)
{
    rf_block_q5_1 *y = vy;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = rf_f32_to_fp16(d);
        y[b].m = rf_f32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            uint8_t q0 = (uint8_t)((x[j] - min) * id + 0.5f), q1 = (uint8_t)((x[j + 16] - min) * id + 0.5f);
            y[b].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= (uint32_t)((q0 & 0x10u) >> 4) << j;
            qh |= (uint32_t)((q1 & 0x10u) >> 4) << (j + 16);
        }
        memcpy(y[b].qh, &qh, 4);
    }
}
static void deq_q5_1(const void *vx, float *y, int64_t n)
{
    const rf_block_q5_1 *x = vx;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        const float d = rf_fp16_to_f32(x[b].d), m = rf_fp16_to_f32(x[b].m);
        uint32_t qh;
        memcpy(&qh, x[b].qh, 4);
        for (int j = 0; j < 16; j++) {
            int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = ((x[b].qs[j] & 0xF) | h0) * d + m;
            y[j + 16] = ((x[b].qs[j] >> 4) | h1) * d + m;
        }
    }
}

/* ------------------------------------------------------------------ Q8_0 */
void rf_quantize_row_q8_0(const float *x, rf_block_q8_0 *y, int64_t n)
{
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = rf_f32_to_fp16(d);
        for (int j = 0; j < 32; j++) y[b].qs[j] = (int8_t)roundf(x[j] * id);
    }
}
static void q_q8_0(const float *x, void *vy, int64_t n) { rf_quantize_row_q8_0(x, vy, n); }
static void deq_q8_0(const void *vx, float *y, int64_t n)
{
    const rf_block_q8_0 *x = vx;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        const float d = rf_fp16_to_f32(x[b].d);
        for (int j = 0; j < 32; j++) y[j] = x[b].qs[j] * d;
    }
}

/* ----------------------------------------------------------------- MXFP4 */
static int mxfp4_best_index(float x, float e)
{
    /* first index of least error, as ggml's linear scan */
    int best = 0;
    float best_err = fabsf(rf_kvalues_mxfp4[0] * e - x);
    for (int i = 1; i < 16; i++) {
        float err = fabsf(rf_kvalues_mxfp4[i] * e - x);
        if (err < best_err) { best = i; best_err = err; }
    }
    return best;
}
static void q_mxfp4(const float *x, void *vy, int64_t n)
{
    rf_block_mxfp4 *y = vy;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) amax = fabsf(x[j]);
        /* shared exponent: largest E2M1 magnitude is 6 = 1.5 * 2^2 */
        const uint8_t e = amax > 0.0f ? (uint8_t)(floorf(log2f(amax)) - 2 + 127) : 0;
        const float d = rf_e8m0_to_f32_half(e);
        y[b].e = e;
        for (int j = 0; j < 16; j++)
            y[b].qs[j] = (uint8_t)(mxfp4_best_index(x[j], d) | (mxfp4_best_index(x[j + 16], d) << 4));
    }
}
static void deq_mxfp4(const void *vx, float *y, int64_t n)
{
    const rf_block_mxfp4 *x = vx;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        const float d = rf_e8m0_to_f32_half(x[b].e);
        for (int j = 0; j < 16; j++) {
            y[j] = rf_kvalues_mxfp4[x[b].qs[j] & 0xF] * d;
            y[j + 16] = rf_kvalues_mxfp4[x[b].qs[j] >> 4] * d;
        }
    }
}

/* -------------------------------------------------------- IQ4_NL / IQ4_XS */
int rf_quant_best_index_int8(int n, const int8_t *val, float x)
{
    /* nearest codebook entry by bisection; ties go to the upper entry */
    if (x <= val[0]) return 0;
    if (x >= val[n - 1]) return n - 1;
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (x < val[mid]) hi = mid; else lo = mid;
    }
    return x - val[hi - 1] < val[hi] - x ? hi - 1 : hi;
}

/* One super-block of IQ4_NL (sb = 32, one scale) or IQ4_XS (sb = 256,
 * 8 sub-block 6-bit scales). Scale search: ntry candidates either side of
 * the max-mapped scale, each scored by the weighted least-squares fit
 * (weights x^2 without an importance matrix). */
void rf_quant_iq4_superblock(int sb, const float *x, rf_fp16 *dh, uint8_t *q4, uint16_t *scales_h,
                             uint8_t *scales_l, int ntry)
{
    const int8_t *values = rf_kvalues_iq4nl;
    float scales[RF_QK_K / 32], weight[32];
    uint8_t L[RF_QK_K];
    memset(q4, 0, (size_t)sb / 2);
    memset(L, 0, sizeof(L));
    *dh = rf_f32_to_fp16(0.f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < sb / 32; ib++) {
        const float *xb = x + ib * 32;
        uint8_t *Lb = L + ib * 32;
        for (int j = 0; j < 32; j++) weight[j] = xb[j] * xb[j];
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (fabsf(xb[j]) > amax) { amax = fabsf(xb[j]); max = xb[j]; }
        if (amax < 1e-15f) { scales[ib] = 0; continue; }
        float d = ntry > 0 ? -max / values[0] : max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            float al = id * xb[j];
            int l = rf_quant_best_index_int8(16, values, al);
            Lb[j] = (uint8_t)l;
            float q = values[l];
            float w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; itry++) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                float al = id * xb[j];
                int l = rf_quant_best_index_int8(16, values, al);
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) { d = sumqx / sumq2; best = d * sumqx; }
        }
        scales[ib] = d;
        if (fabsf(d) > amax_scale) { amax_scale = fabsf(d); max_scale = d; }
    }
    if (sb / 32 > 1) {
        *scales_h = 0;
        float d = -max_scale / 32;
        *dh = rf_f32_to_fp16(d);
        float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < sb / 32; ib++) {
            int l = rf_nearest_int(id * scales[ib]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < 32; j++) L[ib * 32 + j] = (uint8_t)rf_quant_best_index_int8(16, values, idl * x[ib * 32 + j]);
            l += 32;
            uint8_t l_l = (uint8_t)(l & 0xf), l_h = (uint8_t)(l >> 4);
            if (ib % 2 == 0) scales_l[ib / 2] = l_l;
            else scales_l[ib / 2] |= (uint8_t)(l_l << 4);
            *scales_h |= (uint16_t)(l_h << 2 * (ib % 8));
        }
    } else {
        *dh = rf_f32_to_fp16(scales[0]);
        if (ntry > 0) {
            float id = scales[0] ? 1 / scales[0] : 0;
            for (int j = 0; j < sb; j++) L[j] = (uint8_t)rf_quant_best_index_int8(16, values, id * x[j]);
        }
    }
    for (int i = 0; i < sb / 32; i++)
        for (int j = 0; j < 16; j++) q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

/* ggml_quantize_chunk uses ntry = 7 for both (quantize_row_iq4_nl_ref uses
 * -1, but files come from the chunk path, so that is what we match). */
static void q_iq4_nl(const float *x, void *vy, int64_t n)
{
    rf_block_iq4_nl *y = vy;
    for (int64_t b = 0; b < n / 32; b++)
        rf_quant_iq4_superblock(32, x + 32 * b, &y[b].d, y[b].qs, NULL, NULL, 7);
}
static void deq_iq4_nl(const void *vx, float *y, int64_t n)
{
    const rf_block_iq4_nl *x = vx;
    for (int64_t b = 0; b < n / 32; b++, y += 32) {
        const float d = rf_fp16_to_f32(x[b].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * rf_kvalues_iq4nl[x[b].qs[j] & 0xf];
            y[j + 16] = d * rf_kvalues_iq4nl[x[b].qs[j] >> 4];
        }
    }
}
static void q_iq4_xs(const float *x, void *vy, int64_t n)
{
    rf_block_iq4_xs *y = vy;
    for (int64_t b = 0; b < n / 256; b++)
        rf_quant_iq4_superblock(256, x + 256 * b, &y[b].d, y[b].qs, &y[b].scales_h, y[b].scales_l, 7);
}
static void deq_iq4_xs(const void *vx, float *y, int64_t n)
{
    const rf_block_iq4_xs *x = vx;
    for (int64_t b = 0; b < n / 256; b++) {
        const float d = rf_fp16_to_f32(x[b].d);
        const uint8_t *qs = x[b].qs;
        for (int ib = 0; ib < 8; ib++) {
            const int ls = ((x[b].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[b].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * (ls - 32);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * rf_kvalues_iq4nl[qs[j] & 0xf];
                y[j + 16] = dl * rf_kvalues_iq4nl[qs[j] >> 4];
            }
            y += 32;
            qs += 16;
        }
    }
}

/* ------------------------------------------------------------------ Q8_K */
void rf_quantize_row_q8_K(const float *x, rf_block_q8_K *y, int64_t n)
{
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        float max = 0, amax = 0;
        for (int j = 0; j < 256; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        if (!amax) {
            y[b].d = 0;
            memset(y[b].qs, 0, 256);
            memset(y[b].bsums, 0, sizeof(y[b].bsums));
            continue;
        }
        /* -127 (not -128) keeps every product within int8 * int8 range tricks */
        const float iscale = -127.f / max;
        for (int j = 0; j < 256; j++) {
            int v = rf_nearest_int(iscale * x[j]);
            y[b].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; j++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += y[b].qs[j * 16 + i];
            y[b].bsums[j] = (int16_t)sum;
        }
        y[b].d = 1 / iscale;
    }
}

/* ------------------------------------------------------------- the table */
static const rf_quant_ops quant_ops[RF_TYPE_COUNT] = {
    [RF_TYPE_F32] = {deq_f32, q_f32},
    [RF_TYPE_F16] = {deq_f16, q_f16},
    [RF_TYPE_BF16] = {deq_bf16, q_bf16},
    [RF_TYPE_Q4_0] = {deq_q4_0, q_q4_0},
    [RF_TYPE_Q4_1] = {deq_q4_1, q_q4_1},
    [RF_TYPE_Q5_0] = {deq_q5_0, q_q5_0},
    [RF_TYPE_Q5_1] = {deq_q5_1, q_q5_1},
    [RF_TYPE_Q8_0] = {deq_q8_0, q_q8_0},
    [RF_TYPE_Q2_K] = {rf_dequantize_row_q2_K, rf_quantize_row_q2_K},
    [RF_TYPE_Q3_K] = {rf_dequantize_row_q3_K, rf_quantize_row_q3_K},
    [RF_TYPE_Q4_K] = {rf_dequantize_row_q4_K, rf_quantize_row_q4_K},
    [RF_TYPE_Q5_K] = {rf_dequantize_row_q5_K, rf_quantize_row_q5_K},
    [RF_TYPE_Q6_K] = {rf_dequantize_row_q6_K, rf_quantize_row_q6_K},
    [RF_TYPE_IQ4_NL] = {deq_iq4_nl, q_iq4_nl},
    [RF_TYPE_IQ4_XS] = {deq_iq4_xs, q_iq4_xs},
    [RF_TYPE_MXFP4] = {deq_mxfp4, q_mxfp4},
};

const rf_quant_ops *rf_quant_get(rf_type t)
{
    if ((unsigned)t >= RF_TYPE_COUNT || !quant_ops[t].dequantize_row) return NULL;
    return &quant_ops[t];
}

rf_status rf_quantize_rows(rf_type t, const float *src, void *dst, int64_t n_rows, int64_t n_per_row,
                           rf_error *err)
{
    const rf_quant_ops *ops = rf_quant_get(t);
    const rf_type_traits *tr = rf_type_get((uint32_t)t);
    if (!ops || !tr)
        return rf_err(err, RF_ERR_UNSUPPORTED, "quantize: type %s is not supported", rf_type_name((uint32_t)t));
    if (n_rows < 0 || n_per_row <= 0 || n_per_row % tr->block_size)
        return rf_err(err, RF_ERR_INVALID_ARG, "quantize to %s: row length %lld is not a multiple of the block size %u",
                      tr->name, (long long)n_per_row, tr->block_size);
    uint64_t row_bytes = rf_type_row_bytes(t, (uint64_t)n_per_row);
    uint8_t *d = dst;
    for (int64_t r = 0; r < n_rows; r++) ops->quantize_row(src + r * n_per_row, d + (uint64_t)r * row_bytes, n_per_row);
    return RF_OK;
}
