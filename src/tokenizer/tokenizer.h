/* tokenizer.h — tokenizers built only from GGUF metadata.
 *
 * One rf_vocab per model: the token strings, scores and types, the special
 * ids, the flags (add_bos, add_space_prefix, ...) and the tokenizer family:
 *   SPM  (tokenizer.ggml.model = "llama"): score-driven bigram merges with
 *        <0xNN> byte fallback;
 *   BPE  ("gpt2", "gemma4"): merge-rank BPE after a pre-tokenizer chosen by
 *        tokenizer.ggml.pre (PCRE2 split patterns), byte-level encoded;
 *   WPM  ("bert"): WordPiece, greedy longest match per word;
 *   UGM  ("t5"): unigram Viterbi with the precompiled normaliser.
 * The behaviour (splits, special-token partition, BOS/EOS rules, pieces)
 * follows llama.cpp's llama-vocab.cpp so token ids match it exactly; tests
 * compare against llama.cpp's own outputs.
 *
 * The engine wraps these into the public rf_tokenize / rf_token_to_piece /
 * rf_detok_* of rocmforge.h. An rf_vocab is immutable after load and may be
 * used from several threads at once; an rf_detok belongs to one stream.
 */
#ifndef RF_TOKENIZER_H
#define RF_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf/gguf.h"
#include "rocmforge.h"

typedef struct rf_vocab rf_vocab;

/* Build the vocab from a parsed GGUF (which may be vocab-only). The vocab
 * copies what it needs; `f` may be freed afterwards. An unknown
 * tokenizer.ggml.model or .pre is RF_ERR_UNSUPPORTED naming it; malformed
 * arrays are RF_ERR_FORMAT naming the key. */
rf_status rf_vocab_load(const gguf_file *f, rf_vocab **out, rf_error *err);
void rf_vocab_free(rf_vocab *v);

int rf_vocab_n_tokens(const rf_vocab *v);
/* Special ids from metadata (or the family's defaults, as llama.cpp); -1 if none. */
int32_t rf_vocab_bos(const rf_vocab *v);
int32_t rf_vocab_eos(const rf_vocab *v);
int32_t rf_vocab_eot(const rf_vocab *v);
/* EOS, EOT, EOM and the end-of-generation tokens recognised by their text. */
bool rf_vocab_is_eog(const rf_vocab *v, int32_t tok);
/* Raw vocab string of a token (NUL-terminated), "" when out of range. */
const char *rf_vocab_token_text(const rf_vocab *v, int32_t tok);
/* "SPM", "BPE", "WPM", "UGM" and the pre-tokenizer name, for display. */
const char *rf_vocab_type_name(const rf_vocab *v);
const char *rf_vocab_pre_name(const rf_vocab *v);
bool rf_vocab_add_bos(const rf_vocab *v);
bool rf_vocab_add_eos(const rf_vocab *v);
bool rf_vocab_add_space_prefix(const rf_vocab *v);
/* True for control/unknown tokens (rendered only when `special`). */
bool rf_vocab_is_control(const rf_vocab *v, int32_t tok);

/* Same contract as rf_tokenize: returns the number of tokens written, or the
 * negated required count when n_max is too small (nothing useful written).
 * INT32_MIN on failure (text longer than INT32_MAX bytes, out of memory). */
int rf_vocab_tokenize(const rf_vocab *v, const char *text, size_t len,
                      int32_t *out, int n_max, bool add_special, bool parse_special);

/* Same contract as rf_token_to_piece (llama_token_to_piece with lstrip = 0):
 * bytes written, or the negated required size. Not NUL-terminated. */
int rf_vocab_token_to_piece(const rf_vocab *v, int32_t tok, char *buf, int n_buf,
                            bool special);

/* Whole-sequence detokenization, exactly llama_detokenize: the first
 * piece loses one leading space when the vocab adds a space prefix (unless
 * remove_special drops a leading BOS), remove_special drops BOS/EOS where
 * the vocab adds them, and vocabs with clean_up_tokenization_spaces get
 * llama.cpp's three clean-up passes. Bytes written, or the negated size. */
int rf_vocab_detokenize(const rf_vocab *v, const int32_t *toks, int n_toks, char *buf, int n_buf,
                        bool remove_special, bool unparse_special);

/* Incremental detokenizer. Emits only complete UTF-8 characters; bytes that
 * can never complete a character are replaced by U+FFFD. The first piece of
 * a stream loses one leading space when the vocab adds a space prefix
 * (as llama_detokenize does). Allocates only at creation. */
typedef struct rf_detok rf_detok;
rf_detok *rf_vocab_detok_create(const rf_vocab *v, bool special);
int rf_detok_push(rf_detok *d, int32_t tok, char *buf, int n_buf);
int rf_detok_flush(rf_detok *d, char *buf, int n_buf);
void rf_detok_reset(rf_detok *d);
void rf_detok_free(rf_detok *d);

#endif
