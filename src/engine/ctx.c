/* ctx.c — context creation from a memory plan, and rf_decode: batch
 * validation, KV slot assignment, then the forward pass.
 *
 * rf_decode checks the whole batch (token ids, sequences, capacity) before
 * it changes any state, so a rejected batch leaves the context as it was.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "engine/engine.h"

#define CTX_DEFAULT_CAP 4096
#define STEP_ALIGN(k) (((uint64_t)(k) + 3) & ~(uint64_t)3) /* int32s: 16-byte steps */
#define CTX_MAX_TOKENS (1 << 24)

rf_ctx_params rf_ctx_default_params(void)
{
    rf_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_seq_max = 1;
    p.n_batch = 512;
    p.kv_block_size = 16;
    p.deterministic = true;
    return p;
}

/* Per-layer RoPE parameters, fixed for the context (phi3's long/short
 * factors depend on the context size, as in llama.cpp). */
static void rope_setup(rf_ctx *c)
{
    const rf_model *m = c->m;
    const rf_hparams *hp = &m->hp;
    const float *factors = m->rope_freqs_w;
    if (!factors && (m->rope_long || m->rope_short))
        factors = c->n_ctx > hp->n_ctx_orig && m->rope_long ? m->rope_long : m->rope_short;
    for (int l = 0; l < hp->n_layer; l++) {
        rf_rope_params *r = &c->rope[l];
        bool swa = m->layers[l].swa;
        r->style = m->arch->rope;
        r->n_rot = hp->n_rot;
        r->freq_base = swa ? hp->rope_base_swa : hp->rope_base;
        r->freq_scale = swa ? 1.0f : hp->rope_freq_scale;
        r->ext_factor = swa ? 0.0f : hp->rope_ext_factor;
        r->attn_factor = hp->rope_attn_factor;
        r->freq_factors = factors;
        /* YaRN correction dims, as ggml_rope_yarn_corr_dims */
        float nd = (float)hp->n_rot, base = r->freq_base;
        float lo = floorf(nd * logf((float)hp->n_ctx_orig / (hp->yarn_beta_fast * 2 * (float)M_PI)) / (2 * logf(base)));
        float hi = ceilf(nd * logf((float)hp->n_ctx_orig / (hp->yarn_beta_slow * 2 * (float)M_PI)) / (2 * logf(base)));
        r->corr_dims[0] = lo > 0 ? lo : 0;
        r->corr_dims[1] = hi < nd - 1 ? hi : nd - 1;
    }
}

static void *dev_alloc(rf_ctx *c, uint64_t bytes, rf_error *err, rf_status *st)
{
    if (*st) return NULL;
    void *p = c->be.ops->alloc(c->be.ctx, (size_t)bytes, err);
    if (!p) *st = RF_ERR_NOMEM;
    return p;
}

static void *host_alloc(uint64_t n, uint64_t size, rf_error *err, rf_status *st, const char *what)
{
    if (*st) return NULL;
    void *p = rf_calloc((size_t)n, (size_t)size, err, what);
    if (!p) *st = RF_ERR_NOMEM;
    return p;
}

rf_status rf_ctx_create(rf_model *m, const rf_ctx_params *params, rf_ctx **out, rf_error *err)
{
    rf_ctx_params dp = rf_ctx_default_params();
    if (!params) params = &dp;
    if (!m || !out) return rf_err(err, RF_ERR_INVALID_ARG, "rf_ctx_create: model and out are required");
    *out = NULL;
    if (m->vocab_only || !m->layers)
        return rf_err(err, RF_ERR_INVALID_ARG, "rf_ctx_create: the model was loaded without weights (vocab only)");
    const rf_hparams *hp = &m->hp;
    rf_ctx_params p = *params;
    if (p.n_ctx < 0 || p.n_ctx > CTX_MAX_TOKENS)
        return rf_err(err, RF_ERR_INVALID_ARG, "context size %d out of range [1, %d]", p.n_ctx, CTX_MAX_TOKENS);
    if (p.n_ctx == 0) p.n_ctx = hp->n_ctx_train < CTX_DEFAULT_CAP ? hp->n_ctx_train : CTX_DEFAULT_CAP;
    if (p.n_seq_max <= 0) p.n_seq_max = 1;
    if (p.n_seq_max > 4096) return rf_err(err, RF_ERR_INVALID_ARG, "n_seq_max %d out of range [1, 4096]", p.n_seq_max);
    if (p.n_batch <= 0) p.n_batch = 512;
    if (p.n_batch > 65536) return rf_err(err, RF_ERR_INVALID_ARG, "n_batch %d out of range [1, 65536]", p.n_batch);
    /* The CPU thread pool belongs to the model (rf_model_params.n_threads). */
    if (p.n_threads < 0 || (p.n_threads > 0 && p.n_threads != m->n_threads))
        return rf_err(err, RF_ERR_UNSUPPORTED,
                      "rf_ctx_create: n_threads %d differs from the model's %d; threads are set at model load "
                      "(rf_model_params.n_threads); pass 0 here",
                      p.n_threads, m->n_threads);
    if (p.kv_block_size <= 0) p.kv_block_size = 16;
    if (p.kv_block_size > 4096)
        return rf_err(err, RF_ERR_INVALID_ARG, "kv_block_size %d out of range [1, 4096]", p.kv_block_size);
    if (p.kv_type != RF_KV_AUTO && p.kv_type != RF_KV_F16 && p.kv_type != RF_KV_F32)
        return rf_err(err, RF_ERR_INVALID_ARG, "kv_type %d is not RF_KV_AUTO, RF_KV_F16 or RF_KV_F32", (int)p.kv_type);

    rf_status st = RF_OK;
    rf_ctx *c = rf_calloc(1, sizeof *c, err, "context");
    if (!c) return RF_ERR_NOMEM;
    c->m = m;
    /* never reused, not even by a context made at a freed one's address:
     * a backend keys what it caches for this context's steps on it */
    static _Atomic uint64_t serials;
    c->serial = ++serials;
    c->be = m->backend;
    /* Batch-invariant numerics unless the caller opts out; a backend may then
     * take faster paths (e.g. matrix units that round to F16). The backend
     * belongs to the model, so the last context created sets it. */
    if (c->be.ops->set_deterministic) c->be.ops->set_deterministic(c->be.ctx, p.deterministic);
    c->p = p;
    c->n_ctx = p.n_ctx;
    c->n_batch = p.n_batch;
    c->n_seq_max = p.n_seq_max;
    c->bs = p.kv_block_size;
    c->max_blocks = (p.n_ctx + c->bs - 1) / c->bs;
    c->n_blocks = c->max_blocks + p.n_seq_max - 1;  /* each sequence may leave one block part-filled */
    c->kv_dim = hp->n_head_kv * hp->head_dim;
    /* as asked, or the backend's pick; a backend without F32 pools keeps F16 */
    const bool kv16 = p.kv_type == RF_KV_F16 || (p.kv_type == RF_KV_AUTO && c->be.ops->kv_f16_default);
    c->kv_type = kv16 || !c->be.ops->kv_write_typed ? RF_TYPE_F16 : RF_TYPE_F32;
    c->kv_elem = c->kv_type == RF_TYPE_F16 ? 2 : 4;

    uint64_t B = (uint64_t)p.n_batch, E = (uint64_t)hp->n_embd, V = (uint64_t)hp->n_vocab;
    uint64_t qd = (uint64_t)hp->n_head * hp->head_dim, kvd = (uint64_t)c->kv_dim, F = (uint64_t)hp->n_ff;
    uint64_t kv_layer;
    if (rf_mul_ovf((uint64_t)c->n_blocks * (uint64_t)c->bs, kvd * c->kv_elem, &kv_layer) ||
        kv_layer > (uint64_t)SIZE_MAX / (uint64_t)hp->n_layer) {
        free(c);
        return rf_err(err, RF_ERR_NOMEM, "KV cache of %d tokens does not fit in memory", p.n_ctx);
    }
    c->kv_layer_bytes = (size_t)kv_layer;
    uint64_t kv_total = kv_layer * (uint64_t)hp->n_layer * 2;
    uint64_t xb_cols = E > qd ? E : qd;
    uint64_t act = 4 * (B * (E + xb_cols + qd + 2 * kvd + qd + 2 * F + F + E + V) +
                        (m->layers[0].wqkv.host ? B * (qd + 2 * kvd) : 0));
    if (m->verbose)
        fprintf(stderr,
                "memory plan: KV cache %.1f MiB (%d blocks x %d tokens x %d layers, %s), activations %.1f MiB "
                "(batch %d), logits %.1f MiB\n",
                (double)kv_total / 1048576.0, c->n_blocks, c->bs, hp->n_layer, rf_type_name(c->kv_type), (double)act / 1048576.0, p.n_batch,
                (double)(B * V * 4) / 1048576.0);

    /* the whole plan against the device's free memory before the first
     * allocation: KV cache, activations and logits, per-step inputs, and the
     * backend's activation scratch (8-bit: a byte and 1/8 float per input
     * element of the widest product; F16: two bytes) */
    if (c->be.ops->mem_info) {
        const uint64_t widest = F > E ? F : E;
        const uint64_t small = B * 4 * 7 + (uint64_t)p.n_seq_max * (uint64_t)c->max_blocks * 4;
        /* weights decoded to F16 for the prompt GEMM (prompt tokens take it
         * in every context): the largest matrix or 128 MiB */
        uint64_t wmax = E * (F > qd ? F : qd);
        if (E * V > wmax) wmax = E * V;
        const uint64_t wh = 2 * (wmax < ((uint64_t)1 << 26) ? wmax : ((uint64_t)1 << 26));
        /* the split attention of up to n_seq_max generated tokens at once */
        const uint64_t att = c->be.ops->reserve_attn
                                 ? rf_attn_split_bytes((uint64_t)p.n_seq_max * hp->n_head, (uint64_t)hp->head_dim)
                                 : 0;
        const uint64_t need = kv_total + act + small + B * widest * 3 + B * widest / 8 + wh + att;
        size_t fr = 0, tot = 0;
        st = c->be.ops->mem_info(c->be.ctx, &fr, &tot, err);
        if (st == RF_OK && need > (uint64_t)fr)
            st = rf_err(err, RF_ERR_NOMEM,
                        "memory plan: a context of %d tokens (%d sequences, batch %d) needs %.1f MiB of device "
                        "memory (KV cache %.1f MiB, activations and logits %.1f MiB, scratch %.1f MiB), but %s has "
                        "%.1f MiB free of %.1f MiB: use a smaller context (-c) or batch, or run on the CPU (--cpu)",
                        p.n_ctx, p.n_seq_max, p.n_batch, need / 1048576.0, kv_total / 1048576.0, act / 1048576.0,
                        (small + B * widest * 3 + B * widest / 8 + wh + att) / 1048576.0,
                        c->be.ops->device_name ? c->be.ops->device_name(c->be.ctx) : c->be.ops->name,
                        fr / 1048576.0, tot / 1048576.0);
        if (st) {
            free(c);
            return st;
        }
    }
    c->kv_k = dev_alloc(c, kv_layer * (uint64_t)hp->n_layer, err, &st);
    c->kv_v = dev_alloc(c, kv_layer * (uint64_t)hp->n_layer, err, &st);
    c->step_cap = 7 * STEP_ALIGN(B) + STEP_ALIGN((uint64_t)p.n_seq_max * (uint64_t)c->max_blocks);
    c->d_step = dev_alloc(c, c->step_cap * 4, err, &st);
    c->x = dev_alloc(c, B * E * 4, err, &st);
    c->xb = dev_alloc(c, B * xb_cols * 4, err, &st);
    c->q = dev_alloc(c, B * qd * 4, err, &st);
    c->k = dev_alloc(c, B * kvd * 4, err, &st);
    c->v = dev_alloc(c, B * kvd * 4, err, &st);
    if (m->layers[0].wqkv.host) c->qkv = dev_alloc(c, B * (qd + 2 * kvd) * 4, err, &st);
    c->att = dev_alloc(c, B * qd * 4, err, &st);
    c->hb = dev_alloc(c, B * 2 * F * 4, err, &st);
    c->hb2 = dev_alloc(c, B * F * 4, err, &st);
    c->xo = dev_alloc(c, B * E * 4, err, &st);
    c->logits = dev_alloc(c, B * V * 4, err, &st);

    c->seqs = host_alloc((uint64_t)p.n_seq_max, sizeof *c->seqs, err, &st, "sequences");
    c->h_btab = host_alloc((uint64_t)p.n_seq_max * (uint64_t)c->max_blocks, 4, err, &st, "block tables");
    c->refcnt = host_alloc((uint64_t)c->n_blocks, 4, err, &st, "block refcounts");
    c->free_blocks = host_alloc((uint64_t)c->n_blocks, 4, err, &st, "free blocks");
    c->h_pos = host_alloc(B, 4, err, &st, "positions");
    c->h_slots = host_alloc(B, 4, err, &st, "slots");
    c->h_seqrow = host_alloc(B, 4, err, &st, "sequence rows");
    c->h_out_rows = host_alloc(B, 4, err, &st, "output rows");
    c->h_out_pos = host_alloc(B, 4, err, &st, "output positions");
    c->h_out_seqrow = host_alloc(B, 4, err, &st, "output sequence rows");
    c->out_of_entry = host_alloc(B, 4, err, &st, "output map");
    c->h_tok = host_alloc(B, 4, err, &st, "token ids");
    c->h_step = host_alloc(c->step_cap, 4, err, &st, "step inputs");
    c->h_order = host_alloc(B, 4, err, &st, "row order");
    c->seq_new = host_alloc((uint64_t)p.n_seq_max, sizeof(int), err, &st, "sequence counts");
    c->rope = host_alloc((uint64_t)hp->n_layer, sizeof *c->rope, err, &st, "rope parameters");
    c->h_logits = host_alloc(B * V, 4, err, &st, "logits");
    if (p.embeddings) {
        c->h_embd = host_alloc(B * E, 4, err, &st, "embeddings");
        c->h_pooled = host_alloc((uint64_t)p.n_seq_max * E, 4, err, &st, "pooled embeddings");
    }
    c->pooled_ok = host_alloc((uint64_t)p.n_seq_max, 1, err, &st, "pooled flags");
    if (st) goto fail;

    /* matmul scratch for the largest batch over every weight */
    {
        int n_w = 0;
        const rf_bweight **ws = rf_calloc((size_t)hp->n_layer * 10 + 2, sizeof *ws, err, "weight list");
        if (!ws) { st = RF_ERR_NOMEM; goto fail; }
        ws[n_w++] = &m->output;
        for (int l = 0; l < hp->n_layer; l++) {
            const rf_layer *L = &m->layers[l];
            const rf_bweight *all[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
                if (all[i]->host) ws[n_w++] = all[i];
        }
        st = c->be.ops->reserve(c->be.ctx, ws, n_w, p.n_batch, err);
        free(ws);
        if (st == RF_OK && c->be.ops->reserve_attn)
            st = c->be.ops->reserve_attn(c->be.ctx, p.n_seq_max, hp->n_head, hp->head_dim, err);
        if (st) goto fail;
    }
    kv_init(c, err);
    rope_setup(c);
    *out = c;
    return RF_OK;
fail:
    rf_ctx_free(c);
    return st;
}

rf_kv_type rf_ctx_kv_type(const rf_ctx *c) { return c->kv_type == RF_TYPE_F16 ? RF_KV_F16 : RF_KV_F32; }

void rf_ctx_free(rf_ctx *c)
{
    if (!c) return;
    void *dev[] = {c->kv_k, c->kv_v, c->d_step, c->x, c->xb, c->q, c->k, c->v, c->qkv, c->att, c->hb, c->hb2, c->xo, c->logits};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) c->be.ops->free(c->be.ctx, dev[i]);
    free(c->seqs);
    free(c->h_btab);
    free(c->refcnt);
    free(c->free_blocks);
    free(c->h_pos);
    free(c->h_slots);
    free(c->h_seqrow);
    free(c->h_out_rows);
    free(c->h_out_pos);
    free(c->h_out_seqrow);
    free(c->out_of_entry);
    free(c->h_tok);
    free(c->h_step);
    free(c->h_order);
    free(c->seq_new);
    free(c->rope);
    free(c->h_logits);
    free(c->h_embd);
    free(c->h_pooled);
    free(c->pooled_ok);
    free(c);
}

rf_status rf_decode(rf_ctx *c, const rf_batch *b, rf_error *err)
{
    if (!c || !b || !b->token || !b->seq) return rf_err(err, RF_ERR_INVALID_ARG, "rf_decode: context and batch required");
    int n = b->n_tokens;
    if (n <= 0 || n > c->n_batch)
        return rf_err(err, RF_ERR_INVALID_ARG, "rf_decode: batch of %d tokens, must be in [1, %d] (n_batch)", n,
                      c->n_batch);
    int n_vocab = c->m->hp.n_vocab;
    memset(c->seq_new, 0, (size_t)c->n_seq_max * sizeof(int));
    for (int i = 0; i < n; i++) {
        int s = b->seq[i];
        if (s < 0 || s >= c->n_seq_max || !c->seqs[s].open)
            return rf_err(err, RF_ERR_INVALID_ARG, "rf_decode: entry %d names sequence %d, which is not open", i, s);
        if (b->token[i] < 0 || b->token[i] >= n_vocab)
            return rf_err(err, RF_ERR_INVALID_ARG, "rf_decode: entry %d has token id %d, out of range [0, %d)", i,
                          b->token[i], n_vocab);
        c->seq_new[s]++;
    }
    /* capacity of the whole batch first, so that a refusal changes nothing */
    int need = 0;
    for (int s = 0; s < c->n_seq_max; s++) {
        if (!c->seq_new[s]) continue;
        if (c->seqs[s].len + c->seq_new[s] > c->n_ctx)
            return rf_err(err, RF_ERR_CONTEXT_FULL,
                          "context full: sequence %d holds %d tokens, the batch adds %d, the context is %d tokens", s,
                          c->seqs[s].len, c->seq_new[s], c->n_ctx);
        need += kv_blocks_needed(c, s, c->seq_new[s]);
    }
    if (need > c->n_free)
        return rf_err(err, RF_ERR_CONTEXT_FULL,
                      "context full: the batch needs %d more KV blocks of %d tokens, %d are free (context %d tokens)",
                      need, c->bs, c->n_free, c->n_ctx);
    for (int s = 0; s < c->n_seq_max; s++) {
        if (!c->seq_new[s]) continue;
        rf_status st = kv_reserve(c, s, c->seq_new[s], err);
        if (st) return st;
        c->seq_new[s] = 0;
    }
    /* Token roles (a backend with token_roles, deterministic contexts): a
     * sequence with two or more tokens in the batch is reading its prompt,
     * one with a single token takes a generated step. The rows run the
     * prompt tokens first (batch order kept within each role, so a
     * sequence's tokens keep theirs), and the backend gives each role its
     * own numerics: a token's bits then depend on its role and its own
     * sequence, never on what else shares the batch. */
    const bool roles = rf_ctx_role_numerics(c);
    int n_prompt = 0;
    if (roles) {
        for (int i = 0; i < n; i++) c->seq_new[b->seq[i]]++;
        for (int i = 0; i < n; i++)
            if (c->seq_new[b->seq[i]] >= 2) c->h_order[n_prompt++] = i;
        for (int i = 0, k = n_prompt; i < n; i++)
            if (c->seq_new[b->seq[i]] < 2) c->h_order[k++] = i;
        for (int i = 0; i < n; i++) c->seq_new[b->seq[i]] = 0;
    } else {
        for (int i = 0; i < n; i++) c->h_order[i] = i;
    }
    /* positions, slots, and the rows that want logits, in row order */
    int n_out = 0, n_out_prompt = 0;
    for (int j = 0; j < n; j++) {
        const int i = c->h_order[j];
        int s = b->seq[i];
        int pos = c->seqs[s].len + c->seq_new[s]++;
        int32_t blk = c->h_btab[(size_t)s * c->max_blocks + pos / c->bs];
        c->h_tok[j] = b->token[i];
        c->h_pos[j] = pos;
        c->h_slots[j] = blk * c->bs + pos % c->bs;
        c->h_seqrow[j] = s;
        bool want;
        if (b->want_logits) {
            want = b->want_logits[i] != 0;
        } else {
            want = true;
            for (int k = i + 1; k < n; k++)
                if (b->seq[k] == s) { want = false; break; }
        }
        c->out_of_entry[i] = want ? n_out : -1;
        if (want) {
            n_out_prompt += j < n_prompt;
            c->h_out_pos[n_out] = pos;
            c->h_out_seqrow[n_out] = s;
            c->h_out_rows[n_out++] = j;
        }
    }
    c->n_out = n_out;
    c->n_prompt = roles ? n_prompt : -1;
    c->n_out_prompt = roles ? n_out_prompt : -1;
    c->n_last = n;
    const rf_backend_ops *o = c->be.ops;
    void *bc = c->be.ctx;
    rf_status st;
    /* the step's inputs packed, uploaded at once (one copy instead of eight:
     * the device idles while the host sends them) */
    {
        const struct { const int32_t *h; int32_t **d; uint64_t n; } part[] = {
            {c->h_tok, &c->d_tok, (uint64_t)n},           {c->h_pos, &c->d_pos, (uint64_t)n},
            {c->h_slots, &c->d_slots, (uint64_t)n},       {c->h_seqrow, &c->d_seqrow, (uint64_t)n},
            {c->h_out_rows, &c->d_out_rows, (uint64_t)n_out}, {c->h_out_pos, &c->d_out_pos, (uint64_t)n_out},
            {c->h_out_seqrow, &c->d_out_seqrow, (uint64_t)n_out},
            {c->h_btab, &c->d_btab, (uint64_t)c->n_seq_max * (uint64_t)c->max_blocks},
        };
        uint64_t off = 0;
        for (size_t k = 0; k < sizeof part / sizeof part[0]; k++) {
            memcpy(c->h_step + off, part[k].h, part[k].n * 4);
            *part[k].d = c->d_step + off;
            off += STEP_ALIGN(part[k].n);
        }
        if ((st = o->upload(bc, c->d_step, 0, c->h_step, (size_t)off * 4, err))) return st;
    }
    st = forward_run(c, n, err);
    if (st) {
        c->n_out = 0;
        return st;
    }
    for (int s = 0; s < c->n_seq_max; s++) {
        c->seqs[s].len += c->seq_new[s];
        if (c->p.embeddings) c->pooled_ok[s] = c->seq_new[s] > 0;
    }
    if (c->p.embeddings) {
        /* mean over the batch's tokens of each sequence, then L2 norm: one
         * pass over the rows, then one over the sequences present */
        int E = c->m->hp.n_embd;
        for (int s = 0; s < c->n_seq_max; s++)
            if (c->pooled_ok[s]) memset(c->h_pooled + (size_t)s * E, 0, (size_t)E * sizeof(float));
        for (int j = 0; j < n; j++) {
            float *pv = c->h_pooled + (size_t)b->seq[c->h_order[j]] * E;
            const float *row = c->h_embd + (size_t)j * E;
            for (int e = 0; e < E; e++) pv[e] += row[e];
        }
        for (int s = 0; s < c->n_seq_max; s++) {
            if (!c->pooled_ok[s]) continue;
            float *pv = c->h_pooled + (size_t)s * E;
            double ss = 0;
            for (int e = 0; e < E; e++) ss += (double)pv[e] * pv[e];
            float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
            for (int e = 0; e < E; e++) pv[e] *= inv;
        }
    }
    return RF_OK;
}

bool rf_ctx_role_numerics(const rf_ctx *c)
{
    return c && c->be.ops->token_roles && c->p.deterministic;
}

rf_status rf_synchronize(rf_ctx *c, rf_error *err)
{
    return c->be.ops->sync ? c->be.ops->sync(c->be.ctx, err) : RF_OK;
}

const float *rf_get_logits(rf_ctx *c, int i)
{
    if (!c || i < 0 || i >= c->n_last) return NULL;
    int r = c->out_of_entry[i];
    if (r < 0 || r >= c->n_out) return NULL;
    if (c->logits_pending) {
        rf_error e = {0};
        if (c->be.ops->download(c->be.ctx, c->h_logits, c->logits, 0,
                                (size_t)c->n_out * c->m->hp.n_vocab * sizeof(float), &e) != RF_OK) {
            fprintf(stderr, "rocmforge: reading logits: %s\n", e.msg);
            return NULL;
        }
        c->logits_pending = false;
    }
    return c->h_logits + (size_t)r * c->m->hp.n_vocab;
}

rf_status ctx_greedy_device(rf_ctx *c, int i, const rf_greedy_adj *adj, int32_t *id, rf_error *err)
{
    if (!c->be.ops->greedy) return rf_err(err, RF_ERR_UNSUPPORTED, "backend %s has no device greedy pick", c->be.ops->name);
    if (i < 0 || i >= c->n_last) return rf_err(err, RF_ERR_INVALID_ARG, "sample: entry %d is not in the last batch", i);
    int r = c->out_of_entry[i];
    if (r < 0 || r >= c->n_out) return rf_err(err, RF_ERR_INVALID_ARG, "sample: entry %d has no logits", i);
    const int V = c->m->hp.n_vocab;
    return c->be.ops->greedy(c->be.ctx, c->logits + (size_t)r * V, V, adj, id, err);
}

const float *rf_get_embeddings(rf_ctx *c, int seq_id)
{
    if (!c || !c->p.embeddings || seq_id < 0 || seq_id >= c->n_seq_max || !c->pooled_ok[seq_id]) return NULL;
    return c->h_pooled + (size_t)seq_id * c->m->hp.n_embd;
}
