/* test_truncate.c - unit tests for the truncate processor and its shared
 * helpers (processor/truncate/attr_limits.c): every attribute location of
 * traces, metrics and logs, UTF-8 safe cuts (2-, 3- and 4-byte sequences),
 * arrays and kvlists with the depth bound, max_attributes and
 * dropped_attributes_count, log_body, zero-copy when nothing exceeds a limit,
 * copy on write, config errors. Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_attr_limits.h"
#include "proc_test_util.h"
#include "processor/truncate/truncate.h"

static const struct otc_component_ops *const OPS = &otc_processor_truncate_ops;

typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint              NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint           HistogramPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint             SummaryPoint;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar                     Exemplar;

#define LONG_STR  "0123456789abcdefghij" /* 20 bytes */
#define SHORT_STR "short"
#define MAX_LEN   "8"
#define CUT_STR   "01234567"
#define N_SET     7

/* ------------------------------------------------------------ the test set */

/* The attribute set every location gets:
 * long, short, [long, short, 7], {a: long, b: {c: long}}, bytes(long), 42, "" */
static otc_key_value **make_set(struct otc_arena *a, size_t *n)
{
    otc_any_value *arr[3] = {pt_any_str(a, LONG_STR), pt_any_str(a, SHORT_STR), pt_any_int(a, 7)};
    otc_key_value *inner = pt_kv(a, "c", pt_any_str(a, LONG_STR));
    otc_key_value *kvl[2] = {pt_kv(a, "a", pt_any_str(a, LONG_STR)),
                             pt_kv(a, "b", pt_any_kvlist(a, 1, &inner))};
    otc_key_value *kvs[N_SET] = {
        pt_kv(a, "long.key.is.not.cut.at.all", pt_any_str(a, LONG_STR)),
        pt_kv(a, "short", pt_any_str(a, SHORT_STR)),
        pt_kv(a, "arr", pt_any_array(a, 3, arr)),
        pt_kv(a, "kv", pt_any_kvlist(a, 2, kvl)),
        pt_kv(a, "bytes", pt_any_bytes(a, LONG_STR, 20)),
        pt_kv(a, "int", pt_any_int(a, 42)),
        pt_kv(a, "empty", pt_any_str(a, "")),
    };

    *n = N_SET;
    return pt_attrs(a, N_SET, kvs);
}

/* Check a set after truncation to 8 bytes (cut) or untouched (!cut). */
static void check_set(otc_key_value *const *kvs, size_t n, bool cut, const char *where)
{
    const char *want = cut ? CUT_STR : LONG_STR;
    const otc_any_value *arr, *kv;

    print_message("  checking %s (%s)\n", where, cut ? "cut" : "untouched");
    assert_int_equal(n, N_SET);
    assert_string_equal(kvs[0]->key, "long.key.is.not.cut.at.all");
    assert_string_equal(kvs[0]->value->string_value, want);
    assert_string_equal(kvs[1]->value->string_value, SHORT_STR);
    arr = kvs[2]->value;
    assert_int_equal(arr->array_value->n_values, 3);
    assert_string_equal(arr->array_value->values[0]->string_value, want);
    assert_string_equal(arr->array_value->values[1]->string_value, SHORT_STR);
    assert_int_equal(arr->array_value->values[2]->int_value, 7);
    kv = kvs[3]->value;
    assert_string_equal(kv->kvlist_value->values[0]->value->string_value, want);
    assert_string_equal(
        kv->kvlist_value->values[1]->value->kvlist_value->values[0]->value->string_value, want);
    assert_int_equal(kvs[4]->value->bytes_value.len, 20); /* bytes are never cut */
    assert_int_equal(kvs[5]->value->int_value, 42);
    assert_string_equal(kvs[6]->value->string_value, "");
}

/* A request with the test set at every trace location. */
static otc_traces_req *traces_everywhere(struct otc_arena *a)
{
    otc_traces_req *req = pt_traces(a, 1);
    otc_resource_spans *rs = req->resource_spans[0];
    otc_scope_spans *ss = rs->scope_spans[0];
    uint8_t tid[16] = {1, 2, 3};
    otc_span *sp = pt_span(a, tid, 16, 0);
    PtEvent *ev = pt_alloc(a, sizeof(*ev));
    PtLink *ln = pt_alloc(a, sizeof(*ln));

    rs->resource->attributes = make_set(a, &rs->resource->n_attributes);
    ss->scope->attributes = make_set(a, &ss->scope->n_attributes);
    sp->attributes = make_set(a, &sp->n_attributes);
    opentelemetry__proto__trace__v1__span__event__init(ev);
    ev->name = pt_str(a, "event");
    ev->attributes = make_set(a, &ev->n_attributes);
    opentelemetry__proto__trace__v1__span__link__init(ln);
    ln->trace_id.data = otc_arena_memdup(a, tid, 16);
    ln->trace_id.len = 16;
    ln->attributes = make_set(a, &ln->n_attributes);
    sp->n_events = 1;
    sp->events = pt_alloc(a, sizeof(*sp->events));
    sp->events[0] = ev;
    sp->n_links = 1;
    sp->links = pt_alloc(a, sizeof(*sp->links));
    sp->links[0] = ln;
    ss->spans[0] = sp;
    return req;
}

static Exemplar *make_exemplar(struct otc_arena *a)
{
    Exemplar *e = pt_alloc(a, sizeof(*e));

    opentelemetry__proto__metrics__v1__exemplar__init(e);
    e->filtered_attributes = make_set(a, &e->n_filtered_attributes);
    return e;
}

/* One metric of each of the five types, one point each (with an exemplar where
 * the type has them), the test set on every point and exemplar. */
static otc_metrics_req *metrics_everywhere(struct otc_arena *a)
{
    otc_metrics_req *req = pt_alloc(a, sizeof(*req));
    otc_resource_metrics *rm = pt_alloc(a, sizeof(*rm));
    otc_scope_metrics *sm = pt_alloc(a, sizeof(*sm));

    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    rm->resource = pt_resource(a);
    rm->resource->attributes = make_set(a, &rm->resource->n_attributes);
    sm->scope = pt_scope(a);
    sm->scope->attributes = make_set(a, &sm->scope->n_attributes);
    sm->n_metrics = 5;
    sm->metrics = pt_alloc(a, 5 * sizeof(*sm->metrics));
    for (int i = 0; i < 5; i++) {
        otc_metric *m = pt_alloc(a, sizeof(*m));
        opentelemetry__proto__metrics__v1__metric__init(m);
        m->name = pt_str(a, "m");
        switch (i) {
        case 0:
        case 1: {
            NumberPoint *p = pt_alloc(a, sizeof(*p));
            opentelemetry__proto__metrics__v1__number_data_point__init(p);
            p->attributes = make_set(a, &p->n_attributes);
            p->n_exemplars = 1;
            p->exemplars = pt_alloc(a, sizeof(*p->exemplars));
            p->exemplars[0] = make_exemplar(a);
            if (i == 0) {
                m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
                m->gauge = pt_alloc(a, sizeof(*m->gauge));
                opentelemetry__proto__metrics__v1__gauge__init(m->gauge);
                m->gauge->n_data_points = 1;
                m->gauge->data_points = pt_alloc(a, sizeof(NumberPoint *));
                m->gauge->data_points[0] = p;
            } else {
                m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
                m->sum = pt_alloc(a, sizeof(*m->sum));
                opentelemetry__proto__metrics__v1__sum__init(m->sum);
                m->sum->n_data_points = 1;
                m->sum->data_points = pt_alloc(a, sizeof(NumberPoint *));
                m->sum->data_points[0] = p;
            }
            break;
        }
        case 2: {
            HistogramPoint *p = pt_alloc(a, sizeof(*p));
            opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
            p->attributes = make_set(a, &p->n_attributes);
            p->n_exemplars = 1;
            p->exemplars = pt_alloc(a, sizeof(*p->exemplars));
            p->exemplars[0] = make_exemplar(a);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
            m->histogram = pt_alloc(a, sizeof(*m->histogram));
            opentelemetry__proto__metrics__v1__histogram__init(m->histogram);
            m->histogram->n_data_points = 1;
            m->histogram->data_points = pt_alloc(a, sizeof(HistogramPoint *));
            m->histogram->data_points[0] = p;
            break;
        }
        case 3: {
            ExpPoint *p = pt_alloc(a, sizeof(*p));
            opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
            p->attributes = make_set(a, &p->n_attributes);
            p->n_exemplars = 1;
            p->exemplars = pt_alloc(a, sizeof(*p->exemplars));
            p->exemplars[0] = make_exemplar(a);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
            m->exponential_histogram = pt_alloc(a, sizeof(*m->exponential_histogram));
            opentelemetry__proto__metrics__v1__exponential_histogram__init(m->exponential_histogram);
            m->exponential_histogram->n_data_points = 1;
            m->exponential_histogram->data_points = pt_alloc(a, sizeof(ExpPoint *));
            m->exponential_histogram->data_points[0] = p;
            break;
        }
        default: {
            SummaryPoint *p = pt_alloc(a, sizeof(*p));
            opentelemetry__proto__metrics__v1__summary_data_point__init(p);
            p->attributes = make_set(a, &p->n_attributes);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
            m->summary = pt_alloc(a, sizeof(*m->summary));
            opentelemetry__proto__metrics__v1__summary__init(m->summary);
            m->summary->n_data_points = 1;
            m->summary->data_points = pt_alloc(a, sizeof(SummaryPoint *));
            m->summary->data_points[0] = p;
            break;
        }
        }
        sm->metrics[i] = m;
    }
    rm->n_scope_metrics = 1;
    rm->scope_metrics = pt_alloc(a, sizeof(*rm->scope_metrics));
    rm->scope_metrics[0] = sm;
    req->n_resource_metrics = 1;
    req->resource_metrics = pt_alloc(a, sizeof(*req->resource_metrics));
    req->resource_metrics[0] = rm;
    return req;
}

/* Two log records: one with a string body, one with a kvlist body. */
static otc_logs_req *logs_everywhere(struct otc_arena *a)
{
    otc_logs_req *req = pt_logs(a, 2);
    otc_resource_logs *rl = req->resource_logs[0];
    otc_scope_logs *sl = rl->scope_logs[0];
    otc_key_value *bkv = pt_kv(a, "msg", pt_any_str(a, LONG_STR));

    rl->resource->attributes = make_set(a, &rl->resource->n_attributes);
    sl->scope->attributes = make_set(a, &sl->scope->n_attributes);
    for (int i = 0; i < 2; i++) {
        otc_log_record *lr = pt_log(a, NULL, 0, (uint64_t)i);
        lr->attributes = make_set(a, &lr->n_attributes);
        lr->body = i == 0 ? pt_any_str(a, LONG_STR) : pt_any_kvlist(a, 1, &bkv);
        sl->log_records[i] = lr;
    }
    return req;
}

/* Run b through truncate with opts; returns the batch that reached next. */
static struct otc_batch *run(const char *const *opts, struct otc_batch *b)
{
    struct otc_instance ins;
    char err[256];
    struct otc_batch *out;

    assert_int_equal(pt_proc(&ins, OPS, opts, err, sizeof(err)), OTC_OK);
    assert_int_equal(pt_run(&ins, b), OTC_OK);
    assert_int_equal(pt_captured.n, 1);
    out = pt_captured.b[0];
    pt_captured.n = 0; /* the caller unrefs it */
    pt_proc_free(&ins);
    return out;
}

/* The batch's serialized form, decoded again (what an exporter would send). */
static ProtobufCMessage *reencoded(struct otc_batch *b)
{
    const uint8_t *data;
    size_t len;
    ProtobufCMessage *m;

    assert_int_equal(otc_batch_bytes(b, &data, &len), OTC_OK);
    m = protobuf_c_message_unpack(otc_request_descriptor(b->signal), NULL, len, data);
    assert_non_null(m);
    return m;
}

/* ------------------------------------------------------------ tests */

static void check_traces(const otc_traces_req *r, bool cut)
{
    const otc_resource_spans *rs = r->resource_spans[0];
    const otc_scope_spans *ss = rs->scope_spans[0];
    const otc_span *sp = ss->spans[0];

    check_set(rs->resource->attributes, rs->resource->n_attributes, cut, "resource");
    check_set(ss->scope->attributes, ss->scope->n_attributes, cut, "scope");
    check_set(sp->attributes, sp->n_attributes, cut, "span");
    check_set(sp->events[0]->attributes, sp->events[0]->n_attributes, cut, "span event");
    check_set(sp->links[0]->attributes, sp->links[0]->n_attributes, cut, "span link");
}

static void test_trace_locations(void **state)
{
    const char *opts[] = {"max_value_length", MAX_LEN, NULL};
    struct otc_arena a;
    struct otc_batch *b;
    ProtobufCMessage *m;

    otc_arena_init(&a, 1 << 14);
    b = run(opts, pt_batch(OTC_TRACES, &a, &traces_everywhere(&a)->base));
    assert_false(b->raw_fresh);
    check_traces((const otc_traces_req *)otc_batch_msg(b), true);
    m = reencoded(b);
    check_traces((const otc_traces_req *)m, true);
    protobuf_c_message_free_unpacked(m, NULL);
    otc_batch_unref(b);
}

static void check_metrics(const otc_metrics_req *r, bool cut)
{
    const otc_resource_metrics *rm = r->resource_metrics[0];
    const otc_scope_metrics *sm = rm->scope_metrics[0];
    const otc_metric *const *m = (const otc_metric *const *)sm->metrics;

    check_set(rm->resource->attributes, rm->resource->n_attributes, cut, "resource");
    check_set(sm->scope->attributes, sm->scope->n_attributes, cut, "scope");
    check_set(m[0]->gauge->data_points[0]->attributes, m[0]->gauge->data_points[0]->n_attributes,
              cut, "gauge point");
    check_set(m[0]->gauge->data_points[0]->exemplars[0]->filtered_attributes, N_SET, cut,
              "gauge exemplar");
    check_set(m[1]->sum->data_points[0]->attributes, m[1]->sum->data_points[0]->n_attributes, cut,
              "sum point");
    check_set(m[1]->sum->data_points[0]->exemplars[0]->filtered_attributes, N_SET, cut,
              "sum exemplar");
    check_set(m[2]->histogram->data_points[0]->attributes,
              m[2]->histogram->data_points[0]->n_attributes, cut, "histogram point");
    check_set(m[2]->histogram->data_points[0]->exemplars[0]->filtered_attributes, N_SET, cut,
              "histogram exemplar");
    check_set(m[3]->exponential_histogram->data_points[0]->attributes,
              m[3]->exponential_histogram->data_points[0]->n_attributes, cut,
              "exponential histogram point");
    check_set(m[3]->exponential_histogram->data_points[0]->exemplars[0]->filtered_attributes,
              N_SET, cut, "exponential histogram exemplar");
    check_set(m[4]->summary->data_points[0]->attributes,
              m[4]->summary->data_points[0]->n_attributes, cut, "summary point");
}

static void test_metric_locations(void **state)
{
    const char *opts[] = {"max_value_length", MAX_LEN, NULL};
    struct otc_arena a;
    struct otc_batch *b;
    ProtobufCMessage *m;

    otc_arena_init(&a, 1 << 14);
    b = run(opts, pt_batch(OTC_METRICS, &a, &metrics_everywhere(&a)->base));
    check_metrics((const otc_metrics_req *)otc_batch_msg(b), true);
    m = reencoded(b);
    check_metrics((const otc_metrics_req *)m, true);
    protobuf_c_message_free_unpacked(m, NULL);
    otc_batch_unref(b);
}

static void test_log_locations_and_body(void **state)
{
    for (int body = 0; body < 2; body++) {
        const char *opts[] = {"max_value_length", MAX_LEN, "log_body", body ? "true" : "false",
                              NULL};
        struct otc_arena a;
        struct otc_batch *b;
        const otc_logs_req *r;
        const otc_scope_logs *sl;

        otc_arena_init(&a, 1 << 14);
        b = run(opts, pt_batch(OTC_LOGS, &a, &logs_everywhere(&a)->base));
        r = (const otc_logs_req *)otc_batch_msg(b);
        sl = r->resource_logs[0]->scope_logs[0];
        check_set(r->resource_logs[0]->resource->attributes, N_SET, true, "resource");
        check_set(sl->scope->attributes, N_SET, true, "scope");
        for (int i = 0; i < 2; i++) {
            check_set(sl->log_records[i]->attributes, sl->log_records[i]->n_attributes, true,
                      "log record");
        }
        assert_string_equal(sl->log_records[0]->body->string_value, body ? CUT_STR : LONG_STR);
        assert_string_equal(sl->log_records[1]->body->kvlist_value->values[0]->value->string_value,
                            body ? CUT_STR : LONG_STR);
        otc_batch_unref(b);
    }
}

/* A batch within every limit goes on as it came (same object, received bytes). */
static void test_unchanged_is_zero_copy(void **state)
{
    const char *opts[] = {"max_value_length", "20", "max_attributes", "7", NULL};
    const char *opts_off[] = {"max_value_length", "0", NULL};
    struct otc_arena a;
    struct otc_batch *b, *out;

    otc_arena_init(&a, 1 << 14);
    b = pt_batch(OTC_TRACES, &a, &traces_everywhere(&a)->base);
    out = run(opts, b);
    assert_ptr_equal(out, b);
    assert_true(out->raw_fresh);
    if (getenv("OTC_FX_UNDECODED")) {
        assert_false(otc_batch_is_decoded(out)); /* checked on the wire */
    }
    check_traces((const otc_traces_req *)otc_batch_msg(out), false);
    otc_batch_unref(out);

    otc_arena_init(&a, 1 << 14);
    b = pt_batch(OTC_LOGS, &a, &logs_everywhere(&a)->base);
    out = run(opts_off, b); /* 0 = no limit; log_body off */
    assert_ptr_equal(out, b);
    assert_true(out->raw_fresh);
    otc_batch_unref(out);

    /* metrics: every point and exemplar within the limits */
    otc_arena_init(&a, 1 << 14);
    b = pt_batch(OTC_METRICS, &a, &metrics_everywhere(&a)->base);
    out = run(opts, b);
    assert_ptr_equal(out, b);
    assert_true(out->raw_fresh);
    if (getenv("OTC_FX_UNDECODED")) {
        assert_false(otc_batch_is_decoded(out)); /* checked on the wire */
    }
    check_metrics((const otc_metrics_req *)otc_batch_msg(out), false);
    otc_batch_unref(out);

    /* the log body alone exceeds: log_body on changes the batch */
    {
        const char *body_opts[] = {"max_value_length", "20", "log_body", "true", NULL};
        otc_key_value *kv;
        otc_logs_req *req;
        otc_arena_init(&a, 1 << 12);
        req = pt_logs(&a, 1);
        req->resource_logs[0]->scope_logs[0]->log_records[0] = pt_log(&a, NULL, 0, 0);
        kv = pt_kv(&a, "k", pt_any_str(&a, "v"));
        req->resource_logs[0]->scope_logs[0]->log_records[0]->attributes = pt_attrs(&a, 1, &kv);
        req->resource_logs[0]->scope_logs[0]->log_records[0]->n_attributes = 1;
        req->resource_logs[0]->scope_logs[0]->log_records[0]->body =
            pt_any_str(&a, LONG_STR "!");
        out = run(body_opts, pt_batch(OTC_LOGS, &a, &req->base));
        assert_false(out->raw_fresh);
        assert_string_equal(((const otc_logs_req *)otc_batch_msg(out))->resource_logs[0]->scope_logs[0]
                                ->log_records[0]->body->string_value, LONG_STR);
        otc_batch_unref(out);
    }
}

/* One span attribute value cut at max bytes (NULL: the default) through the processor. */
static char *cut_through(const char *value, const char *max, struct otc_batch **keep)
{
    const char *opts[] = {"max_value_length", max, NULL};
    const char *const *use = max ? opts : NULL;
    struct otc_arena a;
    otc_traces_req *req;
    otc_key_value *kv;
    otc_span *sp;
    uint8_t tid[16] = {9};

    otc_arena_init(&a, 1 << 12);
    req = pt_traces(&a, 1);
    sp = pt_span(&a, tid, 16, 0);
    kv = pt_kv(&a, "k", pt_any_str(&a, value));
    sp->attributes = pt_attrs(&a, 1, &kv);
    sp->n_attributes = 1;
    req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
    *keep = run(use, pt_batch(OTC_TRACES, &a, &req->base));
    return ((const otc_traces_req *)otc_batch_msg(*keep))->resource_spans[0]->scope_spans[0]->spans[0]
        ->attributes[0]->value->string_value;
}

static void test_utf8_cut_points(void **state)
{
    static const struct {
        const char *in;
        const char *max;
        const char *want;
    } cases[] = {
        {"abcd\xC3\xA9xyz", "5", "abcd"},               /* 2-byte, cut after its lead */
        {"abcd\xC3\xA9xyz", "6", "abcd\xC3\xA9"},       /* 2-byte, whole */
        {"abc\xE2\x82\xACxyz", "4", "abc"},             /* 3-byte, 1 of 3 */
        {"abc\xE2\x82\xACxyz", "5", "abc"},             /* 3-byte, 2 of 3 */
        {"abc\xE2\x82\xACxyz", "6", "abc\xE2\x82\xAC"}, /* 3-byte, whole */
        {"ab\xF0\x9F\x98\x80xyz", "3", "ab"},           /* 4-byte, 1 of 4 */
        {"ab\xF0\x9F\x98\x80xyz", "4", "ab"},
        {"ab\xF0\x9F\x98\x80xyz", "5", "ab"},           /* 4-byte, 3 of 4 */
        {"ab\xF0\x9F\x98\x80xyz", "6", "ab\xF0\x9F\x98\x80"},
        {"\xF0\x9F\x98\x80", "3", ""},                  /* nothing fits */
        {"abcdef", "3", "abc"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct otc_batch *b;
        char *got = cut_through(cases[i].in, cases[i].max, &b);
        if (strcmp(got, cases[i].want)) {
            fail_msg("case %zu: max %s: got \"%s\"", i, cases[i].max, got);
        }
        otc_batch_unref(b);
    }
}

/* Sequence starts of s, decoded independently of otc_utf8_cut. */
static void test_utf8_cut_exhaustive(void **state)
{
    static const char s[] = "a\xC3\xA9" "b\xE2\x82\xAC" "\xF0\x9F\x98\x80" "cd\xC3\xA9\xE2\x82\xAC"
                            "\xF0\x9F\x98\x80";
    size_t len = sizeof(s) - 1;
    bool start[64] = {false};

    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        start[i] = true;
        i += n;
    }
    start[len] = true;
    for (size_t max = 0; max <= len + 2; max++) {
        size_t want = max >= len ? len : max;
        while (!start[want]) {
            want--;
        }
        assert_int_equal(otc_utf8_cut(s, len, max), want);
    }
}

/* Nested values are cut down to the depth bound and left alone below it. */
static void test_depth_bound(void **state)
{
    const char *opts[] = {"max_value_length", MAX_LEN, NULL};
    const size_t depths[] = {10, OTC_ATTR_MAX_DEPTH, OTC_ATTR_MAX_DEPTH + 1, 200};
    struct otc_arena a;
    otc_traces_req *req;
    otc_span *sp;
    otc_key_value *kvs[4];
    struct otc_batch *b;
    uint8_t tid[16] = {7};

    otc_arena_init(&a, 1 << 16);
    req = pt_traces(&a, 1);
    sp = pt_span(&a, tid, 16, 0);
    for (size_t k = 0; k < 4; k++) {
        otc_any_value *v = pt_any_str(&a, LONG_STR);
        for (size_t d = 0; d < depths[k]; d++) {
            v = pt_any_array(&a, 1, &v);
        }
        kvs[k] = pt_kv(&a, "nested", v);
    }
    sp->attributes = pt_attrs(&a, 4, kvs);
    sp->n_attributes = 4;
    req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
    /* handed over decoded: a receiver's decode may refuse nesting this deep
     * (its own limit), and this test is about the processor's bound */
    b = otc_batch_from_msg(OTC_TRACES, &a, &req->base);
    assert_non_null(b);
    b = run(opts, b);
    sp = ((const otc_traces_req *)otc_batch_msg(b))->resource_spans[0]->scope_spans[0]->spans[0];
    for (size_t k = 0; k < 4; k++) {
        const otc_any_value *v = sp->attributes[k]->value;
        for (size_t d = 0; d < depths[k]; d++) {
            v = v->array_value->values[0];
        }
        print_message("  depth %zu: \"%s\"\n", depths[k], v->string_value);
        assert_string_equal(v->string_value, depths[k] <= OTC_ATTR_MAX_DEPTH ? CUT_STR : LONG_STR);
    }
    otc_batch_unref(b);
}

/* max_attributes keeps the first N of every set and counts the others. */
static void test_max_attributes(void **state)
{
    const char *opts[] = {"max_attributes", "4", "max_value_length", "0", NULL};
    struct otc_arena a;
    otc_traces_req *tr;
    otc_logs_req *lr;
    otc_metrics_req *mr;
    struct otc_batch *b;
    const otc_span *sp;
    const otc_traces_req *t;

    otc_arena_init(&a, 1 << 14);
    tr = traces_everywhere(&a);
    tr->resource_spans[0]->resource->dropped_attributes_count = 1;
    tr->resource_spans[0]->scope_spans[0]->spans[0]->dropped_attributes_count = 5;
    b = run(opts, pt_batch(OTC_TRACES, &a, &tr->base));
    t = (const otc_traces_req *)otc_batch_msg(b);
    sp = t->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(t->resource_spans[0]->resource->n_attributes, 4);
    assert_int_equal(t->resource_spans[0]->resource->dropped_attributes_count, 1 + 3);
    assert_int_equal(t->resource_spans[0]->scope_spans[0]->scope->n_attributes, 4);
    assert_int_equal(t->resource_spans[0]->scope_spans[0]->scope->dropped_attributes_count, 3);
    assert_int_equal(sp->n_attributes, 4);
    assert_int_equal(sp->dropped_attributes_count, 5 + 3);
    assert_string_equal(sp->attributes[0]->key, "long.key.is.not.cut.at.all");
    assert_string_equal(sp->attributes[3]->key, "kv");
    assert_int_equal(sp->events[0]->n_attributes, 4);
    assert_int_equal(sp->events[0]->dropped_attributes_count, 3);
    assert_int_equal(sp->links[0]->n_attributes, 4);
    assert_int_equal(sp->links[0]->dropped_attributes_count, 3);
    assert_string_equal(sp->attributes[0]->value->string_value, LONG_STR); /* no length limit */
    otc_batch_unref(b);

    otc_arena_init(&a, 1 << 14);
    lr = logs_everywhere(&a);
    b = run(opts, pt_batch(OTC_LOGS, &a, &lr->base));
    lr = (otc_logs_req *)otc_batch_msg(b);
    assert_int_equal(lr->resource_logs[0]->scope_logs[0]->log_records[1]->n_attributes, 4);
    assert_int_equal(
        lr->resource_logs[0]->scope_logs[0]->log_records[1]->dropped_attributes_count, 3);
    otc_batch_unref(b);

    otc_arena_init(&a, 1 << 14);
    mr = metrics_everywhere(&a);
    b = run(opts, pt_batch(OTC_METRICS, &a, &mr->base));
    mr = (otc_metrics_req *)otc_batch_msg(b);
    {
        otc_metric **m = mr->resource_metrics[0]->scope_metrics[0]->metrics;
        assert_int_equal(m[0]->gauge->data_points[0]->n_attributes, 4);
        assert_int_equal(m[0]->gauge->data_points[0]->exemplars[0]->n_filtered_attributes, 4);
        assert_int_equal(m[2]->histogram->data_points[0]->n_attributes, 4);
        assert_int_equal(m[3]->exponential_histogram->data_points[0]->n_attributes, 4);
        assert_int_equal(m[4]->summary->data_points[0]->n_attributes, 4);
    }
    {
        ProtobufCMessage *again = reencoded(b);
        otc_metrics_req *r2 = (otc_metrics_req *)again;
        assert_int_equal(r2->resource_metrics[0]->scope_metrics[0]->metrics[1]->sum
                             ->data_points[0]->n_attributes, 4);
        protobuf_c_message_free_unpacked(again, NULL);
    }
    otc_batch_unref(b);
}

/* A shared batch is copied before it is cut; the other holder's stays whole. */
static void test_copy_on_write(void **state)
{
    const char *opts[] = {"max_value_length", MAX_LEN, NULL};
    struct otc_arena a;
    struct otc_batch *b, *out;

    otc_arena_init(&a, 1 << 14);
    b = pt_batch(OTC_TRACES, &a, &traces_everywhere(&a)->base);
    otc_batch_ref(b);
    out = run(opts, b);
    assert_ptr_not_equal(out, b);
    check_traces((const otc_traces_req *)otc_batch_msg(out), true);
    check_traces((const otc_traces_req *)otc_batch_msg(b), false);
    assert_true(b->raw_fresh);
    otc_batch_unref(out);
    otc_batch_unref(b);
}

static void test_config(void **state)
{
    static const struct {
        const char *key, *val, *needle;
    } bad[] = {
        {"max_value_length", "-1", ">= 0"},
        {"max_attributes", "-5", ">= 0"},
        {"max_value_length", "lots", "expected an integer"},
        {"log_body", "maybe", "expected true or false"},
    };
    struct otc_instance ins;
    char err[256];
    struct pt_built bt;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *opts[] = {bad[i].key, bad[i].val, NULL};
        int rc = pt_proc(&ins, OPS, opts, err, sizeof(err));
        print_message("  %s: %s -> %s\n", bad[i].key, bad[i].val, err);
        assert_int_not_equal(rc, OTC_OK);
        assert_non_null(strstr(err, bad[i].needle));
        pt_proc_free(&ins);
    }
    /* the default limit is 4096 bytes */
    {
        static char big[5000];
        struct otc_batch *b;
        char *got;
        memset(big, 'x', sizeof(big) - 1);
        got = cut_through(big, NULL, &b);
        assert_int_equal(strlen(got), 4096);
        otc_batch_unref(b);
    }
    /* through the config loader: the error names the file, line and column */
    pt_build(&bt, "truncate.yaml",
             "receivers:\n  otlp:\n    protocols:\n      grpc:\n"
             "processors:\n  truncate:\n    max_value_length: -3\n"
             "exporters:\n  nop:\n"
             "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
             "      processors: [truncate]\n      exporters: [nop]\n");
    pt_print_diags(&bt.d);
    assert_int_not_equal(bt.rc, OTC_OK);
    assert_true(pt_diag_has(&bt.d, "truncate.yaml:7:", "max_value_length", NULL));
    pt_built_free(&bt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_locations),
        cmocka_unit_test(test_metric_locations),
        cmocka_unit_test(test_log_locations_and_body),
        cmocka_unit_test(test_unchanged_is_zero_copy),
        cmocka_unit_test(test_utf8_cut_points),
        cmocka_unit_test(test_utf8_cut_exhaustive),
        cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_max_attributes),
        cmocka_unit_test(test_copy_on_write),
        cmocka_unit_test(test_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
