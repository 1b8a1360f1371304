/* cmd_serve.c — `rocmforge serve`: options, start-up order and shutdown.
 *
 * Start-up: listen first (so /health answers and /ready says 503 while the
 * model loads), then load the model, start the engine thread, mark ready.
 * Shutdown on SIGTERM/SIGINT: stop accepting connections, refuse new work
 * on open ones, give in-flight requests --grace seconds, end what is left
 * with a final event, stop, exit 0. Signals are blocked in every thread and
 * taken synchronously by the main thread with sigtimedwait, so no handler
 * runs in the middle of library code.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "cli/cli.h"
#include "cli/cli_gen.h"
#include "server.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: rocmforge serve -m FILE [options]\n"
        "\n"
        "OpenAI-compatible and native HTTP API with continuous batching.\n"
        "\n"
        "  -m, --model FILE        GGUF model (required)\n"
        "      --alias NAME        model id reported by /v1/models (default: file name)\n"
        "      --host ADDR         bind address (default 127.0.0.1; 0.0.0.0 exposes the server)\n"
        "      --port N            port (default 8080; 0 picks a free one, printed on stderr)\n"
        "  -np, --parallel N       sequences decoded together (default 4)\n"
        "  -c, --ctx-size N        context per request, prompt + reply (default 2048, capped by the model)\n"
        "  -b, --batch-size N      most tokens per engine step (default 512)\n"
        "  -t, --threads N         CPU threads (default: all cores)\n"
        "      --queue N           requests waiting beyond the slots; more get 429 (default 64)\n"
        "      --cache-entries N   finished sequences kept for prefix reuse (default: --parallel)\n"
        "      --api-key KEY       require 'Authorization: Bearer KEY' (not for /health, /ready)\n"
        "      --api-key-file F    read the key from the first line of F\n"
        "      --cors ORIGIN       send Access-Control-Allow-Origin: ORIGIN and answer preflights\n"
        "      --max-body BYTES    request body limit, 413 beyond (default 1048576)\n"
        "      --max-tokens N      largest max_tokens a client may ask (default 4096)\n"
        "      --max-connections N (default 256)\n"
        "      --timeout S         per-request limit, queueing included (default 600)\n"
        "      --idle-timeout S    idle connection limit (default 60)\n"
        "      --grace S           on SIGTERM, time for in-flight requests (default 10)\n"
        "      --deterministic     batch-invariant numerics: a request's output does not depend on its\n"
        "                          neighbours (the engine's default: prompts on a GPU's matrix units, steps on\n"
        "                          its decode kernels; --no-deterministic chooses by batch size instead)\n"
        "  -v, --verbose\n"
        "%s"
        "\n"
        "endpoints:\n"
        "  POST /v1/chat/completions, /v1/completions, /v1/embeddings   OpenAI API (stream: SSE)\n"
        "  GET  /v1/models, /v1/models/{id}\n"
        "  POST /generate, /generate/stream (SSE)   native: {\"prompt\", \"id\"?, sampling fields}\n"
        "  GET  /status/{id}   POST /cancel/{id}   (ids from X-Request-Id or the body's \"id\")\n"
        "  GET  /health, /ready (503 while loading), /metrics (Prometheus)\n"
        "  DELETE /cache       drop the retained prompt prefixes\n",
        cli_device_opts_help);
}

static int parse_int(const char *opt, const char *v, long lo, long hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || !end || *end || x < lo || x > hi) {
        fprintf(stderr, "rocmforge serve: %s needs an integer in %ld..%ld (got '%s')\n", opt, lo, hi, v ? v : "");
        return -1;
    }
    *out = (int)x;
    return 0;
}

static char *read_key_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "rocmforge serve: cannot read --api-key-file '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    char line[1024];
    char *k = NULL;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) k = strdup(line);
    }
    fclose(f);
    if (!k) fprintf(stderr, "rocmforge serve: --api-key-file '%s' has no key on its first line\n", path);
    return k;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int cmd_serve(int argc, char **argv)
{
    static srv_server srv;   /* large; lives for the whole command */
    memset(&srv, 0, sizeof srv);
    srv_options *o = &srv.opt;
    o->host = "127.0.0.1";
    o->port = 8080;
    o->n_parallel = 4;
    o->n_ctx = 2048;
    o->n_batch = 512;
    o->queue_max = 64;
    o->cache_entries = -1;
    o->max_body = 1 << 20;
    o->max_connections = 256;
    o->idle_timeout_s = 60;
    o->request_timeout_s = 600;
    o->grace_s = 10;
    srv_limits_default(&o->lim);
    char *key_from_file = NULL;
    int max_body = (int)o->max_body;

    cli_device_opts dev;
    cli_device_opts_init(&dev);
    for (int i = 1; i < argc; i++) {
        int d = cli_device_opts_parse(&dev, argc, argv, &i);
        if (d < 0) return 2;
        if (d > 0) continue;
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(s, l) (!strcmp(a, s) || !strcmp(a, l))
#define NEEDV() do { if (!v) { fprintf(stderr, "rocmforge serve: %s needs a value\n", a); return 2; } i++; } while (0)
        if (OPT("-h", "--help")) { usage(stdout); return 0; }
        else if (OPT("-m", "--model")) { NEEDV(); o->model_path = v; }
        else if (!strcmp(a, "--alias")) { NEEDV(); o->alias = v; }
        else if (!strcmp(a, "--host")) { NEEDV(); o->host = v; }
        else if (!strcmp(a, "--port")) { NEEDV(); if (parse_int(a, v, 0, 65535, &o->port)) return 2; }
        else if (OPT("-np", "--parallel")) { NEEDV(); if (parse_int(a, v, 1, 1024, &o->n_parallel)) return 2; }
        else if (OPT("-c", "--ctx-size")) { NEEDV(); if (parse_int(a, v, 16, 1 << 20, &o->n_ctx)) return 2; }
        else if (OPT("-b", "--batch-size")) { NEEDV(); if (parse_int(a, v, 1, 1 << 16, &o->n_batch)) return 2; }
        else if (OPT("-t", "--threads")) { NEEDV(); if (parse_int(a, v, 0, 4096, &o->n_threads)) return 2; }
        else if (!strcmp(a, "--queue")) { NEEDV(); if (parse_int(a, v, 0, 1 << 16, &o->queue_max)) return 2; }
        else if (!strcmp(a, "--cache-entries")) { NEEDV(); if (parse_int(a, v, 0, 1024, &o->cache_entries)) return 2; }
        else if (!strcmp(a, "--api-key")) { NEEDV(); o->api_key = v; }
        else if (!strcmp(a, "--api-key-file")) { NEEDV(); free(key_from_file); if (!(key_from_file = read_key_file(v))) return 2; o->api_key = key_from_file; }
        else if (!strcmp(a, "--cors")) { NEEDV(); o->cors_origin = v; }
        else if (!strcmp(a, "--max-body")) { NEEDV(); if (parse_int(a, v, 1024, 1 << 30, &max_body)) return 2; }
        else if (!strcmp(a, "--max-tokens")) { NEEDV(); if (parse_int(a, v, 1, 1 << 20, &o->lim.max_tokens)) return 2; }
        else if (!strcmp(a, "--max-connections")) { NEEDV(); if (parse_int(a, v, 1, 1 << 16, &o->max_connections)) return 2; }
        else if (!strcmp(a, "--timeout")) { NEEDV(); if (parse_int(a, v, 1, 1 << 24, &o->request_timeout_s)) return 2; }
        else if (!strcmp(a, "--idle-timeout")) { NEEDV(); if (parse_int(a, v, 1, 1 << 24, &o->idle_timeout_s)) return 2; }
        else if (!strcmp(a, "--grace")) { NEEDV(); if (parse_int(a, v, 0, 3600, &o->grace_s)) return 2; }
        else if (OPT("-v", "--verbose")) o->verbose = true;
        else {
            fprintf(stderr, "rocmforge serve: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
#undef OPT
#undef NEEDV
    }
    {
        /* the context side of the device options: numerics, KV cache type */
        rf_ctx_params cp = rf_ctx_default_params();
        if (cli_device_opts_apply_ctx(&dev, &cp)) return 2;
        o->deterministic = cp.deterministic;
        o->kv_type = cp.kv_type;
    }
    if (!o->model_path) {
        fprintf(stderr, "rocmforge serve: -m FILE is required\n");
        usage(stderr);
        return 2;
    }
    if (o->api_key && !o->api_key[0]) {
        fprintf(stderr, "rocmforge serve: --api-key must not be empty\n");
        return 2;
    }
    o->max_body = (size_t)max_body;
    if (o->cache_entries < 0) o->cache_entries = o->n_parallel;
    if (o->n_batch < o->n_parallel) o->n_batch = o->n_parallel;
    srv.model_id = o->alias ? o->alias : base_name(o->model_path);
    srv.started = (long)time(NULL);
    pthread_mutex_init(&srv.sched.mu, NULL);
    pthread_cond_init(&srv.sched.cv, NULL);
    srv_metrics_init(&srv.sched.metrics);

    /* Every thread started from here on inherits the blocked set. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    rf_error err = {0};
    if (srv_http_start(&srv, &err)) {
        fprintf(stderr, "rocmforge serve: %s\n", err.msg);
        free(key_from_file);
        return 1;
    }
    fprintf(stderr, "rocmforge serve: listening on http://%s%s%s:%d (loading %s)\n",
            strchr(o->host, ':') ? "[" : "", o->host, strchr(o->host, ':') ? "]" : "", srv.port, o->model_path);

    rf_model_params mp = rf_model_default_params();
    cli_device_opts_apply(&dev, &mp);
    mp.n_threads = o->n_threads;
    mp.verbose = o->verbose;
    rf_model *model = NULL;
    int rc = 0;
    if (rf_model_load(o->model_path, &mp, &model, &err) != RF_OK) {
        fprintf(stderr, "rocmforge serve: cannot load model: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    rf_model_info info;
    rf_model_get_info(model, &info);
    if (info.n_ctx_train > 0 && o->n_ctx > info.n_ctx_train) {
        fprintf(stderr, "rocmforge serve: -c %d is more than the model's training context; using %d\n",
                o->n_ctx, info.n_ctx_train);
        o->n_ctx = info.n_ctx_train;
    }
    if (o->lim.max_tokens > o->n_ctx) o->lim.max_tokens = o->n_ctx;
    if (srv_sched_start(&srv.sched, model, o, &err)) {
        fprintf(stderr, "rocmforge serve: cannot start the engine: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    srv.ready = 1;
    fprintf(stderr, "rocmforge serve: ready: model '%s' (%s, %s), %d slots x %d tokens, KV cache %s, %s numerics\n",
            srv.model_id, info.arch, info.backend, o->n_parallel, o->n_ctx, cli_kv_type_name(srv.sched.ctx),
            o->deterministic ? "batch-invariant" : "batch-size");

    /* Wait for SIGTERM/SIGINT. */
    for (;;) {
        int sig = sigwaitinfo(&sigs, NULL);
        if (sig == SIGINT || sig == SIGTERM) break;
    }
    fprintf(stderr, "rocmforge serve: stopping: no new connections; %d s for in-flight requests\n", o->grace_s);
    srv.draining = 1;
    srv_http_quiesce(&srv);
    double until = rf_time_now() + o->grace_s;
    for (;;) {
        pthread_mutex_lock(&srv.sched.mu);
        int busy = srv.sched.n_active + srv.sched.queue_len;
        pthread_mutex_unlock(&srv.sched.mu);
        if (!busy || rf_time_now() >= until) break;
        /* A second signal ends the grace period early. */
        struct timespec ts = {0, 50 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) break;
    }
    /* End what is left (streams get a final event), let readers drain. */
    pthread_mutex_lock(&srv.sched.mu);
    srv.sched.shutdown = true;
    pthread_cond_signal(&srv.sched.cv);
    pthread_mutex_unlock(&srv.sched.mu);
    /* Up to 5 s for HTTP threads to write those final events (a client
     * that stopped reading may not get them): a task an HTTP thread still
     * holds has more than the registry's reference. */
    for (double t_end = rf_time_now() + 5.0; rf_time_now() < t_end;) {
        int held = 0;
        pthread_mutex_lock(&srv.sched.mu);
        for (srv_task *t = srv.sched.tasks; t; t = t->next) held += t->refs > 1;
        pthread_mutex_unlock(&srv.sched.mu);
        if (!held) break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
out:
    srv_sched_stop(&srv.sched);
    srv_http_stop(&srv);
    srv_sched_free(&srv.sched);
    if (srv.sched.ctx) rf_ctx_free(srv.sched.ctx);
    if (model) rf_model_free(model);
    free(key_from_file);
    fprintf(stderr, "rocmforge serve: stopped\n");
    return rc;
}
