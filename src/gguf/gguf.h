/* gguf.h — GGUF reader (v1, v2, v3) and the one table of tensor types.
 *
 * The parser works on (ptr, len) and does no I/O, so it can be fuzzed;
 * gguf_open() mmaps a file and calls it. Every count, length, dimension,
 * offset and type id is checked before use; errors name the field and the
 * byte offset. The parsed view points into the buffer (strings are NOT
 * NUL-terminated: use the length), so the buffer must outlive it.
 */
#ifndef RF_GGUF_H
#define RF_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rocmforge.h"

/* ------------------------------------------------------------ tensor types */

/* ggml type ids as stored in GGUF files (values are the file format). */
typedef enum rf_type {
    RF_TYPE_F32 = 0,
    RF_TYPE_F16 = 1,
    RF_TYPE_Q4_0 = 2,
    RF_TYPE_Q4_1 = 3,
    /* 4, 5: Q4_2, Q4_3 (removed) */
    RF_TYPE_Q5_0 = 6,
    RF_TYPE_Q5_1 = 7,
    RF_TYPE_Q8_0 = 8,
    RF_TYPE_Q8_1 = 9,
    RF_TYPE_Q2_K = 10,
    RF_TYPE_Q3_K = 11,
    RF_TYPE_Q4_K = 12,
    RF_TYPE_Q5_K = 13,
    RF_TYPE_Q6_K = 14,
    RF_TYPE_Q8_K = 15,
    RF_TYPE_IQ2_XXS = 16,
    RF_TYPE_IQ2_XS = 17,
    RF_TYPE_IQ3_XXS = 18,
    RF_TYPE_IQ1_S = 19,
    RF_TYPE_IQ4_NL = 20,
    RF_TYPE_IQ3_S = 21,
    RF_TYPE_IQ2_S = 22,
    RF_TYPE_IQ4_XS = 23,
    RF_TYPE_I8 = 24,
    RF_TYPE_I16 = 25,
    RF_TYPE_I32 = 26,
    RF_TYPE_I64 = 27,
    RF_TYPE_F64 = 28,
    RF_TYPE_IQ1_M = 29,
    RF_TYPE_BF16 = 30,
    /* 31-33: Q4_0_4_4, Q4_0_4_8, Q4_0_8_8 (removed) */
    RF_TYPE_TQ1_0 = 34,
    RF_TYPE_TQ2_0 = 35,
    /* 36-38: IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8 (removed) */
    RF_TYPE_MXFP4 = 39,
    RF_TYPE_COUNT = 40,
} rf_type;

typedef struct rf_type_traits {
    const char *name;      /* "Q4_K"; for removed ids the old name */
    uint32_t block_size;   /* elements per block (1 for plain types) */
    uint32_t type_size;    /* bytes per block */
    bool quantized;
    bool removed;          /* id once used, no longer valid */
} rf_type_traits;

/* Traits of a type id, or NULL when the id is out of range or never used.
 * Removed ids return an entry with removed = true (block_size = 0). */
const rf_type_traits *rf_type_get(uint32_t id);
/* Name for any id ("Q4_K", "Q4_2 (removed)", "unknown(99)" — static or
 * thread-local buffer). */
const char *rf_type_name(uint32_t id);
/* Parse a type name (case-insensitive), -1 if unknown. */
int rf_type_from_name(const char *name);
/* Bytes of a row of n elements; 0 when n is not a multiple of the block. */
uint64_t rf_type_row_bytes(rf_type t, uint64_t n);

/* Name of a general.file_type value (llama.cpp's llama_ftype: "Q4_K_M"...),
 * or NULL when unknown. */
const char *rf_ftype_name(uint32_t ftype);

/* ----------------------------------------------------------- metadata */

typedef enum gguf_vtype {
    GGUF_VT_UINT8 = 0, GGUF_VT_INT8 = 1, GGUF_VT_UINT16 = 2, GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4, GGUF_VT_INT32 = 5, GGUF_VT_FLOAT32 = 6, GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8, GGUF_VT_ARRAY = 9, GGUF_VT_UINT64 = 10, GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT
} gguf_vtype;

const char *gguf_vtype_name(gguf_vtype t);

typedef struct gguf_str { const char *ptr; uint64_t len; } gguf_str;

/* A metadata value. Scalars are decoded; arrays keep a pointer to their
 * first element in the buffer plus the element type and count, so a 150k
 * string vocab costs nothing until it is walked (gguf_arr_str). Nested
 * arrays are validated at parse time and walked with gguf_arr_sub. */
typedef struct gguf_value {
    gguf_vtype type;
    union {
        uint64_t u;   /* all unsigned ints and bool */
        int64_t i;    /* all signed ints */
        double f;     /* float32/float64 */
        gguf_str s;
        struct {
            gguf_vtype etype;
            uint64_t n;
            const uint8_t *data;   /* first element in the buffer */
            uint64_t nbytes;       /* bytes spanned by the elements */
        } arr;
    } v;
} gguf_value;

typedef struct gguf_kv {
    gguf_str key;
    gguf_value val;
    uint64_t offset;   /* byte offset of the key in the file */
} gguf_kv;

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[4];        /* ne[0] is the row (contiguous) dimension; unused = 1 */
    rf_type type;
    uint64_t offset;       /* relative to the data section */
    uint64_t n_elements;
    uint64_t n_bytes;
    const uint8_t *data;   /* buf + data_offset + offset (NULL for vocab-only files) */
    /* Quantized tensor whose rows are not a multiple of the block size but
     * whose total element count is: the data is one flat run of blocks that
     * straddle rows (old converters wrote such files, e.g. a Q8_0 ffn_down
     * with 172-wide rows). Such a tensor cannot be used row by row in its
     * block format; the model loader expands it (exactly) to F32. */
    bool flat_blocks;
} gguf_tensor;

typedef struct gguf_file {
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    uint64_t data_offset;  /* start of the tensor data section */
    const uint8_t *buf;
    size_t len;
    /* set by gguf_open */
    void *map;
    size_t map_len;
    char *path;
} gguf_file;

/* Parse a GGUF image in memory. On success *out is allocated (free with
 * gguf_free); the buffer is borrowed, not owned. */
rf_status gguf_parse(const uint8_t *buf, size_t len, gguf_file **out, rf_error *err);
/* mmap `path` read-only and parse it; the mapping is owned by the result. */
rf_status gguf_open(const char *path, gguf_file **out, rf_error *err);
void gguf_free(gguf_file *f);

/* Lookups (linear over keys; files have at most a few hundred). */
const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: return false when absent or of an incompatible type.
 * Integer getters accept any integer type whose value fits. */
bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out);
bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
bool gguf_get_f32(const gguf_file *f, const char *key, float *out);  /* any float or int */
bool gguf_get_bool(const gguf_file *f, const char *key, bool *out);
/* String value; returns a malloc'd NUL-terminated copy, NULL if absent. */
char *gguf_get_str_dup(const gguf_file *f, const char *key);
bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* Array value; false unless the key holds an array. */
bool gguf_get_arr(const gguf_file *f, const char *key, const gguf_value **out);

/* Walk arrays. Element size of fixed-size types (0 for string/array). */
size_t gguf_vtype_size(gguf_vtype t);
/* i-th string of a string array. O(i) for the first call from a cursor; use
 * gguf_arr_iter for sequential walks. */
typedef struct gguf_arr_iter { const gguf_value *arr; uint64_t i; const uint8_t *p; uint32_t version; } gguf_arr_iter;
void gguf_arr_iter_init(gguf_arr_iter *it, const gguf_file *f, const gguf_value *arr);
/* Next element of any type (scalars decoded, strings and nested arrays as
 * views); false at the end. */
bool gguf_arr_next(gguf_arr_iter *it, gguf_value *out);
/* Next string element; false at the end. */
bool gguf_arr_next_str(gguf_arr_iter *it, gguf_str *out);
/* Numeric element i of a fixed-size numeric array as double / int64. */
double gguf_arr_f64(const gguf_value *arr, uint64_t i);
int64_t gguf_arr_i64(const gguf_value *arr, uint64_t i);

/* "llama.context_length" style helper: builds "<arch>.<suffix>". */
bool gguf_get_arch_u32(const gguf_file *f, const char *arch, const char *suffix, uint32_t *out);
bool gguf_get_arch_f32(const gguf_file *f, const char *arch, const char *suffix, float *out);

/* Compare a gguf_str with a C string. */
bool gguf_str_eq(gguf_str s, const char *c);

#endif
