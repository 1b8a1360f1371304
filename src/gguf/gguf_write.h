/* gguf_write.h — builds GGUF v3 files: metadata key/values of every type
 * and tensors, written with llama.cpp's layout rules (tensor data aligned
 * to general.alignment, default 32, each tensor padded to the alignment).
 *
 * Tensors are streamed: a tensor is either a pointer to bytes that stay
 * valid until gguf_writer_write returns (e.g. an mmap'ed input), or a fill
 * callback that produces its bytes at write time into a buffer the writer
 * reuses, so quantizing an 8B model never holds it twice in memory.
 * The file is written to "<path>.tmp" and renamed into place on success.
 *
 * Usage:
 *   gguf_writer *w = gguf_writer_new(&err);
 *   gguf_writer_set_str(w, "general.architecture", "llama", &err);
 *   gguf_writer_add_tensor(w, "output_norm.weight", RF_TYPE_F32, 1, ne, data, nbytes, &err);
 *   gguf_writer_write(w, "out.gguf", &err);
 *   gguf_writer_free(w);
 * Setting a key that already exists replaces its value in place.
 */
#ifndef RF_GGUF_WRITE_H
#define RF_GGUF_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf/gguf.h"

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(rf_error *err);
void gguf_writer_free(gguf_writer *w);

/* ------------------------------------------------------------ metadata */
rf_status gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v, rf_error *err);
rf_status gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v, rf_error *err);
rf_status gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v, rf_error *err);
rf_status gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v, rf_error *err);
rf_status gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v, rf_error *err);
rf_status gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v, rf_error *err);
rf_status gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v, rf_error *err);
rf_status gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v, rf_error *err);
rf_status gguf_writer_set_f32(gguf_writer *w, const char *key, float v, rf_error *err);
rf_status gguf_writer_set_f64(gguf_writer *w, const char *key, double v, rf_error *err);
rf_status gguf_writer_set_bool(gguf_writer *w, const char *key, bool v, rf_error *err);
rf_status gguf_writer_set_str(gguf_writer *w, const char *key, const char *v, rf_error *err);
/* String with explicit length (may contain NUL bytes). */
rf_status gguf_writer_set_strn(gguf_writer *w, const char *key, const char *v, uint64_t len, rf_error *err);

/* Array of n fixed-size elements of type etype (not STRING/ARRAY), in
 * host (little-endian) layout. */
rf_status gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype etype, const void *data, uint64_t n,
                              rf_error *err);
rf_status gguf_writer_set_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n, rf_error *err);
rf_status gguf_writer_set_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n, rf_error *err);
/* Array of n NUL-terminated strings. */
rf_status gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n, rf_error *err);

/* Copy one parsed key/value (any type, nested arrays included; strings
 * re-encoded for v3 whatever the source version). */
rf_status gguf_writer_copy_value(gguf_writer *w, const gguf_file *f, const gguf_kv *kv, rf_error *err);
/* Copy every key/value of f except those named in `except` (NULL-terminated
 * list, may be NULL). */
rf_status gguf_writer_copy_kv(gguf_writer *w, const gguf_file *f, const char *const *except, rf_error *err);
/* Remove a key if present. */
void gguf_writer_remove(gguf_writer *w, const char *key);

/* ------------------------------------------------------------- tensors */
/* ne[0] is the contiguous dimension; n_dims in 1..4; nbytes must equal the
 * type's size for that shape. Names are unique and shorter than 64 bytes
 * (llama.cpp's limit). `data` must stay valid until gguf_writer_write. */
rf_status gguf_writer_add_tensor(gguf_writer *w, const char *name, rf_type type, uint32_t n_dims, const uint64_t *ne,
                                 const void *data, uint64_t nbytes, rf_error *err);

/* Produces tensor `index`'s nbytes bytes into buf at write time. */
typedef rf_status (*gguf_tensor_fill_fn)(void *user, uint64_t index, void *buf, uint64_t nbytes, rf_error *err);
/* Like gguf_writer_add_tensor, with the data produced by fill(user, index,
 * ...) during gguf_writer_write; index is the tensor's position (0-based). */
rf_status gguf_writer_add_tensor_fill(gguf_writer *w, const char *name, rf_type type, uint32_t n_dims,
                                      const uint64_t *ne, gguf_tensor_fill_fn fill, void *user, rf_error *err);

uint64_t gguf_writer_n_tensors(const gguf_writer *w);

/* Write the file. progress (may be NULL) is called after each tensor. */
rf_status gguf_writer_write(gguf_writer *w, const char *path,
                            void (*progress)(void *user, uint64_t done, uint64_t total), void *progress_user,
                            rf_error *err);

#endif
