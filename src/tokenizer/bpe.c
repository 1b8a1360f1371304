/* bpe.c — byte-level BPE by merge rank (tokenizer.ggml.model = "gpt2",
 * "gemma4").
 *
 * The pre-tokenizer (pretok.c) cuts the text into words; each word is cut
 * into UTF-8 characters and adjacent pairs are merged lowest rank first
 * (ties: leftmost) through a min-heap, skipping entries made stale by an
 * earlier merge (their combined size no longer matches). What is left is
 * looked up as tokens; a leftover that is not a token is emitted byte by
 * byte (single byte-level characters, or <0xNN> for vocabs that are not
 * byte-encoded), dropping bytes that have no token — as llama.cpp does.
 * With ignore_merges a word that is itself a token is taken whole.
 * O(k log k) per word of k characters; nothing is quadratic in long words.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

typedef struct bpe_sym {
    int32_t prev, next;
    uint32_t off, n;
} bpe_sym;

typedef struct bpe_bigram {
    int32_t left, right;
    int32_t rank;
    uint32_t size;
} bpe_bigram;

typedef struct bpe_state {
    const rf_vocab *v;
    tok_list *out;
    bpe_sym *sy;
    size_t sy_cap;
    bpe_bigram *heap;
    size_t heap_n, heap_cap;
    bool oom;
} bpe_state;

static bool before(const bpe_bigram *a, const bpe_bigram *b)
{
    if (a->rank != b->rank)
        return a->rank < b->rank;
    return a->left < b->left;
}

static void heap_push(bpe_state *s, bpe_bigram b)
{
    if (s->heap_n == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
        bpe_bigram *nv = realloc(s->heap, cap * sizeof *nv);
        if (!nv) {
            s->oom = true;
            return;
        }
        s->heap = nv;
        s->heap_cap = cap;
    }
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = b;
}

static bpe_bigram heap_pop(bpe_state *s)
{
    bpe_bigram *h = s->heap;
    bpe_bigram top = h[0];
    bpe_bigram last = h[--s->heap_n];
    size_t n = s->heap_n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&h[c + 1], &h[c]))
            c++;
        if (!before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (n)
        h[i] = last;
    return top;
}

static void add_bigram(bpe_state *s, const char *w, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return;
    const bpe_sym *a = &s->sy[l], *b = &s->sy[r];
    int rank = tok_merge_rank(s->v, w + a->off, a->n, w + b->off, b->n);
    if (rank < 0)
        return;
    heap_push(s, (bpe_bigram){l, r, rank, a->n + b->n});
}

static void emit(bpe_state *s, const char *w, const bpe_sym *sym)
{
    const rf_vocab *v = s->v;
    int32_t id = tok_lookup(v, w + sym->off, sym->n);
    if (id >= 0) {
        tok_list_push(s->out, id);
        return;
    }
    for (uint32_t j = 0; j < sym->n; j++) {
        uint8_t c = (uint8_t)w[sym->off + j];
        int32_t t = v->byte_encode ? tok_lookup(v, (const char *)&c, 1) : v->byte_tok[c];
        if (t >= 0)
            tok_list_push(s->out, t);
    }
}

static int bpe_word(void *ctx, const char *w, size_t n)
{
    bpe_state *s = ctx;
    const rf_vocab *v = s->v;
    if (!n)
        return 0;
    if (v->ignore_merges) {
        int32_t id = tok_lookup(v, w, n);
        if (id >= 0) {
            tok_list_push(s->out, id);
            return s->out->oom ? -1 : 0;
        }
    }
    if (v->pre == TOK_PRE_GEMMA4) {
        size_t k = 0;
        while (k < n && w[k] == '\n')
            k++;
        if (k == n) {
            int32_t id = tok_lookup(v, w, n);
            if (id >= 0) {
                tok_list_push(s->out, id);
                return s->out->oom ? -1 : 0;
            }
        }
    }
    if (n > s->sy_cap) {
        bpe_sym *nv = realloc(s->sy, n * sizeof *nv);
        if (!nv)
            return -1;
        s->sy = nv;
        s->sy_cap = n;
    }
    int32_t n_sym = 0;
    for (size_t off = 0; off < n;) {
        size_t cl = tok_utf8_len((uint8_t)w[off]);
        if (cl > n - off)
            cl = n - off;
        s->sy[n_sym] = (bpe_sym){n_sym - 1, off + cl == n ? -1 : n_sym + 1, (uint32_t)off, (uint32_t)cl};
        n_sym++;
        off += cl;
    }
    s->heap_n = 0;
    for (int32_t i = 1; i < n_sym; i++)
        add_bigram(s, w, i - 1, i);
    while (s->heap_n && !s->oom) {
        bpe_bigram b = heap_pop(s);
        bpe_sym *l = &s->sy[b.left], *r = &s->sy[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s->sy[r->next].prev = b.left;
        add_bigram(s, w, l->prev, b.left);
        add_bigram(s, w, b.left, l->next);
    }
    if (s->oom)
        return -1;
    for (int32_t i = 0; i != -1; i = s->sy[i].next)
        if (s->sy[i].n)
            emit(s, w, &s->sy[i]);
    return s->out->oom ? -1 : 0;
}

int tok_bpe_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out)
{
    bpe_state s = {.v = v, .out = out};
    int rc = tok_pretok_split(v, text, len, bpe_word, &s);
    free(s.sy);
    free(s.heap);
    return rc;
}
