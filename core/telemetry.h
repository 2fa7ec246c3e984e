/* telemetry.h - otelc's own metrics: a registry of the per-instance atomic
 * counters (bumped per batch on the data path, never per item), walked by
 * one visitor that both readers use: the Prometheus pull reader renders the
 * text format at service.telemetry.metrics (default localhost:8888, /metrics)
 * with otelcol's names, and periodic readers push the same metrics over OTLP
 * (telemetry_otlp.c). The registry is filled on the main thread before the
 * reader threads start; they only read it. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_TELEMETRY_H
#define OTC_CORE_TELEMETRY_H

#include <pthread.h>
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
#define OTC_TELEMETRY_MAX_PERIODIC 4

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

/* A persistent queue (a pipeline's write-ahead log), shown for each exporter
 * of the pipeline that names the storage. */
struct otc_wal;
struct otc_telemetry_pq {
    const char     *exporter;  /* exporter id (label) */
    const char     *pipeline;  /* pipeline id (label of the otelc_persistent_queue_* metrics) */
    enum otc_signal signal;    /* data_type label */
    struct otc_wal *wal;
};

/* A pipeline's queue in front of its worker: bytes held against its budget,
 * the requests its budget refused, and those that waited for room
 * (otelc_pipeline_queue_*). */
struct otc_telemetry_pipeline {
    const char                 *id;        /* pipeline label */
    const atomic_uint_fast64_t *bytes;
    uint64_t                    capacity;  /* bytes */
    const atomic_uint_fast64_t *refused;
    const atomic_uint_fast64_t *waited;
};

/* A periodic reader: `periodic: {interval, timeout, exporter: {otlp: {...}}}`. */
enum otc_telemetry_protocol { OTC_TELEMETRY_GRPC, OTC_TELEMETRY_HTTP };

struct otc_telemetry_periodic {
    enum otc_telemetry_protocol protocol;
    char                       *host;
    int                         port;
    char                       *path;        /* http/protobuf: default /v1/metrics */
    int64_t                     interval_ns; /* default 60s */
    int64_t                     timeout_ns;  /* default 30s */
    struct otc_strmap           headers;
    uint64_t                    next_ns;     /* push thread: next export */
};

struct otc_httpd;

struct otc_telemetry {
    /* config */
    enum otc_telemetry_level     level;
    char                        *endpoint;     /* host:port */
    bool                         endpoint_set; /* given by the user: failing to bind is fatal */
    bool                         pull;         /* serve /metrics (no readers, or a pull reader) */
    bool                         without_type_suffix; /* the pull reader's naming (default true) */
    bool                         without_units;
    bool                         without_scope_info;
    struct otc_strmap            resource;     /* service.telemetry.resource, with otelcol's
                                                  service.* defaults */
    struct otc_telemetry_periodic periodic[OTC_TELEMETRY_MAX_PERIODIC];
    size_t                       n_periodic;
    /* registry */
    struct otc_telemetry_source *src;
    size_t                       n_src, cap_src;
    struct otc_telemetry_pq     *pq;
    size_t                       n_pq, cap_pq;
    struct otc_telemetry_pipeline *pipes;
    size_t                       n_pipes, cap_pipes;
    /* runtime */
    uint64_t                     start_ns;     /* CLOCK_MONOTONIC at start: uptime */
    uint64_t                     start_unix_ns;
    char                         instance_id[40];
    struct otc_httpd            *httpd;
    pthread_t                    push_thread;
    bool                         push_started;
    pthread_mutex_t              push_mu;
    pthread_cond_t               push_cv;
    bool                         push_stop;
};

/* ------------------------------------------------- the visitor over the registry */

struct otc_telemetry_family {
    const char          *name;  /* otelcol's instrument name: otelcol_exporter_sent_spans */
    const char          *unit;  /* UCUM */
    const char          *help;
    const char          *scope; /* instrumentation scope name */
    enum otc_metric_kind kind;
};

struct otc_telemetry_label {
    const char *key;
    const char *value;
};

struct otc_telemetry_hist {
    const double *bounds;
    size_t        n_bounds;
    uint64_t      buckets[OTC_METRIC_MAX_BOUNDS + 1]; /* per bucket, not cumulative */
    uint64_t      count;
    double        sum;
};

#define OTC_TELEMETRY_MAX_LABELS 4

struct otc_telemetry_sink {
    void (*begin)(struct otc_telemetry_sink *s, const struct otc_telemetry_family *f);
    /* h: histograms only */
    void (*point)(struct otc_telemetry_sink *s, const struct otc_telemetry_family *f,
                  const struct otc_telemetry_label *l, size_t n_labels, double value,
                  const struct otc_telemetry_hist *h);
    void (*end)(struct otc_telemetry_sink *s, const struct otc_telemetry_family *f);
};

/* Every metric of the registry, family by family; series are per component id
 * (a processor that exists once per pipeline is summed). */
void otc_telemetry_visit(const struct otc_telemetry *t, struct otc_telemetry_sink *s);
/* The value of resource attribute key, or NULL. */
const char *otc_telemetry_resource_get(const struct otc_telemetry *t, const char *key);

/* Defaults: level normal, localhost:8888. */
int  otc_telemetry_init(struct otc_telemetry *t);
/* Read the service.telemetry.metrics mapping through its option table: level,
 * and either the legacy `address: host:port` or `readers:` (pull with a
 * prometheus exporter, periodic with an otlp exporter). Every problem is added
 * to d, named as a key of service. */
int  otc_telemetry_configure(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *metrics,
                             struct otc_diag *d);
/* service.telemetry.resource: a mapping of attribute to string (null removes
 * one of the defaults). */
int  otc_telemetry_resource(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *resource,
                            struct otc_diag *d);
int  otc_telemetry_add(struct otc_telemetry *t, const struct otc_telemetry_source *s);
int  otc_telemetry_add_pq(struct otc_telemetry *t, const struct otc_telemetry_pq *q);
int  otc_telemetry_add_pipeline(struct otc_telemetry *t, const struct otc_telemetry_pipeline *q);
/* The whole exposition (text format 0.0.4) into out. */
void otc_telemetry_render(const struct otc_telemetry *t, struct otc_buf *out);
/* Serve GET /metrics on its own thread (nothing when the level is none), and
 * start the periodic readers' thread. */
int  otc_telemetry_start(struct otc_telemetry *t);
void otc_telemetry_stop(struct otc_telemetry *t);
void otc_telemetry_free(struct otc_telemetry *t);

/* telemetry_otlp.c: the registry as an ExportMetricsServiceRequest (packed into
 * out), and one push of it to reader r. */
int  otc_telemetry_otlp_encode(const struct otc_telemetry *t, struct otc_buf *out);
int  otc_telemetry_otlp_push(const struct otc_telemetry *t, const struct otc_telemetry_periodic *r,
                             char *err, size_t errlen);
int  otc_telemetry_push_start(struct otc_telemetry *t);
void otc_telemetry_push_stop(struct otc_telemetry *t);

#endif
