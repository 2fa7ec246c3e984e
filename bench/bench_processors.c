/* bench_processors.c - cost of each processor (probabilistic_sampler, truncate,
 * transform, filter, attributes, resource, dedup, batch, memory_limiter) per span of a
 * 100-span request with 10 string attributes per span (and per log record and
 * metric data point of requests of the same shape; the ratelimiter's admission
 * also per request), next to a pass-through
 * stage and the arena decode that any decoding stage needs (batch also on
 * undecoded requests, as the receivers' fast path delivers them, and with the
 * exporter's encoding of its output); the dedup check per key,
 * single-threaded and with 2 producer threads feeding the one worker thread
 * that owns the table (as receivers feed a pipeline); tail_sampling's ingest
 * (holding every span of 10-span traces) and decision per span, and its memory
 * per held span.
 * Usage: bench_processors [requests per case [only cases whose name contains this,
 * or "=name" for one case]]
 * BENCH_NO_WARM=1 skips filling the dedup table first (for callgrind counts). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_builder.h"
#include "bench_util.h"
#include "core/config.h"
#include "otc/otc_component.h"
#include "otc/otc_otlp.h"
#include "otc/otc_pb_check.h"
#include "otc/otc_queue.h"
#include "processor/attributes/attributes.h"
#include "processor/batch/batch.h"
#include "processor/dedup/dedup.h"
#include "processor/dedup/dedup_table.h"
#include "processor/filter/filter.h"
#include "processor/memory_limiter/memory_limiter.h"
#include "processor/probabilistic_sampler/probabilistic_sampler.h"
#include "processor/ratelimiter/ratelimiter.h"
#include "processor/resource/resource.h"
#include "processor/transform/transform.h"
#include "processor/truncate/truncate.h"
#include "processor/tail_sampling/tail_sampling.h"
#include "core/config.h"
#include "core/instance.h"

#define SPANS 100
#define ATTRS 10
#define POOL  64 /* distinct requests cycled through (different trace ids) */
#define REPS  5  /* each case runs REPS times; the median and the minimum are reported */

/* ------------------------------------------------------------ next stage */

/* Stands in for the rest of the pipeline: keeps what it gets, released untimed. */
static struct otc_batch **captured;
static size_t n_captured, cap_captured;
static size_t spans_out;
static bool encode_out; /* serialize what arrives, as an exporter does (timed) */

static int capture_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    (void)ins;
    (void)ctx;
    if (encode_out) {
        const uint8_t *data;
        size_t len;
        if (otc_batch_bytes(b, &data, &len) != OTC_OK) {
            otc_batch_unref(b);
            return OTC_ENOMEM;
        }
    }
    if (n_captured == cap_captured) {
        size_t cap = cap_captured ? 2 * cap_captured : 64;
        struct otc_batch **v = realloc(captured, cap * sizeof(*v));
        if (!v) {
            otc_batch_unref(b);
            return OTC_ENOMEM;
        }
        captured = v;
        cap_captured = cap;
    }
    captured[n_captured++] = b;
    return OTC_OK;
}

static void capture_release(void)
{
    for (size_t i = 0; i < n_captured; i++) {
        spans_out += captured[i]->items;
        otc_batch_unref(captured[i]);
    }
    n_captured = 0;
}

static const struct otc_component_ops capture_ops = {
    .type = "capture",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .consume = capture_consume,
};
static struct otc_instance capture_ins = {.ops = &capture_ops, .id = "capture"};

/* The pass-through baseline: a stage that only hands the batch on. */
static int pass_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    (void)ctx;
    return otc_next(ins, b);
}

static const struct otc_component_ops pass_ops = {
    .type = "pass",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .consume = pass_consume,
};

/* ------------------------------------------------------------ instances */

/* A processor instance from option pairs {key, value, ..., NULL}; a value that
 * starts with '[' sets a string list of one item (the text inside). */
static int proc_make(struct otc_instance *ins, const struct otc_component_ops *ops,
                     const char *const *opts)
{
    char err[256] = "";

    memset(ins, 0, sizeof(*ins));
    ins->ops = ops;
    ins->id = (char *)ops->type;
    ins->ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
    ins->next.ins = &capture_ins;
    if (!ins->ctx || otc_config_map_defaults(ops->config_map, ins->ctx) != OTC_OK) {
        return OTC_ENOMEM;
    }
    for (size_t i = 0; opts && opts[i]; i += 2) {
        const struct otc_config_entry *e = otc_config_map_find(ops->config_map, opts[i]);
        if (!e) {
            fprintf(stderr, "%s: unknown option %s\n", ops->type, opts[i]);
            return OTC_EINVAL;
        }
        if (e->type == OTC_CFG_STRLIST) { /* "[item\nitem...]" */
            struct otc_strlist *l = (struct otc_strlist *)((char *)ins->ctx + e->offset);
            const char *p = opts[i + 1] + 1, *end = opts[i + 1] + strlen(opts[i + 1]) - 1;
            l->v = calloc(8, sizeof(char *));
            while (l->v && p < end && l->n < 8) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *stop = nl ? nl : end;
                if (!(l->v[l->n] = strndup(p, (size_t)(stop - p)))) {
                    return OTC_ENOMEM;
                }
                l->n++;
                p = stop + 1;
            }
            if (!l->v) {
                return OTC_ENOMEM;
            }
        } else if (otc_config_map_set(e, ins->ctx, opts[i + 1], err, sizeof(err)) != OTC_OK) {
            fprintf(stderr, "%s: %s: %s\n", ops->type, opts[i], err);
            return OTC_EINVAL;
        }
    }
    if (ops->validate && ops->validate(ins->ctx, err, sizeof(err)) != OTC_OK) {
        fprintf(stderr, "%s: %s\n", ops->type, err);
        return OTC_EINVAL;
    }
    if (ops->init && ops->init(ins, ins->ctx) != OTC_OK) {
        fprintf(stderr, "%s: init failed\n", ops->type);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

/* A processor instance from the YAML of its options (lists of mappings, as
 * the attributes processor's actions), for a pipeline of signal sig. */
static int proc_make_yaml(struct otc_instance *ins, const struct otc_component_ops *ops,
                          const char *yaml, enum otc_signal sig)
{
    struct otc_yaml y;
    struct otc_diag d = {0};
    char err[256] = "";
    int rc;

    memset(ins, 0, sizeof(*ins));
    ins->ops = ops;
    ins->id = (char *)ops->type;
    ins->signals = OTC_SIG_BIT(sig);
    ins->ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
    ins->next.ins = &capture_ins;
    if (!ins->ctx || otc_config_map_defaults(ops->config_map, ins->ctx) != OTC_OK) {
        return OTC_ENOMEM;
    }
    rc = otc_yaml_load_string(&y, ops->type, yaml, strlen(yaml), &d);
    if (rc == OTC_OK) {
        rc = otc_config_apply(&y, otc_yaml_root(&y), ops->type, ops->config_map, ins->ctx, NULL,
                              NULL, &d);
        otc_yaml_free(&y);
    }
    if (rc != OTC_OK) {
        otc_diag_print(&d, stderr);
        otc_diag_free(&d);
        return rc;
    }
    if ((ops->validate && ops->validate(ins->ctx, err, sizeof(err)) != OTC_OK) ||
        (ops->validate_signal && ops->validate_signal(ins->ctx, sig, err, sizeof(err)) != OTC_OK)) {
        fprintf(stderr, "%s: %s\n", ops->type, err);
        return OTC_EINVAL;
    }
    if (ops->init && ops->init(ins, ins->ctx) != OTC_OK) {
        fprintf(stderr, "%s: init failed\n", ops->type);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

static void proc_free(struct otc_instance *ins)
{
    if (ins->ops->destroy) {
        ins->ops->destroy(ins->ctx);
    }
    otc_config_map_free(ins->ops->config_map, ins->ctx);
    free(ins->ctx);
}

/* ------------------------------------------------------------ requests */

struct req {
    uint8_t *bytes;
    size_t   len;
};

static struct req pool[POOL];
static struct req logs_pool[POOL];    /* the same shape as log records */
static struct req metrics_pool[POOL]; /* the same shape as gauge data points */
static struct req metrics1_pool[POOL]; /* 100 gauges of one point each (the load generator's) */

/* How the requests reach the stage. */
enum input {
    IN_DECODED, /* decoded, from the pool */
    IN_FRESH,   /* decoded, with new trace ids (dedup must see new keys) */
    IN_RAW,     /* undecoded, items counted by the receivers' scan (their fast path) */
    IN_RAW_REWRITTEN, /* undecoded, as after a stage rewrote it (no scan bounds) */
    IN_FRESH_RAW, /* undecoded, with new trace ids */
    IN_LOGS_RAW,  /* undecoded logs requests (logs_pool) */
    IN_LOGS,      /* decoded logs requests */
    IN_LOGS_FRESH, IN_LOGS_FRESH_RAW, /* with new timestamps (new dedup keys) */
    IN_METRICS, IN_METRICS_RAW, IN_METRICS_FRESH, IN_METRICS_FRESH_RAW,
    IN_METRICS1_RAW, IN_METRICS1_FRESH, IN_METRICS1_FRESH_RAW, /* metrics1_pool */
};

/* A metrics request of the spans' shape: one resource, one scope, n_metrics
 * gauges (10 or 100) of SPANS points in all, each point with ATTRS string
 * attributes; malloc'd. */
static uint8_t *metrics_bytes(unsigned seed, size_t n_metrics, size_t *len)
{
    enum { N_METRICS = SPANS };
    const size_t PER = SPANS / n_metrics;
    static char keys[ATTRS][32], vals[SPANS][ATTRS][32], names[N_METRICS][32];
    static Opentelemetry__Proto__Common__V1__AnyValue av[SPANS][ATTRS];
    static Opentelemetry__Proto__Common__V1__KeyValue kv[SPANS][ATTRS], *kvp[SPANS][ATTRS];
    static Opentelemetry__Proto__Metrics__V1__NumberDataPoint dp[SPANS], *dpp[SPANS];
    static Opentelemetry__Proto__Metrics__V1__Gauge g[N_METRICS];
    static Opentelemetry__Proto__Metrics__V1__Metric m[N_METRICS], *mp[N_METRICS];
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm, *smp = &sm;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm, *rmp = &rm;
    otc_metrics_req req;
    uint8_t *out;

    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(&req);
    opentelemetry__proto__metrics__v1__resource_metrics__init(&rm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(&sm);
    for (size_t i = 0; i < SPANS; i++) {
        opentelemetry__proto__metrics__v1__number_data_point__init(&dp[i]);
        for (size_t j = 0; j < ATTRS; j++) {
            snprintf(keys[j], sizeof(keys[j]), "attribute.key.%05zu", j);
            snprintf(vals[i][j], sizeof(vals[i][j]), "value-%05u-%04zu-%03zu", seed % 100000, i, j);
            opentelemetry__proto__common__v1__any_value__init(&av[i][j]);
            opentelemetry__proto__common__v1__key_value__init(&kv[i][j]);
            av[i][j].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            av[i][j].string_value = vals[i][j];
            kv[i][j].key = keys[j];
            kv[i][j].value = &av[i][j];
            kvp[i][j] = &kv[i][j];
        }
        dp[i].n_attributes = ATTRS;
        dp[i].attributes = kvp[i];
        dp[i].start_time_unix_nano = 1700000000000000000ull;
        dp[i].time_unix_nano = 1700000000000000000ull + seed * 1000ull + i;
        dp[i].value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        dp[i].as_int = (int64_t)(seed + i);
        dpp[i] = &dp[i];
    }
    for (size_t k = 0; k < n_metrics; k++) {
        opentelemetry__proto__metrics__v1__metric__init(&m[k]);
        opentelemetry__proto__metrics__v1__gauge__init(&g[k]);
        snprintf(names[k], sizeof(names[k]), "bench.metric.%03zu", k);
        m[k].name = names[k];
        m[k].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m[k].gauge = &g[k];
        g[k].n_data_points = PER;
        g[k].data_points = &dpp[k * PER];
        mp[k] = &m[k];
    }
    sm.n_metrics = n_metrics;
    sm.metrics = mp;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = &smp;
    req.n_resource_metrics = 1;
    req.resource_metrics = &rmp;
    *len = protobuf_c_message_get_packed_size(&req.base);
    if ((out = malloc(*len))) {
        protobuf_c_message_pack(&req.base, out);
    }
    return out;
}

static struct otc_batch *undecoded_signal(enum otc_signal s, const struct req *r)
{
    struct otc_batch *b = otc_batch_from_bytes(s, r->bytes, r->len);

    if (!b || otc_batch_scan(b, NULL) != OTC_OK) {
        fprintf(stderr, "cannot scan the request\n");
        exit(1);
    }
    return b;
}

static struct otc_batch *undecoded(const struct req *r)
{
    return undecoded_signal(OTC_TRACES, r);
}

static struct otc_batch *decoded(const struct req *r)
{
    struct otc_batch *b = otc_batch_from_bytes(OTC_TRACES, r->bytes, r->len);

    if (!b || otc_batch_decode(b) != OTC_OK) {
        fprintf(stderr, "cannot decode the request\n");
        exit(1);
    }
    return b;
}

/* A decoded copy of pool request i whose trace ids carry tag (new dedup keys). */
static struct otc_batch *unique_batch(unsigned i, uint32_t tag)
{
    struct otc_batch *b = decoded(&pool[i % POOL]);
    otc_traces_req *r = (otc_traces_req *)otc_batch_msg_mut(b);
    otc_scope_spans *ss = r->resource_spans[0]->scope_spans[0];

    for (size_t k = 0; k < ss->n_spans; k++) {
        memcpy(ss->spans[k]->trace_id.data + 12, &tag, 4);
    }
    return b;
}

/* An undecoded copy of unique_batch(i, tag), as the receivers' fast path
 * delivers it. */
static struct otc_batch *unique_raw(unsigned i, uint32_t tag)
{
    struct otc_batch *d = unique_batch(i, tag);
    struct req r;
    struct otc_batch *b;

    if (otc_batch_bytes(d, (const uint8_t **)&r.bytes, &r.len) != OTC_OK) {
        fprintf(stderr, "cannot encode the request\n");
        exit(1);
    }
    b = undecoded(&r);
    otc_batch_unref(d);
    return b;
}

/* A decoded copy of a logs or metrics pool request whose record / point
 * times carry tag (new dedup keys); undecoded (re-encoded) when raw. */
static struct otc_batch *unique_signal(enum otc_signal s, const struct req *r, uint32_t tag,
                                       bool raw)
{
    struct otc_batch *b = otc_batch_from_bytes(s, r->bytes, r->len), *u;
    ProtobufCMessage *msg;
    struct req e;

    if (!b || otc_batch_decode(b) != OTC_OK || !(msg = otc_batch_msg_mut(b))) {
        fprintf(stderr, "cannot decode the request\n");
        exit(1);
    }
    if (s == OTC_LOGS) {
        otc_scope_logs *sl = ((otc_logs_req *)msg)->resource_logs[0]->scope_logs[0];
        for (size_t k = 0; k < sl->n_log_records; k++) {
            sl->log_records[k]->time_unix_nano += (uint64_t)tag << 20;
        }
    } else {
        otc_scope_metrics *sm = ((otc_metrics_req *)msg)->resource_metrics[0]->scope_metrics[0];
        for (size_t k = 0; k < sm->n_metrics; k++) {
            Opentelemetry__Proto__Metrics__V1__Gauge *g = sm->metrics[k]->gauge;
            for (size_t p = 0; p < g->n_data_points; p++) {
                g->data_points[p]->time_unix_nano += (uint64_t)tag << 20;
            }
        }
    }
    if (!raw) {
        return b;
    }
    if (otc_batch_bytes(b, (const uint8_t **)&e.bytes, &e.len) != OTC_OK) {
        fprintf(stderr, "cannot encode the request\n");
        exit(1);
    }
    u = undecoded_signal(s, &e);
    otc_batch_unref(b);
    return u;
}

static struct otc_batch *decoded_signal(enum otc_signal s, const struct req *r)
{
    struct otc_batch *b = otc_batch_from_bytes(s, r->bytes, r->len);

    if (!b || otc_batch_decode(b) != OTC_OK) {
        fprintf(stderr, "cannot decode the request\n");
        exit(1);
    }
    return b;
}

/* The request number idx of input in, for a case whose keys start at tag. */
static struct otc_batch *make_input(enum input in, unsigned idx, uint32_t tag)
{
    switch (in) {
    case IN_FRESH:
        return unique_batch(idx, tag);
    case IN_FRESH_RAW:
        return unique_raw(idx, tag);
    case IN_RAW:
        return undecoded(&pool[idx % POOL]);
    case IN_RAW_REWRITTEN: {
        struct otc_batch *b = undecoded(&pool[idx % POOL]);

        b->scanned = (struct otc_scan_bounds){0};
        return b;
    }
    case IN_LOGS_RAW:
        return undecoded_signal(OTC_LOGS, &logs_pool[idx % POOL]);
    case IN_LOGS:
        return decoded_signal(OTC_LOGS, &logs_pool[idx % POOL]);
    case IN_LOGS_FRESH:
    case IN_LOGS_FRESH_RAW:
        return unique_signal(OTC_LOGS, &logs_pool[idx % POOL], tag, in == IN_LOGS_FRESH_RAW);
    case IN_METRICS:
        return decoded_signal(OTC_METRICS, &metrics_pool[idx % POOL]);
    case IN_METRICS_RAW:
        return undecoded_signal(OTC_METRICS, &metrics_pool[idx % POOL]);
    case IN_METRICS_FRESH:
    case IN_METRICS_FRESH_RAW:
        return unique_signal(OTC_METRICS, &metrics_pool[idx % POOL], tag,
                             in == IN_METRICS_FRESH_RAW);
    case IN_METRICS1_RAW:
        return undecoded_signal(OTC_METRICS, &metrics1_pool[idx % POOL]);
    case IN_METRICS1_FRESH:
    case IN_METRICS1_FRESH_RAW:
        return unique_signal(OTC_METRICS, &metrics1_pool[idx % POOL], tag,
                             in == IN_METRICS1_FRESH_RAW);
    default:
        return decoded(&pool[idx % POOL]);
    }
}

/* The input that fills a dedup table with new keys of the same signal. */
static enum input warm_input(enum input in)
{
    switch (in) {
    case IN_LOGS:
    case IN_LOGS_RAW:
    case IN_LOGS_FRESH:
    case IN_LOGS_FRESH_RAW:
        return IN_LOGS_FRESH;
    case IN_METRICS:
    case IN_METRICS_RAW:
    case IN_METRICS_FRESH:
    case IN_METRICS_FRESH_RAW:
        return IN_METRICS_FRESH;
    case IN_METRICS1_RAW:
    case IN_METRICS1_FRESH:
    case IN_METRICS1_FRESH_RAW:
        return IN_METRICS1_FRESH;
    default:
        return IN_FRESH;
    }
}

/* ------------------------------------------------------------ timing */

/* CPU time of the calling thread: time the machine gave to other processes
 * (2 shared cores) is not counted. */
static uint64_t thread_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t timer_cost; /* ns of one thread_ns() pair, subtracted per call */

static void measure_timer_cost(void)
{
    uint64_t sum = 0;
    int n = 20000;

    for (int i = 0; i < n; i++) {
        uint64_t a = thread_ns();
        sum += thread_ns() - a;
    }
    timer_cost = sum / (uint64_t)n;
}

static uint64_t elapsed(uint64_t t0)
{
    uint64_t d = thread_ns() - t0;

    return d > timer_cost ? d - timer_cost : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Requests are decoded GROUP at a time just before the stage gets them (warm in
 * cache, as after the receiver) and only the consume calls are timed, one thread
 * CPU clock reading per group (the clock is a system call here, ~1-2 us).
 * Undecoded requests (IN_RAW) are made the same way, without the decode. */
#define GROUP 8

/* The receiver's admission of b by ins: admit() or admit_request(). */
static bool admitted(struct otc_instance *ins, struct otc_batch *b)
{
    if (ins->ops->admit_request) {
        struct otc_admission a = {.b = b};
        return ins->ops->admit_request(ins, ins->ctx, &a) == OTC_OK;
    }
    return ins->ops->admit(ins, ins->ctx, b->arena.bytes);
}

static double run_case(struct otc_instance *ins, int iters, enum input in, bool admit,
                       unsigned seed_base, int warm)
{
    uint64_t total = 0;
    struct otc_batch *g[GROUP];

    /* untimed: fill state (a dedup table) to its steady size first */
    for (int i = 0; i < warm; i++) {
        ins->ops->consume(ins, ins->ctx,
                          make_input(warm_input(in), (unsigned)i, seed_base + (uint32_t)i));
        capture_release();
    }
    seed_base += (unsigned)warm;
    spans_out = 0;
    iters -= iters % GROUP;
    for (int i = 0; i < iters; i += GROUP) {
        uint64_t t0;

        for (int k = 0; k < GROUP; k++) {
            unsigned idx = (unsigned)(i + k);
            g[k] = make_input(in, idx, seed_base + idx);
        }
        t0 = thread_ns();
        for (int k = 0; k < GROUP; k++) {
            if (!admit || admitted(ins, g[k])) {
                ins->ops->consume(ins, ins->ctx, g[k]);
            } else {
                otc_batch_unref(g[k]);
            }
        }
        total += elapsed(t0);
        capture_release();
    }
    if (ins->ops->flush) {
        uint64_t t0 = thread_ns();
        ins->ops->flush(ins, ins->ctx);
        total += elapsed(t0);
        capture_release();
    }
    return (double)total / ((double)iters * SPANS);
}

static double decode_cost(int iters)
{
    uint64_t total = 0;
    struct otc_batch *g[GROUP];

    iters -= iters % GROUP;
    for (int i = 0; i < iters; i += GROUP) {
        uint64_t t0;

        for (int k = 0; k < GROUP; k++) {
            const struct req *r = &pool[(i + k) % POOL];
            g[k] = otc_batch_from_bytes(OTC_TRACES, r->bytes, r->len);
        }
        t0 = thread_ns();
        for (int k = 0; k < GROUP; k++) {
            otc_batch_decode(g[k]);
        }
        total += elapsed(t0);
        for (int k = 0; k < GROUP; k++) {
            otc_batch_unref(g[k]);
        }
    }
    return (double)total / ((double)iters * SPANS);
}

static double pass_ns, decode_ns;
static const char *only; /* run only the cases whose name contains this */

static bool wanted(const char *name)
{
    if (only && only[0] == '=') {
        return !strcmp(name, only + 1); /* "=name": that case alone */
    }
    return !only || strstr(name, only);
}

static bool per_request; /* report also ns per request (admission gates) */

static void report(const char *name, double ns, double min)
{
    printf("%-52s %7.1f ns/span (min %6.1f)  %5.1f%% of decode, pass-through %.1f\n", name, ns,
           min, 100.0 * ns / decode_ns, pass_ns);
    if (per_request) {
        printf("%-52s %7.0f ns/request, pass-through %.0f ns/request\n", "", ns * SPANS,
               pass_ns * SPANS);
    }
}

/* One processor case: build, run, free. */
static void bench_proc(const char *name, const struct otc_component_ops *ops,
                       const char *const *opts, int iters, enum input in, bool admit, int warm)
{
    static unsigned seed_base = 1000000;
    struct otc_instance ins;
    double ns[REPS];
    int per = iters / REPS;

    if (!wanted(name)) {
        return;
    }
    if (getenv("BENCH_NO_WARM")) {
        warm = 0; /* instruction counts (callgrind) of the timed calls alone */
    }
    if (proc_make(&ins, ops, opts) != OTC_OK) {
        printf("%-52s setup failed\n", name);
        return;
    }
    for (int r = 0; r < REPS; r++) {
        ns[r] = run_case(&ins, per, in, admit, seed_base, r == 0 ? warm : 0);
        seed_base += (unsigned)(per + (r == 0 ? warm : 0));
    }
    qsort(ns, REPS, sizeof(ns[0]), cmp_double);
    report(name, ns[REPS / 2], ns[0]);
    if (spans_out != (size_t)per * SPANS) {
        printf("%-52s (%.1f%% of spans passed on)\n", "", 100.0 * (double)spans_out /
               ((double)per * SPANS));
    }
    proc_free(&ins);
}

/* A case of a processor configured from YAML (bench_proc otherwise). */
static void bench_proc_yaml(const char *name, const struct otc_component_ops *ops,
                            const char *yaml, int iters, enum input in)
{
    static unsigned seed_base = 3000000;
    enum otc_signal sig = in == IN_LOGS || in == IN_LOGS_RAW ? OTC_LOGS
                          : in == IN_METRICS || in == IN_METRICS_RAW ? OTC_METRICS : OTC_TRACES;
    struct otc_instance ins;
    double ns[REPS];
    int per = iters / REPS;

    if (!wanted(name)) {
        return;
    }
    if (proc_make_yaml(&ins, ops, yaml, sig) != OTC_OK) {
        printf("%-52s setup failed\n", name);
        return;
    }
    for (int r = 0; r < REPS; r++) {
        ns[r] = run_case(&ins, per, in, false, seed_base, 0);
        seed_base += (unsigned)per;
    }
    qsort(ns, REPS, sizeof(ns[0]), cmp_double);
    report(name, ns[REPS / 2], ns[0]);
    proc_free(&ins);
}

/* ------------------------------------------------------------ dedup check */

static struct otc_dedup_key *random_keys(size_t n, uint64_t seed)
{
    struct otc_dedup_key *k = malloc(n * sizeof(*k));
    uint64_t x = seed;

    for (size_t i = 0; k && i < n; i++) { /* splitmix64 */
        uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        k[i].lo = z ^ (z >> 31);
        k[i].hi = k[i].lo * 0x2545F4914F6CDD1Dull + i;
    }
    return k;
}

/* The table alone: ns per check of new keys (filling, then full and evicting)
 * and of keys already present. */
static void bench_table(size_t max_entries, size_t n)
{
    struct otc_dedup_table t;
    struct otc_dedup_key *keys = random_keys(n, max_entries);
    uint8_t *dup = malloc(SPANS);
    uint64_t t0, t_new, t_dup;
    size_t dups = 0;

    if (!keys || !dup || otc_dedup_table_init(&t, max_entries, 3600ll * 1000000000ll) != OTC_OK) {
        printf("dedup table: setup failed\n");
        return;
    }
    /* untimed: fill the table once (first touch of its pages) */
    for (size_t i = 0; i + SPANS <= max_entries + SPANS; i += SPANS) {
        struct otc_dedup_key *w = random_keys(SPANS, ~(uint64_t)i);
        if (w) {
            otc_dedup_table_check_many(&t, w, SPANS, 1, dup);
        }
        free(w);
    }
    t0 = thread_ns();
    for (size_t i = 0; i + SPANS <= n; i += SPANS) {
        dups += otc_dedup_table_check_many(&t, keys + i, SPANS, 1, dup);
    }
    t_new = elapsed(t0);
    /* the newest max_entries keys are present: check them again */
    t0 = thread_ns();
    for (size_t i = n - max_entries; i + SPANS <= n; i += SPANS) {
        dups += otc_dedup_table_check_many(&t, keys + i, SPANS, 2, dup);
    }
    t_dup = elapsed(t0);
    printf("dedup table, %8zu entries (full), %8zu new keys: %6.1f ns/check\n", max_entries, n,
           (double)t_new / (double)n);
    printf("dedup table, %8zu entries (full), present keys:   %6.1f ns/check  (%zu dups)\n",
           max_entries, (double)t_dup / (double)max_entries, dups);
    otc_dedup_table_release(&t);
    free(keys);
    free(dup);
}

/* Producers stand for receiver threads: each decodes its requests and pushes
 * them to the pipeline queue; the worker thread pops and runs the one dedup
 * instance, which owns the table. */
struct mp_state {
    struct otc_queue    queue;
    struct otc_instance ins;
    int                 per_producer;
    atomic_int          producers_left;
};

struct mp_arg {
    struct mp_state *st;
    unsigned         seed;
};

static void *mp_producer(void *varg)
{
    struct mp_arg *a = varg;

    for (int i = 0; i < a->st->per_producer; i++) {
        struct otc_batch *b = unique_batch((unsigned)i, a->seed + (uint32_t)i);
        while (otc_queue_push(&a->st->queue, b) != OTC_OK) {
            sched_yield();
        }
    }
    atomic_fetch_sub(&a->st->producers_left, 1);
    return NULL;
}

/* Producers 0: the worker decodes and checks by itself. Otherwise producer
 * threads decode and push to the queue and the worker pops and checks. Each
 * consume call is timed on the wall clock (cheap here, unlike the thread CPU
 * clock); the median call is reported, so that calls during which the shared
 * machine ran something else do not count. */
static double bench_producers(int producers, int per_producer, unsigned seed, double *wall_ns)
{
    static const char *const opts[] = {"max_entries", "1048576", NULL};
    struct mp_state st;
    struct mp_arg args[4];
    pthread_t th[4];
    long want = producers ? (long)producers * per_producer : per_producer, got = 0;
    double *calls = malloc((size_t)want * sizeof(double)), med;
    uint64_t w0;

    memset(&st, 0, sizeof(st));
    if (!calls || otc_queue_init(&st.queue, 16) != OTC_OK ||
        proc_make(&st.ins, &otc_processor_dedup_ops, opts) != OTC_OK) {
        free(calls);
        return 0;
    }
    /* untimed: fill the table (steady state: full, evicting) */
    for (unsigned i = 0; i < (1u << 20) / SPANS + 1; i++) {
        st.ins.ops->consume(&st.ins, st.ins.ctx, unique_batch(i, 0x80000000u + seed + i));
        capture_release();
    }
    st.per_producer = per_producer;
    atomic_store(&st.producers_left, producers);
    spans_out = 0;
    w0 = bench_now_ns();
    for (int i = 0; i < producers; i++) {
        args[i].st = &st;
        args[i].seed = seed + (unsigned)(i * per_producer);
        pthread_create(&th[i], NULL, mp_producer, &args[i]);
    }
    while (got < want) {
        void *p = NULL;
        uint64_t t0;

        if (producers == 0) {
            p = unique_batch((unsigned)got, seed + (uint32_t)got);
        } else if (!otc_queue_pop_wait(&st.queue, &p, 10)) {
            continue;
        }
        t0 = bench_now_ns();
        st.ins.ops->consume(&st.ins, st.ins.ctx, p);
        calls[got++] = (double)(bench_now_ns() - t0);
        capture_release();
    }
    *wall_ns = (double)(bench_now_ns() - w0) / ((double)want * SPANS);
    for (int i = 0; i < producers; i++) {
        pthread_join(th[i], NULL);
    }
    if (spans_out != (size_t)want * SPANS) {
        printf("dedup with producers: %zu of %ld spans passed (unexpected duplicates)\n",
               spans_out, want * SPANS);
    }
    qsort(calls, (size_t)want, sizeof(double), cmp_double);
    med = calls[want / 2] / SPANS;
    free(calls);
    proc_free(&st.ins);
    otc_queue_destroy(&st.queue);
    return med;
}

/* ------------------------------------------------------------ main */


/* ------------------------------------------------------------ tail_sampling */

/* tail_sampling from YAML: requests of 100 spans in 10 traces of 10 spans are
 * held (decision_wait 10s, nothing evicted), then one timer run decides them
 * all and passes the sampled ones on. Timed apart: ingest (consume) and
 * decision (timer, including building the outgoing requests). Memory: what
 * malloc holds while the traces wait (request arenas plus the processor's
 * tables), per span, against the spans' share of the wire bytes. */
static void bench_tail_sampling(const char *name, const char *yaml, int iters)
{
    struct otc_instance ins;
    struct otc_yaml y;
    struct otc_diag d;
    double ingest[REPS], decide[REPS], mem_ratio = 0, per_span = 0, per_trace = 0;
    static uint32_t tag = 9000000;

    if (!wanted(name)) {
        return;
    }
    iters -= iters % GROUP;
    for (int r = 0; r < REPS; r++) {
        uint64_t t_in = 0, t_dec, t0;
        size_t wire = 0, spans_in = 0;
        struct mallinfo2 m0, m1;
        struct otc_batch *g[GROUP];

        memset(&ins, 0, sizeof(ins));
        memset(&y, 0, sizeof(y));
        memset(&d, 0, sizeof(d));
        if (otc_yaml_load_string(&y, "bench.yaml", yaml, strlen(yaml), &d) != OTC_OK ||
            otc_instance_configure(&ins, &otc_processor_tail_sampling_ops, "tail_sampling", &y,
                                   otc_yaml_root(&y), NULL, NULL, &d) != OTC_OK) {
            printf("%-52s setup failed\n", name);
            return;
        }
        ins.next.ins = &capture_ins;
        if (ins.ops->init(&ins, ins.ctx) != OTC_OK) {
            printf("%-52s init failed\n", name);
            return;
        }
        spans_out = 0;
        m0 = mallinfo2();
        for (int i = 0; i < iters; i += GROUP) {
            for (int k = 0; k < GROUP; k++) {
                struct otc_batch *b = unique_batch((unsigned)(i + k), tag++);
                otc_traces_req *req = (otc_traces_req *)otc_batch_msg_mut(b);
                otc_scope_spans *ss = req->resource_spans[0]->scope_spans[0];
                const uint8_t *data;
                size_t len;
                for (size_t s = 0; s < ss->n_spans; s++) { /* 10 spans per trace */
                    memcpy(ss->spans[s]->trace_id.data, ss->spans[s - s % 10]->trace_id.data, 16);
                }
                (void)otc_batch_bytes(b, &data, &len); /* as received: bytes and tree */
                wire += len;
                spans_in += ss->n_spans;
                g[k] = b;
            }
            t0 = thread_ns();
            for (int k = 0; k < GROUP; k++) {
                ins.ops->consume(&ins, ins.ctx, g[k]);
            }
            t_in += elapsed(t0);
        }
        m1 = mallinfo2();
        t0 = thread_ns();
        ins.ops->timer(&ins, ins.ctx, otc_now_ns() + 11000000000ull);
        t_dec = elapsed(t0);
        capture_release();
        ingest[r] = (double)t_in / (double)spans_in;
        decide[r] = (double)t_dec / (double)spans_in;
        if (r == 0) {
            per_span = (double)(m1.uordblks - m0.uordblks) / (double)spans_in;
            per_trace = per_span * 10;
            mem_ratio = per_span / ((double)wire / (double)spans_in);
        }
        otc_instance_release(&ins);
        otc_yaml_free(&y);
        otc_diag_free(&d);
    }
    qsort(ingest, REPS, sizeof(ingest[0]), cmp_double);
    qsort(decide, REPS, sizeof(decide[0]), cmp_double);
    printf("%-52s %7.1f ns/span ingest + %5.1f decide = %6.1f (min %.1f + %.1f); %.0f spans/s per core\n",
           name, ingest[REPS / 2], decide[REPS / 2], ingest[REPS / 2] + decide[REPS / 2], ingest[0],
           decide[0], 1e9 / (ingest[REPS / 2] + decide[REPS / 2]));
    printf("%-52s held: %.0f bytes/span, %.0f bytes/trace of 10 spans, %.2fx the wire size\n", "", per_span,
           per_trace, mem_ratio);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 2000;
    static const char *const samp25[] = {"sampling_percentage", "25", NULL};
    static const char *const samp100[] = {"sampling_percentage", "100", NULL};
    static const char *const trunc_scan[] = {NULL}; /* defaults: 4096 bytes, nothing cut */
    static const char *const trunc_cut[] = {"max_value_length", "12", NULL};
    static const char *const trunc_attrs[] = {"max_value_length", "12", "max_attributes", "5",
                                              NULL};
    static const char *const tf_trunc[] = {"trace_statements",
                                           "[truncate_all(span.attributes, 12)]", NULL};
    static const char *const tf_limit[] = {"trace_statements",
                                           "[limit(span.attributes, 5, [])]", NULL};
    static const char *const flt_none[] = {"traces.span",
                                           "[attributes[\"http.target\"] == \"/health\"]", NULL};
    static const char *const flt_re[] = {"traces.span", "[IsMatch(name, \"^health\")]", NULL};
    static const char *const flt_10[] = {"traces.span", "[IsMatch(name, \"^span-1[0-9]-\")]", NULL};
    static const char *const flt_flat[] = {"trace_conditions",
        "[resource.attributes[\"k8s.namespace\"] == \"kube-system\"\n"
        "span.attributes[\"http.target\"] == \"/health\" and span.kind == SPAN_KIND_SERVER]", NULL};
    static const char *const flt_logs[] = {"logs.log_record",
                                           "[severity_number < SEVERITY_NUMBER_INFO]", NULL};
    static const char *const tf_set[] = {"trace_statements",
                                         "[set(span.attributes[\"env\"], \"prod\")]", NULL};
    static const char *const tf_where[] = {"trace_statements",
        "[set(span.name, \"x\") where span.attributes[\"http.target\"] == \"/health\"]", NULL};
    static const char *const tf_repl[] = {"trace_statements",
        "[replace_pattern(span.attributes[\"attribute.key.000.000\"], \"value-(\\\\d+)\", \"v-$1\")]",
        NULL};
    static const char *const tf_sha[] = {"trace_statements",
        "[set(span.attributes[\"h\"], SHA256(span.attributes[\"attribute.key.000.000\"]))]", NULL};
    static const char *const tf_logs[] = {"log_statements",
        "[set(log.severity_text, \"INFO\") where log.severity_number == SEVERITY_NUMBER_INFO]", NULL};
    static const char *const dedup_big[] = {"max_entries", "1048576", NULL};
    static const char *const dedup_small[] = {"max_entries", "65536", NULL};
    static const char *const batch_def[] = {NULL};
    static const char *const memlim[] = {"check_interval", "1s", "limit_mib", "65536", NULL};
    static const char *const rl_one[] = {"rate", "1000000000", "burst", "1000000000",
                                         "strategy", "records", NULL};
    static const char *const rl_res[] = {"rate", "1000000000", "burst", "1000000000",
                                         "strategy", "records", "resource_keys",
                                         "[service.name]", NULL};
    static const char *const rl_bytes[] = {"rate", "1000000000", "burst", "1000000000",
                                           "strategy", "bytes", "resource_keys",
                                           "[service.name]", NULL};
    struct otc_instance pass;
    size_t len;

    only = argc > 2 ? argv[2] : NULL;
    /* Batch arenas come from malloc; keep their memory in the process so the
     * figures are the processors' work, not page faults of fresh mmap()s (slow
     * under this machine's hypervisor) whose number depends on glibc's heuristics. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    if (iters < POOL) {
        iters = POOL;
    }
    for (unsigned i = 0; i < POOL; i++) {
        pool[i].bytes = otc_test_traces_bytes(SPANS, ATTRS, 7 + i, &pool[i].len);
        logs_pool[i].bytes = otc_test_logs_bytes(SPANS, ATTRS, 7 + i, &logs_pool[i].len);
        metrics_pool[i].bytes = metrics_bytes(7 + i, 10, &metrics_pool[i].len);
        metrics1_pool[i].bytes = metrics_bytes(7 + i, SPANS, &metrics1_pool[i].len);
        if (!pool[i].bytes || !logs_pool[i].bytes || !metrics_pool[i].bytes ||
            !metrics1_pool[i].bytes) {
            return 1;
        }
    }
    len = pool[0].len;
    measure_timer_cost();
    printf("request: %d spans x %d attributes (20-byte values), %zu bytes; %d requests per case;"
           " timer cost %llu ns subtracted per call\n", SPANS, ATTRS, len, iters,
           (unsigned long long)timer_cost);

    decode_ns = decode_cost(iters);
    memset(&pass, 0, sizeof(pass));
    pass.ops = &pass_ops;
    pass.id = "pass";
    pass.next.ins = &capture_ins;
    pass_ns = run_case(&pass, iters, IN_DECODED, false, 0, 0);
    printf("%-52s %7.1f ns/span  (once per request, before the first decoding stage)\n",
           "decode into the batch arena", decode_ns);
    printf("%-52s %7.1f ns/span\n", "pass-through stage (baseline)", pass_ns);

    bench_proc("probabilistic_sampler 100% (keeps all)", &otc_processor_probabilistic_sampler_ops,
               samp100, iters, IN_DECODED, false, 0);
    bench_proc("probabilistic_sampler 25%", &otc_processor_probabilistic_sampler_ops, samp25,
               iters, IN_DECODED, false, 0);
    /* undecoded requests: the stage reads their bytes, and drops spans from them */
    bench_proc("probabilistic_sampler 100%, undecoded", &otc_processor_probabilistic_sampler_ops,
               samp100, iters, IN_RAW, false, 0);
    bench_proc("probabilistic_sampler 25%, undecoded (drops on the wire)",
               &otc_processor_probabilistic_sampler_ops, samp25, iters, IN_RAW, false, 0);
    bench_proc("probabilistic_sampler 100%, logs, undecoded",
               &otc_processor_probabilistic_sampler_ops, samp100, iters, IN_LOGS_RAW, false, 0);
    bench_proc("probabilistic_sampler 25%, logs, undecoded",
               &otc_processor_probabilistic_sampler_ops, samp25, iters, IN_LOGS_RAW, false, 0);
    bench_proc("truncate, nothing over the limit (scan only)", &otc_processor_truncate_ops,
               trunc_scan, iters, IN_DECODED, false, 0);
    bench_proc("truncate, nothing over the limit, undecoded", &otc_processor_truncate_ops,
               trunc_scan, iters, IN_RAW, false, 0);
    bench_proc("truncate, nothing over the limit, undecoded, rewritten (no scan bounds)",
               &otc_processor_truncate_ops, trunc_scan, iters, IN_RAW_REWRITTEN, false, 0);
    bench_proc("truncate max_value_length 12 (every value cut)", &otc_processor_truncate_ops,
               trunc_cut, iters, IN_DECODED, false, 0);
    bench_proc("truncate max_value_length 12, max_attributes 5", &otc_processor_truncate_ops,
               trunc_attrs, iters, IN_DECODED, false, 0);
    bench_proc("transform truncate_all(span.attributes, 12)", &otc_processor_transform_ops,
               tf_trunc, iters, IN_DECODED, false, 0);
    bench_proc("transform limit(span.attributes, 5, [])", &otc_processor_transform_ops, tf_limit,
               iters, IN_DECODED, false, 0);
    /* filter and transform on OTTL: both decode the request (the decode figure above) */
    bench_proc("filter span condition, no match", &otc_processor_filter_ops, flt_none, iters,
               IN_DECODED, false, 0);
    bench_proc("filter span condition, no match, undecoded", &otc_processor_filter_ops, flt_none,
               iters, IN_RAW, false, 0);
    bench_proc("filter IsMatch(name), no match", &otc_processor_filter_ops, flt_re, iters,
               IN_DECODED, false, 0);
    bench_proc("filter IsMatch(name), drops 10%", &otc_processor_filter_ops, flt_10, iters,
               IN_DECODED, false, 0);
    bench_proc("filter trace_conditions resource+span, no match", &otc_processor_filter_ops,
               flt_flat, iters, IN_DECODED, false, 0);
    bench_proc("filter log_record severity, no match, logs", &otc_processor_filter_ops, flt_logs,
               iters, IN_LOGS, false, 0);
    bench_proc("transform set(span.attributes[\"env\"], \"prod\")", &otc_processor_transform_ops,
               tf_set, iters, IN_DECODED, false, 0);
    bench_proc("transform set(span.name) where (no match)", &otc_processor_transform_ops, tf_where,
               iters, IN_DECODED, false, 0);
    bench_proc("transform replace_pattern(attribute, $1)", &otc_processor_transform_ops, tf_repl,
               iters, IN_DECODED, false, 0);
    bench_proc("transform set(attribute, SHA256(attribute))", &otc_processor_transform_ops, tf_sha,
               iters, IN_DECODED, false, 0);
    bench_proc("transform set(log.severity_text) where, logs", &otc_processor_transform_ops,
               tf_logs, iters, IN_LOGS, false, 0);
    /* dedup: the table is first filled untimed (its pages touched), so the timed
     * checks are the steady state of a long-running collector: full, evicting */
    bench_proc("dedup, new keys (1M-entry table, full, evicting)", &otc_processor_dedup_ops,
               dedup_big, iters, IN_FRESH, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, new keys (64K-entry table, full, evicting)", &otc_processor_dedup_ops,
               dedup_small, iters, IN_FRESH, false, (1 << 16) / SPANS + 1);
    bench_proc("dedup, new keys (1M-entry table), undecoded", &otc_processor_dedup_ops, dedup_big,
               iters, IN_FRESH_RAW, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, duplicates (1M table; pool repeats after 64)", &otc_processor_dedup_ops,
               dedup_big, iters, IN_DECODED, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, duplicates (1M table; pool repeats after 64), undecoded",
               &otc_processor_dedup_ops, dedup_big, iters, IN_RAW, false, (1 << 20) / SPANS + 1);
    /* batch: decoded inputs are merged into a new request, which the exporter
     * then encodes; undecoded ones are sent as their concatenated bytes */
    bench_proc("batch (send_batch_size 8192)", &otc_processor_batch_ops, batch_def, iters,
               IN_DECODED, false, 0);
    bench_proc("batch (send_batch_size 8192), undecoded inputs", &otc_processor_batch_ops,
               batch_def, iters, IN_RAW, false, 0);
    encode_out = true;
    bench_proc("batch + exporter's encode, decoded inputs", &otc_processor_batch_ops, batch_def,
               iters, IN_DECODED, false, 0);
    bench_proc("batch + exporter's encode, undecoded inputs", &otc_processor_batch_ops, batch_def,
               iters, IN_RAW, false, 0);
    encode_out = false;
    /* logs and metrics (100 records / data points per request, 10 attributes each) */
    bench_proc("probabilistic_sampler 25%, logs, decoded", &otc_processor_probabilistic_sampler_ops,
               samp25, iters, IN_LOGS, false, 0);
    bench_proc("truncate, nothing over the limit, logs", &otc_processor_truncate_ops, trunc_scan,
               iters, IN_LOGS, false, 0);
    bench_proc("truncate, nothing over the limit, logs, undecoded", &otc_processor_truncate_ops,
               trunc_scan, iters, IN_LOGS_RAW, false, 0);
    bench_proc("truncate, nothing over the limit, metrics", &otc_processor_truncate_ops,
               trunc_scan, iters, IN_METRICS, false, 0);
    bench_proc("truncate, nothing over the limit, metrics, undecoded", &otc_processor_truncate_ops,
               trunc_scan, iters, IN_METRICS_RAW, false, 0);
    bench_proc("truncate max_value_length 12, metrics, undecoded", &otc_processor_truncate_ops,
               trunc_cut, iters, IN_METRICS_RAW, false, 0);
    bench_proc("dedup, new keys (1M table), logs", &otc_processor_dedup_ops, dedup_big, iters,
               IN_LOGS_FRESH, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, new keys (1M table), logs, undecoded", &otc_processor_dedup_ops, dedup_big,
               iters, IN_LOGS_FRESH_RAW, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, duplicates (1M table), logs, undecoded", &otc_processor_dedup_ops,
               dedup_big, iters, IN_LOGS_RAW, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, new keys (1M table), metrics", &otc_processor_dedup_ops, dedup_big, iters,
               IN_METRICS_FRESH, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, new keys (1M table), metrics, undecoded", &otc_processor_dedup_ops,
               dedup_big, iters, IN_METRICS_FRESH_RAW, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, duplicates (1M table), metrics, undecoded", &otc_processor_dedup_ops,
               dedup_big, iters, IN_METRICS_RAW, false, (1 << 20) / SPANS + 1);
    /* the load generator's shape: a metric per point */
    bench_proc("dedup, new keys (1M table), 1-point metrics", &otc_processor_dedup_ops, dedup_big,
               iters, IN_METRICS1_FRESH, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, new keys (1M table), 1-point metrics, undecoded", &otc_processor_dedup_ops,
               dedup_big, iters, IN_METRICS1_FRESH_RAW, false, (1 << 20) / SPANS + 1);
    bench_proc("dedup, duplicates (1M table), 1-point metrics, undecoded",
               &otc_processor_dedup_ops, dedup_big, iters, IN_METRICS1_RAW, false,
               (1 << 20) / SPANS + 1);
    bench_proc("memory_limiter (admit + consume)", &otc_processor_memory_limiter_ops, memlim,
               iters, IN_DECODED, true, 0);
    /* ratelimiter: its decision at admission, on undecoded requests as the
     * receivers deliver them (rate high enough that every request passes) */
    per_request = true;
    bench_proc("ratelimiter records, one key (admit + consume)", &otc_processor_ratelimiter_ops,
               rl_one, iters, IN_RAW, true, 0);
    bench_proc("ratelimiter records, resource_keys (admit + consume)",
               &otc_processor_ratelimiter_ops, rl_res, iters, IN_RAW, true, 0);
    bench_proc("ratelimiter bytes, resource_keys (admit + consume)",
               &otc_processor_ratelimiter_ops, rl_bytes, iters, IN_RAW, true, 0);
    per_request = false;
    /* attributes decodes (its undecoded case includes the decode), runs its actions
     * dry first and rewrites only a request something changes in; resource reads
     * an undecoded request's Resources alone and rewrites its bytes */
    {
        static const char at_upsert[] = "actions: [{key: env, value: prod, action: upsert}]";
        static const char at_hash[] =
            "actions: [{key: attribute.key.003.000, action: hash}]";
        static const char at_mixed[] =
            "actions:\n"
            "  - {key: attribute.key.000.000, action: delete}\n"
            "  - {key: env, value: prod, action: insert}\n"
            "  - {key: copy, from_attribute: attribute.key.001.000, action: upsert}\n"
            "  - {pattern: \"^attribute\\\\.key\\\\.00[89]\", action: delete}\n";
        static const char at_excluded[] =
            "include: {match_type: strict, services: [checkout]}\n"
            "actions: [{key: env, value: prod, action: upsert}]";
        static const char at_regexp[] =
            "include: {match_type: regexp, span_names: [\"^span-[0-9]+-\"]}\n"
            "actions: [{key: env, value: prod, action: upsert}]";
        static const char at_unchanged[] =
            "actions: [{key: attribute.key.002.000, action: insert, value: x}]";
        static const char rs_upsert[] =
            "attributes: [{key: deployment.environment, value: prod, action: upsert}]";

        bench_proc_yaml("attributes upsert (every span changes)", &otc_processor_attributes_ops,
                        at_upsert, iters, IN_DECODED);
        bench_proc_yaml("attributes upsert, undecoded (decode included)",
                        &otc_processor_attributes_ops, at_upsert, iters, IN_RAW);
        bench_proc_yaml("attributes hash (SHA-256 of one value per span)",
                        &otc_processor_attributes_ops, at_hash, iters, IN_DECODED);
        bench_proc_yaml("attributes delete+insert+copy+delete by pattern",
                        &otc_processor_attributes_ops, at_mixed, iters, IN_DECODED);
        bench_proc_yaml("attributes upsert, include span_names regexp (all)",
                        &otc_processor_attributes_ops, at_regexp, iters, IN_DECODED);
        bench_proc_yaml("attributes, include services excludes every span",
                        &otc_processor_attributes_ops, at_excluded, iters, IN_DECODED);
        bench_proc_yaml("attributes, include services excludes all, undecoded",
                        &otc_processor_attributes_ops, at_excluded, iters, IN_RAW);
        bench_proc_yaml("attributes insert of a present key (nothing changes)",
                        &otc_processor_attributes_ops, at_unchanged, iters, IN_DECODED);
        bench_proc_yaml("attributes upsert, logs", &otc_processor_attributes_ops, at_upsert,
                        iters, IN_LOGS);
        bench_proc_yaml("attributes upsert, metrics (per data point)",
                        &otc_processor_attributes_ops, at_upsert, iters, IN_METRICS);
        bench_proc_yaml("resource upsert (one resource per request)", &otc_processor_resource_ops,
                        rs_upsert, iters, IN_DECODED);
        bench_proc_yaml("resource upsert, undecoded (Resources rewritten, no decode)",
                        &otc_processor_resource_ops, rs_upsert, iters, IN_RAW);
        bench_proc_yaml("resource upsert, logs, undecoded (no decode)",
                        &otc_processor_resource_ops, rs_upsert, iters, IN_LOGS_RAW);
        bench_proc_yaml("resource upsert, metrics, undecoded (no decode)",
                        &otc_processor_resource_ops, rs_upsert, iters, IN_METRICS_RAW);
    }

    bench_tail_sampling("tail_sampling, always_sample (keeps all; 8 shards)",
                        "decision_wait: 10s\nnum_traces: 1000000\nshards: 8\n"
                        "policies: [{name: all, type: always_sample}]\n", iters);
    bench_tail_sampling("tail_sampling, always_sample, shards: 1",
                        "decision_wait: 10s\nnum_traces: 1000000\nshards: 1\n"
                        "policies: [{name: all, type: always_sample}]\n", iters);
    bench_tail_sampling("tail_sampling, errors + latency + probabilistic 10%",
                        "decision_wait: 10s\nnum_traces: 1000000\nshards: 8\npolicies:\n"
                        "  - {name: e, type: status_code, status_code: {status_codes: [ERROR]}}\n"
                        "  - {name: l, type: latency, latency: {threshold_ms: 5000}}\n"
                        "  - {name: p, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n",
                        iters);
    bench_tail_sampling("tail_sampling, string_attribute regex (no match)",
                        "decision_wait: 10s\nnum_traces: 1000000\nshards: 8\npolicies:\n"
                        "  - {name: s, type: string_attribute, string_attribute: {key: http.route, "
                        "values: ['^/api/v[0-9]+/checkout'], enabled_regex_matching: true}}\n",
                        iters);

    if (wanted("dedup table")) {
        bench_table(1u << 20, 2u << 20);
        bench_table(1u << 16, 1u << 20);
    }
    if (!wanted("dedup check")) {
        goto out;
    }
    {
        double wall0, wall1, wall2;
        double one = bench_producers(0, iters, 5000000u, &wall0);
        double p1 = bench_producers(1, iters, 6000000u, &wall1);
        double p2 = bench_producers(2, iters / 2, 7000000u, &wall2);

        printf("dedup check, worker alone (1M table, full):   %6.1f ns/check (median request)\n",
               one);
        printf("dedup check, 1 producer -> queue -> worker:  %6.1f ns/check  x%.2f of alone "
               "(wall %.0f ns/span)\n", p1, one > 0 ? p1 / one : 0.0, wall1);
        printf("dedup check, 2 producers -> queue -> worker: %6.1f ns/check  x%.2f of alone "
               "(wall %.0f ns/span)\n", p2, one > 0 ? p2 / one : 0.0, wall2);
        (void)wall0;
    }

out:
    for (unsigned i = 0; i < POOL; i++) {
        free(pool[i].bytes);
        free(logs_pool[i].bytes);
        free(metrics_pool[i].bytes);
        free(metrics1_pool[i].bytes);
    }
    free(captured);
    return 0;
}
