/* chat.h — chat templates: render a model's Jinja `tokenizer.chat_template`
 * with a conversation, the way Hugging Face transformers does it.
 *
 * The engine is a small tree-walking Jinja interpreter (src/chat/jinja_*.c)
 * configured like transformers' environment: trim_blocks, lstrip_blocks,
 * loop controls (break/continue), a `tojson` that keeps key order and does not
 * HTML-escape (Python json.dumps with ensure_ascii=False), the globals
 * raise_exception() and strftime_now(), and `{% generation %}` as a plain
 * block. Constructs it does not implement are errors naming the construct
 * and the template line — never silently different text.
 *
 * Every render uses one arena that is dropped at the end, so nothing leaks on
 * any error path. Work is bounded: nesting depth, macro recursion, output
 * size, memory and evaluation steps all have caps that give an error.
 *
 * Supported: text/{{ }}/{% %}/{# #} with -/+ whitespace control, raw; if/elif/
 * else, for/else (with `if` filter, tuple unpacking, loop.index/index0/
 * revindex/revindex0/first/last/length/previtem/nextitem/depth/cycle),
 * break/continue, set (name, tuple, namespace attribute, block with filters),
 * macro (defaults, keyword args, caller), call blocks, filter blocks, with,
 * generation; Python operators and truthiness, slicing, str/dict/list methods
 * (split, strip, startswith, replace, format, get, items, keys, values...);
 * the filters listed in jinja_builtins.c and all jinja2 tests; globals range,
 * dict, namespace, raise_exception, strftime_now. jinja2's iterator results
 * (map, select, unique, reverse...) and Markup (|safe, |escape) behave as in
 * jinja2, including the errors they cause.
 * Not supported (an error naming it and the line): include/import/extends/
 * block, recursive loops, loop.changed, *args and **kwargs, str.format
 * specs, %-format conversions beyond s r d i u f e g x o c, the filters
 * batch, groupby, pprint,
 * random, slice, striptags, truncate, urlencode, urlize, wordwrap, xmlattr,
 * filesizeformat. Known differences: case mapping (upper/lower/title/
 * capitalize) covers Latin, Greek, Cyrillic, Armenian and fullwidth letters,
 * without Greek final-sigma context; \w for |wordcount counts every non-ASCII
 * character as a word character.
 */
#ifndef RF_CHAT_H
#define RF_CHAT_H

#include <stdbool.h>

#include "rocmforge.h"

/* Renders a Jinja chat template.
 * messages_json: JSON array of OpenAI-style messages (role, content (string or
 *   array of {type:text,text}), name, tool_calls [{id,type:function,
 *   function:{name,arguments (string or object)}}], tool_call_id,
 *   reasoning_content...). Passed to the template as `messages` unchanged.
 * tools_json: JSON array or NULL (then `tools` is none, as in transformers).
 * bos/eos: the token texts (may be ""), exposed as bos_token / eos_token.
 * extra_json: optional JSON object of extra variables (may be NULL).
 * On success *out is a malloc'd NUL-terminated string the caller frees. */
rf_status rf_chat_render(const char *tmpl, const char *messages_json,
                         const char *tools_json, bool add_generation_prompt,
                         const char *bos_token, const char *eos_token,
                         const char *extra_json, char **out, rf_error *err);

/* Work caps of one render; 0 in a field means the default. Exceeding one is
 * an error (RF_ERR_UNSUPPORTED / RF_ERR_NOMEM), never a truncated prompt. */
typedef struct rf_chat_limits {
    size_t max_memory;       /* bytes of values/AST (default 512 MiB) */
    size_t max_output;       /* bytes of rendered text (default 64 MiB) */
    unsigned long long max_steps;  /* evaluated nodes (default 50 M) */
} rf_chat_limits;

/* rf_chat_render with explicit caps (fuzzing, servers); lim may be NULL. */
rf_status rf_chat_render_ex(const char *tmpl, const char *messages_json,
                            const char *tools_json, bool add_generation_prompt,
                            const char *bos_token, const char *eos_token,
                            const char *extra_json, const rf_chat_limits *lim,
                            char **out, rf_error *err);

/* The template used when a model carries none: ChatML
 *   <|im_start|>{role}\n{content}<|im_end|>\n   per message, then
 *   <|im_start|>assistant\n                   when add_generation_prompt.
 * ChatML is what most current instruct models (Qwen, SmolLM, Hermes...) were
 * trained with and what llama.cpp falls back to; content given as a list of
 * text parts is joined. */
const char *rf_chat_fallback_template(void);

#endif
