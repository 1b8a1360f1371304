/* cpu_avx512.c — the AVX-512 variant of the CPU dot products: the kernels of
 * cpu_x86_impl.h with u8 x s8 dot products done by VNNI's vpdpbusd, which
 * replaces the vpmaddubsw + vpmaddwd pair and never saturates: on 512-bit
 * vectors (16 rows) in the packed-weight kernels, on 256-bit ones (AVX-512
 * VL) in the row dots. Built with the AVX-512 flags in module.cmake; only
 * called after rf_cpu_kernels_init has checked the CPU. */
#include "backend/cpu/cpu_internal.h"

#if defined(__x86_64__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX2__) && defined(__FMA__) && \
    defined(__F16C__)
#define RF_X86_VNNI 1
#define RF_X86_TABLE rf_cpu_kernels_avx512
#include "backend/cpu/cpu_x86_impl.h"
#else
const rf_cpu_isa_kernels *rf_cpu_kernels_avx512(void) { return NULL; }
#endif
