/* test_model_synth.c — `rocmforge synth` files against references.
 *
 * For several shapes (llama, qwen2 with QKV bias and rows that force the
 * quant fallback, qwen3 with head_dim * n_head != n_embd, llama3 rope
 * scaling with tied embeddings) and file types:
 *   - llama.cpp (dlopen) loads the file, reports the hyperparameters that
 *     were asked for, and decodes a few tokens to finite, non-constant logits;
 *   - rocmforge's loader reads the same facts (once the engine is built in);
 *   - the quantized file's tensors (types and bytes) equal those of
 *     `rocmforge quantize` applied to the F32 synth file of the same seed
 *     (quantize is bit-exact with llama-quantize, so the mix rules and the
 *     quantized data are llama.cpp's);
 *   - rope_freqs.weight equals the one llama.cpp's converter wrote for the
 *     same llama3 scaling in tests/fixtures/hf/llama3/model.gguf.
 * And --vocab-from copies llama.cpp's Llama-3 vocabulary (128256 tokens).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "model/llama_ref.h"
#include "quant/quant_model.h"
#include "rocmforge.h"
#include "test_util.h"

static char tmpdir[256];

static int run_synth(const char *args, const char *out)
{
    const char *bin = getenv("RF_BIN");
    if (!bin) rf_test_skip("RF_BIN (the rocmforge binary) not set; run through ctest");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s synth %s -o %s -q", bin, args, out);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

typedef struct expect {
    const char *name, *args;       /* shape args */
    const char *qtype;             /* quantized type to compare with quantize */
    int n_layer, n_embd, n_head, n_head_kv, n_vocab, n_ctx;
} expect;

static void compare_with_quantize(const char *f32_path, const char *q_path, const char *qtype)
{
    char ref_path[512];
    snprintf(ref_path, sizeof ref_path, "%s/ref-%s.gguf", tmpdir, qtype);
    rf_quantize_params qp = {0};
    rf_error err = {0};
    CHECKF(rf_ftype_from_name(qtype, &qp.ftype), "ftype %s", qtype);
    qp.n_threads = 2;
    if (rf_quantize_model(f32_path, ref_path, &qp, &err) != RF_OK) {
        CHECKF(0, "rf_quantize_model: %s", err.msg);
        return;
    }
    gguf_file *a = NULL, *b = NULL;
    CHECK(gguf_open(q_path, &a, &err) == RF_OK);
    CHECK(gguf_open(ref_path, &b, &err) == RF_OK);
    if (!a || !b) { gguf_free(a); gguf_free(b); return; }
    CHECKF(a->n_tensors == b->n_tensors, "%s: %llu tensors vs quantize's %llu", qtype,
           (unsigned long long)a->n_tensors, (unsigned long long)b->n_tensors);
    int bad = 0;
    for (uint64_t i = 0; i < a->n_tensors; i++) {
        const gguf_tensor *x = &a->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)x->name.len, x->name.ptr);
        const gguf_tensor *y = gguf_find_tensor(b, name);
        if (!y || x->type != y->type || x->n_bytes != y->n_bytes || memcmp(x->data, y->data, x->n_bytes)) {
            if (bad++ < 5)
                fprintf(stderr, "%s: tensor %s differs from quantize's (%s vs %s)\n", qtype, name,
                        rf_type_name(x->type), y ? rf_type_name(y->type) : "missing");
        }
    }
    CHECKF(bad == 0, "%s: %d tensors differ from rocmforge quantize of the F32 synth file", qtype, bad);
    gguf_free(a);
    gguf_free(b);
}

static void check_llamacpp(rf_llama_ref *r, const char *path, const expect *e)
{
    void *m = rf_llama_ref_load(r, path);
    CHECKF(m != NULL, "llama.cpp could not load %s", path);
    if (!m) return;
    CHECKF(r->model_n_layer(m) == e->n_layer, "%s: llama.cpp n_layer %d", e->name, r->model_n_layer(m));
    CHECKF(r->model_n_embd(m) == e->n_embd, "%s: llama.cpp n_embd %d", e->name, r->model_n_embd(m));
    CHECKF(r->model_n_head(m) == e->n_head, "%s: llama.cpp n_head %d", e->name, r->model_n_head(m));
    CHECKF(r->model_n_head_kv(m) == e->n_head_kv, "%s: llama.cpp n_head_kv %d", e->name, r->model_n_head_kv(m));
    CHECKF(r->vocab_n_tokens(r->model_get_vocab(m)) == e->n_vocab, "%s: llama.cpp n_vocab %d", e->name,
           r->vocab_n_tokens(r->model_get_vocab(m)));
    CHECKF(r->model_n_ctx_train(m) == e->n_ctx, "%s: llama.cpp n_ctx_train %d", e->name, r->model_n_ctx_train(m));
    void *ctx = rf_llama_ref_ctx_exact(r, m, 64, 2);
    CHECKF(ctx != NULL, "%s: llama.cpp context", e->name);
    if (ctx) {
        rf_ll_batch b = r->batch_init(8, 0, 1);
        b.n_tokens = 8;
        for (int i = 0; i < 8; i++) {
            b.token[i] = 1 + i * 7;
            b.pos[i] = i;
            b.n_seq_id[i] = 1;
            b.seq_id[i][0] = 0;
            b.logits[i] = i == 7;
        }
        CHECKF(r->decode(ctx, b) == 0, "%s: llama_decode", e->name);
        const float *lg = r->get_logits_ith(ctx, 7);
        bool finite = lg != NULL, varied = false;
        for (int i = 0; lg && i < e->n_vocab; i++) {
            if (!isfinite(lg[i])) finite = false;
            if (lg[i] != lg[0]) varied = true;
        }
        CHECKF(finite && varied, "%s: llama.cpp logits finite %d varied %d", e->name, finite, varied);
        r->batch_free(b);
        r->free_ctx(ctx);
    }
    r->model_free(m);
}

static void check_ours(const char *path, const expect *e)
{
    rf_model_params mp = rf_model_default_params();
    mp.device_kind = RF_DEVICE_CPU;
    rf_model *m = NULL;
    rf_error err = {0};
    if (rf_model_load(path, &mp, &m, &err) != RF_OK) {
        CHECKF(0, "%s: rf_model_load: %s", e->name, err.msg);
        return;
    }
    rf_model_info in;
    rf_model_get_info(m, &in);
    CHECKF(in.n_layer == e->n_layer && in.n_embd == e->n_embd && in.n_head == e->n_head &&
           in.n_head_kv == e->n_head_kv && in.n_vocab == e->n_vocab && in.n_ctx_train == e->n_ctx,
           "%s: rocmforge reads layer %d embd %d head %d/%d vocab %d ctx %d", e->name, in.n_layer, in.n_embd,
           in.n_head, in.n_head_kv, in.n_vocab, in.n_ctx_train);
    rf_model_free(m);
}

static void check_rope_freqs(void)
{
    const char *src = getenv("RF_SOURCE_DIR");
    char fx[1024], path[512];
    snprintf(fx, sizeof fx, "%s/tests/fixtures/hf/llama3/model.gguf", src ? src : ".");
    snprintf(path, sizeof path, "%s/rope.gguf", tmpdir);
    /* the fixture's config: theta 1e4, head_dim 16, factor 8, low 1, high 4, original context 32 */
    if (run_synth("--arch llama --shape n_embd=64,n_head=4,n_head_kv=2,rope_theta=10000,llama3_rope=8:32 --type F32",
                  path)) {
        CHECK(0);
        return;
    }
    gguf_file *a = NULL, *b = NULL;
    rf_error err = {0};
    if (gguf_open(fx, &b, &err) != RF_OK) {
        CHECKF(0, "fixture %s: %s", fx, err.msg);
        return;
    }
    CHECK(gguf_open(path, &a, &err) == RF_OK);
    const gguf_tensor *x = a ? gguf_find_tensor(a, "rope_freqs.weight") : NULL, *y = gguf_find_tensor(b, "rope_freqs.weight");
    CHECKF(x && y && x->n_elements == y->n_elements, "rope_freqs.weight missing or of another size");
    if (x && y && x->n_elements == y->n_elements) {
        const float *fa = (const float *)x->data, *fb = (const float *)y->data;
        for (uint64_t i = 0; i < x->n_elements; i++)
            CHECKF(fabsf(fa[i] - fb[i]) <= 1e-5f * fabsf(fb[i]), "rope_freqs[%llu] %g vs converter %g",
                   (unsigned long long)i, fa[i], fb[i]);
    }
    gguf_free(a);
    gguf_free(b);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rf-synth-XXXXXX");
    if (!mkdtemp(tmpdir)) rf_test_skip("cannot create a temporary directory");
    rf_llama_ref r;
    char why[512];
    bool have_ll = rf_llama_ref_open(&r, why, sizeof why);
    if (!have_ll) fprintf(stderr, "note: llama.cpp checks skipped: %s\n", why);

    const expect cases[] = {
        {"tiny", "--arch llama --shape tiny", "Q4_K_M", 2, 64, 4, 2, 512, 2048},
        {"qwen2-fallback", "--arch qwen2 --shape n_embd=96,n_head=6,n_head_kv=2,n_ff=256,n_layer=3,tied=1,n_ctx=4096",
         "Q5_K_M", 3, 96, 6, 2, 512, 4096},
        {"qwen3-headdim", "--arch qwen3 --shape n_embd=64,n_head=4,n_head_kv=2,head_dim=32,n_ff=256,n_vocab=300",
         "Q6_K", 2, 64, 4, 2, 300, 2048},
        {"llama3-tied", "--arch llama --shape n_embd=128,n_head=4,n_head_kv=1,n_ff=256,n_layer=8,tied=1,llama3_rope=32:8192",
         "Q4_K_M", 8, 128, 4, 1, 512, 2048},
        {"llama-q8", "--arch llama --shape n_embd=64,n_layer=2,n_vocab=1000", "Q8_0", 2, 64, 4, 2, 1000, 2048},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const expect *e = &cases[i];
        char f32[512], q[512], args[1024];
        snprintf(f32, sizeof f32, "%s/%s-f32.gguf", tmpdir, e->name);
        snprintf(q, sizeof q, "%s/%s-%s.gguf", tmpdir, e->name, e->qtype);
        snprintf(args, sizeof args, "%s --type F32 --seed 11", e->args);
        CHECKF(run_synth(args, f32) == 0, "%s F32", e->name);
        snprintf(args, sizeof args, "%s --type %s --seed 11", e->args, e->qtype);
        CHECKF(run_synth(args, q) == 0, "%s %s", e->name, e->qtype);
        compare_with_quantize(f32, q, e->qtype);
        if (have_ll) {
            check_llamacpp(&r, f32, e);
            check_llamacpp(&r, q, e);
        }
        check_ours(q, e);
    }
    check_rope_freqs();

    /* a real tokenizer copied in */
    char vocab[1024], out[512];
    snprintf(vocab, sizeof vocab, "%s/ggml-vocab-llama-bpe.gguf", rf_test_models_dir());
    if (access(vocab, R_OK) == 0) {
        char args[1400];
        snprintf(out, sizeof out, "%s/vocab.gguf", tmpdir);
        snprintf(args, sizeof args, "--shape tiny --type Q8_0 --vocab-from %s", vocab);
        CHECK(run_synth(args, out) == 0);
        expect e = {"vocab-from", "", "", 2, 64, 4, 2, 128256, 2048};
        if (have_ll) check_llamacpp(&r, out, &e);
        check_ours(out, &e);
    } else {
        fprintf(stderr, "note: %s absent, --vocab-from not checked\n", vocab);
    }
    /* bad input is a clear error, not a crash */
    snprintf(out, sizeof out, "%s/bad.gguf", tmpdir);
    CHECK(run_synth("--shape nosuch --type Q4_0", out) != 0);
    CHECK(run_synth("--shape tiny --type Q9_9", out) != 0);
    CHECK(run_synth("--arch llama --shape n_embd=64,n_head=3 --type F32", out) != 0);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return rf_test_done("model_synth");
}
