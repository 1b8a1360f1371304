/* spm.c — SentencePiece-style BPE (tokenizer.ggml.model = "llama").
 *
 * The text (spaces already escaped to U+2581, prefix space added by the
 * caller) is split into UTF-8 characters; every adjacent pair whose
 * concatenation is a token goes into a max-heap keyed by that token's
 * score (ties: leftmost first). The best pair is merged, its neighbours
 * are re-examined, stale heap entries are skipped by checking the symbol
 * sizes. Symbols left that are not tokens fall back to <0xNN> byte tokens.
 * This is llama.cpp's llm_tokenizer_spm order of operations, so ties and
 * fallbacks produce the same ids. O(n log n) per fragment.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

typedef struct spm_sym {
    int32_t prev, next;
    uint32_t off, n;   /* bytes of text */
} spm_sym;

typedef struct spm_bigram {
    int32_t left, right;
    float score;
    uint32_t size;
} spm_bigram;

typedef struct spm_heap {
    spm_bigram *v;
    size_t n, cap;
} spm_heap;

/* a before b: higher score, then lower left index */
static bool bigram_before(const spm_bigram *a, const spm_bigram *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    return a->left < b->left;
}

static bool heap_push(spm_heap *h, spm_bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        spm_bigram *nv = realloc(h->v, cap * sizeof *nv);
        if (!nv)
            return false;
        h->v = nv;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_before(&b, &h->v[p]))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = b;
    return true;
}

static spm_bigram heap_pop(spm_heap *h)
{
    spm_bigram top = h->v[0];
    spm_bigram last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && bigram_before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!bigram_before(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

static bool try_add(const rf_vocab *v, const char *text, const spm_sym *sy, spm_heap *h, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return true;
    uint32_t n = sy[l].n + sy[r].n;
    int32_t id = tok_lookup(v, text + sy[l].off, n);
    if (id < 0)
        return true;
    return heap_push(h, (spm_bigram){l, r, v->score[id], n});
}

static void emit_symbol(const rf_vocab *v, const char *text, const spm_sym *s, tok_list *out)
{
    int32_t id = tok_lookup(v, text + s->off, s->n);
    if (id >= 0) {
        tok_list_push(out, id);
        return;
    }
    for (uint32_t j = 0; j < s->n; j++) {
        int32_t b = v->byte_tok[(uint8_t)text[s->off + j]];
        tok_list_push(out, b >= 0 ? b : v->unk);
    }
}

static int spm_segment(const rf_vocab *v, const char *text, size_t len, tok_list *out)
{
    if (!len)
        return 0;
    spm_sym *sy = malloc(len * sizeof *sy);
    spm_heap h = {0};
    if (!sy)
        return -1;
    int32_t n_sym = 0;
    for (size_t off = 0; off < len;) {
        size_t n = tok_utf8_len((uint8_t)text[off]);
        if (n > len - off)
            n = len - off;
        sy[n_sym] = (spm_sym){n_sym - 1, off + n == len ? -1 : n_sym + 1, (uint32_t)off, (uint32_t)n};
        n_sym++;
        off += n;
    }
    bool ok = true;
    for (int32_t i = 1; i < n_sym && ok; i++)
        ok = try_add(v, text, sy, &h, i - 1, i);
    while (ok && h.n) {
        spm_bigram b = heap_pop(&h);
        spm_sym *l = &sy[b.left], *r = &sy[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sy[r->next].prev = b.left;
        ok = try_add(v, text, sy, &h, l->prev, b.left) && try_add(v, text, sy, &h, b.left, l->next);
    }
    if (ok)
        for (int32_t i = 0; i != -1; i = sy[i].next)
            emit_symbol(v, text, &sy[i], out);
    free(sy);
    free(h.v);
    return ok ? 0 : -1;
}

/* Cut the text at bytes that can never merge (see rf_vocab.spm_isolated):
 * each side is merged on its own and the byte is a symbol by itself. */
int tok_spm_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)text[i];
        if (c >= 128 || !v->spm_isolated[c])
            continue;
        /* a lead byte before i may claim this byte as a continuation */
        size_t back = i > 3 ? i - 3 : 0;
        bool claimed = false;
        for (size_t k = back > start ? back : start; k < i; k++)
            if (tok_utf8_len((uint8_t)text[k]) > i - k) {
                claimed = true;
                break;
            }
        if (claimed)
            continue;
        if (spm_segment(v, text + start, i - start, out))
            return -1;
        spm_sym s = {-1, -1, 0, 1};
        emit_symbol(v, text + i, &s, out);
        start = i + 1;
    }
    return spm_segment(v, text + start, len - start, out);
}
