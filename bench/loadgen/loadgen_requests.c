/* loadgen_requests.c - the load generator's request pool: OTLP traces, metrics
 * or logs requests built with protobuf-c and serialized once, plus the byte
 * offsets of the fields (trace ids, metric timestamps) stamped per send.
 * Runs on the load generator's main thread only. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE /* memmem */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/loadgen/loadgen_requests.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue             kv_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue             any_t;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope scope_t;
typedef Opentelemetry__Proto__Resource__V1__Resource           resource_t;

#define VALUES_PER_KEY   16 /* distinct values each attribute key takes */
#define RESOURCE_ATTRS   5

/* ------------------------------------------------------------ arena */

/* Everything one request's message tree needs, freed in one go after packing. */
struct arena {
    char  *base;
    size_t used;
    size_t cap;
};

static void *arena_alloc(struct arena *a, size_t n)
{
    void *p;

    n = (n + 15) & ~(size_t)15;
    if (a->used + n > a->cap) {
        return NULL;
    }
    p = a->base + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

static char *arena_str(struct arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(a, n);

    if (p) {
        memcpy(p, s, n);
    }
    return p;
}

/* ------------------------------------------------------------ random */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rnd_next(uint64_t *state)
{
    *state += 1;
    return splitmix64(*state);
}

static void rnd_bytes(uint64_t *state, uint8_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rnd_next(state);
        memcpy(dst + i, &v, n - i < 8 ? n - i : 8);
    }
}

static void rnd_text(uint64_t *state, char *dst, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789-_./";

    for (size_t i = 0; i < n; i++) {
        dst[i] = alphabet[rnd_next(state) % (sizeof(alphabet) - 1)];
    }
    dst[n] = '\0';
}

/* ------------------------------------------------------------ building */

struct builder {
    struct arena a;
    uint64_t     rnd;
    char       **values; /* attrs * VALUES_PER_KEY strings of attr_size bytes */
    char       **keys;
    const struct lg_shape *shape;
};

static kv_t *make_kv(struct arena *a, const char *key, const char *value)
{
    kv_t *kv = arena_alloc(a, sizeof(*kv));
    any_t *v = arena_alloc(a, sizeof(*v));

    if (!kv || !v) {
        return NULL;
    }
    opentelemetry__proto__common__v1__key_value__init(kv);
    opentelemetry__proto__common__v1__any_value__init(v);
    kv->key = (char *)key;
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = (char *)value;
    kv->value = v;
    return kv;
}

static kv_t **make_item_attrs(struct builder *b)
{
    size_t n = b->shape->attrs;
    kv_t **v = arena_alloc(&b->a, (n ? n : 1) * sizeof(*v));

    if (!v) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t pick = rnd_next(&b->rnd) % VALUES_PER_KEY;
        v[i] = make_kv(&b->a, b->keys[i], b->values[i * VALUES_PER_KEY + pick]);
        if (!v[i]) {
            return NULL;
        }
    }
    return v;
}

static resource_t *make_resource(struct builder *b, unsigned idx)
{
    static const char *const keys[RESOURCE_ATTRS] = {
        "service.name", "service.version", "host.name", "deployment.environment",
        "service.instance.id"};
    char buf[64];
    resource_t *r = arena_alloc(&b->a, sizeof(*r));
    kv_t **kv = arena_alloc(&b->a, RESOURCE_ATTRS * sizeof(*kv));

    if (!r || !kv) {
        return NULL;
    }
    opentelemetry__proto__resource__v1__resource__init(r);
    for (int i = 0; i < RESOURCE_ATTRS; i++) {
        switch (i) {
        case 0:  snprintf(buf, sizeof(buf), "loadgen-service-%u", idx % 4); break;
        case 1:  snprintf(buf, sizeof(buf), "1.%u.0", idx % 3); break;
        case 2:  snprintf(buf, sizeof(buf), "bench-host-%02u", idx % 8); break;
        case 3:  snprintf(buf, sizeof(buf), "benchmark"); break;
        default: snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)rnd_next(&b->rnd)); break;
        }
        kv[i] = make_kv(&b->a, keys[i], arena_str(&b->a, buf));
        if (!kv[i] || !kv[i]->value->string_value) {
            return NULL;
        }
    }
    r->n_attributes = RESOURCE_ATTRS;
    r->attributes = kv;
    return r;
}

static scope_t *make_scope(struct builder *b)
{
    scope_t *s = arena_alloc(&b->a, sizeof(*s));

    if (!s) {
        return NULL;
    }
    opentelemetry__proto__common__v1__instrumentation_scope__init(s);
    s->name = "otelc.bench.loadgen";
    s->version = "1.0.0";
    return s;
}

/* Marker bytes written into the message, found again after packing. */
struct markers {
    uint8_t  *bytes;  /* n * width */
    uint32_t *group;
    size_t    n;
    size_t    width;  /* 16: trace id, 8: fixed64 timestamp */
};

static ProtobufCMessage *build_traces(struct builder *b, unsigned idx, struct markers *m)
{
    const struct lg_shape *sh = b->shape;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req;
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rs;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ss;
    size_t traces = sh->distinct_traces ? sh->distinct_traces : 1;
    uint8_t (*tids)[16];
    uint8_t (*root)[8];
    uint64_t now = (uint64_t)time(NULL) * 1000000000ull;

    if (traces > sh->items && sh->items) {
        traces = sh->items;
    }
    req = arena_alloc(&b->a, sizeof(*req));
    rs = arena_alloc(&b->a, sizeof(*rs));
    ss = arena_alloc(&b->a, sizeof(*ss));
    tids = arena_alloc(&b->a, traces * 16);
    root = arena_alloc(&b->a, traces * 8);
    if (!req || !rs || !ss || !tids || !root) {
        return NULL;
    }
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    rs->resource = make_resource(b, idx);
    ss->scope = make_scope(b);
    ss->spans = arena_alloc(&b->a, (sh->items ? sh->items : 1) * sizeof(*ss->spans));
    if (!rs->resource || !ss->scope || !ss->spans) {
        return NULL;
    }
    for (size_t t = 0; t < traces; t++) {
        rnd_bytes(&b->rnd, tids[t], 16);
        rnd_bytes(&b->rnd, root[t], 8);
    }
    for (size_t i = 0; i < sh->items; i++) {
        Opentelemetry__Proto__Trace__V1__Span *sp = arena_alloc(&b->a, sizeof(*sp));
        Opentelemetry__Proto__Trace__V1__Span__Event *ev = arena_alloc(&b->a, sizeof(*ev));
        Opentelemetry__Proto__Trace__V1__Span__Event **evs = arena_alloc(&b->a, sizeof(*evs));
        uint8_t *sid = arena_alloc(&b->a, 8);
        char name[48];
        size_t t = i % traces;
        bool is_root = i < traces;

        if (!sp || !ev || !evs || !sid) {
            return NULL;
        }
        opentelemetry__proto__trace__v1__span__init(sp);
        opentelemetry__proto__trace__v1__span__event__init(ev);
        sp->trace_id.data = tids[t];
        sp->trace_id.len = 16;
        if (is_root) {
            memcpy(sid, root[t], 8);
        } else {
            rnd_bytes(&b->rnd, sid, 8);
            sp->parent_span_id.data = root[t];
            sp->parent_span_id.len = 8;
        }
        sp->span_id.data = sid;
        sp->span_id.len = 8;
        snprintf(name, sizeof(name), "GET /api/v1/items/%02zu", i % 50);
        sp->name = arena_str(&b->a, name);
        sp->kind = is_root ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
                           : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
        sp->start_time_unix_nano = now + i * 1000;
        sp->end_time_unix_nano = sp->start_time_unix_nano + 250000 + (rnd_next(&b->rnd) % 100000);
        sp->attributes = make_item_attrs(b);
        sp->n_attributes = sh->attrs;
        ev->name = "handled";
        ev->time_unix_nano = sp->start_time_unix_nano + 1000;
        evs[0] = ev;
        sp->events = evs;
        sp->n_events = 1;
        if (!sp->name || !sp->attributes) {
            return NULL;
        }
        ss->spans[i] = sp;
        memcpy(m->bytes + m->n * 16, tids[t], 16);
        m->group[m->n++] = (uint32_t)t;
    }
    ss->n_spans = sh->items;
    rs->scope_spans = arena_alloc(&b->a, sizeof(*rs->scope_spans));
    req->resource_spans = arena_alloc(&b->a, sizeof(*req->resource_spans));
    if (!rs->scope_spans || !req->resource_spans) {
        return NULL;
    }
    rs->scope_spans[0] = ss;
    rs->n_scope_spans = 1;
    req->resource_spans[0] = rs;
    req->n_resource_spans = 1;
    return &req->base;
}

static ProtobufCMessage *build_logs(struct builder *b, unsigned idx, struct markers *m)
{
    const struct lg_shape *sh = b->shape;
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;
    Opentelemetry__Proto__Logs__V1__ResourceLogs *rl;
    Opentelemetry__Proto__Logs__V1__ScopeLogs *sl;
    size_t traces = sh->distinct_traces ? sh->distinct_traces : 1;
    uint8_t (*tids)[16];
    uint64_t now = (uint64_t)time(NULL) * 1000000000ull;

    if (traces > sh->items && sh->items) {
        traces = sh->items;
    }
    req = arena_alloc(&b->a, sizeof(*req));
    rl = arena_alloc(&b->a, sizeof(*rl));
    sl = arena_alloc(&b->a, sizeof(*sl));
    tids = arena_alloc(&b->a, traces * 16);
    if (!req || !rl || !sl || !tids) {
        return NULL;
    }
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(req);
    opentelemetry__proto__logs__v1__resource_logs__init(rl);
    opentelemetry__proto__logs__v1__scope_logs__init(sl);
    rl->resource = make_resource(b, idx);
    sl->scope = make_scope(b);
    sl->log_records = arena_alloc(&b->a, (sh->items ? sh->items : 1) * sizeof(*sl->log_records));
    if (!rl->resource || !sl->scope || !sl->log_records) {
        return NULL;
    }
    for (size_t t = 0; t < traces; t++) {
        rnd_bytes(&b->rnd, tids[t], 16);
    }
    for (size_t i = 0; i < sh->items; i++) {
        Opentelemetry__Proto__Logs__V1__LogRecord *lr = arena_alloc(&b->a, sizeof(*lr));
        any_t *body = arena_alloc(&b->a, sizeof(*body));
        uint8_t *sid = arena_alloc(&b->a, 8);
        char text[96];
        size_t t = i % traces;

        if (!lr || !body || !sid) {
            return NULL;
        }
        opentelemetry__proto__logs__v1__log_record__init(lr);
        opentelemetry__proto__common__v1__any_value__init(body);
        rnd_bytes(&b->rnd, sid, 8);
        lr->time_unix_nano = now + i * 1000;
        lr->observed_time_unix_nano = lr->time_unix_nano + 5000;
        lr->severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
        lr->severity_text = "INFO";
        snprintf(text, sizeof(text), "request %zu handled in %llu us", i,
                 (unsigned long long)(rnd_next(&b->rnd) % 5000));
        body->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        body->string_value = arena_str(&b->a, text);
        lr->body = body;
        lr->trace_id.data = tids[t];
        lr->trace_id.len = 16;
        lr->span_id.data = sid;
        lr->span_id.len = 8;
        lr->attributes = make_item_attrs(b);
        lr->n_attributes = sh->attrs;
        if (!body->string_value || !lr->attributes) {
            return NULL;
        }
        sl->log_records[i] = lr;
        memcpy(m->bytes + m->n * 16, tids[t], 16);
        m->group[m->n++] = (uint32_t)t;
    }
    sl->n_log_records = sh->items;
    rl->scope_logs = arena_alloc(&b->a, sizeof(*rl->scope_logs));
    req->resource_logs = arena_alloc(&b->a, sizeof(*req->resource_logs));
    if (!rl->scope_logs || !req->resource_logs) {
        return NULL;
    }
    rl->scope_logs[0] = sl;
    rl->n_scope_logs = 1;
    req->resource_logs[0] = rl;
    req->n_resource_logs = 1;
    return &req->base;
}

/* Metrics: each item is one cumulative Sum metric with one data point. */
static ProtobufCMessage *build_metrics(struct builder *b, unsigned idx, struct markers *m)
{
    const struct lg_shape *sh = b->shape;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm;
    uint64_t now = (uint64_t)time(NULL) * 1000000000ull;

    req = arena_alloc(&b->a, sizeof(*req));
    rm = arena_alloc(&b->a, sizeof(*rm));
    sm = arena_alloc(&b->a, sizeof(*sm));
    if (!req || !rm || !sm) {
        return NULL;
    }
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    rm->resource = make_resource(b, idx);
    sm->scope = make_scope(b);
    sm->metrics = arena_alloc(&b->a, (sh->items ? sh->items : 1) * sizeof(*sm->metrics));
    if (!rm->resource || !sm->scope || !sm->metrics) {
        return NULL;
    }
    for (size_t i = 0; i < sh->items; i++) {
        Opentelemetry__Proto__Metrics__V1__Metric *mt = arena_alloc(&b->a, sizeof(*mt));
        Opentelemetry__Proto__Metrics__V1__Sum *sum = arena_alloc(&b->a, sizeof(*sum));
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint *dp = arena_alloc(&b->a, sizeof(*dp));
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint **dps = arena_alloc(&b->a, sizeof(*dps));
        char name[48];
        uint64_t marker = rnd_next(&b->rnd);

        if (!mt || !sum || !dp || !dps) {
            return NULL;
        }
        opentelemetry__proto__metrics__v1__metric__init(mt);
        opentelemetry__proto__metrics__v1__sum__init(sum);
        opentelemetry__proto__metrics__v1__number_data_point__init(dp);
        snprintf(name, sizeof(name), "bench.requests.%03zu", i);
        mt->name = arena_str(&b->a, name);
        mt->unit = "1";
        dp->start_time_unix_nano = now - 60000000000ull;
        dp->time_unix_nano = marker; /* stamped per send */
        dp->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
        dp->as_double = (double)(rnd_next(&b->rnd) % 100000) / 10.0;
        dp->attributes = make_item_attrs(b);
        dp->n_attributes = sh->attrs;
        if (!mt->name || !dp->attributes) {
            return NULL;
        }
        dps[0] = dp;
        sum->data_points = dps;
        sum->n_data_points = 1;
        sum->aggregation_temporality =
            OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
        sum->is_monotonic = 1;
        mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        mt->sum = sum;
        sm->metrics[i] = mt;
        memcpy(m->bytes + m->n * 8, &marker, 8);
        m->group[m->n++] = (uint32_t)i;
    }
    sm->n_metrics = sh->items;
    rm->scope_metrics = arena_alloc(&b->a, sizeof(*rm->scope_metrics));
    req->resource_metrics = arena_alloc(&b->a, sizeof(*req->resource_metrics));
    if (!rm->scope_metrics || !req->resource_metrics) {
        return NULL;
    }
    rm->scope_metrics[0] = sm;
    rm->n_scope_metrics = 1;
    req->resource_metrics[0] = rm;
    req->n_resource_metrics = 1;
    return &req->base;
}

/* Serializes msg and finds every marker, in order, in the bytes. */
static int finish_request(struct lg_request *r, const ProtobufCMessage *msg,
                          const struct markers *m)
{
    size_t pos = 0;

    r->len = protobuf_c_message_get_packed_size(msg);
    r->bytes = malloc(r->len ? r->len : 1);
    r->patches = calloc(m->n ? m->n : 1, sizeof(*r->patches));
    if (!r->bytes || !r->patches) {
        return -1;
    }
    protobuf_c_message_pack(msg, r->bytes);
    for (size_t i = 0; i < m->n; i++) {
        const uint8_t *at = memmem(r->bytes + pos, r->len - pos, m->bytes + i * m->width, m->width);

        if (!at) {
            fprintf(stderr, "loadgen: marker %zu not found in the serialized request\n", i);
            return -1;
        }
        pos = (size_t)(at - r->bytes);
        /* trace ids: the low 8 of 16 bytes change; timestamps: all 8 */
        r->patches[i].offset = (uint32_t)(pos + (m->width == 16 ? 8 : 0));
        r->patches[i].group = m->group[i];
        pos += m->width;
    }
    r->n_patches = m->n;
    return 0;
}

int lg_pool_build(struct lg_pool *pool, const struct lg_shape *shape, size_t n, uint64_t seed)
{
    struct builder b = {.shape = shape, .rnd = seed};
    struct markers m = {.width = shape->signal == LG_METRICS ? 8 : 16};
    size_t per_item = 512 + shape->attrs * (shape->attr_size + 160);
    int rc = -1;

    memset(pool, 0, sizeof(*pool));
    pool->shape = *shape;
    pool->base_ns = (uint64_t)time(NULL) * 1000000000ull;
    pool->req = calloc(n, sizeof(*pool->req));
    b.keys = calloc(shape->attrs ? shape->attrs : 1, sizeof(char *));
    b.values = calloc((shape->attrs ? shape->attrs : 1) * VALUES_PER_KEY, sizeof(char *));
    m.bytes = malloc((shape->items ? shape->items : 1) * m.width);
    m.group = malloc((shape->items ? shape->items : 1) * sizeof(*m.group));
    b.a.cap = 65536 + shape->items * per_item;
    b.a.base = malloc(b.a.cap);
    if (!pool->req || !b.keys || !b.values || !m.bytes || !m.group || !b.a.base) {
        goto out;
    }
    pool->n = n;
    for (size_t k = 0; k < shape->attrs; k++) {
        b.keys[k] = malloc(48);
        if (!b.keys[k]) {
            goto out;
        }
        snprintf(b.keys[k], 48, "bench.attribute.key.%02zu", k);
        for (size_t v = 0; v < VALUES_PER_KEY; v++) {
            char *s = malloc(shape->attr_size + 1);
            if (!s) {
                goto out;
            }
            rnd_text(&b.rnd, s, shape->attr_size);
            b.values[k * VALUES_PER_KEY + v] = s;
        }
    }
    for (size_t i = 0; i < n; i++) {
        ProtobufCMessage *msg;

        b.a.used = 0;
        m.n = 0;
        switch (shape->signal) {
        case LG_TRACES:  msg = build_traces(&b, (unsigned)i, &m); break;
        case LG_METRICS: msg = build_metrics(&b, (unsigned)i, &m); break;
        default:         msg = build_logs(&b, (unsigned)i, &m); break;
        }
        if (!msg) {
            fprintf(stderr, "loadgen: cannot build request %zu (out of memory)\n", i);
            goto out;
        }
        if (finish_request(&pool->req[i], msg, &m) != 0) {
            goto out;
        }
    }
    rc = 0;
out:
    if (b.keys) {
        for (size_t k = 0; k < shape->attrs; k++) {
            free(b.keys[k]);
        }
    }
    if (b.values) {
        for (size_t k = 0; k < shape->attrs * VALUES_PER_KEY; k++) {
            free(b.values[k]);
        }
    }
    free(b.keys);
    free(b.values);
    free(m.bytes);
    free(m.group);
    free(b.a.base);
    if (rc != 0) {
        lg_pool_free(pool);
    }
    return rc;
}

void lg_pool_free(struct lg_pool *pool)
{
    for (size_t i = 0; pool->req && i < pool->n; i++) {
        free(pool->req[i].bytes);
        free(pool->req[i].patches);
    }
    free(pool->req);
    pool->req = NULL;
    pool->n = 0;
}

void lg_request_stamp(const struct lg_pool *pool, const struct lg_request *r, uint64_t seq,
                      uint8_t *dst)
{
    uint64_t base = pool->base_ns;

    memcpy(dst, r->bytes, r->len);
    for (size_t i = 0; i < r->n_patches; i++) {
        uint64_t v;

        if (pool->shape.signal == LG_METRICS) {
            /* unique per (request, item): base + seq * items + item */
            v = base + seq * pool->shape.items + r->patches[i].group;
        } else {
            /* a bijection of (seq, trace index), so ids never repeat */
            v = splitmix64((seq << 24) ^ r->patches[i].group);
        }
        memcpy(dst + r->patches[i].offset, &v, 8);
    }
}

const char *lg_signal_name(enum lg_signal s)
{
    static const char *const names[] = {"traces", "metrics", "logs"};
    return names[s];
}

const char *lg_signal_method(enum lg_signal s)
{
    static const char *const paths[] = {
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    };
    return paths[s];
}
