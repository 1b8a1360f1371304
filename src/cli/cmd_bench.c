/* cmd_bench.c — `rocmforge bench -m FILE [-p 512] [-n 128] [-d 0] [-r 5]
 * [-t N] [--json]`: prompt-processing and generation speed, llama-bench
 * style.
 *
 * ppN: N tokens decoded as one batch into an empty sequence. tgN: N tokens
 * decoded one at a time into an empty sequence (each step is a real decode
 * with logits, as in generation; tokens are random, sampling is excluded).
 * With -d D (llama-bench's depth), each run's sequence first holds D
 * tokens, decoded untimed as prompt batches: "pp512 @ d4096", "tg128 @
 * d4096", the speed at that context length. With -np N, N sequences at
 * once (llama-batched-bench's B): "pp512 x8" decodes 8 prompts of 512 in
 * one batch, "tg128 x8" steps 8 sequences together, 128 steps; t/s counts
 * all of them.
 * One warm-up run, then -r timed repetitions; the report is mean ± standard
 * deviation of tokens/s over the repetitions. --json prints an array of
 * results with llama-bench's field names where they exist.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/base.h"
#include "cli.h"
#include "cli_gen.h"
#include "gguf/gguf.h"

#define RF_BENCH_NP_MAX 256

static void usage(FILE *f)
{
    fprintf(f, "usage: rocmforge bench [-m FILE] [options]\n"
               "  -m, --model FILE   GGUF model (default: $RF_MODEL or models/stories260K.gguf)\n"
               "  -p N               prompt tokens for the pp test (default 512; 0 = skip)\n"
               "  -n N               generated tokens for the tg test (default 128; 0 = skip)\n"
               "  -d, --n-depth N    context depth: tokens already in the sequence before each test (default 0)\n"
               "  -np, --parallel N  sequences at once (default 1): pp decodes N prompts in one batch, tg\n"
               "                     steps N sequences together; t/s counts every sequence's tokens\n"
               "  -r N               repetitions (default 5)\n"
               "  -t N               CPU threads (default: all cores)\n"
               "  --json             print the results as a JSON array\n%s", cli_device_opts_help);
}

/* Dominant weight type (by bytes) and total tensor bytes of the file. */
static void file_facts(const char *path, const char **type, uint64_t *size)
{
    *type = "?";
    *size = 0;
    gguf_file *f = NULL;
    if (gguf_open(path, &f, NULL)) return;
    uint64_t by_type[RF_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        *size += f->tensors[i].n_bytes;
        if (f->tensors[i].n_dims >= 2 && (unsigned)f->tensors[i].type < RF_TYPE_COUNT)
            by_type[f->tensors[i].type] += f->tensors[i].n_bytes;
    }
    int best = 0;
    for (int t = 1; t < RF_TYPE_COUNT; t++)
        if (by_type[t] > by_type[best]) best = t;
    *type = rf_type_name((uint32_t)best);
    gguf_free(f);
}

/* One timed run of a test over np sequences at once; returns tokens/s (all
 * sequences' tokens) or a negative value on error. */
static double run_once(rf_ctx *c, int n_vocab, int n_tok, bool batched, int depth, int n_batch, int np,
                       uint64_t *rng)
{
    int seq[RF_BENCH_NP_MAX];
    rf_error err = {0};
    rf_status st = RF_OK;
    int n_open = 0;
    for (; n_open < np && !st; n_open++)
        if ((st = rf_seq_open(c, &seq[n_open], &err))) break;
    const int n_all = depth + n_tok;
    /* each sequence's n_all tokens, then the timed ones in batch order */
    int32_t *tok = malloc(((size_t)n_all + n_tok) * np * sizeof *tok), *sq = malloc((size_t)n_all * np * sizeof *sq);
    if (!tok || !sq) st = rf_err(&err, RF_ERR_NOMEM, "bench: %d tokens", n_all * np);
    for (int i = 0; !st && i < n_all * np; i++) {
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((*rng >> 33) % (uint64_t)n_vocab);
    }
    /* the depth, untimed, as prompt batches of each sequence */
    for (int s = 0; s < np && !st; s++) {
        for (int i = 0; i < n_batch && i < depth; i++) sq[i] = seq[s];
        for (int d0 = 0; d0 < depth && !st; d0 += n_batch) {
            rf_batch b = {depth - d0 < n_batch ? depth - d0 : n_batch, tok + (size_t)s * n_all + d0, sq, NULL};
            st = rf_decode(c, &b, &err);
        }
    }
    /* the timed tokens, sequence-major: np prompts in one batch, or np
     * sequences' steps in each batch */
    int32_t *tt = tok + (size_t)np * n_all;
    if (!st) {
        for (int s = 0; s < np; s++)
            for (int i = 0; i < n_tok; i++) tt[batched ? s * n_tok + i : i * np + s] = tok[(size_t)s * n_all + depth + i];
        for (int i = 0; i < n_tok * np; i++) sq[i] = seq[batched ? i / n_tok : i % np];
    }
    /* each batch waited for, as llama-bench does (a generation loop waits
     * for each step's token) */
    if (!st) st = rf_synchronize(c, &err);
    double t0 = rf_time_now();
    if (!st && batched) {
        rf_batch b = {n_tok * np, tt, sq, NULL};
        st = rf_decode(c, &b, &err);
        if (!st) st = rf_synchronize(c, &err);
    } else {
        /* RF_BENCH_HOST=1: where a step's time goes, host side */
        const char *he = getenv("RF_BENCH_HOST");
        double t_dec = 0, t_sync = 0;
        for (int i = 0; i < n_tok && !st; i++) {
            rf_batch b = {np, tt + (size_t)i * np, sq + (size_t)i * np, NULL};
            const double a = rf_time_now();
            st = rf_decode(c, &b, &err);
            const double m = rf_time_now();
            if (!st) st = rf_synchronize(c, &err);
            t_dec += m - a;
            t_sync += rf_time_now() - m;
        }
        if (he && he[0] == '1' && n_tok > 0)
            fprintf(stderr, "bench: per step %.1f us in rf_decode (host), %.1f us waiting for the device\n",
                    t_dec / n_tok * 1e6, t_sync / n_tok * 1e6);
    }
    double dt = rf_time_now() - t0;
    for (int s = 0; s < n_open; s++) rf_seq_close(c, seq[s]);
    free(tok);
    free(sq);
    if (st) {
        fprintf(stderr, "rocmforge bench: %s\n", err.msg);
        return -1;
    }
    return (double)n_tok * np / dt;
}

int cmd_bench(int argc, char **argv)
{
    const char *path = NULL;
    int n_pp = 512, n_tg = 128, reps = 5, threads = 0, depth = 0, np = 1;
    bool json = false;
    cli_device_opts dev;
    cli_device_opts_init(&dev);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *target = NULL;
        int d = cli_device_opts_parse(&dev, argc, argv, &i);
        if (d < 0) return 2;
        if (d > 0) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
            continue;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && v) {
            path = v;
            i++;
            continue;
        } else if (!strcmp(a, "-p")) target = &n_pp;
        else if (!strcmp(a, "-n")) target = &n_tg;
        else if (!strcmp(a, "-d") || !strcmp(a, "--n-depth")) target = &depth;
        else if (!strcmp(a, "-r")) target = &reps;
        else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) target = &np;
        else if (!strcmp(a, "-t")) target = &threads;
        else {
            fprintf(stderr, "rocmforge bench: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        char *e;
        long x = v ? strtol(v, &e, 10) : -1;
        if (!v || *e || x < 0 || x > (1 << 20) || ((target == &reps || target == &np) && x < 1) ||
            (target == &np && x > RF_BENCH_NP_MAX)) {
            fprintf(stderr, "rocmforge bench: bad value for %s\n", a);
            return 2;
        }
        *target = (int)x;
        i++;
    }
    if (!path) path = getenv("RF_MODEL");
    if (!path || !*path) path = "models/stories260K.gguf";

    rf_model_params mp = rf_model_default_params();
    cli_device_opts_apply(&dev, &mp);
    mp.n_threads = threads;
    mp.progress = !json;
    rf_model *m = NULL;
    rf_error err = {0};
    if (rf_model_load(path, &mp, &m, &err)) {
        fprintf(stderr, "rocmforge bench: %s\n", err.msg);
        return 1;
    }
    rf_model_info info;
    rf_model_get_info(m, &info);
    rf_ctx_params cp = rf_ctx_default_params();
    if (cli_device_opts_apply_ctx(&dev, &cp)) {
        rf_model_free(m);
        return 2;
    }
    cp.n_ctx = np * (depth + (n_pp > n_tg ? n_pp : n_tg) + 16);
    cp.n_seq_max = np;
    cp.n_batch = n_pp > 0 ? n_pp * np : depth > 0 ? (depth < 512 ? depth : 512) : np;
    if (cp.n_batch < np) cp.n_batch = np;
    rf_ctx *c = NULL;
    if (rf_ctx_create(m, &cp, &c, &err)) {
        fprintf(stderr, "rocmforge bench: %s\n", err.msg);
        rf_model_free(m);
        return 1;
    }
    const char *type;
    uint64_t size;
    file_facts(path, &type, &size);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    int n_threads = threads > 0 ? threads : rf_cpu_count();

    json_t *arr = json_array();
    if (!json) {
        printf("| %-24s | %-6s | %10s | %8s | %-7s | %7s | %16s | %20s |\n", "model", "type", "size", "params", "backend",
               "threads", "test", "t/s");
        printf("| %.24s | %.6s | %.10s | %.8s | %.7s | %.7s | %.16s | %.20s |\n", "------------------------", "------",
               "----------", "--------", "-------", "-------", "----------------", "--------------------");
    }
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int rc = 0;
    for (int test = 0; test < 2 && !rc; test++) {
        int n = test == 0 ? n_pp : n_tg;
        if (n <= 0) continue;
        bool batched = test == 0;
        if (run_once(c, info.n_vocab, n, batched, depth, cp.n_batch, np, &rng) < 0) { rc = 1; break; } /* warm-up */
        double sum = 0, sum2 = 0;
        for (int r = 0; r < reps; r++) {
            double ts = run_once(c, info.n_vocab, n, batched, depth, cp.n_batch, np, &rng);
            if (ts < 0) { rc = 1; break; }
            sum += ts;
            sum2 += ts * ts;
        }
        if (rc) break;
        double avg = sum / reps;
        double var = reps > 1 ? (sum2 - sum * sum / reps) / (reps - 1) : 0;
        double sd = var > 0 ? sqrt(var) : 0;
        char name[32];
        int k = snprintf(name, sizeof name, "%s%d", batched ? "pp" : "tg", n);
        if (np > 1) k += snprintf(name + k, sizeof name - (size_t)k, " x%d", np);
        if (depth > 0) snprintf(name + k, sizeof name - (size_t)k, " @ d%d", depth);
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "model", json_string(base));
            json_object_set_new(o, "model_arch", json_string(info.arch));
            json_object_set_new(o, "type", json_string(type));
            json_object_set_new(o, "size", json_integer((json_int_t)size));
            json_object_set_new(o, "params", json_integer((json_int_t)info.n_params));
            json_object_set_new(o, "backend", json_string(info.backend));
            json_object_set_new(o, "threads", json_integer(n_threads));
            json_object_set_new(o, "deterministic", json_boolean(dev.deterministic));
            json_object_set_new(o, "type_k", json_string(cli_kv_type_name(c)));
            json_object_set_new(o, "type_v", json_string(cli_kv_type_name(c)));
            json_object_set_new(o, "test", json_string(name));
            json_object_set_new(o, "n_prompt", json_integer(batched ? n : 0));
            json_object_set_new(o, "n_gen", json_integer(batched ? 0 : n));
            json_object_set_new(o, "n_depth", json_integer(depth));
            json_object_set_new(o, "n_parallel", json_integer(np));
            json_object_set_new(o, "repetitions", json_integer(reps));
            json_object_set_new(o, "avg_ts", json_real(avg));
            json_object_set_new(o, "stddev_ts", json_real(sd));
            json_array_append_new(arr, o);
        } else {
            char sz[32], ps[32], ts[48];
            if (size >= (1u << 30)) snprintf(sz, sizeof sz, "%.2f GiB", size / 1073741824.0);
            else snprintf(sz, sizeof sz, "%.2f MiB", size / 1048576.0);
            if (info.n_params >= 1000000000ull) snprintf(ps, sizeof ps, "%.2f B", info.n_params / 1e9);
            else if (info.n_params >= 1000000ull) snprintf(ps, sizeof ps, "%.2f M", info.n_params / 1e6);
            else snprintf(ps, sizeof ps, "%.2f K", info.n_params / 1e3);
            snprintf(ts, sizeof ts, "%.2f ± %.2f", avg, sd);
            printf("| %-24.24s | %-6s | %10s | %8s | %-7s | %7d | %16s | %20s |\n", base, type, sz, ps, info.backend,
                   n_threads, name, ts);
            fflush(stdout);
        }
    }
    if (json && !rc) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        if (s) puts(s);
        free(s);
    }
    json_decref(arr);
    rf_ctx_free(c);
    rf_model_free(m);
    return rc;
}
