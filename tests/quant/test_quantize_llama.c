/* test_quantize_llama.c — `rocmforge quantize` output is byte-identical to
 * llama.cpp's llama_model_quantize (libllama from the node-llama-cpp npm
 * package) for every file type we produce, on:
 *   - the shared tinyllamas F32 model (GGUF v1; rows of 64 and 172 values,
 *     so every K-quant falls back to 32-block types or F16),
 *   - a synthetic llama model written by our GGUF writer with rows that
 *     fit the 256-value K-quant blocks, 8 layers and grouped KV heads, so
 *     the Q*_K_S/M/L mixes' per-layer bumps (attn_v, ffn_down, output) all
 *     show up; and the same model with F16 and with BF16 weights (as most
 *     published conversions are), quantized to a few types.
 * Whole files are compared: metadata (general.file_type etc.), tensor order,
 * chosen types, layout and every quantized byte. Skips (77) when the
 * reference library is absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ggml_ref.h"
#include "gguf/gguf_write.h"
#include "quant/quant.h"
#include "quant/quant_model.h"
#include "test_util.h"

typedef struct llama_qparams {
    int32_t nthread;
    int ftype, output_tensor_type, token_embedding_type;
    bool allow_requantize, quantize_output_tensor, only_copy, pure, keep_split, dry_run;
    const void *imatrix, *kv_overrides, *tt_overrides;
    const int32_t *prune_layers;
    size_t max_buf_size;
} llama_qparams;

static llama_qparams (*q_default)(void);
static uint32_t (*q_run)(const char *, const char *, const llama_qparams *);
static void (*log_set)(void (*)(int, const char *, void *), void *);

static void quiet_log(int level, const char *text, void *user) { (void)level; (void)text; (void)user; }

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2.f - 1.f;
}

/* A small llama: n_embd 256, n_ff 512, 8 layers, 4 heads / 1 KV head. */
/* wt: type of the 2-D weights (F32, or F16/BF16 as most published
 * conversions are); norms stay F32 as they do in such files. */
static bool write_synthetic(const char *path, rf_type wt)
{
    enum { E = 256, F = 512, L = 8, V = 320, KV = 64 };
    rf_error err = {0};
    gguf_writer *w = gguf_writer_new(&err);
    gguf_writer_set_str(w, "general.architecture", "llama", &err);
    gguf_writer_set_str(w, "general.name", "synthetic", &err);
    gguf_writer_set_u32(w, "llama.context_length", 256, &err);
    gguf_writer_set_u32(w, "llama.embedding_length", E, &err);
    gguf_writer_set_u32(w, "llama.block_count", L, &err);
    gguf_writer_set_u32(w, "llama.feed_forward_length", F, &err);
    gguf_writer_set_u32(w, "llama.rope.dimension_count", 64, &err);
    gguf_writer_set_u32(w, "llama.attention.head_count", 4, &err);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", 1, &err);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, &err);
    gguf_writer_set_u32(w, "general.file_type", 0, &err);
    static void *bufs[256];
    int nb = 0;
    struct { const char *fmt; uint64_t ne0, ne1; } per_layer[] = {
        {"blk.%d.attn_norm.weight", E, 1}, {"blk.%d.attn_q.weight", E, E}, {"blk.%d.attn_k.weight", E, KV},
        {"blk.%d.attn_v.weight", E, KV}, {"blk.%d.attn_output.weight", E, E}, {"blk.%d.ffn_norm.weight", E, 1},
        {"blk.%d.ffn_gate.weight", E, F}, {"blk.%d.ffn_up.weight", E, F}, {"blk.%d.ffn_down.weight", F, E},
    };
    bool ok = true;
#define ADD(name, a, b) do { uint64_t ne[2] = {a, b}; float *d = malloc(sizeof(float) * (a) * (b)); \
        for (uint64_t k = 0; k < (uint64_t)(a) * (b); k++) { d[k] = frand(); } bufs[nb++] = d; \
        rf_type tt = (b) > 1 ? wt : RF_TYPE_F32; void *data = d; \
        if (tt != RF_TYPE_F32) { data = malloc(2 * (a) * (b)); bufs[nb++] = data; \
            ok &= rf_quantize_rows(tt, d, data, (b), (a), &err) == RF_OK; } \
        ok &= gguf_writer_add_tensor(w, name, tt, (b) > 1 ? 2 : 1, ne, data, \
                                     rf_type_row_bytes(tt, (a)) * (b), &err) == RF_OK; } while (0)
    ADD("token_embd.weight", E, V);
    ADD("output_norm.weight", E, 1);
    ADD("output.weight", E, V);
    for (int l = 0; l < L; l++) {
        for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, per_layer[i].fmt, l);
            ADD(name, per_layer[i].ne0, per_layer[i].ne1);
        }
    }
#undef ADD
    ok &= gguf_writer_write(w, path, NULL, NULL, &err) == RF_OK;
    if (!ok) fprintf(stderr, "synthetic model: %s\n", err.msg);
    gguf_writer_free(w);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    return ok;
}

static const char *all_types[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L",
                                  "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS", "F16", "BF16", NULL};
static const char *some_types[] = {"Q4_0", "Q8_0", "Q4_K_M", "Q5_K_M", "Q6_K", "F16", "BF16", "F32", NULL};

static void compare(const char *in, const char *label, const char *dir, const char *const *types)
{
    for (size_t i = 0; types[i]; i++) {
        char ours[512], ref[512];
        snprintf(ours, sizeof ours, "%s/ours-%s-%s.gguf", dir, label, types[i]);
        snprintf(ref, sizeof ref, "%s/ref-%s-%s.gguf", dir, label, types[i]);
        rf_quantize_params p = {.n_threads = 2};
        CHECK(rf_ftype_from_name(types[i], &p.ftype));
        rf_error err = {0};
        rf_status st = rf_quantize_model(in, ours, &p, &err);
        CHECKF(st == RF_OK, "%s %s: %s", label, types[i], err.msg);
        llama_qparams qp = q_default();
        qp.nthread = 1;
        qp.ftype = (int)p.ftype;
        uint32_t rc = q_run(in, ref, &qp);
        CHECKF(rc == 0, "llama_model_quantize %s %s failed", label, types[i]);
        size_t n0 = 0, n1 = 0;
        uint8_t *a = slurp(ours, &n0), *b = slurp(ref, &n1);
        bool same = a && b && n0 == n1 && !memcmp(a, b, n0);
        size_t at = 0;
        if (a && b && !same)
            while (at < n0 && at < n1 && a[at] == b[at]) at++;
        CHECKF(same, "%s %s: output differs from llama.cpp's (%zu vs %zu bytes, first difference at byte %zu)", label,
               types[i], n0, n1, at);
        fprintf(stderr, "%-10s %-7s %8zu bytes: %s\n", label, types[i], n0, same ? "identical to llama.cpp" : "DIFFERENT");
        free(a);
        free(b);
        unlink(ours);
        unlink(ref);
    }
}

/* The command a user runs: `rocmforge quantize IN OUT TYPE` (RF_BIN, set
 * by ctest), compared byte for byte with llama.cpp; and its errors. */
static void cli_check(const char *in, const char *dir)
{
    const char *bin = getenv("RF_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        fprintf(stderr, "note: RF_BIN not set or not executable, command-line check skipped\n");
        return;
    }
    const char *types[] = {"Q4_K_M", "Q8_0"};
    for (int i = 0; i < 2; i++) {
        char ours[512], ref[512], cmd[2048];
        snprintf(ours, sizeof ours, "%s/cli-%s.gguf", dir, types[i]);
        snprintf(ref, sizeof ref, "%s/cli-ref-%s.gguf", dir, types[i]);
        snprintf(cmd, sizeof cmd, "'%s' quantize -t 2 '%s' '%s' %s 2>/dev/null", bin, in, ours, types[i]);
        CHECKF(system(cmd) == 0, "%s failed", cmd);
        llama_qparams qp = q_default();
        qp.nthread = 1;
        rf_ftype ft;
        CHECK(rf_ftype_from_name(types[i], &ft));
        qp.ftype = (int)ft;
        CHECK(q_run(in, ref, &qp) == 0);
        size_t n0 = 0, n1 = 0;
        uint8_t *a = slurp(ours, &n0), *b = slurp(ref, &n1);
        CHECKF(a && b && n0 == n1 && !memcmp(a, b, n0), "rocmforge quantize %s: file differs from llama.cpp's", types[i]);
        fprintf(stderr, "rocmforge quantize ... %s: %s\n", types[i], a && b && n0 == n1 && !memcmp(a, b, n0) ? "identical to llama.cpp" : "DIFFERENT");
        free(a);
        free(b);
        unlink(ours);
        unlink(ref);
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s' '%s/x.gguf' Q9_Z 2>/dev/null", bin, in, dir);
    int rc = system(cmd);
    CHECKF(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "unknown type: exit %d, want 2", WEXITSTATUS(rc));
    snprintf(cmd, sizeof cmd, "'%s' quantize '%s/absent.gguf' '%s/x.gguf' Q4_0 2>/dev/null", bin, dir, dir);
    rc = system(cmd);
    CHECKF(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "missing input: exit %d, want 1", WEXITSTATUS(rc));
    char outp[1100];
    snprintf(outp, sizeof outp, "%s/x.gguf", dir);
    CHECKF(access(outp, F_OK) != 0, "a failed quantize left %s behind", outp);
}

int main(void)
{
    ggml_ref g;
    ggml_ref_open(&g); /* skips when the reference libraries are absent */
    char dir[1024], path[1200];
    ggml_ref_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/libllama.v0.4.0.so", dir);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        rf_test_skip("libllama from node-llama-cpp absent: run scripts/fetch-refs.sh");
    }
    *(void **)&q_default = dlsym(lib, "llama_model_quantize_default_params");
    *(void **)&q_run = dlsym(lib, "llama_model_quantize");
    *(void **)&log_set = dlsym(lib, "llama_log_set");
    CHECK(q_default && q_run);
    if (!q_default || !q_run) return rf_test_done("quant_quantize_llama");
    if (log_set && !getenv("RF_TEST_VERBOSE")) log_set(quiet_log, NULL);

    char tmp[] = "/tmp/rf_quantize_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char syn[1100];
    snprintf(syn, sizeof syn, "%s/synthetic-f32.gguf", tmp);
    CHECK(write_synthetic(syn, RF_TYPE_F32));
    compare(syn, "synthetic", tmp, all_types);
    char syn16[1100];
    snprintf(syn16, sizeof syn16, "%s/synthetic-f16.gguf", tmp);
    CHECK(write_synthetic(syn16, RF_TYPE_F16));
    compare(syn16, "syn-f16", tmp, some_types);
    snprintf(syn16, sizeof syn16, "%s/synthetic-bf16.gguf", tmp);
    CHECK(write_synthetic(syn16, RF_TYPE_BF16));
    compare(syn16, "syn-bf16", tmp, some_types);
    unlink(syn16);
    snprintf(syn16, sizeof syn16, "%s/synthetic-f16.gguf", tmp);
    unlink(syn16);
    cli_check(syn, tmp);
    char model[1200];
    snprintf(model, sizeof model, "%s/tinyllamas-stories-260k-f32.gguf", rf_test_models_dir());
    if (access(model, R_OK) == 0) {
        /* the file is GGUF v1, which llama.cpp no longer reads: re-encode
         * it as v3 (same metadata and F32 tensors) with our writer first */
        char v3[1200];
        snprintf(v3, sizeof v3, "%s/tinyllamas-v3.gguf", tmp);
        rf_error err = {0};
        gguf_file *f = NULL;
        CHECKF(gguf_open(model, &f, &err) == RF_OK, "%s", err.msg);
        gguf_writer *w = gguf_writer_new(&err);
        CHECK(f && w && gguf_writer_copy_kv(w, f, NULL, &err) == RF_OK);
        for (uint64_t i = 0; f && i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            CHECK(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->n_bytes, &err) == RF_OK);
        }
        CHECKF(gguf_writer_write(w, v3, NULL, NULL, &err) == RF_OK, "%s", err.msg);
        gguf_writer_free(w);
        gguf_free(f);
        compare(v3, "tinyllamas", tmp, all_types);
        unlink(v3);
    }
    else fprintf(stderr, "note: %s absent, only the synthetic model was compared\n", model);
    unlink(syn);
    rmdir(tmp);
    return rf_test_done("quant_quantize_llama");
}
