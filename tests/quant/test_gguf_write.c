/* test_gguf_write.c — files from our GGUF writer are read back by our
 * parser and by llama.cpp's (gguf_init_from_file from libggml-base), with
 * every key, value, tensor shape, type, offset and byte checked; and a
 * metadata-only file is byte-identical to the one llama.cpp's own writer
 * (gguf_write_to_file) produces from the same key/values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ggml_ref.h"
#include "gguf/gguf_write.h"
#include "quant/quant.h"
#include "test_util.h"

struct gguf_init_params_ref { bool no_alloc; void **ctx; };
typedef struct {
    void *(*init_from_file)(const char *, struct gguf_init_params_ref);
    void *(*init_empty)(void);
    void (*free)(void *);
    int64_t (*n_kv)(const void *);
    int64_t (*find_key)(const void *, const char *);
    int (*kv_type)(const void *, int64_t);
    int (*arr_type)(const void *, int64_t);
    uint32_t (*u32)(const void *, int64_t);
    int32_t (*i32)(const void *, int64_t);
    float (*f32)(const void *, int64_t);
    uint64_t (*u64)(const void *, int64_t);
    double (*f64)(const void *, int64_t);
    bool (*b)(const void *, int64_t);
    int8_t (*i8)(const void *, int64_t);
    int16_t (*i16)(const void *, int64_t);
    const char *(*str)(const void *, int64_t);
    size_t (*arr_n)(const void *, int64_t);
    const void *(*arr_data)(const void *, int64_t);
    const char *(*arr_str)(const void *, int64_t, size_t);
    int64_t (*n_tensors)(const void *);
    int64_t (*find_tensor)(const void *, const char *);
    size_t (*tensor_offset)(const void *, int64_t);
    const int64_t *(*tensor_ne)(const void *, int64_t);
    int (*tensor_type)(const void *, int64_t);
    size_t (*data_offset)(const void *);
    size_t (*alignment)(const void *);
    void (*set_u32)(void *, const char *, uint32_t);
    void (*set_i32)(void *, const char *, int32_t);
    void (*set_u8)(void *, const char *, uint8_t);
    void (*set_i8)(void *, const char *, int8_t);
    void (*set_u16)(void *, const char *, uint16_t);
    void (*set_i16)(void *, const char *, int16_t);
    void (*set_f32)(void *, const char *, float);
    void (*set_u64)(void *, const char *, uint64_t);
    void (*set_i64)(void *, const char *, int64_t);
    void (*set_f64)(void *, const char *, double);
    void (*set_bool)(void *, const char *, bool);
    void (*set_str)(void *, const char *, const char *);
    void (*set_arr_data)(void *, const char *, int, const void *, size_t);
    void (*set_arr_str)(void *, const char *, const char **, size_t);
    bool (*write_to_file)(const void *, const char *, bool);
} gguf_ref;

static void load_gguf_ref(ggml_ref *g, gguf_ref *r)
{
#define S(f, n) do { *(void **)&r->f = dlsym(g->lib, n); if (!r->f) { fprintf(stderr, "missing %s\n", n); exit(1); } } while (0)
    S(init_from_file, "gguf_init_from_file"); S(init_empty, "gguf_init_empty"); S(free, "gguf_free");
    S(n_kv, "gguf_get_n_kv"); S(find_key, "gguf_find_key"); S(kv_type, "gguf_get_kv_type"); S(arr_type, "gguf_get_arr_type");
    S(u32, "gguf_get_val_u32"); S(i32, "gguf_get_val_i32"); S(f32, "gguf_get_val_f32"); S(u64, "gguf_get_val_u64");
    S(f64, "gguf_get_val_f64"); S(b, "gguf_get_val_bool"); S(i8, "gguf_get_val_i8"); S(i16, "gguf_get_val_i16");
    S(str, "gguf_get_val_str"); S(arr_n, "gguf_get_arr_n"); S(arr_data, "gguf_get_arr_data"); S(arr_str, "gguf_get_arr_str");
    S(n_tensors, "gguf_get_n_tensors"); S(find_tensor, "gguf_find_tensor"); S(tensor_offset, "gguf_get_tensor_offset");
    S(tensor_ne, "gguf_get_tensor_ne"); S(tensor_type, "gguf_get_tensor_type"); S(data_offset, "gguf_get_data_offset");
    S(alignment, "gguf_get_alignment");
    S(set_u32, "gguf_set_val_u32"); S(set_i32, "gguf_set_val_i32"); S(set_u8, "gguf_set_val_u8"); S(set_i8, "gguf_set_val_i8");
    S(set_u16, "gguf_set_val_u16"); S(set_i16, "gguf_set_val_i16"); S(set_f32, "gguf_set_val_f32");
    S(set_u64, "gguf_set_val_u64"); S(set_i64, "gguf_set_val_i64"); S(set_f64, "gguf_set_val_f64");
    S(set_bool, "gguf_set_val_bool"); S(set_str, "gguf_set_val_str"); S(set_arr_data, "gguf_set_arr_data");
    S(set_arr_str, "gguf_set_arr_str"); S(write_to_file, "gguf_write_to_file");
#undef S
}

static const char *vocab[] = {"<s>", "</s>", "hello", " world", "\xe2\x96\x81the", "", "x"};
static const float scores[] = {0.f, -1.f, -2.5f, 3.25f, 1e-3f, -7.f, 42.f};
static const int32_t ttypes[] = {3, 3, 1, 1, 1, 6, 1};

/* Same key/values through our writer (w) and llama.cpp's (c). */
static void set_kvs(gguf_writer *w, gguf_ref *r, void *c)
{
    rf_error err = {0};
    CHECK(gguf_writer_set_str(w, "general.architecture", "llama", &err) == RF_OK);
    CHECK(gguf_writer_set_u32(w, "llama.block_count", 2, &err) == RF_OK);
    CHECK(gguf_writer_set_i32(w, "test.i32", -123456, &err) == RF_OK);
    CHECK(gguf_writer_set_u8(w, "test.u8", 200, &err) == RF_OK);
    CHECK(gguf_writer_set_i8(w, "test.i8", -5, &err) == RF_OK);
    CHECK(gguf_writer_set_u16(w, "test.u16", 65000, &err) == RF_OK);
    CHECK(gguf_writer_set_i16(w, "test.i16", -30000, &err) == RF_OK);
    CHECK(gguf_writer_set_f32(w, "llama.rope.freq_base", 500000.f, &err) == RF_OK);
    CHECK(gguf_writer_set_u64(w, "test.u64", 0x123456789abcdefull, &err) == RF_OK);
    CHECK(gguf_writer_set_i64(w, "test.i64", -0x123456789abcll, &err) == RF_OK);
    CHECK(gguf_writer_set_f64(w, "test.f64", 3.141592653589793, &err) == RF_OK);
    CHECK(gguf_writer_set_bool(w, "test.bool", true, &err) == RF_OK);
    CHECK(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", vocab, 7, &err) == RF_OK);
    CHECK(gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", scores, 7, &err) == RF_OK);
    CHECK(gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", ttypes, 7, &err) == RF_OK);
    CHECK(gguf_writer_set_u32(w, "llama.block_count", 3, &err) == RF_OK); /* replaces in place */
    if (!c) return;
    r->set_str(c, "general.architecture", "llama");
    r->set_u32(c, "llama.block_count", 3);
    r->set_i32(c, "test.i32", -123456);
    r->set_u8(c, "test.u8", 200);
    r->set_i8(c, "test.i8", -5);
    r->set_u16(c, "test.u16", 65000);
    r->set_i16(c, "test.i16", -30000);
    r->set_f32(c, "llama.rope.freq_base", 500000.f);
    r->set_u64(c, "test.u64", 0x123456789abcdefull);
    r->set_i64(c, "test.i64", -0x123456789abcll);
    r->set_f64(c, "test.f64", 3.141592653589793);
    r->set_bool(c, "test.bool", true);
    r->set_arr_str(c, "tokenizer.ggml.tokens", (const char **)vocab, 7);
    r->set_arr_data(c, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, 7);
    r->set_arr_data(c, "tokenizer.ggml.token_type", GGUF_VT_INT32, ttypes, 7);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

typedef struct { const float *src; int64_t rows, cols; } fill_ctx;
static rf_status fill_q4k(void *user, uint64_t index, void *buf, uint64_t nbytes, rf_error *err)
{
    fill_ctx *c = user;
    (void)index;
    (void)nbytes;
    return rf_quantize_rows(RF_TYPE_Q4_K, c->src, buf, c->rows, c->cols, err);
}

int main(void)
{
    ggml_ref g;
    ggml_ref_open(&g);
    gguf_ref r;
    load_gguf_ref(&g, &r);
    char dir[] = "/tmp/rf_gguf_write_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p_ours[256], p_ref[256], p_t[256], p_copy[256];
    snprintf(p_ours, sizeof p_ours, "%s/ours.gguf", dir);
    snprintf(p_ref, sizeof p_ref, "%s/ref.gguf", dir);
    snprintf(p_t, sizeof p_t, "%s/tensors.gguf", dir);
    snprintf(p_copy, sizeof p_copy, "%s/copy.gguf", dir);
    rf_error err = {0};

    /* 1. metadata only: byte-identical to llama.cpp's writer */
    gguf_writer *w = gguf_writer_new(&err);
    void *c = r.init_empty();
    set_kvs(w, &r, c);
    CHECKF(gguf_writer_write(w, p_ours, NULL, NULL, &err) == RF_OK, "%s", err.msg);
    CHECK(r.write_to_file(c, p_ref, false));
    r.free(c);
    gguf_writer_free(w);
    size_t n0 = 0, n1 = 0;
    uint8_t *b0 = slurp(p_ours, &n0), *b1 = slurp(p_ref, &n1);
    CHECKF(b0 && b1 && n0 == n1 && !memcmp(b0, b1, n0), "metadata-only file differs from llama.cpp's (%zu vs %zu bytes)", n0, n1);
    free(b0);
    free(b1);

    /* 2. tensors of several types, plain and streamed, default alignment */
    enum { R = 3, C = 512 };
    static float src[R * C], small[7];
    for (int i = 0; i < R * C; i++) src[i] = (float)((i * 7919) % 1000) / 250.f - 2.f;
    for (int i = 0; i < 7; i++) small[i] = (float)i * 0.5f;
    static uint8_t q8[R * C / 32 * 34];
    CHECK(rf_quantize_rows(RF_TYPE_Q8_0, src, q8, R, C, &err) == RF_OK);
    fill_ctx fc = {src, R, C};
    w = gguf_writer_new(&err);
    set_kvs(w, &r, NULL);
    uint64_t ne_small[1] = {7}, ne_m[2] = {C, R}, ne_3d[3] = {C, 1, R};
    CHECK(gguf_writer_add_tensor(w, "output_norm.weight", RF_TYPE_F32, 1, ne_small, small, sizeof small, &err) == RF_OK);
    CHECK(gguf_writer_add_tensor(w, "blk.0.attn_q.weight", RF_TYPE_Q8_0, 2, ne_m, q8, sizeof q8, &err) == RF_OK);
    CHECK(gguf_writer_add_tensor_fill(w, "blk.0.ffn_up.weight", RF_TYPE_Q4_K, 3, ne_3d, fill_q4k, &fc, &err) == RF_OK);
    /* rejected: duplicate, wrong size, long name, bad columns */
    CHECK(gguf_writer_add_tensor(w, "output_norm.weight", RF_TYPE_F32, 1, ne_small, small, sizeof small, &err) == RF_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "x", RF_TYPE_F32, 1, ne_small, small, 4, &err) == RF_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "a_name_that_is_far_too_long_for_llama_cpp_to_accept_in_a_tensor_x", RF_TYPE_F32, 1,
                                 ne_small, small, sizeof small, &err) == RF_ERR_INVALID_ARG);
    CHECK(gguf_writer_add_tensor(w, "y", RF_TYPE_Q8_0, 1, ne_small, small, sizeof small, &err) == RF_ERR_INVALID_ARG);
    CHECK(gguf_writer_n_tensors(w) == 3);
    CHECKF(gguf_writer_write(w, p_t, NULL, NULL, &err) == RF_OK, "%s", err.msg);
    gguf_writer_free(w);

    static uint8_t q4k[R * C / 256 * 144];
    CHECK(rf_quantize_rows(RF_TYPE_Q4_K, src, q4k, R, C, &err) == RF_OK);
    struct { const char *name; int type; int64_t ne[4]; const void *data; size_t n; } want[] = {
        {"output_norm.weight", RF_TYPE_F32, {7, 1, 1, 1}, small, sizeof small},
        {"blk.0.attn_q.weight", RF_TYPE_Q8_0, {C, R, 1, 1}, q8, sizeof q8},
        {"blk.0.ffn_up.weight", RF_TYPE_Q4_K, {C, 1, R, 1}, q4k, sizeof q4k},
    };
    /* llama.cpp's reader */
    struct gguf_init_params_ref ip = {true, NULL};
    void *gc = r.init_from_file(p_t, ip);
    CHECKF(gc != NULL, "llama.cpp cannot read %s", p_t);
    size_t fn = 0;
    uint8_t *fb = slurp(p_t, &fn);
    if (gc) {
        CHECK(r.n_kv(gc) == 15);
        CHECK(r.alignment(gc) == 32);
        int64_t k = r.find_key(gc, "llama.block_count");
        CHECK(k >= 0 && r.u32(gc, k) == 3);
        k = r.find_key(gc, "general.architecture");
        CHECK(k >= 0 && !strcmp(r.str(gc, k), "llama"));
        k = r.find_key(gc, "test.f64");
        CHECK(k >= 0 && r.f64(gc, k) == 3.141592653589793);
        k = r.find_key(gc, "test.bool");
        CHECK(k >= 0 && r.b(gc, k));
        k = r.find_key(gc, "tokenizer.ggml.tokens");
        CHECK(k >= 0 && r.arr_n(gc, k) == 7 && !strcmp(r.arr_str(gc, k, 4), vocab[4]) && !strcmp(r.arr_str(gc, k, 5), ""));
        k = r.find_key(gc, "tokenizer.ggml.scores");
        CHECK(k >= 0 && r.arr_n(gc, k) == 7 && !memcmp(r.arr_data(gc, k), scores, sizeof scores));
        CHECK(r.n_tensors(gc) == 3);
        for (int i = 0; i < 3; i++) {
            int64_t t = r.find_tensor(gc, want[i].name);
            CHECKF(t == i, "tensor %s at %lld", want[i].name, (long long)t);
            if (t < 0) continue;
            CHECK(r.tensor_type(gc, t) == want[i].type);
            CHECK(!memcmp(r.tensor_ne(gc, t), want[i].ne, sizeof want[i].ne));
            size_t off = r.data_offset(gc) + r.tensor_offset(gc, t);
            CHECK(off % 32 == 0);
            CHECKF(fb && off + want[i].n <= fn && !memcmp(fb + off, want[i].data, want[i].n), "tensor %s data", want[i].name);
        }
        r.free(gc);
    }
    free(fb);
    /* our reader, then a copy through copy_kv with a new alignment */
    gguf_file *f = NULL;
    CHECKF(gguf_open(p_t, &f, &err) == RF_OK, "%s", err.msg);
    if (f) {
        CHECK(f->version == 3 && f->n_tensors == 3 && f->n_kv == 15);
        for (int i = 0; i < 3; i++) {
            const gguf_tensor *t = gguf_find_tensor(f, want[i].name);
            CHECK(t && (int)t->type == want[i].type && t->n_bytes == want[i].n && !memcmp(t->data, want[i].data, want[i].n));
        }
        w = gguf_writer_new(&err);
        const char *except[] = {"test.u64", NULL};
        CHECK(gguf_writer_copy_kv(w, f, except, &err) == RF_OK);
        CHECK(gguf_writer_set_u32(w, "general.alignment", 64, &err) == RF_OK);
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            CHECK(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->n_bytes, &err) == RF_OK);
        }
        CHECKF(gguf_writer_write(w, p_copy, NULL, NULL, &err) == RF_OK, "%s", err.msg);
        gguf_writer_free(w);
        gguf_file *f2 = NULL;
        CHECKF(gguf_open(p_copy, &f2, &err) == RF_OK, "%s", err.msg);
        if (f2) {
            CHECK(f2->alignment == 64 && f2->n_kv == 15 && !gguf_find(f2, "test.u64"));
            uint32_t bc = 0;
            CHECK(gguf_get_u32(f2, "llama.block_count", &bc) && bc == 3);
            for (uint64_t i = 0; i < f2->n_tensors; i++) {
                CHECK(f2->tensors[i].offset % 64 == 0 && (f2->data_offset % 64) == 0);
                CHECK(!memcmp(f2->tensors[i].data, f->tensors[i].data, f->tensors[i].n_bytes));
            }
            gguf_free(f2);
        }
        gc = r.init_from_file(p_copy, ip);
        CHECKF(gc && r.alignment(gc) == 64 && r.n_tensors(gc) == 3, "llama.cpp reads the copy");
        if (gc) r.free(gc);
        gguf_free(f);
    }
    unlink(p_ours);
    unlink(p_ref);
    unlink(p_t);
    unlink(p_copy);
    rmdir(dir);
    return rf_test_done("quant_gguf_write");
}
