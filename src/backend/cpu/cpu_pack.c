/* cpu_pack.c — load-time repacking of weights into row-interleaved groups.
 *
 * Rows go in groups of RF_CPU_PACK_ROWS (16). A group block holds one block
 * (32 values, or a 256-value super-block) of each of the 16 rows: first the
 * scales of the 16 rows side by side, then the levels in "quads": 4
 * consecutive values of one row are 4 consecutive bytes, and the 16 rows'
 * quads of the same 4 columns make one 64-byte run. One 64-byte load is then
 * a vector whose int32 lane r holds row r's 4 levels: a u8 x s8 dot of 4
 * (vpdpbusd, or vpmaddubsw + vpmaddwd) against the activation's 4 values
 * broadcast to all lanes adds each row's partial sum into its own lane. Per
 * block each lane ends with the row's exact integer sum, which is scaled
 * into a float accumulator lane: no horizontal sums, as ggml's x86 repacked
 * kernels (q4_0_8x8 etc.) do with 8 rows.
 *
 * Layouts (r = row in the group, i = 0..3 inside a quad; "row's qs" is the
 * GGUF block's own array):
 *  Q4_0, 288 B: d[16] F16; qs[4][16][4] = row's qs[4j + i] unchanged (low
 *        nibble: value 4j + i, high nibble: value 16 + 4j + i).
 *  IQ4_NL, 288 B: as Q4_0 (the nibbles index the codebook).
 *  Q8_0, 544 B: d[16] F16; qs[8][16][4] = row's qs[4k + i] + 128 as u8.
 *  Q4_K, 2368 B: d[16], dmin[16] F16; sc[8][16], mn[8][16] (the 6-bit
 *        sub-block scales and mins, unpacked); qs[32][16][4] = row's
 *        qs[4c + i] unchanged (low nibble: value 64(c/8) + 4(c%8) + i of
 *        sub-block 2(c/8), high nibble: the same + 32, sub-block 2(c/8)+1).
 *  Q5_K, 2880 B: as Q4_K, then qh[8][16][4] = row's qh[4k + i] unchanged
 *        (value 4(c%8) + i of sub-block j has its fifth bit at bit j of
 *        qh run c % 8, byte i).
 *  IQ4_XS, 2208 B: d[16] F16; sc[8][16] int8 (the sub-block scales less 32);
 *        per sub-block ib, qs[4][16][4] as IQ4_NL's block (run j: row's
 *        qs[16 ib + 4j + i]; low nibble value 4j + i, high 16 + 4j + i).
 *  Q6_K, 3360 B: d[16] F16; sc[16][16] int8; then the 6-bit levels u
 *        (value + 32) of the 64 quads k: ql[32][16][4] holds quad k's low
 *        4 bits in the low nibble of run k (k < 32) or the high nibble of
 *        run k - 32; qh[16][16][4] holds quad k's top 2 bits in run k % 16
 *        at bit 2 * (k / 16).
 * Padding rows of the last group are zero bytes (scale 0).
 *
 * The one formula per output, shared by the scalar row dot, the scalar
 * packed kernel and every SIMD kernel (all integer parts exact):
 *  Q4_0: acc = fmaf((float)sum_b((q - 8) x), d_w * d_x, acc), block by block.
 *  Q8_0: acc = fmaf((float)sum_b(q x), d_w * d_x, acc).
 *  IQ4_NL: acc = fmaf((float)sum_b(kvalue[q] x), d_w * d_x, acc) (ggml's
 *        iq4_nl_8x8 formula too).
 *  Q4_K: per super-block isum = sum_j sc_j sum_j(q x), msum = sum_j mn_j
 *        bsum_j; acc = fmaf((float)isum, d_w * d_x, acc);
 *        acc = fmaf(-(float)msum, dmin_w * d_x, acc).
 *  Q5_K: isum, msum as Q4_K with 5-bit levels; acc = acc + ((d_x * d_w) *
 *        (float)isum - (d_x * dmin_w) * (float)msum) (the row dot's
 *        formula, ggml's reference order).
 *  Q6_K: isum = sum_j sc_j sum_j((u - 32) x); acc = fmaf((float)isum, d_w * d_x, acc).
 *  IQ4_XS: isum = sum_ib sc_ib sum_ib(kvalue[q] x); acc = acc + (d_x * d_w) *
 *        (float)isum (the row dot's formula).
 * (Q4_0 is ggml's q4_0_8x8 formula: integer offset, product of the scales,
 * one fma per block.)
 */
#include <stdbool.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "base/base.h"

#define G RF_CPU_PACK_ROWS

size_t rf_cpu_pack_block_bytes(rf_type t)
{
    switch (t) {
    case RF_TYPE_Q4_0: case RF_TYPE_IQ4_NL: return G * sizeof(rf_block_q4_0);
    case RF_TYPE_Q8_0: return G * sizeof(rf_block_q8_0);
    case RF_TYPE_Q4_K: return G * (4 + 8 + 8 + 128);
    case RF_TYPE_Q5_K: return G * (4 + 8 + 8 + 128 + 32);
    case RF_TYPE_Q6_K: return G * sizeof(rf_block_q6_K);
    case RF_TYPE_IQ4_XS: return G * (2 + 8 + 128);
    default: return 0;
    }
}

/* One group block from the rows' blocks (rows[r] == NULL: padding row). */
static void pack_block(rf_type t, const uint8_t *const rows[G], uint8_t *out)
{
    memset(out, 0, rf_cpu_pack_block_bytes(t));
    for (int r = 0; r < G; r++) {
        if (!rows[r]) continue;
        switch (t) {
        case RF_TYPE_Q4_0: case RF_TYPE_IQ4_NL: {
            /* the same bytes: an F16 scale and 16 bytes of nibbles */
            const rf_block_q4_0 *b = (const rf_block_q4_0 *)rows[r];
            memcpy(out + 2 * r, &b->d, 2);
            for (int j = 0; j < 4; j++) memcpy(out + 2 * G + 64 * j + 4 * r, b->qs + 4 * j, 4);
            break;
        }
        case RF_TYPE_Q8_0: {
            const rf_block_q8_0 *b = (const rf_block_q8_0 *)rows[r];
            memcpy(out + 2 * r, &b->d, 2);
            for (int k = 0; k < 8; k++)
                for (int i = 0; i < 4; i++) out[2 * G + 64 * k + 4 * r + i] = (uint8_t)(b->qs[4 * k + i] ^ 0x80);
            break;
        }
        case RF_TYPE_Q4_K: case RF_TYPE_Q5_K: {
            /* the same head (d, dmin, scales); Q5_K adds qh before qs */
            const bool q5 = t == RF_TYPE_Q5_K;
            const rf_block_q4_K *b = (const rf_block_q4_K *)rows[r];
            const uint8_t *qs = q5 ? ((const rf_block_q5_K *)rows[r])->qs : b->qs;
            memcpy(out + 2 * r, &b->d, 2);
            memcpy(out + 2 * G + 2 * r, &b->dmin, 2);
            for (int j = 0; j < 8; j++) rf_q4k_scale_min(j, b->scales, out + 4 * G + G * j + r, out + 12 * G + G * j + r);
            for (int c = 0; c < 32; c++) memcpy(out + 20 * G + 64 * c + 4 * r, qs + 4 * c, 4);
            if (q5)
                for (int k = 0; k < 8; k++)
                    memcpy(out + 20 * G + 2048 + 64 * k + 4 * r, ((const rf_block_q5_K *)rows[r])->qh + 4 * k, 4);
            break;
        }
        case RF_TYPE_IQ4_XS: {
            const rf_block_iq4_xs *b = (const rf_block_iq4_xs *)rows[r];
            memcpy(out + 2 * r, &b->d, 2);
            for (int ib = 0; ib < 8; ib++) {
                const int ls = ((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b->scales_h >> 2 * ib) & 3) << 4);
                out[2 * G + G * ib + r] = (uint8_t)(int8_t)(ls - 32);
                for (int j = 0; j < 4; j++) memcpy(out + 10 * G + 256 * ib + 64 * j + 4 * r, b->qs + 16 * ib + 4 * j, 4);
            }
            break;
        }
        case RF_TYPE_Q6_K: {
            const rf_block_q6_K *b = (const rf_block_q6_K *)rows[r];
            uint8_t u[256];
            for (int h = 0; h < 2; h++)
                for (int l = 0; l < 32; l++) {
                    const uint8_t ql0 = b->ql[64 * h + l], ql1 = b->ql[64 * h + l + 32], qh = b->qh[32 * h + l];
                    u[128 * h + l] = (uint8_t)((ql0 & 0xF) | ((qh & 3) << 4));
                    u[128 * h + l + 32] = (uint8_t)((ql1 & 0xF) | (((qh >> 2) & 3) << 4));
                    u[128 * h + l + 64] = (uint8_t)((ql0 >> 4) | (((qh >> 4) & 3) << 4));
                    u[128 * h + l + 96] = (uint8_t)((ql1 >> 4) | (((qh >> 6) & 3) << 4));
                }
            memcpy(out + 2 * r, &b->d, 2);
            for (int j = 0; j < 16; j++) out[2 * G + G * j + r] = (uint8_t)b->scales[j];
            uint8_t *ql = out + 18 * G, *qh = ql + 32 * 64;
            for (int c = 0; c < 32; c++)
                for (int i = 0; i < 4; i++)
                    ql[64 * c + 4 * r + i] = (uint8_t)((u[4 * c + i] & 0xF) | ((u[128 + 4 * c + i] & 0xF) << 4));
            for (int c = 0; c < 16; c++)
                for (int i = 0; i < 4; i++) {
                    uint8_t v = 0;
                    for (int m = 0; m < 4; m++) v |= (uint8_t)((u[64 * m + 4 * c + i] >> 4) << (2 * m));
                    qh[64 * c + 4 * r + i] = v;
                }
            break;
        }
        default: break;
        }
    }
}

rf_status rf_cpu_pack(rf_type t, const void *w, int64_t n_rows, int64_t n_cols, size_t row_stride, void *dst,
                      size_t dst_size, rf_error *err)
{
    const size_t gb = rf_cpu_pack_block_bytes(t);
    const rf_type_traits *tr = rf_type_get((uint32_t)t);
    if (!gb || !tr)
        return rf_err(err, RF_ERR_UNSUPPORTED, "cpu pack: type %s has no packed layout", rf_type_name((uint32_t)t));
    if (!w || !dst || n_rows <= 0 || n_cols <= 0 || n_cols % tr->block_size ||
        row_stride < (size_t)rf_type_row_bytes(t, (uint64_t)n_cols))
        return rf_err(err, RF_ERR_INVALID_ARG, "cpu pack %s: bad shape (%lld x %lld, stride %zu)",
                      rf_type_name((uint32_t)t), (long long)n_rows, (long long)n_cols, row_stride);
    const int64_t n_blocks = n_cols / tr->block_size, n_groups = (n_rows + G - 1) / G;
    if (dst_size < (size_t)(n_groups * n_blocks) * gb)
        return rf_err(err, RF_ERR_INVALID_ARG, "cpu pack %s: %zu bytes of destination, %zu needed",
                      rf_type_name((uint32_t)t), dst_size, (size_t)(n_groups * n_blocks) * gb);
    uint8_t *out = dst;
    for (int64_t g = 0; g < n_groups; g++)
        for (int64_t b = 0; b < n_blocks; b++, out += gb) {
            const uint8_t *rows[G];
            for (int r = 0; r < G; r++) {
                const int64_t row = g * G + r;
                rows[r] = row < n_rows ? (const uint8_t *)w + (size_t)row * row_stride + (size_t)b * tr->type_size : NULL;
            }
            pack_block(t, rows, out);
        }
    return RF_OK;
}
