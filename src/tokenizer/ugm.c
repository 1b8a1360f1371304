/* ugm.c — unigram (tokenizer.ggml.model = "t5"). */
#include "tokenizer/tok_internal.h"

rf_status tok_ugm_init(rf_vocab *v, const gguf_file *f, rf_error *err) { (void)v; (void)f; (void)err; return RF_OK; }
void tok_ugm_free(rf_vocab *v) { (void)v; }
int tok_ugm_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out)
{
    (void)v; (void)text; (void)len; (void)out;
    return -1;
}
