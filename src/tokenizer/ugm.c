/* ugm.c — unigram language-model tokenizer (tokenizer.ggml.model = "t5").
 *
 * SentencePiece's unigram: the text is normalised with the precompiled
 * charsmap (an XOR-compressed double array mapping input prefixes to
 * replacement strings, stored in tokenizer.ggml.precompiled_charsmap),
 * spaces become U+2581 (with the prefix / merge / suffix rules of the
 * metadata), then a Viterbi pass over byte positions picks the
 * segmentation with the highest sum of token scores, with an [UNK] step of
 * (lowest score - 10) for a character no token covers; consecutive [UNK]s
 * collapse into one. Scores are summed in double, as SentencePiece does.
 * Every index into the charsmap is bounds-checked: a corrupt map stops the
 * match instead of reading outside it.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* ------------------------------------------------------------------ init */

rf_status tok_ugm_init(rf_vocab *v, const gguf_file *f, rf_error *err)
{
    tok_trie_init(&v->ugm_tokens);
    tok_trie_init(&v->ugm_user);
    const gguf_value *arr;
    if (gguf_get_arr(f, "tokenizer.ggml.precompiled_charsmap", &arr)) {
        gguf_vtype t = arr->v.arr.etype;
        if (t != GGUF_VT_INT8 && t != GGUF_VT_UINT8)
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: 'tokenizer.ggml.precompiled_charsmap' is an array of %s",
                          gguf_vtype_name(t));
        size_t n = (size_t)arr->v.arr.n;
        if (n < 4)
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: precompiled_charsmap too small (%zu bytes)", n);
        v->charsmap = malloc(n);
        if (!v->charsmap)
            return rf_err(err, RF_ERR_NOMEM, "tokenizer: out of memory for the charsmap");
        memcpy(v->charsmap, arr->v.arr.data, n);
        v->charsmap_len = n;
        uint32_t blob = (uint32_t)v->charsmap[0] | (uint32_t)v->charsmap[1] << 8 | (uint32_t)v->charsmap[2] << 16 |
                        (uint32_t)v->charsmap[3] << 24;
        if ((uint64_t)blob + 4 >= n)
            return rf_err(err, RF_ERR_FORMAT, "tokenizer: precompiled_charsmap claims %u bytes of %zu", blob, n);
        v->xcda = (const uint32_t *)(v->charsmap + 4);  /* malloc'd: 4-aligned */
        v->xcda_n = blob / 4;
        v->repl = (const char *)v->charsmap + 4 + blob;
        v->repl_len = n - 4 - blob;
    }
    float min_score = FLT_MAX;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        uint32_t a = v->attr[i];
        if (a & TOK_ATTR_NORMAL && v->score[i] < min_score)
            min_score = v->score[i];
        if (a & (TOK_ATTR_NORMAL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNUSED))
            if (!tok_trie_insert(&v->ugm_tokens, v->text + v->text_off[i], v->text_len[i], i))
                return rf_err(err, RF_ERR_NOMEM, "tokenizer: out of memory for the token trie");
        if (a & TOK_ATTR_USER_DEFINED)
            if (!tok_trie_insert(&v->ugm_user, v->text + v->text_off[i], v->text_len[i], i))
                return rf_err(err, RF_ERR_NOMEM, "tokenizer: out of memory for the token trie");
    }
    v->ugm_unk_score = (double)(min_score - 10.0f);
    return RF_OK;
}

void tok_ugm_free(rf_vocab *v)
{
    free(v->ugm_tokens.nodes);
    free(v->ugm_user.nodes);
    free(v->charsmap);
}

/* ------------------------------------------------------------- normalise */

static bool xcda_node(const rf_vocab *v, size_t i, uint32_t *out)
{
    if (i >= v->xcda_n)
        return false;
    memcpy(out, v->xcda + i, 4);
    return true;
}

static uint32_t xcda_base(uint32_t p) { return (p >> 10) << ((p & (1u << 9)) >> 6); }
static uint32_t xcda_lcheck(uint32_t p) { return p & ((1u << 31) | 0xff); }
static bool xcda_leaf(uint32_t p) { return (p >> 8) & 1; }
static uint32_t xcda_value(uint32_t p) { return p & ((1u << 31) - 1); }

/* Normalise the prefix at s[off]: out and out_n receive the replacement, the
 * return value the bytes consumed (>= 1). */
static size_t normalize_prefix(const rf_vocab *v, const char *s, size_t n, size_t off, const char **out,
                               size_t *out_n)
{
    size_t ul = tok_trie_longest_path(&v->ugm_user, s + off, n - off);
    if (ul > 0) {
        *out = s + off;
        *out_n = ul;
        return ul;
    }
    size_t best_len = 0, best_off = 0;
    if (v->xcda_n > 0) {
        uint32_t p;
        bool ok = xcda_node(v, 0, &p);
        uint32_t node = ok ? xcda_base(p) : 0;
        for (size_t i = off; ok && i < n; i++) {
            uint8_t c = (uint8_t)s[i];
            if (c == 0)
                break;
            node ^= c;
            if (!xcda_node(v, node, &p) || xcda_lcheck(p) != c)
                break;
            bool leaf = xcda_leaf(p);
            node ^= xcda_base(p);
            if (leaf) {
                if (!xcda_node(v, node, &p))
                    break;
                best_len = i - off + 1;
                best_off = xcda_value(p);
            }
        }
    }
    if (best_len > 0 && best_off < v->repl_len) {
        const char *r = v->repl + best_off;
        size_t max = v->repl_len - best_off, rl = 0;
        while (rl < max && r[rl])
            rl++;
        if (rl < max) {
            *out = r;
            *out_n = rl;
            return best_len;
        }
    }
    size_t i = off;
    uint32_t cp = tok_utf8_decode((const uint8_t *)s, n, &i);
    if (cp == 0xFFFD && !(i - off == 3 && (uint8_t)s[off] == 0xef && (uint8_t)s[off + 1] == 0xbf &&
                          (uint8_t)s[off + 2] == 0xbd)) {
        *out = "\xef\xbf\xbd";
        *out_n = 3;
        return 1;
    }
    *out = s + off;
    *out_n = i - off;
    return i - off;
}

static char *normalize(const rf_vocab *v, const char *s, size_t n, size_t *out_n)
{
    /* a replacement can be longer than its input: grow as needed */
    size_t cap = n * 3 + 16, o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    const char *space = v->escape_ws ? "\xe2\x96\x81" : " ";
    size_t space_n = v->escape_ws ? 3 : 1;
    bool prepend = !v->treat_ws_as_suffix && v->add_space_prefix;
    bool append = v->treat_ws_as_suffix && v->add_space_prefix;
    bool merge = v->remove_extra_ws;
    bool space_prepended = false, in_word = false;
    for (size_t off = 0; off < n;) {
        const char *r;
        size_t rn;
        off += normalize_prefix(v, s, n, off, &r, &rn);
        if (o + rn * 3 + 8 > cap) {
            cap = (o + rn * 3 + 8) * 2;
            char *nb = realloc(out, cap);
            if (!nb) {
                free(out);
                return NULL;
            }
            out = nb;
        }
        for (size_t i = 0; i < rn; i++) {
            char c = r[i];
            if (c != ' ') {
                if (!in_word) {
                    in_word = true;
                    if ((prepend && !space_prepended) || merge) {
                        memcpy(out + o, space, space_n);
                        o += space_n;
                        space_prepended = true;
                    }
                }
                out[o++] = c;
            } else {
                in_word = false;
                if (!merge) {
                    memcpy(out + o, space, space_n);
                    o += space_n;
                }
            }
        }
    }
    if (append) {
        if (o + space_n > cap) {
            char *nb = realloc(out, o + space_n);
            if (!nb) {
                free(out);
                return NULL;
            }
            out = nb;
        }
        memcpy(out + o, space, space_n);
        o += space_n;
    }
    *out_n = o;
    return out;
}

/* ---------------------------------------------------------------- Viterbi */

typedef struct ugm_best {
    int32_t tok;
    size_t from;
    double score;
} ugm_best;

int tok_ugm_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out)
{
    size_t n;
    char *s = normalize(v, text, len, &n);
    if (!s)
        return -1;
    if (n == 0) {
        free(s);
        return 0;
    }
    ugm_best *best = malloc((n + 1) * sizeof *best);
    if (!best) {
        free(s);
        return -1;
    }
    for (size_t i = 0; i <= n; i++)
        best[i] = (ugm_best){v->unk, 0, -DBL_MAX};
    best[0].score = 0;
    const tok_trie *t = &v->ugm_tokens;
    for (size_t off = 0; off < n;) {
        size_t cl = tok_utf8_len((uint8_t)s[off]);
        if (cl > n - off)
            cl = n - off;
        bool single = false;
        double base = best[off].score;
        int32_t node = tok_trie_child(t, -1, (uint8_t)s[off]);
        size_t p = off + 1;
        while (node >= 0) {
            int32_t id = t->nodes[node].value;
            if (id >= 0) {
                if (p - off == cl)
                    single = true;
                double sc = (v->attr[id] & TOK_ATTR_USER_DEFINED) ? 0.0 : (double)v->score[id];
                double ch = base + sc;
                if (ch > best[p].score)
                    best[p] = (ugm_best){id, off, ch};
            }
            if (p >= n)
                break;
            node = tok_trie_child(t, node, (uint8_t)s[p++]);
        }
        if (!single) {
            double ch = base + v->ugm_unk_score;
            if (ch > best[off + cl].score)
                best[off + cl] = (ugm_best){v->unk, off, ch};
        }
        off += cl;
    }
    /* backtrack, collapsing runs of [UNK] */
    size_t start = out->n;
    bool prev_unk = false;
    for (size_t pos = n;;) {
        const ugm_best *b = &best[pos];
        bool unk = b->tok == v->unk;
        if (!(prev_unk && unk) && b->tok >= 0)
            tok_list_push(out, b->tok);
        if (b->from == 0)
            break;
        prev_unk = unk;
        pos = b->from;
    }
    if (!out->oom)
        for (size_t i = start, j = out->n - 1; i < j; i++, j--) {
            int32_t x = out->v[i];
            out->v[i] = out->v[j];
            out->v[j] = x;
        }
    free(best);
    free(s);
    return out->oom ? -1 : 0;
}
