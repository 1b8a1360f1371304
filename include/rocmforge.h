/* rocmforge.h — the public C API.
 *
 * What the CLI and the server use, and what other programs embed. Everything
 * else under src/ is internal. Conventions:
 *   - Functions that can fail return rf_status and, when `err` is non-NULL,
 *     fill it with a message that names the thing (file, tensor, field, value).
 *   - Handles are opaque and come in create/free pairs.
 *   - Token ids are int32_t; a sequence is identified by an int the context
 *     hands out (rf_seq_open).
 *   - Nothing here allocates per generated token: contexts are sized at
 *     creation from rf_ctx_params.
 */
#ifndef ROCMFORGE_H
#define ROCMFORGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RF_VERSION_MAJOR 0
#define RF_VERSION_MINOR 1
#define RF_VERSION_PATCH 0

typedef enum rf_status {
    RF_OK = 0,
    RF_ERR_IO,            /* open/read/mmap failed */
    RF_ERR_FORMAT,        /* malformed file or input */
    RF_ERR_UNSUPPORTED,   /* valid but not supported (architecture, type...) */
    RF_ERR_INVALID_ARG,   /* bad parameter from the caller */
    RF_ERR_NOMEM,         /* host or device memory exhausted */
    RF_ERR_CONTEXT_FULL,  /* no room left in the KV cache / context */
    RF_ERR_BACKEND,       /* device/runtime failure */
    RF_ERR_CANCELLED,
} rf_status;

/* Error value: a status and a message naming the thing that went wrong. */
typedef struct rf_error {
    rf_status code;
    char msg[512];
} rf_error;

const char *rf_status_name(rf_status s);
const char *rf_version(void);

/* ---------------------------------------------------------------- model */

typedef struct rf_model rf_model;

typedef enum rf_device_kind {
    RF_DEVICE_AUTO = 0,   /* GPU when one is present and built in, else CPU */
    RF_DEVICE_CPU,
    RF_DEVICE_GPU,
} rf_device_kind;

typedef struct rf_model_params {
    bool vocab_only;      /* load tokenizer + metadata only (no weights) */
    rf_device_kind device_kind;
    int device_index;     /* --device N */
    int n_gpu_layers;     /* -ngl; -1 = all */
    int n_threads;        /* CPU threads; 0 = number of cores */
    bool progress;        /* print a progress bar on stderr while loading */
    bool verbose;         /* print the memory plan */
} rf_model_params;

rf_model_params rf_model_default_params(void);
rf_status rf_model_load(const char *path, const rf_model_params *params,
                        rf_model **out, rf_error *err);
void rf_model_free(rf_model *m);

/* Facts about a loaded model (all valid after a successful load). */
typedef struct rf_model_info {
    const char *arch;         /* general.architecture */
    const char *name;         /* general.name or "" */
    int n_vocab;
    int n_ctx_train;
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    uint64_t n_params;
    const char *backend;      /* "cpu", "cuda", "hip" */
} rf_model_info;
void rf_model_get_info(const rf_model *m, rf_model_info *out);

/* ----------------------------------------------------------- tokenizer */

/* Special token ids from metadata; -1 when absent. */
int32_t rf_token_bos(const rf_model *m);
int32_t rf_token_eos(const rf_model *m);
int32_t rf_token_eot(const rf_model *m);
/* True for every end-of-generation token (EOS, EOT, EOM and the like). */
bool rf_token_is_eog(const rf_model *m, int32_t tok);

/* Tokenize `len` bytes of `text`. add_special: add BOS/EOS as the metadata
 * says. parse_special: recognise control/special token texts in `text`.
 * Returns the number of tokens written; if n_max is too small returns the
 * negated required count. */
int rf_tokenize(const rf_model *m, const char *text, size_t len,
                int32_t *out, int n_max, bool add_special, bool parse_special);

/* Bytes of one token's piece (raw bytes, may be a partial UTF-8 sequence).
 * `special`: render control tokens' text (else they render as empty).
 * Returns bytes written, or the negated required size. */
int rf_token_to_piece(const rf_model *m, int32_t tok, char *buf, int n_buf,
                      bool special);

/* Incremental detokenizer for streaming: feeds tokens, emits only complete
 * UTF-8 characters (never half a character). */
typedef struct rf_detok rf_detok;
rf_detok *rf_detok_create(const rf_model *m, bool special);
/* Appends the text that became complete with `tok` to buf; returns bytes
 * written (or negated needed size). `first` handling (leading-space removal
 * for SPM) follows the model's metadata. */
int rf_detok_push(rf_detok *d, int32_t tok, char *buf, int n_buf);
/* Flushes any held bytes (invalid trailing bytes become U+FFFD). */
int rf_detok_flush(rf_detok *d, char *buf, int n_buf);
void rf_detok_reset(rf_detok *d);
void rf_detok_free(rf_detok *d);

/* -------------------------------------------------------- chat template */

/* The model's tokenizer.chat_template, or NULL. */
const char *rf_model_chat_template(const rf_model *m);

/* Renders a chat template. messages_json: a JSON array of OpenAI-style
 * messages; tools_json: JSON array or NULL. On success *out is a malloc'd
 * string the caller frees. tmpl == NULL uses the model's template (or the
 * documented fallback when the model has none). */
rf_status rf_chat_apply(const rf_model *m, const char *tmpl,
                        const char *messages_json, const char *tools_json,
                        bool add_generation_prompt, char **out, rf_error *err);

/* -------------------------------------------------------------- context */

typedef struct rf_ctx rf_ctx;

/* K/V cache element type (rf_ctx_params.kv_type) */
typedef enum rf_kv_type {
    RF_KV_AUTO = 0, /* the backend's: F16 on a GPU, F32 on the CPU (rf_ctx_params) */
    RF_KV_F16,
    RF_KV_F32,
} rf_kv_type;

typedef struct rf_ctx_params {
    int n_ctx;            /* total KV capacity in tokens over all sequences; 0 = model's train ctx (capped) */
    int n_seq_max;        /* most sequences alive at once */
    int n_batch;          /* most tokens in one rf_decode call */
    int n_threads;        /* 0 or the model's rf_model_params.n_threads (the CPU
                             thread pool is the model's; another count is an error) */
    int kv_block_size;    /* tokens per KV block; 0 = default (16) */
    bool embeddings;      /* keep final hidden states for rf_get_embeddings */
    bool deterministic;   /* batch invariance (default): a token's result depends
                             only on its own sequence and its role (rf_batch),
                             never on what else shares its batch. false: a
                             backend may choose numerics by batch size (the
                             GPU: batches of 12+ tokens on the matrix units) */
    rf_kv_type kv_type;   /* the K/V cache's type. RF_KV_AUTO (default): F16 on a
                             GPU, as llama.cpp's (half the memory and the
                             long-context reads, ~3e-4 relative logit error),
                             F32 on the CPU (its attention over F16 keys ran
                             prompts ~30% slower); rf_ctx_kv_type says which */
} rf_ctx_params;

rf_ctx_params rf_ctx_default_params(void);
rf_status rf_ctx_create(rf_model *m, const rf_ctx_params *params,
                        rf_ctx **out, rf_error *err);
void rf_ctx_free(rf_ctx *c);
/* The K/V cache's type: RF_KV_F16 or RF_KV_F32 (never AUTO). */
rf_kv_type rf_ctx_kv_type(const rf_ctx *c);

/* Sequences own KV blocks through a block table. */
rf_status rf_seq_open(rf_ctx *c, int *seq_id, rf_error *err);
void rf_seq_close(rf_ctx *c, int seq_id);            /* frees its blocks */
int rf_seq_len(const rf_ctx *c, int seq_id);         /* tokens in its KV */
/* Drop KV positions >= pos (rewind). */
void rf_seq_truncate(rf_ctx *c, int seq_id, int pos);
/* Make dst share src's first n_tokens of KV (prefix caching; whole blocks are
 * shared by reference count, a partial tail block is copied). */
rf_status rf_seq_fork(rf_ctx *c, int src_seq, int dst_seq, int n_tokens,
                      rf_error *err);
/* KV blocks in use / total, for metrics and leak checks. */
void rf_ctx_kv_usage(const rf_ctx *c, int *blocks_used, int *blocks_total);
/* Whether this context gives prompt and generated tokens different numerics
 * (token roles, rf_batch: a GPU context that is deterministic). Then the KV
 * of tokens fed as generated steps is not the KV the same tokens would get
 * in a prompt, so a prefix cache that must not change results reuses only
 * KV that prompt batches made. */
bool rf_ctx_role_numerics(const rf_ctx *c);

/* A batch: n_tokens entries; entry i appends token[i] to sequence seq[i] at
 * that sequence's next position. Entries of one sequence must be in order.
 * want_logits[i] != 0 asks for logits of entry i (NULL: only the last entry
 * of each sequence).
 * Token roles: a sequence with two or more entries in a batch is reading a
 * prompt; one with a single entry takes a generated step. A backend may give
 * the roles their own numerics (the GPU reads prompts on its matrix units,
 * with F16 operands, and runs steps on its decode kernels), so feeding a
 * prompt token by token gives other bits than feeding it in chunks of two
 * or more, which all give the same bits however they are cut. */
typedef struct rf_batch {
    int n_tokens;
    const int32_t *token;
    const int32_t *seq;
    const uint8_t *want_logits;
} rf_batch;

/* A GPU context queues the batch and returns while it may still run there;
 * rf_get_logits, rf_get_embeddings and rf_sample wait for it, and
 * rf_synchronize waits explicitly (timing), reporting a failure of the
 * device's work. */
rf_status rf_decode(rf_ctx *c, const rf_batch *b, rf_error *err);
rf_status rf_synchronize(rf_ctx *c, rf_error *err);
/* Logits of the i-th entry of the last batch that asked for them (NULL if it
 * did not). n_vocab floats. */
const float *rf_get_logits(rf_ctx *c, int i);
/* Mean-pooled, L2-normalised final hidden state of the tokens of the last
 * batch belonging to seq (needs params.embeddings). n_embd floats. */
const float *rf_get_embeddings(rf_ctx *c, int seq_id);

/* -------------------------------------------------------------- sampler */

typedef struct rf_logit_bias { int32_t token; float bias; } rf_logit_bias;

typedef struct rf_sampler_params {
    float temperature;        /* <= 0: greedy */
    int top_k;                /* <= 0: off */
    float top_p;              /* 1: off */
    float min_p;              /* 0: off */
    float typical_p;          /* 1: off */
    float repeat_penalty;     /* 1: off */
    int repeat_last_n;        /* window for the penalties; -1 = whole context */
    float presence_penalty;   /* 0: off */
    float frequency_penalty;  /* 0: off */
    uint64_t seed;
    int n_logit_bias;
    const rf_logit_bias *logit_bias;  /* copied at creation */
} rf_sampler_params;

typedef struct rf_sampler rf_sampler;
rf_sampler_params rf_sampler_default_params(void);
/* Validates the parameters (clear error for out-of-range values). */
rf_status rf_sampler_create(const rf_model *m, const rf_sampler_params *p,
                            rf_sampler **out, rf_error *err);
int32_t rf_sampler_sample(rf_sampler *s, const float *logits);
/* The next token for entry i of the last rf_decode batch (i as in
 * rf_get_logits), through the sampler's chain: the same token
 * rf_sampler_sample(s, rf_get_logits(c, i)) gives. Where the context's
 * backend can (a GPU, a greedy chain with its penalties and biases), the
 * pick runs on the device and only the id is copied back. -1 on error. */
int32_t rf_sample(rf_sampler *s, rf_ctx *c, int i);
/* Record a token of the context (prompt or generated) for the penalties. */
void rf_sampler_accept(rf_sampler *s, int32_t tok);
void rf_sampler_reset(rf_sampler *s);
void rf_sampler_free(rf_sampler *s);

/* Stop strings for streamed output. The caller keeps all text generated so
 * far; after each new piece it scans the tail. Returns the byte offset where
 * the first stop string starts (output ends there; -1: none yet) and sets
 * *n_safe to the bytes that can be sent now (text that could still begin a
 * stop string is held back). `from` is the previous call's *n_safe (0 at
 * first), so each scan looks only at new text. Allocates nothing. */
typedef struct rf_stop_set rf_stop_set;
rf_status rf_stop_set_create(const char *const *stops, int n_stops,
                             rf_stop_set **out, rf_error *err);
long rf_stop_set_scan(const rf_stop_set *s, const char *text, size_t len,
                      size_t from, size_t *n_safe);
void rf_stop_set_free(rf_stop_set *s);

#ifdef __cplusplus
}
#endif
#endif
