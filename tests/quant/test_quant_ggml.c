/* test_quant_ggml.c — our quantizers and dequantizers are bit-identical to
 * llama.cpp's (ggml_quantize_chunk without an importance matrix, and the
 * type traits' to_float) for every supported type, on random data of
 * several shapes: gaussian, uniform, heavy outliers, all-zero and constant
 * blocks, tiny and huge magnitudes. Also the fp16/bf16 conversions (all
 * 65536 halves; millions of floats incl. rounding ties and overflow edges)
 * and the Q8_K activation quantizer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml_ref.h"
#include "quant/quant.h"
#include "test_util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_u64(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float rng_unif(void) { return (float)((rng_u64() >> 40) * (1.0 / 16777216.0)); } /* [0,1) */
static float rng_gauss(void)
{
    float u = rng_unif() + 1e-7f, v = rng_unif();
    return sqrtf(-2.f * logf(u)) * cosf(6.2831853f * v);
}

/* Fills n values with distribution kind k. */
static void fill(float *x, int64_t n, int k)
{
    for (int64_t i = 0; i < n; i++) {
        switch (k) {
        case 0: x[i] = rng_gauss(); break;
        case 1: x[i] = 2.f * rng_unif() - 1.f; break;
        case 2: x[i] = rng_gauss() * (rng_unif() < 0.02f ? 30.f : 0.05f); break;   /* outliers */
        case 3: x[i] = (i / 32) % 3 == 0 ? 0.f : rng_gauss(); break;                /* zero blocks */
        case 4: x[i] = (i / 64) % 2 ? 0.25f : -1.5f; break;                          /* constant runs */
        case 5: x[i] = rng_gauss() * 1e-6f; break;
        case 6: x[i] = rng_gauss() * 1e4f; break;
        default: x[i] = rng_unif() + 0.5f; break;                                    /* all positive */
        }
    }
}

static bool same_float(float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    return ua == ub || (isnan(a) && isnan(b));
}

static void test_halfs(ggml_ref *g)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (!same_float(rf_fp16_to_f32((uint16_t)h), g->fp16_to_fp32((uint16_t)h))) bad++;
        if (!same_float(rf_bf16_to_f32((uint16_t)h), g->bf16_to_fp32((uint16_t)h))) bad++;
        /* midpoints between neighbouring halves: the rounding ties */
        float a = g->fp16_to_fp32((uint16_t)h), b = g->fp16_to_fp32((uint16_t)(h + 1));
        if (isfinite(a) && isfinite(b) && (h & 0x7fff) != 0x7fff) {
            float m = (float)(((double)a + (double)b) / 2);
            if (rf_f32_to_fp16(m) != g->fp32_to_fp16(m)) bad++;
        }
    }
    CHECKF(bad == 0, "%d fp16/bf16 conversions differ on the 65536 halves", bad);
    bad = 0;
    for (int i = 0; i < 4000000; i++) {
        uint32_t u = (uint32_t)rng_u64();
        float f;
        memcpy(&f, &u, 4);
        if (i & 1) f = (float)ldexp(rng_gauss(), (int)(rng_u64() % 60) - 40);
        if (rf_f32_to_fp16(f) != g->fp32_to_fp16(f)) {
            if (bad++ < 5) fprintf(stderr, "fp16(%a): ours %04x ggml %04x\n", f, rf_f32_to_fp16(f), g->fp32_to_fp16(f));
        }
        if (rf_f32_to_bf16(f) != g->fp32_to_bf16(f)) bad++;
    }
    CHECKF(bad == 0, "%d of 4M random float -> fp16/bf16 conversions differ", bad);
}

static void test_type(ggml_ref *g, rf_type t)
{
    const rf_type_traits *tr = rf_type_get((uint32_t)t);
    const ggml_ref_type_traits *gt = g->get_type_traits((int)t);
    CHECKF(tr && gt, "traits of type %d", (int)t);
    if (!tr || !gt) return;
    CHECKF((int64_t)tr->block_size == gt->blck_size && tr->type_size == gt->type_size,
           "%s: block %u/%zu bytes here, %lld/%zu in ggml", tr->name, tr->block_size, (size_t)tr->type_size,
           (long long)gt->blck_size, gt->type_size);
    const rf_quant_ops *ops = rf_quant_get(t);
    CHECKF(ops != NULL, "%s has no ops", tr->name);
    if (!ops) return;

    const int64_t shapes[][2] = {{1, 256}, {3, 512}, {2, 4096}, {5, 768}};
    int diff_q = 0, diff_d = 0, diff_rand = 0;
    for (int k = 0; k < 8; k++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int64_t nr = shapes[s][0], npr = shapes[s][1], n = nr * npr;
            const size_t bytes = (size_t)(n / tr->block_size) * tr->type_size;
            float *x = malloc((size_t)n * sizeof(float)), *y0 = malloc((size_t)n * sizeof(float)),
                  *y1 = malloc((size_t)n * sizeof(float));
            uint8_t *q0 = malloc(bytes), *q1 = malloc(bytes);
            fill(x, n, k);
            memset(q0, 0xAB, bytes);
            memset(q1, 0xCD, bytes);
            size_t got = g->quantize_chunk((int)t, x, q0, 0, nr, npr, NULL);
            rf_error err = {0};
            rf_status st = rf_quantize_rows(t, x, q1, nr, npr, &err);
            CHECKF(st == RF_OK && got == bytes, "%s: quantize status %d (%s), ggml wrote %zu of %zu", tr->name, st,
                   err.msg, got, bytes);
            if (memcmp(q0, q1, bytes)) {
                size_t i = 0;
                while (q0[i] == q1[i]) i++;
                if (diff_q++ < 3)
                    fprintf(stderr, "%s dist %d shape %lldx%lld: quantized bytes differ first at block %zu byte %zu (ggml %02x ours %02x)\n",
                            tr->name, k, (long long)nr, (long long)npr, i / tr->type_size, i % tr->type_size, q0[i], q1[i]);
            }
            /* dequantize ggml's bytes with both */
            gt->to_float(q0, y0, n);
            ops->dequantize_row(q0, y1, n);
            for (int64_t i = 0; i < n; i++)
                if (!same_float(y0[i], y1[i])) {
                    if (diff_d++ < 3) fprintf(stderr, "%s: dequant[%lld] ggml %a ours %a\n", tr->name, (long long)i, y0[i], y1[i]);
                    break;
                }
            /* dequantize random bytes: every bit pattern of the format */
            for (size_t i = 0; i < bytes; i++) q0[i] = (uint8_t)rng_u64();
            gt->to_float(q0, y0, n);
            ops->dequantize_row(q0, y1, n);
            for (int64_t i = 0; i < n; i++)
                if (!same_float(y0[i], y1[i])) {
                    if (diff_rand++ < 3) fprintf(stderr, "%s: dequant(random)[%lld] ggml %a ours %a\n", tr->name, (long long)i, y0[i], y1[i]);
                    break;
                }
            free(x); free(y0); free(y1); free(q0); free(q1);
        }
    }
    CHECKF(diff_q == 0, "%s: %d quantized outputs differ from ggml_quantize_chunk", tr->name, diff_q);
    CHECKF(diff_d == 0, "%s: %d dequantized outputs differ from ggml's to_float", tr->name, diff_d);
    CHECKF(diff_rand == 0, "%s: %d dequantized random blocks differ from ggml's to_float", tr->name, diff_rand);
    fprintf(stderr, "%-7s quantize + dequantize: %s\n", tr->name, diff_q + diff_d + diff_rand ? "DIFFER" : "bit-identical");
}

static void test_q8_K(ggml_ref *g)
{
    int bad = 0;
    for (int k = 0; k < 8; k++) {
        float x[1024];
        rf_block_q8_K a[4], b[4];
        fill(x, 1024, k);
        memset(a, 0, sizeof a);
        memset(b, 0, sizeof b);
        g->quantize_row_q8_K_ref(x, a, 1024);
        rf_quantize_row_q8_K(x, b, 1024);
        if (memcmp(a, b, sizeof a)) bad++;
    }
    CHECKF(bad == 0, "Q8_K activation quantizer differs from quantize_row_q8_K_ref on %d inputs", bad);
}

/* --dump FILE: write inputs, ggml's quantized bytes and ggml's dequantized
 * values for every type to FILE (needs the reference library).
 * --check FILE: recompute them with our code and compare bit for bit (no
 * reference library needed: this is how the AArch64 build is checked
 * under qemu by scripts/arm-test.sh). Records: u32 type, u32 rows, u32
 * row length, floats x, quantized bytes, floats y. */
static int dump_or_check(ggml_ref *g, const char *path, bool dump, const rf_type *types, size_t n_types)
{
    FILE *f = fopen(path, dump ? "wb" : "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    const uint32_t shapes[][2] = {{1, 256}, {3, 512}};
    int n_rec = 0;
    for (size_t ti = 0; ti < n_types; ti++) {
        const rf_type_traits *tr = rf_type_get((uint32_t)types[ti]);
        for (int k = 0; k < 8; k++) {
            for (int si = 0; si < 2; si++) {
                uint32_t hdr[3] = {(uint32_t)types[ti], shapes[si][0], shapes[si][1]};
                const size_t n = (size_t)hdr[1] * hdr[2], bytes = n / tr->block_size * tr->type_size;
                float *x = malloc(n * 4), *y = malloc(n * 4), *y1 = malloc(n * 4);
                uint8_t *q = malloc(bytes), *q1 = malloc(bytes);
                if (dump) {
                    fill(x, (int64_t)n, k);
                    g->quantize_chunk((int)types[ti], x, q, 0, hdr[1], hdr[2], NULL);
                    g->get_type_traits((int)types[ti])->to_float(q, y, (int64_t)n);
                    fwrite(hdr, 4, 3, f);
                    fwrite(x, 4, n, f);
                    fwrite(q, 1, bytes, f);
                    fwrite(y, 4, n, f);
                } else {
                    uint32_t h2[3];
                    bool ok = fread(h2, 4, 3, f) == 3 && !memcmp(h2, hdr, sizeof hdr) && fread(x, 4, n, f) == n &&
                              fread(q, 1, bytes, f) == bytes && fread(y, 4, n, f) == n;
                    CHECKF(ok, "%s: reference record %d missing or out of order", tr->name, n_rec);
                    if (ok) {
                        rf_error err = {0};
                        CHECK(rf_quantize_rows(types[ti], x, q1, hdr[1], hdr[2], &err) == RF_OK);
                        CHECKF(!memcmp(q, q1, bytes), "%s dist %d rows %u: quantized bytes differ from llama.cpp's", tr->name, k, hdr[1]);
                        rf_quant_get(types[ti])->dequantize_row(q, y1, (int64_t)n);
                        int bad = 0;
                        for (size_t i = 0; i < n; i++) bad += !same_float(y[i], y1[i]);
                        CHECKF(bad == 0, "%s dist %d: %d dequantized values differ from llama.cpp's", tr->name, k, bad);
                    }
                }
                n_rec++;
                free(x); free(y); free(y1); free(q); free(q1);
            }
        }
    }
    fclose(f);
    fprintf(stderr, "%s %d records (%zu types) %s %s\n", dump ? "wrote" : "checked", n_rec, n_types, dump ? "to" : "from", path);
    return dump ? 0 : rf_test_done("quant_ggml (recorded reference)");
}

int main(int argc, char **argv)
{
    const rf_type types[] = {RF_TYPE_F16, RF_TYPE_BF16, RF_TYPE_Q4_0, RF_TYPE_Q4_1, RF_TYPE_Q5_0, RF_TYPE_Q5_1,
                             RF_TYPE_Q8_0, RF_TYPE_Q2_K, RF_TYPE_Q3_K, RF_TYPE_Q4_K, RF_TYPE_Q5_K, RF_TYPE_Q6_K,
                             RF_TYPE_IQ4_NL, RF_TYPE_IQ4_XS, RF_TYPE_MXFP4};
    const size_t n_types = sizeof types / sizeof types[0];
    if (argc == 3 && !strcmp(argv[1], "--check")) return dump_or_check(NULL, argv[2], false, types, n_types);
    ggml_ref g;
    ggml_ref_open(&g);
    if (argc == 3 && !strcmp(argv[1], "--dump")) return dump_or_check(&g, argv[2], true, types, n_types);
    test_halfs(&g);
    for (size_t i = 0; i < n_types; i++) test_type(&g, types[i]);
    test_q8_K(&g);
    return rf_test_done("quant_ggml");
}
