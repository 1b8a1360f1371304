/* synth_shapes.c — hyperparameters of real models, from their published
 * Hugging Face config.json files (hidden_size, num_hidden_layers,
 * num_attention_heads, num_key_value_heads, head_dim, intermediate_size,
 * vocab_size, rope_theta, rope_scaling, rms_norm_eps, max_position_embeddings,
 * tie_word_embeddings). Only the shape matters to synth; weights are random.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/synth.h"

#define L3(f) SYNTH_ROPE_LLAMA3, f, 1.0f, 4.0f, 8192

const synth_shape synth_shapes[] = {
    /* name            arch     embd  lay head kv hd  n_ff   vocab   ctx     theta      eps   scaling          tied */
    {"llama-2-7b",     "llama", 4096, 32, 32, 32, 0, 11008, 32000,  4096,   10000.0f,  1e-5f, SYNTH_ROPE_NONE, 0, 0, 0, 0, false},
    {"llama-2-13b",    "llama", 5120, 40, 40, 40, 0, 13824, 32000,  4096,   10000.0f,  1e-5f, SYNTH_ROPE_NONE, 0, 0, 0, 0, false},
    {"llama-3-8b",     "llama", 4096, 32, 32, 8,  0, 14336, 128256, 8192,   500000.0f, 1e-5f, SYNTH_ROPE_NONE, 0, 0, 0, 0, false},
    {"llama-3.1-8b",   "llama", 4096, 32, 32, 8,  0, 14336, 128256, 131072, 500000.0f, 1e-5f, L3(8.0f), false},
    {"llama-3-70b",    "llama", 8192, 80, 64, 8,  0, 28672, 128256, 8192,   500000.0f, 1e-5f, SYNTH_ROPE_NONE, 0, 0, 0, 0, false},
    {"llama-3.2-1b",   "llama", 2048, 16, 32, 8, 64, 8192,  128256, 131072, 500000.0f, 1e-5f, L3(32.0f), true},
    {"llama-3.2-3b",   "llama", 3072, 28, 24, 8, 128, 8192, 128256, 131072, 500000.0f, 1e-5f, L3(32.0f), true},
    {"mistral-7b",     "llama", 4096, 32, 32, 8,  0, 14336, 32768,  32768,  1000000.0f, 1e-5f, SYNTH_ROPE_NONE, 0, 0, 0, 0, false},
    {"qwen2.5-0.5b",   "qwen2", 896,  24, 14, 2,  0, 4864,  151936, 32768,  1000000.0f, 1e-6f, SYNTH_ROPE_NONE, 0, 0, 0, 0, true},
    {"qwen2.5-1.5b",   "qwen2", 1536, 28, 12, 2,  0, 8960,  151936, 32768,  1000000.0f, 1e-6f, SYNTH_ROPE_NONE, 0, 0, 0, 0, true},
    {"qwen2.5-7b",     "qwen2", 3584, 28, 28, 4,  0, 18944, 152064, 32768,  1000000.0f, 1e-6f, SYNTH_ROPE_NONE, 0, 0, 0, 0, false},
    {"qwen3-0.6b",     "qwen3", 1024, 28, 16, 8, 128, 3072, 151936, 40960,  1000000.0f, 1e-6f, SYNTH_ROPE_NONE, 0, 0, 0, 0, true},
    {"qwen3-8b",       "qwen3", 4096, 36, 32, 8, 128, 12288, 151936, 40960, 1000000.0f, 1e-6f, SYNTH_ROPE_NONE, 0, 0, 0, 0, false},
    /* for tests: every dimension small, GQA on */
    {"tiny",           "llama", 64,   2,  4,  2,  0, 128,   512,    2048,   10000.0f,  1e-5f, SYNTH_ROPE_NONE, 0, 0, 0, 0, false},
    {NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, SYNTH_ROPE_NONE, 0, 0, 0, 0, false},
};

bool synth_arch_supported(const char *arch)
{
    return arch && (!strcmp(arch, "llama") || !strcmp(arch, "qwen2") || !strcmp(arch, "qwen3"));
}

const synth_shape *synth_shape_find(const char *name)
{
    for (const synth_shape *s = synth_shapes; s->name; s++)
        if (!strcasecmp(s->name, name))
            return s;
    return NULL;
}

static bool parse_int(const char *v, int lo, long hi, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return false;
    *out = (int)x;
    return true;
}

bool synth_shape_parse(const char *arch, const char *spec, synth_shape *s, char *err, int n_err)
{
    /* defaults: the tiny shape, in the requested architecture */
    *s = *synth_shape_find("tiny");
    s->name = "custom";
    s->arch = arch;
    if (!strcmp(arch, "qwen2") || !strcmp(arch, "qwen3")) {
        s->rope_theta = 1000000.0f;
        s->norm_eps = 1e-6f;
    }
    char buf[512];
    if (strlen(spec) >= sizeof buf) {
        snprintf(err, (size_t)n_err, "shape spec too long");
        return false;
    }
    strcpy(buf, spec);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, (size_t)n_err, "shape item '%s' is not key=value", kv);
            return false;
        }
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        bool ok = true;
        int tmp = 0;
        if (!strcmp(k, "n_embd")) ok = parse_int(v, 1, 1 << 17, &s->n_embd);
        else if (!strcmp(k, "n_layer")) ok = parse_int(v, 1, 1024, &s->n_layer);
        else if (!strcmp(k, "n_head")) ok = parse_int(v, 1, 4096, &s->n_head);
        else if (!strcmp(k, "n_head_kv")) ok = parse_int(v, 1, 4096, &s->n_head_kv);
        else if (!strcmp(k, "head_dim")) ok = parse_int(v, 0, 4096, &s->head_dim);
        else if (!strcmp(k, "n_ff")) ok = parse_int(v, 1, 1 << 20, &s->n_ff);
        else if (!strcmp(k, "n_vocab")) ok = parse_int(v, 260, 1 << 22, &s->n_vocab);
        else if (!strcmp(k, "n_ctx")) ok = parse_int(v, 1, 1 << 24, &s->n_ctx);
        else if (!strcmp(k, "tied")) { ok = parse_int(v, 0, 1, &tmp); s->tied = tmp; }
        else if (!strcmp(k, "rope_theta")) { s->rope_theta = strtof(v, NULL); ok = s->rope_theta > 0; }
        else if (!strcmp(k, "norm_eps")) { s->norm_eps = strtof(v, NULL); ok = s->norm_eps > 0; }
        else if (!strcmp(k, "llama3_rope")) {
            /* llama3_rope=FACTOR:ORIG_CTX (low 1, high 4 as in every Llama 3.x) */
            char *colon = strchr(v, ':');
            s->rope_scaling = SYNTH_ROPE_LLAMA3;
            s->rope_factor = strtof(v, NULL);
            s->rope_low_freq = 1.0f;
            s->rope_high_freq = 4.0f;
            ok = s->rope_factor >= 1.0f && colon && parse_int(colon + 1, 1, 1 << 24, &s->rope_orig_ctx);
        } else {
            snprintf(err, (size_t)n_err,
                     "unknown shape key '%s' (n_embd n_layer n_head n_head_kv head_dim n_ff n_vocab n_ctx tied rope_theta norm_eps llama3_rope)",
                     k);
            return false;
        }
        if (!ok) {
            snprintf(err, (size_t)n_err, "bad value '%s' for shape key '%s'", v, k);
            return false;
        }
    }
    int hd = s->head_dim ? s->head_dim : s->n_embd / s->n_head;
    if (s->n_head % s->n_head_kv || (!s->head_dim && s->n_embd % s->n_head) || hd % 2) {
        snprintf(err, (size_t)n_err, "shape: n_head %d must be a multiple of n_head_kv %d, and the head size %d even",
                 s->n_head, s->n_head_kv, hd);
        return false;
    }
    return true;
}
