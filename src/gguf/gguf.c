/* gguf.c — GGUF parser over (ptr, len), and the mmap front end.
 *
 * Layout (little-endian):
 *   "GGUF" u32 version | n_tensors | n_kv        (counts: u32 in v1, u64 since v2)
 *   n_kv × { string key; u32 type; value }        (string = length + bytes; length u32 in v1)
 *   n_tensors × { string name; u32 n_dims; n_dims × dim (u32 in v1); u32 type; u64 offset }
 *   padding to general.alignment (default 32), then the tensor data section.
 *
 * Hostile-input policy: a cursor never moves past `len`; every count is
 * bounded by the bytes that remain before anything is allocated for it;
 * products and sums use overflow-checked arithmetic; every failure names the
 * field and the byte offset where it was read.
 */
#define _POSIX_C_SOURCE 200809L
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_ARRAY_DEPTH 8

typedef struct cursor {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    uint32_t version;
    rf_error *err;
} cursor;

static size_t remaining(const cursor *c) { return c->len - c->pos; }

static rf_status need(cursor *c, uint64_t n, const char *what)
{
    if (n > remaining(c))
        return rf_err(c->err, RF_ERR_FORMAT, "gguf: truncated at byte %zu reading %s (need %llu bytes, %zu left)",
                      c->pos, what, (unsigned long long)n, remaining(c));
    return RF_OK;
}

static uint64_t rd_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static rf_status read_u32(cursor *c, uint32_t *out, const char *what)
{
    rf_status s = need(c, 4, what);
    if (s) return s;
    *out = (uint32_t)rd_le(c->buf + c->pos, 4);
    c->pos += 4;
    return RF_OK;
}

static rf_status read_u64(cursor *c, uint64_t *out, const char *what)
{
    rf_status s = need(c, 8, what);
    if (s) return s;
    *out = rd_le(c->buf + c->pos, 8);
    c->pos += 8;
    return RF_OK;
}

/* A count or length: u32 in v1, u64 since v2. */
static rf_status read_count(cursor *c, uint64_t *out, const char *what)
{
    if (c->version == 1) {
        uint32_t v = 0;
        rf_status s = read_u32(c, &v, what);
        *out = v;
        return s;
    }
    return read_u64(c, out, what);
}

static rf_status read_str(cursor *c, gguf_str *out, const char *what)
{
    size_t at = c->pos;
    uint64_t n;
    rf_status s = read_count(c, &n, what);
    if (s) return s;
    if (n > remaining(c))
        return rf_err(c->err, RF_ERR_FORMAT, "gguf: %s at byte %zu has length %llu but only %zu bytes remain", what, at,
                      (unsigned long long)n, remaining(c));
    out->ptr = (const char *)c->buf + c->pos;
    out->len = n;
    c->pos += n;
    return RF_OK;
}

size_t gguf_vtype_size(gguf_vtype t)
{
    switch (t) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

const char *gguf_vtype_name(gguf_vtype t)
{
    static const char *names[GGUF_VT_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                               "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < GGUF_VT_COUNT ? names[t] : "?";
}

/* Decode a fixed-size scalar at p into v. */
static void decode_scalar(gguf_vtype t, const uint8_t *p, gguf_value *v)
{
    uint64_t raw = rd_le(p, (int)gguf_vtype_size(t));
    v->type = t;
    switch (t) {
    case GGUF_VT_UINT8: case GGUF_VT_UINT16: case GGUF_VT_UINT32: case GGUF_VT_UINT64: v->v.u = raw; break;
    case GGUF_VT_BOOL: v->v.u = raw != 0; break;
    case GGUF_VT_INT8: v->v.i = (int8_t)raw; break;
    case GGUF_VT_INT16: v->v.i = (int16_t)raw; break;
    case GGUF_VT_INT32: v->v.i = (int32_t)raw; break;
    case GGUF_VT_INT64: v->v.i = (int64_t)raw; break;
    case GGUF_VT_FLOAT32: { uint32_t b = (uint32_t)raw; float f; memcpy(&f, &b, 4); v->v.f = f; break; }
    case GGUF_VT_FLOAT64: { double d; memcpy(&d, &raw, 8); v->v.f = d; break; }
    default: break;
    }
}

static rf_status read_value(cursor *c, gguf_vtype t, gguf_value *v, const char *key, int depth);

/* Validate (and skip) the elements of an array; fills v->v.arr. */
static rf_status read_array(cursor *c, gguf_value *v, const char *key, int depth)
{
    size_t at = c->pos;
    uint32_t et;
    uint64_t n;
    rf_status s = read_u32(c, &et, "array element type");
    if (s) return s;
    if (et >= GGUF_VT_COUNT)
        return rf_err(c->err, RF_ERR_FORMAT, "gguf: key '%s': array element type %u at byte %zu is not a GGUF value type",
                      key, et, at);
    if (depth >= GGUF_MAX_ARRAY_DEPTH)
        return rf_err(c->err, RF_ERR_FORMAT, "gguf: key '%s': arrays nested deeper than %d at byte %zu", key,
                      GGUF_MAX_ARRAY_DEPTH, at);
    s = read_count(c, &n, "array length");
    if (s) return s;
    v->type = GGUF_VT_ARRAY;
    v->v.arr.etype = (gguf_vtype)et;
    v->v.arr.n = n;
    v->v.arr.data = c->buf + c->pos;
    size_t start = c->pos;
    size_t esz = gguf_vtype_size((gguf_vtype)et);
    if (esz) {
        uint64_t bytes;
        if (rf_mul_ovf(n, esz, &bytes) || bytes > remaining(c))
            return rf_err(c->err, RF_ERR_FORMAT,
                          "gguf: key '%s': array of %llu %s at byte %zu does not fit in the file (%zu bytes left)", key,
                          (unsigned long long)n, gguf_vtype_name((gguf_vtype)et), at, remaining(c));
        c->pos += bytes;
    } else {
        /* strings/arrays need at least their length field each */
        uint64_t min_bytes;
        if (rf_mul_ovf(n, c->version == 1 ? 4 : 8, &min_bytes) || min_bytes > remaining(c))
            return rf_err(c->err, RF_ERR_FORMAT,
                          "gguf: key '%s': array of %llu %s at byte %zu cannot fit in the %zu bytes left", key,
                          (unsigned long long)n, gguf_vtype_name((gguf_vtype)et), at, remaining(c));
        for (uint64_t i = 0; i < n; i++) {
            gguf_value sub;
            s = read_value(c, (gguf_vtype)et, &sub, key, depth + 1);
            if (s) return s;
        }
    }
    v->v.arr.nbytes = c->pos - start;
    return RF_OK;
}

static rf_status read_value(cursor *c, gguf_vtype t, gguf_value *v, const char *key, int depth)
{
    size_t esz = gguf_vtype_size(t);
    if (esz) {
        rf_status s = need(c, esz, key);
        if (s) return s;
        decode_scalar(t, c->buf + c->pos, v);
        c->pos += esz;
        return RF_OK;
    }
    if (t == GGUF_VT_STRING) {
        v->type = t;
        return read_str(c, &v->v.s, "string value");
    }
    if (t == GGUF_VT_ARRAY) return read_array(c, v, key, depth);
    return rf_err(c->err, RF_ERR_FORMAT, "gguf: key '%s': value type %u at byte %zu is not a GGUF value type", key,
                  (unsigned)t, c->pos);
}

/* Key text for messages: bounded, NUL-terminated copy. */
static const char *key_text(gguf_str s, char *buf, size_t n)
{
    size_t k = s.len < n - 1 ? (size_t)s.len : n - 1;
    for (size_t i = 0; i < k; i++) buf[i] = (s.ptr[i] >= 32 && s.ptr[i] < 127) ? s.ptr[i] : '?';
    buf[k] = 0;
    return buf;
}

static int cmp_str(gguf_str a, gguf_str b)
{
    size_t n = a.len < b.len ? (size_t)a.len : (size_t)b.len;
    int r = memcmp(a.ptr, b.ptr, n);
    if (r) return r;
    return a.len < b.len ? -1 : a.len > b.len;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return cmp_str((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}

static int cmp_kv_key(const void *a, const void *b)
{
    return cmp_str((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Duplicate keys / names and overlapping data: sort pointers, check neighbours. */
static rf_status check_unique_and_disjoint(gguf_file *f, rf_error *err)
{
    uint64_t n = f->n_kv > f->n_tensors ? f->n_kv : f->n_tensors;
    if (!n) return RF_OK;
    const void **idx = rf_malloc(n * sizeof *idx, err, "gguf index");
    if (!idx) return RF_ERR_NOMEM;
    char a[96];
    rf_status s = RF_OK;
    for (uint64_t i = 0; i < f->n_kv; i++) idx[i] = &f->kv[i];
    qsort(idx, f->n_kv, sizeof *idx, cmp_kv_key);
    for (uint64_t i = 1; i < f->n_kv && !s; i++) {
        const gguf_kv *x = idx[i - 1], *y = idx[i];
        if (!cmp_str(x->key, y->key))
            s = rf_err(err, RF_ERR_FORMAT, "gguf: duplicate key '%s' at bytes %llu and %llu",
                       key_text(x->key, a, sizeof a), (unsigned long long)x->offset, (unsigned long long)y->offset);
    }
    for (uint64_t i = 0; i < f->n_tensors && !s; i++) idx[i] = &f->tensors[i];
    if (!s) qsort(idx, f->n_tensors, sizeof *idx, cmp_tensor_name);
    for (uint64_t i = 1; i < f->n_tensors && !s; i++) {
        const gguf_tensor *x = idx[i - 1], *y = idx[i];
        if (!cmp_str(x->name, y->name))
            s = rf_err(err, RF_ERR_FORMAT, "gguf: duplicate tensor name '%s'", key_text(x->name, a, sizeof a));
    }
    if (!s) qsort(idx, f->n_tensors, sizeof *idx, cmp_tensor_offset);
    for (uint64_t i = 1; i < f->n_tensors && !s; i++) {
        const gguf_tensor *x = idx[i - 1], *y = idx[i];
        if (x->offset + x->n_bytes > y->offset) {
            char b[96];
            s = rf_err(err, RF_ERR_FORMAT, "gguf: tensor '%s' (data %llu..%llu) overlaps tensor '%s' (data from %llu)",
                       key_text(x->name, a, sizeof a), (unsigned long long)x->offset,
                       (unsigned long long)(x->offset + x->n_bytes), key_text(y->name, b, sizeof b),
                       (unsigned long long)y->offset);
        }
    }
    free(idx);
    return s;
}

static rf_status parse_tensor_info(cursor *c, gguf_tensor *t, uint64_t index)
{
    char nb[96];
    size_t at = c->pos;
    rf_status s = read_str(c, &t->name, "tensor name");
    if (s) return s;
    key_text(t->name, nb, sizeof nb);
    s = read_u32(c, &t->n_dims, "tensor n_dims");
    if (s) return s;
    if (t->n_dims > GGUF_MAX_DIMS)
        return rf_err(c->err, RF_ERR_FORMAT, "gguf: tensor %llu '%s' at byte %zu has %u dimensions (max %d)",
                      (unsigned long long)index, nb, at, t->n_dims, GGUF_MAX_DIMS);
    uint64_t n_el = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        s = read_count(c, &ne, "tensor dimension");
        if (s) return s;
        /* llama.cpp stores dims as int64: anything above INT64_MAX is negative there. */
        if (ne > (uint64_t)INT64_MAX)
            return rf_err(c->err, RF_ERR_FORMAT, "gguf: tensor '%s' dimension %u is negative or too large (%llu)", nb,
                          d, (unsigned long long)ne);
        t->ne[d] = ne;
        if (rf_mul_ovf(n_el, ne, &n_el) || n_el > (uint64_t)INT64_MAX)
            return rf_err(c->err, RF_ERR_FORMAT, "gguf: tensor '%s' element count overflows", nb);
    }
    t->n_elements = n_el;
    uint32_t type;
    size_t type_at = c->pos;
    s = read_u32(c, &type, "tensor type");
    if (s) return s;
    const rf_type_traits *tr = rf_type_get(type);
    if (!tr)
        return rf_err(c->err, RF_ERR_FORMAT, "gguf: tensor '%s' has unknown type id %u at byte %zu", nb, type, type_at);
    if (tr->removed)
        return rf_err(c->err, RF_ERR_UNSUPPORTED,
                      "gguf: tensor '%s' uses type %s (id %u), which ggml removed; re-convert the model", nb, tr->name,
                      type);
    t->type = (rf_type)type;
    if (t->ne[0] % tr->block_size) {
        if (n_el % tr->block_size)
            return rf_err(c->err, RF_ERR_FORMAT,
                          "gguf: tensor '%s' of type %s has %llu elements, not a multiple of its block size %u", nb,
                          tr->name, (unsigned long long)n_el, tr->block_size);
        t->flat_blocks = true; /* see gguf.h */
    }
    /* n_el/block_size*type_size cannot overflow unless type_size > block_size; check anyway. */
    if (rf_mul_ovf(n_el / tr->block_size, tr->type_size, &t->n_bytes))
        return rf_err(c->err, RF_ERR_FORMAT, "gguf: tensor '%s' byte size overflows", nb);
    return read_u64(c, &t->offset, "tensor data offset");
}

rf_status gguf_parse(const uint8_t *buf, size_t len, gguf_file **out, rf_error *err)
{
    *out = NULL;
    cursor c = {buf, len, 0, 0, err};
    rf_status s;
    if (len < 4 || memcmp(buf, "GGUF", 4) != 0) {
        if (len >= 4 && memcmp(buf, "FUGG", 4) == 0)
            return rf_err(err, RF_ERR_UNSUPPORTED, "gguf: big-endian file (magic 'FUGG'); only little-endian GGUF is supported");
        return rf_err(err, RF_ERR_FORMAT, "gguf: not a GGUF file (bad magic at byte 0)");
    }
    c.pos = 4;
    uint32_t version;
    if ((s = read_u32(&c, &version, "version"))) return s;
    if (version == 0 || version > 3) {
        uint32_t swapped = __builtin_bswap32(version);
        if (swapped >= 1 && swapped <= 3)
            return rf_err(err, RF_ERR_UNSUPPORTED,
                          "gguf: big-endian file (version %u byte-swapped); only little-endian GGUF is supported", swapped);
        return rf_err(err, RF_ERR_UNSUPPORTED, "gguf: version %u at byte 4 is not supported (1, 2 or 3)", version);
    }
    c.version = version;

    gguf_file *f = rf_calloc(1, sizeof *f, err, "gguf_file");
    if (!f) return RF_ERR_NOMEM;
    f->version = version;
    f->buf = buf;
    f->len = len;
    f->alignment = GGUF_DEFAULT_ALIGNMENT;

    if ((s = read_count(&c, &f->n_tensors, "tensor count"))) goto fail;
    if ((s = read_count(&c, &f->n_kv, "metadata count"))) goto fail;
    /* Each kv takes >= 4+1+4 bytes (v1) and each tensor info >= 4+4+4+8: bound counts by the bytes left. */
    if (f->n_kv > remaining(&c) / 9 || f->n_tensors > remaining(&c) / 20) {
        s = rf_err(err, RF_ERR_FORMAT, "gguf: header claims %llu metadata entries and %llu tensors; the file (%zu bytes) cannot hold them",
                   (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors, len);
        goto fail;
    }
    f->kv = rf_calloc(f->n_kv, sizeof *f->kv, err, "gguf metadata");
    f->tensors = rf_calloc(f->n_tensors, sizeof *f->tensors, err, "gguf tensor infos");
    if (!f->kv || !f->tensors) { s = RF_ERR_NOMEM; goto fail; }

    char kb[96];
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        kv->offset = c.pos;
        if ((s = read_str(&c, &kv->key, "metadata key"))) goto fail;
        key_text(kv->key, kb, sizeof kb);
        uint32_t t;
        size_t tat = c.pos;
        if ((s = read_u32(&c, &t, "metadata value type"))) goto fail;
        if (t >= GGUF_VT_COUNT) {
            s = rf_err(err, RF_ERR_FORMAT, "gguf: key '%s': value type %u at byte %zu is not a GGUF value type", kb, t, tat);
            goto fail;
        }
        if ((s = read_value(&c, (gguf_vtype)t, &kv->val, kb, 0))) goto fail;
        if (gguf_str_eq(kv->key, "general.alignment")) {
            uint64_t a = 0;
            if (kv->val.type == GGUF_VT_UINT32 || kv->val.type == GGUF_VT_UINT64 || kv->val.type == GGUF_VT_UINT16 || kv->val.type == GGUF_VT_UINT8)
                a = kv->val.v.u;
            else if (kv->val.type == GGUF_VT_INT32 || kv->val.type == GGUF_VT_INT64)
                a = kv->val.v.i > 0 ? (uint64_t)kv->val.v.i : 0;
            if (a == 0 || a > (1u << 30) || (a & (a - 1))) {
                s = rf_err(err, RF_ERR_FORMAT, "gguf: general.alignment at byte %llu must be a power of two, got %llu",
                           (unsigned long long)kv->offset, (unsigned long long)a);
                goto fail;
            }
            f->alignment = (uint32_t)a;
        }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if ((s = parse_tensor_info(&c, &f->tensors[i], i))) goto fail;

    /* data section */
    uint64_t data_off = (c.pos + f->alignment - 1) / f->alignment * f->alignment;
    f->data_offset = data_off;
    uint64_t data_len = data_off <= len ? len - data_off : 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        char nb[96];
        key_text(t->name, nb, sizeof nb);
        uint64_t end;
        if (t->offset % f->alignment) {
            s = rf_err(err, RF_ERR_FORMAT, "gguf: tensor '%s' data offset %llu is not aligned to %u", nb,
                       (unsigned long long)t->offset, f->alignment);
            goto fail;
        }
        if (rf_add_ovf(t->offset, t->n_bytes, &end) || end > data_len) {
            s = rf_err(err, RF_ERR_FORMAT,
                       "gguf: tensor '%s' data (offset %llu, %llu bytes) extends past the end of the file (data section %llu bytes)",
                       nb, (unsigned long long)t->offset, (unsigned long long)t->n_bytes, (unsigned long long)data_len);
            goto fail;
        }
        t->data = buf + data_off + t->offset;
    }
    if ((s = check_unique_and_disjoint(f, err))) goto fail;
    *out = f;
    return RF_OK;
fail:
    gguf_free(f);
    return s;
}

rf_status gguf_open(const char *path, gguf_file **out, rf_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rf_err(err, RF_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rf_err(err, RF_ERR_IO, "'%s' is not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) {
        close(fd);
        return rf_err(err, RF_ERR_FORMAT, "'%s' is empty", path);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return rf_err(err, RF_ERR_IO, "cannot mmap '%s': %s", path, strerror(errno));
    gguf_file *f;
    rf_status s = gguf_parse(map, len, &f, err);
    if (s) {
        /* prefix the file name so the message names the thing */
        if (err) {
            char tmp[sizeof err->msg];
            memcpy(tmp, err->msg, sizeof tmp);
            rf_err(err, s, "%s: %s", path, tmp);
        }
        munmap(map, len);
        return s;
    }
    f->map = map;
    f->map_len = len;
    f->path = strdup(path);
    *out = f;
    return RF_OK;
}

void gguf_free(gguf_file *f)
{
    if (!f) return;
    if (f->map) munmap(f->map, f->map_len);
    free(f->kv);
    free(f->tensors);
    free(f->path);
    free(f);
}

bool gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key)
{
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (gguf_str_eq(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return false;
    switch (kv->val.type) {
    case GGUF_VT_UINT8: case GGUF_VT_UINT16: case GGUF_VT_UINT32: case GGUF_VT_UINT64: case GGUF_VT_BOOL:
        if (kv->val.v.u > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)kv->val.v.u;
        return true;
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64:
        *out = kv->val.v.i;
        return true;
    default: return false;
    }
}

bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return false;
    switch (kv->val.type) {
    case GGUF_VT_UINT8: case GGUF_VT_UINT16: case GGUF_VT_UINT32: case GGUF_VT_UINT64: case GGUF_VT_BOOL:
        *out = kv->val.v.u;
        return true;
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64:
        if (kv->val.v.i < 0) return false;
        *out = (uint64_t)kv->val.v.i;
        return true;
    default: return false;
    }
}

bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out)
{
    uint64_t v;
    if (!gguf_get_u64(f, key, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

bool gguf_get_f32(const gguf_file *f, const char *key, float *out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return false;
    if (kv->val.type == GGUF_VT_FLOAT32 || kv->val.type == GGUF_VT_FLOAT64) {
        *out = (float)kv->val.v.f;
        return true;
    }
    int64_t i;
    if (kv->val.type != GGUF_VT_BOOL && gguf_get_i64(f, key, &i)) {
        *out = (float)i;
        return true;
    }
    return false;
}

bool gguf_get_bool(const gguf_file *f, const char *key, bool *out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->val.type != GGUF_VT_BOOL) return false;
    *out = kv->val.v.u != 0;
    return true;
}

bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->val.type != GGUF_VT_STRING) return false;
    *out = kv->val.v.s;
    return true;
}

char *gguf_get_str_dup(const gguf_file *f, const char *key)
{
    gguf_str s;
    if (!gguf_get_str(f, key, &s)) return NULL;
    char *r = malloc((size_t)s.len + 1);
    if (!r) return NULL;
    memcpy(r, s.ptr, (size_t)s.len);
    r[s.len] = 0;
    return r;
}

bool gguf_get_arr(const gguf_file *f, const char *key, const gguf_value **out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->val.type != GGUF_VT_ARRAY) return false;
    *out = &kv->val;
    return true;
}

void gguf_arr_iter_init(gguf_arr_iter *it, const gguf_file *f, const gguf_value *arr)
{
    it->arr = arr;
    it->i = 0;
    it->p = arr->v.arr.data;
    it->version = f->version;
}

/* Elements were validated at parse time, so walking them again with an
 * unchecked cursor over the same bytes cannot leave the buffer. */
bool gguf_arr_next(gguf_arr_iter *it, gguf_value *out)
{
    if (it->i >= it->arr->v.arr.n) return false;
    cursor c = {it->p, (size_t)-1 / 2, 0, it->version, NULL};
    if (read_value(&c, it->arr->v.arr.etype, out, "", 1) != RF_OK) return false;
    it->p += c.pos;
    it->i++;
    return true;
}

bool gguf_arr_next_str(gguf_arr_iter *it, gguf_str *out)
{
    gguf_value v;
    if (it->arr->v.arr.etype != GGUF_VT_STRING || !gguf_arr_next(it, &v)) return false;
    *out = v.v.s;
    return true;
}

double gguf_arr_f64(const gguf_value *arr, uint64_t i)
{
    gguf_value v;
    gguf_vtype t = arr->v.arr.etype;
    size_t esz = gguf_vtype_size(t);
    if (!esz || i >= arr->v.arr.n) return 0;
    decode_scalar(t, arr->v.arr.data + i * esz, &v);
    switch (t) {
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64: return v.v.f;
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64: return (double)v.v.i;
    default: return (double)v.v.u;
    }
}

int64_t gguf_arr_i64(const gguf_value *arr, uint64_t i)
{
    gguf_value v;
    gguf_vtype t = arr->v.arr.etype;
    size_t esz = gguf_vtype_size(t);
    if (!esz || i >= arr->v.arr.n) return 0;
    decode_scalar(t, arr->v.arr.data + i * esz, &v);
    switch (t) {
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64: return (int64_t)v.v.f;
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64: return v.v.i;
    default: return (int64_t)v.v.u;
    }
}

bool gguf_get_arch_u32(const gguf_file *f, const char *arch, const char *suffix, uint32_t *out)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_u32(f, key, out);
}

bool gguf_get_arch_f32(const gguf_file *f, const char *arch, const char *suffix, float *out)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_f32(f, key, out);
}
