/* cmd_run.c — `rocmforge run -m FILE -p PROMPT [options]`: generate text
 * from a prompt, streamed as it is produced, with a timing line on stderr
 * (prompt and generation tokens/s). --json prints one object instead:
 * prompt token ids, generated ids and text, timings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cli_gen.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: rocmforge run [-m FILE] -p PROMPT [options]\n"
               "  -p, --prompt TEXT      the prompt (special tokens written in it are recognised)\n%s%s",
            gen_opts_help(), cli_device_opts_help);
}

int cmd_run(int argc, char **argv)
{
    gen_opts o;
    gen_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        int r = gen_opts_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r == 0) {
            fprintf(stderr, "rocmforge run: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!o.prompt) {
        fprintf(stderr, "rocmforge run: a prompt is required (-p TEXT or -f FILE)\n");
        usage(stderr);
        return 2;
    }
    gen_state g;
    if (gen_setup(&g, &o)) {
        free(o.prompt_owned);
        return 1;
    }
    size_t plen = strlen(o.prompt);
    int cap = (int)(plen + 16);
    int32_t *toks = malloc((size_t)cap * sizeof *toks);
    int n = toks ? rf_tokenize(g.m, o.prompt, plen, toks, cap, !o.no_bos, true) : 0;
    if (n < 0) {
        cap = -n;
        int32_t *t2 = realloc(toks, (size_t)cap * sizeof *toks);
        n = t2 ? rf_tokenize(g.m, o.prompt, plen, (toks = t2), cap, !o.no_bos, true) : -1;
    }
    if (!toks || n <= 0) {
        fprintf(stderr, "rocmforge run: the prompt tokenizes to nothing%s\n", o.no_bos ? " (and --no-bos is set)" : "");
        free(toks);
        gen_teardown(&g);
        return 1;
    }
    int n_predict = o.n_predict;
    int gen_cap = n_predict >= 0 ? n_predict : g.n_ctx;
    int32_t *gen = malloc((size_t)(gen_cap > 0 ? gen_cap : 1) * sizeof *gen);
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = stdout;
    if (o.json) {
        out = open_memstream(&text, &text_len);
    } else {
        fputs(o.prompt, stdout); /* echo, then the continuation streams after it */
        fflush(stdout);
    }
    /* The continuation follows the prompt's text: prime the detokenizer with
     * the prompt's last token so the first generated piece keeps its
     * leading space (SPM models drop it at the start of a text). */
    char scratch[4096];
    rf_detok_push(g.detok, toks[n - 1], scratch, (int)sizeof scratch);
    gen_result res;
    int rc = gen_run(&g, toks, n, n_predict, o.ignore_eos, out, NULL, gen, gen_cap, NULL, &res);
    if (!o.json && rc) fputc('\n', stdout);
    if (o.json && rc) {
        fclose(out);
        free(text);
    } else if (o.json) {
        fclose(out);
        json_t *j = json_object();
        json_t *pt = json_array(), *gt = json_array();
        for (int i = 0; i < res.n_prompt; i++) json_array_append_new(pt, json_integer(toks[i]));
        for (int i = 0; i < res.n_gen && i < gen_cap; i++) json_array_append_new(gt, json_integer(gen[i]));
        json_object_set_new(j, "prompt_tokens", pt);
        json_object_set_new(j, "tokens", gt);
        json_object_set_new(j, "text", json_stringn(text ? text : "", text_len));
        json_object_set_new(j, "stop", json_string(res.stopped_eog ? "eog" : res.context_full ? "context_full" : "length"));
        json_t *t = json_object();
        json_object_set_new(t, "prompt_ms", json_real(res.t_prompt * 1e3));
        json_object_set_new(t, "prompt_tokens_per_s", json_real(res.t_prompt > 0 ? res.n_prompt / res.t_prompt : 0));
        json_object_set_new(t, "gen_ms", json_real(res.t_gen * 1e3));
        json_object_set_new(t, "gen_tokens_per_s", json_real(res.t_gen > 0 ? res.n_gen / res.t_gen : 0));
        json_object_set_new(j, "timings", t);
        char *s = json_dumps(j, JSON_ENSURE_ASCII);
        if (s) puts(s);
        free(s);
        json_decref(j);
        free(text);
    } else if (rc == 0) {
        fputc('\n', stdout);
        fflush(stdout); /* the timing line (stderr) comes after the text */
        if (res.context_full) fprintf(stderr, "rocmforge: stopped: the context (%d tokens) is full\n", g.n_ctx);
        fprintf(stderr, "prompt: %d tokens in %.1f ms (%.1f tok/s) | generation: %d tokens in %.1f ms (%.1f tok/s)\n",
                res.n_prompt, res.t_prompt * 1e3, res.t_prompt > 0 ? res.n_prompt / res.t_prompt : 0.0, res.n_gen,
                res.t_gen * 1e3, res.t_gen > 0 ? res.n_gen / res.t_gen : 0.0);
    }
    free(gen);
    free(toks);
    free(o.prompt_owned);
    gen_teardown(&g);
    return rc;
}
