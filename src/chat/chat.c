/* chat.c — rf_chat_render: parse the JSON inputs, set the variables a
 * transformers template expects (messages, tools, add_generation_prompt,
 * bos_token, eos_token, plus any extra ones), run the interpreter, and turn
 * a longjmp'ed error into an rf_status. */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "chat/chat.h"
#include "chat/jinja.h"

const char *rf_chat_fallback_template(void)
{
    return "{%- for message in messages -%}"
           "{{- '<|im_start|>' + message['role'] + '\n' -}}"
           "{%- if message['content'] is string -%}{{- message['content'] -}}"
           "{%- elif message['content'] is iterable -%}"
           "{%- for part in message['content'] -%}"
           "{%- if part is mapping and part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
           "{%- endfor -%}"
           "{%- endif -%}"
           "{{- '<|im_end|>\n' -}}"
           "{%- endfor -%}"
           "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}";
}

rf_status rf_chat_render(const char *tmpl, const char *messages_json, const char *tools_json,
                         bool add_generation_prompt, const char *bos_token, const char *eos_token,
                         const char *extra_json, char **out, rf_error *err)
{
    return rf_chat_render_ex(tmpl, messages_json, tools_json, add_generation_prompt, bos_token,
                             eos_token, extra_json, NULL, out, err);
}

rf_status rf_chat_render_ex(const char *tmpl, const char *messages_json, const char *tools_json,
                            bool add_generation_prompt, const char *bos_token, const char *eos_token,
                            const char *extra_json, const rf_chat_limits *lim, char **out, rf_error *err)
{
    if (out)
        *out = NULL;
    if (!tmpl || !messages_json || !out)
        return rf_err(err, RF_ERR_INVALID_ARG, "chat template: template, messages and out are required");
    rf_error local;
    jctx *c = calloc(1, sizeof *c);
    if (!c)
        return rf_err(err, RF_ERR_NOMEM, "chat template: out of memory");
    c->err = err ? err : &local;
    c->max_arena = lim && lim->max_memory ? lim->max_memory : JINJA_MAX_ARENA;
    c->max_output = lim && lim->max_output ? lim->max_output : JINJA_MAX_OUTPUT;
    c->max_steps = lim && lim->max_steps ? lim->max_steps : JINJA_MAX_STEPS;
    if (setjmp(c->jb)) {
        rf_status st = c->err->code;
        jctx_free(c);
        free(c);
        return st;
    }
    jscope *g = jscope_new(c, NULL);
    c->globals = g;
    jinja_globals_install(c, g);

    jv messages = jv_from_json_text(c, messages_json, "messages");
    if (messages.t != JV_LIST)
        jfail(c, 0, RF_ERR_INVALID_ARG, "messages must be a JSON array, got %s", jv_type_name(messages));
    jv tools = jv_none();
    if (tools_json) {
        tools = jv_from_json_text(c, tools_json, "tools");
        if (tools.t != JV_LIST && tools.t != JV_NONE)
            jfail(c, 0, RF_ERR_INVALID_ARG, "tools must be a JSON array, got %s", jv_type_name(tools));
    }
    jscope_set(c, g, "messages", messages);
    jscope_set(c, g, "tools", tools);
    jscope_set(c, g, "add_generation_prompt", jv_bool(add_generation_prompt));
    jscope_set(c, g, "bos_token", jv_cstr(c, bos_token ? bos_token : ""));
    jscope_set(c, g, "eos_token", jv_cstr(c, eos_token ? eos_token : ""));
    if (extra_json) {
        jv extra = jv_from_json_text(c, extra_json, "extra variables");
        if (extra.t != JV_DICT)
            jfail(c, 0, RF_ERR_INVALID_ARG, "extra variables must be a JSON object, got %s", jv_type_name(extra));
        for (size_t i = 0; i < extra.u.d->n; i++)
            jscope_set(c, g, jv_str_copy(c, extra.u.d->k[i].u.s.p, extra.u.d->k[i].u.s.n).u.s.p, extra.u.d->v[i]);
    }

    int n_tok = 0;
    jtok *toks = jinja_lex(c, tmpl, strlen(tmpl), &n_tok);
    jnode *root = jinja_parse(c, toks, n_tok);
    jbuf buf = {0};
    jinja_exec(c, root, &buf);

    char *res = malloc(buf.n + 1);
    if (!res)
        jfail(c, 0, RF_ERR_NOMEM, "out of memory copying %zu bytes of output", buf.n);
    if (buf.n)
        memcpy(res, buf.p, buf.n);
    res[buf.n] = 0;
    jctx_free(c);
    free(c);
    *out = res;
    return RF_OK;
}
