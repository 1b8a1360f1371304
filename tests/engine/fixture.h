/* fixture.h — reader for the llama.cpp greedy fixtures (tests/fixtures/llamacpp, one per model;
 * scripts/fixtures/llamacpp/greedy_ref.c). */
#ifndef RF_TEST_ENGINE_FIXTURE_H
#define RF_TEST_ENGINE_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_MAX_CASES 16
#define FX_MAX_LOGITS 4

typedef struct fx_case {
    char prompt[1024];
    int n_prompt, n_gen;
    int prompt_tok[1024];
    int gen_tok[4096];
    int n_logits;
    int logit_step[FX_MAX_LOGITS];
    float *logits[FX_MAX_LOGITS];  /* (n_vocab) */
} fx_case;

typedef struct fx_file {
    int n_vocab;
    int n_cases;
    fx_case cases[FX_MAX_CASES];
} fx_file;

static int fx_read_ints(char *p, int *out, int max)
{
    int n = (int)strtol(p, &p, 10);
    if (n < 0 || n > max) return -1;
    for (int i = 0; i < n; i++) out[i] = (int)strtol(p, &p, 10);
    return n;
}

/* Returns 0 on success. */
static int fx_load(const char *path, fx_file *fx)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    memset(fx, 0, sizeof *fx);
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    fx_case *c = NULL;
    while (fgets(line, (int)cap, f)) {
        if (!strncmp(line, "n_vocab ", 8)) fx->n_vocab = atoi(line + 8);
        else if (!strncmp(line, "case ", 5)) {
            if (fx->n_cases == FX_MAX_CASES) break;
            c = &fx->cases[fx->n_cases++];
        } else if (c && !strncmp(line, "prompt_hex ", 11)) {
            const char *h = line + 11;
            int n = 0;
            while (h[0] && h[1] && h[0] != '\n' && n < 1023) {
                unsigned v;
                sscanf(h, "%2x", &v);
                c->prompt[n++] = (char)v;
                h += 2;
            }
            c->prompt[n] = 0;
        } else if (c && !strncmp(line, "prompt_tokens ", 14)) c->n_prompt = fx_read_ints(line + 14, c->prompt_tok, 1024);
        else if (c && !strncmp(line, "gen_tokens ", 11)) c->n_gen = fx_read_ints(line + 11, c->gen_tok, 4096);
        else if (c && !strncmp(line, "logits ", 7) && c->n_logits < FX_MAX_LOGITS) {
            char *p = line + 7;
            int k = c->n_logits++;
            c->logit_step[k] = (int)strtol(p, &p, 10);
            c->logits[k] = malloc((size_t)fx->n_vocab * sizeof(float));
            for (int v = 0; v < fx->n_vocab; v++) c->logits[k][v] = strtof(p, &p);
        }
    }
    free(line);
    fclose(f);
    return fx->n_cases > 0 && fx->n_vocab > 0 ? 0 : -1;
}

static void fx_free(fx_file *fx)
{
    for (int i = 0; i < fx->n_cases; i++)
        for (int k = 0; k < fx->cases[i].n_logits; k++) free(fx->cases[i].logits[k]);
}
#endif
