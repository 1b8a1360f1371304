/* cpu_avx2.c — avx2 variant of the CPU dot products (being written; until then
 * the scalar kernels serve). */
#include "backend/cpu/cpu_internal.h"

const rf_cpu_isa_kernels *rf_cpu_kernels_avx2(void) { return NULL; }
