/* gpu_backend.c — the GPU's rf_backend_ops (backend.h) over gpu.h.
 *
 * Weights: weight_bind copies each tensor, in its GGUF type, into a weight
 * arena: a few large device slabs filled front to back (no per-tensor
 * allocations, no F32 expansion).
 *
 * Graphs: forward_run brackets a whole step with graph_begin(key) /
 * graph_end. Between them the ops are not launched but recorded (op + a
 * copy of its arguments) into a fixed-size queue allocated at creation, and
 * hashed. At graph_end:
 *   - a graph recorded earlier with the same key and the same argument hash
 *     is replayed with one launch (the per-step values — token ids,
 *     positions, slots, block tables — live in device buffers the engine
 *     refreshes before the step, so the same graph serves every step);
 *   - otherwise the queue is run under stream capture, instantiated, kept
 *     (a few per context, least recently used replaced) and launched.
 * The hash makes a stale graph impossible: any difference in any argument
 * (n_tok, rows wanting logits, a buffer) records a new one. Ops that cannot
 * be captured (a synchronous download inside the step) or a full queue
 * flush what is queued and run the rest of the step eagerly.
 *
 * Ops that return void (backend.h) cannot report launch errors; the first
 * one is kept and returned by the next op that returns a status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/base.h"
#include "gpu.h"

#define GB_SLAB_BYTES ((size_t)256 << 20)
#define GB_MAX_SLABS 1024
#define GB_ALIGN 256
#define GB_QUEUE_CAP 16384
#define GB_GRAPHS 8
#define GB_VERIFY_EVERY 64     /* signed replays between two recorded checks */
#define GB_GREEDY_ADJ 8192     /* penalised + biased tokens a device greedy pick takes */

typedef enum gb_op {
    GB_GET_ROWS = 1, GB_MATMUL, GB_ADD_BIAS, GB_RMSNORM, GB_ROPE, GB_KV_WRITE, GB_ATTENTION,
    GB_GLU, GB_ADD, GB_GATHER, GB_SOFTCAP, GB_COPY2D, GB_ROLES,
} gb_op;

/* One recorded op; memset to zero before filling so hashing is stable. */
typedef struct gb_rec {
    int op;
    int act;
    const void *p[8];
    int64_t i[6];
    float f[2];
    rf_bweight w;          /* copy: the caller's struct may move */
    rf_rope_params rope;
    rf_attn_params attn;
} gb_rec;

typedef enum gb_mode { GB_EAGER = 0, GB_QUEUE, GB_EAGER_REST } gb_mode;

typedef struct gb_ctx {
    rf_gpu *g;
    /* weight arena */
    void *slab[GB_MAX_SLABS];
    size_t slab_used[GB_MAX_SLABS], slab_size[GB_MAX_SLABS];
    int n_slab;
    size_t weight_bytes;
    /* graph recording */
    gb_mode mode;
    int key;
    gb_rec *queue;         /* (GB_QUEUE_CAP) */
    int n_queue;
    uint64_t hash;
    uint64_t tick;
    bool graphs_off;       /* RF_GPU_GRAPHS=0 */
    bool fuse_off;         /* RF_GPU_FUSE=0 */
    char dev_name[300];    /* "GPU 0 (NVIDIA H200)" */
    /* one graph per (key, hash); gpu.h keeps one exec per rf_gpu, so each
     * cached graph owns its own rf_gpu stream context */
    struct {
        int key;
        uint64_t hash;
        uint64_t last_use;
        rf_gpu *g;
        bool valid;
        bool signed_;      /* sig names the steps that replay it unrecorded (gb_graph_try) */
        int64_t sig[RF_STEP_SIG];
        uint32_t uses;
    } graphs[GB_GRAPHS];
    int64_t sig[RF_STEP_SIG]; /* the signature of the step being recorded (graph_try) */
    bool has_sig;
    int verify;            /* graph the step being recorded must match, or -1 */
    rf_error sticky;       /* first error of a void op */
    int device;
    /* RoPE frequency factors arrive as host pointers (model metadata
     * tensors): each distinct one is copied to the device once */
    struct { const float *host; float *dev; int n; } ff[8];
    bool allow_mma;        /* !deterministic */
    int n_prompt;          /* token roles of the ops being run (token_roles); -1: none */
} gb_ctx;

static void gb_note(gb_ctx *c, rf_status st, const rf_error *e)
{
    if (st != RF_OK && c->sticky.code == RF_OK) c->sticky = *e;
}

static rf_status gb_take_sticky(gb_ctx *c, rf_error *err)
{
    if (c->sticky.code == RF_OK) return RF_OK;
    rf_status st = c->sticky.code;
    if (err) *err = c->sticky;
    c->sticky.code = RF_OK;
    return st;
}

/* A recorded op's hash, 8 bytes at a time in four independent lanes: a
 * step records a few hundred ops of ~300 bytes each between the device's
 * steps (hashed a byte at a time, that took ~0.4 us an op, ~100 us a 1B
 * step, while the device waited). n: a multiple of 8. */
static uint64_t gb_hash_words(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t l[4] = {h, h ^ 0x9e3779b97f4a7c15ull, h ^ 0xc2b2ae3d27d4eb4full, h ^ 0x165667b19e3779f9ull};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, b + i + 8 * k, 8);
            l[k] = (l[k] ^ w) * 0x100000001b3ull;
            l[k] ^= l[k] >> 29;
        }
    for (int k = 0; i < n; i += 8, k++) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        l[k] = (l[k] ^ w) * 0x100000001b3ull;
        l[k] ^= l[k] >> 29;
    }
    uint64_t r = l[0];
    for (int k = 1; k < 4; k++) r = (r ^ (l[k] + 0x9e3779b97f4a7c15ull + (r << 6) + (r >> 2))) * 0xff51afd7ed558ccdull;
    return r ^ (r >> 33);
}
_Static_assert(sizeof(gb_rec) % 8 == 0, "gb_rec is hashed 8 bytes at a time");

/* ------------------------------------------------------------ execution */

/* Rows [t0, t0 + n) of a recorded matmul or attention. */
static rf_status gb_exec_rows(rf_gpu *g, const gb_rec *r, int64_t t0, int64_t n, rf_error *err)
{
    if (r->op == GB_MATMUL)
        return rf_gpu_matmul(g, r->w.type, r->w.dev, r->w.n_rows, r->w.n_cols, r->w.row_stride,
                             (const float *)r->p[0] + t0 * r->w.n_cols, n, (float *)r->p[1] + t0 * r->w.n_rows, err);
    const int64_t qd = (int64_t)r->attn.n_head * r->attn.head_dim;
    return rf_gpu_attention(g, (const float *)r->p[0] + t0 * qd, r->p[1], r->p[2], r->p[3],
                            (const int32_t *)r->p[4] + t0, (const int32_t *)r->p[5] + t0, n, &r->attn,
                            (float *)r->p[6] + t0 * qd, err);
}

/* Runs a products' or attention's rows by token role (token_roles): with
 * roles set in a deterministic context, the prompt rows [0, n_prompt) on the
 * matrix units, the rest on the decode paths, each part a launch of its own;
 * otherwise all rows by count. fn runs rows [t0, t0 + n). */
typedef rf_status (*gb_rows_fn)(rf_gpu *g, const gb_rec *r, int64_t t0, int64_t n, rf_error *err);
static rf_status gb_by_role(gb_ctx *c, rf_gpu *g, const gb_rec *r, int64_t n, gb_rows_fn fn, rf_error *err)
{
    if (c->allow_mma || c->n_prompt < 0) return fn(g, r, 0, n, err);
    const int64_t np = c->n_prompt < n ? c->n_prompt : n;
    rf_status st = RF_OK;
    if (np > 0) {
        rf_gpu_set_path(g, RF_GPU_PATH_PROMPT);
        st = fn(g, r, 0, np, err);
    }
    if (st == RF_OK && n > np) {
        rf_gpu_set_path(g, RF_GPU_PATH_STEP);
        st = fn(g, r, np, n - np, err);
    }
    rf_gpu_set_path(g, RF_GPU_PATH_AUTO);
    return st;
}

static rf_status gb_exec(gb_ctx *c, rf_gpu *g, const gb_rec *r, rf_error *err)
{
    switch (r->op) {
    case GB_GET_ROWS:
        return rf_gpu_get_rows(g, r->w.type, r->w.dev, r->w.n_rows, r->w.n_cols, r->w.row_stride, r->p[0],
                               r->i[0], r->f[0], (float *)r->p[1], err);
    case GB_MATMUL: return gb_by_role(c, g, r, r->i[0], gb_exec_rows, err);
    case GB_ADD_BIAS: return rf_gpu_add_bias(g, (float *)r->p[0], r->p[1], r->i[0], r->i[1], err);
    case GB_RMSNORM:
        return rf_gpu_rmsnorm(g, r->p[0], r->p[1], (float *)r->p[2], r->i[0], r->i[1], r->f[0], err);
    case GB_ROPE: return rf_gpu_rope(g, (float *)r->p[0], r->i[0], (int)r->i[1], (int)r->i[2], r->p[1], &r->rope, err);
    case GB_KV_WRITE:
        return rf_gpu_kv_write_typed(g, (void *)r->p[0], (void *)r->p[1], r->p[2], r->p[3], r->p[4], r->i[0],
                                     (int)r->i[1], (rf_type)r->i[2], err);
    case GB_ATTENTION: return gb_by_role(c, g, r, r->i[0], gb_exec_rows, err);
    case GB_GLU: return rf_gpu_glu(g, (rf_act)r->act, r->p[0], r->p[1], r->i[0], r->i[1], r->i[2], (float *)r->p[2], err);
    case GB_ADD: return rf_gpu_add(g, r->p[0], r->p[1], (float *)r->p[0], r->i[0], err);
    case GB_GATHER: return rf_gpu_gather(g, r->p[0], r->p[1], r->i[0], r->i[1], (float *)r->p[2], err);
    case GB_SOFTCAP: return rf_gpu_softcap(g, (float *)r->p[0], r->i[0], r->f[0], err);
    case GB_ROLES: c->n_prompt = (int)r->i[0]; return RF_OK;
    case GB_COPY2D: {
        /* rows of row_bytes; a run of contiguous rows is one copy */
        const size_t ds = (size_t)r->i[0], ss = (size_t)r->i[1], rb = (size_t)r->i[3];
        if (ds == rb && ss == rb)
            return rf_gpu_copy_async(g, (void *)r->p[0], r->p[1], rb * (size_t)r->i[2], err);
        for (int64_t k = 0; k < r->i[2]; k++) {
            rf_status st = rf_gpu_copy_async(g, (char *)r->p[0] + k * ds, (const char *)r->p[1] + k * ss, rb, err);
            if (st != RF_OK) return st;
        }
        return RF_OK;
    }
    }
    return rf_err(err, RF_ERR_BACKEND, "GPU backend: unknown recorded op %d", r->op);
}

/* Fusion over the recorded step: a few neighbouring ops run as one launch
 * when the pattern allows, with results equal to running them one by one
 * (gpu.h's fused entry points promise that; gpu_kernels checks it):
 *   - up to 3 products of one input (q, k, v; gate, up) -> matmul_multi;
 *   - add(x, y) then rmsnorm(x -> out) -> add_rmsnorm;
 *   - rope(q) then rope(k) with the same positions and parameters -> rope2,
 *     and with the KV write of that k (and v) after them -> rope2_kv;
 *   - (in the kernels) the attention output and the GLU leave their 8-bit
 *     form for the next product.
 * Returns how many records it ran (0: none matched). RF_GPU_FUSE=0: off. */
typedef struct gb_multi { int n; const rf_gpu_mat *w; float *const *y; } gb_multi;

/* Rows [t0, t0 + n) of products of one input (r->p[0]; the set in r->p[2]). */
static rf_status gb_multi_rows(rf_gpu *g, const gb_rec *r, int64_t t0, int64_t n, rf_error *err)
{
    const gb_multi *m = r->p[2];
    rf_gpu_mat w[3];
    float *y[3];
    for (int k = 0; k < m->n; k++) {
        w[k] = m->w[k];
        y[k] = m->y[k] + t0 * m->w[k].n_rows;
    }
    return rf_gpu_matmul_multi(g, m->n, w, (const float *)r->p[0] + t0 * m->w[0].n_cols, n, y, err);
}

static int gb_exec_fused(gb_ctx *c, rf_gpu *g, const gb_rec *q, int n_left, rf_status *st, rf_error *err)
{
    if (c->fuse_off || n_left < 2) return 0;
    const gb_rec *a = &q[0], *b = &q[1];
    if (a->op == GB_MATMUL && b->op == GB_MATMUL && b->p[0] == a->p[0] && b->i[0] == a->i[0]) {
        rf_gpu_mat w[3];
        float *y[3];
        int n = 0;
        /* one type, or Q4_K with a last Q6_K (Q4_K_M's q, k, v in half the layers) */
        while (n < 3 && n < n_left && q[n].op == GB_MATMUL && q[n].p[0] == a->p[0] && q[n].i[0] == a->i[0] &&
               (q[n].w.type == a->w.type || (a->w.type == RF_TYPE_Q4_K && q[n].w.type == RF_TYPE_Q6_K)) &&
               q[n].w.n_cols == a->w.n_cols) {
            const bool last = q[n].w.type != a->w.type;
            w[n] = (rf_gpu_mat){q[n].w.type, q[n].w.dev, q[n].w.n_rows, q[n].w.n_cols, q[n].w.row_stride};
            y[n] = (float *)q[n].p[1];
            n++;
            if (last) break;
        }
        if (n < 2) return 0;
        gb_multi m = {n, w, y};
        gb_rec r = *a;
        r.p[2] = &m;
        *st = gb_by_role(c, g, &r, a->i[0], gb_multi_rows, err);
        return n;
    }
    if (a->op == GB_ADD && b->op == GB_RMSNORM && b->p[0] == a->p[0] && b->p[2] != a->p[0] &&
        b->i[0] * b->i[1] == a->i[0]) {
        *st = rf_gpu_add_rmsnorm(g, (float *)a->p[0], a->p[1], b->p[1], (float *)b->p[2], b->i[0], b->i[1], b->f[0],
                                 err);
        return 2;
    }
    const bool rope2 = a->op == GB_ROPE && b->op == GB_ROPE && a->p[0] != b->p[0] && a->p[1] == b->p[1] &&
                       a->i[0] == b->i[0] && a->i[2] == b->i[2] && memcmp(&a->rope, &b->rope, sizeof a->rope) == 0;
    const gb_rec *kv = n_left > 2 ? &q[2] : NULL;
    if (rope2 && kv && kv->op == GB_KV_WRITE && kv->p[2] == b->p[0] && kv->i[0] == b->i[0] &&
        kv->i[1] == b->i[1] * b->i[2] && kv->p[3] != b->p[0] && kv->p[3] != a->p[0]) {
        *st = rf_gpu_rope2_kv(g, (float *)a->p[0], (int)a->i[1], (float *)b->p[0], (int)b->i[1], a->i[0], (int)a->i[2],
                              a->p[1], &a->rope, (void *)kv->p[0], (void *)kv->p[1], kv->p[3], kv->p[4],
                              (rf_type)kv->i[2], err);
        return 3;
    }
    if (rope2) {
        *st = rf_gpu_rope2(g, (float *)a->p[0], (int)a->i[1], (float *)b->p[0], (int)b->i[1], a->i[0], (int)a->i[2],
                           a->p[1], &a->rope, err);
        return 2;
    }
    return 0;
}

/* RF_GPU_SKIP=norm,glu,rope,attn,mm (any of them): leave those ops out of
 * every recorded step -- the residual adds and RMSNorms, the gated
 * activations, RoPE and the KV writes, the attention, the products of
 * fewer than 65536 rows (all but the LM head of real vocabularies). The
 * outputs are then wrong: this only measures what the ops cost inside a
 * real step (docs/gpu-notes.md, "What limits us"). */
static unsigned gb_skip_mask(void)
{
    static int mask = -1;
    if (mask < 0) {
        static const char *names[] = {"norm", "glu", "rope", "attn", "mm"};
        const char *e = getenv("RF_GPU_SKIP");
        mask = 0;
        for (const char *p = e; p && *p;) {
            const size_t n = strcspn(p, ",");
            for (int k = 0; k < (int)(sizeof names / sizeof *names); k++)
                if (n == strlen(names[k]) && !strncmp(p, names[k], n)) mask |= 1 << k;
            p += n + (p[n] == ',');
        }
        if (mask)
            fprintf(stderr, "rocmforge: RF_GPU_SKIP=%s: those ops are left out of every recorded step; the "
                            "outputs are wrong (only for timing what they cost)\n", e);
    }
    return (unsigned)mask;
}

static bool gb_skipped(const gb_rec *r)
{
    const unsigned m = gb_skip_mask();
    if (!m) return false;
    switch (r->op) {
    case GB_ADD: case GB_RMSNORM: return m & 1;
    case GB_GLU: return m & 2;
    case GB_ROPE: case GB_KV_WRITE: return m & 4;
    case GB_ATTENTION: return m & 8;
    case GB_MATMUL: return (m & 16) && r->w.n_rows < 65536; /* the LM head stays */
    }
    return false;
}

static rf_status gb_flush(gb_ctx *c, rf_gpu *g, rf_error *err)
{
    for (int k = 0; k < c->n_queue;) {
        rf_status st = RF_OK;
        if (gb_skipped(&c->queue[k])) {
            k++;
            continue;
        }
        int done = gb_exec_fused(c, g, &c->queue[k], c->n_queue - k, &st, err);
        if (!done) {
            st = gb_exec(c, g, &c->queue[k], err);
            done = 1;
        }
        if (st != RF_OK) {
            c->n_queue = 0;
            return st;
        }
        k += done;
    }
    c->n_queue = 0;
    return RF_OK;
}

/* Run an op now or record it, by mode. */
static rf_status gb_submit(gb_ctx *c, gb_rec *r, rf_error *err)
{
    if (c->mode == GB_QUEUE) {
        if (c->n_queue < GB_QUEUE_CAP) {
            c->queue[c->n_queue++] = *r;
            c->hash = gb_hash_words(c->hash, r, sizeof *r);
            return RF_OK;
        }
        rf_status st = gb_flush(c, c->g, err);
        c->mode = GB_EAGER_REST;
        if (st != RF_OK) return st;
    }
    return gb_exec(c, c->g, r, err);
}

static void gb_submit_void(gb_ctx *c, gb_rec *r)
{
    rf_error e = {0};
    rf_status st = gb_submit(c, r, &e);
    gb_note(c, st, &e);
}

/* --------------------------------------------------------------- the ops */

static bool gb_supports(void *ctx, rf_type t)
{
    (void)ctx;
    return rf_gpu_type_supported(t);
}

static void *gb_alloc(void *ctx, size_t bytes, rf_error *err)
{
    gb_ctx *c = ctx;
    void *d = NULL;
    if (rf_gpu_alloc(c->g, bytes, &d, "context buffer", err) != RF_OK) return NULL;
    return d;
}

static void gb_free(void *ctx, void *buf)
{
    gb_ctx *c = ctx;
    rf_gpu_free(c->g, buf);
}

static rf_status gb_upload(void *ctx, void *dst, size_t off, const void *src, size_t n, rf_error *err)
{
    gb_ctx *c = ctx;
    if (!n) return RF_OK;
    if (c->mode == GB_QUEUE) { /* not capturable as recorded: run what is queued, then eagerly */
        rf_status st = gb_flush(c, c->g, err);
        c->mode = GB_EAGER_REST;
        if (st != RF_OK) return st;
    }
    /* the copy is ordered before the step's launches on the device; the
     * host goes on at once (a step's inputs: the device idles meanwhile) */
    return rf_gpu_upload_staged(c->g, (char *)dst + off, src, n, err);
}

/* Before an op that reads results on the host: report a pending error,
 * and run what is queued (the rest of the step then runs eagerly). */
static rf_status gb_settle(gb_ctx *c, rf_error *err)
{
    rf_status st = gb_take_sticky(c, err);
    if (st != RF_OK) return st;
    if (c->mode == GB_QUEUE) {
        st = gb_flush(c, c->g, err);
        c->mode = GB_EAGER_REST;
    }
    return st;
}

static rf_status gb_download(void *ctx, void *dst, const void *src, size_t off, size_t n, rf_error *err)
{
    gb_ctx *c = ctx;
    rf_status st = gb_settle(c, err);
    if (st != RF_OK) return st;
    if (!n) return RF_OK;
    st = rf_gpu_download(c->g, dst, (const char *)src + off, n, err);
    if (st != RF_OK) return st;
    return gb_take_sticky(c, err);
}

/* Weight arena: bump allocation in GB_SLAB_BYTES slabs (bigger tensors get
 * a slab of their own size). */
static rf_status gb_weight_bind(void *ctx, rf_bweight *w, rf_error *err)
{
    gb_ctx *c = ctx;
    if (w->n_rows > 1 && !rf_gpu_type_supported(w->type))
        return rf_err(err, RF_ERR_UNSUPPORTED, "GPU backend: tensor '%s' has type %s, which has no GPU kernel",
                      w->name, rf_type_name(w->type));
    uint64_t bytes;
    if (rf_mul_ovf((uint64_t)w->n_rows, (uint64_t)rf_gpu_row_bytes(w->type, w->n_cols), &bytes) ||
        bytes > SIZE_MAX - GB_ALIGN)
        return rf_err(err, RF_ERR_FORMAT, "GPU backend: tensor '%s' is too large", w->name);
    size_t need = ((size_t)bytes + GB_ALIGN - 1) / GB_ALIGN * GB_ALIGN;
    int s = c->n_slab - 1;
    if (s < 0 || c->slab_size[s] - c->slab_used[s] < need) {
        if (c->n_slab == GB_MAX_SLABS)
            return rf_err(err, RF_ERR_NOMEM, "GPU backend: weight arena full (%d slabs)", GB_MAX_SLABS);
        size_t sz = need > GB_SLAB_BYTES ? need : GB_SLAB_BYTES;
        char what[160];
        snprintf(what, sizeof what, "weights (%.1f MiB placed so far, next tensor '%s')",
                 c->weight_bytes / 1048576.0, w->name);
        void *d = NULL;
        rf_status st = rf_gpu_alloc(c->g, sz, &d, what, err);
        if (st != RF_OK) return st;
        s = c->n_slab++;
        c->slab[s] = d;
        c->slab_size[s] = sz;
        c->slab_used[s] = 0;
    }
    void *dst = (char *)c->slab[s] + c->slab_used[s];
    rf_status st = rf_gpu_upload_rows(c->g, dst, w->host, w->type, w->n_rows, w->n_cols, w->row_stride, err);
    if (st != RF_OK) return st;
    c->slab_used[s] += need;
    c->weight_bytes += (size_t)bytes;
    w->dev = dst;
    return RF_OK;
}

static rf_status gb_reserve(void *ctx, const rf_bweight *const *ws, int n_w, int n_tok, rf_error *err)
{
    gb_ctx *c = ctx;
    int64_t max_cols = 0, max_rows = 0, max_elems = 0;
    for (int i = 0; i < n_w; i++) {
        if (!ws[i]) continue;
        if (ws[i]->n_rows > max_rows) max_rows = ws[i]->n_rows;
        if (ws[i]->n_rows * ws[i]->n_cols > max_elems) max_elems = ws[i]->n_rows * ws[i]->n_cols;
        if (ws[i]->n_rows > 1 && !rf_gpu_type_supported(ws[i]->type))
            return rf_err(err, RF_ERR_UNSUPPORTED, "GPU backend: tensor '%s' has type %s, which has no GPU kernel",
                          ws[i]->name, rf_type_name(ws[i]->type));
        if (ws[i]->n_cols > max_cols) max_cols = ws[i]->n_cols;
    }
    /* 8-bit activations for the integer products, the whole batch: the
     * prompt tiles read every token's from one rounding pass */
    const int64_t toks = n_tok > 0 ? n_tok : 1;
    rf_status st = rf_gpu_reserve_q8(c->g, (size_t)(toks * max_cols), err);
    /* the greedy pick: a row as wide as the widest output (the LM head), and
     * room for the sampler's adjustments (penalty window + biases) */
    if (st == RF_OK) st = rf_gpu_reserve_sample(c->g, max_rows, GB_GREEDY_ADJ, err);
    /* prompts on the matrix units (every context: by token role when
     * deterministic, by count otherwise) decode each weight to F16 once, up
     * to RF_GPU_WH_MAX elements at a time (the engine's memory plan counts it) */
    if (st == RF_OK)
        st = rf_gpu_reserve_wh(c->g, (size_t)(max_elems < RF_GPU_WH_MAX ? max_elems : RF_GPU_WH_MAX), err);
    return st;
}

static rf_status gb_reserve_attn(void *ctx, int n_rows, int n_head, int head_dim, rf_error *err)
{
    gb_ctx *c = ctx;
    return rf_gpu_reserve_attn(c->g, n_rows, n_head, head_dim, err);
}

static rf_status gb_greedy(void *ctx, const float *logits, int n_vocab, const rf_greedy_adj *adj, int32_t *id,
                           rf_error *err)
{
    gb_ctx *c = ctx;
    rf_status st = gb_settle(c, err);
    if (st != RF_OK) return st;
    return rf_gpu_greedy(c->g, logits, n_vocab, adj, id, err);
}

static rf_status gb_get_rows(void *ctx, const rf_bweight *w, const int32_t *ids, int n, float scale, float *out,
                             rf_error *err)
{
    gb_ctx *c = ctx;
    rf_status st = gb_take_sticky(c, err);
    if (st != RF_OK) return st;
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_GET_ROWS; r.w = *w; r.p[0] = ids; r.p[1] = out; r.i[0] = n; r.f[0] = scale;
    r.w.row_stride = rf_gpu_row_bytes(w->type, w->n_cols); /* the device layout (gb_weight_bind) */
    return gb_submit(c, &r, err);
}

static rf_status gb_matmul(void *ctx, const rf_bweight *w, const float *x, int n_tok, float *y, rf_error *err)
{
    gb_ctx *c = ctx;
    rf_status st = gb_take_sticky(c, err);
    if (st != RF_OK) return st;
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_MATMUL; r.w = *w; r.p[0] = x; r.p[1] = y; r.i[0] = n_tok;
    r.w.row_stride = rf_gpu_row_bytes(w->type, w->n_cols); /* the device layout (gb_weight_bind) */
    return gb_submit(c, &r, err);
}

static void gb_add_bias(void *ctx, float *x, const float *b, int n_tok, int n)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_ADD_BIAS; r.p[0] = x; r.p[1] = b; r.i[0] = n_tok; r.i[1] = n;
    gb_submit_void(ctx, &r);
}

static void gb_rmsnorm(void *ctx, const float *x, const float *w, float eps, int n_rows, int n, float *y)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_RMSNORM; r.p[0] = x; r.p[1] = w; r.p[2] = y; r.i[0] = n_rows; r.i[1] = n; r.f[0] = eps;
    gb_submit_void(ctx, &r);
}

static const float *gb_freq_factors_dev(gb_ctx *c, const float *host, int n)
{
    for (int i = 0; i < 8; i++)
        if (c->ff[i].host == host && c->ff[i].n == n) return c->ff[i].dev;
    for (int i = 0; i < 8; i++) {
        if (c->ff[i].host) continue;
        rf_error e = {0};
        void *d = NULL;
        rf_status st = rf_gpu_alloc(c->g, sizeof(float) * (size_t)n, &d, "RoPE frequency factors", &e);
        if (st == RF_OK) st = rf_gpu_upload(c->g, d, host, sizeof(float) * (size_t)n, &e);
        if (st != RF_OK) {
            gb_note(c, st, &e);
            rf_gpu_free(c->g, d);
            return NULL;
        }
        c->ff[i].host = host;
        c->ff[i].dev = d;
        c->ff[i].n = n;
        return d;
    }
    rf_error e = {0};
    gb_note(c, rf_err(&e, RF_ERR_UNSUPPORTED, "GPU backend: more than 8 RoPE frequency-factor tables"), &e);
    return NULL;
}

static void gb_rope(void *ctx, float *x, const int32_t *pos, int n_tok, int n_head, int head_dim,
                    const rf_rope_params *p)
{
    gb_ctx *c = ctx;
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_ROPE; r.p[0] = x; r.p[1] = pos; r.i[0] = n_tok; r.i[1] = n_head; r.i[2] = head_dim; r.rope = *p;
    if (p->freq_factors) {
        r.rope.freq_factors = gb_freq_factors_dev(c, p->freq_factors, p->n_rot / 2);
        if (!r.rope.freq_factors) return;
    }
    gb_submit_void(c, &r);
}

static void gb_kv_write_typed(void *ctx, void *k_pool, void *v_pool, const float *k, const float *v,
                              const int32_t *slots, int n_tok, int kv_dim, rf_type kv_type)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_KV_WRITE; r.p[0] = k_pool; r.p[1] = v_pool; r.p[2] = k; r.p[3] = v; r.p[4] = slots;
    r.i[0] = n_tok; r.i[1] = kv_dim; r.i[2] = kv_type;
    gb_submit_void(ctx, &r);
}

static void gb_kv_write(void *ctx, void *k_pool, void *v_pool, const float *k, const float *v, const int32_t *slots,
                        int n_tok, int kv_dim)
{
    gb_kv_write_typed(ctx, k_pool, v_pool, k, v, slots, n_tok, kv_dim, RF_TYPE_F16);
}

static void gb_attention(void *ctx, const float *q, const void *k_pool, const void *v_pool, const int32_t *btab,
                         const int32_t *seq_row, const int32_t *pos, int n_tok, const rf_attn_params *p, float *out)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_ATTENTION; r.p[0] = q; r.p[1] = k_pool; r.p[2] = v_pool; r.p[3] = btab; r.p[4] = seq_row;
    r.p[5] = pos; r.p[6] = out; r.i[0] = n_tok; r.attn = *p;
    gb_submit_void(ctx, &r);
}

static void gb_glu(void *ctx, rf_act act, const float *gate, const float *up, int n_tok, int n, int stride, float *out)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_GLU; r.act = (int)act; r.p[0] = gate; r.p[1] = up; r.p[2] = out;
    r.i[0] = n_tok; r.i[1] = n; r.i[2] = stride;
    gb_submit_void(ctx, &r);
}

static void gb_add(void *ctx, float *x, const float *y, int64_t n)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_ADD; r.p[0] = x; r.p[1] = y; r.i[0] = n;
    gb_submit_void(ctx, &r);
}

static void gb_gather(void *ctx, const float *x, const int32_t *idx, int n_rows, int n, float *out)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_GATHER; r.p[0] = x; r.p[1] = idx; r.p[2] = out; r.i[0] = n_rows; r.i[1] = n;
    gb_submit_void(ctx, &r);
}

static void gb_softcap(void *ctx, float *x, int64_t n, float cap)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_SOFTCAP; r.p[0] = x; r.i[0] = n; r.f[0] = cap;
    gb_submit_void(ctx, &r);
}

static void gb_copy2d(void *ctx, void *dst, size_t dst_stride, const void *src, size_t src_stride, int n_rows,
                      size_t row_bytes)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_COPY2D; r.p[0] = dst; r.p[1] = src; r.i[0] = (int64_t)dst_stride; r.i[1] = (int64_t)src_stride;
    r.i[2] = n_rows; r.i[3] = (int64_t)row_bytes;
    gb_submit_void(ctx, &r);
}

/* ------------------------------------------------------------- memory */

static rf_status gb_mem_info(void *ctx, size_t *free_bytes, size_t *total_bytes, rf_error *err)
{
    gb_ctx *c = ctx;
    rf_gpu_device_info info;
    rf_status st = rf_gpu_device_get(c->device, &info, err);
    if (st != RF_OK) return st;
    *free_bytes = info.mem_free;
    *total_bytes = info.mem_total;
    return RF_OK;
}

static const char *gb_device_name(void *ctx)
{
    gb_ctx *c = ctx;
    return c->dev_name;
}

/* ----------------------------------------------------------------- graphs */

static rf_status gb_graph_begin(void *ctx, int key, rf_error *err)
{
    gb_ctx *c = ctx;
    rf_status st = gb_take_sticky(c, err);
    if (st != RF_OK) return st;
    if (c->graphs_off) return RF_OK;
    c->mode = GB_QUEUE;
    c->key = key;
    c->n_queue = 0;
    c->hash = 1469598103934665603ull;
    return RF_OK;
}

static rf_status gb_stale(gb_ctx *c, rf_error *err)
{
    c->verify = -1;
    c->has_sig = false;
    return rf_err(err, RF_ERR_BACKEND,
                  "GPU graph: a step signed like a cached one recorded other ops (its signature misses something)");
}

/* graph i serves the pending signature (graph_try), the only one that may */
static void gb_graph_sign(gb_ctx *c, int i)
{
    if (!c->has_sig) return;
    for (int k = 0; k < GB_GRAPHS; k++)
        if (c->graphs[k].signed_ && !memcmp(c->graphs[k].sig, c->sig, sizeof c->sig) && c->graphs[k].key == c->key)
            c->graphs[k].signed_ = false;
    memcpy(c->graphs[i].sig, c->sig, sizeof c->sig);
    c->graphs[i].signed_ = true;
    c->has_sig = false;
}

static rf_status gb_graph_end(void *ctx, rf_error *err)
{
    gb_ctx *c = ctx;
    gb_mode mode = c->mode;
    c->mode = GB_EAGER;
    if (mode != GB_QUEUE) { /* ran eagerly: nothing recorded to sign or check */
        c->has_sig = false;
        c->verify = -1;
        return gb_take_sticky(c, err);
    }
    c->tick++;
    int hit = -1, victim = 0;
    for (int i = 0; i < GB_GRAPHS; i++) {
        if (c->graphs[i].valid && c->graphs[i].key == c->key && c->graphs[i].hash == c->hash) hit = i;
        if (!c->graphs[i].valid) victim = i;
        else if (c->graphs[victim].valid && c->graphs[i].last_use < c->graphs[victim].last_use) victim = i;
    }
    rf_status st;
    if (hit >= 0) {
        c->n_queue = 0;
        c->graphs[hit].last_use = c->tick;
        if (c->verify >= 0 && c->verify != hit) return gb_stale(c, err);
        c->verify = -1;
        gb_graph_sign(c, hit);
        /* on c->g's stream: after the step's inputs, before what comes
         * next (the pick, downloads), with no host wait */
        return rf_gpu_graph_replay_on(c->graphs[hit].g, c->g, err);
    }
    /* record: capture the queue on the victim's own stream context */
    if (!c->graphs[victim].g) {
        if ((st = rf_gpu_open(c->device, &c->graphs[victim].g, err)) != RF_OK) {
            c->graphs[victim].g = NULL;
            return gb_flush(c, c->g, err);
        }
    }
    rf_gpu *gg = c->graphs[victim].g;
    rf_gpu_share_q8(gg, c->g);
    rf_gpu_set_mma(gg, c->allow_mma);
    c->graphs[victim].valid = false;
    if ((st = rf_gpu_sync(c->g, err)) != RF_OK) return st;
    if ((st = rf_gpu_graph_begin(gg, err)) != RF_OK) return gb_flush(c, c->g, err);
    rf_error e2 = {0};
    st = gb_flush(c, gg, &e2);
    rf_status st_end = rf_gpu_graph_end(gg, err);
    if (st != RF_OK) {
        if (err) *err = e2;
        return st;
    }
    if (st_end != RF_OK) return st_end;
    c->graphs[victim].valid = true;
    c->graphs[victim].key = c->key;
    c->graphs[victim].hash = c->hash;
    c->graphs[victim].last_use = c->tick;
    c->graphs[victim].signed_ = false;
    if (c->verify >= 0) return gb_stale(c, err);
    gb_graph_sign(c, victim);
    return rf_gpu_graph_replay_on(gg, c->g, err);
}

/* A step signed as one whose graph is cached replays it without recording
 * its ops (recording and hashing them cost ~0.2 us an op on the host while
 * the device waited: ~35 us a 1B step, ~70 us an 8B one, H200 host). The
 * engine's signature names everything its ops depend on; every
 * GB_VERIFY_EVERY-th such step is recorded all the same, and a recording
 * whose ops differ from the signed graph's is an error. */
static rf_status gb_graph_try(void *ctx, int key, const int64_t sig[RF_STEP_SIG], bool *done, rf_error *err)
{
    gb_ctx *c = ctx;
    *done = false;
    rf_status st = gb_take_sticky(c, err);
    if (st != RF_OK) return st;
    memcpy(c->sig, sig, sizeof c->sig);
    c->has_sig = true;
    c->verify = -1;
    if (c->graphs_off) return RF_OK;
    for (int i = 0; i < GB_GRAPHS; i++) {
        if (!c->graphs[i].valid || !c->graphs[i].signed_ || c->graphs[i].key != key ||
            memcmp(c->graphs[i].sig, sig, sizeof c->sig))
            continue;
        if (++c->graphs[i].uses % GB_VERIFY_EVERY == 0) {
            c->verify = i; /* record this one: graph_end checks it */
            return RF_OK;
        }
        c->tick++;
        c->graphs[i].last_use = c->tick;
        c->has_sig = false;
        *done = true;
        return rf_gpu_graph_replay_on(c->graphs[i].g, c->g, err);
    }
    return RF_OK;
}

static rf_status gb_sync(void *ctx, rf_error *err)
{
    gb_ctx *c = ctx;
    rf_status st = gb_settle(c, err);
    if (st != RF_OK) return st;
    return rf_gpu_sync(c->g, err);
}

static void gb_set_deterministic(void *ctx, bool on)
{
    gb_ctx *c = ctx;
    c->allow_mma = !on;
    rf_gpu_set_mma(c->g, !on);
    for (int i = 0; i < GB_GRAPHS; i++) /* recorded graphs used the old choice */
        c->graphs[i].valid = false;
}

static void gb_token_roles(void *ctx, int n_prompt)
{
    gb_rec r;
    memset(&r, 0, sizeof r);
    r.op = GB_ROLES; r.i[0] = n_prompt;
    gb_submit_void(ctx, &r);
}

static void gb_destroy(void *ctx)
{
    gb_ctx *c = ctx;
    if (!c) return;
    for (int i = 0; i < GB_GRAPHS; i++)
        if (c->graphs[i].g) rf_gpu_close(c->graphs[i].g);
    for (int s = 0; s < c->n_slab; s++) rf_gpu_free(c->g, c->slab[s]);
    for (int i = 0; i < 8; i++) rf_gpu_free(c->g, c->ff[i].dev);
    rf_gpu_close(c->g);
    free(c->queue);
    free(c);
}

static rf_backend_ops gb_ops = {
    .name = "gpu",
    .kv_f16_default = true, /* half the K/V bytes: depth 4096 tg128 +9% on 1B/8B (docs/gpu-notes.md v32) */
    .supports = gb_supports,
    .alloc = gb_alloc,
    .free = gb_free,
    .upload = gb_upload,
    .download = gb_download,
    .weight_bind = gb_weight_bind,
    .reserve = gb_reserve,
    .reserve_attn = gb_reserve_attn,
    .get_rows = gb_get_rows,
    .matmul = gb_matmul,
    .add_bias = gb_add_bias,
    .rmsnorm = gb_rmsnorm,
    .rope = gb_rope,
    .kv_write = gb_kv_write,
    .kv_write_typed = gb_kv_write_typed,
    .attention = gb_attention,
    .glu = gb_glu,
    .add = gb_add,
    .gather = gb_gather,
    .softcap = gb_softcap,
    .copy2d = gb_copy2d,
    .greedy = gb_greedy,
    .mem_info = gb_mem_info,
    .device_name = gb_device_name,
    .sync = gb_sync,
    .graph_try = gb_graph_try,
    .graph_begin = gb_graph_begin,
    .graph_end = gb_graph_end,
    .set_deterministic = gb_set_deterministic,
    .token_roles = gb_token_roles,
    .destroy = gb_destroy,
};

rf_status rf_backend_gpu_create(int device, rf_backend *out, rf_error *err)
{
    gb_ctx *c = rf_calloc(1, sizeof *c, err, "GPU backend");
    if (!c) return RF_ERR_NOMEM;
    c->queue = rf_malloc(sizeof(gb_rec) * GB_QUEUE_CAP, err, "GPU step recording queue");
    if (!c->queue) {
        free(c);
        return RF_ERR_NOMEM;
    }
    rf_status st = rf_gpu_open(device, &c->g, err);
    if (st != RF_OK) {
        free(c->queue);
        free(c);
        return st;
    }
    c->device = device;
    c->n_prompt = -1;
    c->verify = -1;
    snprintf(c->dev_name, sizeof c->dev_name, "GPU %d (%s)", device, rf_gpu_info(c->g)->name);
    const char *env = getenv("RF_GPU_GRAPHS");
    c->graphs_off = env && env[0] == '0';
    env = getenv("RF_GPU_FUSE");
    c->fuse_off = env && env[0] == '0';
    gb_ops.name = rf_gpu_vendor();
    out->ops = &gb_ops;
    out->ctx = c;
    return RF_OK;
}

rf_status rf_backend_select(const rf_model_params *p, int n_threads, rf_backend *out, rf_error *err)
{
    const bool want_gpu = p->device_kind == RF_DEVICE_GPU ||
                          (p->device_kind == RF_DEVICE_AUTO && p->n_gpu_layers != 0 && rf_gpu_device_count() > 0);
    if (!want_gpu) return rf_backend_cpu_create(n_threads, out, err);
    const int n = rf_gpu_device_count();
    if (n <= 0)
        return rf_err(err, RF_ERR_UNSUPPORTED, "GPU requested but none is usable (%s build: %s)", rf_gpu_vendor(),
                      strcmp(rf_gpu_vendor(), "none") ? "no device found" : "built without GPU support");
    if (p->device_index < 0 || p->device_index >= n)
        return rf_err(err, RF_ERR_INVALID_ARG, "--device %d: this machine has %d GPU%s (0..%d)", p->device_index, n,
                      n == 1 ? "" : "s", n - 1);
    return rf_backend_gpu_create(p->device_index, out, err);
}
