/* gpu_none.c — the GPU API of a build without a GPU backend (RF_GPU=off or
 * no toolkit found): no devices, and every call that needs one fails with a
 * message saying how to get one. Keeps callers free of #ifdefs. */
#include "gpu.h"

#include "base/base.h"

#define RF_GPU_NONE_MSG "this rocmforge was built without a GPU backend (configure with -DRF_GPU=cuda or -DRF_GPU=hip)"

const char *rf_gpu_vendor(void) { return "none"; }
int rf_gpu_device_count(void) { return 0; }

rf_status rf_gpu_device_get(int index, rf_gpu_device_info *out, rf_error *err)
{
    (void)index; (void)out;
    return rf_err(err, RF_ERR_UNSUPPORTED, RF_GPU_NONE_MSG);
}

rf_status rf_gpu_open(int device, rf_gpu **out, rf_error *err)
{
    (void)device;
    *out = NULL;
    return rf_err(err, RF_ERR_UNSUPPORTED, RF_GPU_NONE_MSG);
}

void rf_gpu_close(rf_gpu *g) { (void)g; }
const rf_gpu_device_info *rf_gpu_info(const rf_gpu *g) { (void)g; return NULL; }

#define NONE(...) { return rf_err(err, RF_ERR_UNSUPPORTED, RF_GPU_NONE_MSG); }
rf_status rf_gpu_alloc(rf_gpu *g, size_t n, void **d_out, const char *what, rf_error *err) NONE()
void rf_gpu_free(rf_gpu *g, void *d) { (void)g; (void)d; }
rf_status rf_gpu_upload(rf_gpu *g, void *d_dst, const void *src, size_t n, rf_error *err) NONE()
rf_status rf_gpu_upload_staged(rf_gpu *g, void *d_dst, const void *src, size_t n, rf_error *err) NONE()
rf_status rf_gpu_download(rf_gpu *g, void *dst, const void *d_src, size_t n, rf_error *err) NONE()
rf_status rf_gpu_upload_async(rf_gpu *g, void *d_dst, const void *src, size_t n, rf_error *err) NONE()
rf_status rf_gpu_download_async(rf_gpu *g, void *dst, const void *d_src, size_t n, rf_error *err) NONE()
rf_status rf_gpu_copy_async(rf_gpu *g, void *d_dst, const void *d_src, size_t n, rf_error *err) NONE()
rf_status rf_gpu_fill_f32(rf_gpu *g, float *d, size_t n, float v, rf_error *err) NONE()
rf_status rf_gpu_host_alloc(rf_gpu *g, size_t n, void **out, rf_error *err) NONE()
void rf_gpu_host_free(rf_gpu *g, void *p) { (void)g; (void)p; }
rf_status rf_gpu_sync(rf_gpu *g, rf_error *err) NONE()
rf_status rf_gpu_graph_begin(rf_gpu *g, rf_error *err) NONE()
rf_status rf_gpu_graph_end(rf_gpu *g, rf_error *err) NONE()
rf_status rf_gpu_graph_replay(rf_gpu *g, rf_error *err) NONE()
rf_status rf_gpu_graph_replay_on(rf_gpu *g, rf_gpu *on, rf_error *err) { (void)g; (void)on; return rf_err(err, RF_ERR_UNSUPPORTED, "built without a GPU backend"); }
bool rf_gpu_graph_ready(const rf_gpu *g) { (void)g; return false; }
void rf_gpu_graph_reset(rf_gpu *g) { (void)g; }
rf_status rf_gpu_time_ms(rf_gpu *g, void (*fn)(void *arg), void *arg, float *ms, rf_error *err) NONE()
rf_status rf_gpu_reserve_q8(rf_gpu *g, size_t n_elems, rf_error *err) NONE()
void rf_gpu_share_q8(rf_gpu *dst, const rf_gpu *src) { (void)dst; (void)src; }
rf_status rf_gpu_matmul_vec_f32(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows, int64_t n_cols,
                                size_t row_stride, const float *d_x, int64_t n_tok, float *d_y, rf_error *err) NONE()
void rf_gpu_set_mma(rf_gpu *g, bool on) { (void)g; (void)on; }
void rf_gpu_set_path(rf_gpu *g, int path) { (void)g; (void)path; }
bool rf_gpu_type_supported(rf_type t) { (void)t; return false; }
uint64_t rf_gpu_int_tile_launches(const rf_gpu *g) { (void)g; return 0; }
uint64_t rf_gpu_lg_tile_launches(const rf_gpu *g) { (void)g; return 0; }
uint64_t rf_gpu_mixed_launches(const rf_gpu *g) { (void)g; return 0; }
rf_status rf_gpu_reserve_wh(rf_gpu *g, size_t n_elems, rf_error *err) NONE()
uint64_t rf_gpu_gemm_launches(const rf_gpu *g) { (void)g; return 0; }
size_t rf_gpu_row_bytes(rf_type t, int64_t n_cols) { return rf_type_row_bytes(t, (uint64_t)n_cols); }
rf_status rf_gpu_upload_rows(rf_gpu *g, void *d_dst, const void *src, rf_type t, int64_t n_rows, int64_t n_cols,
                             size_t src_stride, rf_error *err) NONE()
uint64_t rf_gpu_fa_launches(const rf_gpu *g) { (void)g; return 0; }
rf_status rf_gpu_reserve_attn(rf_gpu *g, int n_rows, int n_head, int head_dim, rf_error *err) NONE()
uint64_t rf_gpu_att_split_launches(const rf_gpu *g) { (void)g; return 0; }
rf_status rf_gpu_matmul(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows, int64_t n_cols,
                        size_t row_stride, const float *d_x, int64_t n_tok, float *d_y, rf_error *err) NONE()
rf_status rf_gpu_matmul_vec(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows, int64_t n_cols,
                            size_t row_stride, const float *d_x, int64_t n_tok, float *d_y, rf_error *err) NONE()
rf_status rf_gpu_matmul_mma(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows, int64_t n_cols,
                            size_t row_stride, const float *d_x, int64_t n_tok, float *d_y, rf_error *err) NONE()
rf_status rf_gpu_get_rows(rf_gpu *g, rf_type wtype, const void *d_w, int64_t n_rows, int64_t n_cols,
                          size_t row_stride, const int32_t *d_ids, int64_t n, float scale, float *d_out,
                          rf_error *err) NONE()
rf_status rf_gpu_rmsnorm(rf_gpu *g, const float *d_x, const float *d_w, float *d_y, int64_t n_rows, int64_t n,
                         float eps, rf_error *err) NONE()
rf_status rf_gpu_rope(rf_gpu *g, float *d_x, int64_t n_tok, int n_head, int head_dim, const int32_t *d_pos,
                      const rf_rope_params *p, rf_error *err) NONE()
rf_status rf_gpu_matmul_multi(rf_gpu *g, int n_w, const rf_gpu_mat *w, const float *d_x, int64_t n_tok,
                              float *const *d_y, rf_error *err) NONE()
rf_status rf_gpu_add_rmsnorm(rf_gpu *g, float *d_x, const float *d_y, const float *d_w, float *d_out,
                             int64_t n_rows, int64_t n, float eps, rf_error *err) NONE()
rf_status rf_gpu_rope2(rf_gpu *g, float *d_q, int n_head_q, float *d_k, int n_head_k, int64_t n_tok, int head_dim,
                       const int32_t *d_pos, const rf_rope_params *p, rf_error *err) NONE()
rf_status rf_gpu_rope2_kv(rf_gpu *g, float *d_q, int n_head_q, float *d_k, int n_head_k, int64_t n_tok, int head_dim,
                          const int32_t *d_pos, const rf_rope_params *p, void *d_k_pool, void *d_v_pool,
                          const float *d_v, const int32_t *d_slots, rf_type kv_type, rf_error *err) NONE()
rf_status rf_gpu_greedy(rf_gpu *g, const float *d_logits, int64_t n_vocab, const rf_greedy_adj *adj, int32_t *h_id,
                        rf_error *err) NONE()
rf_status rf_gpu_reserve_sample(rf_gpu *g, int64_t n_vocab, int n_adj, rf_error *err) NONE()
rf_status rf_gpu_glu(rf_gpu *g, rf_act act, const float *d_gate, const float *d_up, int64_t n_tok, int64_t n,
                     int64_t stride, float *d_out, rf_error *err) NONE()
rf_status rf_gpu_add(rf_gpu *g, const float *d_a, const float *d_b, float *d_y, int64_t n, rf_error *err) NONE()
rf_status rf_gpu_add_bias(rf_gpu *g, float *d_x, const float *d_b, int64_t n_tok, int64_t n, rf_error *err) NONE()
rf_status rf_gpu_softcap(rf_gpu *g, float *d_x, int64_t n, float cap, rf_error *err) NONE()
rf_status rf_gpu_gather(rf_gpu *g, const float *d_x, const int32_t *d_idx, int64_t n_rows, int64_t n,
                        float *d_out, rf_error *err) NONE()
rf_status rf_gpu_kv_write(rf_gpu *g, void *d_k_pool, void *d_v_pool, const float *d_k, const float *d_v,
                          const int32_t *d_slots, int64_t n_tok, int kv_dim, rf_error *err) NONE()
rf_status rf_gpu_kv_write_typed(rf_gpu *g, void *d_k_pool, void *d_v_pool, const float *d_k, const float *d_v,
                                const int32_t *d_slots, int64_t n_tok, int kv_dim, rf_type kv_type, rf_error *err) NONE()
rf_status rf_gpu_attention(rf_gpu *g, const float *d_q, const void *d_k_pool, const void *d_v_pool,
                           const int32_t *d_btab, const int32_t *d_seq_row, const int32_t *d_pos, int64_t n_tok,
                           const rf_attn_params *p, float *d_out, rf_error *err) NONE()
rf_status rf_gpu_sample(rf_gpu *g, const float *d_logits, int64_t n_rows, int64_t n_vocab,
                        const rf_gpu_sample_params *p, const int32_t *d_hist, int hist_cap, const float *d_uniform,
                        int32_t *d_out, rf_error *err) NONE()
