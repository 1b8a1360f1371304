/* srv_request.c — see srv_request.h.
 *
 * Design: jansson parses the body into a tree (after a cheap depth pre-scan,
 * since a deep tree costs stack in any recursive parser); each field is then
 * read by a small typed getter that knows the field's name, so every error
 * message can say which field is wrong and why. Absent and null fields mean
 * "use the default", as the OpenAI API treats them. Values the request keeps
 * are copied out of the tree, so the tree is freed before returning.
 */
#include "srv_request.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SRV_MAX_MESSAGES 4096
#define SRV_MAX_PROMPT_TOKENS (1 << 20)

void srv_limits_default(srv_limits *l)
{
    l->max_depth = 64;
    l->max_tokens = 4096;
    l->max_n = 8;
    l->max_stop = 4;
    l->max_stop_len = 256;
    l->max_logit_bias = 1024;
    l->max_inputs = 256;
    l->max_top_logprobs = 20;
}

void srv_error_set(srv_error *e, int http_status, const char *type,
                   const char *code, const char *param, const char *fmt, ...)
{
    if (!e) return;
    e->http_status = http_status;
    e->type = type ? type : "invalid_request_error";
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

#define BAD(param, ...) (srv_error_set(err, 400, "invalid_request_error", "invalid_value", param, __VA_ARGS__), -1)
#define BADTYPE(param, ...) (srv_error_set(err, 400, "invalid_request_error", "invalid_type", param, __VA_ARGS__), -1)

int srv_json_depth(const char *s, size_t len, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;          /* skip the escaped char */
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > max) max = depth;
            if (max > limit) return limit + 1;
        } else if (c == '}' || c == ']') {
            if (depth > 0) depth--;
        }
    }
    return max;
}

static char *str_dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---------------------------------------------------------------- getters
 * Each returns 0 (value set or field absent/null: *out untouched) or -1. */

static json_t *field(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return (v && !json_is_null(v)) ? v : NULL;
}

static int get_bool(json_t *o, const char *name, bool *out, srv_error *err)
{
    json_t *v = field(o, name);
    if (!v) return 0;
    if (!json_is_boolean(v)) return BADTYPE(name, "'%s' must be a boolean", name);
    *out = json_is_true(v);
    return 0;
}

static int get_num(json_t *o, const char *name, double lo, double hi,
                   float *out, srv_error *err)
{
    json_t *v = field(o, name);
    if (!v) return 0;
    if (!json_is_number(v)) return BADTYPE(name, "'%s' must be a number", name);
    double d = json_number_value(v);
    if (!isfinite(d) || d < lo || d > hi)
        return BAD(name, "'%s' is %g; it must be between %g and %g", name, d, lo, hi);
    *out = (float)d;
    return 0;
}

/* Integers: JSON integers, or reals with an integral value (2.0). */
static int json_to_i64(json_t *v, long long *out)
{
    if (json_is_integer(v)) { *out = json_integer_value(v); return 0; }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (isfinite(d) && d == floor(d) && fabs(d) < 9.0e18) { *out = (long long)d; return 0; }
    }
    return -1;
}

static int get_int(json_t *o, const char *name, long long lo, long long hi,
                   int *out, srv_error *err)
{
    json_t *v = field(o, name);
    if (!v) return 0;
    long long x;
    if (json_to_i64(v, &x)) return BADTYPE(name, "'%s' must be an integer", name);
    if (x < lo || x > hi)
        return BAD(name, "'%s' is %lld; it must be between %lld and %lld", name, x, lo, hi);
    *out = (int)x;
    return 0;
}

/* Token-id arrays: [int, ...], each 0 <= id < 2^31 (the vocabulary bound is
 * checked later, against the model). */
static int get_tokens(json_t *a, const char *name, int32_t **out, int *n_out,
                      srv_error *err)
{
    size_t n = json_array_size(a);
    if (n > SRV_MAX_PROMPT_TOKENS) return BAD(name, "'%s' has %zu tokens (limit %d)", name, n, SRV_MAX_PROMPT_TOKENS);
    int32_t *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) { srv_error_set(err, 500, "server_error", NULL, name, "out of memory"); return -1; }
    for (size_t i = 0; i < n; i++) {
        long long x;
        if (json_to_i64(json_array_get(a, i), &x) || x < 0 || x > INT32_MAX) {
            free(t);
            return BAD(name, "'%s'[%zu] is not a valid token id", name, i);
        }
        t[i] = (int32_t)x;
    }
    *out = t;
    *n_out = (int)n;
    return 0;
}

static bool is_token_array(json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) == 0) return false;
    json_t *v;
    size_t i;
    json_array_foreach(a, i, v) if (!json_is_number(v)) return false;
    return true;
}

/* -------------------------------------------------------- shared fields */

static int parse_stop(json_t *o, const srv_limits *lim, srv_request *r, srv_error *err)
{
    json_t *v = field(o, "stop");
    if (!v) return 0;
    int max = lim->max_stop < SRV_MAX_STOP ? lim->max_stop : SRV_MAX_STOP;
    json_t *one[1] = {v};
    size_t n = 1;
    if (json_is_array(v)) n = json_array_size(v);
    else if (!json_is_string(v)) return BADTYPE("stop", "'stop' must be a string or an array of strings");
    if ((long)n > max) return BAD("stop", "'stop' has %zu strings (limit %d)", n, max);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(v) ? json_array_get(v, i) : one[0];
        if (!json_is_string(s)) return BADTYPE("stop", "'stop'[%zu] must be a string", i);
        size_t len = json_string_length(s);
        if (len == 0) continue;  /* an empty stop string would stop at once: ignore it */
        if ((long)len > lim->max_stop_len)
            return BAD("stop", "'stop'[%zu] is %zu bytes (limit %d)", i, len, lim->max_stop_len);
        r->stop[r->n_stop] = str_dup_n(json_string_value(s), len);
        if (!r->stop[r->n_stop]) { srv_error_set(err, 500, "server_error", NULL, "stop", "out of memory"); return -1; }
        r->n_stop++;
    }
    return 0;
}

static int parse_logit_bias(json_t *o, const srv_limits *lim, srv_request *r, srv_error *err)
{
    json_t *v = field(o, "logit_bias");
    if (!v) return 0;
    if (!json_is_object(v)) return BADTYPE("logit_bias", "'logit_bias' must be an object mapping token ids to numbers");
    size_t n = json_object_size(v);
    if ((long)n > lim->max_logit_bias)
        return BAD("logit_bias", "'logit_bias' has %zu entries (limit %d)", n, lim->max_logit_bias);
    r->bias_token = malloc((n ? n : 1) * sizeof *r->bias_token);
    r->bias_value = malloc((n ? n : 1) * sizeof *r->bias_value);
    if (!r->bias_token || !r->bias_value) { srv_error_set(err, 500, "server_error", NULL, "logit_bias", "out of memory"); return -1; }
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        char *end = NULL;
        long tok = strtol(key, &end, 10);
        if (!*key || *end || tok < 0 || tok > INT32_MAX)
            return BAD("logit_bias", "'logit_bias' key '%.40s' is not a token id", key);
        if (!json_is_number(val)) return BADTYPE("logit_bias", "'logit_bias'[\"%.40s\"] must be a number", key);
        double b = json_number_value(val);
        if (!isfinite(b) || b < -100 || b > 100)
            return BAD("logit_bias", "'logit_bias'[\"%.40s\"] is %g; it must be between -100 and 100", key, b);
        r->bias_token[r->n_bias] = (int32_t)tok;
        r->bias_value[r->n_bias] = (float)b;
        r->n_bias++;
    }
    return 0;
}

static int parse_sampling(json_t *o, const srv_limits *lim, srv_request *r, srv_error *err)
{
    if (get_num(o, "temperature", 0, 2, &r->temperature, err)) return -1;
    if (get_num(o, "top_p", 0, 1, &r->top_p, err)) return -1;
    if (get_int(o, "top_k", 0, 1 << 30, &r->top_k, err)) return -1;
    if (get_num(o, "min_p", 0, 1, &r->min_p, err)) return -1;
    if (get_num(o, "typical_p", 0, 1, &r->typical_p, err)) return -1;
    if (get_num(o, "repeat_penalty", 0, 10, &r->repeat_penalty, err)) return -1;
    if (get_int(o, "repeat_last_n", -1, 1 << 30, &r->repeat_last_n, err)) return -1;
    if (get_num(o, "presence_penalty", -2, 2, &r->presence_penalty, err)) return -1;
    if (get_num(o, "frequency_penalty", -2, 2, &r->frequency_penalty, err)) return -1;
    json_t *v = field(o, "seed");
    if (v) {
        long long s;
        if (json_to_i64(v, &s)) return BADTYPE("seed", "'seed' must be an integer");
        r->has_seed = true;
        r->seed = (uint64_t)s;
    }
    if (parse_logit_bias(o, lim, r, err)) return -1;
    if (parse_stop(o, lim, r, err)) return -1;

    /* max_completion_tokens is the newer name; either may be given. */
    int mt = -1;
    if (get_int(o, "max_tokens", 1, lim->max_tokens, &mt, err)) return -1;
    if (get_int(o, "max_completion_tokens", 1, lim->max_tokens, &mt, err)) return -1;
    if (r->api == SRV_API_GENERATE && get_int(o, "n_predict", 1, lim->max_tokens, &mt, err)) return -1;
    r->max_tokens = mt;
    if (r->api != SRV_API_GENERATE && get_int(o, "n", 1, lim->max_n, &r->n, err)) return -1;

    if (get_bool(o, "stream", &r->stream, err)) return -1;
    if (get_bool(o, "ignore_eos", &r->ignore_eos, err)) return -1;
    json_t *so = field(o, "stream_options");
    if (so) {
        if (!json_is_object(so)) return BADTYPE("stream_options", "'stream_options' must be an object");
        if (get_bool(so, "include_usage", &r->include_usage, err)) return -1;
    }
    json_t *u = field(o, "user");
    if (u && !json_is_string(u)) return BADTYPE("user", "'user' must be a string");
    return 0;
}

/* ----------------------------------------------------------------- chat */

/* Rewrites each message into {role, content: string, [name, tool_calls,
 * tool_call_id]}: content parts are joined, non-text parts are refused. */
static int parse_messages(json_t *o, srv_request *r, srv_error *err)
{
    json_t *msgs = json_object_get(o, "messages");
    if (!msgs) return BAD("messages", "'messages' is required");
    if (!json_is_array(msgs)) return BADTYPE("messages", "'messages' must be an array");
    size_t n = json_array_size(msgs);
    if (n == 0) return BAD("messages", "'messages' must not be empty");
    if (n > SRV_MAX_MESSAGES) return BAD("messages", "'messages' has %zu entries (limit %d)", n, SRV_MAX_MESSAGES);
    static const char *roles[] = {"system", "developer", "user", "assistant", "tool", "function"};
    json_t *out = json_array();
    if (!out) goto oom;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        if (!json_is_object(m)) { json_decref(out); return BADTYPE("messages", "'messages'[%zu] must be an object", i); }
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role)) { json_decref(out); return BAD("messages", "'messages'[%zu].role must be a string", i); }
        bool known = false;
        for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
            if (!strcmp(json_string_value(role), roles[k])) known = true;
        if (!known) {
            json_decref(out);
            return BAD("messages", "'messages'[%zu].role '%.40s' is not one of system, developer, user, assistant, tool", i, json_string_value(role));
        }
        json_t *content = json_object_get(m, "content");
        json_t *text = NULL;
        if (!content || json_is_null(content)) {
            if (strcmp(json_string_value(role), "assistant") || !json_object_get(m, "tool_calls")) {
                json_decref(out);
                return BAD("messages", "'messages'[%zu].content is required", i);
            }
            text = json_string("");
        } else if (json_is_string(content)) {
            text = json_incref(content);
        } else if (json_is_array(content)) {
            /* Text parts joined by newlines, as most chat servers do. */
            size_t total = 0, np = json_array_size(content);
            for (size_t p = 0; p < np; p++) {
                json_t *part = json_array_get(content, p);
                json_t *ty = json_object_get(part, "type");
                json_t *tx = json_object_get(part, "text");
                if (!json_is_object(part) || !json_is_string(ty) || strcmp(json_string_value(ty), "text") || !json_is_string(tx)) {
                    json_decref(out);
                    return BAD("messages", "'messages'[%zu].content[%zu]: only parts of type 'text' are supported", i, p);
                }
                total += json_string_length(tx) + 1;
            }
            char *buf = malloc(total + 1), *w = buf;
            if (!buf) { json_decref(out); goto oom; }
            for (size_t p = 0; p < np; p++) {
                json_t *tx = json_object_get(json_array_get(content, p), "text");
                if (p) *w++ = '\n';
                memcpy(w, json_string_value(tx), json_string_length(tx));
                w += json_string_length(tx);
            }
            text = json_stringn(buf, (size_t)(w - buf));
            free(buf);
        } else {
            json_decref(out);
            return BADTYPE("messages", "'messages'[%zu].content must be a string or an array of text parts", i);
        }
        json_t *nm = json_object();
        if (!nm || !text) { json_decref(nm); json_decref(text); json_decref(out); goto oom; }
        json_object_set(nm, "role", role);
        json_object_set_new(nm, "content", text);
        static const char *keep[] = {"name", "tool_calls", "tool_call_id"};
        for (size_t k = 0; k < 3; k++) {
            json_t *x = json_object_get(m, keep[k]);
            if (x && !json_is_null(x)) json_object_set(nm, keep[k], x);
        }
        json_array_append_new(out, nm);
    }
    r->messages_json = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (!r->messages_json) goto oom;
    return 0;
oom:
    srv_error_set(err, 500, "server_error", NULL, "messages", "out of memory");
    return -1;
}

/* --------------------------------------------------- completion prompts */

static int parse_prompt(json_t *o, srv_request *r, srv_error *err)
{
    json_t *p = json_object_get(o, "prompt");
    if (!p || json_is_null(p)) return BAD("prompt", "'prompt' is required");
    /* A one-element array of a string or of a token array is the same prompt. */
    if (json_is_array(p) && json_array_size(p) == 1 &&
        (json_is_string(json_array_get(p, 0)) || json_is_array(json_array_get(p, 0))))
        p = json_array_get(p, 0);
    if (json_is_string(p)) {
        r->n_prompt_bytes = json_string_length(p);
        r->prompt = str_dup_n(json_string_value(p), r->n_prompt_bytes);
        if (!r->prompt) { srv_error_set(err, 500, "server_error", NULL, "prompt", "out of memory"); return -1; }
        return 0;
    }
    if (is_token_array(p)) return get_tokens(p, "prompt", &r->prompt_tokens, &r->n_prompt_tokens, err);
    if (json_is_array(p) && json_array_size(p) > 1)
        return BAD("prompt", "'prompt' holds %zu prompts; send one prompt per request", json_array_size(p));
    return BADTYPE("prompt", "'prompt' must be a string or an array of token ids");
}

/* ----------------------------------------------------------- embeddings */

static int parse_inputs(json_t *o, const srv_limits *lim, srv_request *r, srv_error *err)
{
    json_t *in = json_object_get(o, "input");
    if (!in || json_is_null(in)) return BAD("input", "'input' is required");
    json_t *fmt = field(o, "encoding_format");
    if (fmt) {
        if (!json_is_string(fmt)) return BADTYPE("encoding_format", "'encoding_format' must be a string");
        if (!strcmp(json_string_value(fmt), "base64")) r->base64 = true;
        else if (strcmp(json_string_value(fmt), "float"))
            return BAD("encoding_format", "'encoding_format' must be 'float' or 'base64'");
    }
    if (field(o, "dimensions")) return BAD("dimensions", "'dimensions' is not supported: the model's width is fixed");
    /* Shapes: "text" | ["text", ...] | [id, ...] | [[id, ...], ...] */
    size_t n;
    bool single = json_is_string(in) || is_token_array(in);
    if (single) n = 1;
    else if (json_is_array(in)) n = json_array_size(in);
    else return BADTYPE("input", "'input' must be a string, an array of strings or an array of token arrays");
    if (n == 0) return BAD("input", "'input' must not be empty");
    if ((long)n > lim->max_inputs) return BAD("input", "'input' has %zu entries (limit %d)", n, lim->max_inputs);
    r->inputs = calloc(n, sizeof *r->inputs);
    if (!r->inputs) { srv_error_set(err, 500, "server_error", NULL, "input", "out of memory"); return -1; }
    for (size_t i = 0; i < n; i++) {
        json_t *x = single ? in : json_array_get(in, i);
        srv_input *d = &r->inputs[i];
        r->n_inputs++;
        if (json_is_string(x)) {
            if (json_string_length(x) == 0) return BAD("input", "'input'[%zu] is an empty string", i);
            d->n_text = json_string_length(x);
            d->text = str_dup_n(json_string_value(x), d->n_text);
            if (!d->text) { srv_error_set(err, 500, "server_error", NULL, "input", "out of memory"); return -1; }
        } else if (is_token_array(x)) {
            if (get_tokens(x, "input", &d->tokens, &d->n_tokens, err)) return -1;
        } else {
            return BADTYPE("input", "'input'[%zu] must be a non-empty string or token array", i);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ main */

int srv_request_parse(const char *body, size_t len, srv_api api,
                      const srv_limits *lim, srv_request *r, srv_error *err)
{
    memset(r, 0, sizeof *r);
    r->api = api;
    r->max_tokens = -1;
    r->n = 1;
    r->temperature = 1.0f;
    r->top_p = 1.0f;
    r->typical_p = 1.0f;
    r->repeat_penalty = 1.0f;
    r->repeat_last_n = 64;

    if (srv_json_depth(body, len, lim->max_depth) > lim->max_depth) {
        srv_error_set(err, 400, "invalid_request_error", "invalid_json", "",
                      "JSON nesting deeper than %d levels", lim->max_depth);
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(body, len, 0, &je);
    if (!o) {
        srv_error_set(err, 400, "invalid_request_error", "invalid_json", "",
                      "invalid JSON body: %s (line %d, column %d)", je.text, je.line, je.column);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(o)) {
        srv_error_set(err, 400, "invalid_request_error", "invalid_json", "", "the request body must be a JSON object");
        goto done;
    }
    json_t *m = field(o, "model");
    if (m) {
        if (!json_is_string(m)) { (void)BADTYPE("model", "'model' must be a string"); goto done; }
        r->model = str_dup_n(json_string_value(m), json_string_length(m));
        if (!r->model) { srv_error_set(err, 500, "server_error", NULL, "model", "out of memory"); goto done; }
    }
    json_t *id = field(o, "id");
    if (id && api == SRV_API_GENERATE) {
        const char *s = json_is_string(id) ? json_string_value(id) : NULL;
        size_t n = s ? json_string_length(id) : 0;
        bool ok = s && n >= 1 && n < 64;
        for (size_t i = 0; ok && i < n; i++) {
            char c = s[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        }
        if (!ok) { (void)BAD("id", "'id' must be 1-63 characters of [A-Za-z0-9._-]"); goto done; }
        memcpy(r->id, s, n + 1);
    }

    switch (api) {
    case SRV_API_CHAT:
        if (parse_messages(o, r, err) || parse_sampling(o, lim, r, err)) goto done;
        /* Said plainly rather than ignored: a client relying on these would
         * otherwise get free text where it expects structure. */
        if (field(o, "tools") || field(o, "functions")) {
            (void)BAD(field(o, "tools") ? "tools" : "functions", "tool calling is not supported by this server");
            goto done;
        }
        json_t *rf = field(o, "response_format");
        if (rf) {
            json_t *ty = json_is_object(rf) ? json_object_get(rf, "type") : NULL;
            if (!json_is_string(ty)) { (void)BADTYPE("response_format", "'response_format' must be an object with a 'type'"); goto done; }
            if (strcmp(json_string_value(ty), "text")) {
                (void)BAD("response_format", "'response_format' type '%.40s' is not supported (only 'text')", json_string_value(ty));
                goto done;
            }
        }
        if (get_bool(o, "logprobs", &r->logprobs, err)) goto done;
        if (get_int(o, "top_logprobs", 0, lim->max_top_logprobs, &r->top_logprobs, err)) goto done;
        if (r->top_logprobs > 0 && !r->logprobs) { (void)BAD("top_logprobs", "'top_logprobs' needs 'logprobs': true"); goto done; }
        break;
    case SRV_API_COMPLETION:
    case SRV_API_GENERATE:
        if (parse_prompt(o, r, err) || parse_sampling(o, lim, r, err)) goto done;
        if (api == SRV_API_COMPLETION) {
            /* completions: logprobs is the number of top alternatives (0-5). */
            int lp = -1;
            if (get_int(o, "logprobs", 0, 5, &lp, err)) goto done;
            if (lp >= 0) { r->logprobs = true; r->top_logprobs = lp; }
            if (get_bool(o, "echo", &r->echo, err)) goto done;
            json_t *sfx = field(o, "suffix");
            if (sfx) { (void)BAD("suffix", "'suffix' is not supported"); goto done; }
            if (field(o, "best_of")) {
                int bo = 1;
                if (get_int(o, "best_of", 1, 1, &bo, err)) goto done;
            }
        } else {
            if (get_bool(o, "logprobs", &r->logprobs, err)) goto done;
            if (get_int(o, "top_logprobs", 0, lim->max_top_logprobs, &r->top_logprobs, err)) goto done;
        }
        break;
    case SRV_API_EMBEDDING:
        if (parse_inputs(o, lim, r, err)) goto done;
        break;
    default:
        srv_error_set(err, 500, "server_error", NULL, "", "unknown endpoint kind %d", (int)api);
        goto done;
    }
    rc = 0;
done:
    json_decref(o);
    if (rc) srv_request_free(r);
    return rc;
}

void srv_request_free(srv_request *r)
{
    if (!r) return;
    free(r->model);
    free(r->messages_json);
    free(r->prompt);
    free(r->prompt_tokens);
    for (int i = 0; i < r->n_inputs; i++) {
        free(r->inputs[i].text);
        free(r->inputs[i].tokens);
    }
    free(r->inputs);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->bias_token);
    free(r->bias_value);
    srv_api api = r->api;
    memset(r, 0, sizeof *r);
    r->api = api;
}
