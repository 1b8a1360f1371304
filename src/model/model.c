/* model.c — loading a model: metadata -> rf_hparams, tensors -> weight
 * bindings checked against the shapes the architecture implies, vocabulary,
 * and the CPU backend that runs them.
 *
 * Weights stay in their GGUF type, used in place in the mmap'd file. One
 * deliberate exception: a quantized tensor whose rows are not a whole number
 * of blocks (the stories260K Q8_0 file's ffn_down has rows of 172 in Q8_0)
 * can only be read as one flat run of blocks over all its elements; such a
 * tensor is dequantized at load into an F32 copy (logged with -v). Current
 * llama.cpp refuses these files; the test fixtures for it come from the same
 * flat-run reading done by ggml's own dequantizer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/gpu/gpu.h"
#include "base/base.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#define MODEL_MAX_DIM (1 << 20)
#define MODEL_MAX_LAYERS 1024

rf_model_params rf_model_default_params(void)
{
    rf_model_params p;
    memset(&p, 0, sizeof p);
    p.device_kind = RF_DEVICE_AUTO;
    p.n_gpu_layers = -1;
    return p;
}

const rf_vocab *rf_model_vocab(const rf_model *m)
{
    return m ? m->vocab : NULL;
}

/* ------------------------------------------------------------ metadata */

typedef struct hp_reader {
    const gguf_file *f;
    const char *arch;
    rf_error *err;
} hp_reader;

/* A per-model u32 key; required keys fail with a message naming the key.
 * Per-layer arrays (some families vary n_ff per layer) are accepted only
 * when all entries are equal. */
static rf_status hp_u32(hp_reader *r, const char *suffix, bool required, uint32_t def, uint32_t lo, uint32_t hi,
                        int *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->arch, suffix);
    uint32_t v = def;
    const gguf_kv *kv = gguf_find(r->f, key);
    if (!kv) {
        if (required) return rf_err(r->err, RF_ERR_FORMAT, "model: metadata key '%s' is missing", key);
    } else if (kv->val.type == GGUF_VT_ARRAY) {
        const gguf_value *a = &kv->val;
        if (a->v.arr.n == 0 || gguf_vtype_size(a->v.arr.etype) == 0 || a->v.arr.etype == GGUF_VT_FLOAT32 ||
            a->v.arr.etype == GGUF_VT_FLOAT64)
            return rf_err(r->err, RF_ERR_FORMAT, "model: metadata key '%s' is an array of the wrong type", key);
        int64_t first = gguf_arr_i64(a, 0);
        for (uint64_t i = 1; i < a->v.arr.n; i++)
            if (gguf_arr_i64(a, i) != first)
                return rf_err(r->err, RF_ERR_UNSUPPORTED, "model: '%s' varies per layer, which is not supported", key);
        if (first < 0 || first > UINT32_MAX)
            return rf_err(r->err, RF_ERR_FORMAT, "model: metadata key '%s' = %lld out of range", key, (long long)first);
        v = (uint32_t)first;
    } else if (!gguf_get_u32(r->f, key, &v)) {
        return rf_err(r->err, RF_ERR_FORMAT, "model: metadata key '%s' is not an unsigned integer", key);
    }
    if (v < lo || v > hi)
        return rf_err(r->err, RF_ERR_FORMAT, "model: metadata key '%s' = %u out of range [%u, %u]", key, v, lo, hi);
    *out = (int)v;
    return RF_OK;
}

static float hp_f32(hp_reader *r, const char *suffix, float def)
{
    float v;
    return gguf_get_arch_f32(r->f, r->arch, suffix, &v) ? v : def;
}

static rf_status hparams_read(rf_model *m, rf_error *err)
{
    hp_reader r = {m->gguf, m->arch_name, err};
    rf_hparams *hp = &m->hp;
    const rf_arch *a = m->arch;
    rf_status s;
    if ((s = hp_u32(&r, "embedding_length", true, 0, 1, MODEL_MAX_DIM, &hp->n_embd))) return s;
    if ((s = hp_u32(&r, "block_count", true, 0, 1, MODEL_MAX_LAYERS, &hp->n_layer))) return s;
    if ((s = hp_u32(&r, "feed_forward_length", true, 0, 1, MODEL_MAX_DIM, &hp->n_ff))) return s;
    if ((s = hp_u32(&r, "attention.head_count", true, 0, 1, 4096, &hp->n_head))) return s;
    if ((s = hp_u32(&r, "attention.head_count_kv", false, (uint32_t)hp->n_head, 1, 4096, &hp->n_head_kv))) return s;
    if ((s = hp_u32(&r, "context_length", false, 2048, 1, 1u << 30, &hp->n_ctx_train))) return s;
    if (hp->n_head % hp->n_head_kv)
        return rf_err(err, RF_ERR_FORMAT, "model: head_count %d is not a multiple of head_count_kv %d", hp->n_head,
                      hp->n_head_kv);
    int hd_default = hp->n_embd / hp->n_head;
    if ((s = hp_u32(&r, "attention.key_length", false, (uint32_t)hd_default, 1, RF_BACKEND_MAX_HEAD_DIM, &hp->head_dim)))
        return s;
    int hd_v;
    if ((s = hp_u32(&r, "attention.value_length", false, (uint32_t)hp->head_dim, 1, RF_BACKEND_MAX_HEAD_DIM, &hd_v)))
        return s;
    if (hd_v != hp->head_dim)
        return rf_err(err, RF_ERR_UNSUPPORTED, "model: key_length %d != value_length %d is not supported", hp->head_dim,
                      hd_v);
    if ((s = hp_u32(&r, "rope.dimension_count", false, (uint32_t)hp->head_dim, 2, (uint32_t)hp->head_dim, &hp->n_rot)))
        return s;
    if (hp->n_rot % 2) return rf_err(err, RF_ERR_FORMAT, "model: rope.dimension_count %d is odd", hp->n_rot);
    char key[128];
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", m->arch_name);
    if (!gguf_get_f32(m->gguf, key, &hp->norm_eps))
        return rf_err(err, RF_ERR_FORMAT, "model: metadata key '%s' is missing (only RMSNorm models are supported)", key);

    hp->rope_base = hp_f32(&r, "rope.freq_base", 10000.0f);
    /* gemma2 runs local layers at the global base; others default to 10000 */
    hp->rope_base_swa = hp_f32(&r, "rope.freq_base_swa", a->swa_period == 2 ? hp->rope_base : 10000.0f);

    /* RoPE scaling, as llama.cpp reads it: a type (default linear) and a
     * factor (0 = none); YaRN adds the extrapolation mix and its
     * magnitude correction. */
    char *stype = NULL;
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch_name);
    stype = gguf_get_str_dup(m->gguf, key);
    float factor = hp_f32(&r, "rope.scaling.factor", 0.0f);
    if (factor == 0.0f) factor = hp_f32(&r, "rope.scale_linear", 0.0f);
    hp->rope_freq_scale = factor == 0.0f ? 1.0f : 1.0f / factor;
    bool yarn = false;
    if (stype) {
        if (!strcmp(stype, "none")) hp->rope_freq_scale = 1.0f;
        else if (!strcmp(stype, "yarn")) yarn = true;
        else if (strcmp(stype, "linear") && strcmp(stype, "longrope")) {
            rf_status st = rf_err(err, RF_ERR_UNSUPPORTED,
                                  "model: rope scaling type '%s' is not supported (none, linear, yarn, longrope)", stype);
            free(stype);
            return st;
        }
        free(stype);
    }
    int orig;
    if ((s = hp_u32(&r, "rope.scaling.original_context_length", false, (uint32_t)hp->n_ctx_train, 1, 1u << 30, &orig)))
        return s;
    hp->n_ctx_orig = orig;
    hp->rope_ext_factor = yarn ? 1.0f : 0.0f;
    hp->rope_attn_factor = 1.0f;
    if (yarn) {
        float fac = 1.0f / hp->rope_freq_scale;
        float log_mul = hp_f32(&r, "rope.scaling.yarn_log_multiplier", 0.0f);
        float ms = fac <= 1.0f ? 1.0f : 0.1f * logf(fac) + 1.0f;
        if (log_mul != 0.0f) {
            float ms_all = fac <= 1.0f ? 1.0f : 0.1f * log_mul * logf(fac) + 1.0f;
            hp->rope_attn_factor = ms / ms_all;
        } else {
            hp->rope_attn_factor = ms;
        }
        /* the kernel multiplies by 1 + 0.1 ln(factor) again: cancel it (as llama.cpp does) */
        hp->rope_attn_factor *= 1.0f / (1.0f + 0.1f * logf(fac));
    }
    hp->rope_attn_factor *= hp_f32(&r, "rope.scaling.attn_factor", 1.0f);
    hp->yarn_beta_fast = hp_f32(&r, "rope.scaling.yarn_beta_fast", 32.0f);
    hp->yarn_beta_slow = hp_f32(&r, "rope.scaling.yarn_beta_slow", 1.0f);

    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    /* gemma's 27B shapes scale by n_embd/n_head (query_pre_attn_scalar) */
    if (a->gemma_attn_scale && ((!strcmp(a->name, "gemma2") && hp->n_layer == 46) ||
                                (!strcmp(a->name, "gemma3") && hp->n_layer == 62)))
        hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    if (a->attn_softcap) hp->attn_softcap = hp_f32(&r, "attn_logit_softcapping", 50.0f);
    if (a->final_softcap) hp->final_softcap = hp_f32(&r, "final_logit_softcapping", a->attn_softcap ? 30.0f : 0.0f);
    hp->embd_scale = a->embd_scale ? sqrtf((float)hp->n_embd) : 1.0f;

    /* sliding window: which layers, how wide */
    int n_swa = 0, period = a->swa_period;
    snprintf(key, sizeof key, "%s.attention.sliding_window", m->arch_name);
    bool has_swa = gguf_find(m->gguf, key) != NULL;
    if (has_swa && (s = hp_u32(&r, "attention.sliding_window", false, 0, 0, 1u << 30, &n_swa))) return s;
    if (!has_swa) n_swa = a->swa_default;
    if (a->swa_ignored) n_swa = 0;
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", m->arch_name);
    if (gguf_find(m->gguf, key) && (s = hp_u32(&r, "attention.sliding_window_pattern", false, 0, 0, 1u << 16, &period)))
        return s;
    hp->n_swa = n_swa;
    for (int l = 0; l < hp->n_layer; l++) {
        /* period p: layers l % p < p - 1 are local, every p-th is global;
         * no period with a window (Mistral-style llama): all layers local */
        if (n_swa > 0) m->layers[l].swa = period == 0 || (l % period < period - 1);
    }
    return RF_OK;
}

/* ------------------------------------------------------------- tensors */

static const gguf_tensor *tensor_find(const rf_model *m, const char *name)
{
    return gguf_find_tensor(m->gguf, name);
}

/* Bind tensor `name` expecting ne = (n_cols, n_rows). Vectors (n_rows == 1
 * and one dimension) must be F32. A missing optional tensor leaves w zeroed
 * (w->host == NULL). */
static rf_status bind_ex(rf_model *m, rf_bweight *w, const char *name, int64_t n_cols, int64_t n_rows, bool required,
                         bool lookup_only, rf_error *err)
{
    memset(w, 0, sizeof *w);
    w->lookup_only = lookup_only;
    const gguf_tensor *t = tensor_find(m, name);
    if (!t) {
        if (!required) return RF_OK;
        return rf_err(err, RF_ERR_FORMAT, "model: tensor '%s' is missing (expected shape [%lld, %lld])", name,
                      (long long)n_cols, (long long)n_rows);
    }
    bool is_vec = n_rows == 1;
    bool shape_ok = t->ne[0] == (uint64_t)n_cols && t->ne[1] == (uint64_t)n_rows && t->ne[2] == 1 && t->ne[3] == 1;
    if (!shape_ok)
        return rf_err(err, RF_ERR_FORMAT,
                      "model: tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]", name,
                      (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
                      (unsigned long long)t->ne[3], (long long)n_cols, (long long)n_rows);
    if (!t->data) return rf_err(err, RF_ERR_FORMAT, "model: tensor '%s' has no data", name);
    const rf_type_traits *tr = rf_type_get(t->type);
    if (!tr || tr->removed || tr->block_size == 0)
        return rf_err(err, RF_ERR_UNSUPPORTED, "model: tensor '%s' has unsupported type %s", name, rf_type_name(t->type));
    snprintf(w->name, sizeof w->name, "%s", name);
    w->n_rows = n_rows;
    w->n_cols = n_cols;
    w->type = t->type;
    w->host = t->data;
    if (is_vec && t->type != RF_TYPE_F32)
        return rf_err(err, RF_ERR_UNSUPPORTED, "model: tensor '%s' has type %s; norm and bias vectors must be F32",
                      name, rf_type_name(t->type));
    if (n_cols % tr->block_size) {
        /* the flat-run exception, see the file comment */
        uint64_t n = t->n_elements;
        if (n % tr->block_size)
            return rf_err(err, RF_ERR_FORMAT, "model: tensor '%s' (%s) has %llu elements, not whole blocks", name,
                          tr->name, (unsigned long long)n);
        if (!rf_cpu_matmul_supports(t->type) && t->type != RF_TYPE_F32)
            return rf_err(err, RF_ERR_UNSUPPORTED, "model: tensor '%s': type %s is not supported by the CPU kernels",
                          name, tr->name);
        void **owned = realloc(m->owned, (size_t)(m->n_owned + 1) * sizeof *owned);
        if (!owned) return rf_err(err, RF_ERR_NOMEM, "model: out of memory for tensor '%s'", name);
        m->owned = owned;
        float *f = rf_malloc(n * sizeof(float), err, name);
        if (!f) return RF_ERR_NOMEM;
        m->owned[m->n_owned++] = f;
        rf_status s = rf_cpu_dequantize_row(t->type, t->data, f, (int64_t)n, err);
        if (s) return s;
        w->type = RF_TYPE_F32;
        w->host = f;
    }
    w->row_stride = (size_t)rf_type_row_bytes(w->type, (uint64_t)n_cols);
    const uint8_t *map = m->gguf->map;
    w->host_in_file = map && w->host == t->data && (const uint8_t *)t->data >= map &&
                      (const uint8_t *)t->data < map + m->gguf->map_len;
    uint64_t need;
    if (w->host == t->data && (rf_mul_ovf((uint64_t)n_rows, w->row_stride, &need) || need > t->n_bytes))
        return rf_err(err, RF_ERR_FORMAT, "model: tensor '%s' data is shorter than its shape", name);
    return m->backend.ops->weight_bind(m->backend.ctx, w, err);
}

static rf_status bind(rf_model *m, rf_bweight *w, const char *name, int64_t n_cols, int64_t n_rows, bool required,
                      rf_error *err)
{
    return bind_ex(m, w, name, n_cols, n_rows, required, false, err);
}

static rf_status bind_rope_factors(rf_model *m, const char *name, int n, const float **out, rf_error *err)
{
    *out = NULL;
    const gguf_tensor *t = tensor_find(m, name);
    if (!t) return RF_OK;
    if (t->type != RF_TYPE_F32 || t->ne[0] < (uint64_t)n || t->n_elements != t->ne[0] || !t->data)
        return rf_err(err, RF_ERR_FORMAT, "model: tensor '%s' must be F32 of at least %d elements (has %llu, %s)", name,
                      n, (unsigned long long)t->ne[0], rf_type_name(t->type));
    *out = (const float *)t->data;
    return RF_OK;
}

/* The weights' device memory, checked as a whole before the first upload
 * (a backend that allocates from host memory has no mem_info). */
static rf_status weights_plan(rf_model *m, const char *path, rf_error *err)
{
    const rf_backend_ops *o = m->backend.ops;
    if (!o->mem_info) return RF_OK;
    uint64_t need = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) need += m->gguf->tensors[i].n_bytes;
    size_t fr = 0, tot = 0;
    rf_status s = o->mem_info(m->backend.ctx, &fr, &tot, err);
    if (s != RF_OK) return s;
    if (need > (uint64_t)fr)
        return rf_err(err, RF_ERR_NOMEM,
                      "memory plan: model '%s' needs %.1f MiB of device memory for its weights, but %s has "
                      "%.1f MiB free of %.1f MiB: run it on the CPU (--cpu or -ngl 0) or use a smaller quantization",
                      path, need / 1048576.0, o->device_name ? o->device_name(m->backend.ctx) : o->name,
                      fr / 1048576.0, tot / 1048576.0);
    return RF_OK;
}

static rf_status weights_bind(rf_model *m, rf_error *err)
{
    const rf_hparams *hp = &m->hp;
    const rf_arch *a = m->arch;
    const gguf_tensor *te = tensor_find(m, "token_embd.weight");
    if (!te) return rf_err(err, RF_ERR_FORMAT, "model: tensor 'token_embd.weight' is missing");
    if (te->ne[1] == 0 || te->ne[1] > (1u << 24))
        return rf_err(err, RF_ERR_FORMAT, "model: tensor 'token_embd.weight' has %llu rows",
                      (unsigned long long)te->ne[1]);
    m->hp.n_vocab = (int)te->ne[1];
    int64_t E = hp->n_embd, V = hp->n_vocab, hd = hp->head_dim;
    int64_t q_dim = (int64_t)hp->n_head * hd, kv_dim = (int64_t)hp->n_head_kv * hd;
    rf_status s;
    /* with tied embeddings the table is also the output matrix */
    const bool tied = tensor_find(m, "output.weight") == NULL;
    if ((s = bind_ex(m, &m->tok_embd, "token_embd.weight", E, V, true, !tied, err))) return s;
    if ((s = bind(m, &m->output_norm, "output_norm.weight", E, 1, true, err))) return s;
    if ((s = bind(m, &m->output, "output.weight", E, V, false, err))) return s;
    if (!m->output.host) m->output = m->tok_embd; /* tied embeddings */
    if (m->output.type != RF_TYPE_F32 && !m->backend.ops->supports(m->backend.ctx, m->output.type))
        return rf_err(err, RF_ERR_UNSUPPORTED, "model: tensor '%s': type %s is not supported by the %s backend",
                      m->output.name, rf_type_name(m->output.type), m->backend.ops->name);

    if ((s = bind_rope_factors(m, "rope_freqs.weight", hp->n_rot / 2, &m->rope_freqs_w, err))) return s;
    if (a->rope_long_short) {
        if ((s = bind_rope_factors(m, "rope_factors_long.weight", hp->n_rot / 2, &m->rope_long, err))) return s;
        if ((s = bind_rope_factors(m, "rope_factors_short.weight", hp->n_rot / 2, &m->rope_short, err))) return s;
    }

    char nm[128];
#define NAME(fmt) (snprintf(nm, sizeof nm, "blk.%d." fmt, l), nm)
    for (int l = 0; l < hp->n_layer; l++) {
        rf_layer *L = &m->layers[l];
        if ((s = bind(m, &L->attn_norm, NAME("attn_norm.weight"), E, 1, true, err))) return s;
        if (tensor_find(m, NAME("attn_qkv.weight"))) {
            if ((s = bind(m, &L->wqkv, nm, E, q_dim + 2 * kv_dim, true, err))) return s;
        } else {
            if ((s = bind(m, &L->wq, NAME("attn_q.weight"), E, q_dim, true, err))) return s;
            if ((s = bind(m, &L->wk, NAME("attn_k.weight"), E, kv_dim, true, err))) return s;
            if ((s = bind(m, &L->wv, NAME("attn_v.weight"), E, kv_dim, true, err))) return s;
        }
        if (a->qkv_bias) {
            if ((s = bind(m, &L->bq, NAME("attn_q.bias"), q_dim, 1, true, err))) return s;
            if ((s = bind(m, &L->bk, NAME("attn_k.bias"), kv_dim, 1, true, err))) return s;
            if ((s = bind(m, &L->bv, NAME("attn_v.bias"), kv_dim, 1, true, err))) return s;
        }
        if (a->qk_norm) {
            if ((s = bind(m, &L->q_norm, NAME("attn_q_norm.weight"), hd, 1, true, err))) return s;
            if ((s = bind(m, &L->k_norm, NAME("attn_k_norm.weight"), hd, 1, true, err))) return s;
        }
        if ((s = bind(m, &L->wo, NAME("attn_output.weight"), q_dim, E, true, err))) return s;
        if (a->post_norms) {
            if ((s = bind(m, &L->attn_post_norm, NAME("post_attention_norm.weight"), E, 1, true, err))) return s;
            if ((s = bind(m, &L->ffn_post_norm, NAME("post_ffw_norm.weight"), E, 1, true, err))) return s;
        }
        if ((s = bind(m, &L->ffn_norm, NAME("ffn_norm.weight"), E, 1, true, err))) return s;
        if (a->fused_gate_up && !tensor_find(m, NAME("ffn_gate.weight"))) {
            if ((s = bind(m, &L->w_up, NAME("ffn_up.weight"), E, 2 * (int64_t)hp->n_ff, true, err))) return s;
        } else {
            if ((s = bind(m, &L->w_gate, NAME("ffn_gate.weight"), E, hp->n_ff, true, err))) return s;
            if ((s = bind(m, &L->w_up, NAME("ffn_up.weight"), E, hp->n_ff, true, err))) return s;
        }
        if ((s = bind(m, &L->w_down, NAME("ffn_down.weight"), hp->n_ff, E, true, err))) return s;
    }
#undef NAME
    return RF_OK;
}

/* Touch every page of the mapping so the load cost is paid up front, with a
 * progress bar when stderr is a terminal. */
static void pages_touch(const gguf_file *f, bool bar)
{
    if (!f->buf || !f->len) return;
    volatile uint8_t sink = 0;
    size_t step = 4096, n = f->len, next = 0;
    for (size_t i = 0; i < n; i += step) {
        sink ^= f->buf[i];
        if (bar && i >= next) {
            int pct = (int)((double)i * 100.0 / (double)n);
            fprintf(stderr, "\rloading %3d%% [%-40.*s]", pct, pct * 40 / 100,
                    "========================================");
            next = i + n / 100 + 1;
        }
    }
    if (bar) fprintf(stderr, "\rloading 100%% [========================================]\n");
    (void)sink;
}

rf_status rf_model_load(const char *path, const rf_model_params *params, rf_model **out, rf_error *err)
{
    rf_model_params dp = rf_model_default_params();
    if (!params) params = &dp;
    if (!path || !out) return rf_err(err, RF_ERR_INVALID_ARG, "rf_model_load: path and out are required");
    *out = NULL;
    rf_model *m = rf_calloc(1, sizeof *m, err, "model");
    if (!m) return RF_ERR_NOMEM;
    rf_status s = gguf_open(path, &m->gguf, err);
    if (s) goto fail;
    m->arch_name = gguf_get_str_dup(m->gguf, "general.architecture");
    if (!m->arch_name) {
        s = rf_err(err, RF_ERR_FORMAT, "model '%s': metadata key 'general.architecture' is missing", path);
        goto fail;
    }
    m->name = gguf_get_str_dup(m->gguf, "general.name");
    m->chat_template = gguf_get_str_dup(m->gguf, "tokenizer.chat_template");
    m->vocab_only = params->vocab_only;
    m->verbose = params->verbose;
    if ((s = rf_vocab_load(m->gguf, &m->vocab, err))) goto fail;
    if (params->vocab_only) {
        *out = m;
        return RF_OK;
    }
    m->arch = rf_arch_find(m->arch_name);
    if (!m->arch) {
        s = rf_err(err, RF_ERR_UNSUPPORTED, "model '%s': architecture '%s' is not supported (supported: %s)", path,
                   m->arch_name, rf_arch_list());
        goto fail;
    }
    m->n_threads = params->n_threads > 0 ? params->n_threads : rf_cpu_count();
    /* GPU when asked for (or present under AUTO), else the CPU */
    if ((s = rf_backend_select(params, m->n_threads, &m->backend, err))) goto fail;
    {
        uint32_t nl = 0;
        if (!gguf_get_arch_u32(m->gguf, m->arch_name, "block_count", &nl) || nl == 0 || nl > MODEL_MAX_LAYERS) {
            s = rf_err(err, RF_ERR_FORMAT, "model '%s': metadata key '%s.block_count' is missing or out of range", path,
                       m->arch_name);
            goto fail;
        }
        m->layers = rf_calloc(nl, sizeof *m->layers, err, "layers");
        if (!m->layers) { s = RF_ERR_NOMEM; goto fail; }
    }
    if ((s = hparams_read(m, err))) goto fail;
    if ((s = weights_plan(m, path, err))) goto fail;
    /* before binding: a backend that keeps its own copy of a weight (CPU
     * repacking) drops the file's pages of it as it binds, and they stay out */
    pages_touch(m->gguf, params->progress && isatty(2) && m->gguf->len > (64u << 20));
    if ((s = weights_bind(m, err))) goto fail;
    if (m->hp.n_vocab != rf_vocab_n_tokens(m->vocab) && rf_vocab_n_tokens(m->vocab) > m->hp.n_vocab) {
        s = rf_err(err, RF_ERR_FORMAT, "model '%s': vocabulary has %d tokens but token_embd has %d rows", path,
                   rf_vocab_n_tokens(m->vocab), m->hp.n_vocab);
        goto fail;
    }
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) m->n_params += m->gguf->tensors[i].n_elements;
    if (params->verbose) {
        double wbytes = 0;
        for (uint64_t i = 0; i < m->gguf->n_tensors; i++) wbytes += (double)m->gguf->tensors[i].n_bytes;
        fprintf(stderr, "model: %s, %d layers, n_embd %d, heads %d/%d, head_dim %d, n_ff %d, vocab %d, weights %.1f MiB"
                        " (mmap), %d load-time F32 copies\n",
                m->arch_name, m->hp.n_layer, m->hp.n_embd, m->hp.n_head, m->hp.n_head_kv, m->hp.head_dim, m->hp.n_ff,
                m->hp.n_vocab, wbytes / 1048576.0, m->n_owned);
    }
    *out = m;
    return RF_OK;
fail:
    rf_model_free(m);
    return s;
}

void rf_model_free(rf_model *m)
{
    if (!m) return;
    if (m->backend.ops && m->backend.ops->destroy) m->backend.ops->destroy(m->backend.ctx);
    if (m->vocab) rf_vocab_free(m->vocab);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->arch_name);
    free(m->name);
    free(m->chat_template);
    gguf_free(m->gguf);
    free(m);
}

void rf_model_get_info(const rf_model *m, rf_model_info *out)
{
    memset(out, 0, sizeof *out);
    if (!m) return;
    out->arch = m->arch_name ? m->arch_name : "";
    out->name = m->name ? m->name : "";
    out->n_vocab = m->hp.n_vocab ? m->hp.n_vocab : (m->vocab ? rf_vocab_n_tokens(m->vocab) : 0);
    out->n_ctx_train = m->hp.n_ctx_train;
    out->n_embd = m->hp.n_embd;
    out->n_layer = m->hp.n_layer;
    out->n_head = m->hp.n_head;
    out->n_head_kv = m->hp.n_head_kv;
    out->n_params = m->n_params;
    out->backend = m->backend.ops ? m->backend.ops->name : "none";
}
