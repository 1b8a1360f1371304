/* stop.c — stop strings over streamed text (rf_stop_set, see rocmforge.h).
 *
 * The caller owns the growing output; we only scan it. Invariant: no stop
 * string starts before the n_safe returned by a scan, so the next scan can
 * begin at that offset. A stop string found returns its start; otherwise the
 * longest tail of the text that is a proper prefix of some stop string is
 * held back (n_safe = len - that tail). Stop strings are a handful of short
 * byte strings, so plain comparisons beat any automaton here.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

struct rf_stop_set {
    int n;
    size_t *len;     /* (n) */
    char **s;        /* (n) NUL-terminated copies, non-empty */
};

rf_status rf_stop_set_create(const char *const *stops, int n_stops, rf_stop_set **out, rf_error *err)
{
    if (!out)
        return rf_err(err, RF_ERR_INVALID_ARG, "stop strings: NULL output handle");
    *out = NULL;
    if (n_stops < 0 || (n_stops > 0 && !stops))
        return rf_err(err, RF_ERR_INVALID_ARG, "stop strings: bad count %d", n_stops);
    rf_stop_set *ss = rf_calloc(1, sizeof *ss, err, "stop set");
    if (!ss)
        return RF_ERR_NOMEM;
    if (n_stops > 0) {
        ss->len = rf_calloc((size_t)n_stops, sizeof *ss->len, err, "stop set");
        ss->s = rf_calloc((size_t)n_stops, sizeof *ss->s, err, "stop set");
        if (!ss->len || !ss->s) {
            rf_stop_set_free(ss);
            return RF_ERR_NOMEM;
        }
    }
    for (int i = 0; i < n_stops; i++) {
        if (!stops[i] || !stops[i][0])
            continue;   /* an empty stop string would stop at once: ignore it */
        size_t l = strlen(stops[i]);
        char *c = rf_malloc(l + 1, err, "stop string");
        if (!c) {
            rf_stop_set_free(ss);
            return RF_ERR_NOMEM;
        }
        memcpy(c, stops[i], l + 1);
        ss->s[ss->n] = c;
        ss->len[ss->n] = l;
        ss->n++;
    }
    *out = ss;
    return RF_OK;
}

long rf_stop_set_scan(const rf_stop_set *ss, const char *text, size_t len, size_t from, size_t *n_safe)
{
    if (from > len)
        from = len;
    if (!ss || ss->n == 0 || !text) {
        if (n_safe) *n_safe = len;
        return -1;
    }
    /* earliest full match starting at or after `from` */
    long best = -1;
    for (int i = 0; i < ss->n; i++) {
        size_t l = ss->len[i];
        for (size_t p = from; p + l <= len; p++) {
            if (best >= 0 && (long)p >= best)
                break;
            if (text[p] == ss->s[i][0] && !memcmp(text + p, ss->s[i], l)) {
                best = (long)p;
                break;
            }
        }
    }
    if (best >= 0) {
        if (n_safe) *n_safe = (size_t)best;
        return best;
    }
    /* hold back the longest tail that could still grow into a stop string */
    size_t hold = 0;
    for (int i = 0; i < ss->n; i++) {
        size_t l = ss->len[i];
        size_t maxk = l - 1 < len - from ? l - 1 : len - from;
        for (size_t k = maxk; k > hold; k--) {
            if (!memcmp(text + len - k, ss->s[i], k)) {
                hold = k;
                break;
            }
        }
    }
    if (n_safe) *n_safe = len - hold;
    return -1;
}

void rf_stop_set_free(rf_stop_set *ss)
{
    if (!ss)
        return;
    for (int i = 0; i < ss->n; i++)
        free(ss->s[i]);
    free(ss->s);
    free(ss->len);
    free(ss);
}
