/* gpu.h — the GPU backend as seen from C: devices, device memory, one stream
 * per context, kernel launches and decode-step graphs.
 *
 * Implemented once in HIP-portable CUDA C (gpu_*.cu, see vendor.h) and built
 * for NVIDIA (nvcc) or AMD (hipcc); when rocmforge is built without a GPU,
 * gpu_none.c implements the same functions as "no device" so callers need no
 * #ifdef. All pointers named d_* are device pointers. Launch functions are
 * asynchronous on the context's stream; errors in arguments are reported at
 * once, errors of the kernels themselves at the next rf_gpu_sync.
 *
 * Conventions shared with the CPU backend: activations are F32, row-major,
 * one row per token; weights stay in their GGUF type, row r of a matrix at
 * w + r * row_stride bytes.
 */
#ifndef RF_GPU_H
#define RF_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* the project's C headers have no C++ guards of their own */
#endif

#include "backend/backend.h"
#include "gguf/gguf.h"
#include "rocmforge.h"

/* ------------------------------------------------------------- devices */

typedef struct rf_gpu_device_info {
    int index;
    char name[256];
    char arch[64];          /* "sm_90", "gfx90a" */
    int warp;               /* threads per warp / wavefront */
    int n_sm;               /* multiprocessors / compute units */
    size_t mem_total;       /* bytes */
    size_t mem_free;        /* bytes, at the time of the query */
} rf_gpu_device_info;

/* "cuda", "hip", or "none" when built without a GPU backend. */
const char *rf_gpu_vendor(void);
/* Number of usable devices (0 when none, or when the runtime finds none). */
int rf_gpu_device_count(void);
rf_status rf_gpu_device_get(int index, rf_gpu_device_info *out, rf_error *err);

/* ------------------------------------------------------------- context */

typedef struct rf_gpu rf_gpu;

rf_status rf_gpu_open(int device, rf_gpu **out, rf_error *err);
void rf_gpu_close(rf_gpu *g);
const rf_gpu_device_info *rf_gpu_info(const rf_gpu *g);

/* Device memory. `what` names the buffer in the error message, which says
 * how much was asked for and how much the device has free. */
rf_status rf_gpu_alloc(rf_gpu *g, size_t n, void **d_out, const char *what, rf_error *err);
void rf_gpu_free(rf_gpu *g, void *d);
/* Synchronous copies (load time, tests). */
rf_status rf_gpu_upload(rf_gpu *g, void *d_dst, const void *src, size_t n, rf_error *err);
/* Weights live on the device in a layout of their own: GGUF rows, except
 * that Q6_K's 210-byte blocks sit in 224-byte slots (16-byte aligned, so its
 * products load 16 bytes at a time). rf_gpu_row_bytes is a row's size
 * there; every matmul / get_rows call takes that as its row stride, for
 * weights put there by rf_gpu_upload_rows (host rows src_stride apart). */
size_t rf_gpu_row_bytes(rf_type t, int64_t n_cols);
rf_status rf_gpu_upload_rows(rf_gpu *g, void *d_dst, const void *src, rf_type t, int64_t n_rows, int64_t n_cols,
                             size_t src_stride, rf_error *err);
rf_status rf_gpu_download(rf_gpu *g, void *dst, const void *d_src, size_t n, rf_error *err);
/* Asynchronous copies on the context's stream; host memory should be pinned
 * (rf_gpu_host_alloc) for them to overlap and to be graph-capturable. */
rf_status rf_gpu_upload_async(rf_gpu *g, void *d_dst, const void *src, size_t n, rf_error *err);
rf_status rf_gpu_download_async(rf_gpu *g, void *dst, const void *d_src, size_t n, rf_error *err);
rf_status rf_gpu_copy_async(rf_gpu *g, void *d_dst, const void *d_src, size_t n, rf_error *err);
rf_status rf_gpu_fill_f32(rf_gpu *g, float *d, size_t n, float v, rf_error *err);
rf_status rf_gpu_host_alloc(rf_gpu *g, size_t n, void **out, rf_error *err);
void rf_gpu_host_free(rf_gpu *g, void *p);
/* An upload whose host buffer may be reused when it returns, without
 * waiting for the copy (pageable memory: CUDA stages it first; HIP waits). */
rf_status rf_gpu_upload_staged(rf_gpu *g, void *d_dst, const void *src, size_t n, rf_error *err);
/* Waits for the stream; reports any kernel failure. */
rf_status rf_gpu_sync(rf_gpu *g, rf_error *err);

/* Graphs: everything launched between begin and end is recorded (not run);
 * rf_gpu_graph_replay runs the recording. Kernels read every per-step value
 * (positions, lengths, block tables, token ids) from device buffers, so one
 * recording serves every step whose buffers are refreshed before replay. */
rf_status rf_gpu_graph_begin(rf_gpu *g, rf_error *err);
rf_status rf_gpu_graph_end(rf_gpu *g, rf_error *err);
rf_status rf_gpu_graph_replay(rf_gpu *g, rf_error *err);
/* The same on the stream of another context of the device (in its order). */
rf_status rf_gpu_graph_replay_on(rf_gpu *g, rf_gpu *on, rf_error *err);
bool rf_gpu_graph_ready(const rf_gpu *g);
void rf_gpu_graph_reset(rf_gpu *g);

/* Elapsed device time in ms of `fn(arg)` launches, timed with events. */
rf_status rf_gpu_time_ms(rf_gpu *g, void (*fn)(void *arg), void *arg, float *ms, rf_error *err);

/* ------------------------------------------------------------- kernels */

/* Scratch for the integer decode products: activations of up to n_elems
 * (n_tok * n_cols) rounded to 8 bits per 32 elements. Without it (or with
 * RF_GPU_DP4A=0) the decode products stay in F32. Also holds their F16
 * form for the prompt GEMM (two more bytes per element). Call at load time. A
 * context can use another's scratch when they share a stream order. */
rf_status rf_gpu_reserve_q8(rf_gpu *g, size_t n_elems, rf_error *err);
void rf_gpu_share_q8(rf_gpu *dst, const rf_gpu *src);

/* Let rf_gpu_matmul use the matrix units for batches of 12+ tokens (off by
 * default: see rf_gpu_matmul; RF_GPU_MMA=1 turns them on everywhere). */
void rf_gpu_set_mma(rf_gpu *g, bool on);

/* Which numerics the following products and attentions take, by the role of
 * their tokens rather than by their count (batch-invariant contexts):
 *   RF_GPU_PATH_PROMPT: the matrix units for any number of tokens (F16
 *     operands; a token's result does not depend on the others in its batch:
 *     the GEMM sums each output over k in one order, the attention walks keys
 *     in tiles at fixed positions);
 *   RF_GPU_PATH_STEP: the decode paths (the integer tiles and the one-token
 *     products, equal bit for bit);
 *   RF_GPU_PATH_AUTO (the default): by count, as rf_gpu_set_mma says. */
enum { RF_GPU_PATH_AUTO = 0, RF_GPU_PATH_PROMPT = 1, RF_GPU_PATH_STEP = 2 };
void rf_gpu_set_path(rf_gpu *g, int path);

/* How many integer tiles have been launched (tests: the path ran). */
uint64_t rf_gpu_int_tile_launches(const rf_gpu *g);
/* Of those, the lane-group tiles' (the others serve where those are refused). */
uint64_t rf_gpu_lg_tile_launches(const rf_gpu *g);
/* Decode-kernel launches of a Q4_K ... Q6_K weight set (rf_gpu_matmul_multi). */
uint64_t rf_gpu_mixed_launches(const rf_gpu *g);

/* Room for n_elems weights decoded to F16: prompts on the matrix units
 * (rf_gpu_set_mma) decode each weight once, a block of rows at a time (as
 * many rows as fit), and multiply with a tiled F16 GEMM; without it (F16
 * weights excepted, read in place) they take the batch-invariant paths.
 * Shared with rf_gpu_share_q8. Call at load time. */
rf_status rf_gpu_reserve_wh(rf_gpu *g, size_t n_elems, rf_error *err);
/* what a backend reserves at most: 64 Mi weights (128 MiB) */
#define RF_GPU_WH_MAX ((int64_t)1 << 26)
/* How many F16 GEMM launches have run (tests: the path ran). */
uint64_t rf_gpu_gemm_launches(const rf_gpu *g);
/* How many prompt attentions ran on the matrix units (tests: the path ran). */
uint64_t rf_gpu_fa_launches(const rf_gpu *g);
/* Room for the split attention of generated tokens (gpu_attn.cu), for
 * n_rows rows of n_head heads of up to head_dim (rf_attn_split_bytes). Rows
 * beyond it, and prompt rows, take the one-pass kernels. Call at load time. */
rf_status rf_gpu_reserve_attn(rf_gpu *g, int n_rows, int n_head, int head_dim, rf_error *err);
/* How many split attentions have been launched (tests: the path ran). */
uint64_t rf_gpu_att_split_launches(const rf_gpu *g);

/* Whether matmul / get_rows accept weights of type t. */
bool rf_gpu_type_supported(rf_type t);

/* y[t*n_rows + r] = dot(W row r, x[t*n_cols ...]) for t < n_tok.
 * Few tokens: one pass over W per call, activations reused from cache.
 * 16+ tokens of Q4_0, Q8_0, Q4_K, Q6_K, IQ4_NL, IQ4_XS: integer tiles on
 * the matrix units that give exactly the few-token path's bits (batch
 * invariant). Many tokens, when allowed (rf_gpu_set_mma): each weight
 * decoded to F16 once (rf_gpu_reserve_wh) and multiplied by a tiled GEMM on
 * the matrix units (F32 accumulation). n_cols must be a multiple of the type's block size
 * (any n_cols for F32/F16/BF16). */
rf_status rf_gpu_matmul(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows,
                        int64_t n_cols, size_t row_stride, const float *d_x, int64_t n_tok,
                        float *d_y, rf_error *err);
/* The paths by name, for tests and benchmarks. _vec uses the integer
 * (DP4A) products for Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL and IQ4_XS when the scratch is
 * reserved (from 16 tokens the integer tiles, same bits): activations rounded to 8 bits per 32 elements as llama.cpp's
 * decode kernels do (~4e-3 relative error on random data); _vec_f32 never. */
rf_status rf_gpu_matmul_vec_f32(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows,
                                int64_t n_cols, size_t row_stride, const float *d_x, int64_t n_tok,
                                float *d_y, rf_error *err);
rf_status rf_gpu_matmul_vec(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows,
                            int64_t n_cols, size_t row_stride, const float *d_x, int64_t n_tok,
                            float *d_y, rf_error *err);
rf_status rf_gpu_matmul_mma(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows,
                            int64_t n_cols, size_t row_stride, const float *d_x, int64_t n_tok,
                            float *d_y, rf_error *err);

/* One weight of a set multiplied with a shared input. */
typedef struct rf_gpu_mat {
    rf_type type;
    const void *d;
    int64_t n_rows, n_cols;
    size_t row_stride;
} rf_gpu_mat;
/* y[m] = x . w[m]^T for m < n_w (same x, n_tok rows). Weights of one type
 * and width take one launch on the integer decode path; each output equals
 * what rf_gpu_matmul gives for its weight alone. Otherwise one call each. */
rf_status rf_gpu_matmul_multi(rf_gpu *g, int n_w, const rf_gpu_mat *w, const float *d_x, int64_t n_tok,
                              float *const *d_y, rf_error *err);

/* out[i*n_cols ...] = row ids[i] of W (n_rows rows), dequantized, times
 * scale (embedding lookup). Ids out of range give NaN rows. */
rf_status rf_gpu_get_rows(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows, int64_t n_cols,
                          size_t row_stride, const int32_t *d_ids, int64_t n, float scale, float *d_out,
                          rf_error *err);

/* y = x / rms(x) * w (w may be NULL), over rows of n; y may alias x. */
rf_status rf_gpu_rmsnorm(rf_gpu *g, const float *d_x, const float *d_w, float *d_y,
                         int64_t n_rows, int64_t n, float eps, rf_error *err);

/* x (n_rows, n) += y; out = x / rms(x) * w: the residual add and the next
 * norm in one pass, equal to rf_gpu_add then rf_gpu_rmsnorm. out may
 * alias y. */
rf_status rf_gpu_add_rmsnorm(rf_gpu *g, float *d_x, const float *d_y, const float *d_w, float *d_out,
                             int64_t n_rows, int64_t n, float eps, rf_error *err);

/* RoPE of q (n_tok, n_head_q, head_dim) and k (n_tok, n_head_k, head_dim)
 * with the same positions and parameters in one launch; equal to two
 * rf_gpu_rope calls. */
rf_status rf_gpu_rope2(rf_gpu *g, float *d_q, int n_head_q, float *d_k, int n_head_k, int64_t n_tok, int head_dim,
                       const int32_t *d_pos, const rf_rope_params *p, rf_error *err);
/* rope2, and k's rotated rows written to their slots of a KV cache with v
 * (kv_write of the same step) in the same launch: equal, bit for bit, to
 * rope2 then rf_gpu_kv_write_typed. */
rf_status rf_gpu_rope2_kv(rf_gpu *g, float *d_q, int n_head_q, float *d_k, int n_head_k, int64_t n_tok, int head_dim,
                          const int32_t *d_pos, const rf_rope_params *p, void *d_k_pool, void *d_v_pool,
                          const float *d_v, const int32_t *d_slots, rf_type kv_type, rf_error *err);

/* In place on x: (n_tok, n_head, head_dim) contiguous; position of token t
 * is d_pos[t]. Parameters as ggml's (YaRN, freq factors). */
rf_status rf_gpu_rope(rf_gpu *g, float *d_x, int64_t n_tok, int n_head, int head_dim,
                      const int32_t *d_pos, const rf_rope_params *p, rf_error *err);

/* out (n_tok, n) = act(gate) * up, gate/up rows `stride` floats apart. */
rf_status rf_gpu_glu(rf_gpu *g, rf_act act, const float *d_gate, const float *d_up, int64_t n_tok,
                     int64_t n, int64_t stride, float *d_out, rf_error *err);
/* y = a + b (n elements); y may alias a or b. */
rf_status rf_gpu_add(rf_gpu *g, const float *d_a, const float *d_b, float *d_y, int64_t n,
                     rf_error *err);
/* x (n_tok, n) += b (n) per row. */
rf_status rf_gpu_add_bias(rf_gpu *g, float *d_x, const float *d_b, int64_t n_tok, int64_t n,
                          rf_error *err);
/* x = cap * tanh(x / cap). */
rf_status rf_gpu_softcap(rf_gpu *g, float *d_x, int64_t n, float cap, rf_error *err);
/* out (n_rows, n) = rows idx[i] of x (row stride n). */
rf_status rf_gpu_gather(rf_gpu *g, const float *d_x, const int32_t *d_idx, int64_t n_rows,
                        int64_t n, float *d_out, rf_error *err);

/* Paged KV cache (backend.h): per layer k/v pools (n_blocks, block_size,
 * n_head_kv, head_dim) in F16 (or F32, kv_write_typed). kv_write stores k, v (n_tok, kv_dim) at
 * slots d_slots (n_tok) = block_id * block_size + offset. */
rf_status rf_gpu_kv_write(rf_gpu *g, void *d_k_pool, void *d_v_pool, const float *d_k,
                          const float *d_v, const int32_t *d_slots, int64_t n_tok, int kv_dim,
                          rf_error *err);
/* The same for pools of kv_type F16 (rounded to nearest even) or F32;
 * attention reads the pools in p->kv_type. */
rf_status rf_gpu_kv_write_typed(rf_gpu *g, void *d_k_pool, void *d_v_pool, const float *d_k,
                                const float *d_v, const int32_t *d_slots, int64_t n_tok, int kv_dim,
                                rf_type kv_type, rf_error *err);
/* out (n_tok, n_head*head_dim): causal attention of q (n_tok, n_head,
 * head_dim) over the blocks d_btab[d_seq_row[t]*max_blocks + j], keys at
 * positions [0, d_pos[t]] (and > pos - window when windowed), GQA by
 * n_head / n_head_kv, optional soft-capping of the scores. One pass over
 * the keys with an online softmax (FlashAttention style); keys are split
 * over warps and merged, so long contexts use the whole block. */
rf_status rf_gpu_attention(rf_gpu *g, const float *d_q, const void *d_k_pool, const void *d_v_pool,
                           const int32_t *d_btab, const int32_t *d_seq_row, const int32_t *d_pos,
                           int64_t n_tok, const rf_attn_params *p, float *d_out, rf_error *err);

/* Sampling on the device: one row of logits per sequence, the chosen id
 * written to d_out[i]. */
typedef struct rf_gpu_sample_params {
    float temperature;      /* <= 0: greedy (argmax, lowest id on ties) */
    int top_k;              /* <= 0: off (capped at RF_GPU_SAMPLE_MAX_K) */
    float top_p;            /* 1: off */
    float min_p;            /* 0: off */
    float repeat_penalty;   /* 1: off */
    float presence_penalty, frequency_penalty;
} rf_gpu_sample_params;
#define RF_GPU_SAMPLE_MAX_K 1024
/* d_hist: (n_rows, hist_cap) recent tokens for the penalties (-1 = empty);
 * may be NULL when no penalty is on. d_uniform: one uniform [0,1) draw per
 * row (drawn on the host from the sampler's seeded generator). */
rf_status rf_gpu_sample(rf_gpu *g, const float *d_logits, int64_t n_rows, int64_t n_vocab,
                        const rf_gpu_sample_params *p, const int32_t *d_hist, int hist_cap,
                        const float *d_uniform, int32_t *d_out, rf_error *err);

/* Greedy pick of one row (backend.h's rf_greedy_adj applied first, as the
 * host sampler applies it) into *h_id; d_logits is not modified (the row is
 * adjusted in a scratch copy). Needs rf_gpu_reserve_sample. */
rf_status rf_gpu_greedy(rf_gpu *g, const float *d_logits, int64_t n_vocab, const rf_greedy_adj *adj, int32_t *h_id,
                        rf_error *err);
/* Scratch for rf_gpu_greedy: a row of n_vocab and up to n_adj adjustment
 * entries (penalties + biases). Call at load time. */
rf_status rf_gpu_reserve_sample(rf_gpu *g, int64_t n_vocab, int n_adj, rf_error *err);

/* ------------------------------------------------------------- backend */

/* The rf_backend_ops of device `device` (backend.h): weights in a device
 * arena, every op on the GPU, decode steps recorded as graphs and replayed.
 * RF_GPU_GRAPHS=0 in the environment turns graphs off (eager launches). */
rf_status rf_backend_gpu_create(int device, rf_backend *out, rf_error *err);

/* The backend a model load should use: the GPU p->device_index when the
 * parameters ask for the GPU, or for AUTO when a GPU is present and
 * p->n_gpu_layers != 0 (-ngl 0 keeps the CPU); else the CPU backend with
 * n_threads. A GPU asked for but absent is an error naming why. Partial
 * offload is not implemented: any non-zero -ngl runs every layer on the
 * GPU. */
rf_status rf_backend_select(const rf_model_params *p, int n_threads, rf_backend *out, rf_error *err);

#ifdef __cplusplus
}
#endif
#endif
