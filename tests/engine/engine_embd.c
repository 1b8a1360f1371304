/* engine_embd.c — rf_get_embeddings (mean-pooled, L2-normalised final
 * hidden states) against llama.cpp's MEAN pooling of the same texts
 * (tests/fixtures/llamacpp/stories260K.embd.txt, made by
 * scripts/fixtures/llamacpp/gen_embd.sh with an F32 KV cache): each text
 * alone, then all texts as sequences of one batch (the pooling must keep
 * sequences apart). Both compute in F32: relative L2 error <= 1e-5. On a
 * GPU the prompt's products and attention run on the matrix units with F16
 * operands (2^-11 relative per operand): gpu_model's 5e-3 bound. Either
 * way a text's embedding in the shared batch must equal its embedding alone
 * bit for bit (its result may not depend on the other sequences). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rocmforge.h"
#include "test_util.h"

#define MAX_TEXTS 8

typedef struct text {
    int n_tok;
    int32_t tok[512];
    float embd[4096];
} text;

static double rel_l2(const float *a, const float *b, int n)
{
    double d = 0, r = 0;
    for (int i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return sqrt(d / (r > 0 ? r : 1));
}

int main(void)
{
    char path[1024], fx[1024];
    snprintf(path, sizeof path, "%s/stories260K.gguf", rf_test_models_dir());
    const char *src = getenv("RF_SOURCE_DIR");
    snprintf(fx, sizeof fx, "%s/tests/fixtures/llamacpp/stories260K.embd.txt", src ? src : ".");
    FILE *f = fopen(path, "rb");
    if (!f) rf_test_skip("reference model files absent (set RF_MODELS_DIR)");
    fclose(f);
    static text t[MAX_TEXTS];
    int n_texts = 0, n_embd = 0;
    f = fopen(fx, "r");
    CHECKF(f != NULL, "fixture %s", fx);
    if (!f) return rf_test_done("engine_embd");
    char key[64];
    while (fscanf(f, "%63s", key) == 1) {
        if (!strcmp(key, "n_embd")) { if (fscanf(f, "%d", &n_embd) != 1 || n_embd > 4096) break; }
        else if (!strcmp(key, "tokens") && n_texts < MAX_TEXTS) {
            text *x = &t[n_texts];
            if (fscanf(f, "%d", &x->n_tok) != 1 || x->n_tok > 512) break;
            for (int i = 0; i < x->n_tok; i++) if (fscanf(f, "%d", &x->tok[i]) != 1) break;
        } else if (!strcmp(key, "embd") && n_texts < MAX_TEXTS) {
            for (int i = 0; i < n_embd; i++) if (fscanf(f, "%f", &t[n_texts].embd[i]) != 1) break;
            n_texts++;
        } else {
            int c;
            while ((c = fgetc(f)) != '\n' && c != EOF) {}
        }
    }
    fclose(f);
    CHECK(n_texts >= 2 && n_embd > 0);

    rf_model_params mp = rf_model_default_params();
    mp.n_threads = 1;
    rf_model *m;
    rf_error err = {0};
    if (rf_model_load(path, &mp, &m, &err)) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    rf_model_info info;
    rf_model_get_info(m, &info);
    const double tol = strcmp(info.backend, "cpu") ? 5e-3 : 1e-5;
    static float alone[MAX_TEXTS][4096];
    rf_ctx_params cp = rf_ctx_default_params();
    cp.kv_type = RF_KV_F32; /* as the fixture's llama.cpp context */
    cp.embeddings = true;
    cp.n_seq_max = MAX_TEXTS;
    cp.n_ctx = 1024;
    rf_ctx *c;
    CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_OK);
    /* one text per decode */
    for (int i = 0; i < n_texts; i++) {
        int s;
        CHECK(rf_seq_open(c, &s, &err) == RF_OK);
        int32_t sq[512];
        for (int k = 0; k < t[i].n_tok; k++) sq[k] = s;
        rf_batch b = {t[i].n_tok, t[i].tok, sq, NULL};
        CHECK(rf_decode(c, &b, &err) == RF_OK);
        const float *e = rf_get_embeddings(c, s);
        CHECK(e != NULL);
        double er = e ? rel_l2(e, t[i].embd, n_embd) : 1;
        fprintf(stderr, "text %d alone: rel L2 %.2e vs llama.cpp (%s)\n", i, er, info.backend);
        CHECKF(er <= tol, "text %d: rel L2 %.3g (tol %g)", i, er, tol);
        if (e) memcpy(alone[i], e, (size_t)n_embd * sizeof(float));
        rf_seq_close(c, s);
    }
    /* all texts in one batch, interleaved */
    int seq[MAX_TEXTS];
    static int32_t tok[MAX_TEXTS * 512], sq[MAX_TEXTS * 512];
    int n = 0;
    for (int i = 0; i < n_texts; i++) CHECK(rf_seq_open(c, &seq[i], &err) == RF_OK);
    for (int k = 0; k < 512; k++)
        for (int i = 0; i < n_texts; i++)
            if (k < t[i].n_tok) { tok[n] = t[i].tok[k]; sq[n] = seq[i]; n++; }
    rf_batch b = {n, tok, sq, NULL};
    CHECK(rf_decode(c, &b, &err) == RF_OK);
    for (int i = 0; i < n_texts; i++) {
        const float *e = rf_get_embeddings(c, seq[i]);
        double er = e ? rel_l2(e, t[i].embd, n_embd) : 1;
        CHECKF(er <= tol, "text %d in the shared batch: rel L2 %.3g (tol %g)", i, er, tol);
        CHECKF(e && !memcmp(e, alone[i], (size_t)n_embd * sizeof(float)),
               "text %d: its embedding in the shared batch is not its embedding alone, bit for bit", i);
    }
    rf_ctx_free(c);
    rf_model_free(m);
    return rf_test_done("engine_embd");
}
