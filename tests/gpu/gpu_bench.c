/* gpu_bench.c — throughput of the GPU kernels on full model shapes.
 *
 * Builds, on the device, the weights of a Llama-shaped model in a given
 * quantization mix (random bytes: the kernels' speed does not depend on
 * the values, and nothing here is checked for correctness — gpu_kernels
 * does that), then runs the layer loop over gpu.h exactly as the engine's
 * forward pass does (norm, QKV, RoPE, KV write, paged attention, output
 * projection, residual, norm, gate/up, SwiGLU, down, residual; final norm,
 * LM head, greedy pick on the device):
 *   pp512: one 512-token batch (matrix-unit path), tokens/s;
 *   tg128: 128 single-token steps from an empty context, each a replay of
 *          one captured graph + the chosen id copied back, tokens/s.
 * The roofline: bytes one decode step must read (every weight once, plus
 * the K/V of the context) over the device-to-device copy rate measured in
 * the same run (bytes read + written per second).
 *
 * usage: gpu_bench MODEL... where MODEL is 8b-q4km | 8b-q4_0 | 8b-q8_0 |
 *        1b-q4km | 1b-q8_0 | 1b-f16, or matvec: the decode products alone,
 *        per type and shape (default: all), or tiles: products of 16-128
 *        tokens (not in the default). Prints one line each.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/gpu/gpu.h"
#include "base/base.h"

#define OK(call) do { rf_error e_ = {0}; if ((call) != RF_OK) { \
    fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, e_.msg); exit(1); } } while (0)
#define E (&e_)

typedef struct shape {
    const char *name;
    int n_embd, n_head, n_head_kv, head_dim, n_ff, n_layer, n_vocab;
    bool tied;          /* LM head = token embedding */
    rf_type base, more, out, embd;   /* base type, "more bits" type (attn_v, ffn_down), head, embedding */
} shape;

static const shape shapes[] = {
    {"8b-q4km", 4096, 32, 8, 128, 14336, 32, 128256, false, RF_TYPE_Q4_K, RF_TYPE_Q6_K, RF_TYPE_Q6_K, RF_TYPE_Q4_K},
    {"8b-q4_0", 4096, 32, 8, 128, 14336, 32, 128256, false, RF_TYPE_Q4_0, RF_TYPE_Q4_0, RF_TYPE_Q6_K, RF_TYPE_Q4_0},
    {"8b-q8_0", 4096, 32, 8, 128, 14336, 32, 128256, false, RF_TYPE_Q8_0, RF_TYPE_Q8_0, RF_TYPE_Q8_0, RF_TYPE_Q8_0},
    {"1b-q4km", 2048, 32, 8, 64, 8192, 16, 128256, true, RF_TYPE_Q4_K, RF_TYPE_Q6_K, RF_TYPE_Q6_K, RF_TYPE_Q6_K},
    {"1b-q8_0", 2048, 32, 8, 64, 8192, 16, 128256, true, RF_TYPE_Q8_0, RF_TYPE_Q8_0, RF_TYPE_Q8_0, RF_TYPE_Q8_0},
    {"1b-f16", 2048, 32, 8, 64, 8192, 16, 128256, true, RF_TYPE_F16, RF_TYPE_F16, RF_TYPE_F16, RF_TYPE_F16},
};

typedef struct mat { rf_type t; int64_t rows, cols; size_t stride; void *d; } mat;
typedef struct layer { mat wq, wk, wv, wo, wg, wu, wd; float *an, *fn; } layer;

static rf_gpu *G;
static uint8_t *junk;          /* host random bytes used to fill weights */
static const size_t junk_n = (size_t)64 << 20;
static double weight_bytes;

/* llama.cpp's Q4_K_M rule for which layers get the higher-precision type */
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static void fill_random_bytes(void *d, size_t n)
{
    for (size_t off = 0; off < n; off += junk_n) {
        size_t k = n - off < junk_n ? n - off : junk_n;
        OK(rf_gpu_upload(G, (char *)d + off, junk + ((off >> 20) % 61) * 64, k, E));
    }
}

static mat mk(rf_type t, int64_t rows, int64_t cols, bool count)
{
    /* device layout (Q6_K in 224-byte slots); the roofline counts GGUF bytes */
    mat m = {t, rows, cols, rf_gpu_row_bytes(t, cols), NULL};
    size_t n = m.stride * (size_t)rows;
    OK(rf_gpu_alloc(G, n, &m.d, "bench weights", E));
    fill_random_bytes(m.d, n);
    if (count) weight_bytes += (double)rf_type_row_bytes(t, (uint64_t)cols) * (double)rows;
    return m;
}

static float *mkf(size_t n)
{
    void *d;
    OK(rf_gpu_alloc(G, n * sizeof(float), &d, "bench activations", E));
    return d;
}

/* F16 scales in random bytes can be NaN/Inf; keep the timing honest by
 * making every 16-bit word a small finite half (exponent field < 31). */
static void sanitize_junk(void)
{
    uint16_t *h = (uint16_t *)junk;
    for (size_t i = 0; i < (junk_n + 4096) / 2; i++) h[i] &= 0xbbff; /* clears exponent bit 4 and bit 10: |x| < 2 */
}

static double copy_rate(void)
{
    const size_t n = (size_t)2 << 30;
    void *a, *b;
    OK(rf_gpu_alloc(G, n, &a, "copy test", E));
    OK(rf_gpu_alloc(G, n, &b, "copy test", E));
    double best = 0;
    for (int r = 0; r < 6; r++) {
        OK(rf_gpu_sync(G, E));
        double t0 = rf_time_now();
        OK(rf_gpu_copy_async(G, b, a, n, E));
        OK(rf_gpu_sync(G, E));
        double dt = rf_time_now() - t0;
        double rate = 2.0 * n / dt;
        if (r > 0 && rate > best) best = rate;
    }
    rf_gpu_free(G, a);
    rf_gpu_free(G, b);
    return best;
}

static void bench(const shape *s, double copy_bps)
{
    weight_bytes = 0;
    const int E_ = s->n_embd, hd = s->head_dim, qd = s->n_head * hd, kvd = s->n_head_kv * hd, F = s->n_ff;
    layer *L = calloc((size_t)s->n_layer, sizeof *L);
    float ones[16384];
    for (int i = 0; i < 16384; i++) ones[i] = 1.0f;
    for (int l = 0; l < s->n_layer; l++) {
        bool mb = more_bits(l, s->n_layer);
        L[l].wq = mk(s->base, qd, E_, true);
        L[l].wk = mk(s->base, kvd, E_, true);
        L[l].wv = mk(mb ? s->more : s->base, kvd, E_, true);
        L[l].wo = mk(s->base, E_, qd, true);
        L[l].wg = mk(s->base, F, E_, true);
        L[l].wu = mk(s->base, F, E_, true);
        L[l].wd = mk(mb ? s->more : s->base, E_, F, true);
        L[l].an = mkf((size_t)E_);
        L[l].fn = mkf((size_t)E_);
        OK(rf_gpu_upload(G, L[l].an, ones, sizeof(float) * E_, E));
        OK(rf_gpu_upload(G, L[l].fn, ones, sizeof(float) * E_, E));
    }
    mat embd = mk(s->embd, s->n_vocab, E_, false);
    mat out = s->tied ? embd : mk(s->out, s->n_vocab, E_, false);
    weight_bytes += (double)rf_type_row_bytes(out.t, (uint64_t)E_) * out.rows;
    float *onorm = mkf((size_t)E_);
    OK(rf_gpu_upload(G, onorm, ones, sizeof(float) * E_, E));

    const int max_tok = 512, bs = 16, n_ctx = 1024, max_blocks = n_ctx / bs;
    float *x = mkf((size_t)max_tok * E_), *xb = mkf((size_t)max_tok * E_), *q = mkf((size_t)max_tok * qd);
    float *k = mkf((size_t)max_tok * kvd), *v = mkf((size_t)max_tok * kvd), *att = mkf((size_t)max_tok * qd);
    float *hb = mkf((size_t)max_tok * F), *hb2 = mkf((size_t)max_tok * F), *logits = mkf((size_t)s->n_vocab);
    const size_t kv_layer = (size_t)n_ctx * kvd * 2;
    void *kc, *vc;
    OK(rf_gpu_alloc(G, kv_layer * s->n_layer, &kc, "bench K cache", E));
    OK(rf_gpu_alloc(G, kv_layer * s->n_layer, &vc, "bench V cache", E));
    int32_t *h_in;
    OK(rf_gpu_host_alloc(G, sizeof(int32_t) * (4 * max_tok + max_blocks), (void **)&h_in, E));
    int32_t *d_in;
    OK(rf_gpu_alloc(G, sizeof(int32_t) * (4 * max_tok + max_blocks), (void **)&d_in, "bench inputs", E));
    int32_t *d_tok = d_in, *d_pos = d_in + max_tok, *d_slot = d_in + 2 * max_tok, *d_seq = d_in + 3 * max_tok;
    int32_t *d_btab = d_in + 4 * max_tok, *d_pick;
    OK(rf_gpu_alloc(G, sizeof(int32_t), (void **)&d_pick, "bench pick", E));
    for (int i = 0; i < max_blocks; i++) h_in[4 * max_tok + i] = (i * 7) % max_blocks; /* scattered blocks */
    rf_rope_params rp = {.style = RF_ROPE_NORM, .n_rot = hd, .freq_base = 500000.0f, .freq_scale = 1.0f,
                         .attn_factor = 1.0f};
    rf_attn_params ap = {.n_head = s->n_head, .n_head_kv = s->n_head_kv, .head_dim = hd, .block_size = bs,
                         .max_blocks = max_blocks, .scale = 1.0f / sqrtf((float)hd),
                         .kv_type = RF_TYPE_F16};
    rf_gpu_sample_params sp = {.temperature = 0.0f, .top_p = 1.0f, .repeat_penalty = 1.0f};

    /* inputs for n tokens at positions p0.. */
#define SET_INPUTS(n, p0) do { for (int i_ = 0; i_ < (n); i_++) { \
        int p_ = (p0) + i_; h_in[i_] = (p_ * 31 + 7) % s->n_vocab; h_in[max_tok + i_] = p_; \
        h_in[2 * max_tok + i_] = h_in[4 * max_tok + p_ / bs] * bs + p_ % bs; h_in[3 * max_tok + i_] = 0; } \
        OK(rf_gpu_upload_async(G, d_in, h_in, sizeof(int32_t) * (4 * max_tok + max_blocks), E)); } while (0)

#define STEP(n) do { \
        OK(rf_gpu_get_rows(G, embd.t, embd.d, embd.rows, embd.cols, embd.stride, d_tok, (n), 1.0f, x, E)); \
        for (int l = 0; l < s->n_layer; l++) { \
            OK(rf_gpu_rmsnorm(G, x, L[l].an, xb, (n), E_, 1e-5f, E)); \
            OK(rf_gpu_matmul(G, L[l].wq.t, L[l].wq.d, qd, E_, L[l].wq.stride, xb, (n), q, E)); \
            OK(rf_gpu_matmul(G, L[l].wk.t, L[l].wk.d, kvd, E_, L[l].wk.stride, xb, (n), k, E)); \
            OK(rf_gpu_matmul(G, L[l].wv.t, L[l].wv.d, kvd, E_, L[l].wv.stride, xb, (n), v, E)); \
            OK(rf_gpu_rope(G, q, (n), s->n_head, hd, d_pos, &rp, E)); \
            OK(rf_gpu_rope(G, k, (n), s->n_head_kv, hd, d_pos, &rp, E)); \
            OK(rf_gpu_kv_write(G, (char *)kc + l * kv_layer, (char *)vc + l * kv_layer, k, v, d_slot, (n), kvd, E)); \
            OK(rf_gpu_attention(G, q, (char *)kc + l * kv_layer, (char *)vc + l * kv_layer, d_btab, d_seq, d_pos, \
                                (n), &ap, att, E)); \
            OK(rf_gpu_matmul(G, L[l].wo.t, L[l].wo.d, E_, qd, L[l].wo.stride, att, (n), xb, E)); \
            OK(rf_gpu_add(G, x, xb, x, (int64_t)(n) * E_, E)); \
            OK(rf_gpu_rmsnorm(G, x, L[l].fn, xb, (n), E_, 1e-5f, E)); \
            OK(rf_gpu_matmul(G, L[l].wg.t, L[l].wg.d, F, E_, L[l].wg.stride, xb, (n), hb, E)); \
            OK(rf_gpu_matmul(G, L[l].wu.t, L[l].wu.d, F, E_, L[l].wu.stride, xb, (n), hb2, E)); \
            OK(rf_gpu_glu(G, RF_ACT_SILU, hb, hb2, (n), F, F, hb2, E)); \
            OK(rf_gpu_matmul(G, L[l].wd.t, L[l].wd.d, E_, F, L[l].wd.stride, hb2, (n), xb, E)); \
            OK(rf_gpu_add(G, x, xb, x, (int64_t)(n) * E_, E)); \
        } \
        /* logits for the last token only, as for generation */ \
        OK(rf_gpu_rmsnorm(G, x + (int64_t)((n) - 1) * E_, onorm, xb, 1, E_, 1e-5f, E)); \
        OK(rf_gpu_matmul(G, out.t, out.d, out.rows, E_, out.stride, xb, 1, logits, E)); \
        OK(rf_gpu_sample(G, logits, 1, s->n_vocab, &sp, NULL, 0, NULL, d_pick, E)); \
    } while (0)

    /* pp512: warm-up once, then the median of 3 */
    double pp[3];
    for (int r = -1; r < 3; r++) {
        SET_INPUTS(max_tok, 0);
        OK(rf_gpu_sync(G, E));
        double t0 = rf_time_now();
        STEP(max_tok);
        OK(rf_gpu_sync(G, E));
        if (r >= 0) pp[r] = rf_time_now() - t0;
    }
    if (pp[0] > pp[1]) { double t = pp[0]; pp[0] = pp[1]; pp[1] = t; }
    if (pp[1] > pp[2]) { double t = pp[1]; pp[1] = pp[2]; pp[2] = t; }
    if (pp[0] > pp[1]) { double t = pp[0]; pp[0] = pp[1]; pp[1] = t; }
    const double pp_tps = max_tok / pp[1];

    /* tg128: capture one step, replay it per token */
    int32_t pick = 0, *h_pick;
    OK(rf_gpu_host_alloc(G, sizeof(int32_t), (void **)&h_pick, E));
    SET_INPUTS(1, 0);
    OK(rf_gpu_sync(G, E));
    OK(rf_gpu_graph_begin(G, E));
    STEP(1);
    OK(rf_gpu_graph_end(G, E));
    double tg_best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = rf_time_now();
        for (int p = 0; p < 128; p++) {
            SET_INPUTS(1, p);
            OK(rf_gpu_graph_replay(G, E));
            OK(rf_gpu_download_async(G, h_pick, d_pick, 4, E));
            OK(rf_gpu_sync(G, E));
            pick ^= *h_pick;
        }
        double dt = rf_time_now() - t0;
        if (dt < tg_best) tg_best = dt;
    }
    const double tg_tps = 128.0 / tg_best;
    /* eager launches (no graph) for comparison */
    double t0 = rf_time_now();
    for (int p = 0; p < 32; p++) {
        SET_INPUTS(1, p);
        STEP(1);
        OK(rf_gpu_sync(G, E));
    }
    const double eager_tps = 32.0 / (rf_time_now() - t0);
    rf_gpu_graph_reset(G);

    /* bytes a decode token must read: all weights once + mean K/V context (64 tokens) */
    const double kv_bytes = 2.0 * s->n_layer * 64.0 * kvd * 2;
    const double floor_s = (weight_bytes + kv_bytes) / copy_bps;
    printf("%-8s weights %7.0f MiB  pp512 %8.1f t/s  tg128 %7.1f t/s (eager %6.1f)  roofline %6.1f t/s  "
           "tg/roofline %5.1f%%\n",
           s->name, weight_bytes / 1048576.0, pp_tps, tg_tps, eager_tps, 1.0 / floor_s, 100.0 * tg_tps * floor_s);
    fflush(stdout);

    for (int l = 0; l < s->n_layer; l++) {
        mat *ms[] = {&L[l].wq, &L[l].wk, &L[l].wv, &L[l].wo, &L[l].wg, &L[l].wu, &L[l].wd};
        for (int i = 0; i < 7; i++) rf_gpu_free(G, ms[i]->d);
        rf_gpu_free(G, L[l].an);
        rf_gpu_free(G, L[l].fn);
    }
    free(L);
    rf_gpu_free(G, embd.d);
    if (!s->tied) rf_gpu_free(G, out.d);
    void *bufs[] = {onorm, x, xb, q, k, v, att, hb, hb2, logits, kc, vc, d_in, d_pick};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) rf_gpu_free(G, bufs[i]);
    rf_gpu_host_free(G, h_in);
    rf_gpu_host_free(G, h_pick);
    (void)pick;
}

/* One decode product (1 token) per weight type on a 14336 x 4096 matrix:
 * achieved bytes/s of the weights, integer (DP4A) and F32 paths; then the
 * integer path of the main types on the other shapes of an 8B / 1B layer
 * and the 1B LM head (128256 x 2048). Each product is repeated on the same
 * weights, so those smaller than the L2 (50 MB on an H100 / H200) are
 * read from it after the first run: their figures are the L2-warm speed,
 * not what a decode step, which streams every weight from memory once,
 * gets. */
static void bench_matvec_one(rf_type t, int64_t rows, int64_t cols, int path, const float *x, float *y,
                             double copy_bps)
{
    mat m = mk(t, rows, cols, false);
    const double bytes = (double)rf_type_row_bytes(m.t, (uint64_t)cols) * rows; /* GGUF bytes */
    for (int w = 0; w < 3; w++)
        OK(path ? rf_gpu_matmul_vec_f32(G, m.t, m.d, rows, cols, m.stride, x, 1, y, E)
                : rf_gpu_matmul_vec(G, m.t, m.d, rows, cols, m.stride, x, 1, y, E));
    OK(rf_gpu_sync(G, E));
    const int reps = 50;
    double t0 = rf_time_now();
    for (int r = 0; r < reps; r++)
        OK(path ? rf_gpu_matmul_vec_f32(G, m.t, m.d, rows, cols, m.stride, x, 1, y, E)
                : rf_gpu_matmul_vec(G, m.t, m.d, rows, cols, m.stride, x, 1, y, E));
    OK(rf_gpu_sync(G, E));
    const double dt = (rf_time_now() - t0) / reps;
    printf("matvec %-7s %-4s %6lldx%-5lld: %7.1f us  %6.0f GB/s  (%4.1f%% of the copy rate)\n", rf_type_name(t),
           path ? "f32" : "int", (long long)rows, (long long)cols, dt * 1e6, bytes / dt / 1e9,
           100.0 * bytes / dt / copy_bps);
    rf_gpu_free(G, m.d);
}

static void bench_matvec(double copy_bps)
{
    static const rf_type ts[] = {RF_TYPE_Q4_0, RF_TYPE_Q8_0, RF_TYPE_Q4_K, RF_TYPE_Q5_K, RF_TYPE_Q6_K,
                                 RF_TYPE_IQ4_XS, RF_TYPE_F16, RF_TYPE_BF16};
    const int64_t xn = 16384;
    float *x = mkf((size_t)xn), *y = mkf((size_t)128256);
    float *xs = malloc(sizeof(float) * xn);
    for (int i = 0; i < xn; i++) xs[i] = (float)((i * 7919) % 2001 - 1000) / 1000.0f;
    OK(rf_gpu_upload(G, x, xs, sizeof(float) * xn, E));
    free(xs);
    for (size_t k = 0; k < sizeof ts / sizeof *ts; k++)
        for (int path = 0; path < 2; path++) bench_matvec_one(ts[k], 14336, 4096, path, x, y, copy_bps);
    static const int64_t sh[][2] = {{4096, 14336}, {6144, 4096}, {4096, 4096}, {16384, 2048}, {2048, 8192},
                                    {2048, 2048}, {128256, 2048}};
    static const rf_type ts2[] = {RF_TYPE_Q4_K, RF_TYPE_Q6_K, RF_TYPE_Q4_0, RF_TYPE_Q8_0};
    for (size_t i = 0; i < sizeof sh / sizeof *sh; i++)
        for (size_t k = 0; k < sizeof ts2 / sizeof *ts2; k++) bench_matvec_one(ts2[k], sh[i][0], sh[i][1], 0, x, y, copy_bps);
    rf_gpu_free(G, x);
    rf_gpu_free(G, y);
}

/* Products of 16-128 tokens (many sequences' steps): which kernels run
 * follows the environment (RF_GPU_IMMA: the token count from which the
 * integer tiles take them; RF_GPU_LG=0: the older tiles), so a run per
 * setting compares them. us per call and per token. */
static void bench_tiles(void)
{
    static const int64_t sh[][2] = {{14336, 4096}, {4096, 14336}, {4096, 4096}};
    static const rf_type ts[] = {RF_TYPE_Q4_K, RF_TYPE_Q6_K, RF_TYPE_Q4_0, RF_TYPE_Q8_0};
    static const int toks[] = {16, 32, 64, 128};
    const int64_t xn = 128 * 14336;
    float *x = mkf((size_t)xn), *y = mkf((size_t)128 * 14336);
    float *xs = malloc(sizeof(float) * xn);
    for (int64_t i = 0; i < xn; i++) xs[i] = (float)((i * 7919) % 2001 - 1000) / 1000.0f;
    OK(rf_gpu_upload(G, x, xs, sizeof(float) * xn, E));
    free(xs);
    for (size_t i = 0; i < sizeof sh / sizeof *sh; i++)
        for (size_t k = 0; k < sizeof ts / sizeof *ts; k++) {
            mat m = mk(ts[k], sh[i][0], sh[i][1], false);
            for (size_t q = 0; q < sizeof toks / sizeof *toks; q++) {
                const int n = toks[q];
                for (int w = 0; w < 2; w++) OK(rf_gpu_matmul_vec(G, m.t, m.d, m.rows, m.cols, m.stride, x, n, y, E));
                OK(rf_gpu_sync(G, E));
                const int reps = 20;
                const double t0 = rf_time_now();
                for (int r = 0; r < reps; r++) OK(rf_gpu_matmul_vec(G, m.t, m.d, m.rows, m.cols, m.stride, x, n, y, E));
                OK(rf_gpu_sync(G, E));
                const double dt = (rf_time_now() - t0) / reps;
                printf("tiles %-5s %6lldx%-5lld %3d tokens: %8.1f us  %6.2f us/token  %6.1f T MAC/s\n",
                       rf_type_name(m.t), (long long)m.rows, (long long)m.cols, n, dt * 1e6, dt * 1e6 / n,
                       (double)m.rows * m.cols * n / dt / 1e12);
            }
            rf_gpu_free(G, m.d);
        }
    rf_gpu_free(G, x);
    rf_gpu_free(G, y);
}

int main(int argc, char **argv)
{
    if (rf_gpu_device_count() <= 0) {
        fprintf(stderr, "gpu_bench: no GPU\n");
        return 77;
    }
    OK(rf_gpu_open(0, &G, E));
    const rf_gpu_device_info *inf = rf_gpu_info(G);
    junk = malloc(junk_n + 4096);
    uint64_t st = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < (junk_n + 4096) / 8; i++) {
        st ^= st << 13; st ^= st >> 7; st ^= st << 17;
        memcpy(junk + 8 * i, &st, 8);
    }
    sanitize_junk();
    OK(rf_gpu_reserve_q8(G, (size_t)128 * 16384, E));
    const double cr = copy_rate();
    printf("device %s (%s), %d SMs, %.0f MiB; device-to-device copy %.0f GB/s (read + write)\n", inf->name,
           inf->arch, inf->n_sm, inf->mem_total / 1048576.0, cr / 1e9);
    bool want_mv = argc < 2;
    for (int a = 1; a < argc; a++) want_mv |= !strcmp(argv[a], "matvec");
    if (want_mv) bench_matvec(cr);
    for (int a = 1; a < argc; a++)
        if (!strcmp(argv[a], "tiles")) bench_tiles();
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        bool want = argc < 2;
        for (int a = 1; a < argc; a++) want |= !strcmp(argv[a], shapes[i].name);
        if (want) bench(&shapes[i], cr);
    }
    rf_gpu_close(G);
    free(junk);
    return 0;
}
