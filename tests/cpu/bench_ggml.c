/* bench_ggml.c — the same Llama-3.2-1B layer shapes as bench_matmul.c, run
 * by llama.cpp's own CPU matmul (ggml_mul_mat + ggml_graph_compute_with_ctx
 * from the node-llama-cpp npm package's libggml-cpu-<variant>.so, the best
 * variant this CPU supports). A comparison point, not a test.
 * Usage: cpu_bench_ggml [threads] */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

struct ggml_init_params_ref { size_t mem_size; void *mem_buffer; bool no_alloc; };

int main(int argc, char **argv)
{
    int n_threads = argc > 1 ? atoi(argv[1]) : rf_cpu_count();
    if (n_threads == 1 && getenv("RF_BENCH_CPU_TIME")) bench_clock = cpu_now;
    const char *cache = getenv("RF_CACHE_DIR");
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64", cache ? cache : ".cache");
    snprintf(path, sizeof path, "%s/libggml-base.so", dir);
    void *base = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!base) { fprintf(stderr, "%s\n", dlerror()); return 77; }
    const char *variants[] = {"sapphirerapids", "zen4", "icelake", "cooperlake", "cascadelake", "skylakex", "alderlake", "haswell", "x64"};
    void *cpu = NULL;
    const char *chosen = NULL;
    int best = 0;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        snprintf(path, sizeof path, "%s/libggml-cpu-%s.so", dir, variants[i]);
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        int (*score)(void) = (int (*)(void))dlsym(h, "ggml_backend_score");
        int s = score ? score() : 0;
        if (s > best) { best = s; cpu = h; chosen = variants[i]; }
    }
    if (!cpu) { fprintf(stderr, "no usable libggml-cpu variant\n"); return 77; }
    void *(*g_init)(struct ggml_init_params_ref) = (void *(*)(struct ggml_init_params_ref))dlsym(base, "ggml_init");
    void *(*g_new2d)(void *, int, int64_t, int64_t) = (void *(*)(void *, int, int64_t, int64_t))dlsym(base, "ggml_new_tensor_2d");
    void *(*g_mul_mat)(void *, void *, void *) = (void *(*)(void *, void *, void *))dlsym(base, "ggml_mul_mat");
    void *(*g_graph)(void *) = (void *(*)(void *))dlsym(base, "ggml_new_graph");
    void (*g_expand)(void *, void *) = (void (*)(void *, void *))dlsym(base, "ggml_build_forward_expand");
    void *(*g_data)(void *) = (void *(*)(void *))dlsym(base, "ggml_get_data");
    void (*g_free)(void *) = (void (*)(void *))dlsym(base, "ggml_free");
    int (*g_compute)(void *, void *, int) = (int (*)(void *, void *, int))dlsym(cpu, "ggml_graph_compute_with_ctx");
    if (!g_init || !g_new2d || !g_mul_mat || !g_graph || !g_expand || !g_data || !g_free || !g_compute) {
        fprintf(stderr, "missing ggml symbols\n");
        return 1;
    }
    printf("ggml cpu variant %s, %d threads\n", chosen, n_threads);
    struct { int64_t rows, cols; } layer[] = {{2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048}, {8192, 2048}, {8192, 2048}, {2048, 8192}};
    const rf_type types[] = {RF_TYPE_Q4_0, RF_TYPE_Q8_0, RF_TYPE_Q4_K, RF_TYPE_Q6_K};
    rf_error err = {0};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        rf_type t = types[ti];
        for (int pass = 0; pass < 2; pass++) {
            const int64_t nt = pass ? 512 : 1;
            struct ggml_init_params_ref ip = {(size_t)1 << 30, NULL, false};
            void *ctx = g_init(ip);
            void *graphs[7];
            size_t bytes = 0;
            for (int l = 0; l < 7; l++) {
                void *w = g_new2d(ctx, (int)t, layer[l].cols, layer[l].rows);
                void *x = g_new2d(ctx, 0, layer[l].cols, nt);
                size_t rb = (size_t)rf_type_row_bytes(t, (uint64_t)layer[l].cols);
                float *row = malloc(sizeof(float) * (size_t)layer[l].cols);
                for (int64_t c = 0; c < layer[l].cols; c++) row[c] = (float)((c * 7919) % 1000) / 500.f - 1.f;
                for (int64_t r = 0; r < layer[l].rows; r++) rf_quantize_rows(t, row, (uint8_t *)g_data(w) + rb * (size_t)r, 1, layer[l].cols, &err);
                free(row);
                float *xd = g_data(x);
                for (int64_t i = 0; i < layer[l].cols * nt; i++) xd[i] = (float)((i * 2654435761u) % 2000) / 1000.f - 1.f;
                graphs[l] = g_graph(ctx);
                g_expand(graphs[l], g_mul_mat(ctx, w, x));
                bytes += rb * (size_t)layer[l].rows;
            }
            int reps = pass ? 2 : 20;
            for (int l = 0; l < 7; l++) g_compute(ctx, graphs[l], n_threads); /* warm up */
            double t0 = bench_clock();
            for (int k = 0; k < reps; k++)
                for (int l = 0; l < 7; l++) g_compute(ctx, graphs[l], n_threads);
            double dt = (bench_clock() - t0) / reps;
            if (!pass) printf("%-5s decode: %6.1f GB/s (%.3f ms per layer)", rf_type_name(t), (double)bytes / dt / 1e9, dt * 1e3);
            else printf("   prompt 512 tok: %.1f ms per layer, ~%.0f tok/s for 16 layers\n", dt * 1e3, 512.0 / (dt * 16));
            g_free(ctx);
        }
    }
    return 0;
}
