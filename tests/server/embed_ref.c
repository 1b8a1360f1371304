/* embed_ref.c — llama.cpp's embeddings of texts, the reference for
 * /v1/embeddings (tests/server/server_embeddings.mjs builds it against the
 * llama.h of the llama.cpp release inside node-llama-cpp and links that
 * package's prebuilt CPU libraries, as scripts/fixtures/llamacpp does).
 * Each text is tokenized with BOS (add_special), decoded in one batch with
 * embeddings on and MEAN pooling, and the pooled vector is L2-normalised,
 * which is what the server documents. Output: one line per text, n_embd
 * floats. usage: embed_ref BACKEND_DIR MODEL TEXT... */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ggml-backend.h"
#include "llama.h"

static void quiet_log(enum ggml_log_level level, const char *text, void *ud)
{
    (void)ud;
    if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: embed_ref BACKEND_DIR MODEL TEXT...\n");
        return 2;
    }
    llama_log_set(quiet_log, NULL);
    ggml_backend_load_all_from_path(argv[1]);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(argv[2], mp);
    if (!model) { fprintf(stderr, "load failed: %s\n", argv[2]); return 1; }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_embd = llama_model_n_embd(model);
    for (int ti = 3; ti < argc; ti++) {
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = 512;
        cp.n_batch = 512;
        cp.n_ubatch = 512;
        cp.n_threads = 1;
        cp.n_threads_batch = 1;
        cp.embeddings = true;
        cp.pooling_type = LLAMA_POOLING_TYPE_MEAN;
        cp.type_k = GGML_TYPE_F32;
        cp.type_v = GGML_TYPE_F32;
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
        struct llama_context *ctx = llama_init_from_model(model, cp);
        if (!ctx) { fprintf(stderr, "context failed\n"); return 1; }
        llama_token toks[512];
        int n = llama_tokenize(vocab, argv[ti], (int)strlen(argv[ti]), toks, 512, true, false);
        if (n <= 0) { fprintf(stderr, "tokenize failed\n"); return 1; }
        if (llama_decode(ctx, llama_batch_get_one(toks, n)) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
        const float *e = llama_get_embeddings_seq(ctx, 0);
        if (!e) { fprintf(stderr, "no pooled embedding\n"); return 1; }
        double s = 0;
        for (int i = 0; i < n_embd; i++) s += (double)e[i] * e[i];
        double inv = s > 0 ? 1.0 / sqrt(s) : 0;
        printf("%d", n);
        for (int i = 0; i < n_embd; i++) printf(" %.9g", e[i] * inv);
        printf("\n");
        llama_free(ctx);
    }
    llama_model_free(model);
    return 0;
}
