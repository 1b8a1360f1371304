/* cmd_synth.c — `rocmforge synth`: write a random-weight model of a real
 * shape (Llama 2/3, Mistral, Qwen2.5, Qwen3 sizes, or custom dimensions) in
 * any supported file type, for benchmarks and loader tests. The file is laid
 * out the way llama.cpp's converter and llama-quantize lay it out (tensor
 * names, metadata keys, a tokenizer section), so llama.cpp loads it too.
 *
 * Speed does not depend on the values, so values are cheap: for each
 * (type, row length) we draw a pool of SYNTH_POOL_ROWS random rows (normal,
 * std 1/sqrt(row length): activations stay O(1) through the layers),
 * quantize the pool once with the reference quantizer, and build every
 * tensor by copying pool rows picked by a generator seeded from the seed and
 * the tensor's name. Tensors are produced one at a time inside the GGUF
 * writer's fill callback and streamed to disk, so an 8B model never sits in
 * memory. Because rows depend only on (seed, tensor name, row length), a
 * quantized synth file is byte-identical in its tensor data to
 * `rocmforge quantize` applied to the F32 synth file of the same seed — the
 * test holds synth to that.
 *
 * Per-tensor types follow llama.cpp's mix rules (llama_tensor_get_type) for
 * dense models, as src/quant/quant_model.c implements them for `quantize`:
 * output (or tied token_embd) to Q6_K, attn_v / ffn_down bumped on the
 * use_more_bits layers for the _M mixes, rows that do not fit a block size
 * falling back to a 32-block type.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/base.h"
#include "cli.h"
#include "cli/synth.h"
#include "gguf/gguf.h"
#include "gguf/gguf_write.h"
#include "quant/quant.h"
#include "quant/quant_model.h"

#define SYNTH_POOL_ROWS 64
#define SYNTH_MAX_POOLS 32

/* ------------------------------------------------------------ randomness */

static uint64_t synth_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t synth_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static float synth_normal(uint64_t *st)
{
    double u = ((synth_splitmix(st) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double v = (synth_splitmix(st) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* ------------------------------------------------------------ the plan */

typedef enum synth_cat {
    SC_TOKEN_EMBD, SC_OUTPUT, SC_ATTN_Q, SC_ATTN_K, SC_ATTN_V, SC_ATTN_OUTPUT,
    SC_FFN_GATE, SC_FFN_UP, SC_FFN_DOWN, SC_NORM, SC_BIAS, SC_ROPE_FREQS,
} synth_cat;

typedef struct synth_pool {
    rf_type type;
    uint64_t width;
    uint64_t row_bytes;
    uint8_t *rows;            /* (SYNTH_POOL_ROWS, row_bytes) */
} synth_pool;

typedef struct synth_tensor {
    char name[64];
    synth_cat cat;
    int layer;                /* -1 outside blocks */
    rf_type type;
    uint32_t n_dims;
    uint64_t ne[2];           /* ne[0]: row length */
    synth_pool *pool;         /* weights only */
} synth_tensor;

typedef struct synth_job {
    const synth_shape *sh;
    uint64_t seed;
    synth_tensor *t;          /* (n_t) */
    int n_t;
    synth_pool pools[SYNTH_MAX_POOLS];
    int n_pools;
    float *rope_freqs;        /* (head_dim / 2) or NULL */
} synth_job;

static int synth_head_dim(const synth_shape *s) { return s->head_dim ? s->head_dim : s->n_embd / s->n_head; }

/* llama.cpp's use_more_bits: first and last eighth, and every third between. */
static bool synth_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static rf_type synth_default_type(rf_ftype ft)
{
    switch (ft) {
    case RF_FTYPE_ALL_F32: return RF_TYPE_F32;
    case RF_FTYPE_MOSTLY_F16: return RF_TYPE_F16;
    case RF_FTYPE_MOSTLY_BF16: return RF_TYPE_BF16;
    case RF_FTYPE_MOSTLY_Q4_0: return RF_TYPE_Q4_0;
    case RF_FTYPE_MOSTLY_Q4_1: return RF_TYPE_Q4_1;
    case RF_FTYPE_MOSTLY_Q5_0: return RF_TYPE_Q5_0;
    case RF_FTYPE_MOSTLY_Q5_1: return RF_TYPE_Q5_1;
    case RF_FTYPE_MOSTLY_Q8_0: return RF_TYPE_Q8_0;
    case RF_FTYPE_MOSTLY_Q2_K: return RF_TYPE_Q2_K;
    case RF_FTYPE_MOSTLY_Q3_K_S: case RF_FTYPE_MOSTLY_Q3_K_M: case RF_FTYPE_MOSTLY_Q3_K_L: return RF_TYPE_Q3_K;
    case RF_FTYPE_MOSTLY_Q4_K_S: case RF_FTYPE_MOSTLY_Q4_K_M: return RF_TYPE_Q4_K;
    case RF_FTYPE_MOSTLY_Q5_K_S: case RF_FTYPE_MOSTLY_Q5_K_M: return RF_TYPE_Q5_K;
    case RF_FTYPE_MOSTLY_Q6_K: return RF_TYPE_Q6_K;
    case RF_FTYPE_MOSTLY_IQ4_NL: return RF_TYPE_IQ4_NL;
    case RF_FTYPE_MOSTLY_IQ4_XS: return RF_TYPE_IQ4_XS;
    }
    return RF_TYPE_COUNT;
}

/* llama_tensor_get_type for a dense (no MoE, no falcon) model. */
static rf_type synth_mix_type(const synth_shape *s, rf_ftype ft, rf_type t, synth_cat c, int layer)
{
    const int n_gqa = s->n_head / s->n_head_kv;
    const bool is_70b = !strcmp(s->arch, "llama") && s->n_layer == 80 && n_gqa > 1;
    const int n = s->n_layer;
    if (c == SC_OUTPUT || (s->tied && c == SC_TOKEN_EMBD)) {
        if ((uint64_t)s->n_embd % rf_type_get((uint32_t)t)->block_size != 0) t = RF_TYPE_Q8_0;
        else if (t != RF_TYPE_Q8_0) t = RF_TYPE_Q6_K;
    } else if (c == SC_ATTN_V) {
        if (ft == RF_FTYPE_MOSTLY_Q2_K) t = n_gqa >= 4 ? RF_TYPE_Q4_K : RF_TYPE_Q3_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_M) t = layer < 2 ? RF_TYPE_Q5_K : RF_TYPE_Q4_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_L) t = RF_TYPE_Q5_K;
        else if ((ft == RF_FTYPE_MOSTLY_IQ4_NL || ft == RF_FTYPE_MOSTLY_IQ4_XS) && n_gqa >= 4) t = RF_TYPE_Q5_K;
        else if ((ft == RF_FTYPE_MOSTLY_Q4_K_M || ft == RF_FTYPE_MOSTLY_Q5_K_M) && synth_more_bits(layer, n)) t = RF_TYPE_Q6_K;
        else if (ft == RF_FTYPE_MOSTLY_Q4_K_S && layer < 4) t = RF_TYPE_Q5_K;
        if (is_70b && (t == RF_TYPE_Q3_K || t == RF_TYPE_Q4_K)) t = RF_TYPE_Q5_K;
    } else if (c == SC_FFN_DOWN) {
        if (ft == RF_FTYPE_MOSTLY_Q2_K) t = RF_TYPE_Q3_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_M) t = layer < n / 16 ? RF_TYPE_Q5_K : RF_TYPE_Q4_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_L) t = RF_TYPE_Q5_K;
        else if (ft == RF_FTYPE_MOSTLY_Q4_K_M) { if (synth_more_bits(layer, n)) t = RF_TYPE_Q6_K; }
        else if (layer < n / 8 && (ft == RF_FTYPE_MOSTLY_IQ4_NL || ft == RF_FTYPE_MOSTLY_IQ4_XS)) t = RF_TYPE_Q5_K;
        else if (ft == RF_FTYPE_MOSTLY_Q5_K_M && synth_more_bits(layer, n)) t = RF_TYPE_Q6_K;
        else if (ft == RF_FTYPE_MOSTLY_Q4_K_S && layer < n / 8) t = RF_TYPE_Q5_K;
    } else if (c == SC_ATTN_OUTPUT) {
        if (ft == RF_FTYPE_MOSTLY_Q2_K) t = RF_TYPE_Q3_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_M) t = RF_TYPE_Q4_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_L) t = RF_TYPE_Q5_K;
    }
    return t;
}

/* llama.cpp's tensor_type_fallback for rows that do not fit the block. */
static rf_type synth_fallback(rf_type t, uint64_t ncols)
{
    if (ncols % rf_type_get((uint32_t)t)->block_size == 0) return t;
    rf_type r = t;
    switch (t) {
    case RF_TYPE_IQ4_XS: r = RF_TYPE_IQ4_NL; break;
    case RF_TYPE_Q2_K: case RF_TYPE_Q3_K: r = RF_TYPE_Q4_0; break;
    case RF_TYPE_Q4_K: r = RF_TYPE_Q5_0; break;
    case RF_TYPE_Q5_K: r = RF_TYPE_Q5_1; break;
    case RF_TYPE_Q6_K: r = RF_TYPE_Q8_0; break;
    default: break;
    }
    if (ncols % rf_type_get((uint32_t)r)->block_size != 0) r = RF_TYPE_F16;
    return r;
}

static void synth_add(synth_job *j, synth_cat c, int layer, const char *name, uint32_t n_dims, uint64_t ne0, uint64_t ne1)
{
    synth_tensor *t = &j->t[j->n_t++];
    memset(t, 0, sizeof *t);
    if (layer >= 0) snprintf(t->name, sizeof t->name, "blk.%d.%s", layer, name);
    else snprintf(t->name, sizeof t->name, "%s", name);
    t->cat = c;
    t->layer = layer;
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
}

/* Tensors of the architecture, in llama.cpp's order (outside blocks first,
 * then by block, by name within a block). */
static int synth_plan(synth_job *j)
{
    const synth_shape *s = j->sh;
    const int hd = synth_head_dim(s);
    const uint64_t q_dim = (uint64_t)s->n_head * hd, kv_dim = (uint64_t)s->n_head_kv * hd;
    const bool qkv_bias = !strcmp(s->arch, "qwen2"), qk_norm = !strcmp(s->arch, "qwen3");
    if (!s->tied) synth_add(j, SC_OUTPUT, -1, "output.weight", 2, s->n_embd, s->n_vocab);
    synth_add(j, SC_NORM, -1, "output_norm.weight", 1, s->n_embd, 1);
    if (s->rope_scaling == SYNTH_ROPE_LLAMA3) synth_add(j, SC_ROPE_FREQS, -1, "rope_freqs.weight", 1, hd / 2, 1);
    synth_add(j, SC_TOKEN_EMBD, -1, "token_embd.weight", 2, s->n_embd, s->n_vocab);
    for (int l = 0; l < s->n_layer; l++) {
        /* alphabetical within the block */
        if (qkv_bias) synth_add(j, SC_BIAS, l, "attn_k.bias", 1, kv_dim, 1);
        synth_add(j, SC_ATTN_K, l, "attn_k.weight", 2, s->n_embd, kv_dim);
        if (qk_norm) synth_add(j, SC_NORM, l, "attn_k_norm.weight", 1, hd, 1);
        synth_add(j, SC_NORM, l, "attn_norm.weight", 1, s->n_embd, 1);
        synth_add(j, SC_ATTN_OUTPUT, l, "attn_output.weight", 2, q_dim, s->n_embd);
        if (qkv_bias) synth_add(j, SC_BIAS, l, "attn_q.bias", 1, q_dim, 1);
        synth_add(j, SC_ATTN_Q, l, "attn_q.weight", 2, s->n_embd, q_dim);
        if (qk_norm) synth_add(j, SC_NORM, l, "attn_q_norm.weight", 1, hd, 1);
        if (qkv_bias) synth_add(j, SC_BIAS, l, "attn_v.bias", 1, kv_dim, 1);
        synth_add(j, SC_ATTN_V, l, "attn_v.weight", 2, s->n_embd, kv_dim);
        synth_add(j, SC_FFN_DOWN, l, "ffn_down.weight", 2, s->n_ff, s->n_embd);
        synth_add(j, SC_FFN_GATE, l, "ffn_gate.weight", 2, s->n_embd, s->n_ff);
        synth_add(j, SC_NORM, l, "ffn_norm.weight", 1, s->n_embd, 1);
        synth_add(j, SC_FFN_UP, l, "ffn_up.weight", 2, s->n_embd, s->n_ff);
    }
    return j->n_t;
}

static rf_status synth_pool_get(synth_job *j, rf_type type, uint64_t width, synth_pool **out, rf_error *err)
{
    for (int i = 0; i < j->n_pools; i++)
        if (j->pools[i].type == type && j->pools[i].width == width) {
            *out = &j->pools[i];
            return RF_OK;
        }
    if (j->n_pools == SYNTH_MAX_POOLS)
        return rf_err(err, RF_ERR_UNSUPPORTED, "synth: more than %d distinct (type, row length) pairs", SYNTH_MAX_POOLS);
    synth_pool *p = &j->pools[j->n_pools];
    p->type = type;
    p->width = width;
    p->row_bytes = rf_type_row_bytes(type, width);
    float *f = rf_malloc(SYNTH_POOL_ROWS * width * sizeof(float), err, "synth row pool");
    p->rows = rf_malloc(SYNTH_POOL_ROWS * p->row_bytes, err, "synth row pool");
    if (!f || !p->rows) {
        free(f);
        free(p->rows);
        p->rows = NULL;
        return RF_ERR_NOMEM;
    }
    /* same floats for a given (seed, width) whatever the type */
    uint64_t st = j->seed ^ (width * 0x9e3779b97f4a7c15ull);
    const float scale = 1.0f / sqrtf((float)width);
    for (uint64_t i = 0; i < SYNTH_POOL_ROWS * width; i++)
        f[i] = synth_normal(&st) * scale;
    rf_status rc = rf_quantize_rows(type, f, p->rows, SYNTH_POOL_ROWS, (int64_t)width, err);
    free(f);
    if (rc != RF_OK) {
        free(p->rows);
        p->rows = NULL;
        return rc;
    }
    j->n_pools++;
    *out = p;
    return RF_OK;
}

static rf_status synth_fill(void *user, uint64_t index, void *buf, uint64_t nbytes, rf_error *err)
{
    synth_job *j = user;
    if (index >= (uint64_t)j->n_t)
        return rf_err(err, RF_ERR_INVALID_ARG, "synth: tensor index %llu out of range", (unsigned long long)index);
    const synth_tensor *t = &j->t[index];
    uint64_t st = j->seed ^ synth_hash(t->name);
    float *f = buf;
    switch (t->cat) {
    case SC_NORM:
        for (uint64_t i = 0; i < t->ne[0]; i++) f[i] = 1.0f;
        return RF_OK;
    case SC_BIAS:
        for (uint64_t i = 0; i < t->ne[0]; i++) f[i] = 0.02f * synth_normal(&st);
        return RF_OK;
    case SC_ROPE_FREQS:
        memcpy(buf, j->rope_freqs, nbytes);
        return RF_OK;
    default: {
        const synth_pool *p = t->pool;
        uint8_t *d = buf;
        for (uint64_t r = 0; r < t->ne[1]; r++)
            memcpy(d + r * p->row_bytes, p->rows + (synth_splitmix(&st) % SYNTH_POOL_ROWS) * p->row_bytes, p->row_bytes);
        return RF_OK;
    }
    }
}

/* Llama 3.1 rope frequency factors, as llama.cpp's converter computes them
 * into rope_freqs.weight (one divisor per rotary pair). */
static void synth_llama3_freqs(const synth_shape *s, float *out)
{
    const int hd = synth_head_dim(s);
    const double low_wl = s->rope_orig_ctx / s->rope_low_freq, high_wl = s->rope_orig_ctx / s->rope_high_freq;
    for (int i = 0; i < hd / 2; i++) {
        double freq = 1.0 / pow(s->rope_theta, 2.0 * i / hd);
        double wl = 2.0 * M_PI / freq;
        if (wl < high_wl) out[i] = 1.0f;
        else if (wl > low_wl) out[i] = s->rope_factor;
        else {
            double smooth = (s->rope_orig_ctx / wl - s->rope_low_freq) / (s->rope_high_freq - s->rope_low_freq);
            out[i] = (float)(1.0 / ((1 - smooth) / s->rope_factor + smooth));
        }
    }
}

/* ------------------------------------------------------------ tokenizer */

/* A SentencePiece-style vocabulary of n tokens: <unk> <s> </s>, the 256 byte
 * tokens, then filler words. Enough for llama.cpp's loader and ours. */
static rf_status synth_vocab(gguf_writer *w, int n, rf_error *err)
{
    if (n < 260)
        return rf_err(err, RF_ERR_INVALID_ARG, "synth: n_vocab %d too small for a synthetic vocabulary (>= 260)", n);
    char **tok = calloc((size_t)n, sizeof *tok);
    float *score = malloc((size_t)n * sizeof *score);
    int32_t *type = malloc((size_t)n * sizeof *type);
    char *text = malloc((size_t)n * 16);
    rf_status rc = RF_ERR_NOMEM;
    if (!tok || !score || !type || !text) {
        rf_err(err, RF_ERR_NOMEM, "synth: out of memory for a %d-token vocabulary", n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        char *t = text + (size_t)i * 16;
        if (i == 0) { strcpy(t, "<unk>"); type[i] = 2; }
        else if (i == 1) { strcpy(t, "<s>"); type[i] = 3; }
        else if (i == 2) { strcpy(t, "</s>"); type[i] = 3; }
        else if (i < 259) { snprintf(t, 16, "<0x%02X>", i - 3); type[i] = 6; }
        else { snprintf(t, 16, "\xe2\x96\x81w%d", i - 259); type[i] = 1; }
        tok[i] = t;
        score[i] = i < 259 ? 0.0f : -(float)(i - 259);
    }
    if ((rc = gguf_writer_set_str(w, "tokenizer.ggml.model", "llama", err)) ||
        (rc = gguf_writer_set_str(w, "tokenizer.ggml.pre", "default", err)) ||
        (rc = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, (uint64_t)n, err)) ||
        (rc = gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", score, (uint64_t)n, err)) ||
        (rc = gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", type, (uint64_t)n, err)) ||
        (rc = gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1, err)) ||
        (rc = gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2, err)) ||
        (rc = gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0, err)) ||
        (rc = gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true, err)))
        goto done;
    rc = RF_OK;
done:
    free(tok);
    free(score);
    free(type);
    free(text);
    return rc;
}

/* Opens another GGUF for its tokenizer; returns its vocabulary size. */
static rf_status synth_vocab_open(const char *path, gguf_file **out, int *n_vocab, rf_error *err)
{
    gguf_file *f = NULL;
    rf_status rc = gguf_open(path, &f, err);
    if (rc != RF_OK)
        return rc;
    const gguf_value *toks = NULL;
    if (!gguf_get_arr(f, "tokenizer.ggml.tokens", &toks) || toks->v.arr.etype != GGUF_VT_STRING ||
        toks->v.arr.n < 1 || toks->v.arr.n > (1u << 22)) {
        gguf_free(f);
        return rf_err(err, RF_ERR_FORMAT, "synth: %s has no usable tokenizer.ggml.tokens array", path);
    }
    *n_vocab = (int)toks->v.arr.n;
    *out = f;
    return RF_OK;
}

/* Copies every tokenizer.* key of f. */
static rf_status synth_vocab_copy(gguf_writer *w, const gguf_file *f, rf_error *err)
{
    rf_status rc = RF_OK;
    for (uint64_t i = 0; i < f->n_kv && rc == RF_OK; i++) {
        const gguf_kv *kv = &f->kv[i];
        if (kv->key.len > 10 && !memcmp(kv->key.ptr, "tokenizer.", 10))
            rc = gguf_writer_copy_value(w, f, kv, err);
    }
    return rc;
}

/* ------------------------------------------------------------ metadata */

static rf_status synth_meta(gguf_writer *w, const synth_shape *s, rf_ftype ft, int n_vocab, rf_error *err)
{
    char key[128], name[160];
    rf_status rc;
    const char *a = s->arch;
    const int hd = synth_head_dim(s);
    snprintf(name, sizeof name, "synth %s", s->name);
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
    if ((rc = gguf_writer_set_str(w, "general.architecture", a, err)) ||
        (rc = gguf_writer_set_str(w, "general.name", name, err)) ||
        (rc = gguf_writer_set_u32(w, "general.file_type", (uint32_t)ft, err)) ||
        (rc = gguf_writer_set_u32(w, "general.quantization_version", 2, err)) ||
        (rc = gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)n_vocab, err)) ||
        (rc = gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)s->n_ctx, err)) ||
        (rc = gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)s->n_embd, err)) ||
        (rc = gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)s->n_layer, err)) ||
        (rc = gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)s->n_ff, err)) ||
        (rc = gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head, err)) ||
        (rc = gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv, err)) ||
        (rc = gguf_writer_set_f32(w, KEY("rope.freq_base"), s->rope_theta, err)) ||
        (rc = gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), s->norm_eps, err)) ||
        (rc = gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)hd, err)))
        return rc;
    if (hd * s->n_head != s->n_embd &&
        ((rc = gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)hd, err)) ||
         (rc = gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)hd, err))))
        return rc;
#undef KEY
    return RF_OK;
}

/* ------------------------------------------------------------ command */

static void synth_usage(FILE *f)
{
    fprintf(f,
            "usage: rocmforge synth --arch ARCH --shape NAME|k=v,... --type TYPE -o OUT.gguf\n"
            "                       [--seed N] [--vocab-from VOCAB.gguf] [-q]\n"
            "  ARCH   llama | qwen2 | qwen3 (must match a named shape's architecture)\n"
            "  NAME   ");
    for (const synth_shape *s = synth_shapes; s->name; s++)
        fprintf(f, "%s%s", s->name, s[1].name ? ", " : "\n");
    fprintf(f,
            "  k=v    custom dims: n_embd n_layer n_head n_head_kv head_dim n_ff n_vocab n_ctx tied\n"
            "         rope_theta norm_eps llama3_rope=FACTOR:ORIG_CTX (defaults: the tiny shape)\n"
            "  TYPE   %s\n"
            "  --vocab-from copies the tokenizer of another GGUF (e.g. ggml-vocab-llama-bpe.gguf);\n"
            "         its vocabulary size replaces the shape's. Default: a synthetic SentencePiece vocab.\n",
            rf_ftype_names());
}

static void synth_progress(void *user, uint64_t done, uint64_t total)
{
    if (*(bool *)user || !isatty(2))
        return;
    fprintf(stderr, "\rsynth: %llu/%llu tensors", (unsigned long long)done, (unsigned long long)total);
    if (done == total) fputc('\n', stderr);
}

int cmd_synth(int argc, char **argv)
{
    const char *arch = NULL, *shape = NULL, *type = NULL, *out = NULL, *vocab_from = NULL;
    uint64_t seed = 1;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { synth_usage(stdout); return 0; }
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { quiet = true; continue; }
        if (!v) {
            fprintf(stderr, "synth: %s needs a value (or is unknown)\n", a);
            synth_usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--shape")) shape = v;
        else if (!strcmp(a, "--type")) type = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--vocab-from")) vocab_from = v;
        else if (!strcmp(a, "--seed")) {
            char *end;
            seed = strtoull(v, &end, 10);
            if (end == v || *end) { fprintf(stderr, "synth: bad --seed '%s'\n", v); return 2; }
        } else {
            fprintf(stderr, "synth: unknown option '%s'\n", a);
            synth_usage(stderr);
            return 2;
        }
        i++;
    }
    if (!shape || !type || !out) {
        fprintf(stderr, "synth: --shape, --type and -o are required\n");
        synth_usage(stderr);
        return 2;
    }
    synth_shape sh;
    const synth_shape *named = strchr(shape, '=') ? NULL : synth_shape_find(shape);
    if (named) {
        if (arch && strcmp(arch, named->arch)) {
            fprintf(stderr, "synth: shape '%s' is a %s model, not %s\n", shape, named->arch, arch);
            return 2;
        }
        sh = *named;
    } else if (strchr(shape, '=')) {
        char msg[256];
        if (!arch) arch = "llama";
        if (!synth_arch_supported(arch)) {
            fprintf(stderr, "synth: unsupported --arch '%s' (llama, qwen2, qwen3)\n", arch);
            return 2;
        }
        if (!synth_shape_parse(arch, shape, &sh, msg, sizeof msg)) {
            fprintf(stderr, "synth: %s\n", msg);
            return 2;
        }
    } else {
        fprintf(stderr, "synth: unknown shape '%s'\n", shape);
        synth_usage(stderr);
        return 2;
    }
    rf_ftype ft;
    if (!rf_ftype_from_name(type, &ft)) {
        fprintf(stderr, "synth: unknown --type '%s' (%s)\n", type, rf_ftype_names());
        return 2;
    }
    const rf_type def = synth_default_type(ft);
    const bool mix = rf_type_get((uint32_t)def)->quantized;

    rf_error err = {0};
    rf_status rc = RF_OK;
    synth_job job;
    memset(&job, 0, sizeof job);
    job.seed = seed;
    gguf_file *vf = NULL;
    gguf_writer *w = gguf_writer_new(&err);
    if (!w) goto fail;
    int n_vocab = sh.n_vocab;
    if (vocab_from) {
        if ((rc = synth_vocab_open(vocab_from, &vf, &n_vocab, &err)) != RF_OK) goto fail;
        if (n_vocab != sh.n_vocab && !quiet)
            fprintf(stderr, "synth: vocabulary of %s has %d tokens; using that instead of %d\n", vocab_from, n_vocab,
                    sh.n_vocab);
        sh.n_vocab = n_vocab;
    }
    job.sh = &sh;
    job.t = calloc((size_t)sh.n_layer * 16 + 8, sizeof *job.t);
    if (!job.t) { rc = rf_err(&err, RF_ERR_NOMEM, "synth: out of memory"); goto fail; }
    synth_plan(&job);
    if (sh.rope_scaling == SYNTH_ROPE_LLAMA3) {
        job.rope_freqs = malloc(sizeof(float) * (size_t)(synth_head_dim(&sh) / 2));
        if (!job.rope_freqs) { rc = rf_err(&err, RF_ERR_NOMEM, "synth: out of memory"); goto fail; }
        /* llama.cpp's converter stores llama3 scaling only as this tensor */
        synth_llama3_freqs(&sh, job.rope_freqs);
    }
    /* general.* and architecture keys, then the tokenizer, as converters do */
    if ((rc = synth_meta(w, &sh, ft, n_vocab, &err)) != RF_OK) goto fail;
    if (vf) rc = synth_vocab_copy(w, vf, &err);
    else rc = synth_vocab(w, n_vocab, &err);
    if (rc != RF_OK) goto fail;

    uint64_t n_params = 0, n_bytes = 0;
    for (int i = 0; i < job.n_t; i++) {
        synth_tensor *t = &job.t[i];
        if (t->cat == SC_NORM || t->cat == SC_BIAS || t->cat == SC_ROPE_FREQS) {
            t->type = RF_TYPE_F32;
        } else {
            rf_type ty = def;
            if (mix) ty = synth_fallback(synth_mix_type(&sh, ft, def, t->cat, t->layer), t->ne[0]);
            else if (t->ne[0] % rf_type_get((uint32_t)ty)->block_size) ty = RF_TYPE_F16;
            t->type = ty;
            if ((rc = synth_pool_get(&job, ty, t->ne[0], &t->pool, &err)) != RF_OK) goto fail;
        }
        rc = gguf_writer_add_tensor_fill(w, t->name, t->type, t->n_dims, t->ne, synth_fill, &job, &err);
        if (rc != RF_OK) goto fail;
        n_params += t->ne[0] * t->ne[1];
        n_bytes += rf_type_row_bytes(t->type, t->ne[0]) * t->ne[1];
    }
    if (!quiet)
        fprintf(stderr, "synth: %s (%s) %s: %.3f M params, %.3f GiB, %d tensors -> %s\n", sh.name, sh.arch, type,
                n_params / 1e6, n_bytes / 1073741824.0, job.n_t, out);
    double t0 = rf_time_now();
    if ((rc = gguf_writer_write(w, out, synth_progress, &quiet, &err)) != RF_OK) goto fail;
    if (!quiet)
        fprintf(stderr, "synth: wrote %s in %.1f s\n", out, rf_time_now() - t0);
    gguf_writer_free(w);
    gguf_free(vf);
    for (int i = 0; i < job.n_pools; i++) free(job.pools[i].rows);
    free(job.t);
    free(job.rope_freqs);
    return 0;
fail:
    fprintf(stderr, "synth: %s\n", err.msg[0] ? err.msg : rf_status_name(rc));
    gguf_writer_free(w);
    gguf_free(vf);
    for (int i = 0; i < job.n_pools; i++) free(job.pools[i].rows);
    free(job.t);
    free(job.rope_freqs);
    return 1;
}
