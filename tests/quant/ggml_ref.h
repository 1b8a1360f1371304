/* ggml_ref.h — loads llama.cpp's ggml base library (from the node-llama-cpp
 * npm package that scripts/fetch-refs.sh installs under .cache/node) so the
 * quant_ tests can compare our formats with the reference implementation.
 * Skips the test (exit 77) with a message when the library is absent. */
#ifndef RF_TEST_GGML_REF_H
#define RF_TEST_GGML_REF_H

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

/* Layout of ggml.h's struct ggml_type_traits (public API). */
typedef struct ggml_ref_type_traits {
    const char *type_name;
    int64_t blck_size;
    int64_t blck_size_interleave;
    size_t type_size;
    bool is_quantized;
    void (*to_float)(const void *x, float *y, int64_t k);
    void (*from_float_ref)(const float *x, void *y, int64_t k);
} ggml_ref_type_traits;

typedef struct ggml_ref {
    void *lib;
    size_t (*quantize_chunk)(int type, const float *src, void *dst, int64_t start, int64_t nrows,
                             int64_t n_per_row, const float *imatrix);
    const ggml_ref_type_traits *(*get_type_traits)(int type);
    uint16_t (*fp32_to_fp16)(float);
    float (*fp16_to_fp32)(uint16_t);
    uint16_t (*fp32_to_bf16)(float);
    float (*bf16_to_fp32)(uint16_t);
    void (*quantize_row_q8_K_ref)(const float *x, void *y, int64_t k);
} ggml_ref;

static inline const char *ggml_ref_dir(char *buf, size_t n)
{
    const char *cache = getenv("RF_CACHE_DIR");
    snprintf(buf, n, "%s/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64", cache ? cache : ".cache");
    return buf;
}

/* Opens libggml-base.so or skips the test. */
static inline void ggml_ref_open(ggml_ref *r)
{
#if !defined(__x86_64__)
    (void)r;
    rf_test_skip("llama.cpp reference libraries are x86-64 only");
#else
    char dir[1024], path[1200];
    ggml_ref_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/libggml-base.so", dir);
    r->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!r->lib) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        rf_test_skip("llama.cpp reference library absent: run scripts/fetch-refs.sh");
    }
#define GGML_REF_SYM(field, name) do { *(void **)&r->field = dlsym(r->lib, name); \
        if (!r->field) { fprintf(stderr, "missing symbol %s in %s\n", name, path); exit(1); } } while (0)
    GGML_REF_SYM(quantize_chunk, "ggml_quantize_chunk");
    GGML_REF_SYM(get_type_traits, "ggml_get_type_traits");
    GGML_REF_SYM(fp32_to_fp16, "ggml_fp32_to_fp16");
    GGML_REF_SYM(fp16_to_fp32, "ggml_fp16_to_fp32");
    GGML_REF_SYM(fp32_to_bf16, "ggml_fp32_to_bf16");
    GGML_REF_SYM(bf16_to_fp32, "ggml_bf16_to_fp32");
    GGML_REF_SYM(quantize_row_q8_K_ref, "quantize_row_q8_K_ref");
#undef GGML_REF_SYM
#endif
}
#endif
