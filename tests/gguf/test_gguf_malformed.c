/* test_gguf_malformed.c — hostile GGUF input gives clean errors.
 *
 * 1. Hand-built headers, each broken in one way, must be refused with a
 *    message naming what is wrong (checked by a substring).
 * 2. Real files truncated at many offsets must be refused (a prefix cannot
 *    hold all of a file's tensors), and files with flipped bytes must be
 *    refused or, when accepted, still satisfy the reader's invariants.
 * Inputs are copied into malloc'd buffers of exactly their length so that
 * the sanitizer build (RF_SANITIZE=ON) catches any read past the end. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf/gguf.h"
#include "test_util.h"

/* ---------------------------------------------------- a tiny GGUF builder */
typedef struct bld { uint8_t *p; size_t n, cap; } bld;

static void put(bld *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void u32(bld *b, uint32_t v) { put(b, &v, 4); }
static void u64(bld *b, uint64_t v) { put(b, &v, 8); }
static void str(bld *b, const char *s) { u64(b, strlen(s)); put(b, s, strlen(s)); }
static void header(bld *b, uint64_t n_tensors, uint64_t n_kv)
{
    put(b, "GGUF", 4);
    u32(b, 3);
    u64(b, n_tensors);
    u64(b, n_kv);
}
static void kv_u32(bld *b, const char *k, uint32_t v) { str(b, k); u32(b, GGUF_VT_UINT32); u32(b, v); }
static void tensor(bld *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off)
{
    str(b, name);
    u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) u64(b, ne[i]);
    u32(b, type);
    u64(b, off);
}
static void pad_data(bld *b, size_t data_bytes)
{
    while (b->n % 32) { uint8_t z = 0; put(b, &z, 1); }
    for (size_t i = 0; i < data_bytes; i++) { uint8_t z = (uint8_t)i; put(b, &z, 1); }
}

/* Parse a copy of exactly n bytes; returns status, message in err. */
static rf_status parse_copy(const uint8_t *src, size_t n, rf_error *err, gguf_file **keep)
{
    uint8_t *buf = malloc(n ? n : 1);
    memcpy(buf, src, n);
    gguf_file *f = NULL;
    rf_status s = gguf_parse(buf, n, &f, err);
    if (s == RF_OK) {
        /* invariants of an accepted file */
        for (uint64_t i = 0; i < f->n_tensors; i++)
            CHECK(f->tensors[i].data + f->tensors[i].n_bytes <= buf + n);
        const gguf_value *a;
        if (gguf_get_arr(f, "tokenizer.ggml.tokens", &a) && a->v.arr.etype == GGUF_VT_STRING) {
            gguf_arr_iter it;
            gguf_arr_iter_init(&it, f, a);
            gguf_str s2;
            while (gguf_arr_next_str(&it, &s2)) CHECK((const uint8_t *)s2.ptr + s2.len <= buf + n);
        }
        if (keep) { *keep = f; return s; }
        gguf_free(f);
    } else {
        CHECKF(err->msg[0] != 0, "error without a message (status %d)", s);
    }
    free(buf);
    return s;
}

static void expect_error(bld *b, const char *what, const char *needle)
{
    rf_error err = {0};
    rf_status s = parse_copy(b->p, b->n, &err, NULL);
    CHECKF(s != RF_OK, "%s: accepted", what);
    CHECKF(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void crafted(void)
{
    bld b = {0};
    uint64_t ne2[2] = {32, 4};

    /* a valid file first, so the builder itself is known good */
    header(&b, 1, 1);
    kv_u32(&b, "general.alignment", 32);
    tensor(&b, "w", 2, ne2, RF_TYPE_F32, 0);
    pad_data(&b, 32 * 4 * 4);
    rf_error err = {0};
    gguf_file *f = NULL;
    CHECKF(parse_copy(b.p, b.n, &err, &f) == RF_OK, "valid crafted file: %s", err.msg);
    if (f) {
        CHECK(f->n_tensors == 1 && f->tensors[0].n_bytes == 512 && f->tensors[0].ne[1] == 4);
        free((void *)f->buf);
        gguf_free(f);
    }
    free(b.p);
    memset(&b, 0, sizeof b);

    put(&b, "GGUX", 4); u32(&b, 3); expect_error(&b, "bad magic", "magic");
    put(&b, "GGUF", 4); u32(&b, 0x03000000); u64(&b, 0); u64(&b, 0); expect_error(&b, "big-endian", "big-endian");
    put(&b, "GGUF", 4); u32(&b, 7); u64(&b, 0); u64(&b, 0); expect_error(&b, "version 7", "version 7");
    header(&b, 0, 1ull << 60); expect_error(&b, "huge kv count", "cannot hold");
    header(&b, 1ull << 40, 0); expect_error(&b, "huge tensor count", "cannot hold");
    header(&b, 0, 1); u64(&b, 1ull << 62); u64(&b, 0); u64(&b, 0); expect_error(&b, "huge key length", "length");
    header(&b, 0, 1); str(&b, "k"); u32(&b, 99); u32(&b, 0); expect_error(&b, "bad value type", "value type 99");
    header(&b, 0, 1); str(&b, "k"); u32(&b, GGUF_VT_ARRAY); u32(&b, GGUF_VT_UINT32); u64(&b, 1ull << 61);
    expect_error(&b, "huge array", "does not fit");
    header(&b, 0, 1); str(&b, "k"); u32(&b, GGUF_VT_ARRAY); u32(&b, GGUF_VT_STRING); u64(&b, 1000000); u64(&b, 1);
    expect_error(&b, "string array longer than file", "cannot fit");
    /* arrays nested 20 deep */
    header(&b, 0, 1); str(&b, "k"); u32(&b, GGUF_VT_ARRAY);
    for (int i = 0; i < 20; i++) { u32(&b, GGUF_VT_ARRAY); u64(&b, 1); }
    u32(&b, GGUF_VT_UINT8); u64(&b, 0);
    expect_error(&b, "deep nesting", "nested deeper");
    header(&b, 0, 2); kv_u32(&b, "a", 1); kv_u32(&b, "a", 2); expect_error(&b, "duplicate key", "duplicate key 'a'");
    header(&b, 0, 1); kv_u32(&b, "general.alignment", 24); expect_error(&b, "alignment 24", "power of two");
    header(&b, 0, 1); kv_u32(&b, "general.alignment", 0); expect_error(&b, "alignment 0", "power of two");

    uint64_t ne5[5] = {1, 1, 1, 1, 1};
    header(&b, 1, 0); tensor(&b, "t", 5, ne5, 0, 0); pad_data(&b, 4); expect_error(&b, "5 dims", "5 dimensions");
    uint64_t big[2] = {1ull << 40, 1ull << 40};
    header(&b, 1, 0); tensor(&b, "t", 2, big, 0, 0); pad_data(&b, 4); expect_error(&b, "element overflow", "overflows");
    uint64_t neg[1] = {~0ull};
    header(&b, 1, 0); tensor(&b, "t", 1, neg, 0, 0); pad_data(&b, 4); expect_error(&b, "negative dim", "negative");
    header(&b, 1, 0); tensor(&b, "t", 2, ne2, 4, 0); pad_data(&b, 64); expect_error(&b, "removed type", "removed");
    header(&b, 1, 0); tensor(&b, "t", 2, ne2, 77, 0); pad_data(&b, 64); expect_error(&b, "unknown type", "unknown type id 77");
    uint64_t odd[2] = {33, 1};
    header(&b, 1, 0); tensor(&b, "t", 2, odd, RF_TYPE_Q8_0, 0); pad_data(&b, 64);
    expect_error(&b, "not whole blocks", "not a multiple");
    header(&b, 1, 0); tensor(&b, "t", 2, ne2, 0, 8); pad_data(&b, 1024); expect_error(&b, "misaligned", "not aligned");
    header(&b, 1, 0); tensor(&b, "t", 2, ne2, 0, 0); pad_data(&b, 100); expect_error(&b, "past end", "past the end");
    header(&b, 1, 0); tensor(&b, "t", 2, ne2, 0, 1ull << 63); pad_data(&b, 512); expect_error(&b, "offset overflow", "past the end");
    header(&b, 2, 0); tensor(&b, "t", 2, ne2, 0, 0); tensor(&b, "t", 2, ne2, 0, 512); pad_data(&b, 1024);
    expect_error(&b, "duplicate tensor", "duplicate tensor name 't'");
    header(&b, 2, 0); tensor(&b, "a", 2, ne2, 0, 0); tensor(&b, "b", 2, ne2, 0, 256); pad_data(&b, 1024);
    expect_error(&b, "overlap", "overlaps");
}

/* --------------------------------------------- truncations and bit flips */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void mutate_file(const char *path, int n_trunc, int n_flip)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return;
    struct stat st;
    stat(path, &st);
    size_t len = (size_t)st.st_size;
    uint8_t *data = malloc(len);
    if (fread(data, 1, len, fp) != len) { fclose(fp); free(data); return; }
    fclose(fp);
    rf_error err = {0};
    gguf_file *f = NULL;
    if (parse_copy(data, len, &err, &f) != RF_OK) {
        CHECKF(0, "%s: %s", path, err.msg);
        free(data);
        return;
    }
    uint64_t data_end = f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (f->data_offset + f->tensors[i].offset + f->tensors[i].n_bytes > data_end)
            data_end = f->data_offset + f->tensors[i].offset + f->tensors[i].n_bytes;
    uint64_t header_end = f->data_offset;
    bool has_tensors = f->n_tensors > 0;
    free((void *)f->buf);
    gguf_free(f);

    /* truncations: dense near the start, then spread over the header and the data */
    int refused = 0, tried = 0;
    for (int i = 0; i < n_trunc; i++) {
        size_t cut;
        if (i < 64) cut = (size_t)i;
        else if (i % 2) cut = (size_t)(rnd() % header_end);
        else cut = (size_t)(rnd() % data_end);
        bool must_fail = has_tensors ? cut < data_end : cut + 32 < header_end;
        rf_status s = parse_copy(data, cut, &err, NULL);
        tried++;
        refused += s != RF_OK;
        if (must_fail) CHECKF(s != RF_OK, "%s truncated to %zu bytes was accepted", path, cut);
    }
    /* byte flips in the header (where the parser looks) */
    uint8_t *mut = malloc(len);
    int accepted = 0;
    for (int i = 0; i < n_flip; i++) {
        memcpy(mut, data, len);
        int n_bytes = 1 + (int)(rnd() % 4);
        for (int k = 0; k < n_bytes; k++) {
            size_t at = (size_t)(rnd() % header_end);
            mut[at] ^= (uint8_t)(1u << (rnd() % 8));
            if (rnd() % 4 == 0) mut[at] = 0xff;
        }
        accepted += parse_copy(mut, len, &err, NULL) == RF_OK;
    }
    fprintf(stderr, "%s: %d truncations (%d refused), %d flips (%d still valid)\n", path, tried, refused, n_flip,
            accepted);
    free(mut);
    free(data);
}

int main(void)
{
    crafted();
    const char *dir = rf_test_models_dir();
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "note: %s absent; real-file truncation tests skipped\n", dir);
        return rf_test_done("gguf_malformed");
    }
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".gguf")) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st)) continue;
        /* big vocab files cost a full parse per case: fewer cases there */
        bool small = st.st_size < (2 << 20);
        mutate_file(path, small ? 400 : 60, small ? 400 : 40);
        n++;
    }
    closedir(d);
    CHECKF(n > 0, "no model files");
    return rf_test_done("gguf_malformed");
}
