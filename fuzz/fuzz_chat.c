/* fuzz_chat.c — libFuzzer target for the chat-template engine.
 *
 * Input: TEMPLATE [ '\0' MESSAGES_JSON [ '\0' TOOLS_JSON ] ]. Without a
 * messages part a fixed conversation with a tool call is used, so mutations
 * of real templates (seeds: ../shared/chat-templates) exercise the paths
 * models use. Caps are lowered so a hostile template (nested loops, huge
 * repetitions) ends in an error quickly instead of a fuzzer timeout; the
 * render must never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"

static const char *DEFAULT_MESSAGES =
    "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
    "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"},"
    "{\"role\":\"assistant\",\"content\":\"Sunny.\",\"reasoning_content\":\"easy\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Thanks\"}]}]";
static const char *DEFAULT_TOOLS =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
    "\"required\":[\"city\"]}}}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *tmpl = buf, *msgs = DEFAULT_MESSAGES, *tools = DEFAULT_TOOLS;
    size_t tl = strlen(buf);
    if (tl < size) {
        msgs = buf + tl + 1;
        size_t ml = strlen(msgs);
        tools = (tl + 1 + ml < size) ? msgs + ml + 1 : NULL;
    }
    rf_chat_limits lim = {.max_memory = 64u << 20, .max_output = 1u << 20, .max_steps = 200000};
    for (int gen = 0; gen < 2; gen++) {
        char *out = NULL;
        rf_error err;
        if (rf_chat_render_ex(tmpl, msgs, tools, gen, "<s>", "</s>", NULL, &lim, &out, &err) == RF_OK)
            free(out);
    }
    free(buf);
    return 0;
}
