/* cpu_scalar.c — portable C dot products of quantized weight rows with
 * quantized activations: the reference every SIMD variant is tested
 * against, and the fallback for any entry a variant leaves empty.
 *
 * Integer work stays integer (exact) within a block or sub-block; floats
 * only scale and accumulate block results, in block order.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"

/* ------------------------------------------------------------ activations */
void rf_cpu_act_q8_scalar(const float *x, void *out, int64_t n)
{
    rf_act_q8 *y = out;
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.f;
        /* 127 / amax, as ggml's x86 SIMD quantizer computes it */
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            /* round half to even, as the SIMD conversions do */
            int q = (int)nearbyintf(x[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        /* ggml stores the activation scale as F16 (block_q8_0.d) and its
         * dot products use that rounded value; so do we, or every Q8
         * matmul drifts ~2e-4 from llama.cpp's. */
        y[b].d = rf_fp16_to_f32(rf_f32_to_fp16(d));
        y[b].s = y[b].d * (float)sum;
        /* block_q8_1.s: from the unrounded scale, then rounded to F16 */
        y[b].s1 = rf_fp16_to_f32(rf_f32_to_fp16(d * (float)sum));
        y[b].sum = sum;
    }
}

static void f16_row(const uint16_t *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = rf_fp16_to_f32(src[i]);
}

void rf_cpu_act_q8k_scalar(const float *x, void *out, int64_t n) { rf_quantize_row_q8_K(x, out, n); }

/* ---------------------------------------------------------- float weights */
/* The order of ggml's AVX-512 ggml_vec_dot_f32, which llama.cpp uses for
 * F32 weights: 64 running sums (element i into sum i % 64, fused
 * multiply-adds) over the largest multiple of 64 elements, folded as
 * s[l] = (a[l] + a[l+32]) + (a[l+16] + a[l+48]) for l < 16, the 16 halved
 * pairwise (_mm512_reduce_add_ps), then the remaining elements one by one
 * into that total, as rounded products except the last (n - np) % 8, which
 * are fused (ggml's compiler vectorizes that loop 8 wide, in order, and
 * contracts its scalar tail). Every variant computes exactly this. */
static float dot_f32(int64_t n, const void *w, const void *x)
{
    const float *a = w, *b = x;
    const int64_t np = n & ~(int64_t)63;
    float s = 0.0f;
    if (np) {
        float acc[64], r[16], t[8], u[4];
        for (int l = 0; l < 64; l++) acc[l] = fmaf(a[l], b[l], 0.0f);
        for (int64_t i = 64; i < np; i += 64)
            for (int l = 0; l < 64; l++) acc[l] = fmaf(a[i + l], b[i + l], acc[l]);
        for (int l = 0; l < 16; l++) r[l] = (acc[l] + acc[l + 32]) + (acc[l + 16] + acc[l + 48]);
        for (int k = 0; k < 8; k++) t[k] = r[k] + r[k + 8];
        for (int k = 0; k < 4; k++) u[k] = t[k] + t[k + 4];
        s = (u[0] + u[2]) + (u[1] + u[3]);
    }
    const int64_t nv = np + ((n - np) & ~(int64_t)7);
    for (int64_t i = np; i < nv; i++) s += a[i] * b[i];
    for (int64_t i = nv; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}
static float dot_f16(int64_t n, const void *w, const void *x)
{
    const rf_fp16 *a = w;
    const float *b = x;
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += rf_fp16_to_f32(a[i]) * b[i];
    return s;
}
static float dot_bf16(int64_t n, const void *w, const void *x)
{
    const rf_bf16 *a = w;
    const float *b = x;
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += rf_bf16_to_f32(a[i]) * b[i];
    return s;
}

/* ------------------------------------------------------- 32-value blocks */
static float dot_q4_0(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q4_0 *w = vw;
    const rf_act_q8 *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += ((w[b].qs[j] & 0xF) - 8) * x[b].qs[j];
            sumi += ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + 16];
        }
        s = fmaf((float)sumi, rf_fp16_to_f32(w[b].d) * x[b].d, s);
    }
    return s;
}
/* Q4_1, Q5_0, Q5_1 as ggml's x86 ggml_vec_dot_q4_1_q8_1 / q5_0_q8_0 /
 * q5_1_q8_1 (AVX2 and AVX-512 builds alike) compute them, bit for bit: the
 * 32 weight levels v of a block (low nibbles are values 0-15, high 16-31;
 * Q5_0's with its -16 offset applied, so its dot is integer-exact) meet the
 * activation bytes in 8 integer lane sums of 4 consecutive values; lane k,
 * as a float times d_w * d_x, is fused into running sum k; the 8 sums are
 * added as hsum_float_8 does. The *_1 types add their min term per block,
 * m * s1 fused into one running float, after the lanes. */
static inline void lanes8_fma(float acc[8], const int8_t v[32], const int8_t q[32], float dd)
{
    for (int k = 0; k < 8; k++) {
        int l = 0;
        for (int i = 4 * k; i < 4 * k + 4; i++) l += v[i] * q[i];
        acc[k] = fmaf(dd, (float)l, acc[k]);
    }
}
static inline float hsum8_ggml(const float a[8])
{
    float u[4];
    for (int k = 0; k < 4; k++) u[k] = a[k] + a[k + 4];
    return (u[0] + u[2]) + (u[1] + u[3]);
}
/* levels of a Q4_1 / Q5 block, low nibbles first; qh NULL for Q4_1 */
static inline void levels32(const uint8_t *qs, const uint8_t *qh4, int off, int8_t v[32])
{
    uint32_t qh = 0;
    if (qh4) memcpy(&qh, qh4, 4);
    for (int j = 0; j < 16; j++) {
        v[j] = (int8_t)(((qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)) - off);
        v[j + 16] = (int8_t)(((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - off);
    }
}
static float dot_q4_1(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q4_1 *w = vw;
    const rf_act_q8 *x = vx;
    float acc[8] = {0}, summs = 0;
    int8_t v[32];
    for (int64_t b = 0; b < n / 32; b++) {
        summs = fmaf(rf_fp16_to_f32(w[b].m), x[b].s1, summs);
        levels32(w[b].qs, NULL, 0, v);
        lanes8_fma(acc, v, x[b].qs, rf_fp16_to_f32(w[b].d) * x[b].d);
    }
    return hsum8_ggml(acc) + summs;
}
static float dot_q5_0(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q5_0 *w = vw;
    const rf_act_q8 *x = vx;
    float acc[8] = {0};
    int8_t v[32];
    for (int64_t b = 0; b < n / 32; b++) {
        levels32(w[b].qs, w[b].qh, 16, v);
        lanes8_fma(acc, v, x[b].qs, rf_fp16_to_f32(w[b].d) * x[b].d);
    }
    return hsum8_ggml(acc);
}
static float dot_q5_1(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q5_1 *w = vw;
    const rf_act_q8 *x = vx;
    float acc[8] = {0}, summs = 0;
    int8_t v[32];
    for (int64_t b = 0; b < n / 32; b++) {
        summs = fmaf(rf_fp16_to_f32(w[b].m), x[b].s1, summs);
        levels32(w[b].qs, w[b].qh, 0, v);
        lanes8_fma(acc, v, x[b].qs, rf_fp16_to_f32(w[b].d) * x[b].d);
    }
    return hsum8_ggml(acc) + summs;
}
static float dot_q8_0(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q8_0 *w = vw;
    const rf_act_q8 *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        int sumi = 0;
        for (int j = 0; j < 32; j++) sumi += w[b].qs[j] * x[b].qs[j];
        s = fmaf((float)sumi, rf_fp16_to_f32(w[b].d) * x[b].d, s);
    }
    return s;
}
/* Q8_0 in ggml_vec_dot_q8_0_q8_0's x86 order (8 lane sums, hsum_float_8):
 * the weights llama.cpp's AMX backend leaves to it (rf_cpu_matmul_q8_0_ggml) */
float rf_cpu_dot_q8_0_ggml(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q8_0 *w = vw;
    const rf_act_q8 *x = vx;
    float acc[8] = {0};
    for (int64_t b = 0; b < n / 32; b++) lanes8_fma(acc, w[b].qs, x[b].qs, rf_fp16_to_f32(w[b].d) * x[b].d);
    return hsum8_ggml(acc);
}
static float dot_iq4_nl(int64_t n, const void *vw, const void *vx)
{
    const rf_block_iq4_nl *w = vw;
    const rf_act_q8 *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += rf_kvalues_iq4nl[w[b].qs[j] & 0xF] * x[b].qs[j];
            sumi += rf_kvalues_iq4nl[w[b].qs[j] >> 4] * x[b].qs[j + 16];
        }
        s = fmaf((float)sumi, rf_fp16_to_f32(w[b].d) * x[b].d, s);
    }
    return s;
}
static float dot_mxfp4(int64_t n, const void *vw, const void *vx)
{
    const rf_block_mxfp4 *w = vw;
    const rf_act_q8 *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += rf_kvalues_mxfp4[w[b].qs[j] & 0xF] * x[b].qs[j];
            sumi += rf_kvalues_mxfp4[w[b].qs[j] >> 4] * x[b].qs[j + 16];
        }
        s += rf_e8m0_to_f32_half(w[b].e) * x[b].d * (float)sumi;
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
        const uint8_t *q2 = w[b].qs;
        const int8_t *q8 = x[b].qs;
        int summs = 0;
        for (int j = 0; j < 16; j++) summs += x[b].bsums[j] * (w[b].scales[j] >> 4);
        int isum = 0, is = 0;
        for (int k = 0; k < 2; k++, q2 += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    int d = w[b].scales[is++] & 0xF, sumi = 0;
                    for (int l = 0; l < 16; l++) sumi += q8[l] * ((q2[l + 16 * half] >> shift) & 3);
                    isum += d * sumi;
                    q8 += 16;
                }
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
        const uint8_t *q = w[b].qs, *hm = w[b].hmask;
        const int8_t *q8 = x[b].qs;
        int isum = 0, is = 0;
        uint8_t m = 1;
        for (int k = 0; k < 2; k++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int half = 0; half < 2; half++) {
                    int sumi = 0;
                    for (int l = 0; l < 16; l++) {
                        int i = l + 16 * half;
                        sumi += q8[l] * (((q[i] >> shift) & 3) - ((hm[i] & m) ? 0 : 4));
                    }
                    isum += sc[is++] * sumi;
                    q8 += 16;
                }
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
        const uint8_t *q = w[b].qs;
        const int8_t *q8 = x[b].qs;
        int isum = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            rf_q4k_scale_min(j, w[b].scales, &sc, &m);
            summ += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
            const uint8_t *qq = q + 32 * (j / 2);
            int shift = 4 * (j & 1), sumi = 0;
            for (int l = 0; l < 32; l++) sumi += ((qq[l] >> shift) & 0xF) * q8[32 * j + l];
            isum += sc * sumi;
        }
        s = fmaf((float)isum, rf_fp16_to_f32(w[b].d) * x[b].d, s);
        s = fmaf(-(float)summ, rf_fp16_to_f32(w[b].dmin) * x[b].d, s);
    }
    return s;
}
static float dot_q5_K(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q5_K *w = vw;
    const rf_block_q8_K *x = vx;
    float s = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        const int8_t *q8 = x[b].qs;
        int isum = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            rf_q4k_scale_min(j, w[b].scales, &sc, &m);
            summ += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
            const uint8_t *ql = w[b].qs + 32 * (j / 2);
            int shift = 4 * (j & 1), sumi = 0;
            for (int l = 0; l < 32; l++) {
                int v = ((ql[l] >> shift) & 0xF) | (((w[b].qh[l] >> j) & 1) << 4);
                sumi += v * q8[32 * j + l];
            }
            isum += sc * sumi;
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
            for (int l = 0; l < 32; l += 16) {
                int is = l / 16, s1 = 0, s2 = 0, s3 = 0, s4 = 0;
                for (int i = l; i < l + 16; i++) {
                    s1 += (((ql[i] & 0xF) | (((qh[i] >> 0) & 3) << 4)) - 32) * q8[i];
                    s2 += (((ql[i + 32] & 0xF) | (((qh[i] >> 2) & 3) << 4)) - 32) * q8[i + 32];
                    s3 += (((ql[i] >> 4) | (((qh[i] >> 4) & 3) << 4)) - 32) * q8[i + 64];
                    s4 += (((ql[i + 32] >> 4) | (((qh[i] >> 6) & 3) << 4)) - 32) * q8[i + 96];
                }
                isum += sc[is] * s1 + sc[is + 2] * s2 + sc[is + 4] * s3 + sc[is + 6] * s4;
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
    float s = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *qs = w[b].qs;
        const int8_t *q8 = x[b].qs;
        int isum = 0;
        for (int ib = 0; ib < 8; ib++, qs += 16, q8 += 32) {
            const int ls = ((w[b].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((w[b].scales_h >> 2 * ib) & 3) << 4);
            int sumi = 0;
            for (int j = 0; j < 16; j++) {
                sumi += rf_kvalues_iq4nl[qs[j] & 0xf] * q8[j];
                sumi += rf_kvalues_iq4nl[qs[j] >> 4] * q8[j + 16];
            }
            isum += (ls - 32) * sumi;
        }
        s += x[b].d * rf_fp16_to_f32(w[b].d) * (float)isum;
    }
    return s;
}

/* ------------------------------------------------------- packed weights */
/* The rf_cpu_pack layouts (cpu_pack.c), one row at a time: the reference of
 * the SIMD packed kernels, with the same formulas as the row dots above. */
#define G RF_CPU_PACK_ROWS

static float fp16_at(const uint8_t *p)
{
    rf_fp16 h;
    memcpy(&h, p, 2);
    return rf_fp16_to_f32(h);
}

/* Q4_0 and IQ4_NL share a layout (an F16 scale and 16 nibble bytes per
 * block): only the level a nibble stands for differs. */
static const int8_t q4_0_levels[16] = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};

static void group_nib32(const int8_t *lv, int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt,
                        float *y, int64_t ys)
{
    const size_t gb = G * sizeof(rf_block_q4_0);
    for (int t = 0; t < nt; t++) {
        const rf_act_q8 *x = (const rf_act_q8 *)(xb + (size_t)t * xs);
        for (int r = 0; r < nr; r++) {
            float acc = 0;
            for (int64_t b = 0; b < n / 32; b++) {
                const uint8_t *blk = wg + (size_t)b * gb, *q = blk + 2 * G + 4 * r;
                int isum = 0;
                for (int j = 0; j < 4; j++)
                    for (int i = 0; i < 4; i++) {
                        const uint8_t v = q[64 * j + i];
                        isum += lv[v & 0xF] * x[b].qs[4 * j + i] + lv[v >> 4] * x[b].qs[16 + 4 * j + i];
                    }
                acc = fmaf((float)isum, fp16_at(blk + 2 * r) * x[b].d, acc);
            }
            y[(int64_t)t * ys + r] = acc;
        }
    }
}

static void group_q4_0(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt, float *y,
                       int64_t ys)
{
    group_nib32(q4_0_levels, n, wg, nr, xb, xs, nt, y, ys);
}

static void group_iq4_nl(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt, float *y,
                         int64_t ys)
{
    group_nib32(rf_kvalues_iq4nl, n, wg, nr, xb, xs, nt, y, ys);
}

static void group_q8_0(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt, float *y,
                        int64_t ys)
{
    const size_t gb = G * sizeof(rf_block_q8_0);
    for (int t = 0; t < nt; t++) {
        const rf_act_q8 *x = (const rf_act_q8 *)(xb + (size_t)t * xs);
        for (int r = 0; r < nr; r++) {
            float acc = 0;
            for (int64_t b = 0; b < n / 32; b++) {
                const uint8_t *blk = wg + (size_t)b * gb, *q = blk + 2 * G + 4 * r;
                int isum = 0;
                for (int k = 0; k < 8; k++)
                    for (int i = 0; i < 4; i++) isum += ((int)q[64 * k + i] - 128) * x[b].qs[4 * k + i];
                acc = fmaf((float)isum, fp16_at(blk + 2 * r) * x[b].d, acc);
            }
            y[(int64_t)t * ys + r] = acc;
        }
    }
}

/* Q4_K and Q5_K: the same layout but Q5_K's fifth bits (qh runs) and its
 * float formula (the row dots'). */
static void group_k45(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt, float *y,
                      int64_t ys, bool q5)
{
    const size_t gb = rf_cpu_pack_block_bytes(q5 ? RF_TYPE_Q5_K : RF_TYPE_Q4_K);
    for (int t = 0; t < nt; t++) {
        const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)t * xs);
        for (int r = 0; r < nr; r++) {
            float acc = 0;
            for (int64_t b = 0; b < n / 256; b++) {
                const uint8_t *blk = wg + (size_t)b * gb, *sc = blk + 4 * G, *mn = blk + 12 * G, *q = blk + 20 * G + 4 * r;
                const uint8_t *qh = blk + 20 * G + 2048 + 4 * r;
                int isum = 0, msum = 0;
                for (int j = 0; j < 8; j++) msum += mn[G * j + r] * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
                for (int p = 0; p < 4; p++) {
                    int lo = 0, hi = 0;
                    for (int i = 0; i < 8; i++)
                        for (int e = 0; e < 4; e++) {
                            const uint8_t v = q[64 * (8 * p + i) + e], h = q5 ? qh[64 * i + e] : 0;
                            lo += ((v & 0xF) | ((h >> (2 * p)) & 1) << 4) * x[b].qs[64 * p + 4 * i + e];
                            hi += ((v >> 4) | ((h >> (2 * p + 1)) & 1) << 4) * x[b].qs[64 * p + 32 + 4 * i + e];
                        }
                    isum += sc[G * (2 * p) + r] * lo + sc[G * (2 * p + 1) + r] * hi;
                }
                const float dw = fp16_at(blk + 2 * r), dmin = fp16_at(blk + 2 * G + 2 * r);
                if (q5) {
                    acc += x[b].d * dw * (float)isum - x[b].d * dmin * (float)msum;
                } else {
                    acc = fmaf((float)isum, dw * x[b].d, acc);
                    acc = fmaf(-(float)msum, dmin * x[b].d, acc);
                }
            }
            y[(int64_t)t * ys + r] = acc;
        }
    }
}

static void group_q4_K(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt, float *y,
                       int64_t ys)
{
    group_k45(n, wg, nr, xb, xs, nt, y, ys, false);
}

static void group_q5_K(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt, float *y,
                       int64_t ys)
{
    group_k45(n, wg, nr, xb, xs, nt, y, ys, true);
}

static void group_q6_K(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt, float *y,
                        int64_t ys)
{
    const size_t gb = G * sizeof(rf_block_q6_K);
    for (int t = 0; t < nt; t++) {
        const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)t * xs);
        for (int r = 0; r < nr; r++) {
            float acc = 0;
            for (int64_t b = 0; b < n / 256; b++) {
                const uint8_t *blk = wg + (size_t)b * gb, *ql = blk + 18 * G + 4 * r, *qh = ql + 32 * 64;
                const int8_t *sc = (const int8_t *)(blk + 2 * G);
                int isum = 0;
                for (int j = 0; j < 16; j++) {
                    int sub = 0;
                    for (int k = 4 * j; k < 4 * j + 4; k++)
                        for (int e = 0; e < 4; e++) {
                            const int lo = (ql[64 * (k % 32) + e] >> (4 * (k / 32))) & 0xF;
                            const int hi = (qh[64 * (k % 16) + e] >> (2 * (k / 16))) & 3;
                            sub += ((lo | hi << 4) - 32) * x[b].qs[4 * k + e];
                        }
                    isum += sc[G * j + r] * sub;
                }
                acc = fmaf((float)isum, fp16_at(blk + 2 * r) * x[b].d, acc);
            }
            y[(int64_t)t * ys + r] = acc;
        }
    }
}

static void group_iq4_xs(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt, float *y,
                         int64_t ys)
{
    const size_t gb = rf_cpu_pack_block_bytes(RF_TYPE_IQ4_XS);
    for (int t = 0; t < nt; t++) {
        const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)t * xs);
        for (int r = 0; r < nr; r++) {
            float acc = 0;
            for (int64_t b = 0; b < n / 256; b++) {
                const uint8_t *blk = wg + (size_t)b * gb;
                const int8_t *sc = (const int8_t *)(blk + 2 * G);
                int isum = 0;
                for (int ib = 0; ib < 8; ib++) {
                    const uint8_t *q = blk + 10 * G + 256 * ib + 4 * r;
                    const int8_t *q8 = x[b].qs + 32 * ib;
                    int sumi = 0;
                    for (int j = 0; j < 4; j++)
                        for (int i = 0; i < 4; i++) {
                            const uint8_t v = q[64 * j + i];
                            sumi += rf_kvalues_iq4nl[v & 0xF] * q8[4 * j + i] + rf_kvalues_iq4nl[v >> 4] * q8[16 + 4 * j + i];
                        }
                    isum += sc[G * ib + r] * sumi;
                }
                acc += x[b].d * fp16_at(blk + 2 * r) * (float)isum;
            }
            y[(int64_t)t * ys + r] = acc;
        }
    }
}

/* nr rows from group wg on: group by group */
#define RF_PACKED(type, TYPE, block)                                                                           \
    static void packed_##type(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt,     \
                              float *y, int64_t ys)                                                            \
    {                                                                                                          \
        const size_t gstride = (size_t)(n / (block)) * rf_cpu_pack_block_bytes(RF_TYPE_##TYPE);               \
        for (int r0 = 0; r0 < nr; r0 += G, wg += gstride)                                                      \
            group_##type(n, wg, nr - r0 < G ? nr - r0 : G, xb, xs, nt, y + r0, ys);                            \
    }
RF_PACKED(q4_0, Q4_0, 32)
RF_PACKED(q8_0, Q8_0, 32)
RF_PACKED(iq4_nl, IQ4_NL, 32)
RF_PACKED(q4_K, Q4_K, 256)
RF_PACKED(q5_K, Q5_K, 256)
RF_PACKED(q6_K, Q6_K, 256)
RF_PACKED(iq4_xs, IQ4_XS, 256)

static const rf_cpu_isa_kernels scalar_kernels = {
    .dot = {
        [RF_TYPE_F32] = dot_f32, [RF_TYPE_F16] = dot_f16, [RF_TYPE_BF16] = dot_bf16,
        [RF_TYPE_Q4_0] = dot_q4_0, [RF_TYPE_Q4_1] = dot_q4_1, [RF_TYPE_Q5_0] = dot_q5_0,
        [RF_TYPE_Q5_1] = dot_q5_1, [RF_TYPE_Q8_0] = dot_q8_0, [RF_TYPE_IQ4_NL] = dot_iq4_nl,
        [RF_TYPE_MXFP4] = dot_mxfp4, [RF_TYPE_Q2_K] = dot_q2_K, [RF_TYPE_Q3_K] = dot_q3_K,
        [RF_TYPE_Q4_K] = dot_q4_K, [RF_TYPE_Q5_K] = dot_q5_K, [RF_TYPE_Q6_K] = dot_q6_K,
        [RF_TYPE_IQ4_XS] = dot_iq4_xs,
    },
    .packed = {
        [RF_TYPE_Q4_0] = packed_q4_0, [RF_TYPE_Q8_0] = packed_q8_0, [RF_TYPE_Q4_K] = packed_q4_K,
        [RF_TYPE_Q5_K] = packed_q5_K, [RF_TYPE_Q6_K] = packed_q6_K, [RF_TYPE_IQ4_NL] = packed_iq4_nl,
        [RF_TYPE_IQ4_XS] = packed_iq4_xs,
    },
    .f16_row = f16_row,
    .act_q8 = rf_cpu_act_q8_scalar,
    .act_q8k = rf_cpu_act_q8k_scalar,
};

const rf_cpu_isa_kernels *rf_cpu_kernels_scalar(void) { return &scalar_kernels; }
