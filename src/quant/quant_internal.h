/* quant_internal.h — helpers shared by the reference quantizers of src/quant
 * (not part of the module's interface). */
#ifndef RF_QUANT_INTERNAL_H
#define RF_QUANT_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "quant/quant.h"

/* Round to nearest, ties to even, for |x| < 2^22: adding 1.5 * 2^23 puts the
 * integer in the low mantissa bits. This (not lrintf) is what the reference
 * quantizers use, and its result for ties matters for bit-exactness. */
static inline int rf_nearest_int(float f)
{
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

int rf_quant_best_index_int8(int n, const int8_t *val, float x);
void rf_quant_iq4_superblock(int sb, const float *x, rf_fp16 *dh, uint8_t *q4, uint16_t *scales_h,
                             uint8_t *scales_l, int ntry);

void rf_quantize_row_q2_K(const float *x, void *y, int64_t n);
void rf_quantize_row_q3_K(const float *x, void *y, int64_t n);
void rf_quantize_row_q4_K(const float *x, void *y, int64_t n);
void rf_quantize_row_q5_K(const float *x, void *y, int64_t n);
void rf_quantize_row_q6_K(const float *x, void *y, int64_t n);
void rf_dequantize_row_q2_K(const void *x, float *y, int64_t n);
void rf_dequantize_row_q3_K(const void *x, float *y, int64_t n);
void rf_dequantize_row_q4_K(const void *x, float *y, int64_t n);
void rf_dequantize_row_q5_K(const void *x, float *y, int64_t n);
void rf_dequantize_row_q6_K(const void *x, float *y, int64_t n);

#endif
