/* jinja_str.c — Python str semantics over UTF-8 (ptr, len) strings: the
 * isspace() set, strip/split/rsplit/splitlines/replace as CPython does them,
 * and Unicode case mapping. Kept apart from the filters because both
 * filters and str methods build on it, and because the details (e.g.
 * rsplit keeping leading whitespace, "ß".upper() == "SS") are what make a
 * rendered prompt byte-identical to the one transformers produces. */
#include <stdlib.h>
#include <string.h>

#include "chat/jinja.h"

/* Python str.isspace() for the code point starting at p[i]; *len its bytes. */
bool jstr_space_at(const char *p, size_t n, size_t i, size_t *len)
{
    unsigned char b0 = (unsigned char)p[i];
    *len = 1;
    if (b0 == ' ' || (b0 >= 0x09 && b0 <= 0x0d) || (b0 >= 0x1c && b0 <= 0x1f))
        return true;
    if (b0 == 0xC2 && i + 1 < n) {
        unsigned char b1 = (unsigned char)p[i + 1];
        if (b1 == 0x85 || b1 == 0xA0) { *len = 2; return true; }
    }
    if ((b0 == 0xE1 || b0 == 0xE2 || b0 == 0xE3) && i + 2 < n) {
        unsigned char b1 = (unsigned char)p[i + 1], b2 = (unsigned char)p[i + 2];
        uint32_t cp = (uint32_t)(b0 & 0x0F) << 12 | (uint32_t)(b1 & 0x3F) << 6 | (b2 & 0x3F);
        if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
            cp == 0x202F || cp == 0x205F || cp == 0x3000) {
            *len = 3;
            return true;
        }
    }
    return false;
}

size_t jstr_cp_len(const char *p, size_t n, size_t i)
{
    size_t j = i + 1;
    while (j < n && ((unsigned char)p[j] & 0xC0) == 0x80) j++;
    return j - i;
}

/* Is the code point at p[i] (length k) one of the code points of chars? */
static bool in_chars(jv chars, const char *p, size_t k)
{
    for (size_t j = 0; j < chars.u.s.n;) {
        size_t l = jstr_cp_len(chars.u.s.p, chars.u.s.n, j);
        if (l == k && !memcmp(chars.u.s.p + j, p, k))
            return true;
        j += l;
    }
    return false;
}

/* strip: which = 1 left, 2 right, 3 both; chars NONE = whitespace. */
jv jstr_strip(jv s, jv chars, int which)
{
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, a = 0, b = n;
    bool ws = chars.t != JV_STR;
    if (which & 1) {
        while (a < n) {
            size_t k;
            if (ws) { if (!jstr_space_at(p, n, a, &k)) break; }
            else { k = jstr_cp_len(p, n, a); if (!in_chars(chars, p + a, k)) break; }
            a += k;
        }
    }
    if (which & 2) {
        /* forward scan remembering the end of the last kept code point */
        size_t last = a;
        for (size_t i = a; i < n;) {
            size_t k;
            bool strip;
            if (ws) strip = jstr_space_at(p, n, i, &k);
            else { k = jstr_cp_len(p, n, i); strip = in_chars(chars, p + i, k); }
            i += k;
            if (!strip) last = i;
        }
        b = last;
    }
    return jv_strn(p + a, b - a);
}

/* ---- Unicode case mapping for the scripts chat text mostly uses: Latin
 * (incl. Latin-1, Extended-A/B, Extended Additional/Vietnamese), Greek,
 * Cyrillic, Armenian and fullwidth Latin, matching Python's str.upper()/
 * lower() there (ß upper-cases to "SS", İ lower-cases to "i̇"). Other code
 * points (CJK and other caseless scripts) are unchanged, as in Python. Not
 * covered: Greek final-sigma context, Georgian, Cherokee, Deseret... */

/* In a run where case pairs alternate: is cp the upper member? */
static int pair_in(uint32_t cp, uint32_t lo, uint32_t hi, bool even_upper)
{
    if (cp < lo || cp > hi) return 0;
    bool even = (cp & 1) == 0;
    return (even == even_upper) ? 1 : -1;   /* 1: upper, -1: lower */
}

static const struct { uint32_t lo, hi; bool even_upper; } CASE_PAIRS[] = {
    {0x100, 0x12F, true}, {0x132, 0x137, true}, {0x139, 0x148, false}, {0x14A, 0x177, true},
    {0x179, 0x17E, false}, {0x1CD, 0x1DC, false}, {0x1DE, 0x1EF, true}, {0x1F8, 0x21F, true},
    {0x222, 0x233, true}, {0x3D8, 0x3EF, true}, {0x460, 0x481, true}, {0x48A, 0x4BF, true},
    {0x4C1, 0x4CE, false}, {0x4D0, 0x52F, true}, {0x1E00, 0x1E95, true}, {0x1EA0, 0x1EFF, true},
};

/* Simple (1:1) mapping; returns cp when it has no mapping. */
uint32_t jstr_case_map(uint32_t cp, bool to_upper)
{
    if (cp < 0x80) {
        if (to_upper && cp >= 'a' && cp <= 'z') return cp - 32;
        if (!to_upper && cp >= 'A' && cp <= 'Z') return cp + 32;
        return cp;
    }
    if (to_upper) {
        if (cp == 0xB5) return 0x39C;
        if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 32;
        if (cp == 0xFF) return 0x178;
        if (cp == 0x131) return 'I';
        if (cp == 0x17F) return 'S';
        if (cp >= 0x3B1 && cp <= 0x3CB && cp != 0x3C2) return cp - 32;
        if (cp == 0x3C2) return 0x3A3;
        if (cp == 0x3AC) return 0x386;
        if (cp >= 0x3AD && cp <= 0x3AF) return cp - 37;
        if (cp == 0x3CC) return 0x38C;
        if (cp == 0x3CD || cp == 0x3CE) return cp - 63;
        if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
        if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
        if (cp == 0x4CF) return 0x4C0;
        if (cp >= 0x561 && cp <= 0x586) return cp - 48;
        if (cp >= 0xFF41 && cp <= 0xFF5A) return cp - 32;
    } else {
        if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
        if (cp == 0x178) return 0xFF;
        if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;
        if (cp == 0x386) return 0x3AC;
        if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
        if (cp == 0x38C) return 0x3CC;
        if (cp == 0x38E || cp == 0x38F) return cp + 63;
        if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
        if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
        if (cp == 0x4C0) return 0x4CF;
        if (cp >= 0x531 && cp <= 0x556) return cp + 48;
        if (cp >= 0xFF21 && cp <= 0xFF3A) return cp + 32;
        if (cp == 0x1E9E) return 0xDF;
    }
    for (size_t i = 0; i < sizeof CASE_PAIRS / sizeof CASE_PAIRS[0]; i++) {
        int r = pair_in(cp, CASE_PAIRS[i].lo, CASE_PAIRS[i].hi, CASE_PAIRS[i].even_upper);
        if (r == 1 && !to_upper) return cp + 1;
        if (r == -1 && to_upper) return cp - 1;
        if (r) return cp;
    }
    return cp;
}

/* Has the code point a case (Python's "cased")? */
bool jstr_is_cased(uint32_t cp)
{
    return jstr_case_map(cp, true) != cp || jstr_case_map(cp, false) != cp || cp == 0xDF || cp == 0x130;
}

/* Decodes one UTF-8 code point at p[i] (invalid bytes come back as
 * themselves, one byte long). */
uint32_t jstr_utf8_at(const char *p, size_t n, size_t i, size_t *len)
{
    unsigned char b0 = (unsigned char)p[i];
    size_t k = b0 < 0x80 ? 1 : (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3 : (b0 & 0xF8) == 0xF0 ? 4 : 1;
    if (i + k > n) k = 1;
    uint32_t cp = k == 1 ? b0 : k == 2 ? (b0 & 0x1Fu) : k == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
    for (size_t m = 1; m < k; m++) {
        if (((unsigned char)p[i + m] & 0xC0) != 0x80) { k = 1; cp = b0; break; }
        cp = cp << 6 | ((unsigned char)p[i + m] & 0x3F);
    }
    *len = k;
    return cp;
}

static void put_cp(jctx *c, jbuf *b, uint32_t cp)
{
    char t[4];
    size_t k;
    if (cp < 0x80) { t[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | cp >> 6); t[1] = (char)(0x80 | (cp & 63)); k = 2; }
    else if (cp < 0x10000) { t[0] = (char)(0xE0 | cp >> 12); t[1] = (char)(0x80 | (cp >> 6 & 63)); t[2] = (char)(0x80 | (cp & 63)); k = 3; }
    else { t[0] = (char)(0xF0 | cp >> 18); t[1] = (char)(0x80 | (cp >> 12 & 63)); t[2] = (char)(0x80 | (cp >> 6 & 63)); t[3] = (char)(0x80 | (cp & 63)); k = 4; }
    jbuf_put(c, b, t, k);
}

/* Appends the upper (to_upper) or lower form of one code point. */
void jstr_put_cased(jctx *c, jbuf *b, const char *raw, size_t len, uint32_t cp, bool to_upper)
{
    if (to_upper && cp == 0xDF) { jbuf_put(c, b, "SS", 2); return; }
    if (!to_upper && cp == 0x130) { jbuf_put(c, b, "i\xcc\x87", 3); return; }
    uint32_t m = jstr_case_map(cp, to_upper);
    if (m == cp) jbuf_put(c, b, raw, len);
    else put_cp(c, b, m);
}


/* mode 0 upper, 1 lower, 2 str.capitalize, 3 str.title */
jv jstr_map(jctx *c, jv s, int mode)
{
    jbuf b = {0};
    bool prev_cased = false;
    for (size_t i = 0; i < s.u.s.n;) {
        size_t len;
        uint32_t cp = jstr_utf8_at(s.u.s.p, s.u.s.n, i, &len);
        bool to_upper;
        switch (mode) {
        case 0: to_upper = true; break;
        case 1: to_upper = false; break;
        case 2: to_upper = i == 0; break;
        default: to_upper = !prev_cased; prev_cased = jstr_is_cased(cp); break;
        }
        jstr_put_cased(c, &b, s.u.s.p + i, len, cp, to_upper);
        i += len;
    }
    return jv_strn(b.p ? b.p : "", b.n);
}

/* jinja |title: words start after runs of [-\s({[<]; each word is its
 * first character upper-cased plus the rest lower-cased. */
jv jstr_title(jctx *c, jv s)
{
    jbuf b = {0};
    bool start = true;
    for (size_t i = 0; i < s.u.s.n;) {
        size_t len, wl;
        uint32_t cp = jstr_utf8_at(s.u.s.p, s.u.s.n, i, &len);
        bool sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || jstr_space_at(s.u.s.p, s.u.s.n, i, &wl);
        if (sep) {
            jbuf_put(c, &b, s.u.s.p + i, len);
            start = true;
        } else {
            jstr_put_cased(c, &b, s.u.s.p + i, len, cp, start);
            start = false;
        }
        i += len;
    }
    return jv_strn(b.p ? b.p : "", b.n);
}

jv jstr_replace(jctx *c, jv s, jv old, jv new_, int64_t count)
{
    jbuf b = {0};
    if (old.u.s.n == 0) {
        /* Python inserts `new` before every code point and at the end */
        size_t i = 0;
        int64_t done = 0;
        while (i <= s.u.s.n) {
            if (count < 0 || done < count) { jbuf_put(c, &b, new_.u.s.p, new_.u.s.n); done++; }
            if (i == s.u.s.n) break;
            size_t k = jstr_cp_len(s.u.s.p, s.u.s.n, i);
            jbuf_put(c, &b, s.u.s.p + i, k);
            i += k;
        }
        return jv_strn(b.p ? b.p : "", b.n);
    }
    size_t i = 0, run = 0;
    int64_t done = 0;
    while (i + old.u.s.n <= s.u.s.n && (count < 0 || done < count)) {
        if (!memcmp(s.u.s.p + i, old.u.s.p, old.u.s.n)) {
            jbuf_put(c, &b, s.u.s.p + run, i - run);
            jbuf_put(c, &b, new_.u.s.p, new_.u.s.n);
            i += old.u.s.n;
            run = i;
            done++;
        } else {
            i++;
        }
    }
    jbuf_put(c, &b, s.u.s.p + run, s.u.s.n - run);
    return jv_strn(b.p ? b.p : "", b.n);
}

const char *jstr_find(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0) return h;
    if (nn > hn) return NULL;
    for (size_t i = 0; i + nn <= hn; i++)
        if (!memcmp(h + i, nd, nn)) return h + i;
    return NULL;
}

/* Python str.split / rsplit. */
jv jstr_split(jctx *c, jv s, jv sep, int64_t maxsplit, bool from_right, int line)
{
    jv out = jv_list_new(c, 4);
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    if (sep.t == JV_NONE || sep.t == JV_UNDEF) {
        /* runs of whitespace; no empty strings */
        if (!from_right) {
            size_t i = 0;
            int64_t done = 0;
            for (;;) {
                size_t k;
                while (i < n && jstr_space_at(p, n, i, &k)) i += k;
                if (i >= n) break;
                if (maxsplit >= 0 && done >= maxsplit) {
                    /* rest, with trailing whitespace kept as Python does */
                    jv_list_push(c, out, jv_strn(p + i, n - i));
                    break;
                }
                size_t st = i;
                while (i < n && !jstr_space_at(p, n, i, &k)) i += jstr_cp_len(p, n, i);
                jv_list_push(c, out, jv_strn(p + st, i - st));
                done++;
            }
            return out;
        }
        /* rsplit without sep: collect words then merge the head */
        jv words = jstr_split(c, s, jv_none(), -1, false, line);
        size_t nw = words.u.l->n;
        if (maxsplit < 0 || (uint64_t)maxsplit >= nw || nw == 0)
            return words;
        size_t head_words = nw - (size_t)maxsplit;
        /* the head keeps its leading whitespace, as in Python */
        const char *last = words.u.l->v[head_words - 1].u.s.p + words.u.l->v[head_words - 1].u.s.n;
        jv_list_push(c, out, jv_strn(p, (size_t)(last - p)));
        for (size_t i = head_words; i < nw; i++) jv_list_push(c, out, words.u.l->v[i]);
        return out;
    }
    if (sep.t != JV_STR)
        jfail(c, line, RF_ERR_INVALID_ARG, "split: separator must be a string or none, not %s", jv_type_name(sep));
    if (sep.u.s.n == 0)
        jfail(c, line, RF_ERR_INVALID_ARG, "split: empty separator");
    if (!from_right) {
        size_t st = 0;
        int64_t done = 0;
        for (;;) {
            const char *f = (maxsplit < 0 || done < maxsplit) ? jstr_find(p + st, n - st, sep.u.s.p, sep.u.s.n) : NULL;
            if (!f) { jv_list_push(c, out, jv_strn(p + st, n - st)); break; }
            jv_list_push(c, out, jv_strn(p + st, (size_t)(f - (p + st))));
            st = (size_t)(f - p) + sep.u.s.n;
            done++;
        }
        return out;
    }
    /* rsplit with sep: find from the right, then reverse */
    jv rev = jv_list_new(c, 4);
    size_t end = n;
    int64_t done = 0;
    for (;;) {
        const char *f = NULL;
        if ((maxsplit < 0 || done < maxsplit) && end >= sep.u.s.n)
            for (size_t i = end - sep.u.s.n + 1; i-- > 0;)
                if (!memcmp(p + i, sep.u.s.p, sep.u.s.n)) { f = p + i; break; }
        if (!f) { jv_list_push(c, rev, jv_strn(p, end)); break; }
        size_t at = (size_t)(f - p);
        jv_list_push(c, rev, jv_strn(p + at + sep.u.s.n, end - at - sep.u.s.n));
        end = at;
        done++;
    }
    for (size_t i = rev.u.l->n; i-- > 0;) jv_list_push(c, out, rev.u.l->v[i]);
    return out;
}

/* Python str.splitlines() (keepends=False). */
jv jstr_splitlines(jctx *c, jv s)
{
    jv out = jv_list_new(c, 4);
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, st = 0, i = 0;
    while (i < n) {
        size_t brk = 0;
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r') brk = (i + 1 < n && p[i + 1] == '\n') ? 2 : 1;
        else if (ch == '\n' || ch == '\v' || ch == '\f' || ch == 0x1c || ch == 0x1d || ch == 0x1e) brk = 1;
        else if (ch == 0xC2 && i + 1 < n && (unsigned char)p[i + 1] == 0x85) brk = 2;
        else if (ch == 0xE2 && i + 2 < n && (unsigned char)p[i + 1] == 0x80 &&
                 ((unsigned char)p[i + 2] == 0xA8 || (unsigned char)p[i + 2] == 0xA9)) brk = 3;
        if (brk) {
            jv_list_push(c, out, jv_strn(p + st, i - st));
            i += brk;
            st = i;
        } else {
            i++;
        }
    }
    if (st < n)
        jv_list_push(c, out, jv_strn(p + st, n - st));
    return out;
}


