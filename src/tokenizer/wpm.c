/* wpm.c — WordPiece (tokenizer.ggml.model = "bert"). */
#include "tokenizer/tok_internal.h"

int tok_wpm_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out)
{
    (void)v; (void)text; (void)len; (void)out;
    return -1;
}
