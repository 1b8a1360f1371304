/* gpu_quant.cuh — ggml block formats decoded on the GPU.
 *
 * Every weight type is read as a run of 32-element "chunks": a chunk is the
 * unit one lane decodes into registers (32 floats) before multiplying it
 * with activations. 32-element types have one chunk per block, 256-element
 * (K-quant, IQ4_XS) types have eight, each chunk covering elements
 * [32c, 32c+32) of its block. Decoding a chunk reads only that chunk's
 * quants and the scales it needs, so lanes of a warp decode neighbouring
 * chunks of one row and their loads fall into the same few cache lines.
 *
 * Layouts are ggml's (the file format); the scalar reference for each one is
 * in src/quant, and tests/gpu compares these decoders with it.
 */
#ifndef RF_GPU_QUANT_CUH
#define RF_GPU_QUANT_CUH

#include "vendor.h"
#include "gguf/gguf.h"

RF_DEV uint16_t rf_ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
RF_DEV uint32_t rf_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Lookup tables of the non-linear 4-bit types (ggml's values). */
__constant__ static const int8_t rf_kv_iq4nl[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
/* MXFP4 E2M1 values doubled (the block scale is halved to compensate). */
__constant__ static const int8_t rf_kv_mxfp4[16] = {
    0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* Decoder of one type: QK elements in BYTES bytes per block, chunk(b, c, w)
 * writes elements [32c, 32c+32) of block b into w. */
template <int T> struct rf_q;

template <> struct rf_q<RF_TYPE_Q4_0> {
    enum { QK = 32, BYTES = 18 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const float d = rf_h2f(rf_ld16(b));
        const uint8_t *qs = b + 2;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            w[j] = ((int)(qs[j] & 15) - 8) * d;
            w[j + 16] = ((int)(qs[j] >> 4) - 8) * d;
        }
    }
};

template <> struct rf_q<RF_TYPE_Q4_1> {
    enum { QK = 32, BYTES = 20 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const float d = rf_h2f(rf_ld16(b)), m = rf_h2f(rf_ld16(b + 2));
        const uint8_t *qs = b + 4;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            w[j] = (qs[j] & 15) * d + m;
            w[j + 16] = (qs[j] >> 4) * d + m;
        }
    }
};

template <> struct rf_q<RF_TYPE_Q5_0> {
    enum { QK = 32, BYTES = 22 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const float d = rf_h2f(rf_ld16(b));
        const uint32_t qh = rf_ld32(b + 2);
        const uint8_t *qs = b + 6;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            w[j] = ((int)((qs[j] & 15) | h0) - 16) * d;
            w[j + 16] = ((int)((qs[j] >> 4) | h1) - 16) * d;
        }
    }
};

template <> struct rf_q<RF_TYPE_Q5_1> {
    enum { QK = 32, BYTES = 24 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const float d = rf_h2f(rf_ld16(b)), m = rf_h2f(rf_ld16(b + 2));
        const uint32_t qh = rf_ld32(b + 4);
        const uint8_t *qs = b + 8;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            w[j] = ((qs[j] & 15) | h0) * d + m;
            w[j + 16] = ((qs[j] >> 4) | h1) * d + m;
        }
    }
};

template <> struct rf_q<RF_TYPE_Q8_0> {
    enum { QK = 32, BYTES = 34 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const float d = rf_h2f(rf_ld16(b));
        const int8_t *qs = (const int8_t *)(b + 2);
#pragma unroll
        for (int j = 0; j < 32; j++) w[j] = qs[j] * d;
    }
};

/* Q2_K: scales[16] | qs[64] | d | dmin. Chunk c: half n = c/4 of the block,
 * 2-bit plane j = c%4 of its 32 quant bytes, two 16-element scale groups. */
template <> struct rf_q<RF_TYPE_Q2_K> {
    enum { QK = 256, BYTES = 84 };
    RF_DEV void chunk(const uint8_t *b, int c, float *w)
    {
        const float d = rf_h2f(rf_ld16(b + 80)), dmin = rf_h2f(rf_ld16(b + 82));
        const uint8_t *q = b + 16 + (c / 4) * 32;
        const int shift = 2 * (c % 4);
        const uint8_t s0 = b[2 * c], s1 = b[2 * c + 1];
        const float d0 = d * (s0 & 15), m0 = dmin * (s0 >> 4);
        const float d1 = d * (s1 & 15), m1 = dmin * (s1 >> 4);
#pragma unroll
        for (int l = 0; l < 16; l++) {
            w[l] = d0 * ((q[l] >> shift) & 3) - m0;
            w[l + 16] = d1 * ((q[l + 16] >> shift) & 3) - m1;
        }
    }
};

/* Q3_K: hmask[32] | qs[64] | scales[12] (16 6-bit signed scales) | d. */
template <> struct rf_q<RF_TYPE_Q3_K> {
    enum { QK = 256, BYTES = 110 };
    RF_DEV int scale(const uint8_t *sb, int s)
    {
        const int lo = s < 8 ? (sb[s] & 15) : (sb[s - 8] >> 4);
        const int hi = (sb[8 + (s % 4)] >> (2 * (s / 4))) & 3;
        return (lo | (hi << 4)) - 32;
    }
    RF_DEV void chunk(const uint8_t *b, int c, float *w)
    {
        const float d = rf_h2f(rf_ld16(b + 108));
        const uint8_t *hm = b, *q = b + 32 + (c / 4) * 32, *sb = b + 96;
        const int shift = 2 * (c % 4);
        const uint8_t m = (uint8_t)(1u << c);
        const float d0 = d * scale(sb, 2 * c), d1 = d * scale(sb, 2 * c + 1);
#pragma unroll
        for (int l = 0; l < 16; l++) {
            w[l] = d0 * ((int)((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
            w[l + 16] = d1 * ((int)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
        }
    }
};

/* 6-bit scale and min j of the 12-byte K-quant scale field (Q4_K, Q5_K).
 * Branch-free over three 32-bit words: neighbouring lanes decode different
 * j, and a branch on j < 4 would serialise the warp. q is 4-byte aligned
 * (offset 4 in blocks of 144 or 176 bytes from an aligned row). */
RF_DEV void rf_scale_min_k4(int j, const uint8_t *q, int *sc, int *mn)
{
    const uint32_t *w = (const uint32_t *)q;
    const uint32_t s0 = w[0], s1 = w[1], s2 = w[2];
    const int sh = 8 * (j & 3);
    const bool lo4 = j < 4;
    const uint32_t a = ((lo4 ? s0 : s1) >> sh) & 0xff;   /* q[j] */
    const uint32_t b = ((lo4 ? s1 : s2) >> sh) & 0xff;   /* q[j + 4] */
    const uint32_t c = (s0 >> sh) & 0xff;                 /* q[j - 4] when j >= 4 */
    *sc = (int)(lo4 ? (a & 63) : ((b & 15) | ((c >> 6) << 4)));
    *mn = (int)(lo4 ? (b & 63) : ((b >> 4) | ((a >> 6) << 4)));
}

/* Q4_K: d | dmin | scales[12] | qs[128]; chunk c uses nibble plane c%2 of
 * quant bytes [32(c/2), 32(c/2)+32). */
template <> struct rf_q<RF_TYPE_Q4_K> {
    enum { QK = 256, BYTES = 144 };
    RF_DEV void chunk(const uint8_t *b, int c, float *w)
    {
        const float d = rf_h2f(rf_ld16(b)), dmin = rf_h2f(rf_ld16(b + 2));
        int sc, mn;
        rf_scale_min_k4(c, b + 4, &sc, &mn);
        const float dl = d * sc, ml = dmin * mn;
        const uint8_t *q = b + 16 + (c / 2) * 32;
        const int shift = 4 * (c % 2);
#pragma unroll
        for (int l = 0; l < 32; l++) w[l] = dl * ((q[l] >> shift) & 15) - ml;
    }
};

/* Q5_K: d | dmin | scales[12] | qh[32] | qs[128]; bit c of qh[l] is the
 * fifth bit of element l of chunk c. */
template <> struct rf_q<RF_TYPE_Q5_K> {
    enum { QK = 256, BYTES = 176 };
    RF_DEV void chunk(const uint8_t *b, int c, float *w)
    {
        const float d = rf_h2f(rf_ld16(b)), dmin = rf_h2f(rf_ld16(b + 2));
        int sc, mn;
        rf_scale_min_k4(c, b + 4, &sc, &mn);
        const float dl = d * sc, ml = dmin * mn;
        const uint8_t *qh = b + 16, *q = b + 48 + (c / 2) * 32;
        const int shift = 4 * (c % 2);
#pragma unroll
        for (int l = 0; l < 32; l++)
            w[l] = dl * (((q[l] >> shift) & 15) + (((qh[l] >> c) & 1) << 4)) - ml;
    }
};

/* Q6_K: ql[128] | qh[64] | scales[16] (int8) | d. Chunk c: half n = c/4,
 * sub-plane s = c%4 (low/high nibble of ql rows 0/32, 2-bit field s of qh).
 * On the device each 210-byte block sits in a 224-byte slot (RF_GPU_Q6K_SLOT,
 * rf_gpu_row_bytes), so blocks, ql and qh start 16-byte aligned. */
#define RF_GPU_Q6K_SLOT 224
template <> struct rf_q<RF_TYPE_Q6_K> {
    enum { QK = 256, BYTES = RF_GPU_Q6K_SLOT };
    RF_DEV void chunk(const uint8_t *b, int c, float *w)
    {
        const float d = rf_h2f(rf_ld16(b + 208));
        const int n = c / 4, s = c % 4;
        const uint8_t *ql = b + n * 64 + (s & 1) * 32, *qh = b + 128 + n * 32;
        const int8_t *sc = (const int8_t *)(b + 192) + n * 8 + 2 * s;
        const int nshift = (s >> 1) * 4, hshift = 2 * s;
        const float d0 = d * sc[0], d1 = d * sc[1];
#pragma unroll
        for (int l = 0; l < 32; l++) {
            const int q = (int)(((ql[l] >> nshift) & 15) | (((qh[l] >> hshift) & 3) << 4)) - 32;
            w[l] = (l < 16 ? d0 : d1) * q;
        }
    }
};

template <> struct rf_q<RF_TYPE_IQ4_NL> {
    enum { QK = 32, BYTES = 18 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const float d = rf_h2f(rf_ld16(b));
        const uint8_t *qs = b + 2;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            w[j] = d * rf_kv_iq4nl[qs[j] & 15];
            w[j + 16] = d * rf_kv_iq4nl[qs[j] >> 4];
        }
    }
};

/* IQ4_XS: d | scales_h (u16) | scales_l[4] | qs[128]; 6-bit scale per chunk. */
template <> struct rf_q<RF_TYPE_IQ4_XS> {
    enum { QK = 256, BYTES = 136 };
    RF_DEV void chunk(const uint8_t *b, int c, float *w)
    {
        const float d = rf_h2f(rf_ld16(b));
        const int sh = rf_ld16(b + 2);
        const int ls = ((b[4 + c / 2] >> (4 * (c % 2))) & 15) | (((sh >> (2 * c)) & 3) << 4);
        const float dl = d * (ls - 32);
        const uint8_t *qs = b + 8 + 16 * c;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            w[j] = dl * rf_kv_iq4nl[qs[j] & 15];
            w[j + 16] = dl * rf_kv_iq4nl[qs[j] >> 4];
        }
    }
};

/* MXFP4: e (E8M0 shared exponent) | qs[16]. */
template <> struct rf_q<RF_TYPE_MXFP4> {
    enum { QK = 32, BYTES = 17 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const uint8_t e = b[0];
        /* 2^(e-128): half the E8M0 scale, as the table values are doubled. */
        const uint32_t bits = e < 2 ? (0x00200000u << e) : ((uint32_t)(e - 1) << 23);
        const float d = __uint_as_float(bits);
        const uint8_t *qs = b + 1;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            w[j] = d * rf_kv_mxfp4[qs[j] & 15];
            w[j + 16] = d * rf_kv_mxfp4[qs[j] >> 4];
        }
    }
};

/* Plain types as 32-element "blocks" so the same kernels serve them. */
template <> struct rf_q<RF_TYPE_F32> {
    enum { QK = 32, BYTES = 128 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const float4 *p = (const float4 *)b;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const float4 v = p[j];
            w[4 * j] = v.x; w[4 * j + 1] = v.y; w[4 * j + 2] = v.z; w[4 * j + 3] = v.w;
        }
    }
};
template <> struct rf_q<RF_TYPE_F16> {
    enum { QK = 32, BYTES = 64 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const uint4 *p = (const uint4 *)b;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint4 v = p[j];
            const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int k = 0; k < 4; k++) {
                w[8 * j + 2 * k] = rf_h2f((uint16_t)(u[k] & 0xffff));
                w[8 * j + 2 * k + 1] = rf_h2f((uint16_t)(u[k] >> 16));
            }
        }
    }
};
template <> struct rf_q<RF_TYPE_BF16> {
    enum { QK = 32, BYTES = 64 };
    RF_DEV void chunk(const uint8_t *b, int /*c*/, float *w)
    {
        const uint4 *p = (const uint4 *)b;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint4 v = p[j];
            const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int k = 0; k < 4; k++) {
                w[8 * j + 2 * k] = rf_bf2f((uint16_t)(u[k] & 0xffff));
                w[8 * j + 2 * k + 1] = rf_bf2f((uint16_t)(u[k] >> 16));
            }
        }
    }
};

/* Byte k (0..3) of v as a float, for v's bytes holding small unsigned
 * integers: the byte is placed in the mantissa of 2^23 (one PRMT) and 2^23
 * subtracted (one FADD), exact, at full rate — integer-to-float conversion
 * instructions run at a quarter of the FP32 rate and bound the decoders. */
RF_DEV float rf_byte_f(uint32_t v, int k)
{
    return __int_as_float((int)__byte_perm(v, 0x4B000000u, (unsigned)(k | 0x7540))) - 8388608.0f;
}

/* ------------------------------------------------------------- slices
 * Elements [32c + 8s, 32c + 8s + 8) of block b: the unit of the kernels'
 * inner loops. Four neighbouring lanes take the four slices of a chunk, so
 * one warp-wide load instruction covers a contiguous run of weight bytes
 * and of activations (a chunk per lane would spread each instruction over
 * 32 cache lines). Types without a hand-written slice decode the chunk and
 * keep their 8 elements. */
template <int T> struct rf_slice {
    RF_DEV void get(const uint8_t *b, int c, int s, float *w)
    {
        float v[32];
        rf_q<T>::chunk(b, c, v);
        switch (s) { /* constant indices keep v in registers */
#define RF_SLICE_CASE(k) case k: _Pragma("unroll") for (int i = 0; i < 8; i++) w[i] = v[8 * k + i]; break;
        RF_SLICE_CASE(0) RF_SLICE_CASE(1) RF_SLICE_CASE(2) default: RF_SLICE_CASE(3)
#undef RF_SLICE_CASE
        }
    }
};

template <> struct rf_slice<RF_TYPE_Q4_0> {
    RF_DEV void get(const uint8_t *b, int, int s, float *w)
    {
        const float d = rf_h2f(rf_ld16(b));
        const uint16_t *q = (const uint16_t *)(b + 2 + 8 * (s & 1)); /* blocks are 2-byte aligned */
        const int sh = 4 * (s >> 1);
        const uint32_t v0 = ((q[0] | ((uint32_t)q[1] << 16)) >> sh) & 0x0F0F0F0Fu;
        const uint32_t v1 = ((q[2] | ((uint32_t)q[3] << 16)) >> sh) & 0x0F0F0F0Fu;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            w[i] = (rf_byte_f(v0, i) - 8.0f) * d;
            w[4 + i] = (rf_byte_f(v1, i) - 8.0f) * d;
        }
    }
};

template <> struct rf_slice<RF_TYPE_Q8_0> {
    RF_DEV void get(const uint8_t *b, int, int s, float *w)
    {
        const float d = rf_h2f(rf_ld16(b));
        const uint16_t *q = (const uint16_t *)(b + 2 + 8 * s); /* blocks are 2-byte aligned */
        /* x ^ 0x80 maps int8 x to x + 128 as an unsigned byte */
        const uint32_t v0 = (q[0] | ((uint32_t)q[1] << 16)) ^ 0x80808080u;
        const uint32_t v1 = (q[2] | ((uint32_t)q[3] << 16)) ^ 0x80808080u;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            w[i] = (rf_byte_f(v0, i) - 128.0f) * d;
            w[4 + i] = (rf_byte_f(v1, i) - 128.0f) * d;
        }
    }
};

template <> struct rf_slice<RF_TYPE_Q4_K> {
    RF_DEV void get(const uint8_t *b, int c, int s, float *w)
    {
        const float d = rf_h2f(rf_ld16(b)), dmin = rf_h2f(rf_ld16(b + 2));
        int sc, mn;
        rf_scale_min_k4(c, b + 4, &sc, &mn);
        const float dl = d * sc, ml = dmin * mn;
        /* 8 quant bytes, 8-byte aligned (144-byte blocks from an aligned row) */
        const uint2 u = *(const uint2 *)(b + 16 + 32 * (c / 2) + 8 * s);
        const int sh = 4 * (c % 2);
        const uint32_t lo = (u.x >> sh) & 0x0F0F0F0Fu, hi = (u.y >> sh) & 0x0F0F0F0Fu;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            w[i] = dl * rf_byte_f(lo, i) - ml;
            w[4 + i] = dl * rf_byte_f(hi, i) - ml;
        }
    }
};

/* Q5_K: quant bytes at 48 + 32(c/2) + 8s, fifth bits in qh[8s..8s+8) bit c;
 * both 8-byte aligned (176-byte blocks from an aligned row). */
RF_DEV void rf_q5k_words(const uint8_t *b, int c, int s, uint32_t *qa, uint32_t *qb, float *dl, float *ml)
{
    int sc, mn;
    rf_scale_min_k4(c, b + 4, &sc, &mn);
    const uint2 u = *(const uint2 *)(b + 48 + 32 * (c / 2) + 8 * s);
    const uint2 h = *(const uint2 *)(b + 16 + 8 * s);
    const int sh = 4 * (c % 2);
    *qa = ((u.x >> sh) & 0x0F0F0F0Fu) | (((h.x >> c) & 0x01010101u) << 4);
    *qb = ((u.y >> sh) & 0x0F0F0F0Fu) | (((h.y >> c) & 0x01010101u) << 4);
    const uint32_t dm = *(const uint32_t *)b;
    *dl = rf_h2f((uint16_t)(dm & 0xffff)) * sc;
    *ml = rf_h2f((uint16_t)(dm >> 16)) * mn;
}

template <> struct rf_slice<RF_TYPE_Q5_K> {
    RF_DEV void get(const uint8_t *b, int c, int s, float *w)
    {
        uint32_t qa, qb;
        float dl, ml;
        rf_q5k_words(b, c, s, &qa, &qb, &dl, &ml);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            w[i] = dl * rf_byte_f(qa, i) - ml;
            w[4 + i] = dl * rf_byte_f(qb, i) - ml;
        }
    }
};

template <> struct rf_slice<RF_TYPE_Q6_K> {
    RF_DEV void get(const uint8_t *b, int c, int s, float *w)
    {
        const float d = rf_h2f(rf_ld16(b + 208));
        const int n = c / 4, sub = c % 4;
        const uint16_t *ql = (const uint16_t *)(b + n * 64 + (sub & 1) * 32 + 8 * s);
        const uint16_t *qh = (const uint16_t *)(b + 128 + n * 32 + 8 * s);
        const float dl = d * ((const int8_t *)(b + 192))[n * 8 + 2 * sub + s / 2];
        const int nsh = (sub >> 1) * 4, hsh = 2 * sub;
        const uint32_t l0 = ql[0] | ((uint32_t)ql[1] << 16), l1 = ql[2] | ((uint32_t)ql[3] << 16);
        const uint32_t h0 = qh[0] | ((uint32_t)qh[1] << 16), h1 = qh[2] | ((uint32_t)qh[3] << 16);
        /* 6-bit quants for 4 elements per word: low nibble | 2 high bits << 4 */
        const uint32_t v0 = ((l0 >> nsh) & 0x0F0F0F0Fu) | (((h0 >> hsh) & 0x03030303u) << 4);
        const uint32_t v1 = ((l1 >> nsh) & 0x0F0F0F0Fu) | (((h1 >> hsh) & 0x03030303u) << 4);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            w[i] = dl * (rf_byte_f(v0, i) - 32.0f);
            w[4 + i] = dl * (rf_byte_f(v1, i) - 32.0f);
        }
    }
};

template <> struct rf_slice<RF_TYPE_F16> {
    RF_DEV void get(const uint8_t *b, int /*c*/, int s, float *w)
    {
        const uint4 v = *(const uint4 *)(b + 16 * s);
        const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            w[2 * k] = rf_h2f((uint16_t)(u[k] & 0xffff));
            w[2 * k + 1] = rf_h2f((uint16_t)(u[k] >> 16));
        }
    }
};

template <> struct rf_slice<RF_TYPE_BF16> {
    RF_DEV void get(const uint8_t *b, int /*c*/, int s, float *w)
    {
        const uint4 v = *(const uint4 *)(b + 16 * s);
        const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            w[2 * k] = rf_bf2f((uint16_t)(u[k] & 0xffff));
            w[2 * k + 1] = rf_bf2f((uint16_t)(u[k] >> 16));
        }
    }
};

template <> struct rf_slice<RF_TYPE_F32> {
    RF_DEV void get(const uint8_t *b, int /*c*/, int s, float *w)
    {
        const float4 p = *(const float4 *)(b + 32 * s), q = *(const float4 *)(b + 32 * s + 16);
        w[0] = p.x; w[1] = p.y; w[2] = p.z; w[3] = p.w;
        w[4] = q.x; w[5] = q.y; w[6] = q.z; w[7] = q.w;
    }
};

/* ------------------------------------------------------- integer slices
 * For the decode products against 8-bit activations: the 8 quants of a
 * slice as two words of 4 bytes (q, signed or unsigned < 128) with the
 * slice's weights w_i = dl * q_i - ml, so that
 *   sum_i w_i x_i = dx * (dl * sum_i q_i xq_i - ml * sum_i xq_i)
 * with x_i = dx * xq_i, two DP4A each. rf_dot8<T>::ok says whether T has
 * one. */
template <int T> struct rf_dot8 {
    enum { ok = 0 };
    RF_DEV void get(const uint8_t *, int, int, uint32_t *, uint32_t *, float *, float *) {}
};

template <> struct rf_dot8<RF_TYPE_Q4_0> {
    enum { ok = 1 };
    RF_DEV void get(const uint8_t *b, int, int s, uint32_t *qa, uint32_t *qb, float *dl, float *ml)
    {
        const float d = rf_h2f(rf_ld16(b));
        const uint16_t *q = (const uint16_t *)(b + 2 + 8 * (s & 1));
        const int sh = 4 * (s >> 1);
        *qa = ((q[0] | ((uint32_t)q[1] << 16)) >> sh) & 0x0F0F0F0Fu;
        *qb = ((q[2] | ((uint32_t)q[3] << 16)) >> sh) & 0x0F0F0F0Fu;
        *dl = d;
        *ml = 8.0f * d;
    }
};

template <> struct rf_dot8<RF_TYPE_Q8_0> {
    enum { ok = 1 };
    RF_DEV void get(const uint8_t *b, int, int s, uint32_t *qa, uint32_t *qb, float *dl, float *ml)
    {
        const uint16_t *q = (const uint16_t *)(b + 2 + 8 * s);
        *qa = q[0] | ((uint32_t)q[1] << 16);
        *qb = q[2] | ((uint32_t)q[3] << 16);
        *dl = rf_h2f(rf_ld16(b));
        *ml = 0.0f;
    }
};

template <> struct rf_dot8<RF_TYPE_Q4_K> {
    enum { ok = 1 };
    RF_DEV void get(const uint8_t *b, int c, int s, uint32_t *qa, uint32_t *qb, float *dl, float *ml)
    {
        int sc, mn;
        rf_scale_min_k4(c, b + 4, &sc, &mn);
        const uint2 u = *(const uint2 *)(b + 16 + 32 * (c / 2) + 8 * s);
        const int sh = 4 * (c % 2);
        *qa = (u.x >> sh) & 0x0F0F0F0Fu;
        *qb = (u.y >> sh) & 0x0F0F0F0Fu;
        const uint32_t dm = *(const uint32_t *)b; /* d | dmin in one load */
        *dl = rf_h2f((uint16_t)(dm & 0xffff)) * sc;
        *ml = rf_h2f((uint16_t)(dm >> 16)) * mn;
    }
};

template <> struct rf_dot8<RF_TYPE_Q5_K> {
    enum { ok = 1 };
    RF_DEV void get(const uint8_t *b, int c, int s, uint32_t *qa, uint32_t *qb, float *dl, float *ml)
    {
        rf_q5k_words(b, c, s, qa, qb, dl, ml);
    }
};

template <> struct rf_dot8<RF_TYPE_Q6_K> {
    enum { ok = 1 };
    RF_DEV void get(const uint8_t *b, int c, int s, uint32_t *qa, uint32_t *qb, float *dl, float *ml)
    {
        const int n = c / 4, sub = c % 4;
        const uint16_t *ql = (const uint16_t *)(b + n * 64 + (sub & 1) * 32 + 8 * s);
        const uint16_t *qh = (const uint16_t *)(b + 128 + n * 32 + 8 * s);
        const int nsh = (sub >> 1) * 4, hsh = 2 * sub;
        const uint32_t l0 = ql[0] | ((uint32_t)ql[1] << 16), l1 = ql[2] | ((uint32_t)ql[3] << 16);
        const uint32_t h0 = qh[0] | ((uint32_t)qh[1] << 16), h1 = qh[2] | ((uint32_t)qh[3] << 16);
        *qa = ((l0 >> nsh) & 0x0F0F0F0Fu) | (((h0 >> hsh) & 0x03030303u) << 4);
        *qb = ((l1 >> nsh) & 0x0F0F0F0Fu) | (((h1 >> hsh) & 0x03030303u) << 4);
        *dl = rf_h2f(rf_ld16(b + 208)) * ((const int8_t *)(b + 192))[n * 8 + 2 * sub + s / 2];
        *ml = 32.0f * *dl;
    }
};

/* One element of a row of any plain type (tails that are not whole chunks). */
RF_DEV float rf_plain_get(int t, const uint8_t *row, int64_t i)
{
    if (t == RF_TYPE_F32) return ((const float *)row)[i];
    if (t == RF_TYPE_F16) return rf_h2f(((const uint16_t *)row)[i]);
    return rf_bf2f(((const uint16_t *)row)[i]);
}

/* Calls M<T>::run(args...) for the runtime type t; returns false when t has
 * no GPU decoder. */
#define RF_GPU_TYPES(X) X(RF_TYPE_F32) X(RF_TYPE_F16) X(RF_TYPE_BF16) X(RF_TYPE_Q4_0) \
    X(RF_TYPE_Q4_1) X(RF_TYPE_Q5_0) X(RF_TYPE_Q5_1) X(RF_TYPE_Q8_0) X(RF_TYPE_Q2_K) \
    X(RF_TYPE_Q3_K) X(RF_TYPE_Q4_K) X(RF_TYPE_Q5_K) X(RF_TYPE_Q6_K) X(RF_TYPE_IQ4_NL) \
    X(RF_TYPE_IQ4_XS) X(RF_TYPE_MXFP4)

#endif
