/* cpu_neon.c — neon variant of the CPU dot products (being written; until then
 * the scalar kernels serve). */
#include "backend/cpu/cpu_internal.h"

const rf_cpu_isa_kernels *rf_cpu_kernels_neon(void) { return NULL; }
