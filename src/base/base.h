/* base.h — small helpers shared by every layer: error filling, checked
 * arithmetic, allocation wrappers that name the caller on failure. */
#ifndef RF_BASE_H
#define RF_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rocmforge.h"

#if defined(__GNUC__)
#define RF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RF_PRINTF(a, b)
#endif

/* Fills err (when non-NULL) and returns code, so callers can write
 * `return rf_err(err, RF_ERR_FORMAT, "tensor '%s': ...", name);` */
rf_status rf_err(rf_error *err, rf_status code, const char *fmt, ...) RF_PRINTF(3, 4);

/* Checked arithmetic: return false on overflow. */
static inline bool rf_add_ovf(uint64_t a, uint64_t b, uint64_t *r) { return __builtin_add_overflow(a, b, r); }
static inline bool rf_mul_ovf(uint64_t a, uint64_t b, uint64_t *r) { return __builtin_mul_overflow(a, b, r); }

/* Allocation that never returns NULL silently: on failure fills err. */
void *rf_malloc(size_t n, rf_error *err, const char *what);
void *rf_calloc(size_t n, size_t size, rf_error *err, const char *what);

/* Monotonic time in seconds. */
double rf_time_now(void);

/* Number of online CPU cores. */
int rf_cpu_count(void);

#endif
