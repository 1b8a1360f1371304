/* kv.c — block allocation for the paged KV cache (see engine.h).
 *
 * Host-side bookkeeping only: a free stack of block ids, reference counts,
 * and each sequence's block table (h_btab, mirrored to the device before
 * each step). The only device work is the copy of a shared block that a
 * sequence is about to write into (copy-on-write after fork + truncate).
 */
#include <string.h>

#include "base/base.h"
#include "engine/engine.h"

rf_status kv_init(rf_ctx *c, rf_error *err)
{
    (void)err;
    c->n_free = 0;
    for (int b = c->n_blocks - 1; b >= 0; b--) {
        c->refcnt[b] = 0;
        c->free_blocks[c->n_free++] = b;
    }
    return RF_OK;
}

static int32_t block_take(rf_ctx *c)
{
    int32_t b = c->free_blocks[--c->n_free];
    c->refcnt[b] = 1;
    return b;
}

static void block_drop(rf_ctx *c, int32_t b)
{
    if (--c->refcnt[b] == 0) c->free_blocks[c->n_free++] = b;
}

/* Does writing position len of s hit a block shared with another sequence? */
static bool tail_shared(const rf_ctx *c, int s)
{
    const rf_seq *q = &c->seqs[s];
    int j = q->len / c->bs;
    return q->len % c->bs != 0 && j < q->n_blocks && c->refcnt[c->h_btab[(size_t)s * c->max_blocks + j]] > 1;
}

int kv_blocks_needed(const rf_ctx *c, int s, int n_new)
{
    const rf_seq *q = &c->seqs[s];
    int need_blocks = (q->len + n_new + c->bs - 1) / c->bs;
    int extra = need_blocks > q->n_blocks ? need_blocks - q->n_blocks : 0;
    return extra + (n_new > 0 && tail_shared(c, s) ? 1 : 0);
}

static void block_copy(rf_ctx *c, int32_t dst, int32_t src)
{
    size_t bytes = (size_t)c->bs * (size_t)c->kv_dim * c->kv_elem;
    const rf_hparams *hp = &c->m->hp;
    for (int l = 0; l < hp->n_layer; l++) {
        char *kl = (char *)c->kv_k + (size_t)l * c->kv_layer_bytes, *vl = (char *)c->kv_v + (size_t)l * c->kv_layer_bytes;
        c->be.ops->copy2d(c->be.ctx, kl + (size_t)dst * bytes, 0, kl + (size_t)src * bytes, 0, 1, bytes);
        c->be.ops->copy2d(c->be.ctx, vl + (size_t)dst * bytes, 0, vl + (size_t)src * bytes, 0, 1, bytes);
    }
}

rf_status kv_reserve(rf_ctx *c, int s, int n_new, rf_error *err)
{
    rf_seq *q = &c->seqs[s];
    if (q->len + n_new > c->max_blocks * c->bs)
        return rf_err(err, RF_ERR_CONTEXT_FULL,
                      "context full: sequence %d holds %d tokens, the batch adds %d, the context is %d tokens", s,
                      q->len, n_new, c->n_ctx);
    int need = kv_blocks_needed(c, s, n_new);
    if (need > c->n_free)
        return rf_err(err, RF_ERR_CONTEXT_FULL, "context full: the KV cache needs %d more blocks of %d tokens, %d free",
                      need, c->bs, c->n_free);
    int32_t *tab = c->h_btab + (size_t)s * c->max_blocks;
    if (n_new > 0 && tail_shared(c, s)) {
        int j = q->len / c->bs;
        int32_t nb = block_take(c);
        block_copy(c, nb, tab[j]);
        block_drop(c, tab[j]);
        tab[j] = nb;
    }
    int need_blocks = (q->len + n_new + c->bs - 1) / c->bs;
    while (q->n_blocks < need_blocks) tab[q->n_blocks++] = block_take(c);
    return RF_OK;
}

void kv_release_from(rf_ctx *c, int s, int keep_blocks)
{
    rf_seq *q = &c->seqs[s];
    int32_t *tab = c->h_btab + (size_t)s * c->max_blocks;
    while (q->n_blocks > keep_blocks) {
        q->n_blocks--;
        block_drop(c, tab[q->n_blocks]);
        tab[q->n_blocks] = 0;
    }
}

void rf_ctx_kv_usage(const rf_ctx *c, int *blocks_used, int *blocks_total)
{
    if (blocks_used) *blocks_used = c ? c->n_blocks - c->n_free : 0;
    if (blocks_total) *blocks_total = c ? c->n_blocks : 0;
}

rf_status rf_seq_open(rf_ctx *c, int *seq_id, rf_error *err)
{
    for (int s = 0; s < c->n_seq_max; s++) {
        if (!c->seqs[s].open) {
            c->seqs[s].open = true;
            c->seqs[s].len = 0;
            c->seqs[s].n_blocks = 0;
            c->pooled_ok[s] = 0;
            *seq_id = s;
            return RF_OK;
        }
    }
    return rf_err(err, RF_ERR_CONTEXT_FULL, "no free sequence: all %d are open (raise n_seq_max)", c->n_seq_max);
}

static bool seq_valid(const rf_ctx *c, int s)
{
    return c && s >= 0 && s < c->n_seq_max && c->seqs[s].open;
}

void rf_seq_close(rf_ctx *c, int seq_id)
{
    if (!seq_valid(c, seq_id)) return;
    kv_release_from(c, seq_id, 0);
    c->seqs[seq_id].open = false;
    c->seqs[seq_id].len = 0;
}

int rf_seq_len(const rf_ctx *c, int seq_id)
{
    return seq_valid(c, seq_id) ? c->seqs[seq_id].len : -1;
}

void rf_seq_truncate(rf_ctx *c, int seq_id, int pos)
{
    if (!seq_valid(c, seq_id)) return;
    rf_seq *q = &c->seqs[seq_id];
    if (pos < 0) pos = 0;
    if (pos >= q->len) return;
    q->len = pos;
    kv_release_from(c, seq_id, (pos + c->bs - 1) / c->bs);
}

rf_status rf_seq_fork(rf_ctx *c, int src_seq, int dst_seq, int n_tokens, rf_error *err)
{
    if (!seq_valid(c, src_seq) || !seq_valid(c, dst_seq) || src_seq == dst_seq)
        return rf_err(err, RF_ERR_INVALID_ARG, "rf_seq_fork: sequences %d -> %d must be two distinct open sequences",
                      src_seq, dst_seq);
    rf_seq *src = &c->seqs[src_seq], *dst = &c->seqs[dst_seq];
    if (n_tokens < 0 || n_tokens > src->len)
        return rf_err(err, RF_ERR_INVALID_ARG, "rf_seq_fork: n_tokens %d out of range [0, %d]", n_tokens, src->len);
    int full = n_tokens / c->bs, part = n_tokens % c->bs;
    if (part && c->n_free < 1)
        return rf_err(err, RF_ERR_CONTEXT_FULL, "context full: no free KV block to copy a partial prefix block");
    kv_release_from(c, dst_seq, 0);
    int32_t *st = c->h_btab + (size_t)src_seq * c->max_blocks, *dt = c->h_btab + (size_t)dst_seq * c->max_blocks;
    for (int j = 0; j < full; j++) {
        dt[j] = st[j];
        c->refcnt[st[j]]++;
    }
    dst->n_blocks = full;
    if (part) {
        int32_t nb = block_take(c);
        block_copy(c, nb, st[full]);
        dt[full] = nb;
        dst->n_blocks = full + 1;
    }
    dst->len = n_tokens;
    return RF_OK;
}
