/* tok_internal.h — what the tokenizer files share: the rf_vocab layout, the
 * string hash tables, a growable token list and the UTF-8 rules.
 *
 * UTF-8 is decoded the way llama.cpp's unicode.cpp decodes it (lead byte
 * decides the length, continuation bytes are checked, an invalid byte
 * becomes U+FFFD and one byte is consumed), because BPE pre-tokenization
 * re-encodes the text from those code points and token ids depend on it.
 */
#ifndef RF_TOK_INTERNAL_H
#define RF_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "tokenizer/tokenizer.h"

/* Token attributes (llama.cpp's llama_token_attr bits). */
enum {
    TOK_ATTR_UNDEFINED = 0,
    TOK_ATTR_UNKNOWN = 1 << 0,
    TOK_ATTR_UNUSED = 1 << 1,
    TOK_ATTR_NORMAL = 1 << 2,
    TOK_ATTR_CONTROL = 1 << 3,
    TOK_ATTR_USER_DEFINED = 1 << 4,
    TOK_ATTR_BYTE = 1 << 5,
    TOK_ATTR_NORMALIZED = 1 << 6,
    TOK_ATTR_LSTRIP = 1 << 7,
    TOK_ATTR_RSTRIP = 1 << 8,
    TOK_ATTR_SINGLE_WORD = 1 << 9,
};

typedef enum tok_type { TOK_SPM = 1, TOK_BPE, TOK_WPM, TOK_UGM } tok_type;

/* ------------------------------------------------------------- hashing */

static inline uint64_t tok_hash_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *s = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define TOK_HASH_SEED 0xcbf29ce484222325ULL

/* Open-addressing table of string -> token id; slots hold id + 1 (0 = empty).
 * Sized to a power of two at least twice the entries. */
typedef struct tok_strmap {
    uint32_t *slot;
    uint64_t mask;
} tok_strmap;

/* Merge table: (left, right) string pair -> rank. */
typedef struct tok_merge {
    uint32_t off;     /* into merge_text */
    uint32_t n_left;  /* bytes of the left part */
    uint32_t n_right; /* bytes of the right part (after the separating space) */
} tok_merge;

/* Byte trie for UGM longest-prefix walks. Children of a node are a sibling
 * list; the root keeps a direct 256-entry table. */
typedef struct tok_trie_node {
    int32_t first_child;
    int32_t next_sibling;
    int32_t value;     /* token id, -1 when no token ends here */
    uint8_t byte;
} tok_trie_node;

typedef struct tok_trie {
    tok_trie_node *nodes;
    int32_t n_nodes, cap;
    int32_t root_child[256];
} tok_trie;

void tok_trie_init(tok_trie *t);
bool tok_trie_insert(tok_trie *t, const char *s, size_t n, int32_t value);
int32_t tok_trie_child(const tok_trie *t, int32_t node, uint8_t byte);  /* node -1 = root */
size_t tok_trie_longest_path(const tok_trie *t, const char *s, size_t n);
int32_t tok_trie_node_of(tok_trie *t, const char *s, size_t n);  /* node of an inserted string */

typedef struct tok_pretok tok_pretok;  /* compiled split patterns (pretok.c) */

struct rf_vocab {
    tok_type type;
    char model_name[64];     /* tokenizer.ggml.model */
    char pre_name[64];       /* tokenizer.ggml.pre ("" when absent) */
    int pre;                 /* TOK_PRE_* (pretok.c) */

    int32_t n_tokens;
    char *text;              /* all token strings, NUL-terminated each */
    uint32_t *text_off;      /* (n_tokens) */
    uint32_t *text_len;      /* (n_tokens) */
    float *score;            /* (n_tokens) */
    uint32_t *attr;          /* (n_tokens) TOK_ATTR_* bits */
    int max_token_len;
    tok_strmap tok_map;      /* text -> id (the last id wins on duplicates) */

    char *merge_text;        /* merges, copied as stored ("left right") */
    tok_merge *merges;       /* (n_merges) rank = index */
    uint32_t n_merges;
    tok_strmap merge_map;    /* (left, right) -> rank + 1 */

    char *piece;             /* token_to_piece(special = true) of every token */
    uint32_t *piece_off;     /* (n_tokens) */
    uint32_t *piece_len;     /* (n_tokens) */
    int max_piece_len;

    int32_t bos, eos, eot, eom, unk, sep, pad, mask;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    int32_t *eog;            /* sorted end-of-generation ids */
    int n_eog;

    int32_t *special;        /* control/user-defined/unknown ids, longest text first */
    int n_special;
    tok_trie special_trie;   /* texts of the special tokens */
    int32_t *special_node;   /* (n_special) trie node where each text ends */

    bool add_bos, add_eos, add_sep, add_space_prefix, remove_extra_ws;
    bool escape_ws, treat_ws_as_suffix, ignore_merges, clean_spaces;
    bool byte_encode;        /* BPE words are GPT-2 byte-level encoded */
    bool lowercase, strip_accents;   /* WPM normaliser */

    bool spm_isolated[128];  /* SPM: ASCII bytes no multi-byte token contains */
    int32_t byte_tok[256];   /* SPM/UGM/gemma4 byte fallback <0xNN> (or -1) */

    tok_pretok *pretok;

    /* UGM */
    uint8_t *charsmap;       /* precompiled_charsmap copy */
    size_t charsmap_len;
    const uint32_t *xcda;    /* into charsmap */
    size_t xcda_n;
    const char *repl;        /* replacement strings, into charsmap */
    size_t repl_len;
    tok_trie ugm_tokens;     /* normal + user-defined + unused tokens */
    tok_trie ugm_user;       /* user-defined tokens */
    double ugm_unk_score;
};

/* ------------------------------------------------------ token lists */

typedef struct tok_list {
    int32_t *v;
    size_t n, cap;
    bool oom;
} tok_list;

bool tok_list_grow(tok_list *l, size_t need);
/* Appends; on allocation failure sets l->oom and drops the token. */
static inline void tok_list_push(tok_list *l, int32_t t)
{
    if (l->n == l->cap && !tok_list_grow(l, l->n + 1))
        return;
    l->v[l->n++] = t;
}

/* ------------------------------------------------------------ UTF-8 */

/* Length of a UTF-8 sequence from its lead byte (llama.cpp's table:
 * continuation and invalid lead bytes count 1, 0xF8..0xFF count 4). */
static inline size_t tok_utf8_len(uint8_t c)
{
    static const uint8_t lut[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lut[c >> 4];
}

/* Decode one code point at s[*i] (n bytes total); invalid -> 0xFFFD and one
 * byte consumed. Overlong forms and surrogates are decoded, not rejected. */
uint32_t tok_utf8_decode(const uint8_t *s, size_t n, size_t *i);
/* Encode cp (any value < 0x200000 as llama.cpp's unicode_cpt_to_utf8 up to
 * 0x10FFFF); returns bytes written (0 for values past 0x10FFFF). */
int tok_utf8_encode(uint32_t cp, char *out);

/* ------------------------------------------------------ lookups */

int32_t tok_lookup(const rf_vocab *v, const char *s, size_t n);  /* -1 if absent */
int tok_merge_rank(const rf_vocab *v, const char *l, size_t nl, const char *r, size_t nr);  /* -1 */

/* GPT-2 bytes_to_unicode: byte -> code point, and its inverse (-1). */
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp);

/* -------------------------------------------------- per-family tokenizers */

/* Each appends the tokens of one raw-text fragment to `out`; 0 on success,
 * -1 on allocation failure. */
int tok_spm_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out);
int tok_bpe_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out);
int tok_wpm_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out);
int tok_ugm_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out);

/* UGM load-time setup (ugm.c). */
rf_status tok_ugm_init(rf_vocab *v, const gguf_file *f, rf_error *err);
void tok_ugm_free(rf_vocab *v);

/* ------------------------------------------------------ pre-tokenizers */

/* Pre-tokenizer kinds (llama.cpp's LLAMA_VOCAB_PRE_TYPE_*). */
enum {
    TOK_PRE_DEFAULT = 0, TOK_PRE_LLAMA3, TOK_PRE_DEEPSEEK_LLM, TOK_PRE_DEEPSEEK_CODER,
    TOK_PRE_FALCON, TOK_PRE_MPT, TOK_PRE_STARCODER, TOK_PRE_GPT2, TOK_PRE_REFACT,
    TOK_PRE_COMMAND_R, TOK_PRE_STABLELM2, TOK_PRE_QWEN2, TOK_PRE_QWEN35, TOK_PRE_OLMO,
    TOK_PRE_DBRX, TOK_PRE_SMAUG, TOK_PRE_PORO, TOK_PRE_CHATGLM4, TOK_PRE_VIKING,
    TOK_PRE_JAIS, TOK_PRE_TEKKEN, TOK_PRE_SMOLLM, TOK_PRE_CODESHELL, TOK_PRE_BLOOM,
    TOK_PRE_GPT3_FINNISH, TOK_PRE_EXAONE, TOK_PRE_CHAMELEON, TOK_PRE_MINERVA,
    TOK_PRE_DEEPSEEK3_LLM, TOK_PRE_GPT4O, TOK_PRE_SUPERBPE, TOK_PRE_TRILLION,
    TOK_PRE_BAILINGMOE, TOK_PRE_SEED_CODER, TOK_PRE_HUNYUAN, TOK_PRE_HUNYUAN_DENSE,
    TOK_PRE_GROK_2, TOK_PRE_GRANITE_DOCLING, TOK_PRE_MINIMAX_M2, TOK_PRE_SOLAR_OPEN,
    TOK_PRE_GEMMA4, TOK_PRE_SARVAM_MOE, TOK_PRE_JAIS2, TOK_PRE_YOUTU, TOK_PRE_JOYAI_LLM,
    TOK_PRE_EXAONE_MOE, TOK_PRE_GRANITE_EMB_MULTI, TOK_PRE_MINICPM5, TOK_PRE_LAGUNA,
    TOK_PRE_MELLUM2, TOK_PRE_WHITESPACE, TOK_PRE_TINY_AYA, TOK_PRE_AFMOE, TOK_PRE_KIMI_K2,
    TOK_PRE_COUNT
};

/* Resolve tokenizer.ggml.pre for a BPE vocab: sets v->pre and the flags the
 * pre-tokenizer implies (ignore_merges, add_bos, clean_spaces, escape_ws,
 * byte_encode). False when the name is unknown. */
bool tok_pretok_resolve(rf_vocab *v, const char *pre);
rf_status tok_pretok_compile(rf_vocab *v, rf_error *err);
void tok_pretok_free(tok_pretok *p);

/* Split `len` bytes into words. Words are emitted as byte ranges of a
 * re-encoded copy of the text (invalid UTF-8 replaced by U+FFFD); when the
 * vocab is byte-level the words are GPT-2 byte-encoded. The callback gets
 * each word; returns -1 on allocation failure. */
typedef int (*tok_word_fn)(void *ctx, const char *word, size_t n);
int tok_pretok_split(const rf_vocab *v, const char *text, size_t len, tok_word_fn fn, void *ctx);

#endif
