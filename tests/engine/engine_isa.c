/* engine_isa.c — the CPU forward pass gives the same bits whatever kernel
 * variant runs it: scalar, AVX2, AVX-512, AMX (those this CPU has). Each op
 * computes one formula per output (the matmuls their type's, cpu_pack.c;
 * attention, RoPE and the rest ggml's arithmetic, cpu_backend.c), so a
 * 40-token prompt (the batched paths: GEMM tiles, AMX tiles from 16 tokens,
 * 16-key attention scores on AVX-512) and the decode steps after it (the
 * GEMV paths) must give the scalar variant's logits exactly. Models: random
 * weights of small llama shapes with 64- and 128-wide heads, in Q4_0,
 * Q4_K_M, Q5_K_M and IQ4_XS (every repacked type but Q8_0 and IQ4_NL, which
 * share Q4_0's kernels), written by `rocmforge synth`. Each with an F32 and
 * an F16 K/V cache: the F16 rows are converted one at a time (scalar), 8
 * (F16C, with AVX2) or 16 (AVX-512, AMX) at a time, exactly either way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/cpu/cpu_kernels.h"
#include "rocmforge.h"
#include "test_util.h"

#define N_PROMPT 40
#define N_DECODE 3

static char tmpdir[256];


/* Logits of the prompt's last token, then of N_DECODE greedy steps, into
 * out ((1 + N_DECODE) x n_vocab), with the variant isa; false when the CPU
 * lacks it. The model is loaded under that variant too (which weights are
 * repacked depends on it). */
static bool run(const char *path, rf_cpu_isa isa, rf_kv_type kv, float *out, int *n_vocab)
{
    if (!rf_cpu_kernels_force(isa)) return false;
    rf_model_params mp = rf_model_default_params();
    mp.device_kind = RF_DEVICE_CPU;
    mp.n_threads = 2;
    rf_model *m = NULL;
    rf_ctx *c = NULL;
    rf_error err = {0};
    CHECKF(rf_model_load(path, &mp, &m, &err) == RF_OK, "load %s: %s", path, err.msg);
    if (!m) return false;
    rf_model_info info;
    rf_model_get_info(m, &info);
    const int V = info.n_vocab;
    *n_vocab = V;
    rf_ctx_params cp = rf_ctx_default_params();
    cp.n_ctx = 64;
    cp.kv_type = kv;
    int seq = 0;
    CHECK(rf_ctx_create(m, &cp, &c, &err) == RF_OK && rf_seq_open(c, &seq, &err) == RF_OK);
    int32_t tok[N_PROMPT], sq[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) {
        tok[i] = (int32_t)((i * 7919 + 13) % V);
        sq[i] = seq;
    }
    rf_batch b = {N_PROMPT, tok, sq, NULL};
    CHECKF(rf_decode(c, &b, &err) == RF_OK, "prompt: %s", err.msg);
    const float *l = rf_get_logits(c, N_PROMPT - 1);
    for (int s = 0; l && s <= N_DECODE; s++) {
        memcpy(out + (size_t)s * V, l, (size_t)V * sizeof(float));
        if (s == N_DECODE) break;
        int32_t next = 0;
        for (int v = 1; v < V; v++)
            if (l[v] > l[next]) next = v;
        rf_batch one = {1, &next, &seq, NULL};
        CHECKF(rf_decode(c, &one, &err) == RF_OK, "decode: %s", err.msg);
        l = rf_get_logits(c, 0);
    }
    rf_ctx_free(c);
    rf_model_free(m);
    return true;
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rf-engine-isa-XXXXXX");
    if (!mkdtemp(tmpdir)) rf_test_skip("cannot create a temporary directory");
    static const struct { const char *shape, *type; } models[] = {
        {"n_embd=256,n_layer=2,n_head=4,n_head_kv=2,n_ff=512,n_vocab=512", "Q4_0"},     /* 64-wide heads */
        {"n_embd=256,n_layer=2,n_head=2,n_head_kv=1,n_ff=512,n_vocab=512", "Q4_K_M"},   /* 128-wide heads */
        {"n_embd=256,n_layer=2,n_head=4,n_head_kv=4,n_ff=512,n_vocab=512", "Q5_K_M"},
        {"n_embd=256,n_layer=2,n_head=4,n_head_kv=1,n_ff=512,n_vocab=512", "IQ4_XS"},
    };
    int compared = 0;
    for (size_t mi = 0; mi < sizeof models / sizeof models[0]; mi++) {
        char path[512], args[1024];
        snprintf(path, sizeof path, "%s/m%zu.gguf", tmpdir, mi);
        snprintf(args, sizeof args, "synth --arch llama --shape %s --type %s --seed 7 -q -o %s", models[mi].shape,
                 models[mi].type, path);
        char log[300];
        snprintf(log, sizeof log, "%s/cli.log", tmpdir);
        CHECKF(rf_test_run_cli(args, log) == 0, "synth %s %s failed (see %s/cli.log)", models[mi].shape, models[mi].type, tmpdir);
        int V = 0;
        static float ref[(1 + N_DECODE) * 512], got[(1 + N_DECODE) * 512], ref32[(1 + N_DECODE) * 512];
        for (int k = 0; k < 2; k++) {
            const rf_kv_type kv = k ? RF_KV_F16 : RF_KV_F32;
            const char *kvn = k ? "F16 K/V" : "F32 K/V";
            CHECK(run(path, RF_ISA_SCALAR, kv, ref, &V));
            CHECK(V == 512);
            if (!k) memcpy(ref32, ref, sizeof ref);
            else /* the F16 cache really ran: its rounding moves the logits */
                CHECKF(memcmp(ref32, ref, sizeof ref) != 0, "%s: F16 K/V gives the F32 cache's logits", models[mi].type);
            for (int isa = RF_ISA_SCALAR + 1; isa < RF_ISA_COUNT; isa++) {
                if (!run(path, (rf_cpu_isa)isa, kv, got, &V)) {
                    fprintf(stderr, "%s: variant %s not available here\n", models[mi].type,
                            rf_cpu_isa_name((rf_cpu_isa)isa));
                    continue;
                }
                int bad = 0, first = -1;
                for (int i = 0; i < (1 + N_DECODE) * V; i++)
                    if (memcmp(&ref[i], &got[i], sizeof(float)) && bad++ == 0) first = i;
                CHECKF(bad == 0,
                       "%s %s, %s: %d logits differ from the scalar variant's (first: step %d, id %d: %.9g vs %.9g)",
                       models[mi].type, rf_cpu_isa_name((rf_cpu_isa)isa), kvn, bad, first / V, first % V,
                       first >= 0 ? got[first] : 0.f, first >= 0 ? ref[first] : 0.f);
                fprintf(stderr, "%s, %s: %s gives the scalar variant's logits bit for bit (%d values)\n",
                        models[mi].type, kvn, rf_cpu_isa_name((rf_cpu_isa)isa), (1 + N_DECODE) * V);
                compared++;
            }
        }
    }
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", tmpdir);
    if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    if (!compared) rf_test_skip("only the scalar variant runs on this CPU");
    return rf_test_done("engine_isa");
}
