/* test_otlp_json_decode.c - unit tests for the OTLP/JSON decoder
 * (core/otlp_json_decode.c): round trips with the encoder for traces, metrics
 * and logs, each OTLP/JSON rule, and each error with its field path.
 * Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_builder.h"
#include "otc/otc_json.h"
#include "otc/otc_otlp.h"
#include "otc/otc_rc.h"

typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryPoint;

#define TRACES  otc_request_descriptor(OTC_TRACES)
#define METRICS otc_request_descriptor(OTC_METRICS)
#define LOGS    otc_request_descriptor(OTC_LOGS)
#define ANY(c)  OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c
#define MDATA(c) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##c

/* ---- helpers ------------------------------------------------------------- */

struct decoded {
    struct otc_arena  arena;
    ProtobufCMessage *msg;
    int               rc;
    char              err[256];
};

static void decode(struct decoded *d, const ProtobufCMessageDescriptor *desc, const char *text)
{
    otc_arena_init(&d->arena, 0);
    d->msg = NULL;
    d->rc = otc_json_decode(desc, text, strlen(text), &d->arena, &d->msg, d->err, sizeof(d->err));
}

static void decoded_free(struct decoded *d)
{
    otc_arena_release(&d->arena);
}

/* Decode text, which must succeed. */
static ProtobufCMessage *decode_ok(struct decoded *d, const ProtobufCMessageDescriptor *desc,
                                   const char *text)
{
    decode(d, desc, text);
    if (d->rc != OTC_OK) {
        print_error("decode failed (%d): %s\n", d->rc, d->err);
    }
    assert_int_equal(d->rc, OTC_OK);
    assert_non_null(d->msg);
    return d->msg;
}

/* Decoding text fails with OTC_EINVAL and a message containing want. */
static void expect_error(const ProtobufCMessageDescriptor *desc, const char *text,
                         const char *want)
{
    struct decoded d;

    decode(&d, desc, text);
    if (d.rc != OTC_EINVAL || strstr(d.err, want) == NULL) {
        print_error("input: %.200s\nrc %d, error \"%s\", want \"%s\"\n", text, d.rc, d.err, want);
    }
    assert_int_equal(d.rc, OTC_EINVAL);
    assert_non_null(strstr(d.err, want));
    assert_null(d.msg);
    decoded_free(&d);
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *p;

    *len = protobuf_c_message_get_packed_size(m);
    p = malloc(*len ? *len : 1);
    assert_non_null(p);
    protobuf_c_message_pack(m, p);
    return p;
}

static char *encode(const ProtobufCMessage *m)
{
    struct otc_buf b;
    char *s;

    otc_buf_init(&b);
    assert_int_equal(otc_json_encode(m, &b), OTC_OK);
    s = strdup(b.data ? b.data : "");
    otc_buf_free(&b);
    return s;
}

/* decode(text) -> encode -> decode again: both decodes pack to the same bytes,
 * and encoding is a fixed point from the first encode on. */
static void expect_round_trip(const ProtobufCMessageDescriptor *desc, const char *text)
{
    struct decoded a, b;
    char *ja, *jb;
    uint8_t *pa, *pb;
    size_t la, lb;

    decode_ok(&a, desc, text);
    ja = encode(a.msg);
    decode_ok(&b, desc, ja);
    jb = encode(b.msg);
    assert_string_equal(ja, jb);
    pa = pack(a.msg, &la);
    pb = pack(b.msg, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    free(pa);
    free(pb);
    free(ja);
    free(jb);
    decoded_free(&a);
    decoded_free(&b);
}

/* ---- round trips --------------------------------------------------------- */

/* Protobuf bytes -> message -> OTLP/JSON -> message -> the same bytes. */
static void test_round_trip_traces(void **state)
{
    size_t len, len2;
    uint8_t *bytes = otc_test_traces_bytes(25, 6, 42, &len);
    ProtobufCMessage *orig;
    struct decoded d;
    uint8_t *again;
    char *json;

    (void)state;
    orig = protobuf_c_message_unpack(TRACES, NULL, len, bytes);
    assert_non_null(orig);
    json = encode(orig);
    assert_non_null(strstr(json, "\"traceId\":\""));
    decode_ok(&d, TRACES, json);
    again = pack(d.msg, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(bytes, again, len);
    assert_int_equal(otc_request_count_items(OTC_TRACES, d.msg), 25);
    free(again);
    free(json);
    decoded_free(&d);
    protobuf_c_message_free_unpacked(orig, NULL);
    free(bytes);
}

static const char METRICS_DOC[] =
    "{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
    "\"value\":{\"stringValue\":\"svc\"}}]},\"scopeMetrics\":[{\"scope\":{\"name\":\"lib\","
    "\"version\":\"1.0\"},\"metrics\":["
    /* gauge: asInt as a string, asDouble, exemplar with hex ids */
    "{\"name\":\"g\",\"unit\":\"ms\",\"gauge\":{\"dataPoints\":["
    "{\"timeUnixNano\":\"1700000000000000000\",\"asInt\":\"-9223372036854775808\"},"
    "{\"timeUnixNano\":1700000000000000001,\"asDouble\":2.5,\"exemplars\":[{"
    "\"timeUnixNano\":\"5\",\"asDouble\":1.5,\"spanId\":\"0102030405060708\","
    "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\"}]}]}},"
    /* sum */
    "{\"name\":\"s\",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,"
    "\"dataPoints\":[{\"asInt\":\"42\",\"flags\":1}]}},"
    /* histogram: sum/min/max one-member oneofs, a zero min must stay present */
    "{\"name\":\"h\",\"histogram\":{\"aggregationTemporality\":1,\"dataPoints\":[{"
    "\"count\":\"6\",\"sum\":42.5,\"bucketCounts\":[\"1\",\"2\",\"3\"],"
    "\"explicitBounds\":[1,10.5],\"min\":0,\"max\":20}]}},"
    /* exponential histogram: negative scale and offset */
    "{\"name\":\"e\",\"exponentialHistogram\":{\"aggregationTemporality\":1,\"dataPoints\":[{"
    "\"count\":\"7\",\"sum\":-1.25,\"scale\":-2,\"zeroCount\":\"1\",\"positive\":{"
    "\"offset\":-3,\"bucketCounts\":[\"1\",\"2\"]},\"negative\":{\"offset\":2,"
    "\"bucketCounts\":[\"3\"]},\"min\":-9,\"max\":8,\"zeroThreshold\":0.001}]}},"
    /* summary */
    "{\"name\":\"q\",\"summary\":{\"dataPoints\":[{\"count\":\"10\",\"sum\":99.5,"
    "\"quantileValues\":[{\"quantile\":0.5,\"value\":4},{\"quantile\":0.99,\"value\":9.5}]}]}}"
    "]}]}]}";

static void test_round_trip_metrics(void **state)
{
    struct decoded d;
    otc_metrics_req *r;
    otc_metric **m;
    NumberPoint *np;
    HistogramPoint *hp;
    ExpPoint *ep;
    SummaryPoint *sp;

    (void)state;
    r = (otc_metrics_req *)decode_ok(&d, METRICS, METRICS_DOC);
    assert_int_equal(r->n_resource_metrics, 1);
    assert_string_equal(r->resource_metrics[0]->resource->attributes[0]->value->string_value,
                        "svc");
    assert_int_equal(r->resource_metrics[0]->scope_metrics[0]->n_metrics, 5);
    m = r->resource_metrics[0]->scope_metrics[0]->metrics;
    assert_string_equal(r->resource_metrics[0]->scope_metrics[0]->scope->version, "1.0");

    assert_int_equal(m[0]->data_case, MDATA(GAUGE));
    np = m[0]->gauge->data_points[0];
    assert_int_equal(np->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
    assert_true(np->as_int == INT64_MIN);
    assert_true(np->time_unix_nano == 1700000000000000000ull);
    np = m[0]->gauge->data_points[1];
    assert_true(np->time_unix_nano == 1700000000000000001ull); /* a JSON number, exact */
    assert_true(np->as_double == 2.5);
    assert_int_equal(np->exemplars[0]->span_id.len, 8);
    assert_int_equal(np->exemplars[0]->trace_id.len, 16);
    assert_int_equal(np->exemplars[0]->trace_id.data[15], 0x10);

    assert_int_equal(m[1]->data_case, MDATA(SUM));
    assert_int_equal(m[1]->sum->aggregation_temporality, 2);
    assert_true(m[1]->sum->is_monotonic);
    assert_true(m[1]->sum->data_points[0]->as_int == 42);
    assert_int_equal(m[1]->sum->data_points[0]->flags, 1);

    assert_int_equal(m[2]->data_case, MDATA(HISTOGRAM));
    hp = m[2]->histogram->data_points[0];
    assert_int_equal(hp->n_bucket_counts, 3);
    assert_true(hp->bucket_counts[2] == 3);
    assert_int_equal(hp->n_explicit_bounds, 2);
    assert_true(hp->explicit_bounds[1] == 10.5);
    assert_int_not_equal(hp->min__case, 0); /* present though 0 */
    assert_true(hp->min == 0.0 && hp->max == 20.0 && hp->sum == 42.5);

    assert_int_equal(m[3]->data_case, MDATA(EXPONENTIAL_HISTOGRAM));
    ep = m[3]->exponential_histogram->data_points[0];
    assert_int_equal(ep->scale, -2);
    assert_int_equal(ep->positive->offset, -3);
    assert_true(ep->negative->bucket_counts[0] == 3);
    assert_true(ep->zero_threshold == 0.001);

    assert_int_equal(m[4]->data_case, MDATA(SUMMARY));
    sp = m[4]->summary->data_points[0];
    assert_int_equal(sp->n_quantile_values, 2);
    assert_true(sp->quantile_values[1]->value == 9.5);
    assert_int_equal(otc_request_count_items(OTC_METRICS, &r->base), 6);
    decoded_free(&d);

    expect_round_trip(METRICS, METRICS_DOC);
}

static const char LOGS_DOC[] =
    "{\"resourceLogs\":[{\"resource\":{},\"scopeLogs\":[{\"scope\":{\"name\":\"l\"},"
    "\"logRecords\":[{\"timeUnixNano\":\"1\",\"observedTimeUnixNano\":2,"
    "\"severityNumber\":13,\"severityText\":\"WARN\",\"body\":{\"kvlistValue\":{\"values\":["
    "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"7\"},"
    "{\"boolValue\":true},{\"doubleValue\":\"NaN\"},{\"bytesValue\":\"AP8=\"}]}}},"
    "{\"key\":\"s\",\"value\":{\"stringValue\":\"caf\\u00e9 \\\"q\\\"\\n\"}}]}},"
    "\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":-5}}],\"droppedAttributesCount\":3,"
    "\"flags\":1,\"traceId\":\"0102030405060708090A0B0C0D0E0F10\",\"spanId\":\"A1B2C3D4E5F60708\","
    "\"eventName\":\"ev\"}]}]}]}";

static void test_round_trip_logs(void **state)
{
    struct decoded d;
    otc_logs_req *r;
    otc_log_record *lr;
    otc_any_value *arr;

    (void)state;
    r = (otc_logs_req *)decode_ok(&d, LOGS, LOGS_DOC);
    lr = r->resource_logs[0]->scope_logs[0]->log_records[0];
    assert_true(lr->time_unix_nano == 1 && lr->observed_time_unix_nano == 2);
    assert_int_equal(lr->severity_number, 13);
    assert_string_equal(lr->severity_text, "WARN");
    assert_int_equal(lr->body->value_case, ANY(KVLIST_VALUE));
    arr = lr->body->kvlist_value->values[0]->value;
    assert_int_equal(arr->value_case, ANY(ARRAY_VALUE));
    assert_int_equal(arr->array_value->n_values, 4);
    assert_true(arr->array_value->values[0]->int_value == 7);
    assert_true(arr->array_value->values[1]->bool_value);
    assert_true(isnan(arr->array_value->values[2]->double_value));
    assert_int_equal(arr->array_value->values[3]->bytes_value.len, 2);
    assert_int_equal(arr->array_value->values[3]->bytes_value.data[1], 0xff);
    assert_string_equal(lr->body->kvlist_value->values[1]->value->string_value,
                        "caf\xc3\xa9 \"q\"\n");
    assert_true(lr->attributes[0]->value->int_value == -5);
    assert_int_equal(lr->dropped_attributes_count, 3);
    assert_int_equal(lr->trace_id.len, 16);
    assert_int_equal(lr->trace_id.data[10], 0x0b); /* upper-case hex */
    assert_int_equal(lr->span_id.data[0], 0xa1);
    decoded_free(&d);

    expect_round_trip(LOGS, LOGS_DOC);
}

/* ---- rules --------------------------------------------------------------- */

static void test_keys_unknown_and_null(void **state)
{
    struct decoded d;
    otc_traces_req *r;
    otc_span *sp;

    (void)state;
    /* proto field names work as well as lowerCamelCase; unknown keys (also
     * nested objects and arrays) and nulls are ignored */
    r = (otc_traces_req *)decode_ok(&d, TRACES,
        "{\"resource_spans\":[{\"futureField\":{\"x\":[1,{\"y\":null}]},\"scope_spans\":[{"
        "\"spans\":[{\"trace_id\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":"
        "\"0102030405060708\",\"parentSpanId\":\"\",\"name\":\"n\",\"kind\":null,"
        "\"start_time_unix_nano\":\"10\",\"endTimeUnixNano\":20,\"unknown\":7,"
        "\"status\":{\"code\":2,\"message\":\"bad\"}}]}]}]}");
    sp = r->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(sp->trace_id.len, 16);
    assert_int_equal(sp->span_id.len, 8);
    assert_int_equal(sp->parent_span_id.len, 0);
    assert_string_equal(sp->name, "n");
    assert_int_equal(sp->kind, 0);
    assert_true(sp->start_time_unix_nano == 10 && sp->end_time_unix_nano == 20);
    assert_int_equal(sp->status->code, 2);
    decoded_free(&d);

    /* an empty object and an empty request */
    decode_ok(&d, TRACES, " {} \n");
    assert_int_equal(((otc_traces_req *)d.msg)->n_resource_spans, 0);
    decoded_free(&d);
}

static void test_integers(void **state)
{
    struct decoded d;
    otc_metrics_req *r;
    NumberPoint *p;

    (void)state;
    r = (otc_metrics_req *)decode_ok(&d, METRICS,
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"dataPoints\":["
        "{\"timeUnixNano\":\"18446744073709551615\",\"asInt\":9223372036854775807},"
        "{\"timeUnixNano\":18446744073709551615,\"asInt\":\"-1\"},"
        "{\"timeUnixNano\":1e3,\"asInt\":-9223372036854775808,\"flags\":\"4294967295\"}"
        "]}}]}]}]}");
    p = r->resource_metrics[0]->scope_metrics[0]->metrics[0]->sum->data_points[0];
    assert_true(p->time_unix_nano == UINT64_MAX);
    assert_true(p->as_int == INT64_MAX);
    p = r->resource_metrics[0]->scope_metrics[0]->metrics[0]->sum->data_points[1];
    assert_true(p->time_unix_nano == UINT64_MAX);
    assert_true(p->as_int == -1);
    p = r->resource_metrics[0]->scope_metrics[0]->metrics[0]->sum->data_points[2];
    assert_true(p->time_unix_nano == 1000); /* an integral number in exponent form */
    assert_true(p->as_int == INT64_MIN);
    assert_true(p->flags == UINT32_MAX);
    decoded_free(&d);
}

static void test_doubles_and_enums(void **state)
{
    struct decoded d;
    otc_metrics_req *r;
    otc_traces_req *t;
    otc_logs_req *l;
    otc_metric *m;

    (void)state;
    r = (otc_metrics_req *)decode_ok(&d, METRICS,
        "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":["
        "{\"asDouble\":\"NaN\"},{\"asDouble\":\"Infinity\"},{\"asDouble\":\"-Infinity\"},"
        "{\"asDouble\":\"1.25\"},{\"asDouble\":-0.0},{\"asDouble\":7},{\"asDouble\":1e308}"
        "]}},{\"sum\":{\"aggregationTemporality\":\"AGGREGATION_TEMPORALITY_CUMULATIVE\"}}]}]}]}");
    m = r->resource_metrics[0]->scope_metrics[0]->metrics[0];
    assert_true(isnan(m->gauge->data_points[0]->as_double));
    assert_true(isinf(m->gauge->data_points[1]->as_double) &&
                m->gauge->data_points[1]->as_double > 0);
    assert_true(isinf(m->gauge->data_points[2]->as_double) &&
                m->gauge->data_points[2]->as_double < 0);
    assert_true(m->gauge->data_points[3]->as_double == 1.25);
    assert_true(m->gauge->data_points[4]->as_double == 0.0 &&
                signbit(m->gauge->data_points[4]->as_double));
    assert_true(m->gauge->data_points[5]->as_double == 7.0);
    assert_true(m->gauge->data_points[6]->as_double == 1e308);
    assert_int_equal(m->gauge->data_points[6]->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    m = r->resource_metrics[0]->scope_metrics[0]->metrics[1];
    assert_int_equal(m->sum->aggregation_temporality, 2);
    decoded_free(&d);

    t = (otc_traces_req *)decode_ok(&d, TRACES,
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"kind\":\"SPAN_KIND_CONSUMER\","
        "\"status\":{\"code\":\"STATUS_CODE_ERROR\"}},{\"kind\":3}]}]}]}");
    assert_int_equal(t->resource_spans[0]->scope_spans[0]->spans[0]->kind, 5);
    assert_int_equal(t->resource_spans[0]->scope_spans[0]->spans[0]->status->code, 2);
    assert_int_equal(t->resource_spans[0]->scope_spans[0]->spans[1]->kind, 3);
    decoded_free(&d);

    l = (otc_logs_req *)decode_ok(&d, LOGS,
        "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"severityNumber\":"
        "\"SEVERITY_NUMBER_FATAL\",\"body\":{\"bytesValue\":\"-_8\"}},"
        "{\"body\":{\"bytesValue\":\"\"}}]}]}]}");
    assert_int_equal(l->resource_logs[0]->scope_logs[0]->log_records[0]->severity_number, 21);
    /* URL-safe base64 without padding: 0xfb 0xff */
    assert_int_equal(l->resource_logs[0]->scope_logs[0]->log_records[0]->body->bytes_value.len, 2);
    assert_int_equal(l->resource_logs[0]->scope_logs[0]->log_records[0]->body->bytes_value.data[0],
                     0xfb);
    /* an empty bytes value is still the set oneof member */
    assert_int_equal(l->resource_logs[0]->scope_logs[0]->log_records[1]->body->value_case,
                     ANY(BYTES_VALUE));
    decoded_free(&d);
}

/* ---- errors -------------------------------------------------------------- */

#define SPAN_AT "resourceSpans[0].scopeSpans[0].spans[0]"
#define SPAN_DOC(x) "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{" x "}]}]}]}"
#define LOG_DOC(x) "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{" x "}]}]}]}"

static void test_errors(void **state)
{
    (void)state;
    /* not JSON, or not one object */
    expect_error(TRACES, "", "unexpected end");
    expect_error(TRACES, "{\"resourceSpans\":[", "unexpected end");
    expect_error(TRACES, "{\"resourceSpans\":[}", "invalid JSON at offset");
    expect_error(TRACES, "{} {}", "invalid JSON");
    expect_error(TRACES, "[]", "expected a JSON object, got array");
    expect_error(TRACES, "{\"a\" 1}", "invalid JSON");
    expect_error(TRACES, SPAN_DOC("\"name\":\"\xff\xfe\""), "invalid JSON");
    /* types */
    expect_error(TRACES, "{\"resourceSpans\":{}}", "resourceSpans: expected an array, got object");
    expect_error(TRACES, "{\"resourceSpans\":[3]}", "resourceSpans[0]: expected an object, got int");
    expect_error(TRACES, "{\"resourceSpans\":[null]}", "resourceSpans[0]: null is not allowed");
    expect_error(TRACES, SPAN_DOC("\"name\":5"), SPAN_AT ".name: expected a string, got int");
    expect_error(TRACES, SPAN_DOC("\"status\":{\"message\":true}"),
                 SPAN_AT ".status.message: expected a string, got boolean");
    expect_error(LOGS, LOG_DOC("\"body\":{\"boolValue\":1}"),
                 "logRecords[0].body.boolValue: expected true or false, got int");
    /* ids and bytes */
    expect_error(TRACES, SPAN_DOC("\"traceId\":\"0g\""), SPAN_AT ".traceId: invalid hex id");
    expect_error(TRACES, SPAN_DOC("\"spanId\":\"abc\""), SPAN_AT ".spanId: hex id has an odd");
    expect_error(TRACES, SPAN_DOC("\"parentSpanId\":12"), SPAN_AT ".parentSpanId: expected a string");
    expect_error(LOGS, LOG_DOC("\"body\":{\"bytesValue\":\"a*==\"}"), "invalid base64 character");
    expect_error(LOGS, LOG_DOC("\"body\":{\"bytesValue\":\"abcde\"}"), "invalid base64 length");
    /* integers */
    expect_error(TRACES, SPAN_DOC("\"startTimeUnixNano\":\"-1\""),
                 SPAN_AT ".startTimeUnixNano: -1 is out of range");
    expect_error(TRACES, SPAN_DOC("\"startTimeUnixNano\":\"18446744073709551616\""),
                 "is out of range");
    expect_error(TRACES, SPAN_DOC("\"startTimeUnixNano\":\"12abc\""), "is not an integer");
    expect_error(TRACES, SPAN_DOC("\"startTimeUnixNano\":1.5"), "is not an integer");
    expect_error(TRACES, SPAN_DOC("\"startTimeUnixNano\":\"\""), "is not an integer");
    expect_error(TRACES, SPAN_DOC("\"droppedAttributesCount\":4294967296"), "is out of range");
    expect_error(LOGS, LOG_DOC("\"body\":{\"intValue\":\"9223372036854775808\"}"),
                 "body.intValue: 9223372036854775808 is out of range");
    expect_error(LOGS, LOG_DOC("\"body\":{\"intValue\":\"-9223372036854775809\"}"),
                 "is out of range");
    expect_error(LOGS, LOG_DOC("\"body\":{\"intValue\":[]}"), "expected an integer, got array");
    /* doubles */
    expect_error(LOGS, LOG_DOC("\"body\":{\"doubleValue\":\"nan\"}"), "\"nan\" is not a number");
    expect_error(LOGS, LOG_DOC("\"body\":{\"doubleValue\":\"1.5x\"}"), "is not a number");
    expect_error(LOGS, LOG_DOC("\"body\":{\"doubleValue\":true}"), "expected a number, got boolean");
    /* enums */
    expect_error(TRACES, SPAN_DOC("\"kind\":\"SPAN_KIND_NOPE\""),
                 SPAN_AT ".kind: unknown enum value \"SPAN_KIND_NOPE\"");
    expect_error(TRACES, SPAN_DOC("\"kind\":2147483648"), "is out of range");
    /* oneofs: two members of AnyValue's value */
    expect_error(LOGS, LOG_DOC("\"body\":{\"stringValue\":\"a\",\"intValue\":1}"),
                 "body.intValue: more than one member of a oneof is set");
}

/* AnyValue nesting deeper than OTC_JSON_MAX_DEPTH messages gets one clear
 * error, and so does plain JSON nesting in an unknown field. */
static void test_depth(void **state)
{
    struct otc_buf b;
    struct decoded d;
    int levels;

    (void)state;
    for (levels = 10; levels <= 200; levels += 190) {
        otc_buf_init(&b);
        otc_buf_adds(&b, "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":");
        for (int i = 0; i < levels; i++) {
            otc_buf_adds(&b, "{\"arrayValue\":{\"values\":[");
        }
        otc_buf_adds(&b, "{\"intValue\":\"1\"}");
        for (int i = 0; i < levels; i++) {
            otc_buf_adds(&b, "]}}");
        }
        otc_buf_adds(&b, "}]}]}]}");
        decode(&d, LOGS, b.data);
        if (levels == 10) {
            assert_int_equal(d.rc, OTC_OK);
        } else {
            assert_int_equal(d.rc, OTC_EINVAL);
            assert_non_null(strstr(d.err, "nesting deeper than 128 levels"));
        }
        decoded_free(&d);
        otc_buf_free(&b);
    }

    otc_buf_init(&b);
    otc_buf_adds(&b, "{\"unknown\":");
    for (int i = 0; i < 10000; i++) {
        otc_buf_addc(&b, '[');
    }
    otc_buf_adds(&b, "}");
    expect_error(TRACES, b.data, "nesting deeper than 128 levels");
    otc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_traces),
        cmocka_unit_test(test_round_trip_metrics),
        cmocka_unit_test(test_round_trip_logs),
        cmocka_unit_test(test_keys_unknown_and_null),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_doubles_and_enums),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_depth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
