/* detok.c — incremental detokenizer for streaming.
 *
 * Tokens arrive one by one; their pieces may end in the middle of a UTF-8
 * character (byte-fallback tokens, byte-level BPE pieces). The detokenizer
 * keeps at most 3 pending bytes of an unfinished character and emits only
 * complete characters, so a client never sees half a character. Bytes that
 * can never become a valid character are replaced by U+FFFD, one
 * replacement per maximal ill-formed subpart (Unicode's recommended
 * practice), so the output is always valid UTF-8.
 *
 * A push that does not fit the caller's buffer returns the negated size
 * and changes nothing, so the caller can retry the same token with a larger
 * buffer. All memory is allocated at creation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

struct rf_detok {
    const rf_vocab *v;
    bool special;
    bool first;          /* next piece is the first of the stream */
    uint8_t pend[4];     /* bytes of an unfinished character */
    int n_pend;
    uint8_t *in;         /* (max_piece_len + 4) pending + piece */
    char *out;           /* (3 * (max_piece_len + 4)) worst case all U+FFFD */
    int cap_in;
};

rf_detok *rf_vocab_detok_create(const rf_vocab *v, bool special)
{
    rf_detok *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->v = v;
    d->special = special;
    d->first = true;
    d->cap_in = v->max_piece_len + 8;
    d->in = malloc((size_t)d->cap_in);
    d->out = malloc((size_t)d->cap_in * 3);
    if (!d->in || !d->out) {
        rf_detok_free(d);
        return NULL;
    }
    return d;
}

void rf_detok_free(rf_detok *d)
{
    if (!d)
        return;
    free(d->in);
    free(d->out);
    free(d);
}

void rf_detok_reset(rf_detok *d)
{
    d->first = true;
    d->n_pend = 0;
}

/* Classify the bytes at p[0..n): > 0 a complete valid character of that
 * length; 0 a valid but unfinished prefix; < 0 an ill-formed subpart of
 * that many bytes. */
static int utf8_check(const uint8_t *p, int n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    int need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else
        return -1;
    for (int i = 1; i <= need; i++) {
        if (i >= n)
            return 0;
        uint8_t b = p[i];
        uint8_t l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xbf;
        if (b < l || b > h)
            return -i;
    }
    return need + 1;
}

/* Convert in[0..n) to complete characters in out; the unfinished tail (if
 * `hold`) is left in tail and n_tail. Returns bytes written. */
static int convert(const uint8_t *in, int n, char *out, bool hold, uint8_t *tail, int *n_tail)
{
    int o = 0, i = 0;
    *n_tail = 0;
    while (i < n) {
        int r = utf8_check(in + i, n - i);
        if (r > 0) {
            memcpy(out + o, in + i, (size_t)r);
            o += r;
            i += r;
        } else if (r == 0) {
            if (hold) {
                *n_tail = n - i;
                memcpy(tail, in + i, (size_t)(n - i));
                return o;
            }
            memcpy(out + o, "\xef\xbf\xbd", 3);  /* truncated at the end */
            o += 3;
            return o;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += -r;
        }
    }
    return o;
}

int rf_detok_push(rf_detok *d, int32_t tok, char *buf, int n_buf)
{
    int np = rf_vocab_token_to_piece(d->v, tok, (char *)d->in + d->n_pend, d->cap_in - d->n_pend, d->special);
    if (np < 0)
        return 0;  /* cannot happen: the buffer holds the longest piece */
    memcpy(d->in, d->pend, (size_t)d->n_pend);
    const uint8_t *p = d->in;
    int n = d->n_pend + np;
    /* the first piece loses the space the tokenizer prefixed */
    int skip = 0;
    if (d->first && d->v->add_space_prefix && np > 0 && d->in[d->n_pend] == ' ') {
        /* only the piece's own leading space; pending bytes are none here */
        skip = d->n_pend == 0 ? 1 : 0;
    }
    uint8_t tail[4];
    int n_tail;
    int o = convert(p + skip, n - skip, d->out, true, tail, &n_tail);
    if (o > n_buf)
        return -o;
    memcpy(buf, d->out, (size_t)o);
    memcpy(d->pend, tail, (size_t)n_tail);
    d->n_pend = n_tail;
    d->first = false;
    return o;
}

int rf_detok_flush(rf_detok *d, char *buf, int n_buf)
{
    uint8_t tail[4];
    int n_tail;
    int o = convert(d->pend, d->n_pend, d->out, false, tail, &n_tail);
    if (o > n_buf)
        return -o;
    memcpy(buf, d->out, (size_t)o);
    d->n_pend = 0;
    return o;
}

/* ------------------------------------------------ whole-sequence form */

int rf_vocab_detokenize(const rf_vocab *v, const int32_t *toks, int n_toks, char *buf, int n_buf,
                        bool remove_special, bool unparse_special)
{
    int avail = n_buf < 0 ? 0 : n_buf;
    int64_t total = 0;
    bool remove_space = v->add_space_prefix;
    if (remove_special && v->add_bos && n_toks > 0 && toks[0] == v->bos) {
        remove_space = false;
        n_toks--;
        toks++;
    }
    if (remove_special && v->add_eos && n_toks > 0 && toks[n_toks - 1] == v->eos)
        n_toks--;
    char *text = buf;
    for (int i = 0; i < n_toks; i++) {
        int32_t t = toks[i];
        const char *p = "";
        int n = 0;
        if (t >= 0 && t < v->n_tokens &&
            (unparse_special || !(v->attr[t] & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL)))) {
            p = v->piece + v->piece_off[t];
            n = (int)v->piece_len[t];
        }
        if (remove_space && n > 0 && *p == ' ') {
            p++;
            n--;
        }
        remove_space = false;
        if (n > avail) {
            avail = 0;
        } else if (n > 0) {
            memcpy(text, p, (size_t)n);
            text += n;
            avail -= n;
        }
        total += n;
    }
    if (total > INT32_MAX)
        return INT32_MIN;
    if (total > n_buf)
        return -(int)total;
    if (!v->clean_spaces)
        return (int)total;

    /* clean_up_tokenization_spaces, llama.cpp's three passes */
    char *s = buf;
    int t1 = (int)total, n = t1 ? 1 : 0;
    for (int i = 1; i < t1; i++) {
        char x = s[i];
        if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ','))
            n--;
        s[n++] = x;
    }
    int t2 = n;
    n = t2 ? 1 : 0;
    for (int i = 1; i < t2; i++) {
        char x = s[i];
        if (x == '\'' && i + 1 < t2 && s[i - 1] == ' ' && s[i + 1] == ' ') {
            n--;
            s[++i] = '\0';
        }
        s[n++] = x;
    }
    int t3 = n;
    n = t3 ? 1 : 0;
    for (int i = 1; i < t3; i++) {
        char x = s[i];
        if (s[i - 1] == ' ' && x == '\'' && i + 1 < t3) {
            char x1 = s[i + 1];
            if (x1 == 's' || x1 == 'm')
                n--;
            else if (i + 2 < t3) {
                char x2 = s[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e'))
                    n--;
            }
        }
        s[n++] = x;
    }
    return n;
}
