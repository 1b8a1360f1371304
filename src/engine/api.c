/* api.c — the public tokenizer and chat-template entry points of
 * rocmforge.h, as thin wrappers over the model's vocabulary (tokenizer/)
 * and the template renderer (chat/). The detokenizer's push/flush/free are
 * the tokenizer module's own functions. */
#include <stdlib.h>

#include "base/base.h"
#include "chat/chat.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

int32_t rf_token_bos(const rf_model *m) { return m && m->vocab ? rf_vocab_bos(m->vocab) : -1; }
int32_t rf_token_eos(const rf_model *m) { return m && m->vocab ? rf_vocab_eos(m->vocab) : -1; }
int32_t rf_token_eot(const rf_model *m) { return m && m->vocab ? rf_vocab_eot(m->vocab) : -1; }

bool rf_token_is_eog(const rf_model *m, int32_t tok)
{
    return m && m->vocab && rf_vocab_is_eog(m->vocab, tok);
}

int rf_tokenize(const rf_model *m, const char *text, size_t len, int32_t *out, int n_max, bool add_special,
                bool parse_special)
{
    if (!m || !m->vocab) return 0;
    return rf_vocab_tokenize(m->vocab, text, len, out, n_max, add_special, parse_special);
}

int rf_token_to_piece(const rf_model *m, int32_t tok, char *buf, int n_buf, bool special)
{
    if (!m || !m->vocab) return 0;
    return rf_vocab_token_to_piece(m->vocab, tok, buf, n_buf, special);
}

rf_detok *rf_detok_create(const rf_model *m, bool special)
{
    return m && m->vocab ? rf_vocab_detok_create(m->vocab, special) : NULL;
}

const char *rf_model_chat_template(const rf_model *m)
{
    return m ? m->chat_template : NULL;
}

/* Text of a special token for the template's bos_token / eos_token. */
static const char *token_text_or_empty(const rf_model *m, int32_t tok)
{
    if (tok < 0) return "";
    const char *t = rf_vocab_token_text(m->vocab, tok);
    return t ? t : "";
}

rf_status rf_chat_apply(const rf_model *m, const char *tmpl, const char *messages_json, const char *tools_json,
                        bool add_generation_prompt, char **out, rf_error *err)
{
    if (!m || !messages_json || !out) return rf_err(err, RF_ERR_INVALID_ARG, "rf_chat_apply: model, messages and out are required");
    if (!tmpl) tmpl = m->chat_template ? m->chat_template : rf_chat_fallback_template();
    const char *bos = m->vocab ? token_text_or_empty(m, rf_vocab_bos(m->vocab)) : "";
    const char *eos = m->vocab ? token_text_or_empty(m, rf_vocab_eos(m->vocab)) : "";
    return rf_chat_render(tmpl, messages_json, tools_json, add_generation_prompt, bos, eos, NULL, out, err);
}
