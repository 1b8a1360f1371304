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

/* Runs `rocmforge ARGS >LOG 2>&1` with the binary ctest names in RF_BIN
 * (skips the test without it); returns the shell's status. */
static inline int rf_test_run_cli(const char *args, const char *log)
{
    const char *bin = getenv("RF_BIN");
    if (!bin) rf_test_skip("RF_BIN (the rocmforge binary) not set; run through ctest");
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "%.500s %.1400s >%.300s 2>&1", bin, args, log);
    return system(cmd);
}

/* Directory of the reference models (../shared/models), from the
 * environment set by ctest; NULL-safe default. */
static inline const char *rf_test_models_dir(void)
{
    const char *d = getenv("RF_MODELS_DIR");
    return d ? d : "../shared/models";
}
#endif
