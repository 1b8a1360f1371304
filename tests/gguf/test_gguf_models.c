/* test_gguf_models.c — every real GGUF file in RF_MODELS_DIR is read, and
 * what we read agrees with two references nobody here wrote:
 *   1. the facts the file's publisher documents (../shared/models/SOURCES.md):
 *      version, layers, embedding size, heads, vocab, tensor count, types;
 *   2. llama.cpp's own GGUF reader (gguf_* in libggml-base.so from the npm
 *      package node-llama-cpp, dlopen'ed): same keys and value types, same
 *      tensors with the same names, types, offsets and sizes, same data
 *      offset — for every file llama.cpp accepts (it refuses GGUF v1 and the
 *      Q8_0 file whose rows straddle blocks; for those we check the parser's
 *      own invariants and the published facts).
 * Internal consistency is checked on every file: tensors inside the file,
 * token arrays of equal length, special ids inside the vocab, one
 * "blk.N." prefix per layer. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "test_util.h"

/* --- the part of llama.cpp's gguf API we call (C ABI, from gguf.h there) --- */
struct gguf_init_params_ref { bool no_alloc; void **ctx; };
typedef struct ref_api {
    void *(*init_from_file)(const char *, struct gguf_init_params_ref);
    void (*free_)(void *);
    uint32_t (*get_version)(const void *);
    size_t (*get_alignment)(const void *);
    size_t (*get_data_offset)(const void *);
    int64_t (*get_n_kv)(const void *);
    const char *(*get_key)(const void *, int64_t);
    int (*get_kv_type)(const void *, int64_t);
    int (*get_arr_type)(const void *, int64_t);
    size_t (*get_arr_n)(const void *, int64_t);
    int64_t (*get_n_tensors)(const void *);
    const char *(*get_tensor_name)(const void *, int64_t);
    size_t (*get_tensor_offset)(const void *, int64_t);
    int (*get_tensor_type)(const void *, int64_t);
    size_t (*get_tensor_size)(const void *, int64_t);
} ref_api;

static bool ref_load(ref_api *r)
{
    const char *cache = getenv("RF_CACHE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so",
             cache ? cache : ".cache");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "note: llama.cpp's libggml-base.so not found (%s); run scripts/fetch-refs.sh — "
                        "comparison with llama.cpp's GGUF reader skipped\n", path);
        return false;
    }
#define SYM(field, name) *(void **)&r->field = dlsym(h, name); if (!r->field) { fprintf(stderr, "missing %s\n", name); return false; }
    SYM(init_from_file, "gguf_init_from_file");
    SYM(free_, "gguf_free");
    SYM(get_version, "gguf_get_version");
    SYM(get_alignment, "gguf_get_alignment");
    SYM(get_data_offset, "gguf_get_data_offset");
    SYM(get_n_kv, "gguf_get_n_kv");
    SYM(get_key, "gguf_get_key");
    SYM(get_kv_type, "gguf_get_kv_type");
    SYM(get_arr_type, "gguf_get_arr_type");
    SYM(get_arr_n, "gguf_get_arr_n");
    SYM(get_n_tensors, "gguf_get_n_tensors");
    SYM(get_tensor_name, "gguf_get_tensor_name");
    SYM(get_tensor_offset, "gguf_get_tensor_offset");
    SYM(get_tensor_type, "gguf_get_tensor_type");
    SYM(get_tensor_size, "gguf_get_tensor_size");
#undef SYM
    return true;
}

static void compare_with_llamacpp(const ref_api *r, const char *path, const gguf_file *f)
{
    /* llama.cpp prints to stderr when it refuses a file; that is expected for v1. */
    struct gguf_init_params_ref p = {true, NULL};
    void *g = r->init_from_file(path, p);
    if (!g) {
        fprintf(stderr, "note: llama.cpp refuses %s (version %u); compared against published facts only\n", path,
                f->version);
        return;
    }
    CHECKF(r->get_version(g) == f->version, "%s: version %u vs %u", path, r->get_version(g), f->version);
    CHECKF(r->get_alignment(g) == f->alignment, "%s: alignment", path);
    CHECKF((int64_t)f->n_kv == r->get_n_kv(g), "%s: n_kv %llu vs %lld", path, (unsigned long long)f->n_kv,
           (long long)r->get_n_kv(g));
    CHECKF((int64_t)f->n_tensors == r->get_n_tensors(g), "%s: n_tensors", path);
    if (f->n_tensors) CHECKF(r->get_data_offset(g) == f->data_offset, "%s: data offset", path);
    for (int64_t i = 0; i < r->get_n_kv(g) && i < (int64_t)f->n_kv; i++) {
        const char *k = r->get_key(g, i);
        CHECKF(gguf_str_eq(f->kv[i].key, k), "%s: key %lld '%s'", path, (long long)i, k);
        CHECKF((int)f->kv[i].val.type == r->get_kv_type(g, i), "%s: key '%s' type", path, k);
        if (f->kv[i].val.type == GGUF_VT_ARRAY) {
            CHECKF((int)f->kv[i].val.v.arr.etype == r->get_arr_type(g, i), "%s: key '%s' array type", path, k);
            CHECKF(f->kv[i].val.v.arr.n == r->get_arr_n(g, i), "%s: key '%s' array length", path, k);
        }
    }
    for (int64_t i = 0; i < r->get_n_tensors(g) && i < (int64_t)f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        const char *n = r->get_tensor_name(g, i);
        CHECKF(gguf_str_eq(t->name, n), "%s: tensor %lld name '%s'", path, (long long)i, n);
        CHECKF((int)t->type == r->get_tensor_type(g, i), "%s: tensor '%s' type", path, n);
        CHECKF(t->offset == r->get_tensor_offset(g, i), "%s: tensor '%s' offset", path, n);
        CHECKF(t->n_bytes == r->get_tensor_size(g, i), "%s: tensor '%s' size %llu vs %zu", path, n,
               (unsigned long long)t->n_bytes, r->get_tensor_size(g, i));
    }
    r->free_(g);
}

/* Invariants any correct reading satisfies. */
static void check_invariants(const char *path, const gguf_file *f)
{
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        CHECKF(t->data >= f->buf + f->data_offset && t->data + t->n_bytes <= f->buf + f->len, "%s: tensor %llu bounds",
               path, (unsigned long long)i);
        uint64_t n = 1;
        for (int d = 0; d < 4; d++) n *= t->ne[d];
        CHECK(n == t->n_elements);
    }
    const gguf_value *tokens, *scores, *types;
    if (gguf_get_arr(f, "tokenizer.ggml.tokens", &tokens)) {
        uint64_t n = tokens->v.arr.n;
        if (gguf_get_arr(f, "tokenizer.ggml.scores", &scores)) CHECKF(scores->v.arr.n == n, "%s: scores length", path);
        if (gguf_get_arr(f, "tokenizer.ggml.token_type", &types)) CHECKF(types->v.arr.n == n, "%s: types length", path);
        uint64_t id;
        if (gguf_get_u64(f, "tokenizer.ggml.bos_token_id", &id)) CHECKF(id < n, "%s: bos id %llu", path, (unsigned long long)id);
        if (gguf_get_u64(f, "tokenizer.ggml.eos_token_id", &id)) CHECKF(id < n, "%s: eos id", path);
        /* walking every string must end exactly at the array's end */
        gguf_arr_iter it;
        gguf_arr_iter_init(&it, f, tokens);
        gguf_str s;
        uint64_t k = 0;
        while (gguf_arr_next_str(&it, &s)) k++;
        CHECKF(k == n && it.p == tokens->v.arr.data + tokens->v.arr.nbytes, "%s: token walk", path);
    }
    gguf_str arch;
    uint32_t n_layer;
    if (gguf_get_str(f, "general.architecture", &arch) && f->n_tensors) {
        char a[64] = {0};
        memcpy(a, arch.ptr, arch.len < 63 ? (size_t)arch.len : 63);
        CHECKF(gguf_get_arch_u32(f, a, "block_count", &n_layer), "%s: block_count", path);
        char name[64];
        for (uint32_t l = 0; l < n_layer; l++) {
            snprintf(name, sizeof name, "blk.%u.attn_norm.weight", l);
            CHECKF(gguf_find_tensor(f, name) != NULL, "%s: %s", path, name);
        }
        snprintf(name, sizeof name, "blk.%u.attn_norm.weight", n_layer);
        CHECKF(gguf_find_tensor(f, name) == NULL, "%s: extra layer %s", path, name);
    }
}

/* Published facts (SOURCES.md) for the model files. */
typedef struct facts {
    const char *file;
    uint32_t version, n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx;
    uint64_t n_vocab, n_tensors, n_f32_tensors;
    int main_type;
} facts;

static const facts model_facts[] = {
    {"stories260K.gguf", 3, 5, 64, 8, 4, 172, 2048, 512, 48, 48, RF_TYPE_F32},
    {"tinyllamas-stories-260k-f32.gguf", 1, 5, 64, 8, 4, 172, 512, 512, 48, 48, RF_TYPE_F32},
    {"tinyllamas-stories-260k-q8_0.gguf", 2, 5, 64, 8, 4, 172, 512, 512, 48, 11, RF_TYPE_Q8_0},
    {"llama-2-tiny-random.gguf", 3, 1, 8, 2, 2, 32, 0, 32000, 12, 3, RF_TYPE_F16},
};

static void check_facts(const facts *x, const gguf_file *f)
{
    uint32_t v;
    CHECKF(f->version == x->version, "%s: version %u, published %u", x->file, f->version, x->version);
    CHECKF(gguf_get_u32(f, "llama.block_count", &v) && v == x->n_layer, "%s: block_count", x->file);
    CHECKF(gguf_get_u32(f, "llama.embedding_length", &v) && v == x->n_embd, "%s: embedding_length", x->file);
    CHECKF(gguf_get_u32(f, "llama.attention.head_count", &v) && v == x->n_head, "%s: head_count", x->file);
    if (gguf_get_u32(f, "llama.attention.head_count_kv", &v) || x->n_head_kv != x->n_head)
        CHECKF(v == x->n_head_kv, "%s: head_count_kv", x->file);
    CHECKF(gguf_get_u32(f, "llama.feed_forward_length", &v) && v == x->n_ff, "%s: feed_forward_length", x->file);
    if (x->n_ctx) CHECKF(gguf_get_u32(f, "llama.context_length", &v) && v == x->n_ctx, "%s: context_length", x->file);
    const gguf_value *tokens;
    CHECKF(gguf_get_arr(f, "tokenizer.ggml.tokens", &tokens) && tokens->v.arr.n == x->n_vocab, "%s: vocab", x->file);
    CHECKF(f->n_tensors == x->n_tensors, "%s: %llu tensors, published %llu", x->file,
           (unsigned long long)f->n_tensors, (unsigned long long)x->n_tensors);
    uint64_t n_f32 = 0, n_main = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        n_f32 += f->tensors[i].type == RF_TYPE_F32;
        n_main += (int)f->tensors[i].type == x->main_type;
    }
    CHECKF(n_f32 == x->n_f32_tensors, "%s: %llu F32 tensors, published %llu", x->file, (unsigned long long)n_f32,
           (unsigned long long)x->n_f32_tensors);
    CHECKF(n_main == x->n_tensors - (x->main_type == RF_TYPE_F32 ? 0 : x->n_f32_tensors), "%s: main type count",
           x->file);
    /* token_embd is [n_embd, n_vocab] */
    const gguf_tensor *te = gguf_find_tensor(f, "token_embd.weight");
    CHECKF(te && te->ne[0] == x->n_embd && te->ne[1] == x->n_vocab, "%s: token_embd shape", x->file);
}

int main(void)
{
    const char *dir = rf_test_models_dir();
    DIR *d = opendir(dir);
    if (!d) {
        char why[1200];
        snprintf(why, sizeof why, "reference models not found in %s (set RF_MODELS_DIR)", dir);
        rf_test_skip(why);
    }
    ref_api ref = {0};
    bool have_ref = ref_load(&ref);
    int n_files = 0, n_facts = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".gguf")) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        gguf_file *f;
        rf_error err = {0};
        rf_status s = gguf_open(path, &f, &err);
        CHECKF(s == RF_OK, "%s: %s", path, err.msg);
        if (s) continue;
        n_files++;
        check_invariants(path, f);
        if (have_ref) compare_with_llamacpp(&ref, path, f);
        for (size_t i = 0; i < sizeof model_facts / sizeof model_facts[0]; i++)
            if (!strcmp(e->d_name, model_facts[i].file)) {
                check_facts(&model_facts[i], f);
                n_facts++;
            }
        /* The Q8_0 file's ffn_down rows (172) straddle blocks: flagged, and only those. */
        if (!strcmp(e->d_name, "tinyllamas-stories-260k-q8_0.gguf")) {
            int flagged = 0;
            for (uint64_t i = 0; i < f->n_tensors; i++)
                if (f->tensors[i].flat_blocks) {
                    flagged++;
                    CHECK(strstr(f->tensors[i].name.ptr, "ffn_down") != NULL);
                    CHECK(f->tensors[i].ne[0] == 172 && f->tensors[i].n_bytes == 172 * 64 / 32 * 34);
                }
            CHECKF(flagged == 5, "flat-block tensors: %d", flagged);
        }
        gguf_free(f);
    }
    closedir(d);
    CHECKF(n_facts == 4, "found %d of the 4 model files with published facts", n_facts);
    CHECKF(n_files >= 20, "read %d files", n_files);
    fprintf(stderr, "read %d GGUF files (%d with published facts), llama.cpp reference %s\n", n_files, n_facts,
            have_ref ? "compared" : "absent");
    return rf_test_done("gguf_models");
}
