/* cli_gen.h — what `run` and `chat` share: the generation options, model
 * and context setup, and the generate loop (prompt in n_batch chunks, then
 * sample -> stream through the incremental detokenizer -> decode). */
#ifndef RF_CLI_GEN_H
#define RF_CLI_GEN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rocmforge.h"

/* Device placement options shared by run, chat and bench. */
typedef struct cli_device_opts {
    rf_device_kind kind;      /* --cpu forces RF_DEVICE_CPU */
    int index;                /* --device N */
    int n_gpu_layers;         /* -ngl N; -1 = all */
    bool deterministic;       /* false: --no-deterministic */
    rf_kv_type kv_k, kv_v;    /* -ctk / -ctv (AUTO: the backend's; K and V take one type) */
} cli_device_opts;

void cli_device_opts_init(cli_device_opts *d);
/* Parses --cpu, -ngl/--n-gpu-layers N, --device N, --no-deterministic,
 * -ctk/--cache-type-k and -ctv/--cache-type-v TYPE at argv[*i]: returns 1
 * when consumed (advancing *i past a value), 0 when not a device option,
 * -1 on a bad value (message printed). */
int cli_device_opts_parse(cli_device_opts *d, int argc, char **argv, int *i);
void cli_device_opts_apply(const cli_device_opts *d, rf_model_params *mp);
/* The context side of the options (--no-deterministic, the KV cache type):
 * 0, or -1 with a message printed when they cannot be honoured (K and V in
 * different types). */
int cli_device_opts_apply_ctx(const cli_device_opts *d, rf_ctx_params *cp);
/* "f16" or "f32": a context's K/V cache type */
const char *cli_kv_type_name(const rf_ctx *c);
extern const char cli_device_opts_help[];

typedef struct gen_opts {
    cli_device_opts dev;      /* --cpu, -ngl, --device */
    const char *model;        /* -m, else $RF_MODEL, else models/stories260K.gguf */
    const char *prompt;       /* -p, or the contents of -f FILE */
    char *prompt_owned;       /* -f: malloc'd file contents */
    const char *system;       /* -s (chat) */
    int n_predict;            /* -n; -1 = until EOS or the context is full */
    int n_threads;            /* -t */
    int n_ctx;                /* -c */
    int n_batch;              /* -b */
    bool no_bos;              /* --no-bos */
    bool json;                /* --json */
    bool verbose;             /* -v */
    bool ignore_eos;          /* --ignore-eos */
    rf_sampler_params sp;
} gen_opts;

/* Fills defaults. */
void gen_opts_init(gen_opts *o);
/* Consumes argv[*i] (and its value) when it is a shared option; returns 1
 * when consumed, 0 when not a shared option, -1 on a bad value (message
 * printed). */
int gen_opts_parse(gen_opts *o, int argc, char **argv, int *i);
/* Option help text of the shared options. */
const char *gen_opts_help(void);

typedef struct gen_state {
    rf_model *m;
    rf_ctx *ctx;
    rf_sampler *smp;
    rf_detok *detok;
    int seq;
    int n_ctx;
    int n_batch;
} gen_state;

/* Load model, create context (one sequence), sampler, detokenizer. */
int gen_setup(gen_state *g, const gen_opts *o);
void gen_teardown(gen_state *g);

typedef struct gen_result {
    int n_prompt;
    int n_gen;
    double t_prompt;          /* seconds */
    double t_gen;
    bool stopped_eog;
    bool context_full;
    bool interrupted;
} gen_result;

/* Decode `toks` (appending to the sequence), then generate up to n_predict
 * tokens, writing text to `out` as it is produced (NULL: no text) and the
 * ids to gen_ids (capacity gen_cap, may be NULL); `tee` (may be NULL)
 * gets the same text. The sampler sees the
 * prompt tokens. `stop_flag` (may be NULL) stops generation when set.
 * Returns 0, or 1 with a message printed on stderr. */
int gen_run(gen_state *g, const int32_t *toks, int n_toks, int n_predict, bool ignore_eos, FILE *out, FILE *tee,
            int32_t *gen_ids, int gen_cap, volatile sig_atomic_t *stop_flag, gen_result *res);

#endif
