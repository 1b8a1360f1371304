/* test_model_quant_agree.c — every quantized type against llama.cpp.
 *
 * `rocmforge synth` makes a small random-weight llama in F32 (n_embd 256 so
 * the K-quants and IQ4_XS apply to every matrix), and `rocmforge quantize`
 * (bit-identical with llama-quantize) turns it into each type. For each file
 * and each of N_RUNS fixed prompts:
 *   - llama.cpp (dlopen, F32 KV, no flash attention) prefills the prompt of
 *     N_PROMPT token ids and generates N_GEN tokens with its greedy sampler,
 *     keeping its logits at every position (prompt rows and the row of each
 *     generated token);
 *   - rocmforge runs the same tokens teacher-forced (the same prefill, then
 *     one token per rf_decode), so its positions align with llama.cpp's;
 *   - as references, llama.cpp also runs those tokens on the same weights
 *     dequantized to F32 (exact arithmetic: no 8-bit activations) and on the
 *     original F32 weights.
 * Per type it prints top-1 agreement, KL(llama.cpp || rocmforge), logit
 * errors and llama.cpp's top-1 margins (table on stderr), and checks:
 *   - top-1 agreement >= 99% of the positions, or bit-equal logits, and
 *     every disagreement a near-tie of llama.cpp's own logits;
 *   - mean KL <= KL_BOUND, and <= twice llama.cpp's own activation-rounding
 *     cost (see KL_BOUND);
 *   - rocmforge is no further than 2x llama.cpp from the exact-arithmetic
 *     result on the same weights (where the engines differ, it is rounding,
 *     not rocmforge straying);
 *   - the median top-1 margin is >= 10x the RMS logit difference between the
 *     engines, so agreement is not decided by ties.
 *
 * Why the engines differ at all: llama.cpp's CPU kernels (and ours) round
 * activations to 8 bits (Q8_0/Q8_1/Q8_K blocks) before each quantized
 * matmul. That rounding is discontinuous, so a last-bit difference in any
 * earlier sum (order of additions, an F16- vs F32-rounded block scale) can
 * move a value across a rounding boundary, and the difference then spreads
 * through later layers up to a sizeable fraction of the activation rounding
 * error itself. Types whose kernels do the same arithmetic as ggml's stay
 * within ~1e-7 almost everywhere; others differ at ~1e-2.
 *
 * Random weights: synth draws N(0, 1/row length), so logits have O(1)
 * spread, but it builds tensors from a pool of 64 random rows, so
 * output.weight repeats rows and logits come in groups of exact copies.
 * Copies give equal logits in both engines; the margin reported is to the
 * next distinct value, and a tie of copies in both counts as agreement.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/llama_ref.h"
#include "rocmforge.h"
#include "test_util.h"

#define N_PROMPT 32
#define N_GEN 64
#define N_POS (N_PROMPT + N_GEN)   /* rows with logits: prompt + each generated token */
#define N_RUNS 4                   /* fixed prompts, each its own greedy run */
#define N_ROWS (N_RUNS * N_POS)
#define N_THREADS 2

/* 256-wide so every matrix takes K-quant / IQ4_XS blocks (256 values). */
#define SHAPE "n_embd=256,n_layer=2,n_head=4,n_head_kv=2,n_ff=512,n_vocab=512"
#define N_VOCAB 512
#define SEED 7

/* Bound on mean KL(llama.cpp || rocmforge), nats per position.
 * For small logit differences d, KL(p||q) ~= 0.5 * Var_p(d); 1e-3 allows
 * an RMS difference of ~0.045 against logits of O(1) spread. For reference
 * (this shape, x86-64 with AVX-512): llama.cpp's own cost of 8-bit
 * activations (KL from the exact-arithmetic run on the same weights) is
 * 1e-4..3e-4, and the whole quantization's cost (KL from the original F32
 * weights) 1e-3..1e-1 below Q8_0/Q6_K; the engines measured <= 8e-5.
 * The second bound is relative: two engines that each round activations
 * as accurately as llama.cpp, independently, differ by about twice
 * llama.cpp's activation cost (the variances add); more than that means
 * rocmforge loses accuracy llama.cpp keeps. It is the tighter bound for
 * Q8_0 and Q6_K, whose quantization costs less than 1e-3. */
#define KL_BOUND 1e-3
#define AGREE_MIN 0.99

/* Every type meets the goal: Q4_0 since its kernels take ggml's q4_0_8x8
 * formula (integer offset, one fma per block), Q4_1, Q5_0 and Q5_1 since
 * their dots take ggml's x86 arithmetic (with block_q8_1.s in F16); they
 * were at 97.7-98.7%, held to a lower bound as a named shortfall. */
/* A flip is only acceptable where llama.cpp's own top-1 lead is a small
 * fraction of the typical lead (the median over all positions). */
#define FLIP_MARGIN_MAX 0.25

static const char *const TYPES[] = {
    "F32", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS",
};
#define N_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))

static char tmpdir[256];
static int n_vocab;

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
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

/* KL(p || q) with p = softmax(a), q = softmax(b), in double. */
static double kl_div(const float *a, const float *b, int n)
{
    double ma = a[0], mb = b[0];
    for (int i = 1; i < n; i++) {
        if (a[i] > ma) ma = a[i];
        if (b[i] > mb) mb = b[i];
    }
    double sa = 0, sb = 0;
    for (int i = 0; i < n; i++) {
        sa += exp(a[i] - ma);
        sb += exp(b[i] - mb);
    }
    double lza = ma + log(sa), lzb = mb + log(sb), kl = 0;
    for (int i = 0; i < n; i++) {
        double la = a[i] - lza, lb = b[i] - lzb;
        kl += exp(la) * (la - lb);
    }
    return kl > 0 ? kl : 0;   /* rounding can leave -1e-17 */
}

/* Top-1 margin of one row: the gap from the largest logit to the largest
 * one strictly below it, and the top-1 probability. synth builds each tensor
 * from a pool of 64 random rows, so output.weight repeats rows and logits
 * come in exactly equal groups; equal rows give equal logits in both
 * engines, so a tie of copies is no real decision and the margin that
 * matters is to the next distinct value. */
static void top1_stats(const float *x, int n, double *margin, double *p1)
{
    int b = argmax(x, n);
    double second = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) {
        if (x[i] < x[b] && x[i] > second) second = x[i];
        s += exp((double)x[i] - x[b]);
    }
    *margin = x[b] - second;
    *p1 = 1.0 / s;
}

/* Same top-1 decision: the same token, or both picks tie (exactly, copies
 * of one output row) for the maximum in both rows. */
static bool same_top1(const float *a, const float *b, int n)
{
    int ia = argmax(a, n), ib = argmax(b, n);
    return ia == ib || (a[ib] == a[ia] && b[ia] == b[ib]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


static void print_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) fprintf(stderr, "    %s", line);
    fclose(f);
}

/* llama.cpp: prompt + greedy generation. Fills tokens[N_POS] (the prompt,
 * then the generated tokens; the last generated one is decoded too so its
 * row has logits) and logits[N_POS * n_vocab]. With generate false the
 * tokens are given (teacher-forced) and only the logits are filled. */
static int run_llamacpp(rf_llama_ref *r, const char *path, int32_t *tokens, float *logits, bool generate)
{
    void *model = rf_llama_ref_load(r, path);
    if (!model) {
        fprintf(stderr, "llama.cpp could not load %s\n", path);
        return -1;
    }
    int nv = r->vocab_n_tokens(r->model_get_vocab(model));
    if (nv != n_vocab) {
        fprintf(stderr, "llama.cpp n_vocab %d, expected %d\n", nv, n_vocab);
        r->model_free(model);
        return -1;
    }
    void *ctx = rf_llama_ref_ctx_exact(r, model, 128, N_THREADS);
    if (!ctx) {
        fprintf(stderr, "llama.cpp context creation failed\n");
        r->model_free(model);
        return -1;
    }
    void *greedy = r->smp_init_greedy();
    rf_ll_token_data *cand = malloc(sizeof *cand * (size_t)n_vocab);
    rf_ll_batch b = r->batch_init(N_POS, 0, 1);
    int rc = 0;
    for (int start = 0; start < N_POS;) {
        int n = start == 0 ? N_PROMPT : 1;
        b.n_tokens = n;
        for (int i = 0; i < n; i++) {
            b.token[i] = tokens[start + i];
            b.pos[i] = start + i;
            b.n_seq_id[i] = 1;
            b.seq_id[i][0] = 0;
            b.logits[i] = 1;
        }
        int32_t st = r->decode(ctx, b);
        if (st != 0) {
            fprintf(stderr, "llama_decode at %d returned %d\n", start, st);
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            const float *lg = r->get_logits_ith(ctx, i);
            if (!lg) { rc = -1; break; }
            memcpy(logits + (size_t)(start + i) * n_vocab, lg, sizeof(float) * (size_t)n_vocab);
        }
        if (rc) break;
        start += n;
        if (generate && start < N_POS) {
            /* llama.cpp's greedy sampler picks the next token */
            const float *lg = logits + (size_t)(start - 1) * n_vocab;
            for (int v = 0; v < n_vocab; v++) cand[v] = (rf_ll_token_data){v, lg[v], 0.0f};
            rf_ll_token_data_array arr = {cand, (size_t)n_vocab, -1, false};
            r->smp_apply(greedy, &arr);
            if (arr.selected < 0 || arr.selected >= n_vocab) { rc = -1; break; }
            tokens[start] = cand[arr.selected].id;
            r->smp_accept(greedy, tokens[start]);
        }
    }
    r->batch_free(b);
    free(cand);
    r->smp_free(greedy);
    r->free_ctx(ctx);
    r->model_free(model);
    return rc;
}

/* rocmforge teacher-forced on llama.cpp's sequence: the same prefill, then
 * one token per rf_decode. */
static int run_ours(const char *path, const int32_t *tokens, float *logits)
{
    rf_error err = {0};
    rf_model_params mp = rf_model_default_params();
    mp.device_kind = RF_DEVICE_CPU;
    mp.n_threads = N_THREADS;
    rf_model *m = NULL;
    if (rf_model_load(path, &mp, &m, &err) != RF_OK) {
        fprintf(stderr, "rf_model_load(%s): %s: %s\n", path, rf_status_name(err.code), err.msg);
        return -1;
    }
    rf_ctx_params cp = rf_ctx_default_params();
    cp.n_ctx = 128;
    cp.n_seq_max = 1;
    cp.n_batch = N_POS;
    cp.deterministic = true;
    cp.kv_type = RF_KV_F32;   /* as llama.cpp's exact context: F32 KV */
    rf_ctx *c = NULL;
    if (rf_ctx_create(m, &cp, &c, &err) != RF_OK) {
        fprintf(stderr, "rf_ctx_create: %s\n", err.msg);
        rf_model_free(m);
        return -1;
    }
    int seq = 0, rc = 0;
    if (rf_seq_open(c, &seq, &err) != RF_OK) {
        fprintf(stderr, "rf_seq_open: %s\n", err.msg);
        rf_ctx_free(c);
        rf_model_free(m);
        return -1;
    }
    int32_t seqs[N_POS];
    uint8_t want[N_POS];
    for (int i = 0; i < N_POS; i++) { seqs[i] = seq; want[i] = 1; }
    for (int start = 0; start < N_POS;) {
        int n = start == 0 ? N_PROMPT : 1;
        rf_batch b = {n, tokens + start, seqs, want};
        if (rf_decode(c, &b, &err) != RF_OK) {
            fprintf(stderr, "rf_decode at %d: %s\n", start, err.msg);
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            const float *lg = rf_get_logits(c, i);
            if (!lg) {
                fprintf(stderr, "no logits for row %d\n", start + i);
                rc = -1;
                break;
            }
            memcpy(logits + (size_t)(start + i) * n_vocab, lg, sizeof(float) * (size_t)n_vocab);
        }
        if (rc) break;
        start += n;
    }
    rf_seq_close(c, seq);
    rf_ctx_free(c);
    rf_model_free(m);
    return rc;
}

/* llama.cpp logs through our callback: errors only (RF_LLAMA_LOG: all) */
static void quiet_log(int level, const char *text, void *ud)
{
    (void)ud;
    if (level == 4 /* GGML_LOG_LEVEL_ERROR */ || getenv("RF_LLAMA_LOG")) fputs(text, stderr);
}

int main(void)
{
    rf_llama_ref r;
    char why[512];
    if (!rf_llama_ref_open(&r, why, sizeof why)) rf_test_skip(why);
    r.log_set(quiet_log, NULL);
    if (!getenv("RF_BIN")) rf_test_skip("RF_BIN (the rocmforge binary) not set; run through ctest");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rf-quant-agree-XXXXXX");
    if (!mkdtemp(tmpdir)) rf_test_skip("cannot create a temporary directory");

    char f32[300], log[300], args[1400];
    snprintf(f32, sizeof f32, "%s/F32.gguf", tmpdir);
    snprintf(log, sizeof log, "%s/cli.log", tmpdir);
    snprintf(args, sizeof args, "synth --arch llama --shape %s --type F32 --seed %d -q -o %s", SHAPE, SEED, f32);
    if (rf_test_run_cli(args, log) != 0) {
        fprintf(stderr, "rocmforge %s failed:\n", args);
        print_file(log);
        CHECK(0);
        snprintf(args, sizeof args, "rm -rf %s", tmpdir);
        if (system(args) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
        return rf_test_done("model_quant_agree");
    }
    n_vocab = N_VOCAB;

    size_t nl = (size_t)N_ROWS * n_vocab;
    float *ll = malloc(nl * sizeof(float)), *ours = malloc(nl * sizeof(float)), *deq = malloc(nl * sizeof(float));
    float *orig = malloc(nl * sizeof(float));
    static double margins[N_ROWS];
    int n_run = 0;

    fprintf(stderr, "llama " SHAPE ", %d runs of %d prompt + %d greedy positions\n", N_RUNS, N_PROMPT, N_GEN);
    fprintf(stderr,
            "agree: same top-1; mean/max KL(llama.cpp || ours); relL2: max over positions, ours vs llama.cpp;\n"
            "ours-deq, llcpp-deq: max relL2 of each vs llama.cpp on the same weights dequantized to F32 (exact\n"
            "arithmetic); rms diff: RMS logit difference ours vs llama.cpp; KL act: mean KL(dequantized-weights\n"
            "run || llama.cpp), the cost of 8-bit activations; KL wq: mean KL(original F32 weights || llama.cpp),\n"
            "the whole quantization's cost; margin: llama.cpp's top-1 logit gap (median, min); p1: mean top-1 prob\n");
    fprintf(stderr, "%-7s %7s %8s %8s %8s %8s %8s %8s %8s %8s %7s %8s %5s\n", "type", "agree", "mean KL", "max KL",
            "relL2", "ours-deq", "llcp-deq", "rms diff", "KL act", "KL wq", "med mrg", "min mrg", "p1");
    for (int t = 0; t < N_TYPES; t++) {
        const char *type = TYPES[t];
        char path[400], dpath[400];
        bool is_f32 = !strcmp(type, "F32");
        if (is_f32) {
            snprintf(path, sizeof path, "%s", f32);
        } else {
            snprintf(path, sizeof path, "%s/%s.gguf", tmpdir, type);
            snprintf(args, sizeof args, "quantize -t %d %s %s %s", N_THREADS, f32, path, type);
            if (rf_test_run_cli(args, log) != 0) {
                fprintf(stderr, "%-7s skipped: rocmforge quantize rejected it:\n", type);
                print_file(log);
                continue;
            }
            /* the same weights dequantized: the exact-arithmetic reference */
            snprintf(dpath, sizeof dpath, "%s/%s-deq.gguf", tmpdir, type);
            snprintf(args, sizeof args, "quantize --allow-requantize -t %d %s %s F32", N_THREADS, path, dpath);
            if (rf_test_run_cli(args, log) != 0) {
                fprintf(stderr, "%s: dequantizing to F32 failed:\n", type);
                print_file(log);
                CHECK(0);
                continue;
            }
        }
        int failed = 0;
        for (int run = 0; run < N_RUNS && !failed; run++) {
            int32_t tokens[N_POS];
            size_t off = (size_t)run * N_POS * n_vocab;
            for (int i = 0; i < N_PROMPT; i++)   /* fixed ids past the specials (0-2) */
                tokens[i] = 3 + (i * (37 + 6 * run) + 11 + 97 * run) % (n_vocab - 3);
            if (run_llamacpp(&r, path, tokens, ll + off, true) != 0) {
                CHECKF(0, "%s: llama.cpp run failed", type);
                failed = 1;
            } else if (run_ours(path, tokens, ours + off) != 0) {
                CHECKF(0, "%s: rocmforge run failed", type);
                failed = 1;
            } else if (is_f32) {
                memcpy(deq + off, ll + off, (size_t)N_POS * n_vocab * sizeof(float));
                memcpy(orig + off, ll + off, (size_t)N_POS * n_vocab * sizeof(float));
            } else if (run_llamacpp(&r, dpath, tokens, deq + off, false) != 0 ||
                       run_llamacpp(&r, f32, tokens, orig + off, false) != 0) {
                CHECKF(0, "%s: llama.cpp run on the dequantized or the F32 file failed", type);
                failed = 1;
            }
        }
        if (failed) continue;
        n_run++;
        int agree = 0;
        double kl_sum = 0, kl_act = 0, kl_w = 0, kl_max = 0, l2_max = 0, l2_ours_deq = 0, l2_ll_deq = 0, p1_sum = 0, d2 = 0;
        bool exact = memcmp(ll, ours, nl * sizeof(float)) == 0;
        double flip_margin = 0; /* largest llama.cpp top-1 lead where the engines disagree */
        for (int i = 0; i < N_ROWS; i++) {
            const float *a = ll + (size_t)i * n_vocab, *b = ours + (size_t)i * n_vocab, *q = deq + (size_t)i * n_vocab,
                        *o = orig + (size_t)i * n_vocab;
            double kl = kl_div(a, b, n_vocab), l2 = rel_l2(b, a, n_vocab), p1, x;
            kl_sum += kl;
            kl_act += kl_div(q, a, n_vocab);
            kl_w += kl_div(o, a, n_vocab);
            if (kl > kl_max) kl_max = kl;
            if (l2 > l2_max) l2_max = l2;
            if ((x = rel_l2(b, q, n_vocab)) > l2_ours_deq) l2_ours_deq = x;
            if ((x = rel_l2(a, q, n_vocab)) > l2_ll_deq) l2_ll_deq = x;
            top1_stats(a, n_vocab, &margins[i], &p1);
            p1_sum += p1;
            for (int v = 0; v < n_vocab; v++) d2 += ((double)a[v] - b[v]) * ((double)a[v] - b[v]);
            if (same_top1(a, b, n_vocab)) {
                agree++;
            } else {
                if (margins[i] > flip_margin) flip_margin = margins[i];
                int ia = argmax(a, n_vocab), ib = argmax(b, n_vocab);
                fprintf(stderr, "  %s run %d pos %d: llama.cpp picks %d (by %.3g over %d), ours %d (by %.3g); "
                                "on the dequantized weights %d leads by %.3g\n",
                        type, i / N_POS, i % N_POS, ia, a[ia] - a[ib], ib, ib, b[ib] - b[ia], q[ia] >= q[ib] ? ia : ib,
                        fabs(q[ia] - q[ib]));
            }
        }
        double rms = sqrt(d2 / (double)nl);
        qsort(margins, N_ROWS, sizeof margins[0], cmp_double);
        double kl_mean = kl_sum / N_ROWS, frac = (double)agree / N_ROWS, med = margins[N_ROWS / 2];
        fprintf(stderr, "%-7s %3d/%-3d %8.2e %8.2e %8.2e %8.2e %8.2e %8.2e %8.2e %8.2e %7.3f %8.2e %5.3f%s\n", type,
                agree, N_ROWS, kl_mean, kl_max, l2_max, l2_ours_deq, l2_ll_deq, rms, kl_act / N_ROWS, kl_w / N_ROWS,
                med, margins[0], p1_sum / N_ROWS,
                exact ? "  bit-exact" : "");
        const double agree_min = AGREE_MIN;
        CHECKF(exact || frac >= agree_min, "%s: top-1 agreement %d/%d < %.0f%%", type, agree, N_ROWS, agree_min * 100);
        CHECKF(flip_margin <= FLIP_MARGIN_MAX * med,
               "%s: the engines disagree where llama.cpp leads by %.3g (median lead %.3g): not a near-tie", type,
               flip_margin, med);
        CHECKF(kl_mean <= KL_BOUND, "%s: mean KL %.3g > %g", type, kl_mean, KL_BOUND);
        CHECKF(is_f32 || kl_mean <= 2 * kl_act / N_ROWS,
               "%s: mean KL %.3g > twice llama.cpp's own activation-rounding cost %.3g", type, kl_mean, kl_act / N_ROWS);
        /* where the engines differ, rocmforge is not the one that strays:
         * against exact arithmetic on the same (dequantized) weights it is
         * about as close as llama.cpp (2x leaves room for CPUs whose
         * llama.cpp kernels round differently) */
        CHECKF(l2_ours_deq <= 2 * l2_ll_deq + 1e-5,
               "%s: rocmforge is %.3g from the dequantized-weights result, llama.cpp only %.3g", type, l2_ours_deq,
               l2_ll_deq);
        /* the comparison has teeth: the typical top-1 gap is far above the
         * logit differences between the engines */
        CHECKF(med >= 10 * rms, "%s: median top-1 margin %.3g is not >> RMS logit difference %.3g (distributions too flat)",
               type, med, rms);
    }
    CHECKF(n_run >= 2, "only %d types ran", n_run);

    free(ll);
    free(ours);
    free(deq);
    free(orig);
    snprintf(args, sizeof args, "rm -rf %s", tmpdir);
    if (system(args) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return rf_test_done("model_quant_agree");
}
