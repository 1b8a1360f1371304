/* gguf_write.c — GGUF v3 writer (see gguf_write.h).
 *
 * Each key/value is serialized into its own byte buffer when it is set, so
 * replacing a value is a buffer swap and writing the header is a copy.
 * Tensor data is never held by the writer: it is copied from the caller's
 * pointer or produced by the fill callback into one reusable buffer sized
 * for the largest callback tensor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "gguf/gguf_write.h"

#define GGUF_MAX_NAME 64        /* llama.cpp rejects tensor names this long or longer */
#define GGUF_DEFAULT_ALIGN 32

typedef struct bytes { uint8_t *p; size_t n, cap; } bytes;

static bool bytes_put(bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n) {
            if (cap > SIZE_MAX / 2) return false;
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
    return true;
}
static bool bytes_u32(bytes *b, uint32_t v) { return bytes_put(b, &v, 4); }
static bool bytes_u64(bytes *b, uint64_t v) { return bytes_put(b, &v, 8); }
static bool bytes_str(bytes *b, const char *s, uint64_t len) { return bytes_u64(b, len) && bytes_put(b, s, (size_t)len); }

typedef struct wkv {
    char *key;
    gguf_vtype type;
    bytes val;           /* serialized value, without the type tag */
} wkv;

typedef struct wtensor {
    char *name;
    rf_type type;
    uint32_t n_dims;
    uint64_t ne[4];
    uint64_t nbytes;
    const void *data;
    gguf_tensor_fill_fn fill;
    void *user;
} wtensor;

struct gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

gguf_writer *gguf_writer_new(rf_error *err) { return rf_calloc(1, sizeof(gguf_writer), err, "gguf writer"); }

void gguf_writer_free(gguf_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val.p);
    }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

uint64_t gguf_writer_n_tensors(const gguf_writer *w) { return w ? w->n_t : 0; }

static wkv *find_kv(gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key)) return &w->kv[i];
    return NULL;
}

void gguf_writer_remove(gguf_writer *w, const char *key)
{
    wkv *kv = w ? find_kv(w, key) : NULL;
    if (!kv) return;
    free(kv->key);
    free(kv->val.p);
    size_t i = (size_t)(kv - w->kv);
    memmove(&w->kv[i], &w->kv[i + 1], (w->n_kv - i - 1) * sizeof(wkv));
    w->n_kv--;
}

/* Installs a serialized value under key (replacing any previous one); takes
 * ownership of val. */
static rf_status put_kv(gguf_writer *w, const char *key, gguf_vtype type, bytes *val, rf_error *err)
{
    if (!w || !key || !*key) {
        free(val->p);
        return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: empty key");
    }
    wkv *kv = find_kv(w, key);
    if (kv) {
        free(kv->val.p);
        kv->type = type;
        kv->val = *val;
        return RF_OK;
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *p = realloc(w->kv, cap * sizeof(wkv));
        if (!p) {
            free(val->p);
            return rf_err(err, RF_ERR_NOMEM, "gguf writer: out of memory adding key '%s'", key);
        }
        w->kv = p;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(val->p);
        return rf_err(err, RF_ERR_NOMEM, "gguf writer: out of memory adding key '%s'", key);
    }
    w->kv[w->n_kv++] = (wkv){k, type, *val};
    return RF_OK;
}

static rf_status put_scalar(gguf_writer *w, const char *key, gguf_vtype type, const void *v, size_t size, rf_error *err)
{
    bytes b = {0};
    if (!bytes_put(&b, v, size)) return rf_err(err, RF_ERR_NOMEM, "gguf writer: out of memory for key '%s'", key);
    return put_kv(w, key, type, &b, err);
}

rf_status gguf_writer_set_u8(gguf_writer *w, const char *k, uint8_t v, rf_error *e) { return put_scalar(w, k, GGUF_VT_UINT8, &v, 1, e); }
rf_status gguf_writer_set_i8(gguf_writer *w, const char *k, int8_t v, rf_error *e) { return put_scalar(w, k, GGUF_VT_INT8, &v, 1, e); }
rf_status gguf_writer_set_u16(gguf_writer *w, const char *k, uint16_t v, rf_error *e) { return put_scalar(w, k, GGUF_VT_UINT16, &v, 2, e); }
rf_status gguf_writer_set_i16(gguf_writer *w, const char *k, int16_t v, rf_error *e) { return put_scalar(w, k, GGUF_VT_INT16, &v, 2, e); }
rf_status gguf_writer_set_u32(gguf_writer *w, const char *k, uint32_t v, rf_error *e) { return put_scalar(w, k, GGUF_VT_UINT32, &v, 4, e); }
rf_status gguf_writer_set_i32(gguf_writer *w, const char *k, int32_t v, rf_error *e) { return put_scalar(w, k, GGUF_VT_INT32, &v, 4, e); }
rf_status gguf_writer_set_u64(gguf_writer *w, const char *k, uint64_t v, rf_error *e) { return put_scalar(w, k, GGUF_VT_UINT64, &v, 8, e); }
rf_status gguf_writer_set_i64(gguf_writer *w, const char *k, int64_t v, rf_error *e) { return put_scalar(w, k, GGUF_VT_INT64, &v, 8, e); }
rf_status gguf_writer_set_f32(gguf_writer *w, const char *k, float v, rf_error *e) { return put_scalar(w, k, GGUF_VT_FLOAT32, &v, 4, e); }
rf_status gguf_writer_set_f64(gguf_writer *w, const char *k, double v, rf_error *e) { return put_scalar(w, k, GGUF_VT_FLOAT64, &v, 8, e); }
rf_status gguf_writer_set_bool(gguf_writer *w, const char *k, bool v, rf_error *e)
{
    uint8_t b = v ? 1 : 0;
    return put_scalar(w, k, GGUF_VT_BOOL, &b, 1, e);
}

rf_status gguf_writer_set_strn(gguf_writer *w, const char *key, const char *v, uint64_t len, rf_error *err)
{
    bytes b = {0};
    if (!v && len) return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: NULL string for key '%s'", key);
    if (!bytes_str(&b, v ? v : "", len)) {
        free(b.p);
        return rf_err(err, RF_ERR_NOMEM, "gguf writer: out of memory for key '%s'", key);
    }
    return put_kv(w, key, GGUF_VT_STRING, &b, err);
}

rf_status gguf_writer_set_str(gguf_writer *w, const char *key, const char *v, rf_error *err)
{
    return gguf_writer_set_strn(w, key, v, v ? strlen(v) : 0, err);
}

rf_status gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype etype, const void *data, uint64_t n,
                              rf_error *err)
{
    size_t esz = gguf_vtype_size(etype);
    uint64_t total;
    if (!esz || etype >= GGUF_VT_COUNT)
        return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: key '%s': element type %d is not a fixed-size type", key, (int)etype);
    if (rf_mul_ovf(n, esz, &total) || total > SIZE_MAX / 2 || (n && !data))
        return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: key '%s': bad array of %llu elements", key, (unsigned long long)n);
    bytes b = {0};
    if (!bytes_u32(&b, (uint32_t)etype) || !bytes_u64(&b, n) || !bytes_put(&b, data, (size_t)total)) {
        free(b.p);
        return rf_err(err, RF_ERR_NOMEM, "gguf writer: out of memory for key '%s'", key);
    }
    return put_kv(w, key, GGUF_VT_ARRAY, &b, err);
}

rf_status gguf_writer_set_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n, rf_error *err)
{
    return gguf_writer_set_arr(w, key, GGUF_VT_FLOAT32, v, n, err);
}
rf_status gguf_writer_set_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n, rf_error *err)
{
    return gguf_writer_set_arr(w, key, GGUF_VT_INT32, v, n, err);
}

rf_status gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n, rf_error *err)
{
    bytes b = {0};
    bool ok = bytes_u32(&b, GGUF_VT_STRING) && bytes_u64(&b, n);
    for (uint64_t i = 0; ok && i < n; i++) {
        if (!v[i]) {
            free(b.p);
            return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: key '%s': string %llu is NULL", key, (unsigned long long)i);
        }
        ok = bytes_str(&b, v[i], strlen(v[i]));
    }
    if (!ok) {
        free(b.p);
        return rf_err(err, RF_ERR_NOMEM, "gguf writer: out of memory for key '%s'", key);
    }
    return put_kv(w, key, GGUF_VT_ARRAY, &b, err);
}

/* Serializes a parsed value (payload only) into b. */
static bool serialize_value(bytes *b, const gguf_file *f, const gguf_value *v, int depth)
{
    if (depth > 8) return false;
    switch (v->type) {
    case GGUF_VT_UINT8: case GGUF_VT_BOOL: { uint8_t x = (uint8_t)v->v.u; return bytes_put(b, &x, 1); }
    case GGUF_VT_INT8: { int8_t x = (int8_t)v->v.i; return bytes_put(b, &x, 1); }
    case GGUF_VT_UINT16: { uint16_t x = (uint16_t)v->v.u; return bytes_put(b, &x, 2); }
    case GGUF_VT_INT16: { int16_t x = (int16_t)v->v.i; return bytes_put(b, &x, 2); }
    case GGUF_VT_UINT32: { uint32_t x = (uint32_t)v->v.u; return bytes_put(b, &x, 4); }
    case GGUF_VT_INT32: { int32_t x = (int32_t)v->v.i; return bytes_put(b, &x, 4); }
    case GGUF_VT_UINT64: return bytes_put(b, &v->v.u, 8);
    case GGUF_VT_INT64: return bytes_put(b, &v->v.i, 8);
    case GGUF_VT_FLOAT32: { float x = (float)v->v.f; return bytes_put(b, &x, 4); }
    case GGUF_VT_FLOAT64: return bytes_put(b, &v->v.f, 8);
    case GGUF_VT_STRING: return bytes_str(b, v->v.s.ptr, v->v.s.len);
    case GGUF_VT_ARRAY: {
        gguf_vtype et = v->v.arr.etype;
        if (!bytes_u32(b, (uint32_t)et) || !bytes_u64(b, v->v.arr.n)) return false;
        size_t esz = gguf_vtype_size(et);
        /* fixed-size elements have the same bytes in every version */
        if (esz) return bytes_put(b, v->v.arr.data, (size_t)v->v.arr.nbytes);
        gguf_arr_iter it;
        gguf_arr_iter_init(&it, f, v);
        gguf_value e;
        uint64_t k = 0;
        while (gguf_arr_next(&it, &e)) {
            if (!serialize_value(b, f, &e, depth + 1)) return false;
            k++;
        }
        return k == v->v.arr.n;
    }
    default: return false;
    }
}

rf_status gguf_writer_copy_value(gguf_writer *w, const gguf_file *f, const gguf_kv *kv, rf_error *err)
{
    char key[1024];
    if (kv->key.len >= sizeof key)
        return rf_err(err, RF_ERR_UNSUPPORTED, "gguf writer: key of %llu bytes is too long to copy", (unsigned long long)kv->key.len);
    memcpy(key, kv->key.ptr, (size_t)kv->key.len);
    key[kv->key.len] = 0;
    bytes b = {0};
    if (!serialize_value(&b, f, &kv->val, 0)) {
        free(b.p);
        return rf_err(err, RF_ERR_FORMAT, "gguf writer: cannot copy the value of key '%s'", key);
    }
    return put_kv(w, key, kv->val.type, &b, err);
}

rf_status gguf_writer_copy_kv(gguf_writer *w, const gguf_file *f, const char *const *except, rf_error *err)
{
    for (uint64_t i = 0; i < f->n_kv; i++) {
        bool skip = false;
        for (const char *const *e = except; e && *e && !skip; e++) skip = gguf_str_eq(f->kv[i].key, *e);
        if (skip) continue;
        rf_status st = gguf_writer_copy_value(w, f, &f->kv[i], err);
        if (st != RF_OK) return st;
    }
    return RF_OK;
}

/* ------------------------------------------------------------- tensors */
static rf_status add_tensor(gguf_writer *w, const char *name, rf_type type, uint32_t n_dims, const uint64_t *ne,
                            const void *data, uint64_t nbytes, gguf_tensor_fill_fn fill, void *user, rf_error *err)
{
    if (!w || !name || !*name) return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: tensor without a name");
    if (strlen(name) >= GGUF_MAX_NAME)
        return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: tensor name '%s' is %zu bytes (llama.cpp allows at most %d)",
                      name, strlen(name), GGUF_MAX_NAME - 1);
    const rf_type_traits *tr = rf_type_get((uint32_t)type);
    if (!tr || tr->removed || !tr->block_size)
        return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: tensor '%s': invalid type %d", name, (int)type);
    if (n_dims < 1 || n_dims > 4 || !ne)
        return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: tensor '%s': %u dimensions (1..4 allowed)", name, n_dims);
    uint64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; d++)
        if (rf_mul_ovf(rows, ne[d], &rows))
            return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: tensor '%s': shape overflows", name);
    uint64_t rb = rf_type_row_bytes(type, ne[0]), want;
    if (ne[0] == 0 || rb == 0)
        return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: tensor '%s': %llu columns is not a multiple of %s's block size %u",
                      name, (unsigned long long)ne[0], tr->name, tr->block_size);
    if (rf_mul_ovf(rb, rows, &want))
        return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: tensor '%s': size overflows", name);
    if (!fill && (nbytes != want || !data))
        return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: tensor '%s': %llu bytes given, %s shape needs %llu",
                      name, (unsigned long long)nbytes, tr->name, (unsigned long long)want);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: duplicate tensor '%s'", name);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *p = realloc(w->t, cap * sizeof(wtensor));
        if (!p) return rf_err(err, RF_ERR_NOMEM, "gguf writer: out of memory adding tensor '%s'", name);
        w->t = p;
        w->cap_t = cap;
    }
    wtensor t = {.name = strdup(name), .type = type, .n_dims = n_dims, .nbytes = want, .data = data, .fill = fill, .user = user};
    if (!t.name) return rf_err(err, RF_ERR_NOMEM, "gguf writer: out of memory adding tensor '%s'", name);
    for (int d = 0; d < 4; d++) t.ne[d] = (uint32_t)d < n_dims ? ne[d] : 1;
    w->t[w->n_t++] = t;
    return RF_OK;
}

rf_status gguf_writer_add_tensor(gguf_writer *w, const char *name, rf_type type, uint32_t n_dims, const uint64_t *ne,
                                 const void *data, uint64_t nbytes, rf_error *err)
{
    return add_tensor(w, name, type, n_dims, ne, data, nbytes, NULL, NULL, err);
}

rf_status gguf_writer_add_tensor_fill(gguf_writer *w, const char *name, rf_type type, uint32_t n_dims,
                                      const uint64_t *ne, gguf_tensor_fill_fn fill, void *user, rf_error *err)
{
    if (!fill) return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: tensor '%s': no fill function", name ? name : "");
    return add_tensor(w, name, type, n_dims, ne, NULL, 0, fill, user, err);
}

/* --------------------------------------------------------------- write */
static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static bool write_all(FILE *fp, const void *p, size_t n) { return fwrite(p, 1, n, fp) == n; }

static bool write_zeros(FILE *fp, uint64_t n)
{
    static const uint8_t zeros[256];
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (!write_all(fp, zeros, k)) return false;
        n -= k;
    }
    return true;
}

rf_status gguf_writer_write(gguf_writer *w, const char *path,
                            void (*progress)(void *user, uint64_t done, uint64_t total), void *progress_user,
                            rf_error *err)
{
    if (!w || !path) return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: no file name");
    uint32_t align = GGUF_DEFAULT_ALIGN;
    wkv *ak = find_kv(w, "general.alignment");
    if (ak) {
        if (ak->type != GGUF_VT_UINT32 || ak->val.n != 4)
            return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: general.alignment must be a uint32");
        memcpy(&align, ak->val.p, 4);
        if (align == 0 || (align & (align - 1)))
            return rf_err(err, RF_ERR_INVALID_ARG, "gguf writer: general.alignment %u is not a power of two", align);
    }

    /* header + metadata + tensor infos, in memory (a few MB at most: vocab) */
    bytes h = {0};
    bool ok = bytes_put(&h, "GGUF", 4) && bytes_u32(&h, 3) && bytes_u64(&h, w->n_t) && bytes_u64(&h, w->n_kv);
    for (size_t i = 0; ok && i < w->n_kv; i++)
        ok = bytes_str(&h, w->kv[i].key, strlen(w->kv[i].key)) && bytes_u32(&h, (uint32_t)w->kv[i].type) &&
             bytes_put(&h, w->kv[i].val.p, w->kv[i].val.n);
    uint64_t off = 0, max_fill = 0;
    for (size_t i = 0; ok && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        ok = bytes_str(&h, t->name, strlen(t->name)) && bytes_u32(&h, t->n_dims);
        for (uint32_t d = 0; ok && d < t->n_dims; d++) ok = bytes_u64(&h, t->ne[d]);
        ok = ok && bytes_u32(&h, (uint32_t)t->type) && bytes_u64(&h, off);
        off = align_up(off + t->nbytes, align);
        if (t->fill && t->nbytes > max_fill) max_fill = t->nbytes;
    }
    if (!ok) {
        free(h.p);
        return rf_err(err, RF_ERR_NOMEM, "gguf writer: out of memory building the header of %s", path);
    }

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    uint8_t *buf = max_fill ? malloc((size_t)max_fill) : NULL;
    if (!tmp || (max_fill && !buf)) {
        free(h.p);
        free(tmp);
        free(buf);
        return rf_err(err, RF_ERR_NOMEM, "gguf writer: cannot allocate %llu bytes for tensor data",
                      (unsigned long long)max_fill);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    rf_status st = RF_OK;
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        st = rf_err(err, RF_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }
    if (!write_all(fp, h.p, h.n) || !write_zeros(fp, align_up(h.n, align) - h.n)) {
        st = rf_err(err, RF_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        const void *data = t->data;
        if (t->fill) {
            st = t->fill(t->user, i, buf, t->nbytes, err);
            if (st != RF_OK) goto done;
            data = buf;
        }
        if (!write_all(fp, data, (size_t)t->nbytes) || !write_zeros(fp, align_up(t->nbytes, align) - t->nbytes)) {
            st = rf_err(err, RF_ERR_IO, "cannot write tensor '%s' to %s: %s", t->name, tmp, strerror(errno));
            goto done;
        }
        if (progress) progress(progress_user, i + 1, w->n_t);
    }
    if (fflush(fp) != 0 || ferror(fp)) {
        st = rf_err(err, RF_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto done;
    }
done:
    if (fp && fclose(fp) != 0 && st == RF_OK) st = rf_err(err, RF_ERR_IO, "cannot close %s: %s", tmp, strerror(errno));
    if (st == RF_OK && rename(tmp, path) != 0) st = rf_err(err, RF_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != RF_OK && fp) remove(tmp);
    free(tmp);
    free(buf);
    free(h.p);
    return st;
}
