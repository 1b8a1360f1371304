/* srv_sched.c — the engine thread: continuous batching over one rf_ctx.
 *
 * Every step:
 *   1. end jobs that were cancelled, timed out or caught by shutdown (their
 *      slot is free in the same step);
 *   2. admit queued jobs into free slots, reusing the longest cached prompt
 *      prefix (rf_seq_fork from a retained finished sequence);
 *   3. build one batch: one entry per generating slot, then prompt chunks
 *      up to n_batch (an embedding input goes in whole, since its pooling
 *      covers the tokens of one batch);
 *   4. rf_decode with the mutex released, sample each row that asked for
 *      logits (the job's own sampler), then publish under the mutex.
 * Finished sequences are kept (not closed) in a small LRU prefix cache; it
 * is evicted first when the KV pool runs short, so it never starves live
 * requests. All buffers a job writes to were sized when it was created, and
 * the per-step arrays here when the engine started: nothing is allocated in
 * the token loop.
 */
#include "server.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"

#define SRV_REGISTRY_KEEP 256   /* finished tasks kept for /status */

/* ---------------------------------------------------------------- tasks */

srv_task *srv_task_new(srv_sched *s, srv_api api)
{
    srv_task *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->api = api;
    t->req.api = api;
    pthread_cond_init(&t->cv, NULL);
    t->t_arrival = rf_time_now();
    t->created = (long)time(NULL);
    pthread_mutex_lock(&s->mu);
    t->refs = 2;                 /* caller + registry */
    snprintf(t->id, sizeof t->id, "%llu", (unsigned long long)++s->next_id);
    t->next = s->tasks;
    s->tasks = t;
    s->n_tasks++;
    /* Trim: drop old tasks only the registry still holds. */
    int idx = 0;
    for (srv_task **pp = &s->tasks; *pp;) {
        srv_task *x = *pp;
        if (idx++ >= SRV_REGISTRY_KEEP && x->refs == 1) {
            *pp = x->next;
            s->n_tasks--;
            srv_task_unref_locked(s, x);
            continue;
        }
        pp = &x->next;
    }
    pthread_mutex_unlock(&s->mu);
    return t;
}

static void task_free(srv_task *t)
{
    for (int i = 0; i < t->n_jobs; i++) {
        srv_job *j = &t->jobs[i];
        if (j->sampler) rf_sampler_free(j->sampler);
        free(j->text);
        free(j->tokens);
        free(j->lp);
        free(j->embedding);
        if (t->api == SRV_API_EMBEDDING) free((void *)j->prompt);
    }
    free(t->jobs);
    free(t->prompt);
    srv_request_free(&t->req);
    pthread_cond_destroy(&t->cv);
    free(t);
}

/* Once only the registry holds a finished task, /status needs its counts
 * but not its buffers: free those so kept tasks cost a few hundred bytes. */
static void task_shrink(srv_task *t)
{
    for (int i = 0; i < t->n_jobs; i++) {
        srv_job *j = &t->jobs[i];
        if (j->sampler) rf_sampler_free(j->sampler);
        free(j->text);
        free(j->tokens);
        free(j->lp);
        free(j->embedding);
        if (t->api == SRV_API_EMBEDDING) free((void *)j->prompt);
        j->sampler = NULL;
        j->text = NULL;
        j->tokens = NULL;
        j->lp = NULL;
        j->embedding = NULL;
        j->prompt = NULL;
        j->n_text = j->n_safe = j->cap_text = 0;
    }
    free(t->prompt);
    t->prompt = NULL;
    srv_request_free(&t->req);
}

void srv_task_unref_locked(srv_sched *s, srv_task *t)
{
    (void)s;
    if (--t->refs == 0) task_free(t);
    else if (t->refs == 1 && t->n_done == t->n_jobs) task_shrink(t);
}

srv_task *srv_task_find_locked(srv_sched *s, const char *id)
{
    for (srv_task *t = s->tasks; t; t = t->next)
        if (!strcmp(t->id, id)) return t;
    return NULL;
}

void srv_sched_cancel_locked(srv_sched *s, srv_task *t)
{
    if (t->n_done < t->n_jobs && !t->cancelled) {
        t->cancelled = true;
        pthread_cond_signal(&s->cv);
    }
}

int srv_sched_submit(srv_sched *s, srv_task *t)
{
    pthread_mutex_lock(&s->mu);
    if (s->stop || s->shutdown) {
        pthread_mutex_unlock(&s->mu);
        return -2;
    }
    /* Room: the free slots plus --queue waiting places. */
    int room = s->queue_cap - s->n_slots + (s->n_slots - s->n_active) - s->queue_len;
    if (t->n_jobs > room) {
        s->metrics.req_rejected++;
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    t->refs++;                   /* the engine's, dropped when all jobs end */
    for (int i = 0; i < t->n_jobs; i++) {
        srv_job *j = &t->jobs[i];
        j->queued = true;
        s->queue[(s->queue_head + s->queue_len) % s->queue_cap] = j;
        s->queue_len++;
    }
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* ------------------------------------------------------------ job ends */

static void kv_refresh(srv_sched *s)
{
    rf_ctx_kv_usage(s->ctx, &s->kv_used, &s->kv_total);
}

/* Mutex held. Marks a job finished, releases the text held back for stop
 * strings, and, when it was the task's last job, counts the outcome and
 * drops the engine's reference. */
static void job_finish(srv_sched *s, srv_job *j, srv_finish why)
{
    if (j->finish != SRV_FINISH_NONE) return;
    srv_task *t = j->task;
    j->finish = why;
    j->queued = j->running = false;
    j->n_safe = j->n_text;
    pthread_cond_broadcast(&t->cv);
    if (++t->n_done < t->n_jobs) return;
    srv_finish worst = SRV_FINISH_STOP;
    for (int i = 0; i < t->n_jobs; i++)
        if (t->jobs[i].finish > worst) worst = t->jobs[i].finish;
    switch (worst) {
    case SRV_FINISH_CANCELLED: s->metrics.req_cancelled++; break;
    case SRV_FINISH_TIMEOUT: s->metrics.req_timeout++; break;
    case SRV_FINISH_SHUTDOWN:
    case SRV_FINISH_ERROR: s->metrics.req_error++; break;
    default: s->metrics.req_ok++; break;
    }
    srv_task_unref_locked(s, t);
}

/* ------------------------------------------------------- prefix cache */

static void cache_drop(srv_sched *s, srv_cache_entry *e)
{
    if (e->seq >= 0) rf_seq_close(s->ctx, e->seq);
    e->seq = -1;
    e->n = 0;
}

static srv_cache_entry *cache_lru(srv_sched *s)
{
    srv_cache_entry *best = NULL;
    for (int i = 0; i < s->n_cache; i++) {
        srv_cache_entry *e = &s->cache[i];
        if (e->seq >= 0 && (!best || e->last_use < best->last_use)) best = e;
    }
    return best;
}

static bool cache_evict_one(srv_sched *s)
{
    srv_cache_entry *e = cache_lru(s);
    if (!e) return false;
    cache_drop(s, e);
    return true;
}

/* Keeps seq (holding tokens[0..n), of which [0..n_reuse) may be reused:
 * all of them, or where roles change numerics those read as a prompt) for
 * later prefix reuse; takes ownership of seq. Entries the new one covers
 * entirely are dropped. */
static void cache_put(srv_sched *s, int seq, const int32_t *tokens, int n, int n_reuse)
{
    srv_cache_entry *slot = NULL;
    for (int i = 0; i < s->n_cache; i++) {
        srv_cache_entry *e = &s->cache[i];
        if (e->seq >= 0 && e->n <= n && !memcmp(e->tokens, tokens, (size_t)e->n * sizeof *tokens))
            cache_drop(s, e);
        if (e->seq < 0 && !slot) slot = e;
    }
    if (!slot) {
        slot = cache_lru(s);
        cache_drop(s, slot);
    }
    slot->seq = seq;
    memcpy(slot->tokens, tokens, (size_t)n * sizeof *tokens);
    slot->n = n;
    slot->n_reuse = n_reuse;
    slot->last_use = ++s->use_clock;
}

static int common_prefix(const int32_t *a, int na, const int32_t *b, int nb)
{
    int n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* ---------------------------------------------------------------- slots */

static void slot_release(srv_sched *s, srv_slot *sl, bool retain)
{
    if (sl->seq >= 0) {
        if (retain && s->n_cache > 0 && sl->job && !sl->job->embed && sl->n_hist >= s->kv_block)
            cache_put(s, sl->seq, sl->hist, sl->n_hist,
                      !rf_ctx_role_numerics(s->ctx) ? sl->n_hist : sl->job->n_prompt >= 2 ? sl->job->n_prompt : 0);
        else
            rf_seq_close(s->ctx, sl->seq);
    }
    sl->seq = -1;
    sl->job = NULL;
    sl->generating = false;
    sl->n_hist = sl->n_fed = 0;
    s->n_active--;
    kv_refresh(s);
}

static int seq_open_evicting(srv_sched *s, int *seq)
{
    rf_error e;
    for (;;) {
        if (rf_seq_open(s->ctx, seq, &e) == RF_OK) return 0;
        if (!cache_evict_one(s)) return -1;
    }
}

/* Mutex held. Puts job j into free slot sl, reusing a cached prefix. */
static void slot_admit(srv_sched *s, srv_slot *sl, srv_job *j)
{
    j->queued = false;
    j->running = true;
    sl->job = j;
    sl->seq = -1;
    sl->n_fed = sl->n_hist = 0;
    sl->generating = false;
    sl->t_admit = rf_time_now();
    s->n_active++;
    /* The detokenizer drops the leading space of a stream's first piece
     * (SPM's prefix space); a reply continues its prompt, so start it past
     * that point by feeding a control token, which renders as nothing. */
    rf_detok_reset(sl->detok);
    if (!j->embed) {
        int32_t prime = rf_token_bos(s->model);
        if (prime < 0) prime = j->prompt[j->n_prompt - 1];
        (void)rf_detok_push(sl->detok, prime, j->text, (int)j->cap_text);
    }

    srv_cache_entry *best = NULL;
    int best_n = 0;
    if (!j->embed)
        for (int i = 0; i < s->n_cache; i++) {
            srv_cache_entry *e = &s->cache[i];
            if (e->seq < 0) continue;
            /* only KV that a prompt batch made where the engine gives prompt
             * and generated tokens different numerics (token roles, on a
             * GPU): a reply must not depend on what the cache held */
            int n = common_prefix(e->tokens, e->n_reuse, j->prompt, j->n_prompt);
            if (n > best_n) { best_n = n; best = e; }
        }
    /* Keep at least one prompt token to decode (its logits start sampling),
     * two when there are: a sequence's prompt tokens then always reach the
     * engine two or more at a time (sched_build), i.e. as a prompt. */
    const int keep = j->n_prompt >= 2 ? 2 : 1;
    if (best_n > j->n_prompt - keep) best_n = j->n_prompt - keep;
    if (seq_open_evicting(s, &sl->seq)) {
        snprintf(j->task->errmsg, sizeof j->task->errmsg, "no free sequence in the context");
        job_finish(s, j, SRV_FINISH_ERROR);
        slot_release(s, sl, false);
        return;
    }
    if (best && best_n >= s->kv_block) {
        rf_error e;
        if (rf_seq_fork(s->ctx, best->seq, sl->seq, best_n, &e) == RF_OK) {
            memcpy(sl->hist, j->prompt, (size_t)best_n * sizeof *sl->hist);
            sl->n_hist = sl->n_fed = best_n;
            j->n_cached = best_n;
            best->last_use = ++s->use_clock;
            s->metrics.cached_tokens += (uint64_t)best_n;
        } else {
            /* A failed fork leaves dst empty; decode the whole prompt. */
            rf_seq_truncate(s->ctx, sl->seq, 0);
        }
    }
    s->metrics.prompt_tokens += (uint64_t)j->n_prompt;
    kv_refresh(s);
}

/* ----------------------------------------------------------- publishing */

/* Earliest stop-string match in text at or after `from`; -1 if none. */
static long stop_find(const srv_task *t, const char *text, size_t n, size_t from)
{
    long best = -1;
    for (int i = 0; i < t->req.n_stop; i++) {
        const char *st = t->req.stop[i];
        size_t ls = strlen(st);
        size_t start = from >= ls - 1 ? from - (ls - 1) : 0;
        if (n < ls || start > n - ls) continue;
        const char *p = memmem(text + start, n - start, st, ls);
        if (p && (best < 0 || p - text < best)) best = p - text;
    }
    return best;
}

/* Bytes at the end of text that could begin a stop string. */
static size_t stop_holdback(const srv_task *t, const char *text, size_t n)
{
    size_t hold = 0;
    for (int i = 0; i < t->req.n_stop; i++) {
        const char *st = t->req.stop[i];
        size_t ls = strlen(st);
        for (size_t k = ls - 1 < n ? ls - 1 : n; k > hold; k--)
            if (!memcmp(text + n - k, st, k)) { hold = k; break; }
    }
    return hold;
}

/* Mutex held. Appends bytes the detokenizer produced and applies stop
 * strings; returns true when a stop string ended the job. */
static bool job_append_checked(srv_sched *s, srv_job *j, size_t old_len)
{
    (void)s;
    srv_task *t = j->task;
    if (t->req.n_stop == 0) {
        j->n_safe = j->n_text;
        return false;
    }
    long at = stop_find(t, j->text, j->n_text, old_len);
    if (at >= 0) {
        j->n_text = (size_t)at;
        return true;
    }
    size_t safe = j->n_text - stop_holdback(t, j->text, j->n_text);
    if (safe > j->n_safe) j->n_safe = safe;
    return false;
}

/* Mutex held. A token was sampled for slot sl (already stored at
 * j->tokens[j->n_gen] / j->lp by the sampling pass). */
static void slot_token(srv_sched *s, srv_slot *sl, int32_t tok, double now)
{
    srv_job *j = sl->job;
    srv_task *t = j->task;
    if (j->n_gen == 0) srv_hist_observe(&s->metrics.ttft, now - t->t_arrival);
    else srv_hist_observe(&s->metrics.itl, now - j->t_last);
    j->t_last = now;
    if (rf_token_is_eog(s->model, tok) && !t->req.ignore_eos) {
        s->metrics.generated_tokens++;
        job_finish(s, j, SRV_FINISH_STOP);
        slot_release(s, sl, true);
        return;
    }
    j->n_gen++;
    s->metrics.generated_tokens++;
    size_t old = j->n_text;
    int n = rf_detok_push(sl->detok, tok, j->text + j->n_text, (int)(j->cap_text - j->n_text));
    if (n > 0) j->n_text += (size_t)n;
    srv_finish why = SRV_FINISH_NONE;
    if (n < 0) why = SRV_FINISH_LENGTH;        /* text buffer full: cannot happen by sizing */
    else if (job_append_checked(s, j, old)) why = SRV_FINISH_STOP;
    else if (j->n_gen >= t->max_gen || sl->n_hist + 1 > s->opt->n_ctx) why = SRV_FINISH_LENGTH;
    if (why == SRV_FINISH_LENGTH) {
        /* Flush bytes of an unfinished character (become U+FFFD). */
        old = j->n_text;
        n = rf_detok_flush(sl->detok, j->text + j->n_text, (int)(j->cap_text - j->n_text));
        if (n > 0) j->n_text += (size_t)n;
        if (job_append_checked(s, j, old)) why = SRV_FINISH_STOP;
    }
    if (why != SRV_FINISH_NONE) {
        job_finish(s, j, why);
        slot_release(s, sl, true);
        return;
    }
    pthread_cond_broadcast(&t->cv);
    sl->next_tok = tok;
    sl->generating = true;
}

/* Outside the mutex: log-softmax of the row for the sampled token and the
 * top alternatives (the model's distribution, before sampler transforms). */
static void logprobs_fill(srv_sched *s, const float *logits, int32_t tok, srv_lp *out, int n_top)
{
    int nv = s->n_vocab;
    float mx = logits[0];
    for (int i = 1; i < nv; i++) if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < nv; i++) sum += exp((double)(logits[i] - mx));
    float lse = mx + (float)log(sum);
    out[0].token = tok;
    out[0].logprob = logits[tok] - lse;
    /* Top n_top (<= 20) kept sorted in out[1..m] by insertion. */
    int m = 0;
    for (int i = 0; i < nv && n_top > 0; i++) {
        float v = logits[i];
        if (m == n_top && v <= logits[out[m].token]) continue;
        int p = m < n_top ? ++m : m;   /* position 1..m after insertion */
        while (p > 1 && logits[out[p - 1].token] < v) { out[p] = out[p - 1]; p--; }
        out[p].token = i;
    }
    for (int i = 1; i <= m; i++) out[i].logprob = logits[out[i].token] - lse;
    for (int i = m + 1; i <= n_top; i++) out[i].token = -1;
}

/* ------------------------------------------------------------ the loop */

static void fail_all_in_batch(srv_sched *s, const char *msg)
{
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        if (!sl->job || sl->n_step == 0) continue;
        snprintf(sl->job->task->errmsg, sizeof sl->job->task->errmsg, "%.200s", msg);
        job_finish(s, sl->job, SRV_FINISH_ERROR);
        slot_release(s, sl, false);
    }
}

/* Mutex held. Ends jobs whose task was cancelled or ran out of time. */
static void sched_reap(srv_sched *s, double now)
{
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        if (!sl->job) continue;
        srv_task *t = sl->job->task;
        srv_finish why = t->cancelled ? SRV_FINISH_CANCELLED
                       : s->shutdown ? SRV_FINISH_SHUTDOWN
                       : now > t->deadline ? SRV_FINISH_TIMEOUT : SRV_FINISH_NONE;
        if (why == SRV_FINISH_NONE) continue;
        job_finish(s, sl->job, why);
        slot_release(s, sl, true);
    }
    int n = 0;
    for (int i = 0; i < s->queue_len; i++) {
        srv_job *j = s->queue[(s->queue_head + i) % s->queue_cap];
        srv_task *t = j->task;
        srv_finish why = t->cancelled ? SRV_FINISH_CANCELLED
                       : s->shutdown ? SRV_FINISH_SHUTDOWN
                       : now > t->deadline ? SRV_FINISH_TIMEOUT : SRV_FINISH_NONE;
        if (why != SRV_FINISH_NONE) { job_finish(s, j, why); continue; }
        s->queue[(s->queue_head + n) % s->queue_cap] = j;
        n++;
    }
    s->queue_len = n;
    if (s->flush_cache) {
        for (int i = 0; i < s->n_cache; i++) cache_drop(s, &s->cache[i]);
        s->flush_cache = false;
        kv_refresh(s);
    }
}

/* Mutex held. Fills the step's batch; returns its size. */
static int sched_build(srv_sched *s, int *first)
{
    int n = 0;
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        sl->n_step = 0;
        sl->batch_row = -1;
        if (!sl->job || !sl->generating) continue;
        s->b_tok[n] = sl->next_tok;
        s->b_seq[n] = sl->seq;
        s->b_logits[n] = 1;
        sl->batch_row = n++;
        sl->n_step = 1;
    }
    /* Prompt chunks, starting at a rotating slot so no prompt starves. */
    for (int k = 0; k < s->n_slots && n < s->n_batch; k++) {
        srv_slot *sl = &s->slots[(*first + k) % s->n_slots];
        if (!sl->job || sl->generating) continue;
        srv_job *j = sl->job;
        int rem = j->n_prompt - sl->n_fed;
        int take = rem < s->n_batch - n ? rem : s->n_batch - n;
        if (j->embed && take < rem) continue;   /* pooling needs it whole */
        /* A prompt's tokens go two or more at a time, so the engine sees
         * them as a prompt (token roles: a sequence with one token in a
         * batch takes a generated step's numerics) however the batch is
         * shared; a chunk never leaves a single token behind. Only a
         * one-token prompt (or a batch of one) goes alone. */
        if (s->n_batch >= 2 && rem >= 2) {
            if (take < rem && rem - take == 1) take--;
            if (take < 2) continue;
        }
        for (int t = 0; t < take; t++) {
            s->b_tok[n] = j->prompt[sl->n_fed + t];
            s->b_seq[n] = sl->seq;
            s->b_logits[n] = 0;
            n++;
        }
        sl->n_step = take;
        if (take == rem && !j->embed) {
            s->b_logits[n - 1] = 1;
            sl->batch_row = n - 1;
        }
    }
    *first = (*first + 1) % s->n_slots;
    return n;
}

/* Mutex held. Evicts cached prefixes until the step's worst-case block
 * need fits the free KV blocks. */
static void sched_make_room(srv_sched *s)
{
    int need = 0;
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].job && s->slots[i].n_step)
            need += s->slots[i].n_step / s->kv_block + 2;
    for (;;) {
        int used, total;
        rf_ctx_kv_usage(s->ctx, &used, &total);
        if (total - used >= need || !cache_evict_one(s)) break;
    }
}

static void *sched_main(void *arg)
{
    srv_sched *s = arg;
    int first = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        double now = rf_time_now();
        sched_reap(s, now);
        for (int i = 0; i < s->n_slots && s->queue_len > 0; i++) {
            if (s->slots[i].job) continue;
            srv_job *j = s->queue[s->queue_head];
            s->queue_head = (s->queue_head + 1) % s->queue_cap;
            s->queue_len--;
            slot_admit(s, &s->slots[i], j);
        }
        if (s->n_active == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        int n = sched_build(s, &first);
        if (n == 0) {               /* only embeddings waiting for room: cannot happen */
            pthread_cond_broadcast(&s->cv);
            continue;
        }
        sched_make_room(s);
        pthread_mutex_unlock(&s->mu);

        rf_batch b = {.n_tokens = n, .token = s->b_tok, .seq = s->b_seq, .want_logits = s->b_logits};
        rf_error err = {0};
        rf_status rc = rf_decode(s->ctx, &b, &err);
        if (rc == RF_OK) {
            /* Sample outside the mutex; results go to slots not yet published. */
            for (int i = 0; i < s->n_slots; i++) {
                srv_slot *sl = &s->slots[i];
                srv_job *j = sl->job;
                if (!j || sl->n_step == 0) continue;
                if (j->embed) {
                    if (sl->n_fed + sl->n_step == j->n_prompt) {
                        const float *e = rf_get_embeddings(s->ctx, sl->seq);
                        if (e) memcpy(j->embedding, e, (size_t)s->n_embd * sizeof *e);
                        else j->n_gen = -1;     /* reported as an error below */
                    }
                    continue;
                }
                if (sl->batch_row < 0) continue;
                int32_t tok = rf_sample(j->sampler, s->ctx, sl->batch_row);
                if (tok < 0) { sl->sampled = -1; continue; }
                if (tok >= 0 && tok < s->n_vocab) rf_sampler_accept(j->sampler, tok);
                sl->sampled = tok;
                if (j->tokens && j->n_gen < j->task->max_gen) j->tokens[j->n_gen] = tok;
                if (j->lp && j->n_gen < j->task->max_gen && tok >= 0 && tok < s->n_vocab) {
                    const float *logits = rf_get_logits(s->ctx, sl->batch_row);
                    int nt = j->task->req.top_logprobs;
                    if (logits) logprobs_fill(s, logits, tok, j->lp + (size_t)j->n_gen * (size_t)(1 + nt), nt);
                }
            }
        }
        pthread_mutex_lock(&s->mu);
        s->metrics.decode_steps++;
        s->metrics.decode_tokens += (uint64_t)n;
        if (rc != RF_OK) {
            char msg[600];
            snprintf(msg, sizeof msg, "decode failed: %s", err.msg);
            fprintf(stderr, "rocmforge serve: %s\n", msg);
            fail_all_in_batch(s, msg);
            kv_refresh(s);
            continue;
        }
        now = rf_time_now();
        for (int i = 0; i < s->n_slots; i++) {
            srv_slot *sl = &s->slots[i];
            srv_job *j = sl->job;
            if (!j || sl->n_step == 0) continue;
            if (sl->generating) {
                sl->hist[sl->n_hist++] = sl->next_tok;
            } else {
                memcpy(sl->hist + sl->n_hist, j->prompt + sl->n_fed, (size_t)sl->n_step * sizeof *sl->hist);
                sl->n_hist += sl->n_step;
                sl->n_fed += sl->n_step;
                if (sl->n_fed < j->n_prompt) continue;
                if (j->embed) {
                    if (j->n_gen < 0) {
                        snprintf(j->task->errmsg, sizeof j->task->errmsg, "the engine returned no embedding (context built without embeddings?)");
                        job_finish(s, j, SRV_FINISH_ERROR);
                    } else {
                        job_finish(s, j, SRV_FINISH_STOP);
                    }
                    slot_release(s, sl, false);
                    continue;
                }
            }
            int32_t tok = sl->sampled;
            if (tok < 0 || tok >= s->n_vocab) {
                snprintf(j->task->errmsg, sizeof j->task->errmsg, "sampler returned token %d (vocabulary %d)", tok, s->n_vocab);
                job_finish(s, j, SRV_FINISH_ERROR);
                slot_release(s, sl, false);
                continue;
            }
            slot_token(s, sl, tok, now);
        }
        kv_refresh(s);
    }
    /* Stopping: end everything still queued or running. */
    s->shutdown = true;
    sched_reap(s, rf_time_now());
    for (int i = 0; i < s->n_cache; i++) cache_drop(s, &s->cache[i]);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

int srv_sched_start(srv_sched *s, rf_model *m, const srv_options *opt, rf_error *err)
{
    s->model = m;
    s->opt = opt;
    rf_model_info info;
    rf_model_get_info(m, &info);
    s->n_vocab = info.n_vocab;
    s->n_embd = info.n_embd;
    s->kv_block = 16;
    s->n_slots = opt->n_parallel;
    s->n_cache = opt->cache_entries;
    s->n_batch = opt->n_batch;

    /* Longest piece: sizes each job's text buffer (max_gen * max_piece). */
    char piece[256];
    s->max_piece = 4;
    for (int t = 0; t < s->n_vocab; t++) {
        int n = rf_token_to_piece(m, t, piece, sizeof piece, false);
        if (n < 0) n = -n;
        if (n > s->max_piece) s->max_piece = n;
    }
    s->max_piece += 4;   /* a flushed partial character may become U+FFFD */

    rf_ctx_params cp = rf_ctx_default_params();
    cp.n_seq_max = s->n_slots + s->n_cache + 1;
    /* Every slot can hold a full context; the prefix cache lives in what is
     * left and is evicted under pressure. */
    cp.n_ctx = s->n_slots * (opt->n_ctx + 2 * s->kv_block);
    cp.n_batch = opt->n_batch;
    cp.n_threads = opt->n_threads;
    cp.kv_block_size = s->kv_block;
    cp.embeddings = true;
    cp.deterministic = opt->deterministic;
    cp.kv_type = opt->kv_type;
    rf_status st = rf_ctx_create(m, &cp, &s->ctx, err);
    if (st != RF_OK) return -1;

    s->queue_cap = opt->queue_max + opt->n_parallel;
    s->queue = calloc((size_t)s->queue_cap, sizeof *s->queue);
    s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
    s->cache = calloc((size_t)(s->n_cache ? s->n_cache : 1), sizeof *s->cache);
    s->b_tok = calloc((size_t)s->n_batch, sizeof *s->b_tok);
    s->b_seq = calloc((size_t)s->n_batch, sizeof *s->b_seq);
    s->b_logits = calloc((size_t)s->n_batch, 1);
    if (!s->queue || !s->slots || !s->cache || !s->b_tok || !s->b_seq || !s->b_logits)
        goto oom;
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        sl->seq = -1;
        sl->hist = calloc((size_t)opt->n_ctx + 1, sizeof *sl->hist);
        sl->detok = rf_detok_create(m, false);
        if (!sl->hist || !sl->detok) goto oom;
    }
    for (int i = 0; i < s->n_cache; i++) {
        s->cache[i].seq = -1;
        s->cache[i].tokens = calloc((size_t)opt->n_ctx + 1, sizeof(int32_t));
        if (!s->cache[i].tokens) goto oom;
    }
    kv_refresh(s);
    if (pthread_create(&s->thread, NULL, sched_main, s)) {
        rf_err(err, RF_ERR_BACKEND, "cannot start the engine thread");
        return -1;
    }
    s->thread_started = true;
    return 0;
oom:
    rf_err(err, RF_ERR_NOMEM, "out of memory allocating the scheduler for %d slots", s->n_slots);
    return -1;
}

void srv_sched_free(srv_sched *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->tasks) {
        srv_task *t = s->tasks;
        s->tasks = t->next;
        srv_task_unref_locked(s, t);
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; s->slots && i < s->n_slots; i++) {
        free(s->slots[i].hist);
        if (s->slots[i].detok) rf_detok_free(s->slots[i].detok);
    }
    for (int i = 0; s->cache && i < s->n_cache; i++) free(s->cache[i].tokens);
    free(s->slots);
    free(s->cache);
    free(s->queue);
    free(s->b_tok);
    free(s->b_seq);
    free(s->b_logits);
    s->slots = NULL;
    s->cache = NULL;
    s->queue = NULL;
}

void srv_sched_stop(srv_sched *s)
{
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
}
