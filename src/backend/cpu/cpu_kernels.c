/* cpu_kernels.c — variant selection and the matmul driver.
 *
 * The driver quantizes the activations once per call (into the caller's
 * scratch, split over threads by token), then splits the output into
 * (row block x token block) tiles that threads take in order. Inside a tile
 * the weight rows (a few KB) stay in L1 while every token of the block
 * streams past them, so each weight byte comes from memory once per call
 * however many tokens there are. Every output is one dot product computed
 * the same way whatever the tile or thread count, so results do not depend
 * on batch composition.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "base/base.h"

/* -------------------------------------------------------- variant choice */
static const rf_cpu_isa_kernels *isa_table(rf_cpu_isa isa)
{
    switch (isa) {
    case RF_ISA_SCALAR: return rf_cpu_kernels_scalar();
    case RF_ISA_AVX2: return rf_cpu_kernels_avx2();
    case RF_ISA_AVX512: return rf_cpu_kernels_avx512();
    case RF_ISA_AMX: return rf_cpu_kernels_amx();
    case RF_ISA_NEON: return rf_cpu_kernels_neon();
    default: return NULL;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* CPU and OS support from cpuid / xgetbv (compilers disagree on which
 * names __builtin_cpu_supports knows, e.g. "f16c"). The OS must save the
 * AVX (and for AVX-512 the opmask and ZMM) register state. */
typedef struct x86_features { bool avx2_fma_f16c, avx512_vnni; } x86_features;

static x86_features x86_detect(void)
{
    x86_features f = {false, false};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), f16c = c & (1u << 29);
    if (!osxsave) return f;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    const bool os_avx = (xlo & 0x6) == 0x6, os_avx512 = (xlo & 0xE6) == 0xE6;
    if (__get_cpuid_max(0, NULL) < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
    const bool vnni = c & (1u << 11);
    f.avx2_fma_f16c = os_avx && avx2 && fma && f16c;
    f.avx512_vnni = f.avx2_fma_f16c && os_avx512 && avx512f && avx512bw && avx512vl && vnni;
    return f;
}
#endif

static bool isa_available(rf_cpu_isa isa)
{
    if (!isa_table(isa)) return false;
    switch (isa) {
    case RF_ISA_SCALAR: return true;
#if defined(__x86_64__) || defined(__i386__)
    case RF_ISA_AVX2: return x86_detect().avx2_fma_f16c;
    case RF_ISA_AVX512: return x86_detect().avx512_vnni;
    case RF_ISA_AMX: return x86_detect().avx512_vnni && rf_cpu_amx_usable();
#endif
#if defined(__aarch64__)
    case RF_ISA_NEON: return true;
#endif
    default: return false;
    }
}

/* The merged table in use: the variant's entries, scalar where it has none.
 * active_packs[t]: the variant has its own packed kernel for t (else
 * weights of type t are not worth packing; packed ones still work, through
 * the scalar packed kernel). */
static rf_cpu_isa_kernels active;
static bool active_packs[RF_TYPE_COUNT];
static _Atomic int active_isa = -1;

static void install(rf_cpu_isa isa)
{
    const rf_cpu_isa_kernels *s = rf_cpu_kernels_scalar(), *v = isa_table(isa);
    rf_cpu_isa_kernels k = *s;
    for (int t = 0; t < RF_TYPE_COUNT; t++) {
        if (v->dot[t]) {
            k.dot[t] = v->dot[t];
            k.tile[t] = v->tile[t];
        }
        active_packs[t] = v->packed[t] != NULL;
        if (v->packed[t]) k.packed[t] = v->packed[t];
    }
    if (v->f16_row) k.f16_row = v->f16_row;
    if (v->act_q8) k.act_q8 = v->act_q8;
    if (v->act_q8k) k.act_q8k = v->act_q8k;
    active = k;
    atomic_store(&active_isa, (int)isa);
}

rf_cpu_isa rf_cpu_kernels_init(void)
{
    int cur = atomic_load(&active_isa);
    if (cur >= 0) return (rf_cpu_isa)cur;
    rf_cpu_isa best = RF_ISA_SCALAR;
    const rf_cpu_isa order[] = {RF_ISA_AMX, RF_ISA_AVX512, RF_ISA_AVX2, RF_ISA_NEON};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (isa_available(order[i])) {
            best = order[i];
            break;
        }
    }
    /* RF_CPU_ISA=scalar|avx2|avx512|amx|neon caps the choice (the results
     * are the same bits either way; this is for measuring). Unknown or
     * unavailable names are ignored. */
    const char *want = getenv("RF_CPU_ISA");
    for (int i = 0; want && i < RF_ISA_COUNT; i++)
        if (!strcmp(want, rf_cpu_isa_name((rf_cpu_isa)i)) && isa_available((rf_cpu_isa)i)) best = (rf_cpu_isa)i;
    install(best);
    return best;
}

bool rf_cpu_kernels_force(rf_cpu_isa isa)
{
    if ((unsigned)isa >= RF_ISA_COUNT || !isa_available(isa)) return false;
    install(isa);
    return true;
}

const char *rf_cpu_isa_name(rf_cpu_isa isa)
{
    static const char *names[RF_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon", "amx"};
    return (unsigned)isa < RF_ISA_COUNT ? names[isa] : "unknown";
}

/* ------------------------------------------------------ type properties */
rf_act_kind rf_cpu_act_kind(rf_type t)
{
    switch (t) {
    case RF_TYPE_F32: case RF_TYPE_F16: case RF_TYPE_BF16: return RF_ACT_F32;
    case RF_TYPE_Q4_0: case RF_TYPE_Q4_1: case RF_TYPE_Q5_0: case RF_TYPE_Q5_1: case RF_TYPE_Q8_0:
    case RF_TYPE_IQ4_NL: case RF_TYPE_MXFP4: return RF_ACT_Q8;
    case RF_TYPE_Q2_K: case RF_TYPE_Q3_K: case RF_TYPE_Q4_K: case RF_TYPE_Q5_K: case RF_TYPE_Q6_K:
    case RF_TYPE_IQ4_XS: return RF_ACT_Q8K;
    default: return RF_ACT_NONE;
    }
}

bool rf_cpu_matmul_supports(rf_type t) { return rf_cpu_act_kind(t) != RF_ACT_NONE; }

/* Bytes of one activation row, rounded to 64 so rows stay aligned. */
static size_t act_row_bytes(rf_act_kind k, int64_t n_cols)
{
    size_t b = 0;
    if (k == RF_ACT_Q8) b = (size_t)(n_cols / 32) * sizeof(rf_act_q8);
    else if (k == RF_ACT_Q8K) b = (size_t)(n_cols / 256) * sizeof(rf_block_q8_K);
    return (b + 63) & ~(size_t)63;
}

size_t rf_cpu_matmul_scratch_size(rf_type wtype, int64_t n_cols, int64_t n_tok)
{
    rf_act_kind k = rf_cpu_act_kind(wtype);
    if (k == RF_ACT_NONE || k == RF_ACT_F32 || n_cols <= 0 || n_tok <= 0) return 0;
    return act_row_bytes(k, n_cols) * (size_t)n_tok;
}

/* ---------------------------------------------------------------- driver */
#define ROW_BLOCK 16
#define TOK_BLOCK 64

typedef struct matmul_job {
    rf_cpu_dot_fn dot;
    rf_cpu_tile_fn tile;
    rf_cpu_packed_fn packed;   /* set: w is in the rf_cpu_pack layout */
    rf_cpu_act_fn act;
    const uint8_t *w;
    size_t w_stride;
    int64_t n_rows, n_cols, n_tok;
    const float *x;
    const uint8_t *xa;     /* activations in the dot's format */
    size_t xa_stride;
    uint8_t *scratch;
    float *y;
    int64_t row_block, n_row_blocks, n_tok_blocks;
} matmul_job;

static void job_quantize(void *arg, int ith, int nth)
{
    matmul_job *j = arg;
    for (int64_t t = ith; t < j->n_tok; t += nth) j->act(j->x + t * j->n_cols, j->scratch + (size_t)t * j->xa_stride, j->n_cols);
}

static void job_dot(void *arg, int ith, int nth)
{
    matmul_job *j = arg;
    const int64_t n_items = j->n_row_blocks * j->n_tok_blocks;
    const int64_t i0 = n_items * ith / nth, i1 = n_items * (ith + 1) / nth;
    for (int64_t it = i0; it < i1; it++) {
        /* row-block-major: consecutive items of a thread share weight rows */
        const int64_t rb = it / j->n_tok_blocks, tb = it % j->n_tok_blocks;
        const int64_t r0 = rb * j->row_block, t0 = tb * TOK_BLOCK;
        const int nr = (int)(r0 + j->row_block <= j->n_rows ? j->row_block : j->n_rows - r0);
        const int nt = (int)(t0 + TOK_BLOCK <= j->n_tok ? TOK_BLOCK : j->n_tok - t0);
        const uint8_t *x = j->xa + (size_t)t0 * j->xa_stride;
        float *y = j->y + t0 * j->n_rows + r0;
        if (j->packed) {
            /* w_stride is the bytes of a group */
            j->packed(j->n_cols, j->w + (size_t)(r0 / RF_CPU_PACK_ROWS) * j->w_stride, nr, x, j->xa_stride, nt, y,
                      j->n_rows);
            continue;
        }
        const uint8_t *w = j->w + (size_t)r0 * j->w_stride;
        if (j->tile) {
            j->tile(j->n_cols, w, j->w_stride, nr, x, j->xa_stride, nt, y, j->n_rows);
            continue;
        }
        for (int t = 0; t < nt; t++)
            for (int r = 0; r < nr; r++)
                y[t * j->n_rows + r] = j->dot(j->n_cols, w + (size_t)r * j->w_stride, x + (size_t)t * j->xa_stride);
    }
}

/* Quantizes the activations, then runs the tiles (plain or packed). */
static void matmul_run(rf_threadpool *pool, matmul_job *j, rf_act_kind kind, void *scratch)
{
    if (kind == RF_ACT_F32) {
        j->xa = (const uint8_t *)j->x;
        j->xa_stride = (size_t)j->n_cols * sizeof(float);
    } else {
        j->act = kind == RF_ACT_Q8 ? active.act_q8 : active.act_q8k;
        j->scratch = scratch;
        j->xa = scratch;
        j->xa_stride = act_row_bytes(kind, j->n_cols);
        rf_threadpool_run(j->n_tok > 1 ? pool : NULL, job_quantize, j);
    }
    int nth = rf_threadpool_size(pool);
    if (j->packed) {
        /* two groups per item: the kernels' widest pass */
        j->row_block = 2 * RF_CPU_PACK_ROWS;
    } else {
        /* Row blocks small enough that every thread gets work on a matvec. */
        j->row_block = ROW_BLOCK;
        while (j->row_block > 1 && j->n_tok <= TOK_BLOCK && (j->n_rows + j->row_block - 1) / j->row_block < 4 * nth)
            j->row_block /= 2;
    }
    j->n_row_blocks = (j->n_rows + j->row_block - 1) / j->row_block;
    j->n_tok_blocks = (j->n_tok + TOK_BLOCK - 1) / TOK_BLOCK;
    rf_threadpool_run(j->n_row_blocks * j->n_tok_blocks > 1 ? pool : NULL, job_dot, j);
}

size_t rf_cpu_pack_size(rf_type t, int64_t n_rows, int64_t n_cols)
{
    rf_cpu_kernels_init();
    const size_t gb = rf_cpu_pack_block_bytes(t);
    const rf_type_traits *tr = rf_type_get((uint32_t)t);
    if (!gb || !tr || (unsigned)t >= RF_TYPE_COUNT || !active_packs[t] || n_rows <= 0 || n_cols <= 0 ||
        n_cols % tr->block_size)
        return 0;
    const uint64_t n_groups = ((uint64_t)n_rows + RF_CPU_PACK_ROWS - 1) / RF_CPU_PACK_ROWS;
    const uint64_t n_blocks = (uint64_t)n_cols / tr->block_size;
    uint64_t bytes;
    if (rf_mul_ovf(n_groups, n_blocks, &bytes) || rf_mul_ovf(bytes, gb, &bytes) || bytes > SIZE_MAX) return 0;
    return (size_t)bytes;
}

rf_status rf_cpu_matmul_packed(rf_threadpool *pool, rf_type wtype, const void *w, int64_t n_rows, int64_t n_cols,
                               const float *x, int64_t n_tok, float *y, void *scratch, rf_error *err)
{
    rf_cpu_kernels_init();
    const size_t gb = rf_cpu_pack_block_bytes(wtype);
    const rf_type_traits *tr = rf_type_get((uint32_t)wtype);
    if (!gb || !tr)
        return rf_err(err, RF_ERR_UNSUPPORTED, "cpu matmul: type %s has no packed layout", rf_type_name((uint32_t)wtype));
    if (!w || !x || !y || !scratch || n_rows <= 0 || n_cols <= 0 || n_tok <= 0 || n_cols % tr->block_size)
        return rf_err(err, RF_ERR_INVALID_ARG, "cpu matmul (packed %s): bad operands (rows %lld, cols %lld, tokens %lld)",
                      tr->name, (long long)n_rows, (long long)n_cols, (long long)n_tok);
    matmul_job j = {
        .packed = active.packed[wtype], .w = w, .w_stride = (size_t)(n_cols / tr->block_size) * gb,
        .n_rows = n_rows, .n_cols = n_cols, .n_tok = n_tok, .x = x, .y = y,
    };
    matmul_run(pool, &j, rf_cpu_act_kind(wtype), scratch);
    return RF_OK;
}

rf_status rf_cpu_matmul(rf_threadpool *pool, rf_type wtype, const void *w, int64_t n_rows, int64_t n_cols,
                        size_t row_stride, const float *x, int64_t n_tok, float *y, void *scratch, rf_error *err)
{
    rf_cpu_kernels_init();
    rf_act_kind kind = rf_cpu_act_kind(wtype);
    if (kind == RF_ACT_NONE)
        return rf_err(err, RF_ERR_UNSUPPORTED, "cpu matmul: weight type %s is not supported", rf_type_name((uint32_t)wtype));
    if (!w || !x || !y || n_rows <= 0 || n_cols <= 0 || n_tok <= 0)
        return rf_err(err, RF_ERR_INVALID_ARG, "cpu matmul: empty or NULL operand (rows %lld, cols %lld, tokens %lld)",
                      (long long)n_rows, (long long)n_cols, (long long)n_tok);
    uint64_t rb = rf_type_row_bytes(wtype, (uint64_t)n_cols);
    if (rb == 0)
        return rf_err(err, RF_ERR_INVALID_ARG, "cpu matmul: %lld columns is not a multiple of %s's block size",
                      (long long)n_cols, rf_type_name((uint32_t)wtype));
    if (kind == RF_ACT_Q8K && n_cols % 256)
        return rf_err(err, RF_ERR_INVALID_ARG, "cpu matmul: %lld columns is not a multiple of 256", (long long)n_cols);
    if (row_stride < rb)
        return rf_err(err, RF_ERR_INVALID_ARG, "cpu matmul: row stride %zu is less than a %s row of %lld (%llu bytes)",
                      row_stride, rf_type_name((uint32_t)wtype), (long long)n_cols, (unsigned long long)rb);
    if (kind != RF_ACT_F32 && !scratch)
        return rf_err(err, RF_ERR_INVALID_ARG, "cpu matmul: %s weights need scratch for the activations",
                      rf_type_name((uint32_t)wtype));

    matmul_job j = {
        .dot = active.dot[wtype], .tile = active.tile[wtype], .w = w, .w_stride = row_stride,
        .n_rows = n_rows, .n_cols = n_cols, .n_tok = n_tok, .x = x, .y = y,
    };
    matmul_run(pool, &j, kind, scratch);
    return RF_OK;
}

bool rf_cpu_q8_0_ggml_order(rf_type t, int64_t n_rows) { return t == RF_TYPE_Q8_0 && n_rows % 32 != 0; }

rf_status rf_cpu_matmul_q8_0_ggml(rf_threadpool *pool, const void *w, int64_t n_rows, int64_t n_cols,
                                  size_t row_stride, const float *x, int64_t n_tok, float *y, void *scratch,
                                  rf_error *err)
{
    rf_cpu_kernels_init();
    const uint64_t rb = rf_type_row_bytes(RF_TYPE_Q8_0, (uint64_t)n_cols);
    if (!w || !x || !y || !scratch || n_rows <= 0 || n_cols <= 0 || n_tok <= 0 || rb == 0 || row_stride < rb)
        return rf_err(err, RF_ERR_INVALID_ARG, "cpu matmul (Q8_0, ggml order): bad operands (rows %lld, cols %lld, "
                      "tokens %lld)", (long long)n_rows, (long long)n_cols, (long long)n_tok);
    matmul_job j = {
        .dot = rf_cpu_dot_q8_0_ggml, .w = w, .w_stride = row_stride,
        .n_rows = n_rows, .n_cols = n_cols, .n_tok = n_tok, .x = x, .y = y,
    };
    matmul_run(pool, &j, RF_ACT_Q8, scratch);
    return RF_OK;
}

void rf_cpu_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n)
{
    rf_cpu_kernels_init();
    active.f16_row(src, dst, n);
}

rf_status rf_cpu_dequantize_row(rf_type t, const void *row, float *out, int64_t n, rf_error *err)
{
    const rf_quant_ops *ops = rf_quant_get(t);
    if (!ops) return rf_err(err, RF_ERR_UNSUPPORTED, "dequantize: type %s is not supported", rf_type_name((uint32_t)t));
    const rf_type_traits *tr = rf_type_get((uint32_t)t);
    if (!row || !out || n <= 0 || !tr || n % tr->block_size)
        return rf_err(err, RF_ERR_INVALID_ARG, "dequantize %s: %lld values is not a positive multiple of the block size",
                      rf_type_name((uint32_t)t), (long long)n);
    ops->dequantize_row(row, out, n);
    return RF_OK;
}
