/* srv_request.h — JSON request body -> plain request struct.
 *
 * The parser works on (ptr, len) and knows nothing of HTTP, the model or
 * the engine, so it can be fuzzed on its own (fuzz/fuzz_server_request.c).
 * Everything a client sends is validated here: types, ranges, counts and
 * string lengths; a failure yields the HTTP status, an OpenAI error code
 * and a message naming the offending field. Tokenisation and template
 * rendering happen later (they need the model).
 */
#ifndef RF_SRV_REQUEST_H
#define RF_SRV_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which endpoint the body was sent to: decides which fields are allowed. */
typedef enum srv_api {
    SRV_API_CHAT = 0,      /* POST /v1/chat/completions */
    SRV_API_COMPLETION,    /* POST /v1/completions */
    SRV_API_EMBEDDING,     /* POST /v1/embeddings */
    SRV_API_GENERATE,      /* POST /generate and /generate/stream */
} srv_api;

/* Limits the parser enforces (from the command line). */
typedef struct srv_limits {
    int max_depth;          /* JSON nesting depth */
    int max_tokens;         /* largest max_tokens a client may ask for */
    int max_n;              /* largest n (choices per request) */
    int max_stop;           /* stop strings per request */
    int max_stop_len;       /* bytes per stop string */
    int max_logit_bias;     /* logit_bias entries */
    int max_inputs;         /* embedding inputs per request */
    int max_top_logprobs;   /* top_logprobs upper bound (OpenAI: 20) */
} srv_limits;

void srv_limits_default(srv_limits *l);

#define SRV_MAX_STOP 16

/* A failed parse: HTTP status, OpenAI error type/code, message. */
typedef struct srv_error {
    int http_status;        /* 400, 404, 413, ... */
    const char *type;       /* "invalid_request_error", ... (static) */
    const char *code;       /* "invalid_value", ... (static) or NULL */
    char param[64];         /* offending field or "" */
    char msg[384];
} srv_error;

/* One embedding input: text, or token ids given directly. */
typedef struct srv_input {
    char *text;             /* (n_text) bytes, NUL-terminated; NULL when tokens */
    size_t n_text;
    int32_t *tokens;        /* (n_tokens) ids; NULL when text */
    int n_tokens;
} srv_input;

typedef struct srv_request {
    srv_api api;
    char *model;            /* "model" or NULL when absent */
    char id[72];            /* client-supplied id (native API) or "" */

    /* Prompt: exactly one of these is set after a successful parse.
     * chat: messages_json (normalised JSON array for rf_chat_apply);
     * completion/generate: prompt text, or prompt tokens. */
    char *messages_json;
    char *prompt;
    size_t n_prompt_bytes;
    int32_t *prompt_tokens;
    int n_prompt_tokens;

    /* Embeddings. */
    srv_input *inputs;      /* (n_inputs) */
    int n_inputs;
    bool base64;            /* encoding_format == "base64" */

    /* Generation. */
    bool stream;
    bool include_usage;     /* stream_options.include_usage */
    bool ignore_eos;        /* end-of-generation tokens do not end the reply (vLLM's and
                               llama.cpp's extension, for benchmarks): max_tokens or a stop does */
    int max_tokens;         /* -1: up to the context */
    int n;                  /* choices */
    bool echo;              /* completions: prepend the prompt */
    bool logprobs;
    int top_logprobs;       /* 0..max_top_logprobs */
    char *stop[SRV_MAX_STOP];
    int n_stop;

    /* Sampling (defaults as OpenAI documents them: temperature 1, top_p 1). */
    float temperature;
    float top_p;
    int top_k;
    float min_p;
    float typical_p;
    float repeat_penalty;
    int repeat_last_n;
    float presence_penalty;
    float frequency_penalty;
    bool has_seed;
    uint64_t seed;
    int32_t *bias_token;    /* (n_bias) */
    float *bias_value;      /* (n_bias) */
    int n_bias;
} srv_request;

/* Parses body[0..len) for endpoint `api`. On success returns 0 and fills
 * *out (free with srv_request_free). On failure returns -1, fills *err and
 * leaves *out empty (nothing to free, though freeing is harmless). */
int srv_request_parse(const char *body, size_t len, srv_api api,
                      const srv_limits *lim, srv_request *out, srv_error *err);
void srv_request_free(srv_request *r);

/* Nesting depth of a JSON text (objects and arrays, strings skipped);
 * stops counting past `limit` and returns limit + 1. */
int srv_json_depth(const char *s, size_t len, int limit);

/* Fills an error (400 invalid_request_error unless changed after). */
void srv_error_set(srv_error *e, int http_status, const char *type,
                   const char *code, const char *param, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

#endif
