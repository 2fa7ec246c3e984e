/* test_pb_check.c - unit tests for the receivers' per-request checks
 * (core/pb_check.c): entry counting on serialized requests, UTF-8 validation
 * and repair of decoded string fields. Single-threaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_builder.h"
#include "otc/otc_arena.h"
#include "otc/otc_batch.h"
#include "otc/otc_otlp.h"
#include "otc/otc_pb_check.h"
#include "otc/otc_rc.h"

#define FFFD "\xef\xbf\xbd"

static void test_count_traces(void **state)
{
    size_t len, n = 0;
    uint8_t *buf = otc_test_traces_bytes(50, 3, 7, &len);

    (void)state;
    assert_int_equal(otc_pb_count_entries(OTC_TRACES, buf, len, 0, &n), OTC_OK);
    assert_int_equal(n, 52); /* 1 resource + 1 scope + 50 spans; attributes not counted */
    assert_int_equal(otc_pb_count_entries(OTC_TRACES, buf, len, 52, &n), OTC_OK);
    assert_int_equal(otc_pb_count_entries(OTC_TRACES, buf, len, 51, &n), OTC_ELIMIT);
    assert_int_equal(n, 52);
    /* truncated bytes: the count stops early, unpack is left to refuse them */
    assert_int_equal(otc_pb_count_entries(OTC_TRACES, buf, len / 2, 0, &n), OTC_OK);
    assert_true(n <= 52);
    assert_int_equal(otc_pb_count_entries(OTC_TRACES, NULL, 0, 1, &n), OTC_OK);
    assert_int_equal(n, 0);
    free(buf);
}

/* Many empty spans: 2 bytes each on the wire. */
static void test_count_tiny_spans(void **state)
{
    size_t spans = 100000, len = 0, n = 0;
    uint8_t *buf = malloc(spans * 2 + 32), *p;

    (void)state;
    /* ResourceSpans { ScopeSpans { spans: {} x N } }: lengths as varints */
    p = buf + 16;
    for (size_t i = 0; i < spans; i++) {
        *p++ = 0x12;
        *p++ = 0x00;
    }
    len = (size_t)(p - (buf + 16));
    {
        uint8_t hdr[16];
        size_t h = 0, inner = len, outer;

        /* scope: tag 0x12 + varint(inner) */
        hdr[h++] = 0x12;
        for (size_t v = inner; ; v >>= 7) {
            hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            if (v <= 0x7f) {
                break;
            }
        }
        outer = inner + h;
        {
            uint8_t top[8];
            size_t t = 0;

            top[t++] = 0x0a;
            for (size_t v = outer; ; v >>= 7) {
                top[t++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                if (v <= 0x7f) {
                    break;
                }
            }
            assert_true(t + h <= 16);
            memcpy(buf + 16 - h - t, top, t);
            memcpy(buf + 16 - h, hdr, h);
            assert_int_equal(otc_pb_count_entries(OTC_TRACES, buf + 16 - h - t, len + h + t, 0,
                                                  &n), OTC_OK);
            assert_int_equal(n, spans + 2);
            assert_int_equal(otc_pb_count_entries(OTC_TRACES, buf + 16 - h - t, len + h + t,
                                                  1000, &n), OTC_ELIMIT);
            assert_int_equal(n, 1001); /* stopped as soon as the limit was passed */
        }
    }
    free(buf);
}

static void test_count_metrics(void **state)
{
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint dp[5];
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *g_dp[3] = {&dp[0], &dp[1], &dp[2]};
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *s_dp[2] = {&dp[3], &dp[4]};
    Opentelemetry__Proto__Metrics__V1__Gauge gauge = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    Opentelemetry__Proto__Metrics__V1__Sum sum = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    otc_metric m[2] = {OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT,
                       OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT};
    otc_metric *mp[2] = {&m[0], &m[1]};
    otc_scope_metrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    otc_scope_metrics *smp = &sm;
    otc_resource_metrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    otc_resource_metrics *rmp = &rm;
    otc_metrics_req req = OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    uint8_t buf[1024];
    size_t len, n = 0;

    (void)state;
    for (int i = 0; i < 5; i++) {
        opentelemetry__proto__metrics__v1__number_data_point__init(&dp[i]);
        dp[i].time_unix_nano = 1000 + (uint64_t)i;
        dp[i].value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        dp[i].as_int = i;
    }
    gauge.n_data_points = 3;
    gauge.data_points = g_dp;
    sum.n_data_points = 2;
    sum.data_points = s_dp;
    m[0].name = "g";
    m[0].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m[0].gauge = &gauge;
    m[1].name = "s";
    m[1].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m[1].sum = &sum;
    sm.n_metrics = 2;
    sm.metrics = mp;
    rm.n_scope_metrics = 1;
    rm.scope_metrics = &smp;
    req.n_resource_metrics = 1;
    req.resource_metrics = &rmp;
    assert_true(protobuf_c_message_get_packed_size(&req.base) <= sizeof(buf));
    len = protobuf_c_message_pack(&req.base, buf);
    assert_int_equal(otc_pb_count_entries(OTC_METRICS, buf, len, 0, &n), OTC_OK);
    assert_int_equal(n, 1 + 1 + 2 + 5);
    assert_int_equal(otc_pb_count_entries(OTC_METRICS, buf, len, 8, &n), OTC_ELIMIT);
    /* the same bytes read as logs: only resources and scopes match the layout */
    assert_int_equal(otc_pb_count_entries(OTC_LOGS, buf, len, 0, &n), OTC_OK);
    assert_int_equal(n, 1 + 1 + 2);
}

/* A traces batch with a bad span name, a bad attribute key and string value,
 * and an int attribute (a oneof member that is not a string). */
static struct otc_batch *bad_batch(void)
{
    struct otc_batch *b = otc_test_traces_batch(2, 2, 3);
    otc_traces_req *r = (otc_traces_req *)otc_batch_msg_mut(b);
    otc_span *sp = r->resource_spans[0]->scope_spans[0]->spans[0];

    sp->name = "a\xff\xc0\x80z";                      /* 3 stray bytes */
    sp->attributes[0]->key = "k\xed\xa0\x80";          /* a surrogate */
    sp->attributes[0]->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    sp->attributes[0]->value->string_value = "ok \xf0\x9f\x98\x80 \xf4\x90\x80\x80"; /* > U+10FFFF */
    sp->attributes[1]->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    sp->attributes[1]->value->int_value = 0x41414141deadbeefLL; /* read as a pointer would crash */
    return b;
}

static void test_utf8_valid_and_repair(void **state)
{
    struct otc_batch *b;
    otc_traces_req *r;
    otc_span *sp;
    bool enomem = true;
    const uint8_t *raw;
    size_t raw_len;
    otc_traces_req *back;

    (void)state;
    b = otc_test_traces_batch(3, 4, 1);
    assert_true(otc_pb_utf8_valid(otc_batch_msg(b)));
    assert_int_equal(otc_pb_utf8_repair(otc_batch_msg_mut(b), &b->arena, &enomem), 0);
    assert_false(enomem);
    otc_batch_unref(b);

    b = bad_batch();
    r = (otc_traces_req *)b->msg;
    assert_false(otc_pb_utf8_valid(&r->base));
    assert_int_equal(otc_pb_utf8_repair(&r->base, &b->arena, &enomem), 3);
    assert_false(enomem);
    assert_true(otc_pb_utf8_valid(&r->base));
    sp = r->resource_spans[0]->scope_spans[0]->spans[0];
    assert_string_equal(sp->name, "a" FFFD FFFD FFFD "z");
    assert_string_equal(sp->attributes[0]->key, "k" FFFD FFFD FFFD);
    assert_string_equal(sp->attributes[0]->value->string_value,
                        "ok \xf0\x9f\x98\x80 " FFFD FFFD FFFD FFFD);
    assert_int_equal(sp->attributes[1]->value->int_value, 0x41414141deadbeefLL);
    /* the repaired request encodes, and decodes again */
    assert_int_equal(otc_batch_bytes(b, &raw, &raw_len), OTC_OK);
    back = (otc_traces_req *)protobuf_c_message_unpack(otc_request_descriptor(OTC_TRACES), NULL,
                                                        raw_len, raw);
    assert_non_null(back);
    assert_string_equal(back->resource_spans[0]->scope_spans[0]->spans[0]->name,
                        "a" FFFD FFFD FFFD "z");
    protobuf_c_message_free_unpacked(&back->base, NULL);
    otc_batch_unref(b);
}

/* Long ASCII runs around a bad byte at every offset (the 8-byte fast path). */
static void test_utf8_offsets(void **state)
{
    char s[64];
    struct otc_batch *b = otc_test_traces_batch(1, 0, 5);
    otc_traces_req *r = (otc_traces_req *)otc_batch_msg_mut(b);
    otc_span *sp = r->resource_spans[0]->scope_spans[0]->spans[0];

    (void)state;
    for (size_t at = 0; at < 40; at++) {
        memset(s, 'x', 40);
        s[40] = '\0';
        sp->name = s;
        assert_true(otc_pb_utf8_valid(&r->base));
        s[at] = (char)0x80;
        assert_false(otc_pb_utf8_valid(&r->base));
        assert_int_equal(otc_pb_utf8_repair(&r->base, &b->arena, NULL), 1);
        assert_int_equal(strlen(sp->name), 42);
        assert_memory_equal(sp->name + at, FFFD, 3);
    }
    otc_batch_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_traces),
        cmocka_unit_test(test_count_tiny_spans),
        cmocka_unit_test(test_count_metrics),
        cmocka_unit_test(test_utf8_valid_and_repair),
        cmocka_unit_test(test_utf8_offsets),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
