/* synth.h — shapes of real models for `rocmforge synth` (random weights of a
 * real architecture and size, for benchmarks and loader tests). */
#ifndef RF_CLI_SYNTH_H
#define RF_CLI_SYNTH_H

#include <stdbool.h>

typedef enum synth_rope_scaling {
    SYNTH_ROPE_NONE = 0,
    SYNTH_ROPE_LLAMA3,       /* Llama 3.1+ frequency bands (rope_freqs tensor) */
} synth_rope_scaling;

typedef struct synth_shape {
    const char *name;        /* "llama-3-8b" */
    const char *arch;        /* general.architecture: llama | qwen2 | qwen3 */
    int n_embd, n_layer, n_head, n_head_kv;
    int head_dim;            /* 0: n_embd / n_head */
    int n_ff, n_vocab, n_ctx;
    float rope_theta, norm_eps;
    synth_rope_scaling rope_scaling;
    float rope_factor, rope_low_freq, rope_high_freq;   /* llama3 scaling */
    int rope_orig_ctx;
    bool tied;               /* no output.weight: the LM head is token_embd */
} synth_shape;

/* The table (NULL-name terminated). */
extern const synth_shape synth_shapes[];
const synth_shape *synth_shape_find(const char *name);
/* Parses "n_embd=64,n_layer=2,..." on top of the defaults of `arch`;
 * returns false with a message in err (n_err bytes) when malformed. */
bool synth_shape_parse(const char *arch, const char *spec, synth_shape *out, char *err, int n_err);
/* Architectures synth can write. */
bool synth_arch_supported(const char *arch);

#endif
