/* batch_builder.c - test helper that builds OTLP trace requests in an arena
 * and returns them as batches or bytes. Single-threaded; tests and benches. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_builder.h"
#include "otc/otc_otlp.h"
#include "otc/otc_pb_check.h"
#include "otc/otc_rc.h"

static char *arena_strf(struct otc_arena *a, const char *fmt, size_t i, size_t j)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof(tmp), fmt, i, j);

    return otc_arena_memdup(a, tmp, (size_t)n + 1);
}

static otc_key_value *make_attr(struct otc_arena *a, size_t i, size_t j)
{
    otc_key_value *kv = otc_arena_alloc(a, sizeof(*kv));
    otc_any_value *v = otc_arena_alloc(a, sizeof(*v));

    opentelemetry__proto__common__v1__key_value__init(kv);
    opentelemetry__proto__common__v1__any_value__init(v);
    kv->key = arena_strf(a, "attribute.key.%03zu.%03zu", j, 0);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = arena_strf(a, "value-%06zu-%06zu-xx", i, j);
    kv->value = v;
    return kv;
}

static otc_traces_req *build(struct otc_arena *a, size_t n_spans, size_t n_attrs, unsigned seed)
{
    otc_traces_req *req = otc_arena_alloc(a, sizeof(*req));
    otc_resource_spans *rs = otc_arena_alloc(a, sizeof(*rs));
    Opentelemetry__Proto__Resource__V1__Resource *res = otc_arena_alloc(a, sizeof(*res));
    otc_scope_spans *ss = otc_arena_alloc(a, sizeof(*ss));

    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__resource__v1__resource__init(res);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    res->n_attributes = 1;
    res->attributes = otc_arena_alloc(a, sizeof(otc_key_value *));
    res->attributes[0] = make_attr(a, seed, 99);
    rs->resource = res;
    rs->n_scope_spans = 1;
    rs->scope_spans = otc_arena_alloc(a, sizeof(otc_scope_spans *));
    rs->scope_spans[0] = ss;
    ss->n_spans = n_spans;
    ss->spans = otc_arena_alloc(a, n_spans * sizeof(otc_span *));
    for (size_t i = 0; i < n_spans; i++) {
        otc_span *sp = otc_arena_alloc(a, sizeof(*sp));
        uint8_t *tid = otc_arena_alloc(a, 16), *sid = otc_arena_alloc(a, 8);
        uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u + 1;

        opentelemetry__proto__trace__v1__span__init(sp);
        for (int k = 0; k < 16; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            tid[k] = (uint8_t)x;
        }
        for (int k = 0; k < 8; k++) {
            sid[k] = (uint8_t)(i >> (k * 8)) ^ (uint8_t)k;
        }
        sp->trace_id.data = tid;
        sp->trace_id.len = 16;
        sp->span_id.data = sid;
        sp->span_id.len = 8;
        sp->name = arena_strf(a, "span-%zu-%zu", i, seed);
        sp->start_time_unix_nano = 1700000000000000000ull + i;
        sp->end_time_unix_nano = 1700000000000001000ull + i;
        sp->n_attributes = n_attrs;
        sp->attributes = otc_arena_alloc(a, (n_attrs ? n_attrs : 1) * sizeof(otc_key_value *));
        for (size_t j = 0; j < n_attrs; j++) {
            sp->attributes[j] = make_attr(a, i, j);
        }
        ss->spans[i] = sp;
    }
    req->n_resource_spans = 1;
    req->resource_spans = otc_arena_alloc(a, sizeof(otc_resource_spans *));
    req->resource_spans[0] = rs;
    return req;
}

uint8_t *otc_test_traces_bytes(size_t n_spans, size_t n_attrs, unsigned seed, size_t *len)
{
    struct otc_arena a;
    otc_traces_req *req;
    uint8_t *out;

    otc_arena_init(&a, 1 << 16);
    req = build(&a, n_spans, n_attrs, seed);
    *len = protobuf_c_message_get_packed_size(&req->base);
    out = malloc(*len ? *len : 1);
    if (out) {
        protobuf_c_message_pack(&req->base, out);
    }
    otc_arena_release(&a);
    return out;
}

/* Serialized ExportLogsServiceRequest: one resource, one scope, n_records
 * records with a trace id, a span id, timestamps, a string body and n_attrs
 * string attributes. */
uint8_t *otc_test_logs_bytes(size_t n_records, size_t n_attrs, unsigned seed, size_t *len)
{
    struct otc_arena a;
    otc_logs_req *req;
    otc_resource_logs *rl;
    otc_scope_logs *sl;
    uint8_t *out;

    otc_arena_init(&a, 1 << 16);
    req = otc_arena_alloc(&a, sizeof(*req));
    rl = otc_arena_alloc(&a, sizeof(*rl));
    sl = otc_arena_alloc(&a, sizeof(*sl));
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(req);
    opentelemetry__proto__logs__v1__resource_logs__init(rl);
    opentelemetry__proto__logs__v1__scope_logs__init(sl);
    sl->n_log_records = n_records;
    sl->log_records = otc_arena_alloc(&a, (n_records ? n_records : 1) * sizeof(otc_log_record *));
    for (size_t i = 0; i < n_records; i++) {
        otc_log_record *lr = otc_arena_alloc(&a, sizeof(*lr));
        otc_any_value *body = otc_arena_alloc(&a, sizeof(*body));
        uint8_t *tid = otc_arena_alloc(&a, 16), *sid = otc_arena_alloc(&a, 8);
        uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u + 1;

        opentelemetry__proto__logs__v1__log_record__init(lr);
        opentelemetry__proto__common__v1__any_value__init(body);
        for (int k = 0; k < 16; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            tid[k] = (uint8_t)x;
        }
        memset(sid, (int)(i + 1), 8);
        lr->trace_id.data = tid;
        lr->trace_id.len = 16;
        lr->span_id.data = sid;
        lr->span_id.len = 8;
        lr->time_unix_nano = 1700000000000000000ull + i;
        lr->observed_time_unix_nano = 1700000000000000500ull + i;
        lr->severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
        body->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        body->string_value = arena_strf(&a, "log line %zu of request %zu", i, seed);
        lr->body = body;
        lr->n_attributes = n_attrs;
        lr->attributes = otc_arena_alloc(&a, (n_attrs ? n_attrs : 1) * sizeof(otc_key_value *));
        for (size_t j = 0; j < n_attrs; j++) {
            lr->attributes[j] = make_attr(&a, i, j);
        }
        sl->log_records[i] = lr;
    }
    rl->n_scope_logs = 1;
    rl->scope_logs = otc_arena_alloc(&a, sizeof(otc_scope_logs *));
    rl->scope_logs[0] = sl;
    req->n_resource_logs = 1;
    req->resource_logs = otc_arena_alloc(&a, sizeof(otc_resource_logs *));
    req->resource_logs[0] = rl;
    *len = protobuf_c_message_get_packed_size(&req->base);
    out = malloc(*len ? *len : 1);
    if (out) {
        protobuf_c_message_pack(&req->base, out);
    }
    otc_arena_release(&a);
    return out;
}

struct otc_batch *otc_test_traces_batch(size_t n_spans, size_t n_attrs, unsigned seed)
{
    size_t len;
    uint8_t *bytes = otc_test_traces_bytes(n_spans, n_attrs, seed, &len);
    struct otc_batch *b = bytes ? otc_batch_from_bytes(OTC_TRACES, bytes, len) : NULL;

    free(bytes);
    if (b && otc_batch_decode(b) != OTC_OK) {
        otc_batch_unref(b);
        b = NULL;
    }
    return b;
}

int otc_test_as_received(struct otc_batch *b)
{
    if (getenv("OTC_FX_UNDECODED") && otc_batch_scan(b, NULL) == OTC_OK) {
        return OTC_OK;
    }
    return otc_batch_decode(b);
}
