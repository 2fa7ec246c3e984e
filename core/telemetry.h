/* telemetry.h - otelc's own metrics: a registry of the per-instance atomic
 * counters (bumped per batch on the data path, never per item) rendered in the
 * Prometheus text format, with otelcol's metric names, at
 * service.telemetry.metrics (default localhost:8888, /metrics). The registry is
 * filled on the main thread before the server thread starts; the server thread
 * only reads it. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_TELEMETRY_H
#define OTC_CORE_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "otc/otc_buf.h"
#include "otc/otc_component.h"
#include "otc/otc_queue.h"

#define OTC_SERVICE_NAME    "otelc"
#define OTC_SERVICE_VERSION "0.1.0"
#define OTC_TELEMETRY_DEFAULT_ENDPOINT "localhost:8888"
#define OTC_TELEMETRY_PATH "/metrics"

/* service.telemetry.metrics.level, as otelcol: none turns the endpoint off;
 * basic, normal and detailed all serve every metric listed in the README. */
enum otc_telemetry_level {
    OTC_TELEMETRY_NONE,
    OTC_TELEMETRY_BASIC,
    OTC_TELEMETRY_NORMAL,
    OTC_TELEMETRY_DETAILED,
};

/* One component instance whose counters are exposed. */
struct otc_telemetry_source {
    enum otc_kind              kind;
    const char                *id;        /* label value: "otlp", "otlp/backend" */
    const char                *type;      /* component type ("dedup": deduplicated counts) */
    const struct otc_counters *counters;
    unsigned                   signals;   /* OTC_SIG_* bits the instance serves */
    struct otc_queue          *queue;     /* exporters with a sending queue, else NULL */
    uint64_t                   queue_capacity;
};

struct otc_httpd;

struct otc_telemetry {
    /* config */
    enum otc_telemetry_level     level;
    char                        *endpoint;     /* host:port */
    bool                         endpoint_set; /* given by the user: failing to bind is fatal */
    /* otelcol options stored as written (set by core/telemetry.c's config and by
     * service.c for `resource`); what each does is the metrics output's business */
    struct otc_strmap            resource;             /* service.telemetry.resource */
    bool                         without_type_suffix;  /* pull prometheus reader */
    bool                         without_units;
    bool                         without_scope_info;
    bool                         without_type_suffix_set;
    bool                         without_units_set;
    bool                         without_scope_info_set;
    char                        *periodic_endpoint;    /* periodic reader's otlp exporter, or NULL */
    char                        *periodic_protocol;    /* grpc, http/protobuf or http/json */
    int64_t                      periodic_interval_ms; /* 60000 when not given */
    int64_t                      periodic_timeout_ms;  /* 30000 when not given */
    /* registry */
    struct otc_telemetry_source *src;
    size_t                       n_src, cap_src;
    /* runtime */
    uint64_t                     start_ns;     /* CLOCK_MONOTONIC at start: uptime */
    char                         instance_id[40];
    struct otc_httpd            *httpd;
};

/* Defaults: level normal, localhost:8888. */
int  otc_telemetry_init(struct otc_telemetry *t);
/* Read the service.telemetry.metrics mapping through its option table: level,
 * and either the legacy `address: host:port` or
 * `readers: [{pull: {exporter: {prometheus: {host, port, without_*}}}},
 *            {periodic: {exporter: {otlp: {protocol, endpoint, ...}}, interval, timeout}}]`.
 * Every problem is added to d, named as a key of service. */
int  otc_telemetry_configure(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *metrics,
                             struct otc_diag *d);
int  otc_telemetry_add(struct otc_telemetry *t, const struct otc_telemetry_source *s);
/* The whole exposition (text format 0.0.4) into out. */
void otc_telemetry_render(const struct otc_telemetry *t, struct otc_buf *out);
/* Serve GET /metrics on its own thread (nothing when the level is none). */
int  otc_telemetry_start(struct otc_telemetry *t);
void otc_telemetry_stop(struct otc_telemetry *t);
void otc_telemetry_free(struct otc_telemetry *t);

#endif
