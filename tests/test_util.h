/* test_util.h — tiny assertion helpers shared by the C tests.
 * CHECK records a failure and continues; the test exits non-zero at the end
 * when any check failed. rf_test_skip exits 77 (ctest's skip code). */
#ifndef RF_TEST_UTIL_H
#define RF_TEST_UTIL_H
#include <stdio.h>
#include <stdlib.h>

static int rf_test_failures;
static int rf_test_checks;

#define CHECK(cond) do { rf_test_checks++; if (!(cond)) { rf_test_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECKF(cond, ...) do { rf_test_checks++; if (!(cond)) { rf_test_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static inline int rf_test_done(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", name, rf_test_checks, rf_test_failures);
    return rf_test_failures ? 1 : 0;
}

static inline void rf_test_skip(const char *why)
{
    fprintf(stderr, "SKIP: %s\n", why);
    exit(77);
}

/* Directory of the reference models (../shared/models), from the
 * environment set by ctest; NULL-safe default. */
static inline const char *rf_test_models_dir(void)
{
    const char *d = getenv("RF_MODELS_DIR");
    return d ? d : "../shared/models";
}
#endif
