/* telemetry.c - the registry of per-instance counters, walked by one visitor
 * (otelcol's instrument names, units and attributes), rendered as Prometheus
 * text at /metrics as otelcol's pull reader prints it (without_type_suffix,
 * without_units, without_scope_info), and the service.telemetry config.
 * Rendering runs on the reader threads and only loads atomics; the data path
 * never waits for it. Configuration and start/stop run on the main thread. */
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

#define SCOPE_RECEIVER  "go.opentelemetry.io/collector/receiver/receiverhelper"
#define SCOPE_EXPORTER  "go.opentelemetry.io/collector/exporter/exporterhelper"
#define SCOPE_SERVICE   "go.opentelemetry.io/collector/service"
#define SCOPE_PROCESSOR "go.opentelemetry.io/collector/processor/processorhelper"

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
    const char      *stem;   /* otelcol_<stem>_<items> */
    enum fam_counter counter;
    const char      *help;   /* "%s": spans, metric points or log records */
    const char      *scope;
};

static const struct family families[] = {
    {OTC_RECEIVER, "receiver_accepted", C_ACCEPTED,
     "Number of %s successfully pushed into the pipeline.", SCOPE_RECEIVER},
    {OTC_RECEIVER, "receiver_refused", C_REFUSED,
     "Number of %s that could not be pushed into the pipeline.", SCOPE_RECEIVER},
    {OTC_EXPORTER, "exporter_sent", C_SENT,
     "Number of %s successfully sent to destination.", SCOPE_EXPORTER},
    {OTC_EXPORTER, "exporter_send_failed", C_SEND_FAILED,
     "Number of %s in failed attempts to send to destination.", SCOPE_EXPORTER},
    {OTC_EXPORTER, "exporter_enqueue_failed", C_ENQUEUE_FAILED,
     "Number of %s failed to be added to the sending queue.", SCOPE_EXPORTER},
    {OTC_PROCESSOR, "processor_dropped", C_DROPPED,
     "Number of %s that were dropped.", SCOPE_PROCESSOR},
    {OTC_PROCESSOR, "processor_deduplicated", C_DEDUPLICATED,
     "Number of duplicate %s removed (also counted as dropped).", SCOPE_PROCESSOR},
};

static const char *const help_items[OTC_SIGNAL_COUNT] = {"spans", "metric points", "log records"};
static const char *const item_units[OTC_SIGNAL_COUNT] = {"{spans}", "{datapoints}", "{records}"};

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

/* ------------------------------------------------------------- the visitor */

static bool family_applies(const struct family *f, const struct otc_telemetry_source *s, int sig)
{
    if (s->kind != f->kind || !(s->signals & OTC_SIG_BIT(sig))) {
        return false;
    }
    return f->counter != C_DEDUPLICATED || (s->type && !strcmp(s->type, "dedup"));
}

static bool same_component(const struct otc_telemetry_source *a, const struct otc_telemetry_source *b)
{
    return a->kind == b->kind && !strcmp(a->id, b->id);
}

/* True when an earlier source of the same kind and id (and, with f, one the
 * family applies to) was already visited: series are per id, not per pipeline. */
static bool seen_before(const struct otc_telemetry *t, size_t i, const struct family *f, int sig)
{
    for (size_t k = 0; k < i; k++) {
        if (same_component(&t->src[k], &t->src[i]) && (!f || family_applies(f, &t->src[k], sig))) {
            return true;
        }
    }
    return false;
}

static void visit_family(const struct otc_telemetry *t, struct otc_telemetry_sink *sink,
                         const struct family *f, int sig)
{
    char name[128], help[160];
    struct otc_telemetry_family fam;

    snprintf(name, sizeof(name), "otelcol_%s_%s", f->stem, otc_signal_item_name((enum otc_signal)sig));
    snprintf(help, sizeof(help), f->help, help_items[sig]);
    fam = (struct otc_telemetry_family){name, item_units[sig], help, f->scope, OTC_METRIC_COUNTER};
    sink->begin(sink, &fam);
    for (size_t i = 0; i < t->n_src; i++) {
        const struct otc_telemetry_source *s = &t->src[i];
        struct otc_telemetry_label l[2] = {{kind_label[s->kind], s->id}, {"transport", "grpc"}};
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
        sink->point(sink, &fam, l, f->kind == OTC_RECEIVER ? 2 : 1, (double)v[0], NULL);
        if (http) {
            l[1].value = "http";
            sink->point(sink, &fam, l, 2, (double)v[1], NULL);
        }
    }
    sink->end(sink, &fam);
}

/* otelcol_processor_incoming_items / outgoing_items{processor, otel_signal}:
 * counted by the engine where it hands a batch to a stage and where the stage
 * passes it on. */
static void visit_items(const struct otc_telemetry *t, struct otc_telemetry_sink *sink, bool in)
{
    const struct otc_telemetry_family fam = {
        in ? "otelcol_processor_incoming_items" : "otelcol_processor_outgoing_items", "{items}",
        in ? "Number of items passed to the processor."
           : "Number of items emitted from the processor.",
        SCOPE_SERVICE, OTC_METRIC_COUNTER};

    sink->begin(sink, &fam);
    for (int sig = 0; sig < OTC_SIGNAL_COUNT; sig++) {
        for (size_t i = 0; i < t->n_src; i++) {
            const struct otc_telemetry_source *s = &t->src[i];
            struct otc_telemetry_label l[2] = {{"otel_signal", otc_signal_name((enum otc_signal)sig)},
                                               {"processor", s->id}};
            uint64_t v = 0;
            bool seen = false;

            if (s->kind != OTC_PROCESSOR || !(s->signals & OTC_SIG_BIT(sig))) {
                continue;
            }
            for (size_t k = 0; k < i && !seen; k++) {
                seen = same_component(&t->src[k], s) && (t->src[k].signals & OTC_SIG_BIT(sig));
            }
            if (seen) {
                continue;
            }
            for (size_t k = i; k < t->n_src; k++) {
                const struct otc_telemetry_source *o = &t->src[k];
                if (same_component(o, s) && (o->signals & OTC_SIG_BIT(sig))) {
                    v += atomic_load(in ? &o->counters->incoming[sig] : &o->counters->outgoing[sig]);
                }
            }
            sink->point(sink, &fam, l, 2, (double)v, NULL);
        }
    }
    sink->end(sink, &fam);
}

enum exporter_gauge { G_QUEUE_SIZE, G_QUEUE_CAPACITY, G_IN_FLIGHT };

/* The persistent queue that holds exporter id's data of signal sig, or NULL. */
static const struct otc_telemetry_pq *exporter_pq(const struct otc_telemetry *t, const char *id, int sig)
{
    for (size_t i = 0; i < t->n_pq; i++) {
        if ((int)t->pq[i].signal == sig && !strcmp(t->pq[i].exporter, id)) {
            return &t->pq[i];
        }
    }
    return NULL;
}

/* A persistent queue's size (g = G_QUEUE_SIZE) or capacity in its sizer's
 * unit, as otelcol reports its persistent queue (0 capacity = unbounded). */
static double pq_gauge(const struct otc_telemetry_pq *q, enum exporter_gauge g)
{
    struct otc_wal_stats st;

    otc_wal_stats(q->wal, &st);
    if (g == G_QUEUE_CAPACITY) {
        return (double)st.capacity;
    }
    return (double)(st.sizer == OTC_WAL_SIZER_ITEMS ? st.queued_items
                    : st.sizer == OTC_WAL_SIZER_BYTES ? st.disk_bytes : st.queued);
}

/* Gauges of an exporter, one series per signal it serves (data_type): its
 * sending queue and its requests under way are shared by those signals. */
static void visit_exporter_gauge(const struct otc_telemetry *t, struct otc_telemetry_sink *sink,
                                 enum exporter_gauge g)
{
    static const struct otc_telemetry_family fams[] = {
        {"otelcol_exporter_queue_size", "{batches}",
         "Current size of the retry queue (in batches).", SCOPE_EXPORTER, OTC_METRIC_GAUGE},
        {"otelcol_exporter_queue_capacity", "{batches}",
         "Fixed capacity of the retry queue (in batches).", SCOPE_EXPORTER, OTC_METRIC_GAUGE},
        {"otelcol_exporter_in_flight_requests", "{requests}",
         "Number of export requests currently in flight, retries included.", SCOPE_EXPORTER,
         OTC_METRIC_GAUGE},
    };
    const struct otc_telemetry_family *fam = &fams[g];

    sink->begin(sink, fam);
    for (size_t i = 0; i < t->n_src; i++) {
        const struct otc_telemetry_source *s = &t->src[i];
        double v;

        if (s->kind != OTC_EXPORTER || seen_before(t, i, NULL, 0) || (g != G_IN_FLIGHT && !s->queue)) {
            continue;
        }
        switch (g) {
        case G_QUEUE_SIZE:     v = (double)otc_queue_len(s->queue); break;
        case G_QUEUE_CAPACITY: v = (double)s->queue_capacity; break;
        default:               v = (double)atomic_load(&s->counters->in_flight); break;
        }
        for (int sig = 0; sig < OTC_SIGNAL_COUNT; sig++) {
            struct otc_telemetry_label l[2] = {{"data_type", otc_signal_name((enum otc_signal)sig)},
                                               {"exporter", s->id}};
            const struct otc_telemetry_pq *q = g != G_IN_FLIGHT ? exporter_pq(t, s->id, sig) : NULL;

            if (s->signals & OTC_SIG_BIT(sig)) {
                sink->point(sink, fam, l, 2, q ? pq_gauge(q, g) : v, NULL);
            }
        }
    }
    sink->end(sink, fam);
}

/* otelc_persistent_queue_*{pipeline="logs"}: one series per write-ahead log. */
static void visit_pq(const struct otc_telemetry *t, struct otc_telemetry_sink *sink)
{
    static const struct otc_telemetry_family fams[] = {
        {"otelc_persistent_queue_requests", "{requests}",
         "Requests in the persistent queue not yet delivered.", SCOPE_EXPORTER, OTC_METRIC_GAUGE},
        {"otelc_persistent_queue_items", "{items}", "Items in the persistent queue not yet delivered.",
         SCOPE_EXPORTER, OTC_METRIC_GAUGE},
        {"otelc_persistent_queue_disk_bytes", "By", "Bytes of the persistent queue's files on disk.",
         SCOPE_EXPORTER, OTC_METRIC_GAUGE},
        {"otelc_persistent_queue_replayed_requests", "{requests}", "Requests replayed from earlier runs.",
         SCOPE_EXPORTER, OTC_METRIC_COUNTER},
        {"otelc_persistent_queue_replayed_items", "{items}", "Items replayed from earlier runs.",
         SCOPE_EXPORTER, OTC_METRIC_COUNTER},
        {"otelc_persistent_queue_skipped_requests", "{requests}",
         "Requests of earlier runs not replayed: already delivered.", SCOPE_EXPORTER, OTC_METRIC_COUNTER},
        {"otelc_persistent_queue_corrupt_records", "{records}",
         "Torn or corrupt stretches skipped at replay (each at least one request lost).", SCOPE_EXPORTER,
         OTC_METRIC_COUNTER},
        {"otelc_persistent_queue_corrupt_bytes", "By", "Bytes in those stretches.", SCOPE_EXPORTER,
         OTC_METRIC_COUNTER},
        {"otelc_persistent_queue_full_refusals", "{requests}",
         "Requests refused because the persistent queue was at its capacity.", SCOPE_EXPORTER,
         OTC_METRIC_COUNTER},
    };

    if (!t->n_pq) {
        return;
    }
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        sink->begin(sink, &fams[f]);
        for (size_t i = 0; i < t->n_pq; i++) {
            const struct otc_telemetry_pq *q = &t->pq[i];
            struct otc_telemetry_label l = {"pipeline", q->pipeline};
            struct otc_wal_stats st;
            uint64_t v[9];
            bool dup = false;

            for (size_t k = 0; k < i; k++) {
                dup |= t->pq[k].wal == q->wal;
            }
            if (dup) {
                continue;
            }
            otc_wal_stats(q->wal, &st);
            v[0] = st.queued;
            v[1] = st.queued_items;
            v[2] = st.disk_bytes;
            v[3] = st.replayed;
            v[4] = st.replayed_items;
            v[5] = st.skipped;
            v[6] = st.corrupt;
            v[7] = st.corrupt_bytes;
            v[8] = st.full;
            sink->point(sink, &fams[f], &l, 1, (double)v[f], NULL);
        }
        sink->end(sink, &fams[f]);
    }
}

/* Metrics the components registered (otc_metric_register), by name: each
 * distinct name is one family, one series per component id. */
static bool metric_named_before(const struct otc_telemetry *t, size_t i, const struct otc_metric *m)
{
    for (size_t k = 0; k <= i; k++) {
        for (const struct otc_metric *o = atomic_load_explicit(&t->src[k].counters->metrics,
                                                                memory_order_acquire);
             o; o = o->next) {
            if (o == m) {
                return false;
            }
            if (!strcmp(o->name, m->name)) {
                return true;
            }
        }
    }
    return false;
}

static void add_metric(struct otc_telemetry_hist *h, double *v, const struct otc_metric *m)
{
    if (m->kind == OTC_METRIC_HISTOGRAM) {
        h->bounds = m->bounds;
        h->n_bounds = m->n_bounds;
        for (size_t b = 0; b <= m->n_bounds; b++) {
            h->buckets[b] += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
        }
        h->count += atomic_load_explicit(&m->count, memory_order_relaxed);
        h->sum += (double)atomic_load_explicit(&m->value, memory_order_relaxed);
    } else {
        *v += (double)atomic_load_explicit(&m->value, memory_order_relaxed);
    }
}

static void visit_component_metrics(const struct otc_telemetry *t, struct otc_telemetry_sink *sink)
{
    for (size_t i = 0; i < t->n_src; i++) {
        for (const struct otc_metric *m = atomic_load_explicit(&t->src[i].counters->metrics,
                                                                memory_order_acquire);
             m; m = m->next) {
            struct otc_telemetry_family fam;

            if (metric_named_before(t, i, m)) {
                continue;
            }
            fam = (struct otc_telemetry_family){m->name, m->unit ? m->unit : "1",
                                                m->help ? m->help : "", m->scope ? m->scope : SCOPE_SERVICE,
                                                m->kind};
            sink->begin(sink, &fam);
            /* one series per component id, starting with the first that has it */
            for (size_t k = i; k < t->n_src; k++) {
                struct otc_telemetry_hist h;
                struct otc_telemetry_label l = {kind_label[t->src[k].kind], t->src[k].id};
                double v = 0;
                bool any = false;

                if (seen_before(t, k, NULL, 0)) {
                    continue;
                }
                memset(&h, 0, sizeof(h));
                for (size_t j = k; j < t->n_src; j++) {
                    if (!same_component(&t->src[j], &t->src[k])) {
                        continue;
                    }
                    for (const struct otc_metric *o = atomic_load_explicit(&t->src[j].counters->metrics,
                                                                            memory_order_acquire);
                         o; o = o->next) {
                        if (!strcmp(o->name, m->name) && o->kind == m->kind) {
                            add_metric(&h, &v, o);
                            any = true;
                        }
                    }
                }
                if (any) {
                    sink->point(sink, &fam, &l, 1, m->kind == OTC_METRIC_HISTOGRAM ? h.sum : v,
                                m->kind == OTC_METRIC_HISTOGRAM ? &h : NULL);
                }
            }
            sink->end(sink, &fam);
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

static void visit_one(struct otc_telemetry_sink *sink, const struct otc_telemetry_family *f, double v)
{
    sink->begin(sink, f);
    sink->point(sink, f, NULL, 0, v, NULL);
    sink->end(sink, f);
}

static void visit_process(const struct otc_telemetry *t, struct otc_telemetry_sink *sink)
{
    static const struct otc_telemetry_family fams[] = {
        {"otelcol_process_cpu_seconds", "s", "Total CPU user and system time in seconds",
         SCOPE_SERVICE, OTC_METRIC_COUNTER},
        {"otelcol_process_memory_rss", "By", "Total physical memory (resident set size)",
         SCOPE_SERVICE, OTC_METRIC_GAUGE},
        {"otelcol_process_uptime", "s", "Uptime of the process", SCOPE_SERVICE, OTC_METRIC_COUNTER},
    };
    struct rusage ru;
    double cpu = 0;

    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    }
    visit_one(sink, &fams[0], cpu);
    visit_one(sink, &fams[1], (double)process_rss_bytes());
    visit_one(sink, &fams[2], (double)(otc_now_ns() - t->start_ns) / 1e9);
}

void otc_telemetry_visit(const struct otc_telemetry *t, struct otc_telemetry_sink *sink)
{
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
            visit_family(t, sink, &families[f], s);
        }
    }
    visit_items(t, sink, true);
    visit_items(t, sink, false);
    visit_exporter_gauge(t, sink, G_QUEUE_SIZE);
    visit_exporter_gauge(t, sink, G_QUEUE_CAPACITY);
    visit_exporter_gauge(t, sink, G_IN_FLIGHT);
    visit_pq(t, sink);
    visit_component_metrics(t, sink);
    visit_process(t, sink);
}

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

/* ------------------------------------------------------------- registry */

static int strmap_put(struct otc_strmap *m, const char *k, const char *v)
{
    char **keys, **vals;
    char *kd, *vd;

    for (size_t i = 0; i < m->n; i++) {
        if (!strcmp(m->keys[i], k)) {
            if (!(vd = strdup(v))) {
                return OTC_ENOMEM;
            }
            free(m->vals[i]);
            m->vals[i] = vd;
            return OTC_OK;
        }
    }
    keys = realloc(m->keys, (m->n + 1) * sizeof(*keys));
    if (keys) {
        m->keys = keys;
    }
    vals = realloc(m->vals, (m->n + 1) * sizeof(*vals));
    if (vals) {
        m->vals = vals;
    }
    kd = strdup(k);
    vd = strdup(v);
    if (!keys || !vals || !kd || !vd) {
        free(kd);
        free(vd);
        return OTC_ENOMEM;
    }
    m->keys[m->n] = kd;
    m->vals[m->n++] = vd;
    return OTC_OK;
}

static void strmap_del(struct otc_strmap *m, const char *k)
{
    for (size_t i = 0; i < m->n; i++) {
        if (!strcmp(m->keys[i], k)) {
            free(m->keys[i]);
            free(m->vals[i]);
            memmove(&m->keys[i], &m->keys[i + 1], (m->n - i - 1) * sizeof(*m->keys));
            memmove(&m->vals[i], &m->vals[i + 1], (m->n - i - 1) * sizeof(*m->vals));
            m->n--;
            return;
        }
    }
}

static void strmap_free(struct otc_strmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

int otc_telemetry_init(struct otc_telemetry *t)
{
    struct timespec ts;
    uint8_t r[16];

    memset(t, 0, sizeof(*t));
    t->level = OTC_TELEMETRY_NORMAL;
    t->pull = true;
    t->without_type_suffix = t->without_units = t->without_scope_info = true;
    t->endpoint = strdup(OTC_TELEMETRY_DEFAULT_ENDPOINT);
    t->start_ns = otc_now_ns();
    clock_gettime(CLOCK_REALTIME, &ts);
    t->start_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
    /* otelcol's defaults: service.name is the build's command, service.version
     * its version, service.instance.id a random UUID */
    if (strmap_put(&t->resource, "service.instance.id", t->instance_id) != OTC_OK ||
        strmap_put(&t->resource, "service.name", OTC_SERVICE_NAME) != OTC_OK ||
        strmap_put(&t->resource, "service.version", OTC_SERVICE_VERSION) != OTC_OK) {
        return OTC_ENOMEM;
    }
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

int otc_telemetry_add_pq(struct otc_telemetry *t, const struct otc_telemetry_pq *q)
{
    if (t->n_pq == t->cap_pq) {
        size_t cap = t->cap_pq ? 2 * t->cap_pq : 4;
        struct otc_telemetry_pq *grown = realloc(t->pq, cap * sizeof(*grown));
        if (!grown) {
            return OTC_ENOMEM;
        }
        t->pq = grown;
        t->cap_pq = cap;
    }
    t->pq[t->n_pq++] = *q;
    return OTC_OK;
}

void otc_telemetry_free(struct otc_telemetry *t)
{
    otc_telemetry_stop(t);
    free(t->pq);
    t->pq = NULL;
    t->n_pq = t->cap_pq = 0;
    free(t->src);
    free(t->endpoint);
    strmap_free(&t->resource);
    for (size_t i = 0; i < t->n_periodic; i++) {
        free(t->periodic[i].host);
        free(t->periodic[i].path);
        strmap_free(&t->periodic[i].headers);
    }
    t->n_periodic = 0;
    t->src = NULL;
    t->endpoint = NULL;
    t->n_src = t->cap_src = 0;
}

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
            if (strmap_put(&r->headers, n, v) != OTC_OK) {
                return OTC_ENOMEM;
            }
        }
    } else if (hn && hn->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = hn->data.mapping.pairs.start; p < hn->data.mapping.pairs.top; p++) {
            const char *n = otc_yaml_str(otc_yaml_node(y, p->key));
            const char *v = otc_yaml_str(otc_yaml_node(y, p->value));
            if (n && v && strmap_put(&r->headers, n, v) != OTC_OK) {
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
            if (strmap_put(&r->headers, pair, eq + 1) != OTC_OK) {
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
        strmap_free(&r->headers);
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
            strmap_del(&t->resource, k); /* as otelcol: null removes an attribute */
        } else if (vn->type != YAML_SCALAR_NODE) {
            otc_diag_add(d, y->path, &vn->start_mark,
                         "service: key \"telemetry.resource.%s\": expected a scalar", k);
            rc = OTC_EINVAL;
        } else if (strmap_put(&t->resource, k, otc_yaml_str(vn)) != OTC_OK) {
            return OTC_ENOMEM;
        }
    }
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

    if (t->level == OTC_TELEMETRY_NONE) {
        return OTC_OK;
    }
    if (t->n_periodic && (rc = otc_telemetry_push_start(t)) != OTC_OK) {
        return rc;
    }
    if (!t->pull || t->httpd) {
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
    otc_telemetry_push_stop(t);
    otc_httpd_stop(t->httpd);
    t->httpd = NULL;
}
