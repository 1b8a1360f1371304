/* llama_ref.h — llama.cpp as a reference, loaded at run time with dlopen.
 *
 * The tests compare rocmforge with llama.cpp's prebuilt CPU libraries from
 * node-llama-cpp (fetched by scripts/fetch-refs.sh into .cache/node). Nothing
 * of llama.cpp is compiled in: we declare the few entry points we call, with
 * our own minimal type declarations of its C ABI (release v0.4.0, x86-64).
 *
 * Parameter structs are returned and passed by value. We hold them in a
 * byte blob larger than the real struct: on x86-64 SysV a struct this large is
 * returned through a caller-provided buffer and passed by copying it to the
 * stack, so extra trailing bytes are harmless. The few fields we set are
 * written at their offsets in v0.4.0, and rf_llama_ref_open() first checks
 * that the defaults read back at those offsets are the documented ones
 * (n_ctx 512, n_batch 2048, n_ubatch 512, n_seq_max 1, type_k F16) so a
 * layout change is a clear skip, not silent garbage.
 *
 * Header-only (static functions) so each test links it without a library.
 */
#ifndef RF_TEST_LLAMA_REF_H
#define RF_TEST_LLAMA_REF_H

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- our declarations of llama.cpp's C ABI (v0.4.0) ---- */
typedef struct rf_ll_blob { unsigned char b[512]; } rf_ll_blob;   /* real: 80 / 160 bytes */

typedef struct rf_ll_batch {
    int32_t n_tokens;
    int32_t *token;
    float *embd;
    int32_t *pos;
    int32_t *n_seq_id;
    int32_t **seq_id;
    int8_t *logits;
} rf_ll_batch;

typedef struct rf_ll_token_data { int32_t id; float logit; float p; } rf_ll_token_data;
typedef struct rf_ll_token_data_array {
    rf_ll_token_data *data;
    size_t size;
    int64_t selected;
    bool sorted;
} rf_ll_token_data_array;

/* llama_context_params field offsets in v0.4.0 */
#define RF_LL_CP_N_CTX 0
#define RF_LL_CP_N_BATCH 4
#define RF_LL_CP_N_UBATCH 8
#define RF_LL_CP_N_SEQ_MAX 12
#define RF_LL_CP_N_OUTPUTS_MAX 20
#define RF_LL_CP_N_OUTPUTS_MAX_PER_SEQ 24
#define RF_LL_CP_N_THREADS 28
#define RF_LL_CP_N_THREADS_BATCH 32
#define RF_LL_CP_FLASH_ATTN_TYPE 52
#define RF_LL_CP_TYPE_K 104
#define RF_LL_CP_TYPE_V 108

typedef struct rf_llama_ref {
    void *h_ggml, *h_llama;
    void (*backend_init)(void);
    void (*log_set)(void (*cb)(int, const char *, void *), void *);
    rf_ll_blob (*model_default_params)(void);
    rf_ll_blob (*context_default_params)(void);
    void *(*model_load_from_file)(const char *path, rf_ll_blob params);
    void (*model_free)(void *model);
    void *(*init_from_model)(void *model, rf_ll_blob params);
    void (*free_ctx)(void *ctx);
    const void *(*model_get_vocab)(const void *model);
    int32_t (*vocab_n_tokens)(const void *vocab);
    int32_t (*model_n_layer)(const void *model);
    int32_t (*model_n_embd)(const void *model);
    int32_t (*model_n_head)(const void *model);
    int32_t (*model_n_head_kv)(const void *model);
    int32_t (*model_n_ctx_train)(const void *model);
    int32_t (*model_meta_val_str)(const void *model, const char *key, char *buf, size_t n);
    rf_ll_batch (*batch_init)(int32_t n_tokens, int32_t embd, int32_t n_seq_max);
    void (*batch_free)(rf_ll_batch b);
    int32_t (*decode)(void *ctx, rf_ll_batch b);
    float *(*get_logits_ith)(void *ctx, int32_t i);
    /* samplers */
    void *(*smp_init_greedy)(void);
    void *(*smp_init_dist)(uint32_t seed);
    void *(*smp_init_top_k)(int32_t k);
    void *(*smp_init_top_p)(float p, size_t min_keep);
    void *(*smp_init_min_p)(float p, size_t min_keep);
    void *(*smp_init_typical)(float p, size_t min_keep);
    void *(*smp_init_temp)(float t);
    void *(*smp_init_penalties)(int32_t n_vocab, int32_t last_n, float repeat, float freq, float present);
    void (*smp_apply)(void *s, rf_ll_token_data_array *cur);
    void (*smp_accept)(void *s, int32_t tok);
    void (*smp_reset)(void *s);
    void (*smp_free)(void *s);
} rf_llama_ref;

static inline void rf_llama_ref_quiet_log(int level, const char *text, void *ud)
{
    (void)ud;
    if (level >= 4 /* GGML_LOG_LEVEL_ERROR */ && getenv("RF_LLAMA_LOG") == NULL)
        fputs(text, stderr);
    else if (getenv("RF_LLAMA_LOG"))
        fputs(text, stderr);
}

/* Directory of the prebuilt libraries, or NULL. */
static inline const char *rf_llama_ref_dir(char *buf, size_t n)
{
    const char *cache = getenv("RF_CACHE_DIR");
    char tmp[1024];
    if (!cache) {
        const char *src = getenv("RF_SOURCE_DIR");
        snprintf(tmp, sizeof tmp, "%.900s/.cache", src ? src : ".");
        cache = tmp;
    }
    snprintf(buf, n, "%.900s/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64", cache);
    return buf;
}

/* Opens the reference. On failure returns false and writes why into `why`
 * (callers skip with that message: the reference is absent, not wrong). */
static inline bool rf_llama_ref_open(rf_llama_ref *r, char *why, size_t n_why)
{
    memset(r, 0, sizeof *r);
#if !defined(__x86_64__)
    snprintf(why, n_why, "llama.cpp reference libraries are x86-64 only");
    return false;
#else
    char dir[1024], path[1200];
    rf_llama_ref_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/libggml.v0.4.0.so", dir);
    r->h_ggml = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!r->h_ggml) {
        snprintf(why, n_why, "llama.cpp reference not found (%.300s); run scripts/fetch-refs.sh", dlerror());
        return false;
    }
    snprintf(path, sizeof path, "%s/libllama.v0.4.0.so", dir);
    r->h_llama = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!r->h_llama) {
        snprintf(why, n_why, "cannot dlopen %.200s: %.200s", path, dlerror());
        return false;
    }
    void (*load_all_from)(const char *) = (void (*)(const char *))dlsym(r->h_ggml, "ggml_backend_load_all_from_path");
#define RF_LL_SYM(field, name) do { *(void **)(&r->field) = dlsym(r->h_llama, name); \
        if (!r->field) { snprintf(why, n_why, "llama.cpp reference lacks %s", name); return false; } } while (0)
    RF_LL_SYM(backend_init, "llama_backend_init");
    RF_LL_SYM(log_set, "llama_log_set");
    RF_LL_SYM(model_default_params, "llama_model_default_params");
    RF_LL_SYM(context_default_params, "llama_context_default_params");
    RF_LL_SYM(model_load_from_file, "llama_model_load_from_file");
    RF_LL_SYM(model_free, "llama_model_free");
    RF_LL_SYM(init_from_model, "llama_init_from_model");
    RF_LL_SYM(free_ctx, "llama_free");
    RF_LL_SYM(model_get_vocab, "llama_model_get_vocab");
    RF_LL_SYM(vocab_n_tokens, "llama_vocab_n_tokens");
    RF_LL_SYM(model_n_layer, "llama_model_n_layer");
    RF_LL_SYM(model_n_embd, "llama_model_n_embd");
    RF_LL_SYM(model_n_head, "llama_model_n_head");
    RF_LL_SYM(model_n_head_kv, "llama_model_n_head_kv");
    RF_LL_SYM(model_n_ctx_train, "llama_model_n_ctx_train");
    RF_LL_SYM(model_meta_val_str, "llama_model_meta_val_str");
    RF_LL_SYM(batch_init, "llama_batch_init");
    RF_LL_SYM(batch_free, "llama_batch_free");
    RF_LL_SYM(decode, "llama_decode");
    RF_LL_SYM(get_logits_ith, "llama_get_logits_ith");
    RF_LL_SYM(smp_init_greedy, "llama_sampler_init_greedy");
    RF_LL_SYM(smp_init_dist, "llama_sampler_init_dist");
    RF_LL_SYM(smp_init_top_k, "llama_sampler_init_top_k");
    RF_LL_SYM(smp_init_top_p, "llama_sampler_init_top_p");
    RF_LL_SYM(smp_init_min_p, "llama_sampler_init_min_p");
    RF_LL_SYM(smp_init_typical, "llama_sampler_init_typical");
    RF_LL_SYM(smp_init_temp, "llama_sampler_init_temp");
    RF_LL_SYM(smp_init_penalties, "llama_sampler_init_penalties");
    RF_LL_SYM(smp_apply, "llama_sampler_apply");
    RF_LL_SYM(smp_accept, "llama_sampler_accept");
    RF_LL_SYM(smp_reset, "llama_sampler_reset");
    RF_LL_SYM(smp_free, "llama_sampler_free");
#undef RF_LL_SYM
    r->log_set(rf_llama_ref_quiet_log, NULL);
    /* On an AVX-512 VNNI machine, llama.cpp's AVX-512 library (icelake), not
     * the one it would pick by CPU: on AMX machines that is sapphirerapids,
     * which repacks Q4_0/Q4_1/Q8_0 weights for AMX tiles and sums their
     * blocks in another float order. The engine's CPU kernels and ops repeat
     * the AVX-512 library's arithmetic (scripts/fixtures/llamacpp/gen_greedy.sh
     * pins the same library). Elsewhere: llama.cpp's own choice. */
    void *(*load_one)(const char *) = (void *(*)(const char *))dlsym(r->h_ggml, "ggml_backend_load");
    bool loaded = false;
    __builtin_cpu_init();
    if (load_one && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vnni")) {
        snprintf(path, sizeof path, "%s/libggml-cpu-icelake.so", dir);
        loaded = load_one(path) != NULL;
    }
    if (!loaded && load_all_from)
        load_all_from(dir);
    r->backend_init();

    /* Layout check: the defaults must read back where we expect them. */
    rf_ll_blob cp = r->context_default_params();
    uint32_t u[4];
    int32_t tk;
    memcpy(u, cp.b + RF_LL_CP_N_CTX, sizeof u);
    memcpy(&tk, cp.b + RF_LL_CP_TYPE_K, sizeof tk);
    if (u[0] != 512 || u[1] != 2048 || u[2] != 512 || u[3] != 1 || tk != 1) {
        snprintf(why, n_why, "llama.cpp context params layout is not v0.4.0's (n_ctx %u n_batch %u n_ubatch %u n_seq_max %u type_k %d)",
                 u[0], u[1], u[2], u[3], tk);
        return false;
    }
    return true;
#endif
}

static inline void rf_ll_set_u32(rf_ll_blob *p, size_t off, uint32_t v) { memcpy(p->b + off, &v, sizeof v); }
static inline void rf_ll_set_i32(rf_ll_blob *p, size_t off, int32_t v) { memcpy(p->b + off, &v, sizeof v); }

/* A context for exact comparisons: F32 KV cache (the default F16 would cost
 * ~1e-3 relative error), no flash attention, every batch row may output. */
static inline void *rf_llama_ref_ctx_exact(rf_llama_ref *r, void *model, uint32_t n_ctx, int n_threads)
{
    rf_ll_blob cp = r->context_default_params();
    rf_ll_set_u32(&cp, RF_LL_CP_N_CTX, n_ctx);
    rf_ll_set_u32(&cp, RF_LL_CP_N_OUTPUTS_MAX, 0);
    rf_ll_set_u32(&cp, RF_LL_CP_N_OUTPUTS_MAX_PER_SEQ, 0);
    rf_ll_set_i32(&cp, RF_LL_CP_N_THREADS, n_threads);
    rf_ll_set_i32(&cp, RF_LL_CP_N_THREADS_BATCH, n_threads);
    rf_ll_set_i32(&cp, RF_LL_CP_FLASH_ATTN_TYPE, 0);   /* disabled */
    rf_ll_set_i32(&cp, RF_LL_CP_TYPE_K, 0);            /* GGML_TYPE_F32 */
    rf_ll_set_i32(&cp, RF_LL_CP_TYPE_V, 0);
    return r->init_from_model(model, cp);
}

static inline void *rf_llama_ref_load(rf_llama_ref *r, const char *path)
{
    rf_ll_blob mp = r->model_default_params();
    return r->model_load_from_file(path, mp);
}

#endif
