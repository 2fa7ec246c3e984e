/* telemetry.c - renders the registry of per-instance counters as Prometheus
 * text (otelcol's names and labels) and serves it at /metrics. Rendering runs
 * on the metrics server thread and only loads atomics; the data path never
 * waits for it. Configuration and start/stop run on the main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "otc/otc_httpd.h"
#include "telemetry.h"

/* ------------------------------------------------------------- families */

enum fam_counter {
    C_ACCEPTED,
    C_REFUSED,
    C_SENT,
    C_SEND_FAILED,
    C_ENQUEUE_FAILED,
    C_DROPPED,
    C_DEDUPLICATED,
};

struct family {
    enum otc_kind    kind;
    const char      *stem;   /* otelcol_<stem>_<items>_total */
    enum fam_counter counter;
    const char      *help;   /* "%s": spans, metric points or log records */
};

static const struct family families[] = {
    {OTC_RECEIVER, "receiver_accepted", C_ACCEPTED,
     "Number of %s successfully pushed into the pipeline."},
    {OTC_RECEIVER, "receiver_refused", C_REFUSED,
     "Number of %s that could not be pushed into the pipeline."},
    {OTC_EXPORTER, "exporter_sent", C_SENT,
     "Number of %s successfully sent to destination."},
    {OTC_EXPORTER, "exporter_send_failed", C_SEND_FAILED,
     "Number of %s in failed attempts to send to destination."},
    {OTC_EXPORTER, "exporter_enqueue_failed", C_ENQUEUE_FAILED,
     "Number of %s failed to be added to the sending queue."},
    {OTC_PROCESSOR, "processor_dropped", C_DROPPED,
     "Number of %s that were dropped."},
    {OTC_PROCESSOR, "processor_deduplicated", C_DEDUPLICATED,
     "Number of duplicate %s removed (also counted as dropped)."},
};

static const char *const help_items[OTC_SIGNAL_COUNT] = {"spans", "metric points", "log records"};

static const char *const kind_label[] = {"receiver", "processor", "exporter", "extension"};

static uint64_t counter_value(const struct otc_counters *c, enum fam_counter f, int s, int transport)
{
    uint64_t total, http;

    switch (f) {
    case C_ACCEPTED:
    case C_REFUSED:
        /* http first: a delivery counts the total first, so grpc never goes negative */
        http = atomic_load(f == C_ACCEPTED ? &c->http_accepted[s] : &c->http_refused[s]);
        if (transport == OTC_TRANSPORT_HTTP) {
            return http;
        }
        total = atomic_load(f == C_ACCEPTED ? &c->accepted[s] : &c->refused[s]);
        return total >= http ? total - http : 0;
    case C_SENT:           return atomic_load(&c->sent[s]);
    case C_SEND_FAILED:    return atomic_load(&c->send_failed[s]);
    case C_ENQUEUE_FAILED: return atomic_load(&c->enqueue_failed[s]);
    case C_DROPPED:        return atomic_load(&c->dropped[s]);
    case C_DEDUPLICATED:   return atomic_load(&c->deduplicated[s]);
    }
    return 0;
}

static bool receiver_saw_http(const struct otc_counters *c)
{
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        if (atomic_load(&c->http_accepted[s]) || atomic_load(&c->http_refused[s])) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------- rendering */

static void add_label_value(struct otc_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') {
            otc_buf_addc(b, '\\');
            otc_buf_addc(b, *v);
        } else if (*v == '\n') {
            otc_buf_adds(b, "\\n");
        } else {
            otc_buf_addc(b, *v);
        }
    }
}

/* name{<kind>="id",service_*...[,transport="x"]} value */
static void add_sample(const struct otc_telemetry *t, struct otc_buf *b, const char *name,
                       enum otc_kind kind, const char *id, const char *transport, uint64_t v)
{
    otc_buf_adds(b, name);
    otc_buf_addc(b, '{');
    if (id) {
        otc_buf_addf(b, "%s=\"", kind_label[kind]);
        add_label_value(b, id);
        otc_buf_adds(b, "\",");
    }
    otc_buf_addf(b, "service_instance_id=\"%s\",service_name=\"" OTC_SERVICE_NAME
                    "\",service_version=\"" OTC_SERVICE_VERSION "\"",
                 t->instance_id);
    if (transport) {
        otc_buf_addf(b, ",transport=\"%s\"", transport);
    }
    otc_buf_addf(b, "} %llu\n", (unsigned long long)v);
}

static void add_header(struct otc_buf *b, const char *name, const char *type, const char *help)
{
    otc_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static bool family_applies(const struct family *f, const struct otc_telemetry_source *s, int sig)
{
    if (s->kind != f->kind || !(s->signals & OTC_SIG_BIT(sig))) {
        return false;
    }
    return f->counter != C_DEDUPLICATED || (s->type && !strcmp(s->type, "dedup"));
}

/* True when an earlier source of the same kind and id (and, with f, one the
 * family applies to) was already rendered: series are per id, not per pipeline. */
static bool seen_before(const struct otc_telemetry *t, size_t i, const struct family *f, int sig)
{
    for (size_t k = 0; k < i; k++) {
        if (t->src[k].kind == t->src[i].kind && !strcmp(t->src[k].id, t->src[i].id) &&
            (!f || family_applies(f, &t->src[k], sig))) {
            return true;
        }
    }
    return false;
}

static void render_family(const struct otc_telemetry *t, struct otc_buf *out,
                          const struct family *f, int sig, struct otc_buf *tmp)
{
    char name[128], help[160];

    snprintf(name, sizeof(name), "otelcol_%s_%s_total", f->stem,
             otc_signal_item_name((enum otc_signal)sig));
    otc_buf_reset(tmp);
    for (size_t i = 0; i < t->n_src; i++) {
        const struct otc_telemetry_source *s = &t->src[i];
        uint64_t v[2] = {0, 0};
        bool http = false;

        if (!family_applies(f, s, sig) || seen_before(t, i, f, sig)) {
            continue;
        }
        /* processors exist once per pipeline: one series per id, summed */
        for (size_t k = i; k < t->n_src; k++) {
            const struct otc_telemetry_source *o = &t->src[k];
            if (!family_applies(f, o, sig) || strcmp(o->id, s->id)) {
                continue;
            }
            v[0] += counter_value(o->counters, f->counter, sig, OTC_TRANSPORT_GRPC);
            if (f->kind == OTC_RECEIVER && receiver_saw_http(o->counters)) {
                http = true;
                v[1] += counter_value(o->counters, f->counter, sig, OTC_TRANSPORT_HTTP);
            }
        }
        if (f->kind == OTC_RECEIVER) {
            add_sample(t, tmp, name, s->kind, s->id, "grpc", v[0]);
            if (http) {
                add_sample(t, tmp, name, s->kind, s->id, "http", v[1]);
            }
        } else {
            add_sample(t, tmp, name, s->kind, s->id, NULL, v[0]);
        }
    }
    if (tmp->len) {
        snprintf(help, sizeof(help), f->help, help_items[sig]);
        add_header(out, name, "counter", help);
        otc_buf_add(out, tmp->data, tmp->len);
    }
}

static void render_queues(const struct otc_telemetry *t, struct otc_buf *out, struct otc_buf *tmp)
{
    static const char *const names[2] = {"otelcol_exporter_queue_size",
                                         "otelcol_exporter_queue_capacity"};
    static const char *const helps[2] = {"Current size of the sending queue (in batches).",
                                         "Fixed capacity of the sending queue (in batches)."};

    for (int m = 0; m < 2; m++) {
        otc_buf_reset(tmp);
        for (size_t i = 0; i < t->n_src; i++) {
            const struct otc_telemetry_source *s = &t->src[i];
            if (s->kind != OTC_EXPORTER || !s->queue || seen_before(t, i, NULL, 0)) {
                continue;
            }
            add_sample(t, tmp, names[m], s->kind, s->id, NULL,
                       m == 0 ? otc_queue_len(s->queue) : s->queue_capacity);
        }
        if (tmp->len) {
            add_header(out, names[m], "gauge", helps[m]);
            otc_buf_add(out, tmp->data, tmp->len);
        }
    }
}

static uint64_t process_rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void render_process(const struct otc_telemetry *t, struct otc_buf *out)
{
    struct rusage ru;
    double cpu = 0;
    double up = (double)(otc_now_ns() - t->start_ns) / 1e9;
    const char *labels = "service_instance_id=\"%s\",service_name=\"" OTC_SERVICE_NAME
                         "\",service_version=\"" OTC_SERVICE_VERSION "\"";
    char lb[160];

    snprintf(lb, sizeof(lb), labels, t->instance_id);
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    }
    add_header(out, "otelcol_process_cpu_seconds_total", "counter",
               "Total CPU user and system time in seconds.");
    otc_buf_addf(out, "otelcol_process_cpu_seconds_total{%s} %.6f\n", lb, cpu);
    add_header(out, "otelcol_process_memory_rss_bytes", "gauge",
               "Total physical memory (resident set size).");
    otc_buf_addf(out, "otelcol_process_memory_rss_bytes{%s} %llu\n", lb,
                 (unsigned long long)process_rss_bytes());
    add_header(out, "otelcol_process_uptime_seconds_total", "counter",
               "Uptime of the process.");
    otc_buf_addf(out, "otelcol_process_uptime_seconds_total{%s} %.6f\n", lb, up);
}

void otc_telemetry_render(const struct otc_telemetry *t, struct otc_buf *out)
{
    struct otc_buf tmp;

    otc_buf_init(&tmp);
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
            render_family(t, out, &families[f], s, &tmp);
        }
    }
    render_queues(t, out, &tmp);
    render_process(t, out);
    otc_buf_free(&tmp);
}

/* ------------------------------------------------------------- registry */

int otc_telemetry_init(struct otc_telemetry *t)
{
    uint8_t r[16];

    memset(t, 0, sizeof(*t));
    t->level = OTC_TELEMETRY_NORMAL;
    t->endpoint = strdup(OTC_TELEMETRY_DEFAULT_ENDPOINT);
    t->start_ns = otc_now_ns();
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        uint64_t x = t->start_ns ^ (uint64_t)getpid();
        memcpy(r, &x, 8);
        memcpy(r + 8, &x, 8);
    }
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* UUID version 4 */
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    snprintf(t->instance_id, sizeof(t->instance_id),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
    return t->endpoint ? OTC_OK : OTC_ENOMEM;
}

int otc_telemetry_add(struct otc_telemetry *t, const struct otc_telemetry_source *s)
{
    if (t->n_src == t->cap_src) {
        size_t cap = t->cap_src ? 2 * t->cap_src : 16;
        struct otc_telemetry_source *grown = realloc(t->src, cap * sizeof(*grown));
        if (!grown) {
            return OTC_ENOMEM;
        }
        t->src = grown;
        t->cap_src = cap;
    }
    t->src[t->n_src++] = *s;
    return OTC_OK;
}

/* The stored otelcol options (resource, reader settings). */
static void telemetry_free_options(struct otc_telemetry *t)
{
    for (size_t i = 0; i < t->resource.n; i++) {
        free(t->resource.keys[i]);
        free(t->resource.vals[i]);
    }
    free(t->resource.keys);
    free(t->resource.vals);
    memset(&t->resource, 0, sizeof(t->resource));
    free(t->periodic_endpoint);
    free(t->periodic_protocol);
    t->periodic_endpoint = NULL;
    t->periodic_protocol = NULL;
}

void otc_telemetry_free(struct otc_telemetry *t)
{
    otc_telemetry_stop(t);
    free(t->src);
    free(t->endpoint);
    t->src = NULL;
    t->endpoint = NULL;
    telemetry_free_options(t);
    t->n_src = t->cap_src = 0;
}

/* ------------------------------------------------------------- config */

static const char *const level_names[] = {"none", "basic", "normal", "detailed", NULL};

static int set_endpoint(struct otc_telemetry *t, const char *host, const char *port)
{
    char buf[300];

    snprintf(buf, sizeof(buf), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
    free(t->endpoint);
    t->endpoint = strdup(buf);
    t->endpoint_set = true;
    return t->endpoint ? OTC_OK : OTC_ENOMEM;
}

/* ---- otelcol reader options: accepted and stored in t (what they do is the
 * metrics output's business) ---- */

/* prometheus.without_type_suffix / without_units / without_scope_info */
static int prom_flag(struct otc_telemetry *t, struct otc_yaml *y, const char *k, yaml_node_t *vn,
                     const char *pfx, struct otc_diag *d)
{
    const char *v = otc_yaml_str(vn);
    bool b;

    if (!v || otc_parse_bool(v, &b) != OTC_OK) {
        otc_diag_add(d, y->path, &vn->start_mark, "%s: prometheus.%s: expected true or false",
                     pfx, k);
        return OTC_EINVAL;
    }
    if (!strcmp(k, "without_type_suffix")) {
        t->without_type_suffix = b;
        t->without_type_suffix_set = true;
    } else if (!strcmp(k, "without_units")) {
        t->without_units = b;
        t->without_units_set = true;
    } else {
        t->without_scope_info = b;
        t->without_scope_info_set = true;
    }
    return OTC_OK;
}

/* One periodic reader, as written: the reader's own keys and its exporter's. */
struct periodic_config {
    int64_t     interval_ms;
    int64_t     timeout_ms;
    const void *exporter;     /* yaml_node_t *: {otlp: {...}} or {console: {}} */
    const void *producers;
    const void *cardinality_limits;
};

struct periodic_otlp_config {
    char       *protocol;
    char       *endpoint;
    const void *headers;      /* [{name, value}] */
    char       *headers_list;
    char       *compression;
    int64_t     timeout_ms;
    bool        insecure;
    char       *certificate_file;
    char       *client_key_file;
    char       *client_certificate_file;
    char       *temporality_preference;
    char       *default_histogram_aggregation;
};

#define PR_OFF(f) offsetof(struct periodic_config, f)
#define PO_OFF(f) offsetof(struct periodic_otlp_config, f)

static const struct otc_config_entry periodic_map[] = {
    {OTC_CFG_INT, "interval", "60000", PR_OFF(interval_ms), OTC_CFG_F_MIN, 0, 0, NULL,
     "milliseconds between two pushes"},
    {OTC_CFG_INT, "timeout", "30000", PR_OFF(timeout_ms), OTC_CFG_F_MIN, 0, 0, NULL,
     "milliseconds one push may take"},
    {OTC_CFG_NODE, "exporter", NULL, PR_OFF(exporter), 0, 0, 0, NULL,
     "where to push: otlp (or otlp_http, otlp_grpc) or console"},
    {OTC_CFG_NODE, "producers", NULL, PR_OFF(producers), 0, 0, 0, NULL, "accepted"},
    {OTC_CFG_NODE, "cardinality_limits", NULL, PR_OFF(cardinality_limits), 0, 0, 0, NULL,
     "accepted"},
    OTC_CFG_END,
};

static const struct otc_config_entry periodic_otlp_map[] = {
    {OTC_CFG_STR, "protocol", NULL, PO_OFF(protocol), 0, 0, 0, NULL,
     "grpc, http/protobuf or http/json"},
    {OTC_CFG_STR, "endpoint", NULL, PO_OFF(endpoint), 0, 0, 0, NULL, "the OTLP endpoint"},
    {OTC_CFG_NODE, "headers", NULL, PO_OFF(headers), 0, 0, 0, NULL, "[{name, value}]"},
    {OTC_CFG_STR, "headers_list", NULL, PO_OFF(headers_list), 0, 0, 0, NULL, "k=v,k2=v2"},
    {OTC_CFG_STR, "compression", NULL, PO_OFF(compression), 0, 0, 0, NULL, "gzip or none"},
    {OTC_CFG_INT, "timeout", "10000", PO_OFF(timeout_ms), OTC_CFG_F_MIN, 0, 0, NULL,
     "milliseconds"},
    {OTC_CFG_BOOL, "insecure", "false", PO_OFF(insecure), 0, 0, 0, NULL, "plaintext gRPC"},
    {OTC_CFG_STR, "certificate_file", NULL, PO_OFF(certificate_file), 0, 0, 0, NULL, "CA"},
    {OTC_CFG_STR, "client_key_file", NULL, PO_OFF(client_key_file), 0, 0, 0, NULL, "mTLS key"},
    {OTC_CFG_STR, "client_certificate_file", NULL, PO_OFF(client_certificate_file), 0, 0, 0,
     NULL, "mTLS certificate"},
    {OTC_CFG_STR, "temporality_preference", NULL, PO_OFF(temporality_preference), 0, 0, 0, NULL,
     "cumulative, delta or low_memory"},
    {OTC_CFG_STR, "default_histogram_aggregation", NULL, PO_OFF(default_histogram_aggregation),
     0, 0, 0, NULL, "explicit_bucket_histogram or base2_exponential_bucket_histogram"},
    OTC_CFG_END,
};

/* readers[i]: {periodic: {exporter: {otlp: {...}}, interval, timeout}} */
static int configure_periodic(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *r,
                              struct otc_diag *d)
{
    const char *key = "telemetry.metrics.readers.periodic";
    yaml_node_t *pn = otc_yaml_get(y, r, "periodic");
    struct periodic_config pc;
    struct periodic_otlp_config oc;
    yaml_node_t *exp, *otlp = NULL;
    int rc = OTC_OK;

    memset(&pc, 0, sizeof(pc));
    memset(&oc, 0, sizeof(oc));
    if (r->type != YAML_MAPPING_NODE || r->data.mapping.pairs.top - r->data.mapping.pairs.start != 1) {
        otc_diag_add(d, y->path, &r->start_mark, "service: key \"telemetry.metrics.readers\": "
                     "a reader has one key, pull or periodic");
        return OTC_EINVAL;
    }
    if (otc_config_map_defaults(periodic_map, &pc) != OTC_OK ||
        otc_config_map_defaults(periodic_otlp_map, &oc) != OTC_OK) {
        return OTC_EINVAL;
    }
    if (otc_config_apply_at(y, pn, "service", key, periodic_map, &pc, d) != OTC_OK) {
        rc = OTC_EINVAL;
        goto out;
    }
    exp = (yaml_node_t *)pc.exporter;
    if (!exp || exp->type != YAML_MAPPING_NODE ||
        exp->data.mapping.pairs.top - exp->data.mapping.pairs.start != 1) {
        otc_diag_add(d, y->path, exp ? &exp->start_mark : &pn->start_mark,
                     "service: key \"%s.exporter\": one exporter is required (otlp, otlp_http, "
                     "otlp_grpc or console)", key);
        rc = OTC_EINVAL;
        goto out;
    }
    {
        const char *name = otc_yaml_str(otc_yaml_node(y, exp->data.mapping.pairs.start->key));
        yaml_node_t *body = otc_yaml_node(y, exp->data.mapping.pairs.start->value);

        if (name && (!strcmp(name, "otlp") || !strcmp(name, "otlp_http") ||
                     !strcmp(name, "otlp_grpc"))) {
            otlp = body;
            if (otc_config_apply_at(y, body, "service", "telemetry.metrics.readers.periodic."
                                    "exporter.otlp", periodic_otlp_map, &oc, d) != OTC_OK) {
                rc = OTC_EINVAL;
                goto out;
            }
            if (!oc.protocol) {
                oc.protocol = strdup(!strcmp(name, "otlp_grpc") ? "grpc" : "http/protobuf");
            }
        } else if (!name || strcmp(name, "console") != 0) {
            otc_diag_add(d, y->path, &exp->start_mark, "service: key \"%s.exporter\": unknown "
                         "exporter \"%s\" (otlp, otlp_http, otlp_grpc or console)", key,
                         name ? name : "?");
            rc = OTC_EINVAL;
            goto out;
        }
    }
    if (otlp) {
        free(t->periodic_endpoint);
        free(t->periodic_protocol);
        t->periodic_endpoint = oc.endpoint ? strdup(oc.endpoint) : NULL;
        t->periodic_protocol = oc.protocol ? strdup(oc.protocol) : NULL;
        t->periodic_interval_ms = pc.interval_ms;
        t->periodic_timeout_ms = pc.timeout_ms;
    }
out:
    otc_config_map_free(periodic_map, &pc);
    otc_config_map_free(periodic_otlp_map, &oc);
    return rc;
}

/* readers: [{pull: {exporter: {prometheus: {host: h, port: p}}}}] */
static int configure_readers(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *rd,
                             struct otc_diag *d)
{
    const char *pfx = "service: telemetry.metrics.readers";
    int pulls = 0;

    if (rd->type != YAML_SEQUENCE_NODE) {
        otc_diag_add(d, y->path, &rd->start_mark, "%s must be a list", pfx);
        return OTC_EINVAL;
    }
    for (yaml_node_item_t *it = rd->data.sequence.items.start; it < rd->data.sequence.items.top; it++) {
        yaml_node_t *r = otc_yaml_node(y, *it);
        yaml_node_t *pull = otc_yaml_get(y, r, "pull");
        yaml_node_t *exp = otc_yaml_get(y, pull, "exporter");
        yaml_node_t *prom = otc_yaml_get(y, exp, "prometheus");
        const char *host = "localhost", *port = "8888";
        char err[200];
        char h[256];
        int p;

        if (otc_yaml_get(y, r, "periodic")) {
            if (configure_periodic(t, y, r, d) != OTC_OK) {
                return OTC_EINVAL;
            }
            continue;
        }
        if (!prom || (r->type == YAML_MAPPING_NODE && r->data.mapping.pairs.top - r->data.mapping.pairs.start != 1) ||
            (exp->type == YAML_MAPPING_NODE && exp->data.mapping.pairs.top - exp->data.mapping.pairs.start != 1)) {
            otc_diag_add(d, y->path, &r->start_mark,
                         "%s: a reader is a pull reader with a prometheus exporter or a periodic "
                         "reader", pfx);
            return OTC_EINVAL;
        }
        if (prom->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *kp = prom->data.mapping.pairs.start; kp < prom->data.mapping.pairs.top; kp++) {
                yaml_node_t *kn = otc_yaml_node(y, kp->key), *vn = otc_yaml_node(y, kp->value);
                const char *k = otc_yaml_str(kn), *v = otc_yaml_str(vn);
                if (k && !strcmp(k, "host") && v) {
                    host = v;
                } else if (k && !strcmp(k, "port") && v) {
                    port = v;
                } else if (k && (!strcmp(k, "without_type_suffix") || !strcmp(k, "without_units") ||
                                 !strcmp(k, "without_scope_info"))) {
                    if (prom_flag(t, y, k, vn, pfx, d) != OTC_OK) {
                        return OTC_EINVAL;
                    }
                } else if (k && !strcmp(k, "with_resource_constant_labels")) {
                    continue; /* accepted: otelc's metrics carry no resource labels but service_* */
                } else {
                    otc_diag_add(d, y->path, &kn->start_mark,
                                 "%s: unknown key \"prometheus.%s\" (host, port, without_type_suffix, "
                         "without_units, without_scope_info, with_resource_constant_labels)",
                         pfx, k ? k : "?");
                    return OTC_EINVAL;
                }
            }
        }
        if (++pulls > 1) {
            otc_diag_add(d, y->path, &r->start_mark, "%s: only one prometheus reader is supported", pfx);
            return OTC_EINVAL;
        }
        if (set_endpoint(t, host, port) != OTC_OK) {
            return OTC_ENOMEM;
        }
        if (otc_httpd_parse_endpoint(t->endpoint, h, sizeof(h), &p, err, sizeof(err)) != OTC_OK) {
            otc_diag_add(d, y->path, &prom->start_mark, "%s: %s", pfx, err);
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

/* service.telemetry.metrics as written: the context of metrics_map. */
struct metrics_config {
    int         level;    /* enum otc_telemetry_level */
    char       *address;  /* the legacy `address: host:port`, or NULL */
    const void *readers;  /* yaml_node_t *: otelcol's newer form, or NULL */
    const void *views;    /* accepted */
};

#define MC_OFF(f) offsetof(struct metrics_config, f)

static const struct otc_config_entry metrics_map[] = {
    {OTC_CFG_ENUM, "level", "normal", MC_OFF(level), 0, 0, 0, level_names,
     "none turns the metrics endpoint off; basic, normal and detailed all serve every metric"},
    {OTC_CFG_STR, "address", NULL, MC_OFF(address), 0, 0, 0, NULL,
     "host:port of the metrics endpoint (default " OTC_TELEMETRY_DEFAULT_ENDPOINT ")"},
    {OTC_CFG_NODE, "readers", NULL, MC_OFF(readers), 0, 0, 0, NULL,
     "the endpoint in otelcol's newer form: [{pull: {exporter: {prometheus: {host, port}}}}], "
     "and periodic readers"},
    {OTC_CFG_NODE, "views", NULL, MC_OFF(views), 0, 0, 0, NULL, "accepted (otelcol's metric views)"},
    OTC_CFG_END,
};

/* Level and endpoint from c; m is the mapping c was read from. */
static int apply_metrics(struct otc_telemetry *t, const struct metrics_config *c,
                         struct otc_yaml *y, yaml_node_t *m, struct otc_diag *d)
{
    yaml_node_t *address = otc_yaml_get(y, m, "address");
    yaml_node_t *readers = (yaml_node_t *)c->readers;
    char err[200], h[256];
    int port;

    t->level = (enum otc_telemetry_level)c->level;
    if (address && readers) {
        otc_diag_add(d, y->path, &address->start_mark,
                     "service: telemetry.metrics: use either address or readers, not both");
        return OTC_EINVAL;
    }
    if (c->address) {
        if (otc_httpd_parse_endpoint(c->address, h, sizeof(h), &port, err, sizeof(err)) != OTC_OK) {
            otc_diag_add(d, y->path, &address->start_mark,
                         "service: key \"telemetry.metrics.address\": expected host:port");
            return OTC_EINVAL;
        }
        free(t->endpoint);
        t->endpoint = strdup(c->address);
        t->endpoint_set = true;
        if (!t->endpoint) {
            return OTC_ENOMEM;
        }
    } else if (readers && !otc_yaml_is_null(readers) &&
               configure_readers(t, y, readers, d) != OTC_OK) {
        return OTC_EINVAL;
    }
    return OTC_OK;
}

int otc_telemetry_configure(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *m,
                            struct otc_diag *d)
{
    struct metrics_config c;
    int rc;

    if (!m || otc_yaml_is_null(m)) {
        return OTC_OK;
    }
    memset(&c, 0, sizeof(c));
    if (otc_config_map_defaults(metrics_map, &c) != OTC_OK) {
        return OTC_EINVAL;
    }
    /* messages as for any other service key: service: key "telemetry.metrics.x" */
    rc = otc_config_apply_at(y, m, "service", "telemetry.metrics", metrics_map, &c, d);
    if (m->type == YAML_MAPPING_NODE && apply_metrics(t, &c, y, m, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    otc_config_map_free(metrics_map, &c);
    return rc;
}

/* ------------------------------------------------------------- server */

static void telemetry_handle(struct evhttp_request *req, void *arg)
{
    struct otc_telemetry *t = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *body;
    struct otc_buf text;
    size_t plen = strlen(OTC_TELEMETRY_PATH);

    if (!uri || strncmp(uri, OTC_TELEMETRY_PATH, plen) || (uri[plen] && uri[plen] != '?')) {
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
        return;
    }
    body = evbuffer_new();
    if (!body) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    otc_buf_init(&text);
    otc_telemetry_render(t, &text);
    if (text.oom) {
        otc_buf_free(&text);
        evbuffer_free(body);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evbuffer_add(body, text.data, text.len);
    otc_buf_free(&text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

int otc_telemetry_start(struct otc_telemetry *t)
{
    char err[300];
    int rc;

    if (t->level == OTC_TELEMETRY_NONE || t->httpd) {
        return OTC_OK;
    }
    rc = otc_httpd_start(&t->httpd, t->endpoint, telemetry_handle, t, err, sizeof(err));
    if (rc != OTC_OK) {
        if (!t->endpoint_set) {
            /* the default address is a convenience, not a requirement */
            otc_log_warn(NULL, "telemetry: not serving metrics: %s", err);
            return OTC_OK;
        }
        otc_log_err(NULL, "telemetry: %s", err);
        return rc;
    }
    otc_log_info(NULL, "telemetry: serving metrics at http://%s" OTC_TELEMETRY_PATH, t->endpoint);
    return OTC_OK;
}

void otc_telemetry_stop(struct otc_telemetry *t)
{
    otc_httpd_stop(t->httpd);
    t->httpd = NULL;
}
