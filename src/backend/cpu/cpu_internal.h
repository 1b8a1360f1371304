/* cpu_internal.h — what the CPU kernel variants (scalar, AVX2, AVX-512,
 * NEON) share: the activation formats and the per-ISA kernel table.
 *
 * Each ISA file fills an rf_cpu_isa_kernels table; entries it leaves NULL
 * fall back to the scalar ones, so a variant can be completed type by type.
 */
#ifndef RF_CPU_INTERNAL_H
#define RF_CPU_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/cpu/cpu_kernels.h"
#include "quant/quant.h"

/* Activation block for the 32-element weight types: the scale (rounded to
 * F16 as ggml stores it, kept as a float: no conversion in the inner loop),
 * the block sum pre-multiplied by that scale (the *_1 types' min term), the
 * exact integer sum (kernels that multiply unsigned weight levels subtract
 * offset * sum in integers), and s1 as ggml's block_q8_1.s (the unrounded
 * scale times the sum, rounded to F16), which the Q4_1/Q5_1 dots use to
 * agree with llama.cpp. 48 bytes per 32 values. */
typedef struct rf_act_q8 {
    float d;        /* x ~= d * qs, d an F16 value */
    float s;        /* d * sum(qs) */
    int32_t sum;    /* sum(qs) */
    int8_t qs[32];
    float s1;       /* F16(amax / 127 * sum(qs)), an F16 value */
} rf_act_q8;
_Static_assert(sizeof(rf_act_q8) == 48, "rf_act_q8");

/* Which activation format a weight type's kernels read. */
typedef enum rf_act_kind { RF_ACT_NONE = 0, RF_ACT_F32, RF_ACT_Q8, RF_ACT_Q8K } rf_act_kind;
rf_act_kind rf_cpu_act_kind(rf_type t);

/* dot of one weight row (n values, in type t's blocks) with one activation
 * row (in rf_cpu_act_kind(t)'s format). */
typedef float (*rf_cpu_dot_fn)(int64_t n, const void *w, const void *x);

/* Tile: y[t * y_stride + r] = dot(w row r, x row t) for r < nr, t < nt.
 * Must give, for each output, exactly the value the type's dot gives (the
 * reduction order of one output never depends on the tile shape). */
typedef void (*rf_cpu_tile_fn)(int64_t n, const uint8_t *w, size_t w_stride, int nr, const uint8_t *x,
                               size_t x_stride, int nt, float *y, int64_t y_stride);

/* Packed weights (load-time repacking, rf_cpu_pack): rows in groups of
 * RF_CPU_PACK_ROWS, the group's blocks interleaved so that a SIMD lane holds
 * one row (a 512-bit vector of int32 holds the whole group): per block the
 * kernel forms each row's exact integer sum in its own lane and scales it,
 * with no horizontal sums. The layout is a property of the type, the same
 * for every ISA; the bytes are the type's own levels and scales, reordered.
 * A group of packed weight (n values per row) holds n / block_size group
 * blocks of rf_cpu_pack_block_bytes(t) each; the last group is padded with
 * zero rows. The kernel computes nr rows, from group wg on, for nt tokens:
 * y[t * y_stride + r]. Each output's arithmetic is the type's
 * one formula (see cpu_pack.c), so the result is the same bits whatever nt,
 * the tile, the thread count or the ISA. */
#define RF_CPU_PACK_ROWS 16
typedef void (*rf_cpu_packed_fn)(int64_t n, const uint8_t *wg, int nr, const uint8_t *x, size_t x_stride, int nt,
                                 float *y, int64_t y_stride);
/* Bytes of one group block (RF_CPU_PACK_ROWS rows x one block), 0 when type
 * t has no packed layout. */
size_t rf_cpu_pack_block_bytes(rf_type t);

/* Quantize one activation row of n values into the format of kind. */
typedef void (*rf_cpu_act_fn)(const float *x, void *out, int64_t n);

typedef struct rf_cpu_isa_kernels {
    rf_cpu_dot_fn dot[RF_TYPE_COUNT];
    rf_cpu_tile_fn tile[RF_TYPE_COUNT];
    rf_cpu_packed_fn packed[RF_TYPE_COUNT];   /* on the rf_cpu_pack layout */
    void (*f16_row)(const uint16_t *src, float *dst, int64_t n);   /* exact F16 -> F32 */
    rf_cpu_act_fn act_q8;    /* F32 -> rf_act_q8 */
    rf_cpu_act_fn act_q8k;   /* F32 -> rf_block_q8_K */
} rf_cpu_isa_kernels;

/* Tables of each variant; NULL when not built for this architecture. */
const rf_cpu_isa_kernels *rf_cpu_kernels_scalar(void);
const rf_cpu_isa_kernels *rf_cpu_kernels_avx2(void);
const rf_cpu_isa_kernels *rf_cpu_kernels_avx512(void);
/* AVX-512 plus AMX tiles for prompt-sized packed matmuls (cpu_amx.c). */
const rf_cpu_isa_kernels *rf_cpu_kernels_amx(void);
/* The CPU has AMX-INT8 and the OS granted this process the tile state. */
bool rf_cpu_amx_usable(void);
const rf_cpu_isa_kernels *rf_cpu_kernels_neon(void);

/* Scalar activation quantizers (also the reference of the SIMD ones). */
void rf_cpu_act_q8_scalar(const float *x, void *out, int64_t n);
void rf_cpu_act_q8k_scalar(const float *x, void *out, int64_t n);

/* Q8_0 row dot in ggml_vec_dot_q8_0_q8_0's lane order (rf_cpu_matmul_q8_0_ggml). */
float rf_cpu_dot_q8_0_ggml(int64_t n, const void *w, const void *x);

#endif
