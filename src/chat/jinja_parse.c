/* jinja_parse.c — tokens -> AST, a recursive-descent copy of jinja2's
 * grammar and operator precedence (lowest first):
 *   a if c else b · or · and · not · comparisons (==, !=, <, in, not in...)
 *   · + - · ~ · * / // % · ** · unary - + · primary with .attr [i] (call)
 *   followed by |filter, `is test` and (call) chains.
 * Statements: if/elif/else, for/else (with `if` filter), set (plain, tuple,
 * namespace attribute, block), macro, call, filter, break, continue,
 * generation. Anything else is an error naming the statement and line.
 * Nesting depth is capped so hostile input cannot overflow the stack. */
#include <string.h>

#include "chat/jinja.h"

typedef struct parser {
    jctx *c;
    jtok *t;
    int n, i;
} parser;

static jnode *parse_expr(parser *P);
static jnode *parse_or(parser *P);
static jnode *parse_unary(parser *P, bool with_filter);
static jnode *parse_primary(parser *P);
static jnode *parse_postfix(parser *P, jnode *node);
static jnode *parse_filter_expr(parser *P, jnode *node);
static jnode *parse_body(parser *P, const char *const *stops, const char *what, int open_line);

static jtok *cur(parser *P) { return &P->t[P->i]; }
static jtok *next(parser *P) { jtok *k = &P->t[P->i]; if (k->t != JT_EOF) P->i++; return k; }

static bool is_name(jtok *k, const char *s)
{
    return k->t == JT_NAME && k->n == strlen(s) && !memcmp(k->p, s, k->n);
}
static bool is_op(jtok *k, int op) { return k->t == JT_OP && k->op == op; }

static const char *tok_desc(parser *P, jtok *k)
{
    static const char *names[] = {"text", "'{{'", "'}}'", "'{%'", "'%}'", "name", "string",
                                  "integer", "float", "operator", "end of template"};
    if (k->t == JT_NAME) {
        char *s = jalloc(P->c, k->n + 3);
        s[0] = '\'';
        memcpy(s + 1, k->p, k->n);
        s[k->n + 1] = '\'';
        s[k->n + 2] = 0;
        return s;
    }
    if (k->t == JT_OP) {
        char *s = jalloc(P->c, 8);
        if (k->op < 256) { s[0] = '\''; s[1] = (char)k->op; s[2] = '\''; s[3] = 0; }
        else strcpy(s, "operator");
        return s;
    }
    return names[k->t];
}

static _Noreturn void unexpected(parser *P, const char *wanted)
{
    jtok *k = cur(P);
    jfail(P->c, k->line, RF_ERR_FORMAT, "expected %s, got %s", wanted, tok_desc(P, k));
}

static void expect_op(parser *P, int op)
{
    if (!is_op(cur(P), op)) {
        char w[8] = {'\'', (char)op, '\'', 0};
        unexpected(P, w);
    }
    next(P);
}

static const char *tok_name(parser *P, jtok *k)
{
    char *s = jalloc(P->c, k->n + 1);
    memcpy(s, k->p, k->n);
    s[k->n] = 0;
    return s;
}

static const char *expect_name(parser *P)
{
    if (cur(P)->t != JT_NAME)
        unexpected(P, "a name");
    return tok_name(P, next(P));
}

static jnode *mk(parser *P, jnode_kind kind, int line)
{
    jnode *n = jalloc(P->c, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = line;
    return n;
}

/* Growable node-pointer arrays for argument lists and bodies. */
typedef struct nvec { jnode **v; const char **names; int n, cap; } nvec;
static void nvec_push(parser *P, nvec *a, jnode *x, const char *name)
{
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 8;
        jnode **nv = jalloc(P->c, (size_t)cap * sizeof *nv);
        const char **nn = jalloc(P->c, (size_t)cap * sizeof *nn);
        if (a->n) {
            memcpy(nv, a->v, (size_t)a->n * sizeof *nv);
            memcpy(nn, a->names, (size_t)a->n * sizeof *nn);
        }
        a->v = nv;
        a->names = nn;
        a->cap = cap;
    }
    a->v[a->n] = x;
    a->names[a->n] = name;
    a->n++;
}

/* ( args ) -> positional into node->kids, keyword into names/kids2. */
static void parse_call_args(parser *P, jnode *node)
{
    expect_op(P, '(');
    nvec pos = {0}, kw = {0};
    while (!is_op(cur(P), ')')) {
        if (pos.n || kw.n)
            expect_op(P, ',');
        if (is_op(cur(P), ')'))
            break;   /* trailing comma */
        if (is_op(cur(P), '*') || is_op(cur(P), JOP_POW))
            jfail(P->c, cur(P)->line, RF_ERR_UNSUPPORTED, "*args / **kwargs in calls are not supported");
        if (cur(P)->t == JT_NAME && P->i + 1 < P->n && is_op(&P->t[P->i + 1], '=')) {
            const char *name = expect_name(P);
            next(P);
            nvec_push(P, &kw, parse_expr(P), name);
        } else {
            if (kw.n)
                jfail(P->c, cur(P)->line, RF_ERR_FORMAT, "positional argument after keyword argument");
            nvec_push(P, &pos, parse_expr(P), NULL);
        }
    }
    next(P);
    node->kids = pos.v;
    node->n_kids = pos.n;
    node->kids2 = kw.v;
    node->names = kw.names;
    node->n_kids2 = kw.n;
}

/* Tuple or single expression (commas make a tuple); used by output, set,
 * for-iterables and parentheses. */
static jnode *parse_tuple(parser *P, bool simplified, bool with_cond, bool explicit_paren)
{
    int line = cur(P)->line;
    nvec items = {0};
    bool comma = false;
    for (;;) {
        if (items.n)
            expect_op(P, ',');
        jtok *k = cur(P);
        if (k->t == JT_BLOCK_END || k->t == JT_VAR_END || is_op(k, ')') || is_op(k, '=') ||
            is_name(k, "in") || is_name(k, "recursive") || (!with_cond && is_name(k, "if")))
            break;
        jnode *e;
        if (simplified) e = parse_primary(P);
        else if (with_cond) e = parse_expr(P);
        else e = parse_or(P);
        nvec_push(P, &items, e, NULL);
        if (is_op(cur(P), ','))
            comma = true;
        else
            break;
    }
    if (!comma) {
        if (items.n == 1)
            return items.v[0];
        if (!explicit_paren)
            unexpected(P, "an expression");
    }
    jnode *t = mk(P, N_TUPLE, line);
    t->kids = items.v;
    t->n_kids = items.n;
    return t;
}

static jnode *parse_primary(parser *P)
{
    jtok *k = cur(P);
    jnode *n;
    jdepth_enter(P->c, k->line);
    switch (k->t) {
    case JT_NAME:
        next(P);
        if (is_name(k, "true") || is_name(k, "True")) { n = mk(P, N_CONST, k->line); n->val = jv_bool(true); }
        else if (is_name(k, "false") || is_name(k, "False")) { n = mk(P, N_CONST, k->line); n->val = jv_bool(false); }
        else if (is_name(k, "none") || is_name(k, "None")) { n = mk(P, N_CONST, k->line); n->val = jv_none(); }
        else { n = mk(P, N_NAME, k->line); n->name = tok_name(P, k); }
        break;
    case JT_STRING: {
        next(P);
        jbuf b = {0};
        jbuf_put(P->c, &b, k->p, k->n);
        while (cur(P)->t == JT_STRING) {   /* implicit concatenation */
            jtok *k2 = next(P);
            jbuf_put(P->c, &b, k2->p, k2->n);
        }
        n = mk(P, N_CONST, k->line);
        n->val = jv_strn(b.p ? b.p : "", b.n);
        break;
    }
    case JT_INT: next(P); n = mk(P, N_CONST, k->line); n->val = jv_int(k->i); break;
    case JT_FLOAT: next(P); n = mk(P, N_CONST, k->line); n->val = jv_float(k->f); break;
    case JT_OP:
        if (k->op == '(') {
            next(P);
            n = parse_tuple(P, false, true, true);
            expect_op(P, ')');
        } else if (k->op == '[') {
            next(P);
            nvec items = {0};
            while (!is_op(cur(P), ']')) {
                if (items.n) expect_op(P, ',');
                if (is_op(cur(P), ']')) break;
                nvec_push(P, &items, parse_expr(P), NULL);
            }
            next(P);
            n = mk(P, N_LIST, k->line);
            n->kids = items.v;
            n->n_kids = items.n;
        } else if (k->op == '{') {
            next(P);
            nvec keys = {0}, vals = {0};
            while (!is_op(cur(P), '}')) {
                if (keys.n) expect_op(P, ',');
                if (is_op(cur(P), '}')) break;
                nvec_push(P, &keys, parse_expr(P), NULL);
                expect_op(P, ':');
                nvec_push(P, &vals, parse_expr(P), NULL);
            }
            next(P);
            n = mk(P, N_DICT, k->line);
            n->kids = keys.v;
            n->n_kids = keys.n;
            n->kids2 = vals.v;
            n->n_kids2 = vals.n;
        } else {
            unexpected(P, "an expression");
        }
        break;
    default:
        unexpected(P, "an expression");
    }
    jdepth_leave(P->c);
    return n;
}

static jnode *parse_subscript(parser *P, jnode *obj)
{
    jtok *k = next(P);   /* '[' */
    jnode *parts[3] = {0};
    int np = 0;
    bool slice = false;
    for (;;) {
        if (is_op(cur(P), ':')) {
            slice = true;
            next(P);
            if (++np > 2)
                jfail(P->c, k->line, RF_ERR_FORMAT, "too many ':' in slice");
            continue;
        }
        if (is_op(cur(P), ']'))
            break;
        if (parts[np])
            unexpected(P, "']'");
        parts[np] = parse_expr(P);
    }
    next(P);
    jnode *n;
    if (slice) {
        n = mk(P, N_SLICE, k->line);
        n->a = obj;
        n->b = parts[0];
        n->c = parts[1];
        n->d = parts[2];
    } else {
        if (!parts[0])
            jfail(P->c, k->line, RF_ERR_FORMAT, "empty subscript");
        n = mk(P, N_GETITEM, k->line);
        n->a = obj;
        n->b = parts[0];
    }
    return n;
}

static jnode *parse_postfix(parser *P, jnode *node)
{
    for (;;) {
        jtok *k = cur(P);
        if (is_op(k, '.')) {
            next(P);
            jtok *a = cur(P);
            if (a->t == JT_NAME) {
                jnode *n = mk(P, N_GETATTR, a->line);
                n->a = node;
                n->name = expect_name(P);
                node = n;
            } else if (a->t == JT_INT) {
                next(P);
                jnode *n = mk(P, N_GETITEM, a->line);
                n->a = node;
                n->b = mk(P, N_CONST, a->line);
                n->b->val = jv_int(a->i);
                node = n;
            } else {
                unexpected(P, "an attribute name");
            }
        } else if (is_op(k, '[')) {
            node = parse_subscript(P, node);
        } else if (is_op(k, '(')) {
            jnode *n = mk(P, N_CALL, k->line);
            n->a = node;
            parse_call_args(P, n);
            node = n;
        } else {
            return node;
        }
    }
}

static jnode *parse_filter_expr(parser *P, jnode *node)
{
    for (;;) {
        jtok *k = cur(P);
        if (is_op(k, '|')) {
            next(P);
            jnode *n = mk(P, N_FILTER, cur(P)->line);
            n->name = expect_name(P);
            n->a = node;
            if (is_op(cur(P), '('))
                parse_call_args(P, n);
            node = n;
        } else if (is_name(k, "is")) {
            next(P);
            jnode *n = mk(P, N_TEST, k->line);
            if (is_name(cur(P), "not")) {
                next(P);
                n->op = 1;
            }
            n->name = expect_name(P);
            n->a = node;
            jtok *t = cur(P);
            if (is_op(t, '(')) {
                parse_call_args(P, n);
            } else if ((t->t == JT_NAME || t->t == JT_STRING || t->t == JT_INT || t->t == JT_FLOAT ||
                        is_op(t, '[') || is_op(t, '{')) &&
                       !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
                if (is_name(t, "is"))
                    jfail(P->c, t->line, RF_ERR_FORMAT, "cannot chain multiple tests with 'is'");
                jnode *arg = parse_postfix(P, parse_primary(P));
                n->kids = jalloc(P->c, sizeof(jnode *));
                n->kids[0] = arg;
                n->n_kids = 1;
            }
            node = n;
        } else if (is_op(k, '(')) {
            jnode *n = mk(P, N_CALL, k->line);
            n->a = node;
            parse_call_args(P, n);
            node = n;
        } else {
            return node;
        }
    }
}

static jnode *parse_unary(parser *P, bool with_filter)
{
    jtok *k = cur(P);
    jnode *node;
    jdepth_enter(P->c, k->line);
    if (is_op(k, '-') || is_op(k, '+')) {
        next(P);
        node = mk(P, k->op == '-' ? N_NEG : N_POS, k->line);
        node->a = parse_unary(P, false);
    } else {
        node = parse_primary(P);
    }
    node = parse_postfix(P, node);
    if (with_filter)
        node = parse_filter_expr(P, node);
    jdepth_leave(P->c);
    return node;
}

static jnode *binop(parser *P, int op, jnode *l, jnode *r, int line)
{
    jnode *n = mk(P, N_BINOP, line);
    n->op = op;
    n->a = l;
    n->b = r;
    return n;
}

static jnode *parse_pow(parser *P)
{
    jnode *l = parse_unary(P, true);
    while (is_op(cur(P), JOP_POW)) {
        int line = next(P)->line;
        l = binop(P, JOP_POW, l, parse_unary(P, true), line);
    }
    return l;
}

static jnode *parse_math2(parser *P)
{
    jnode *l = parse_pow(P);
    for (;;) {
        jtok *k = cur(P);
        if (k->t == JT_OP && (k->op == '*' || k->op == '/' || k->op == JOP_FLOORDIV || k->op == '%')) {
            next(P);
            l = binop(P, k->op, l, parse_pow(P), k->line);
        } else {
            return l;
        }
    }
}

static jnode *parse_concat(parser *P)
{
    jnode *first = parse_math2(P);
    if (!is_op(cur(P), '~'))
        return first;
    nvec args = {0};
    nvec_push(P, &args, first, NULL);
    while (is_op(cur(P), '~')) {
        next(P);
        nvec_push(P, &args, parse_math2(P), NULL);
    }
    jnode *n = mk(P, N_CONCAT, first->line);
    n->kids = args.v;
    n->n_kids = args.n;
    return n;
}

static jnode *parse_math1(parser *P)
{
    jnode *l = parse_concat(P);
    for (;;) {
        jtok *k = cur(P);
        if (k->t == JT_OP && (k->op == '+' || k->op == '-')) {
            next(P);
            l = binop(P, k->op, l, parse_concat(P), k->line);
        } else {
            return l;
        }
    }
}

/* compare ops: JOP_* / '<' '>' plus 'i' (in) and 'n' (not in) */
static jnode *parse_compare(parser *P)
{
    jnode *first = parse_math1(P);
    nvec rhs = {0};
    int ops[64];
    for (;;) {
        jtok *k = cur(P);
        int op = 0;
        if (k->t == JT_OP && (k->op == JOP_EQ || k->op == JOP_NE || k->op == JOP_LE ||
                              k->op == JOP_GE || k->op == '<' || k->op == '>')) {
            op = k->op;
            next(P);
        } else if (is_name(k, "in")) {
            op = 'i';
            next(P);
        } else if (is_name(k, "not") && P->i + 1 < P->n && is_name(&P->t[P->i + 1], "in")) {
            op = 'n';
            next(P);
            next(P);
        } else {
            break;
        }
        if (rhs.n >= 64)
            jfail(P->c, k->line, RF_ERR_UNSUPPORTED, "comparison chain too long");
        ops[rhs.n] = op;
        nvec_push(P, &rhs, parse_math1(P), NULL);
    }
    if (!rhs.n)
        return first;
    jnode *n = mk(P, N_COMPARE, first->line);
    n->a = first;
    n->kids = rhs.v;
    n->n_kids = rhs.n;
    n->ops = jalloc(P->c, (size_t)rhs.n * sizeof(int));
    memcpy(n->ops, ops, (size_t)rhs.n * sizeof(int));
    return n;
}

static jnode *parse_not(parser *P)
{
    jtok *k = cur(P);
    if (is_name(k, "not")) {
        next(P);
        jdepth_enter(P->c, k->line);
        jnode *n = mk(P, N_NOT, k->line);
        n->a = parse_not(P);
        jdepth_leave(P->c);
        return n;
    }
    return parse_compare(P);
}

static jnode *parse_and(parser *P)
{
    jnode *l = parse_not(P);
    while (is_name(cur(P), "and")) {
        int line = next(P)->line;
        jnode *n = mk(P, N_AND, line);
        n->a = l;
        n->b = parse_not(P);
        l = n;
    }
    return l;
}

static jnode *parse_or(parser *P)
{
    jnode *l = parse_and(P);
    while (is_name(cur(P), "or")) {
        int line = next(P)->line;
        jnode *n = mk(P, N_OR, line);
        n->a = l;
        n->b = parse_and(P);
        l = n;
    }
    return l;
}

static jnode *parse_expr(parser *P)
{
    jdepth_enter(P->c, cur(P)->line);
    jnode *e = parse_or(P);
    while (is_name(cur(P), "if")) {
        int line = next(P)->line;
        jnode *n = mk(P, N_COND, line);
        n->a = parse_or(P);   /* condition */
        n->b = e;             /* value when true */
        if (is_name(cur(P), "else")) {
            next(P);
            n->c = parse_expr(P);
        }
        e = n;
    }
    jdepth_leave(P->c);
    return e;
}

/* ------------------------------------------------------------- statements */

static void expect_block_end(parser *P)
{
    if (cur(P)->t != JT_BLOCK_END)
        unexpected(P, "'%}'");
    next(P);
}

/* Assignment target: name, name.attr (namespace), or tuple of names. */
static jnode *parse_target(parser *P, bool allow_attr)
{
    int line = cur(P)->line;
    bool paren = false;
    if (is_op(cur(P), '(')) { next(P); paren = true; }
    nvec items = {0};
    for (;;) {
        jnode *n = mk(P, N_NAME, cur(P)->line);
        n->name = expect_name(P);
        if (allow_attr && is_op(cur(P), '.')) {
            next(P);
            jnode *g = mk(P, N_GETATTR, n->line);
            g->a = n;
            g->name = expect_name(P);
            n = g;
        }
        nvec_push(P, &items, n, NULL);
        if (!is_op(cur(P), ','))
            break;
        next(P);
        if (cur(P)->t != JT_NAME)
            break;
    }
    if (paren) expect_op(P, ')');
    if (items.n == 1 && !paren)
        return items.v[0];
    if (items.n == 1)
        return items.v[0];
    jnode *t = mk(P, N_TUPLE, line);
    t->kids = items.v;
    t->n_kids = items.n;
    return t;
}

static void parse_params(parser *P, jnode *m)
{
    /* macro/call parameters: names with optional defaults -> names[], kids2[] */
    nvec params = {0};
    if (!is_op(cur(P), '('))
        return;
    next(P);
    while (!is_op(cur(P), ')')) {
        if (params.n) expect_op(P, ',');
        if (is_op(cur(P), ')')) break;
        const char *name = expect_name(P);
        jnode *def = NULL;
        if (is_op(cur(P), '=')) {
            next(P);
            def = parse_expr(P);
        }
        nvec_push(P, &params, def, name);
    }
    next(P);
    m->names = params.names;
    m->kids2 = params.v;
    m->n_kids2 = params.n;
}

static const char *const STOP_IF[] = {"elif", "else", "endif", NULL};
static const char *const STOP_ENDIF[] = {"endif", NULL};
static const char *const STOP_FOR[] = {"else", "endfor", NULL};
static const char *const STOP_ENDFOR[] = {"endfor", NULL};
static const char *const STOP_SET[] = {"endset", NULL};
static const char *const STOP_MACRO[] = {"endmacro", NULL};
static const char *const STOP_CALL[] = {"endcall", NULL};
static const char *const STOP_FILTER[] = {"endfilter", NULL};
static const char *const STOP_GEN[] = {"endgeneration", NULL};
static const char *const STOP_WITH[] = {"endwith", NULL};

/* Consumes `{% name %}` of an end tag (position is at its BLOCK_BEGIN). */
static const char *take_tag(parser *P)
{
    next(P);   /* BLOCK_BEGIN */
    return expect_name(P);
}

static jnode *parse_filter_chain(parser *P, jnode *inner)
{
    /* `{% filter a|b(x) %}` and `{% set x | f %}`: reuse filter parsing with
     * a placeholder subject filled at run time (inner == NULL: the body). */
    jnode *node = inner;
    do {
        jnode *n = mk(P, N_FILTER, cur(P)->line);
        n->name = expect_name(P);
        n->a = node;
        if (is_op(cur(P), '('))
            parse_call_args(P, n);
        node = n;
    } while (is_op(cur(P), '|') && next(P));
    return node;
}

static jnode *parse_statement(parser *P)
{
    jtok *open = next(P);   /* BLOCK_BEGIN */
    int line = open->line;
    jtok *k = cur(P);
    if (k->t != JT_NAME)
        unexpected(P, "a statement name");
    const char *kw = tok_name(P, next(P));
    jdepth_enter(P->c, line);
    jnode *n = NULL;
    if (!strcmp(kw, "if")) {
        n = mk(P, N_IF, line);
        nvec conds = {0}, bodies = {0};
        nvec_push(P, &conds, parse_expr(P), NULL);
        expect_block_end(P);
        for (;;) {
            nvec_push(P, &bodies, parse_body(P, STOP_IF, "if", line), NULL);
            const char *t = take_tag(P);
            if (!strcmp(t, "elif")) {
                nvec_push(P, &conds, parse_expr(P), NULL);
                expect_block_end(P);
            } else if (!strcmp(t, "else")) {
                expect_block_end(P);
                n->c = parse_body(P, STOP_ENDIF, "if", line);
                take_tag(P);
                expect_block_end(P);
                break;
            } else {
                expect_block_end(P);
                break;
            }
        }
        n->kids = conds.v;
        n->n_kids = conds.n;
        n->kids2 = bodies.v;
        n->n_kids2 = bodies.n;
    } else if (!strcmp(kw, "for")) {
        n = mk(P, N_FOR, line);
        n->a = parse_target(P, false);
        if (!is_name(cur(P), "in"))
            unexpected(P, "'in'");
        next(P);
        n->b = parse_tuple(P, false, false, false);
        if (is_name(cur(P), "if")) {
            next(P);
            n->c = parse_expr(P);
        }
        if (is_name(cur(P), "recursive"))
            jfail(P->c, line, RF_ERR_UNSUPPORTED, "recursive for loops are not supported");
        expect_block_end(P);
        n->d = parse_body(P, STOP_FOR, "for", line);
        const char *t = take_tag(P);
        expect_block_end(P);
        if (!strcmp(t, "else")) {
            n->kids2 = jalloc(P->c, sizeof(jnode *));
            n->kids2[0] = parse_body(P, STOP_ENDFOR, "for", line);
            n->n_kids2 = 1;
            take_tag(P);
            expect_block_end(P);
        }
    } else if (!strcmp(kw, "set")) {
        jnode *target = parse_target(P, true);
        if (is_op(cur(P), '=')) {
            next(P);
            n = mk(P, N_SET, line);
            n->a = target;
            n->b = parse_tuple(P, false, true, false);
            expect_block_end(P);
        } else {
            n = mk(P, N_SET_BLOCK, line);
            n->a = target;
            if (is_op(cur(P), '|')) {
                next(P);
                n->c = parse_filter_chain(P, NULL);
            }
            expect_block_end(P);
            n->b = parse_body(P, STOP_SET, "set", line);
            take_tag(P);
            expect_block_end(P);
        }
    } else if (!strcmp(kw, "macro")) {
        n = mk(P, N_MACRO, line);
        n->name = expect_name(P);
        if (!is_op(cur(P), '('))
            unexpected(P, "'('");
        parse_params(P, n);
        expect_block_end(P);
        n->b = parse_body(P, STOP_MACRO, "macro", line);
        take_tag(P);
        if (cur(P)->t == JT_NAME) next(P);   /* {% endmacro name %} */
        expect_block_end(P);
    } else if (!strcmp(kw, "call")) {
        n = mk(P, N_CALL_BLOCK, line);
        parse_params(P, n);   /* caller's parameters */
        n->a = parse_expr(P);
        if (n->a->kind != N_CALL)
            jfail(P->c, line, RF_ERR_FORMAT, "{%% call %%} needs a macro call");
        expect_block_end(P);
        n->b = parse_body(P, STOP_CALL, "call", line);
        take_tag(P);
        expect_block_end(P);
    } else if (!strcmp(kw, "filter")) {
        n = mk(P, N_FILTER_BLOCK, line);
        n->c = parse_filter_chain(P, NULL);
        expect_block_end(P);
        n->b = parse_body(P, STOP_FILTER, "filter", line);
        take_tag(P);
        expect_block_end(P);
    } else if (!strcmp(kw, "with")) {
        /* {% with a = x, b = y %}: values evaluated outside, body in a new scope */
        n = mk(P, N_WITH, line);
        nvec targets = {0}, vals = {0};
        while (cur(P)->t != JT_BLOCK_END) {
            if (targets.n) expect_op(P, ',');
            nvec_push(P, &targets, parse_target(P, false), NULL);
            expect_op(P, '=');
            nvec_push(P, &vals, parse_expr(P), NULL);
        }
        expect_block_end(P);
        n->kids = targets.v;
        n->n_kids = targets.n;
        n->kids2 = vals.v;
        n->n_kids2 = vals.n;
        n->b = parse_body(P, STOP_WITH, "with", line);
        take_tag(P);
        expect_block_end(P);
    } else if (!strcmp(kw, "break") || !strcmp(kw, "continue")) {
        n = mk(P, kw[0] == 'b' ? N_BREAK : N_CONTINUE, line);
        expect_block_end(P);
    } else if (!strcmp(kw, "generation")) {
        /* transformers' assistant-mask marker: renders as its body */
        expect_block_end(P);
        n = parse_body(P, STOP_GEN, "generation", line);
        take_tag(P);
        expect_block_end(P);
    } else {
        jfail(P->c, line, RF_ERR_UNSUPPORTED, "unsupported statement '{%% %s %%}'", kw);
    }
    jdepth_leave(P->c);
    return n;
}

static bool in_list(jtok *k, const char *const *stops)
{
    for (int i = 0; stops && stops[i]; i++)
        if (is_name(k, stops[i]))
            return true;
    return false;
}

static jnode *parse_body(parser *P, const char *const *stops, const char *what, int open_line)
{
    jnode *body = mk(P, N_BODY, cur(P)->line);
    nvec items = {0};
    for (;;) {
        jtok *k = cur(P);
        if (k->t == JT_EOF) {
            if (stops)
                jfail(P->c, open_line, RF_ERR_FORMAT, "'{%% %s %%}' is never closed (expected '{%% %s %%}')",
                      what, stops[0] && !strncmp(stops[0], "end", 3) ? stops[0] : (stops[1] && !strncmp(stops[1], "end", 3) ? stops[1] : stops[2]));
            break;
        }
        if (k->t == JT_TEXT) {
            next(P);
            jnode *t = mk(P, N_TEXT, k->line);
            t->val = jv_strn(k->p, k->n);
            nvec_push(P, &items, t, NULL);
        } else if (k->t == JT_VAR_BEGIN) {
            next(P);
            jnode *o = mk(P, N_OUTPUT, k->line);
            o->a = parse_tuple(P, false, true, false);
            if (cur(P)->t != JT_VAR_END)
                unexpected(P, "'}}'");
            next(P);
            nvec_push(P, &items, o, NULL);
        } else if (k->t == JT_BLOCK_BEGIN) {
            jtok *name = &P->t[P->i + 1];
            if (in_list(name, stops))
                break;
            if (name->t == JT_NAME && name->n >= 3 && !memcmp(name->p, "end", 3))
                jfail(P->c, name->line, RF_ERR_FORMAT, "unexpected '{%% %.*s %%}'", (int)name->n, name->p);
            if (is_name(name, "elif") || is_name(name, "else"))
                jfail(P->c, name->line, RF_ERR_FORMAT, "unexpected '{%% %.*s %%}'", (int)name->n, name->p);
            nvec_push(P, &items, parse_statement(P), NULL);
        } else {
            unexpected(P, "text or a tag");
        }
    }
    body->kids = items.v;
    body->n_kids = items.n;
    return body;
}

/* jinja2 names every filter/test at compile time, except inside `if`
 * statements and conditional expressions ("soft" frames), where an unknown
 * name only fails when reached. A for/macro/call/filter/set-block body opens
 * a new, non-soft frame again. Names jinja2 knows but we do not implement
 * fail when executed (jinja_filter/jinja_test). */
static void check_names(jctx *c, const jnode *n, bool soft)
{
    if (!n)
        return;
    jdepth_enter(c, n->line);
    if (n->kind == N_FILTER && !soft && !jinja_filter_known(n->name))
        jfail(c, n->line, RF_ERR_FORMAT, "no filter named '%s'", n->name);
    if (n->kind == N_TEST && !soft && !jinja_test_exists(n->name))
        jfail(c, n->line, RF_ERR_FORMAT, "no test named '%s'", n->name);
    bool kids_soft = soft;
    switch (n->kind) {
    case N_IF: case N_COND: kids_soft = true; break;
    case N_FOR:
        check_names(c, n->b, soft);   /* the iterable is in the outer frame */
        check_names(c, n->c, false);
        check_names(c, n->d, false);
        for (int i = 0; i < n->n_kids2; i++) check_names(c, n->kids2[i], false);
        jdepth_leave(c);
        return;
    case N_CALL_BLOCK:
        check_names(c, n->a, soft);
        check_names(c, n->b, false);
        for (int i = 0; i < n->n_kids2; i++) check_names(c, n->kids2[i], false);
        jdepth_leave(c);
        return;
    case N_WITH:
        for (int i = 0; i < n->n_kids2; i++) check_names(c, n->kids2[i], soft);
        check_names(c, n->b, false);
        jdepth_leave(c);
        return;
    case N_MACRO: case N_FILTER_BLOCK: case N_SET_BLOCK: kids_soft = false; break;
    default: break;
    }
    check_names(c, n->a, kids_soft);
    check_names(c, n->b, kids_soft);
    check_names(c, n->c, kids_soft);
    check_names(c, n->d, kids_soft);
    for (int i = 0; i < n->n_kids; i++) check_names(c, n->kids[i], kids_soft);
    for (int i = 0; i < n->n_kids2; i++) check_names(c, n->kids2[i], kids_soft);
    jdepth_leave(c);
}

jnode *jinja_parse(jctx *c, jtok *toks, int n_tok)
{
    parser P = {.c = c, .t = toks, .n = n_tok, .i = 0};
    int depth = c->depth;
    jnode *root = parse_body(&P, NULL, NULL, 0);
    c->depth = depth;
    check_names(c, root, false);
    c->depth = depth;
    return root;
}
