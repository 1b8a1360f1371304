/* cpu_amx.c — prompt matmuls on Intel AMX tiles (Sapphire Rapids and later).
 *
 * The "amx" variant is the AVX-512 one with the packed-weight kernels
 * replaced for 16 tokens and more: one TDPBSSD / TDPBSUD forms, for 16 tokens
 * x 16 weight rows at once, the exact integer sum of one block (Q4_0, Q8_0,
 * IQ4_NL: 32 values) or one sub-block (Q4_K, Q5_K, IQ4_XS: 32, Q6_K: 16), which the AVX-512
 * epilogue then scales into the float accumulators exactly as the vector
 * kernels do (cpu_pack.c lists the formulas). The integer sums are exact
 * whatever unit forms them, so every output keeps the same bits as the
 * decode path, the scalar reference and any batch shape.
 *
 * Tiles: C (tokens x rows, int32) is tile 0/1; A, the activations (tokens x
 * 32 bytes, or 16 bytes for Q6_K's sub-blocks), is read straight from the
 * quantized activation rows with their row stride; B, the weights, is the
 * packed layout's own shape (a 64-byte run holds 16 rows' 4 values of one
 * quad, i.e. one row of a B tile), with the levels made plain bytes (signed
 * for the 32-value types, unsigned for the K-quants) by an unpack pass per
 * chunk of blocks that all the token tiles of the call then reuse. Fewer
 * than 16 tokens left over go to the AVX-512 kernels.
 *
 * Linux hands out the AMX register state on request (arch_prctl
 * ARCH_REQ_XCOMP_PERM); rf_cpu_amx_usable asks once. Each call loads the tile
 * configuration on its thread and releases the tiles before returning.
 */
#include <stdbool.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"

#if defined(__x86_64__) && defined(__AMX_TILE__) && defined(__AMX_INT8__) && defined(__AVX512F__) && \
    defined(__AVX512BW__) && defined(__AVX512VNNI__)
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#define G RF_CPU_PACK_ROWS
#define TT 16                        /* tokens per tile */
#define ARCH_REQ_XCOMP_PERM_ 0x1023
#define XFEATURE_XTILEDATA_ 18

static bool amx_ok;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 0xD) return;
    __cpuid_count(7, 0, a, b, c, d);
    const bool tile = d & (1u << 24), int8 = d & (1u << 25);
    if (!tile || !int8) return;
    __cpuid(1, a, b, c, d);
    if (!(c & (1u << 27))) return;   /* OSXSAVE */
    /* The tile data state is granted per process on request; the kernel
     * says no when it does not manage it. */
    amx_ok = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM_, XFEATURE_XTILEDATA_) == 0;
}

bool rf_cpu_amx_usable(void)
{
    pthread_once(&amx_once, amx_probe);
    return amx_ok;
}

typedef struct amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg;

/* File-scope constants: GCC 12 drops stores to a local configuration it
 * believes LDTILECFG does not read. Tiles 0, 1: C (tokens x 16 int32);
 * 2, 3: A (tokens x K bytes); 4, 5: B (K / 4 quads x 16 rows x 4 bytes). */
static const amx_cfg amx_k32 = {.palette = 1, .colsb = {64, 64, 32, 32, 64, 64}, .rows = {TT, TT, TT, TT, 8, 8}};
static const amx_cfg amx_k16 = {.palette = 1, .colsb = {64, 64, 16, 16, 64, 64}, .rows = {TT, TT, TT, TT, 4, 4}};

static inline __mmask16 row_mask(int rows) { return rows >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rows) - 1); }

static inline const rf_act_q8 *act32(const uint8_t *xb, size_t xs, int t, int64_t b)
{
    return (const rf_act_q8 *)(xb + (size_t)t * xs) + b;
}
static inline const rf_block_q8_K *act256(const uint8_t *xb, size_t xs, int t, int64_t b)
{
    return (const rf_block_q8_K *)(xb + (size_t)t * xs) + b;
}

/* One kernel, specialised per weight kind (every helper is inlined with the
 * kind a constant). Per group of 16 rows the blocks are unpacked a 16 KB
 * chunk at a time; per 16 tokens each block is a "unit": its tile products
 * (one for the 32-value types, one per sub-block for the K-quants) go to C
 * buffers, and unit b + 1's products are issued before unit b's epilogue, so
 * the tile unit works while the vector units scale. */
enum { AK_Q4_0, AK_Q8_0, AK_IQ4_NL, AK_Q4_K, AK_Q5_K, AK_Q6_K, AK_IQ4_XS };
#define AK_SUPER(kind) ((kind) >= AK_Q4_K)
#define AK_QK(kind) (AK_SUPER(kind) ? 256 : 32)      /* values per block */
#define AK_UB(kind) (AK_SUPER(kind) ? 4096 : 512)    /* unpacked bytes per block */
#define AK_CHUNK 16384
#define AMX_INLINE static inline __attribute__((always_inline))

/* A group block's levels as plain bytes, each (sub-)block a B tile: row k =
 * quad k (values 4k..4k+3) of the 16 rows. Signed for the 32-value types;
 * the K-quants' levels (4, 5, 6 bits) stay unsigned (TDPBSUD); IQ4_XS's are
 * its signed codebook values. */
AMX_INLINE void unpack(int kind, const uint8_t *blk, uint8_t *out)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    if (kind == AK_Q8_0) {
        const __m512i flip = _mm512_set1_epi8((char)0x80);
        for (int k = 0; k < 8; k++)
            _mm512_store_si512((void *)(out + 64 * k), _mm512_xor_si512(_mm512_loadu_si512(blk + 2 * G + 64 * k), flip));
    } else if (kind == AK_IQ4_XS) {
        /* sub-block ib laid out as an IQ4_NL block: signed codebook levels */
        const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)rf_kvalues_iq4nl));
        for (int ib = 0; ib < 8; ib++)
            for (int j = 0; j < 4; j++) {
                const __m512i v = _mm512_loadu_si512(blk + 10 * G + 256 * ib + 64 * j);
                _mm512_store_si512((void *)(out + 512 * ib + 64 * j), _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m4)));
                _mm512_store_si512((void *)(out + 512 * ib + 64 * (j + 4)),
                                   _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4)));
            }
    } else if (kind == AK_Q4_0 || kind == AK_IQ4_NL) {
        const __m512i eight = _mm512_set1_epi8(8);
        const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)rf_kvalues_iq4nl));
        for (int j = 0; j < 4; j++) {
            const __m512i v = _mm512_loadu_si512(blk + 2 * G + 64 * j);
            __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            if (kind == AK_IQ4_NL) {
                lo = _mm512_shuffle_epi8(lut, lo);
                hi = _mm512_shuffle_epi8(lut, hi);
            } else {
                lo = _mm512_sub_epi8(lo, eight);
                hi = _mm512_sub_epi8(hi, eight);
            }
            _mm512_store_si512((void *)(out + 64 * j), lo);
            _mm512_store_si512((void *)(out + 64 * (j + 4)), hi);
        }
    } else if (kind == AK_Q4_K || kind == AK_Q5_K) {
        /* run c: low nibbles = sub-block 2(c/8) quad c%8, high = sub-block 2(c/8)+1;
         * Q5_K's fifth bits: bit j of qh run c%8 for sub-block j */
        const uint8_t *q = blk + 20 * G, *qh = q + 2048;
        const __m512i one = _mm512_set1_epi8(1);
        for (int c = 0; c < 32; c++) {
            const __m512i v = _mm512_loadu_si512(q + 64 * c);
            const int sb = 2 * (c / 8), k = c % 8;
            __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            if (kind == AK_Q5_K) {
                const __m512i hb = _mm512_loadu_si512(qh + 64 * k);
                lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, (unsigned)sb), one), 4));
                hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, (unsigned)sb + 1), one), 4));
            }
            _mm512_store_si512((void *)(out + 512 * sb + 64 * k), lo);
            _mm512_store_si512((void *)(out + 512 * (sb + 1) + 64 * k), hi);
        }
    } else {
        /* quad c and c + 32: low / high nibble of ql run c, top bits from qh run c % 16 */
        const __m512i m3 = _mm512_set1_epi8(0x03);
        const uint8_t *ql = blk + 18 * G, *qh = ql + 32 * 64;
        for (int c = 0; c < 32; c++) {
            const __m512i v = _mm512_loadu_si512(ql + 64 * c), hb = _mm512_loadu_si512(qh + 64 * (c % 16));
            const unsigned sh = 2u * (unsigned)(c / 16);
            /* 16-bit shifts: the bits kept never cross a byte */
            const __m512i h0 = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, sh), m3), 4);
            const __m512i h1 = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, sh + 4), m3), 4);
            _mm512_store_si512((void *)(out + 64 * c), _mm512_or_si512(_mm512_and_si512(v, m4), h0));
            _mm512_store_si512((void *)(out + 64 * (c + 32)),
                               _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), h1));
        }
    }
}

/* C = A (tokens x K) . B (K x 16 rows), into cb; tiles C, A, B as given */
#define AMX_DP(DP, C, A, B, a, b, cb)   \
    do {                                \
        _tile_zero(C);                  \
        _tile_loadd(A, a, (long)xs);    \
        _tile_loadd(B, b, 64);          \
        DP(C, A, B);                    \
        _tile_stored(C, cb, 64);        \
    } while (0)

/* Unit b's tile products: cu[0] (32-value types, on tile set par) or
 * cu[j] for sub-block j (both tile sets, two sub-blocks at a time). */
AMX_INLINE void tiles(int kind, const uint8_t *xb, size_t xs, int t0, int64_t b, const uint8_t *o,
                      int32_t (*cu)[TT * 16], int par)
{
    if (!AK_SUPER(kind)) {
        const int8_t *a = act32(xb, xs, t0, b)->qs;
        if (par) AMX_DP(_tile_dpbssd, 1, 3, 5, a, o, cu[0]);
        else AMX_DP(_tile_dpbssd, 0, 2, 4, a, o, cu[0]);
        return;
    }
    const int8_t *xq = act256(xb, xs, t0, b)->qs;
    const int nsub = kind == AK_Q6_K ? 16 : 8, kv = kind == AK_Q6_K ? 16 : 32;   /* sub-blocks, values each */
    for (int j = 0; j < nsub; j += 2) {
        if (kind == AK_IQ4_XS) {
            AMX_DP(_tile_dpbssd, 0, 2, 4, xq + kv * j, o + 16 * kv * j, cu[j]);
            AMX_DP(_tile_dpbssd, 1, 3, 5, xq + kv * (j + 1), o + 16 * kv * (j + 1), cu[j + 1]);
        } else {
            AMX_DP(_tile_dpbsud, 0, 2, 4, xq + kv * j, o + 16 * kv * j, cu[j]);
            AMX_DP(_tile_dpbsud, 1, 3, 5, xq + kv * (j + 1), o + 16 * kv * (j + 1), cu[j + 1]);
        }
    }
}

/* The type's formula (cpu_pack.c) on unit b's integer sums, into acc. */
AMX_INLINE void epilogue(int kind, __m512 acc[TT], int32_t (*cu)[TT * 16], const uint8_t *blk, const uint8_t *xb,
                         size_t xs, int t0, int64_t b)
{
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
    if (!AK_SUPER(kind)) {
#pragma GCC unroll 16
        for (int t = 0; t < TT; t++) {
            const __m512 s = _mm512_cvtepi32_ps(_mm512_load_si512((const void *)(cu[0] + 16 * t)));
            acc[t] = _mm512_fmadd_ps(s, _mm512_mul_ps(dw, _mm512_set1_ps(act32(xb, xs, t0 + t, b)->d)), acc[t]);
        }
    } else if (kind == AK_Q4_K || kind == AK_Q5_K) {
        const uint8_t *sc = blk + 4 * G, *mn = blk + 12 * G;
        __m512i scv[8], m16[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            scv[j] = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(sc + G * j)));
            const __m512i mm = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(mn + G * j)));
            m16[j] = _mm512_or_si512(mm, _mm512_slli_epi32(mm, 16));
        }
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + 2 * G)));
        for (int t = 0; t < TT; t++) {
            const rf_block_q8_K *x = act256(xb, xs, t0 + t, b);
            __m512i is = _mm512_setzero_si512(), ms = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                is = _mm512_add_epi32(is, _mm512_mullo_epi32(_mm512_load_si512((const void *)(cu[j] + 16 * t)), scv[j]));
                int32_t pr;
                memcpy(&pr, x->bsums + 2 * j, 4);
                ms = _mm512_dpwssd_epi32(ms, m16[j], _mm512_set1_epi32(pr));
            }
            const __m512 dx = _mm512_set1_ps(x->d);
            if (kind == AK_Q5_K) {
                acc[t] = _mm512_add_ps(acc[t], _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(dx, dw), _mm512_cvtepi32_ps(is)),
                                                             _mm512_mul_ps(_mm512_mul_ps(dx, dmin), _mm512_cvtepi32_ps(ms))));
            } else {
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw, dx), acc[t]);
                acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms), _mm512_mul_ps(dmin, dx), acc[t]);
            }
        }
    } else if (kind == AK_IQ4_XS) {
        const uint8_t *sc = blk + 2 * G;
        __m512i scv[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) scv[j] = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(sc + G * j)));
        for (int t = 0; t < TT; t++) {
            __m512i is = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++)
                is = _mm512_add_epi32(is, _mm512_mullo_epi32(_mm512_load_si512((const void *)(cu[j] + 16 * t)), scv[j]));
            const __m512 dx = _mm512_set1_ps(act256(xb, xs, t0 + t, b)->d);
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(dx, dw), _mm512_cvtepi32_ps(is)));
        }
    } else {
        const uint8_t *sc = blk + 2 * G;
        const __m512i lo16 = _mm512_set1_epi32(0xFFFF);
        __m512i scv[16], sc16[8];
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) scv[j] = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(sc + G * j)));
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            sc16[i] = _mm512_or_si512(_mm512_and_si512(scv[2 * i], lo16), _mm512_slli_epi32(scv[2 * i + 1], 16));
        for (int t = 0; t < TT; t++) {
            const rf_block_q8_K *x = act256(xb, xs, t0 + t, b);
            /* the level offset: -32 sum_j sc_j bsum_j */
            __m512i c = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                int32_t pr;
                memcpy(&pr, x->bsums + 2 * i, 4);
                c = _mm512_dpwssd_epi32(c, sc16[i], _mm512_set1_epi32(pr));
            }
            __m512i is = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(c, 5));
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++)
                is = _mm512_add_epi32(is, _mm512_mullo_epi32(_mm512_load_si512((const void *)(cu[j] + 16 * t)), scv[j]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw, _mm512_set1_ps(x->d)), acc[t]);
        }
    }
}

AMX_INLINE void amx_run(int kind, rf_type type, int64_t n, const uint8_t *wg, int nr, const uint8_t *xb, size_t xs,
                        int nt, float *y, int64_t ys)
{
    const int ntt = nt / TT * TT;
    if (ntt) {
        const size_t gb = rf_cpu_pack_block_bytes(type);
        const int64_t nb = n / AK_QK(kind);
        const int ub = AK_UB(kind), ch = AK_CHUNK / AK_UB(kind);
        _Alignas(64) uint8_t buf[AK_CHUNK];
        _Alignas(64) int32_t cb[2][16][TT * 16];
        _tile_loadconfig(kind == AK_Q6_K ? &amx_k16 : &amx_k32);
        for (int r0 = 0; r0 < nr; r0 += G) {
            const __mmask16 m = row_mask(nr - r0);
            const uint8_t *g = wg + (size_t)(r0 / G) * (size_t)nb * gb;
            for (int64_t c0 = 0; c0 < nb; c0 += ch) {
                const int nc = nb - c0 < ch ? (int)(nb - c0) : ch;
                for (int i = 0; i < nc; i++) unpack(kind, g + (size_t)(c0 + i) * gb, buf + (size_t)ub * i);
                for (int t0 = 0; t0 < ntt; t0 += TT) {
                    /* a chunk after the first continues the sums kept in y (exact) */
                    __m512 acc[TT];
#pragma GCC unroll 16
                    for (int t = 0; t < TT; t++)
                        acc[t] = c0 ? _mm512_maskz_loadu_ps(m, y + (int64_t)(t0 + t) * ys + r0) : _mm512_setzero_ps();
                    tiles(kind, xb, xs, t0, c0, buf, cb[0], 0);
                    for (int i = 0; i < nc; i++) {
                        if (i + 1 < nc)
                            tiles(kind, xb, xs, t0, c0 + i + 1, buf + (size_t)ub * (i + 1), cb[(i + 1) & 1], (i + 1) & 1);
                        epilogue(kind, acc, cb[i & 1], g + (size_t)(c0 + i) * gb, xb, xs, t0, c0 + i);
                    }
#pragma GCC unroll 16
                    for (int t = 0; t < TT; t++) _mm512_mask_storeu_ps(y + (int64_t)(t0 + t) * ys + r0, m, acc[t]);
                }
            }
        }
        _tile_release();
    }
    if (ntt < nt)
        rf_cpu_kernels_avx512()->packed[type](n, wg, nr, xb + (size_t)ntt * xs, xs, nt - ntt, y + (int64_t)ntt * ys, ys);
}

#define AMX_ENTRY(name, KIND, TYPE)                                                                              \
    static void amx_##name(int64_t n, const uint8_t *wg, int nr, const uint8_t *x, size_t xs, int nt, float *y, \
                           int64_t ys)                                                                           \
    {                                                                                                            \
        amx_run(KIND, TYPE, n, wg, nr, x, xs, nt, y, ys);                                                        \
    }
AMX_ENTRY(q4_0, AK_Q4_0, RF_TYPE_Q4_0)
AMX_ENTRY(q8_0, AK_Q8_0, RF_TYPE_Q8_0)
AMX_ENTRY(iq4_nl, AK_IQ4_NL, RF_TYPE_IQ4_NL)
AMX_ENTRY(q4_K, AK_Q4_K, RF_TYPE_Q4_K)
AMX_ENTRY(q5_K, AK_Q5_K, RF_TYPE_Q5_K)
AMX_ENTRY(q6_K, AK_Q6_K, RF_TYPE_Q6_K)
AMX_ENTRY(iq4_xs, AK_IQ4_XS, RF_TYPE_IQ4_XS)

static rf_cpu_isa_kernels amx_table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    amx_table = *rf_cpu_kernels_avx512();
    amx_table.packed[RF_TYPE_Q4_0] = amx_q4_0;
    amx_table.packed[RF_TYPE_Q8_0] = amx_q8_0;
    amx_table.packed[RF_TYPE_IQ4_NL] = amx_iq4_nl;
    amx_table.packed[RF_TYPE_Q4_K] = amx_q4_K;
    amx_table.packed[RF_TYPE_Q5_K] = amx_q5_K;
    amx_table.packed[RF_TYPE_Q6_K] = amx_q6_K;
    amx_table.packed[RF_TYPE_IQ4_XS] = amx_iq4_xs;
}

const rf_cpu_isa_kernels *rf_cpu_kernels_amx(void)
{
    if (!rf_cpu_kernels_avx512()) return NULL;
    pthread_once(&table_once, table_build);
    return &amx_table;
}

#else
const rf_cpu_isa_kernels *rf_cpu_kernels_amx(void) { return NULL; }
bool rf_cpu_amx_usable(void) { return false; }
#endif
