/* base.c — see base.h. */
#define _POSIX_C_SOURCE 200809L
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

rf_status rf_err(rf_error *err, rf_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void *rf_malloc(size_t n, rf_error *err, const char *what)
{
    void *p = malloc(n ? n : 1);
    if (!p) rf_err(err, RF_ERR_NOMEM, "out of memory allocating %zu bytes for %s", n, what);
    return p;
}

void *rf_calloc(size_t n, size_t size, rf_error *err, const char *what)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) rf_err(err, RF_ERR_NOMEM, "out of memory allocating %zu x %zu bytes for %s", n, size, what);
    return p;
}

double rf_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int rf_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

const char *rf_status_name(rf_status s)
{
    switch (s) {
    case RF_OK: return "ok";
    case RF_ERR_IO: return "io error";
    case RF_ERR_FORMAT: return "format error";
    case RF_ERR_UNSUPPORTED: return "unsupported";
    case RF_ERR_INVALID_ARG: return "invalid argument";
    case RF_ERR_NOMEM: return "out of memory";
    case RF_ERR_CONTEXT_FULL: return "context full";
    case RF_ERR_BACKEND: return "backend error";
    case RF_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

const char *rf_version(void)
{
#define RF_STR2(x) #x
#define RF_STR(x) RF_STR2(x)
    return RF_STR(RF_VERSION_MAJOR) "." RF_STR(RF_VERSION_MINOR) "." RF_STR(RF_VERSION_PATCH);
}
