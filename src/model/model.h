/* model.h — a loaded model: hyperparameters, behaviour flags, weight
 * bindings, vocabulary, and the backend that holds the weights.
 *
 * Architecture differences are normalised here, once, at load: the table in
 * arch.c has one row per `general.architecture` (which tensors exist, which
 * behaviours apply), and model.c turns the file's metadata into
 * `rf_hparams`. The forward pass (src/engine/forward.c) reads flags and
 * hyperparameters only, never the architecture name.
 */
#ifndef RF_MODEL_H
#define RF_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "gguf/gguf.h"
#include "rocmforge.h"

typedef struct rf_vocab rf_vocab;

/* One row of the architecture table: what a family's files hold and how its
 * forward pass behaves. */
typedef struct rf_arch {
    const char *name;        /* general.architecture */
    rf_rope_style rope;      /* NORM for llama (the converter permutes Q/K rows), NEOX otherwise */
    rf_act act;              /* gated FFN activation */
    bool fused_qkv;          /* attn_qkv instead of attn_q/k/v (phi3) */
    bool fused_gate_up;      /* ffn_up holds [gate; up] (phi3) */
    bool qkv_bias;           /* attn_{q,k,v}.bias (qwen2) */
    bool qk_norm;            /* attn_{q,k}_norm: per-head RMSNorm before RoPE (qwen3, gemma3) */
    bool post_norms;         /* attn_post_norm / ffn_post_norm on branch outputs (gemma2/3) */
    bool embd_scale;         /* token embeddings times sqrt(n_embd) (gemma) */
    bool attn_softcap;       /* attention logit soft-capping (gemma2) */
    bool final_softcap;      /* final logit soft-capping (gemma2/3 when the key is set) */
    int swa_period;          /* default sliding-window layer period (0: no SWA) */
    int swa_default;         /* default window when the key is absent */
    bool swa_ignored;        /* file may set a window, but the family runs it dense (phi3, as llama.cpp) */
    bool rope_long_short;    /* rope_factors_{long,short} (phi3 LongRoPE) */
    bool gemma_attn_scale;   /* 1/sqrt(n_embd/n_head) for the 27B shapes, else 1/sqrt(head_dim) */
} rf_arch;

const rf_arch *rf_arch_find(const char *name);
/* "llama, qwen2, ..." for error messages. */
const char *rf_arch_list(void);

typedef struct rf_hparams {
    int n_vocab;
    int n_ctx_train;
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim;            /* key/value length per head */
    int n_ff;
    int n_rot;
    float norm_eps;
    float rope_base;         /* global layers */
    float rope_base_swa;     /* sliding-window layers */
    float rope_freq_scale;   /* 1/factor for linear/yarn, 1 otherwise */
    float rope_ext_factor;   /* YaRN: 1, else 0 */
    float rope_attn_factor;  /* magnitude scale of cos/sin */
    float yarn_beta_fast, yarn_beta_slow;
    int n_ctx_orig;          /* rope.scaling.original_context_length or n_ctx_train */
    float attn_scale;        /* q.k scale */
    float attn_softcap;      /* 0: off */
    float final_softcap;     /* 0: off */
    int n_swa;               /* sliding window size (0: none) */
    float embd_scale;        /* 1 or sqrt(n_embd) */
} rf_hparams;

/* Weights of one block. NULL-able members are absent for some families. */
typedef struct rf_layer {
    rf_bweight attn_norm;                    /* (n_embd) F32 */
    rf_bweight wq, wk, wv;                   /* (n_head*hd, n_embd), (n_head_kv*hd, n_embd) x2 */
    rf_bweight wqkv;                         /* fused (n_head*hd + 2*n_head_kv*hd, n_embd) */
    rf_bweight bq, bk, bv;                   /* biases (qwen2) */
    rf_bweight q_norm, k_norm;               /* (head_dim) */
    rf_bweight wo;                           /* (n_embd, n_head*hd) */
    rf_bweight attn_post_norm;               /* (n_embd) */
    rf_bweight ffn_norm;                     /* (n_embd) */
    rf_bweight w_gate, w_up;                 /* (n_ff, n_embd); fused: w_up (2*n_ff, n_embd) */
    rf_bweight w_down;                       /* (n_embd, n_ff) */
    rf_bweight ffn_post_norm;                /* (n_embd) */
    bool swa;                                /* sliding-window layer */
} rf_layer;

struct rf_model {
    gguf_file *gguf;
    const rf_arch *arch;
    char *arch_name;
    char *name;
    char *chat_template;
    rf_hparams hp;
    rf_vocab *vocab;
    bool vocab_only;
    bool verbose;            /* print the memory plan */

    rf_backend backend;
    rf_bweight tok_embd;                     /* (n_vocab, n_embd) */
    rf_bweight output_norm;                  /* (n_embd) */
    rf_bweight output;                       /* (n_vocab, n_embd); == tok_embd when tied */
    rf_layer *layers;                        /* (n_layer) */
    const float *rope_freqs_w;               /* (n_rot/2) llama3 rope_freqs, or NULL */
    const float *rope_long, *rope_short;     /* (n_rot/2) phi3 LongRoPE factors, or NULL */
    void **owned;                            /* load-time buffers (flat-run dequantized tensors) */
    int n_owned;
    uint64_t n_params;
    int n_threads;
};

/* The tokenizer of a loaded model, for the sampler and other engine code. */
const rf_vocab *rf_model_vocab(const rf_model *m);

#endif
