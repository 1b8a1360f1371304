/* cmd_devices.c — `rocmforge devices`: the CPU (cores, the kernel variant
 * its features select) and the GPUs this build can use, with name,
 * architecture (sm_XY / gfxNNN), warp width and memory. Exit status 0 also
 * when there is no GPU (the CPU is always there). */
#include <stdio.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/gpu/gpu.h"
#include "base/base.h"
#include "cli.h"

int cmd_devices(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: rocmforge devices\n  the CPU kernel variant, and the GPUs this build can use (index for --device N)\n");
            return 0;
        }
        fprintf(stderr, "rocmforge devices: unknown argument '%s'\n", argv[i]);
        return 2;
    }
    printf("CPU: %d cores, kernels: %s\n", rf_cpu_count(), rf_cpu_isa_name(rf_cpu_kernels_init()));
    const char *vendor = rf_gpu_vendor();
    int n = rf_gpu_device_count();
    printf("GPU backend: %s\n", strcmp(vendor, "none") ? vendor : "none (built without GPU support)");
    if (n <= 0) {
        printf("no GPU found; rocmforge runs on the CPU\n");
        return 0;
    }
    printf("%-3s %-32s %-8s %-5s %-5s %12s %12s\n", "#", "name", "arch", "warp", "CUs", "memory MiB", "free MiB");
    for (int i = 0; i < n; i++) {
        rf_gpu_device_info d;
        rf_error err = {0};
        if (rf_gpu_device_get(i, &d, &err) != RF_OK) {
            printf("%-3d error: %s\n", i, err.msg);
            continue;
        }
        printf("%-3d %-32s %-8s %-5d %-5d %12.0f %12.0f\n", i, d.name, d.arch, d.warp, d.n_sm,
               d.mem_total / 1048576.0, d.mem_free / 1048576.0);
    }
    return 0;
}
