/* test_model_hf.c — forward-pass logits against Hugging Face transformers.
 *
 * Usage: test_model_hf FAMILY engine|llamacpp
 *
 * tests/fixtures/hf/FAMILY/ holds a tiny random-weight model converted to
 * GGUF by llama.cpp's convert_hf_to_gguf.py (F32), the token ids of a 64-token
 * prompt plus 16 greedy decode steps, and transformers' float32 logits at all
 * 80 positions (scripts/fixtures/hf/make_fixtures.py made them; see there).
 *
 * "engine" (CPU) and "gpu" (GPU backend; skips where there is none):
 * rocmforge loads the file, prefills the 64 prompt tokens in one
 * rf_decode asking logits for every row, then decodes the 16 tokens one at a
 * time; every position's logits must be within 1e-4 relative L2 error of
 * transformers' (on a GPU 5e-3: its prompt runs on the matrix units, see
 * main). A family the engine does not support fails (it does not
 * skip): the fixture exists, so the feature is missing.
 *
 * "llamacpp": the same run through llama.cpp (dlopen, F32 KV cache) must be
 * within the same bound, which shows the fixture file is what llama.cpp's
 * converter makes and that the bound is attainable. Exceptions: gemma2/3
 * get 1e-3 (llama.cpp's GELU is a float16 table; see main), and mistral:
 * llama.cpp's llama architecture has no sliding window, so it must agree only
 * before the window and must disagree after it (proof the window matters).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rocmforge.h"
#include "test_util.h"
#include "model/llama_ref.h"

#define REL_TOL 1e-4
#define MAX_TOK 256

typedef struct fixture {
    char dir[1024];
    int n_vocab, n_prompt, n_tokens, next_token;
    int sliding_window;          /* 0 if none (from meta.json's config) */
    int32_t tokens[MAX_TOK];
    float *logits;               /* (n_tokens, n_vocab) */
} fixture;

static int fixture_load(fixture *fx, const char *family)
{
    const char *src = getenv("RF_SOURCE_DIR");
    snprintf(fx->dir, sizeof fx->dir, "%s/tests/fixtures/hf/%s", src ? src : ".", family);
    char path[1200];
    snprintf(path, sizeof path, "%s/meta.txt", fx->dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s (unknown family or RF_SOURCE_DIR unset)\n", path);
        return -1;
    }
    char key[64];
    fx->n_tokens = 0;
    while (fscanf(f, "%63s", key) == 1) {
        if (!strcmp(key, "tokens")) {
            for (int i = 0; i < fx->n_tokens && i < MAX_TOK; i++)
                if (fscanf(f, "%d", &fx->tokens[i]) != 1) { fclose(f); return -1; }
        } else if (!strcmp(key, "n_vocab")) { if (fscanf(f, "%d", &fx->n_vocab) != 1) break; }
        else if (!strcmp(key, "n_prompt")) { if (fscanf(f, "%d", &fx->n_prompt) != 1) break; }
        else if (!strcmp(key, "n_tokens")) { if (fscanf(f, "%d", &fx->n_tokens) != 1) break; }
        else if (!strcmp(key, "next_token")) { if (fscanf(f, "%d", &fx->next_token) != 1) break; }
        else { int c; while ((c = fgetc(f)) != '\n' && c != EOF) {} }
    }
    fclose(f);
    if (fx->n_vocab <= 0 || fx->n_tokens <= fx->n_prompt || fx->n_prompt <= 0 || fx->n_tokens > MAX_TOK) {
        fprintf(stderr, "%s: bad meta.txt\n", fx->dir);
        return -1;
    }
    size_t n = (size_t)fx->n_tokens * fx->n_vocab;
    fx->logits = malloc(n * sizeof(float));
    snprintf(path, sizeof path, "%s/logits.f32", fx->dir);
    f = fopen(path, "rb");
    if (!f || fread(fx->logits, sizeof(float), n, f) != n) {
        fprintf(stderr, "%s: short read\n", path);
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    /* sliding window from meta.json's config ("sliding_window": N) */
    fx->sliding_window = 0;
    snprintf(path, sizeof path, "%s/meta.json", fx->dir);
    f = fopen(path, "r");
    if (f) {
        static char buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        buf[len] = 0;
        fclose(f);
        const char *p = strstr(buf, "\"sliding_window\":");
        if (p) fx->sliding_window = atoi(p + strlen("\"sliding_window\":"));
    }
    return 0;
}

static double rel_l2(const float *got, const float *want, int n)
{
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

/* errs[pos] filled; returns 0 if the run completed. */
static bool use_gpu;   /* mode "gpu": the GPU backend instead of the CPU */

static int run_engine(const fixture *fx, double *errs, int *top_agree)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/model.gguf", fx->dir);
    rf_error err = {0};
    rf_model_params mp = rf_model_default_params();
    mp.device_kind = use_gpu ? RF_DEVICE_GPU : RF_DEVICE_CPU;
    rf_model *m = NULL;
    if (rf_model_load(path, &mp, &m, &err) != RF_OK) {
        if (use_gpu && (err.code == RF_ERR_BACKEND || err.code == RF_ERR_UNSUPPORTED)) {
            char why[700];
            snprintf(why, sizeof why, "no usable GPU here: %s", err.msg);
            rf_test_skip(why);
        }
        fprintf(stderr, "rf_model_load(%s): %s: %s\n", path, rf_status_name(err.code), err.msg);
        return -1;
    }
    rf_model_info info;
    rf_model_get_info(m, &info);
    CHECKF(info.n_vocab == fx->n_vocab, "n_vocab %d vs fixture %d", info.n_vocab, fx->n_vocab);
    rf_ctx_params cp = rf_ctx_default_params();
    cp.n_ctx = 256;
    cp.n_seq_max = 1;
    cp.n_batch = 128;
    cp.deterministic = true;
    cp.kv_type = RF_KV_F32;   /* F32 KV: F16 alone costs ~3e-4, over the bound */
    rf_ctx *c = NULL;
    if (rf_ctx_create(m, &cp, &c, &err) != RF_OK) {
        fprintf(stderr, "rf_ctx_create: %s\n", err.msg);
        rf_model_free(m);
        return -1;
    }
    int seq = 0;
    if (rf_seq_open(c, &seq, &err) != RF_OK) {
        fprintf(stderr, "rf_seq_open: %s\n", err.msg);
        rf_ctx_free(c);
        rf_model_free(m);
        return -1;
    }
    int32_t seqs[MAX_TOK];
    uint8_t want[MAX_TOK];
    for (int i = 0; i < MAX_TOK; i++) { seqs[i] = seq; want[i] = 1; }
    int rc = 0;
    *top_agree = 0;
    /* prefill: all prompt rows, logits for each */
    rf_batch b = {fx->n_prompt, fx->tokens, seqs, want};
    if (rf_decode(c, &b, &err) != RF_OK) {
        fprintf(stderr, "rf_decode(prefill): %s\n", err.msg);
        rc = -1;
        goto done;
    }
    {
        /* the public sampler on a real model: greedy picks our argmax */
        rf_sampler_params sp = rf_sampler_default_params();
        sp.temperature = 0.0f;
        rf_sampler *smp = NULL;
        const float *lg = rf_get_logits(c, fx->n_prompt - 1);
        CHECKF(rf_sampler_create(m, &sp, &smp, &err) == RF_OK, "rf_sampler_create: %s", err.msg);
        if (smp && lg)
            CHECKF(rf_sampler_sample(smp, lg) == argmax(lg, fx->n_vocab), "greedy sampler is not the argmax");
        rf_sampler_free(smp);
    }
    for (int i = 0; i < fx->n_prompt; i++) {
        const float *lg = rf_get_logits(c, i);
        if (!lg) { fprintf(stderr, "no logits for row %d\n", i); rc = -1; goto done; }
        const float *ref = fx->logits + (size_t)i * fx->n_vocab;
        errs[i] = rel_l2(lg, ref, fx->n_vocab);
        *top_agree += argmax(lg, fx->n_vocab) == argmax(ref, fx->n_vocab);
    }
    for (int i = fx->n_prompt; i < fx->n_tokens; i++) {
        rf_batch one = {1, &fx->tokens[i], seqs, want};
        if (rf_decode(c, &one, &err) != RF_OK) {
            fprintf(stderr, "rf_decode(pos %d): %s\n", i, err.msg);
            rc = -1;
            goto done;
        }
        const float *lg = rf_get_logits(c, 0);
        if (!lg) { fprintf(stderr, "no logits at pos %d\n", i); rc = -1; goto done; }
        const float *ref = fx->logits + (size_t)i * fx->n_vocab;
        errs[i] = rel_l2(lg, ref, fx->n_vocab);
        *top_agree += argmax(lg, fx->n_vocab) == argmax(ref, fx->n_vocab);
    }
done:
    rf_seq_close(c, seq);
    rf_ctx_free(c);
    rf_model_free(m);
    return rc;
}

static int run_llamacpp(const fixture *fx, double *errs, int *top_agree)
{
    rf_llama_ref r;
    char why[512];
    if (!rf_llama_ref_open(&r, why, sizeof why))
        rf_test_skip(why);
    char path[1200];
    snprintf(path, sizeof path, "%s/model.gguf", fx->dir);
    void *model = rf_llama_ref_load(&r, path);
    if (!model) {
        fprintf(stderr, "llama.cpp could not load %s\n", path);
        return -1;
    }
    CHECKF(r.vocab_n_tokens(r.model_get_vocab(model)) == fx->n_vocab, "llama.cpp n_vocab");
    void *ctx = rf_llama_ref_ctx_exact(&r, model, 256, 2);
    if (!ctx) {
        fprintf(stderr, "llama.cpp context creation failed\n");
        r.model_free(model);
        return -1;
    }
    rf_ll_batch b = r.batch_init(MAX_TOK, 0, 1);
    int rc = 0;
    *top_agree = 0;
    for (int start = 0; start < fx->n_tokens;) {
        int n = start == 0 ? fx->n_prompt : 1;
        b.n_tokens = n;
        for (int i = 0; i < n; i++) {
            b.token[i] = fx->tokens[start + i];
            b.pos[i] = start + i;
            b.n_seq_id[i] = 1;
            b.seq_id[i][0] = 0;
            b.logits[i] = 1;
        }
        int32_t st = r.decode(ctx, b);
        if (st != 0) {
            fprintf(stderr, "llama_decode at %d returned %d\n", start, st);
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            const float *lg = r.get_logits_ith(ctx, i);
            const float *ref = fx->logits + (size_t)(start + i) * fx->n_vocab;
            errs[start + i] = rel_l2(lg, ref, fx->n_vocab);
            *top_agree += argmax(lg, fx->n_vocab) == argmax(ref, fx->n_vocab);
        }
        start += n;
    }
    r.batch_free(b);
    r.free_ctx(ctx);
    r.model_free(model);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FAMILY engine|gpu|llamacpp\n", argv[0]);
        return 2;
    }
    const char *family = argv[1];
    bool llamacpp = !strcmp(argv[2], "llamacpp");
    use_gpu = !strcmp(argv[2], "gpu");
    fixture fx = {0};
    if (fixture_load(&fx, family) != 0)
        return 1;
    double errs[MAX_TOK];
    int top = 0;
    int rc = llamacpp ? run_llamacpp(&fx, errs, &top) : run_engine(&fx, errs, &top);
    CHECKF(rc == 0, "%s run of %s did not complete", llamacpp ? "llama.cpp" : "rocmforge", family);
    if (rc == 0) {
        /* Positions where agreement is required, and (mistral on llama.cpp)
         * where disagreement is. */
        int agree_end = fx.n_tokens;
        bool expect_diverge = llamacpp && !strcmp(family, "mistral") && fx.sliding_window > 0;
        if (expect_diverge)
            agree_end = fx.sliding_window;
        double worst = 0, worst_after = 0;
        int worst_pos = 0;
        for (int i = 0; i < fx.n_tokens; i++) {
            if (i < agree_end && errs[i] > worst) { worst = errs[i]; worst_pos = i; }
            if (i >= agree_end && errs[i] > worst_after) worst_after = errs[i];
        }
        fprintf(stderr, "%s %s: max rel L2 %.3g at pos %d (prompt last %.3g, decode last %.3g), argmax agree %d/%d\n",
                family, llamacpp ? "llama.cpp" : use_gpu ? "rocmforge gpu" : "rocmforge", worst, worst_pos,
                errs[fx.n_prompt - 1], errs[fx.n_tokens - 1], top, fx.n_tokens);
        /* llama.cpp's CPU GELU reads a float16 lookup table
         * (GGML_GELU_FP16 in ggml-cpu/vec.h), so on the GeGLU families its
         * own error vs transformers is ~2-6e-4; we hold llama.cpp to 1e-3
         * there and rocmforge to 1e-4 everywhere. */
        double tol = REL_TOL;
        if (llamacpp && !strncmp(family, "gemma", 5))
            tol = 1e-3;
        /* On a GPU the prompt batch takes the matrix units (F16 operands,
         * 2^-11 relative each; rf_batch's token roles), and every later
         * step reads the K/V that batch wrote: gpu_model's 5e-3 bound for
         * them (measured 1.7e-3 on llama). gpu_model holds the decode paths
         * alone, the prompt fed token by token, to 1e-4. */
        if (use_gpu)
            tol = 5e-3;
        for (int i = 0; i < agree_end; i++)
            CHECKF(errs[i] <= tol, "pos %d: rel L2 %.3g > %g", i, errs[i], tol);
        if (expect_diverge) {
            fprintf(stderr, "mistral llama.cpp: max rel L2 after the %d-token window %.3g (llama.cpp has no sliding window for this architecture)\n",
                    fx.sliding_window, worst_after);
            CHECKF(worst_after > 1e-3, "expected llama.cpp to diverge after the window (got %.3g): the fixture's window does not matter",
                   worst_after);
        }
    }
    free(fx.logits);
    char name[128];
    snprintf(name, sizeof name, "test_model_hf %s %s", family, argv[2]);
    return rf_test_done(name);
}
