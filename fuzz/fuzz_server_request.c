/* fuzz_server_request.c — libFuzzer target for the server's request parser:
 * arbitrary bytes as a request body for each endpoint kind, through the
 * same entry point the HTTP layer uses (srv_request_parse). Under ASan and
 * UBSan this catches out-of-bounds reads, overflows and leaks (every parse,
 * failed or not, is followed by srv_request_free). The first byte picks the
 * endpoint so one corpus covers all four. */
#include <stddef.h>
#include <stdint.h>

#include "server/srv_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    srv_api api = (srv_api)(data[0] % 4);
    srv_limits lim;
    srv_limits_default(&lim);
    srv_request r;
    srv_error e;
    if (srv_request_parse((const char *)data + 1, size - 1, api, &lim, &r, &e) == 0)
        srv_request_free(&r);
    return 0;
}
