/* cmd_chat.c — `rocmforge chat [-m FILE] [-s SYSTEM] [options]`: an
 * interactive multi-turn chat through the model's chat template (or the
 * documented fallback when the model has none).
 *
 * Each turn renders the whole conversation with the template, tokenizes it,
 * and keeps the KV of the longest prefix it shares with what the sequence
 * already holds (usually everything but the new user message), so a turn
 * costs only its new tokens. Commands: /reset clears the conversation and
 * the KV; EOF (Ctrl-D) quits; Ctrl-C stops the answer being generated and
 * returns to the prompt.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_gen.h"

static volatile sig_atomic_t chat_stop;

static void on_sigint(int sig)
{
    (void)sig;
    chat_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rocmforge chat [-m FILE] [options]\n"
               "  -s, --system TEXT      system prompt\n%s%s"
               "\nIn the chat: /reset starts over, Ctrl-C stops an answer, Ctrl-D quits.\n",
            gen_opts_help(), cli_device_opts_help);
}

static void messages_reset(json_t *msgs, const char *system)
{
    json_array_clear(msgs);
    if (system) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string("system"));
        json_object_set_new(m, "content", json_string(system));
        json_array_append_new(msgs, m);
    }
}

static void messages_add(json_t *msgs, const char *role, const char *text, size_t len)
{
    json_t *m = json_object();
    json_object_set_new(m, "role", json_string(role));
    json_object_set_new(m, "content", json_stringn(text, len));
    json_array_append_new(msgs, m);
}

int cmd_chat(int argc, char **argv)
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
            fprintf(stderr, "rocmforge chat: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    gen_state g;
    if (gen_setup(&g, &o)) return 1;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: Ctrl-C at the prompt interrupts the read */

    bool tty = isatty(0);
    json_t *msgs = json_array();
    messages_reset(msgs, o.system);
    /* tokens the sequence holds, to find the shared prefix of the next turn */
    int cap = g.n_ctx + 1;
    int32_t *held = malloc((size_t)cap * sizeof *held), *toks = malloc((size_t)cap * sizeof *toks);
    int n_held = 0, rc = 0;
    int32_t bos = rf_token_bos(g.m);
    char bos_text[256] = "";
    if (bos >= 0) {
        int nb = rf_token_to_piece(g.m, bos, bos_text, (int)sizeof bos_text - 1, true);
        bos_text[nb > 0 ? nb : 0] = 0;
    }
    char *line = NULL;
    size_t line_cap = 0;
    for (;;) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        chat_stop = 0;
        errno = 0;
        ssize_t n = getline(&line, &line_cap, stdin);
        if (n < 0) {
            if (errno == EINTR) { /* Ctrl-C at the prompt: new prompt */
                clearerr(stdin);
                fputc('\n', stdout);
                continue;
            }
            break; /* EOF */
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        if (!strcmp(line, "/reset")) {
            messages_reset(msgs, o.system);
            rf_seq_truncate(g.ctx, g.seq, 0);
            rf_sampler_reset(g.smp);
            n_held = 0;
            fprintf(stderr, "(conversation reset)\n");
            continue;
        }
        messages_add(msgs, "user", line, (size_t)n);
        char *mj = json_dumps(msgs, 0), *text = NULL;
        rf_error err = {0};
        rf_status st = rf_chat_apply(g.m, NULL, mj, NULL, true, &text, &err);
        free(mj);
        if (st) {
            fprintf(stderr, "rocmforge chat: template: %s\n", err.msg);
            json_array_remove(msgs, json_array_size(msgs) - 1);
            continue;
        }
        /* the template may write the BOS text itself; then do not add one */
        bool add_bos = !o.no_bos && !(bos_text[0] && !strncmp(text, bos_text, strlen(bos_text)));
        int nt = rf_tokenize(g.m, text, strlen(text), toks, cap, add_bos, true);
        free(text);
        if (nt < 0 || nt >= g.n_ctx) {
            fprintf(stderr, "rocmforge chat: the conversation no longer fits the context (%d tokens); /reset to start over\n",
                    g.n_ctx);
            json_array_remove(msgs, json_array_size(msgs) - 1);
            continue;
        }
        int keep = 0, in_kv = rf_seq_len(g.ctx, g.seq);
        if (n_held > in_kv) n_held = in_kv;
        while (keep < n_held && keep < nt - 1 && held[keep] == toks[keep]) keep++;
        rf_seq_truncate(g.ctx, g.seq, keep);
        rf_detok_reset(g.detok);
        char *answer = NULL;
        size_t answer_len = 0;
        FILE *tee = open_memstream(&answer, &answer_len);
        gen_result res;
        memcpy(held, toks, (size_t)nt * sizeof *held);
        int r = gen_run(&g, toks + keep, nt - keep, o.n_predict, false, stdout, tee, held + nt, cap - nt, &chat_stop,
                        &res);
        fclose(tee);
        fputc('\n', stdout);
        fflush(stdout);
        if (r) {
            free(answer);
            rc = 1;
            break;
        }
        if (res.interrupted) fprintf(stderr, "(stopped)\n");
        if (res.context_full) fprintf(stderr, "(the context is full; /reset to start over)\n");
        messages_add(msgs, "assistant", answer ? answer : "", answer_len);
        free(answer);
        n_held = nt + res.n_gen; /* the prompt, then the answer's ids */
        if (o.verbose)
            fprintf(stderr, "[turn: %d new prompt tokens (%d reused), %d generated, %.1f tok/s]\n", nt - keep, keep,
                    res.n_gen, res.t_gen > 0 ? res.n_gen / res.t_gen : 0.0);
    }
    free(line);
    free(held);
    free(toks);
    json_decref(msgs);
    gen_teardown(&g);
    return rc;
}
