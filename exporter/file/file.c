/* file.c - the `file` exporter, as otelcol's: each batch as one OTLP/JSON line,
 * or (format proto, or any format with compression) as a message prefixed with
 * its length (u32 big endian), zstd-compressed when asked; the file is rotated
 * by size (rotation). Runs on its single exporter thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "file.h"
#include "otc/otc_buf.h"
#include "otc/otc_json.h"

enum { FORMAT_JSON, FORMAT_PROTO };
enum { COMPRESSION_NONE, COMPRESSION_ZSTD };

struct file_exp {
    /* options */
    char          *path;
    bool           append;
    int            format;
    int            compression;
    bool           rotation;          /* the rotation section is present */
    int64_t        max_megabytes;
    int64_t        max_days;
    int64_t        max_backups;
    bool           localtime;
    int64_t        flush_interval_ns; /* accepted; see the table */
    bool           group_by_enabled;  /* accepted; see the table */
    char          *group_by_attr;
    int64_t        group_by_max_open;
    /* runtime */
    FILE          *f;
    uint64_t       size;              /* bytes in the current file */
    struct otc_buf line;
    void          *zbuf;
    size_t         zcap;
};

static const char *const format_choices[] = {"json", "proto", NULL};
static const char *const compression_choices[] = {"", "zstd", NULL};

#define OFF(f) offsetof(struct file_exp, f)

static const struct otc_config_entry file_config[] = {
    {OTC_CFG_STR, "path", NULL, OFF(path), 0, 0, 0, NULL, "file to write to"},
    {OTC_CFG_BOOL, "append", "false", OFF(append), 0, 0, 0, NULL,
     "append to an existing file instead of truncating it"},
    {OTC_CFG_ENUM, "format", "json", OFF(format), 0, 0, 0, format_choices,
     "json: one OTLP/JSON object per line; proto: each request as binary protobuf after its "
     "length (u32 big endian)"},
    {OTC_CFG_ENUM, "compression", "", OFF(compression), 0, 0, 0, compression_choices,
     "zstd: each message compressed on its own and written after its length (also with "
     "format json); empty: none"},
    {OTC_CFG_SECTION, "rotation", NULL, OFF(rotation), 0, 0, 0, NULL,
     "rotate the file by size: it is renamed to <name>-<timestamp><ext> and a new one begun"},
    {OTC_CFG_INT, "rotation.max_megabytes", "100", OFF(max_megabytes), OTC_CFG_F_MIN, 0, 0, NULL,
     "size in MiB past which the file is rotated (0 = 100)"},
    {OTC_CFG_INT, "rotation.max_days", "0", OFF(max_days), OTC_CFG_F_MIN, 0, 0, NULL,
     "rotated files older than this many days are deleted (0 = kept whatever their age)"},
    {OTC_CFG_INT, "rotation.max_backups", "100", OFF(max_backups), OTC_CFG_F_MIN, 0, 0, NULL,
     "rotated files kept, the oldest deleted first (0 = all)"},
    {OTC_CFG_BOOL, "rotation.localtime", "false", OFF(localtime), 0, 0, 0, NULL,
     "timestamps of rotated files in local time instead of UTC"},
    {OTC_CFG_DURATION, "flush_interval", "1s", OFF(flush_interval_ns), OTC_CFG_F_MIN, 0, 0,
     NULL, "accepted; otelc flushes after every batch, so data is never held this long"},
    {OTC_CFG_BOOL, "group_by.enabled", "false", OFF(group_by_enabled), 0, 0, 0, NULL,
     "accepted, not implemented: every resource is written to path as given"},
    {OTC_CFG_STR, "group_by.resource_attribute", "fileexporter.path_segment",
     OFF(group_by_attr), 0, 0, 0, NULL, "accepted, not implemented (see group_by.enabled)"},
    {OTC_CFG_INT, "group_by.max_open_files", "100", OFF(group_by_max_open), OTC_CFG_F_MIN, 1,
     0, NULL, "accepted, not implemented (see group_by.enabled)"},
    OTC_CFG_END,
};

static int file_validate(const void *vctx, char *err, size_t errlen)
{
    const struct file_exp *x = vctx;

    if (!x->path || !*x->path) {
        snprintf(err, errlen, "\"path\" is required");
        return OTC_EINVAL;
    }
    return OTC_OK;
}

static int file_open(struct otc_instance *ins, struct file_exp *x, bool append)
{
    struct stat st;

    x->f = fopen(x->path, append ? "a" : "w");
    if (!x->f) {
        otc_log_err(ins, "cannot open %s: %s", x->path, strerror(errno));
        return OTC_EIO;
    }
    x->size = append && fstat(fileno(x->f), &st) == 0 ? (uint64_t)st.st_size : 0;
    return OTC_OK;
}

static int file_start(struct otc_instance *ins, void *vctx)
{
    struct file_exp *x = vctx;

    otc_buf_init(&x->line);
    return file_open(ins, x, x->append);
}

/* Rotated files of x->path: <stem>-<timestamp><ext> in its directory. */
struct backup {
    char  *path;
    time_t mtime;
};

static int backup_cmp(const void *a, const void *b)
{
    const struct backup *x = a, *y = b;

    return x->mtime < y->mtime ? 1 : x->mtime > y->mtime ? -1 : strcmp(y->path, x->path);
}

/* Split x->path into directory, stem and extension (lumberjack's naming). */
static void file_parts(const char *path, char *dir, size_t dlen, char *stem, size_t slen,
                       const char **ext)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');

    snprintf(dir, dlen, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path) {
        snprintf(dir, dlen, "/");
    }
    *ext = dot && dot != base ? dot : "";
    snprintf(stem, slen, "%.*s", (int)(strlen(base) - strlen(*ext)), base);
}

/* Delete rotated files beyond max_backups or older than max_days. */
static void file_prune(struct otc_instance *ins, struct file_exp *x)
{
    char dir[4096], stem[1024];
    const char *ext;
    DIR *d;
    struct dirent *de;
    struct backup *v = NULL;
    size_t n = 0, cap = 0;
    time_t now = time(NULL);

    if (!x->max_backups && !x->max_days) {
        return;
    }
    file_parts(x->path, dir, sizeof(dir), stem, sizeof(stem), &ext);
    if (!(d = opendir(dir))) {
        return;
    }
    while ((de = readdir(d))) {
        size_t sl = strlen(stem), el = strlen(ext), nl = strlen(de->d_name);
        char full[8192];
        struct stat st;

        if (nl <= sl + 1 + el || strncmp(de->d_name, stem, sl) || de->d_name[sl] != '-' ||
            !isdigit((unsigned char)de->d_name[sl + 1]) ||
            strcmp(de->d_name + nl - el, ext)) {
            continue;
        }
        snprintf(full, sizeof(full), "%s/%s", dir, de->d_name);
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (n == cap) {
            struct backup *g = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));
            if (!g) {
                break;
            }
            v = g;
        }
        if (!(v[n].path = strdup(full))) {
            break;
        }
        v[n++].mtime = st.st_mtime;
    }
    closedir(d);
    qsort(v, n, sizeof(*v), backup_cmp); /* newest first */
    for (size_t i = 0; i < n; i++) {
        if ((x->max_backups && i >= (size_t)x->max_backups) ||
            (x->max_days && now - v[i].mtime > (time_t)x->max_days * 86400)) {
            if (unlink(v[i].path) != 0) {
                otc_log_warn(ins, "rotation: cannot delete %s: %s", v[i].path, strerror(errno));
            }
        }
        free(v[i].path);
    }
    free(v);
}

/* Rename the current file to <stem>-<timestamp><ext> and start a new one. */
static int file_rotate(struct otc_instance *ins, struct file_exp *x)
{
    char dir[4096], stem[1024], stamp[64], to[8192];
    const char *ext;
    struct timespec ts;
    struct tm tm;

    fclose(x->f);
    x->f = NULL;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (x->localtime) {
        localtime_r(&ts.tv_sec, &tm);
    } else {
        gmtime_r(&ts.tv_sec, &tm);
    }
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H-%M-%S", &tm);
    file_parts(x->path, dir, sizeof(dir), stem, sizeof(stem), &ext);
    snprintf(to, sizeof(to), "%s/%s-%s.%03ld%s", dir, stem, stamp, ts.tv_nsec / 1000000, ext);
    if (rename(x->path, to) != 0) {
        otc_log_warn(ins, "rotation: cannot rename %s: %s", x->path, strerror(errno));
    }
    file_prune(ins, x);
    return file_open(ins, x, false);
}

static int file_write(struct otc_instance *ins, struct file_exp *x, const void *data, size_t len,
                      bool framed)
{
    uint64_t limit = (uint64_t)(x->max_megabytes ? x->max_megabytes : 100) * 1024 * 1024;
    size_t total = len + (framed ? 4 : 0);

    if (x->rotation && x->size > 0 && x->size + total > limit && file_rotate(ins, x) != OTC_OK) {
        return OTC_EIO;
    }
    if (framed) {
        uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len};
        if (fwrite(be, 1, 4, x->f) != 4) {
            goto err;
        }
    }
    if (fwrite(data, 1, len, x->f) != len || fflush(x->f) != 0) {
        goto err;
    }
    x->size += total;
    return OTC_OK;
err:
    otc_log_err(ins, "cannot write %s: %s", x->path, strerror(errno));
    return OTC_EIO;
}

static int file_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct file_exp *x = vctx;
    const void *data;
    size_t len;
    int rc;

    otc_buf_reset(&x->line);
    if (x->format == FORMAT_PROTO) {
        const uint8_t *bytes;

        rc = otc_batch_bytes(b, &bytes, &len);
        if (rc == OTC_OK) {
            otc_buf_add(&x->line, bytes, len);
            rc = x->line.oom ? OTC_ENOMEM : OTC_OK;
        }
    } else {
        const ProtobufCMessage *msg = otc_batch_msg(b);

        rc = msg ? otc_json_encode(msg, &x->line) : OTC_EINVAL;
        if (rc == OTC_OK && x->compression == COMPRESSION_NONE) {
            otc_buf_addc(&x->line, '\n');
        }
    }
    otc_batch_unref(b);
    if (rc != OTC_OK) {
        return rc == OTC_ENOMEM ? OTC_EIO : OTC_EPERM;
    }
    data = x->line.data;
    len = x->line.len;
    if (x->compression == COMPRESSION_ZSTD) {
        size_t bound = ZSTD_compressBound(len), z;

        if (bound > x->zcap) {
            void *g = realloc(x->zbuf, bound);
            if (!g) {
                return OTC_EIO;
            }
            x->zbuf = g;
            x->zcap = bound;
        }
        z = ZSTD_compress(x->zbuf, x->zcap, data, len, 1);
        if (ZSTD_isError(z)) {
            otc_log_err(ins, "zstd: %s", ZSTD_getErrorName(z));
            return OTC_EPERM;
        }
        data = x->zbuf;
        len = z;
    }
    return file_write(ins, x, data, len,
                      x->format == FORMAT_PROTO || x->compression != COMPRESSION_NONE);
}

static void file_shutdown(struct otc_instance *ins, void *vctx)
{
    struct file_exp *x = vctx;

    if (x->f) {
        fclose(x->f);
        x->f = NULL;
    }
    otc_buf_free(&x->line);
    free(x->zbuf);
    x->zbuf = NULL;
    x->zcap = 0;
}

static void file_destroy(void *vctx)
{
    file_shutdown(NULL, vctx);
}

const struct otc_component_ops otc_exporter_file_ops = {
    .type = "file",
    .kind = OTC_EXPORTER,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = false,
    .ctx_size = sizeof(struct file_exp),
    .config_map = file_config,
    .validate = file_validate,
    .init = NULL,
    .start = file_start,
    .consume = file_consume,
    .flush = NULL,
    .shutdown = file_shutdown,
    .destroy = file_destroy,
};
