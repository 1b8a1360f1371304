/* llamacpp_bench.c — llama.cpp's speed on a GGUF file, measured the way
 * llama-bench does it, as the peer column of BENCHMARKS.md.
 *
 * Built by scripts/bench/cpu-compare.sh against the llama.h of the llama.cpp
 * release inside the npm package node-llama-cpp (its git bundle, cloned into
 * a temp dir) and linked with that package's prebuilt CPU libraries, so the
 * numbers are those of the llama.cpp build people install.
 *   pp<N>: clear the KV cache, decode N random tokens in one batch;
 *   tg<N>: clear the KV cache, decode N tokens one at a time.
 * One warm-up run each, then R timed repetitions; prints JSON lines:
 *   {"engine":"llama.cpp","test":"pp512","threads":2,"avg_ts":..,"stddev_ts":..}
 * usage: llamacpp_bench BACKEND_DIR MODEL THREADS PP TG REPS */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "llama.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void quiet_log(enum ggml_log_level level, const char *text, void *ud)
{
    (void)ud;
    if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

/* Decode n tokens, in one batch (pp) or one by one (tg); returns seconds. */
static double run(struct llama_context *ctx, int n_vocab, int n, int batch)
{
    llama_memory_clear(llama_get_memory(ctx), true);
    llama_token *toks = malloc(sizeof *toks * (size_t)n);
    for (int i = 0; i < n; i++) toks[i] = rand() % n_vocab;
    double t0 = now();
    for (int i = 0; i < n; i += batch) {
        int k = n - i < batch ? n - i : batch;
        if (llama_decode(ctx, llama_batch_get_one(toks + i, k)) != 0) {
            fprintf(stderr, "llama_decode failed\n");
            exit(1);
        }
    }
    llama_synchronize(ctx);
    double t = now() - t0;
    free(toks);
    return t;
}

static void report(const char *model, const char *test, int threads, int n, const double *secs, int reps)
{
    double mean = 0, var = 0;
    for (int i = 0; i < reps; i++) mean += n / secs[i];
    mean /= reps;
    for (int i = 0; i < reps; i++) var += (n / secs[i] - mean) * (n / secs[i] - mean);
    double sd = reps > 1 ? sqrt(var / (reps - 1)) : 0;
    printf("{\"engine\":\"llama.cpp\",\"model\":\"%s\",\"test\":\"%s\",\"threads\":%d,\"avg_ts\":%.3f,\"stddev_ts\":%.3f}\n",
           model, test, threads, mean, sd);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: llamacpp_bench BACKEND_DIR MODEL THREADS PP TG REPS\n");
        return 2;
    }
    int threads = atoi(argv[3]), pp = atoi(argv[4]), tg = atoi(argv[5]), reps = atoi(argv[6]);
    llama_log_set(quiet_log, NULL);
    ggml_backend_load_all_from_path(argv[1]);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(argv[2], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[2]); return 1; }
    int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(pp + tg + 16);
    cp.n_batch = (uint32_t)(pp > 0 ? pp : 1);
    cp.n_ubatch = cp.n_batch;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "cannot create a context\n"); return 1; }
    const char *base = strrchr(argv[2], '/');
    base = base ? base + 1 : argv[2];
    double *secs = malloc(sizeof *secs * (size_t)(reps > 0 ? reps : 1));
    char name[32];
    srand(42);
    if (pp > 0) {
        run(ctx, n_vocab, pp, pp);
        for (int r = 0; r < reps; r++) secs[r] = run(ctx, n_vocab, pp, pp);
        snprintf(name, sizeof name, "pp%d", pp);
        report(base, name, threads, pp, secs, reps);
    }
    if (tg > 0) {
        run(ctx, n_vocab, tg, 1);
        for (int r = 0; r < reps; r++) secs[r] = run(ctx, n_vocab, tg, 1);
        snprintf(name, sizeof name, "tg%d", tg);
        report(base, name, threads, tg, secs, reps);
    }
    free(secs);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
