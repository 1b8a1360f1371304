/* srv_api.c — the API surface: turns a parsed request into a task (chat
 * template, tokenization, limits against the model and the context,
 * per-job samplers and output buffers), and renders tasks as OpenAI
 * (chat.completion, text_completion, embeddings, SSE chunks) or native
 * JSON. All of it runs on HTTP threads; only the engine thread decodes.
 *
 * Text from the model reaches JSON through json_text(), which replaces
 * invalid UTF-8 with U+FFFD: a token's piece may be half a character, and
 * jansson refuses invalid strings.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "server.h"

#define SRV_STR2(x) #x
#define SRV_STR(x) SRV_STR2(x)
#define ROCMFORGE_FP SRV_STR(RF_VERSION_MAJOR) "." SRV_STR(RF_VERSION_MINOR) "." SRV_STR(RF_VERSION_PATCH)

/* ------------------------------------------------------------ buffers */

int srv_buf_add(srv_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

void srv_buf_free(srv_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Length of the valid UTF-8 sequence at p (1-4) or 0 if invalid. */
static int utf8_valid_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    int len;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; c &= 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; c &= 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return len;
}

static json_t *json_text(const char *s, size_t n)
{
    json_t *j = json_stringn_nocheck(s, n);
    bool ok = true;
    for (size_t i = 0; i < n;) {
        int l = utf8_valid_len((const unsigned char *)s + i, n - i);
        if (!l || (l == 1 && s[i] == 0)) { ok = false; break; }
        i += (size_t)l;
    }
    if (ok) return j;
    json_decref(j);
    srv_buf b = {0};
    for (size_t i = 0; i < n;) {
        int l = utf8_valid_len((const unsigned char *)s + i, n - i);
        if (!l || (l == 1 && s[i] == 0)) { srv_buf_add(&b, "\xEF\xBF\xBD", 3); i++; }
        else { srv_buf_add(&b, s + i, (size_t)l); i += (size_t)l; }
    }
    j = json_stringn_nocheck(b.p ? b.p : "", b.len);
    srv_buf_free(&b);
    return j;
}

static char *dump(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

char *srv_api_error_json(const srv_error *e)
{
    /* Messages quote client input (URLs, model names) cut to a length,
     * which may split a character: sanitise rather than fail. */
    json_t *o = json_pack("{s:{s:o,s:s,s:o,s:o}}", "error",
                          "message", json_text(e->msg, strlen(e->msg)), "type", e->type ? e->type : "invalid_request_error",
                          "param", e->param[0] ? json_text(e->param, strlen(e->param)) : json_null(),
                          "code", e->code ? json_string(e->code) : json_null());
    return dump(o);
}

/* -------------------------------------------------------- task creation */

static int32_t *tokenize(srv_server *srv, const char *text, size_t len, bool add_special,
                         bool parse_special, int *n_out)
{
    rf_model *m = srv->sched.model;
    int cap = (int)(len < (1u << 24) ? len : (1u << 24)) + 8;
    int32_t *t = malloc((size_t)cap * sizeof *t);
    if (!t) return NULL;
    int n = rf_tokenize(m, text, len, t, cap, add_special, parse_special);
    if (n < 0) {
        cap = -n;
        int32_t *t2 = realloc(t, (size_t)cap * sizeof *t);
        if (!t2) { free(t); return NULL; }
        t = t2;
        n = rf_tokenize(m, text, len, t, cap, add_special, parse_special);
        if (n < 0) { free(t); return NULL; }
    }
    /* A template that writes BOS itself plus add_special gives two. */
    int32_t bos = rf_token_bos(m);
    if (n >= 2 && bos >= 0 && t[0] == bos && t[1] == bos) {
        memmove(t, t + 1, (size_t)(n - 1) * sizeof *t);
        n--;
    }
    *n_out = n;
    return t;
}

static int check_ids(srv_server *srv, const int32_t *t, int n, const char *what, srv_error *e)
{
    for (int i = 0; i < n; i++)
        if (t[i] < 0 || t[i] >= srv->sched.n_vocab) {
            srv_error_set(e, 400, "invalid_request_error", "invalid_value", what,
                          "'%s' token %d is out of the vocabulary (0..%d)", what, t[i], srv->sched.n_vocab - 1);
            return -1;
        }
    return 0;
}

static uint64_t seed_random(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    static uint64_t ctr;
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (__atomic_add_fetch(&ctr, 0x9E3779B97F4A7C15ull, __ATOMIC_RELAXED));
    x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 27;
    return x;
}

static int task_embed_jobs(srv_server *srv, srv_task *t, srv_error *e)
{
    srv_sched *s = &srv->sched;
    srv_request *r = &t->req;
    int limit = s->n_batch - s->n_slots;
    if (limit > srv->opt.n_ctx) limit = srv->opt.n_ctx;
    t->jobs = calloc((size_t)r->n_inputs, sizeof *t->jobs);
    if (!t->jobs) goto oom;
    t->n_jobs = r->n_inputs;
    for (int i = 0; i < r->n_inputs; i++) {
        srv_job *j = &t->jobs[i];
        j->task = t;
        j->index = i;
        j->embed = true;
        srv_input *in = &r->inputs[i];
        int n = 0;
        int32_t *toks;
        if (in->text) {
            toks = tokenize(srv, in->text, in->n_text, true, false, &n);
            if (!toks) goto oom;
        } else {
            toks = malloc((size_t)in->n_tokens * sizeof *toks);
            if (!toks) goto oom;
            memcpy(toks, in->tokens, (size_t)in->n_tokens * sizeof *toks);
            n = in->n_tokens;
        }
        j->prompt = toks;
        j->n_prompt = n;
        if (check_ids(srv, toks, n, "input", e)) return -1;
        if (n == 0 || n > limit) {
            srv_error_set(e, 400, "invalid_request_error", "context_length_exceeded", "input",
                          "'input'[%d] is %d tokens; this server embeds 1 to %d tokens per input", i, n, limit);
            return -1;
        }
        t->n_prompt += n;
        j->embedding = calloc((size_t)s->n_embd, sizeof *j->embedding);
        if (!j->embedding) goto oom;
    }
    return 0;
oom:
    srv_error_set(e, 500, "server_error", NULL, "", "out of memory building the request");
    return -1;
}

srv_task *srv_api_task_create(srv_server *srv, srv_request *req, srv_error *e)
{
    srv_sched *s = &srv->sched;
    if (req->model && strcmp(req->model, srv->model_id)) {
        srv_error_set(e, 404, "invalid_request_error", "model_not_found", "model",
                      "The model '%.200s' does not exist (this server serves '%.100s')", req->model, srv->model_id);
        return NULL;
    }
    srv_task *t = srv_task_new(s, req->api);
    if (!t) {
        srv_error_set(e, 500, "server_error", NULL, "", "out of memory");
        return NULL;
    }
    t->req = *req;
    memset(req, 0, sizeof *req);
    srv_request *r = &t->req;
    const char *prefix = t->api == SRV_API_CHAT ? "chatcmpl-" : t->api == SRV_API_COMPLETION ? "cmpl-"
                       : t->api == SRV_API_EMBEDDING ? "embd-" : "gen-";
    pthread_mutex_lock(&s->mu);
    if (r->id[0]) {
        srv_task *other = srv_task_find_locked(s, r->id);
        if (other && other->n_done < other->n_jobs) {
            pthread_mutex_unlock(&s->mu);
            srv_error_set(e, 409, "invalid_request_error", "duplicate_id", "id", "a request with id '%s' is still running", r->id);
            goto fail;
        }
        snprintf(t->id, sizeof t->id, "%s", r->id);
    } else {
        char num[sizeof t->id];
        memcpy(num, t->id, sizeof num);
        snprintf(t->id, sizeof t->id, "%s%.60s", prefix, num);
    }
    pthread_mutex_unlock(&s->mu);
    t->deadline = t->t_arrival + srv->opt.request_timeout_s;

    if (t->api == SRV_API_EMBEDDING) {
        if (task_embed_jobs(srv, t, e)) goto fail;
        return t;
    }

    /* The prompt. */
    if (t->api == SRV_API_CHAT) {
        char *text = NULL;
        rf_error err = {0};
        if (rf_chat_apply(s->model, NULL, r->messages_json, NULL, true, &text, &err) != RF_OK) {
            srv_error_set(e, 400, "invalid_request_error", "invalid_value", "messages",
                          "cannot apply the chat template: %s", err.msg);
            goto fail;
        }
        t->prompt = tokenize(srv, text, strlen(text), true, true, &t->n_prompt);
        free(text);
    } else if (r->prompt) {
        t->prompt = tokenize(srv, r->prompt, r->n_prompt_bytes, true, true, &t->n_prompt);
    } else {
        t->prompt = malloc((size_t)(r->n_prompt_tokens ? r->n_prompt_tokens : 1) * sizeof *t->prompt);
        if (t->prompt) {
            memcpy(t->prompt, r->prompt_tokens, (size_t)r->n_prompt_tokens * sizeof *t->prompt);
            t->n_prompt = r->n_prompt_tokens;
        }
    }
    if (!t->prompt) {
        srv_error_set(e, 500, "server_error", NULL, "", "out of memory tokenizing the prompt");
        goto fail;
    }
    if (check_ids(srv, t->prompt, t->n_prompt, "prompt", e)) goto fail;
    int n_ctx = srv->opt.n_ctx;
    if (t->n_prompt == 0) {
        srv_error_set(e, 400, "invalid_request_error", "invalid_value", "prompt", "the prompt is empty");
        goto fail;
    }
    if (t->n_prompt >= n_ctx) {
        srv_error_set(e, 400, "invalid_request_error", "context_length_exceeded",
                      t->api == SRV_API_CHAT ? "messages" : "prompt",
                      "the prompt is %d tokens but the context holds %d tokens (and at least 1 is needed for the reply); shorten the prompt",
                      t->n_prompt, n_ctx);
        goto fail;
    }
    if (r->max_tokens > 0 && t->n_prompt + r->max_tokens > n_ctx) {
        srv_error_set(e, 400, "invalid_request_error", "context_length_exceeded", "max_tokens",
                      "the context holds %d tokens, but %d were requested (%d in the prompt, %d in max_tokens); lower max_tokens or shorten the prompt",
                      n_ctx, t->n_prompt + r->max_tokens, t->n_prompt, r->max_tokens);
        goto fail;
    }
    t->max_gen = r->max_tokens > 0 ? r->max_tokens : n_ctx - t->n_prompt;
    if (t->max_gen > srv->opt.lim.max_tokens) t->max_gen = srv->opt.lim.max_tokens;
    if (check_ids(srv, r->bias_token, r->n_bias, "logit_bias", e)) goto fail;

    /* One job per choice, each with its own sampler and output buffers. */
    rf_logit_bias *bias = NULL;
    if (r->n_bias > 0) {
        bias = calloc((size_t)(unsigned)r->n_bias, sizeof *bias);
        if (!bias) goto oom;
        for (int i = 0; i < r->n_bias; i++) bias[i] = (rf_logit_bias){r->bias_token[i], r->bias_value[i]};
    }
    t->jobs = calloc((size_t)r->n, sizeof *t->jobs);
    if (!t->jobs) { free(bias); goto oom; }
    t->n_jobs = r->n;
    uint64_t seed = r->has_seed ? r->seed : seed_random();
    for (int i = 0; i < r->n; i++) {
        srv_job *j = &t->jobs[i];
        j->task = t;
        j->index = i;
        j->prompt = t->prompt;
        j->n_prompt = t->n_prompt;
        rf_sampler_params sp = rf_sampler_default_params();
        sp.temperature = r->temperature;
        sp.top_k = r->top_k;
        sp.top_p = r->top_p;
        sp.min_p = r->min_p;
        sp.typical_p = r->typical_p;
        sp.repeat_penalty = r->repeat_penalty;
        sp.repeat_last_n = r->repeat_last_n;
        sp.presence_penalty = r->presence_penalty;
        sp.frequency_penalty = r->frequency_penalty;
        sp.seed = seed + (uint64_t)i;
        sp.n_logit_bias = r->n_bias;
        sp.logit_bias = bias;
        rf_error err = {0};
        if (rf_sampler_create(s->model, &sp, &j->sampler, &err) != RF_OK) {
            free(bias);
            srv_error_set(e, 400, "invalid_request_error", "invalid_value", "", "invalid sampling parameters: %s", err.msg);
            goto fail;
        }
        /* Penalties look back over the prompt too, as llama.cpp's do. */
        for (int k = 0; k < t->n_prompt; k++) rf_sampler_accept(j->sampler, t->prompt[k]);
        j->cap_text = (size_t)t->max_gen * (size_t)s->max_piece + 16;
        j->text = malloc(j->cap_text);
        j->tokens = malloc((size_t)t->max_gen * sizeof *j->tokens);
        if (r->logprobs)
            j->lp = malloc((size_t)t->max_gen * (size_t)(1 + r->top_logprobs) * sizeof *j->lp);
        if (!j->text || !j->tokens || (r->logprobs && !j->lp)) { free(bias); goto oom; }
    }
    free(bias);
    return t;
oom:
    srv_error_set(e, 500, "server_error", NULL, "", "out of memory building the request");
fail:
    pthread_mutex_lock(&s->mu);
    srv_task_unref_locked(s, t);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------ rendering */

static const char *finish_name(srv_finish f)
{
    switch (f) {
    case SRV_FINISH_STOP: return "stop";
    case SRV_FINISH_LENGTH: return "length";
    case SRV_FINISH_CANCELLED: return "cancelled";
    case SRV_FINISH_TIMEOUT: return "timeout";
    case SRV_FINISH_SHUTDOWN: return "shutdown";
    case SRV_FINISH_ERROR: return "error";
    default: return NULL;
    }
}

static json_t *usage_json(const srv_task *t)
{
    int gen = 0, cached = 0;
    for (int i = 0; i < t->n_jobs; i++) {
        gen += t->jobs[i].n_gen > 0 ? t->jobs[i].n_gen : 0;
        if (t->jobs[i].n_cached > cached) cached = t->jobs[i].n_cached;
    }
    if (t->api == SRV_API_EMBEDDING)
        return json_pack("{s:i,s:i}", "prompt_tokens", t->n_prompt, "total_tokens", t->n_prompt);
    return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", t->n_prompt, "completion_tokens", gen,
                     "total_tokens", t->n_prompt + gen, "prompt_tokens_details", "cached_tokens", cached);
}

/* A token's piece as JSON text plus its raw bytes. */
static json_t *piece_json(srv_server *srv, int32_t tok, json_t **bytes)
{
    char buf[256];
    int n = rf_token_to_piece(srv->sched.model, tok, buf, sizeof buf, true);
    if (n < 0) n = 0;
    if (bytes) {
        *bytes = json_array();
        for (int i = 0; i < n; i++) json_array_append_new(*bytes, json_integer((unsigned char)buf[i]));
    }
    return json_text(buf, (size_t)n);
}

/* Chat logprobs content entries for tokens [from, to). */
static json_t *chat_logprobs(srv_server *srv, const srv_job *j, int from, int to)
{
    int nt = j->task->req.top_logprobs;
    json_t *content = json_array();
    for (int k = from; k < to; k++) {
        const srv_lp *lp = j->lp + (size_t)k * (size_t)(1 + nt);
        json_t *bytes, *top = json_array();
        json_t *tokj = piece_json(srv, lp[0].token, &bytes);
        for (int i = 1; i <= nt; i++) {
            if (lp[i].token < 0) break;
            json_t *b2, *tj = piece_json(srv, lp[i].token, &b2);
            json_array_append_new(top, json_pack("{s:o,s:f,s:o}", "token", tj, "logprob", (double)lp[i].logprob, "bytes", b2));
        }
        json_array_append_new(content, json_pack("{s:o,s:f,s:o,s:o}", "token", tokj, "logprob",
                                                 (double)lp[0].logprob, "bytes", bytes, "top_logprobs", top));
    }
    return json_pack("{s:o}", "content", content);
}

/* Completions logprobs (legacy shape) for tokens [from, to); text_offset
 * counts bytes from `base`. */
static json_t *completion_logprobs(srv_server *srv, const srv_job *j, int from, int to, size_t *offset)
{
    int nt = j->task->req.top_logprobs;
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    char buf[256];
    for (int k = from; k < to; k++) {
        const srv_lp *lp = j->lp + (size_t)k * (size_t)(1 + nt);
        json_array_append_new(tokens, piece_json(srv, lp[0].token, NULL));
        json_array_append_new(lps, json_real(lp[0].logprob));
        json_t *top = json_object();
        for (int i = 1; i <= nt; i++) {
            if (lp[i].token < 0) break;
            int n = rf_token_to_piece(srv->sched.model, lp[i].token, buf, sizeof buf - 1, true);
            buf[n > 0 ? n : 0] = 0;
            json_t *key = json_text(buf, (size_t)(n > 0 ? n : 0));
            json_object_set_new(top, json_string_value(key), json_real(lp[i].logprob));
            json_decref(key);
        }
        json_array_append_new(tops, top);
        json_array_append_new(offs, json_integer((json_int_t)*offset));
        int n = rf_token_to_piece(srv->sched.model, lp[0].token, buf, sizeof buf, true);
        *offset += (size_t)(n > 0 ? n : 0);
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "tokens", tokens, "token_logprobs", lps, "top_logprobs", tops, "text_offset", offs);
}

/* Completions 'echo': the prompt's text. */
static json_t *prompt_text(srv_server *srv, const srv_task *t)
{
    if (t->req.prompt) return json_text(t->req.prompt, t->req.n_prompt_bytes);
    srv_buf b = {0};
    char buf[256];
    for (int i = 0; i < t->n_prompt; i++) {
        int n = rf_token_to_piece(srv->sched.model, t->prompt[i], buf, sizeof buf, false);
        if (n > 0) srv_buf_add(&b, buf, (size_t)n);
    }
    json_t *j = json_text(b.p ? b.p : "", b.len);
    srv_buf_free(&b);
    return j;
}

static int error_status(const srv_task *t, srv_error *e)
{
    for (int i = 0; i < t->n_jobs; i++) {
        srv_finish f = t->jobs[i].finish;
        if (f == SRV_FINISH_ERROR) {
            srv_error_set(e, 500, "server_error", "engine_error", "", "%s", t->errmsg[0] ? t->errmsg : "engine failure");
            return 500;
        }
        if (f == SRV_FINISH_TIMEOUT) {
            srv_error_set(e, 504, "server_error", "timeout", "", "the request did not finish within %s",
                          "the server's request timeout");
            return 504;
        }
        if (f == SRV_FINISH_SHUTDOWN) {
            srv_error_set(e, 503, "server_error", "shutting_down", "", "the server is shutting down");
            return 503;
        }
    }
    return 0;
}

char *srv_api_response(srv_server *srv, srv_task *t, int *status)
{
    srv_error e;
    *status = error_status(t, &e);
    if (*status) return srv_api_error_json(&e);
    *status = 200;
    const char *model = srv->model_id;
    if (t->api == SRV_API_EMBEDDING) {
        json_t *data = json_array();
        for (int i = 0; i < t->n_jobs; i++) {
            const srv_job *j = &t->jobs[i];
            json_t *emb;
            if (t->req.base64) {
                /* little-endian float32, base64 (what the openai clients decode) */
                static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                size_t nb = (size_t)srv->sched.n_embd * 4;
                const unsigned char *p = (const unsigned char *)j->embedding;
                srv_buf b = {0};
                for (size_t k = 0; k < nb; k += 3) {
                    unsigned v = (unsigned)p[k] << 16 | (k + 1 < nb ? (unsigned)p[k + 1] << 8 : 0) | (k + 2 < nb ? p[k + 2] : 0);
                    char q[4] = {tbl[v >> 18 & 63], tbl[v >> 12 & 63], k + 1 < nb ? tbl[v >> 6 & 63] : '=', k + 2 < nb ? tbl[v & 63] : '='};
                    srv_buf_add(&b, q, 4);
                }
                emb = json_stringn(b.p ? b.p : "", b.len);
                srv_buf_free(&b);
            } else {
                emb = json_array();
                for (int k = 0; k < srv->sched.n_embd; k++) json_array_append_new(emb, json_real(j->embedding[k]));
            }
            json_array_append_new(data, json_pack("{s:s,s:i,s:o}", "object", "embedding", "index", i, "embedding", emb));
        }
        return dump(json_pack("{s:s,s:o,s:s,s:o}", "object", "list", "data", data, "model", model, "usage", usage_json(t)));
    }
    json_t *choices = json_array();
    for (int i = 0; i < t->n_jobs; i++) {
        const srv_job *j = &t->jobs[i];
        json_t *text = json_text(j->text, j->n_text);
        const char *fin = finish_name(j->finish);
        if (t->api == SRV_API_CHAT) {
            json_t *lp = t->req.logprobs ? chat_logprobs(srv, j, 0, j->n_gen) : json_null();
            json_array_append_new(choices, json_pack("{s:i,s:{s:s,s:o},s:o,s:s}", "index", i,
                "message", "role", "assistant", "content", text, "logprobs", lp, "finish_reason", fin));
        } else if (t->api == SRV_API_COMPLETION) {
            size_t off = 0;   /* text_offset counts from the start of "text" */
            if (t->req.echo) {
                json_t *pt = prompt_text(srv, t);
                srv_buf b = {0};
                srv_buf_add(&b, json_string_value(pt), json_string_length(pt));
                off = json_string_length(pt);
                srv_buf_add(&b, json_string_value(text), json_string_length(text));
                json_decref(text);
                text = json_stringn(b.p, b.len);
                srv_buf_free(&b);
                json_decref(pt);
            }
            json_t *lp = t->req.logprobs ? completion_logprobs(srv, j, 0, j->n_gen, &off) : json_null();
            json_array_append_new(choices, json_pack("{s:o,s:i,s:o,s:s}", "text", text, "index", i,
                                                     "logprobs", lp, "finish_reason", fin));
        } else {
            json_t *lp = t->req.logprobs ? chat_logprobs(srv, j, 0, j->n_gen) : json_null();
            json_decref(choices);
            return dump(json_pack("{s:s,s:s,s:o,s:s,s:o,s:o}", "id", t->id, "model", model, "text", text,
                                  "finish_reason", fin, "usage", usage_json(t), "logprobs", lp));
        }
    }
    const char *object = t->api == SRV_API_CHAT ? "chat.completion" : "text_completion";
    return dump(json_pack("{s:s,s:s,s:I,s:s,s:s,s:o,s:o}", "id", t->id, "object", object,
                          "created", (json_int_t)t->created, "model", model,
                          "system_fingerprint", "rocmforge-" ROCMFORGE_FP, "choices", choices, "usage", usage_json(t)));
}

/* --------------------------------------------------------------- stream */

static void sse(srv_buf *out, json_t *o)
{
    char *s = dump(o);
    if (!s) return;
    srv_buf_add(out, "data: ", 6);
    srv_buf_add(out, s, strlen(s));
    srv_buf_add(out, "\n\n", 2);
    free(s);
}

static json_t *chunk_head(srv_server *srv, srv_task *t, json_t *choices)
{
    const char *object = t->api == SRV_API_CHAT ? "chat.completion.chunk" : "text_completion";
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:o}", "id", t->id, "object", object,
                          "created", (json_int_t)t->created, "model", srv->model_id,
                          "system_fingerprint", "rocmforge-" ROCMFORGE_FP, "choices", choices);
    if (t->req.include_usage) json_object_set_new(o, "usage", json_null());
    return o;
}

bool srv_api_stream(srv_server *srv, srv_task *t, srv_buf *out)
{
    bool all_final = true;
    for (int i = 0; i < t->n_jobs; i++) {
        srv_job *j = &t->jobs[i];
        if (j->sent_final) continue;
        bool has_text = j->n_safe > j->n_sent;
        bool has_lp = t->req.logprobs && j->n_gen > j->n_lp_sent;
        bool done = j->finish != SRV_FINISH_NONE;
        if (t->api == SRV_API_CHAT && !j->sent_role) {
            sse(out, chunk_head(srv, t, json_pack("[{s:i,s:{s:s,s:s},s:n,s:n}]", "index", i, "delta",
                                                  "role", "assistant", "content", "", "logprobs", "finish_reason")));
            j->sent_role = true;
        }
        if (t->api == SRV_API_COMPLETION && t->req.echo && !j->sent_role) {
            sse(out, chunk_head(srv, t, json_pack("[{s:o,s:i,s:n,s:n}]", "text", prompt_text(srv, t), "index", i,
                                                  "logprobs", "finish_reason")));
            j->sent_role = true;
        }
        if ((has_text || (has_lp && done)) && (t->api == SRV_API_CHAT || t->api == SRV_API_COMPLETION || t->api == SRV_API_GENERATE)) {
            json_t *text = json_text(j->text + j->n_sent, j->n_safe - j->n_sent);
            int lp_to = j->n_gen;
            json_t *lp = json_null();
            if (t->req.logprobs) {
                if (t->api == SRV_API_COMPLETION) {
                    size_t off = j->n_sent;
                    json_decref(lp);
                    lp = completion_logprobs(srv, j, j->n_lp_sent, lp_to, &off);
                } else {
                    json_decref(lp);
                    lp = chat_logprobs(srv, j, j->n_lp_sent, lp_to);
                }
                j->n_lp_sent = lp_to;
            }
            if (t->api == SRV_API_CHAT)
                sse(out, chunk_head(srv, t, json_pack("[{s:i,s:{s:o},s:o,s:n}]", "index", i, "delta", "content", text,
                                                      "logprobs", lp, "finish_reason")));
            else if (t->api == SRV_API_COMPLETION)
                sse(out, chunk_head(srv, t, json_pack("[{s:o,s:i,s:o,s:n}]", "text", text, "index", i,
                                                      "logprobs", lp, "finish_reason")));
            else
                sse(out, json_pack("{s:s,s:o,s:o}", "id", t->id, "text", text, "logprobs", lp));
            j->n_sent = j->n_safe;
        }
        if (!done) { all_final = false; continue; }
        j->sent_final = true;
        srv_error e;
        if (error_status(t, &e)) continue;   /* reported once below */
        const char *fin = finish_name(j->finish);
        if (t->api == SRV_API_CHAT)
            sse(out, chunk_head(srv, t, json_pack("[{s:i,s:{},s:n,s:s}]", "index", i, "delta", "logprobs", "finish_reason", fin)));
        else if (t->api == SRV_API_COMPLETION)
            sse(out, chunk_head(srv, t, json_pack("[{s:s,s:i,s:n,s:s}]", "text", "", "index", i, "logprobs", "finish_reason", fin)));
    }
    if (!all_final) return false;
    srv_error e;
    if (error_status(t, &e)) {
        char *s = srv_api_error_json(&e);
        srv_buf_add(out, "data: ", 6);
        srv_buf_add(out, s, strlen(s));
        srv_buf_add(out, "\n\n", 2);
        free(s);
    } else if (t->api == SRV_API_GENERATE) {
        srv_finish f = t->jobs[0].finish;
        sse(out, json_pack("{s:s,s:s,s:s,s:o,s:b}", "id", t->id, "text", "", "finish_reason", finish_name(f),
                           "usage", usage_json(t), "done", 1));
        return true;
    } else if (t->req.include_usage) {
        json_t *o = chunk_head(srv, t, json_array());
        json_object_set_new(o, "usage", usage_json(t));
        sse(out, o);
    }
    srv_buf_add(out, "data: [DONE]\n\n", 14);
    return true;
}

/* --------------------------------------------------------- other bodies */

char *srv_api_status_json(srv_task *t)
{
    const char *state = "done";
    int gen = 0;
    bool running = false, queued = false;
    for (int i = 0; i < t->n_jobs; i++) {
        running |= t->jobs[i].running;
        queued |= t->jobs[i].queued;
        gen += t->jobs[i].n_gen > 0 ? t->jobs[i].n_gen : 0;
    }
    if (running) state = "running";
    else if (queued) state = "queued";
    const char *fin = t->n_jobs && t->n_done == t->n_jobs ? finish_name(t->jobs[0].finish) : NULL;
    return dump(json_pack("{s:s,s:s,s:o,s:i,s:i,s:i,s:b}", "id", t->id, "state", state,
                          "finish_reason", fin ? json_string(fin) : json_null(),
                          "prompt_tokens", t->n_prompt, "completion_tokens", gen,
                          "cached_tokens", t->n_jobs ? t->jobs[0].n_cached : 0, "cancelled", t->cancelled));
}

char *srv_api_models_json(srv_server *srv, const char *id)
{
    rf_model_info info = {0};
    if (srv->ready) rf_model_get_info(srv->sched.model, &info);
    json_t *m = json_pack("{s:s,s:s,s:I,s:s,s:{s:i,s:i,s:i,s:I}}", "id", srv->model_id, "object", "model",
                          "created", (json_int_t)srv->started, "owned_by", "rocmforge",
                          "meta", "n_ctx", srv->opt.n_ctx, "n_vocab", info.n_vocab, "n_embd", info.n_embd,
                          "n_params", (json_int_t)info.n_params);
    if (id) return dump(m);
    return dump(json_pack("{s:s,s:[o]}", "object", "list", "data", m));
}
