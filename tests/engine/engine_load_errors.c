/* engine_load_errors.c — broken model files fail at load with a message
 * naming the thing, never a crash: a missing tensor, a wrong shape, a type
 * the CPU kernels lack, an unknown architecture, a truncated file. Each
 * case patches bytes of a copy of stories260K.gguf (tensor names, dims,
 * type ids and metadata strings are located by searching the header). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rocmforge.h"
#include "test_util.h"

static uint8_t *orig;
static size_t orig_len;

static uint8_t *find(uint8_t *buf, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(buf + i, s, n)) return buf + i;
    return NULL;
}

/* Write buf to a temp file, load it, return status and message. */
static rf_status try_load(const uint8_t *buf, size_t len, rf_error *err)
{
    char path[] = "/tmp/rf_engine_badXXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return RF_ERR_IO;
    FILE *f = fdopen(fd, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    rf_model_params mp = rf_model_default_params();
    mp.n_threads = 1;
    rf_model *m = NULL;
    memset(err, 0, sizeof *err);
    rf_status st = rf_model_load(path, &mp, &m, err);
    rf_model_free(m);
    unlink(path);
    return st;
}

int main(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/stories260K.gguf", rf_test_models_dir());
    FILE *f = fopen(path, "rb");
    if (!f) rf_test_skip("reference model files absent (set RF_MODELS_DIR)");
    fseek(f, 0, SEEK_END);
    orig_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    orig = malloc(orig_len);
    CHECK(fread(orig, 1, orig_len, f) == orig_len);
    fclose(f);
    uint8_t *b = malloc(orig_len);
    rf_error err;
    rf_status st;

    /* the unmodified copy loads */
    CHECK(try_load(orig, orig_len, &err) == RF_OK);

    /* missing tensor */
    memcpy(b, orig, orig_len);
    uint8_t *p = find(b, orig_len, "blk.0.ffn_up.weight");
    CHECK(p != NULL);
    if (p) memcpy(p, "blk.0.ffn_XX.weight", 19);
    st = try_load(b, orig_len, &err);
    CHECKF(st == RF_ERR_FORMAT && strstr(err.msg, "blk.0.ffn_up.weight") && strstr(err.msg, "missing"),
           "missing tensor: %d %s", st, err.msg);

    /* wrong shape: output_norm [64] -> [32] */
    memcpy(b, orig, orig_len);
    p = find(b, orig_len, "output_norm.weight");
    CHECK(p != NULL);
    if (p) {
        uint8_t *dims = p + 18 + 4; /* name, then u32 n_dims, then u64 dims */
        uint64_t d = 32;
        memcpy(dims, &d, 8);
    }
    st = try_load(b, orig_len, &err);
    CHECKF(st == RF_ERR_FORMAT && strstr(err.msg, "output_norm.weight") && strstr(err.msg, "[64, 1]") &&
               strstr(err.msg, "32"),
           "wrong shape: %d %s", st, err.msg);

    /* a type the CPU kernels lack: attn_q F32 -> I32 (same size) */
    memcpy(b, orig, orig_len);
    p = find(b, orig_len, "blk.0.attn_q.weight");
    CHECK(p != NULL);
    if (p) {
        uint8_t *q = p + 19;
        uint32_t nd;
        memcpy(&nd, q, 4);
        uint32_t t = 26; /* I32 */
        memcpy(q + 4 + 8 * nd, &t, 4);
    }
    st = try_load(b, orig_len, &err);
    CHECKF(st == RF_ERR_UNSUPPORTED && strstr(err.msg, "blk.0.attn_q.weight") && strstr(err.msg, "I32"),
           "unsupported type: %d %s", st, err.msg);

    /* unknown architecture: the message lists the supported ones */
    memcpy(b, orig, orig_len);
    p = find(b, orig_len, "general.architecture");
    CHECK(p != NULL);
    if (p) {
        uint8_t *v = find(p, 64, "llama");
        if (v) v[4] = 'x';
    }
    st = try_load(b, orig_len, &err);
    CHECKF(st == RF_ERR_UNSUPPORTED && strstr(err.msg, "llamx") && strstr(err.msg, "qwen2") && strstr(err.msg, "gemma3"),
           "unknown architecture: %d %s", st, err.msg);

    /* a missing hyperparameter */
    memcpy(b, orig, orig_len);
    p = find(b, orig_len, "llama.attention.layer_norm_rms_epsilon");
    CHECK(p != NULL);
    if (p) p[6] = 'X';
    st = try_load(b, orig_len, &err);
    CHECKF(st == RF_ERR_FORMAT && strstr(err.msg, "layer_norm_rms_epsilon"), "missing key: %d %s", st, err.msg);

    /* truncated files at several lengths */
    size_t cuts[] = {3, 24, 1000, orig_len / 2, orig_len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        st = try_load(orig, cuts[i], &err);
        CHECKF(st != RF_OK && err.msg[0], "truncated at %zu: %d", cuts[i], st);
    }
    /* a path that does not exist */
    rf_model *m = NULL;
    rf_model_params mp = rf_model_default_params();
    st = rf_model_load("/nonexistent/model.gguf", &mp, &m, &err);
    CHECKF(st == RF_ERR_IO && strstr(err.msg, "/nonexistent/model.gguf"), "missing file: %d %s", st, err.msg);
    free(b);
    free(orig);
    return rf_test_done("engine_load_errors");
}
