/* quant_model.c — whole-model quantization (see quant_model.h).
 *
 * The per-tensor type choice mirrors llama.cpp's llama-quant.cpp rules for
 * the file types we produce; the comments name the rule each branch
 * implements. Tensors are visited in llama.cpp's order (non-block tensors
 * first, then by block number, then by name) because some rules count
 * tensors as they go (the i-th attn_v gets more bits), and written in that
 * order too. Each tensor is converted while it is written (streamed), row
 * by row over a few threads, so memory stays at one tensor.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "gguf/gguf_write.h"
#include "quant/quant.h"
#include "quant/quant_model.h"

/* ------------------------------------------------------------ file types */
typedef struct ftype_row { const char *name; rf_ftype ft; rf_type def; } ftype_row;
static const ftype_row ftypes[] = {
    {"Q4_0", RF_FTYPE_MOSTLY_Q4_0, RF_TYPE_Q4_0},     {"Q4_1", RF_FTYPE_MOSTLY_Q4_1, RF_TYPE_Q4_1},
    {"Q5_0", RF_FTYPE_MOSTLY_Q5_0, RF_TYPE_Q5_0},     {"Q5_1", RF_FTYPE_MOSTLY_Q5_1, RF_TYPE_Q5_1},
    {"Q8_0", RF_FTYPE_MOSTLY_Q8_0, RF_TYPE_Q8_0},     {"Q2_K", RF_FTYPE_MOSTLY_Q2_K, RF_TYPE_Q2_K},
    {"Q3_K_S", RF_FTYPE_MOSTLY_Q3_K_S, RF_TYPE_Q3_K}, {"Q3_K_M", RF_FTYPE_MOSTLY_Q3_K_M, RF_TYPE_Q3_K},
    {"Q3_K", RF_FTYPE_MOSTLY_Q3_K_M, RF_TYPE_Q3_K},   {"Q3_K_L", RF_FTYPE_MOSTLY_Q3_K_L, RF_TYPE_Q3_K},
    {"Q4_K_S", RF_FTYPE_MOSTLY_Q4_K_S, RF_TYPE_Q4_K}, {"Q4_K_M", RF_FTYPE_MOSTLY_Q4_K_M, RF_TYPE_Q4_K},
    {"Q4_K", RF_FTYPE_MOSTLY_Q4_K_M, RF_TYPE_Q4_K},   {"Q5_K_S", RF_FTYPE_MOSTLY_Q5_K_S, RF_TYPE_Q5_K},
    {"Q5_K_M", RF_FTYPE_MOSTLY_Q5_K_M, RF_TYPE_Q5_K}, {"Q5_K", RF_FTYPE_MOSTLY_Q5_K_M, RF_TYPE_Q5_K},
    {"Q6_K", RF_FTYPE_MOSTLY_Q6_K, RF_TYPE_Q6_K},     {"IQ4_NL", RF_FTYPE_MOSTLY_IQ4_NL, RF_TYPE_IQ4_NL},
    {"IQ4_XS", RF_FTYPE_MOSTLY_IQ4_XS, RF_TYPE_IQ4_XS}, {"F16", RF_FTYPE_MOSTLY_F16, RF_TYPE_F16},
    {"BF16", RF_FTYPE_MOSTLY_BF16, RF_TYPE_BF16},     {"F32", RF_FTYPE_ALL_F32, RF_TYPE_F32},
};
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

bool rf_ftype_from_name(const char *name, rf_ftype *out)
{
    for (size_t i = 0; name && i < N_FTYPES; i++)
        if (!strcasecmp(name, ftypes[i].name)) {
            *out = ftypes[i].ft;
            return true;
        }
    return false;
}

const char *rf_ftype_names(void)
{
    return "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K_S, Q3_K_M (Q3_K), Q3_K_L, Q4_K_S, Q4_K_M (Q4_K), Q5_K_S, "
           "Q5_K_M (Q5_K), Q6_K, IQ4_NL, IQ4_XS, F16, BF16, F32";
}

static rf_type ftype_default(rf_ftype ft)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].ft == ft) return ftypes[i].def;
    return RF_TYPE_COUNT;
}

/* --------------------------------------------------------------- tensors */
typedef enum cat {
    CAT_TOKEN_EMBD, CAT_ATTN_Q, CAT_ATTN_V, CAT_ATTN_K, CAT_ATTN_QKV, CAT_ATTN_KV_B, CAT_ATTN_OUTPUT,
    CAT_FFN_UP, CAT_FFN_GATE, CAT_FFN_DOWN, CAT_OUTPUT, CAT_OTHER
} cat;

typedef struct qtensor {
    char name[128];
    int layer;                 /* blk.N., -1 otherwise */
    const gguf_tensor *src;
    uint32_t n_dims;           /* without trailing 1s, as ggml counts */
    cat category;
    rf_type target;
} qtensor;

static bool has(const char *s, const char *sub) { return strstr(s, sub) != NULL; }
static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static cat category_of(const char *n)
{
    if (!strcmp(n, "output.weight")) return CAT_OUTPUT;
    if (!strcmp(n, "token_embd.weight") || !strcmp(n, "per_layer_token_embd.weight")) return CAT_TOKEN_EMBD;
    if (has(n, "attn_qkv.weight")) return CAT_ATTN_QKV;
    if (has(n, "attn_kv_b.weight")) return CAT_ATTN_KV_B;
    if (has(n, "attn_v.weight")) return CAT_ATTN_V;
    if (has(n, "attn_k.weight")) return CAT_ATTN_K;
    if (has(n, "attn_q.weight")) return CAT_ATTN_Q;
    if (has(n, "attn_output.weight")) return CAT_ATTN_OUTPUT;
    if (has(n, "ffn_up")) return CAT_FFN_UP;
    if (has(n, "ffn_gate")) return CAT_FFN_GATE;
    if (has(n, "ffn_down")) return CAT_FFN_DOWN;
    return CAT_OTHER;
}
static bool cat_is_attn_v(cat c) { return c == CAT_ATTN_V || c == CAT_ATTN_QKV || c == CAT_ATTN_KV_B; }

/* llama.cpp's tensor_allows_quantization: 2-D+ tensors named *weight,
 * except norms, MoE routers and a list of small or position tensors. */
static bool allows_quantization(const qtensor *t)
{
    static const char *never[] = {
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
        "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
        "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
        ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    };
    if (t->n_dims < 2) return false;
    if (!ends_with(t->name, "weight")) return false;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (has(t->name, never[i])) return false;
    if (!strcmp(t->name, "position_embd.weight") || !strcmp(t->name, "token_types.weight")) return false;
    return true;
}

typedef struct model_facts {
    bool falcon;
    bool is_70b;               /* llama with 80 layers and grouped KV heads */
    int n_layer;
    int n_gqa;                 /* n_head / n_head_kv */
    int n_expert;
    bool tied_embeddings;      /* no output.weight */
    int n_attention_wv, i_attention_wv, i_ffn_down, i_ffn_gate, i_ffn_up;
} model_facts;

static bool use_more_bits(int i_layer, int n_layer)
{
    return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

/* Layer of a per-layer tensor: counted (dense models), or parsed from the
 * name (MoE models, where experts may not be in layer order). */
static int layer_index(const model_facts *m, int counter, const qtensor *t)
{
    return m->n_expert > 1 && t->layer >= 0 ? t->layer : counter;
}

/* llama.cpp's llama_tensor_get_type_impl, for the file types we support. */
static rf_type mix_type(model_facts *m, rf_type new_type, const qtensor *t, rf_ftype ft)
{
    const cat c = t->category;
    if (c == CAT_OUTPUT || (m->tied_embeddings && c == CAT_TOKEN_EMBD)) {
        const rf_type_traits *tr = rf_type_get((uint32_t)new_type);
        if (m->falcon || t->src->ne[0] % tr->block_size != 0) new_type = RF_TYPE_Q8_0;
        else if (new_type != RF_TYPE_Q8_0) new_type = RF_TYPE_Q6_K;
    } else if (c == CAT_TOKEN_EMBD) {
        /* unchanged for the types we produce */
    } else if (cat_is_attn_v(c)) {
        if (ft == RF_FTYPE_MOSTLY_Q2_K) new_type = m->n_gqa >= 4 ? RF_TYPE_Q4_K : RF_TYPE_Q3_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_M) new_type = m->i_attention_wv < 2 ? RF_TYPE_Q5_K : RF_TYPE_Q4_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_L) new_type = RF_TYPE_Q5_K;
        else if ((ft == RF_FTYPE_MOSTLY_IQ4_NL || ft == RF_FTYPE_MOSTLY_IQ4_XS) && m->n_gqa >= 4) new_type = RF_TYPE_Q5_K;
        else if ((ft == RF_FTYPE_MOSTLY_Q4_K_M || ft == RF_FTYPE_MOSTLY_Q5_K_M) &&
                 use_more_bits(m->i_attention_wv, m->n_attention_wv))
            new_type = RF_TYPE_Q6_K;
        else if (ft == RF_FTYPE_MOSTLY_Q4_K_S && m->i_attention_wv < 4) new_type = RF_TYPE_Q5_K;
        /* 70B: attn_v is 8x smaller than attn_q (8 heads share it), so more bits are cheap */
        if (m->is_70b && (new_type == RF_TYPE_Q3_K || new_type == RF_TYPE_Q4_K)) new_type = RF_TYPE_Q5_K;
        if (m->n_expert == 8) new_type = RF_TYPE_Q8_0;
        m->i_attention_wv++;
    } else if (c == CAT_ATTN_K) {
        if (m->n_expert == 8) new_type = RF_TYPE_Q8_0;
    } else if (c == CAT_ATTN_Q) {
        /* unchanged for the types we produce */
    } else if (c == CAT_FFN_DOWN) {
        const int i_layer = layer_index(m, m->i_ffn_down, t), n_layer = m->n_layer;
        if (ft == RF_FTYPE_MOSTLY_Q2_K) new_type = RF_TYPE_Q3_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_M)
            new_type = i_layer < n_layer / 16 ? RF_TYPE_Q5_K
                     : !m->falcon || use_more_bits(i_layer, n_layer) ? RF_TYPE_Q4_K : RF_TYPE_Q3_K;
        else if (ft == RF_FTYPE_MOSTLY_Q3_K_L) new_type = m->falcon ? RF_TYPE_Q4_K : RF_TYPE_Q5_K;
        else if (ft == RF_FTYPE_MOSTLY_Q4_K_M) {
            if (m->falcon)
                new_type = i_layer < n_layer / 16 ? RF_TYPE_Q6_K : use_more_bits(i_layer, n_layer) ? RF_TYPE_Q5_K : RF_TYPE_Q4_K;
            else if (use_more_bits(i_layer, n_layer)) new_type = RF_TYPE_Q6_K;
        } else if (i_layer < n_layer / 8 && (ft == RF_FTYPE_MOSTLY_IQ4_NL || ft == RF_FTYPE_MOSTLY_IQ4_XS))
            new_type = RF_TYPE_Q5_K;
        else if (ft == RF_FTYPE_MOSTLY_Q5_K_M && use_more_bits(i_layer, n_layer)) new_type = RF_TYPE_Q6_K;
        else if (ft == RF_FTYPE_MOSTLY_Q4_K_S && !m->falcon && i_layer < n_layer / 8) new_type = RF_TYPE_Q5_K;
        m->i_ffn_down++;
    } else if (c == CAT_ATTN_OUTPUT) {
        if (!m->falcon) {
            if (m->n_expert == 8) {
                if (ft == RF_FTYPE_MOSTLY_Q2_K || ft == RF_FTYPE_MOSTLY_Q3_K_S || ft == RF_FTYPE_MOSTLY_Q3_K_M ||
                    ft == RF_FTYPE_MOSTLY_IQ4_NL || ft == RF_FTYPE_MOSTLY_Q4_K_S || ft == RF_FTYPE_MOSTLY_Q4_K_M ||
                    ft == RF_FTYPE_MOSTLY_IQ4_XS)
                    new_type = RF_TYPE_Q5_K;
            } else {
                if (ft == RF_FTYPE_MOSTLY_Q2_K) new_type = RF_TYPE_Q3_K;
                else if (ft == RF_FTYPE_MOSTLY_Q3_K_M) new_type = RF_TYPE_Q4_K;
                else if (ft == RF_FTYPE_MOSTLY_Q3_K_L) new_type = RF_TYPE_Q5_K;
            }
        } else if (ft == RF_FTYPE_MOSTLY_Q3_K_L) {
            new_type = RF_TYPE_Q4_K;
        }
    } else if (c == CAT_FFN_GATE) {
        m->i_ffn_gate++;
    } else if (c == CAT_FFN_UP) {
        m->i_ffn_up++;
    }
    return new_type;
}

/* llama.cpp's tensor_type_fallback: rows that are not a multiple of the
 * block size take a 32-block type of similar size, or F16. */
static rf_type fallback_type(const qtensor *t, rf_type target, bool *fell_back)
{
    const uint64_t ncols = t->src->ne[0];
    const rf_type_traits *tr = rf_type_get((uint32_t)target);
    *fell_back = false;
    if (ncols % tr->block_size == 0) return target;
    *fell_back = true;
    rf_type r = target;
    switch (target) {
    case RF_TYPE_IQ4_XS: r = RF_TYPE_IQ4_NL; break;
    case RF_TYPE_Q2_K: case RF_TYPE_Q3_K: r = RF_TYPE_Q4_0; break;
    case RF_TYPE_Q4_K: r = RF_TYPE_Q5_0; break;
    case RF_TYPE_Q5_K: r = RF_TYPE_Q5_1; break;
    case RF_TYPE_Q6_K: r = RF_TYPE_Q8_0; break;
    default: break;   /* already a 32-block type */
    }
    if (ncols % rf_type_get((uint32_t)r)->block_size != 0) r = RF_TYPE_F16;
    return r;
}

/* llama.cpp's weight order: tensors outside blocks first, then by block
 * number, then by name. */
static int qtensor_cmp(const void *a, const void *b)
{
    const qtensor *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* ------------------------------------------------------------ conversion */
typedef struct convert_job {
    const qtensor *t;
    int n_threads;
    uint8_t *dst;
    rf_status status;
} convert_job;

typedef struct convert_part { convert_job *job; int ith; pthread_t th; rf_status st; } convert_part;

static void *convert_rows(void *arg)
{
    convert_part *part = arg;
    const qtensor *t = part->job->t;
    const gguf_tensor *s = t->src;
    const int64_t n_per_row = (int64_t)s->ne[0];
    const int64_t n_rows = (int64_t)(s->n_elements / s->ne[0]);
    const int64_t r0 = n_rows * part->ith / part->job->n_threads, r1 = n_rows * (part->ith + 1) / part->job->n_threads;
    const uint64_t src_rb = rf_type_row_bytes(s->type, (uint64_t)n_per_row);
    const uint64_t dst_rb = rf_type_row_bytes(t->target, (uint64_t)n_per_row);
    const rf_quant_ops *from = rf_quant_get(s->type), *to = rf_quant_get(t->target);
    float *row = s->type == RF_TYPE_F32 ? NULL : malloc((size_t)n_per_row * sizeof(float));
    part->st = RF_OK;
    if (s->type != RF_TYPE_F32 && !row) {
        part->st = RF_ERR_NOMEM;
        return NULL;
    }
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *src = s->data + (uint64_t)r * src_rb;
        const float *x;
        if (row) {
            from->dequantize_row(src, row, n_per_row);
            x = row;
        } else {
            x = (const float *)src;
        }
        to->quantize_row(x, part->job->dst + (uint64_t)r * dst_rb, n_per_row);
    }
    free(row);
    return NULL;
}

static rf_status fill_tensor(void *user, uint64_t index, void *buf, uint64_t nbytes, rf_error *err)
{
    convert_job *job = user;
    (void)index;
    (void)nbytes;
    job->dst = buf;
    int n = job->n_threads;
    const int64_t n_rows = (int64_t)(job->t->src->n_elements / job->t->src->ne[0]);
    if (n > n_rows) n = (int)n_rows;
    if (n < 1) n = 1;
    convert_part parts[64];
    if (n > 64) n = 64;
    job->n_threads = n;
    int started = 0;
    for (int i = 1; i < n; i++) {
        parts[i] = (convert_part){job, i, 0, RF_OK};
        if (pthread_create(&parts[i].th, NULL, convert_rows, &parts[i])) break;
        started = i;
    }
    if (started < n - 1) {
        /* could not start every thread: redo with what we have, serially */
        for (int i = 1; i <= started; i++) pthread_join(parts[i].th, NULL);
        job->n_threads = 1;
        parts[0] = (convert_part){job, 0, 0, RF_OK};
        convert_rows(&parts[0]);
        n = 1;
    } else {
        parts[0] = (convert_part){job, 0, 0, RF_OK};
        convert_rows(&parts[0]);
        for (int i = 1; i < n; i++) pthread_join(parts[i].th, NULL);
    }
    for (int i = 0; i < n; i++)
        if (parts[i].st != RF_OK)
            return rf_err(err, parts[i].st, "quantize: out of memory converting tensor '%s'", job->t->name);
    return RF_OK;
}

/* ------------------------------------------------------------------ main */
static void progress_line(void *user, uint64_t done, uint64_t total)
{
    (void)user;
    fprintf(stderr, "\rquantize: %llu/%llu tensors", (unsigned long long)done, (unsigned long long)total);
    if (done == total) fputc('\n', stderr);
}

rf_status rf_quantize_model(const char *in_path, const char *out_path, const rf_quantize_params *p, rf_error *err)
{
    const rf_type def = ftype_default(p->ftype);
    if (def == RF_TYPE_COUNT) return rf_err(err, RF_ERR_INVALID_ARG, "quantize: unknown file type %d", (int)p->ftype);
    gguf_file *f = NULL;
    rf_status st = gguf_open(in_path, &f, err);
    if (st != RF_OK) return st;
    gguf_writer *w = NULL;
    qtensor *ts = NULL;
    convert_job *jobs = NULL;

    model_facts m = {0};
    char *arch = gguf_get_str_dup(f, "general.architecture");
    uint32_t v = 0;
    if (arch) {
        m.falcon = !strcmp(arch, "falcon");
        if (gguf_get_arch_u32(f, arch, "block_count", &v)) m.n_layer = (int)v;
        uint32_t n_head = 0, n_head_kv = 0;
        if (gguf_get_arch_u32(f, arch, "attention.head_count", &n_head)) {
            if (!gguf_get_arch_u32(f, arch, "attention.head_count_kv", &n_head_kv)) n_head_kv = n_head;
            m.n_gqa = n_head_kv ? (int)(n_head / n_head_kv) : 0;
        }
        if (gguf_get_arch_u32(f, arch, "expert_count", &v)) m.n_expert = (int)v;
        m.is_70b = !strcmp(arch, "llama") && m.n_layer == 80 && n_head != n_head_kv;
    }
    free(arch);
    if (m.n_expert < 1) m.n_expert = 1;

    ts = rf_calloc(f->n_tensors ? f->n_tensors : 1, sizeof(qtensor), err, "quantize tensor list");
    jobs = rf_calloc(f->n_tensors ? f->n_tensors : 1, sizeof(convert_job), err, "quantize jobs");
    if (!ts || !jobs) {
        st = err ? err->code : RF_ERR_NOMEM;
        goto done;
    }
    m.tied_embeddings = true;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        qtensor *t = &ts[i];
        const gguf_tensor *s = &f->tensors[i];
        if (s->name.len >= sizeof t->name) {
            st = rf_err(err, RF_ERR_UNSUPPORTED, "quantize: tensor name of %llu bytes is too long", (unsigned long long)s->name.len);
            goto done;
        }
        memcpy(t->name, s->name.ptr, (size_t)s->name.len);
        t->name[s->name.len] = 0;
        t->src = s;
        t->layer = -1;
        if (sscanf(t->name, "blk.%d.", &t->layer) != 1) t->layer = -1;
        t->n_dims = 1;
        for (uint32_t d = 0; d < s->n_dims && d < 4; d++)
            if (s->ne[d] > 1) t->n_dims = d + 1;
        t->category = category_of(t->name);
        if (cat_is_attn_v(t->category)) m.n_attention_wv++;
        if (t->category == CAT_OUTPUT) m.tied_embeddings = false;
        if (!s->data) {
            st = rf_err(err, RF_ERR_FORMAT, "quantize: %s has no tensor data (vocabulary-only file?)", in_path);
            goto done;
        }
        const rf_type_traits *tr = rf_type_get((uint32_t)s->type);
        if (!tr || tr->removed || s->ne[0] == 0 || s->n_elements == 0 || s->ne[0] % tr->block_size) {
            st = rf_err(err, RF_ERR_FORMAT, "quantize: tensor '%s' has an empty or invalid shape for %s", t->name,
                        rf_type_name((uint32_t)s->type));
            goto done;
        }
    }
    qsort(ts, (size_t)f->n_tensors, sizeof(qtensor), qtensor_cmp);

    w = gguf_writer_new(err);
    if (!w) {
        st = err ? err->code : RF_ERR_NOMEM;
        goto done;
    }
    /* metadata as llama.cpp writes it: everything, then the two quantization
     * keys moved to the end, minus the split keys */
    if ((st = gguf_writer_copy_kv(w, f, NULL, err)) != RF_OK) goto done;
    gguf_writer_remove(w, "general.quantization_version");
    if ((st = gguf_writer_set_u32(w, "general.quantization_version", 2, err)) != RF_OK) goto done;
    gguf_writer_remove(w, "general.file_type");
    if ((st = gguf_writer_set_u32(w, "general.file_type", (uint32_t)p->ftype, err)) != RF_OK) goto done;
    gguf_writer_remove(w, "split.no");
    gguf_writer_remove(w, "split.count");
    gguf_writer_remove(w, "split.tensors.count");

    const bool quantized_default = rf_type_get((uint32_t)def)->quantized;
    int n_threads = p->n_threads > 0 ? p->n_threads : rf_cpu_count();
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        qtensor *t = &ts[i];
        const gguf_tensor *s = t->src;
        rf_type target = s->type;
        bool fell_back = false;
        if (allows_quantization(t)) {
            target = def;
            if (quantized_default) {
                target = mix_type(&m, target, t, p->ftype);
                target = fallback_type(t, target, &fell_back);
            }
        }
        t->target = target;
        uint64_t ne[4] = {s->ne[0], s->ne[1], s->ne[2], s->ne[3]};
        if (target == s->type) {
            st = gguf_writer_add_tensor(w, t->name, target, t->n_dims, ne, s->data, s->n_bytes, err);
        } else {
            const rf_type_traits *str = rf_type_get((uint32_t)s->type);
            if (!rf_quant_get(s->type))
                st = rf_err(err, RF_ERR_UNSUPPORTED, "quantize: tensor '%s' is %s, which cannot be converted", t->name,
                            rf_type_name((uint32_t)s->type));
            else if (str && str->quantized && !p->allow_requantize)
                st = rf_err(err, RF_ERR_UNSUPPORTED,
                            "quantize: tensor '%s' is already %s; requantizing loses quality (pass --allow-requantize)",
                            t->name, str->name);
            else {
                jobs[i] = (convert_job){t, n_threads, NULL, RF_OK};
                st = gguf_writer_add_tensor_fill(w, t->name, target, t->n_dims, ne, fill_tensor, &jobs[i], err);
            }
        }
        if (st != RF_OK) goto done;
        if (p->verbose)
            fprintf(stderr, "%-40s %-6s -> %-6s%s\n", t->name, rf_type_name((uint32_t)s->type), rf_type_name((uint32_t)target),
                    fell_back ? " (row length does not fit the block size: fallback)" : "");
    }
    st = gguf_writer_write(w, out_path, p->progress && !p->verbose ? progress_line : NULL, NULL, err);
done:
    gguf_writer_free(w);
    free(jobs);
    free(ts);
    gguf_free(f);
    return st;
}
