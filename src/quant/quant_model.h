/* quant_model.h — whole-model quantization (`rocmforge quantize`).
 *
 * Reads a GGUF model, picks each tensor's type the way llama.cpp's
 * llama_model_quantize does for the same file type (the _S/_M/_L mixes bump
 * attn_v / ffn_down / output to more bits on chosen layers; 1-D tensors and
 * norms stay as they are; tensors whose rows do not fit a block size fall
 * back to a smaller block type or F16), and writes a GGUF v3 file with all
 * metadata copied and general.file_type updated. Tensor order, metadata
 * order and layout follow llama.cpp's, so for the same input the output is
 * byte-identical to llama-quantize's (no importance matrix).
 */
#ifndef RF_QUANT_MODEL_H
#define RF_QUANT_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf/gguf.h"

/* llama.cpp's llama_ftype values (stored as general.file_type). */
typedef enum rf_ftype {
    RF_FTYPE_ALL_F32 = 0,
    RF_FTYPE_MOSTLY_F16 = 1,
    RF_FTYPE_MOSTLY_Q4_0 = 2,
    RF_FTYPE_MOSTLY_Q4_1 = 3,
    RF_FTYPE_MOSTLY_Q8_0 = 7,
    RF_FTYPE_MOSTLY_Q5_0 = 8,
    RF_FTYPE_MOSTLY_Q5_1 = 9,
    RF_FTYPE_MOSTLY_Q2_K = 10,
    RF_FTYPE_MOSTLY_Q3_K_S = 11,
    RF_FTYPE_MOSTLY_Q3_K_M = 12,
    RF_FTYPE_MOSTLY_Q3_K_L = 13,
    RF_FTYPE_MOSTLY_Q4_K_S = 14,
    RF_FTYPE_MOSTLY_Q4_K_M = 15,
    RF_FTYPE_MOSTLY_Q5_K_S = 16,
    RF_FTYPE_MOSTLY_Q5_K_M = 17,
    RF_FTYPE_MOSTLY_Q6_K = 18,
    RF_FTYPE_MOSTLY_IQ4_NL = 25,
    RF_FTYPE_MOSTLY_IQ4_XS = 30,
    RF_FTYPE_MOSTLY_BF16 = 32,
} rf_ftype;

/* Parse a file-type name as llama-quantize spells it ("Q4_K_M", "q8_0",
 * "Q4_K" = Q4_K_M, "Q5_K" = Q5_K_M, "Q3_K" = Q3_K_M, "F16"...); false if
 * unknown. */
bool rf_ftype_from_name(const char *name, rf_ftype *out);
/* Comma-separated list of the names rf_ftype_from_name accepts. */
const char *rf_ftype_names(void);

typedef struct rf_quantize_params {
    rf_ftype ftype;
    int n_threads;            /* <= 0: all cores */
    bool allow_requantize;    /* accept quantized inputs (dequantized, then quantized again) */
    bool verbose;             /* one line per tensor on stderr */
    bool progress;            /* a progress line on stderr */
} rf_quantize_params;

rf_status rf_quantize_model(const char *in_path, const char *out_path, const rf_quantize_params *p, rf_error *err);

#endif
