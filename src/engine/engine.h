/* engine.h — the inference context: paged KV cache, sequences, the buffers
 * of the memory plan, and the forward driver (forward.c) that runs a batch
 * through the model's layers with backend ops.
 *
 * KV cache: one pool of n_blocks blocks of block_size tokens per layer, for
 * K and for V, F32 or F16, layout (n_blocks, block_size, n_head_kv, head_dim). A
 * sequence owns a block table (its j-th block holds positions
 * [j*block_size, (j+1)*block_size)). Blocks carry reference counts so that
 * rf_seq_fork shares a prefix's whole blocks; a shared block that is about
 * to be written (after a truncate into it) is copied first.
 *
 * Memory plan: every buffer is sized at rf_ctx_create from the model and
 * rf_ctx_params, and allocated through the backend; rf_decode allocates
 * nothing.
 */
#ifndef RF_ENGINE_H
#define RF_ENGINE_H

#include "backend/backend.h"
#include "model/model.h"
#include "rocmforge.h"

typedef struct rf_seq {
    bool open;
    int len;                 /* tokens in the KV */
    int n_blocks;            /* blocks in its table */
} rf_seq;

struct rf_ctx {
    rf_model *m;
    rf_backend be;           /* the model's backend (not owned) */
    rf_ctx_params p;
    int n_ctx, n_batch, n_seq_max, bs;
    int n_blocks;            /* KV pool blocks */
    int max_blocks;          /* block table width: ceil(n_ctx / bs) */
    int kv_dim;              /* n_head_kv * head_dim */
    rf_type kv_type;         /* F16 or F32 (params.kv_type; F16 where the backend has no F32 pools) */
    size_t kv_elem;          /* bytes per KV element */

    /* host bookkeeping */
    rf_seq *seqs;            /* (n_seq_max) */
    int32_t *h_btab;         /* (n_seq_max, max_blocks) */
    int32_t *refcnt;         /* (n_blocks) */
    int32_t *free_blocks;    /* (n_blocks) stack of free block ids */
    int n_free;
    int32_t *h_pos, *h_slots, *h_seqrow, *h_out_rows;   /* (n_batch) per-step inputs */
    int32_t *h_out_pos, *h_out_seqrow;                  /* (n_batch) */
    int32_t *out_of_entry;   /* (n_batch) logits row of batch entry i, -1 if none */
    int32_t *h_tok;          /* (n_batch) token ids in row order */
    int32_t *h_order;        /* (n_batch) batch entry of row j (rows run prompt tokens first: token roles) */
    int n_prompt;            /* rows [0, n_prompt) are prompt tokens; -1: no roles */
    int n_out_prompt;        /* the same for the rows with logits */
    int *seq_new;            /* (n_seq_max) scratch: tokens a batch adds per sequence */
    rf_rope_params *rope;    /* (n_layer) */
    float *h_logits;         /* (n_batch, n_vocab) */
    float *h_embd;           /* (n_batch, n_embd) final hidden states (embeddings mode) */
    float *h_pooled;         /* (n_seq_max, n_embd) */
    uint8_t *pooled_ok;      /* (n_seq_max) */

    /* device buffers */
    void *kv_k, *kv_v;       /* (n_layer, n_blocks, bs, kv_dim) of kv_type each */
    size_t kv_layer_bytes;
    /* A step's inputs travel in one upload: h_step holds them packed
     * (rf_decode: each array 16-byte aligned, sized by the step's rows),
     * d_step mirrors it, and the d_* below point into d_step for the
     * current step (fixed for a given row count, so recorded graphs hold). */
    int32_t *h_step, *d_step; /* (step_cap) */
    uint64_t serial;         /* this context among all made in the process (step signatures) */
    uint64_t step_cap;
    int32_t *d_tok, *d_pos, *d_slots, *d_seqrow, *d_out_rows;  /* (n rows) */
    int32_t *d_out_pos, *d_out_seqrow;                          /* (n_out) of the rows with logits */
    int32_t *d_btab;         /* (n_seq_max, max_blocks) */
    float *x;                /* (n_batch, n_embd) residual stream */
    float *xb;               /* (n_batch, max(n_embd, q_dim)) normed input / branch output */
    float *q;                /* (n_batch, q_dim) */
    float *k, *v;            /* (n_batch, kv_dim) */
    float *qkv;              /* (n_batch, q_dim + 2 kv_dim) fused projection, or NULL */
    float *att;              /* (n_batch, q_dim) */
    float *hb;               /* (n_batch, 2 n_ff) gate (| up when fused) */
    float *hb2;              /* (n_batch, n_ff) up, then the GLU output */
    float *xo;               /* (n_batch, n_embd) rows that want logits */
    float *logits;           /* (n_batch, n_vocab) */
    int n_out;               /* rows of logits in the last batch */
    int n_last;              /* entries in the last batch */
    bool logits_pending;     /* the last batch's logits are still only on the device */
};

/* Greedy pick of output entry i of the last batch on the backend's device
 * (RF_ERR_UNSUPPORTED when it has none). */
rf_status ctx_greedy_device(rf_ctx *c, int i, const rf_greedy_adj *adj, int32_t *id, rf_error *err);

/* KV bookkeeping (kv.c) */
rf_status kv_init(rf_ctx *c, rf_error *err);
/* Make room for n_new more tokens of sequence s (allocates blocks, copies a
 * shared tail block). Fails without side effects when the pool is short. */
rf_status kv_reserve(rf_ctx *c, int s, int n_new, rf_error *err);
/* Blocks kv_reserve would need for n_new more tokens of s. */
int kv_blocks_needed(const rf_ctx *c, int s, int n_new);
void kv_release_from(rf_ctx *c, int s, int keep_blocks);

/* The forward pass over a prepared batch (forward.c). */
rf_status forward_run(rf_ctx *c, int n_tok, rf_error *err);

#endif
