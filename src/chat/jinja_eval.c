/* jinja_eval.c — walks the AST: statements write into c->out, expressions
 * return values. Semantics follow jinja2 + Python:
 *   - scopes: a for-loop iteration and a macro call get a fresh scope whose
 *     parent is the enclosing one, so `set` inside them does not leak out;
 *     `if` shares its scope; namespace() objects are mutated in place;
 *   - missing names/attributes/items are Undefined (prints as "", falsy,
 *     iterates as empty); using an attribute of Undefined is an error, as in
 *     jinja2's default Undefined;
 *   - and/or return an operand; + - * / // % ** follow Python's int/float
 *     rules (int overflow, which Python would not have, is an error).
 * Every node visit counts against a step budget and a depth cap. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chat/jinja.h"

static jv eval(jctx *c, jscope *s, const jnode *n);
static void exec_body(jctx *c, jscope *s, const jnode *body);

/* ------------------------------------------------------------- scopes */

jscope *jscope_new(jctx *c, jscope *parent)
{
    jscope *s = jalloc(c, sizeof *s);
    memset(s, 0, sizeof *s);
    s->parent = parent;
    return s;
}

void jscope_set(jctx *c, jscope *s, const char *name, jv v)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name)) {
            s->vals[i] = v;
            return;
        }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        const char **nn = jalloc(c, (size_t)cap * sizeof *nn);
        jv *nv = jalloc(c, (size_t)cap * sizeof *nv);
        if (s->n) {
            memcpy(nn, s->names, (size_t)s->n * sizeof *nn);
            memcpy(nv, s->vals, (size_t)s->n * sizeof *nv);
        }
        s->names = nn;
        s->vals = nv;
        s->cap = cap;
    }
    s->names[s->n] = name;
    s->vals[s->n] = v;
    s->n++;
}

bool jscope_lookup(const jscope *s, const char *name, jv *out)
{
    for (; s; s = s->parent)
        for (int i = 0; i < s->n; i++)
            if (!strcmp(s->names[i], name)) {
                *out = s->vals[i];
                return true;
            }
    return false;
}

static jv undef_named(const char *name)
{
    jv u = jv_undef();
    u.u.s.p = name;
    u.u.s.n = name ? strlen(name) : 0;
    return u;
}

static _Noreturn void fail_undefined(jctx *c, int line, jv u, const char *doing)
{
    if (u.u.s.p)
        jfail(c, line, RF_ERR_INVALID_ARG, "'%.*s' is undefined (%s)", (int)u.u.s.n, u.u.s.p, doing);
    jfail(c, line, RF_ERR_INVALID_ARG, "undefined value (%s)", doing);
}

static void step(jctx *c, int line)
{
    if (++c->steps > c->max_steps)
        jfail(c, line, RF_ERR_UNSUPPORTED, "template evaluation exceeds %llu steps",
              (unsigned long long)c->max_steps);
}

/* ------------------------------------------------------------- attribute / item */

static jv get_attr(jctx *c, jv obj, const char *name, int line)
{
    jv out;
    if (obj.t == JV_UNDEF) {
        char what[300];
        snprintf(what, sizeof what, "reading attribute '%s'", name);
        fail_undefined(c, line, obj, what);
    }
    if ((obj.t == JV_DICT || obj.t == JV_NS) && jv_dict_get(obj, name, strlen(name), &out))
        return out;
    return undef_named(name);
}

/* Python index normalization; false when out of range. */
static bool norm_index(int64_t i, size_t n, size_t *out)
{
    if (i < 0)
        i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n)
        return false;
    *out = (size_t)i;
    return true;
}

static jv get_item(jctx *c, jv obj, jv key, int line)
{
    jv out;
    size_t idx;
    if (obj.t == JV_UNDEF)
        fail_undefined(c, line, obj, "subscript");
    if (obj.t == JV_DICT || obj.t == JV_NS) {
        if (jv_dict_find(obj, key, &out))
            return out;
        return key.t == JV_STR ? undef_named(jv_str_copy(c, key.u.s.p, key.u.s.n).u.s.p) : jv_undef();
    }
    if (jv_is_gen(obj))
        return jv_undef();   /* generators are not subscriptable: jinja gives Undefined */
    if ((key.t == JV_INT || key.t == JV_BOOL) && (obj.t == JV_LIST || obj.t == JV_STR)) {
        int64_t i = key.t == JV_INT ? key.u.i : key.u.b;
        if (obj.t == JV_LIST)
            return norm_index(i, obj.u.l->n, &idx) ? obj.u.l->v[idx] : jv_undef();
        size_t ncp = jutf8_len(obj.u.s.p, obj.u.s.n);
        if (!norm_index(i, ncp, &idx))
            return jv_undef();
        size_t a = jutf8_offset(obj.u.s.p, obj.u.s.n, idx);
        size_t b = jutf8_offset(obj.u.s.p, obj.u.s.n, idx + 1);
        return jv_strn(obj.u.s.p + a, b - a);
    }
    return jv_undef();
}

static int64_t slice_bound(jctx *c, jv v, int line)
{
    if (v.t == JV_INT) return v.u.i;
    if (v.t == JV_BOOL) return v.u.b;
    jfail(c, line, RF_ERR_INVALID_ARG, "slice indices must be integers or none, not %s", jv_type_name(v));
}

/* obj[a:b:st] with Python semantics (code points for strings); slicing an
 * iterator gives Undefined, as jinja2 does when the subscript fails. */
static jv do_slice(jctx *c, jv obj, jv a, jv b, jv st, int line)
{
    if (obj.t == JV_UNDEF)
        fail_undefined(c, line, obj, "slice");
    if (jv_is_gen(obj))
        return jv_undef();
    if (obj.t != JV_LIST && obj.t != JV_STR)
        jfail(c, line, RF_ERR_INVALID_ARG, "cannot slice a %s", jv_type_name(obj));
    int64_t n = obj.t == JV_LIST ? (int64_t)obj.u.l->n : (int64_t)jutf8_len(obj.u.s.p, obj.u.s.n);
    int64_t step_ = (st.t == JV_NONE || st.t == JV_UNDEF) ? 1 : slice_bound(c, st, line);
    if (step_ == 0)
        jfail(c, line, RF_ERR_INVALID_ARG, "slice step cannot be zero");
    int64_t lo, hi;
    if (step_ > 0) {
        lo = (a.t == JV_NONE || a.t == JV_UNDEF) ? 0 : slice_bound(c, a, line);
        hi = (b.t == JV_NONE || b.t == JV_UNDEF) ? n : slice_bound(c, b, line);
        if (lo < 0) { lo += n; if (lo < 0) lo = 0; } else if (lo > n) lo = n;
        if (hi < 0) { hi += n; if (hi < 0) hi = 0; } else if (hi > n) hi = n;
    } else {
        lo = (a.t == JV_NONE || a.t == JV_UNDEF) ? n - 1 : slice_bound(c, a, line);
        hi = (b.t == JV_NONE || b.t == JV_UNDEF) ? -1 : slice_bound(c, b, line);
        if (a.t != JV_NONE && a.t != JV_UNDEF) { if (lo < 0) { lo += n; if (lo < 0) lo = -1; } else if (lo >= n) lo = n - 1; }
        if (b.t != JV_NONE && b.t != JV_UNDEF) { if (hi < 0) { hi += n; if (hi < 0) hi = -1; } else if (hi >= n) hi = n - 1; }
    }
    if (obj.t == JV_LIST) {
        jv out = jv_list_new(c, 0);
        for (int64_t i = lo; step_ > 0 ? i < hi : i > hi; i += step_)
            jv_list_push(c, out, obj.u.l->v[i]);
        out.u.l->tuple = obj.u.l->tuple;
        return out;
    }
    /* strings: code point offsets */
    const char *p = obj.u.s.p;
    size_t len = obj.u.s.n;
    if (step_ == 1) {
        if (hi <= lo)
            return jv_strn("", 0);
        size_t x = jutf8_offset(p, len, (size_t)lo), y = jutf8_offset(p, len, (size_t)hi);
        return jv_strn(p + x, y - x);
    }
    size_t *offs = jalloc(c, ((size_t)n + 1) * sizeof(size_t));
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80)
            offs[k++] = i;
    offs[k] = len;
    jbuf bb = {0};
    for (int64_t i = lo; step_ > 0 ? i < hi : i > hi; i += step_)
        jbuf_put(c, &bb, p + offs[i], offs[i + 1] - offs[i]);
    return jv_strn(bb.p ? bb.p : "", bb.n);
}

/* ------------------------------------------------------------- arithmetic */

static _Noreturn void fail_types(jctx *c, int line, const char *op, jv a, jv b)
{
    if (a.t == JV_UNDEF) fail_undefined(c, line, a, op);
    if (b.t == JV_UNDEF) fail_undefined(c, line, b, op);
    jfail(c, line, RF_ERR_INVALID_ARG, "unsupported operand types for %s: '%s' and '%s'", op,
          jv_type_name(a), jv_type_name(b));
}

static bool is_intlike(jv v) { return v.t == JV_INT || v.t == JV_BOOL; }
static int64_t ival(jv v) { return v.t == JV_INT ? v.u.i : v.u.b; }

static jv repeat(jctx *c, jv seq, int64_t times, int line)
{
    if (times < 0) times = 0;
    if (seq.t == JV_STR) {
        uint64_t total;
        if (__builtin_mul_overflow((uint64_t)seq.u.s.n, (uint64_t)times, &total) || total > c->max_output)
            jfail(c, line, RF_ERR_UNSUPPORTED, "string repetition too large");
        jbuf b = {0};
        for (int64_t i = 0; i < times; i++)
            jbuf_put(c, &b, seq.u.s.p, seq.u.s.n);
        return jv_strn(b.p ? b.p : "", b.n);
    }
    uint64_t total;
    if (__builtin_mul_overflow((uint64_t)seq.u.l->n, (uint64_t)times, &total) || total > (1u << 24))
        jfail(c, line, RF_ERR_UNSUPPORTED, "list repetition too large");
    jv out = jv_list_new(c, (size_t)total);
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < seq.u.l->n; k++)
            jv_list_push(c, out, seq.u.l->v[k]);
    return out;
}

static jv binop(jctx *c, int op, jv a, jv b, int line)
{
    int64_t r;
    switch (op) {
    case '+':
        if (is_intlike(a) && is_intlike(b)) {
            if (__builtin_add_overflow(ival(a), ival(b), &r)) jfail(c, line, RF_ERR_UNSUPPORTED, "integer overflow");
            return jv_int(r);
        }
        if (jv_is_num(a) && jv_is_num(b)) return jv_float(jv_num(a) + jv_num(b));
        if (a.t == JV_STR && b.t == JV_STR) {
            /* Markup + str escapes the str (and str + Markup likewise) */
            if (a.safe != b.safe) {
                if (a.safe) b = jv_html_escape(c, b);
                else a = jv_html_escape(c, a);
            }
            jbuf bb = {0};
            jbuf_put(c, &bb, a.u.s.p, a.u.s.n);
            jbuf_put(c, &bb, b.u.s.p, b.u.s.n);
            return jv_safe(jv_strn(bb.p ? bb.p : "", bb.n), a.safe || b.safe);
        }
        if (a.t == JV_LIST && b.t == JV_LIST && !a.u.l->gen && !b.u.l->gen) {
            jv out = jv_list_new(c, a.u.l->n + b.u.l->n);
            for (size_t i = 0; i < a.u.l->n; i++) jv_list_push(c, out, a.u.l->v[i]);
            for (size_t i = 0; i < b.u.l->n; i++) jv_list_push(c, out, b.u.l->v[i]);
            out.u.l->tuple = a.u.l->tuple && b.u.l->tuple;
            if (a.u.l->tuple != b.u.l->tuple)
                fail_types(c, line, "+", a, b);
            return out;
        }
        fail_types(c, line, "+", a, b);
    case '-':
        if (is_intlike(a) && is_intlike(b)) {
            if (__builtin_sub_overflow(ival(a), ival(b), &r)) jfail(c, line, RF_ERR_UNSUPPORTED, "integer overflow");
            return jv_int(r);
        }
        if (jv_is_num(a) && jv_is_num(b)) return jv_float(jv_num(a) - jv_num(b));
        fail_types(c, line, "-", a, b);
    case '*':
        if (is_intlike(a) && is_intlike(b)) {
            if (__builtin_mul_overflow(ival(a), ival(b), &r)) jfail(c, line, RF_ERR_UNSUPPORTED, "integer overflow");
            return jv_int(r);
        }
        if (jv_is_num(a) && jv_is_num(b)) return jv_float(jv_num(a) * jv_num(b));
        if ((a.t == JV_STR || (a.t == JV_LIST && !a.u.l->gen)) && is_intlike(b)) return repeat(c, a, ival(b), line);
        if ((b.t == JV_STR || (b.t == JV_LIST && !b.u.l->gen)) && is_intlike(a)) return repeat(c, b, ival(a), line);
        fail_types(c, line, "*", a, b);
    case '/':
        if (jv_is_num(a) && jv_is_num(b)) {
            if (jv_num(b) == 0) jfail(c, line, RF_ERR_INVALID_ARG, "division by zero");
            if (is_intlike(a) && is_intlike(b))   /* Python int/int is exact-then-rounded */
                return jv_float((double)ival(a) / (double)ival(b));
            return jv_float(jv_num(a) / jv_num(b));
        }
        fail_types(c, line, "/", a, b);
    case JOP_FLOORDIV:
    case '%':
        if (is_intlike(a) && is_intlike(b)) {
            int64_t x = ival(a), y = ival(b);
            if (y == 0) jfail(c, line, RF_ERR_INVALID_ARG, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) jfail(c, line, RF_ERR_UNSUPPORTED, "integer overflow");
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) { q--; m += y; }
            return jv_int(op == '%' ? m : q);
        }
        if (jv_is_num(a) && jv_is_num(b)) {
            double x = jv_num(a), y = jv_num(b);
            if (y == 0) jfail(c, line, RF_ERR_INVALID_ARG, "float division or modulo by zero");
            double m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            if (op == '%') return jv_float(m);
            /* CPython float_floor_div: (x - mod) / y, floored, nudged */
            double div = (x - fmod(x, y)) / y;
            if (fmod(x, y) != 0 && ((y < 0) != (fmod(x, y) < 0))) div -= 1.0;
            double fl = floor(div);
            if (div - fl > 0.5) fl += 1.0;
            return jv_float(div != 0 ? fl : copysign(0.0, x / y));
        }
        if (op == '%' && a.t == JV_STR)
            return jinja_percent_format(c, a, b, line);
        fail_types(c, line, op == '%' ? "%" : "//", a, b);
    case JOP_POW:
        if (is_intlike(a) && is_intlike(b) && ival(b) >= 0) {
            int64_t base = ival(a), e = ival(b), acc = 1;
            while (e > 0) {
                if (e & 1) { if (__builtin_mul_overflow(acc, base, &acc)) jfail(c, line, RF_ERR_UNSUPPORTED, "integer overflow"); }
                e >>= 1;
                if (e && __builtin_mul_overflow(base, base, &base)) jfail(c, line, RF_ERR_UNSUPPORTED, "integer overflow");
            }
            return jv_int(acc);
        }
        if (jv_is_num(a) && jv_is_num(b)) return jv_float(pow(jv_num(a), jv_num(b)));
        fail_types(c, line, "**", a, b);
    }
    jfail(c, line, RF_ERR_UNSUPPORTED, "unknown operator");
}

static bool contains(jctx *c, jv container, jv item, int line)
{
    switch (container.t) {
    case JV_STR:
        if (item.t != JV_STR)
            jfail(c, line, RF_ERR_INVALID_ARG, "'in <string>' requires string as left operand, not %s", jv_type_name(item));
        if (item.u.s.n == 0) return true;
        if (item.u.s.n > container.u.s.n) return false;
        for (size_t i = 0; i + item.u.s.n <= container.u.s.n; i++)
            if (!memcmp(container.u.s.p + i, item.u.s.p, item.u.s.n))
                return true;
        return false;
    case JV_LIST: {
        jlist *l = container.u.l;
        for (size_t i = l->gen ? l->gen_pos : 0; i < l->n; i++)
            if (jv_eq(l->v[i], item)) {
                if (l->gen) l->gen_pos = i + 1;   /* `in` consumes an iterator up to the hit */
                return true;
            }
        if (l->gen) l->gen_pos = l->n;
        return false;
    }
    case JV_DICT:
    case JV_NS: {
        jv o;
        return jv_dict_find(container, item, &o);
    }
    case JV_UNDEF:
        return false;
    default:
        jfail(c, line, RF_ERR_INVALID_ARG, "argument of type '%s' is not iterable", jv_type_name(container));
    }
}

/* ------------------------------------------------------------- calls */

typedef struct args_t { jv *pos; int n_pos; const char **kw; jv *kwv; int n_kw; } args_t;

static args_t eval_args(jctx *c, jscope *s, const jnode *n)
{
    args_t a = {0};
    a.n_pos = n->n_kids;
    a.pos = n->n_kids ? jalloc(c, (size_t)n->n_kids * sizeof(jv)) : NULL;
    for (int i = 0; i < n->n_kids; i++)
        a.pos[i] = eval(c, s, n->kids[i]);
    a.n_kw = n->n_kids2;
    a.kw = n->names;
    a.kwv = n->n_kids2 ? jalloc(c, (size_t)n->n_kids2 * sizeof(jv)) : NULL;
    for (int i = 0; i < n->n_kids2; i++)
        a.kwv[i] = eval(c, s, n->kids2[i]);
    return a;
}

/* Renders a body into a fresh buffer and returns it as a string. */
static jv capture(jctx *c, jscope *s, const jnode *body)
{
    jbuf *saved = c->out;
    jbuf b = {0};
    c->out = &b;
    exec_body(c, s, body);
    c->out = saved;
    return jv_strn(b.p ? b.p : "", b.n);
}

static jv call_macro(jctx *c, jfunc *f, jv *args, int n_args, const char **kw, jv *kwv, int n_kw, int line)
{
    const jnode *m = f->macro;
    int n_params = m->n_kids2;
    if (n_args > n_params)
        jfail(c, line, RF_ERR_INVALID_ARG, "macro '%s' takes not more than %d argument(s), got %d",
              f->name ? f->name : "caller", n_params, n_args);
    jscope *ms = jscope_new(c, f->closure);
    jv *vals = jalloc(c, (size_t)(n_params ? n_params : 1) * sizeof(jv));
    bool *set = jalloc(c, (size_t)(n_params ? n_params : 1));
    memset(set, 0, (size_t)(n_params ? n_params : 1));
    for (int i = 0; i < n_args; i++) { vals[i] = args[i]; set[i] = true; }
    for (int k = 0; k < n_kw; k++) {
        int i;
        for (i = 0; i < n_params; i++)
            if (!strcmp(m->names[i], kw[k]))
                break;
        if (i == n_params)
            jfail(c, line, RF_ERR_INVALID_ARG, "macro '%s' has no argument '%s'", f->name ? f->name : "caller", kw[k]);
        if (set[i])
            jfail(c, line, RF_ERR_INVALID_ARG, "macro '%s' got multiple values for argument '%s'", f->name ? f->name : "caller", kw[k]);
        vals[i] = kwv[k];
        set[i] = true;
    }
    for (int i = 0; i < n_params; i++) {
        if (!set[i])
            vals[i] = m->kids2[i] ? eval(c, ms, m->kids2[i]) : undef_named(m->names[i]);
        jscope_set(c, ms, m->names[i], vals[i]);
    }
    if (f->caller.t == JV_FUNC)
        jscope_set(c, ms, "caller", f->caller);
    int saved_ctl = c->loop_ctl;
    jv out = capture(c, ms, m->b);
    c->loop_ctl = saved_ctl;
    return out;
}

jv jinja_call(jctx *c, jv fn, jv *args, int n_args, const char **kw, jv *kwv, int n_kw, int line)
{
    if (fn.t == JV_UNDEF)
        fail_undefined(c, line, fn, "call");
    if (fn.t != JV_FUNC)
        jfail(c, line, RF_ERR_INVALID_ARG, "'%s' object is not callable", jv_type_name(fn));
    if (++c->edepth > JINJA_MAX_EVAL_DEPTH)
        jfail(c, line, RF_ERR_UNSUPPORTED, "calls nested deeper than %d (recursion?)", JINJA_MAX_EVAL_DEPTH);
    jv r;
    if (fn.u.fn->kind == JF_NATIVE)
        r = fn.u.fn->native(c, fn.u.fn->self, args, n_args, kw, kwv, n_kw, line);
    else
        r = call_macro(c, fn.u.fn, args, n_args, kw, kwv, n_kw, line);
    c->edepth--;
    return r;
}

static bool is_dict_method(const char *name)
{
    return !strcmp(name, "get") || !strcmp(name, "items") || !strcmp(name, "keys") || !strcmp(name, "values");
}

static jv eval_call(jctx *c, jscope *s, const jnode *n)
{
    const jnode *callee = n->a;
    if (callee->kind == N_GETATTR) {
        jv obj = eval(c, s, callee->a);
        if (obj.t == JV_UNDEF) {
            char what[300];
            snprintf(what, sizeof what, "calling method '%s'", callee->name);
            fail_undefined(c, n->line, obj, what);
        }
        jv member;
        if ((obj.t == JV_DICT || obj.t == JV_NS) && !(obj.t == JV_DICT && is_dict_method(callee->name)) &&
            jv_dict_get(obj, callee->name, strlen(callee->name), &member)) {
            args_t a = eval_args(c, s, n);
            return jinja_call(c, member, a.pos, a.n_pos, a.kw, a.kwv, a.n_kw, n->line);
        }
        args_t a = eval_args(c, s, n);
        return jinja_method(c, obj, callee->name, a.pos, a.n_pos, a.kw, a.kwv, a.n_kw, n->line);
    }
    jv fn = eval(c, s, callee);
    args_t a = eval_args(c, s, n);
    return jinja_call(c, fn, a.pos, a.n_pos, a.kw, a.kwv, a.n_kw, n->line);
}

/* ------------------------------------------------------------- expressions */

static jv eval_filter(jctx *c, jscope *s, const jnode *n)
{
    jv v = n->a ? eval(c, s, n->a) : c->filter_subject;
    args_t a = eval_args(c, s, n);
    return jinja_filter(c, n->name, v, a.pos, a.n_pos, a.kw, a.kwv, a.n_kw, n->line);
}

static jv eval_inner(jctx *c, jscope *s, const jnode *n)
{
    switch (n->kind) {
    case N_CONST: return n->val;
    case N_NAME: {
        jv v = {0};
        if (jscope_lookup(s, n->name, &v))
            return v;
        return undef_named(n->name);
    }
    case N_GETATTR: return get_attr(c, eval(c, s, n->a), n->name, n->line);
    case N_GETITEM: {
        jv obj = eval(c, s, n->a);
        return get_item(c, obj, eval(c, s, n->b), n->line);
    }
    case N_SLICE: {
        jv obj = eval(c, s, n->a);
        jv a = n->b ? eval(c, s, n->b) : jv_none();
        jv b = n->c ? eval(c, s, n->c) : jv_none();
        jv st = n->d ? eval(c, s, n->d) : jv_none();
        return do_slice(c, obj, a, b, st, n->line);
    }
    case N_CALL: return eval_call(c, s, n);
    case N_FILTER: return eval_filter(c, s, n);
    case N_TEST: {
        jv v = eval(c, s, n->a);
        args_t a = eval_args(c, s, n);
        bool r = jinja_test(c, n->name, v, a.pos, a.n_pos, n->line);
        return jv_bool(n->op ? !r : r);
    }
    case N_BINOP: {
        jv a = eval(c, s, n->a);
        jv b = eval(c, s, n->b);
        return binop(c, n->op, a, b, n->line);
    }
    case N_NEG: {
        jv v = eval(c, s, n->a);
        if (is_intlike(v)) {
            if (ival(v) == INT64_MIN) jfail(c, n->line, RF_ERR_UNSUPPORTED, "integer overflow");
            return jv_int(-ival(v));
        }
        if (v.t == JV_FLOAT) return jv_float(-v.u.f);
        if (v.t == JV_UNDEF) fail_undefined(c, n->line, v, "unary -");
        jfail(c, n->line, RF_ERR_INVALID_ARG, "bad operand type for unary -: '%s'", jv_type_name(v));
    }
    case N_POS: {
        jv v = eval(c, s, n->a);
        if (is_intlike(v)) return jv_int(ival(v));
        if (v.t == JV_FLOAT) return v;
        if (v.t == JV_UNDEF) fail_undefined(c, n->line, v, "unary +");
        jfail(c, n->line, RF_ERR_INVALID_ARG, "bad operand type for unary +: '%s'", jv_type_name(v));
    }
    case N_NOT: return jv_bool(!jv_truthy(eval(c, s, n->a)));
    case N_AND: {
        jv l = eval(c, s, n->a);
        return jv_truthy(l) ? eval(c, s, n->b) : l;
    }
    case N_OR: {
        jv l = eval(c, s, n->a);
        return jv_truthy(l) ? l : eval(c, s, n->b);
    }
    case N_COMPARE: {
        jv l = eval(c, s, n->a);
        for (int i = 0; i < n->n_kids; i++) {
            jv r = eval(c, s, n->kids[i]);
            bool ok;
            switch (n->ops[i]) {
            case JOP_EQ: ok = jv_eq(l, r); break;
            case JOP_NE: ok = !jv_eq(l, r); break;
            case '<': ok = jv_cmp(c, l, r, n->line) < 0; break;
            case '>': ok = jv_cmp(c, l, r, n->line) > 0; break;
            case JOP_LE: ok = jv_cmp(c, l, r, n->line) <= 0; break;
            case JOP_GE: ok = jv_cmp(c, l, r, n->line) >= 0; break;
            case 'i': ok = contains(c, r, l, n->line); break;
            default: ok = !contains(c, r, l, n->line); break;
            }
            if (!ok)
                return jv_bool(false);
            l = r;
        }
        return jv_bool(true);
    }
    case N_COND:
        if (jv_truthy(eval(c, s, n->a)))
            return eval(c, s, n->b);
        return n->c ? eval(c, s, n->c) : jv_undef();
    case N_LIST:
    case N_TUPLE: {
        jv l = jv_list_new(c, (size_t)n->n_kids);
        for (int i = 0; i < n->n_kids; i++)
            jv_list_push(c, l, eval(c, s, n->kids[i]));
        l.u.l->tuple = n->kind == N_TUPLE;
        return l;
    }
    case N_DICT: {
        jv d = jv_dict_new(c, (size_t)n->n_kids);
        for (int i = 0; i < n->n_kids; i++) {
            jv k = eval(c, s, n->kids[i]);
            if (k.t == JV_LIST && !k.u.l->tuple)
                jfail(c, n->line, RF_ERR_INVALID_ARG, "unhashable type: 'list'");
            if (k.t == JV_DICT || k.t == JV_NS)
                jfail(c, n->line, RF_ERR_INVALID_ARG, "unhashable type: 'dict'");
            jv_dict_set(c, d, k, eval(c, s, n->kids2[i]));
        }
        return d;
    }
    case N_CONCAT: {
        jbuf b = {0};
        for (int i = 0; i < n->n_kids; i++)
            jv_str_into(c, &b, eval(c, s, n->kids[i]));
        return jv_strn(b.p ? b.p : "", b.n);
    }
    default:
        jfail(c, n->line, RF_ERR_UNSUPPORTED, "statement used as an expression");
    }
}

static jv eval(jctx *c, jscope *s, const jnode *n)
{
    step(c, n->line);
    if (++c->edepth > JINJA_MAX_EVAL_DEPTH)
        jfail(c, n->line, RF_ERR_UNSUPPORTED, "expression nested deeper than %d", JINJA_MAX_EVAL_DEPTH);
    jv v = eval_inner(c, s, n);
    c->edepth--;
    return v;
}

/* ------------------------------------------------------------- statements */

static void assign(jctx *c, jscope *s, const jnode *target, jv v, int line)
{
    if (target->kind == N_NAME) {
        jscope_set(c, s, target->name, v);
    } else if (target->kind == N_GETATTR) {
        jv ns;
        if (!jscope_lookup(s, target->a->name, &ns) || ns.t != JV_NS)
            jfail(c, line, RF_ERR_INVALID_ARG, "cannot assign attribute '%s' on '%s': not a namespace",
                  target->name, target->a->name);
        jv_dict_set(c, ns, jv_cstr(c, target->name), v);
    } else if (target->kind == N_TUPLE) {
        if (v.t == JV_STR) {   /* unpacking a string gives its characters */
            jv l = jv_list_new(c, 0);
            size_t n = jutf8_len(v.u.s.p, v.u.s.n);
            for (size_t i = 0; i < n; i++) {
                size_t a = jutf8_offset(v.u.s.p, v.u.s.n, i), b = jutf8_offset(v.u.s.p, v.u.s.n, i + 1);
                jv_list_push(c, l, jv_strn(v.u.s.p + a, b - a));
            }
            v = l;
        } else if (jv_is_gen(v)) {
            v = jv_gen_drain(c, v);
        } else if (v.t == JV_DICT) {
            jv l = jv_list_new(c, v.u.d->n);
            for (size_t i = 0; i < v.u.d->n; i++) jv_list_push(c, l, v.u.d->k[i]);
            v = l;
        }
        if (v.t != JV_LIST)
            jfail(c, line, RF_ERR_INVALID_ARG, "cannot unpack non-iterable %s", jv_type_name(v));
        if (v.u.l->n != (size_t)target->n_kids)
            jfail(c, line, RF_ERR_INVALID_ARG, "unpacking: expected %d values, got %zu", target->n_kids, v.u.l->n);
        for (int i = 0; i < target->n_kids; i++)
            assign(c, s, target->kids[i], v.u.l->v[i], line);
    } else {
        jfail(c, line, RF_ERR_UNSUPPORTED, "unsupported assignment target");
    }
}

static jv loop_cycle(jctx *c, jv self, jv *args, int n_args, const char **kw, jv *kwv, int n_kw, int line)
{
    if (n_args == 0)
        jfail(c, line, RF_ERR_INVALID_ARG, "loop.cycle() needs at least one argument");
    return args[self.u.i % n_args];
}

/* Items a for loop walks: list elements, dict keys, string characters. */
static jv iterable_items(jctx *c, jv v, int line)
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
            size_t j = i + 1;
            while (j < v.u.s.n && ((unsigned char)v.u.s.p[j] & 0xC0) == 0x80) j++;
            jv_list_push(c, l, jv_strn(v.u.s.p + i, j - i));
            i = j;
        }
        return l;
    }
    default:
        jfail(c, line, RF_ERR_INVALID_ARG, "'%s' object is not iterable", jv_type_name(v));
    }
}

static void exec_for(jctx *c, jscope *s, const jnode *n)
{
    jv items = iterable_items(c, eval(c, s, n->b), n->line);
    if (n->c) {   /* `for x in y if cond`: filter first so loop.* counts kept items */
        jv kept = jv_list_new(c, items.u.l->n);
        for (size_t i = 0; i < items.u.l->n; i++) {
            jscope *fs = jscope_new(c, s);
            assign(c, fs, n->a, items.u.l->v[i], n->line);
            if (jv_truthy(eval(c, fs, n->c)))
                jv_list_push(c, kept, items.u.l->v[i]);
        }
        items = kept;
    }
    size_t len = items.u.l->n;
    jv *it = items.u.l->v;
    /* One `loop` object per for statement, updated in place each iteration
     * (slot order below), so a long loop does not allocate per item. */
    enum { L_INDEX, L_INDEX0, L_REV, L_REV0, L_FIRST, L_LAST, L_LENGTH, L_DEPTH, L_DEPTH0,
           L_PREV, L_NEXT, L_CYCLE, L_N };
    static const char *const lnames[L_N] = {"index", "index0", "revindex", "revindex0", "first",
                                            "last", "length", "depth", "depth0", "previtem",
                                            "nextitem", "cycle"};
    jv loop = jv_dict_new(c, L_N);
    jfunc *cy = jalloc(c, sizeof *cy);
    memset(cy, 0, sizeof *cy);
    cy->kind = JF_NATIVE;
    cy->name = "loop.cycle";
    cy->native = loop_cycle;
    for (int k = 0; k < L_N; k++)
        jv_dict_set(c, loop, jv_strn(lnames[k], strlen(lnames[k])), jv_undef());
    jv *lv = loop.u.d->v;
    lv[L_LENGTH] = jv_int((int64_t)len);
    lv[L_DEPTH] = jv_int(1);
    lv[L_DEPTH0] = jv_int(0);
    lv[L_CYCLE].t = JV_FUNC;
    lv[L_CYCLE].u.fn = cy;
    jscope *ls = NULL;
    for (size_t i = 0; i < len; i++) {
        step(c, n->line);
        /* a fresh scope per iteration (jinja resets loop-body names); the
         * previous one is reused unless a macro captured it */
        if (!ls || ls->captured)
            ls = jscope_new(c, s);
        else
            ls->n = 0;
        lv[L_INDEX] = jv_int((int64_t)i + 1);
        lv[L_INDEX0] = jv_int((int64_t)i);
        lv[L_REV] = jv_int((int64_t)(len - i));
        lv[L_REV0] = jv_int((int64_t)(len - i - 1));
        lv[L_FIRST] = jv_bool(i == 0);
        lv[L_LAST] = jv_bool(i + 1 == len);
        lv[L_PREV] = i > 0 ? it[i - 1] : jv_undef();
        lv[L_NEXT] = i + 1 < len ? it[i + 1] : jv_undef();
        cy->self = jv_int((int64_t)i);
        jscope_set(c, ls, "loop", loop);
        assign(c, ls, n->a, it[i], n->line);
        exec_body(c, ls, n->d);
        if (c->loop_ctl == 1) { c->loop_ctl = 0; break; }
        c->loop_ctl = 0;
    }
    if (len == 0 && n->n_kids2)
        exec_body(c, s, n->kids2[0]);
}

static void exec_stmt(jctx *c, jscope *s, const jnode *n)
{
    step(c, n->line);
    switch (n->kind) {
    case N_TEXT: jbuf_put(c, c->out, n->val.u.s.p, n->val.u.s.n); break;
    case N_OUTPUT: jv_str_into(c, c->out, eval(c, s, n->a)); break;
    case N_BODY: exec_body(c, s, n); break;
    case N_IF:
        for (int i = 0; i < n->n_kids; i++)
            if (jv_truthy(eval(c, s, n->kids[i]))) {
                exec_body(c, s, n->kids2[i]);
                return;
            }
        if (n->c)
            exec_body(c, s, n->c);
        break;
    case N_FOR: exec_for(c, s, n); break;
    case N_SET: assign(c, s, n->a, eval(c, s, n->b), n->line); break;
    case N_SET_BLOCK: {
        jv v = capture(c, s, n->b);
        if (n->c) {
            jv saved = c->filter_subject;
            c->filter_subject = v;
            v = eval(c, s, n->c);
            c->filter_subject = saved;
        }
        assign(c, s, n->a, v, n->line);
        break;
    }
    case N_FILTER_BLOCK: {
        jv saved = c->filter_subject;
        c->filter_subject = capture(c, s, n->b);
        jv v = eval(c, s, n->c);
        c->filter_subject = saved;
        jv_str_into(c, c->out, v);
        break;
    }
    case N_MACRO: {
        jfunc *f = jalloc(c, sizeof *f);
        memset(f, 0, sizeof *f);
        f->kind = JF_MACRO;
        f->name = n->name;
        f->macro = n;
        f->closure = s;
        s->captured = true;
        f->caller = jv_undef();
        jv v = {0};
        v.t = JV_FUNC;
        v.u.fn = f;
        jscope_set(c, s, n->name, v);
        break;
    }
    case N_CALL_BLOCK: {
        jfunc *cf = jalloc(c, sizeof *cf);
        memset(cf, 0, sizeof *cf);
        cf->kind = JF_MACRO;
        cf->name = "caller";
        cf->macro = n;      /* params in names/kids2, body in b */
        cf->closure = s;
        s->captured = true;
        cf->caller = jv_undef();
        jv cv = {0};
        cv.t = JV_FUNC;
        cv.u.fn = cf;
        const jnode *call = n->a;
        jv fn = eval(c, s, call->a);
        if (fn.t != JV_FUNC || fn.u.fn->kind != JF_MACRO)
            jfail(c, n->line, RF_ERR_INVALID_ARG, "{%% call %%} target is not a macro");
        jfunc *bound = jalloc(c, sizeof *bound);
        *bound = *fn.u.fn;
        bound->caller = cv;
        jv bv = {0};
        bv.t = JV_FUNC;
        bv.u.fn = bound;
        args_t a = eval_args(c, s, call);
        jv_str_into(c, c->out, jinja_call(c, bv, a.pos, a.n_pos, a.kw, a.kwv, a.n_kw, n->line));
        break;
    }
    case N_WITH: {
        jv *vals = jalloc(c, (size_t)(n->n_kids2 ? n->n_kids2 : 1) * sizeof(jv));
        for (int i = 0; i < n->n_kids2; i++)
            vals[i] = eval(c, s, n->kids2[i]);
        jscope *ws = jscope_new(c, s);
        for (int i = 0; i < n->n_kids; i++)
            assign(c, ws, n->kids[i], vals[i], n->line);
        exec_body(c, ws, n->b);
        break;
    }
    case N_BREAK: c->loop_ctl = 1; break;
    case N_CONTINUE: c->loop_ctl = 2; break;
    default: jfail(c, n->line, RF_ERR_UNSUPPORTED, "expression used as a statement");
    }
}

static void exec_body(jctx *c, jscope *s, const jnode *body)
{
    if (++c->edepth > JINJA_MAX_EVAL_DEPTH)
        jfail(c, body->line, RF_ERR_UNSUPPORTED, "blocks nested deeper than %d", JINJA_MAX_EVAL_DEPTH);
    for (int i = 0; i < body->n_kids && !c->loop_ctl; i++)
        exec_stmt(c, s, body->kids[i]);
    c->edepth--;
}

void jinja_exec(jctx *c, const jnode *root, jbuf *out)
{
    c->out = out;
    jscope *top = jscope_new(c, c->globals);
    exec_body(c, top, root);
}
