/* wpm.c — WordPiece (tokenizer.ggml.model = "bert").
 *
 * BERT's normaliser as llama.cpp applies it: decode (invalid bytes become
 * U+FFFD), optionally map each code point to the first code point of its
 * NFD form and drop accent marks (strip_accents), drop NUL, U+FFFD and
 * control characters, lowercase, split on whitespace, and make every
 * punctuation character, ASCII symbol and CJK ideograph a word of its own.
 * Each word gets the U+2581 word-start marker and is covered greedily by
 * the longest vocab entries (byte ranges, as llama.cpp does); a word that
 * cannot be covered becomes [UNK].
 *
 * Character classes come from PCRE2's Unicode properties; the two
 * mappings PCRE2 lacks (lowercase, NFD first code point) are generated
 * tables (wpm_tables.h).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "tokenizer/wpm_tables.h"

enum { CLS_NONE = 0, CLS_PUNCT, CLS_SYMBOL, CLS_MARK, CLS_CONTROL };

static pcre2_code *g_cls;
static pthread_once_t g_cls_once = PTHREAD_ONCE_INIT;

static void cls_init(void)
{
    int ec;
    PCRE2_SIZE eo;
    g_cls = pcre2_compile((PCRE2_SPTR) "(\\p{P})|(\\p{S})|(\\p{M})|([\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}])",
                          PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &ec, &eo, NULL);
    if (g_cls)
        pcre2_jit_compile(g_cls, PCRE2_JIT_COMPLETE);
}

static bool is_ws(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static int classify(uint32_t cp, pcre2_match_data *md)
{
    if (!g_cls)
        return CLS_NONE;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return CLS_CONTROL;
    if (cp > 0x10FFFF)
        return CLS_NONE;
    char u[4];
    int n = tok_utf8_encode(cp, u);
    if (pcre2_match(g_cls, (PCRE2_SPTR)u, (size_t)n, 0, PCRE2_NO_UTF_CHECK, md, NULL) < 0)
        return CLS_NONE;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (int g = 1; g <= 4; g++)
        if (ov[2 * g] != PCRE2_UNSET)
            return g;
    return CLS_NONE;
}

static int range_find(const int32_t (*t)[3], size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((uint32_t)t[mid][1] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && (uint32_t)t[lo][0] <= cp ? (int)lo : -1;
}

static uint32_t to_lower(uint32_t cp)
{
    int i = range_find(tok_lower, sizeof tok_lower / sizeof tok_lower[0], cp);
    return i < 0 ? cp : (uint32_t)((int32_t)cp + tok_lower[i][2]);
}

static uint32_t nfd_first(uint32_t cp)
{
    int i = range_find(tok_nfd, sizeof tok_nfd / sizeof tok_nfd[0], cp);
    return i < 0 ? cp : (uint32_t)tok_nfd[i][2];
}

static bool is_chinese(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
           (c >= 0x2B920 && c <= 0x2CEAF) /* as the HF code has it */ || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Cover one word (with its U+2581 prefix) greedily by longest match. */
static void wpm_word(const rf_vocab *v, const char *w, size_t n, tok_list *out)
{
    size_t start = out->n;
    for (size_t i = 0; i < n; i++) {
        size_t jmax = i + (size_t)v->max_token_len + 1;
        if (jmax > n)
            jmax = n;
        bool match = false;
        for (size_t j = jmax; j > i; j--) {
            int32_t id = tok_lookup(v, w + i, j - i);
            if (id >= 0) {
                tok_list_push(out, id);
                match = true;
                i = j - 1;
                break;
            }
        }
        if (!match) {
            out->n = start;
            break;
        }
    }
    if (out->n == start && v->unk >= 0)
        tok_list_push(out, v->unk);
}

int tok_wpm_encode(const rf_vocab *v, const char *text, size_t len, tok_list *out)
{
    pthread_once(&g_cls_once, cls_init);
    pcre2_match_data *md = pcre2_match_data_create(8, NULL);
    /* worst case: every code point 4 bytes plus a 3-byte marker */
    char *word = malloc(len * 7 + 8);
    if (!md || !word) {
        pcre2_match_data_free(md);
        free(word);
        return -1;
    }
    memcpy(word, "\xe2\x96\x81", 3);
    size_t wn = 3;  /* bytes in word, marker included */
    for (size_t i = 0; i < len;) {
        uint32_t cp = tok_utf8_decode((const uint8_t *)text, len, &i);
        if (v->strip_accents)
            cp = nfd_first(cp);
        if (is_ws(cp)) {
            if (wn > 3)
                wpm_word(v, word, wn, out);
            wn = 3;
            continue;
        }
        int cls = classify(cp, md);
        if (cp == 0 || cp == 0xFFFD || cls == CLS_CONTROL)
            continue;
        if (v->strip_accents && cls == CLS_MARK)
            continue;
        uint32_t lc = v->lowercase ? to_lower(cp) : cp;
        char u[4];
        int nu = tok_utf8_encode(lc, u);
        if (cls == CLS_PUNCT || (cp < 0x7F && cls == CLS_SYMBOL) || is_chinese(cp)) {
            if (wn > 3)
                wpm_word(v, word, wn, out);
            memcpy(word + 3, u, (size_t)nu);
            wpm_word(v, word, 3 + (size_t)nu, out);
            wn = 3;
        } else {
            memcpy(word + wn, u, (size_t)nu);
            wn += (size_t)nu;
        }
    }
    if (wn > 3)
        wpm_word(v, word, wn, out);
    pcre2_match_data_free(md);
    free(word);
    return out->oom ? -1 : 0;
}
