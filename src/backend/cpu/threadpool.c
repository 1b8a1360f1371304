/* threadpool.c — a fixed set of worker threads that run one parallel
 * function at a time (fork/join), for the CPU matrix kernels.
 *
 * A decode step calls the pool a few hundred times with small jobs, so the
 * hand-off must be cheap: workers spin briefly on a generation counter
 * before sleeping on a condition variable, and the caller spins on a done
 * counter. Spinning is bounded so idle pools do not burn cores.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backend/cpu/cpu_kernels.h"
#include "base/base.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* Spin before sleeping: a decode step issues a matmul every few tens of
 * microseconds, and a condition-variable wake-up costs about as much.
 * Spinning only pays when every thread has a core of its own; otherwise
 * (more threads than cores) workers sleep almost at once. */
#define POOL_SPIN_US_DEFAULT 1000

struct rf_threadpool {
    int n_threads;                 /* workers + the caller */
    pthread_t *threads;            /* (n_threads - 1) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint generation;        /* bumped once per job */
    atomic_int n_done;             /* workers finished with the current job */
    atomic_int n_sleeping;
    atomic_bool stop;
    double spin_s;                 /* how long a worker spins before sleeping */
    void (*fn)(void *arg, int ith, int nth);
    void *arg;
};

typedef struct { rf_threadpool *p; int ith; } worker_arg;

static void *pool_worker(void *varg)
{
    worker_arg wa = *(worker_arg *)varg;
    free(varg);
    rf_threadpool *p = wa.p;
    /* generation is 0 when the pool is created; reading it here instead
     * could skip a job published before this thread started */
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        unsigned spins = 0;
        double t_spin = 0;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop)) {
            /* check the clock every 256 pauses */
            if ((++spins & 255) != 0) {
                cpu_relax();
                continue;
            }
            if (t_spin == 0) t_spin = rf_time_now();
            if (rf_time_now() - t_spin < p->spin_s) continue;
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->n_sleeping, 1);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->n_sleeping, 1);
            pthread_mutex_unlock(&p->mu);
            spins = 0;
            t_spin = 0;
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        p->fn(p->arg, wa.ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
}

rf_threadpool *rf_threadpool_create(int n_threads, rf_error *err)
{
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 1024) {
        rf_err(err, RF_ERR_INVALID_ARG, "thread pool: %d threads is too many (at most 1024)", n_threads);
        return NULL;
    }
    rf_threadpool *p = rf_calloc(1, sizeof(*p), err, "thread pool");
    if (!p) return NULL;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->stop, false);
    /* RF_POOL_SPIN_US overrides the spin time (0: sleep at once) */
    double spin_us = POOL_SPIN_US_DEFAULT;
    const char *env = getenv("RF_POOL_SPIN_US");
    if (env && *env) spin_us = atof(env);
    else if (n_threads > rf_cpu_count()) spin_us = 0;
    p->spin_s = spin_us > 0 ? spin_us * 1e-6 : 0;
    if (n_threads > 1) {
        p->threads = rf_calloc((size_t)n_threads - 1, sizeof(pthread_t), err, "thread pool threads");
        if (!p->threads) {
            free(p);
            return NULL;
        }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *wa = malloc(sizeof(*wa));
            if (wa) {
                wa->p = p;
                wa->ith = i;
            }
            if (!wa || pthread_create(&p->threads[i - 1], NULL, pool_worker, wa)) {
                free(wa);
                p->n_threads = i; /* the ones started so far */
                rf_threadpool_free(p);
                rf_err(err, RF_ERR_NOMEM, "thread pool: cannot start thread %d of %d", i, n_threads);
                return NULL;
            }
        }
    }
    return p;
}

void rf_threadpool_free(rf_threadpool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

int rf_threadpool_size(const rf_threadpool *p) { return p ? p->n_threads : 1; }

void rf_threadpool_run(rf_threadpool *p, void (*fn)(void *arg, int ith, int nth), void *arg)
{
    if (!p || p->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->n_done, 0);
    /* publish the job: the release on generation orders fn/arg before it */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    if (atomic_load(&p->n_sleeping)) pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n_threads);
    unsigned spins = 0;
    while (atomic_load_explicit(&p->n_done, memory_order_acquire) < p->n_threads - 1) {
        if (++spins < 4096) cpu_relax();
        else sched_yield();
    }
}
