/* vocab.c — loading a vocab from GGUF metadata, lookups, special tokens,
 * the special-token partition of the input and the tokenize / piece entry
 * points.
 *
 * Design: every token string lives in one arena (NUL-terminated so it can
 * be handed out as a C string); text -> id and (left, right) -> merge rank
 * are open-addressing hash tables over that arena, so a lookup hashes the
 * query once and compares bytes only on a hash-slot hit. Pieces (what a
 * token renders as) are computed once at load, as llama.cpp does, so
 * token_to_piece is a copy.
 *
 * The load rules (family defaults, special ids, add_bos/add_eos, EOG
 * detection by text, attribute fix-ups) follow llama.cpp's
 * llama_vocab::impl::load, because token ids must match it.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* ------------------------------------------------------------- UTF-8 */

uint32_t tok_utf8_decode(const uint8_t *s, size_t n, size_t *i)
{
    size_t o = *i;
    uint8_t c = s[o];
    if (!(c & 0x80)) {
        *i = o + 1;
        return c;
    }
    if (!(c & 0x40))
        goto bad;
    if (!(c & 0x20)) {
        if (o + 1 >= n || (s[o + 1] & 0xc0) != 0x80)
            goto bad;
        *i = o + 2;
        return ((uint32_t)(c & 0x1f) << 6) | (s[o + 1] & 0x3f);
    }
    if (!(c & 0x10)) {
        if (o + 2 >= n || (s[o + 1] & 0xc0) != 0x80 || (s[o + 2] & 0xc0) != 0x80)
            goto bad;
        *i = o + 3;
        return ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(s[o + 1] & 0x3f) << 6) | (s[o + 2] & 0x3f);
    }
    if (!(c & 0x08)) {
        if (o + 3 >= n || (s[o + 1] & 0xc0) != 0x80 || (s[o + 2] & 0xc0) != 0x80 ||
            (s[o + 3] & 0xc0) != 0x80)
            goto bad;
        *i = o + 4;
        return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[o + 1] & 0x3f) << 12) |
               ((uint32_t)(s[o + 2] & 0x3f) << 6) | (s[o + 3] & 0x3f);
    }
bad:
    *i = o + 1;
    return 0xFFFD;
}

int tok_utf8_encode(uint32_t cp, char *out)
{
    if (cp <= 0x7f) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp <= 0x7ff) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp <= 0xffff) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    if (cp <= 0x10ffff) {
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
    }
    return 0;
}

/* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 bytes to U+0100.. in byte order. */
static bool gpt2_byte_printable(int b)
{
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

uint32_t tok_byte_to_cp(uint8_t b)
{
    if (gpt2_byte_printable(b))
        return b;
    int n = 0;
    for (int c = 0; c < b; c++)
        n += !gpt2_byte_printable(c);
    return 256u + (uint32_t)n;
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 256)
        return gpt2_byte_printable((int)cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    int n = (int)(cp - 256);
    for (int c = 0; c < 256; c++)
        if (!gpt2_byte_printable(c) && n-- == 0)
            return c;
    return -1;
}

/* ------------------------------------------------------- token lists */

bool tok_list_grow(tok_list *l, size_t need)
{
    if (l->oom)
        return false;
    if (need <= l->cap)
        return true;
    size_t cap = l->cap ? l->cap : 64;
    while (cap < need)
        cap *= 2;
    int32_t *nv = realloc(l->v, cap * sizeof *nv);
    if (!nv) {
        l->oom = true;
        return false;
    }
    l->v = nv;
    l->cap = cap;
    return true;
}

/* ---------------------------------------------------------- hash maps */

static bool strmap_init(tok_strmap *m, uint64_t n_entries)
{
    uint64_t size = 16;
    while (size < n_entries * 2)
        size *= 2;
    m->slot = calloc(size, sizeof *m->slot);
    m->mask = size - 1;
    return m->slot != NULL;
}

static void tok_map_put(rf_vocab *v, int32_t id)
{
    const char *s = v->text + v->text_off[id];
    uint32_t n = v->text_len[id];
    uint64_t h = tok_hash_bytes(TOK_HASH_SEED, s, n);
    for (uint64_t i = h & v->tok_map.mask;; i = (i + 1) & v->tok_map.mask) {
        uint32_t e = v->tok_map.slot[i];
        if (!e) {
            v->tok_map.slot[i] = (uint32_t)id + 1;
            return;
        }
        int32_t o = (int32_t)e - 1;
        if (v->text_len[o] == n && !memcmp(v->text + v->text_off[o], s, n)) {
            v->tok_map.slot[i] = (uint32_t)id + 1;  /* later duplicate wins */
            return;
        }
    }
}

int32_t tok_lookup(const rf_vocab *v, const char *s, size_t n)
{
    uint64_t h = tok_hash_bytes(TOK_HASH_SEED, s, n);
    for (uint64_t i = h & v->tok_map.mask;; i = (i + 1) & v->tok_map.mask) {
        uint32_t e = v->tok_map.slot[i];
        if (!e)
            return -1;
        int32_t o = (int32_t)e - 1;
        if (v->text_len[o] == n && !memcmp(v->text + v->text_off[o], s, n))
            return o;
    }
}

static uint64_t merge_hash(const char *l, size_t nl, const char *r, size_t nr)
{
    uint64_t h = tok_hash_bytes(TOK_HASH_SEED, l, nl);
    h = tok_hash_bytes(h ^ 0x9e3779b97f4a7c15ULL, "\x01", 1);
    return tok_hash_bytes(h, r, nr);
}

int tok_merge_rank(const rf_vocab *v, const char *l, size_t nl, const char *r, size_t nr)
{
    if (!v->n_merges)
        return -1;
    uint64_t h = merge_hash(l, nl, r, nr);
    for (uint64_t i = h & v->merge_map.mask;; i = (i + 1) & v->merge_map.mask) {
        uint32_t e = v->merge_map.slot[i];
        if (!e)
            return -1;
        const tok_merge *m = &v->merges[e - 1];
        const char *ms = v->merge_text + m->off;
        if (m->n_left == nl && m->n_right == nr && !memcmp(ms, l, nl) &&
            !memcmp(ms + nl + 1, r, nr))
            return (int)(e - 1);
    }
}

/* ------------------------------------------------------------------ trie */

/* Byte trie: used for UGM matching and to find which special tokens occur
 * in a text with one pass. */

static int32_t trie_new_node(tok_trie *t, uint8_t byte)
{
    if (t->n_nodes == t->cap) {
        int32_t cap = t->cap ? t->cap * 2 : 1024;
        tok_trie_node *nv = realloc(t->nodes, (size_t)cap * sizeof *nv);
        if (!nv)
            return -1;
        t->nodes = nv;
        t->cap = cap;
    }
    t->nodes[t->n_nodes] = (tok_trie_node){-1, -1, -1, byte};
    return t->n_nodes++;
}

int32_t tok_trie_child(const tok_trie *t, int32_t node, uint8_t byte)
{
    if (node < 0)
        return t->root_child[byte];
    for (int32_t c = t->nodes[node].first_child; c >= 0; c = t->nodes[c].next_sibling)
        if (t->nodes[c].byte == byte)
            return c;
    return -1;
}

bool tok_trie_insert(tok_trie *t, const char *s, size_t n, int32_t value)
{
    int32_t node = -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        int32_t c = tok_trie_child(t, node, b);
        if (c < 0) {
            c = trie_new_node(t, b);
            if (c < 0)
                return false;
            if (node < 0) {
                t->root_child[b] = c;
            } else {
                t->nodes[c].next_sibling = t->nodes[node].first_child;
                t->nodes[node].first_child = c;
            }
        }
        node = c;
    }
    if (node >= 0)
        t->nodes[node].value = value;
    return true;
}

int32_t tok_trie_node_of(tok_trie *t, const char *s, size_t n)
{
    int32_t node = -1;
    for (size_t i = 0; i < n && (node >= 0 || i == 0); i++)
        node = tok_trie_child(t, node, (uint8_t)s[i]);
    return node;
}

void tok_trie_init(tok_trie *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < 256; i++)
        t->root_child[i] = -1;
}

/* Length of the longest input prefix that is a path in the trie (whether
 * or not a token ends there: llama.cpp's user-defined matcher works so). */
size_t tok_trie_longest_path(const tok_trie *t, const char *s, size_t n)
{
    int32_t node = -1;
    size_t i = 0;
    while (i < n) {
        int32_t c = tok_trie_child(t, node, (uint8_t)s[i]);
        if (c < 0)
            break;
        node = c;
        i++;
    }
    return i;
}

/* ------------------------------------------------------------ loading */

static bool vocab_token_has_text(const rf_vocab *v, int32_t id, const char *s)
{
    return strlen(s) == v->text_len[id] && !memcmp(v->text + v->text_off[id], s, v->text_len[id]);
}

static int32_t vocab_find_cstr(const rf_vocab *v, const char *s)
{
    return tok_lookup(v, s, strlen(s));
}

static rf_status load_tokens(rf_vocab *v, const gguf_file *f, rf_error *err)
{
    const gguf_value *arr;
    if (!gguf_get_arr(f, "tokenizer.ggml.tokens", &arr))
        return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.tokens' is missing");
    if (arr->v.arr.etype != GGUF_VT_STRING)
        return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.tokens' is an array of %s, expected string",
                      gguf_vtype_name(arr->v.arr.etype));
    uint64_t n = arr->v.arr.n;
    if (n == 0 || n > (uint64_t)INT32_MAX / 2)
        return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.tokens' has %llu entries",
                      (unsigned long long)n);
    v->n_tokens = (int32_t)n;

    /* First pass: arena size (empty tokens become "[EMPTY_<id>]"). */
    gguf_arr_iter it;
    gguf_str s;
    uint64_t total = 0;
    gguf_arr_iter_init(&it, f, arr);
    for (uint64_t i = 0; i < n; i++) {
        if (!gguf_arr_next_str(&it, &s))
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: token %llu unreadable", (unsigned long long)i);
        if (s.len > (1u << 24))
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: token %llu is %llu bytes long",
                          (unsigned long long)i, (unsigned long long)s.len);
        total += (s.len ? s.len : 24) + 1;
    }
    if (total > UINT32_MAX)
        return rf_err(err, RF_ERR_FORMAT, "tokenizer: token strings total %llu bytes", (unsigned long long)total);

    v->text = rf_malloc((size_t)total, err, "token strings");
    v->text_off = rf_malloc((size_t)n * sizeof(uint32_t), err, "token offsets");
    v->text_len = rf_malloc((size_t)n * sizeof(uint32_t), err, "token lengths");
    v->score = rf_calloc((size_t)n, sizeof(float), err, "token scores");
    v->attr = rf_malloc((size_t)n * sizeof(uint32_t), err, "token attributes");
    if (!v->text || !v->text_off || !v->text_len || !v->score || !v->attr)
        return RF_ERR_NOMEM;
    if (!strmap_init(&v->tok_map, n))
        return rf_err(err, RF_ERR_NOMEM, "tokenizer: out of memory for the token map");

    uint32_t off = 0;
    gguf_arr_iter_init(&it, f, arr);
    for (uint64_t i = 0; i < n; i++) {
        gguf_arr_next_str(&it, &s);
        v->text_off[i] = off;
        if (s.len) {
            memcpy(v->text + off, s.ptr, (size_t)s.len);
            v->text_len[i] = (uint32_t)s.len;
        } else {
            v->text_len[i] = (uint32_t)snprintf(v->text + off, 24, "[EMPTY_%llu]", (unsigned long long)i);
        }
        off += v->text_len[i];
        v->text[off++] = 0;
        if ((int)v->text_len[i] > v->max_token_len)
            v->max_token_len = (int)v->text_len[i];
        v->attr[i] = TOK_ATTR_NORMAL;
    }
    for (int32_t i = 0; i < v->n_tokens; i++)
        tok_map_put(v, i);

    if (gguf_get_arr(f, "tokenizer.ggml.scores", &arr)) {
        gguf_vtype t = arr->v.arr.etype;
        if (t != GGUF_VT_FLOAT32 && t != GGUF_VT_INT32)
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.scores' is an array of %s, expected float32",
                          gguf_vtype_name(t));
        if (arr->v.arr.n < n)
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.scores' has %llu entries for %llu tokens",
                          (unsigned long long)arr->v.arr.n, (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++)
            v->score[i] = (float)gguf_arr_f64(arr, i);
    }
    if (gguf_get_arr(f, "tokenizer.ggml.token_type", &arr)) {
        if (arr->v.arr.etype != GGUF_VT_INT32)
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.token_type' is an array of %s, expected int32",
                          gguf_vtype_name(arr->v.arr.etype));
        if (arr->v.arr.n < n)
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.token_type' has %llu entries for %llu tokens",
                          (unsigned long long)arr->v.arr.n, (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++) {
            switch (gguf_arr_i64(arr, i)) {  /* llama_token_type -> attribute */
            case 1: v->attr[i] = TOK_ATTR_NORMAL; break;
            case 2: v->attr[i] = TOK_ATTR_UNKNOWN; break;
            case 3: v->attr[i] = TOK_ATTR_CONTROL; break;
            case 4: v->attr[i] = TOK_ATTR_USER_DEFINED; break;
            case 5: v->attr[i] = TOK_ATTR_UNUSED; break;
            case 6: v->attr[i] = TOK_ATTR_BYTE; break;
            default: v->attr[i] = TOK_ATTR_UNDEFINED; break;
            }
        }
    }
    return RF_OK;
}

static rf_status load_merges(rf_vocab *v, const gguf_file *f, rf_error *err)
{
    const gguf_value *arr;
    if (!gguf_get_arr(f, "tokenizer.ggml.merges", &arr)) {
        if (v->pre == TOK_PRE_KIMI_K2)
            return RF_OK;  /* Kimi-K2 files may come without merges */
        return rf_err(err, RF_ERR_FORMAT, "tokenizer: BPE vocab without 'tokenizer.ggml.merges'");
    }
    if (arr->v.arr.etype != GGUF_VT_STRING)
        return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.merges' is an array of %s, expected string",
                      gguf_vtype_name(arr->v.arr.etype));
    uint64_t n = arr->v.arr.n;
    if (n > (uint64_t)INT32_MAX / 2)
        return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.merges' has %llu entries", (unsigned long long)n);
    gguf_arr_iter it;
    gguf_str s;
    uint64_t total = 0;
    gguf_arr_iter_init(&it, f, arr);
    for (uint64_t i = 0; i < n; i++) {
        if (!gguf_arr_next_str(&it, &s))
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: merge %llu unreadable", (unsigned long long)i);
        total += s.len + 1;
    }
    if (total > UINT32_MAX)
        return rf_err(err, RF_ERR_FORMAT, "tokenizer: merges total %llu bytes", (unsigned long long)total);
    v->merge_text = rf_malloc((size_t)total + 1, err, "merge strings");
    v->merges = rf_malloc((size_t)(n ? n : 1) * sizeof(tok_merge), err, "merge table");
    if (!v->merge_text || !v->merges)
        return RF_ERR_NOMEM;
    if (!strmap_init(&v->merge_map, n))
        return rf_err(err, RF_ERR_NOMEM, "tokenizer: out of memory for the merge map");
    v->n_merges = (uint32_t)n;

    uint32_t off = 0;
    gguf_arr_iter_init(&it, f, arr);
    for (uint64_t i = 0; i < n; i++) {
        gguf_arr_next_str(&it, &s);
        tok_merge *m = &v->merges[i];
        memcpy(v->merge_text + off, s.ptr, (size_t)s.len);
        v->merge_text[off + s.len] = 0;
        m->off = off;
        /* Split at the first space after the first byte; a merge without
         * one is the pair ("", ""), which never matches a symbol. */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
        if (sp) {
            m->n_left = (uint32_t)(sp - s.ptr);
            m->n_right = (uint32_t)(s.len - m->n_left - 1);
        } else {
            m->n_left = m->n_right = 0;
            v->merge_text[off] = ' ';  /* keeps the (left, ' ', right) layout */
        }
        off += (uint32_t)s.len + 1;
        /* emplace: the first rank of a repeated pair stays */
        const char *ms = v->merge_text + m->off;
        uint64_t h = merge_hash(ms, m->n_left, ms + m->n_left + 1, m->n_right);
        for (uint64_t j = h & v->merge_map.mask;; j = (j + 1) & v->merge_map.mask) {
            uint32_t e = v->merge_map.slot[j];
            if (!e) {
                v->merge_map.slot[j] = (uint32_t)i + 1;
                break;
            }
            const tok_merge *o = &v->merges[e - 1];
            const char *os = v->merge_text + o->off;
            if (o->n_left == m->n_left && o->n_right == m->n_right &&
                !memcmp(os, ms, m->n_left) && !memcmp(os + o->n_left + 1, ms + m->n_left + 1, m->n_right))
                break;
        }
    }
    return RF_OK;
}

/* Special ids: metadata overrides the family default when in range. */
static void load_special_id(rf_vocab *v, const gguf_file *f, const char *key, int32_t *id)
{
    if (*id >= v->n_tokens)
        *id = -1;
    uint32_t nid;
    if (!gguf_get_u32(f, key, &nid))
        return;
    if (nid < (uint32_t)v->n_tokens)
        *id = (int32_t)nid;
}

static void mark_control(rf_vocab *v, int32_t id)
{
    v->attr[id] |= TOK_ATTR_CONTROL;
}

/* Find a token among `names`; the first name present wins. */
static int32_t find_any(const rf_vocab *v, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        int32_t id = vocab_find_cstr(v, names[i]);
        if (id >= 0)
            return id;
    }
    return -1;
}

static void detect_by_text(rf_vocab *v, int32_t *id, const char *const *names)
{
    if (*id != -1)
        return;
    int32_t t = find_any(v, names);
    if (t >= 0) {
        *id = t;
        mark_control(v, t);
    }
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void eog_add(rf_vocab *v, int32_t id, int32_t *buf, int cap)
{
    if (id < 0 || id >= v->n_tokens)
        return;
    for (int i = 0; i < v->n_eog; i++)
        if (buf[i] == id)
            return;
    if (v->n_eog < cap)
        buf[v->n_eog++] = id;
}

static void eog_remove(rf_vocab *v, int32_t id)
{
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id) {
            v->eog[i] = v->eog[--v->n_eog];
            return;
        }
}

static bool eog_has_text(const rf_vocab *v, const char *s, int32_t *id)
{
    for (int i = 0; i < v->n_eog; i++)
        if (vocab_token_has_text(v, v->eog[i], s)) {
            if (id)
                *id = v->eog[i];
            return true;
        }
    return false;
}

static rf_status load_specials(rf_vocab *v, const gguf_file *f, rf_error *err)
{
    load_special_id(v, f, "tokenizer.ggml.bos_token_id", &v->bos);
    load_special_id(v, f, "tokenizer.ggml.eos_token_id", &v->eos);
    load_special_id(v, f, "tokenizer.ggml.eot_token_id", &v->eot);
    load_special_id(v, f, "tokenizer.ggml.eom_token_id", &v->eom);
    load_special_id(v, f, "tokenizer.ggml.unknown_token_id", &v->unk);
    load_special_id(v, f, "tokenizer.ggml.seperator_token_id", &v->sep);
    load_special_id(v, f, "tokenizer.ggml.padding_token_id", &v->pad);
    load_special_id(v, f, "tokenizer.ggml.mask_token_id", &v->mask);
    load_special_id(v, f, "tokenizer.ggml.fim_pre_token_id", &v->fim_pre);
    load_special_id(v, f, "tokenizer.ggml.fim_suf_token_id", &v->fim_suf);
    load_special_id(v, f, "tokenizer.ggml.fim_mid_token_id", &v->fim_mid);
    load_special_id(v, f, "tokenizer.ggml.fim_pad_token_id", &v->fim_pad);
    load_special_id(v, f, "tokenizer.ggml.fim_rep_token_id", &v->fim_rep);
    load_special_id(v, f, "tokenizer.ggml.fim_sep_token_id", &v->fim_sep);
    load_special_id(v, f, "tokenizer.ggml.prefix_token_id", &v->fim_pre);
    load_special_id(v, f, "tokenizer.ggml.suffix_token_id", &v->fim_suf);
    load_special_id(v, f, "tokenizer.ggml.middle_token_id", &v->fim_mid);

    bool b;
    if (gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b))
        v->add_bos = b;
    if (gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &b))
        v->add_eos = b;
    if (gguf_get_bool(f, "tokenizer.ggml.add_sep_token", &b))
        v->add_sep = b;
    if (v->pre == TOK_PRE_GEMMA4)
        v->add_bos = true;

    if (gguf_get_bool(f, "tokenizer.ggml.normalizer.lowercase", &b))
        v->lowercase = b;
    v->strip_accents = v->lowercase;
    if (gguf_get_bool(f, "tokenizer.ggml.normalizer.strip_accents", &b))
        v->strip_accents = b;

    /* Tokens recognised by their text (llama.cpp does the same until
     * converters write these ids). */
    static const char *const eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
        "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
        "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>", "<end_of_utterance>", NULL};
    static const char *const eom_names[] = {"<|eom_id|>", NULL};
    static const char *const fim_pre_names[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
        "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
    static const char *const fim_suf_names[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
        "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
    static const char *const fim_mid_names[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
        "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL};
    static const char *const fim_pad_names[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
    static const char *const fim_rep_names[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL};
    static const char *const fim_sep_names[] = {"<|file_sep|>", NULL};
    detect_by_text(v, &v->eot, eot_names);
    detect_by_text(v, &v->eom, eom_names);
    detect_by_text(v, &v->fim_pre, fim_pre_names);
    detect_by_text(v, &v->fim_suf, fim_suf_names);
    detect_by_text(v, &v->fim_mid, fim_mid_names);
    detect_by_text(v, &v->fim_pad, fim_pad_names);
    detect_by_text(v, &v->fim_rep, fim_rep_names);
    detect_by_text(v, &v->fim_sep, fim_sep_names);

    /* Control tokens named "unused..." are unused. */
    for (int32_t i = 0; i < v->n_tokens; i++)
        if ((v->attr[i] & TOK_ATTR_CONTROL) && strstr(v->text + v->text_off[i], "unused"))
            v->attr[i] |= TOK_ATTR_UNUSED;

    /* End-of-generation set. */
    static const char *const eog_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
        "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>",
        "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>", "[e~[", NULL};
    enum { EOG_CAP = 64 };
    v->eog = rf_malloc(EOG_CAP * sizeof(int32_t), err, "EOG ids");
    if (!v->eog)
        return RF_ERR_NOMEM;
    eog_add(v, v->fim_pad, v->eog, EOG_CAP);
    eog_add(v, v->fim_rep, v->eog, EOG_CAP);
    eog_add(v, v->fim_sep, v->eog, EOG_CAP);
    for (int i = 0; eog_names[i]; i++) {
        int32_t id = vocab_find_cstr(v, eog_names[i]);
        if (id >= 0) {
            eog_add(v, id, v->eog, EOG_CAP);
            mark_control(v, id);
        }
    }
    /* gpt-oss: these structure tokens always render. */
    static const char *const always_render[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};
    for (int i = 0; always_render[i]; i++) {
        int32_t id = vocab_find_cstr(v, always_render[i]);
        if (id >= 0)
            v->attr[id] = TOK_ATTR_USER_DEFINED;
    }
    eog_add(v, v->eos, v->eog, EOG_CAP);
    eog_add(v, v->eot, v->eog, EOG_CAP);
    eog_add(v, v->eom, v->eog, EOG_CAP);
    /* o200k_harmony / solar-open: <|end|> ends a message, not generation. */
    int32_t end_id;
    bool has_end = eog_has_text(v, "<|end|>", &end_id);
    bool has_return = eog_has_text(v, "<|return|>", NULL);
    bool has_call = eog_has_text(v, "<|call|>", NULL) || eog_has_text(v, "<|calls|>", NULL);
    bool has_flush = eog_has_text(v, "<|flush|>", NULL);
    if ((has_return && has_call && has_end) || (has_call && has_flush && has_end)) {
        eog_remove(v, end_id);
        v->attr[end_id] = TOK_ATTR_USER_DEFINED;
    }
    /* gemma4: </s> is an ordinary token there. */
    int32_t s_id;
    if (eog_has_text(v, "<|tool_response>", NULL) && eog_has_text(v, "</s>", &s_id)) {
        eog_remove(v, s_id);
        v->attr[s_id] = TOK_ATTR_NORMAL;
    }
    qsort(v->eog, (size_t)v->n_eog, sizeof(int32_t), cmp_i32);
    return RF_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static rf_status build_special_cache(rf_vocab *v, rf_error *err)
{
    int n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if (v->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN))
            n++;
    uint64_t *key = rf_malloc((size_t)(n ? n : 1) * sizeof(uint64_t), err, "special token list");
    v->special = rf_malloc((size_t)(n ? n : 1) * sizeof(int32_t), err, "special token list");
    v->special_node = rf_malloc((size_t)(n ? n : 1) * sizeof(int32_t), err, "special token list");
    if (!key || !v->special || !v->special_node) {
        free(key);
        return RF_ERR_NOMEM;
    }
    /* Longest first so that a special token containing another wins; ties
     * by id keep the order deterministic. */
    n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if (v->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN))
            key[n++] = ((uint64_t)(UINT32_MAX - v->text_len[i]) << 32) | (uint32_t)i;
    qsort(key, (size_t)n, sizeof *key, cmp_u64);
    v->n_special = n;
    tok_trie_init(&v->special_trie);
    for (int i = 0; i < n; i++) {
        int32_t id = (int32_t)(key[i] & 0xffffffffu);
        v->special[i] = id;
        const char *s = v->text + v->text_off[id];
        if (!tok_trie_insert(&v->special_trie, s, v->text_len[id], id)) {
            free(key);
            return rf_err(err, RF_ERR_NOMEM, "tokenizer: out of memory for the special-token trie");
        }
        v->special_node[i] = tok_trie_node_of(&v->special_trie, s, v->text_len[id]);
    }
    free(key);
    return RF_OK;
}

static void byte_fallback_init(rf_vocab *v)
{
    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        int32_t id = vocab_find_cstr(v, buf);
        if (id < 0 && v->type != TOK_BPE) {
            char c = (char)b;
            id = tok_lookup(v, &c, 1);
        }
        v->byte_tok[b] = id;
    }
}

/* Hex byte of a "<0xNN>" token as strtol on text[3..4] reads it. */
static uint8_t token_byte_value(const rf_vocab *v, int32_t id)
{
    const char *t = v->text + v->text_off[id];
    if (v->text_len[id] < 4)
        return 0;
    char buf[3] = {t[3], v->text_len[id] >= 5 ? t[4] : 0, 0};
    return (uint8_t)strtol(buf, NULL, 16);
}

/* Bytes a token renders as with special = true (llama_token_to_piece). */
static size_t piece_render(const rf_vocab *v, int32_t id, char *out)
{
    const char *t = v->text + v->text_off[id];
    size_t n = v->text_len[id];
    uint32_t a = v->attr[id];
    if (a & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED)) {
        memcpy(out, t, n);
        return n;
    }
    if (a & TOK_ATTR_NORMAL) {
        if (v->type != TOK_BPE || v->escape_ws) {
            /* U+2581 -> ' ' */
            size_t o = 0;
            for (size_t i = 0; i < n;) {
                if (i + 2 < n && (uint8_t)t[i] == 0xe2 && (uint8_t)t[i + 1] == 0x96 && (uint8_t)t[i + 2] == 0x81) {
                    out[o++] = ' ';
                    i += 3;
                } else {
                    out[o++] = t[i++];
                }
            }
            return o;
        }
        /* byte-level: each code point is one byte; anything else is kept
         * visible the way llama.cpp renders it */
        size_t o = 0;
        for (size_t i = 0; i < n;) {
            uint32_t cp = tok_utf8_decode((const uint8_t *)t, n, &i);
            char u[4];
            int nu = tok_utf8_encode(cp, u);
            int b = tok_cp_to_byte(cp);
            if (b >= 0 && nu > 0) {
                out[o++] = (char)b;
            } else {
                o += (size_t)sprintf(out + o, "[UNK_BYTE_0x");
                for (int k = 0; k < nu; k++)
                    o += (size_t)sprintf(out + o, "%02x", (uint8_t)u[k]);
                memcpy(out + o, t, n);
                o += n;
                out[o++] = ']';
            }
        }
        return o;
    }
    if (a & TOK_ATTR_BYTE) {
        out[0] = (char)token_byte_value(v, id);
        return 1;
    }
    return 0;
}

static rf_status build_pieces(rf_vocab *v, rf_error *err)
{
    /* Worst case per code point of a byte-level token: "[UNK_BYTE_0x" +
     * 8 hex + the whole token + "]" — bounded by n * (n + 24). */
    uint64_t total = 0;
    size_t scratch_n = 16;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        uint64_t n = v->text_len[i];
        uint64_t worst = v->type == TOK_BPE && !v->escape_ws ? n * (n + 24) : n;
        if (worst + 1 > scratch_n)
            scratch_n = (size_t)worst + 1;
    }
    char *scratch = rf_malloc(scratch_n, err, "piece scratch");
    v->piece_off = rf_malloc((size_t)v->n_tokens * sizeof(uint32_t), err, "piece offsets");
    v->piece_len = rf_malloc((size_t)v->n_tokens * sizeof(uint32_t), err, "piece lengths");
    if (!scratch || !v->piece_off || !v->piece_len) {
        free(scratch);
        return RF_ERR_NOMEM;
    }
    for (int32_t i = 0; i < v->n_tokens; i++)
        total += piece_render(v, i, scratch);
    if (total > UINT32_MAX) {
        free(scratch);
        return rf_err(err, RF_ERR_FORMAT, "tokenizer: token pieces total %llu bytes", (unsigned long long)total);
    }
    v->piece = rf_malloc((size_t)total + 1, err, "token pieces");
    if (!v->piece) {
        free(scratch);
        return RF_ERR_NOMEM;
    }
    uint32_t off = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        size_t n = piece_render(v, i, scratch);
        memcpy(v->piece + off, scratch, n);
        v->piece_off[i] = off;
        v->piece_len[i] = (uint32_t)n;
        off += (uint32_t)n;
        if ((int)n > v->max_piece_len)
            v->max_piece_len = (int)n;
    }
    free(scratch);
    return RF_OK;
}

/* Per-model attribute fix-ups that llama.cpp applies after the caches. */
static void fixup_attrs(rf_vocab *v, const gguf_file *f)
{
    char name[256] = "", arch[128] = "";
    gguf_str s;
    if (gguf_get_str(f, "general.name", &s)) {
        size_t n = s.len < sizeof name - 1 ? (size_t)s.len : sizeof name - 1;
        for (size_t i = 0; i < n; i++)
            name[i] = (char)tolower((unsigned char)s.ptr[i]);
        name[n] = 0;
    }
    if (gguf_get_str(f, "general.architecture", &s)) {
        size_t n = s.len < sizeof arch - 1 ? (size_t)s.len : sizeof arch - 1;
        memcpy(arch, s.ptr, n);
        arch[n] = 0;
    }
    const char *pre = v->pre_name;
    if (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") || strstr(pre, "jina-v2-code") ||
        strstr(arch, "nomic-bert-moe") || strstr(arch, "jina-bert-v3")) {
        int32_t id = vocab_find_cstr(v, "<mask>");
        if (id >= 0)
            v->attr[id] |= TOK_ATTR_LSTRIP;
    } else if (strstr(name, "phi-3") || strstr(name, "phi3")) {
        for (int i = 0; i < v->n_special; i++)
            v->attr[v->special[i]] |= TOK_ATTR_RSTRIP;
        int32_t id = vocab_find_cstr(v, "</s>");
        if (id >= 0)
            v->attr[id] |= TOK_ATTR_RSTRIP;
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (int i = 0; i < 3; i++) {
            id = vocab_find_cstr(v, keep[i]);
            if (id >= 0)
                v->attr[id] &= ~(uint32_t)TOK_ATTR_RSTRIP;
        }
    } else if (strstr(name, "modern-bert")) {
        int32_t id = vocab_find_cstr(v, "[MASK]");
        if (id >= 0)
            v->attr[id] |= TOK_ATTR_LSTRIP;
    }
}

rf_status rf_vocab_load(const gguf_file *f, rf_vocab **out, rf_error *err)
{
    *out = NULL;
    rf_vocab *v = rf_calloc(1, sizeof *v, err, "vocab");
    if (!v)
        return RF_ERR_NOMEM;
    rf_status st = RF_OK;

    gguf_str model;
    if (!gguf_get_str(f, "tokenizer.ggml.model", &model)) {
        st = rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.model' is missing (no vocab in this file)");
        goto fail;
    }
    snprintf(v->model_name, sizeof v->model_name, "%.*s", (int)(model.len < 63 ? model.len : 63), model.ptr);
    gguf_str pre;
    if (gguf_get_str(f, "tokenizer.ggml.pre", &pre))
        snprintf(v->pre_name, sizeof v->pre_name, "%.*s", (int)(pre.len < 63 ? pre.len : 63), pre.ptr);
    if (model.len > 63 || (gguf_find(f, "tokenizer.ggml.pre") && pre.len > 63)) {
        st = rf_err(err, RF_ERR_UNSUPPORTED, "tokenizer: tokenizer name too long ('%s'...)", v->model_name);
        goto fail;
    }

    v->bos = v->eos = v->eot = v->eom = v->unk = v->sep = v->pad = v->mask = -1;
    v->fim_pre = v->fim_suf = v->fim_mid = v->fim_pad = v->fim_rep = v->fim_sep = -1;
    v->escape_ws = true;
    v->lowercase = true;
    v->byte_encode = true;

    const char *m = v->model_name;
    if (!strcmp(m, "llama")) {
        v->type = TOK_SPM;
        v->bos = 1, v->eos = 2, v->unk = 0;
        v->add_space_prefix = true;
        v->add_bos = true;
    } else if (!strcmp(m, "bert")) {
        v->type = TOK_WPM;
        v->bos = 101, v->unk = 100, v->sep = 102, v->pad = 0, v->mask = 103;
        v->add_bos = true, v->add_sep = true, v->clean_spaces = true;
    } else if (!strcmp(m, "gpt2") || !strcmp(m, "gemma4")) {
        v->type = TOK_BPE;
        if (!strcmp(m, "gpt2"))
            v->bos = 11, v->eos = 11;
        else
            snprintf(v->pre_name, sizeof v->pre_name, "gemma4");
        v->escape_ws = false;
        v->clean_spaces = true;
        if (!tok_pretok_resolve(v, v->pre_name)) {
            st = rf_err(err, RF_ERR_UNSUPPORTED,
                        "tokenizer: unknown pre-tokenizer 'tokenizer.ggml.pre' = '%s' (BPE vocab)", v->pre_name);
            goto fail;
        }
    } else if (!strcmp(m, "t5")) {
        v->type = TOK_UGM;
        v->eos = 1, v->unk = 2, v->pad = 0;
        v->add_eos = true;
    } else {
        st = rf_err(err, RF_ERR_UNSUPPORTED,
                    "tokenizer: unsupported tokenizer model 'tokenizer.ggml.model' = '%s' (supported: llama, gpt2, gemma4, bert, t5)",
                    m);
        goto fail;
    }
    bool b;
    if (gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &b))
        v->add_space_prefix = b;
    if (gguf_get_bool(f, "tokenizer.ggml.remove_extra_whitespaces", &b))
        v->remove_extra_ws = b;

    if ((st = load_tokens(v, f, err)) != RF_OK)
        goto fail;
    if (v->type == TOK_BPE && (st = load_merges(v, f, err)) != RF_OK)
        goto fail;
    if ((st = load_specials(v, f, err)) != RF_OK)
        goto fail;
    if ((st = build_special_cache(v, err)) != RF_OK)
        goto fail;
    byte_fallback_init(v);
    if (v->type == TOK_SPM) {
        /* An ASCII byte that occurs in no token longer than one byte can
         * never take part in a merge, so the merge pass may stop at it:
         * the result is the same and the heaps stay small. */
        for (int b = 0; b < 128; b++)
            v->spm_isolated[b] = true;
        for (int32_t i = 0; i < v->n_tokens; i++)
            if (v->text_len[i] >= 2)
                for (uint32_t k = 0; k < v->text_len[i]; k++) {
                    uint8_t c = (uint8_t)v->text[v->text_off[i] + k];
                    if (c < 128)
                        v->spm_isolated[c] = false;
                }
    }
    if ((st = build_pieces(v, err)) != RF_OK)
        goto fail;
    fixup_attrs(v, f);
    if (v->type == TOK_BPE && (st = tok_pretok_compile(v, err)) != RF_OK)
        goto fail;
    if (v->type == TOK_UGM && (st = tok_ugm_init(v, f, err)) != RF_OK)
        goto fail;
    *out = v;
    return RF_OK;
fail:
    rf_vocab_free(v);
    return st;
}

void rf_vocab_free(rf_vocab *v)
{
    if (!v)
        return;
    free(v->text);
    free(v->text_off);
    free(v->text_len);
    free(v->score);
    free(v->attr);
    free(v->tok_map.slot);
    free(v->merge_text);
    free(v->merges);
    free(v->merge_map.slot);
    free(v->piece);
    free(v->piece_off);
    free(v->piece_len);
    free(v->eog);
    free(v->special);
    free(v->special_node);
    free(v->special_trie.nodes);
    tok_pretok_free(v->pretok);
    tok_ugm_free(v);
    free(v);
}

/* ----------------------------------------------------------- accessors */

int rf_vocab_n_tokens(const rf_vocab *v) { return v->n_tokens; }
int32_t rf_vocab_bos(const rf_vocab *v) { return v->bos; }
int32_t rf_vocab_eos(const rf_vocab *v) { return v->eos; }
int32_t rf_vocab_eot(const rf_vocab *v) { return v->eot; }
bool rf_vocab_add_bos(const rf_vocab *v) { return v->add_bos; }
bool rf_vocab_add_eos(const rf_vocab *v) { return v->add_eos; }
bool rf_vocab_add_space_prefix(const rf_vocab *v) { return v->add_space_prefix; }

bool rf_vocab_is_eog(const rf_vocab *v, int32_t tok)
{
    if (tok < 0)
        return false;
    return bsearch(&tok, v->eog, (size_t)v->n_eog, sizeof(int32_t), cmp_i32) != NULL;
}

bool rf_vocab_is_control(const rf_vocab *v, int32_t tok)
{
    return tok >= 0 && tok < v->n_tokens && (v->attr[tok] & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN));
}

const char *rf_vocab_token_text(const rf_vocab *v, int32_t tok)
{
    if (tok < 0 || tok >= v->n_tokens)
        return "";
    return v->text + v->text_off[tok];
}

const char *rf_vocab_type_name(const rf_vocab *v)
{
    switch (v->type) {
    case TOK_SPM: return "SPM";
    case TOK_BPE: return "BPE";
    case TOK_WPM: return "WPM";
    case TOK_UGM: return "UGM";
    }
    return "?";
}

const char *rf_vocab_pre_name(const rf_vocab *v) { return v->pre_name[0] ? v->pre_name : "default"; }

int rf_vocab_token_to_piece(const rf_vocab *v, int32_t tok, char *buf, int n_buf, bool special)
{
    if (tok < 0 || tok >= v->n_tokens)
        return 0;
    if (!special && (v->attr[tok] & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL)))
        return 0;
    int n = (int)v->piece_len[tok];
    if (n_buf < n)
        return -n;
    if (n)
        memcpy(buf, v->piece + v->piece_off[tok], (size_t)n);
    return n;
}

/* ------------------------------------------------------- tokenization */

/* A fragment of the input: raw text still to tokenize, or a special token
 * already recognised. */
typedef struct frag {
    int32_t tok;   /* -1 for raw text */
    size_t off, len;
} frag;

typedef struct frag_list {
    frag *v;
    size_t n, cap;
} frag_list;

static bool frag_push(frag_list *l, int32_t tok, size_t off, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        frag *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return false;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = (frag){tok, off, len};
    return true;
}

static bool is_c_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Split raw fragments at every occurrence of each special token, longest
 * tokens first (llama.cpp's tokenizer_st_partition). Control and unknown
 * tokens are only recognised when parse_special; user-defined tokens
 * always are. */
static bool partition_special(const rf_vocab *v, const char *text, size_t len, frag_list *fl, bool parse_special)
{
    frag_list tmp = {0};
    bool ok = true;
    /* one pass over the text: which special texts occur at all */
    const tok_trie *tr = &v->special_trie;
    uint8_t *hit = calloc((size_t)(tr->n_nodes ? tr->n_nodes : 1), 1);
    if (!hit)
        return false;
    for (size_t i = 0; i < len; i++) {
        int32_t node = tok_trie_child(tr, -1, (uint8_t)text[i]);
        for (size_t j = i + 1; node >= 0; j++) {
            if (tr->nodes[node].value >= 0)
                hit[node] = 1;
            if (j >= len)
                break;
            node = tok_trie_child(tr, node, (uint8_t)text[j]);
        }
    }
    for (int si = 0; si < v->n_special && ok; si++) {
        int32_t id = v->special[si];
        uint32_t a = v->attr[id];
        if (!parse_special && (a & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN)))
            continue;
        if (v->special_node[si] < 0 || !hit[v->special_node[si]])
            continue;
        const char *st = v->text + v->text_off[id];
        size_t sl = v->text_len[id];
        tmp.n = 0;
        for (size_t i = 0; i < fl->n && ok; i++) {
            frag fr = fl->v[i];
            if (fr.tok >= 0) {
                ok = frag_push(&tmp, fr.tok, 0, 0);
                continue;
            }
            size_t off = fr.off, len = fr.len;
            for (;;) {
                const char *hit = len >= sl ? memmem(text + off, len, st, sl) : NULL;
                if (!hit) {
                    if (len)
                        ok = ok && frag_push(&tmp, -1, off, len);
                    break;
                }
                size_t match = (size_t)(hit - text);
                if (match > off) {
                    size_t ll = match - off;
                    if (a & TOK_ATTR_LSTRIP)
                        while (ll > 0 && is_c_space(text[off + ll - 1]))
                            ll--;
                    if (ll > 0)
                        ok = ok && frag_push(&tmp, -1, off, ll);
                }
                ok = ok && frag_push(&tmp, id, 0, 0);
                size_t end = match + sl;
                size_t rem = off + len - end;
                if (rem == 0)
                    break;
                if (a & TOK_ATTR_RSTRIP)
                    while (rem > 0 && is_c_space(text[end])) {
                        end++;
                        rem--;
                    }
                off = end;
                len = rem;
                if (len == 0)
                    break;
            }
        }
        frag_list sw = *fl;
        *fl = tmp;
        tmp = sw;
    }
    free(tmp.v);
    free(hit);
    return ok;
}

static int encode_fragment(const rf_vocab *v, const char *s, size_t n, bool prefix_space, tok_list *out)
{
    switch (v->type) {
    case TOK_SPM: {
        /* ' ' prefix when asked, then spaces escaped to U+2581 */
        size_t n_sp = 0;
        for (size_t i = 0; i < n; i++)
            n_sp += s[i] == ' ';
        size_t cap = n + 2 * n_sp + 3 + 1;
        char *buf = malloc(cap);
        if (!buf)
            return -1;
        size_t o = 0;
        if (prefix_space) {
            memcpy(buf, "\xe2\x96\x81", 3);
            o = 3;
        }
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ') {
                memcpy(buf + o, "\xe2\x96\x81", 3);
                o += 3;
            } else {
                buf[o++] = s[i];
            }
        }
        int r = tok_spm_encode(v, buf, o, out);
        free(buf);
        return r;
    }
    case TOK_BPE:
        if (v->escape_ws) {
            size_t n_sp = 0;
            for (size_t i = 0; i < n; i++)
                n_sp += s[i] == ' ';
            char *buf = malloc(n + 2 * n_sp + 1);
            if (!buf)
                return -1;
            size_t o = 0;
            for (size_t i = 0; i < n; i++) {
                if (s[i] == ' ') {
                    memcpy(buf + o, "\xe2\x96\x81", 3);
                    o += 3;
                } else {
                    buf[o++] = s[i];
                }
            }
            int r = tok_bpe_encode(v, buf, o, out);
            free(buf);
            return r;
        }
        return tok_bpe_encode(v, s, n, out);
    case TOK_WPM:
        return tok_wpm_encode(v, s, n, out);
    case TOK_UGM:
        return tok_ugm_encode(v, s, n, out);
    }
    return -1;
}

/* Whole-text tokenization into a growable list; -1 on allocation failure. */
static int vocab_tokenize_list(const rf_vocab *v, const char *text, size_t len, bool add_special,
                               bool parse_special, tok_list *out)
{
    frag_list fl = {0};
    if (len && !frag_push(&fl, -1, 0, len))
        return -1;
    if (len && !partition_special(v, text, len, &fl, parse_special)) {
        free(fl.v);
        return -1;
    }
    int rc = 0;
    bool bos = false, eos = false;
    switch (v->type) {
    case TOK_SPM:
    case TOK_UGM:
        bos = add_special && v->add_bos;
        eos = add_special && v->add_eos;
        break;
    case TOK_BPE:
        bos = add_special && v->add_bos;
        eos = add_special && v->add_eos;
        break;
    case TOK_WPM:
        bos = add_special;
        eos = false;
        break;
    }
    if (bos && v->bos >= 0)
        tok_list_push(out, v->bos);
    bool prev_special = true;  /* SPM: prefix a space to the first fragment */
    for (size_t i = 0; i < fl.n && rc == 0; i++) {
        if (fl.v[i].tok >= 0) {
            tok_list_push(out, fl.v[i].tok);
            prev_special = true;
            continue;
        }
        rc = encode_fragment(v, text + fl.v[i].off, fl.v[i].len, v->add_space_prefix && prev_special, out);
        prev_special = false;
    }
    if (eos && v->eos >= 0)
        tok_list_push(out, v->eos);
    if (v->type == TOK_WPM && add_special && v->sep >= 0)
        tok_list_push(out, v->sep);
    free(fl.v);
    if (out->oom)
        rc = -1;
    return rc;
}

int rf_vocab_tokenize(const rf_vocab *v, const char *text, size_t len, int32_t *out, int n_max,
                      bool add_special, bool parse_special)
{
    if (len > INT32_MAX || (!text && len))
        return INT32_MIN;
    tok_list l = {0};
    int rc = vocab_tokenize_list(v, text ? text : "", len, add_special, parse_special, &l);
    if (rc != 0 || l.n >= (size_t)INT32_MAX) {
        free(l.v);
        return INT32_MIN;
    }
    int n = (int)l.n;
    if (n_max < n) {
        free(l.v);
        return -n;
    }
    if (n)
        memcpy(out, l.v, (size_t)n * sizeof(int32_t));
    free(l.v);
    return n;
}
