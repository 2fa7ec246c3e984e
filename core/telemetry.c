/* telemetry.c - the registry of per-instance counters and the one visitor
 * over it (otelcol's instrument names, units and attributes), which the
 * Prometheus text (telemetry_prom.c) and the periodic OTLP push
 * (telemetry_otlp.c) both read, and the /metrics server. Visits run on the
 * reader threads and only load atomics; the data path never waits for them.
 * Registration and start/stop run on the main thread; the service.telemetry
 * config is read in telemetry_config.c. */
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

/* otelc_pipeline_queue_*{pipeline="traces"}: the byte budget of each
 * pipeline's queue, what it holds, the requests it refused, and those that
 * waited for room (queue.max_wait). */
static void visit_pipelines(const struct otc_telemetry *t, struct otc_telemetry_sink *sink)
{
    static const struct otc_telemetry_family fams[] = {
        {"otelc_pipeline_queue_bytes", "By", "Bytes of requests waiting in the pipeline's queue.",
         SCOPE_SERVICE, OTC_METRIC_GAUGE},
        {"otelc_pipeline_queue_capacity_bytes", "By",
         "Byte budget of the pipeline's queue (service.pipelines.<id>.queue.max_bytes).", SCOPE_SERVICE,
         OTC_METRIC_GAUGE},
        {"otelc_pipeline_queue_refused_requests", "{requests}",
         "Requests answered UNAVAILABLE because the pipeline's queue was at its byte budget.",
         SCOPE_SERVICE, OTC_METRIC_COUNTER},
        {"otelc_pipeline_queue_waited_requests", "{requests}",
         "Requests that waited for room because the pipeline's queue was at its byte budget "
         "(service.pipelines.<id>.queue.max_wait), whether taken in the end or not.",
         SCOPE_SERVICE, OTC_METRIC_COUNTER},
    };

    if (!t->n_pipes) {
        return;
    }
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        sink->begin(sink, &fams[f]);
        for (size_t i = 0; i < t->n_pipes; i++) {
            const struct otc_telemetry_pipeline *q = &t->pipes[i];
            struct otc_telemetry_label l = {"pipeline", q->id};
            uint64_t v = f == 0   ? atomic_load(q->bytes)
                         : f == 1 ? q->capacity
                         : f == 2 ? atomic_load(q->refused)
                                  : atomic_load(q->waited);

            sink->point(sink, &fams[f], &l, 1, (double)v, NULL);
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

static bool same_labels(const struct otc_metric *a, const struct otc_metric *b)
{
    if (a->n_labels != b->n_labels) {
        return false;
    }
    for (size_t i = 0; i < a->n_labels; i++) {
        if (strcmp(a->label_keys[i], b->label_keys[i]) || strcmp(a->label_values[i], b->label_values[i])) {
            return false;
        }
    }
    return true;
}

/* True when a metric before m in c's list has m's name and labels. */
static bool labels_before(const struct otc_counters *c, const struct otc_metric *m)
{
    for (const struct otc_metric *o = atomic_load_explicit(&c->metrics, memory_order_acquire);
         o && o != m; o = o->next) {
        if (!strcmp(o->name, m->name) && o->kind == m->kind && same_labels(o, m)) {
            return true;
        }
    }
    return false;
}

/* The series of component k with ls's name and labels: summed over the
 * component's instances (a processor in several pipelines). */
static void metric_series(const struct otc_telemetry *t, struct otc_telemetry_sink *sink,
                          const struct otc_telemetry_family *fam, size_t k, const struct otc_metric *ls)
{
    struct otc_telemetry_hist h;
    struct otc_telemetry_label l[1 + OTC_METRIC_MAX_LABELS];
    double v = 0;

    memset(&h, 0, sizeof(h));
    l[0] = (struct otc_telemetry_label){kind_label[t->src[k].kind], t->src[k].id};
    for (size_t i = 0; i < ls->n_labels; i++) {
        l[1 + i] = (struct otc_telemetry_label){ls->label_keys[i], ls->label_values[i]};
    }
    for (size_t j = k; j < t->n_src; j++) {
        if (!same_component(&t->src[j], &t->src[k])) {
            continue;
        }
        for (const struct otc_metric *o = atomic_load_explicit(&t->src[j].counters->metrics,
                                                                memory_order_acquire);
             o; o = o->next) {
            if (!strcmp(o->name, ls->name) && o->kind == ls->kind && same_labels(o, ls)) {
                add_metric(&h, &v, o);
            }
        }
    }
    sink->point(sink, fam, l, 1 + ls->n_labels, ls->kind == OTC_METRIC_HISTOGRAM ? h.sum : v,
                ls->kind == OTC_METRIC_HISTOGRAM ? &h : NULL);
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
            /* one series per component id and label set, starting with the
             * first component that has it */
            for (size_t k = i; k < t->n_src; k++) {
                if (seen_before(t, k, NULL, 0)) {
                    continue;
                }
                for (const struct otc_metric *ls = atomic_load_explicit(&t->src[k].counters->metrics,
                                                                         memory_order_acquire);
                     ls; ls = ls->next) {
                    if (!strcmp(ls->name, m->name) && ls->kind == m->kind &&
                        !labels_before(t->src[k].counters, ls)) {
                        metric_series(t, sink, &fam, k, ls);
                    }
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
    visit_pipelines(t, sink);
    visit_component_metrics(t, sink);
    visit_process(t, sink);
}


/* ------------------------------------------------------------- registry */

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
    if (otc_strmap_put(&t->resource, "service.instance.id", t->instance_id) != OTC_OK ||
        otc_strmap_put(&t->resource, "service.name", OTC_SERVICE_NAME) != OTC_OK ||
        otc_strmap_put(&t->resource, "service.version", OTC_SERVICE_VERSION) != OTC_OK) {
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

int otc_telemetry_add_pipeline(struct otc_telemetry *t, const struct otc_telemetry_pipeline *q)
{
    if (t->n_pipes == t->cap_pipes) {
        size_t cap = t->cap_pipes ? 2 * t->cap_pipes : 4;
        struct otc_telemetry_pipeline *grown = realloc(t->pipes, cap * sizeof(*grown));
        if (!grown) {
            return OTC_ENOMEM;
        }
        t->pipes = grown;
        t->cap_pipes = cap;
    }
    t->pipes[t->n_pipes++] = *q;
    return OTC_OK;
}

void otc_telemetry_free(struct otc_telemetry *t)
{
    otc_telemetry_stop(t);
    free(t->pipes);
    t->pipes = NULL;
    t->n_pipes = t->cap_pipes = 0;
    free(t->pq);
    t->pq = NULL;
    t->n_pq = t->cap_pq = 0;
    free(t->src);
    free(t->endpoint);
    otc_strmap_free(&t->resource);
    for (size_t i = 0; i < t->n_periodic; i++) {
        free(t->periodic[i].host);
        free(t->periodic[i].path);
        otc_strmap_free(&t->periodic[i].headers);
    }
    t->n_periodic = 0;
    t->src = NULL;
    t->endpoint = NULL;
    t->n_src = t->cap_src = 0;
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
