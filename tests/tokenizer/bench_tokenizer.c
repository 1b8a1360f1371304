/* bench_tokenizer.c — encoding speed of a 1 MB text per vocab (a report,
 * not a timed assertion: it prints wall and CPU time and checks only that
 * tokenization succeeds).
 *
 * The text repeats the varied corpus (code, CJK, emoji, whitespace runs,
 * long words, invalid UTF-8) up to 1 MiB, so it exercises every split
 * pattern. Usage: bench_tokenizer [vocab-file-name ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

static char *make_text(size_t target, size_t *n_out)
{
    const char *src = getenv("RF_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/tokenizer/corpus.bin", src ? src : ".");
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *c = malloc(1 << 20);
    size_t n = fread(c, 1, 1 << 20, f);
    fclose(f);
    char *t = malloc(target);
    size_t o = 0;
    while (o < target) {
        size_t k = n < target - o ? n : target - o;
        memcpy(t + o, c, k);
        o += k;
    }
    free(c);
    *n_out = o;
    return t;
}

/* CPU time of this process: on a busy machine the wall clock overstates
 * the cost, so both are printed. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void bench(const char *dir, const char *name, const char *text, size_t n)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gguf_file *f;
    rf_error err;
    rf_vocab *v;
    if (gguf_open(path, &f, &err) != RF_OK) {
        fprintf(stderr, "%s: absent, skipped\n", name);
        return;
    }
    double t0 = rf_time_now();
    rf_status st = rf_vocab_load(f, &v, &err);
    double t_load = rf_time_now() - t0;
    gguf_free(f);
    CHECKF(st == RF_OK, "%s: %s", name, err.msg);
    if (st != RF_OK)
        return;
    int32_t *toks = malloc(sizeof(int32_t) * n);
    t0 = rf_time_now();
    double c0 = cpu_now();
    int k = rf_vocab_tokenize(v, text, n, toks, (int)n, false, false);
    double dt = rf_time_now() - t0, dc = cpu_now() - c0;
    CHECKF(k > 0, "%s: tokenize failed (%d)", name, k);
    printf("%-32s %-4s load %6.1f ms  encode 1 MiB: wall %7.1f ms, cpu %7.1f ms  %6.1f MB/s  %8d tokens\n", name,
           rf_vocab_type_name(v), t_load * 1e3, dt * 1e3, dc * 1e3, n / dc / 1e6, k);
    free(toks);
    rf_vocab_free(v);
}

int main(int argc, char **argv)
{
    size_t n;
    char *text = make_text(1 << 20, &n);
    if (!text)
        rf_test_skip("tests/fixtures/tokenizer/corpus.bin not found (set RF_SOURCE_DIR)");
    const char *dir = rf_test_models_dir();
    static const char *const defaults[] = {"llama-2-tiny-random.gguf", "ggml-vocab-llama-bpe.gguf",
        "ggml-vocab-qwen2.gguf", "ggml-vocab-gemma-4.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-deepseek-llm.gguf",
        "ggml-vocab-bert-bge.gguf", "ggml-vocab-nomic-bert-moe.gguf", NULL};
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            bench(dir, argv[i], text, n);
    else
        for (int i = 0; defaults[i]; i++)
            bench(dir, defaults[i], text, n);
    free(text);
    return rf_test_done("tokenizer_bench");
}
