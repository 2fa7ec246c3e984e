/* proc_fixtures.h - helpers for the processor unit tests (dedup, batch,
 * memory_limiter): a processor instance built from an ops table and option
 * text, a capture stage recording what a processor passes on, and builders of
 * serialized trace/log/metric batches with chosen resources, scopes and ids.
 * Header-only (static inline) so each test stays one executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_TESTS_PROC_FIXTURES_H
#define OTC_TESTS_PROC_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc/otc_component.h"
#include "otc/otc_otlp.h"
#include "batch_builder.h"

/* ---------------------------------------------------------------- capture */

#define FX_CAPTURE_MAX 4096

struct fx_capture {
    struct otc_batch *b[FX_CAPTURE_MAX];
    size_t            n;
};

static struct fx_capture fx_captured;

static inline int fx_capture_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    (void)ins;
    (void)ctx;
    if (fx_captured.n < FX_CAPTURE_MAX) {
        fx_captured.b[fx_captured.n++] = b;
    } else {
        otc_batch_unref(b);
    }
    return OTC_OK;
}

static const struct otc_component_ops fx_capture_ops = {
    .type = "capture",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .consume = fx_capture_consume,
};

static struct otc_instance fx_capture_ins = {.ops = &fx_capture_ops, .id = (char *)"capture"};

static inline void fx_capture_clear(void)
{
    for (size_t i = 0; i < fx_captured.n; i++) {
        otc_batch_unref(fx_captured.b[i]);
    }
    fx_captured.n = 0;
}

static inline size_t fx_captured_items(void)
{
    size_t n = 0;

    for (size_t i = 0; i < fx_captured.n; i++) {
        n += otc_request_count_items(fx_captured.b[i]->signal, otc_batch_msg(fx_captured.b[i]));
    }
    return n;
}

/* ---------------------------------------------------------------- instance */

/* "a,b,c" -> a string list (as the YAML loader would build from [a, b, c]). */
static inline void fx_strlist(struct otc_strlist *l, const char *text)
{
    char *copy = strdup(text);
    char *save = NULL;

    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = strdup(t);
    }
    free(copy);
}

/* Build a processor instance: defaults, then "key=value" options (NULL-ended),
 * validate (its result in *vrc when given), then init. NULL when any step fails. */
/* An instance of ops with opts applied and init() run, passing on to
 * pipeline (the pipeline's fan-out: its workers, its exporters) when not NULL,
 * else to the capture stage. */
static inline struct otc_instance *fx_instance_in(const struct otc_component_ops *ops,
                                                  const char *const *opts, int *vrc,
                                                  struct otc_pipeline *pipeline)
{
    struct otc_instance *ins = calloc(1, sizeof(*ins));
    char err[256];
    int rc;

    if (vrc) {
        *vrc = OTC_OK;
    }
    ins->ops = ops;
    ins->id = strdup(ops->type);
    ins->ctx = calloc(1, ops->ctx_size);
    ins->next.ins = pipeline ? NULL : &fx_capture_ins;
    ins->next.pipeline = pipeline;
    if (otc_config_map_defaults(ops->config_map, ins->ctx) != OTC_OK) {
        goto err;
    }
    for (size_t i = 0; opts && opts[i]; i++) {
        char key[128];
        const char *eq = strchr(opts[i], '=');
        const struct otc_config_entry *e;
        size_t kl = (size_t)(eq - opts[i]);
        memcpy(key, opts[i], kl);
        key[kl] = '\0';
        e = otc_config_map_find(ops->config_map, key);
        if (e && e->type == OTC_CFG_STRLIST) {
            fx_strlist((struct otc_strlist *)((char *)ins->ctx + e->offset), eq + 1);
            continue;
        }
        if (!e || otc_config_map_set(e, ins->ctx, eq + 1, err, sizeof(err)) != OTC_OK) {
            if (vrc) {
                *vrc = OTC_EINVAL;
            }
            goto err;
        }
    }
    if (ops->validate && (rc = ops->validate(ins->ctx, err, sizeof(err))) != OTC_OK) {
        if (vrc) {
            *vrc = rc;
        }
        goto err;
    }
    if (ops->init && ops->init(ins, ins->ctx) != OTC_OK) {
        goto err;
    }
    return ins;
err:
    if (ops->destroy) {
        ops->destroy(ins->ctx);
    }
    otc_config_map_free(ops->config_map, ins->ctx);
    free(ins->ctx);
    free(ins->id);
    free(ins);
    return NULL;
}

static inline struct otc_instance *fx_instance(const struct otc_component_ops *ops,
                                               const char *const *opts, int *vrc)
{
    return fx_instance_in(ops, opts, vrc, NULL);
}

static inline void fx_instance_free(struct otc_instance *ins)
{
    if (!ins) {
        return;
    }
    if (ins->ops->destroy) {
        ins->ops->destroy(ins->ctx);
    }
    otc_config_map_free(ins->ops->config_map, ins->ctx);
    free(ins->ctx);
    free(ins->id);
    free(ins);
}

static inline int fx_consume(struct otc_instance *ins, struct otc_batch *b)
{
    return ins->ops->consume(ins, ins->ctx, b);
}

/* ---------------------------------------------------------------- builders */

/* One item: which resource and scope it belongs to (a new container starts
 * whenever these change from the previous item), and its identity fields. */
struct fx_item {
    unsigned res;    /* resource attribute "service.name" = "svc-<res>" */
    unsigned scope;  /* scope name "scope-<scope>" */
    uint64_t id;     /* span id / log body / metric point attribute */
    uint64_t time;   /* span start / log time / point time */
    unsigned metric; /* metrics: metric name "m-<metric>" */
};

static inline char *fx_strf(struct otc_arena *a, const char *fmt, uint64_t v)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof(tmp), fmt, (unsigned long long)v);

    return otc_arena_memdup(a, tmp, (size_t)n + 1);
}

static inline otc_key_value **fx_attrs(struct otc_arena *a, const char *key, const char *val)
{
    otc_key_value **v = otc_arena_alloc(a, sizeof(*v));
    otc_key_value *kv = otc_arena_alloc(a, sizeof(*kv));
    otc_any_value *av = otc_arena_alloc(a, sizeof(*av));

    opentelemetry__proto__common__v1__key_value__init(kv);
    opentelemetry__proto__common__v1__any_value__init(av);
    kv->key = otc_arena_memdup(a, key, strlen(key) + 1);
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av->string_value = otc_arena_memdup(a, val, strlen(val) + 1);
    kv->value = av;
    v[0] = kv;
    return v;
}

static inline Opentelemetry__Proto__Resource__V1__Resource *fx_resource(struct otc_arena *a, unsigned r)
{
    Opentelemetry__Proto__Resource__V1__Resource *res = otc_arena_alloc(a, sizeof(*res));

    opentelemetry__proto__resource__v1__resource__init(res);
    res->n_attributes = 1;
    res->attributes = fx_attrs(a, "service.name", fx_strf(a, "svc-%llu", r));
    return res;
}

static inline Opentelemetry__Proto__Common__V1__InstrumentationScope *fx_scope(struct otc_arena *a, unsigned s)
{
    Opentelemetry__Proto__Common__V1__InstrumentationScope *sc = otc_arena_alloc(a, sizeof(*sc));

    opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
    sc->name = fx_strf(a, "scope-%llu", s);
    sc->version = fx_strf(a, "1.%llu", s);
    return sc;
}

/* Pack msg and return it as a received batch would be (otc_test_as_received). */
static inline struct otc_batch *fx_finish(enum otc_signal s, struct otc_arena *a, ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    struct otc_batch *b;

    protobuf_c_message_pack(msg, buf);
    b = otc_batch_from_bytes(s, buf, len);
    free(buf);
    otc_arena_release(a);
    if (b && otc_test_as_received(b) != OTC_OK) {
        otc_batch_unref(b);
        b = NULL;
    }
    return b;
}

static inline struct otc_batch *fx_traces(const struct fx_item *it, size_t n)
{
    struct otc_arena a;
    otc_traces_req *req;
    otc_resource_spans *rs = NULL;
    otc_scope_spans *ss = NULL;

    otc_arena_init(&a, 1 << 16);
    req = otc_arena_alloc(&a, sizeof(*req));
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    req->resource_spans = otc_arena_alloc(&a, (n ? n : 1) * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        otc_span *sp = otc_arena_alloc(&a, sizeof(*sp));
        uint8_t *tid = otc_arena_alloc(&a, 16), *sid = otc_arena_alloc(&a, 8);

        if (!rs || i == 0 || it[i].res != it[i - 1].res) {
            rs = otc_arena_alloc(&a, sizeof(*rs));
            opentelemetry__proto__trace__v1__resource_spans__init(rs);
            rs->resource = fx_resource(&a, it[i].res);
            rs->scope_spans = otc_arena_alloc(&a, n * sizeof(void *));
            req->resource_spans[req->n_resource_spans++] = rs;
            ss = NULL;
        }
        if (!ss || it[i].scope != it[i - 1].scope) {
            ss = otc_arena_alloc(&a, sizeof(*ss));
            opentelemetry__proto__trace__v1__scope_spans__init(ss);
            ss->scope = fx_scope(&a, it[i].scope);
            ss->spans = otc_arena_alloc(&a, n * sizeof(void *));
            rs->scope_spans[rs->n_scope_spans++] = ss;
        }
        opentelemetry__proto__trace__v1__span__init(sp);
        memset(tid, 0, 16);
        memcpy(tid, &it[i].id, 8);
        tid[15] = 0x5a;
        memcpy(sid, &it[i].id, 8);
        sp->trace_id.data = tid;
        sp->trace_id.len = 16;
        sp->span_id.data = sid;
        sp->span_id.len = 8;
        sp->name = fx_strf(&a, "span-%llu", it[i].id);
        sp->start_time_unix_nano = it[i].time;
        sp->end_time_unix_nano = it[i].time + 1000;
        ss->spans[ss->n_spans++] = sp;
    }
    return fx_finish(OTC_TRACES, &a, &req->base);
}

static inline struct otc_batch *fx_logs(const struct fx_item *it, size_t n)
{
    struct otc_arena a;
    otc_logs_req *req;
    otc_resource_logs *rl = NULL;
    otc_scope_logs *sl = NULL;

    otc_arena_init(&a, 1 << 16);
    req = otc_arena_alloc(&a, sizeof(*req));
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(req);
    req->resource_logs = otc_arena_alloc(&a, (n ? n : 1) * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        otc_log_record *lr = otc_arena_alloc(&a, sizeof(*lr));
        otc_any_value *body = otc_arena_alloc(&a, sizeof(*body));

        if (!rl || it[i].res != it[i - 1].res) {
            rl = otc_arena_alloc(&a, sizeof(*rl));
            opentelemetry__proto__logs__v1__resource_logs__init(rl);
            rl->resource = fx_resource(&a, it[i].res);
            rl->scope_logs = otc_arena_alloc(&a, n * sizeof(void *));
            req->resource_logs[req->n_resource_logs++] = rl;
            sl = NULL;
        }
        if (!sl || it[i].scope != it[i - 1].scope) {
            sl = otc_arena_alloc(&a, sizeof(*sl));
            opentelemetry__proto__logs__v1__scope_logs__init(sl);
            sl->scope = fx_scope(&a, it[i].scope);
            sl->log_records = otc_arena_alloc(&a, n * sizeof(void *));
            rl->scope_logs[rl->n_scope_logs++] = sl;
        }
        opentelemetry__proto__logs__v1__log_record__init(lr);
        opentelemetry__proto__common__v1__any_value__init(body);
        body->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        body->string_value = fx_strf(&a, "log body %llu", it[i].id);
        lr->body = body;
        lr->time_unix_nano = it[i].time;
        lr->severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
        lr->severity_text = otc_arena_memdup(&a, "INFO", 5);
        lr->n_attributes = 1;
        lr->attributes = fx_attrs(&a, "k", "v");
        sl->log_records[sl->n_log_records++] = lr;
    }
    return fx_finish(OTC_LOGS, &a, &req->base);
}

/* Gauges: a new metric starts whenever `metric` changes; one point per item. */
static inline struct otc_batch *fx_metrics(const struct fx_item *it, size_t n)
{
    struct otc_arena a;
    otc_metrics_req *req;
    otc_resource_metrics *rm = NULL;
    otc_scope_metrics *sm = NULL;
    otc_metric *m = NULL;

    otc_arena_init(&a, 1 << 16);
    req = otc_arena_alloc(&a, sizeof(*req));
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    req->resource_metrics = otc_arena_alloc(&a, (n ? n : 1) * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint *dp = otc_arena_alloc(&a, sizeof(*dp));
        bool new_scope = false;

        if (!rm || it[i].res != it[i - 1].res) {
            rm = otc_arena_alloc(&a, sizeof(*rm));
            opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
            rm->resource = fx_resource(&a, it[i].res);
            rm->scope_metrics = otc_arena_alloc(&a, n * sizeof(void *));
            req->resource_metrics[req->n_resource_metrics++] = rm;
            sm = NULL;
        }
        if (!sm || it[i].scope != it[i - 1].scope) {
            sm = otc_arena_alloc(&a, sizeof(*sm));
            opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
            sm->scope = fx_scope(&a, it[i].scope);
            sm->metrics = otc_arena_alloc(&a, n * sizeof(void *));
            rm->scope_metrics[rm->n_scope_metrics++] = sm;
            new_scope = true;
        }
        if (new_scope || it[i].metric != it[i - 1].metric) {
            Opentelemetry__Proto__Metrics__V1__Gauge *g = otc_arena_alloc(&a, sizeof(*g));
            m = otc_arena_alloc(&a, sizeof(*m));
            opentelemetry__proto__metrics__v1__metric__init(m);
            opentelemetry__proto__metrics__v1__gauge__init(g);
            g->data_points = otc_arena_alloc(&a, n * sizeof(void *));
            m->name = fx_strf(&a, "m-%llu", it[i].metric);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
            m->gauge = g;
            sm->metrics[sm->n_metrics++] = m;
        }
        opentelemetry__proto__metrics__v1__number_data_point__init(dp);
        dp->n_attributes = 1;
        dp->attributes = fx_attrs(&a, "point", fx_strf(&a, "p-%llu", it[i].id));
        dp->time_unix_nano = it[i].time;
        dp->start_time_unix_nano = 1000;
        dp->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        dp->as_int = (int64_t)it[i].id;
        m->gauge->data_points[m->gauge->n_data_points++] = dp;
    }
    return fx_finish(OTC_METRICS, &a, &req->base);
}

static inline struct otc_batch *fx_batch(enum otc_signal s, const struct fx_item *it, size_t n)
{
    return s == OTC_TRACES ? fx_traces(it, n) : s == OTC_LOGS ? fx_logs(it, n) : fx_metrics(it, n);
}

/* n items under one resource and scope, ids first_id.., times = 1000 + id. */
static inline struct otc_batch *fx_simple(enum otc_signal s, size_t n, uint64_t first_id)
{
    struct fx_item *it = calloc(n ? n : 1, sizeof(*it));
    struct otc_batch *b;

    for (size_t i = 0; i < n; i++) {
        it[i].id = first_id + i;
        it[i].time = 1000 + first_id + i;
    }
    b = fx_batch(s, it, n);
    free(it);
    return b;
}

#endif
