/* file_storage.c - the `file_storage` extension: holds the directory and the
 * durability options of the persistent queue, as a storage provider
 * (otc_storage.h). The engine opens one write-ahead log per pipeline below the
 * directory on the main thread at start-up; this extension has no thread of its own. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file_storage.h"
#include "otc/otc_storage.h"

struct file_storage_ctx {
    char    *directory;
    bool     fsync;
    uint64_t segment_size;
    int      compression;
    bool     create_directory;
    char    *directory_permissions;
    /* otelcol's bbolt settings, accepted (see the table) */
    int64_t  timeout_ns;
    bool     recreate;
    bool     compaction_on_start;
    bool     compaction_on_rebound;
    char    *compaction_directory;
    int64_t  compaction_max_transaction_size;
    int64_t  compaction_rebound_needed_mib;
    int64_t  compaction_rebound_trigger_mib;
    int64_t  compaction_check_interval_ns;
    bool     compaction_cleanup_on_start;
};

/* otelcol's default on Linux */
#define FILE_STORAGE_DEFAULT_DIR "/var/lib/otelcol/file_storage"
#define BBOLT_NOTE "accepted, no effect: a setting of otelcol's bbolt database; otelc's queue " \
                   "is a segmented log whose delivered segments are deleted, never compacted"


#define OFF(f) offsetof(struct file_storage_ctx, f)

static const char *const compression_choices[] = {"none", "zstd", NULL};

static const struct otc_config_entry file_storage_config[] = {
    {OTC_CFG_STR, "directory", FILE_STORAGE_DEFAULT_DIR, OFF(directory), 0, 0, 0, NULL,
     "directory of the queue, which must exist unless create_directory is set; each pipeline "
     "gets a subdirectory"},
    {OTC_CFG_BOOL, "create_directory", "false", OFF(create_directory), 0, 0, 0, NULL,
     "create directory (and its parents) when it is missing"},
    {OTC_CFG_STR, "directory_permissions", "0750", OFF(directory_permissions), 0, 0, 0, NULL,
     "octal mode of the directories create_directory makes"},
    {OTC_CFG_DURATION, "timeout", "1s", OFF(timeout_ns), OTC_CFG_F_MIN, 0, 0, NULL,
     "accepted, no effect: otelcol's wait for the bbolt file lock; otelc's log has no such lock"},
    {OTC_CFG_BOOL, "recreate", "false", OFF(recreate), 0, 0, 0, NULL,
     "accepted, no effect: otelcol's rename of a corrupt bbolt file; otelc skips a damaged "
     "record, counts it and replays the rest of its segment"},
    {OTC_CFG_BOOL, "compaction.on_start", "false", OFF(compaction_on_start), 0, 0, 0, NULL,
     BBOLT_NOTE},
    {OTC_CFG_BOOL, "compaction.on_rebound", "false", OFF(compaction_on_rebound), 0, 0, 0, NULL,
     BBOLT_NOTE},
    {OTC_CFG_STR, "compaction.directory", NULL, OFF(compaction_directory), 0, 0, 0, NULL,
     BBOLT_NOTE},
    {OTC_CFG_INT, "compaction.max_transaction_size", "65536",
     OFF(compaction_max_transaction_size), OTC_CFG_F_MIN, 0, 0, NULL, BBOLT_NOTE},
    {OTC_CFG_INT, "compaction.rebound_needed_threshold_mib", "10",
     OFF(compaction_rebound_needed_mib), OTC_CFG_F_MIN, 0, 0, NULL, BBOLT_NOTE},
    {OTC_CFG_INT, "compaction.rebound_trigger_threshold_mib", "0",
     OFF(compaction_rebound_trigger_mib), OTC_CFG_F_MIN, 0, 0, NULL, BBOLT_NOTE},
    {OTC_CFG_DURATION, "compaction.check_interval", "5s", OFF(compaction_check_interval_ns),
     OTC_CFG_F_MIN, 0, 0, NULL, BBOLT_NOTE},
    {OTC_CFG_BOOL, "compaction.cleanup_on_start", "false", OFF(compaction_cleanup_on_start), 0,
     0, 0, NULL, BBOLT_NOTE},
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

    char *end = NULL;

    if (!x->directory || !x->directory[0]) {
        snprintf(err, errlen, "directory must not be empty");
        return OTC_EINVAL;
    }
    if (x->directory_permissions && x->directory_permissions[0]) {
        unsigned long m = strtoul(x->directory_permissions, &end, 8);
        if (*end || m > 07777) {
            snprintf(err, errlen, "directory_permissions must be an octal mode such as 0750, "
                     "got \"%s\"", x->directory_permissions);
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

static mode_t file_storage_mode(const struct file_storage_ctx *x)
{
    return x->directory_permissions && x->directory_permissions[0]
               ? (mode_t)strtoul(x->directory_permissions, NULL, 8) : 0750;
}

/* mkdir -p */
static int file_storage_mkdirs(const char *path, mode_t mode)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, mode) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : 0;
}

static int file_storage_start(struct otc_instance *ins, void *ctx)
{
    struct file_storage_ctx *x = ctx;
    struct stat st;

    if (x->create_directory && file_storage_mkdirs(x->directory, file_storage_mode(x)) != 0) {
        otc_log_err(ins, "directory %s: %s", x->directory, strerror(errno));
        return OTC_EIO;
    }
    if (!x->create_directory && mkdir(x->directory, 0750) != 0 && errno != EEXIST) {
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
