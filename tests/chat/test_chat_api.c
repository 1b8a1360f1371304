/* test_chat_api.c — rf_chat_render's contract where no reference renderer
 * applies: argument and JSON validation, errors that name the construct and
 * line, and the caps that turn hostile templates into errors (deep nesting,
 * runaway recursion, huge output, endless work) instead of crashes.
 * Rendered text itself is checked against jinja2 by the script tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "test_util.h"

static const char *MSGS = "[{\"role\":\"user\",\"content\":\"hi\"}]";

/* Renders and expects failure with `code` and a message containing `needle`. */
static void expect_err(const char *tmpl, const char *msgs, const char *tools, const char *extra,
                       const rf_chat_limits *lim, rf_status code, const char *needle)
{
    char *out = NULL;
    rf_error err = {0};
    rf_status st = rf_chat_render_ex(tmpl, msgs, tools, true, "<s>", "</s>", extra, lim, &out, &err);
    CHECKF(st == code, "template %.60s: status %s, want %s (%s)", tmpl, rf_status_name(st),
           rf_status_name(code), err.msg);
    CHECKF(strstr(err.msg, needle) != NULL, "template %.60s: message '%s' lacks '%s'", tmpl, err.msg, needle);
    CHECK(out == NULL);
    free(out);
}

static char *render_ok(const char *tmpl, const char *tools, const char *extra)
{
    char *out = NULL;
    rf_error err = {0};
    rf_status st = rf_chat_render(tmpl, MSGS, tools, true, "<s>", "</s>", extra, &out, &err);
    CHECKF(st == RF_OK, "template %.60s failed: %s", tmpl, err.msg);
    return out;
}

static char *repeat(const char *a, int n, const char *mid, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = malloc(la * n + lb * n + lm + 1), *p = s;
    for (int i = 0; i < n; i++) { memcpy(p, a, la); p += la; }
    memcpy(p, mid, lm); p += lm;
    for (int i = 0; i < n; i++) { memcpy(p, b, lb); p += lb; }
    *p = 0;
    return s;
}

int main(void)
{
    char *out = NULL;
    rf_error err = {0};

    /* arguments and JSON inputs */
    CHECK(rf_chat_render(NULL, MSGS, NULL, true, "", "", NULL, &out, &err) == RF_ERR_INVALID_ARG);
    CHECK(rf_chat_render("x", NULL, NULL, true, "", "", NULL, &out, &err) == RF_ERR_INVALID_ARG);
    expect_err("x", "[{\"role\":", NULL, NULL, NULL, RF_ERR_INVALID_ARG, "messages: invalid JSON");
    expect_err("x", "{\"role\":\"user\"}", NULL, NULL, NULL, RF_ERR_INVALID_ARG, "messages must be a JSON array");
    expect_err("x", MSGS, "{\"a\":1}", NULL, NULL, RF_ERR_INVALID_ARG, "tools must be a JSON array");
    expect_err("x", MSGS, NULL, "[1]", NULL, RF_ERR_INVALID_ARG, "extra variables must be a JSON object");

    /* errors name the construct and the line */
    expect_err("a\nb\n{{ 1 + }}", MSGS, NULL, NULL, NULL, RF_ERR_FORMAT, "line 3");
    expect_err("\n{% include 'x' %}", MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "line 2: unsupported statement '{% include %}'");
    expect_err("{% for x in y recursive %}{% endfor %}", MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "recursive");
    expect_err("\n\n\n{{ x | groupby('a') }}", MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "line 4: filter 'groupby' is not supported");
    expect_err("{% if true %}\nopen", MSGS, NULL, NULL, NULL, RF_ERR_FORMAT, "never closed");
    expect_err("{{ raise_exception('Roles must alternate') }}", MSGS, NULL, NULL, NULL, RF_ERR_INVALID_ARG,
               "raise_exception: Roles must alternate");
    expect_err("{{ nothing.attr }}", MSGS, NULL, NULL, NULL, RF_ERR_INVALID_ARG, "'nothing' is undefined");
    expect_err("{{ '%a' % 1 }}", MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "conversion 'a' is not supported");
    expect_err("{{ x | batch(2) }}", MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "filter 'batch' is not supported");

    /* hostile templates end in errors, not crashes */
    char *deep = repeat("(", 20000, "1", ")");
    char *t = malloc(strlen(deep) + 8);
    sprintf(t, "{{ %s }}", deep);
    expect_err(t, MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "nesting deeper");
    free(t);
    free(deep);
    char *deep_if = repeat("{% if true %}", 5000, "x", "{% endif %}");
    expect_err(deep_if, MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "nesting deeper");
    free(deep_if);
    expect_err("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", MSGS, NULL, NULL, NULL,
               RF_ERR_UNSUPPORTED, "deeper than");
    rf_chat_limits small = {.max_output = 1 << 20, .max_steps = 1000000, .max_memory = 32u << 20};
    expect_err("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", MSGS, NULL, NULL, &small,
               RF_ERR_UNSUPPORTED, "rendered text exceeds");
    expect_err("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}",
               MSGS, NULL, NULL, &small, RF_ERR_UNSUPPORTED, "steps");
    expect_err("{% set ns = namespace(s='x') %}{% for i in range(100000) %}{% set ns.s = ns.s + ns.s[:1000] %}{% endfor %}",
               MSGS, NULL, NULL, &small, RF_ERR_NOMEM, "memory cap");
    expect_err("{{ 'x' * 10000000000000 }}", MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "repetition too large");
    expect_err("{{ range(100000000) | length }}", MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "range()");
    expect_err("{{ 9223372036854775807 + 1 }}", MSGS, NULL, NULL, NULL, RF_ERR_UNSUPPORTED, "integer overflow");
    char *deep_json = repeat("[", 5000, "1", "]");
    expect_err("x", deep_json, NULL, NULL, NULL, RF_ERR_INVALID_ARG, "messages");
    free(deep_json);

    /* variables: tools is none without tools_json; extra variables are visible */
    out = render_ok("{{ tools is none }}|{{ tools is defined }}|{{ enable_thinking }}", NULL, "{\"enable_thinking\":false}");
    CHECKF(out && !strcmp(out, "True|True|False"), "got '%s'", out ? out : "(null)");
    free(out);
    /* the fallback template is valid and self-contained */
    out = render_ok(rf_chat_fallback_template(), NULL, NULL);
    CHECK(out && strstr(out, "hi"));
    free(out);
    return rf_test_done("chat_api");
}
