/* test_server_request.c — the request parser against the OpenAI API
 * reference (platform.openai.com/docs/api-reference): field names, types,
 * documented ranges and defaults (temperature 0..2 default 1, top_p 0..1,
 * presence/frequency penalty -2..2, logit_bias -100..100, completions
 * logprobs 0..5, chat top_logprobs 0..20 requiring logprobs, stop: string
 * or up to 4 strings), and the error shape each violation must produce. */
#include <string.h>

#include "server/srv_request.h"
#include "test_util.h"

static srv_limits lim;

static int parse(srv_api api, const char *body, srv_request *r, srv_error *e)
{
    memset(e, 0, sizeof *e);
    return srv_request_parse(body, strlen(body), api, &lim, r, e);
}

/* Expects a 400 naming `param` (NULL: any). */
static void expect_bad(srv_api api, const char *body, int status, const char *param)
{
    srv_request r;
    srv_error e;
    int rc = parse(api, body, &r, &e);
    CHECKF(rc == -1, "accepted: %s", body);
    if (rc == 0) { srv_request_free(&r); return; }
    CHECKF(e.http_status == status, "%s: status %d, want %d (%s)", body, e.http_status, status, e.msg);
    CHECKF(e.msg[0] != 0, "%s: empty message", body);
    if (param) CHECKF(!strcmp(e.param, param), "%s: param '%s', want '%s' (%s)", body, e.param, param, e.msg);
}

int main(void)
{
    srv_limits_default(&lim);
    srv_request r;
    srv_error e;

    /* Chat defaults as documented: temperature 1, top_p 1, n 1, no stream. */
    CHECK(parse(SRV_API_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r, &e) == 0);
    CHECK(r.temperature == 1.0f && r.top_p == 1.0f && r.n == 1 && !r.stream && r.max_tokens == -1 && !r.ignore_eos);
    CHECK(r.model && !strcmp(r.model, "m"));
    CHECK(r.messages_json && strstr(r.messages_json, "\"content\":\"hi\""));
    srv_request_free(&r);

    /* Everything set. */
    CHECK(parse(SRV_API_CHAT,
                "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":"
                "[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}],"
                "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_completion_tokens\":7,"
                "\"temperature\":0,\"top_p\":0.5,\"stop\":[\"x\",\"yy\"],\"seed\":-3,\"presence_penalty\":-2,"
                "\"frequency_penalty\":2,\"logit_bias\":{\"15\":-100,\"7\":5.5},\"logprobs\":true,\"top_logprobs\":20,"
                "\"n\":2,\"user\":\"u\",\"top_k\":40,\"min_p\":0.05,\"repeat_penalty\":1.1,\"ignore_eos\":true}", &r, &e) == 0);
    CHECK(r.stream && r.include_usage && r.max_tokens == 7 && r.temperature == 0.0f && r.top_p == 0.5f);
    CHECK(r.ignore_eos);
    CHECK(r.n_stop == 2 && !strcmp(r.stop[1], "yy"));
    CHECK(r.has_seed && r.seed == (uint64_t)(int64_t)-3);
    CHECK(r.n_bias == 2 && r.logprobs && r.top_logprobs == 20 && r.n == 2 && r.top_k == 40);
    CHECK(r.messages_json && strstr(r.messages_json, "\"content\":\"a\\nb\""));
    srv_request_free(&r);

    /* response_format text is the default and accepted. */
    CHECK(parse(SRV_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"text\"}}", &r, &e) == 0);
    srv_request_free(&r);

    /* Stop as a single string; max_tokens null means "no limit given". */
    CHECK(parse(SRV_API_COMPLETION, "{\"prompt\":\"p\",\"stop\":\"\\n\",\"max_tokens\":null,\"logprobs\":3,\"echo\":true}", &r, &e) == 0);
    CHECK(r.n_stop == 1 && !strcmp(r.stop[0], "\n") && r.max_tokens == -1 && r.logprobs && r.top_logprobs == 3 && r.echo);
    CHECK(r.prompt && !strcmp(r.prompt, "p"));
    srv_request_free(&r);

    /* Token prompts: [ids] and [[ids]]. */
    CHECK(parse(SRV_API_COMPLETION, "{\"prompt\":[1,403,407]}", &r, &e) == 0);
    CHECK(r.n_prompt_tokens == 3 && r.prompt_tokens[2] == 407 && !r.prompt);
    srv_request_free(&r);
    CHECK(parse(SRV_API_COMPLETION, "{\"prompt\":[[1,2]]}", &r, &e) == 0);
    CHECK(r.n_prompt_tokens == 2);
    srv_request_free(&r);

    /* Embedding input shapes. */
    CHECK(parse(SRV_API_EMBEDDING, "{\"input\":\"hello\"}", &r, &e) == 0);
    CHECK(r.n_inputs == 1 && r.inputs[0].text && !strcmp(r.inputs[0].text, "hello") && !r.base64);
    srv_request_free(&r);
    CHECK(parse(SRV_API_EMBEDDING, "{\"input\":[\"a\",\"b\"],\"encoding_format\":\"base64\"}", &r, &e) == 0);
    CHECK(r.n_inputs == 2 && r.base64);
    srv_request_free(&r);
    CHECK(parse(SRV_API_EMBEDDING, "{\"input\":[[1,2],[3]]}", &r, &e) == 0);
    CHECK(r.n_inputs == 2 && r.inputs[1].n_tokens == 1 && r.inputs[1].tokens[0] == 3);
    srv_request_free(&r);
    CHECK(parse(SRV_API_EMBEDDING, "{\"input\":[5,6]}", &r, &e) == 0);
    CHECK(r.n_inputs == 1 && r.inputs[0].n_tokens == 2);
    srv_request_free(&r);

    /* Native: id, n_predict. */
    CHECK(parse(SRV_API_GENERATE, "{\"prompt\":\"x\",\"id\":\"job-1\",\"n_predict\":5}", &r, &e) == 0);
    CHECK(!strcmp(r.id, "job-1") && r.max_tokens == 5);
    srv_request_free(&r);

    /* Errors: body shape. */
    expect_bad(SRV_API_CHAT, "{", 400, "");
    expect_bad(SRV_API_CHAT, "[1]", 400, "");
    expect_bad(SRV_API_CHAT, "", 400, "");
    expect_bad(SRV_API_CHAT, "{\"messages\":[]}", 400, "messages");
    expect_bad(SRV_API_CHAT, "{}", 400, "messages");
    expect_bad(SRV_API_CHAT, "{\"messages\":\"hi\"}", 400, "messages");
    expect_bad(SRV_API_CHAT, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", 400, "messages");
    expect_bad(SRV_API_CHAT, "{\"messages\":[{\"role\":\"user\"}]}", 400, "messages");
    expect_bad(SRV_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", 400, "messages");
    /* Errors: types and ranges from the reference. */
    const char *m = "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";
    char b[512];
#define BADF(fmt, param) do { snprintf(b, sizeof b, "{%s," fmt "}", m); expect_bad(SRV_API_CHAT, b, 400, param); } while (0)
    BADF("\"temperature\":\"hot\"", "temperature");
    BADF("\"temperature\":2.5", "temperature");
    BADF("\"temperature\":-0.1", "temperature");
    BADF("\"top_p\":1.5", "top_p");
    BADF("\"presence_penalty\":3", "presence_penalty");
    BADF("\"frequency_penalty\":-2.5", "frequency_penalty");
    BADF("\"max_tokens\":0", "max_tokens");
    BADF("\"max_tokens\":1.5", "max_tokens");
    BADF("\"max_tokens\":\"5\"", "max_tokens");
    BADF("\"max_tokens\":100000000", "max_tokens");
    BADF("\"n\":0", "n");
    BADF("\"stream\":\"yes\"", "stream");
    BADF("\"ignore_eos\":1", "ignore_eos");
    BADF("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]", "stop");
    BADF("\"stop\":5", "stop");
    BADF("\"logit_bias\":{\"abc\":1}", "logit_bias");
    BADF("\"logit_bias\":{\"5\":101}", "logit_bias");
    BADF("\"logit_bias\":[1]", "logit_bias");
    BADF("\"top_logprobs\":3", "top_logprobs");          /* needs logprobs: true */
    BADF("\"logprobs\":true,\"top_logprobs\":21", "top_logprobs");
    BADF("\"seed\":\"x\"", "seed");
    BADF("\"model\":5", "model");
    BADF("\"stream_options\":3", "stream_options");
    BADF("\"user\":7", "user");
    BADF("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", "tools");
    BADF("\"response_format\":{\"type\":\"json_object\"}", "response_format");
    BADF("\"response_format\":\"json\"", "response_format");
    expect_bad(SRV_API_COMPLETION, "{\"prompt\":5}", 400, "prompt");
    expect_bad(SRV_API_COMPLETION, "{\"prompt\":[1,-2]}", 400, "prompt");
    expect_bad(SRV_API_COMPLETION, "{\"prompt\":[\"a\",\"b\"]}", 400, "prompt");
    expect_bad(SRV_API_COMPLETION, "{\"prompt\":\"x\",\"logprobs\":6}", 400, "logprobs");
    expect_bad(SRV_API_COMPLETION, "{\"max_tokens\":3}", 400, "prompt");
    expect_bad(SRV_API_EMBEDDING, "{\"input\":\"\"}", 400, "input");
    expect_bad(SRV_API_EMBEDDING, "{\"input\":[]}", 400, "input");
    expect_bad(SRV_API_EMBEDDING, "{\"input\":{}}", 400, "input");
    expect_bad(SRV_API_EMBEDDING, "{\"input\":\"a\",\"encoding_format\":\"hex\"}", 400, "encoding_format");
    expect_bad(SRV_API_GENERATE, "{\"prompt\":\"x\",\"id\":\"a b\"}", 400, "id");

    /* Depth limit: 65 nested arrays are refused before jansson sees them;
     * brackets inside strings do not count. */
    char deep[256] = "{\"prompt\":";
    for (int i = 0; i < 70; i++) strcat(deep, "[");
    expect_bad(SRV_API_COMPLETION, deep, 400, "");
    CHECK(srv_json_depth("{\"a\":\"[[[[[[\"}", 13, 4) == 1);
    CHECK(srv_json_depth("[[\"\\\"[\"]]", 9, 4) == 2);

    return rf_test_done("server_request");
}
