/* test_batch.c - unit tests for batches (core/batch.c): decoding, item counting
 * for every signal and metric type, serialized bytes, reference counting and copy on write. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_builder.h"
#include "otc/otc_batch.h"
#include "otc/otc_otlp.h"
#include "otc/otc_rc.h"

typedef Opentelemetry__Proto__Metrics__V1__Gauge                        Gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum                          Sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram                    Histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram         ExpHistogram;
typedef Opentelemetry__Proto__Metrics__V1__Summary                      Summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint              NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint           HistogramPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint             SummaryPoint;
typedef Opentelemetry__Proto__Common__V1__AnyValue                      AnyValue;

#define METRIC_DATA(c) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##c

static const otc_traces_req *traces_of(struct otc_batch *b)
{
    return (const otc_traces_req *)otc_batch_msg(b);
}

static otc_span *first_span(ProtobufCMessage *m)
{
    otc_traces_req *r = (otc_traces_req *)m;

    return r->resource_spans[0]->scope_spans[0]->spans[0];
}

/* ------------------------------------------------------------ traces */

static void test_from_bytes_decode(void **state)
{
    size_t len;
    uint8_t *bytes = otc_test_traces_bytes(12, 2, 3, &len);
    struct otc_batch *b;
    const otc_traces_req *r;

    (void)state;
    assert_non_null(bytes);
    b = otc_batch_from_bytes(OTC_TRACES, bytes, len);
    assert_non_null(b);
    assert_int_equal(b->signal, OTC_TRACES);
    assert_int_equal(atomic_load(&b->refs), 1);
    assert_null(b->msg);         /* decoding is lazy */
    assert_ptr_not_equal(b->raw, bytes); /* the batch holds its own copy */
    assert_int_equal(b->raw_len, len);
    free(bytes);                 /* the batch must not depend on the caller's buffer */
    assert_int_equal(otc_batch_decode(b), OTC_OK);
    assert_int_equal(b->items, 12);
    r = traces_of(b);
    assert_non_null(r);
    assert_ptr_equal(r, b->msg);
    assert_int_equal(r->resource_spans[0]->scope_spans[0]->n_spans, 12);
    assert_string_equal(r->resource_spans[0]->scope_spans[0]->spans[11]->name, "span-11-3");
    /* decoding again is a no-op */
    assert_int_equal(otc_batch_decode(b), OTC_OK);
    assert_ptr_equal(b->msg, r);
    assert_int_equal(otc_request_count_items(OTC_TRACES, b->msg), 12);
    otc_batch_unref(b);
}

static void test_malformed_bytes(void **state)
{
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    /* field 1 (resource_spans), length 100, but only 2 bytes follow */
    static const uint8_t short_len[] = {0x0a, 0x64, 0x01, 0x02};
    size_t len;
    uint8_t *bytes = otc_test_traces_bytes(3, 1, 1, &len);
    struct otc_batch *b;

    (void)state;
    b = otc_batch_from_bytes(OTC_TRACES, garbage, sizeof(garbage));
    assert_non_null(b);
    assert_int_equal(otc_batch_decode(b), OTC_EINVAL);
    assert_null(otc_batch_msg(b));
    assert_null(otc_batch_msg_mut(b));
    otc_batch_unref(b);

    b = otc_batch_from_bytes(OTC_METRICS, short_len, sizeof(short_len));
    assert_non_null(b);
    assert_int_equal(otc_batch_decode(b), OTC_EINVAL);
    otc_batch_unref(b);

    /* a valid request cut short by one byte */
    assert_non_null(bytes);
    b = otc_batch_from_bytes(OTC_TRACES, bytes, len - 1);
    assert_non_null(b);
    assert_int_equal(otc_batch_decode(b), OTC_EINVAL);
    assert_int_equal(b->items, 0);
    otc_batch_unref(b);
    free(bytes);
}

static void test_empty_request(void **state)
{
    (void)state;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        struct otc_batch *b = otc_batch_from_bytes((enum otc_signal)s, "", 0);
        const uint8_t *data;
        size_t len = 99;

        assert_non_null(b);
        assert_int_equal(b->raw_len, 0);
        assert_int_equal(otc_batch_decode(b), OTC_OK);
        assert_non_null(b->msg);
        assert_ptr_equal(b->msg->descriptor, otc_request_descriptor((enum otc_signal)s));
        assert_int_equal(b->items, 0);
        assert_int_equal(otc_batch_bytes(b, &data, &len), OTC_OK);
        assert_int_equal(len, 0);
        otc_batch_unref(b);
    }
}

/* Unchanged batches hand out exactly the bytes they received. */
static void test_bytes_unchanged(void **state)
{
    size_t len, out_len;
    uint8_t *bytes = otc_test_traces_bytes(5, 2, 9, &len);
    struct otc_batch *b;
    const uint8_t *raw, *out;

    (void)state;
    b = otc_batch_from_bytes(OTC_TRACES, bytes, len);
    assert_non_null(b);
    raw = b->raw;
    assert_int_equal(otc_batch_bytes(b, &out, &out_len), OTC_OK);
    assert_ptr_equal(out, raw);
    assert_int_equal(out_len, len);
    /* still the same after decoding and read-only access */
    assert_non_null(otc_batch_msg(b));
    assert_int_equal(otc_batch_bytes(b, &out, &out_len), OTC_OK);
    assert_ptr_equal(out, raw);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, bytes, len);
    otc_batch_unref(b);
    free(bytes);
}

/* After msg_mut the bytes are re-encoded from the changed tree. */
static void test_mutate_reencodes(void **state)
{
    static const char new_name[] = "renamed-span-with-a-longer-name";
    size_t len, out_len;
    uint8_t *bytes = otc_test_traces_bytes(4, 1, 5, &len);
    struct otc_batch *b, *again;
    ProtobufCMessage *m;
    const uint8_t *out;

    (void)state;
    b = otc_batch_from_bytes(OTC_TRACES, bytes, len);
    assert_non_null(b);
    m = otc_batch_msg_mut(b);
    assert_non_null(m);
    assert_false(b->raw_fresh);
    first_span(m)->name = otc_arena_memdup(&b->arena, new_name, sizeof(new_name));
    assert_int_equal(otc_batch_bytes(b, &out, &out_len), OTC_OK);
    assert_true(b->raw_fresh);
    assert_true(out_len > len); /* the name grew by 23 bytes */
    assert_int_equal(out_len, protobuf_c_message_get_packed_size(m));
    assert_ptr_equal(out, b->raw);

    again = otc_batch_from_bytes(OTC_TRACES, out, out_len);
    assert_non_null(again);
    assert_int_equal(otc_batch_decode(again), OTC_OK);
    assert_int_equal(again->items, 4);
    assert_string_equal(traces_of(again)->resource_spans[0]->scope_spans[0]->spans[0]->name,
                        new_name);
    assert_string_equal(traces_of(again)->resource_spans[0]->scope_spans[0]->spans[1]->name,
                        "span-1-5");
    otc_batch_unref(again);

    /* a second call returns the cached encoding */
    {
        const uint8_t *out2;
        size_t len2;
        assert_int_equal(otc_batch_bytes(b, &out2, &len2), OTC_OK);
        assert_ptr_equal(out2, out);
        assert_int_equal(len2, out_len);
    }
    otc_batch_unref(b);
    free(bytes);
}

/* Dropping spans and recounting updates the item count and the bytes. */
static void test_mutate_recount(void **state)
{
    struct otc_batch *b = otc_test_traces_batch(6, 0, 1);
    otc_traces_req *r;
    struct otc_batch *again;
    const uint8_t *out;
    size_t len;

    (void)state;
    assert_non_null(b);
    assert_int_equal(b->items, 6);
    r = (otc_traces_req *)otc_batch_msg_mut(b);
    r->resource_spans[0]->scope_spans[0]->n_spans = 2;
    assert_int_equal(otc_batch_recount(b), 2);
    assert_int_equal(b->items, 2);
    assert_int_equal(otc_batch_bytes(b, &out, &len), OTC_OK);
    again = otc_batch_from_bytes(OTC_TRACES, out, len);
    assert_int_equal(otc_batch_decode(again), OTC_OK);
    assert_int_equal(again->items, 2);
    otc_batch_unref(again);
    otc_batch_unref(b);
}

static void test_ref_unref(void **state)
{
    struct otc_batch *b = otc_test_traces_batch(3, 1, 2);

    (void)state;
    assert_non_null(b);
    assert_int_equal(atomic_load(&b->refs), 1);
    assert_ptr_equal(otc_batch_ref(b), b);
    assert_ptr_equal(otc_batch_ref(b), b);
    assert_int_equal(atomic_load(&b->refs), 3);
    otc_batch_unref(b);
    assert_int_equal(atomic_load(&b->refs), 2);
    /* still fully usable while referenced */
    assert_int_equal(traces_of(b)->resource_spans[0]->scope_spans[0]->n_spans, 3);
    otc_batch_unref(b);
    assert_int_equal(atomic_load(&b->refs), 1);
    otc_batch_unref(b); /* freed here; ASan reports a leak or use after free otherwise */
    otc_batch_unref(NULL);
}

static void test_writable_single_ref(void **state)
{
    struct otc_batch *b = otc_test_traces_batch(3, 1, 2);

    (void)state;
    assert_non_null(b);
    assert_ptr_equal(otc_batch_writable(b), b);
    assert_int_equal(atomic_load(&b->refs), 1);
    otc_batch_unref(b);
}

static void test_writable_shared_copies(void **state)
{
    struct otc_batch *b = otc_test_traces_batch(4, 2, 8);
    struct otc_batch *copy;
    const uint8_t *orig_raw, *out;
    size_t orig_len, out_len;
    uint8_t *orig_bytes;

    (void)state;
    assert_non_null(b);
    b->received_ns = 123456789;
    orig_raw = b->raw;
    orig_len = b->raw_len;
    orig_bytes = malloc(orig_len);
    assert_non_null(orig_bytes);
    memcpy(orig_bytes, orig_raw, orig_len);

    otc_batch_ref(b); /* a second holder, e.g. a read-only exporter */
    copy = otc_batch_writable(b);
    assert_non_null(copy);
    assert_ptr_not_equal(copy, b);
    assert_int_equal(atomic_load(&b->refs), 1);    /* our reference moved to the copy */
    assert_int_equal(atomic_load(&copy->refs), 1);
    assert_int_equal(copy->signal, OTC_TRACES);
    assert_int_equal(copy->items, 4);
    assert_int_equal(copy->received_ns, 123456789);
    assert_non_null(copy->msg);
    assert_ptr_not_equal(copy->msg, b->msg);

    first_span(otc_batch_msg_mut(copy))->name = "changed";
    assert_string_equal(first_span(copy->msg)->name, "changed");
    assert_string_equal(first_span(b->msg)->name, "span-0-8");
    assert_int_equal(otc_batch_bytes(b, &out, &out_len), OTC_OK);
    assert_ptr_equal(out, orig_raw);
    assert_int_equal(out_len, orig_len);
    assert_memory_equal(out, orig_bytes, orig_len);
    assert_int_equal(otc_batch_bytes(copy, &out, &out_len), OTC_OK);
    assert_true(out_len != orig_len || memcmp(out, orig_bytes, orig_len) != 0);

    otc_batch_unref(copy);
    otc_batch_unref(b);
    free(orig_bytes);
}

/* from_msg adopts an arena holding an already decoded request. */
/* A private copy of a shared batch (otc_batch_writable, otc_batch_keep_items)
 * takes the caller's reference: a durable batch (one with release hooks) is
 * adopted by the copy and released with it, any other is released
 * at once. */
static void test_copies_take_the_reference(void **state)
{
    uint8_t keep[10];
    size_t len;
    uint8_t *bytes = otc_test_traces_bytes(10, 2, 1, &len);

    (void)state;
    assert_non_null(bytes);
    for (size_t i = 0; i < 10; i++) {
        keep[i] = i % 2;
    }
    for (int keep_items = 0; keep_items < 2; keep_items++) {
        for (int durable = 0; durable < 2; durable++) {
            struct otc_batch *b = otc_batch_from_bytes(OTC_TRACES, bytes, len), *copy;

            assert_non_null(b);
            b->items = 10;
            b->durable = durable;
            otc_batch_ref(b); /* a second holder */
            copy = keep_items ? otc_batch_keep_items(b, keep, 5) : otc_batch_writable(b);
            assert_non_null(copy);
            assert_ptr_not_equal(copy, b);
            assert_int_equal(copy->durable, durable);
            assert_int_equal(copy->items, keep_items ? 5 : 10);
            assert_int_equal(atomic_load(&b->refs), durable ? 2 : 1);
            otc_batch_unref(copy);
            assert_int_equal(atomic_load(&b->refs), 1);
            otc_batch_unref(b);
        }
    }
    free(bytes);
}

static void count_release(void *arg)
{
    (*(int *)arg)++;
}

/* otc_batch_on_release: each hook runs once, when the last holder frees the
 * batch, also when a private copy (otc_batch_writable, otc_batch_keep_items)
 * took the caller's place; the batch counts as durable from then on. */
static void test_release_hooks(void **state)
{
    uint8_t keep[10];
    size_t len;
    uint8_t *bytes = otc_test_traces_bytes(10, 2, 1, &len);

    (void)state;
    assert_non_null(bytes);
    for (size_t i = 0; i < 10; i++) {
        keep[i] = i % 2;
    }
    for (int how = 0; how < 3; how++) {
        struct otc_batch *b = otc_batch_from_bytes(OTC_TRACES, bytes, len), *copy = NULL;
        int released = 0;

        assert_non_null(b);
        b->items = 10;
        assert_false(b->durable);
        assert_int_equal(otc_batch_on_release(b, count_release, &released), OTC_OK);
        assert_int_equal(otc_batch_on_release(b, count_release, &released), OTC_OK);
        assert_true(b->durable);
        if (how > 0) {
            otc_batch_ref(b); /* a second holder, which then lets go */
            copy = how == 1 ? otc_batch_writable(b) : otc_batch_keep_items(b, keep, 5);
            assert_non_null(copy);
            assert_ptr_not_equal(copy, b);
            assert_true(copy->durable);
        }
        otc_batch_unref(b);
        assert_int_equal(released, copy ? 0 : 2); /* a copy keeps b alive */
        if (copy) {
            otc_batch_unref(copy);
        }
        assert_int_equal(released, 2);
    }
    free(bytes);
}

static void test_from_msg(void **state)
{
    size_t len, out_len;
    uint8_t *bytes = otc_test_traces_bytes(7, 1, 4, &len);
    struct otc_arena a;
    ProtobufCMessage *m;
    struct otc_batch *b;
    const uint8_t *out;

    (void)state;
    otc_arena_init(&a, 0);
    m = protobuf_c_message_unpack(otc_request_descriptor(OTC_TRACES), &a.pb, len, bytes);
    assert_non_null(m);
    b = otc_batch_from_msg(OTC_TRACES, &a, m);
    assert_non_null(b);
    assert_null(a.head); /* the arena moved into the batch */
    assert_ptr_equal(b->arena.pb.allocator_data, &b->arena);
    assert_ptr_equal(b->msg, m);
    assert_int_equal(b->items, 7);
    /* allocations through the batch's allocator land in the batch's arena */
    assert_non_null(b->arena.pb.alloc(b->arena.pb.allocator_data, 64));
    assert_int_equal(otc_batch_bytes(b, &out, &out_len), OTC_OK);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, bytes, len);
    otc_batch_unref(b);
    free(bytes);
}

/* ------------------------------------------------------------ metrics */

static NumberPoint number_points[6];
static NumberPoint *gauge_pts[2] = {&number_points[0], &number_points[1]};
static NumberPoint *sum_pts[3] = {&number_points[2], &number_points[3], &number_points[4]};
static NumberPoint *gauge2_pts[1] = {&number_points[5]};
static HistogramPoint hist_point;
static HistogramPoint *hist_pts[1] = {&hist_point};
static ExpHistogramPoint exp_points[4];
static ExpHistogramPoint *exp_pts[4] = {&exp_points[0], &exp_points[1], &exp_points[2],
                                        &exp_points[3]};
static SummaryPoint summary_points[5];
static SummaryPoint *summary_pts[5] = {&summary_points[0], &summary_points[1],
                                       &summary_points[2], &summary_points[3],
                                       &summary_points[4]};

static Gauge gauge = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
static Gauge gauge2 = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
static Sum sum = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
static Histogram hist = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
static ExpHistogram exphist = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
static Summary summary = OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY__INIT;
static otc_metric metrics[7];
static otc_metric *scope_a_metrics[3] = {&metrics[0], &metrics[1], &metrics[2]};
static otc_metric *scope_b_metrics[3] = {&metrics[3], &metrics[4], &metrics[5]};
static otc_metric *scope_c_metrics[1] = {&metrics[6]};
static otc_scope_metrics scope_metrics[3];
static otc_scope_metrics *rm0_scopes[2] = {&scope_metrics[0], &scope_metrics[1]};
static otc_scope_metrics *rm1_scopes[1] = {&scope_metrics[2]};
static otc_resource_metrics resource_metrics[2];
static otc_resource_metrics *req_rms[2] = {&resource_metrics[0], &resource_metrics[1]};
static otc_metrics_req metrics_req =
    OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;

/* gauge 2 + sum 3 + histogram 1 | exp histogram 4 + summary 5 + no data 0 || gauge 1 = 16 */
static void build_metrics(void)
{
    static const char *const names[7] = {"g", "s", "h", "eh", "sm", "empty", "g2"};
    static const NumberPoint np_init = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    static const HistogramPoint hp_init =
        OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    static const ExpHistogramPoint ep_init =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    static const SummaryPoint sp_init = OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT;
    static const otc_metric m_init = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    static const otc_scope_metrics sm_init = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    static const otc_resource_metrics rm_init =
        OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;

    for (int i = 0; i < 6; i++) {
        number_points[i] = np_init;
        number_points[i].value_case =
            OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        number_points[i].as_int = i;
        number_points[i].time_unix_nano = 1000 + (uint64_t)i;
    }
    hist_point = hp_init;
    hist_point.count = 3;
    for (int i = 0; i < 4; i++) {
        exp_points[i] = ep_init;
        exp_points[i].count = (uint64_t)i;
    }
    for (int i = 0; i < 5; i++) {
        summary_points[i] = sp_init;
        summary_points[i].count = (uint64_t)i + 1;
    }
    gauge.n_data_points = 2;
    gauge.data_points = gauge_pts;
    gauge2.n_data_points = 1;
    gauge2.data_points = gauge2_pts;
    sum.n_data_points = 3;
    sum.data_points = sum_pts;
    hist.n_data_points = 1;
    hist.data_points = hist_pts;
    exphist.n_data_points = 4;
    exphist.data_points = exp_pts;
    summary.n_data_points = 5;
    summary.data_points = summary_pts;
    for (int i = 0; i < 7; i++) {
        metrics[i] = m_init;
        metrics[i].name = (char *)names[i];
    }
    metrics[0].data_case = METRIC_DATA(GAUGE);
    metrics[0].gauge = &gauge;
    metrics[1].data_case = METRIC_DATA(SUM);
    metrics[1].sum = &sum;
    metrics[2].data_case = METRIC_DATA(HISTOGRAM);
    metrics[2].histogram = &hist;
    metrics[3].data_case = METRIC_DATA(EXPONENTIAL_HISTOGRAM);
    metrics[3].exponential_histogram = &exphist;
    metrics[4].data_case = METRIC_DATA(SUMMARY);
    metrics[4].summary = &summary;
    /* metrics[5]: no data */
    metrics[6].data_case = METRIC_DATA(GAUGE);
    metrics[6].gauge = &gauge2;
    for (int i = 0; i < 3; i++) {
        scope_metrics[i] = sm_init;
    }
    scope_metrics[0].n_metrics = 3;
    scope_metrics[0].metrics = scope_a_metrics;
    scope_metrics[1].n_metrics = 3;
    scope_metrics[1].metrics = scope_b_metrics;
    scope_metrics[2].n_metrics = 1;
    scope_metrics[2].metrics = scope_c_metrics;
    resource_metrics[0] = rm_init;
    resource_metrics[0].n_scope_metrics = 2;
    resource_metrics[0].scope_metrics = rm0_scopes;
    resource_metrics[1] = rm_init;
    resource_metrics[1].n_scope_metrics = 1;
    resource_metrics[1].scope_metrics = rm1_scopes;
    metrics_req.n_resource_metrics = 2;
    metrics_req.resource_metrics = req_rms;
}

static void test_metric_point_count_each_type(void **state)
{
    static const size_t want[7] = {2, 3, 1, 4, 5, 0, 1};

    (void)state;
    build_metrics();
    for (int i = 0; i < 7; i++) {
        assert_int_equal(otc_metric_point_count(&metrics[i]), want[i]);
    }
    assert_int_equal(otc_request_count_items(OTC_METRICS, &metrics_req.base), 16);
    /* a metric whose data case is set but the message is absent counts 0 */
    {
        otc_metric m = metrics[1];
        m.sum = NULL;
        assert_int_equal(otc_metric_point_count(&m), 0);
    }
}

/* The same counts after a round trip through bytes and a batch. */
static void test_metrics_batch(void **state)
{
    size_t len = 0;
    uint8_t *bytes;
    struct otc_batch *b;
    const otc_metrics_req *r;

    (void)state;
    build_metrics();
    len = protobuf_c_message_get_packed_size(&metrics_req.base);
    bytes = malloc(len);
    assert_non_null(bytes);
    assert_int_equal(protobuf_c_message_pack(&metrics_req.base, bytes), len);
    b = otc_batch_from_bytes(OTC_METRICS, bytes, len);
    assert_non_null(b);
    assert_int_equal(otc_batch_decode(b), OTC_OK);
    assert_int_equal(b->items, 16);
    r = (const otc_metrics_req *)otc_batch_msg(b);
    assert_int_equal(r->n_resource_metrics, 2);
    assert_int_equal(r->resource_metrics[0]->scope_metrics[1]->metrics[1]->data_case,
                     METRIC_DATA(SUMMARY));
    assert_int_equal(otc_metric_point_count(r->resource_metrics[0]->scope_metrics[1]->metrics[0]),
                     4);
    otc_batch_unref(b);
    free(bytes);
}

/* ------------------------------------------------------------ logs */

static void test_logs_count(void **state)
{
    static const otc_log_record lr_init = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    static const otc_scope_logs sl_init = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    static const otc_resource_logs rl_init = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    otc_log_record recs[7];
    otc_log_record *a_recs[3] = {&recs[0], &recs[1], &recs[2]};
    otc_log_record *c_recs[4] = {&recs[3], &recs[4], &recs[5], &recs[6]};
    AnyValue body = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    otc_scope_logs sl[3];
    otc_scope_logs *rl0_scopes[2] = {&sl[0], &sl[1]};
    otc_scope_logs *rl1_scopes[1] = {&sl[2]};
    otc_resource_logs rl[2];
    otc_resource_logs *rls[2] = {&rl[0], &rl[1]};
    otc_logs_req req = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    struct otc_batch *b;
    uint8_t *bytes;
    size_t len;

    (void)state;
    body.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    body.string_value = "hello";
    for (int i = 0; i < 7; i++) {
        recs[i] = lr_init;
        recs[i].severity_number = (Opentelemetry__Proto__Logs__V1__SeverityNumber)(i + 1);
        recs[i].body = &body;
    }
    for (int i = 0; i < 3; i++) {
        sl[i] = sl_init;
    }
    sl[0].n_log_records = 3;
    sl[0].log_records = a_recs;
    /* sl[1]: a scope without records */
    sl[2].n_log_records = 4;
    sl[2].log_records = c_recs;
    rl[0] = rl_init;
    rl[0].n_scope_logs = 2;
    rl[0].scope_logs = rl0_scopes;
    rl[1] = rl_init;
    rl[1].n_scope_logs = 1;
    rl[1].scope_logs = rl1_scopes;
    req.n_resource_logs = 2;
    req.resource_logs = rls;

    assert_int_equal(otc_request_count_items(OTC_LOGS, &req.base), 7);
    len = protobuf_c_message_get_packed_size(&req.base);
    bytes = malloc(len);
    assert_non_null(bytes);
    protobuf_c_message_pack(&req.base, bytes);
    b = otc_batch_from_bytes(OTC_LOGS, bytes, len);
    assert_non_null(b);
    assert_int_equal(otc_batch_decode(b), OTC_OK);
    assert_int_equal(b->items, 7);
    assert_string_equal(((const otc_logs_req *)b->msg)->resource_logs[1]->scope_logs[0]
                            ->log_records[3]->body->string_value, "hello");
    otc_batch_unref(b);
    free(bytes);
    assert_int_equal(otc_request_count_items(OTC_LOGS, NULL), 0);
}

static void test_descriptors(void **state)
{
    (void)state;
    assert_string_equal(otc_request_descriptor(OTC_TRACES)->short_name,
                        "ExportTraceServiceRequest");
    assert_string_equal(otc_request_descriptor(OTC_METRICS)->short_name,
                        "ExportMetricsServiceRequest");
    assert_string_equal(otc_request_descriptor(OTC_LOGS)->short_name, "ExportLogsServiceRequest");
    assert_string_equal(otc_response_descriptor(OTC_TRACES)->short_name,
                        "ExportTraceServiceResponse");
    assert_string_equal(otc_response_descriptor(OTC_METRICS)->short_name,
                        "ExportMetricsServiceResponse");
    assert_string_equal(otc_response_descriptor(OTC_LOGS)->short_name,
                        "ExportLogsServiceResponse");
    assert_null(otc_response_descriptor(OTC_SIGNAL_COUNT));
    assert_null(otc_request_descriptor(OTC_SIGNAL_COUNT));
}

/* ------------------------------------------------ shared batch, two readers */

/* A batch changed by its sole owner (as the OTLP receiver does when it drops
 * spans with bad ids) is then shared by two exporters on two threads; each
 * asks for the serialized bytes. Both must get the same, valid encoding, and
 * (under ThreadSanitizer) without a data race. */
struct reader {
    struct otc_batch  *b;
    pthread_barrier_t *go;
    const uint8_t     *data;
    size_t             len;
    int                rc;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;

    pthread_barrier_wait(r->go);
    r->rc = otc_batch_bytes(r->b, &r->data, &r->len);
    return NULL;
}

static void test_shared_stale_bytes_two_threads(void **state)
{
    struct otc_batch *b = otc_test_traces_batch(50, 2, 11);
    pthread_barrier_t go;
    struct reader rd[2];
    pthread_t t[2];

    (void)state;
    assert_non_null(b);
    first_span(otc_batch_msg_mut(b))->name = "fixed-by-receiver";
    otc_batch_ref(b); /* fan-out to two exporters */
    assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
    for (int i = 0; i < 2; i++) {
        memset(&rd[i], 0, sizeof(rd[i]));
        rd[i].b = b;
        rd[i].go = &go;
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &rd[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    pthread_barrier_destroy(&go);
    for (int i = 0; i < 2; i++) {
        struct otc_batch *x;
        assert_int_equal(rd[i].rc, OTC_OK);
        x = otc_batch_from_bytes(OTC_TRACES, rd[i].data, rd[i].len);
        assert_int_equal(otc_batch_decode(x), OTC_OK);
        assert_int_equal(x->items, 50);
        assert_string_equal(first_span(x->msg)->name, "fixed-by-receiver");
        otc_batch_unref(x);
    }
    assert_int_equal(rd[0].len, rd[1].len);
    assert_memory_equal(rd[0].data, rd[1].data, rd[0].len);
    otc_batch_unref(b);
    otc_batch_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_bytes_decode),
        cmocka_unit_test(test_malformed_bytes),
        cmocka_unit_test(test_empty_request),
        cmocka_unit_test(test_bytes_unchanged),
        cmocka_unit_test(test_mutate_reencodes),
        cmocka_unit_test(test_mutate_recount),
        cmocka_unit_test(test_ref_unref),
        cmocka_unit_test(test_writable_single_ref),
        cmocka_unit_test(test_writable_shared_copies),
        cmocka_unit_test(test_copies_take_the_reference),
        cmocka_unit_test(test_release_hooks),
        cmocka_unit_test(test_from_msg),
        cmocka_unit_test(test_metric_point_count_each_type),
        cmocka_unit_test(test_metrics_batch),
        cmocka_unit_test(test_logs_count),
        cmocka_unit_test(test_descriptors),
        cmocka_unit_test(test_shared_stale_bytes_two_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
