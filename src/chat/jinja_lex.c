/* jinja_lex.c — template source -> tokens, with Jinja's whitespace control
 * applied the way jinja2's lexer does under trim_blocks + lstrip_blocks:
 *   - newlines are normalized to \n and one trailing newline is dropped
 *     (keep_trailing_newline=False);
 *   - `{%-`/`{{-`/`{#-` strip all whitespace before the tag, `-%}`/`-}}`/`-#}`
 *     all whitespace after it;
 *   - trim_blocks: a block or comment end eats one following newline
 *     (`+%}` opts out);
 *   - lstrip_blocks: spaces/tabs between a line start and a block or comment
 *     start are dropped (`{%+` opts out; never for `{{`);
 *   - `{% raw %}...{% endraw %}` is text;
 *   - `%}`/`}}` inside open brackets are operators, not tag ends.
 * Text tokens point into a normalized copy of the source in the arena. */
#include <stdlib.h>
#include <string.h>

#include "chat/jinja.h"

typedef struct lexer {
    jctx *c;
    const char *s;
    size_t n, pos;
    int line;
    size_t line_pos;      /* position up to which `line` counts newlines */
    jtok *toks;
    int n_tok, cap;
    bool line_start;      /* previous tag's match ended with '\n' */
} lexer;

static int line_at(lexer *L, size_t pos)
{
    if (pos < L->line_pos) {   /* rare: recount from the start */
        L->line = 1;
        L->line_pos = 0;
    }
    for (size_t i = L->line_pos; i < pos && i < L->n; i++)
        if (L->s[i] == '\n')
            L->line++;
    L->line_pos = pos;
    return L->line;
}

static jtok *push(lexer *L, jtok_type t, size_t at)
{
    if (L->n_tok == L->cap) {
        int cap = L->cap ? L->cap * 2 : 256;
        jtok *nt = jalloc(L->c, (size_t)cap * sizeof(jtok));
        if (L->n_tok)
            memcpy(nt, L->toks, (size_t)L->n_tok * sizeof(jtok));
        L->toks = nt;
        L->cap = cap;
    }
    jtok *k = &L->toks[L->n_tok++];
    memset(k, 0, sizeof *k);
    k->t = t;
    k->line = line_at(L, at);
    return k;
}

static bool is_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'; }
/* Python str.isspace over ASCII also counts the separators 0x1c-0x1f. */
static bool is_pyspace(char ch) { return is_ws(ch) || (ch >= 0x1c && ch <= 0x1f); }

/* Emits the text before a tag after applying `-` / lstrip_blocks rules.
 * sign: '-', '+' or 0; lstrip: the tag is a block or comment. */
static void emit_text(lexer *L, size_t start, size_t end, char sign, bool lstrip)
{
    if (sign == '-') {
        while (end > start && is_pyspace(L->s[end - 1]))
            end--;
    } else if (sign != '+' && lstrip) {
        size_t l = end;
        while (l > start && L->s[l - 1] != '\n')
            l--;
        bool at_nl = l > start;
        if ((at_nl || L->line_start) && l < end) {
            bool all_ws = true;
            for (size_t i = l; i < end; i++)
                if (!is_pyspace(L->s[i]) || L->s[i] == '\n') { all_ws = false; break; }
            if (all_ws)
                end = l;
        }
    }
    if (end > start) {
        jtok *k = push(L, JT_TEXT, start);
        k->p = L->s + start;
        k->n = end - start;
    }
}

static void put_utf8(lexer *L, char *d, size_t *o, uint32_t cp, int line)
{
    if (cp > 0x10FFFF)
        jfail(L->c, line, RF_ERR_FORMAT, "string escape out of Unicode range");
    if (cp < 0x80) d[(*o)++] = (char)cp;
    else if (cp < 0x800) { d[(*o)++] = (char)(0xC0 | cp >> 6); d[(*o)++] = (char)(0x80 | (cp & 63)); }
    else if (cp < 0x10000) { d[(*o)++] = (char)(0xE0 | cp >> 12); d[(*o)++] = (char)(0x80 | (cp >> 6 & 63)); d[(*o)++] = (char)(0x80 | (cp & 63)); }
    else { d[(*o)++] = (char)(0xF0 | cp >> 18); d[(*o)++] = (char)(0x80 | (cp >> 12 & 63)); d[(*o)++] = (char)(0x80 | (cp >> 6 & 63)); d[(*o)++] = (char)(0x80 | (cp & 63)); }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Python "unicode-escape" decoding of a string literal body. */
static void lex_string(lexer *L)
{
    char q = L->s[L->pos];
    size_t i = L->pos + 1;
    int line = line_at(L, L->pos);
    while (i < L->n && L->s[i] != q) {
        if (L->s[i] == '\\')
            i++;
        i++;
    }
    if (i >= L->n)
        jfail(L->c, line, RF_ERR_FORMAT, "unterminated string literal");
    const char *b = L->s + L->pos + 1;
    size_t len = (size_t)(L->s + i - b);
    char *d = jalloc(L->c, len + 1);
    size_t o = 0;
    for (size_t k = 0; k < len; k++) {
        if (b[k] != '\\' || k + 1 >= len) { d[o++] = b[k]; continue; }
        char e = b[++k];
        int nd = 0;
        switch (e) {
        case '\n': break;
        case '\\': d[o++] = '\\'; break;
        case '\'': d[o++] = '\''; break;
        case '"': d[o++] = '"'; break;
        case 'n': d[o++] = '\n'; break;
        case 't': d[o++] = '\t'; break;
        case 'r': d[o++] = '\r'; break;
        case 'a': d[o++] = '\a'; break;
        case 'b': d[o++] = '\b'; break;
        case 'f': d[o++] = '\f'; break;
        case 'v': d[o++] = '\v'; break;
        case 'x': nd = 2; break;
        case 'u': nd = 4; break;
        case 'U': nd = 8; break;
        default:
            if (e >= '0' && e <= '7') {
                uint32_t v = 0;
                int m = 0;
                while (m < 3 && k < len && b[k] >= '0' && b[k] <= '7') { v = v * 8 + (uint32_t)(b[k] - '0'); k++; m++; }
                k--;
                put_utf8(L, d, &o, v, line);
            } else {
                d[o++] = '\\';
                d[o++] = e;
            }
        }
        if (nd) {
            uint32_t v = 0;
            for (int m = 0; m < nd; m++) {
                if (k + 1 >= len || hexval(b[k + 1]) < 0)
                    jfail(L->c, line, RF_ERR_FORMAT, "truncated \\%c escape in string literal", e);
                v = v * 16 + (uint32_t)hexval(b[++k]);
            }
            put_utf8(L, d, &o, v, line);
        }
    }
    d[o] = 0;
    jtok *k = push(L, JT_STRING, L->pos);
    k->p = d;
    k->n = o;
    L->pos = i + 1;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_name0(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }

static void lex_number(lexer *L)
{
    size_t i = L->pos;
    char buf[64];
    size_t o = 0;
    bool is_float = false;
    int line = line_at(L, L->pos);
#define TAKE_DIGITS() do { while (i < L->n && (is_digit(L->s[i]) || (L->s[i] == '_' && i + 1 < L->n && is_digit(L->s[i + 1])))) { \
        if (L->s[i] != '_') { if (o + 1 >= sizeof buf) jfail(L->c, line, RF_ERR_FORMAT, "number literal too long"); buf[o++] = L->s[i]; } i++; } } while (0)
    TAKE_DIGITS();
    if (i + 1 < L->n && L->s[i] == '.' && is_digit(L->s[i + 1])) {
        is_float = true;
        buf[o++] = '.';
        i++;
        TAKE_DIGITS();
    }
    if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->n && (L->s[j] == '+' || L->s[j] == '-'))
            j++;
        if (j < L->n && is_digit(L->s[j])) {
            is_float = true;
            buf[o++] = 'e';
            if (L->s[i + 1] == '-') buf[o++] = '-';
            i = j;
            TAKE_DIGITS();
        }
    }
#undef TAKE_DIGITS
    buf[o] = 0;
    jtok *k = push(L, is_float ? JT_FLOAT : JT_INT, L->pos);
    if (is_float) {
        k->f = strtod(buf, NULL);
    } else {
        int64_t v = 0;
        for (size_t m = 0; m < o; m++) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, buf[m] - '0', &v))
                jfail(L->c, line, RF_ERR_UNSUPPORTED, "integer literal too large for 64 bits");
        }
        k->i = v;
    }
    L->pos = i;
}

/* Lexes the inside of a {% %} or {{ }} tag. */
static void lex_tag(lexer *L, bool block, size_t tag_line_pos)
{
    int depth = 0;
    for (;;) {
        while (L->pos < L->n && is_ws(L->s[L->pos]))
            L->pos++;
        if (L->pos >= L->n)
            jfail(L->c, line_at(L, tag_line_pos), RF_ERR_FORMAT, "unclosed %s tag", block ? "{%" : "{{");
        const char *p = L->s + L->pos;
        size_t left = L->n - L->pos;
        char endc = block ? '%' : '}';
        if (depth == 0) {
            bool minus = left >= 3 && p[0] == '-' && p[1] == endc && p[2] == '}';
            bool plus = block && left >= 3 && p[0] == '+' && p[1] == endc && p[2] == '}';
            bool plain = left >= 2 && p[0] == endc && p[1] == '}';
            if (minus || plus || plain) {
                push(L, block ? JT_BLOCK_END : JT_VAR_END, L->pos);
                L->pos += plain ? 2 : 3;
                if (minus) {
                    while (L->pos < L->n && is_pyspace(L->s[L->pos]))
                        L->pos++;
                } else if (plain && block && L->pos < L->n && L->s[L->pos] == '\n') {
                    L->pos++;   /* trim_blocks */
                }
                L->line_start = L->pos > 0 && L->s[L->pos - 1] == '\n';
                return;
            }
        }
        char ch = p[0];
        if (is_name0(ch)) {
            size_t i = L->pos;
            while (i < L->n && (is_name0(L->s[i]) || is_digit(L->s[i])))
                i++;
            jtok *k = push(L, JT_NAME, L->pos);
            k->p = p;
            k->n = i - L->pos;
            L->pos = i;
        } else if (is_digit(ch)) {
            lex_number(L);
        } else if (ch == '\'' || ch == '"') {
            lex_string(L);
        } else {
            int op = 0, w = 2;
            if (left >= 2) {
                if (p[0] == '/' && p[1] == '/') op = JOP_FLOORDIV;
                else if (p[0] == '*' && p[1] == '*') op = JOP_POW;
                else if (p[0] == '=' && p[1] == '=') op = JOP_EQ;
                else if (p[0] == '!' && p[1] == '=') op = JOP_NE;
                else if (p[0] == '<' && p[1] == '=') op = JOP_LE;
                else if (p[0] == '>' && p[1] == '=') op = JOP_GE;
            }
            if (!op) {
                w = 1;
                if (strchr("+-/*%~[](){}<>=.:|,;", ch) && ch)
                    op = ch;
                else
                    jfail(L->c, line_at(L, L->pos), RF_ERR_FORMAT, "unexpected character '%c' in tag", ch);
            }
            if (op == '(' || op == '[' || op == '{')
                depth++;
            else if (op == ')' || op == ']' || op == '}') {
                if (depth == 0)
                    jfail(L->c, line_at(L, L->pos), RF_ERR_FORMAT, "unexpected '%c'", ch);
                depth--;
            }
            jtok *k = push(L, JT_OP, L->pos);
            k->op = op;
            L->pos += (size_t)w;
        }
    }
}

/* {% raw %} at `tag` (sign already parsed): returns true and consumes the
 * raw block when the tag is one. */
static bool lex_raw(lexer *L, size_t tag, size_t after_sign)
{
    size_t i = after_sign;
    while (i < L->n && is_ws(L->s[i])) i++;
    if (L->n - i < 3 || memcmp(L->s + i, "raw", 3))
        return false;
    i += 3;
    while (i < L->n && is_ws(L->s[i])) i++;
    if (L->n - i >= 3 && L->s[i] == '-' && L->s[i + 1] == '%' && L->s[i + 2] == '}') {
        i += 3;
        while (i < L->n && is_pyspace(L->s[i])) i++;
    } else if (L->n - i >= 2 && L->s[i] == '%' && L->s[i + 1] == '}') {
        i += 2;
    } else {
        return false;
    }
    /* find {%[-+]? endraw [-+]?%} */
    size_t body = i;
    for (size_t k = body; k + 1 < L->n; k++) {
        if (L->s[k] != '{' || L->s[k + 1] != '%')
            continue;
        size_t m = k + 2;
        char sign = 0;
        if (m < L->n && (L->s[m] == '-' || L->s[m] == '+')) sign = L->s[m++];
        while (m < L->n && is_ws(L->s[m])) m++;
        if (L->n - m < 6 || memcmp(L->s + m, "endraw", 6))
            continue;
        m += 6;
        while (m < L->n && is_ws(L->s[m])) m++;
        size_t end;
        if (L->n - m >= 3 && (L->s[m] == '-' || L->s[m] == '+') && L->s[m + 1] == '%' && L->s[m + 2] == '}') {
            end = m + 3;
            if (L->s[m] == '-')
                while (end < L->n && is_pyspace(L->s[end])) end++;
        } else if (L->n - m >= 2 && L->s[m] == '%' && L->s[m + 1] == '}') {
            end = m + 2;
            if (end < L->n && L->s[end] == '\n') end++;
        } else {
            continue;
        }
        L->line_start = false;
        emit_text(L, body, k, sign, true);
        L->pos = end;
        L->line_start = L->s[end - 1] == '\n';
        return true;
    }
    jfail(L->c, line_at(L, tag), RF_ERR_FORMAT, "missing {%% endraw %%}");
}

jtok *jinja_lex(jctx *c, const char *src0, size_t len0, int *n_tok)
{
    /* normalize \r\n and \r to \n; drop one trailing newline */
    char *s = jalloc(c, len0 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len0; i++) {
        if (src0[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len0 && src0[i + 1] == '\n')
                i++;
        } else {
            s[n++] = src0[i];
        }
    }
    if (n && s[n - 1] == '\n')
        n--;
    s[n] = 0;

    lexer L = {.c = c, .s = s, .n = n, .line = 1, .line_start = true};
    while (L.pos < n) {
        /* next tag start */
        size_t t = L.pos;
        char kind = 0;
        for (; t + 1 < n; t++)
            if (s[t] == '{' && (s[t + 1] == '{' || s[t + 1] == '%' || s[t + 1] == '#')) {
                kind = s[t + 1];
                break;
            }
        if (!kind) {
            emit_text(&L, L.pos, n, 0, false);
            break;
        }
        size_t a = t + 2;
        char sign = 0;
        if (a < n && (s[a] == '-' || s[a] == '+')) {
            sign = s[a];
            a++;
        }
        if (kind == '%') {
            /* the text before {% raw %} gets the same rules as before any block */
            emit_text(&L, L.pos, t, sign, true);
            if (lex_raw(&L, t, a))
                continue;
            push(&L, JT_BLOCK_BEGIN, t);
            L.pos = a;
            lex_tag(&L, true, t);
        } else if (kind == '{') {
            emit_text(&L, L.pos, t, sign == '-' ? '-' : 0, false);
            push(&L, JT_VAR_BEGIN, t);
            L.pos = a;
            lex_tag(&L, false, t);
        } else {
            emit_text(&L, L.pos, t, sign, true);
            size_t q = a;
            while (q + 1 < n && !(s[q] == '#' && s[q + 1] == '}'))
                q++;
            if (q + 1 >= n)
                jfail(c, line_at(&L, t), RF_ERR_FORMAT, "missing end of comment tag");
            size_t end = q + 2;
            if (q > a && s[q - 1] == '-') {
                while (end < n && is_pyspace(s[end])) end++;
            } else if (!(q > a && s[q - 1] == '+')) {
                if (end < n && s[end] == '\n') end++;
            }
            L.pos = end;
            L.line_start = s[end - 1] == '\n';
        }
    }
    push(&L, JT_EOF, n);
    *n_tok = L.n_tok;
    return L.toks;
}
