/* engine_memory.c — what a CPU model costs in memory once loaded. The CPU
 * backend repacks its matrices into memory it owns, so the file's pages of
 * those tensors must leave the process (they are dropped as each tensor is
 * packed): the file-backed resident set grows by a small part of the file
 * (norms, embedding rows looked up), and the whole resident set stays near
 * one copy of the weights rather than two. Linux (/proc/self/status). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rocmforge.h"
#include "test_util.h"

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    const size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

int main(void)
{
    if (status_kb("RssFile") < 0) rf_test_skip("/proc/self/status has no RssFile (not Linux?)");
    char dir[] = "/tmp/rf-engine-memory-XXXXXX";
    if (!mkdtemp(dir)) rf_test_skip("cannot create a temporary directory");
    char path[256], args[512], log[256], cmd[300];
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    snprintf(log, sizeof log, "%s/cli.log", dir);
    /* ~37 MiB of Q4_0 matrices */
    snprintf(args, sizeof args,
             "synth --arch llama --shape n_embd=1024,n_layer=4,n_head=8,n_head_kv=8,n_ff=4096,n_vocab=512 "
             "--type Q4_0 --seed 3 -q -o %s", path);
    CHECKF(rf_test_run_cli(args, log) == 0, "synth failed (see %s)", log);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    const long file_kb = (long)(st.st_size / 1024);

    const long file0 = status_kb("RssFile"), anon0 = status_kb("RssAnon");
    rf_model_params mp = rf_model_default_params();
    mp.device_kind = RF_DEVICE_CPU;
    mp.n_threads = 1;
    rf_model *m = NULL;
    rf_error err = {0};
    CHECKF(rf_model_load(path, &mp, &m, &err) == RF_OK, "load: %s", err.msg);
    const long file1 = status_kb("RssFile"), anon1 = status_kb("RssAnon");
    fprintf(stderr, "file %ld KiB; after load: file-backed resident +%ld KiB, anonymous +%ld KiB\n", file_kb,
            file1 - file0, anon1 - anon0);
    /* The packed copies are about the file's size; the file's own pages of
     * them are gone: what stays mapped is well under a tenth of the file. */
    CHECKF(file1 - file0 < file_kb / 10, "file-backed resident set grew by %ld KiB of a %ld KiB file", file1 - file0,
           file_kb);
    CHECKF(anon1 - anon0 > file_kb / 2 && anon1 - anon0 < file_kb * 3 / 2,
           "the repacked weights take %ld KiB for a %ld KiB file (expected about one copy)", anon1 - anon0, file_kb);
    rf_model_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rf_test_done("engine_memory");
}
