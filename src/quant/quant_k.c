/* quant_k.c — reference (de)quantizers of the K-quants (Q2_K .. Q6_K):
 * super-blocks of 256 values with sub-block scales (and mins) that are
 * themselves quantized against one fp16 super-scale.
 *
 * The scale searches (least-squares fits over a few candidate scales) follow
 * ggml's reference quantizer operation for operation, so files come out
 * bit-identical to llama.cpp's without an importance matrix.
 */
#include <math.h>
#include <string.h>

#include "quant/quant.h"
#include "quant/quant_internal.h"

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Symmetric quantization of n values to [-nmax, nmax-1] with weights x^2:
 * tries 19 scales around the max-mapped one, keeps the best weighted fit.
 * L receives values offset by nmax. Returns the scale. */
static float make_qx_quants_w2(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(rf_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(rf_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clampi(rf_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K sub-block: symmetric, then up to 5 passes of coordinate descent on
 * each value's level. L receives values offset by nmax. */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(rf_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = clampi(rf_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Asymmetric quantization (scale and min) of n weighted values to
 * [0, nmax]: starts from the min/max mapping, then tries nstep+1 scales
 * (rmin + rdelta*is + nmax)/(max-min), solving the 2x2 least-squares
 * system for scale and min at each, keeping the lowest weighted error
 * (absolute when use_mad). *the_min receives -min (a positive offset). */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                              int use_mad)
{
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = rf_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)clampi(l, 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(rf_nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* ------------------------------------------------------------------ Q2_K */
void rf_quantize_row_q2_K(const float *x, void *vy, int64_t n)
{
    rf_block_q2_K *y = vy;
    uint8_t L[256], Laux[16];
    float weights[16], mins[16], scales[16];
    const float q4scale = 15.f;
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, 1);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            float iscale = q4scale / max_scale;
            for (int j = 0; j < 16; j++) y[b].scales[j] = (uint8_t)rf_nearest_int(iscale * scales[j]);
            y[b].d = rf_f32_to_fp16(max_scale / q4scale);
        } else {
            memset(y[b].scales, 0, 16);
            y[b].d = rf_f32_to_fp16(0.f);
        }
        if (max_min > 0) {
            float iscale = q4scale / max_min;
            for (int j = 0; j < 16; j++) y[b].scales[j] |= (uint8_t)(rf_nearest_int(iscale * mins[j]) << 4);
            y[b].dmin = rf_f32_to_fp16(max_min / q4scale);
        } else {
            y[b].dmin = rf_f32_to_fp16(0.f);
        }
        /* requantize against the scales as stored */
        for (int j = 0; j < 16; j++) {
            const float d = rf_fp16_to_f32(y[b].d) * (y[b].scales[j] & 0xF);
            if (!d) continue;
            const float dm = rf_fp16_to_f32(y[b].dmin) * (y[b].scales[j] >> 4);
            for (int i = 0; i < 16; i++) L[16 * j + i] = (uint8_t)clampi(rf_nearest_int((x[16 * j + i] + dm) / d), 0, 3);
        }
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                y[b].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
}

void rf_dequantize_row_q2_K(const void *vx, float *y, int64_t n)
{
    const rf_block_q2_K *x = vx;
    for (int64_t b = 0; b < n / 256; b++) {
        const float d = rf_fp16_to_f32(x[b].d), min = rf_fp16_to_f32(x[b].dmin);
        const uint8_t *q = x[b].qs;
        int is = 0;
        for (int k = 0; k < 256; k += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    uint8_t sc = x[b].scales[is++];
                    float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ Q3_K */
void rf_q3k_unpack_scales(const uint8_t packed[12], int8_t out[16])
{
    /* low 4 bits: bytes 0..7 (two per byte); high 2 bits: bytes 8..11 */
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
        int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

void rf_quantize_row_q3_K(const float *x, void *vy, int64_t n)
{
    rf_block_q3_K *y = vy;
    int8_t L[256];
    float scales[16];
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) { amax = fabsf(scales[j]); max_scale = scales[j]; }
        }
        memset(y[b].scales, 0, 12);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                int8_t l8 = (int8_t)rf_nearest_int(iscale * scales[j]);
                int l = clampi(l8, -32, 31) + 32;
                if (j < 8) y[b].scales[j] = (uint8_t)(l & 0xF);
                else y[b].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
                l >>= 4;
                y[b].scales[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
            }
            y[b].d = rf_f32_to_fp16(1 / iscale);
        } else {
            y[b].d = rf_f32_to_fp16(0.f);
        }
        int8_t sc[16];
        rf_q3k_unpack_scales(y[b].scales, sc);
        for (int j = 0; j < 16; j++) {
            float d = rf_fp16_to_f32(y[b].d) * sc[j];
            if (!d) continue;
            for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(clampi(rf_nearest_int(x[16 * j + i] / d), -4, 3) + 4);
        }
        /* high bit of value j goes to hmask[j % 32], bit j / 32 */
        memset(y[b].hmask, 0, 32);
        for (int j = 0; j < 256; j++) {
            if (L[j] > 3) {
                y[b].hmask[j % 32] |= (uint8_t)(1 << (j / 32));
                L[j] -= 4;
            }
        }
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                y[b].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
}

void rf_dequantize_row_q3_K(const void *vx, float *y, int64_t n)
{
    const rf_block_q3_K *x = vx;
    for (int64_t b = 0; b < n / 256; b++) {
        const float d_all = rf_fp16_to_f32(x[b].d);
        int8_t sc[16];
        rf_q3k_unpack_scales(x[b].scales, sc);
        const uint8_t *q = x[b].qs, *hm = x[b].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int k = 0; k < 256; k += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int half = 0; half < 2; half++) {
                    float dl = d_all * sc[is++];
                    for (int l = 0; l < 16; l++) {
                        int i = l + 16 * half;
                        *y++ = dl * (((q[i] >> shift) & 3) - ((hm[i] & m) ? 0 : 4));
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------ Q4_K / Q5_K */
/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32 with
 * 6-bit scales and mins. L receives the levels of the 256 values. */
static void qk45_superblock(const float *x, int nmax, float rmin, int nstep, rf_fp16 *dd, rf_fp16 *dmin,
                            uint8_t scales_out[12], uint8_t L[256])
{
    uint8_t Laux[32];
    float weights[32], mins[8], scales[8];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        /* weights: RMS of the sub-block plus |x|, favouring large values */
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, 0);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)rf_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)rf_nearest_int(inv_min * mins[j]);
        if (ls > 63) ls = 63;
        if (lm > 63) lm = 63;
        if (j < 4) {
            scales_out[j] = ls;
            scales_out[j + 4] = lm;
        } else {
            scales_out[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            scales_out[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales_out[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *dd = rf_f32_to_fp16(max_scale / 63.f);
    *dmin = rf_f32_to_fp16(max_min / 63.f);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        rf_q4k_scale_min(j, scales_out, &sc, &m);
        const float d = rf_fp16_to_f32(*dd) * sc;
        if (!d) continue;
        const float dm = rf_fp16_to_f32(*dmin) * m;
        for (int i = 0; i < 32; i++) L[32 * j + i] = (uint8_t)clampi(rf_nearest_int((x[32 * j + i] + dm) / d), 0, nmax);
    }
}

void rf_quantize_row_q4_K(const float *x, void *vy, int64_t n)
{
    rf_block_q4_K *y = vy;
    uint8_t L[256];
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        qk45_superblock(x, 15, -1.f, 20, &y[b].d, &y[b].dmin, y[b].scales, L);
        uint8_t *q = y[b].qs;
        for (int j = 0; j < 256; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

void rf_dequantize_row_q4_K(const void *vx, float *y, int64_t n)
{
    const rf_block_q4_K *x = vx;
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *q = x[b].qs;
        const float d = rf_fp16_to_f32(x[b].d), min = rf_fp16_to_f32(x[b].dmin);
        for (int j = 0, is = 0; j < 256; j += 64, q += 32, is += 2) {
            uint8_t sc, m;
            rf_q4k_scale_min(is, x[b].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            rf_q4k_scale_min(is + 1, x[b].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

void rf_quantize_row_q5_K(const float *x, void *vy, int64_t n)
{
    rf_block_q5_K *y = vy;
    uint8_t L[256];
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        qk45_superblock(x, 31, -0.5f, 15, &y[b].d, &y[b].dmin, y[b].scales, L);
        uint8_t *qh = y[b].qh, *ql = y[b].qs;
        memset(qh, 0, 32);
        uint8_t m1 = 1, m2 = 2;
        for (int k = 0; k < 256; k += 64, ql += 32, m1 <<= 2, m2 <<= 2) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[k + j], l2 = L[k + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
        }
    }
}

void rf_dequantize_row_q5_K(const void *vx, float *y, int64_t n)
{
    const rf_block_q5_K *x = vx;
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *ql = x[b].qs, *qh = x[b].qh;
        const float d = rf_fp16_to_f32(x[b].d), min = rf_fp16_to_f32(x[b].dmin);
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < 256; j += 64, ql += 32, is += 2, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            rf_q4k_scale_min(is, x[b].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            rf_q4k_scale_min(is + 1, x[b].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

/* ------------------------------------------------------------------ Q6_K */
void rf_quantize_row_q6_K(const float *x, void *vy, int64_t n)
{
    rf_block_q6_K *y = vy;
    int8_t L[256];
    float scales[16];
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = make_qx_quants_w2(16, 32, x + 16 * ib, L + 16 * ib);
            if (fabsf(scales[ib]) > max_abs_scale) { max_abs_scale = fabsf(scales[ib]); max_scale = scales[ib]; }
        }
        if (max_abs_scale < 1e-15f) {
            memset(&y[b], 0, sizeof(y[b]));
            continue;
        }
        float iscale = -128.f / max_scale;
        y[b].d = rf_f32_to_fp16(1 / iscale);
        for (int ib = 0; ib < 16; ib++) {
            int v = rf_nearest_int(iscale * scales[ib]);
            y[b].scales[ib] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; j++) {
            float d = rf_fp16_to_f32(y[b].d) * y[b].scales[j];
            if (!d) continue;
            for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(clampi(rf_nearest_int(x[16 * j + i] / d), -32, 31) + 32);
        }
        uint8_t *ql = y[b].ql, *qh = y[b].qh;
        for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}

void rf_dequantize_row_q6_K(const void *vx, float *y, int64_t n)
{
    const rf_block_q6_K *x = vx;
    for (int64_t b = 0; b < n / 256; b++) {
        const float d = rf_fp16_to_f32(x[b].d);
        const uint8_t *ql = x[b].ql, *qh = x[b].qh;
        const int8_t *sc = x[b].scales;
        for (int k = 0; k < 256; k += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}
