/* bench_matmul.c — microbenchmark of rf_cpu_matmul on Llama-3.2-1B shapes
 * (not a test): decode (n_tok = 1) in GB/s of weights streamed, and prompt
 * processing (n_tok = 512) in tokens/s for one layer's matmuls. Weights are
 * repacked (rf_cpu_pack) where the variant has packed kernels, as the CPU
 * backend does; RF_BENCH_PLAIN=1 keeps the rows.
 * Usage: cpu_bench_matmul [threads] [isa: scalar|avx2|avx512|neon] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/cpu_kernels.h"
#include "base/base.h"
#include "quant/quant.h"

/* CPU time of the process: with one thread, steadier than wall time on a
 * busy machine. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static double (*bench_clock)(void) = rf_time_now;

typedef struct { const char *name; int64_t rows, cols; } shape;
static const shape layer[] = {
    {"attn_q", 2048, 2048}, {"attn_k", 512, 2048}, {"attn_v", 512, 2048}, {"attn_o", 2048, 2048},
    {"ffn_gate", 8192, 2048}, {"ffn_up", 8192, 2048}, {"ffn_down", 2048, 8192},
};

static void mm(rf_threadpool *pool, rf_type t, const void *w, const void *packed, int64_t rows, int64_t cols,
               const float *x, int64_t nt, float *y, void *scratch)
{
    rf_error err = {0};
    if (packed) rf_cpu_matmul_packed(pool, t, packed, rows, cols, x, nt, y, scratch, &err);
    else rf_cpu_matmul(pool, t, w, rows, cols, (size_t)rf_type_row_bytes(t, (uint64_t)cols), x, nt, y, scratch, &err);
}

int main(int argc, char **argv)
{
    int n_threads = argc > 1 ? atoi(argv[1]) : rf_cpu_count();
    if (n_threads == 1 && getenv("RF_BENCH_CPU_TIME")) bench_clock = cpu_now;
    rf_cpu_isa isa = rf_cpu_kernels_init();
    if (argc > 2) {
        for (int i = 0; i < RF_ISA_COUNT; i++)
            if (!strcmp(argv[2], rf_cpu_isa_name((rf_cpu_isa)i))) isa = (rf_cpu_isa)i;
        if (!rf_cpu_kernels_force(isa)) { fprintf(stderr, "isa %s unavailable\n", argv[2]); return 1; }
    }
    rf_error err = {0};
    rf_threadpool *pool = rf_threadpool_create(n_threads, &err);
    printf("isa %s, %d threads\n", rf_cpu_isa_name(isa), n_threads);
    const rf_type types[] = {RF_TYPE_Q4_0, RF_TYPE_Q8_0, RF_TYPE_Q4_K, RF_TYPE_Q6_K};
    const bool plain = getenv("RF_BENCH_PLAIN") != NULL;
    const int64_t max_tok = 512;
    float *x = malloc(sizeof(float) * 8192 * max_tok), *y = malloc(sizeof(float) * 8192 * max_tok);
    for (int64_t i = 0; i < 8192 * max_tok; i++) x[i] = (float)((i * 2654435761u) % 2000) / 1000.f - 1.f;
    void *scratch = aligned_alloc(64, 8u << 20);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        rf_type t = types[ti];
        void *w[7], *packed[7];
        size_t total_bytes = 0;
        for (int l = 0; l < 7; l++) {
            size_t rb = (size_t)rf_type_row_bytes(t, (uint64_t)layer[l].cols);
            w[l] = malloc(rb * (size_t)layer[l].rows);
            float *row = malloc(sizeof(float) * (size_t)layer[l].cols);
            for (int64_t c = 0; c < layer[l].cols; c++) row[c] = (float)((c * 7919) % 1000) / 500.f - 1.f;
            for (int64_t r = 0; r < layer[l].rows; r++) rf_quantize_rows(t, row, (uint8_t *)w[l] + rb * (size_t)r, 1, layer[l].cols, &err);
            free(row);
            total_bytes += rb * (size_t)layer[l].rows;
            size_t pb = plain ? 0 : rf_cpu_pack_size(t, layer[l].rows, layer[l].cols);
            packed[l] = pb ? aligned_alloc(64, (pb + 63) / 64 * 64) : NULL;
            if (packed[l]) rf_cpu_pack(t, w[l], layer[l].rows, layer[l].cols, rb, packed[l], pb, &err);
        }
        /* decode: 16 layers worth of matvecs, repeated */
        int reps = 20;
        double t0 = bench_clock();
        for (int k = 0; k < reps; k++)
            for (int l = 0; l < 7; l++)
                mm(pool, t, w[l], packed[l], layer[l].rows, layer[l].cols, x, 1, y, scratch);
        double dt = bench_clock() - t0;
        double gbs = (double)total_bytes * reps / dt / 1e9;
        /* prompt: 512 tokens through one layer */
        int64_t nt = max_tok;
        t0 = bench_clock();
        int preps = 2;
        for (int k = 0; k < preps; k++)
            for (int l = 0; l < 7; l++)
                mm(pool, t, w[l], packed[l], layer[l].rows, layer[l].cols, x, nt, y, scratch);
        double dp = (bench_clock() - t0) / preps;
        double flops = 0;
        for (int l = 0; l < 7; l++) flops += 2.0 * (double)layer[l].rows * (double)layer[l].cols * (double)nt;
        printf("%-5s decode: %6.1f GB/s (%.3f ms per layer)   prompt %lld tok: %7.1f GFLOP/s (%.1f ms per layer, ~%.0f tok/s for 16 layers)\n",
               rf_type_name(t), gbs, dt / reps * 1e3, (long long)nt, flops / dp / 1e9, dp * 1e3, (double)nt / (dp * 16));
        for (int l = 0; l < 7; l++) {
            free(w[l]);
            free(packed[l]);
        }
    }
    free(x); free(y); free(scratch);
    rf_threadpool_free(pool);
    return 0;
}
