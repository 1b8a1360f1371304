/* srv_http.c — HTTP transport on libmicrohttpd: routing, API keys, CORS,
 * body limits, blocking waits and SSE streaming.
 *
 * libmicrohttpd runs a thread per connection, so a handler may block: a
 * non-streaming request waits on its task's condition variable, and a
 * streaming response's reader callback waits there for the next bytes. Both
 * wake at least every 100 ms to peek at the socket, so a client that hangs
 * up is noticed and its task cancelled within about a tenth of a second
 * (the engine frees the slot at its next step).
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

typedef enum srv_route {
    R_NONE = 0, R_HEALTH, R_READY, R_METRICS, R_MODELS, R_MODEL, R_CHAT, R_COMPLETIONS,
    R_EMBEDDINGS, R_GENERATE, R_GENERATE_STREAM, R_STATUS, R_CANCEL, R_CACHE,
} srv_route;

typedef struct route_def {
    const char *path;
    bool prefix;               /* path is a prefix followed by an id */
    const char *method;
    srv_route route;
    srv_api api;
} route_def;

static const route_def routes[] = {
    {"/health", false, "GET", R_HEALTH, 0},
    {"/ready", false, "GET", R_READY, 0},
    {"/metrics", false, "GET", R_METRICS, 0},
    {"/v1/models", false, "GET", R_MODELS, 0},
    {"/models", false, "GET", R_MODELS, 0},
    {"/v1/models/", true, "GET", R_MODEL, 0},
    {"/v1/chat/completions", false, "POST", R_CHAT, SRV_API_CHAT},
    {"/chat/completions", false, "POST", R_CHAT, SRV_API_CHAT},
    {"/v1/completions", false, "POST", R_COMPLETIONS, SRV_API_COMPLETION},
    {"/completions", false, "POST", R_COMPLETIONS, SRV_API_COMPLETION},
    {"/v1/embeddings", false, "POST", R_EMBEDDINGS, SRV_API_EMBEDDING},
    {"/embeddings", false, "POST", R_EMBEDDINGS, SRV_API_EMBEDDING},
    {"/generate", false, "POST", R_GENERATE, SRV_API_GENERATE},
    {"/generate/stream", false, "POST", R_GENERATE_STREAM, SRV_API_GENERATE},
    {"/status/", true, "GET", R_STATUS, 0},
    {"/cancel/", true, "POST", R_CANCEL, 0},
    {"/cache", false, "DELETE", R_CACHE, 0},
};

/* Per-request state (*con_cls). */
typedef struct srv_conn {
    srv_server *srv;
    const route_def *route;
    const char *arg;           /* id after a prefix route (points into url) */
    srv_buf body;
    bool too_big;
    bool responded;
} srv_conn;

/* A streaming response (owned by the MHD response, freed with it). */
typedef struct srv_stream {
    srv_server *srv;
    srv_task *task;
    int fd;
    srv_buf pend;
    bool done;
} srv_stream;

/* ------------------------------------------------------------- helpers */

static bool client_gone(int fd)
{
    if (fd < 0) return false;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    return false;
}

static int conn_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Constant time in the key's content: every byte of the configured key is
 * compared whatever the client sent. */
static bool key_equal(const char *given, const char *key)
{
    size_t lg = strlen(given), lk = strlen(key);
    size_t d = lg ^ lk;
    for (size_t i = 0; i < lk; i++) {
        unsigned char g = i < lg ? (unsigned char)given[i] : 0;
        d |= (size_t)(g ^ (unsigned char)key[i]);
    }
    return d == 0;
}

static void add_common_headers(srv_server *srv, struct MHD_Response *r)
{
    if (srv->opt.cors_origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", srv->opt.cors_origin);
        MHD_add_response_header(r, "Vary", "Origin");
    }
}

static enum MHD_Result send_body(srv_conn *cn, struct MHD_Connection *c, int status,
                                 const char *ctype, char *body, const char *extra_name, const char *extra_value)
{
    srv_server *srv = cn->srv;
    if (!body) {
        status = 500;
        body = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
        ctype = "application/json";
        if (!body) return MHD_NO;
    }
    size_t len = strlen(body);
    if (status == 200 && !strcmp(ctype, "application/json")) { body[len] = '\n'; len++; }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) { free(body); return MHD_NO; }
    MHD_add_response_header(r, "Content-Type", ctype);
    if (extra_name) MHD_add_response_header(r, extra_name, extra_value);
    add_common_headers(srv, r);
    if (status >= 400) {
        pthread_mutex_lock(&srv->sched.mu);
        if (status >= 500) srv->sched.metrics.http_5xx++;
        else srv->sched.metrics.http_4xx++;
        pthread_mutex_unlock(&srv->sched.mu);
    }
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    cn->responded = true;
    return rc;
}

/* JSON bodies: the 200 path appends a newline, so leave room for it. */
static char *with_room(char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *p = realloc(s, n + 2);
    if (!p) { free(s); return NULL; }
    p[n + 1] = 0;
    return p;
}

static enum MHD_Result send_json(srv_conn *cn, struct MHD_Connection *c, int status, char *json)
{
    return send_body(cn, c, status, "application/json", with_room(json), NULL, NULL);
}

static enum MHD_Result send_error(srv_conn *cn, struct MHD_Connection *c, int status, const char *type,
                                  const char *code, const char *extra_name, const char *extra_value,
                                  const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static enum MHD_Result send_error(srv_conn *cn, struct MHD_Connection *c, int status, const char *type,
                                  const char *code, const char *extra_name, const char *extra_value,
                                  const char *fmt, ...)
{
    srv_error e = {0};
    e.http_status = status;
    e.type = type;
    e.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    return send_body(cn, c, status, "application/json", with_room(srv_api_error_json(&e)), extra_name, extra_value);
}

/* ----------------------------------------------------------- streaming */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    srv_stream *st = cls;
    srv_sched *s = &st->srv->sched;
    for (;;) {
        if (st->pend.len > st->pend.off) {
            size_t n = st->pend.len - st->pend.off;
            if (n > max) n = max;
            memcpy(buf, st->pend.p + st->pend.off, n);
            st->pend.off += n;
            if (st->pend.off == st->pend.len) st->pend.off = st->pend.len = 0;
            return (ssize_t)n;
        }
        if (st->done) return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&s->mu);
        bool complete = srv_api_stream(st->srv, st->task, &st->pend);
        if (complete) st->done = true;
        if (st->pend.len == 0 && !complete) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
            pthread_cond_timedwait(&st->task->cv, &s->mu, &ts);
            pthread_mutex_unlock(&s->mu);
            if (client_gone(st->fd)) {
                pthread_mutex_lock(&s->mu);
                srv_sched_cancel_locked(s, st->task);
                pthread_mutex_unlock(&s->mu);
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            continue;
        }
        pthread_mutex_unlock(&s->mu);
    }
}

static void stream_free(void *cls)
{
    srv_stream *st = cls;
    srv_sched *s = &st->srv->sched;
    pthread_mutex_lock(&s->mu);
    srv_sched_cancel_locked(s, st->task);   /* no-op when it finished */
    srv_task_unref_locked(s, st->task);
    pthread_mutex_unlock(&s->mu);
    srv_buf_free(&st->pend);
    free(st);
}

/* ------------------------------------------------------------ handlers */

static enum MHD_Result handle_generation(srv_conn *cn, struct MHD_Connection *c)
{
    srv_server *srv = cn->srv;
    srv_api api = cn->route->api;
    if (!srv->ready)
        return send_error(cn, c, 503, "server_error", "model_not_ready", "Retry-After", "1", "the model is still loading");
    if (srv->draining)
        return send_error(cn, c, 503, "server_error", "shutting_down", NULL, NULL, "the server is shutting down");
    srv_request req;
    srv_error e = {0};
    if (srv_request_parse(cn->body.p ? cn->body.p : "", cn->body.len, api, &srv->opt.lim, &req, &e))
        return send_json(cn, c, e.http_status, srv_api_error_json(&e));
    bool stream = cn->route->route == R_GENERATE_STREAM || (api != SRV_API_GENERATE && req.stream);
    if (api == SRV_API_EMBEDDING) stream = false;
    srv_task *t = srv_api_task_create(srv, &req, &e);
    srv_request_free(&req);
    if (!t) return send_json(cn, c, e.http_status, srv_api_error_json(&e));
    int rc = srv_sched_submit(&srv->sched, t);
    srv_sched *s = &srv->sched;
    if (rc) {
        pthread_mutex_lock(&s->mu);
        srv_task_unref_locked(s, t);
        pthread_mutex_unlock(&s->mu);
        if (rc == -1)
            return send_error(cn, c, 429, "requests", "rate_limit_exceeded", "Retry-After", "1",
                              "the server is busy: every slot and all %d queue places are taken; retry later", srv->opt.queue_max);
        return send_error(cn, c, 503, "server_error", "shutting_down", NULL, NULL, "the server is shutting down");
    }
    int fd = conn_fd(c);
    if (stream) {
        srv_stream *st = calloc(1, sizeof *st);
        struct MHD_Response *r = st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                                         stream_read, st, stream_free) : NULL;
        if (!r) {
            pthread_mutex_lock(&s->mu);
            srv_sched_cancel_locked(s, t);
            srv_task_unref_locked(s, t);
            pthread_mutex_unlock(&s->mu);
            free(st);
            return MHD_NO;
        }
        st->srv = srv;
        st->task = t;           /* takes the HTTP reference */
        st->fd = fd;
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "X-Request-Id", t->id);
        add_common_headers(srv, r);
        enum MHD_Result res = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        cn->responded = true;
        return res;
    }
    /* Blocking wait; a vanished client cancels the task. */
    pthread_mutex_lock(&s->mu);
    while (t->n_done < t->n_jobs) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&t->cv, &s->mu, &ts);
        if (t->n_done < t->n_jobs && !t->cancelled) {
            pthread_mutex_unlock(&s->mu);
            bool gone = client_gone(fd);
            pthread_mutex_lock(&s->mu);
            if (gone) srv_sched_cancel_locked(s, t);
        }
    }
    pthread_mutex_unlock(&s->mu);
    int status;
    char *body = srv_api_response(srv, t, &status);
    char id[sizeof t->id];
    memcpy(id, t->id, sizeof id);
    pthread_mutex_lock(&s->mu);
    srv_task_unref_locked(s, t);
    pthread_mutex_unlock(&s->mu);
    return send_body(cn, c, status, "application/json", with_room(body), "X-Request-Id", id);
}

static enum MHD_Result handle(srv_conn *cn, struct MHD_Connection *c)
{
    srv_server *srv = cn->srv;
    srv_sched *s = &srv->sched;
    switch (cn->route->route) {
    case R_HEALTH:
        return send_json(cn, c, 200, strdup("{\"status\":\"ok\"}"));
    case R_READY:
        if (!srv->ready)
            return send_body(cn, c, 503, "application/json", with_room(strdup("{\"status\":\"loading\"}")), "Retry-After", "1");
        if (srv->draining)
            return send_body(cn, c, 503, "application/json", with_room(strdup("{\"status\":\"draining\"}")), NULL, NULL);
        return send_json(cn, c, 200, strdup("{\"status\":\"ready\"}"));
    case R_METRICS: {
        size_t cap = 64 * 1024, len = 0;
        char *buf = malloc(cap);
        if (!buf) return MHD_NO;
        if (srv->ready) srv_sched_render_metrics(s, buf, cap - 1, &len);
        buf[len] = 0;
        return send_body(cn, c, 200, "text/plain; version=0.0.4", buf, NULL, NULL);
    }
    case R_MODELS:
        return send_json(cn, c, 200, srv_api_models_json(srv, NULL));
    case R_MODEL:
        if (strcmp(cn->arg, srv->model_id))
            return send_error(cn, c, 404, "invalid_request_error", "model_not_found", NULL, NULL,
                              "The model '%.200s' does not exist", cn->arg);
        return send_json(cn, c, 200, srv_api_models_json(srv, cn->arg));
    case R_STATUS:
    case R_CANCEL: {
        if (!srv->ready)
            return send_error(cn, c, 503, "server_error", "model_not_ready", "Retry-After", "1", "the model is still loading");
        pthread_mutex_lock(&s->mu);
        srv_task *t = srv_task_find_locked(s, cn->arg);
        char *body = NULL;
        if (t) {
            if (cn->route->route == R_CANCEL) srv_sched_cancel_locked(s, t);
            body = srv_api_status_json(t);
        }
        pthread_mutex_unlock(&s->mu);
        if (!t)
            return send_error(cn, c, 404, "invalid_request_error", "request_not_found", NULL, NULL,
                              "no request with id '%.100s' (finished requests are kept for a while only)", cn->arg);
        return send_json(cn, c, 200, body);
    }
    case R_CACHE:
        if (!srv->ready)
            return send_error(cn, c, 503, "server_error", "model_not_ready", "Retry-After", "1", "the model is still loading");
        pthread_mutex_lock(&s->mu);
        s->flush_cache = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return send_json(cn, c, 200, strdup("{\"flushed\":true}"));
    default:
        return handle_generation(cn, c);
    }
}

static const route_def *route_find(const char *url, const char *method, const char **arg, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route_def *r = &routes[i];
        size_t n = strlen(r->path);
        bool match = r->prefix ? !strncmp(url, r->path, n) && url[n] && !strchr(url + n, '/')
                               : !strcmp(url, r->path);
        if (!match) continue;
        *path_known = true;
        if (strcmp(method, r->method)) continue;
        *arg = r->prefix ? url + n : NULL;
        return r;
    }
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    srv_server *srv = cls;
    srv_conn *cn = *con_cls;
    if (!cn) {
        cn = calloc(1, sizeof *cn);
        if (!cn) return MHD_NO;
        cn->srv = srv;
        *con_cls = cn;
        if (!strcmp(method, "OPTIONS")) {
            if (!srv->opt.cors_origin)
                return send_error(cn, c, 405, "invalid_request_error", "method_not_allowed", NULL, NULL,
                                  "OPTIONS is answered only with --cors");
            struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (!r) return MHD_NO;
            add_common_headers(srv, r);
            MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
            MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
            MHD_add_response_header(r, "Access-Control-Max-Age", "600");
            enum MHD_Result rc = MHD_queue_response(c, 204, r);
            MHD_destroy_response(r);
            cn->responded = true;
            return rc;
        }
        bool known;
        cn->route = route_find(url, method, &cn->arg, &known);
        if (!cn->route) {
            if (known)
                return send_error(cn, c, 405, "invalid_request_error", "method_not_allowed", NULL, NULL,
                                  "method %.20s is not allowed on %.200s", method, url);
            return send_error(cn, c, 404, "invalid_request_error", "unknown_url", NULL, NULL,
                              "Invalid URL (%.20s %.200s)", method, url);
        }
        if (srv->opt.api_key && cn->route->route != R_HEALTH && cn->route->route != R_READY) {
            const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
            if (!auth)
                return send_error(cn, c, 401, "invalid_request_error", "invalid_api_key", "WWW-Authenticate", "Bearer",
                                  "Missing API key: send 'Authorization: Bearer KEY'");
            if (strncasecmp(auth, "Bearer ", 7) || !key_equal(auth + 7, srv->opt.api_key))
                return send_error(cn, c, 401, "invalid_request_error", "invalid_api_key", "WWW-Authenticate", "Bearer",
                                  "Incorrect API key provided");
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > srv->opt.max_body)
            return send_error(cn, c, 413, "invalid_request_error", "request_too_large", NULL, NULL,
                              "the request body is %.30s bytes; the limit is %zu", cl, srv->opt.max_body);
        return MHD_YES;
    }
    if (cn->responded) {          /* an early answer was queued: drop the body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cn->too_big) {
            if (cn->body.len + *upload_size > srv->opt.max_body) {
                cn->too_big = true;
                srv_buf_free(&cn->body);
            } else if (srv_buf_add(&cn->body, upload, *upload_size)) {
                return MHD_NO;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->too_big)
        return send_error(cn, c, 413, "invalid_request_error", "request_too_large", NULL, NULL,
                          "the request body is larger than %zu bytes", srv->opt.max_body);
    return handle(cn, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)c; (void)toe;
    srv_conn *cn = *con_cls;
    if (!cn) return;
    srv_buf_free(&cn->body);
    free(cn);
    *con_cls = NULL;
}

/* ------------------------------------------------------------ lifecycle */

int srv_http_start(srv_server *srv, rf_error *err)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", srv->opt.port);
    int gai = getaddrinfo(srv->opt.host, port, &hints, &ai);
    if (gai || !ai) {
        snprintf(err->msg, sizeof err->msg, "cannot resolve --host '%s': %s", srv->opt.host, gai_strerror(gai));
        err->code = RF_ERR_INVALID_ARG;
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(flags, (uint16_t)srv->opt.port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->opt.max_connections,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->opt.idle_timeout_s,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                                   MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        snprintf(err->msg, sizeof err->msg, "cannot listen on %s:%d (in use, or not allowed?)", srv->opt.host, srv->opt.port);
        err->code = RF_ERR_IO;
        return -1;
    }
    srv->quiesced_fd = -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : srv->opt.port;
    return 0;
}

void srv_http_quiesce(srv_server *srv)
{
    if (!srv->daemon) return;
    /* The listening socket comes back to us, but threads may still look at
     * it: it is closed only after MHD_stop_daemon (libmicrohttpd's rule). */
    srv->quiesced_fd = MHD_quiesce_daemon(srv->daemon);
}

void srv_http_stop(srv_server *srv)
{
    if (srv->daemon) MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    if (srv->quiesced_fd >= 0) close(srv->quiesced_fd);
    srv->quiesced_fd = -1;
}
