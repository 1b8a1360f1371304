/* cli_gen.c — see cli_gen.h. */
#include "cli_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/base.h"

const char cli_device_opts_help[] =
    "      --cpu              run on the CPU even when a GPU is present\n"
    "      -ngl N             layers on the GPU: 0 = none (CPU); any other value puts every\n"
    "                         layer there (partial offload is not supported yet; default: all)\n"
    "      --device N         which GPU (see `rocmforge devices`; default 0)\n"
    "      --no-deterministic on a GPU, numerics by batch size instead of by token role: batches of\n"
    "                         12+ tokens (many sequences' steps too) on the matrix units, so a\n"
    "                         token's result then depends on its batch (default: prompts there,\n"
    "                         generated steps on the decode kernels, whatever the batch)\n"
    "      -ctk, --cache-type-k T  KV cache type, f16 or f32 (default: f16 on a GPU, as\n"
    "      -ctv, --cache-type-v T  llama.cpp's, f32 on the CPU, whose attention is faster on\n"
    "                         it); F32 doubles the cache's memory and what long-context\n"
    "                         attention reads, and takes off F16's ~3e-4 relative error in\n"
    "                         the logits; K and V take one type\n";

void cli_device_opts_init(cli_device_opts *d)
{
    d->kind = RF_DEVICE_AUTO;
    d->index = 0;
    d->n_gpu_layers = -1;
    d->deterministic = rf_ctx_default_params().deterministic;
    d->kv_k = d->kv_v = rf_ctx_default_params().kv_type;
}

int cli_device_opts_parse(cli_device_opts *d, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int *target;
    if (!strcmp(a, "--cpu")) {
        d->kind = RF_DEVICE_CPU;
        return 1;
    }
    if (!strcmp(a, "--no-deterministic") || !strcmp(a, "--deterministic")) {
        d->deterministic = a[2] == 'd';
        return 1;
    }
    const bool ctk = !strcmp(a, "-ctk") || !strcmp(a, "--cache-type-k");
    if (ctk || !strcmp(a, "-ctv") || !strcmp(a, "--cache-type-v")) {
        if (!v || (strcasecmp(v, "f16") && strcasecmp(v, "f32"))) {
            fprintf(stderr, "rocmforge: %s %s: the KV cache types are f32 and f16\n", a, v ? v : "(missing)");
            return -1;
        }
        *(ctk ? &d->kv_k : &d->kv_v) = strcasecmp(v, "f16") ? RF_KV_F32 : RF_KV_F16;
        (*i)++;
        return 1;
    }
    if (!strcmp(a, "-ngl") || !strcmp(a, "--n-gpu-layers")) target = &d->n_gpu_layers;
    else if (!strcmp(a, "--device")) target = &d->index;
    else return 0;
    char *e;
    long x = v ? strtol(v, &e, 10) : 0;
    if (!v || !*v || *e || x < (target == &d->n_gpu_layers ? -1 : 0) || x > 1000000) {
        fprintf(stderr, "rocmforge: bad or missing value for %s\n", a);
        return -1;
    }
    *target = (int)x;
    (*i)++;
    return 1;
}

void cli_device_opts_apply(const cli_device_opts *d, rf_model_params *mp)
{
    mp->device_kind = d->kind;
    mp->device_index = d->index;
    mp->n_gpu_layers = d->n_gpu_layers;
    if (d->kind == RF_DEVICE_AUTO && d->index != 0) mp->device_kind = RF_DEVICE_GPU; /* --device asks for a GPU */
}

int cli_device_opts_apply_ctx(const cli_device_opts *d, rf_ctx_params *cp)
{
    cp->deterministic = d->deterministic;
    if (d->kv_k != d->kv_v) {
        static const char *const nm[] = {"the default", "f16", "f32"};
        fprintf(stderr, "rocmforge: the KV cache keeps K and V in one type: -ctk %s and -ctv %s differ\n",
                nm[d->kv_k], nm[d->kv_v]);
        return -1;
    }
    cp->kv_type = d->kv_k;
    return 0;
}

const char *cli_kv_type_name(const rf_ctx *c) { return rf_ctx_kv_type(c) == RF_KV_F16 ? "f16" : "f32"; }

void gen_opts_init(gen_opts *o)
{
    memset(o, 0, sizeof *o);
    cli_device_opts_init(&o->dev);
    o->n_predict = -1;
    o->n_batch = 512;
    o->sp = rf_sampler_default_params();
    o->sp.seed = 0xffffffffu; /* replaced by a time-based seed unless --seed */
}

const char *gen_opts_help(void)
{
    return "  -m, --model FILE       GGUF model (default: $RF_MODEL or models/stories260K.gguf)\n"
           "  -f, --file FILE        read the prompt from a file (run)\n"
           "  -n, --n-predict N      tokens to generate (default: until end of generation)\n"
           "  -t, --threads N        CPU threads (default: all cores)\n"
           "  -c, --ctx-size N       context size in tokens (default: the model's, at most 4096)\n"
           "  -b, --batch-size N     prompt tokens per forward pass (default 512)\n"
           "      --seed N           sampling seed\n"
           "      --temp X           temperature (0 = greedy; default 0.8)\n"
           "      --top-k N          (default 40; 0 = off)\n"
           "      --top-p X          (default 0.95; 1 = off)\n"
           "      --min-p X          (default 0.05; 0 = off)\n"
           "      --repeat-penalty X (default 1 = off)\n"
           "      --repeat-last-n N  penalty window (default 64; -1 = whole context)\n"
           "      --no-bos           do not add BOS to the prompt\n"
           "      --ignore-eos       keep generating past end-of-generation tokens\n"
           "      --json             machine-readable output\n"
           "  -v, --verbose          print the memory plan\n";
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *e;
    if (!s || !*s) return false;
    long v = strtol(s, &e, 10);
    if (*e || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_float(const char *s, float *out)
{
    char *e;
    if (!s || !*s) return false;
    float v = strtof(s, &e);
    if (*e || v != v) return false;
    *out = v;
    return true;
}

int gen_opts_parse(gen_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long n;
    float f;
#define IS(x) (!strcmp(a, x))
#define NEED_VALUE()                                                          \
    do {                                                                      \
        if (!v) {                                                             \
            fprintf(stderr, "rocmforge: option %s needs a value\n", a);       \
            return -1;                                                        \
        }                                                                     \
        (*i)++;                                                               \
    } while (0)
#define BAD()                                                                 \
    do {                                                                      \
        fprintf(stderr, "rocmforge: bad value '%s' for %s\n", v, a);          \
        return -1;                                                            \
    } while (0)
    int d = cli_device_opts_parse(&o->dev, argc, argv, i);
    if (d) return d;
    if (IS("-m") || IS("--model")) { NEED_VALUE(); o->model = v; return 1; }
    if (IS("-p") || IS("--prompt")) { NEED_VALUE(); o->prompt = v; return 1; }
    if (IS("-s") || IS("--system")) { NEED_VALUE(); o->system = v; return 1; }
    if (IS("-f") || IS("--file")) {
        NEED_VALUE();
        FILE *f = fopen(v, "rb");
        if (!f) {
            fprintf(stderr, "rocmforge: cannot open prompt file '%s'\n", v);
            return -1;
        }
        size_t cap = 1 << 16, len = 0, r;
        char *b = malloc(cap);
        while (b && (r = fread(b + len, 1, cap - 1 - len, f)) > 0) {
            len += r;
            if (len == cap - 1) {
                char *nb = realloc(b, cap * 2);
                if (!nb) { free(b); b = NULL; break; }
                b = nb;
                cap *= 2;
            }
        }
        fclose(f);
        if (!b) {
            fprintf(stderr, "rocmforge: out of memory reading '%s'\n", v);
            return -1;
        }
        b[len] = 0;
        free(o->prompt_owned);
        o->prompt_owned = b;
        o->prompt = b;
        return 1;
    }
    if (IS("-n") || IS("--n-predict")) { NEED_VALUE(); if (!parse_int(v, -1, 1 << 24, &n)) BAD(); o->n_predict = (int)n; return 1; }
    if (IS("-t") || IS("--threads")) { NEED_VALUE(); if (!parse_int(v, 1, 1024, &n)) BAD(); o->n_threads = (int)n; return 1; }
    if (IS("-c") || IS("--ctx-size")) { NEED_VALUE(); if (!parse_int(v, 0, 1 << 24, &n)) BAD(); o->n_ctx = (int)n; return 1; }
    if (IS("-b") || IS("--batch-size")) { NEED_VALUE(); if (!parse_int(v, 1, 65536, &n)) BAD(); o->n_batch = (int)n; return 1; }
    if (IS("--seed")) {
        NEED_VALUE();
        char *e;
        unsigned long long s = strtoull(v, &e, 10);
        if (*e || !*v) BAD();
        o->sp.seed = s;
        return 1;
    }
    if (IS("--temp")) { NEED_VALUE(); if (!parse_float(v, &f)) BAD(); o->sp.temperature = f; return 1; }
    if (IS("--top-k")) { NEED_VALUE(); if (!parse_int(v, 0, 1 << 30, &n)) BAD(); o->sp.top_k = (int)n; return 1; }
    if (IS("--top-p")) { NEED_VALUE(); if (!parse_float(v, &f)) BAD(); o->sp.top_p = f; return 1; }
    if (IS("--min-p")) { NEED_VALUE(); if (!parse_float(v, &f)) BAD(); o->sp.min_p = f; return 1; }
    if (IS("--repeat-penalty")) { NEED_VALUE(); if (!parse_float(v, &f)) BAD(); o->sp.repeat_penalty = f; return 1; }
    if (IS("--repeat-last-n")) { NEED_VALUE(); if (!parse_int(v, -1, 1 << 24, &n)) BAD(); o->sp.repeat_last_n = (int)n; return 1; }
    if (IS("--no-bos")) { o->no_bos = true; return 1; }
    if (IS("--ignore-eos")) { o->ignore_eos = true; return 1; }
    if (IS("--json")) { o->json = true; return 1; }
    if (IS("-v") || IS("--verbose")) { o->verbose = true; return 1; }
#undef IS
#undef NEED_VALUE
#undef BAD
    return 0;
}

int gen_setup(gen_state *g, const gen_opts *o)
{
    memset(g, 0, sizeof *g);
    const char *path = o->model ? o->model : getenv("RF_MODEL");
    if (!path || !*path) path = "models/stories260K.gguf";
    rf_model_params mp = rf_model_default_params();
    cli_device_opts_apply(&o->dev, &mp);
    mp.n_threads = o->n_threads;
    mp.progress = true;
    mp.verbose = o->verbose;
    rf_error err = {0};
    if (rf_model_load(path, &mp, &g->m, &err)) {
        fprintf(stderr, "rocmforge: %s\n", err.msg);
        return 1;
    }
    rf_ctx_params cp = rf_ctx_default_params();
    if (cli_device_opts_apply_ctx(&o->dev, &cp)) {
        gen_teardown(g);
        return 2;
    }
    cp.n_ctx = o->n_ctx;
    cp.n_batch = o->n_batch;
    cp.n_threads = o->n_threads;
    if (rf_ctx_create(g->m, &cp, &g->ctx, &err) || rf_seq_open(g->ctx, &g->seq, &err)) {
        fprintf(stderr, "rocmforge: %s\n", err.msg);
        gen_teardown(g);
        return 1;
    }
    rf_model_info info;
    rf_model_get_info(g->m, &info);
    g->n_ctx = cp.n_ctx ? cp.n_ctx : (info.n_ctx_train < 4096 ? info.n_ctx_train : 4096);
    g->n_batch = cp.n_batch;
    rf_sampler_params sp = o->sp;
    if (sp.seed == 0xffffffffu) sp.seed = (uint64_t)(rf_time_now() * 1e6) ^ ((uint64_t)getpid() << 32);
    if (rf_sampler_create(g->m, &sp, &g->smp, &err)) {
        fprintf(stderr, "rocmforge: %s\n", err.msg);
        gen_teardown(g);
        return 1;
    }
    g->detok = rf_detok_create(g->m, false);
    if (!g->detok) {
        fprintf(stderr, "rocmforge: cannot create the detokenizer\n");
        gen_teardown(g);
        return 1;
    }
    return 0;
}

void gen_teardown(gen_state *g)
{
    if (g->detok) rf_detok_free(g->detok);
    if (g->smp) rf_sampler_free(g->smp);
    if (g->ctx) rf_ctx_free(g->ctx);
    if (g->m) rf_model_free(g->m);
    memset(g, 0, sizeof *g);
}

static void emit(FILE *out, const char *buf, int n)
{
    if (out && n > 0) {
        fwrite(buf, 1, (size_t)n, out);
        fflush(out);
    }
}

int gen_run(gen_state *g, const int32_t *toks, int n_toks, int n_predict, bool ignore_eos, FILE *out, FILE *tee,
            int32_t *gen_ids, int gen_cap, volatile sig_atomic_t *stop_flag, gen_result *res)
{
    memset(res, 0, sizeof *res);
    rf_error err = {0};
    int len = rf_seq_len(g->ctx, g->seq);
    if (len + n_toks > g->n_ctx) {
        fprintf(stderr, "rocmforge: the prompt (%d tokens) does not fit the context (%d tokens, %d used); raise -c\n",
                n_toks, g->n_ctx, len);
        res->context_full = true;
        return 1;
    }
    /* the prompt, n_batch tokens per pass */
    int32_t *seqv = malloc((size_t)(g->n_batch > 1 ? g->n_batch : 1) * sizeof *seqv);
    if (!seqv) return 1;
    for (int i = 0; i < g->n_batch; i++) seqv[i] = g->seq;
    double t0 = rf_time_now();
    int last_n = 0;
    for (int i = 0, n; i < n_toks; i += n) {
        n = n_toks - i < g->n_batch ? n_toks - i : g->n_batch;
        /* never leave a single token for the last pass (with batches of 3
         * or more): alone in its batch it would read as a generated step
         * (token roles, rf_batch), not as the prompt it is */
        if (n_toks - i - n == 1 && n > 2) n--;
        rf_batch b = {n, toks + i, seqv, NULL};
        if (rf_decode(g->ctx, &b, &err)) {
            fprintf(stderr, "rocmforge: %s\n", err.msg);
            free(seqv);
            return 1;
        }
        last_n = n;
    }
    /* the prompt's time includes the device's work (rf_decode only queues it) */
    if (rf_synchronize(g->ctx, &err)) {
        fprintf(stderr, "rocmforge: %s\n", err.msg);
        free(seqv);
        return 1;
    }
    for (int i = 0; i < n_toks; i++) rf_sampler_accept(g->smp, toks[i]);
    res->n_prompt = n_toks;
    res->t_prompt = rf_time_now() - t0;
    /* entry of the last batch whose logits pick the next token */
    int entry = n_toks > 0 ? last_n - 1 : -1;

    char buf[4096];
    t0 = rf_time_now();
    while (entry >= 0 && (n_predict < 0 || res->n_gen < n_predict)) {
        if (stop_flag && *stop_flag) {
            res->interrupted = true;
            break;
        }
        int32_t tok = rf_sample(g->smp, g->ctx, entry);
        if (tok < 0) {
            fprintf(stderr, "\nrocmforge: sampling the next token failed\n");
            free(seqv);
            return 1;
        }
        if (!ignore_eos && rf_token_is_eog(g->m, tok)) {
            res->stopped_eog = true;
            break;
        }
        rf_sampler_accept(g->smp, tok);
        if (gen_ids && res->n_gen < gen_cap) gen_ids[res->n_gen] = tok;
        res->n_gen++;
        int nb = rf_detok_push(g->detok, tok, buf, (int)sizeof buf);
        emit(out, buf, nb);
        emit(tee, buf, nb);
        if (rf_seq_len(g->ctx, g->seq) >= g->n_ctx) {
            res->context_full = true;
            break;
        }
        rf_batch b = {1, &tok, seqv, NULL};
        if (rf_decode(g->ctx, &b, &err)) {
            if (err.code == RF_ERR_CONTEXT_FULL) {
                res->context_full = true;
                break;
            }
            fprintf(stderr, "\nrocmforge: %s\n", err.msg);
            free(seqv);
            return 1;
        }
        entry = 0;
    }
    int nb = rf_detok_flush(g->detok, buf, (int)sizeof buf);
    emit(out, buf, nb);
    emit(tee, buf, nb);
    res->t_gen = rf_time_now() - t0;
    free(seqv);
    return 0;
}
