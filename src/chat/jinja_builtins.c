/* jinja_builtins.c — filters, tests, methods and globals.
 *
 * Each follows its jinja2 3.1 / Python 3 counterpart, since templates were
 * written against those (e.g. |sort and |unique ignore case by default,
 * |title splits words at spaces and brackets while str.title() splits at any
 * non-letter, round() rounds half to even, tojson is transformers' override
 * of json.dumps). Mutating list/dict methods are refused, as in transformers'
 * ImmutableSandboxedEnvironment. Case mapping: see the tables below. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/jinja.h"

/* ------------------------------------------------------------- arguments */

typedef struct fargs {
    jv *pos;
    int n_pos;
    const char **kw;
    jv *kwv;
    int n_kw;
} fargs;

/* Argument `i` (positional) or named `name`; *found says whether given. */
static jv arg_get(jctx *c, const fargs *a, int i, const char *name, jv dflt, int line)
{
    for (int k = 0; k < a->n_kw; k++)
        if (!strcmp(a->kw[k], name)) {
            if (i >= 0 && i < a->n_pos)
                jfail(c, line, RF_ERR_INVALID_ARG, "got multiple values for argument '%s'", name);
            return a->kwv[k];
        }
    if (i >= 0 && i < a->n_pos)
        return a->pos[i];
    return dflt;
}

/* Rejects keyword names outside `allowed` and too many positionals. */
static void arg_check(jctx *c, const fargs *a, const char *what, int max_pos, const char *const *allowed, int line)
{
    if (a->n_pos > max_pos)
        jfail(c, line, RF_ERR_INVALID_ARG, "%s takes at most %d positional argument(s), got %d", what, max_pos, a->n_pos);
    for (int k = 0; k < a->n_kw; k++) {
        bool ok = false;
        for (int i = 0; allowed && allowed[i]; i++)
            if (!strcmp(allowed[i], a->kw[k]))
                ok = true;
        if (!ok)
            jfail(c, line, RF_ERR_INVALID_ARG, "%s got an unexpected keyword argument '%s'", what, a->kw[k]);
    }
}

static int64_t want_int(jctx *c, jv v, const char *what, int line)
{
    if (v.t == JV_INT) return v.u.i;
    if (v.t == JV_BOOL) return v.u.b;
    jfail(c, line, RF_ERR_INVALID_ARG, "%s: expected an integer, got %s", what, jv_type_name(v));
}

static jv want_str(jctx *c, jv v, const char *what, int line)
{
    if (v.t != JV_STR)
        jfail(c, line, RF_ERR_INVALID_ARG, "%s: expected a string, got %s", what, jv_type_name(v));
    return v;
}

/* ------------------------------------------------------------- string helpers */

/* startswith/endswith take a string or a tuple of strings. */
static bool str_affix(jctx *c, jv s, jv x, bool ends, int line)
{
    if (x.t == JV_LIST && x.u.l->tuple) {
        for (size_t i = 0; i < x.u.l->n; i++)
            if (str_affix(c, s, x.u.l->v[i], ends, line))
                return true;
        return false;
    }
    want_str(c, x, ends ? "endswith" : "startswith", line);
    return ends ? jstr_ends(s, x) : jstr_starts(s, x);
}

/* Python str.format with {} / {0} / {name} fields (no format specs). */
static jv str_format(jctx *c, jv s, const fargs *a, int line)
{
    jbuf b = {0};
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    int auto_idx = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '{' && i + 1 < n && p[i + 1] == '{') { jbuf_putc(c, &b, '{'); i++; continue; }
        if (ch == '}' && i + 1 < n && p[i + 1] == '}') { jbuf_putc(c, &b, '}'); i++; continue; }
        if (ch == '}')
            jfail(c, line, RF_ERR_INVALID_ARG, "format: single '}' encountered");
        if (ch != '{') { jbuf_putc(c, &b, ch); continue; }
        size_t j = i + 1;
        while (j < n && p[j] != '}') j++;
        if (j >= n)
            jfail(c, line, RF_ERR_INVALID_ARG, "format: single '{' encountered");
        const char *f = p + i + 1;
        size_t fl = j - i - 1;
        if (memchr(f, ':', fl) || memchr(f, '!', fl) || memchr(f, '.', fl) || memchr(f, '[', fl))
            jfail(c, line, RF_ERR_UNSUPPORTED, "format: field '{%.*s}' (specs/conversions) is not supported", (int)fl, f);
        jv v = {0};
        if (fl == 0) {
            if (auto_idx >= a->n_pos) jfail(c, line, RF_ERR_INVALID_ARG, "format: not enough arguments");
            v = a->pos[auto_idx++];
        } else if (f[0] >= '0' && f[0] <= '9') {
            long idx = 0;
            for (size_t k = 0; k < fl; k++) {
                if (f[k] < '0' || f[k] > '9' || idx > 100000)
                    jfail(c, line, RF_ERR_INVALID_ARG, "format: bad field '{%.*s}'", (int)fl, f);
                idx = idx * 10 + (f[k] - '0');
            }
            if (idx >= a->n_pos) jfail(c, line, RF_ERR_INVALID_ARG, "format: index %ld out of range", idx);
            v = a->pos[idx];
        } else {
            bool found = false;
            for (int k = 0; k < a->n_kw; k++)
                if (strlen(a->kw[k]) == fl && !memcmp(a->kw[k], f, fl)) { v = a->kwv[k]; found = true; }
            if (!found) jfail(c, line, RF_ERR_INVALID_ARG, "format: no argument '%.*s'", (int)fl, f);
        }
        jv_str_into(c, &b, v);
        i = j;
    }
    return jv_strn(b.p ? b.p : "", b.n);
}

/* ------------------------------------------------------------- sequence helpers */

/* Items of anything iterable, as a list (dict -> keys, str -> chars). */
static jv as_list(jctx *c, jv v, int line)
{
    switch (v.t) {
    case JV_LIST: return v.u.l->gen ? jv_gen_drain(c, v) : v;
    case JV_UNDEF: return jv_list_new(c, 0);
    case JV_DICT: case JV_NS: {
        jv l = jv_list_new(c, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++) jv_list_push(c, l, v.u.d->k[i]);
        return l;
    }
    case JV_STR: {
        jv l = jv_list_new(c, v.u.s.n);
        for (size_t i = 0; i < v.u.s.n;) {
            size_t k = jstr_cp_len(v.u.s.p, v.u.s.n, i);
            jv_list_push(c, l, jv_strn(v.u.s.p + i, k));
            i += k;
        }
        return l;
    }
    default:
        jfail(c, line, RF_ERR_INVALID_ARG, "'%s' object is not iterable", jv_type_name(v));
    }
}

/* environment.getitem-style dotted attribute path ("a.b.0"). */
static jv attr_path(jctx *c, jv v, jv path, int line)
{
    if (path.t == JV_INT) {
        jv key = path;
        if (v.t == JV_LIST) {
            int64_t i = key.u.i < 0 ? key.u.i + (int64_t)v.u.l->n : key.u.i;
            return (i >= 0 && (uint64_t)i < v.u.l->n) ? v.u.l->v[i] : jv_undef();
        }
        jv out;
        return jv_dict_find(v, key, &out) ? out : jv_undef();
    }
    want_str(c, path, "attribute", line);
    const char *p = path.u.s.p;
    size_t n = path.u.s.n, st = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '.')
            continue;
        const char *part = p + st;
        size_t pl = i - st;
        st = i + 1;
        bool digits = pl > 0 && pl < 18;
        int64_t num = 0;
        for (size_t k = 0; k < pl && digits; k++) {
            if (part[k] < '0' || part[k] > '9') digits = false;
            else num = num * 10 + (part[k] - '0');
        }
        jv out;
        if (v.t == JV_UNDEF)
            return v;
        if (digits && v.t == JV_LIST) {
            v = (uint64_t)num < v.u.l->n ? v.u.l->v[num] : jv_undef();
        } else if (digits && (v.t == JV_DICT) && jv_dict_find(v, jv_int(num), &out)) {
            v = out;
        } else if (jv_dict_get(v, part, pl, &out)) {
            v = out;
        } else {
            v = jv_undef();
        }
    }
    return v;
}

/* Sort key comparison with jinja's ignore_case for strings. */
static int cmp_ci(jctx *c, jv a, jv b, bool case_sensitive, int line)
{
    if (!case_sensitive && a.t == JV_STR && b.t == JV_STR) {
        a = jstr_map(c, a, 1);
        b = jstr_map(c, b, 1);
    }
    return jv_cmp(c, a, b, line);
}

/* Stable merge sort of items by key (keys[i] belongs to items[i]). */
static void sort_by(jctx *c, jv *items, jv *keys, size_t n, bool reverse, bool cs, int line)
{
    if (n < 2) return;
    jv *ti = jalloc(c, n * sizeof(jv)), *tk = jalloc(c, n * sizeof(jv));
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                int r = cmp_ci(c, keys[j], keys[i], cs, line);
                /* take from the right only when strictly before (stability);
                 * reverse=True in Python sorts stably by the reversed order */
                bool right = reverse ? r > 0 : r < 0;
                if (right) { ti[o] = items[j]; tk[o++] = keys[j++]; }
                else { ti[o] = items[i]; tk[o++] = keys[i++]; }
            }
            while (i < mid) { ti[o] = items[i]; tk[o++] = keys[i++]; }
            while (j < hi) { ti[o] = items[j]; tk[o++] = keys[j++]; }
        }
        memcpy(items, ti, n * sizeof(jv));
        memcpy(keys, tk, n * sizeof(jv));
    }
}

static jv make_tuple2(jctx *c, jv a, jv b)
{
    jv t = jv_list_new(c, 2);
    jv_list_push(c, t, a);
    jv_list_push(c, t, b);
    t.u.l->tuple = true;
    return t;
}

static jv dict_items(jctx *c, jv d)
{
    jv l = jv_list_new(c, d.u.d->n);
    for (size_t i = 0; i < d.u.d->n; i++)
        jv_list_push(c, l, make_tuple2(c, d.u.d->k[i], d.u.d->v[i]));
    return l;
}

static jv do_tojson(jctx *c, jv v, const fargs *a, int line)
{
    static const char *const allowed[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
    arg_check(c, a, "tojson", 4, allowed, line);
    jv ascii = arg_get(c, a, 0, "ensure_ascii", jv_bool(false), line);
    jv indent = arg_get(c, a, 1, "indent", jv_none(), line);
    jv seps = arg_get(c, a, 2, "separators", jv_none(), line);
    jv sortk = arg_get(c, a, 3, "sort_keys", jv_bool(false), line);
    bool use_indent = false;
    const char *ind = "";
    size_t ind_n = 0;
    if (indent.t == JV_INT || indent.t == JV_BOOL) {
        int64_t w = want_int(c, indent, "tojson indent", line);
        if (w > 1024) jfail(c, line, RF_ERR_INVALID_ARG, "tojson: indent too large");
        use_indent = true;
        ind_n = w > 0 ? (size_t)w : 0;
        char *sp = jalloc(c, ind_n + 1);
        memset(sp, ' ', ind_n);
        ind = sp;
    } else if (indent.t == JV_STR) {
        use_indent = true;
        ind = indent.u.s.p;
        ind_n = indent.u.s.n;
    } else if (indent.t != JV_NONE) {
        jfail(c, line, RF_ERR_INVALID_ARG, "tojson: bad indent of type %s", jv_type_name(indent));
    }
    const char *item_sep = use_indent ? "," : ", ", *key_sep = ": ";
    if (seps.t == JV_LIST && seps.u.l->n == 2 && seps.u.l->v[0].t == JV_STR && seps.u.l->v[1].t == JV_STR) {
        item_sep = jv_str_copy(c, seps.u.l->v[0].u.s.p, seps.u.l->v[0].u.s.n).u.s.p;
        key_sep = jv_str_copy(c, seps.u.l->v[1].u.s.p, seps.u.l->v[1].u.s.n).u.s.p;
    } else if (seps.t != JV_NONE) {
        jfail(c, line, RF_ERR_INVALID_ARG, "tojson: separators must be a pair of strings");
    }
    jbuf b = {0};
    bool saved = c->json_ascii;
    c->json_ascii = jv_truthy(ascii);
    jv_json_into(c, &b, v, ind, ind_n, use_indent, item_sep, key_sep, jv_truthy(sortk), 0, line);
    c->json_ascii = saved;
    return jv_strn(b.p ? b.p : "", b.n);
}

jv jv_html_escape(jctx *c, jv s)
{
    jbuf b = {0};
    for (size_t i = 0; i < s.u.s.n; i++) {
        char ch = s.u.s.p[i];
        switch (ch) {
        case '&': jbuf_put(c, &b, "&amp;", 5); break;
        case '<': jbuf_put(c, &b, "&lt;", 4); break;
        case '>': jbuf_put(c, &b, "&gt;", 4); break;
        case '"': jbuf_put(c, &b, "&#34;", 5); break;
        case '\'': jbuf_put(c, &b, "&#39;", 5); break;
        default: jbuf_putc(c, &b, ch);
        }
    }
    return jv_safe(jv_strn(b.p ? b.p : "", b.n), true);
}

/* Python int(str): optional sign, digits with single underscores, spaces. */
static bool parse_py_int(jv s, int64_t *out)
{
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, i = 0;
    while (i < n && (p[i] == ' ' || (p[i] >= 9 && p[i] <= 13))) i++;
    while (n > i && (p[n - 1] == ' ' || (p[n - 1] >= 9 && p[n - 1] <= 13))) n--;
    bool neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
    if (i >= n) return false;
    int64_t v = 0;
    bool prev_digit = false;
    for (; i < n; i++) {
        if (p[i] == '_' && prev_digit && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '9') { prev_digit = false; continue; }
        if (p[i] < '0' || p[i] > '9') return false;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, p[i] - '0', &v)) return false;
        prev_digit = true;
    }
    *out = neg ? -v : v;
    return true;
}

static bool parse_py_float(jctx *c, jv s, double *out)
{
    char *tmp = (char *)jv_str_copy(c, s.u.s.p, s.u.s.n).u.s.p;
    /* drop underscores between digits, trim whitespace */
    size_t o = 0;
    for (size_t i = 0; tmp[i]; i++)
        if (tmp[i] != '_') tmp[o++] = tmp[i];
    tmp[o] = 0;
    char *p = tmp;
    while (*p == ' ' || (*p >= 9 && *p <= 13)) p++;
    if (!*p || (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))) return false;
    char *end;
    double v = strtod(p, &end);
    if (end == p) return false;
    while (*end == ' ' || (*end >= 9 && *end <= 13)) end++;
    if (*end) return false;
    *out = v;
    return true;
}

static jv round_float(double x, int64_t prec)
{
    if (!isfinite(x)) return jv_float(x);
    if (prec == 0) return jv_float(nearbyint(x));   /* ties to even */
    if (prec > 0 && prec < 300) {
        /* correctly rounded decimal, as CPython's round() */
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
        return jv_float(strtod(buf, NULL));
    }
    double m = pow(10.0, (double)-prec);
    return jv_float(nearbyint(x / m) * m);
}

/* select/reject/selectattr/rejectattr share this: test name at args[t0]. */
static jv select_impl(jctx *c, jv seq, const fargs *a, bool want, bool attr, int line)
{
    /* jinja: `if value:` first, so none/undefined select nothing */
    jv items = jv_truthy(seq) ? as_list(c, seq, line) : jv_list_new(c, 0);
    jv out = jv_list_new(c, items.u.l->n);
    out.u.l->gen = true;
    int t0 = attr ? 1 : 0;
    jv path = jv_undef();
    if (attr) {
        if (a->n_pos < 1) jfail(c, line, RF_ERR_INVALID_ARG, "selectattr/rejectattr need an attribute name");
        path = a->pos[0];
    }
    const char *test = NULL;
    if (a->n_pos > t0) {
        jv t = want_str(c, a->pos[t0], "test name", line);
        test = jv_str_copy(c, t.u.s.p, t.u.s.n).u.s.p;   /* NUL-terminated */
    }
    if (test && !jinja_test_exists(test)) jfail(c, line, RF_ERR_UNSUPPORTED, "no test named '%s'", test);
    for (size_t i = 0; i < items.u.l->n; i++) {
        jv v = items.u.l->v[i];
        jv subj = attr ? attr_path(c, v, path, line) : v;
        bool r = test ? jinja_test(c, test, subj, a->pos + t0 + 1, a->n_pos - t0 - 1, line) : jv_truthy(subj);
        if (r == want) jv_list_push(c, out, v);
    }
    return out;
}

/* ------------------------------------------------------------- %-formatting */

/* Pads `s` (a value's text) to `width` code points, left-justified on '-'. */
static void pad_put(jctx *c, jbuf *b, const char *s, size_t n, long width, bool left, char fill)
{
    long len = (long)jutf8_len(s, n);
    if (!left) for (long i = len; i < width; i++) jbuf_putc(c, b, fill);
    jbuf_put(c, b, s, n);
    if (left) for (long i = len; i < width; i++) jbuf_putc(c, b, ' ');
}

/* Python's `fmt % args` (printf-style): flags -+ 0#, width, .precision,
 * %(key)s with a mapping, conversions s r d i u f F e E g G x X o c %. */
jv jinja_percent_format(jctx *c, jv fmt, jv args, int line)
{
    jv *pos = &args;
    size_t n_pos = 1, next = 0;
    bool mapping = args.t == JV_DICT;
    if (args.t == JV_LIST && args.u.l->tuple) { pos = args.u.l->v; n_pos = args.u.l->n; }
    const char *p = fmt.u.s.p;
    size_t n = fmt.u.s.n;
    jbuf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') { jbuf_putc(c, &b, p[i]); continue; }
        if (++i >= n) jfail(c, line, RF_ERR_INVALID_ARG, "%%-format: incomplete format");
        jv v = jv_undef();
        bool have = false;
        if (p[i] == '(') {
            size_t k = i + 1;
            while (k < n && p[k] != ')') k++;
            if (k >= n) jfail(c, line, RF_ERR_INVALID_ARG, "%%-format: incomplete format key");
            if (!mapping) jfail(c, line, RF_ERR_INVALID_ARG, "%%-format requires a mapping");
            if (!jv_dict_get(args, p + i + 1, k - i - 1, &v))
                jfail(c, line, RF_ERR_INVALID_ARG, "%%-format: key '%.*s' missing", (int)(k - i - 1), p + i + 1);
            have = true;
            i = k + 1;
        }
        bool left = false, plus = false, space = false, zero = false, alt = false;
        for (; i < n && strchr("-+ 0#", p[i]); i++) {
            if (p[i] == '-') left = true; else if (p[i] == '+') plus = true;
            else if (p[i] == ' ') space = true; else if (p[i] == '0') zero = true; else alt = true;
        }
        long width = 0, prec = -1;
        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) if ((width = width * 10 + (p[i] - '0')) > 100000) jfail(c, line, RF_ERR_INVALID_ARG, "%%-format: width too large");
        if (i < n && p[i] == '.') {
            prec = 0;
            for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++) if ((prec = prec * 10 + (p[i] - '0')) > 1000) jfail(c, line, RF_ERR_INVALID_ARG, "%%-format: precision too large");
        }
        while (i < n && (p[i] == 'h' || p[i] == 'l' || p[i] == 'L')) i++;
        if (i >= n) jfail(c, line, RF_ERR_INVALID_ARG, "%%-format: incomplete format");
        char conv = p[i];
        if (conv == '%') { jbuf_putc(c, &b, '%'); continue; }
        if (!have) {
            if (mapping && n_pos == 1) v = args;
            else {
                if (next >= n_pos) jfail(c, line, RF_ERR_INVALID_ARG, "not enough arguments for format string");
                v = pos[next];
            }
            next++;
        }
        char spec[32], out[1400];
        int k = 0;
        spec[k++] = '%';
        if (left) spec[k++] = '-';
        if (plus) spec[k++] = '+';
        if (space) spec[k++] = ' ';
        if (zero) spec[k++] = '0';
        if (alt) spec[k++] = '#';
        switch (conv) {
        case 's': case 'r': {
            jbuf t = {0};
            if (conv == 's') jv_str_into(c, &t, v); else jv_repr_into(c, &t, v);
            size_t len = t.n;
            if (prec >= 0) len = jutf8_offset(t.p ? t.p : "", t.n, (size_t)prec);
            pad_put(c, &b, t.p ? t.p : "", len, width, left, ' ');
            break;
        }
        case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': {
            int64_t iv;
            if (v.t == JV_INT) iv = v.u.i;
            else if (v.t == JV_BOOL) iv = v.u.b;
            else if (v.t == JV_FLOAT && (conv == 'd' || conv == 'i' || conv == 'u') && isfinite(v.u.f) && fabs(v.u.f) < 9.2e18) iv = (int64_t)v.u.f;
            else jfail(c, line, RF_ERR_INVALID_ARG, "%%%c format: a number is required, not %s", conv, jv_type_name(v));
            if (conv != 'd' && conv != 'i' && conv != 'u' && (iv < 0 || alt))
                jfail(c, line, RF_ERR_UNSUPPORTED, "%%%c format of negative numbers or with '#'", conv);
            k += snprintf(spec + k, sizeof spec - (size_t)k, "%ld", width);
            if (prec >= 0) k += snprintf(spec + k, sizeof spec - (size_t)k, ".%ld", prec);
            spec[k++] = 'l'; spec[k++] = 'l'; spec[k++] = conv == 'u' || conv == 'i' ? 'd' : conv; spec[k] = 0;
            snprintf(out, sizeof out, spec, (long long)iv);
            jbuf_put(c, &b, out, strlen(out));
            break;
        }
        case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
            if (!jv_is_num(v)) jfail(c, line, RF_ERR_INVALID_ARG, "%%%c format: a real number is required, not %s", conv, jv_type_name(v));
            k += snprintf(spec + k, sizeof spec - (size_t)k, "%ld.%ld", width, prec >= 0 ? prec : 6);
            spec[k++] = conv; spec[k] = 0;
            snprintf(out, sizeof out, spec, jv_num(v));
            jbuf_put(c, &b, out, strlen(out));
            break;
        }
        case 'c': {
            char ch[8];
            size_t cl;
            if (v.t == JV_STR && jutf8_len(v.u.s.p, v.u.s.n) == 1) { memcpy(ch, v.u.s.p, v.u.s.n); cl = v.u.s.n; }
            else if (v.t == JV_INT && v.u.i >= 0 && v.u.i < 128) { ch[0] = (char)v.u.i; cl = 1; }
            else jfail(c, line, RF_ERR_UNSUPPORTED, "%%c format of %s", jv_type_name(v));
            pad_put(c, &b, ch, cl, width, left, ' ');
            break;
        }
        default:
            jfail(c, line, RF_ERR_UNSUPPORTED, "%%-format conversion '%c' is not supported", conv);
        }
    }
    /* leftover arguments: an error for tuples and plain values; mappings
     * (and, in CPython, anything with __getitem__ such as a list) are exempt */
    if (args.t == JV_LIST && args.u.l->tuple) {
        if (next < n_pos)
            jfail(c, line, RF_ERR_INVALID_ARG, "not all arguments converted during string formatting");
    } else if (!mapping && args.t != JV_LIST && next == 0) {
        jfail(c, line, RF_ERR_INVALID_ARG, "not all arguments converted during string formatting");
    }
    return jv_strn(b.p ? b.p : "", b.n);
}

/* ------------------------------------------------------------- filters */

static const char *const FILTERS[] = {
    "abs", "attr", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
    "first", "float", "forceescape", "indent", "int", "items", "join", "last", "length", "list",
    "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "format",
    "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper",
    "wordcount", NULL};

/* Every filter jinja2 3.1 defines (those above plus the ones not
 * implemented here, which fail when executed). */
static const char *const JINJA2_FILTERS[] = {
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e",
    "escape", "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent",
    "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "pprint",
    "random", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
    "selectattr", "slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim",
    "truncate", "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr", NULL};

bool jinja_filter_known(const char *name)
{
    for (int i = 0; JINJA2_FILTERS[i]; i++)
        if (!strcmp(JINJA2_FILTERS[i], name))
            return true;
    return false;
}

bool jinja_filter_exists(const char *name)
{
    for (int i = 0; FILTERS[i]; i++)
        if (!strcmp(FILTERS[i], name))
            return true;
    return false;
}

jv jinja_filter(jctx *c, const char *name, jv v, jv *pos, int n_pos, const char **kw, jv *kwv, int n_kw, int line)
{
    fargs a = {pos, n_pos, kw, kwv, n_kw};
    static const char *const none_kw[] = {NULL};
#define NOARGS() arg_check(c, &a, name, 0, none_kw, line)
    if (!strcmp(name, "default") || !strcmp(name, "d")) {
        static const char *const k[] = {"default_value", "boolean", NULL};
        arg_check(c, &a, name, 2, k, line);
        jv dv = arg_get(c, &a, 0, "default_value", jv_strn("", 0), line);
        bool boolean = jv_truthy(arg_get(c, &a, 1, "boolean", jv_bool(false), line));
        if (v.t == JV_UNDEF || (boolean && !jv_truthy(v))) return dv;
        return v;
    }
    if (!strcmp(name, "safe")) { NOARGS(); return v.t == JV_STR ? jv_safe(v, true) : jv_safe(jv_to_str(c, v), true); }
    if (!strcmp(name, "string")) { NOARGS(); return jv_to_str(c, v); }
    if (!strcmp(name, "tojson")) return do_tojson(c, v, &a, line);
    if (!strcmp(name, "length") || !strcmp(name, "count")) {
        NOARGS();
        switch (v.t) {
        case JV_STR: return jv_int((int64_t)jutf8_len(v.u.s.p, v.u.s.n));
        case JV_LIST:
            if (v.u.l->gen) jfail(c, line, RF_ERR_INVALID_ARG, "object of type 'generator' has no len() (add |list)");
            return jv_int((int64_t)v.u.l->n);
        case JV_DICT: case JV_NS: return jv_int((int64_t)v.u.d->n);
        case JV_UNDEF: return jv_int(0);
        default: jfail(c, line, RF_ERR_INVALID_ARG, "object of type '%s' has no len()", jv_type_name(v));
        }
    }
    if (!strcmp(name, "trim")) {
        static const char *const k[] = {"chars", NULL};
        arg_check(c, &a, name, 1, k, line);
        jv chars = arg_get(c, &a, 0, "chars", jv_none(), line);
        if (chars.t != JV_NONE) want_str(c, chars, "trim chars", line);
        return jv_safe(jstr_strip(jv_to_str(c, v), chars, 3), v.safe);
    }
    /* soft_str(v).method() keeps a Markup a Markup */
    if (!strcmp(name, "upper")) { NOARGS(); return jv_safe(jstr_map(c, jv_to_str(c, v), 0), v.safe); }
    if (!strcmp(name, "lower")) { NOARGS(); return jv_safe(jstr_map(c, jv_to_str(c, v), 1), v.safe); }
    if (!strcmp(name, "capitalize")) { NOARGS(); return jv_safe(jstr_map(c, jv_to_str(c, v), 2), v.safe); }
    if (!strcmp(name, "title")) { NOARGS(); return jstr_title(c, jv_to_str(c, v)); }
    if (!strcmp(name, "escape") || !strcmp(name, "e") || !strcmp(name, "forceescape")) {
        NOARGS();
        if (v.t == JV_STR && v.safe && name[0] != 'f') return v;
        return jv_html_escape(c, jv_to_str(c, v));
    }
    if (!strcmp(name, "replace")) {
        static const char *const k[] = {"old", "new", "count", NULL};
        arg_check(c, &a, name, 3, k, line);
        jv old = jv_to_str(c, arg_get(c, &a, 0, "old", jv_undef(), line));
        jv nw = jv_to_str(c, arg_get(c, &a, 1, "new", jv_undef(), line));
        jv cnt = arg_get(c, &a, 2, "count", jv_none(), line);
        return jstr_replace(c, jv_to_str(c, v), old, nw, cnt.t == JV_NONE ? -1 : want_int(c, cnt, "replace count", line));
    }
    if (!strcmp(name, "join")) {
        static const char *const k[] = {"d", "attribute", NULL};
        arg_check(c, &a, name, 2, k, line);
        jv sep = jv_to_str(c, arg_get(c, &a, 0, "d", jv_strn("", 0), line));
        jv attr = arg_get(c, &a, 1, "attribute", jv_none(), line);
        jv items = as_list(c, v, line);
        jbuf b = {0};
        for (size_t i = 0; i < items.u.l->n; i++) {
            if (i) jbuf_put(c, &b, sep.u.s.p, sep.u.s.n);
            jv it = items.u.l->v[i];
            if (attr.t != JV_NONE) it = attr_path(c, it, attr, line);
            jv_str_into(c, &b, it);
        }
        return jv_strn(b.p ? b.p : "", b.n);
    }
    if (!strcmp(name, "first") || !strcmp(name, "last")) {
        NOARGS();
        if (jv_is_gen(v)) {
            if (name[0] == 'l') jfail(c, line, RF_ERR_INVALID_ARG, "'generator' object is not reversible");
            jlist *l = v.u.l;
            return l->gen_pos < l->n ? l->v[l->gen_pos++] : jv_undef();
        }
        jv items = as_list(c, v, line);
        if (!items.u.l->n) return jv_undef();
        return name[0] == 'f' ? items.u.l->v[0] : items.u.l->v[items.u.l->n - 1];
    }
    if (!strcmp(name, "list")) {
        NOARGS();
        jv items = as_list(c, v, line);
        jv out = jv_list_new(c, items.u.l->n);
        for (size_t i = 0; i < items.u.l->n; i++) jv_list_push(c, out, items.u.l->v[i]);
        return out;
    }
    if (!strcmp(name, "reverse")) {
        NOARGS();
        if (v.t == JV_STR) {
            jv chars = as_list(c, v, line);
            jbuf b = {0};
            for (size_t i = chars.u.l->n; i-- > 0;) jbuf_put(c, &b, chars.u.l->v[i].u.s.p, chars.u.l->v[i].u.s.n);
            return jv_strn(b.p ? b.p : "", b.n);
        }
        /* reversed() of a list/dict is an iterator; of an iterator, a list */
        bool was_gen = jv_is_gen(v);
        jv items = as_list(c, v, line);
        jv out = jv_list_new(c, items.u.l->n);
        for (size_t i = items.u.l->n; i-- > 0;) jv_list_push(c, out, items.u.l->v[i]);
        out.u.l->gen = !was_gen;
        return out;
    }
    if (!strcmp(name, "items")) {
        NOARGS();
        if (v.t == JV_UNDEF) return jv_list_new(c, 0);
        if (v.t != JV_DICT && v.t != JV_NS) jfail(c, line, RF_ERR_INVALID_ARG, "|items expects a mapping, got %s", jv_type_name(v));
        jv it = dict_items(c, v);
        it.u.l->gen = true;
        return it;
    }
    if (!strcmp(name, "dictsort")) {
        static const char *const k[] = {"case_sensitive", "by", "reverse", NULL};
        arg_check(c, &a, name, 3, k, line);
        bool cs = jv_truthy(arg_get(c, &a, 0, "case_sensitive", jv_bool(false), line));
        jv by = arg_get(c, &a, 1, "by", jv_strn("key", 3), line);
        bool rev = jv_truthy(arg_get(c, &a, 2, "reverse", jv_bool(false), line));
        if (v.t != JV_DICT && v.t != JV_NS) jfail(c, line, RF_ERR_INVALID_ARG, "|dictsort expects a mapping, got %s", jv_type_name(v));
        bool by_value = by.t == JV_STR && by.u.s.n == 5 && !memcmp(by.u.s.p, "value", 5);
        jv items = dict_items(c, v);
        size_t n = items.u.l->n;
        jv *keys = jalloc(c, (n ? n : 1) * sizeof(jv));
        for (size_t i = 0; i < n; i++) keys[i] = items.u.l->v[i].u.l->v[by_value ? 1 : 0];
        sort_by(c, items.u.l->v, keys, n, rev, cs, line);
        return items;
    }
    if (!strcmp(name, "sort")) {
        static const char *const k[] = {"reverse", "case_sensitive", "attribute", NULL};
        arg_check(c, &a, name, 3, k, line);
        bool rev = jv_truthy(arg_get(c, &a, 0, "reverse", jv_bool(false), line));
        bool cs = jv_truthy(arg_get(c, &a, 1, "case_sensitive", jv_bool(false), line));
        jv attr = arg_get(c, &a, 2, "attribute", jv_none(), line);
        jv items = as_list(c, v, line);
        size_t n = items.u.l->n;
        jv out = jv_list_new(c, n);
        for (size_t i = 0; i < n; i++) jv_list_push(c, out, items.u.l->v[i]);
        jv *keys = jalloc(c, (n ? n : 1) * sizeof(jv));
        for (size_t i = 0; i < n; i++) keys[i] = attr.t == JV_NONE ? out.u.l->v[i] : attr_path(c, out.u.l->v[i], attr, line);
        sort_by(c, out.u.l->v, keys, n, rev, cs, line);
        return out;
    }
    if (!strcmp(name, "unique")) {
        static const char *const k[] = {"case_sensitive", "attribute", NULL};
        arg_check(c, &a, name, 2, k, line);
        bool cs = jv_truthy(arg_get(c, &a, 0, "case_sensitive", jv_bool(false), line));
        jv attr = arg_get(c, &a, 1, "attribute", jv_none(), line);
        jv items = as_list(c, v, line);
        jv out = jv_list_new(c, items.u.l->n), seen = jv_list_new(c, items.u.l->n);
        for (size_t i = 0; i < items.u.l->n; i++) {
            jv key = attr.t == JV_NONE ? items.u.l->v[i] : attr_path(c, items.u.l->v[i], attr, line);
            if (!cs && key.t == JV_STR) key = jstr_map(c, key, 1);
            bool dup = false;
            for (size_t j = 0; j < seen.u.l->n && !dup; j++) dup = jv_eq(seen.u.l->v[j], key);
            if (!dup) { jv_list_push(c, seen, key); jv_list_push(c, out, items.u.l->v[i]); }
        }
        out.u.l->gen = true;
        return out;
    }
    if (!strcmp(name, "map")) {
        /* jinja: `if value:` first, so none/undefined map to nothing */
        jv items = jv_truthy(v) ? as_list(c, v, line) : jv_list_new(c, 0);
        jv out = jv_list_new(c, items.u.l->n);
        out.u.l->gen = true;
        jv attr = arg_get(c, &a, -1, "attribute", jv_none(), line);
        if (attr.t != JV_NONE) {
            jv dflt = arg_get(c, &a, -1, "default", jv_undef(), line);
            for (size_t i = 0; i < items.u.l->n; i++) {
                jv r = attr_path(c, items.u.l->v[i], attr, line);
                jv_list_push(c, out, r.t == JV_UNDEF && dflt.t != JV_UNDEF ? dflt : r);
            }
            return out;
        }
        if (n_pos < 1) jfail(c, line, RF_ERR_INVALID_ARG, "map needs a filter name or attribute=");
        jv fname = want_str(c, pos[0], "map filter", line);
        const char *f = jv_str_copy(c, fname.u.s.p, fname.u.s.n).u.s.p;   /* NUL-terminated */
        if (!jinja_filter_exists(f)) jfail(c, line, RF_ERR_UNSUPPORTED, "no filter named '%s'", f);
        for (size_t i = 0; i < items.u.l->n; i++)
            jv_list_push(c, out, jinja_filter(c, f, items.u.l->v[i], pos + 1, n_pos - 1, kw, kwv, n_kw, line));
        return out;
    }
    if (!strcmp(name, "select")) return select_impl(c, v, &a, true, false, line);
    if (!strcmp(name, "reject")) return select_impl(c, v, &a, false, false, line);
    if (!strcmp(name, "selectattr")) return select_impl(c, v, &a, true, true, line);
    if (!strcmp(name, "rejectattr")) return select_impl(c, v, &a, false, true, line);
    if (!strcmp(name, "int")) {
        static const char *const k[] = {"default", "base", NULL};
        arg_check(c, &a, name, 2, k, line);
        jv dflt = arg_get(c, &a, 0, "default", jv_int(0), line);
        jv base = arg_get(c, &a, 1, "base", jv_int(10), line);
        if (base.t != JV_INT || base.u.i != 10) jfail(c, line, RF_ERR_UNSUPPORTED, "|int with a base other than 10");
        int64_t iv;
        double fv;
        if (v.t == JV_INT) return v;
        if (v.t == JV_BOOL) return jv_int(v.u.b);
        if (v.t == JV_FLOAT) {
            if (!isfinite(v.u.f) || fabs(v.u.f) >= 9.2e18) return dflt;
            return jv_int((int64_t)v.u.f);
        }
        if (v.t == JV_STR) {
            if (parse_py_int(v, &iv)) return jv_int(iv);
            if (parse_py_float(c, v, &fv) && isfinite(fv) && fabs(fv) < 9.2e18) return jv_int((int64_t)fv);
        }
        return dflt;
    }
    if (!strcmp(name, "float")) {
        static const char *const k[] = {"default", NULL};
        arg_check(c, &a, name, 1, k, line);
        jv dflt = arg_get(c, &a, 0, "default", jv_float(0.0), line);
        double fv;
        if (v.t == JV_FLOAT) return v;
        if (v.t == JV_INT || v.t == JV_BOOL) return jv_float(jv_num(v));
        if (v.t == JV_STR && parse_py_float(c, v, &fv)) return jv_float(fv);
        return dflt;
    }
    if (!strcmp(name, "abs")) {
        NOARGS();
        if (v.t == JV_INT) { if (v.u.i == INT64_MIN) jfail(c, line, RF_ERR_UNSUPPORTED, "integer overflow"); return jv_int(v.u.i < 0 ? -v.u.i : v.u.i); }
        if (v.t == JV_BOOL) return jv_int(v.u.b);
        if (v.t == JV_FLOAT) return jv_float(fabs(v.u.f));
        jfail(c, line, RF_ERR_INVALID_ARG, "bad operand type for abs(): '%s'", jv_type_name(v));
    }
    if (!strcmp(name, "round")) {
        static const char *const k[] = {"precision", "method", NULL};
        arg_check(c, &a, name, 2, k, line);
        int64_t prec = want_int(c, arg_get(c, &a, 0, "precision", jv_int(0), line), "round precision", line);
        jv method = arg_get(c, &a, 1, "method", jv_strn("common", 6), line);
        want_str(c, method, "round method", line);
        if (!jv_is_num(v)) jfail(c, line, RF_ERR_INVALID_ARG, "round: expected a number, got %s", jv_type_name(v));
        if (method.u.s.n == 6 && !memcmp(method.u.s.p, "common", 6)) {
            if (v.t != JV_FLOAT) {
                if (prec >= 0) return jv_int(v.t == JV_INT ? v.u.i : v.u.b);
                jfail(c, line, RF_ERR_UNSUPPORTED, "round of an integer to negative precision");
            }
            return round_float(v.u.f, prec);
        }
        double m = pow(10.0, (double)prec), x = jv_num(v) * m;
        if (method.u.s.n == 4 && !memcmp(method.u.s.p, "ceil", 4)) return jv_float(ceil(x) / m);
        if (method.u.s.n == 5 && !memcmp(method.u.s.p, "floor", 5)) return jv_float(floor(x) / m);
        jfail(c, line, RF_ERR_INVALID_ARG, "round: method must be common, ceil or floor");
    }
    if (!strcmp(name, "indent")) {
        static const char *const k[] = {"width", "first", "blank", NULL};
        arg_check(c, &a, name, 3, k, line);
        jv width = arg_get(c, &a, 0, "width", jv_int(4), line);
        bool first = jv_truthy(arg_get(c, &a, 1, "first", jv_bool(false), line));
        bool blank = jv_truthy(arg_get(c, &a, 2, "blank", jv_bool(false), line));
        jv ind;
        if (width.t == JV_STR) ind = width;
        else {
            int64_t w = want_int(c, width, "indent width", line);
            if (w > 4096) jfail(c, line, RF_ERR_INVALID_ARG, "indent width too large");
            if (w < 0) w = 0;
            char *sp = jalloc(c, (size_t)w + 1);
            memset(sp, ' ', (size_t)w);
            ind = jv_strn(sp, (size_t)w);
        }
        jv s = jv_to_str(c, v);
        jbuf tmp = {0};
        jbuf_put(c, &tmp, s.u.s.p, s.u.s.n);
        jbuf_putc(c, &tmp, '\n');
        jv lines = jstr_splitlines(c, jv_strn(tmp.p, tmp.n));
        jbuf b = {0};
        if (first) jbuf_put(c, &b, ind.u.s.p, ind.u.s.n);
        for (size_t i = 0; i < lines.u.l->n; i++) {
            jv ln = lines.u.l->v[i];
            if (i) {
                jbuf_putc(c, &b, '\n');
                if (blank || ln.u.s.n) jbuf_put(c, &b, ind.u.s.p, ind.u.s.n);
            }
            jbuf_put(c, &b, ln.u.s.p, ln.u.s.n);
        }
        return jv_strn(b.p ? b.p : "", b.n);
    }
    if (!strcmp(name, "center")) {
        static const char *const k[] = {"width", NULL};
        arg_check(c, &a, name, 1, k, line);
        int64_t w = want_int(c, arg_get(c, &a, 0, "width", jv_int(80), line), "center width", line);
        jv s = jv_to_str(c, v);
        int64_t len = (int64_t)jutf8_len(s.u.s.p, s.u.s.n);
        if (w > (int64_t)c->max_output) jfail(c, line, RF_ERR_INVALID_ARG, "center width too large");
        if (w <= len) return s;
        int64_t pad = w - len, left = pad / 2 + (pad & w & 1);
        jbuf b = {0};
        for (int64_t i = 0; i < left; i++) jbuf_putc(c, &b, ' ');
        jbuf_put(c, &b, s.u.s.p, s.u.s.n);
        for (int64_t i = 0; i < pad - left; i++) jbuf_putc(c, &b, ' ');
        return jv_strn(b.p, b.n);
    }
    if (!strcmp(name, "wordcount")) {
        NOARGS();
        jv s = jv_to_str(c, v);
        int64_t n = 0;
        bool in = false;
        for (size_t i = 0; i < s.u.s.n; i++) {
            unsigned char ch = (unsigned char)s.u.s.p[i];
            bool w = (ch >= '0' && ch <= '9') || jstr_is_alpha((char)ch) || ch == '_' || ch >= 0x80;
            if (w && !in) n++;
            in = w;
        }
        return jv_int(n);
    }
    if (!strcmp(name, "sum")) {
        static const char *const k[] = {"attribute", "start", NULL};
        arg_check(c, &a, name, 2, k, line);
        jv attr = arg_get(c, &a, 0, "attribute", jv_none(), line);
        jv acc = arg_get(c, &a, 1, "start", jv_int(0), line);
        jv items = as_list(c, v, line);
        for (size_t i = 0; i < items.u.l->n; i++) {
            jv it = attr.t == JV_NONE ? items.u.l->v[i] : attr_path(c, items.u.l->v[i], attr, line);
            if (!jv_is_num(it) || !jv_is_num(acc)) jfail(c, line, RF_ERR_INVALID_ARG, "sum: non-numeric item %s", jv_type_name(it));
            if (acc.t != JV_FLOAT && it.t != JV_FLOAT) {
                int64_t r;
                if (__builtin_add_overflow(acc.t == JV_INT ? acc.u.i : acc.u.b, it.t == JV_INT ? it.u.i : it.u.b, &r))
                    jfail(c, line, RF_ERR_UNSUPPORTED, "integer overflow");
                acc = jv_int(r);
            } else {
                acc = jv_float(jv_num(acc) + jv_num(it));
            }
        }
        return acc;
    }
    if (!strcmp(name, "max") || !strcmp(name, "min")) {
        static const char *const k[] = {"case_sensitive", "attribute", NULL};
        arg_check(c, &a, name, 2, k, line);
        bool cs = jv_truthy(arg_get(c, &a, 0, "case_sensitive", jv_bool(false), line));
        jv attr = arg_get(c, &a, 1, "attribute", jv_none(), line);
        jv items = as_list(c, v, line);
        if (!items.u.l->n) return jv_undef();
        bool is_max = name[1] == 'a';
        jv best = items.u.l->v[0];
        jv bkey = attr.t == JV_NONE ? best : attr_path(c, best, attr, line);
        for (size_t i = 1; i < items.u.l->n; i++) {
            jv key = attr.t == JV_NONE ? items.u.l->v[i] : attr_path(c, items.u.l->v[i], attr, line);
            int r = cmp_ci(c, key, bkey, cs, line);
            if (is_max ? r > 0 : r < 0) { best = items.u.l->v[i]; bkey = key; }
        }
        return best;
    }
    if (!strcmp(name, "format")) {
        /* soft_str(value) % (kwargs or args) */
        if (n_pos && n_kw) jfail(c, line, RF_ERR_INVALID_ARG, "format: positional and keyword arguments cannot be mixed");
        jv a2;
        if (n_kw) {
            a2 = jv_dict_new(c, (size_t)n_kw);
            for (int i = 0; i < n_kw; i++) jv_dict_set(c, a2, jv_cstr(c, kw[i]), kwv[i]);
        } else {
            a2 = jv_list_new(c, (size_t)n_pos);
            for (int i = 0; i < n_pos; i++) jv_list_push(c, a2, pos[i]);
            a2.u.l->tuple = true;
        }
        return jinja_percent_format(c, jv_to_str(c, v), a2, line);
    }
    if (!strcmp(name, "attr")) {
        static const char *const k[] = {"name", NULL};
        arg_check(c, &a, name, 1, k, line);
        /* jinja's attr() uses getattr only: dict keys are not attributes */
        return jv_undef();
    }
    if (!jinja_filter_known(name))
        jfail(c, line, RF_ERR_UNSUPPORTED, "no filter named '%s'", name);
    jfail(c, line, RF_ERR_UNSUPPORTED, "filter '%s' is not supported", name);
#undef NOARGS
}

/* ------------------------------------------------------------- tests */

static const char *const TESTS[] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even",
    "false", "filter", "float", "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable",
    "le", "<=", "lower", "lt", "lessthan", "<", "mapping", "ne", "!=", "none", "number", "odd",
    "sameas", "sequence", "string", "test", "true", "undefined", "upper", NULL};

bool jinja_test_exists(const char *name)
{
    for (int i = 0; TESTS[i]; i++)
        if (!strcmp(TESTS[i], name))
            return true;
    return false;
}

static jv one_arg(jctx *c, const char *name, jv *args, int n, int line)
{
    if (n != 1) jfail(c, line, RF_ERR_INVALID_ARG, "test '%s' takes one argument, got %d", name, n);
    return args[0];
}

bool jinja_test(jctx *c, const char *name, jv v, jv *args, int n, int line)
{
    if (!strcmp(name, "defined")) return v.t != JV_UNDEF;
    if (!strcmp(name, "undefined")) return v.t == JV_UNDEF;
    if (!strcmp(name, "none")) return v.t == JV_NONE;
    if (!strcmp(name, "string")) return v.t == JV_STR;
    if (!strcmp(name, "mapping")) return v.t == JV_DICT;
    if (!strcmp(name, "iterable")) return v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF;
    if (!strcmp(name, "sequence")) return v.t == JV_STR || (v.t == JV_LIST && !v.u.l->gen) || v.t == JV_DICT || v.t == JV_UNDEF;
    if (!strcmp(name, "number")) return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL;
    if (!strcmp(name, "integer")) return v.t == JV_INT;
    if (!strcmp(name, "float")) return v.t == JV_FLOAT;
    if (!strcmp(name, "boolean")) return v.t == JV_BOOL;
    if (!strcmp(name, "true")) return v.t == JV_BOOL && v.u.b;
    if (!strcmp(name, "false")) return v.t == JV_BOOL && !v.u.b;
    if (!strcmp(name, "callable")) return v.t == JV_FUNC;
    if (!strcmp(name, "escaped")) return false;
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        /* str.islower(): has cased chars and none of the other case */
        jv s = jv_to_str(c, v);
        bool cased = false;
        for (size_t i = 0; i < s.u.s.n;) {
            size_t len;
            uint32_t cp = jstr_utf8_at(s.u.s.p, s.u.s.n, i, &len);
            i += len;
            if (!jstr_is_cased(cp)) continue;
            bool is_low = jstr_case_map(cp, false) == cp && cp != 0x130;
            if (name[0] == 'u' ? is_low : !is_low) return false;
            cased = true;
        }
        return cased;
    }
    if (!strcmp(name, "even") || !strcmp(name, "odd")) {
        if (v.t != JV_INT && v.t != JV_BOOL) jfail(c, line, RF_ERR_INVALID_ARG, "test '%s' needs an integer", name);
        int64_t x = v.t == JV_INT ? v.u.i : v.u.b;
        return (x % 2 == 0) == (name[0] == 'e');
    }
    if (!strcmp(name, "divisibleby")) {
        jv d = one_arg(c, name, args, n, line);
        if (v.t != JV_INT || d.t != JV_INT) jfail(c, line, RF_ERR_INVALID_ARG, "divisibleby needs integers");
        if (d.u.i == 0) jfail(c, line, RF_ERR_INVALID_ARG, "divisibleby 0");
        return d.u.i == -1 || v.u.i % d.u.i == 0;
    }
    if (!strcmp(name, "eq") || !strcmp(name, "equalto") || !strcmp(name, "==")) return jv_eq(v, one_arg(c, name, args, n, line));
    if (!strcmp(name, "ne") || !strcmp(name, "!=")) return !jv_eq(v, one_arg(c, name, args, n, line));
    if (!strcmp(name, "lt") || !strcmp(name, "lessthan") || !strcmp(name, "<")) return jv_cmp(c, v, one_arg(c, name, args, n, line), line) < 0;
    if (!strcmp(name, "le") || !strcmp(name, "<=")) return jv_cmp(c, v, one_arg(c, name, args, n, line), line) <= 0;
    if (!strcmp(name, "gt") || !strcmp(name, "greaterthan") || !strcmp(name, ">")) return jv_cmp(c, v, one_arg(c, name, args, n, line), line) > 0;
    if (!strcmp(name, "ge") || !strcmp(name, ">=")) return jv_cmp(c, v, one_arg(c, name, args, n, line), line) >= 0;
    if (!strcmp(name, "in")) {
        jv seq = one_arg(c, name, args, n, line);
        if (seq.t == JV_STR) {
            if (v.t != JV_STR) jfail(c, line, RF_ERR_INVALID_ARG, "'in <string>' requires string as left operand");
            return jstr_find(seq.u.s.p, seq.u.s.n, v.u.s.p, v.u.s.n) != NULL;
        }
        if (seq.t == JV_LIST) {
            jlist *l = seq.u.l;
            for (size_t i = l->gen ? l->gen_pos : 0; i < l->n; i++)
                if (jv_eq(l->v[i], v)) { if (l->gen) l->gen_pos = i + 1; return true; }
            if (l->gen) l->gen_pos = l->n;
            return false;
        }
        if (seq.t == JV_DICT || seq.t == JV_NS) { jv o; return jv_dict_find(seq, v, &o); }
        if (seq.t == JV_UNDEF) return false;
        jfail(c, line, RF_ERR_INVALID_ARG, "argument of type '%s' is not iterable", jv_type_name(seq));
    }
    if (!strcmp(name, "sameas")) {
        jv o = one_arg(c, name, args, n, line);
        if (v.t != o.t) return false;
        switch (v.t) {
        case JV_NONE: case JV_UNDEF: return true;
        case JV_BOOL: return v.u.b == o.u.b;
        case JV_INT: return v.u.i == o.u.i && v.u.i >= -5 && v.u.i <= 256;   /* CPython small-int cache */
        case JV_LIST: return v.u.l == o.u.l;
        case JV_DICT: case JV_NS: return v.u.d == o.u.d;
        case JV_FUNC: return v.u.fn == o.u.fn;
        default: return false;
        }
    }
    /* `'upper' is filter`: the value names a filter/test */
    if (!strcmp(name, "filter")) return v.t == JV_STR && jinja_filter_exists(jv_str_copy(c, v.u.s.p, v.u.s.n).u.s.p);
    if (!strcmp(name, "test")) return v.t == JV_STR && jinja_test_exists(jv_str_copy(c, v.u.s.p, v.u.s.n).u.s.p);
    jfail(c, line, RF_ERR_UNSUPPORTED, "test '%s' is not supported", name);
}

/* ------------------------------------------------------------- methods */

static bool is_space_only(jv s)
{
    size_t k;
    if (!s.u.s.n) return false;
    for (size_t i = 0; i < s.u.s.n; i += k)
        if (!jstr_space_at(s.u.s.p, s.u.s.n, i, &k)) return false;
    return true;
}

static jv str_method(jctx *c, jv s, const char *m, const fargs *a, int line)
{
    static const char *const none_kw[] = {NULL};
#define NARGS(lo, hi) do { arg_check(c, a, m, hi, none_kw, line); if (a->n_pos < lo) jfail(c, line, RF_ERR_INVALID_ARG, "str.%s needs %d argument(s)", m, lo); } while (0)
    if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip")) {
        NARGS(0, 1);
        jv chars = a->n_pos ? a->pos[0] : jv_none();
        if (chars.t != JV_NONE) want_str(c, chars, m, line);
        return jv_safe(jstr_strip(s, chars, m[0] == 'l' ? 1 : m[0] == 'r' ? 2 : 3), s.safe);
    }
    if (!strcmp(m, "split") || !strcmp(m, "rsplit")) {
        static const char *const k[] = {"sep", "maxsplit", NULL};
        arg_check(c, a, m, 2, k, line);
        jv sep = arg_get(c, a, 0, "sep", jv_none(), line);
        int64_t maxs = want_int(c, arg_get(c, a, 1, "maxsplit", jv_int(-1), line), "maxsplit", line);
        return jstr_split(c, s, sep, maxs, m[0] == 'r', line);
    }
    if (!strcmp(m, "splitlines")) { NARGS(0, 0); return jstr_splitlines(c, s); }
    if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
        NARGS(1, 1);
        return jv_bool(str_affix(c, s, a->pos[0], m[0] == 'e', line));
    }
    if (!strcmp(m, "replace")) {
        NARGS(2, 3);
        return jstr_replace(c, s, want_str(c, a->pos[0], "replace", line), want_str(c, a->pos[1], "replace", line),
                           a->n_pos > 2 ? want_int(c, a->pos[2], "replace count", line) : -1);
    }
    if (!strcmp(m, "upper")) { NARGS(0, 0); return jv_safe(jstr_map(c, s, 0), s.safe); }
    if (!strcmp(m, "lower") || !strcmp(m, "casefold")) { NARGS(0, 0); return jv_safe(jstr_map(c, s, 1), s.safe); }
    if (!strcmp(m, "capitalize")) { NARGS(0, 0); return jstr_map(c, s, 2); }
    if (!strcmp(m, "title")) { NARGS(0, 0); return jstr_map(c, s, 3); }
    if (!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "index") || !strcmp(m, "rindex") || !strcmp(m, "count")) {
        NARGS(1, 1);
        jv sub = want_str(c, a->pos[0], m, line);
        if (!strcmp(m, "count")) {
            if (sub.u.s.n == 0) return jv_int((int64_t)jutf8_len(s.u.s.p, s.u.s.n) + 1);
            int64_t k = 0;
            for (size_t i = 0; i + sub.u.s.n <= s.u.s.n;)
                if (!memcmp(s.u.s.p + i, sub.u.s.p, sub.u.s.n)) { k++; i += sub.u.s.n; } else i++;
            return jv_int(k);
        }
        int64_t at = -1;
        if (m[0] == 'r') {
            for (size_t i = s.u.s.n + 1; i-- > 0;)
                if (i + sub.u.s.n <= s.u.s.n && !memcmp(s.u.s.p + i, sub.u.s.p, sub.u.s.n)) { at = (int64_t)i; break; }
        } else {
            const char *f = jstr_find(s.u.s.p, s.u.s.n, sub.u.s.p, sub.u.s.n);
            if (f) at = f - s.u.s.p;
        }
        if (at >= 0) at = (int64_t)jutf8_len(s.u.s.p, (size_t)at);   /* code point index */
        if (at < 0 && (!strcmp(m, "index") || !strcmp(m, "rindex"))) jfail(c, line, RF_ERR_INVALID_ARG, "substring not found");
        return jv_int(at);
    }
    if (!strcmp(m, "join")) {
        NARGS(1, 1);
        jv items = as_list(c, a->pos[0], line);
        jbuf b = {0};
        for (size_t i = 0; i < items.u.l->n; i++) {
            if (i) jbuf_put(c, &b, s.u.s.p, s.u.s.n);
            if (items.u.l->v[i].t != JV_STR) jfail(c, line, RF_ERR_INVALID_ARG, "str.join: item %zu is %s, not str", i, jv_type_name(items.u.l->v[i]));
            jbuf_put(c, &b, items.u.l->v[i].u.s.p, items.u.l->v[i].u.s.n);
        }
        return jv_strn(b.p ? b.p : "", b.n);
    }
    if (!strcmp(m, "format")) return str_format(c, s, a, line);
    if (!strcmp(m, "removeprefix") || !strcmp(m, "removesuffix")) {
        NARGS(1, 1);
        jv x = want_str(c, a->pos[0], m, line);
        if (m[6] == 'p') return jstr_starts(s, x) ? jv_strn(s.u.s.p + x.u.s.n, s.u.s.n - x.u.s.n) : s;
        return jstr_ends(s, x) && x.u.s.n ? jv_strn(s.u.s.p, s.u.s.n - x.u.s.n) : s;
    }
    if (!strcmp(m, "isspace")) { NARGS(0, 0); return jv_bool(is_space_only(s)); }
    if (!strcmp(m, "isdigit") || !strcmp(m, "isalpha") || !strcmp(m, "isalnum") || !strcmp(m, "isnumeric") || !strcmp(m, "isdecimal")) {
        NARGS(0, 0);
        if (!s.u.s.n) return jv_bool(false);
        for (size_t i = 0; i < s.u.s.n; i++) {
            char ch = s.u.s.p[i];
            bool d = ch >= '0' && ch <= '9', al = jstr_is_alpha(ch);
            if ((unsigned char)ch >= 0x80)
                jfail(c, line, RF_ERR_UNSUPPORTED, "str.%s on non-ASCII text", m);
            bool ok = !strcmp(m, "isalpha") ? al : !strcmp(m, "isalnum") ? (al || d) : d;
            if (!ok) return jv_bool(false);
        }
        return jv_bool(true);
    }
    if (!strcmp(m, "islower") || !strcmp(m, "isupper")) {
        NARGS(0, 0);
        return jv_bool(jinja_test(c, m + 2, s, NULL, 0, line));
    }
    jfail(c, line, RF_ERR_UNSUPPORTED, "string method '%s' is not supported", m);
#undef NARGS
}

jv jinja_method(jctx *c, jv obj, const char *m, jv *pos, int n_pos, const char **kw, jv *kwv, int n_kw, int line)
{
    fargs a = {pos, n_pos, kw, kwv, n_kw};
    static const char *const none_kw[] = {NULL};
    if (obj.t == JV_STR)
        return str_method(c, obj, m, &a, line);
    if (obj.t == JV_DICT) {
        if (!strcmp(m, "get")) {
            arg_check(c, &a, "dict.get", 2, none_kw, line);
            if (n_pos < 1) jfail(c, line, RF_ERR_INVALID_ARG, "dict.get needs a key");
            jv out;
            if (jv_dict_find(obj, pos[0], &out)) return out;
            return n_pos > 1 ? pos[1] : jv_none();
        }
        if (!strcmp(m, "items")) { arg_check(c, &a, "dict.items", 0, none_kw, line); return dict_items(c, obj); }
        if (!strcmp(m, "keys") || !strcmp(m, "values")) {
            arg_check(c, &a, m, 0, none_kw, line);
            jv l = jv_list_new(c, obj.u.d->n);
            for (size_t i = 0; i < obj.u.d->n; i++) jv_list_push(c, l, m[0] == 'k' ? obj.u.d->k[i] : obj.u.d->v[i]);
            return l;
        }
        if (!strcmp(m, "pop") || !strcmp(m, "update") || !strcmp(m, "setdefault") || !strcmp(m, "clear") || !strcmp(m, "popitem"))
            jfail(c, line, RF_ERR_INVALID_ARG, "access to attribute '%s' of 'dict' object is unsafe (templates cannot mutate)", m);
    }
    if (obj.t == JV_LIST) {
        if (!strcmp(m, "index") || !strcmp(m, "count")) {
            arg_check(c, &a, m, 1, none_kw, line);
            if (n_pos < 1) jfail(c, line, RF_ERR_INVALID_ARG, "list.%s needs an argument", m);
            int64_t k = 0;
            for (size_t i = 0; i < obj.u.l->n; i++)
                if (jv_eq(obj.u.l->v[i], pos[0])) { if (m[0] == 'i') return jv_int((int64_t)i); k++; }
            if (m[0] == 'i') jfail(c, line, RF_ERR_INVALID_ARG, "list.index: value not in list");
            return jv_int(k);
        }
        if (!strcmp(m, "append") || !strcmp(m, "extend") || !strcmp(m, "insert") || !strcmp(m, "pop") ||
            !strcmp(m, "remove") || !strcmp(m, "reverse") || !strcmp(m, "sort") || !strcmp(m, "clear"))
            jfail(c, line, RF_ERR_INVALID_ARG, "access to attribute '%s' of 'list' object is unsafe (templates cannot mutate)", m);
    }
    if (obj.t == JV_UNDEF)
        jfail(c, line, RF_ERR_INVALID_ARG, "'%.*s' is undefined (calling '%s')", (int)obj.u.s.n, obj.u.s.p ? obj.u.s.p : "", m);
    jfail(c, line, RF_ERR_UNSUPPORTED, "'%s' object has no supported method '%s'", jv_type_name(obj), m);
}

/* ------------------------------------------------------------- globals */

static jv g_range(jctx *c, jv self, jv *a, int n, const char **kw, jv *kwv, int n_kw, int line)
{
    if (n_kw || n < 1 || n > 3) jfail(c, line, RF_ERR_INVALID_ARG, "range() takes 1 to 3 integer arguments");
    int64_t lo = 0, hi, st = 1;
    if (n == 1) hi = want_int(c, a[0], "range", line);
    else { lo = want_int(c, a[0], "range", line); hi = want_int(c, a[1], "range", line); }
    if (n == 3) st = want_int(c, a[2], "range", line);
    if (st == 0) jfail(c, line, RF_ERR_INVALID_ARG, "range() arg 3 must not be zero");
    /* count without overflow */
    double cnt = st > 0 ? ceil(((double)hi - (double)lo) / (double)st) : ceil(((double)lo - (double)hi) / (double)-st);
    if (cnt > 1e6) jfail(c, line, RF_ERR_UNSUPPORTED, "range() of more than 1000000 items");
    jv l = jv_list_new(c, cnt > 0 ? (size_t)cnt : 0);
    for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) {
        jv_list_push(c, l, jv_int(i));
        if ((st > 0 && i > INT64_MAX - st) || (st < 0 && i < INT64_MIN - st)) break;
    }
    return l;
}

static jv g_dict(jctx *c, jv self, jv *a, int n, const char **kw, jv *kwv, int n_kw, int line)
{
    jv d = jv_dict_new(c, (size_t)n_kw);
    if (n > 1) jfail(c, line, RF_ERR_INVALID_ARG, "dict() takes at most 1 positional argument");
    if (n == 1) {
        if (a[0].t == JV_DICT || a[0].t == JV_NS) {
            for (size_t i = 0; i < a[0].u.d->n; i++) jv_dict_set(c, d, a[0].u.d->k[i], a[0].u.d->v[i]);
        } else if (a[0].t == JV_LIST) {
            for (size_t i = 0; i < a[0].u.l->n; i++) {
                jv p = a[0].u.l->v[i];
                if (p.t != JV_LIST || p.u.l->n != 2) jfail(c, line, RF_ERR_INVALID_ARG, "dict(): sequence elements must be pairs");
                jv_dict_set(c, d, p.u.l->v[0], p.u.l->v[1]);
            }
        } else {
            jfail(c, line, RF_ERR_INVALID_ARG, "dict(): cannot convert %s", jv_type_name(a[0]));
        }
    }
    for (int i = 0; i < n_kw; i++) jv_dict_set(c, d, jv_cstr(c, kw[i]), kwv[i]);
    return d;
}

static jv g_namespace(jctx *c, jv self, jv *a, int n, const char **kw, jv *kwv, int n_kw, int line)
{
    jv d = g_dict(c, self, a, n, kw, kwv, n_kw, line);
    d.t = JV_NS;
    return d;
}

static jv g_raise(jctx *c, jv self, jv *a, int n, const char **kw, jv *kwv, int n_kw, int line)
{
    jv msg = n > 0 ? jv_to_str(c, a[0]) : jv_strn("", 0);
    jfail(c, line, RF_ERR_INVALID_ARG, "raise_exception: %.*s", (int)(msg.u.s.n > 300 ? 300 : msg.u.s.n), msg.u.s.p);
}

static jv g_strftime_now(jctx *c, jv self, jv *a, int n, const char **kw, jv *kwv, int n_kw, int line)
{
    if (n != 1 || a[0].t != JV_STR) jfail(c, line, RF_ERR_INVALID_ARG, "strftime_now() takes one format string");
    /* Python's datetime.now().strftime: local time, C-locale names */
    time_t t = time(NULL);
    struct tm tmv;
    localtime_r(&t, &tmv);
    jv fmt = jv_str_copy(c, a[0].u.s.p, a[0].u.s.n);
    if (fmt.u.s.n > 256) jfail(c, line, RF_ERR_INVALID_ARG, "strftime_now: format too long");
    char buf[2048];
    size_t k = fmt.u.s.n ? strftime(buf, sizeof buf, fmt.u.s.p, &tmv) : 0;
    return jv_str_copy(c, buf, k);
}

static void add_native(jctx *c, jscope *g, const char *name, jnative_fn fn)
{
    jfunc *f = jalloc(c, sizeof *f);
    memset(f, 0, sizeof *f);
    f->kind = JF_NATIVE;
    f->name = name;
    f->native = fn;
    f->self = jv_undef();
    f->caller = jv_undef();
    jv v = {0};
    v.t = JV_FUNC;
    v.u.fn = f;
    jscope_set(c, g, name, v);
}

void jinja_globals_install(jctx *c, jscope *g)
{
    add_native(c, g, "range", g_range);
    add_native(c, g, "dict", g_dict);
    add_native(c, g, "namespace", g_namespace);
    add_native(c, g, "raise_exception", g_raise);
    add_native(c, g, "strftime_now", g_strftime_now);
}
