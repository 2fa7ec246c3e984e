/* telemetry_prom.c - the registry's metrics as Prometheus text (format 0.0.4)
 * for /metrics, named as otelcol's pull reader names them (without_type_suffix,
 * without_units, without_scope_info) and with target_info. Runs on the
 * metrics server's thread; only reads the registry. */
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

/* ------------------------------------------------------------- Prometheus text */

struct prom_sink {
    struct otc_telemetry_sink   base;
    const struct otc_telemetry *t;
    struct otc_buf             *out;
    struct otc_buf              tmp;   /* the family's samples, written after its header */
    char                        name[160];
};

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

/* A Prometheus label name from an attribute key: anything but [A-Za-z0-9_]
 * becomes '_', and a leading digit gets "key_" in front (as otelcol prints). */
static void add_label_name(struct otc_buf *b, const char *k)
{
    if (*k >= '0' && *k <= '9') {
        otc_buf_adds(b, "key_");
    }
    for (; *k; k++) {
        bool ok = (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
                  *k == '_';
        otc_buf_addc(b, ok ? *k : '_');
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* The Prometheus suffix of a UCUM unit (none for annotations like {spans}). */
static const char *unit_suffix(const char *unit, enum otc_metric_kind kind)
{
    if (!unit || !*unit || *unit == '{') {
        return NULL;
    }
    if (!strcmp(unit, "s")) {
        return "seconds";
    }
    if (!strcmp(unit, "ms")) {
        return "milliseconds";
    }
    if (!strcmp(unit, "By")) {
        return "bytes";
    }
    if (!strcmp(unit, "%")) {
        return "percent";
    }
    if (!strcmp(unit, "1")) {
        return kind == OTC_METRIC_GAUGE ? "ratio" : NULL;
    }
    return NULL;
}

/* otelcol's instrument name as the pull reader prints it: with without_units
 * false the unit is appended, with without_type_suffix false a counter gets
 * _total. */
static void prom_name(const struct otc_telemetry *t, const struct otc_telemetry_family *f,
                      char *out, size_t len)
{
    const char *u = t->without_units ? NULL : unit_suffix(f->unit, f->kind);
    size_t n = (size_t)snprintf(out, len, "%s", f->name);

    if (u && n < len) {
        char tail[32];
        snprintf(tail, sizeof(tail), "_%s", u);
        if (!ends_with(out, tail)) {
            n += (size_t)snprintf(out + n, len - n, "%s", tail);
        }
    }
    if (f->kind == OTC_METRIC_COUNTER && !t->without_type_suffix && n < len && !ends_with(out, "_total")) {
        snprintf(out + n, len - n, "_total");
    }
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct otc_telemetry_label *)a)->key,
                  ((const struct otc_telemetry_label *)b)->key);
}

const char *otc_telemetry_resource_get(const struct otc_telemetry *t, const char *key)
{
    for (size_t i = 0; i < t->resource.n; i++) {
        if (!strcmp(t->resource.keys[i], key)) {
            return t->resource.vals[i];
        }
    }
    return NULL;
}

/* name{labels...} with the point's labels, the scope's (unless
 * without_scope_info) and the service's, sorted by name. extra: le. */
static void prom_sample(struct prom_sink *ps, const struct otc_telemetry_family *f, const char *suffix,
                        const struct otc_telemetry_label *l, size_t n, const char *le, const char *value)
{
    static const char *const svc[3][2] = {{"service_instance_id", "service.instance.id"},
                                          {"service_name", "service.name"},
                                          {"service_version", "service.version"}};
    struct otc_telemetry_label all[OTC_TELEMETRY_MAX_LABELS + 6];
    size_t k = 0;

    for (size_t i = 0; i < n && k < OTC_TELEMETRY_MAX_LABELS; i++) {
        all[k++] = l[i];
    }
    for (int i = 0; i < 3; i++) {
        const char *v = otc_telemetry_resource_get(ps->t, svc[i][1]);
        if (v) {
            all[k++] = (struct otc_telemetry_label){svc[i][0], v};
        }
    }
    if (!ps->t->without_scope_info) {
        all[k++] = (struct otc_telemetry_label){"otel_scope_name", f->scope};
        all[k++] = (struct otc_telemetry_label){"otel_scope_version", ""};
    }
    qsort(all, k, sizeof(all[0]), label_cmp);
    if (le) {
        all[k++] = (struct otc_telemetry_label){"le", le};
    }
    otc_buf_addf(&ps->tmp, "%s%s{", ps->name, suffix);
    for (size_t i = 0; i < k; i++) {
        otc_buf_addf(&ps->tmp, "%s%s=\"", i ? "," : "", all[i].key);
        add_label_value(&ps->tmp, all[i].value);
        otc_buf_addc(&ps->tmp, '"');
    }
    otc_buf_addf(&ps->tmp, "} %s\n", value);
}

static void fmt_value(char *buf, size_t len, double v)
{
    if (v == (double)(uint64_t)v && v < 1e18) {
        snprintf(buf, len, "%llu", (unsigned long long)v);
    } else {
        snprintf(buf, len, "%.6f", v);
    }
}

static void prom_begin(struct otc_telemetry_sink *s, const struct otc_telemetry_family *f)
{
    struct prom_sink *ps = (struct prom_sink *)s;

    otc_buf_reset(&ps->tmp);
    prom_name(ps->t, f, ps->name, sizeof(ps->name));
}

static void prom_point(struct otc_telemetry_sink *s, const struct otc_telemetry_family *f,
                       const struct otc_telemetry_label *l, size_t n, double v,
                       const struct otc_telemetry_hist *h)
{
    struct prom_sink *ps = (struct prom_sink *)s;
    char val[64], le[64];
    uint64_t cum = 0;

    if (!h) {
        fmt_value(val, sizeof(val), v);
        prom_sample(ps, f, "", l, n, NULL, val);
        return;
    }
    for (size_t b = 0; b <= h->n_bounds; b++) {
        cum += h->buckets[b];
        if (b < h->n_bounds) {
            snprintf(le, sizeof(le), "%g", h->bounds[b]);
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        snprintf(val, sizeof(val), "%llu", (unsigned long long)cum);
        prom_sample(ps, f, "_bucket", l, n, le, val);
    }
    fmt_value(val, sizeof(val), h->sum);
    prom_sample(ps, f, "_sum", l, n, NULL, val);
    snprintf(val, sizeof(val), "%llu", (unsigned long long)h->count);
    prom_sample(ps, f, "_count", l, n, NULL, val);
}

static void prom_end(struct otc_telemetry_sink *s, const struct otc_telemetry_family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    struct prom_sink *ps = (struct prom_sink *)s;

    if (!ps->tmp.len) {
        return;
    }
    otc_buf_addf(ps->out, "# HELP %s %s\n# TYPE %s %s\n", ps->name, f->help, ps->name, types[f->kind]);
    otc_buf_add(ps->out, ps->tmp.data, ps->tmp.len);
}

/* target_info: the resource (service.telemetry.resource and the service.*
 * defaults) as labels of one gauge, as otelcol's pull reader prints it. */
static void render_target_info(const struct otc_telemetry *t, struct otc_buf *out)
{
    otc_buf_adds(out, "# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{");
    for (size_t i = 0; i < t->resource.n; i++) {
        if (i) {
            otc_buf_addc(out, ',');
        }
        add_label_name(out, t->resource.keys[i]);
        otc_buf_adds(out, "=\"");
        add_label_value(out, t->resource.vals[i]);
        otc_buf_addc(out, '"');
    }
    otc_buf_adds(out, "} 1\n");
}

void otc_telemetry_render(const struct otc_telemetry *t, struct otc_buf *out)
{
    struct prom_sink ps = {{prom_begin, prom_point, prom_end}, t, out, {0}, {0}};

    otc_buf_init(&ps.tmp);
    otc_telemetry_visit(t, &ps.base);
    render_target_info(t, out);
    otc_buf_free(&ps.tmp);
}

