/* detok.c — incremental detokenizer. */
#include "tokenizer/tok_internal.h"
