/* cpu_kernels.h — CPU matrix products on weights kept in their GGUF type,
 * and the thread pool that runs them.
 *
 * Weights are row-major: row r of W (n_cols elements) starts at
 * w + r * row_stride bytes, in W's ggml block format. Activations are F32.
 * Where integer dot products are faster, x is first quantized (Q8_0 / Q8_K
 * per the weight type) into `scratch`, once per call, not per row.
 * The SIMD variant (scalar, AVX2, AVX-512, NEON) is picked once at start
 * by CPU features (rf_cpu_kernels_init); rf_cpu_kernels_force lets tests
 * compare each variant with the scalar reference.
 */
#ifndef RF_CPU_KERNELS_H
#define RF_CPU_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf/gguf.h"

/* ------------------------------------------------------------ thread pool */
typedef struct rf_threadpool rf_threadpool;
/* n_threads total workers including the caller. */
rf_threadpool *rf_threadpool_create(int n_threads, rf_error *err);
void rf_threadpool_free(rf_threadpool *p);
int rf_threadpool_size(const rf_threadpool *p);
/* Runs fn(arg, ith, nth) for ith in [0, nth) across the pool and waits.
 * p == NULL runs single-threaded on the caller. */
void rf_threadpool_run(rf_threadpool *p, void (*fn)(void *arg, int ith, int nth), void *arg);

/* --------------------------------------------------------------- kernels */
typedef enum rf_cpu_isa { RF_ISA_SCALAR = 0, RF_ISA_AVX2, RF_ISA_AVX512, RF_ISA_NEON, RF_ISA_AMX, RF_ISA_COUNT } rf_cpu_isa;

/* Detect features and pick the best variant; idempotent. Returns the ISA. */
rf_cpu_isa rf_cpu_kernels_init(void);
/* Force a variant (tests); false when the CPU lacks it. */
bool rf_cpu_kernels_force(rf_cpu_isa isa);
const char *rf_cpu_isa_name(rf_cpu_isa isa);

/* Whether matmul supports weights of type t. */
bool rf_cpu_matmul_supports(rf_type t);

/* Scratch bytes rf_cpu_matmul needs for n_tok activation rows of n_cols. */
size_t rf_cpu_matmul_scratch_size(rf_type wtype, int64_t n_cols, int64_t n_tok);

/* y[t * n_rows + r] = dot(W row r, x[t * n_cols ...]) for t < n_tok, r < n_rows.
 * Threads split rows (and tokens for large batches). scratch: at least
 * rf_cpu_matmul_scratch_size bytes, 64-byte aligned. The reduction order of
 * one output does not depend on n_tok or on the thread count. */
rf_status rf_cpu_matmul(rf_threadpool *pool, rf_type wtype, const void *w,
                        int64_t n_rows, int64_t n_cols, size_t row_stride,
                        const float *x, int64_t n_tok, float *y,
                        void *scratch, rf_error *err);

/* Q8_0 weights whose row count is not a multiple of 32. llama.cpp's AMX
 * backend (the CPU library it picks on AMX machines) takes Q8_0 products
 * only for row counts that fill its 32-row tiles and sums those per block,
 * as our packed kernels do; the others it leaves to ggml_vec_dot_q8_0_q8_0,
 * whose x86 float order (8 lane sums of 4 products per block, each fused
 * into its own running sum, then hsum_float_8) rf_cpu_matmul_q8_0_ggml
 * follows, with the same scalar code on every variant (such shapes are
 * rare: small models' odd FFN widths). Found by dumping both engines'
 * tensors where stories260K Q8_0 left llama.cpp's tokens. */
bool rf_cpu_q8_0_ggml_order(rf_type t, int64_t n_rows);
rf_status rf_cpu_matmul_q8_0_ggml(rf_threadpool *pool, const void *w, int64_t n_rows, int64_t n_cols,
                                  size_t row_stride, const float *x, int64_t n_tok, float *y, void *scratch,
                                  rf_error *err);

/* Load-time repacking (layouts in cpu_pack.c): rows interleaved in groups
 * of 16 so that SIMD lanes hold rows. rf_cpu_pack_size: bytes of the packed
 * copy of an (n_rows, n_cols) weight of type t, or 0 when the variant in use
 * has no packed kernel for t (use rf_cpu_matmul on the rows then). */
size_t rf_cpu_pack_size(rf_type t, int64_t n_rows, int64_t n_cols);
/* Writes the packed copy into dst (dst_size >= rf_cpu_pack_size bytes,
 * 64-byte aligned); row r of the source starts at w + r * row_stride. */
rf_status rf_cpu_pack(rf_type t, const void *w, int64_t n_rows, int64_t n_cols, size_t row_stride, void *dst,
                      size_t dst_size, rf_error *err);
/* rf_cpu_matmul on a packed weight; the same bits as rf_cpu_matmul on the
 * rows (scalar variant) and whatever n_tok or thread count. */
rf_status rf_cpu_matmul_packed(rf_threadpool *pool, rf_type wtype, const void *w, int64_t n_rows, int64_t n_cols,
                               const float *x, int64_t n_tok, float *y, void *scratch, rf_error *err);

/* n F16 values to F32 (exact; the KV cache rows in attention). */
void rf_cpu_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n);

/* One row of W to F32 (embedding lookups, tests). */
rf_status rf_cpu_dequantize_row(rf_type t, const void *row, float *out, int64_t n, rf_error *err);

#endif
