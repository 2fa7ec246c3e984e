/* telemetry_config.c - service.telemetry.metrics and .resource read through
 * option tables: level, the legacy address, pull readers (prometheus) and
 * periodic readers (otlp). Main thread, while a config is built; it changes
 * nothing that runs. */
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
#include <time.h>
#include <unistd.h>

#include "otc/otc_httpd.h"
#include "telemetry.h"
#include "wal.h"

/* ------------------------------------------------------------- config */

static const char *const level_names[] = {"none", "basic", "normal", "detailed", NULL};
static const char *const strategies[] = {"UnderscoreEscapingWithSuffixes",
                                         "UnderscoreEscapingWithoutSuffixes",
                                         "NoUTF8EscapingWithSuffixes", "NoTranslation", NULL};
static const char *const protocols[] = {"grpc", "http/protobuf", NULL};

static int set_endpoint(struct otc_telemetry *t, const char *host, int64_t port)
{
    char buf[300];

    snprintf(buf, sizeof(buf), strchr(host, ':') ? "[%s]:%lld" : "%s:%lld", host, (long long)port);
    free(t->endpoint);
    t->endpoint = strdup(buf);
    t->endpoint_set = true;
    return t->endpoint ? OTC_OK : OTC_ENOMEM;
}

/* pull.exporter.prometheus */
struct prom_config {
    char       *host;
    int64_t     port;
    bool        without_type_suffix;
    bool        without_units;
    bool        without_scope_info;
    int         strategy;        /* -1: not given */
    const void *resource_labels; /* with_resource_constant_labels: accepted */
};

#define PC_OFF(f) offsetof(struct prom_config, f)

static const struct otc_config_entry prom_map[] = {
    {OTC_CFG_STR, "host", "localhost", PC_OFF(host), 0, 0, 0, NULL, "address to serve /metrics on"},
    {OTC_CFG_INT, "port", "8888", PC_OFF(port), OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 65535, NULL,
     "port to serve /metrics on"},
    {OTC_CFG_BOOL, "without_type_suffix", "true", PC_OFF(without_type_suffix), 0, 0, 0, NULL,
     "false appends _total to counters"},
    {OTC_CFG_BOOL, "without_units", "true", PC_OFF(without_units), 0, 0, 0, NULL,
     "false appends the unit (_seconds, _bytes)"},
    {OTC_CFG_BOOL, "without_scope_info", "true", PC_OFF(without_scope_info), 0, 0, 0, NULL,
     "false adds otel_scope_name and otel_scope_version labels"},
    {OTC_CFG_ENUM, "translation_strategy", NULL, PC_OFF(strategy), 0, 0, 0, strategies,
     "...WithSuffixes: as the three without_* false; ...WithoutSuffixes, NoTranslation: as true"},
    {OTC_CFG_NODE, "with_resource_constant_labels", NULL, PC_OFF(resource_labels), 0, 0, 0, NULL,
     "accepted; the service.* resource attributes are labels of every series, all of them "
     "labels of target_info"},
    OTC_CFG_END,
};

/* periodic.exporter.otlp (also otlp_http, otlp_grpc) */
struct otlp_config {
    int         protocol;
    char       *endpoint;
    const void *headers;
    char       *headers_list;
    bool        insecure;
    char       *compression;
    int64_t     timeout_ms;
    char       *certificate, *client_certificate, *client_key;
    char       *temporality, *histogram_aggregation;
    const void *tls;
};

#define OC_OFF(f) offsetof(struct otlp_config, f)

static const struct otc_config_entry otlp_map[] = {
    {OTC_CFG_ENUM, "protocol", "http/protobuf", OC_OFF(protocol), 0, 0, 0, protocols,
     "how the collector's own metrics are pushed"},
    {OTC_CFG_STR, "endpoint", NULL, OC_OFF(endpoint), 0, 0, 0, NULL,
     "http/protobuf: http://host:port[/path] (path default /v1/metrics); grpc: [http://]host:port"},
    {OTC_CFG_NODE, "headers", NULL, OC_OFF(headers), 0, 0, 0, NULL,
     "request headers: a list of {name, value} or a mapping"},
    {OTC_CFG_STR, "headers_list", NULL, OC_OFF(headers_list), 0, 0, 0, NULL, "name=value,..."},
    {OTC_CFG_BOOL, "insecure", "false", OC_OFF(insecure), 0, 0, 0, NULL, "grpc: no TLS (always)"},
    {OTC_CFG_STR, "compression", NULL, OC_OFF(compression), 0, 0, 0, NULL,
     "accepted; requests are sent uncompressed"},
    {OTC_CFG_INT, "timeout", "10000", OC_OFF(timeout_ms), OTC_CFG_F_MIN, 1, 0, NULL,
     "ms a push may take"},
    {OTC_CFG_STR, "certificate", NULL, OC_OFF(certificate), 0, 0, 0, NULL, "not supported: plain text only"},
    {OTC_CFG_STR, "client_certificate", NULL, OC_OFF(client_certificate), 0, 0, 0, NULL,
     "not supported: plain text only"},
    {OTC_CFG_STR, "client_key", NULL, OC_OFF(client_key), 0, 0, 0, NULL, "not supported: plain text only"},
    {OTC_CFG_NODE, "tls", NULL, OC_OFF(tls), 0, 0, 0, NULL, "not supported: plain text only"},
    {OTC_CFG_STR, "temporality_preference", NULL, OC_OFF(temporality), 0, 0, 0, NULL,
     "accepted; sums are cumulative"},
    {OTC_CFG_STR, "default_histogram_aggregation", NULL, OC_OFF(histogram_aggregation), 0, 0, 0, NULL,
     "accepted; histograms are explicit-bucket"},
    OTC_CFG_END,
};

struct periodic_config {
    int64_t     interval_ms;
    int64_t     timeout_ms;
    const void *exporter;
    const void *producers;
    const void *cardinality_limits;
};

#define PR_OFF(f) offsetof(struct periodic_config, f)

static const struct otc_config_entry periodic_map[] = {
    {OTC_CFG_INT, "interval", "60000", PR_OFF(interval_ms), OTC_CFG_F_MIN, 1, 0, NULL,
     "ms between two pushes"},
    {OTC_CFG_INT, "timeout", "30000", PR_OFF(timeout_ms), OTC_CFG_F_MIN, 1, 0, NULL,
     "ms one push may take"},
    {OTC_CFG_NODE, "exporter", NULL, PR_OFF(exporter), 0, 0, 0, NULL,
     "otlp: {protocol, endpoint, headers, ...}"},
    {OTC_CFG_NODE, "producers", NULL, PR_OFF(producers), 0, 0, 0, NULL, "accepted; no effect"},
    {OTC_CFG_NODE, "cardinality_limits", NULL, PR_OFF(cardinality_limits), 0, 0, 0, NULL,
     "accepted; no effect"},
    OTC_CFG_END,
};

static int configure_pull(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *pull,
                          const char *key, struct otc_diag *d)
{
    yaml_node_t *exp = otc_yaml_get(y, pull, "exporter");
    yaml_node_t *prom = otc_yaml_get(y, exp, "prometheus");
    struct prom_config c;
    char k[200], err[200], h[256];
    int p, rc;

    if (!prom || exp->data.mapping.pairs.top - exp->data.mapping.pairs.start != 1) {
        otc_diag_add(d, y->path, &(exp ? exp : pull)->start_mark,
                     "service: key \"%s.pull\": the exporter must be prometheus", key);
        return OTC_EINVAL;
    }
    memset(&c, 0, sizeof(c));
    c.strategy = -1;
    if (otc_config_map_defaults(prom_map, &c) != OTC_OK) {
        return OTC_EINVAL;
    }
    snprintf(k, sizeof(k), "%s.pull.exporter.prometheus", key);
    rc = otc_config_apply_at(y, prom, "service", k, prom_map, &c, d);
    if (rc == OTC_OK) {
        t->without_type_suffix = c.without_type_suffix;
        t->without_units = c.without_units;
        t->without_scope_info = c.without_scope_info;
        if (c.strategy == 0 || c.strategy == 2) {
            t->without_type_suffix = t->without_units = false;
        } else if (c.strategy > 0) {
            t->without_type_suffix = t->without_units = true;
        }
        if (set_endpoint(t, c.host ? c.host : "localhost", c.port) != OTC_OK) {
            rc = OTC_ENOMEM;
        } else if (otc_httpd_parse_endpoint(t->endpoint, h, sizeof(h), &p, err, sizeof(err)) != OTC_OK) {
            otc_diag_add(d, y->path, &prom->start_mark, "service: key \"%s\": %s", k, err);
            rc = OTC_EINVAL;
        }
    }
    otc_config_map_free(prom_map, &c);
    return rc;
}

/* Headers as otel-go's config writes them: [{name, value}], or a mapping. */
static int periodic_headers(struct otc_telemetry_periodic *r, struct otc_yaml *y, yaml_node_t *hn,
                            const char *list, const char *key, struct otc_diag *d)
{
    if (hn && hn->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = hn->data.sequence.items.start; it < hn->data.sequence.items.top; it++) {
            yaml_node_t *item = otc_yaml_node(y, *it);
            const char *n = otc_yaml_str(otc_yaml_get(y, item, "name"));
            const char *v = otc_yaml_str(otc_yaml_get(y, item, "value"));
            if (!n || !v) {
                otc_diag_add(d, y->path, &item->start_mark,
                             "service: key \"%s.headers\": each entry needs name and value", key);
                return OTC_EINVAL;
            }
            if (otc_strmap_put(&r->headers, n, v) != OTC_OK) {
                return OTC_ENOMEM;
            }
        }
    } else if (hn && hn->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = hn->data.mapping.pairs.start; p < hn->data.mapping.pairs.top; p++) {
            const char *n = otc_yaml_str(otc_yaml_node(y, p->key));
            const char *v = otc_yaml_str(otc_yaml_node(y, p->value));
            if (n && v && otc_strmap_put(&r->headers, n, v) != OTC_OK) {
                return OTC_ENOMEM;
            }
        }
    } else if (hn && !otc_yaml_is_null(hn)) {
        otc_diag_add(d, y->path, &hn->start_mark,
                     "service: key \"%s.headers\": expected a list of {name, value}", key);
        return OTC_EINVAL;
    }
    /* gRPC refuses upper-case metadata keys; HTTP ignores the case */
    for (size_t i = 0; i < r->headers.n; i++) {
        for (char *c = r->headers.keys[i]; *c; c++) {
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        }
    }
    while (list && *list) {
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        char pair[512];
        char *eq;

        snprintf(pair, sizeof(pair), "%.*s", (int)len, list);
        if ((eq = strchr(pair, '=')) != NULL) {
            *eq = '\0';
            if (otc_strmap_put(&r->headers, pair, eq + 1) != OTC_OK) {
                return OTC_ENOMEM;
            }
        }
        list = comma ? comma + 1 : NULL;
    }
    return OTC_OK;
}

/* host, port and path of an endpoint: [http://]host[:port][/path]. */
static int periodic_endpoint(struct otc_telemetry_periodic *r, const char *ep, char *err, size_t errlen)
{
    const char *p = ep, *slash, *colon;
    char host[256];

    if (!strncmp(p, "https://", 8)) {
        snprintf(err, errlen, "https is not supported for the collector's own metrics; use http://");
        return OTC_EINVAL;
    }
    if (!strncmp(p, "http://", 7)) {
        p += 7;
    }
    slash = strchr(p, '/');
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close || (slash && close > slash)) {
            snprintf(err, errlen, "bad endpoint \"%s\"", ep);
            return OTC_EINVAL;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(close - p - 1), p + 1);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
        snprintf(host, sizeof(host), "%.*s",
                 (int)(colon ? (size_t)(colon - p) : (slash ? (size_t)(slash - p) : strlen(p))), p);
    }
    r->port = r->protocol == OTC_TELEMETRY_GRPC ? 4317 : 4318;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || port <= 0 || port > 65535 || (*end && *end != '/')) {
            snprintf(err, errlen, "bad port in endpoint \"%s\"", ep);
            return OTC_EINVAL;
        }
        r->port = (int)port;
    }
    if (!*host) {
        snprintf(err, errlen, "no host in endpoint \"%s\"", ep);
        return OTC_EINVAL;
    }
    r->host = strdup(host);
    r->path = strdup(slash && slash[1] ? slash : "/v1/metrics");
    return r->host && r->path ? OTC_OK : OTC_ENOMEM;
}

static int configure_periodic(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *pn,
                              const char *key, struct otc_diag *d)
{
    struct periodic_config pc;
    struct otlp_config oc;
    struct otc_telemetry_periodic *r;
    yaml_node_t *exp, *otlp = NULL;
    const char *ename = NULL;
    char k[200], ek[240], err[256];
    int rc;

    memset(&pc, 0, sizeof(pc));
    if (otc_config_map_defaults(periodic_map, &pc) != OTC_OK) {
        return OTC_EINVAL;
    }
    snprintf(k, sizeof(k), "%s.periodic", key);
    if ((rc = otc_config_apply_at(y, pn, "service", k, periodic_map, &pc, d)) != OTC_OK) {
        return rc;
    }
    exp = (yaml_node_t *)pc.exporter;
    if (exp && exp->type == YAML_MAPPING_NODE && exp->data.mapping.pairs.top - exp->data.mapping.pairs.start == 1) {
        ename = otc_yaml_str(otc_yaml_node(y, exp->data.mapping.pairs.start->key));
        otlp = otc_yaml_node(y, exp->data.mapping.pairs.start->value);
    }
    if (ename && !strcmp(ename, "console")) {
        return OTC_OK; /* otelcol writes them to stdout; otelc's stdout is its log */
    }
    if (!ename || (strcmp(ename, "otlp") && strcmp(ename, "otlp_http") && strcmp(ename, "otlp_grpc"))) {
        otc_diag_add(d, y->path, &(exp ? exp : pn)->start_mark,
                     "service: key \"%s.exporter\": expected one of otlp, otlp_http, otlp_grpc, console", k);
        return OTC_EINVAL;
    }
    if (t->n_periodic == OTC_TELEMETRY_MAX_PERIODIC) {
        otc_diag_add(d, y->path, &pn->start_mark, "service: key \"%s\": at most %d periodic readers",
                     k, OTC_TELEMETRY_MAX_PERIODIC);
        return OTC_EINVAL;
    }
    memset(&oc, 0, sizeof(oc));
    if (otc_config_map_defaults(otlp_map, &oc) != OTC_OK) {
        return OTC_EINVAL;
    }
    snprintf(ek, sizeof(ek), "%s.exporter.%s", k, ename);
    rc = otc_config_apply_at(y, otlp, "service", ek, otlp_map, &oc, d);
    r = &t->periodic[t->n_periodic];
    memset(r, 0, sizeof(*r));
    r->protocol = !strcmp(ename, "otlp_grpc") ? OTC_TELEMETRY_GRPC
                  : !strcmp(ename, "otlp_http") ? OTC_TELEMETRY_HTTP
                  : oc.protocol == 0 ? OTC_TELEMETRY_GRPC : OTC_TELEMETRY_HTTP;
    r->interval_ns = pc.interval_ms * 1000000;
    r->timeout_ns = (pc.timeout_ms < oc.timeout_ms ? pc.timeout_ms : oc.timeout_ms) * 1000000;
    if (rc == OTC_OK && (oc.certificate || oc.client_certificate || oc.client_key ||
                         (oc.tls && !otc_yaml_is_null(oc.tls)))) {
        otc_diag_add(d, y->path, &otlp->start_mark,
                     "service: key \"%s\": TLS is not supported for the collector's own metrics", ek);
        rc = OTC_EINVAL;
    }
    if (rc == OTC_OK &&
        periodic_endpoint(r, oc.endpoint ? oc.endpoint
                                         : r->protocol == OTC_TELEMETRY_GRPC ? "localhost:4317"
                                                                             : "http://localhost:4318",
                          err, sizeof(err)) != OTC_OK) {
        otc_diag_add(d, y->path, &otlp->start_mark, "service: key \"%s.endpoint\": %s", ek, err);
        rc = OTC_EINVAL;
    }
    if (rc == OTC_OK) {
        rc = periodic_headers(r, y, (yaml_node_t *)oc.headers, oc.headers_list, ek, d);
    }
    if (rc == OTC_OK) {
        t->n_periodic++;
    } else {
        free(r->host);
        free(r->path);
        otc_strmap_free(&r->headers);
        memset(r, 0, sizeof(*r));
    }
    otc_config_map_free(otlp_map, &oc);
    return rc;
}

/* readers: [{pull: {exporter: {prometheus: {...}}}}, {periodic: {...}}] */
static int configure_readers(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *rd,
                             struct otc_diag *d)
{
    int pulls = 0, rc = OTC_OK, i = 0;

    if (rd->type != YAML_SEQUENCE_NODE) {
        otc_diag_add(d, y->path, &rd->start_mark, "service: telemetry.metrics.readers must be a list");
        return OTC_EINVAL;
    }
    t->pull = false;
    for (yaml_node_item_t *it = rd->data.sequence.items.start; it < rd->data.sequence.items.top; it++, i++) {
        yaml_node_t *r = otc_yaml_node(y, *it);
        yaml_node_t *pull = otc_yaml_get(y, r, "pull");
        yaml_node_t *periodic = otc_yaml_get(y, r, "periodic");
        char key[64];

        snprintf(key, sizeof(key), "telemetry.metrics.readers[%d]", i);
        if (r->type != YAML_MAPPING_NODE || r->data.mapping.pairs.top - r->data.mapping.pairs.start != 1 ||
            (!pull && !periodic)) {
            otc_diag_add(d, y->path, &r->start_mark,
                         "service: key \"%s\": a reader is either pull or periodic", key);
            rc = OTC_EINVAL;
        } else if (pull) {
            if (++pulls > 1) {
                otc_diag_add(d, y->path, &r->start_mark,
                             "service: key \"%s\": only one pull reader is supported", key);
                rc = OTC_EINVAL;
            } else if (configure_pull(t, y, pull, key, d) != OTC_OK) {
                rc = OTC_EINVAL;
            } else {
                t->pull = true;
            }
        } else if (configure_periodic(t, y, periodic, key, d) != OTC_OK) {
            rc = OTC_EINVAL;
        }
    }
    return rc;
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
     "[{pull: {exporter: {prometheus: {host, port, without_*}}}}] and "
     "[{periodic: {interval, exporter: {otlp: {protocol, endpoint}}}}]"},
    {OTC_CFG_NODE, "views", NULL, MC_OFF(views), 0, 0, 0, NULL, "accepted; no effect"},
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

int otc_telemetry_resource(struct otc_telemetry *t, struct otc_yaml *y, yaml_node_t *res,
                           struct otc_diag *d)
{
    int rc = OTC_OK;

    if (!res || otc_yaml_is_null(res)) {
        return OTC_OK;
    }
    if (res->type != YAML_MAPPING_NODE) {
        otc_diag_add(d, y->path, &res->start_mark,
                     "service: key \"telemetry.resource\": expected a mapping of attributes");
        return OTC_EINVAL;
    }
    for (yaml_node_pair_t *p = res->data.mapping.pairs.start; p < res->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = otc_yaml_node(y, p->key), *vn = otc_yaml_node(y, p->value);
        const char *k = otc_yaml_str(kn);

        if (!k) {
            otc_diag_add(d, y->path, &kn->start_mark, "service: telemetry.resource: keys must be strings");
            rc = OTC_EINVAL;
        } else if (otc_yaml_is_null(vn)) {
            otc_strmap_del(&t->resource, k); /* as otelcol: null removes an attribute */
        } else if (vn->type != YAML_SCALAR_NODE) {
            otc_diag_add(d, y->path, &vn->start_mark,
                         "service: key \"telemetry.resource.%s\": expected a scalar", k);
            rc = OTC_EINVAL;
        } else if (otc_strmap_put(&t->resource, k, otc_yaml_str(vn)) != OTC_OK) {
            return OTC_ENOMEM;
        }
    }
    return rc;
}

