/* test_sampler_stop.c — rf_stop_set against the definition, computed with
 * libc's strstr: streaming random texts in random piece sizes over a small
 * alphabet (so stop strings and their prefixes occur often), the emitted
 * text must equal the whole text cut at the earliest occurrence of any stop
 * string, and n_safe must never shrink or pass that cut. */
#include <stdio.h>
#include <string.h>

#include "rocmforge.h"
#include "test_util.h"

static unsigned long long st = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
    st ^= st << 13; st ^= st >> 7; st ^= st << 17;
    return (unsigned)(st % n);
}

int main(void)
{
    const char *alpha = "abc";
    int fails = 0;
    for (int trial = 0; trial < 3000; trial++) {
        char stops[3][8];
        const char *sp[3];
        int n_stops = 1 + (int)rnd(3);
        for (int i = 0; i < n_stops; i++) {
            int l = 1 + (int)rnd(5);
            for (int j = 0; j < l; j++) stops[i][j] = alpha[rnd(3)];
            stops[i][l] = 0;
            sp[i] = stops[i];
        }
        char text[200];
        int len = (int)rnd(120);
        for (int i = 0; i < len; i++) text[i] = alpha[rnd(3)];
        text[len] = 0;
        /* definition, per fed prefix: generation stops at the first piece
         * after which some stop string occurs; the output is cut at the
         * earliest occurrence in that prefix (text after it never exists). */
        rf_stop_set *ss = NULL;
        CHECK(rf_stop_set_create(sp, n_stops, &ss, NULL) == RF_OK);
        size_t fed = 0, safe = 0, emitted = 0;
        long got = -1, want = -1;
        bool ok = true;
        char prefix[200];
        while (fed < (size_t)len && got < 0 && want < 0) {
            fed += 1 + rnd(6);
            if (fed > (size_t)len) fed = (size_t)len;
            memcpy(prefix, text, fed);
            prefix[fed] = 0;
            for (int i = 0; i < n_stops; i++) {
                const char *f = strstr(prefix, sp[i]);
                if (f && (want < 0 || f - prefix < want)) want = f - prefix;
            }
            size_t ns = 0;
            long r = rf_stop_set_scan(ss, text, fed, safe, &ns);
            if (ns < safe) ok = false;                      /* never takes back */
            if (want >= 0 && ns > (size_t)want) ok = false; /* never emits stop text */
            /* what was held must be a prefix of some stop string */
            if (r < 0 && ns < fed) {
                bool pre = false;
                for (int i = 0; i < n_stops; i++)
                    if (fed - ns < strlen(sp[i]) && !strncmp(text + ns, sp[i], fed - ns)) pre = true;
                if (!pre) ok = false;
            }
            safe = ns;
            if (r < 0 && ns > emitted) emitted = ns;
            if (r >= 0) got = r;
        }
        /* text already sent must end at or before the cut */
        if (got >= 0 && emitted > (size_t)got) ok = false;
        if (got != want || !ok) {
            if (fails++ < 5)
                fprintf(stderr, "text '%s' stops '%s' '%s' '%s': want %ld got %ld ok %d\n", text, sp[0],
                        n_stops > 1 ? sp[1] : "", n_stops > 2 ? sp[2] : "", want, got, ok);
        }
        rf_stop_set_free(ss);
    }
    CHECKF(fails == 0, "%d of 3000 streams wrong", fails);
    /* no stop strings: everything is safe at once */
    rf_stop_set *none = NULL;
    CHECK(rf_stop_set_create(NULL, 0, &none, NULL) == RF_OK);
    size_t ns = 0;
    CHECK(rf_stop_set_scan(none, "hello", 5, 0, &ns) == -1 && ns == 5);
    rf_stop_set_free(none);
    return rf_test_done("sampler_stop");
}
