/* file.c - the `file` exporter: writes each batch as one OTLP/JSON object per
 * line, as otelcol's file exporter does. Runs on its single exporter thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "file.h"
#include "otc/otc_buf.h"
#include "otc/otc_json.h"

struct file_exp {
    char          *path;
    bool           append;
    int            format;
    FILE          *f;
    struct otc_buf line;
};

static const char *const format_choices[] = {"json", NULL};

#define OFF(f) offsetof(struct file_exp, f)

static const struct otc_config_entry file_config[] = {
    {OTC_CFG_STR, "path", NULL, OFF(path), 0, 0, 0, NULL, "file to write OTLP/JSON lines to"},
    {OTC_CFG_BOOL, "append", "false", OFF(append), 0, 0, 0, NULL,
     "append to an existing file instead of truncating it"},
    {OTC_CFG_ENUM, "format", "json", OFF(format), 0, 0, 0, format_choices,
     "encoding of each line: json (OTLP/JSON)"},
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

static int file_start(struct otc_instance *ins, void *vctx)
{
    struct file_exp *x = vctx;

    x->f = fopen(x->path, x->append ? "a" : "w");
    if (!x->f) {
        otc_log_err(ins, "cannot open %s: %s", x->path, strerror(errno));
        return OTC_EIO;
    }
    otc_buf_init(&x->line);
    return OTC_OK;
}

static int file_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct file_exp *x = vctx;
    const ProtobufCMessage *msg = otc_batch_msg(b);
    int rc;

    otc_buf_reset(&x->line);
    rc = msg ? otc_json_encode(msg, &x->line) : OTC_EINVAL;
    otc_batch_unref(b);
    if (rc != OTC_OK) {
        return rc == OTC_ENOMEM ? OTC_EIO : OTC_EPERM;
    }
    otc_buf_addc(&x->line, '\n');
    if (fwrite(x->line.data, 1, x->line.len, x->f) != x->line.len || fflush(x->f) != 0) {
        otc_log_err(ins, "cannot write %s: %s", x->path, strerror(errno));
        return OTC_EIO;
    }
    return OTC_OK;
}

static void file_shutdown(struct otc_instance *ins, void *vctx)
{
    struct file_exp *x = vctx;

    if (x->f) {
        fclose(x->f);
        x->f = NULL;
    }
    otc_buf_free(&x->line);
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
