/* cmd_quantize.c — `rocmforge quantize IN OUT TYPE`: convert a GGUF model
 * to another quantization type (or llama.cpp mix such as Q4_K_M); the work
 * is rf_quantize_model (src/quant/quant_model.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "quant/quant_model.h"

static void quantize_usage(FILE *fp)
{
    fprintf(fp,
            "usage: rocmforge quantize [options] IN.gguf OUT.gguf TYPE\n"
            "  TYPE: %s\n"
            "  -t, --threads N       threads (default: all cores)\n"
            "  --allow-requantize    accept already-quantized inputs\n"
            "  -v, --verbose         print each tensor's conversion\n",
            rf_ftype_names());
}

int cmd_quantize(int argc, char **argv)
{
    rf_quantize_params p = {.n_threads = 0, .progress = true};
    const char *pos[3];
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            quantize_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "rocmforge quantize: %s needs a value\n", a);
                return 2;
            }
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1024) {
                fprintf(stderr, "rocmforge quantize: bad thread count '%s' (1..1024)\n", argv[i]);
                return 2;
            }
            p.n_threads = (int)n;
        } else if (!strcmp(a, "--allow-requantize")) {
            p.allow_requantize = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            p.verbose = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "rocmforge quantize: unknown option '%s'\n", a);
            quantize_usage(stderr);
            return 2;
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            fprintf(stderr, "rocmforge quantize: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (n_pos != 3) {
        quantize_usage(stderr);
        return 2;
    }
    if (!rf_ftype_from_name(pos[2], &p.ftype)) {
        fprintf(stderr, "rocmforge quantize: unknown type '%s' (supported: %s)\n", pos[2], rf_ftype_names());
        return 2;
    }
    if (!strcmp(pos[0], pos[1])) {
        fprintf(stderr, "rocmforge quantize: input and output are the same file\n");
        return 2;
    }
    rf_error err = {0};
    if (rf_quantize_model(pos[0], pos[1], &p, &err) != RF_OK) {
        fprintf(stderr, "rocmforge quantize: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "rocmforge quantize: wrote %s (%s)\n", pos[1], pos[2]);
    return 0;
}
