/* cmd_template.c — `rocmforge template`: render a chat template with a
 * conversation and print the exact prompt text (no trailing newline added),
 * so it can be diffed against other implementations.
 *
 *   rocmforge template (-m FILE | --template-file F) --messages JSON|@file
 *                      [--tools JSON|@file] [--no-generation-prompt]
 *                      [--bos TEXT] [--eos TEXT] [--vars JSON|@file]
 *   rocmforge template --print-fallback
 *
 * With -m the template is the GGUF's tokenizer.chat_template (the documented
 * ChatML fallback when absent) and bos/eos are the texts of the tokens named
 * by tokenizer.ggml.bos_token_id / eos_token_id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "cli.h"
#include "gguf/gguf.h"

static void template_usage(FILE *f)
{
    fprintf(f,
            "usage: rocmforge template (-m FILE | --template-file F) --messages JSON|@file\n"
            "                          [--tools JSON|@file] [--no-generation-prompt]\n"
            "                          [--bos TEXT] [--eos TEXT] [--vars JSON|@file]\n"
            "       rocmforge template --print-fallback\n"
            "Renders a chat template (Jinja) with OpenAI-style messages and prints the prompt.\n"
            "  -m FILE                 take tokenizer.chat_template and BOS/EOS texts from a GGUF\n"
            "  --template-file F       take the template from a file\n"
            "  --messages JSON         JSON array of messages, or @path to read it from a file\n"
            "  --tools JSON            JSON array of tool definitions (or @path)\n"
            "  --no-generation-prompt  do not open an assistant turn at the end\n"
            "  --bos/--eos TEXT        token texts exposed as bos_token / eos_token\n"
            "  --vars JSON             JSON object of extra template variables (or @path)\n"
            "  --print-fallback        print the ChatML template used for models without one\n");
}

/* Whole file into a malloc'd NUL-terminated string. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "rocmforge template: cannot open '%s'\n", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        if (k == 0) break;
        n += k;
    }
    if (buf && ferror(f)) {
        fprintf(stderr, "rocmforge template: read error on '%s'\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* "@path" -> file contents, else a copy of the argument. */
static char *arg_text(const char *a)
{
    if (a[0] == '@')
        return read_file(a + 1);
    return strdup(a);
}

/* Text of token `id` from tokenizer.ggml.tokens, or NULL. */
static char *token_text(const gguf_file *g, const char *id_key)
{
    uint64_t id;
    const gguf_value *arr;
    if (!gguf_get_u64(g, id_key, &id) || !gguf_get_arr(g, "tokenizer.ggml.tokens", &arr))
        return NULL;
    if (arr->v.arr.etype != GGUF_VT_STRING || id >= arr->v.arr.n)
        return NULL;
    gguf_arr_iter it;
    gguf_arr_iter_init(&it, g, arr);
    gguf_str s;
    for (uint64_t i = 0; gguf_arr_next_str(&it, &s); i++)
        if (i == id) {
            char *t = malloc(s.len + 1);
            if (!t) return NULL;
            memcpy(t, s.ptr, s.len);
            t[s.len] = 0;
            return t;
        }
    return NULL;
}

int cmd_template(int argc, char **argv)
{
    const char *model = NULL, *tfile = NULL, *msgs_arg = NULL, *tools_arg = NULL, *vars_arg = NULL;
    const char *bos_arg = NULL, *eos_arg = NULL;
    bool gen = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { template_usage(stdout); return 0; }
        else if (!strcmp(a, "--no-generation-prompt")) gen = false;
        else if (!strcmp(a, "--print-fallback")) { fputs(rf_chat_fallback_template(), stdout); return 0; }
        else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has_val) model = argv[++i];
        else if (!strcmp(a, "--template-file") && has_val) tfile = argv[++i];
        else if (!strcmp(a, "--messages") && has_val) msgs_arg = argv[++i];
        else if (!strcmp(a, "--tools") && has_val) tools_arg = argv[++i];
        else if (!strcmp(a, "--vars") && has_val) vars_arg = argv[++i];
        else if (!strcmp(a, "--bos") && has_val) bos_arg = argv[++i];
        else if (!strcmp(a, "--eos") && has_val) eos_arg = argv[++i];
        else {
            fprintf(stderr, "rocmforge template: unknown or incomplete option '%s'\n", a);
            template_usage(stderr);
            return 2;
        }
    }
    if ((!model == !tfile) || !msgs_arg) {
        fprintf(stderr, "rocmforge template: need exactly one of -m / --template-file, and --messages\n");
        template_usage(stderr);
        return 2;
    }

    int rc = 1;
    char *tmpl = NULL, *bos = NULL, *eos = NULL, *msgs = NULL, *tools = NULL, *vars = NULL, *out = NULL;
    gguf_file *g = NULL;
    rf_error err = {0};
    if (model) {
        if (gguf_open(model, &g, &err) != RF_OK) {
            fprintf(stderr, "rocmforge template: %s\n", err.msg);
            goto done;
        }
        tmpl = gguf_get_str_dup(g, "tokenizer.chat_template");
        if (!tmpl) {
            fprintf(stderr, "rocmforge template: '%s' has no tokenizer.chat_template; using the ChatML fallback\n", model);
            tmpl = strdup(rf_chat_fallback_template());
        }
        bos = token_text(g, "tokenizer.ggml.bos_token_id");
        eos = token_text(g, "tokenizer.ggml.eos_token_id");
    } else {
        tmpl = read_file(tfile);
    }
    if (!tmpl) goto done;
    msgs = arg_text(msgs_arg);
    if (!msgs) goto done;
    if (tools_arg && !(tools = arg_text(tools_arg))) goto done;
    if (vars_arg && !(vars = arg_text(vars_arg))) goto done;
    if (rf_chat_render(tmpl, msgs, tools, gen, bos_arg ? bos_arg : (bos ? bos : ""),
                       eos_arg ? eos_arg : (eos ? eos : ""), vars, &out, &err) != RF_OK) {
        fprintf(stderr, "rocmforge template: %s\n", err.msg);
        goto done;
    }
    fwrite(out, 1, strlen(out), stdout);
    fflush(stdout);
    rc = 0;
done:
    free(out);
    free(vars);
    free(tools);
    free(msgs);
    free(eos);
    free(bos);
    free(tmpl);
    if (g) gguf_free(g);
    return rc;
}
