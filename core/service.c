/* service.c - the `service:` section of the config, read through one option
 * table like a component's: shutdown_timeout, extensions, telemetry.logs and
 * telemetry.metrics (the pipelines are graph.c's). Reading it only fills the
 * engine being built; its log options reach the process when that engine
 * starts or a reload to it succeeds (otc_log_options_apply). Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "service.h"

/* The service section as written: the context of service_map. */
struct service_config {
    const void *pipelines;           /* yaml_node_t *, for graph.c */
    const void *extensions;          /* yaml_node_t *: a list of extension ids */
    int64_t     shutdown_timeout_ns;
    int         log_level;           /* index into log_levels; -1: not given */
    int         log_encoding;        /* index into log_encodings; -1: not given */
    const void *metrics;             /* yaml_node_t *, read with telemetry.c's own table */
    const void *resource;            /* yaml_node_t *: telemetry.resource, for telemetry.c */
    /* otelcol's telemetry options otelc accepts (see service_map) */
    bool               log_development;
    bool               log_disable_caller;
    bool               log_disable_stacktrace;
    bool               log_sampling;           /* the section is present */
    bool               log_sampling_enabled;
    int64_t            log_sampling_tick_ns;
    int64_t            log_sampling_initial;
    int64_t            log_sampling_thereafter;
    struct otc_strlist log_output_paths;
    struct otc_strlist log_error_output_paths;
    const void        *log_initial_fields;
    const void        *log_processors;
    const void        *traces;
};

/* As otc_log_level_parse reads them ("warning" is warn). */
static const char *const log_levels[] = {"debug", "info", "warn", "error", "warning", NULL};
static const char *const log_encodings[] = {"console", "json", NULL};

#define SVC_OFF(f) offsetof(struct service_config, f)

static const struct otc_config_entry service_map[] = {
    {OTC_CFG_NODE, "pipelines", NULL, SVC_OFF(pipelines), 0, 0, 0, NULL,
     "the pipelines: traces, metrics or logs, optionally /name, each with its receivers, "
     "processors and exporters"},
    {OTC_CFG_NODE, "extensions", NULL, SVC_OFF(extensions), 0, 0, 0, NULL,
     "ids of the extensions to run (configured under extensions), in start order"},
    {OTC_CFG_DURATION, "shutdown_timeout", "25s", SVC_OFF(shutdown_timeout_ns), 0, 0, 0, NULL,
     "how long a shutdown (or the previous pipelines after a reload) may take to drain"},
    {OTC_CFG_ENUM, "telemetry.logs.level", NULL, SVC_OFF(log_level), OTC_CFG_F_ICASE, 0, 0,
     log_levels, "the least severe level logged (default info)"},
    {OTC_CFG_ENUM, "telemetry.logs.encoding", NULL, SVC_OFF(log_encoding), 0, 0, 0,
     log_encodings, "console (the default): one text line per event; json: one JSON object "
     "per line"},
    {OTC_CFG_NODE, "telemetry.metrics", NULL, SVC_OFF(metrics), 0, 0, 0, NULL,
     "the metrics endpoint: level, address or readers (core/telemetry.c)"},
    {OTC_CFG_NODE, "telemetry.resource", NULL, SVC_OFF(resource), 0, 0, 0, NULL,
     "attributes of the collector's own telemetry (target_info, periodic pushes); null removes "
     "one of the service.* defaults"},
    {OTC_CFG_BOOL, "telemetry.logs.development", "false", SVC_OFF(log_development), 0, 0, 0,
     NULL, "accepted, no effect: zap's development mode (stack traces on warnings); otelc's "
     "log has no stack traces"},
    {OTC_CFG_BOOL, "telemetry.logs.disable_caller", "false", SVC_OFF(log_disable_caller), 0, 0,
     0, NULL, "accepted, no effect: otelc's log lines carry no caller"},
    {OTC_CFG_BOOL, "telemetry.logs.disable_stacktrace", "false", SVC_OFF(log_disable_stacktrace),
     0, 0, 0, NULL, "accepted, no effect: otelc's log lines carry no stack trace"},
    {OTC_CFG_SECTION, "telemetry.logs.sampling", NULL, SVC_OFF(log_sampling), 0, 0, 0, NULL,
     "accepted, no effect: otelc logs a summary at most once a second instead of one line per "
     "item, so its log needs no sampling"},
    {OTC_CFG_BOOL, "telemetry.logs.sampling.enabled", "true", SVC_OFF(log_sampling_enabled), 0,
     0, 0, NULL, "accepted, no effect (see sampling)"},
    {OTC_CFG_DURATION, "telemetry.logs.sampling.tick", "10s", SVC_OFF(log_sampling_tick_ns),
     OTC_CFG_F_MIN, 0, 0, NULL, "accepted, no effect (see sampling)"},
    {OTC_CFG_INT, "telemetry.logs.sampling.initial", "10", SVC_OFF(log_sampling_initial),
     OTC_CFG_F_MIN, 0, 0, NULL, "accepted, no effect (see sampling)"},
    {OTC_CFG_INT, "telemetry.logs.sampling.thereafter", "100", SVC_OFF(log_sampling_thereafter),
     OTC_CFG_F_MIN, 0, 0, NULL, "accepted, no effect (see sampling)"},
    {OTC_CFG_STRLIST, "telemetry.logs.output_paths", NULL, SVC_OFF(log_output_paths), 0, 0, 0,
     NULL, "accepted, no effect: otelc logs to stderr (otelcol's default)"},
    {OTC_CFG_STRLIST, "telemetry.logs.error_output_paths", NULL, SVC_OFF(log_error_output_paths),
     0, 0, 0, NULL, "accepted, no effect: otelc logs to stderr (otelcol's default)"},
    {OTC_CFG_NODE, "telemetry.logs.initial_fields", NULL, SVC_OFF(log_initial_fields), 0, 0, 0,
     NULL, "accepted, no effect"},
    {OTC_CFG_NODE, "telemetry.logs.processors", NULL, SVC_OFF(log_processors), 0, 0, 0, NULL,
     "accepted, no effect: otelcol's export of its own log records over OTLP; otelc's log "
     "goes to stderr only"},
    {OTC_CFG_NODE, "telemetry.traces", NULL, SVC_OFF(traces), 0, 0, 0, NULL,
     "accepted, no effect: otelc does not trace itself"},
    OTC_CFG_END,
};

/* service.extensions: ids configured under "extensions", started in this order. */
static int service_extensions(struct otc_engine *e, struct otc_yaml *y, yaml_node_t *vn,
                              struct otc_diag *d)
{
    size_t n;
    int rc = OTC_OK;

    if (otc_yaml_is_null(vn)) {
        return OTC_OK;
    }
    if (vn->type != YAML_SEQUENCE_NODE) {
        otc_diag_add(d, y->path, &vn->start_mark, "service: \"extensions\" must be a list of ids");
        return OTC_EINVAL;
    }
    n = (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start);
    free(e->service_ext);
    e->service_ext = calloc(n ? n : 1, sizeof(*e->service_ext));
    e->n_service_ext = 0;
    if (!e->service_ext) {
        return OTC_ENOMEM;
    }
    for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++) {
        yaml_node_t *item = otc_yaml_node(y, *it);
        const char *id = otc_yaml_str(item);
        struct otc_instance *ext = NULL;
        bool defined;

        if (id) {
            defined = otc_yaml_get(y, otc_yaml_get(y, otc_yaml_root(y), "extensions"), id) != NULL;
            for (size_t k = 0; defined && k < e->n_extensions; k++) {
                if (e->extensions[k].id && !strcmp(e->extensions[k].id, id)) {
                    ext = &e->extensions[k];
                }
            }
            if (!defined) {
                otc_diag_add(d, y->path, &item->start_mark,
                             "service: references extension \"%s\", which is not configured under \"extensions\"",
                             id);
                rc = OTC_EINVAL;
                continue;
            }
        } else {
            otc_diag_add(d, y->path, &item->start_mark, "service: extensions entries must be ids");
            rc = OTC_EINVAL;
            continue;
        }
        for (size_t k = 0; ext && k < e->n_service_ext; k++) {
            if (e->service_ext[k] == ext) {
                otc_diag_add(d, y->path, &item->start_mark, "service: extension \"%s\" is listed twice", id);
                rc = OTC_EINVAL;
                ext = NULL;
            }
        }
        if (ext) {
            e->service_ext[e->n_service_ext++] = ext;
        }
    }
    return rc;
}

/* What the config asks of the log, kept in the engine until it runs. */
static void service_log_options(struct otc_log_options *o, const struct service_config *c)
{
    memset(o, 0, sizeof(*o));
    if (c->log_level >= 0 && otc_log_level_parse(log_levels[c->log_level], &o->level) == OTC_OK) {
        o->level_set = true;
    }
    if (c->log_encoding >= 0) {
        o->encoding_set = true;
        o->json = c->log_encoding == 1;
    }
}

int otc_service_build(struct otc_engine *e, struct otc_yaml *y, yaml_node_t **svc,
                      yaml_node_t **pipelines, struct otc_diag *d)
{
    yaml_node_t *node = otc_yaml_get(y, otc_yaml_root(y), "service");
    struct service_config c;
    int rc = OTC_OK;

    *svc = NULL;
    *pipelines = NULL;
    if (!node || node->type != YAML_MAPPING_NODE) {
        otc_diag_add(d, y->path, node ? &node->start_mark : NULL,
                     "\"service\" with \"pipelines\" is required");
        return OTC_EINVAL;
    }
    memset(&c, 0, sizeof(c));
    c.log_level = -1;
    c.log_encoding = -1;
    if (otc_config_map_defaults(service_map, &c) != OTC_OK) {
        return OTC_EINVAL;
    }
    /* every key is read even when another is wrong: all problems are reported */
    if (otc_config_apply(y, node, "service", service_map, &c, NULL, NULL, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    e->shutdown_timeout_ns = c.shutdown_timeout_ns;
    if (c.extensions && service_extensions(e, y, (yaml_node_t *)c.extensions, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (otc_telemetry_configure(&e->telemetry, y, (yaml_node_t *)c.metrics, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (otc_telemetry_resource(&e->telemetry, y, (yaml_node_t *)c.resource, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    service_log_options(&e->log, &c);
    otc_config_map_free(service_map, &c);
    *svc = node;
    *pipelines = (yaml_node_t *)c.pipelines;
    return rc;
}

void otc_log_options_apply(const struct otc_log_options *o)
{
    if (o->level_set) {
        otc_log_threshold = o->level;
    }
    if (o->encoding_set) {
        otc_log_json = o->json;
    }
}
