/* test_otlp_json.c - unit tests for the OTLP/JSON encoder (core/otlp_json.c):
 * exact output for traces, metrics and logs, escaping, floats, presence rules
 * and the nesting bound. Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otc/otc_json.h"
#include "otc/otc_rc.h"

/* Short local names for the generated types. */
typedef Opentelemetry__Proto__Common__V1__AnyValue      AnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue    ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList  KeyValueList;
typedef Opentelemetry__Proto__Common__V1__KeyValue      KeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource    Resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans  ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans     ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span           Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event    SpanEvent;
typedef Opentelemetry__Proto__Trace__V1__Span__Link     SpanLink;
typedef Opentelemetry__Proto__Trace__V1__Status         Status;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric       Metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge        Gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum          Sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram    Histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram ExpHistogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets ExpBuckets;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramPoint;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar     Exemplar;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs    ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs       ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord       LogRecord;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest     TraceReq;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest MetricsReq;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest       LogsReq;

#define ANY_INIT       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT
#define ARRAY_INIT     OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT
#define KVLIST_INIT    OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT
#define KV_INIT        OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT
#define SCOPE_INIT     OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT
#define RESOURCE_INIT  OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT
#define ANY(c)         OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

#define FFFD "\xef\xbf\xbd"

static uint8_t trace_id[16] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10 };
static uint8_t span_id[8] = { 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8 };
static uint8_t parent_id[8] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x01 };
static uint8_t link_span_id[8] = { 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8 };

#define TRACE_ID_HEX "0102030405060708090a0b0c0d0e0f10"
#define SPAN_ID_HEX  "a1a2a3a4a5a6a7a8"

/* ---- a small strict JSON validator (RFC 8259 + well-formed UTF-8) --------- */

struct jv {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
};

static int jv_value(struct jv *v);

static void jv_ws(struct jv *v)
{
    while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r')) {
        v->p++;
    }
}

static int jv_lit(struct jv *v, const char *s)
{
    size_t n = strlen(s);

    if ((size_t)(v->end - v->p) < n || memcmp(v->p, s, n) != 0) {
        return 0;
    }
    v->p += n;
    return 1;
}

static int jv_utf8(struct jv *v)
{
    const unsigned char *p = v->p;
    unsigned c = p[0], lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;
        hi = (c == 0xed) ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if ((size_t)(v->end - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    v->p += n;
    return 1;
}

static int jv_string(struct jv *v)
{
    int i;

    if (v->p >= v->end || *v->p != '"') {
        return 0;
    }
    v->p++;
    while (v->p < v->end) {
        unsigned c = *v->p;

        if (c == '"') {
            v->p++;
            return 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c == '\\') {
            v->p++;
            if (v->p >= v->end) {
                return 0;
            }
            if (*v->p == 'u') {
                v->p++;
                for (i = 0; i < 4; i++) {
                    if (v->p >= v->end || !strchr("0123456789abcdefABCDEF", *v->p) || !*v->p) {
                        return 0;
                    }
                    v->p++;
                }
            } else if (strchr("\"\\/bfnrt", *v->p) && *v->p) {
                v->p++;
            } else {
                return 0;
            }
        } else if (c >= 0x80) {
            if (!jv_utf8(v)) {
                return 0;
            }
        } else {
            v->p++;
        }
    }
    return 0;
}

static int jv_digits(struct jv *v)
{
    const unsigned char *s = v->p;

    while (v->p < v->end && *v->p >= '0' && *v->p <= '9') {
        v->p++;
    }
    return v->p > s;
}

static int jv_number(struct jv *v)
{
    if (v->p < v->end && *v->p == '-') {
        v->p++;
    }
    if (v->p < v->end && *v->p == '0') {
        v->p++;
    } else if (!jv_digits(v)) {
        return 0;
    }
    if (v->p < v->end && *v->p == '.') {
        v->p++;
        if (!jv_digits(v)) {
            return 0;
        }
    }
    if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
        v->p++;
        if (v->p < v->end && (*v->p == '+' || *v->p == '-')) {
            v->p++;
        }
        if (!jv_digits(v)) {
            return 0;
        }
    }
    return 1;
}

static int jv_container(struct jv *v, char close, int object)
{
    v->p++;
    if (++v->depth > 1000) {
        return 0;
    }
    jv_ws(v);
    if (v->p < v->end && *v->p == close) {
        v->p++;
        v->depth--;
        return 1;
    }
    for (;;) {
        if (object) {
            jv_ws(v);
            if (!jv_string(v)) {
                return 0;
            }
            jv_ws(v);
            if (v->p >= v->end || *v->p != ':') {
                return 0;
            }
            v->p++;
        }
        if (!jv_value(v)) {
            return 0;
        }
        jv_ws(v);
        if (v->p < v->end && *v->p == ',') {
            v->p++;
            continue;
        }
        if (v->p < v->end && *v->p == close) {
            v->p++;
            v->depth--;
            return 1;
        }
        return 0;
    }
}

static int jv_value(struct jv *v)
{
    jv_ws(v);
    if (v->p >= v->end) {
        return 0;
    }
    switch (*v->p) {
    case '{': return jv_container(v, '}', 1);
    case '[': return jv_container(v, ']', 0);
    case '"': return jv_string(v);
    case 't': return jv_lit(v, "true");
    case 'f': return jv_lit(v, "false");
    case 'n': return jv_lit(v, "null");
    default:  return jv_number(v);
    }
}

static int json_valid(const char *s, size_t len)
{
    struct jv v = { (const unsigned char *)s, (const unsigned char *)s + len, 0 };

    if (!jv_value(&v)) {
        return 0;
    }
    jv_ws(&v);
    return v.p == v.end;
}

/* ---- helpers -------------------------------------------------------------- */

/* Encode msg into a fresh buffer and compare with want; also check it is
 * valid JSON, has no newline and that the buffer length matches. */
static void expect_json(const ProtobufCMessage *msg, const char *want)
{
    struct otc_buf b;
    int rc;

    otc_buf_init(&b);
    rc = otc_json_encode(msg, &b);
    assert_int_equal(rc, OTC_OK);
    assert_non_null(b.data);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    assert_null(memchr(b.data, '\n', b.len));
    assert_true(json_valid(b.data, b.len));
    otc_buf_free(&b);
}

static void kv_string(KeyValue *kv, AnyValue *v, const char *key, const char *s)
{
    kv->key = (char *)key;
    kv->value = v;
    v->value_case = ANY(STRING_VALUE);
    v->string_value = (char *)s;
}

static ProtobufCBinaryData bin(uint8_t *p, size_t n)
{
    ProtobufCBinaryData b = { n, p };

    return b;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_empty_requests(void **state)
{
    TraceReq t = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    MetricsReq m = OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    LogsReq l = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    ResourceSpans *rsp[1] = { &rs };
    ScopeSpans *ssp[1] = { &ss };
    Span *spp[1] = { &sp };

    (void)state;
    expect_json(&t.base, "{}");
    expect_json(&m.base, "{}");
    expect_json(&l.base, "{}");

    /* a span with every field at its default is an empty object */
    t.n_resource_spans = 1;
    t.resource_spans = rsp;
    rs.n_scope_spans = 1;
    rs.scope_spans = ssp;
    ss.n_spans = 1;
    ss.spans = spp;
    sp.name = "";
    expect_json(&t.base, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{}]}]}]}");
}

static void test_trace_request(void **state)
{
    TraceReq req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    SpanEvent ev = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    SpanLink ln = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
    Status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    Resource res = RESOURCE_INIT;
    Scope scope = SCOPE_INIT;
    KeyValue kv[8] = { KV_INIT, KV_INIT, KV_INIT, KV_INIT, KV_INIT, KV_INIT, KV_INIT, KV_INIT };
    AnyValue av[8] = { ANY_INIT, ANY_INIT, ANY_INIT, ANY_INIT, ANY_INIT, ANY_INIT, ANY_INIT, ANY_INIT };
    KeyValue *kvp[8];
    AnyValue elems[3] = { ANY_INIT, ANY_INIT, ANY_INIT };
    AnyValue *elemp[3] = { &elems[0], &elems[1], &elems[2] };
    ArrayValue arr = ARRAY_INIT;
    KeyValueList kvl = KVLIST_INIT;
    KeyValue inner = KV_INIT;
    AnyValue inner_v = ANY_INIT;
    KeyValue *innerp[1] = { &inner };
    uint8_t raw[4] = { 0x00, 0x01, 0xfe, 0xff };
    KeyValue span_kv = KV_INIT, ev_kv = KV_INIT;
    AnyValue span_av = ANY_INIT, ev_av = ANY_INIT;
    KeyValue *span_kvp[1] = { &span_kv };
    KeyValue *ev_kvp[1] = { &ev_kv };
    SpanEvent *evp[1] = { &ev };
    SpanLink *lnp[1] = { &ln };
    ResourceSpans *rsp[1] = { &rs };
    ScopeSpans *ssp[1] = { &ss };
    Span *spp[1] = { &sp };
    int i;

    (void)state;
    for (i = 0; i < 8; i++) {
        kv[i].value = &av[i];
        kvp[i] = &kv[i];
    }
    kv_string(&kv[0], &av[0], "service.name", "svc");
    kv[1].key = "ok";
    av[1].value_case = ANY(BOOL_VALUE);
    av[1].bool_value = 1;
    kv[2].key = "n";
    av[2].value_case = ANY(INT_VALUE);
    av[2].int_value = 42;
    kv[3].key = "ratio";
    av[3].value_case = ANY(DOUBLE_VALUE);
    av[3].double_value = 0.25;
    kv[4].key = "list";
    av[4].value_case = ANY(ARRAY_VALUE);
    av[4].array_value = &arr;
    arr.n_values = 3;
    arr.values = elemp;
    elems[0].value_case = ANY(STRING_VALUE);
    elems[0].string_value = "a";
    elems[1].value_case = ANY(INT_VALUE);      /* a set oneof is written even at 0 */
    elems[1].int_value = 0;
    elems[2].value_case = ANY(BOOL_VALUE);
    elems[2].bool_value = 0;
    kv[5].key = "map";
    av[5].value_case = ANY(KVLIST_VALUE);
    av[5].kvlist_value = &kvl;
    kvl.n_values = 1;
    kvl.values = innerp;
    inner.key = "k";
    inner.value = &inner_v;
    inner_v.value_case = ANY(DOUBLE_VALUE);
    inner_v.double_value = 1.0;
    kv[6].key = "raw";
    av[6].value_case = ANY(BYTES_VALUE);
    av[6].bytes_value = bin(raw, sizeof(raw));
    kv[7].key = "empty";                      /* AnyValue with nothing set */

    res.n_attributes = 8;
    res.attributes = kvp;
    res.dropped_attributes_count = 3;

    scope.name = "lib";
    scope.version = "1.0";

    sp.trace_id = bin(trace_id, 16);
    sp.span_id = bin(span_id, 8);
    sp.parent_span_id = bin(parent_id, 8);
    sp.name = "GET /";
    sp.kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    sp.start_time_unix_nano = 1700000000000000000ULL;
    sp.end_time_unix_nano = 1700000000500000000ULL;
    kv_string(&span_kv, &span_av, "http.method", "GET");
    sp.n_attributes = 1;
    sp.attributes = span_kvp;
    ev.time_unix_nano = 1700000000100000000ULL;
    ev.name = "ev";
    kv_string(&ev_kv, &ev_av, "e", "x");
    ev.n_attributes = 1;
    ev.attributes = ev_kvp;
    sp.n_events = 1;
    sp.events = evp;
    ln.trace_id = bin(trace_id, 16);
    ln.span_id = bin(link_span_id, 8);
    ln.trace_state = "k=v";
    ln.dropped_attributes_count = 1;
    ln.flags = 0x100;
    sp.n_links = 1;
    sp.links = lnp;
    sp.dropped_links_count = 2;
    st.message = "boom";
    st.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    sp.status = &st;
    sp.flags = 0x301;

    ss.scope = &scope;
    ss.n_spans = 1;
    ss.spans = spp;
    rs.resource = &res;
    rs.n_scope_spans = 1;
    rs.scope_spans = ssp;
    rs.schema_url = "https://opentelemetry.io/schemas/1.21.0";
    req.n_resource_spans = 1;
    req.resource_spans = rsp;

    expect_json(&req.base,
        "{\"resourceSpans\":[{"
          "\"resource\":{\"attributes\":["
            "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}},"
            "{\"key\":\"ok\",\"value\":{\"boolValue\":true}},"
            "{\"key\":\"n\",\"value\":{\"intValue\":\"42\"}},"
            "{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.25}},"
            "{\"key\":\"list\",\"value\":{\"arrayValue\":{\"values\":["
              "{\"stringValue\":\"a\"},{\"intValue\":\"0\"},{\"boolValue\":false}]}}},"
            "{\"key\":\"map\",\"value\":{\"kvlistValue\":{\"values\":["
              "{\"key\":\"k\",\"value\":{\"doubleValue\":1}}]}}},"
            "{\"key\":\"raw\",\"value\":{\"bytesValue\":\"AAH+/w==\"}},"
            "{\"key\":\"empty\",\"value\":{}}"
          "],\"droppedAttributesCount\":3},"
          "\"scopeSpans\":[{"
            "\"scope\":{\"name\":\"lib\",\"version\":\"1.0\"},"
            "\"spans\":[{"
              "\"traceId\":\"" TRACE_ID_HEX "\","
              "\"spanId\":\"" SPAN_ID_HEX "\","
              "\"parentSpanId\":\"deadbeef00000001\","
              "\"name\":\"GET /\","
              "\"kind\":2,"
              "\"startTimeUnixNano\":\"1700000000000000000\","
              "\"endTimeUnixNano\":\"1700000000500000000\","
              "\"attributes\":[{\"key\":\"http.method\",\"value\":{\"stringValue\":\"GET\"}}],"
              "\"events\":[{\"timeUnixNano\":\"1700000000100000000\",\"name\":\"ev\","
                "\"attributes\":[{\"key\":\"e\",\"value\":{\"stringValue\":\"x\"}}]}],"
              "\"links\":[{\"traceId\":\"" TRACE_ID_HEX "\","
                "\"spanId\":\"b1b2b3b4b5b6b7b8\",\"traceState\":\"k=v\","
                "\"droppedAttributesCount\":1,\"flags\":256}],"
              "\"droppedLinksCount\":2,"
              "\"status\":{\"message\":\"boom\",\"code\":2},"
              "\"flags\":769"
            "}]"
          "}],"
          "\"schemaUrl\":\"https://opentelemetry.io/schemas/1.21.0\""
        "}]}");
}

static void test_metrics_request(void **state)
{
    MetricsReq req = OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    ResourceMetrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    ScopeMetrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    Resource res = RESOURCE_INIT;
    Scope scope = SCOPE_INIT;
    Metric m[4] = { OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT,
                    OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT,
                    OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT,
                    OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT };
    Metric *mp[4] = { &m[0], &m[1], &m[2], &m[3] };
    Gauge gauge = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    Sum sum = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    Histogram hist = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
    ExpHistogram ehist = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
    NumberPoint gp[3] = { OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT,
                          OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT,
                          OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT };
    NumberPoint *gpp[3] = { &gp[0], &gp[1], &gp[2] };
    NumberPoint sp = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    NumberPoint *spp[1] = { &sp };
    HistogramPoint hp[2] = { OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT,
                             OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT };
    HistogramPoint *hpp[2] = { &hp[0], &hp[1] };
    ExpHistogramPoint ep = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    ExpHistogramPoint *epp[1] = { &ep };
    ExpBuckets pos = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    uint64_t pos_counts[2] = { 1, 2 };
    Exemplar ex = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__INIT;
    Exemplar *exp_[1] = { &ex };
    KeyValue kv = KV_INIT;
    AnyValue av = ANY_INIT;
    KeyValue *kvp[1] = { &kv };
    uint64_t counts1[3] = { 1, 2, 3 };
    double bounds1[2] = { 1.0, 2.5 };
    uint64_t counts2[2] = { 0, UINT64_MAX };
    double bounds2[1] = { 1e300 };
    ResourceMetrics *rmp[1] = { &rm };
    ScopeMetrics *smp[1] = { &sm };

    (void)state;
    /* gauge: asDouble with an exemplar, negative asInt, asInt 0 (oneof set) */
    kv_string(&kv, &av, "host", "h1");
    gp[0].n_attributes = 1;
    gp[0].attributes = kvp;
    gp[0].start_time_unix_nano = 5;
    gp[0].time_unix_nano = 10;
    gp[0].value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    gp[0].as_double = 0.5;
    ex.time_unix_nano = 9;
    ex.value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
    ex.as_double = 0.1;
    ex.trace_id = bin(trace_id, 16);
    ex.span_id = bin(span_id, 8);
    gp[0].n_exemplars = 1;
    gp[0].exemplars = exp_;
    gp[1].time_unix_nano = 11;
    gp[1].value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    gp[1].as_int = -7;
    gp[2].time_unix_nano = 12;
    gp[2].value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    gp[2].as_int = 0;
    gp[2].flags = 1;
    gauge.n_data_points = 3;
    gauge.data_points = gpp;
    m[0].name = "g";
    m[0].unit = "1";
    m[0].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m[0].gauge = &gauge;

    /* sum */
    sp.start_time_unix_nano = 1;
    sp.time_unix_nano = 2;
    sp.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    sp.as_int = 100;
    sum.n_data_points = 1;
    sum.data_points = spp;
    sum.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
    sum.is_monotonic = 1;
    m[1].name = "s";
    m[1].description = "d";
    m[1].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m[1].sum = &sum;

    /* histogram: first point with sum/min/max, second with sum = 0 set and
     * min/max unset; uint64 max must survive as a string */
    hp[0].start_time_unix_nano = 1;
    hp[0].time_unix_nano = 2;
    hp[0].count = 6;
    hp[0].sum__case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__SUM__SUM;
    hp[0].sum = 12.5;
    hp[0].n_bucket_counts = 3;
    hp[0].bucket_counts = counts1;
    hp[0].n_explicit_bounds = 2;
    hp[0].explicit_bounds = bounds1;
    hp[0].min__case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__MIN__MIN;
    hp[0].min = 0.5;
    hp[0].max__case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__MAX__MAX;
    hp[0].max = 7.0;
    hp[1].time_unix_nano = 3;
    hp[1].sum__case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__SUM__SUM;
    hp[1].sum = 0.0;
    hp[1].n_bucket_counts = 2;
    hp[1].bucket_counts = counts2;
    hp[1].n_explicit_bounds = 1;
    hp[1].explicit_bounds = bounds2;
    hist.n_data_points = 2;
    hist.data_points = hpp;
    hist.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    m[2].name = "h";
    m[2].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
    m[2].histogram = &hist;

    /* exponential histogram: sint32 scale/offset, repeated uint64 */
    ep.count = 3;
    ep.scale = -1;
    pos.offset = -2;
    pos.n_bucket_counts = 2;
    pos.bucket_counts = pos_counts;
    ep.positive = &pos;
    ep.zero_threshold = 1e-9;
    ehist.n_data_points = 1;
    ehist.data_points = epp;
    ehist.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
    m[3].name = "e";
    m[3].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
    m[3].exponential_histogram = &ehist;

    scope.name = "m";
    sm.scope = &scope;
    sm.n_metrics = 4;
    sm.metrics = mp;
    rm.resource = &res;                       /* present but empty: {} */
    rm.n_scope_metrics = 1;
    rm.scope_metrics = smp;
    req.n_resource_metrics = 1;
    req.resource_metrics = rmp;

    expect_json(&req.base,
        "{\"resourceMetrics\":[{\"resource\":{},\"scopeMetrics\":[{"
          "\"scope\":{\"name\":\"m\"},\"metrics\":["
            "{\"name\":\"g\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":["
              "{\"startTimeUnixNano\":\"5\",\"timeUnixNano\":\"10\",\"asDouble\":0.5,"
                "\"exemplars\":[{\"timeUnixNano\":\"9\",\"asDouble\":0.1,"
                  "\"spanId\":\"" SPAN_ID_HEX "\",\"traceId\":\"" TRACE_ID_HEX "\"}],"
                "\"attributes\":[{\"key\":\"host\",\"value\":{\"stringValue\":\"h1\"}}]},"
              "{\"timeUnixNano\":\"11\",\"asInt\":\"-7\"},"
              "{\"timeUnixNano\":\"12\",\"asInt\":\"0\",\"flags\":1}"
            "]}},"
            "{\"name\":\"s\",\"description\":\"d\",\"sum\":{\"dataPoints\":["
              "{\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"2\",\"asInt\":\"100\"}],"
              "\"aggregationTemporality\":2,\"isMonotonic\":true}},"
            "{\"name\":\"h\",\"histogram\":{\"dataPoints\":["
              "{\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"2\",\"count\":\"6\",\"sum\":12.5,"
                "\"bucketCounts\":[\"1\",\"2\",\"3\"],\"explicitBounds\":[1,2.5],"
                "\"min\":0.5,\"max\":7},"
              "{\"timeUnixNano\":\"3\",\"sum\":0,"
                "\"bucketCounts\":[\"0\",\"18446744073709551615\"],\"explicitBounds\":[1e+300]}"
            "],\"aggregationTemporality\":1}},"
            "{\"name\":\"e\",\"exponentialHistogram\":{\"dataPoints\":["
              "{\"count\":\"3\",\"scale\":-1,"
                "\"positive\":{\"offset\":-2,\"bucketCounts\":[\"1\",\"2\"]},"
                "\"zeroThreshold\":1e-09}"
            "],\"aggregationTemporality\":2}}"
          "]}]}]}");
}

static void test_logs_request(void **state)
{
    LogsReq req = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    ResourceLogs rl = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    LogRecord lr[2] = { OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT,
                        OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT };
    LogRecord *lrp[2] = { &lr[0], &lr[1] };
    Resource res = RESOURCE_INIT;
    Scope scope = SCOPE_INIT;
    KeyValue res_kv = KV_INIT, attr_kv = KV_INIT, body2_kv = KV_INIT;
    AnyValue res_av = ANY_INIT, attr_av = ANY_INIT, body = ANY_INIT, body2 = ANY_INIT;
    AnyValue body2_inner = ANY_INIT;
    KeyValue *res_kvp[1] = { &res_kv };
    KeyValue *attr_kvp[1] = { &attr_kv };
    KeyValue *body2_kvp[1] = { &body2_kv };
    ArrayValue empty_arr = ARRAY_INIT;
    KeyValueList body2_list = KVLIST_INIT;
    ResourceLogs *rlp[1] = { &rl };
    ScopeLogs *slp[1] = { &sl };

    (void)state;
    kv_string(&res_kv, &res_av, "service.name", "svc");
    res.n_attributes = 1;
    res.attributes = res_kvp;

    lr[0].time_unix_nano = 1700000000000000001ULL;
    lr[0].observed_time_unix_nano = 1700000000000000002ULL;
    lr[0].severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
    lr[0].severity_text = "INFO";
    body.value_case = ANY(STRING_VALUE);
    body.string_value = "hello\nworld";
    lr[0].body = &body;
    attr_kv.key = "k";
    attr_kv.value = &attr_av;
    attr_av.value_case = ANY(ARRAY_VALUE);
    attr_av.array_value = &empty_arr;
    lr[0].n_attributes = 1;
    lr[0].attributes = attr_kvp;
    lr[0].flags = 1;
    lr[0].trace_id = bin(trace_id, 16);
    lr[0].span_id = bin(span_id, 8);
    lr[0].event_name = "e.v";

    /* no ids, no times: only a kvlist body */
    body2.value_case = ANY(KVLIST_VALUE);
    body2.kvlist_value = &body2_list;
    body2_list.n_values = 1;
    body2_list.values = body2_kvp;
    body2_kv.key = "n";
    body2_kv.value = &body2_inner;
    body2_inner.value_case = ANY(INT_VALUE);
    body2_inner.int_value = INT64_MIN;
    lr[1].body = &body2;
    lr[1].severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_FATAL4;

    sl.scope = &scope;                        /* present but empty: {} */
    sl.n_log_records = 2;
    sl.log_records = lrp;
    sl.schema_url = "s";
    rl.resource = &res;
    rl.n_scope_logs = 1;
    rl.scope_logs = slp;
    req.n_resource_logs = 1;
    req.resource_logs = rlp;

    expect_json(&req.base,
        "{\"resourceLogs\":[{"
          "\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}}]},"
          "\"scopeLogs\":[{\"scope\":{},\"logRecords\":["
            "{\"timeUnixNano\":\"1700000000000000001\",\"severityNumber\":9,"
              "\"severityText\":\"INFO\",\"body\":{\"stringValue\":\"hello\\nworld\"},"
              "\"attributes\":[{\"key\":\"k\",\"value\":{\"arrayValue\":{}}}],"
              "\"flags\":1,\"traceId\":\"" TRACE_ID_HEX "\",\"spanId\":\"" SPAN_ID_HEX "\","
              "\"observedTimeUnixNano\":\"1700000000000000002\",\"eventName\":\"e.v\"},"
            "{\"severityNumber\":24,\"body\":{\"kvlistValue\":{\"values\":["
              "{\"key\":\"n\",\"value\":{\"intValue\":\"-9223372036854775808\"}}]}}}"
          "],\"schemaUrl\":\"s\"}]"
        "}]}");
}

static void test_escaping_and_invalid_utf8(void **state)
{
    KeyValue kv = KV_INIT;
    AnyValue v = ANY_INIT;

    (void)state;
    kv.key = "k\"\\";
    kv.value = &v;
    v.value_case = ANY(STRING_VALUE);
    v.string_value =
        "a\"b\\c/\x01\x1f\t\r\n\b\f\x7f"       /* ASCII specials and controls */
        "\xc3\xa9" "\xe2\x82\xac" "\xf0\x9f\x98\x80" /* e-acute, euro, emoji */
        "|\xff|"                                /* never valid */
        "\xc0\xaf|"                             /* overlong '/' */
        "\xed\xa0\x80|"                         /* UTF-16 surrogate */
        "\xf4\x90\x80\x80|"                     /* above U+10FFFF */
        "\xe2\x28\xa1|"                         /* bad continuation */
        "x\xe2\x82";                            /* truncated at the end */

    expect_json(&kv.base,
        "{\"key\":\"k\\\"\\\\\",\"value\":{\"stringValue\":\""
        "a\\\"b\\\\c/\\u0001\\u001f\\t\\r\\n\\u0008\\u000c\x7f"
        "\xc3\xa9" "\xe2\x82\xac" "\xf0\x9f\x98\x80"
        "|" FFFD "|"
        FFFD FFFD "|"
        FFFD FFFD FFFD "|"
        FFFD FFFD FFFD FFFD "|"
        FFFD "(" FFFD "|"
        "x" FFFD FFFD
        "\"}}");
}

static void expect_double(double d, const char *want)
{
    AnyValue v = ANY_INIT;
    char full[128];

    v.value_case = ANY(DOUBLE_VALUE);
    v.double_value = d;
    snprintf(full, sizeof(full), "{\"doubleValue\":%s}", want);
    expect_json(&v.base, full);
}

static void test_doubles(void **state)
{
    volatile double a = 0.1, b = 0.2;

    (void)state;
    expect_double(NAN, "\"NaN\"");
    expect_double(INFINITY, "\"Infinity\"");
    expect_double(-INFINITY, "\"-Infinity\"");
    expect_double(0.0, "0");                    /* a set oneof, even at 0 */
    expect_double(-0.0, "-0");
    expect_double(1.0, "1");
    expect_double(100.0, "100");
    expect_double(-2.5, "-2.5");
    expect_double(0.1, "0.1");
    expect_double(a + b, "0.30000000000000004");
    expect_double(1.0 / 3.0, "0.3333333333333333");
    expect_double(123456789.125, "123456789.125");
    expect_double(1e21, "1e+21");
    expect_double(1e-7, "1e-07");
    expect_double(DBL_MAX, "1.7976931348623157e+308");
    expect_double(9007199254740993.0, "9007199254740992");
}

/* A hand-made descriptor with the field kinds OTLP's generated code lacks:
 * proto2 / proto3-`optional` fields with has_ flags, required, float, int32,
 * sint64, uint32, repeated string / enum / bool, non-id bytes. */
struct synth {
    ProtobufCMessage    base;
    protobuf_c_boolean  has_opt_d;
    double              opt_d;
    protobuf_c_boolean  has_opt_i;
    int64_t             opt_i;
    float               f;
    int32_t             i32;
    int64_t             s64;
    uint32_t            u32;
    size_t              n_names;
    char              **names;
    size_t              n_kinds;
    int                *kinds;
    size_t              n_flags;
    protobuf_c_boolean *flags;
    char               *req;
    char               *opt_s;
    ProtobufCBinaryData span_id_like;
};

#define SYNTH_FIELD(nm, num, lbl, typ, q, member)                       \
    { .name = nm, .id = num, .label = PROTOBUF_C_LABEL_##lbl,           \
      .type = PROTOBUF_C_TYPE_##typ, .quantifier_offset = q,            \
      .offset = offsetof(struct synth, member) }

static const ProtobufCFieldDescriptor synth_fields[] = {
    SYNTH_FIELD("opt_d", 1, OPTIONAL, DOUBLE, offsetof(struct synth, has_opt_d), opt_d),
    SYNTH_FIELD("opt_i", 2, OPTIONAL, INT64, offsetof(struct synth, has_opt_i), opt_i),
    SYNTH_FIELD("f", 3, NONE, FLOAT, 0, f),
    SYNTH_FIELD("i32", 4, NONE, INT32, 0, i32),
    SYNTH_FIELD("s64", 5, NONE, SINT64, 0, s64),
    SYNTH_FIELD("u32", 6, NONE, UINT32, 0, u32),
    SYNTH_FIELD("names", 7, REPEATED, STRING, offsetof(struct synth, n_names), names),
    SYNTH_FIELD("kinds", 8, REPEATED, ENUM, offsetof(struct synth, n_kinds), kinds),
    SYNTH_FIELD("flags", 9, REPEATED, BOOL, offsetof(struct synth, n_flags), flags),
    SYNTH_FIELD("req", 10, REQUIRED, STRING, 0, req),
    SYNTH_FIELD("opt_s", 11, OPTIONAL, STRING, 0, opt_s),
    SYNTH_FIELD("span_id_like", 12, NONE, BYTES, 0, span_id_like),
};

static const ProtobufCMessageDescriptor synth_descriptor = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    .name = "test.Synth",
    .short_name = "Synth",
    .c_name = "Synth",
    .package_name = "test",
    .sizeof_message = sizeof(struct synth),
    .n_fields = sizeof(synth_fields) / sizeof(synth_fields[0]),
    .fields = synth_fields,
};

static void test_generic_field_kinds(void **state)
{
    struct synth s;
    char *names[2] = { "a", "b\"c" };
    int kinds[2] = { 0, 3 };
    protobuf_c_boolean flags[2] = { 1, 0 };
    uint8_t raw[2] = { 0xfb, 0xff };

    (void)state;
    memset(&s, 0, sizeof(s));
    s.base.descriptor = &synth_descriptor;
    s.req = "";
    expect_json(&s.base, "{\"req\":\"\"}");

    s.has_opt_d = 1;                          /* has_ set: written even at 0 */
    s.opt_d = 0.0;
    s.opt_i = 5;                              /* has_ clear: left out */
    s.f = 0.1f;
    s.i32 = -5;
    s.s64 = -9007199254740993LL;
    s.u32 = UINT32_MAX;
    s.n_names = 2;
    s.names = names;
    s.n_kinds = 2;
    s.kinds = kinds;
    s.n_flags = 2;
    s.flags = flags;
    s.req = "r";
    s.span_id_like = bin(raw, 2);             /* not an id field: base64 */
    expect_json(&s.base,
        "{\"optD\":0,\"f\":0.1,\"i32\":-5,\"s64\":\"-9007199254740993\","
        "\"u32\":4294967295,\"names\":[\"a\",\"b\\\"c\"],\"kinds\":[0,3],"
        "\"flags\":[true,false],\"req\":\"r\",\"spanIdLike\":\"+/8=\"}");

    s.has_opt_i = 1;
    s.opt_s = "o";
    s.f = -1.5f;
    s.n_names = 0;
    s.n_kinds = 0;
    s.n_flags = 0;
    s.span_id_like.len = 0;
    expect_json(&s.base,
        "{\"optD\":0,\"optI\":\"5\",\"f\":-1.5,\"i32\":-5,\"s64\":\"-9007199254740993\","
        "\"u32\":4294967295,\"req\":\"r\",\"optS\":\"o\"}");
}

/* root -> ArrayValue -> AnyValue -> ... : k arrays under one root AnyValue,
 * i.e. 2k+1 message levels, ending in intValue 1. */
static AnyValue *make_chain(size_t k, AnyValue **nodes_out, ArrayValue **arrs_out,
                            AnyValue ***ptrs_out)
{
    AnyValue *nodes = calloc(k + 1, sizeof(*nodes));
    ArrayValue *arrs = calloc(k ? k : 1, sizeof(*arrs));
    AnyValue **ptrs = calloc(k ? k : 1, sizeof(*ptrs));
    AnyValue init_v = ANY_INIT;
    ArrayValue init_a = ARRAY_INIT;
    size_t i;

    assert_non_null(nodes);
    assert_non_null(arrs);
    assert_non_null(ptrs);
    for (i = 0; i <= k; i++) {
        nodes[i] = init_v;
    }
    for (i = 0; i < k; i++) {
        arrs[i] = init_a;
        ptrs[i] = &nodes[i + 1];
        arrs[i].n_values = 1;
        arrs[i].values = &ptrs[i];
        nodes[i].value_case = ANY(ARRAY_VALUE);
        nodes[i].array_value = &arrs[i];
    }
    nodes[k].value_case = ANY(INT_VALUE);
    nodes[k].int_value = 1;
    *nodes_out = nodes;
    *arrs_out = arrs;
    *ptrs_out = ptrs;
    return &nodes[0];
}

static void test_depth_bound(void **state)
{
    AnyValue *nodes, **ptrs;
    ArrayValue *arrs;
    KeyValue kv = KV_INIT;
    struct otc_buf b;
    size_t k;
    int rc;

    (void)state;
    otc_buf_init(&b);

    /* KeyValue + 63 arrays: 2 + 2*63 = 128 levels, exactly the bound */
    kv.key = "deep";
    kv.value = make_chain(63, &nodes, &arrs, &ptrs);
    rc = otc_json_encode(&kv.base, &b);
    assert_int_equal(rc, OTC_OK);
    assert_true(json_valid(b.data, b.len));
    assert_non_null(strstr(b.data, "{\"intValue\":\"1\"}"));
    free(nodes);
    free(arrs);
    free(ptrs);

    /* AnyValue root + 64 arrays: 129 levels; the buffer keeps its prefix */
    otc_buf_reset(&b);
    otc_buf_adds(&b, "prefix");
    make_chain(64, &nodes, &arrs, &ptrs);
    rc = otc_json_encode(&nodes[0].base, &b);
    assert_int_equal(rc, OTC_EINVAL);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "prefix");
    free(nodes);
    free(arrs);
    free(ptrs);

    /* a hostile depth must not overflow the stack either */
    k = 100000;
    make_chain(k, &nodes, &arrs, &ptrs);
    rc = otc_json_encode(&nodes[0].base, &b);
    assert_int_equal(rc, OTC_EINVAL);
    assert_string_equal(b.data, "prefix");
    free(nodes);
    free(arrs);
    free(ptrs);
    otc_buf_free(&b);
}

static void test_append_and_errors(void **state)
{
    TraceReq t = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    struct otc_buf b;

    (void)state;
    otc_buf_init(&b);
    otc_buf_adds(&b, "[");
    assert_int_equal(otc_json_encode(&t.base, &b), OTC_OK);
    assert_int_equal(otc_json_encode(&t.base, &b), OTC_OK);
    assert_string_equal(b.data, "[{}{}");

    assert_int_equal(otc_json_encode(NULL, &b), OTC_EINVAL);
    assert_string_equal(b.data, "[{}{}");

    b.oom = true;                             /* a buffer already out of memory */
    assert_int_equal(otc_json_encode(&t.base, &b), OTC_ENOMEM);
    otc_buf_free(&b);
}

static void test_field_name(void **state)
{
    const ProtobufCFieldDescriptor *f;
    char buf[32];

    (void)state;
    f = protobuf_c_message_descriptor_get_field_by_name(
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
        "resource_spans");
    assert_non_null(f);
    assert_string_equal(otc_json_field_name(f, buf, sizeof(buf)), "resourceSpans");
    assert_string_equal(otc_json_field_name(f, buf, 5), "reso");
    f = protobuf_c_message_descriptor_get_field_by_name(
        &opentelemetry__proto__trace__v1__span__descriptor, "parent_span_id");
    assert_non_null(f);
    assert_string_equal(otc_json_field_name(f, buf, sizeof(buf)), "parentSpanId");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_requests),
        cmocka_unit_test(test_trace_request),
        cmocka_unit_test(test_metrics_request),
        cmocka_unit_test(test_logs_request),
        cmocka_unit_test(test_escaping_and_invalid_utf8),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_generic_field_kinds),
        cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_append_and_errors),
        cmocka_unit_test(test_field_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
