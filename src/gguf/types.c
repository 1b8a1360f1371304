/* types.c — the one table of ggml tensor types, indexed by the file's type id.
 * Block sizes and bytes per block are part of the file format: a tensor of
 * n elements per row occupies n / block_size * type_size bytes per row. */
#include <stdio.h>
#include <strings.h>

#include "gguf.h"

#define T(id, nm, bs, ts, q) [id] = {nm, bs, ts, q, false}
#define REMOVED(id, nm) [id] = {nm, 0, 0, false, true}

static const rf_type_traits type_table[RF_TYPE_COUNT] = {
    T(RF_TYPE_F32, "F32", 1, 4, false),
    T(RF_TYPE_F16, "F16", 1, 2, false),
    T(RF_TYPE_Q4_0, "Q4_0", 32, 18, true),
    T(RF_TYPE_Q4_1, "Q4_1", 32, 20, true),
    REMOVED(4, "Q4_2"),
    REMOVED(5, "Q4_3"),
    T(RF_TYPE_Q5_0, "Q5_0", 32, 22, true),
    T(RF_TYPE_Q5_1, "Q5_1", 32, 24, true),
    T(RF_TYPE_Q8_0, "Q8_0", 32, 34, true),
    T(RF_TYPE_Q8_1, "Q8_1", 32, 36, true),
    T(RF_TYPE_Q2_K, "Q2_K", 256, 84, true),
    T(RF_TYPE_Q3_K, "Q3_K", 256, 110, true),
    T(RF_TYPE_Q4_K, "Q4_K", 256, 144, true),
    T(RF_TYPE_Q5_K, "Q5_K", 256, 176, true),
    T(RF_TYPE_Q6_K, "Q6_K", 256, 210, true),
    T(RF_TYPE_Q8_K, "Q8_K", 256, 292, true),
    T(RF_TYPE_IQ2_XXS, "IQ2_XXS", 256, 66, true),
    T(RF_TYPE_IQ2_XS, "IQ2_XS", 256, 74, true),
    T(RF_TYPE_IQ3_XXS, "IQ3_XXS", 256, 98, true),
    T(RF_TYPE_IQ1_S, "IQ1_S", 256, 50, true),
    T(RF_TYPE_IQ4_NL, "IQ4_NL", 32, 18, true),
    T(RF_TYPE_IQ3_S, "IQ3_S", 256, 110, true),
    T(RF_TYPE_IQ2_S, "IQ2_S", 256, 82, true),
    T(RF_TYPE_IQ4_XS, "IQ4_XS", 256, 136, true),
    T(RF_TYPE_I8, "I8", 1, 1, false),
    T(RF_TYPE_I16, "I16", 1, 2, false),
    T(RF_TYPE_I32, "I32", 1, 4, false),
    T(RF_TYPE_I64, "I64", 1, 8, false),
    T(RF_TYPE_F64, "F64", 1, 8, false),
    T(RF_TYPE_IQ1_M, "IQ1_M", 256, 56, true),
    T(RF_TYPE_BF16, "BF16", 1, 2, false),
    REMOVED(31, "Q4_0_4_4"),
    REMOVED(32, "Q4_0_4_8"),
    REMOVED(33, "Q4_0_8_8"),
    T(RF_TYPE_TQ1_0, "TQ1_0", 256, 54, true),
    T(RF_TYPE_TQ2_0, "TQ2_0", 256, 66, true),
    REMOVED(36, "IQ4_NL_4_4"),
    REMOVED(37, "IQ4_NL_4_8"),
    REMOVED(38, "IQ4_NL_8_8"),
    T(RF_TYPE_MXFP4, "MXFP4", 32, 17, true),
};

const rf_type_traits *rf_type_get(uint32_t id)
{
    if (id >= RF_TYPE_COUNT || !type_table[id].name) return NULL;
    return &type_table[id];
}

const char *rf_type_name(uint32_t id)
{
    static _Thread_local char buf[48];
    const rf_type_traits *t = rf_type_get(id);
    if (!t) {
        snprintf(buf, sizeof buf, "unknown(%u)", id);
        return buf;
    }
    if (t->removed) {
        snprintf(buf, sizeof buf, "%s (removed)", t->name);
        return buf;
    }
    return t->name;
}

int rf_type_from_name(const char *name)
{
    for (int i = 0; i < RF_TYPE_COUNT; i++)
        if (type_table[i].name && !type_table[i].removed && !strcasecmp(type_table[i].name, name)) return i;
    return -1;
}

uint64_t rf_type_row_bytes(rf_type t, uint64_t n)
{
    const rf_type_traits *tr = rf_type_get((uint32_t)t);
    if (!tr || tr->removed || n % tr->block_size) return 0;
    return n / tr->block_size * tr->type_size;
}

/* general.file_type values, as llama.cpp numbers them (gaps are retired ids). */
static const char *const ftype_names[] = {
    [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [7] = "Q8_0", [8] = "Q5_0", [9] = "Q5_1",
    [10] = "Q2_K", [11] = "Q3_K_S", [12] = "Q3_K_M", [13] = "Q3_K_L", [14] = "Q4_K_S", [15] = "Q4_K_M",
    [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K", [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S",
    [22] = "IQ3_XS", [23] = "IQ3_XXS", [24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S", [27] = "IQ3_M",
    [28] = "IQ2_S", [29] = "IQ2_M", [30] = "IQ4_XS", [31] = "IQ1_M", [32] = "BF16", [36] = "TQ1_0",
    [37] = "TQ2_0", [38] = "MXFP4_MOE",
};

const char *rf_ftype_name(uint32_t ftype)
{
    if (ftype >= sizeof ftype_names / sizeof ftype_names[0]) return NULL;
    return ftype_names[ftype];
}
