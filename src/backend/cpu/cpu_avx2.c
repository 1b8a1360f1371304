/* cpu_avx2.c — the AVX2 + FMA + F16C variant of the CPU dot products (the
 * kernels live in cpu_x86_impl.h, shared with the AVX-512 VNNI variant).
 * Built with -mavx2 -mfma -mf16c (module.cmake); only called after
 * rf_cpu_kernels_init has checked the CPU. */
#include "backend/cpu/cpu_internal.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define RF_X86_VNNI 0
#define RF_X86_TABLE rf_cpu_kernels_avx2
#include "backend/cpu/cpu_x86_impl.h"
#else
const rf_cpu_isa_kernels *rf_cpu_kernels_avx2(void) { return NULL; }
#endif
