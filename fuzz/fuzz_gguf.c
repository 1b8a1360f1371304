/* fuzz_gguf.c — libFuzzer target for the GGUF parser. Besides parsing, it
 * walks what an accepted file exposes (every metadata array, every string,
 * every tensor's data range) the way the loader and `inspect` do, so a
 * parser that accepts something inconsistent is caught by ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

static volatile uint64_t sink;

static void walk(const gguf_file *f, const gguf_value *v, int depth)
{
    if (v->type != GGUF_VT_ARRAY || depth > 10) return;
    gguf_arr_iter it;
    gguf_arr_iter_init(&it, f, v);
    gguf_value e;
    while (gguf_arr_next(&it, &e)) {
        if (e.type == GGUF_VT_STRING && e.v.s.len) sink += (uint8_t)e.v.s.ptr[e.v.s.len - 1];
        else if (e.type == GGUF_VT_ARRAY) walk(f, &e, depth + 1);
        else sink += e.v.u;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size copy so ASan sees reads past the end */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    gguf_file *f = NULL;
    rf_error err;
    if (gguf_parse(buf, size, &f, &err) == RF_OK) {
        for (uint64_t i = 0; i < f->n_kv; i++) {
            const gguf_kv *kv = &f->kv[i];
            if (kv->key.len) sink += (uint8_t)kv->key.ptr[kv->key.len - 1];
            if (kv->val.type == GGUF_VT_STRING && kv->val.v.s.len) sink += (uint8_t)kv->val.v.s.ptr[kv->val.v.s.len - 1];
            walk(f, &kv->val, 0);
        }
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            if (t->n_bytes) sink += t->data[0] + t->data[t->n_bytes - 1];
        }
        gguf_free(f);
    }
    free(buf);
    return 0;
}
