/* jinja.h — internals of the chat-template interpreter (not public).
 *
 * Pipeline: jinja_lex (source -> token array, whitespace control applied)
 * -> jinja_parse (tokens -> AST of jnode) -> jinja_eval (walks the AST with
 * values jv, writing into an output buffer). Everything a render allocates
 * lives in one arena (jctx) freed at the end; errors longjmp back to the
 * render entry point, which is why no function here returns a status: the
 * arena makes unwinding free, and rf_chat_render turns the jump into an
 * rf_status. Limits (bytes, depth, steps) are checked where growth happens.
 */
#ifndef RF_JINJA_H
#define RF_JINJA_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rocmforge.h"

/* ------------------------------------------------------------- limits */
#define JINJA_MAX_ARENA ((size_t)512 << 20)   /* bytes of values/AST per render */
#define JINJA_MAX_OUTPUT ((size_t)64 << 20)   /* bytes of rendered text */
#define JINJA_MAX_DEPTH 200                   /* nesting of parse/eval/values */
#define JINJA_MAX_EVAL_DEPTH 500              /* evaluation nesting incl. macro calls */
#define JINJA_MAX_STEPS 50000000ull           /* evaluated nodes per render */

/* ------------------------------------------------------------- values */
typedef enum jv_type {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT,
    JV_NS,      /* namespace(): a dict whose attributes `set` may assign */
    JV_FUNC,    /* macro, caller, native global or bound method */
} jv_type;

struct jlist;
struct jdict;
struct jfunc;

typedef struct jv {
    jv_type t;
    bool safe;      /* JV_STR: a markupsafe.Markup (from |safe, |escape):
                       `+` with a plain string HTML-escapes the plain side */
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *p; size_t n; } s;   /* UTF-8, not NUL-terminated;
                                                    for JV_UNDEF: the missing name */
        struct jlist *l;
        struct jdict *d;
        struct jfunc *fn;
    } u;
} jv;

/* gen: a Python iterator (what jinja's map/select/unique/reverse return):
 * single use (gen_pos = items already consumed), no len(), always truthy,
 * not JSON-serializable, not printable. Modelled because templates that
 * misuse them fail in jinja2 and must fail here too. */
typedef struct jlist { jv *v; size_t n, cap; bool tuple; bool gen; size_t gen_pos; } jlist;
static inline bool jv_is_gen(jv v) { return v.t == JV_LIST && v.u.l->gen; }
/* Insertion-ordered; linear lookup (chat dicts hold a handful of keys). */
typedef struct jdict { jv *k; jv *v; size_t n, cap; } jdict;

struct jnode;
struct jscope;
struct jctx;
typedef jv (*jnative_fn)(struct jctx *c, jv self, jv *args, int n_args,
                         const char **kw_names, jv *kw_vals, int n_kw, int line);

enum { JF_MACRO, JF_NATIVE };
typedef struct jfunc {
    int kind;
    const char *name;
    const struct jnode *macro;     /* JF_MACRO: the N_MACRO node */
    struct jscope *closure;        /* JF_MACRO: scope it was defined in */
    jv caller;                     /* JF_MACRO: `caller` of a {% call %} or undef */
    jnative_fn native;             /* JF_NATIVE */
    jv self;                       /* JF_NATIVE: bound object (loop.cycle...) */
} jfunc;

/* ------------------------------------------------------------- tokens */
typedef enum jtok_type {
    JT_TEXT, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END,
    JT_NAME, JT_STRING, JT_INT, JT_FLOAT, JT_OP, JT_EOF,
} jtok_type;

/* Operators are encoded as small ints: single chars as themselves, the
 * two-char ones as below. */
enum { JOP_EQ = 256, JOP_NE, JOP_LE, JOP_GE, JOP_FLOORDIV, JOP_POW };

typedef struct jtok {
    jtok_type t;
    int line;
    int op;              /* JT_OP */
    const char *p;       /* JT_TEXT/JT_NAME/JT_STRING: bytes (unescaped for strings) */
    size_t n;
    int64_t i;           /* JT_INT */
    double f;            /* JT_FLOAT */
} jtok;

/* ------------------------------------------------------------- AST */
typedef enum jnode_kind {
    /* statements */
    N_BODY, N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SET_BLOCK, N_MACRO,
    N_CALL_BLOCK, N_FILTER_BLOCK, N_BREAK, N_CONTINUE, N_WITH,
    /* expressions */
    N_CONST, N_NAME, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER, N_TEST,
    N_BINOP, N_NEG, N_POS, N_NOT, N_AND, N_OR, N_COMPARE, N_COND, N_LIST,
    N_TUPLE, N_DICT, N_CONCAT,
} jnode_kind;

typedef struct jnode {
    jnode_kind kind;
    int line;
    int op;                   /* N_BINOP operator; N_TEST negated flag */
    const char *name;         /* NUL-terminated (arena) name/attribute */
    jv val;                   /* N_CONST, N_TEXT (string) */
    struct jnode *a, *b, *c, *d;
    struct jnode **kids;      /* positional args, elements, statements... */
    int n_kids;
    struct jnode **kids2;     /* keyword values, dict values, else-body... */
    const char **names;       /* keyword names, macro params, compare ops */
    int n_kids2;
    int *ops;                 /* N_COMPARE: operator per comparison */
} jnode;

/* ------------------------------------------------------------- context */
typedef struct jbuf { char *p; size_t n, cap; } jbuf;

typedef struct jscope {
    struct jscope *parent;
    const char **names;
    jv *vals;
    int n, cap;
    bool captured;     /* a macro closes over it: never recycle */
} jscope;

typedef struct jblock { struct jblock *next; size_t used, cap; } jblock;

typedef struct jctx {
    jblock *blocks;
    size_t arena_bytes;
    jmp_buf jb;
    rf_error *err;
    jbuf *out;
    int depth;               /* parse nesting / value printing nesting */
    int edepth;              /* evaluation nesting (macro recursion included) */
    uint64_t steps;
    bool json_ascii;         /* tojson(ensure_ascii=True) in progress */
    jv filter_subject;       /* body text fed to {% filter %} / {% set x | f %} */
    jscope *globals;
    size_t max_arena, max_output;   /* caps of this render (JINJA_MAX_* by default) */
    uint64_t max_steps;
    int loop_ctl;            /* 1 = break, 2 = continue pending */
} jctx;

/* ------------------------------------------------------------- arena & errors */
void *jalloc(jctx *c, size_t n);
void jctx_free(jctx *c);
_Noreturn void jfail(jctx *c, int line, rf_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void jdepth_enter(jctx *c, int line);
static inline void jdepth_leave(jctx *c) { c->depth--; }

/* ------------------------------------------------------------- buffers */
void jbuf_put(jctx *c, jbuf *b, const char *s, size_t n);
static inline void jbuf_putc(jctx *c, jbuf *b, char ch) { jbuf_put(c, b, &ch, 1); }
void jbuf_printf(jctx *c, jbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ------------------------------------------------------------- value helpers */
static inline jv jv_undef(void) { jv v = {0}; v.t = JV_UNDEF; v.u.s.p = NULL; v.u.s.n = 0; return v; }
static inline jv jv_none(void) { jv v = {0}; v.t = JV_NONE; v.u.i = 0; return v; }
static inline jv jv_bool(bool b) { jv v = {0}; v.t = JV_BOOL; v.u.b = b; return v; }
static inline jv jv_int(int64_t i) { jv v = {0}; v.t = JV_INT; v.u.i = i; return v; }
static inline jv jv_float(double f) { jv v = {0}; v.t = JV_FLOAT; v.u.f = f; return v; }
static inline jv jv_strn(const char *p, size_t n) { jv v = {0}; v.t = JV_STR; v.u.s.p = p; v.u.s.n = n; return v; }
static inline jv jv_safe(jv s, bool safe) { s.safe = safe; return s; }
/* HTML escaping as markupsafe.escape does it. */
jv jv_html_escape(jctx *c, jv s);
jv jv_str_copy(jctx *c, const char *p, size_t n);
jv jv_cstr(jctx *c, const char *s);
jv jv_list_new(jctx *c, size_t cap);
jv jv_dict_new(jctx *c, size_t cap);
void jv_list_push(jctx *c, jv list, jv item);
void jv_dict_set(jctx *c, jv dict, jv key, jv val);
/* Lookup by string key; returns false when absent. */
bool jv_dict_get(jv dict, const char *key, size_t n, jv *out);
bool jv_dict_find(jv dict, jv key, jv *out);
bool jv_is_num(jv v);
double jv_num(jv v);
bool jv_truthy(jv v);
bool jv_eq(jv a, jv b);
/* Python ordering; fails (jfail) on incomparable types. */
int jv_cmp(jctx *c, jv a, jv b, int line);
const char *jv_type_name(jv v);

/* str(v) as Python prints it (jinja `{{ }}` output, `~`, |string). */
void jv_str_into(jctx *c, jbuf *b, jv v);
jv jv_to_str(jctx *c, jv v);
/* repr(v) as Python prints it (elements inside a printed list/dict). */
void jv_repr_into(jctx *c, jbuf *b, jv v);
/* json.dumps(v, ensure_ascii=False, indent, separators, sort_keys). indent<0:
 * none; indent_str overrides indent when non-NULL. */
void jv_json_into(jctx *c, jbuf *b, jv v, const char *indent_str, size_t indent_n,
                  bool use_indent, const char *item_sep, const char *key_sep,
                  bool sort_keys, int level, int line);
/* Python float repr (shortest round-trip). */
void jfloat_repr(double f, char *buf, size_t n);

/* JSON text -> value (jansson underneath). Fails with `what` in the message. */
jv jv_from_json_text(jctx *c, const char *text, const char *what);

/* UTF-8 helpers: number of code points; byte offset of code point i. */
size_t jutf8_len(const char *p, size_t n);
size_t jutf8_offset(const char *p, size_t n, size_t cp);

/* Remaining items of a generator as a plain list, consuming it. */
jv jv_gen_drain(jctx *c, jv g);

/* ------------------------------------------------------------- str (jinja_str.c) */
/* Python str.isspace() for the code point at p[i]; *len its bytes. */
bool jstr_space_at(const char *p, size_t n, size_t i, size_t *len);
size_t jstr_cp_len(const char *p, size_t n, size_t i);
/* One code point at p[i] (an invalid byte comes back as itself). */
uint32_t jstr_utf8_at(const char *p, size_t n, size_t i, size_t *len);
/* strip: which = 1 left, 2 right, 3 both; chars not a string = whitespace. */
jv jstr_strip(jv s, jv chars, int which);
/* Simple case mapping of one code point (cp itself when none). */
uint32_t jstr_case_map(uint32_t cp, bool to_upper);
bool jstr_is_cased(uint32_t cp);
void jstr_put_cased(jctx *c, jbuf *b, const char *raw, size_t len, uint32_t cp, bool to_upper);
/* mode 0 upper, 1 lower, 2 str.capitalize, 3 str.title */
jv jstr_map(jctx *c, jv s, int mode);
/* jinja's |title (words split at [-\s({[<]). */
jv jstr_title(jctx *c, jv s);
/* str.replace; count < 0 = all. */
jv jstr_replace(jctx *c, jv s, jv old, jv new_, int64_t count);
const char *jstr_find(const char *h, size_t hn, const char *nd, size_t nn);
/* str.split / str.rsplit; sep none/undefined = whitespace runs. */
jv jstr_split(jctx *c, jv s, jv sep, int64_t maxsplit, bool from_right, int line);
jv jstr_splitlines(jctx *c, jv s);
static inline bool jstr_is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static inline bool jstr_starts(jv s, jv pre) { return pre.u.s.n <= s.u.s.n && !memcmp(s.u.s.p, pre.u.s.p, pre.u.s.n); }
static inline bool jstr_ends(jv s, jv suf) { return suf.u.s.n <= s.u.s.n && !memcmp(s.u.s.p + s.u.s.n - suf.u.s.n, suf.u.s.p, suf.u.s.n); }

/* ------------------------------------------------------------- stages */
/* Source -> tokens (arena). */
jtok *jinja_lex(jctx *c, const char *src, size_t len, int *n_tok);
/* Tokens -> AST (N_BODY root). */
jnode *jinja_parse(jctx *c, jtok *toks, int n_tok);
/* Runs the template; globals must be set in c->globals. */
void jinja_exec(jctx *c, const jnode *root, jbuf *out);

/* Builtins (jinja_builtins.c). */
jv jinja_filter(jctx *c, const char *name, jv v, jv *args, int n_args,
                const char **kw_names, jv *kw_vals, int n_kw, int line);
bool jinja_filter_exists(const char *name);   /* implemented here */
bool jinja_filter_known(const char *name);    /* defined by jinja2 */
bool jinja_test(jctx *c, const char *name, jv v, jv *args, int n_args, int line);
bool jinja_test_exists(const char *name);
jv jinja_method(jctx *c, jv obj, const char *name, jv *args, int n_args,
                const char **kw_names, jv *kw_vals, int n_kw, int line);
void jinja_globals_install(jctx *c, jscope *g);
/* Python printf-style `fmt % args` (args: tuple, mapping or one value). */
jv jinja_percent_format(jctx *c, jv fmt, jv args, int line);
/* Calls any callable value (macro or native). */
jv jinja_call(jctx *c, jv fn, jv *args, int n_args, const char **kw_names,
              jv *kw_vals, int n_kw, int line);

/* Scope helpers (jinja_eval.c). */
jscope *jscope_new(jctx *c, jscope *parent);
void jscope_set(jctx *c, jscope *s, const char *name, jv v);
bool jscope_lookup(const jscope *s, const char *name, jv *out);

#endif
