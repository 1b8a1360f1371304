/* cpu_x86_impl.h — x86 SIMD dot products, compiled twice: by cpu_avx2.c
 * (AVX2 + FMA + F16C: u8 x s8 products with vpmaddubsw) and by
 * cpu_avx512.c (adds AVX-512 VL/BW/VNNI: vpdpbusd accumulates u8 x s8 dot
 * products of 4 straight into int32). The includer defines RF_X86_VNNI and
 * RF_X86_TABLE (the name of the table function).
 *
 * Integer work per block is exact; floats only scale block results. Signed
 * x signed products use the usual sign trick: |a| as the unsigned operand
 * and b with a's sign applied as the signed one. vpmaddubsw saturates at
 * int16, which the operand ranges here never reach (|a| <= 128 with
 * |b| <= 127 gives at most 2 * 16256 = 32512 per pair).
 * The K-quants' row dots use vpmaddubsw + vpmaddwd in both variants, the
 * second multiplying by the sub-block scale (int16 lanes 0-7 hold the first
 * 16 values' pair sums, lanes 8-15 the next 16's).
 * The packed-weight kernels (end of file, layouts in cpu_pack.c) put rows in
 * lanes: 16 rows per zmm with VNNI, 8 per ymm without.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"

/* ---------------------------------------------------------------- helpers */
static inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s)
{
#if RF_X86_VNNI
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    const __m256i p16 = _mm256_maddubs_epi16(u, s);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
#endif
}

/* signed a x signed b, per 4-byte group into int32 lanes */
static inline __m256i dot_s8s8(__m256i acc, __m256i a, __m256i b)
{
    return dot_u8s8(acc, _mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

static inline float fp16_to_f32(rf_fp16 h) { return _cvtsh_ss(h); }

/* u8 x s8 products summed in pairs (int16), then times a per-pair int16
 * scale and summed in pairs again into int32: the K-quant sub-block scales
 * cost nothing extra this way. Exact while |u| * 127 * 2 fits int16 (u <= 63). */
static inline __m256i dot_u8s8_scaled(__m256i acc, __m256i u, __m256i s, __m256i scale16)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale16));
}

/* The 8 scales and 8 mins (6 bits each) of a Q4_K/Q5_K super-block. */
static inline void q4k_unpack(const uint8_t *packed, uint8_t sc[8], uint8_t mn[8])
{
    uint32_t w0, w1, w2;
    memcpy(&w0, packed, 4);
    memcpy(&w1, packed + 4, 4);
    memcpy(&w2, packed + 8, 4);
    const uint32_t s03 = w0 & 0x3f3f3f3fu, m03 = w1 & 0x3f3f3f3fu;
    const uint32_t s47 = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
    const uint32_t m47 = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
    memcpy(sc, &s03, 4);
    memcpy(sc + 4, &s47, 4);
    memcpy(mn, &m03, 4);
    memcpy(mn + 4, &m47, 4);
}

/* sum_j mn[j] * (bsums[2j] + bsums[2j+1]) */
static inline int q8k_min_sum(const int16_t *bsums, const uint8_t mn[8])
{
    const __m128i m8 = _mm_loadl_epi64((const __m128i *)mn);
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
    return hsum_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bsums), m16));
}

/* sum_j sc[j] * bsums[j] over the 16 sub-blocks */
static inline int q8k_scale_sum(const int16_t *bsums, const int8_t sc[16])
{
    const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
    return hsum_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bsums), s16));
}

/* int16 scale vector: a for the first 16 bytes' pairs, b for the next 16 */
static inline __m256i scale16_pair(int a, int b)
{
    return _mm256_setr_m128i(_mm_set1_epi16((short)a), _mm_set1_epi16((short)b));
}

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles first, then high */
static inline __m256i unpack_nibbles(const uint8_t *q)
{
    const __m128i b = _mm_loadu_si128((const __m128i *)q);
    const __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes of 0x10 where the bit is set (Q5 high bits) */
static inline __m256i bits_to_bytes_0x10(const uint8_t *qh4)
{
    uint32_t bits;
    memcpy(&bits, qh4, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll, 0x0101010101010101ll, 0);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    const __m256i bitsel = _mm256_set1_epi64x(0x8040201008040201ll);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bitsel), bitsel);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

static void f16_row(const uint16_t *src, float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

/* ------------------------------------------------------------ activations */
static void act_q8(const float *x, void *out, int64_t n)
{
    rf_act_q8 *y = out;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
               v3 = _mm256_loadu_ps(x + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        /* ggml's SIMD quantizer: id = 127 / amax (not 1 / d), which differs
         * from 1 / (amax / 127) in the last bit for some amax */
        const float d = amax / 127.f;
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        const __m256 vid = _mm256_set1_ps(id);
        /* cvtps rounds half to even, like the scalar nearbyintf */
        __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, vid)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, vid));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, vid)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, vid));
        const int sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
        /* pack 32-bit -> 8-bit; the packs interleave 128-bit lanes, the permute restores order */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, p);
        /* ggml keeps the activation scale in F16 (block_q8_0.d) and its
         * dots multiply by that rounded value; so do we, else each Q8 matmul
         * drifts ~2e-4 from llama.cpp's */
        const float d16 = _cvtsh_ss(_cvtss_sh(d, 0));
        y[b].d = d16;
        y[b].s = d16 * (float)sum;
        /* block_q8_1.s: from the unrounded scale, then rounded to F16 */
        y[b].s1 = _cvtsh_ss(_cvtss_sh(d * (float)sum, 0));
        y[b].sum = sum;
    }
}

/* F32 -> Q8_K, the same bytes as the scalar rf_quantize_row_q8_K (ggml's
 * reference): scale from the signed value of largest magnitude (the first
 * one on ties), levels rounded half to even (cvtps does what its
 * add-1.5*2^23 trick does), capped at 127. */
static void act_q8k(const float *x, void *out, int64_t n)
{
    rf_block_q8_K *y = out;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / 256; b++, x += 256) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < 256; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        if (!amax) {
            memset(&y[b], 0, sizeof(y[b]));
            continue;
        }
        float max = amax;
        for (int j = 0; j < 256; j++)
            if (fabsf(x[j]) == amax) {
                max = x[j];
                break;
            }
        const float iscale = -127.f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i cap = _mm256_set1_epi32(127);
        for (int g = 0; g < 16; g++) {
            __m256i i0 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g), vs)), cap);
            __m256i i1 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g + 8), vs)), cap);
            y[b].bsums[g] = (int16_t)hsum_epi32(_mm256_add_epi32(i0, i1));
            __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(i0), _mm256_extracti128_si256(i0, 1));
            __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(i1), _mm256_extracti128_si256(i1, 1));
            _mm_storeu_si128((__m128i *)(y[b].qs + 16 * g), _mm_packs_epi16(p16, q16));
        }
        y[b].d = 1 / iscale;
    }
}

/* ---------------------------------------------------------- float weights */
/* ggml's AVX-512 ggml_vec_dot_f32 order (see cpu_scalar.c): the 64 running
 * sums are 8 registers here, sum l in register l / 8; the fold leaves lanes
 * 0-7 in r0 and 8-15 in r1, and hsum_ps(r0 + r1) halves them as
 * _mm512_reduce_add_ps does. */
static float dot_f32(int64_t n, const void *vw, const void *vx)
{
    const float *w = vw, *x = vx;
    const int64_t np = n & ~(int64_t)63;
    float s = 0.0f;
    if (np) {
        __m256 a[8];
        for (int k = 0; k < 8; k++) a[k] = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8 * k), _mm256_loadu_ps(x + 8 * k), _mm256_setzero_ps());
        for (int64_t i = 64; i < np; i += 64)
            for (int k = 0; k < 8; k++)
                a[k] = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8 * k), _mm256_loadu_ps(x + i + 8 * k), a[k]);
        const __m256 r0 = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));
        const __m256 r1 = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));
        s = hsum_ps(_mm256_add_ps(r0, r1));
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
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum_ps(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += fp16_to_f32(w[i]) * x[i];
    return s;
}

static float dot_bf16(int64_t n, const void *vw, const void *vx)
{
    const rf_bf16 *w = vw;
    const float *x = vx;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i u0 = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + i))), 16);
        __m256i u1 = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + i + 8))), 16);
        a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(u0), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_castsi256_ps(u1), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum_ps(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += rf_bf16_to_f32(w[i]) * x[i];
    return s;
}

/* ------------------------------------------------------- 32-value blocks */
/* Unsigned weight levels u (0..15 or 0..31) with an offset: the dot is
 * d_w * (d_x * sum(u q) - off * d_x * sum(q)); d_x * sum(q) is x.s. */
/* The multi-token kernels compute nt (1..4) outputs of one weight row,
 * decoding each weight block once for all nt tokens. dot (nt = 1) and the
 * tiles (nt = 4) run this same code, so each output's arithmetic is the
 * same whatever the batch. */
#define RF_MT static inline __attribute__((always_inline)) void

RF_MT q4_0_multi_rows(int64_t n, const uint8_t *wb, size_t ws, int nr, const uint8_t *xb, size_t xs, int nt,
                      float *out, int64_t os)
{
    /* the packed kernels' formula (cpu_pack.c), one row at a time */
    float acc[2][4];
    for (int r = 0; r < nr; r++)
        for (int k = 0; k < nt; k++) acc[r][k] = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        float dw[2];
        __m256i q[2];
        for (int r = 0; r < nr; r++) {
            const rf_block_q4_0 *w = (const rf_block_q4_0 *)(wb + (size_t)r * ws) + b;
            dw[r] = fp16_to_f32(w->d);
            q[r] = unpack_nibbles(w->qs);
        }
        for (int k = 0; k < nt; k++) {
            const rf_act_q8 *x = (const rf_act_q8 *)(xb + (size_t)k * xs) + b;
            const __m256i xq = _mm256_loadu_si256((const __m256i *)x->qs);
            for (int r = 0; r < nr; r++) {
                const int isum = hsum_epi32(dot_u8s8(_mm256_setzero_si256(), q[r], xq)) - 8 * x->sum;
                acc[r][k] = fmaf((float)isum, dw[r] * x->d, acc[r][k]);
            }
        }
    }
    for (int r = 0; r < nr; r++)
        for (int k = 0; k < nt; k++) out[k * os + r] = acc[r][k];
}

RF_MT q4_0_multi(int64_t n, const void *vw, const uint8_t *xb, size_t xs, int nt, float *out, int64_t os)
{
    q4_0_multi_rows(n, vw, 0, 1, xb, xs, nt, out, os);
}

static float dot_q4_0(int64_t n, const void *vw, const void *vx)
{
    float r;
    q4_0_multi(n, vw, vx, 0, 1, &r, 0);
    return r;
}

/* Tiles: each weight row stays in L1 while the tile's tokens go by in
 * groups of 4. */
#define RF_TILE(type)                                                                                          \
    static void tile_##type(int64_t n, const uint8_t *w, size_t w_stride, int nr, const uint8_t *x,           \
                            size_t x_stride, int nt, float *y, int64_t y_stride)                              \
    {                                                                                                          \
        for (int r = 0; r < nr; r++) {                                                                         \
            const uint8_t *wr = w + (size_t)r * w_stride;                                                      \
            int t = 0;                                                                                         \
            for (; t + 4 <= nt; t += 4)                                                                        \
                type##_multi(n, wr, x + (size_t)t * x_stride, x_stride, 4, y + t * y_stride + r, y_stride);    \
            for (; t < nt; t++) type##_multi(n, wr, x + (size_t)t * x_stride, x_stride, 1, y + t * y_stride + r, y_stride); \
        }                                                                                                      \
    }
/* 2 rows x 4 tokens: each activation block loaded once for both rows */
#define RF_TILE2(type)                                                                                         \
    static void tile_##type(int64_t n, const uint8_t *w, size_t w_stride, int nr, const uint8_t *x,           \
                            size_t x_stride, int nt, float *y, int64_t y_stride)                              \
    {                                                                                                          \
        int r = 0;                                                                                             \
        for (; r + 2 <= nr; r += 2) {                                                                          \
            const uint8_t *wr = w + (size_t)r * w_stride;                                                      \
            int t = 0;                                                                                         \
            for (; t + 4 <= nt; t += 4)                                                                        \
                type##_multi_rows(n, wr, w_stride, 2, x + (size_t)t * x_stride, x_stride, 4, y + t * y_stride + r, y_stride); \
            for (; t < nt; t++)                                                                                \
                type##_multi_rows(n, wr, w_stride, 2, x + (size_t)t * x_stride, x_stride, 1, y + t * y_stride + r, y_stride); \
        }                                                                                                      \
        for (; r < nr; r++) {                                                                                  \
            const uint8_t *wr = w + (size_t)r * w_stride;                                                      \
            int t = 0;                                                                                         \
            for (; t + 4 <= nt; t += 4)                                                                        \
                type##_multi(n, wr, x + (size_t)t * x_stride, x_stride, 4, y + t * y_stride + r, y_stride);    \
            for (; t < nt; t++) type##_multi(n, wr, x + (size_t)t * x_stride, x_stride, 1, y + t * y_stride + r, y_stride); \
        }                                                                                                      \
    }
RF_TILE2(q4_0)
/* Q4_1, Q5_0, Q5_1: ggml's x86 kernels to the bit (see cpu_scalar.c): the
 * same 8 lanes of 4 values, fused scale-and-add per lane, hsum_ps as its
 * hsum_float_8; Q5_0's levels minus 16 as signed bytes (integer-exact), the
 * *_1 types' min term m * s1 fused into a float beside. */
static float dot_q4_1(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q4_1 *w = vw;
    const rf_act_q8 *x = vx;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        summs = fmaf(fp16_to_f32(w[b].m), x[b].s1, summs);
        const __m256i q = unpack_nibbles(w[b].qs);
        const __m256i d = dot_u8s8(_mm256_setzero_si256(), q, _mm256_loadu_si256((const __m256i *)x[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(w[b].d) * x[b].d), _mm256_cvtepi32_ps(d), acc);
    }
    return hsum_ps(acc) + summs;
}

static float dot_q5_0(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q5_0 *w = vw;
    const rf_act_q8 *x = vx;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        const __m256i u = _mm256_or_si256(unpack_nibbles(w[b].qs), bits_to_bytes_0x10(w[b].qh));
        const __m256i q = _mm256_sub_epi8(u, _mm256_set1_epi8(16));
        const __m256i d = dot_s8s8(_mm256_setzero_si256(), q, _mm256_loadu_si256((const __m256i *)x[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(w[b].d) * x[b].d), _mm256_cvtepi32_ps(d), acc);
    }
    return hsum_ps(acc);
}

static float dot_q5_1(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q5_1 *w = vw;
    const rf_act_q8 *x = vx;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        summs = fmaf(fp16_to_f32(w[b].m), x[b].s1, summs);
        const __m256i q = _mm256_or_si256(unpack_nibbles(w[b].qs), bits_to_bytes_0x10(w[b].qh));
        const __m256i d = dot_u8s8(_mm256_setzero_si256(), q, _mm256_loadu_si256((const __m256i *)x[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_to_f32(w[b].d) * x[b].d), _mm256_cvtepi32_ps(d), acc);
    }
    return hsum_ps(acc) + summs;
}

RF_MT q8_0_multi_rows(int64_t n, const uint8_t *wb, size_t ws, int nr, const uint8_t *xb, size_t xs, int nt,
                      float *out, int64_t os)
{
    float acc[2][4];
    for (int r = 0; r < nr; r++)
        for (int k = 0; k < nt; k++) acc[r][k] = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        float dw[2];
        __m256i q[2], aq[2];
        for (int r = 0; r < nr; r++) {
            const rf_block_q8_0 *w = (const rf_block_q8_0 *)(wb + (size_t)r * ws) + b;
            dw[r] = fp16_to_f32(w->d);
            q[r] = _mm256_loadu_si256((const __m256i *)w->qs);
            aq[r] = _mm256_sign_epi8(q[r], q[r]);
        }
        for (int k = 0; k < nt; k++) {
            const rf_act_q8 *x = (const rf_act_q8 *)(xb + (size_t)k * xs) + b;
            const __m256i xq = _mm256_loadu_si256((const __m256i *)x->qs);
            for (int r = 0; r < nr; r++) {
                const int isum = hsum_epi32(dot_u8s8(_mm256_setzero_si256(), aq[r], _mm256_sign_epi8(xq, q[r])));
                acc[r][k] = fmaf((float)isum, dw[r] * x->d, acc[r][k]);
            }
        }
    }
    for (int r = 0; r < nr; r++)
        for (int k = 0; k < nt; k++) out[k * os + r] = acc[r][k];
}

RF_MT q8_0_multi(int64_t n, const void *vw, const uint8_t *xb, size_t xs, int nt, float *out, int64_t os)
{
    q8_0_multi_rows(n, vw, 0, 1, xb, xs, nt, out, os);
}

static float dot_q8_0(int64_t n, const void *vw, const void *vx)
{
    float r;
    q8_0_multi(n, vw, vx, 0, 1, &r, 0);
    return r;
}
RF_TILE2(q8_0)
/* 16-entry signed codebook lookup of 32 nibbles */
static inline __m256i lookup_nibbles(const uint8_t *qs, __m256i table)
{
    return _mm256_shuffle_epi8(table, unpack_nibbles(qs));
}

static float dot_iq4_nl(int64_t n, const void *vw, const void *vx)
{
    const rf_block_iq4_nl *w = vw;
    const rf_act_q8 *x = vx;
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)rf_kvalues_iq4nl));
    float acc = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        const __m256i q = lookup_nibbles(w[b].qs, table);
        const int isum = hsum_epi32(dot_s8s8(_mm256_setzero_si256(), q, _mm256_loadu_si256((const __m256i *)x[b].qs)));
        acc = fmaf((float)isum, fp16_to_f32(w[b].d) * x[b].d, acc);
    }
    return acc;
}

static float dot_mxfp4(int64_t n, const void *vw, const void *vx)
{
    const rf_block_mxfp4 *w = vw;
    const rf_act_q8 *x = vx;
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)rf_kvalues_mxfp4));
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        const __m256i q = lookup_nibbles(w[b].qs, table);
        const __m256i d = dot_s8s8(_mm256_setzero_si256(), q, _mm256_loadu_si256((const __m256i *)x[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(rf_e8m0_to_f32_half(w[b].e) * x[b].d), _mm256_cvtepi32_ps(d), acc);
    }
    return hsum_ps(acc);
}

/* -------------------------------------------------------------- K-quants */
static float dot_q2_K(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q2_K *w = vw;
    const rf_block_q8_K *x = vx;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *sc = w[b].scales;
        const int8_t *q8 = x[b].qs;
        int summs = 0;
        for (int j = 0; j < 16; j++) summs += x[b].bsums[j] * (sc[j] >> 4);
        __m256i isum = _mm256_setzero_si256();
        for (int k = 0; k < 2; k++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * k));
            for (int s = 0; s < 4; s++, q8 += 32) {
                const __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3);
                const int is = 8 * k + 2 * s;
                isum = dot_u8s8_scaled(isum, u, _mm256_loadu_si256((const __m256i *)q8), scale16_pair(sc[is] & 0xF, sc[is + 1] & 0xF));
            }
        }
        const float dall = x[b].d * fp16_to_f32(w[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(isum), acc);
        mins += x[b].d * fp16_to_f32(w[b].dmin) * (float)summs;
    }
    return hsum_ps(acc) - mins;
}

static float dot_q3_K(int64_t n, const void *vw, const void *vx)
{
    const rf_block_q3_K *w = vw;
    const rf_block_q8_K *x = vx;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        int8_t sc[16];
        rf_q3k_unpack_scales(w[b].scales, sc);
        /* u = q2 + 4 * hbit in 0..7, value = u - 4: subtract 4 * sum(q8) per 16 */
        const int corr = q8k_scale_sum(x[b].bsums, sc);
        const __m256i hm = _mm256_loadu_si256((const __m256i *)w[b].hmask);
        const int8_t *q8 = x[b].qs;
        __m256i isum = _mm256_setzero_si256();
        for (int k = 0; k < 2; k++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * k));
            for (int s = 0; s < 4; s++, q8 += 32) {
                const int bit = 4 * k + s;
                const __m256i h = _mm256_and_si256(_mm256_srli_epi16(hm, bit), one);
                const __m256i u = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3), _mm256_slli_epi16(h, 2));
                const int is = 8 * k + 2 * s;
                isum = dot_u8s8_scaled(isum, u, _mm256_loadu_si256((const __m256i *)q8), scale16_pair(sc[is], sc[is + 1]));
            }
        }
        const int total = hsum_epi32(isum) - 4 * corr;
        acc = _mm256_add_ps(acc, _mm256_setr_ps(x[b].d * fp16_to_f32(w[b].d) * (float)total, 0, 0, 0, 0, 0, 0, 0));
    }
    return hsum_ps(acc);
}

RF_MT q4_K_multi(int64_t n, const void *vw, const uint8_t *xb, size_t xs, int nt, float *out, int64_t os)
{
    /* the packed kernels' formula (cpu_pack.c) */
    const rf_block_q4_K *w = vw;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    float acc[4];
    for (int k = 0; k < nt; k++) acc[k] = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        uint8_t sc[8], mn[8];
        q4k_unpack(w[b].scales, sc, mn);
        const float dw = fp16_to_f32(w[b].d), dmin = fp16_to_f32(w[b].dmin);
        __m256i isum[4];
        for (int k = 0; k < nt; k++) isum[k] = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * p));
            const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            const __m256i s0 = _mm256_set1_epi16(sc[2 * p]), s1 = _mm256_set1_epi16(sc[2 * p + 1]);
            for (int k = 0; k < nt; k++) {
                const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)k * xs) + b;
                isum[k] = dot_u8s8_scaled(isum[k], lo, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * p)), s0);
                isum[k] = dot_u8s8_scaled(isum[k], hi, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * p + 32)), s1);
            }
        }
        for (int k = 0; k < nt; k++) {
            const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)k * xs) + b;
            acc[k] = fmaf((float)hsum_epi32(isum[k]), dw * x->d, acc[k]);
            acc[k] = fmaf(-(float)q8k_min_sum(x->bsums, mn), dmin * x->d, acc[k]);
        }
    }
    for (int k = 0; k < nt; k++) out[k * os] = acc[k];
}

static float dot_q4_K(int64_t n, const void *vw, const void *vx)
{
    float r;
    q4_K_multi(n, vw, vx, 0, 1, &r, 0);
    return r;
}
RF_TILE(q4_K)
RF_MT q5_K_multi(int64_t n, const void *vw, const uint8_t *xb, size_t xs, int nt, float *out, int64_t os)
{
    const rf_block_q5_K *w = vw;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256 acc[4];
    float mins[4];
    for (int k = 0; k < nt; k++) {
        acc[k] = _mm256_setzero_ps();
        mins[k] = 0;
    }
    for (int64_t b = 0; b < n / 256; b++) {
        uint8_t sc[8], mn[8];
        q4k_unpack(w[b].scales, sc, mn);
        const float dw = fp16_to_f32(w[b].d), dmin = fp16_to_f32(w[b].dmin);
        const __m256i qh = _mm256_loadu_si256((const __m256i *)w[b].qh);
        __m256i isum[4];
        for (int k = 0; k < nt; k++) isum[k] = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * p));
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one), 4);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
            const __m256i s0 = _mm256_set1_epi16(sc[2 * p]), s1 = _mm256_set1_epi16(sc[2 * p + 1]);
            for (int k = 0; k < nt; k++) {
                const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)k * xs) + b;
                isum[k] = dot_u8s8_scaled(isum[k], lo, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * p)), s0);
                isum[k] = dot_u8s8_scaled(isum[k], hi, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * p + 32)), s1);
            }
        }
        for (int k = 0; k < nt; k++) {
            const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)k * xs) + b;
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(x->d * dw), _mm256_cvtepi32_ps(isum[k]), acc[k]);
            mins[k] += x->d * dmin * (float)q8k_min_sum(x->bsums, mn);
        }
    }
    for (int k = 0; k < nt; k++) out[k * os] = hsum_ps(acc[k]) - mins[k];
}

static float dot_q5_K(int64_t n, const void *vw, const void *vx)
{
    float r;
    q5_K_multi(n, vw, vx, 0, 1, &r, 0);
    return r;
}
RF_TILE(q5_K)

RF_MT q6_K_multi(int64_t n, const void *vw, const uint8_t *xb, size_t xs, int nt, float *out, int64_t os)
{
    const rf_block_q6_K *w = vw;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    float acc[4];
    for (int k = 0; k < nt; k++) acc[k] = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        /* u = 6-bit level 0..63, value = u - 32: subtract 32 * sum(q8) per 16 */
        __m256i isum[4];
        for (int k = 0; k < nt; k++) isum[k] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[b].ql + 64 * h;
            const int8_t *sc = w[b].scales + 8 * h;
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(w[b].qh + 32 * h));
            const __m256i u0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
            const __m256i u1 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
            const __m256i u2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
            const __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
            const __m256i s0 = scale16_pair(sc[0], sc[1]), s1 = scale16_pair(sc[2], sc[3]);
            const __m256i s2 = scale16_pair(sc[4], sc[5]), s3 = scale16_pair(sc[6], sc[7]);
            for (int k = 0; k < nt; k++) {
                const int8_t *q8 = ((const rf_block_q8_K *)(xb + (size_t)k * xs) + b)->qs + 128 * h;
                isum[k] = dot_u8s8_scaled(isum[k], u0, _mm256_loadu_si256((const __m256i *)q8), s0);
                isum[k] = dot_u8s8_scaled(isum[k], u1, _mm256_loadu_si256((const __m256i *)(q8 + 32)), s1);
                isum[k] = dot_u8s8_scaled(isum[k], u2, _mm256_loadu_si256((const __m256i *)(q8 + 64)), s2);
                isum[k] = dot_u8s8_scaled(isum[k], u3, _mm256_loadu_si256((const __m256i *)(q8 + 96)), s3);
            }
        }
        const float dw = fp16_to_f32(w[b].d);
        for (int k = 0; k < nt; k++) {
            const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)k * xs) + b;
            const int total = hsum_epi32(isum[k]) - 32 * q8k_scale_sum(x->bsums, w[b].scales);
            acc[k] = fmaf((float)total, dw * x->d, acc[k]);
        }
    }
    for (int k = 0; k < nt; k++) out[k * os] = acc[k];
}

static float dot_q6_K(int64_t n, const void *vw, const void *vx)
{
    float r;
    q6_K_multi(n, vw, vx, 0, 1, &r, 0);
    return r;
}
RF_TILE(q6_K)
static float dot_iq4_xs(int64_t n, const void *vw, const void *vx)
{
    const rf_block_iq4_xs *w = vw;
    const rf_block_q8_K *x = vx;
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)rf_kvalues_iq4nl));
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 256; b++) {
        __m256i isum = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ib++) {
            const int ls = ((w[b].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((w[b].scales_h >> 2 * ib) & 3) << 4);
            const __m256i q = lookup_nibbles(w[b].qs + 16 * ib, table);
            const __m256i y8 = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * ib));
            isum = dot_u8s8_scaled(isum, _mm256_sign_epi8(q, q), _mm256_sign_epi8(y8, q), _mm256_set1_epi16((short)(ls - 32)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(x[b].d * fp16_to_f32(w[b].d)), _mm256_cvtepi32_ps(isum), acc);
    }
    return hsum_ps(acc);
}

/* ------------------------------------------------------- packed weights */
/* Kernels on the rf_cpu_pack layouts (cpu_pack.c): a vector of int32 lanes
 * holds rows (PV rows: 16 in a zmm with VNNI, 8 in a ymm without, a group
 * then being two halves), the activation's 4 bytes are broadcast, and each
 * row's exact block sum is scaled into its own float lane by one fma, in
 * block order: each output gets exactly the scalar reference's arithmetic
 * (cpu_pack.c lists the formulas). Tokens go by PK_T at a time so the
 * unpacked weight vectors are reused from registers. */
#define PG RF_CPU_PACK_ROWS
#if RF_X86_VNNI
#define PV 16
typedef __m512i pvi;
typedef __m512 pvf;
static inline pvi pv_load(const uint8_t *p) { return _mm512_loadu_si512((const void *)p); }
static inline pvi pv_set1(int v) { return _mm512_set1_epi32(v); }
static inline pvi pv_and(pvi a, pvi b) { return _mm512_and_si512(a, b); }
static inline pvi pv_or(pvi a, pvi b) { return _mm512_or_si512(a, b); }
static inline pvi pv_add(pvi a, pvi b) { return _mm512_add_epi32(a, b); }
static inline pvi pv_mullo(pvi a, pvi b) { return _mm512_mullo_epi32(a, b); }
static inline pvi pv_srli16(pvi a, int n) { return _mm512_srli_epi16(a, (unsigned)n); }
static inline pvi pv_slli32(pvi a, int n) { return _mm512_slli_epi32(a, (unsigned)n); }
static inline pvi pv_shuffle8(pvi table, pvi idx) { return _mm512_shuffle_epi8(table, idx); }
/* 16 bytes ^ x in every 128-bit lane (a byte-shuffle table) */
static inline pvi pv_lut16(const int8_t *v, int x)
{
    return _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)v)), _mm512_set1_epi8((char)x));
}
static inline pvi pv_sub(pvi a, pvi b) { return _mm512_sub_epi32(a, b); }
/* acc + per lane int16-pair dot of a with the 2 int16 at p */
static inline pvi pv_dotw(pvi acc, pvi a, const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_dpwssd_epi32(acc, a, _mm512_set1_epi32(v));
}
static inline pvi pv_slli16(pvi a, int n) { return _mm512_slli_epi16(a, (unsigned)n); }
static inline pvi pv_bytes(int v) { return _mm512_set1_epi8((char)v); }
/* PV int8 / uint8 -> int32 lanes */
static inline pvi pv_s8(const uint8_t *p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)); }
static inline pvi pv_u8(const uint8_t *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)); }
static inline pvf pv_f16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
static inline pvf pv_cvt(pvi a) { return _mm512_cvtepi32_ps(a); }
static inline pvf pv_setf(float v) { return _mm512_set1_ps(v); }
static inline pvf pv_zerof(void) { return _mm512_setzero_ps(); }
static inline pvf pv_mulf(pvf a, pvf b) { return _mm512_mul_ps(a, b); }
static inline pvf pv_addf(pvf a, pvf b) { return _mm512_add_ps(a, b); }
static inline pvf pv_subf(pvf a, pvf b) { return _mm512_sub_ps(a, b); }
static inline pvf pv_fma(pvf a, pvf b, pvf c) { return _mm512_fmadd_ps(a, b, c); }
static inline pvf pv_fnma(pvf a, pvf b, pvf c) { return _mm512_fnmadd_ps(a, b, c); }
static inline void pv_store(float *y, pvf v, int nr)
{
    _mm512_mask_storeu_ps(y, (__mmask16)((1u << nr) - 1), v);
}
/* acc + per lane sum of u (u8, 4 per lane) times the 4 int8 at x */
static inline pvi pv_dot(pvi acc, pvi u, const int8_t *x)
{
    int32_t v;
    memcpy(&v, x, 4);
    return _mm512_dpbusd_epi32(acc, u, _mm512_set1_epi32(v));
}
#else
#define PV 8
typedef __m256i pvi;
typedef __m256 pvf;
static inline pvi pv_load(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline pvi pv_set1(int v) { return _mm256_set1_epi32(v); }
static inline pvi pv_and(pvi a, pvi b) { return _mm256_and_si256(a, b); }
static inline pvi pv_or(pvi a, pvi b) { return _mm256_or_si256(a, b); }
static inline pvi pv_add(pvi a, pvi b) { return _mm256_add_epi32(a, b); }
static inline pvi pv_mullo(pvi a, pvi b) { return _mm256_mullo_epi32(a, b); }
static inline pvi pv_srli16(pvi a, int n) { return _mm256_srli_epi16(a, n); }
static inline pvi pv_slli32(pvi a, int n) { return _mm256_slli_epi32(a, n); }
static inline pvi pv_shuffle8(pvi table, pvi idx) { return _mm256_shuffle_epi8(table, idx); }
static inline pvi pv_lut16(const int8_t *v, int x)
{
    return _mm256_xor_si256(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)v)), _mm256_set1_epi8((char)x));
}
static inline pvi pv_sub(pvi a, pvi b) { return _mm256_sub_epi32(a, b); }
static inline pvi pv_dotw(pvi acc, pvi a, const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, _mm256_set1_epi32(v)));
}
static inline pvi pv_slli16(pvi a, int n) { return _mm256_slli_epi16(a, n); }
static inline pvi pv_bytes(int v) { return _mm256_set1_epi8((char)v); }
static inline pvi pv_s8(const uint8_t *p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
static inline pvi pv_u8(const uint8_t *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
static inline pvf pv_f16(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline pvf pv_cvt(pvi a) { return _mm256_cvtepi32_ps(a); }
static inline pvf pv_setf(float v) { return _mm256_set1_ps(v); }
static inline pvf pv_zerof(void) { return _mm256_setzero_ps(); }
static inline pvf pv_mulf(pvf a, pvf b) { return _mm256_mul_ps(a, b); }
static inline pvf pv_addf(pvf a, pvf b) { return _mm256_add_ps(a, b); }
static inline pvf pv_subf(pvf a, pvf b) { return _mm256_sub_ps(a, b); }
static inline pvf pv_fma(pvf a, pvf b, pvf c) { return _mm256_fmadd_ps(a, b, c); }
static inline pvf pv_fnma(pvf a, pvf b, pvf c) { return _mm256_fnmadd_ps(a, b, c); }
static inline void pv_store(float *y, pvf v, int nr)
{
    if (nr == PV) {
        _mm256_storeu_ps(y, v);
        return;
    }
    float tmp[PV];
    _mm256_storeu_ps(tmp, v);
    memcpy(y, tmp, sizeof(float) * (size_t)nr);
}
/* vpmaddubsw pairs stay below int16 saturation for u <= 128 (2 * 128 * 127);
 * levels here are at most 63 (Q8_0 and IQ4_NL, whose offset levels reach
 * 255, take the sign trick in pk_b32 instead). */
static inline pvi pv_dot(pvi acc, pvi u, const int8_t *x)
{
    int32_t v;
    memcpy(&v, x, 4);
    const __m256i p = _mm256_maddubs_epi16(u, _mm256_set1_epi32(v));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}
#endif
#define PV_BYTES (4 * PV)       /* bytes of one half-run: PV rows x 4 */

/* Tokens go PK_T at a time through fn with a constant count (the per-token
 * arrays then live in registers); the rest in one call of its own count. */
#define PK_CASE(fn, n, ...) case n: fn(__VA_ARGS__, t0_, n); break;
#define PK_DISPATCH4(fn, ...)                                                                                   \
    do {                                                                                                        \
        int t0_ = 0;                                                                                            \
        for (; t0_ + 4 <= nt; t0_ += 4) fn(__VA_ARGS__, t0_, 4);                                                \
        switch (nt - t0_) { PK_CASE(fn, 3, __VA_ARGS__) PK_CASE(fn, 2, __VA_ARGS__) PK_CASE(fn, 1, __VA_ARGS__) \
        default: break; }                                                                                       \
    } while (0)
#define PK_DISPATCH8(fn, ...)                                                                                   \
    do {                                                                                                        \
        int t0_ = 0;                                                                                            \
        for (; t0_ + 8 <= nt; t0_ += 8) fn(__VA_ARGS__, t0_, 8);                                                \
        switch (nt - t0_) { PK_CASE(fn, 7, __VA_ARGS__) PK_CASE(fn, 6, __VA_ARGS__) PK_CASE(fn, 5, __VA_ARGS__) \
        PK_CASE(fn, 4, __VA_ARGS__) PK_CASE(fn, 3, __VA_ARGS__) PK_CASE(fn, 2, __VA_ARGS__)                     \
        PK_CASE(fn, 1, __VA_ARGS__) default: break; }                                                           \
    } while (0)

/* Q4_0 / Q8_0 share the loop: per block, 8 level vectors (quads 0..7 of the
 * block) and the F16 scales of each of NV row vectors (rows r0 + PV * v,
 * possibly in the next group: a broadcast activation quad feeds NV dots);
 * levels u = q + off are unsigned, the sum subtracts off * sum(x) in
 * integers. */
enum { PK_Q4_0, PK_Q8_0, PK_IQ4_NL };
RF_MT pk_b32(int64_t n, const uint8_t *wg, int r0, int nr, const uint8_t *xb, size_t xs, float *y, int64_t ys,
             int kind, int NV, int t0, int T)
{
    const bool is_q8 = kind == PK_Q8_0, is_nl = kind == PK_IQ4_NL;
    const size_t gb = is_q8 ? PG * sizeof(rf_block_q8_0) : PG * sizeof(rf_block_q4_0);
    const size_t gstride = (size_t)(n / 32) * gb;
    const int off = kind == PK_Q4_0 ? 8 : 128;
    const pvi m4 = pv_bytes(0x0F);
    /* IQ4_NL: nibble -> codebook value + 128 (u8), a byte shuffle */
    const pvi lut = pv_lut16(rf_kvalues_iq4nl, 0x80);
    const uint8_t *base[2];
    int half[2];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
        const int row = r0 + PV * v;
        base[v] = wg + (size_t)(row / PG) * gstride;
        half[v] = (row % PG) / PV;
    }
    pvf acc[2][8];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++)
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) acc[v][t] = pv_zerof();
    for (int64_t b = 0; b < n / 32; b++) {
        pvi u[2][8];
        pvf dw[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            const uint8_t *blk = base[v] + (size_t)b * gb, *q = blk + 2 * PG + PV_BYTES * half[v];
            if (is_q8) {
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++) u[v][k] = pv_load(q + 64 * k);
            } else {
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    const pvi w = pv_load(q + 64 * j);
                    u[v][j] = pv_and(w, m4);
                    u[v][j + 4] = pv_and(pv_srli16(w, 4), m4);
                    if (is_nl) {
                        u[v][j] = pv_shuffle8(lut, u[v][j]);
                        u[v][j + 4] = pv_shuffle8(lut, u[v][j + 4]);
                    }
                }
            }
            dw[v] = pv_f16(blk + 2 * PV * half[v]);
        }
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const rf_act_q8 *x = (const rf_act_q8 *)(xb + (size_t)(t0 + t) * xs) + b;
            const pvf dx = pv_setf(x->d);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) {
                pvi s;
#if !RF_X86_VNNI
                if (off == 128) {
                    /* levels to signed, then the sign trick (u up to 255 would saturate vpmaddubsw) */
                    s = _mm256_setzero_si256();
#pragma GCC unroll 8
                    for (int k = 0; k < 8; k++) {
                        const __m256i w8 = _mm256_xor_si256(u[v][k], _mm256_set1_epi8((char)0x80));
                        int32_t xv;
                        memcpy(&xv, x->qs + 4 * k, 4);
                        s = dot_s8s8(s, w8, _mm256_set1_epi32(xv));
                    }
                } else
#endif
                {
                    /* two dependency chains of 4 dots (latency, not throughput, bounds one chain) */
                    pvi s1 = pv_set1(0);
                    s = pv_set1(-off * x->sum);
#pragma GCC unroll 4
                    for (int k = 0; k < 8; k += 2) {
                        s = pv_dot(s, u[v][k], x->qs + 4 * k);
                        s1 = pv_dot(s1, u[v][k + 1], x->qs + 4 * k + 4);
                    }
                    s = pv_add(s, s1);
                }
                acc[v][t] = pv_fma(pv_cvt(s), pv_mulf(dw[v], dx), acc[v][t]);
            }
        }
    }
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++)
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) pv_store(y + (int64_t)(t0 + t) * ys + r0 + PV * v, acc[v][t], nr - PV * v < PV ? nr - PV * v : PV);
}

/* pk_<type>_<NV>: pk_b32 with the kind and vector count fixed */
#define RF_PK_B32(type, KIND, NV)                                                                              \
    RF_MT pk_##type##_##NV(int64_t n, const uint8_t *wg, int r0, int nr, const uint8_t *xb, size_t xs, float *y, \
                           int64_t ys, int t0, int T)                                                          \
    {                                                                                                          \
        pk_b32(n, wg, r0, nr, xb, xs, y, ys, KIND, NV, t0, T);                                                 \
    }
RF_PK_B32(q4_0, PK_Q4_0, 1)
RF_PK_B32(q4_0, PK_Q4_0, 2)
RF_PK_B32(iq4_nl, PK_IQ4_NL, 1)
RF_PK_B32(iq4_nl, PK_IQ4_NL, 2)
RF_PK_B32(q8_0, PK_Q8_0, 1)
RF_PK_B32(q8_0, PK_Q8_0, 2)

/* Q4_K: per sub-block pair p, the 8 runs' low nibbles are sub-block 2p and
 * the high nibbles 2p + 1; each sub-block's integer sum is multiplied by its
 * scale in int32. The mins term sum_j mn_j (bsum_2j + bsum_2j+1) is one
 * int16-pair dot per j: lanes hold (mn_j, mn_j), the broadcast holds the
 * activation's two 16-value sums. */
RF_MT pk_k45(int64_t n, const uint8_t *wg, int h, int nr, const uint8_t *xb, size_t xs, float *y, int64_t ys, int t0,
             int T, bool q5)
{
    const size_t gb = rf_cpu_pack_block_bytes(q5 ? RF_TYPE_Q5_K : RF_TYPE_Q4_K);
    const pvi m4 = pv_bytes(0x0F), one = pv_bytes(1);
    pvf acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = pv_zerof();
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = wg + (size_t)b * gb, *sc = blk + 4 * PG + PV * h, *mn = blk + 12 * PG + PV * h;
        const uint8_t *q = blk + 20 * PG + PV_BYTES * h, *qh = blk + 20 * PG + 2048 + PV_BYTES * h;
        pvi m16[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            const pvi m = pv_u8(mn + PG * j);
            m16[j] = pv_or(m, pv_slli32(m, 16));
        }
        pvi isum[8], msum[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)(t0 + t) * xs) + b;
            pvi m = pv_set1(0);
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) m = pv_dotw(m, m16[j], x->bsums + 2 * j);
            msum[t] = m;
            isum[t] = pv_set1(0);
        }
        for (int p = 0; p < 4; p++) {
            pvi sa[8], sb[8];
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) sa[t] = sb[t] = pv_set1(0);
#pragma GCC unroll 2
            for (int hh = 0; hh < 2; hh++) {
                pvi lo[4], hi[4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    const pvi v = pv_load(q + 64 * (8 * p + 4 * hh + i));
                    lo[i] = pv_and(v, m4);
                    hi[i] = pv_and(pv_srli16(v, 4), m4);
                    if (q5) {
                        /* fifth bits: bits 2p and 2p + 1 of qh run 4hh + i */
                        const pvi hb = pv_load(qh + 64 * (4 * hh + i));
                        lo[i] = pv_or(lo[i], pv_slli16(pv_and(pv_srli16(hb, 2 * p), one), 4));
                        hi[i] = pv_or(hi[i], pv_slli16(pv_and(pv_srli16(hb, 2 * p + 1), one), 4));
                    }
                }
#pragma GCC unroll 8
                for (int t = 0; t < T; t++) {
                    const int8_t *xq = ((const rf_block_q8_K *)(xb + (size_t)(t0 + t) * xs) + b)->qs + 64 * p + 16 * hh;
#pragma GCC unroll 4
                    for (int i = 0; i < 4; i++) {
                        sa[t] = pv_dot(sa[t], lo[i], xq + 4 * i);
                        sb[t] = pv_dot(sb[t], hi[i], xq + 32 + 4 * i);
                    }
                }
            }
            const pvi s0 = pv_u8(sc + PG * (2 * p)), s1 = pv_u8(sc + PG * (2 * p + 1));
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) isum[t] = pv_add(isum[t], pv_add(pv_mullo(sa[t], s0), pv_mullo(sb[t], s1)));
        }
        const pvf dw = pv_f16(blk + 2 * PV * h), dmin = pv_f16(blk + 2 * PG + 2 * PV * h);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const pvf dx = pv_setf(((const rf_block_q8_K *)(xb + (size_t)(t0 + t) * xs) + b)->d);
            if (q5) {
                acc[t] = pv_addf(acc[t], pv_subf(pv_mulf(pv_mulf(dx, dw), pv_cvt(isum[t])),
                                                 pv_mulf(pv_mulf(dx, dmin), pv_cvt(msum[t]))));
            } else {
                acc[t] = pv_fma(pv_cvt(isum[t]), pv_mulf(dw, dx), acc[t]);
                acc[t] = pv_fnma(pv_cvt(msum[t]), pv_mulf(dmin, dx), acc[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) pv_store(y + (int64_t)(t0 + t) * ys + PV * h, acc[t], nr);
}
RF_MT pk_q4_K(int64_t n, const uint8_t *wg, int h, int nr, const uint8_t *xb, size_t xs, float *y, int64_t ys, int t0,
              int T)
{
    pk_k45(n, wg, h, nr, xb, xs, y, ys, t0, T, false);
}
RF_MT pk_q5_K(int64_t n, const uint8_t *wg, int h, int nr, const uint8_t *xb, size_t xs, float *y, int64_t ys, int t0,
              int T)
{
    pk_k45(n, wg, h, nr, xb, xs, y, ys, t0, T, true);
}

/* Q6_K: quad k's 6-bit level from ql run k % 32 (nibble k / 32) and qh run
 * k % 16 (bits 2 * (k / 16)); sub-block j (quads 4j..4j+3) gets sum(u x)
 * times its int8 scale, and the level offset comes off once per
 * super-block: 32 * sum_j sc_j bsum_j, as int16-pair dots of (sc_2i,
 * sc_2i+1) with the activation's (bsum_2i, bsum_2i+1). */
static inline pvi q6_high(pvi hbits, int shift)
{
    /* bits shift..shift+1 of each byte to bits 4..5 (16-bit shifts stay
     * inside the byte for the bits kept) */
    const pvi m = pv_bytes(0x30);
    if (shift <= 4) return pv_and(pv_slli16(hbits, 4 - shift), m);
    return pv_and(pv_srli16(hbits, shift - 4), m);
}

RF_MT pk_q6_K(int64_t n, const uint8_t *wg, int h, int nr, const uint8_t *xb, size_t xs, float *y, int64_t ys, int t0,
              int T)
{
    const size_t gb = PG * sizeof(rf_block_q6_K);
    const pvi m4 = pv_bytes(0x0F), lo16 = pv_set1(0xFFFF);
    pvf acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = pv_zerof();
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = wg + (size_t)b * gb, *sc = blk + 2 * PG + PV * h;
        const uint8_t *ql = blk + 18 * PG + PV_BYTES * h, *qh = blk + 18 * PG + 32 * 64 + PV_BYTES * h;
        pvi sc16[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            sc16[i] = pv_or(pv_and(pv_s8(sc + PG * (2 * i)), lo16), pv_slli32(pv_s8(sc + PG * (2 * i + 1)), 16));
        pvi isum[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)(t0 + t) * xs) + b;
            pvi c = pv_set1(0);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) c = pv_dotw(c, sc16[i], x->bsums + 2 * i);
            isum[t] = pv_sub(pv_set1(0), pv_slli32(c, 5));
        }
        for (int jj = 0; jj < 8; jj++) {
            /* quads 4jj..4jj+3 (sub-block jj) and 32 + the same (sub-block jj + 8) */
            const int s = 2 * (jj / 4);
            pvi lo[4], hi[4];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                const int c = 4 * jj + i;
                const pvi v = pv_load(ql + 64 * c), hb = pv_load(qh + 64 * (c % 16));
                lo[i] = pv_or(pv_and(v, m4), q6_high(hb, s));
                hi[i] = pv_or(pv_and(pv_srli16(v, 4), m4), q6_high(hb, s + 4));
            }
            const pvi s0 = pv_s8(sc + PG * jj), s1 = pv_s8(sc + PG * (jj + 8));
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)(t0 + t) * xs) + b;
                pvi sa = pv_set1(0), sb = pv_set1(0);
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    sa = pv_dot(sa, lo[i], x->qs + 16 * jj + 4 * i);
                    sb = pv_dot(sb, hi[i], x->qs + 128 + 16 * jj + 4 * i);
                }
                isum[t] = pv_add(isum[t], pv_add(pv_mullo(sa, s0), pv_mullo(sb, s1)));
            }
        }
        const pvf dw = pv_f16(blk + 2 * PV * h);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const float dx = ((const rf_block_q8_K *)(xb + (size_t)(t0 + t) * xs) + b)->d;
            acc[t] = pv_fma(pv_cvt(isum[t]), pv_mulf(dw, pv_setf(dx)), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) pv_store(y + (int64_t)(t0 + t) * ys + PV * h, acc[t], nr);
}

/* IQ4_XS: per sub-block sum(kvalue[q] x) times its signed scale, then the
 * row dot's float formula. With VNNI the levels go in as kvalue + 128 (u8,
 * vpdpbusd) and 128 * sum(x) comes off in integers (the activation's two
 * 16-value sums); without, as signed bytes through the sign trick
 * (vpmaddubsw would saturate on levels up to 255). */
RF_MT pk_iq4_xs(int64_t n, const uint8_t *wg, int h, int nr, const uint8_t *xb, size_t xs, float *y, int64_t ys,
                int t0, int T)
{
    const size_t gb = rf_cpu_pack_block_bytes(RF_TYPE_IQ4_XS);
    const pvi m4 = pv_bytes(0x0F), lut = pv_lut16(rf_kvalues_iq4nl, RF_X86_VNNI ? 0x80 : 0);
    pvf acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = pv_zerof();
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *blk = wg + (size_t)b * gb, *sc = blk + 2 * PG + PV * h, *q = blk + 10 * PG + PV_BYTES * h;
        pvi isum[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) isum[t] = pv_set1(0);
        for (int ib = 0; ib < 8; ib++) {
            pvi u[8];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const pvi v = pv_load(q + 256 * ib + 64 * j);
                u[j] = pv_shuffle8(lut, pv_and(v, m4));
                u[j + 4] = pv_shuffle8(lut, pv_and(pv_srli16(v, 4), m4));
            }
            const pvi scv = pv_s8(sc + PG * ib);
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const rf_block_q8_K *x = (const rf_block_q8_K *)(xb + (size_t)(t0 + t) * xs) + b;
                const int8_t *xq = x->qs + 32 * ib;
#if RF_X86_VNNI
                pvi s0 = pv_set1(-128 * (x->bsums[2 * ib] + x->bsums[2 * ib + 1])), s1 = pv_set1(0);
#pragma GCC unroll 4
                for (int k = 0; k < 8; k += 2) {
                    s0 = pv_dot(s0, u[k], xq + 4 * k);
                    s1 = pv_dot(s1, u[k + 1], xq + 4 * k + 4);
                }
#else
                pvi s0 = pv_set1(0), s1 = pv_set1(0);
#pragma GCC unroll 4
                for (int k = 0; k < 8; k += 2) {
                    int32_t a, c;
                    memcpy(&a, xq + 4 * k, 4);
                    memcpy(&c, xq + 4 * k + 4, 4);
                    s0 = dot_s8s8(s0, u[k], _mm256_set1_epi32(a));
                    s1 = dot_s8s8(s1, u[k + 1], _mm256_set1_epi32(c));
                }
#endif
                isum[t] = pv_add(isum[t], pv_mullo(pv_add(s0, s1), scv));
            }
        }
        const pvf dw = pv_f16(blk + 2 * PV * h);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const pvf dx = pv_setf(((const rf_block_q8_K *)(xb + (size_t)(t0 + t) * xs) + b)->d);
            acc[t] = pv_addf(acc[t], pv_mulf(pv_mulf(dx, dw), pv_cvt(isum[t])));
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) pv_store(y + (int64_t)(t0 + t) * ys + PV * h, acc[t], nr);
}

/* Entry points: nr rows from group wg on (any number of groups). With VNNI
 * and few tokens (decode) the 32-value types take two groups per pass (one
 * broadcast activation quad, two dot products: fewer loads per weight
 * byte); with many tokens, one group and 8 tokens per pass measured faster.
 * Without VNNI the 16 ymm registers hold one vector's levels. Every path
 * computes the same formula, so the choice does not change any bit. */
#define RF_PACKED_B32(type)                                                                                    \
    static void packed_##type(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt,     \
                              float *y, int64_t ys)                                                            \
    {                                                                                                          \
        int r0 = 0;                                                                                            \
        if (RF_X86_VNNI && nt < 8)                                                                             \
            for (; r0 + PV < nr; r0 += 2 * PV) {                                                               \
                const int rows = nr - r0 < 2 * PV ? nr - r0 : 2 * PV;                                          \
                PK_DISPATCH4(pk_##type##_2, n, wg, r0, rows, xb, xs, y, ys);                                   \
            }                                                                                                  \
        for (; r0 < nr; r0 += PV) {                                                                            \
            const int rows = nr - r0 < PV ? nr - r0 : PV;                                                      \
            PK_DISPATCH8(pk_##type##_1, n, wg, r0, rows, xb, xs, y, ys);                                       \
        }                                                                                                      \
    }
RF_PACKED_B32(q4_0)
RF_PACKED_B32(q8_0)
RF_PACKED_B32(iq4_nl)

/* The K-quants: one vector of rows per pass. */
#define RF_PACKED_K(type, TYPE, T)                                                                             \
    static void packed_##type(int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs, int nt,     \
                              float *y, int64_t ys)                                                            \
    {                                                                                                          \
        const size_t gstride = (size_t)(n / 256) * rf_cpu_pack_block_bytes(RF_TYPE_##TYPE);                   \
        for (int r0 = 0; r0 < nr; r0 += PV) {                                                                  \
            const int rows = nr - r0 < PV ? nr - r0 : PV;                                                      \
            const uint8_t *g = wg + (size_t)(r0 / PG) * gstride;                                               \
            float *yr = y + r0 - PV * ((r0 % PG) / PV);                                                        \
            PK_DISPATCH##T(pk_##type, n, g, (r0 % PG) / PV, rows, xb, xs, yr, ys);                             \
        }                                                                                                      \
    }
RF_PACKED_K(q4_K, Q4_K, 8)
RF_PACKED_K(q5_K, Q5_K, 8)
RF_PACKED_K(q6_K, Q6_K, 8)
RF_PACKED_K(iq4_xs, IQ4_XS, 8)

static const rf_cpu_isa_kernels x86_kernels = {
    .dot = {
        [RF_TYPE_F32] = dot_f32, [RF_TYPE_F16] = dot_f16, [RF_TYPE_BF16] = dot_bf16,
        [RF_TYPE_Q4_0] = dot_q4_0, [RF_TYPE_Q4_1] = dot_q4_1, [RF_TYPE_Q5_0] = dot_q5_0,
        [RF_TYPE_Q5_1] = dot_q5_1, [RF_TYPE_Q8_0] = dot_q8_0, [RF_TYPE_IQ4_NL] = dot_iq4_nl,
        [RF_TYPE_MXFP4] = dot_mxfp4, [RF_TYPE_Q2_K] = dot_q2_K, [RF_TYPE_Q3_K] = dot_q3_K,
        [RF_TYPE_Q4_K] = dot_q4_K, [RF_TYPE_Q5_K] = dot_q5_K, [RF_TYPE_Q6_K] = dot_q6_K,
        [RF_TYPE_IQ4_XS] = dot_iq4_xs,
    },
    .tile = {
        [RF_TYPE_Q4_0] = tile_q4_0, [RF_TYPE_Q8_0] = tile_q8_0, [RF_TYPE_Q4_K] = tile_q4_K, [RF_TYPE_Q5_K] = tile_q5_K, [RF_TYPE_Q6_K] = tile_q6_K,
    },
    .packed = {
        [RF_TYPE_Q4_0] = packed_q4_0, [RF_TYPE_Q8_0] = packed_q8_0, [RF_TYPE_Q4_K] = packed_q4_K,
        [RF_TYPE_Q5_K] = packed_q5_K, [RF_TYPE_Q6_K] = packed_q6_K, [RF_TYPE_IQ4_NL] = packed_iq4_nl,
        [RF_TYPE_IQ4_XS] = packed_iq4_xs,
    },
    .f16_row = f16_row,
    .act_q8 = act_q8,
    .act_q8k = act_q8k,
};

const rf_cpu_isa_kernels *RF_X86_TABLE(void) { return &x86_kernels; }
