/* file_storage.c - the `file_storage` extension: holds the directory and the
 * durability options of the persistent queue, as a storage provider
 * (otc_storage.h). The engine opens one write-ahead log per pipeline below the
 * directory on the main thread at start-up; this extension has no thread of its own. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "file_storage.h"
#include "otc/otc_storage.h"

struct file_storage_ctx {
    char    *directory;
    bool     fsync;
    uint64_t segment_size;
    int      compression;
};

#define OFF(f) offsetof(struct file_storage_ctx, f)

static const char *const compression_choices[] = {"none", "zstd", NULL};

static const struct otc_config_entry file_storage_config[] = {
    {OTC_CFG_STR, "directory", NULL, OFF(directory), 0, 0, 0, NULL,
     "directory of the queue (required); each pipeline gets a subdirectory"},
    {OTC_CFG_BOOL, "fsync", "true", OFF(fsync), 0, 0, 0, NULL,
     "fdatasync each group of appended requests before answering OK (otelcol's default is false)"},
    {OTC_CFG_SIZE, "segment_size", "64MiB", OFF(segment_size), OTC_CFG_F_MIN | OTC_CFG_F_MAX,
     4096, 1024.0 * 1024 * 1024, NULL,
     "start a new segment file past this size; a segment is deleted once all its records are delivered"},
    {OTC_CFG_ENUM, "compression", "none", OFF(compression), 0, 0, 0, compression_choices,
     "zstd: compress each record (a fifth of the disk for typical OTLP, about twice the CPU); "
     "none: store it as received"},
    OTC_CFG_END,
};

static int file_storage_validate(const void *vctx, char *err, size_t errlen)
{
    const struct file_storage_ctx *x = vctx;

    if (!x->directory || !x->directory[0]) {
        snprintf(err, errlen, "directory is required");
        return OTC_EINVAL;
    }
    return OTC_OK;
}

static int file_storage_start(struct otc_instance *ins, void *ctx)
{
    struct file_storage_ctx *x = ctx;
    struct stat st;

    if (mkdir(x->directory, 0750) != 0 && errno != EEXIST) {
        otc_log_err(ins, "directory %s: %s", x->directory, strerror(errno));
        return OTC_EIO;
    }
    if (stat(x->directory, &st) != 0 || !S_ISDIR(st.st_mode)) {
        otc_log_err(ins, "%s is not a directory", x->directory);
        return OTC_EINVAL;
    }
    otc_log_info(ins, "persistent queue in %s (fsync %s, compression %s)", x->directory,
                 x->fsync ? "on" : "off", compression_choices[x->compression]);
    return OTC_OK;
}

static int file_storage_settings(const struct otc_instance *ins, struct otc_storage_settings *st)
{
    const struct file_storage_ctx *x = ins->ctx;

    if (!x) {
        return OTC_EINVAL;
    }
    st->directory = x->directory;
    st->fsync = x->fsync;
    st->segment_size = x->segment_size;
    st->compress = x->compression == 1;
    return OTC_OK;
}

static const struct otc_storage_ops file_storage_storage = {
    .settings = file_storage_settings,
};

const struct otc_component_ops otc_extension_file_storage_ops = {
    .type = "file_storage",
    .kind = OTC_EXTENSION,
    .signals = 0,
    .mutates = false,
    .concurrent = false,
    .ctx_size = sizeof(struct file_storage_ctx),
    .config_map = file_storage_config,
    .validate = file_storage_validate,
    .init = NULL,
    .start = file_storage_start,
    .consume = NULL,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = NULL,
    .auth = NULL,
    .storage = &file_storage_storage,
};
