/* arch.c — the architecture table: one row per `general.architecture`.
 *
 * Facts follow llama.cpp's converter (convert_hf_to_gguf.py) and loader:
 *  - llama: the converter permutes Q/K rows so that RoPE rotates adjacent
 *    pairs (NORM style); every other family here keeps HF's half-split
 *    order (NEOX style).
 *  - gemma*: the converter already adds 1 to the RMSNorm weights, so the
 *    norms are plain x * w here.
 *  - gemma2: sliding window on even layers (period 2, window 4096 unless
 *    the file says), attention and final logit soft-capping.
 *  - gemma3: sliding window on 5 of every 6 layers when the file sets a
 *    window, local layers use rope.freq_base_swa (10000) and no scaling.
 *  - phi3: fused QKV and gate|up; LongRoPE factors; llama.cpp runs phi3
 *    without its sliding window (the converter's value is not reliable), and
 *    so do we, to stay comparable.
 */
#include <string.h>

#include "model/model.h"

static const rf_arch arch_table[] = {
    {.name = "llama", .rope = RF_ROPE_NORM, .act = RF_ACT_SILU},
    {.name = "qwen2", .rope = RF_ROPE_NEOX, .act = RF_ACT_SILU, .qkv_bias = true},
    {.name = "qwen3", .rope = RF_ROPE_NEOX, .act = RF_ACT_SILU, .qk_norm = true},
    {.name = "gemma2", .rope = RF_ROPE_NEOX, .act = RF_ACT_GELU, .post_norms = true, .embd_scale = true,
     .attn_softcap = true, .final_softcap = true, .swa_period = 2, .swa_default = 4096, .gemma_attn_scale = true},
    {.name = "gemma3", .rope = RF_ROPE_NEOX, .act = RF_ACT_GELU, .qk_norm = true, .post_norms = true,
     .embd_scale = true, .final_softcap = true, .swa_period = 6, .gemma_attn_scale = true},
    {.name = "phi3", .rope = RF_ROPE_NEOX, .act = RF_ACT_SILU, .fused_qkv = true, .fused_gate_up = true,
     .swa_ignored = true, .rope_long_short = true},
};

const rf_arch *rf_arch_find(const char *name)
{
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++)
        if (!strcmp(arch_table[i].name, name)) return &arch_table[i];
    return NULL;
}

const char *rf_arch_list(void)
{
    return "llama, qwen2, qwen3, gemma2, gemma3, phi3";
}
