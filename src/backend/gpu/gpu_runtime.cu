/* gpu_runtime.cu — devices, contexts, device memory, copies and graphs.
 *
 * One context = one device + one non-blocking stream; every launch of a
 * context goes to that stream, so a decode step is a single ordered queue
 * that can be recorded as a graph (begin/end) and replayed with one call.
 */
#include "gpu_impl.cuh"

extern "C" const char *rf_gpu_vendor(void) { return RF_GPU_VENDOR_NAME; }

extern "C" int rf_gpu_device_count(void)
{
    int n = 0;
    if (gpuGetDeviceCount(&n) != gpuSuccess) {
        (void)gpuGetLastError(); /* no driver / no device: clear the sticky error */
        return 0;
    }
    return n;
}

extern "C" rf_status rf_gpu_device_get(int index, rf_gpu_device_info *out, rf_error *err)
{
    int n = rf_gpu_device_count();
    if (index < 0 || index >= n)
        return rf_err(err, RF_ERR_INVALID_ARG, "GPU device %d does not exist (%d %s device%s found)",
                      index, n, RF_GPU_VENDOR_NAME, n == 1 ? "" : "s");
    gpuDeviceProp_t prop;
    GPU_TRY(gpuGetDeviceProperties(&prop, index));
    memset(out, 0, sizeof *out);
    out->index = index;
    snprintf(out->name, sizeof out->name, "%s", prop.name);
    RF_GPU_ARCH_FMT(prop, out->arch, sizeof out->arch);
    out->warp = prop.warpSize;
    out->n_sm = prop.multiProcessorCount;
    out->mem_total = prop.totalGlobalMem;
    int cur = 0;
    size_t fr = 0, tot = 0;
    /* Free memory needs a context on that device; restore the caller's. */
    if (gpuGetDevice(&cur) == gpuSuccess && gpuSetDevice(index) == gpuSuccess &&
        gpuMemGetInfo(&fr, &tot) == gpuSuccess)
        out->mem_free = fr;
    (void)gpuSetDevice(cur);
    (void)gpuGetLastError();
    return RF_OK;
}

/* The activation scratches (8-bit, scales, F16), when this context owns them. */
static void rf_scratch_release(rf_gpu *g)
{
    if (!g->q8_owned) return;
    (void)gpuFree(g->d_xq);
    (void)gpuFree(g->d_xd);
    (void)gpuFree(g->d_xh);
}

static void rf_att_release(rf_gpu *g)
{
    if (g->att_owned) {
        (void)gpuFree(g->d_att_part);
        (void)gpuFree(g->d_att_cnt);
    }
    g->d_att_part = NULL;
    g->d_att_cnt = NULL;
    g->att_heads_cap = 0;
    g->att_hd_cap = 0;
    g->att_owned = false;
}

static void rf_wh_release(rf_gpu *g)
{
    if (g->wh_owned) (void)gpuFree(g->d_wh);
    g->d_wh = NULL;
    g->wh_cap = 0;
    g->wh_owned = false;
}

static __global__ void rf_k_fill(float *d, size_t n, float v);

extern "C" rf_status rf_gpu_open(int device, rf_gpu **out, rf_error *err)
{
    *out = NULL;
    rf_gpu_device_info info;
    rf_status st = rf_gpu_device_get(device, &info, err);
    if (st != RF_OK) return st;
    GPU_TRY(gpuSetDevice(device));
    rf_gpu *g = (rf_gpu *)rf_calloc(1, sizeof *g, err, "GPU context");
    if (!g) return RF_ERR_NOMEM;
    g->device = device;
    g->info = info;
#if defined(RF_GPU_VENDOR_CUDA)
    {
        /* the device's and the running code's architecture ("sm_100" ->
         * 100; code built for an older one runs without the sm_90 paths) */
        int cc = 0;
        cudaFuncAttributes fa;
        if (cudaFuncGetAttributes(&fa, rf_k_fill) != cudaSuccess) {
            (void)cudaGetLastError();
            fa.ptxVersion = 0;
        }
        if (sscanf(info.arch, "sm_%d", &cc) != 1) cc = 0;
        g->code_cc = fa.ptxVersion < cc ? fa.ptxVersion : cc;
        const char *pe = getenv("RF_GPU_PDL");
        g->pdl = g->code_cc >= 90 && !(pe && pe[0] == '0');
    }
#endif
    if (gpuStreamCreate(&g->stream) != gpuSuccess || gpuEventCreate(&g->ev_start) != gpuSuccess ||
        gpuEventCreate(&g->ev_stop) != gpuSuccess) {
        gpuError_t e = gpuGetLastError();
        rf_gpu_close(g);
        return rf_err(err, RF_ERR_BACKEND, "GPU %d (%s): cannot create stream/events: %s", device,
                      info.name, gpuGetErrorString(e));
    }
    if (gpuMalloc((void **)&g->d_argmax, sizeof(unsigned long long) * RF_GPU_ARGMAX_ROWS) != gpuSuccess) {
        (void)gpuGetLastError();
        g->d_argmax = NULL; /* the single-block argmax serves instead */
    }
    *out = g;
    return RF_OK;
}

extern "C" void rf_gpu_close(rf_gpu *g)
{
    if (!g) return;
    rf_gpu_graph_reset(g);
    if (g->stream) {
        (void)gpuStreamSynchronize(g->stream);
        (void)gpuStreamDestroy(g->stream);
    }
    if (g->ev_start) (void)gpuEventDestroy(g->ev_start);
    if (g->ev_stop) (void)gpuEventDestroy(g->ev_stop);
    if (g->h_stage) { /* the stream was waited for above */
        (void)gpuEventDestroy(g->ev_stage[0]);
        (void)gpuEventDestroy(g->ev_stage[1]);
        (void)gpuFreeHost(g->h_stage);
    }
    if (g->d_argmax) (void)gpuFree(g->d_argmax);
    if (g->d_srow) (void)gpuFree(g->d_srow);
    if (g->d_adj) (void)gpuFree(g->d_adj);
    if (g->d_pick) (void)gpuFree(g->d_pick);
    free(g->h_adj);
    rf_scratch_release(g);
    rf_wh_release(g);
    rf_att_release(g);
    free(g);
}

extern "C" const rf_gpu_device_info *rf_gpu_info(const rf_gpu *g) { return &g->info; }

extern "C" rf_status rf_gpu_alloc(rf_gpu *g, size_t n, void **d_out, const char *what, rf_error *err)
{
    *d_out = NULL;
    gpuError_t e = gpuMalloc(d_out, n ? n : 1);
    if (e != gpuSuccess) {
        (void)gpuGetLastError();
        size_t fr = 0, tot = 0;
        (void)gpuMemGetInfo(&fr, &tot);
        *d_out = NULL;
        return rf_err(err, RF_ERR_NOMEM,
                      "GPU %d (%s): cannot allocate %s: %.1f MiB needed, %.1f MiB free of %.1f MiB "
                      "(%s); offload fewer layers (-ngl) or use a smaller context (-c)",
                      g->device, g->info.name, what, n / 1048576.0, fr / 1048576.0, tot / 1048576.0,
                      gpuGetErrorString(e));
    }
    return RF_OK;
}

extern "C" void rf_gpu_free(rf_gpu *g, void *d)
{
    (void)g;
    if (d) (void)gpuFree(d);
}

extern "C" rf_status rf_gpu_upload(rf_gpu *g, void *d_dst, const void *src, size_t n, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    GPU_TRY(gpuMemcpyAsync(d_dst, src, n, gpuMemcpyHostToDevice, g->stream));
    GPU_TRY(gpuStreamSynchronize(g->stream));
    return RF_OK;
}

/* Small uploads leave from one of two pinned slots (the copy is then only
 * queued), larger ones from the caller's memory (CUDA stages pageable
 * memory before returning; elsewhere the stream is waited for). */
extern "C" rf_status rf_gpu_upload_staged(rf_gpu *g, void *d_dst, const void *src, size_t n, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    if (n <= RF_GPU_STAGE_BYTES && !g->h_stage) {
        void *h = NULL;
        if (gpuMallocHost(&h, 2 * RF_GPU_STAGE_BYTES) == gpuSuccess) {
            if (gpuEventCreateNoTiming(&g->ev_stage[0]) == gpuSuccess &&
                gpuEventCreateNoTiming(&g->ev_stage[1]) == gpuSuccess) {
                g->h_stage = (uint8_t *)h;
            } else {
                if (g->ev_stage[0]) (void)gpuEventDestroy(g->ev_stage[0]);
                g->ev_stage[0] = NULL;
                (void)gpuFreeHost(h);
            }
        }
        (void)gpuGetLastError(); /* no slots: the caller's memory serves */
    }
    if (n <= RF_GPU_STAGE_BYTES && g->h_stage) {
        const int k = g->stage_next;
        if (g->stage_busy[k]) GPU_TRY(gpuEventSynchronize(g->ev_stage[k]));
        uint8_t *slot = g->h_stage + (size_t)k * RF_GPU_STAGE_BYTES;
        memcpy(slot, src, n);
        GPU_TRY(gpuMemcpyAsync(d_dst, slot, n, gpuMemcpyHostToDevice, g->stream));
        GPU_TRY(gpuEventRecord(g->ev_stage[k], g->stream));
        g->stage_busy[k] = true;
        g->stage_next = k ^ 1;
        return RF_OK;
    }
    GPU_TRY(gpuMemcpyAsync(d_dst, src, n, gpuMemcpyHostToDevice, g->stream));
#if !defined(RF_GPU_VENDOR_CUDA)
    GPU_TRY(gpuStreamSynchronize(g->stream));
#endif
    return RF_OK;
}

extern "C" rf_status rf_gpu_download(rf_gpu *g, void *dst, const void *d_src, size_t n, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    GPU_TRY(gpuMemcpyAsync(dst, d_src, n, gpuMemcpyDeviceToHost, g->stream));
    GPU_TRY(gpuStreamSynchronize(g->stream));
    return RF_OK;
}

extern "C" rf_status rf_gpu_upload_async(rf_gpu *g, void *d_dst, const void *src, size_t n, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    GPU_TRY(gpuMemcpyAsync(d_dst, src, n, gpuMemcpyHostToDevice, g->stream));
    return RF_OK;
}

extern "C" rf_status rf_gpu_download_async(rf_gpu *g, void *dst, const void *d_src, size_t n, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    GPU_TRY(gpuMemcpyAsync(dst, d_src, n, gpuMemcpyDeviceToHost, g->stream));
    return RF_OK;
}

extern "C" rf_status rf_gpu_copy_async(rf_gpu *g, void *d_dst, const void *d_src, size_t n, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    GPU_TRY(gpuMemcpyAsync(d_dst, d_src, n, gpuMemcpyDeviceToDevice, g->stream));
    return RF_OK;
}

static __global__ void rf_k_fill(float *d, size_t n, float v)
{
    RF_PDL_WAIT();
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        d[i] = v;
}

extern "C" rf_status rf_gpu_fill_f32(rf_gpu *g, float *d, size_t n, float v, rf_error *err)
{
    if (!n) return RF_OK;
    unsigned nb = rf_gpu_blocks((int64_t)n, 256);
    if (nb > 65535u) nb = 65535u;
    rf_launch(g->pdl, rf_k_fill, dim3(nb), dim3(256), 0, g->stream, d, n, v);
    GPU_LAUNCHED("fill");
    return RF_OK;
}

extern "C" rf_status rf_gpu_host_alloc(rf_gpu *g, size_t n, void **out, rf_error *err)
{
    (void)g;
    *out = NULL;
    GPU_TRY(gpuMallocHost(out, n ? n : 1));
    return RF_OK;
}

extern "C" void rf_gpu_host_free(rf_gpu *g, void *p)
{
    (void)g;
    if (p) (void)gpuFreeHost(p);
}

extern "C" rf_status rf_gpu_sync(rf_gpu *g, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    GPU_TRY(gpuStreamSynchronize(g->stream));
    GPU_TRY(gpuGetLastError());
    return RF_OK;
}

/* ---------------------------------------------------------------- graphs */

extern "C" void rf_gpu_graph_reset(rf_gpu *g)
{
    if (g->graph_exec) (void)gpuGraphExecDestroy(g->graph_exec);
    if (g->graph) (void)gpuGraphDestroy(g->graph);
    g->graph_exec = NULL;
    g->graph = NULL;
}

extern "C" rf_status rf_gpu_graph_begin(rf_gpu *g, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    if (g->capturing) return rf_err(err, RF_ERR_INVALID_ARG, "GPU graph: capture already running");
    rf_gpu_graph_reset(g);
    GPU_TRY(gpuStreamBeginCapture(g->stream));
    g->capturing = true;
    return RF_OK;
}

extern "C" rf_status rf_gpu_graph_end(rf_gpu *g, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    if (!g->capturing) return rf_err(err, RF_ERR_INVALID_ARG, "GPU graph: no capture running");
    g->capturing = false;
    GPU_TRY(gpuStreamEndCapture(g->stream, &g->graph));
    gpuError_t e = gpuGraphInstantiate(&g->graph_exec, g->graph);
    if (e != gpuSuccess) {
        g->graph_exec = NULL;
        rf_gpu_graph_reset(g);
        return rf_err(err, RF_ERR_BACKEND, "GPU graph: instantiate failed: %s", gpuGetErrorString(e));
    }
    return RF_OK;
}

extern "C" rf_status rf_gpu_graph_replay_on(rf_gpu *g, rf_gpu *on, rf_error *err)
{
    rf_gpu_forget_scratch(g);
    rf_gpu_forget_scratch(on);
    if (!g->graph_exec) return rf_err(err, RF_ERR_INVALID_ARG, "GPU graph: nothing captured");
    GPU_TRY(gpuGraphLaunch(g->graph_exec, on->stream));
    return RF_OK;
}

extern "C" rf_status rf_gpu_graph_replay(rf_gpu *g, rf_error *err) { return rf_gpu_graph_replay_on(g, g, err); }

extern "C" bool rf_gpu_graph_ready(const rf_gpu *g) { return g->graph_exec != NULL; }

extern "C" rf_status rf_gpu_time_ms(rf_gpu *g, void (*fn)(void *arg), void *arg, float *ms, rf_error *err)
{
    GPU_TRY(gpuEventRecord(g->ev_start, g->stream));
    fn(arg);
    GPU_TRY(gpuEventRecord(g->ev_stop, g->stream));
    GPU_TRY(gpuEventSynchronize(g->ev_stop));
    GPU_TRY(gpuEventElapsedTime(ms, g->ev_start, g->ev_stop));
    return RF_OK;
}

extern "C" rf_status rf_gpu_reserve_q8(rf_gpu *g, size_t n_elems, rf_error *err)
{
    n_elems = (n_elems + 31) / 32 * 32;
    if (n_elems <= g->q8_cap) return RF_OK;
    int8_t *xq = NULL;
    float *xd = NULL;
    __half *xh = NULL;
    rf_status st = rf_gpu_alloc(g, n_elems, (void **)&xq, "8-bit activation scratch", err);
    if (st == RF_OK) st = rf_gpu_alloc(g, n_elems / 32 * sizeof(float), (void **)&xd, "8-bit activation scales", err);
    if (st == RF_OK) st = rf_gpu_alloc(g, n_elems * sizeof(__half), (void **)&xh, "F16 activation scratch", err);
    if (st != RF_OK) {
        if (xq) (void)gpuFree(xq);
        if (xd) (void)gpuFree(xd);
        return st;
    }
    rf_scratch_release(g);
    g->d_xq = xq;
    g->d_xd = xd;
    g->d_xh = xh;
    g->q8_cap = n_elems;
    g->q8_owned = true;
    rf_gpu_forget_scratch(g);
    return RF_OK;
}

extern "C" rf_status rf_gpu_reserve_wh(rf_gpu *g, size_t n_elems, rf_error *err)
{
    if (n_elems <= g->wh_cap) return RF_OK;
    __half *wh = NULL;
    rf_status st = rf_gpu_alloc(g, n_elems * sizeof(__half), (void **)&wh, "F16 weight scratch", err);
    if (st != RF_OK) return st;
    rf_wh_release(g);
    g->d_wh = wh;
    g->wh_cap = n_elems;
    g->wh_owned = true;
    return RF_OK;
}

extern "C" rf_status rf_gpu_reserve_attn(rf_gpu *g, int n_rows, int n_head, int head_dim, rf_error *err)
{
    const int64_t heads = (int64_t)n_rows * n_head;
    if (heads <= 0 || head_dim <= 0) return RF_OK;
    if (heads <= g->att_heads_cap && head_dim <= g->att_hd_cap) return RF_OK;
    const int64_t nh = heads > g->att_heads_cap ? heads : g->att_heads_cap;
    const int hd = head_dim > g->att_hd_cap ? head_dim : g->att_hd_cap;
    float *part = NULL;
    unsigned *cnt = NULL;
    rf_status st = rf_gpu_alloc(g, (size_t)rf_attn_split_bytes((uint64_t)nh, (uint64_t)hd) - (size_t)nh * sizeof(unsigned),
                                (void **)&part, "split attention scratch", err);
    if (st == RF_OK) st = rf_gpu_alloc(g, (size_t)nh * sizeof(unsigned), (void **)&cnt, "split attention counters", err);
    if (st == RF_OK && (gpuMemsetAsync(cnt, 0, (size_t)nh * sizeof(unsigned), g->stream) != gpuSuccess ||
                        gpuStreamSynchronize(g->stream) != gpuSuccess))
        st = rf_err(err, RF_ERR_BACKEND, "GPU: clearing the split attention counters failed");
    if (st != RF_OK) {
        if (part) (void)gpuFree(part);
        if (cnt) (void)gpuFree(cnt);
        return st;
    }
    rf_att_release(g);
    g->d_att_part = part;
    g->d_att_cnt = cnt;
    g->att_heads_cap = nh;
    g->att_hd_cap = hd;
    g->att_owned = true;
    return RF_OK;
}

extern "C" void rf_gpu_share_q8(rf_gpu *dst, const rf_gpu *src)
{
    rf_att_release(dst);
    dst->d_att_part = src->d_att_part;
    dst->d_att_cnt = src->d_att_cnt;
    dst->att_heads_cap = src->att_heads_cap;
    dst->att_hd_cap = src->att_hd_cap;
    rf_wh_release(dst);
    dst->d_wh = src->d_wh;
    dst->wh_cap = src->wh_cap;
    rf_scratch_release(dst);
    dst->d_xq = src->d_xq;
    dst->d_xd = src->d_xd;
    dst->d_xh = src->d_xh;
    dst->q8_cap = src->q8_cap;
    dst->q8_owned = false;
    rf_gpu_forget_scratch(dst);
}

extern "C" void rf_gpu_set_mma(rf_gpu *g, bool on) { g->allow_mma = on; }
extern "C" void rf_gpu_set_path(rf_gpu *g, int path) { g->path = path; }
