/* cmd_inspect.c — `rocmforge inspect FILE [--tensors] [--meta] [--json]`.
 *
 * Reads only the GGUF header (the data is mmapped, never touched), so it
 * works on any file the parser accepts, vocab-only files included. The JSON
 * form carries everything the text form shows; strings from the file are
 * made valid UTF-8 (invalid bytes become U+FFFD) before they are emitted.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf/gguf.h"

#define META_ARRAY_SHOW 8   /* elements shown of a long array */

/* ------------------------------------------------------------ utilities */

/* Length of a valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_valid_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t k;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) { k = 2; min = 0x80; c &= 0x1f; }
    else if ((c & 0xf0) == 0xe0) { k = 3; min = 0x800; c &= 0x0f; }
    else if ((c & 0xf8) == 0xf0) { k = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if (k > n) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    return k;
}

/* Copy of s as valid UTF-8 (invalid bytes -> U+FFFD); caller frees. */
static char *utf8_clean(gguf_str s)
{
    char *out = malloc((size_t)s.len * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s.ptr;
    for (size_t i = 0; i < s.len;) {
        size_t k = utf8_valid_len(p + i, (size_t)s.len - i);
        if (k) {
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = 0;
    return out;
}

/* Print s for a terminal: escapes control characters, caps the length. */
static void print_str(FILE *f, gguf_str s, size_t max)
{
    fputc('"', f);
    size_t n = s.len < max ? (size_t)s.len : max;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '"' || c == '\\') { fputc('\\', f); fputc(c, f); }
        else if (c < 32 || c == 127) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fputc('"', f);
    if (n < s.len) fprintf(f, "... (%llu bytes)", (unsigned long long)s.len);
}

static void print_scalar(FILE *f, const gguf_value *v)
{
    switch (v->type) {
    case GGUF_VT_UINT8: case GGUF_VT_UINT16: case GGUF_VT_UINT32: case GGUF_VT_UINT64:
        fprintf(f, "%llu", (unsigned long long)v->v.u); break;
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64:
        fprintf(f, "%lld", (long long)v->v.i); break;
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64: fprintf(f, "%g", v->v.f); break;
    case GGUF_VT_BOOL: fputs(v->v.u ? "true" : "false", f); break;
    case GGUF_VT_STRING: print_str(f, v->v.s, 120); break;
    default: fputs("?", f);
    }
}

static void print_value(FILE *f, const gguf_file *gf, const gguf_value *v)
{
    if (v->type != GGUF_VT_ARRAY) {
        print_scalar(f, v);
        return;
    }
    fprintf(f, "[%s × %llu] [", gguf_vtype_name(v->v.arr.etype), (unsigned long long)v->v.arr.n);
    gguf_arr_iter it;
    gguf_arr_iter_init(&it, gf, v);
    uint64_t show = v->v.arr.n < META_ARRAY_SHOW ? v->v.arr.n : META_ARRAY_SHOW;
    gguf_value e;
    for (uint64_t i = 0; i < show && gguf_arr_next(&it, &e); i++) {
        if (i) fputs(", ", f);
        print_value(f, gf, &e);
    }
    if (show < v->v.arr.n) fputs(", ...", f);
    fputc(']', f);
}

static json_t *json_str(gguf_str s)
{
    char *c = utf8_clean(s);
    json_t *j = c ? json_string(c) : json_null();
    free(c);
    return j ? j : json_null();
}

static json_t *value_json(const gguf_file *gf, const gguf_value *v, uint64_t max_elems)
{
    switch (v->type) {
    case GGUF_VT_UINT8: case GGUF_VT_UINT16: case GGUF_VT_UINT32: case GGUF_VT_UINT64:
        return json_integer((json_int_t)v->v.u);
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64: return json_integer(v->v.i);
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64: return json_real(v->v.f);
    case GGUF_VT_BOOL: return json_boolean(v->v.u);
    case GGUF_VT_STRING: return json_str(v->v.s);
    case GGUF_VT_ARRAY: {
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(gguf_vtype_name(v->v.arr.etype)));
        json_object_set_new(o, "length", json_integer((json_int_t)v->v.arr.n));
        json_t *a = json_array();
        gguf_arr_iter it;
        gguf_arr_iter_init(&it, gf, v);
        uint64_t show = v->v.arr.n < max_elems ? v->v.arr.n : max_elems;
        gguf_value e;
        for (uint64_t i = 0; i < show && gguf_arr_next(&it, &e); i++)
            json_array_append_new(a, value_json(gf, &e, max_elems));
        json_object_set_new(o, "values", a);
        json_object_set_new(o, "truncated", json_boolean(show < v->v.arr.n));
        return o;
    }
    default: return json_null();
    }
}

/* --------------------------------------------------------------- summary */

typedef struct type_mix { uint64_t n_tensors, n_bytes, n_elements; } type_mix;

typedef struct summary {
    const char *arch_c;     /* NUL-terminated copy */
    char arch[64];
    uint64_t n_params, n_bytes;
    type_mix mix[RF_TYPE_COUNT];
} summary;

static void summarize(const gguf_file *f, summary *s)
{
    memset(s, 0, sizeof *s);
    gguf_str a;
    if (gguf_get_str(f, "general.architecture", &a)) {
        size_t n = a.len < sizeof s->arch - 1 ? (size_t)a.len : sizeof s->arch - 1;
        memcpy(s->arch, a.ptr, n);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        s->n_params += t->n_elements;
        s->n_bytes += t->n_bytes;
        s->mix[t->type].n_tensors++;
        s->mix[t->type].n_bytes += t->n_bytes;
        s->mix[t->type].n_elements += t->n_elements;
    }
}

static const char *special_keys[][2] = {
    {"bos", "tokenizer.ggml.bos_token_id"},       {"eos", "tokenizer.ggml.eos_token_id"},
    {"eot", "tokenizer.ggml.eot_token_id"},       {"eom", "tokenizer.ggml.eom_token_id"},
    {"unk", "tokenizer.ggml.unknown_token_id"},   {"sep", "tokenizer.ggml.seperator_token_id"},
    {"pad", "tokenizer.ggml.padding_token_id"},   {"mask", "tokenizer.ggml.mask_token_id"},
};

/* Text of token `id` from tokenizer.ggml.tokens, if present. */
static bool token_text(const gguf_file *f, uint64_t id, gguf_str *out)
{
    const gguf_value *arr;
    if (!gguf_get_arr(f, "tokenizer.ggml.tokens", &arr) || arr->v.arr.etype != GGUF_VT_STRING || id >= arr->v.arr.n)
        return false;
    gguf_arr_iter it;
    gguf_arr_iter_init(&it, f, arr);
    for (uint64_t i = 0; gguf_arr_next_str(&it, out); i++)
        if (i == id) return true;
    return false;
}

static uint64_t vocab_size(const gguf_file *f)
{
    const gguf_value *arr;
    return gguf_get_arr(f, "tokenizer.ggml.tokens", &arr) ? arr->v.arr.n : 0;
}

/* arch-scoped hyperparameters shown in the summary: (label, key suffix) */
static const char *hparam_keys[][2] = {
    {"context length", "context_length"},     {"embedding size", "embedding_length"},
    {"layers", "block_count"},                {"feed-forward size", "feed_forward_length"},
    {"heads", "attention.head_count"},        {"KV heads", "attention.head_count_kv"},
    {"head dim (K)", "attention.key_length"}, {"head dim (V)", "attention.value_length"},
    {"norm eps", "attention.layer_norm_rms_epsilon"},
    {"sliding window", "attention.sliding_window"},
    {"rope dims", "rope.dimension_count"},    {"rope base", "rope.freq_base"},
    {"rope scaling", "rope.scaling.type"},    {"rope scale factor", "rope.scaling.factor"},
    {"rope orig ctx", "rope.scaling.original_context_length"},
    {"experts", "expert_count"},              {"experts used", "expert_used_count"},
};

static void print_text(const gguf_file *f, const summary *s, bool tensors, bool meta)
{
    printf("file:          %s\n", f->path ? f->path : "?");
    printf("GGUF version:  %u (alignment %u, %llu metadata keys, %llu tensors)\n", f->version, f->alignment,
           (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors);
    printf("architecture:  %s\n", s->arch[0] ? s->arch : "(none)");
    gguf_str name;
    printf("name:          ");
    if (gguf_get_str(f, "general.name", &name)) print_str(stdout, name, 200); else printf("(none)");
    printf("\n");
    printf("parameters:    %llu (%.2f M)\n", (unsigned long long)s->n_params, (double)s->n_params / 1e6);
    printf("tensor bytes:  %llu (%.2f MiB)\n", (unsigned long long)s->n_bytes, (double)s->n_bytes / (1 << 20));
    uint32_t ft;
    if (gguf_get_u32(f, "general.file_type", &ft))
        printf("file type:     %s (%u)\n", rf_ftype_name(ft) ? rf_ftype_name(ft) : "unknown", ft);
    else
        printf("file type:     (not set)\n");
    if (f->n_tensors) {
        printf("type mix:\n");
        for (int t = 0; t < RF_TYPE_COUNT; t++)
            if (s->mix[t].n_tensors)
                printf("  %-8s %5llu tensors %12llu bytes %6.2f%%\n", rf_type_name((uint32_t)t),
                       (unsigned long long)s->mix[t].n_tensors, (unsigned long long)s->mix[t].n_bytes,
                       s->n_bytes ? 100.0 * (double)s->mix[t].n_bytes / (double)s->n_bytes : 0.0);
    }
    if (s->arch[0]) {
        char key[160];
        for (size_t i = 0; i < sizeof hparam_keys / sizeof hparam_keys[0]; i++) {
            snprintf(key, sizeof key, "%s.%s", s->arch, hparam_keys[i][1]);
            const gguf_kv *kv = gguf_find(f, key);
            if (!kv) continue;
            printf("%-15s", hparam_keys[i][0]);
            printf(": ");
            print_value(stdout, f, &kv->val);
            printf("\n");
        }
    }
    gguf_str tm;
    printf("tokenizer:     ");
    if (gguf_get_str(f, "tokenizer.ggml.model", &tm)) print_str(stdout, tm, 64); else printf("(none)");
    gguf_str pre;
    if (gguf_get_str(f, "tokenizer.ggml.pre", &pre)) { printf(", pre "); print_str(stdout, pre, 64); }
    printf(", %llu tokens\n", (unsigned long long)vocab_size(f));
    for (size_t i = 0; i < sizeof special_keys / sizeof special_keys[0]; i++) {
        uint64_t id;
        if (!gguf_get_u64(f, special_keys[i][1], &id)) continue;
        gguf_str txt;
        printf("  %-5s token: %llu ", special_keys[i][0], (unsigned long long)id);
        if (token_text(f, id, &txt)) print_str(stdout, txt, 64); else printf("(out of vocab)");
        printf("\n");
    }
    gguf_str tmpl;
    bool has_tmpl = gguf_get_str(f, "tokenizer.chat_template", &tmpl);
    printf("chat template: %s", has_tmpl ? "yes" : "no");
    if (has_tmpl) printf(" (%llu bytes)", (unsigned long long)tmpl.len);
    printf("\n");

    if (meta) {
        printf("\nmetadata:\n");
        for (uint64_t i = 0; i < f->n_kv; i++) {
            printf("  ");
            print_str(stdout, f->kv[i].key, 200);
            printf(" (%s) = ", gguf_vtype_name(f->kv[i].val.type));
            print_value(stdout, f, &f->kv[i].val);
            printf("\n");
        }
    }
    if (tensors) {
        printf("\ntensors:\n  %-40s %-8s %-28s %12s %12s\n", "name", "type", "shape", "offset", "bytes");
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            char shape[96];
            int n = snprintf(shape, sizeof shape, "[");
            for (uint32_t d = 0; d < t->n_dims && n < (int)sizeof shape; d++)
                n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%llu", d ? ", " : "", (unsigned long long)t->ne[d]);
            if (n < (int)sizeof shape) snprintf(shape + n, sizeof shape - (size_t)n, "]");
            printf("  %-40.*s %-8s %-28s %12llu %12llu\n", (int)(t->name.len < 200 ? t->name.len : 200), t->name.ptr,
                   rf_type_name(t->type), shape, (unsigned long long)t->offset, (unsigned long long)t->n_bytes);
        }
    }
}

static json_t *build_json(const gguf_file *f, const summary *s, bool tensors, bool meta)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(f->path ? f->path : ""));
    json_object_set_new(o, "gguf_version", json_integer(f->version));
    json_object_set_new(o, "alignment", json_integer(f->alignment));
    json_object_set_new(o, "n_kv", json_integer((json_int_t)f->n_kv));
    json_object_set_new(o, "n_tensors", json_integer((json_int_t)f->n_tensors));
    json_object_set_new(o, "architecture", s->arch[0] ? json_string(s->arch) : json_null());
    gguf_str name;
    json_object_set_new(o, "name", gguf_get_str(f, "general.name", &name) ? json_str(name) : json_null());
    json_object_set_new(o, "n_params", json_integer((json_int_t)s->n_params));
    json_object_set_new(o, "n_bytes", json_integer((json_int_t)s->n_bytes));
    uint32_t ft;
    if (gguf_get_u32(f, "general.file_type", &ft)) {
        json_object_set_new(o, "file_type", json_integer(ft));
        json_object_set_new(o, "file_type_name", rf_ftype_name(ft) ? json_string(rf_ftype_name(ft)) : json_null());
    }
    json_t *mix = json_object();
    for (int t = 0; t < RF_TYPE_COUNT; t++)
        if (s->mix[t].n_tensors) {
            json_t *m = json_object();
            json_object_set_new(m, "tensors", json_integer((json_int_t)s->mix[t].n_tensors));
            json_object_set_new(m, "bytes", json_integer((json_int_t)s->mix[t].n_bytes));
            json_object_set_new(m, "share", json_real(s->n_bytes ? (double)s->mix[t].n_bytes / (double)s->n_bytes : 0));
            json_object_set_new(mix, rf_type_name((uint32_t)t), m);
        }
    json_object_set_new(o, "type_mix", mix);
    json_t *hp = json_object();
    if (s->arch[0]) {
        char key[160];
        for (size_t i = 0; i < sizeof hparam_keys / sizeof hparam_keys[0]; i++) {
            snprintf(key, sizeof key, "%s.%s", s->arch, hparam_keys[i][1]);
            const gguf_kv *kv = gguf_find(f, key);
            if (kv) json_object_set_new(hp, hparam_keys[i][1], value_json(f, &kv->val, 64));
        }
    }
    json_object_set_new(o, "hparams", hp);
    json_t *tok = json_object();
    gguf_str tm;
    json_object_set_new(tok, "model", gguf_get_str(f, "tokenizer.ggml.model", &tm) ? json_str(tm) : json_null());
    json_object_set_new(tok, "pre", gguf_get_str(f, "tokenizer.ggml.pre", &tm) ? json_str(tm) : json_null());
    json_object_set_new(tok, "n_vocab", json_integer((json_int_t)vocab_size(f)));
    json_t *sp = json_object();
    for (size_t i = 0; i < sizeof special_keys / sizeof special_keys[0]; i++) {
        uint64_t id;
        if (!gguf_get_u64(f, special_keys[i][1], &id)) continue;
        json_t *e = json_object();
        json_object_set_new(e, "id", json_integer((json_int_t)id));
        gguf_str txt;
        json_object_set_new(e, "text", token_text(f, id, &txt) ? json_str(txt) : json_null());
        json_object_set_new(sp, special_keys[i][0], e);
    }
    json_object_set_new(tok, "special", sp);
    gguf_str tmpl;
    json_object_set_new(tok, "has_chat_template", json_boolean(gguf_get_str(f, "tokenizer.chat_template", &tmpl)));
    json_object_set_new(o, "tokenizer", tok);
    if (meta) {
        json_t *m = json_array();
        for (uint64_t i = 0; i < f->n_kv; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "key", json_str(f->kv[i].key));
            json_object_set_new(e, "type", json_string(gguf_vtype_name(f->kv[i].val.type)));
            json_object_set_new(e, "value", value_json(f, &f->kv[i].val, META_ARRAY_SHOW));
            json_array_append_new(m, e);
        }
        json_object_set_new(o, "metadata", m);
    }
    if (tensors) {
        json_t *ts = json_array();
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            json_t *e = json_object();
            json_object_set_new(e, "name", json_str(t->name));
            json_object_set_new(e, "type", json_string(rf_type_name(t->type)));
            json_t *shape = json_array();
            for (uint32_t d = 0; d < t->n_dims; d++) json_array_append_new(shape, json_integer((json_int_t)t->ne[d]));
            json_object_set_new(e, "shape", shape);
            json_object_set_new(e, "offset", json_integer((json_int_t)t->offset));
            json_object_set_new(e, "bytes", json_integer((json_int_t)t->n_bytes));
            json_array_append_new(ts, e);
        }
        json_object_set_new(o, "tensors", ts);
    }
    return o;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rocmforge inspect FILE [--tensors] [--meta] [--json]\n"
               "  --tensors  list every tensor (name, type, shape, offset, bytes)\n"
               "  --meta     print all metadata (long arrays abbreviated)\n"
               "  --json     machine-readable output\n");
}

int cmd_inspect(int argc, char **argv)
{
    bool tensors = false, meta = false, json = false;
    static const struct option opts[] = {
        {"tensors", no_argument, 0, 't'}, {"meta", no_argument, 0, 'm'},
        {"json", no_argument, 0, 'j'},    {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't': tensors = true; break;
        case 'm': meta = true; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    gguf_file *f;
    rf_error err = {0};
    if (gguf_open(argv[optind], &f, &err) != RF_OK) {
        fprintf(stderr, "rocmforge inspect: %s\n", err.msg);
        return 1;
    }
    summary s;
    summarize(f, &s);
    if (json) {
        json_t *o = build_json(f, &s, tensors, meta);
        char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (txt) puts(txt);
        free(txt);
        json_decref(o);
    } else {
        print_text(f, &s, tensors, meta);
    }
    gguf_free(f);
    return 0;
}
