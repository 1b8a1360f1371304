/* jinja_value.c — the interpreter's memory and values: a per-render arena,
 * error unwinding, growable buffers, and the Python-compatible conversions
 * templates depend on (str(), repr(), json.dumps(), float repr).
 *
 * Byte-exact output matters here: a chat template that prints a float or a
 * dict must produce what Python would, or the prompt differs from the one
 * the model was trained with. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "chat/jinja.h"

/* ------------------------------------------------------------- arena */

#define JBLOCK_MIN ((size_t)64 << 10)

void *jalloc(jctx *c, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    jblock *b = c->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > JBLOCK_MIN ? n : JBLOCK_MIN;
        if (n > c->max_arena || c->arena_bytes + cap > c->max_arena)
            jfail(c, 0, RF_ERR_NOMEM, "template render exceeds its memory cap (%zu bytes)", c->max_arena);
        jblock *nb = malloc(sizeof(jblock) + cap);
        if (!nb)
            jfail(c, 0, RF_ERR_NOMEM, "out of memory rendering template (%zu bytes)", cap);
        nb->used = 0;
        nb->cap = cap;
        c->arena_bytes += cap;
        /* a big one-off block goes behind the current one so the current
         * block's free space stays usable */
        if (b && cap > JBLOCK_MIN) {
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            return (char *)(nb + 1);
        }
        nb->next = b;
        c->blocks = nb;
        b = nb;
    }
    void *p = (char *)(b + 1) + b->used;
    b->used += n;
    return p;
}

void jctx_free(jctx *c)
{
    jblock *b = c->blocks;
    while (b) {
        jblock *n = b->next;
        free(b);
        b = n;
    }
    c->blocks = NULL;
}

void jfail(jctx *c, int line, rf_status code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        rf_err(c->err, code, "chat template line %d: %s", line, msg);
    else
        rf_err(c->err, code, "chat template: %s", msg);
    longjmp(c->jb, 1);
}

void jdepth_enter(jctx *c, int line)
{
    if (++c->depth > JINJA_MAX_DEPTH)
        jfail(c, line, RF_ERR_UNSUPPORTED, "nesting deeper than %d (recursion?)", JINJA_MAX_DEPTH);
}

/* ------------------------------------------------------------- buffers */

void jbuf_put(jctx *c, jbuf *b, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (b->cap - b->n < n) {
        if (n > c->max_output || b->n + n > c->max_output)
            jfail(c, 0, RF_ERR_UNSUPPORTED, "rendered text exceeds its cap (%zu bytes)", c->max_output);
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n)
            cap *= 2;
        char *p = jalloc(c, cap);
        if (b->n)
            memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

void jbuf_printf(jctx *c, jbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        jbuf_put(c, b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* ------------------------------------------------------------- values */

jv jv_str_copy(jctx *c, const char *p, size_t n)
{
    char *d = jalloc(c, n + 1);
    if (n)
        memcpy(d, p, n);
    d[n] = 0;
    return jv_strn(d, n);
}

jv jv_cstr(jctx *c, const char *s) { return jv_str_copy(c, s, strlen(s)); }

jv jv_list_new(jctx *c, size_t cap)
{
    jlist *l = jalloc(c, sizeof *l);
    l->n = 0;
    l->cap = cap;
    l->tuple = false;
    l->gen = false;
    l->gen_pos = 0;
    l->v = cap ? jalloc(c, cap * sizeof(jv)) : NULL;
    jv v = {0};
    v.t = JV_LIST;
    v.u.l = l;
    return v;
}

jv jv_dict_new(jctx *c, size_t cap)
{
    jdict *d = jalloc(c, sizeof *d);
    d->n = 0;
    d->cap = cap;
    d->k = cap ? jalloc(c, cap * sizeof(jv)) : NULL;
    d->v = cap ? jalloc(c, cap * sizeof(jv)) : NULL;
    jv v = {0};
    v.t = JV_DICT;
    v.u.d = d;
    return v;
}

void jv_list_push(jctx *c, jv list, jv item)
{
    jlist *l = list.u.l;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        jv *nv = jalloc(c, cap * sizeof(jv));
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof(jv));
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = item;
}

void jv_dict_set(jctx *c, jv dict, jv key, jv val)
{
    jdict *d = dict.u.d;
    for (size_t i = 0; i < d->n; i++)
        if (jv_eq(d->k[i], key)) {
            d->v[i] = val;
            return;
        }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        jv *nk = jalloc(c, cap * sizeof(jv)), *nv = jalloc(c, cap * sizeof(jv));
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof(jv));
            memcpy(nv, d->v, d->n * sizeof(jv));
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = key;
    d->v[d->n] = val;
    d->n++;
}

bool jv_dict_get(jv dict, const char *key, size_t n, jv *out)
{
    if (dict.t != JV_DICT && dict.t != JV_NS)
        return false;
    jdict *d = dict.u.d;
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JV_STR && d->k[i].u.s.n == n && !memcmp(d->k[i].u.s.p, key, n)) {
            *out = d->v[i];
            return true;
        }
    return false;
}

bool jv_dict_find(jv dict, jv key, jv *out)
{
    if (dict.t != JV_DICT && dict.t != JV_NS)
        return false;
    jdict *d = dict.u.d;
    for (size_t i = 0; i < d->n; i++)
        if (jv_eq(d->k[i], key)) {
            *out = d->v[i];
            return true;
        }
    return false;
}

bool jv_is_num(jv v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }

double jv_num(jv v)
{
    if (v.t == JV_INT)
        return (double)v.u.i;
    if (v.t == JV_BOOL)
        return v.u.b;
    return v.u.f;
}

bool jv_truthy(jv v)
{
    switch (v.t) {
    case JV_UNDEF: case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s.n != 0;
    case JV_LIST: return v.u.l->gen || v.u.l->n != 0;
    case JV_DICT: return v.u.d->n != 0;
    default: return true;
    }
}

static bool jv_eq_d(jv a, jv b, int depth);
bool jv_eq(jv a, jv b) { return jv_eq_d(a, b, 0); }

/* Values nested deeper than the cap (only a template building them in a
 * loop can) compare unequal instead of overflowing the stack. */
static bool jv_eq_d(jv a, jv b, int depth)
{
    if (depth > 4 * JINJA_MAX_DEPTH)
        return false;
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT)
            return (a.t == JV_INT ? a.u.i : a.u.b) == (b.t == JV_INT ? b.u.i : b.u.b);
        return jv_num(a) == jv_num(b);
    }
    if (a.t != b.t)
        return false;
    switch (a.t) {
    case JV_UNDEF: case JV_NONE: return true;
    case JV_STR: return a.u.s.n == b.u.s.n && !memcmp(a.u.s.p, b.u.s.p, a.u.s.n);
    case JV_LIST:
        if (a.u.l->gen || b.u.l->gen)
            return a.u.l == b.u.l;
        if (a.u.l->n != b.u.l->n)
            return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_eq_d(a.u.l->v[i], b.u.l->v[i], depth + 1))
                return false;
        return true;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n)
            return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv o;
            if (!jv_dict_find(b, a.u.d->k[i], &o) || !jv_eq_d(a.u.d->v[i], o, depth + 1))
                return false;
        }
        return true;
    case JV_NS: return a.u.d == b.u.d;
    case JV_FUNC: return a.u.fn == b.u.fn;
    default: return false;
    }
}

const char *jv_type_name(jv v)
{
    static const char *names[] = {"undefined", "NoneType", "bool", "int", "float",
                                  "str", "list", "dict", "Namespace", "function"};
    if (v.t == JV_LIST && v.u.l->tuple)
        return "tuple";
    if (v.t == JV_LIST && v.u.l->gen)
        return "generator";
    return names[v.t];
}

static int jv_cmp_inner(jctx *c, jv a, jv b, int line);
int jv_cmp(jctx *c, jv a, jv b, int line)
{
    jdepth_enter(c, line);
    int r = jv_cmp_inner(c, a, b, line);
    jdepth_leave(c);
    return r;
}

static int jv_cmp_inner(jctx *c, jv a, jv b, int line)
{
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT) {
            int64_t x = a.t == JV_INT ? a.u.i : a.u.b, y = b.t == JV_INT ? b.u.i : b.u.b;
            return x < y ? -1 : x > y;
        }
        double x = jv_num(a), y = jv_num(b);
        return x < y ? -1 : x > y;
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = memcmp(a.u.s.p, b.u.s.p, n);   /* UTF-8 byte order = code point order */
        if (r)
            return r < 0 ? -1 : 1;
        return a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n;
    }
    if (a.t == JV_LIST && b.t == JV_LIST && !a.u.l->gen && !b.u.l->gen) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (jv_eq(a.u.l->v[i], b.u.l->v[i]))
                continue;
            return jv_cmp(c, a.u.l->v[i], b.u.l->v[i], line);
        }
        return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
    }
    jfail(c, line, RF_ERR_INVALID_ARG, "cannot order '%s' and '%s'", jv_type_name(a), jv_type_name(b));
}

jv jv_gen_drain(jctx *c, jv g)
{
    jlist *l = g.u.l;
    jv out = jv_list_new(c, l->n - l->gen_pos);
    for (size_t i = l->gen_pos; i < l->n; i++)
        jv_list_push(c, out, l->v[i]);
    l->gen_pos = l->n;
    return out;
}

/* ------------------------------------------------------------- UTF-8 */

size_t jutf8_len(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80)
            k++;
    return k;
}

size_t jutf8_offset(const char *p, size_t n, size_t cp)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)p[i] & 0xC0) != 0x80) {
            if (k == cp)
                return i;
            k++;
        }
    }
    return n;
}

/* ------------------------------------------------------------- Python formats */

/* repr(float): the shortest digits that round-trip, then Python's layout
 * (scientific when exp < -4 or >= 16, else positional with ".0"). */
void jfloat_repr(double f, char *buf, size_t n)
{
    if (isnan(f)) { snprintf(buf, n, "nan"); return; }
    if (isinf(f)) { snprintf(buf, n, f < 0 ? "-inf" : "inf"); return; }
    if (f == 0) { snprintf(buf, n, signbit(f) ? "-0.0" : "0.0"); return; }
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    /* tmp = [-]d.ddde[+-]XX : split digits and exponent */
    char digits[24];
    int nd = 0, neg = 0;
    const char *q = tmp;
    if (*q == '-') { neg = 1; q++; }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    char *o = buf;
    size_t left = n;
#define PUT(ch) do { if (left > 1) { *o++ = (ch); left--; } } while (0)
    if (neg) PUT('-');
    if (exp < -4 || exp >= 16) {
        PUT(digits[0]);
        if (nd > 1) {
            PUT('.');
            for (int i = 1; i < nd; i++) PUT(digits[i]);
        }
        char e[16];
        snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        for (char *s = e; *s; s++) PUT(*s);
    } else if (exp < 0) {
        PUT('0'); PUT('.');
        for (int i = 0; i < -exp - 1; i++) PUT('0');
        for (int i = 0; i < nd; i++) PUT(digits[i]);
    } else {
        for (int i = 0; i <= exp; i++) PUT(i < nd ? digits[i] : '0');
        PUT('.');
        if (nd > exp + 1)
            for (int i = exp + 1; i < nd; i++) PUT(digits[i]);
        else
            PUT('0');
    }
#undef PUT
    *o = 0;
}

void jv_str_into(jctx *c, jbuf *b, jv v)
{
    char tmp[48];
    switch (v.t) {
    case JV_UNDEF: return;
    case JV_NONE: jbuf_put(c, b, "None", 4); return;
    case JV_BOOL: if (v.u.b) jbuf_put(c, b, "True", 4); else jbuf_put(c, b, "False", 5); return;
    case JV_INT: jbuf_printf(c, b, "%lld", (long long)v.u.i); return;
    case JV_FLOAT: jfloat_repr(v.u.f, tmp, sizeof tmp); jbuf_put(c, b, tmp, strlen(tmp)); return;
    case JV_STR: jbuf_put(c, b, v.u.s.p, v.u.s.n); return;
    default: jv_repr_into(c, b, v); return;
    }
}

jv jv_to_str(jctx *c, jv v)
{
    if (v.t == JV_STR)
        return v;
    jbuf b = {0};
    jv_str_into(c, &b, v);
    return jv_strn(b.p ? b.p : "", b.n);
}

static void repr_str(jctx *c, jbuf *b, const char *p, size_t n)
{
    char q = '\'';
    if (memchr(p, '\'', n) && !memchr(p, '"', n))
        q = '"';
    jbuf_putc(c, b, q);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\\') jbuf_put(c, b, "\\\\", 2);
        else if (ch == (unsigned char)q) { jbuf_putc(c, b, '\\'); jbuf_putc(c, b, q); }
        else if (ch == '\n') jbuf_put(c, b, "\\n", 2);
        else if (ch == '\r') jbuf_put(c, b, "\\r", 2);
        else if (ch == '\t') jbuf_put(c, b, "\\t", 2);
        else if (ch < 0x20 || ch == 0x7f) jbuf_printf(c, b, "\\x%02x", ch);
        else jbuf_putc(c, b, (char)ch);
    }
    jbuf_putc(c, b, q);
}

void jv_repr_into(jctx *c, jbuf *b, jv v)
{
    jdepth_enter(c, 0);
    switch (v.t) {
    case JV_STR: repr_str(c, b, v.u.s.p, v.u.s.n); break;
    case JV_UNDEF: break;
    case JV_LIST: {
        jlist *l = v.u.l;
        if (l->gen)
            jfail(c, 0, RF_ERR_UNSUPPORTED, "printing a generator (add |list in the template)");
        jbuf_putc(c, b, l->tuple ? '(' : '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) jbuf_put(c, b, ", ", 2);
            jv_repr_into(c, b, l->v[i]);
        }
        if (l->tuple && l->n == 1) jbuf_putc(c, b, ',');
        jbuf_putc(c, b, l->tuple ? ')' : ']');
        break;
    }
    case JV_DICT: {
        jdict *d = v.u.d;
        jbuf_putc(c, b, '{');
        for (size_t i = 0; i < d->n; i++) {
            if (i) jbuf_put(c, b, ", ", 2);
            jv_repr_into(c, b, d->k[i]);
            jbuf_put(c, b, ": ", 2);
            jv_repr_into(c, b, d->v[i]);
        }
        jbuf_putc(c, b, '}');
        break;
    }
    case JV_NS: {
        /* jinja2: <Namespace {'a': 1}> */
        jbuf_put(c, b, "<Namespace {", 12);
        jdict *d = v.u.d;
        for (size_t i = 0; i < d->n; i++) {
            if (i) jbuf_put(c, b, ", ", 2);
            jv_repr_into(c, b, d->k[i]);
            jbuf_put(c, b, ": ", 2);
            jv_repr_into(c, b, d->v[i]);
        }
        jbuf_put(c, b, "}>", 2);
        break;
    }
    case JV_FUNC:
        jfail(c, 0, RF_ERR_UNSUPPORTED, "printing a function/macro object ('%s') is not supported",
              v.u.fn->name ? v.u.fn->name : "?");
    default: jv_str_into(c, b, v); break;
    }
    jdepth_leave(c);
}

/* json.dumps string escaping with ensure_ascii=False. */
static void json_str(jctx *c, jbuf *b, const char *p, size_t n)
{
    jbuf_putc(c, b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        const char *esc = NULL;
        char u[8];
        if (ch == '"') esc = "\\\"";
        else if (ch == '\\') esc = "\\\\";
        else if (ch == '\n') esc = "\\n";
        else if (ch == '\r') esc = "\\r";
        else if (ch == '\t') esc = "\\t";
        else if (ch == '\b') esc = "\\b";
        else if (ch == '\f') esc = "\\f";
        else if (ch < 0x20) { snprintf(u, sizeof u, "\\u%04x", ch); esc = u; }
        else if (ch >= 0x80 && c->json_ascii) {
            /* ensure_ascii: \uXXXX, surrogate pairs above the BMP */
            uint32_t cp = 0;
            size_t k = 1;
            if ((ch & 0xE0) == 0xC0) { cp = ch & 0x1F; k = 2; }
            else if ((ch & 0xF0) == 0xE0) { cp = ch & 0x0F; k = 3; }
            else if ((ch & 0xF8) == 0xF0) { cp = ch & 0x07; k = 4; }
            else cp = 0xFFFD;
            if (i + k > n) { k = n - i; cp = 0xFFFD; }
            for (size_t m = 1; m < k && cp != 0xFFFD; m++) cp = cp << 6 | ((unsigned char)p[i + m] & 0x3F);
            jbuf_put(c, b, p + run, i - run);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                jbuf_printf(c, b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else {
                jbuf_printf(c, b, "\\u%04x", cp);
            }
            i += k - 1;
            run = i + 1;
            continue;
        }
        if (esc) {
            jbuf_put(c, b, p + run, i - run);
            jbuf_put(c, b, esc, strlen(esc));
            run = i + 1;
        }
    }
    jbuf_put(c, b, p + run, n - run);
    jbuf_putc(c, b, '"');
}

static void json_newline(jctx *c, jbuf *b, const char *ind, size_t ind_n, int level)
{
    jbuf_putc(c, b, '\n');
    for (int i = 0; i < level; i++)
        jbuf_put(c, b, ind, ind_n);
}

void jv_json_into(jctx *c, jbuf *b, jv v, const char *ind, size_t ind_n, bool use_indent,
                  const char *item_sep, const char *key_sep, bool sort_keys, int level, int line)
{
    char tmp[48];
    jdepth_enter(c, line);
    switch (v.t) {
    case JV_NONE: jbuf_put(c, b, "null", 4); break;
    case JV_BOOL: if (v.u.b) jbuf_put(c, b, "true", 4); else jbuf_put(c, b, "false", 5); break;
    case JV_INT: jbuf_printf(c, b, "%lld", (long long)v.u.i); break;
    case JV_FLOAT:
        if (isnan(v.u.f)) jbuf_put(c, b, "NaN", 3);
        else if (isinf(v.u.f)) { if (v.u.f < 0) jbuf_put(c, b, "-Infinity", 9); else jbuf_put(c, b, "Infinity", 8); }
        else { jfloat_repr(v.u.f, tmp, sizeof tmp); jbuf_put(c, b, tmp, strlen(tmp)); }
        break;
    case JV_STR: json_str(c, b, v.u.s.p, v.u.s.n); break;
    case JV_LIST: {
        jlist *l = v.u.l;
        if (l->gen)
            jfail(c, line, RF_ERR_INVALID_ARG, "tojson: object of type generator is not JSON serializable");
        if (l->n == 0) { jbuf_put(c, b, "[]", 2); break; }
        jbuf_putc(c, b, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) jbuf_put(c, b, item_sep, strlen(item_sep));
            if (use_indent) json_newline(c, b, ind, ind_n, level + 1);
            jv_json_into(c, b, l->v[i], ind, ind_n, use_indent, item_sep, key_sep, sort_keys, level + 1, line);
        }
        if (use_indent) json_newline(c, b, ind, ind_n, level);
        jbuf_putc(c, b, ']');
        break;
    }
    case JV_DICT: {
        jdict *d = v.u.d;
        if (d->n == 0) { jbuf_put(c, b, "{}", 2); break; }
        size_t *order = jalloc(c, d->n * sizeof(size_t));
        for (size_t i = 0; i < d->n; i++)
            order[i] = i;
        if (sort_keys)   /* insertion sort: dicts here are small */
            for (size_t i = 1; i < d->n; i++)
                for (size_t j = i; j > 0 && jv_cmp(c, d->k[order[j - 1]], d->k[order[j]], line) > 0; j--) {
                    size_t t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
                }
        jbuf_putc(c, b, '{');
        for (size_t i = 0; i < d->n; i++) {
            jv k = d->k[order[i]];
            if (i) jbuf_put(c, b, item_sep, strlen(item_sep));
            if (use_indent) json_newline(c, b, ind, ind_n, level + 1);
            /* json.dumps turns scalar keys into strings */
            if (k.t == JV_STR) json_str(c, b, k.u.s.p, k.u.s.n);
            else if (k.t == JV_NONE) jbuf_put(c, b, "\"null\"", 6);
            else if (k.t == JV_BOOL) { if (k.u.b) jbuf_put(c, b, "\"true\"", 6); else jbuf_put(c, b, "\"false\"", 7); }
            else if (k.t == JV_INT || k.t == JV_FLOAT) { jbuf_putc(c, b, '"'); jv_json_into(c, b, k, ind, ind_n, false, ", ", ": ", false, 0, line); jbuf_putc(c, b, '"'); }
            else jfail(c, line, RF_ERR_INVALID_ARG, "tojson: keys must be str, int, float, bool or None, not %s", jv_type_name(k));
            jbuf_put(c, b, key_sep, strlen(key_sep));
            jv_json_into(c, b, d->v[order[i]], ind, ind_n, use_indent, item_sep, key_sep, sort_keys, level + 1, line);
        }
        if (use_indent) json_newline(c, b, ind, ind_n, level);
        jbuf_putc(c, b, '}');
        break;
    }
    default:
        jfail(c, line, RF_ERR_INVALID_ARG, "tojson: object of type %s is not JSON serializable", jv_type_name(v));
    }
    jdepth_leave(c);
}

/* ------------------------------------------------------------- JSON input */

static jv from_json(jctx *c, json_t *j, int depth, const char *what)
{
    if (depth > JINJA_MAX_DEPTH)
        jfail(c, 0, RF_ERR_INVALID_ARG, "%s: JSON nested deeper than %d", what, JINJA_MAX_DEPTH);
    switch (json_typeof(j)) {
    case JSON_NULL: return jv_none();
    case JSON_TRUE: return jv_bool(true);
    case JSON_FALSE: return jv_bool(false);
    case JSON_INTEGER: return jv_int((int64_t)json_integer_value(j));
    case JSON_REAL: return jv_float(json_real_value(j));
    case JSON_STRING: return jv_str_copy(c, json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        jv l = jv_list_new(c, n);
        for (size_t i = 0; i < n; i++)
            jv_list_push(c, l, from_json(c, json_array_get(j, i), depth + 1, what));
        return l;
    }
    case JSON_OBJECT: {
        /* keys are unique already: append without the O(n) duplicate scan */
        size_t n = json_object_size(j);
        jv d = jv_dict_new(c, n);
        const char *k;
        json_t *val;
        json_object_foreach(j, k, val) {
            if (d.u.d->n == d.u.d->cap) {
                jv_dict_set(c, d, jv_cstr(c, k), from_json(c, val, depth + 1, what));
                continue;
            }
            d.u.d->k[d.u.d->n] = jv_cstr(c, k);
            d.u.d->v[d.u.d->n] = from_json(c, val, depth + 1, what);
            d.u.d->n++;
        }
        return d;
    }
    }
    return jv_none();
}

jv jv_from_json_text(jctx *c, const char *text, const char *what)
{
    json_error_t je;
    /* JSON_DECODE_ANY: scalars are fine for extra variables; the caller
     * checks the kind it needs. Objects keep insertion order (jansson >= 2.8). */
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j)
        jfail(c, 0, RF_ERR_INVALID_ARG, "%s: invalid JSON at line %d column %d: %s", what,
              je.line, je.column, je.text);
    /* from_json may longjmp (memory cap): hand the tree to the arena's
     * cleanup by converting under a guard. */
    jmp_buf saved;
    memcpy(saved, c->jb, sizeof saved);
    if (setjmp(c->jb)) {
        json_decref(j);
        memcpy(c->jb, saved, sizeof saved);
        longjmp(c->jb, 1);
    }
    jv v = from_json(c, j, 0, what);
    memcpy(c->jb, saved, sizeof saved);
    json_decref(j);
    return v;
}
