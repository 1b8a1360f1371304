/* forward.c — the layer loop, written once over backend ops.
 *
 * One call runs a prepared batch (token ids, positions, KV slots, sequence
 * rows and block tables already uploaded by rf_decode) through the model:
 *
 *   x = embed(tokens) * embd_scale
 *   per layer:  h = norm(x) -> Q,K,V (+bias) -> [Q/K norm] -> RoPE -> KV write
 *               -> paged attention (F32 or F16 KV) -> Wo -> [post norm] -> x += ...
 *               h = norm(x) -> gate, up -> act(gate)*up -> down -> [post norm] -> x += ...
 *   rows that want logits: norm -> LM head -> [soft-cap] -> download
 *
 * Every branch here is on a flag or a bound tensor, never on a family name.
 * All buffers come from the context's plan; nothing is allocated.
 */
#include <string.h>

#include "base/base.h"
#include "engine/engine.h"

rf_status forward_run(rf_ctx *c, int n, rf_error *err)
{
    const rf_model *m = c->m;
    const rf_hparams *hp = &m->hp;
    const rf_arch *a = m->arch;
    const rf_backend_ops *o = c->be.ops;
    void *bc = c->be.ctx;
    const int E = hp->n_embd, hd = hp->head_dim, F = hp->n_ff;
    const int qd = hp->n_head * hd, kvd = c->kv_dim;
    rf_status st;
    /* rows without logits skip the last layer's attention output and FFN;
     * not when hidden states of every row are kept (embeddings) */
    const bool prune = !c->p.embeddings && c->n_out < n;

    /* A step of this context of the same shape as one recorded before (the
     * same rows, rows with logits and roles: every op below and its
     * arguments follow from these and the context, whose buffers and KV
     * pools never move) replays it without going through the ops. The
     * backend is the model's, shared by its contexts: the context's serial
     * keeps their steps apart. Not with embeddings (their download is not
     * part of a recording). */
    if (o->graph_try && !c->p.embeddings) {
        const int64_t sig[RF_STEP_SIG] = {(int64_t)c->serial, n, c->n_out, c->n_prompt, c->n_out_prompt};
        bool done = false;
        if ((st = o->graph_try(bc, n, sig, &done, err))) return st;
        if (done) goto ran;
    }
    if (o->graph_begin && (st = o->graph_begin(bc, n, err))) return st;
    if (o->token_roles) o->token_roles(bc, c->n_prompt);
    if ((st = o->get_rows(bc, &m->tok_embd, c->d_tok, n, hp->embd_scale, c->x, err))) return st;

    for (int l = 0; l < hp->n_layer; l++) {
        const rf_layer *L = &m->layers[l];
        o->rmsnorm(bc, c->x, L->attn_norm.dev, hp->norm_eps, n, E, c->xb);
        if (L->wqkv.host) {
            /* fused projection: rows are [q | k | v]; split into the planes */
            if ((st = o->matmul(bc, &L->wqkv, c->xb, n, c->qkv, err))) return st;
            size_t row = (size_t)(qd + 2 * kvd) * sizeof(float);
            o->copy2d(bc, c->q, (size_t)qd * sizeof(float), c->qkv, row, n, (size_t)qd * sizeof(float));
            o->copy2d(bc, c->k, (size_t)kvd * sizeof(float), c->qkv + qd, row, n, (size_t)kvd * sizeof(float));
            o->copy2d(bc, c->v, (size_t)kvd * sizeof(float), c->qkv + qd + kvd, row, n, (size_t)kvd * sizeof(float));
        } else {
            if ((st = o->matmul(bc, &L->wq, c->xb, n, c->q, err))) return st;
            if ((st = o->matmul(bc, &L->wk, c->xb, n, c->k, err))) return st;
            if ((st = o->matmul(bc, &L->wv, c->xb, n, c->v, err))) return st;
        }
        if (L->bq.host) {
            o->add_bias(bc, c->q, L->bq.dev, n, qd);
            o->add_bias(bc, c->k, L->bk.dev, n, kvd);
            o->add_bias(bc, c->v, L->bv.dev, n, kvd);
        }
        if (L->q_norm.host) {
            o->rmsnorm(bc, c->q, L->q_norm.dev, hp->norm_eps, n * hp->n_head, hd, c->q);
            o->rmsnorm(bc, c->k, L->k_norm.dev, hp->norm_eps, n * hp->n_head_kv, hd, c->k);
        }
        o->rope(bc, c->q, c->d_pos, n, hp->n_head, hd, &c->rope[l]);
        o->rope(bc, c->k, c->d_pos, n, hp->n_head_kv, hd, &c->rope[l]);

        void *kl = (char *)c->kv_k + (size_t)l * c->kv_layer_bytes;
        void *vl = (char *)c->kv_v + (size_t)l * c->kv_layer_bytes;
        if (c->kv_type == RF_TYPE_F16)
            o->kv_write(bc, kl, vl, c->k, c->v, c->d_slots, n, kvd);
        else
            o->kv_write_typed(bc, kl, vl, c->k, c->v, c->d_slots, n, kvd, c->kv_type);
        rf_attn_params ap = {
            .n_head = hp->n_head,
            .n_head_kv = hp->n_head_kv,
            .head_dim = hd,
            .block_size = c->bs,
            .max_blocks = c->max_blocks,
            .scale = hp->attn_scale,
            .softcap = hp->attn_softcap,
            .window = L->swa ? hp->n_swa : 0,
            .kv_type = c->kv_type,
        };
        /* The last layer's output matters only for the rows that want
         * logits: past the KV write, carry on with those rows alone (the
         * residual moves to xo), unless every row's hidden state is kept. */
        float *x = c->x;
        int nr = n;
        const float *qa = c->q;
        const int32_t *pos = c->d_pos, *seqrow = c->d_seqrow;
        if (prune && l == hp->n_layer - 1) {
            nr = c->n_out;
            if (nr == 0) break; /* a prompt chunk without logits: its KV is all that is needed */
            o->gather(bc, c->q, c->d_out_rows, nr, qd, c->att);
            qa = c->att;
            pos = c->d_out_pos;
            seqrow = c->d_out_seqrow;
            o->gather(bc, c->x, c->d_out_rows, nr, E, c->xo);
            x = c->xo;
            if (o->token_roles) o->token_roles(bc, c->n_out_prompt);
        }
        o->attention(bc, qa, kl, vl, c->d_btab, seqrow, pos, nr, &ap, qa == c->q ? c->att : c->q);
        if ((st = o->matmul(bc, &L->wo, qa == c->q ? c->att : c->q, nr, c->xb, err))) return st;
        if (L->attn_post_norm.host) o->rmsnorm(bc, c->xb, L->attn_post_norm.dev, hp->norm_eps, nr, E, c->xb);
        o->add(bc, x, c->xb, (int64_t)nr * E);

        o->rmsnorm(bc, x, L->ffn_norm.dev, hp->norm_eps, nr, E, c->xb);
        if (!L->w_gate.host) {
            /* fused [gate | up] rows (phi3): gate is the first half */
            if ((st = o->matmul(bc, &L->w_up, c->xb, nr, c->hb, err))) return st;
            o->glu(bc, a->act, c->hb, c->hb + F, nr, F, 2 * F, c->hb2);
        } else {
            if ((st = o->matmul(bc, &L->w_gate, c->xb, nr, c->hb, err))) return st;
            if ((st = o->matmul(bc, &L->w_up, c->xb, nr, c->hb2, err))) return st;
            o->glu(bc, a->act, c->hb, c->hb2, nr, F, F, c->hb2);
        }
        if ((st = o->matmul(bc, &L->w_down, c->hb2, nr, c->xb, err))) return st;
        if (L->ffn_post_norm.host) o->rmsnorm(bc, c->xb, L->ffn_post_norm.dev, hp->norm_eps, nr, E, c->xb);
        o->add(bc, x, c->xb, (int64_t)nr * E);
    }

    if (c->p.embeddings) {
        o->rmsnorm(bc, c->x, m->output_norm.dev, hp->norm_eps, n, E, c->xb);
        if ((st = o->download(bc, c->h_embd, c->xb, 0, (size_t)n * E * sizeof(float), err))) return st;
    }
    if (c->n_out > 0) {
        if (!prune) o->gather(bc, c->x, c->d_out_rows, c->n_out, E, c->xo);
        o->rmsnorm(bc, c->xo, m->output_norm.dev, hp->norm_eps, c->n_out, E, c->xo);
        /* the LM head's few rows gain nothing from the matrix units: every
         * row takes the generated tokens' path (still one path per row) */
        if (o->token_roles && c->n_prompt >= 0) o->token_roles(bc, 0);
        if ((st = o->matmul(bc, &m->output, c->xo, c->n_out, c->logits, err))) return st;
        if (hp->final_softcap > 0.0f) o->softcap(bc, c->logits, (int64_t)c->n_out * hp->n_vocab, hp->final_softcap);
    }
    if (o->graph_end && (st = o->graph_end(bc, err))) return st;
ran:
    /* a backend that can pick greedily on the device keeps the logits there
     * until someone reads them (rf_get_logits downloads on first use) */
    c->logits_pending = c->n_out > 0 && o->greedy;
    if (c->n_out > 0 && !o->greedy)
        return o->download(bc, c->h_logits, c->logits, 0, (size_t)c->n_out * hp->n_vocab * sizeof(float), err);
    return RF_OK;
}
