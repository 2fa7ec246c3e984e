/* proc_test_util.h - helpers for the processor unit tests (sampler, truncate,
 * transform): OTLP message builders in an arena, batches made from their
 * serialized bytes, a processor instance configured from key/value options or
 * from YAML, and a capture stage standing in for the next processor.
 * Single-threaded; included by test_probabilistic_sampler.c, test_truncate.c
 * and test_transform.c only. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_TESTS_PROC_TEST_UTIL_H
#define OTC_TESTS_PROC_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/engine.h"
#include "otc/otc_component.h"
#include "otc/otc_otlp.h"
#include "batch_builder.h"

#define PT_UNUSED __attribute__((unused))

typedef Opentelemetry__Proto__Resource__V1__Resource           PtResource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope PtScope;
typedef Opentelemetry__Proto__Common__V1__ArrayValue           PtArray;
typedef Opentelemetry__Proto__Common__V1__KeyValueList         PtKvList;
typedef Opentelemetry__Proto__Trace__V1__Span__Event           PtEvent;
typedef Opentelemetry__Proto__Trace__V1__Span__Link            PtLink;

#define PT_ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

/* ------------------------------------------------------------ builders */

static PT_UNUSED void *pt_alloc(struct otc_arena *a, size_t n)
{
    void *p = otc_arena_alloc(a, n ? n : 1);

    assert_non_null(p);
    memset(p, 0, n ? n : 1);
    return p;
}

static PT_UNUSED char *pt_str(struct otc_arena *a, const char *s)
{
    return otc_arena_memdup(a, s, strlen(s) + 1);
}

static PT_UNUSED otc_any_value *pt_any_str(struct otc_arena *a, const char *s)
{
    otc_any_value *v = pt_alloc(a, sizeof(*v));

    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = PT_ANY(STRING_VALUE);
    v->string_value = pt_str(a, s);
    return v;
}

static PT_UNUSED otc_any_value *pt_any_int(struct otc_arena *a, int64_t i)
{
    otc_any_value *v = pt_alloc(a, sizeof(*v));

    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = PT_ANY(INT_VALUE);
    v->int_value = i;
    return v;
}

static PT_UNUSED otc_any_value *pt_any_double(struct otc_arena *a, double d)
{
    otc_any_value *v = pt_alloc(a, sizeof(*v));

    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = PT_ANY(DOUBLE_VALUE);
    v->double_value = d;
    return v;
}

static PT_UNUSED otc_any_value *pt_any_bool(struct otc_arena *a, bool b)
{
    otc_any_value *v = pt_alloc(a, sizeof(*v));

    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = PT_ANY(BOOL_VALUE);
    v->bool_value = b;
    return v;
}

static PT_UNUSED otc_any_value *pt_any_bytes(struct otc_arena *a, const void *p, size_t n)
{
    otc_any_value *v = pt_alloc(a, sizeof(*v));

    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = PT_ANY(BYTES_VALUE);
    v->bytes_value.data = otc_arena_memdup(a, p, n ? n : 1);
    v->bytes_value.len = n;
    return v;
}

/* An array value of n values. */
static PT_UNUSED otc_any_value *pt_any_array(struct otc_arena *a, size_t n,
                                             otc_any_value *const *vals)
{
    otc_any_value *v = pt_alloc(a, sizeof(*v));
    PtArray *arr = pt_alloc(a, sizeof(*arr));

    opentelemetry__proto__common__v1__any_value__init(v);
    opentelemetry__proto__common__v1__array_value__init(arr);
    arr->n_values = n;
    arr->values = pt_alloc(a, n * sizeof(*arr->values));
    for (size_t i = 0; i < n; i++) {
        arr->values[i] = vals[i];
    }
    v->value_case = PT_ANY(ARRAY_VALUE);
    v->array_value = arr;
    return v;
}

static PT_UNUSED otc_key_value *pt_kv(struct otc_arena *a, const char *key, otc_any_value *v)
{
    otc_key_value *kv = pt_alloc(a, sizeof(*kv));

    opentelemetry__proto__common__v1__key_value__init(kv);
    kv->key = pt_str(a, key);
    kv->value = v;
    return kv;
}

/* A kvlist value of n key/value pairs. */
static PT_UNUSED otc_any_value *pt_any_kvlist(struct otc_arena *a, size_t n,
                                              otc_key_value *const *kvs)
{
    otc_any_value *v = pt_alloc(a, sizeof(*v));
    PtKvList *l = pt_alloc(a, sizeof(*l));

    opentelemetry__proto__common__v1__any_value__init(v);
    opentelemetry__proto__common__v1__key_value_list__init(l);
    l->n_values = n;
    l->values = pt_alloc(a, n * sizeof(*l->values));
    for (size_t i = 0; i < n; i++) {
        l->values[i] = kvs[i];
    }
    v->value_case = PT_ANY(KVLIST_VALUE);
    v->kvlist_value = l;
    return v;
}

/* An attribute array of n key/value pairs (kept as given). */
static PT_UNUSED otc_key_value **pt_attrs(struct otc_arena *a, size_t n, otc_key_value *const *kvs)
{
    otc_key_value **v = pt_alloc(a, n * sizeof(*v));

    for (size_t i = 0; i < n; i++) {
        v[i] = kvs[i];
    }
    return v;
}

static PT_UNUSED PtResource *pt_resource(struct otc_arena *a)
{
    PtResource *r = pt_alloc(a, sizeof(*r));

    opentelemetry__proto__resource__v1__resource__init(r);
    return r;
}

static PT_UNUSED PtScope *pt_scope(struct otc_arena *a)
{
    PtScope *s = pt_alloc(a, sizeof(*s));

    opentelemetry__proto__common__v1__instrumentation_scope__init(s);
    s->name = pt_str(a, "pt.scope");
    return s;
}

/* A traces request: one resource, one scope, n empty span slots to fill. */
static PT_UNUSED otc_traces_req *pt_traces(struct otc_arena *a, size_t n_spans)
{
    otc_traces_req *req = pt_alloc(a, sizeof(*req));
    otc_resource_spans *rs = pt_alloc(a, sizeof(*rs));
    otc_scope_spans *ss = pt_alloc(a, sizeof(*ss));

    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    rs->resource = pt_resource(a);
    ss->scope = pt_scope(a);
    ss->n_spans = n_spans;
    ss->spans = pt_alloc(a, n_spans * sizeof(*ss->spans));
    rs->n_scope_spans = 1;
    rs->scope_spans = pt_alloc(a, sizeof(*rs->scope_spans));
    rs->scope_spans[0] = ss;
    req->n_resource_spans = 1;
    req->resource_spans = pt_alloc(a, sizeof(*req->resource_spans));
    req->resource_spans[0] = rs;
    return req;
}

/* A span with the given trace id (tid_len bytes) and span id = index. */
static PT_UNUSED otc_span *pt_span(struct otc_arena *a, const uint8_t *tid, size_t tid_len,
                                   uint64_t index)
{
    otc_span *sp = pt_alloc(a, sizeof(*sp));
    uint8_t *sid = pt_alloc(a, 8);

    opentelemetry__proto__trace__v1__span__init(sp);
    if (tid_len) {
        sp->trace_id.data = otc_arena_memdup(a, tid, tid_len);
        sp->trace_id.len = tid_len;
    }
    for (int k = 0; k < 8; k++) {
        sid[k] = (uint8_t)(index >> (8 * k));
    }
    sp->span_id.data = sid;
    sp->span_id.len = 8;
    sp->name = pt_str(a, "pt-span");
    return sp;
}

static PT_UNUSED uint64_t pt_span_index(const otc_span *sp)
{
    uint64_t v = 0;

    for (int k = 0; k < 8 && (size_t)k < sp->span_id.len; k++) {
        v |= (uint64_t)sp->span_id.data[k] << (8 * k);
    }
    return v;
}

/* A logs request: one resource, one scope, n empty record slots to fill. */
static PT_UNUSED otc_logs_req *pt_logs(struct otc_arena *a, size_t n_records)
{
    otc_logs_req *req = pt_alloc(a, sizeof(*req));
    otc_resource_logs *rl = pt_alloc(a, sizeof(*rl));
    otc_scope_logs *sl = pt_alloc(a, sizeof(*sl));

    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(req);
    opentelemetry__proto__logs__v1__resource_logs__init(rl);
    opentelemetry__proto__logs__v1__scope_logs__init(sl);
    rl->resource = pt_resource(a);
    sl->scope = pt_scope(a);
    sl->n_log_records = n_records;
    sl->log_records = pt_alloc(a, n_records * sizeof(*sl->log_records));
    rl->n_scope_logs = 1;
    rl->scope_logs = pt_alloc(a, sizeof(*rl->scope_logs));
    rl->scope_logs[0] = sl;
    req->n_resource_logs = 1;
    req->resource_logs = pt_alloc(a, sizeof(*req->resource_logs));
    req->resource_logs[0] = rl;
    return req;
}

/* A log record; time_unix_nano = index identifies it. */
static PT_UNUSED otc_log_record *pt_log(struct otc_arena *a, const uint8_t *tid, size_t tid_len,
                                        uint64_t index)
{
    otc_log_record *lr = pt_alloc(a, sizeof(*lr));

    opentelemetry__proto__logs__v1__log_record__init(lr);
    if (tid_len) {
        lr->trace_id.data = otc_arena_memdup(a, tid, tid_len);
        lr->trace_id.len = tid_len;
    }
    lr->time_unix_nano = index;
    return lr;
}

/* A batch holding the serialized msg, as a receiver delivers it
 * (otc_test_as_received), so it starts with raw_fresh set. Releases the
 * builder arena. */
static PT_UNUSED struct otc_batch *pt_batch(enum otc_signal s, struct otc_arena *a,
                                            const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    struct otc_batch *b;

    assert_non_null(buf);
    protobuf_c_message_pack(msg, buf);
    b = otc_batch_from_bytes(s, buf, len);
    free(buf);
    otc_arena_release(a);
    assert_non_null(b);
    assert_int_equal(otc_test_as_received(b), OTC_OK);
    assert_true(b->raw_fresh);
    return b;
}

/* ------------------------------------------------------------ capture stage */

#define PT_CAPTURE_MAX 64

struct pt_capture {
    struct otc_batch *b[PT_CAPTURE_MAX];
    size_t            n;
};

static struct pt_capture pt_captured;

static int pt_capture_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    if (pt_captured.n < PT_CAPTURE_MAX) {
        pt_captured.b[pt_captured.n++] = b;
    } else {
        otc_batch_unref(b);
    }
    return OTC_OK;
}

static const struct otc_component_ops pt_capture_ops = {
    .type = "pt_capture",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = false,
    .ctx_size = 0,
    .config_map = NULL,
    .validate = NULL,
    .init = NULL,
    .start = NULL,
    .consume = pt_capture_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = NULL,
};

static struct otc_instance pt_capture_ins = {.ops = &pt_capture_ops, .id = "pt_capture"};

/* Drop what the capture stage holds. */
static PT_UNUSED void pt_capture_reset(void)
{
    for (size_t i = 0; i < pt_captured.n; i++) {
        otc_batch_unref(pt_captured.b[i]);
    }
    pt_captured.n = 0;
}

/* ------------------------------------------------------------ instances */

/* A processor instance from option pairs {key, value, ..., NULL}: defaults, the
 * options, validate() and init(); its next stage is the capture stage. Returns
 * the first error (err gets the reason) and leaves *ins half-built then. */
static PT_UNUSED int pt_proc(struct otc_instance *ins, const struct otc_component_ops *ops,
                             const char *const *opts, char *err, size_t errlen)
{
    int rc;

    memset(ins, 0, sizeof(*ins));
    ins->ops = ops;
    ins->id = (char *)ops->type;
    ins->ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
    assert_non_null(ins->ctx);
    ins->next.ins = &pt_capture_ins;
    err[0] = '\0';
    if ((rc = otc_config_map_defaults(ops->config_map, ins->ctx)) != OTC_OK) {
        return rc;
    }
    for (size_t i = 0; opts && opts[i]; i += 2) {
        const struct otc_config_entry *e = otc_config_map_find(ops->config_map, opts[i]);
        if (!e) {
            snprintf(err, errlen, "unknown key %s", opts[i]);
            return OTC_EINVAL;
        }
        if ((rc = otc_config_map_set(e, ins->ctx, opts[i + 1], err, errlen)) != OTC_OK) {
            return rc;
        }
    }
    if (ops->validate && (rc = ops->validate(ins->ctx, err, errlen)) != OTC_OK) {
        return rc;
    }
    if (ops->init && (rc = ops->init(ins, ins->ctx)) != OTC_OK) {
        return rc;
    }
    return OTC_OK;
}

static PT_UNUSED void pt_proc_free(struct otc_instance *ins)
{
    if (ins->ops && ins->ctx) {
        if (ins->ops->destroy) {
            ins->ops->destroy(ins->ctx);
        }
        otc_config_map_free(ins->ops->config_map, ins->ctx);
        free(ins->ctx);
    }
    memset(ins, 0, sizeof(*ins));
}

/* Hand b to the processor (which takes it); returns its result. */
static PT_UNUSED int pt_run(struct otc_instance *ins, struct otc_batch *b)
{
    return ins->ops->consume(ins, ins->ctx, b);
}

/* A config loaded from YAML text and built into an engine (not started). */
struct pt_built {
    struct otc_yaml    y;
    struct otc_diag    d;
    struct otc_engine *e;
    int                rc;
};

static PT_UNUSED void pt_build(struct pt_built *b, const char *file, const char *text)
{
    memset(b, 0, sizeof(*b));
    b->rc = otc_yaml_load_string(&b->y, file, text, strlen(text), &b->d);
    if (b->rc == OTC_OK) {
        b->rc = otc_engine_build(&b->y, &b->d, &b->e);
    }
}

static PT_UNUSED void pt_built_free(struct pt_built *b)
{
    otc_engine_destroy(b->e);
    otc_yaml_free(&b->y);
    otc_diag_free(&b->d);
}

/* True when some diagnostic contains every one of the given strings (NULL-ended). */
static PT_UNUSED bool pt_diag_has(const struct otc_diag *d, ...)
{
    for (size_t i = 0; i < d->n; i++) {
        va_list ap;
        const char *s;
        bool all = true;
        va_start(ap, d);
        while ((s = va_arg(ap, const char *)) != NULL) {
            all &= strstr(d->msgs[i], s) != NULL;
        }
        va_end(ap);
        if (all) {
            return true;
        }
    }
    return false;
}

static PT_UNUSED void pt_print_diags(const struct otc_diag *d)
{
    for (size_t i = 0; i < d->n; i++) {
        print_message("  diag: %s\n", d->msgs[i]);
    }
}

#endif
