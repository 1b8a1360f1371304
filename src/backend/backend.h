/* backend.h — the operations a compute backend provides to the forward pass.
 *
 * The layer loop (src/engine/forward.c) is written once against this table;
 * the CPU backend (cpu/cpu_backend.c) and the GPU backend (gpu/) each fill
 * one `rf_backend_ops` and keep their state behind `void *ctx`.
 *
 * Memory model: every buffer the loop touches (activations, KV pool, logits,
 * per-step inputs such as positions and block tables) is allocated once, at
 * context creation, through `alloc`, and is an opaque device pointer: the
 * loop only does pointer arithmetic on it (offsets in bytes computed from
 * the shapes) and passes it back to ops. Host data enters through `upload`
 * and leaves through `download`. Nothing is allocated per step, so a GPU
 * backend can capture a whole decode step between graph_begin/graph_end and
 * replay it (shapes that vary per step — n_tok, the rows that want logits —
 * are arguments, so a backend that captures keys its graphs by them).
 *
 * Weights: `rf_bweight` describes one 2-D weight kept in its GGUF type
 * (row-major, n_rows rows of n_cols elements, row_stride bytes apart).
 * `weight_bind` gives the backend the chance to place it (upload to VRAM,
 * repack); the CPU backend uses the mmap'd bytes in place.
 *
 * Numerics contract (batch invariance): every op computes each row (token)
 * with a reduction order that does not depend on n_tok or on the other rows,
 * so one sequence's output does not depend on its neighbours in the batch.
 */
#ifndef RF_BACKEND_H
#define RF_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf/gguf.h"

/* One weight matrix (or vector: n_rows = 1) in its storage type. */
/* Largest head_dim / n_rot the kernels accept (checked at load). */
#define RF_BACKEND_MAX_HEAD_DIM 1024

typedef struct rf_bweight {
    rf_type type;
    int64_t n_rows;        /* output features */
    int64_t n_cols;        /* input features (elements per row) */
    size_t row_stride;     /* bytes between rows */
    const void *host;      /* bytes in the mmap'd file (or a load-time copy) */
    void *dev;             /* backend placement (CPU: host, or a repacked copy) */
    bool lookup_only;      /* only read through get_rows (an embedding with its
                            * own output matrix): no need to prepare it for matmul */
    bool host_in_file;     /* host lies in the read-only file mapping: a backend
                            * that keeps its own copy may drop those pages (they
                            * read back from the file if touched again) */
    char name[64];         /* tensor name, for errors */
} rf_bweight;

typedef enum rf_rope_style {
    RF_ROPE_NORM = 0,      /* rotate pairs (x[2i], x[2i+1]) — llama's row order */
    RF_ROPE_NEOX,          /* rotate pairs (x[i], x[i + n_rot/2]) — HF order */
} rf_rope_style;

typedef enum rf_act {
    RF_ACT_SILU = 0,       /* SwiGLU: silu(gate) * up */
    RF_ACT_GELU,           /* GeGLU: gelu_tanh(gate) * up */
} rf_act;

/* RoPE of one layer, in ggml's parameterisation (YaRN included). */
typedef struct rf_rope_params {
    rf_rope_style style;
    int n_rot;             /* rotated dims per head (even, <= head_dim) */
    float freq_base;
    float freq_scale;      /* 1 / linear factor */
    float ext_factor;      /* YaRN extrapolation mix (0: off) */
    float attn_factor;     /* magnitude scale of cos/sin */
    float corr_dims[2];    /* YaRN correction range (dims) */
    const float *freq_factors;  /* (n_rot/2) divisors of theta, or NULL (llama3, phi3 long/short) */
} rf_rope_params;

/* Attention of one layer over the paged KV cache.
 * KV pool layout per layer: k/v: (n_blocks, block_size, n_head_kv, head_dim)
 * in the pool's type (kv_type: F16, or F32 where the backend has
 * kv_write_typed). A token's slot = block_id * block_size + offset. */
typedef struct rf_attn_params {
    int n_head;
    int n_head_kv;
    int head_dim;
    int block_size;
    int max_blocks;        /* block table row width */
    float scale;           /* applied to q.k */
    float softcap;         /* 0: off; else s = softcap * tanh(s / softcap) */
    int window;            /* 0: full causal; else keys at pos > p - window only */
    rf_type kv_type;       /* RF_TYPE_F16 or RF_TYPE_F32 */
} rf_attn_params;

/* A backend may split a generated token's attention over up to
 * RF_ATTN_SPLITS chunks of its keys, each leaving a partial state (head_dim
 * accumulators, a max and a sum) that the last chunk merges: the scratch
 * for row_heads (rows x query heads) at once, and a counter per row head.
 * The context's memory plan counts it (reserve_attn). */
#define RF_ATTN_SPLITS 16
static inline uint64_t rf_attn_split_bytes(uint64_t row_heads, uint64_t head_dim)
{
    return row_heads * (RF_ATTN_SPLITS * (head_dim + 2) * 4 + 4);
}

/* The host sampler's logit adjustments for a greedy pick on the device
 * (sampler.c defines them): each (pen_tok[i], pen_cnt[i]) of the penalty
 * window, tokens unique, gets l = l <= 0 ? l * repeat : l / repeat, then
 * l -= cnt * frequency + presence; then each bias pair in order adds its
 * bias. NaN logits count as -inf. */
typedef struct rf_greedy_adj {
    int n_pen;
    const int32_t *pen_tok, *pen_cnt;
    float repeat_penalty, frequency_penalty, presence_penalty;
    int n_bias;
    const int32_t *bias_tok;
    const float *bias_val;
} rf_greedy_adj;

#define RF_STEP_SIG 5 /* words of a step signature (graph_try) */

typedef struct rf_backend_ops {
    const char *name;                                  /* "cpu", "cuda", "hip" */
    bool kv_f16_default;                               /* RF_KV_AUTO's pick: F16 (true) or F32 */
    bool (*supports)(void *ctx, rf_type t);            /* matmul weight type */
    void *(*alloc)(void *ctx, size_t bytes, rf_error *err);
    void (*free)(void *ctx, void *buf);
    rf_status (*upload)(void *ctx, void *dst, size_t off, const void *src, size_t n, rf_error *err);
    rf_status (*download)(void *ctx, void *dst, const void *src, size_t off, size_t n, rf_error *err);
    rf_status (*weight_bind)(void *ctx, rf_bweight *w, rf_error *err);
    /* Reserve what matmul needs for batches of up to n_tok rows of any
     * weight in ws (scratch for quantized activations). Called once per
     * context. */
    rf_status (*reserve)(void *ctx, const rf_bweight *const *ws, int n_w, int n_tok, rf_error *err);
    /* Optional: room for the attention of up to n_rows generated tokens at
     * once split over chunks of their keys (rf_attn_split_bytes). Without
     * it, or for more rows, each (token, head) takes one pass. */
    rf_status (*reserve_attn)(void *ctx, int n_rows, int n_head, int head_dim, rf_error *err);

    /* out (n, w->n_cols) = rows ids[i] of w, times scale. ids: device, (n). */
    rf_status (*get_rows)(void *ctx, const rf_bweight *w, const int32_t *ids, int n, float scale, float *out, rf_error *err);
    /* y (n_tok, w->n_rows) = x (n_tok, w->n_cols) . w^T */
    rf_status (*matmul)(void *ctx, const rf_bweight *w, const float *x, int n_tok, float *y, rf_error *err);
    /* x (n_tok, n) += b (n), per row */
    void (*add_bias)(void *ctx, float *x, const float *b, int n_tok, int n);
    /* y (n_rows, n) = x / rms(x) * w (n). y may equal x. Rows are contiguous
     * with stride n (Q/K norm passes n = head_dim, n_rows = n_tok * n_head). */
    void (*rmsnorm)(void *ctx, const float *x, const float *w, float eps, int n_rows, int n, float *y);
    /* Rotate x (n_tok, n_head, head_dim) in place; pos: device (n_tok). */
    void (*rope)(void *ctx, float *x, const int32_t *pos, int n_tok, int n_head, int head_dim, const rf_rope_params *p);
    /* Store k, v (n_tok, n_head_kv * head_dim) at slots (n_tok) of the
     * layer's pools. */
    void (*kv_write)(void *ctx, void *k_pool, void *v_pool, const float *k, const float *v, const int32_t *slots,
                     int n_tok, int kv_dim);
    /* Optional: kv_write for a pool of kv_type (F16 or F32). A backend
     * without it keeps F16 pools only (the context falls back to F16). */
    void (*kv_write_typed)(void *ctx, void *k_pool, void *v_pool, const float *k, const float *v,
                           const int32_t *slots, int n_tok, int kv_dim, rf_type kv_type);
    /* out (n_tok, n_head * head_dim): causal attention of q (n_tok, n_head,
     * head_dim) at positions pos (n_tok) over the KV of its sequence:
     * blocks btab[seq_row[t] * max_blocks + j], positions [0, pos[t]]. */
    void (*attention)(void *ctx, const float *q, const void *k_pool, const void *v_pool, const int32_t *btab,
                      const int32_t *seq_row, const int32_t *pos, int n_tok, const rf_attn_params *p, float *out);
    /* out (n_tok, n) = act(gate) * up; gate/up rows have stride `stride`
     * (fused gate|up tensors pass the same buffer with an offset). */
    void (*glu)(void *ctx, rf_act act, const float *gate, const float *up, int n_tok, int n, int stride, float *out);
    /* x (n) += y (n) */
    void (*add)(void *ctx, float *x, const float *y, int64_t n);
    /* x (n_rows, n_src_cols) -> out (n_rows, n): gather rows idx (n_rows)
     * of x (row stride n). */
    void (*gather)(void *ctx, const float *x, const int32_t *idx, int n_rows, int n, float *out);
    /* x (n) = cap * tanh(x / cap) */
    void (*softcap)(void *ctx, float *x, int64_t n, float cap);
    /* Device-to-device copy of n_rows rows of row_bytes (strided): splits
     * fused QKV rows, copies KV blocks (copy-on-write). */
    void (*copy2d)(void *ctx, void *dst, size_t dst_stride, const void *src, size_t src_stride, int n_rows,
                   size_t row_bytes);

    /* Optional: the greedy pick of one row of logits (device, n_vocab wide)
     * after adj, on the device; only the id comes back. The logits are left
     * unchanged. */
    rf_status (*greedy)(void *ctx, const float *logits, int n_vocab, const rf_greedy_adj *adj, int32_t *id,
                        rf_error *err);
    /* Optional: free and total bytes of the memory this backend allocates
     * from (NULL: host memory, not planned). The model and the context check
     * their whole plan against it before allocating anything. */
    rf_status (*mem_info)(void *ctx, size_t *free_bytes, size_t *total_bytes, rf_error *err);
    /* Optional: the device's name for messages ("GPU 0 (NVIDIA H200)"). */
    const char *(*device_name)(void *ctx);

    /* Optional (NULL: every op has finished when it returns): wait until
     * everything queued has run, and report a failure of it. */
    rf_status (*sync)(void *ctx, rf_error *err);
    /* Optional: replay the step last recorded under the same key and
     * signature without recording it (*done = true), else get ready to
     * record one (graph_begin ... graph_end) that the signature then names.
     * The signature must determine every op of the step and its arguments
     * (the engine's: the context's serial, rows, rows with logits, and
     * their roles). */
    rf_status (*graph_try)(void *ctx, int key, const int64_t sig[RF_STEP_SIG], bool *done, rf_error *err);
    /* Optional: capture/replay a step (NULL on the CPU). */
    rf_status (*graph_begin)(void *ctx, int key, rf_error *err);
    rf_status (*graph_end)(void *ctx, rf_error *err);
    /* Optional (NULL: ignored): whether results must be batch-invariant
     * (rf_ctx_params.deterministic). A backend may take faster paths whose
     * numerics depend on the batch size only when this is off; the GPU's
     * matrix-unit prompt path is one. Default: on. */
    void (*set_deterministic)(void *ctx, bool on);
    /* Optional (NULL: one numerics for every token): the roles of the rows
     * of the matmul and attention calls that follow, until the next call:
     * rows [0, n_prompt) are prompt tokens, the rest generated tokens (one
     * per sequence in the batch); n_prompt < 0: no roles. A deterministic
     * backend may give the two roles different numerics (the GPU: prompts on
     * the matrix units), as long as a row's result depends on its role and
     * its own inputs only, never on the other rows. Recorded like an op. */
    void (*token_roles)(void *ctx, int n_prompt);
    void (*destroy)(void *ctx);
} rf_backend_ops;

typedef struct rf_backend {
    const rf_backend_ops *ops;
    void *ctx;
} rf_backend;

/* The CPU backend: n_threads workers (0 = all cores). */
rf_status rf_backend_cpu_create(int n_threads, rf_backend *out, rf_error *err);

/* F16 <-> F32 conversions (round to nearest even), shared by KV writers and
 * readers on the host. */
static inline uint16_t rf_f32_to_f16(float f)
{
    union { float f; uint32_t u; } v = {f};
    uint32_t x = v.u, sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf / nan */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow -> inf */
    if (ax < 0x38800000u) { /* f16 subnormal or zero: value = q * 2^-24 */
        if (ax < 0x33000000u) return (uint16_t)sign;          /* < 2^-25: rounds to 0 */
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e;                              /* m * 2^(e-150) / 2^-24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t h = ((ax - 0x38000000u) >> 13);
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static inline float rf_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ffu;
    union { uint32_t u; float f; } v;
    if (e == 0) {
        if (m == 0) { v.u = sign; return v.f; }
        /* subnormal: m * 2^-24 */
        float f = (float)m * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (e == 31) v.u = sign | 0x7f800000u | (m << 13);
    else v.u = sign | ((e + 112) << 23) | (m << 13);
    return v.f;
}

#endif
