/* srv_metrics.c — counters and latency histograms, rendered as Prometheus
 * text exposition (version 0.0.4). Everything lives in srv_sched and is
 * updated under its mutex by the engine, so a scrape reads one consistent
 * snapshot. Bucket bounds are fixed at start: observing never allocates.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

static void hist_init(srv_hist *h, const double *b, int n)
{
    memset(h, 0, sizeof *h);
    h->n_bounds = n < SRV_HIST_MAX ? n : SRV_HIST_MAX;
    memcpy(h->bounds, b, (size_t)h->n_bounds * sizeof *b);
}

void srv_metrics_init(srv_metrics *m)
{
    memset(m, 0, sizeof *m);
    static const double ttft[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    static const double itl[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
    hist_init(&m->ttft, ttft, (int)(sizeof ttft / sizeof ttft[0]));
    hist_init(&m->itl, itl, (int)(sizeof itl / sizeof itl[0]));
}

void srv_hist_observe(srv_hist *h, double v)
{
    if (v < 0) v = 0;
    for (int i = 0; i < h->n_bounds; i++)
        if (v <= h->bounds[i]) { h->counts[i]++; break; }
    h->count++;
    h->sum += v;
}

typedef struct out { char *buf; size_t cap, len; } out;

static void put(out *o, const char *fmt, ...)
{
    if (o->len >= o->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
    if (o->len > o->cap) o->len = o->cap;
}

static void put_counter(out *o, const char *name, const char *help, uint64_t v)
{
    put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

static void put_gauge(out *o, const char *name, const char *help, double v)
{
    put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static void put_hist(out *o, const char *name, const char *help, const srv_hist *h)
{
    put(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < h->n_bounds; i++) {
        cum += h->counts[i];
        put(o, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
    }
    put(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
        (unsigned long long)h->count, name, h->sum, name, (unsigned long long)h->count);
}

void srv_sched_render_metrics(srv_sched *s, char *buf, size_t cap, size_t *len)
{
    out o = {buf, cap, 0};
    pthread_mutex_lock(&s->mu);
    const srv_metrics *m = &s->metrics;
    put(&o, "# HELP rocmforge_requests_total Finished generation/embedding requests by outcome.\n"
            "# TYPE rocmforge_requests_total counter\n");
    put(&o, "rocmforge_requests_total{outcome=\"ok\"} %llu\n", (unsigned long long)m->req_ok);
    put(&o, "rocmforge_requests_total{outcome=\"error\"} %llu\n", (unsigned long long)m->req_error);
    put(&o, "rocmforge_requests_total{outcome=\"cancelled\"} %llu\n", (unsigned long long)m->req_cancelled);
    put(&o, "rocmforge_requests_total{outcome=\"timeout\"} %llu\n", (unsigned long long)m->req_timeout);
    put(&o, "rocmforge_requests_total{outcome=\"rejected\"} %llu\n", (unsigned long long)m->req_rejected);
    put(&o, "# HELP rocmforge_http_responses_total HTTP error responses by class.\n"
            "# TYPE rocmforge_http_responses_total counter\n");
    put(&o, "rocmforge_http_responses_total{class=\"4xx\"} %llu\n", (unsigned long long)m->http_4xx);
    put(&o, "rocmforge_http_responses_total{class=\"5xx\"} %llu\n", (unsigned long long)m->http_5xx);
    put_counter(&o, "rocmforge_prompt_tokens_total", "Prompt tokens of admitted requests.", m->prompt_tokens);
    put_counter(&o, "rocmforge_prompt_tokens_cached_total", "Prompt tokens reused from the prefix cache.", m->cached_tokens);
    put_counter(&o, "rocmforge_generated_tokens_total", "Generated tokens.", m->generated_tokens);
    put_counter(&o, "rocmforge_decode_steps_total", "Engine steps (one rf_decode each).", m->decode_steps);
    put_counter(&o, "rocmforge_decode_tokens_total", "Tokens processed over all steps.", m->decode_tokens);
    put_hist(&o, "rocmforge_time_to_first_token_seconds", "Arrival to first generated token.", &m->ttft);
    put_hist(&o, "rocmforge_inter_token_latency_seconds", "Time between consecutive tokens of one sequence.", &m->itl);
    int cached = 0;
    for (int i = 0; i < s->n_cache; i++) cached += s->cache[i].seq >= 0;
    put_gauge(&o, "rocmforge_queue_length", "Jobs waiting for a slot.", s->queue_len);
    put_gauge(&o, "rocmforge_slots_active", "Slots running a job.", s->n_active);
    put_gauge(&o, "rocmforge_slots_total", "Slots (--parallel).", s->n_slots);
    put_gauge(&o, "rocmforge_kv_blocks_used", "KV cache blocks in use (live and cached sequences).", s->kv_used);
    put_gauge(&o, "rocmforge_kv_blocks_total", "KV cache blocks in the pool.", s->kv_total);
    put_gauge(&o, "rocmforge_kv_cache_usage_ratio", "Used over total KV blocks.",
              s->kv_total ? (double)s->kv_used / s->kv_total : 0.0);
    put_gauge(&o, "rocmforge_prefix_cache_entries", "Finished sequences kept for prefix reuse.", cached);
    pthread_mutex_unlock(&s->mu);
    *len = o.len;
}
