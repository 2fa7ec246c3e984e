/* test_otlp_walk.c - unit tests for the OTLP traversal layer (core/pb_walk.c)
 * across the three signals and both forms of a batch: the serialized and the
 * decoded walk visit the same heads, items and data points in the same order;
 * the keep helpers of both forms give the same request; the stages built on
 * them (dedup, truncate) give the same output from either form; malformed and
 * merge-needing input is refused. Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_pb_check.h"
#include "otc/otc_pb_walk.h"
#include "proc_test_util.h"
#include "processor/dedup/dedup.h"
#include "processor/probabilistic_sampler/probabilistic_sampler.h"
#include "processor/truncate/truncate.h"

typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint               NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint            HistogramPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint              SummaryPoint;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar                      Exemplar;

#define METRIC(c) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##c

/* ------------------------------------------------------------ requests */

/* A varied attribute set: strings (one with a NUL marker "NUL?", made a NUL
 * in the bytes), nested arrays and kvlists, bool, int, double, bytes, an
 * empty AnyValue and a KeyValue without a value. */
static otc_key_value **rich_attrs(struct otc_arena *a, unsigned salt, size_t *n)
{
    otc_any_value *arr[4] = {pt_any_str(a, "in-array"), pt_any_bool(a, salt & 1),
                             pt_any_double(a, 1.5 * salt), pt_any_int(a, -7)};
    otc_key_value *inner = pt_kv(a, "deep", pt_any_array(a, 2, arr));
    otc_key_value *kvl[2] = {pt_kv(a, "a", pt_any_str(a, "a-value-long-enough")),
                             pt_kv(a, "b", pt_any_kvlist(a, 1, &inner))};
    otc_any_value *empty = pt_alloc(a, sizeof(*empty));
    otc_key_value *kvs[9];
    char buf[32];

    opentelemetry__proto__common__v1__any_value__init(empty);
    snprintf(buf, sizeof(buf), "value-%u", salt);
    kvs[0] = pt_kv(a, "service.name", pt_any_str(a, buf));
    kvs[1] = pt_kv(a, "nul", pt_any_str(a, "NUL?after"));
    kvs[2] = pt_kv(a, "arr", pt_any_array(a, 4, arr));
    kvs[3] = pt_kv(a, "kv", pt_any_kvlist(a, 2, kvl));
    kvs[4] = pt_kv(a, "bytes", pt_any_bytes(a, "\x00\x01\x02", 3));
    kvs[5] = pt_kv(a, "int", pt_any_int(a, (int64_t)salt - 3));
    kvs[6] = pt_kv(a, "empty", empty);
    kvs[7] = pt_kv(a, "novalue", NULL);
    kvs[8] = pt_kv(a, "bool", pt_any_bool(a, true));
    *n = 9;
    return pt_attrs(a, 9, kvs);
}

static void set_attrs(struct otc_arena *a, otc_key_value ***kvs, size_t *n, unsigned salt)
{
    *kvs = rich_attrs(a, salt, n);
}

/* Pack msg, turn each "NUL?" into "NUL\0" and each "?NUL" into "\0NUL" (same
 * length), release the arena. */
static uint8_t *pack(struct otc_arena *a, const ProtobufCMessage *msg, size_t *len)
{
    uint8_t *buf;

    *len = protobuf_c_message_get_packed_size(msg);
    buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    protobuf_c_message_pack(msg, buf);
    for (size_t i = 0; i + 4 <= *len; i++) {
        if (!memcmp(buf + i, "NUL?", 4)) {
            buf[i + 3] = '\0';
        } else if (!memcmp(buf + i, "?NUL", 4)) {
            buf[i] = '\0';
        }
    }
    otc_arena_release(a);
    return buf;
}

/* Two resources (the second without a Resource message, with a schema url),
 * three scope containers (one empty), spans with rich attributes. */
static uint8_t *rich_traces(size_t *len, unsigned dup_every)
{
    struct otc_arena a;
    otc_traces_req *req;
    otc_resource_spans *rs2;
    otc_scope_spans *ss2, *ss3;
    uint8_t tid[16] = {1, 2, 3};

    otc_arena_init(&a, 1 << 16);
    req = pt_traces(&a, 3);
    set_attrs(&a, &req->resource_spans[0]->resource->attributes,
              &req->resource_spans[0]->resource->n_attributes, 1);
    for (size_t i = 0; i < 3; i++) {
        otc_span *sp = pt_span(&a, tid, 16, dup_every ? i % dup_every : i);
        set_attrs(&a, &sp->attributes, &sp->n_attributes, (unsigned)i);
        sp->start_time_unix_nano = 100;
        req->resource_spans[0]->scope_spans[0]->spans[i] = sp;
    }
    rs2 = pt_alloc(&a, sizeof(*rs2));
    ss2 = pt_alloc(&a, sizeof(*ss2));
    ss3 = pt_alloc(&a, sizeof(*ss3));
    opentelemetry__proto__trace__v1__resource_spans__init(rs2);
    opentelemetry__proto__trace__v1__scope_spans__init(ss2);
    opentelemetry__proto__trace__v1__scope_spans__init(ss3);
    rs2->schema_url = pt_str(&a, "https://schema/2");
    ss2->schema_url = pt_str(&a, "https://scope/2");
    ss2->n_spans = 2;
    ss2->spans = pt_alloc(&a, 2 * sizeof(*ss2->spans));
    for (size_t i = 0; i < 2; i++) {
        ss2->spans[i] = pt_span(&a, tid, 16, 10 + i);
    }
    rs2->n_scope_spans = 2;
    rs2->scope_spans = pt_alloc(&a, 2 * sizeof(*rs2->scope_spans));
    rs2->scope_spans[0] = ss2;
    rs2->scope_spans[1] = ss3;
    req->resource_spans = otc_arena_memdup(&a, req->resource_spans, sizeof(void *) * 2);
    req->resource_spans[1] = rs2;
    req->n_resource_spans = 2;
    return pack(&a, &req->base, len);
}

/* Logs of the same shape: records with rich attributes and bodies of every
 * kind, a negative severity, trace ids; records equal but for what follows a
 * NUL in their body when dup_every (and equal otherwise) give duplicates. */
static uint8_t *rich_logs(size_t *len, unsigned dup_every)
{
    struct otc_arena a;
    otc_logs_req *req;
    otc_resource_logs *rl2;
    otc_scope_logs *sl2, *sl3;
    uint8_t tid[16] = {9, 8, 7};

    otc_arena_init(&a, 1 << 16);
    req = pt_logs(&a, 4);
    req->resource_logs[0]->schema_url = pt_str(&a, "https://schema/1");
    req->resource_logs[0]->scope_logs[0]->scope->version = pt_str(&a, "1.2.3");
    set_attrs(&a, &req->resource_logs[0]->scope_logs[0]->scope->attributes,
              &req->resource_logs[0]->scope_logs[0]->scope->n_attributes, 5);
    for (size_t i = 0; i < 4; i++) {
        unsigned id = dup_every ? (unsigned)(i % dup_every) : (unsigned)i;
        otc_log_record *lr = pt_log(&a, id & 1 ? tid : NULL, id & 1 ? 16 : 0, 1000 + id);
        size_t n;
        otc_key_value **kv = rich_attrs(&a, id, &n);

        lr->attributes = kv;
        lr->n_attributes = n;
        lr->severity_number = id == 2 ? (Opentelemetry__Proto__Logs__V1__SeverityNumber)-5
                                      : OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_WARN;
        lr->severity_text = pt_str(&a, "WARN");
        lr->flags = 0x101;
        lr->observed_time_unix_nano = 77;
        lr->event_name = pt_str(&a, id == 3 ? "event" : "");
        switch (id % 4) {
        case 0:
            lr->body = pt_any_str(&a, i < 2 ? "body NUL?one" : "body NUL?two");
            break;
        case 1:
            lr->body = kv[3]->value; /* a kvlist */
            break;
        case 2:
            lr->body = kv[2]->value; /* an array */
            break;
        default:
            lr->body = NULL;
            break;
        }
        req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
    }
    rl2 = pt_alloc(&a, sizeof(*rl2));
    sl2 = pt_alloc(&a, sizeof(*sl2));
    sl3 = pt_alloc(&a, sizeof(*sl3));
    opentelemetry__proto__logs__v1__resource_logs__init(rl2);
    opentelemetry__proto__logs__v1__scope_logs__init(sl2);
    opentelemetry__proto__logs__v1__scope_logs__init(sl3);
    sl2->n_log_records = 1;
    sl2->log_records = pt_alloc(&a, sizeof(*sl2->log_records));
    sl2->log_records[0] = pt_log(&a, NULL, 0, 1000); /* another resource: not a duplicate */
    rl2->n_scope_logs = 2;
    rl2->scope_logs = pt_alloc(&a, 2 * sizeof(*rl2->scope_logs));
    rl2->scope_logs[0] = sl3; /* empty */
    rl2->scope_logs[1] = sl2;
    req->resource_logs = otc_arena_memdup(&a, req->resource_logs, sizeof(void *) * 2);
    req->resource_logs[1] = rl2;
    req->n_resource_logs = 2;
    return pack(&a, &req->base, len);
}

static Exemplar *exemplar(struct otc_arena *a, unsigned salt)
{
    Exemplar *e = pt_alloc(a, sizeof(*e));

    opentelemetry__proto__metrics__v1__exemplar__init(e);
    set_attrs(a, &e->filtered_attributes, &e->n_filtered_attributes, salt);
    return e;
}

/* Every metric type; point times repeat with period dup_every (0: never).
 * Also a metric without data, a gauge without points, an empty scope. */
static uint8_t *rich_metrics(size_t *len, unsigned dup_every)
{
    struct otc_arena a;
    otc_metrics_req *req = NULL;
    otc_resource_metrics *rm[2];
    otc_scope_metrics *sm[3];
    otc_metric *m[7];
    unsigned t = 0;

    otc_arena_init(&a, 1 << 16);
    req = pt_alloc(&a, sizeof(*req));
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    for (int i = 0; i < 2; i++) {
        rm[i] = pt_alloc(&a, sizeof(*rm[i]));
        opentelemetry__proto__metrics__v1__resource_metrics__init(rm[i]);
    }
    for (int i = 0; i < 3; i++) {
        sm[i] = pt_alloc(&a, sizeof(*sm[i]));
        opentelemetry__proto__metrics__v1__scope_metrics__init(sm[i]);
    }
    rm[0]->resource = pt_resource(&a);
    set_attrs(&a, &rm[0]->resource->attributes, &rm[0]->resource->n_attributes, 2);
    sm[0]->scope = pt_scope(&a);
    sm[1]->schema_url = pt_str(&a, "https://scope/m");
    for (int k = 0; k < 7; k++) {
        m[k] = pt_alloc(&a, sizeof(*m[k]));
        opentelemetry__proto__metrics__v1__metric__init(m[k]);
        m[k]->name = pt_str(&a, k == 3 ? "m.NUL?x" : "m.name");
    }
#define POINTS(T, init, data, np)                                                   \
    do {                                                                            \
        data->n_data_points = np;                                                   \
        data->data_points = pt_alloc(&a, (np ? np : 1) * sizeof(T *));              \
        for (size_t p_ = 0; p_ < np; p_++) {                                        \
            T *pt_ = pt_alloc(&a, sizeof(T));                                       \
            init(pt_);                                                              \
            set_attrs(&a, &pt_->attributes, &pt_->n_attributes,                     \
                      dup_every ? (unsigned)(p_ % dup_every) : (unsigned)p_);       \
            pt_->start_time_unix_nano = 5;                                          \
            pt_->time_unix_nano = dup_every ? t++ % dup_every : t++;                \
            data->data_points[p_] = pt_;                                            \
        }                                                                           \
    } while (0)
    {
        Opentelemetry__Proto__Metrics__V1__Gauge *g = pt_alloc(&a, sizeof(*g));
        Opentelemetry__Proto__Metrics__V1__Gauge *g0 = pt_alloc(&a, sizeof(*g0));
        Opentelemetry__Proto__Metrics__V1__Sum *s = pt_alloc(&a, sizeof(*s));
        Opentelemetry__Proto__Metrics__V1__Histogram *h = pt_alloc(&a, sizeof(*h));
        Opentelemetry__Proto__Metrics__V1__ExponentialHistogram *e = pt_alloc(&a, sizeof(*e));
        Opentelemetry__Proto__Metrics__V1__Summary *su = pt_alloc(&a, sizeof(*su));

        opentelemetry__proto__metrics__v1__gauge__init(g);
        opentelemetry__proto__metrics__v1__gauge__init(g0);
        opentelemetry__proto__metrics__v1__sum__init(s);
        opentelemetry__proto__metrics__v1__histogram__init(h);
        opentelemetry__proto__metrics__v1__exponential_histogram__init(e);
        opentelemetry__proto__metrics__v1__summary__init(su);
        POINTS(NumberPoint, opentelemetry__proto__metrics__v1__number_data_point__init, g, 3);
        POINTS(NumberPoint, opentelemetry__proto__metrics__v1__number_data_point__init, s, 2);
        POINTS(HistogramPoint, opentelemetry__proto__metrics__v1__histogram_data_point__init, h, 2);
        POINTS(ExpPoint, opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init,
               e, 1);
        POINTS(SummaryPoint, opentelemetry__proto__metrics__v1__summary_data_point__init, su, 2);
        g->data_points[0]->n_exemplars = 1;
        g->data_points[0]->exemplars = pt_alloc(&a, sizeof(Exemplar *));
        g->data_points[0]->exemplars[0] = exemplar(&a, 4);
        h->data_points[1]->n_exemplars = 1;
        h->data_points[1]->exemplars = pt_alloc(&a, sizeof(Exemplar *));
        h->data_points[1]->exemplars[0] = exemplar(&a, 6);
        s->aggregation_temporality = 2;
        s->is_monotonic = 1;
        m[0]->data_case = METRIC(GAUGE);
        m[0]->gauge = g;
        m[1]->data_case = METRIC(SUM);
        m[1]->sum = s;
        m[2]->data_case = METRIC(HISTOGRAM);
        m[2]->histogram = h;
        m[3]->data_case = METRIC(EXPONENTIAL_HISTOGRAM);
        m[3]->exponential_histogram = e;
        m[4]->data_case = METRIC(SUMMARY);
        m[4]->summary = su;
        m[5]->data_case = METRIC(GAUGE); /* a gauge without points */
        m[5]->gauge = g0;
        /* m[6]: no data at all */
    }
#undef POINTS
    sm[0]->n_metrics = 4;
    sm[0]->metrics = pt_alloc(&a, 4 * sizeof(otc_metric *));
    sm[0]->metrics[0] = m[0];
    sm[0]->metrics[1] = m[5];
    sm[0]->metrics[2] = m[1];
    sm[0]->metrics[3] = m[2];
    sm[1]->n_metrics = 3;
    sm[1]->metrics = pt_alloc(&a, 3 * sizeof(otc_metric *));
    sm[1]->metrics[0] = m[6];
    sm[1]->metrics[1] = m[3];
    sm[1]->metrics[2] = m[4];
    rm[0]->n_scope_metrics = 2;
    rm[0]->scope_metrics = pt_alloc(&a, 2 * sizeof(otc_scope_metrics *));
    rm[0]->scope_metrics[0] = sm[0];
    rm[0]->scope_metrics[1] = sm[2]; /* empty */
    rm[1]->n_scope_metrics = 1;
    rm[1]->scope_metrics = pt_alloc(&a, sizeof(otc_scope_metrics *));
    rm[1]->scope_metrics[0] = sm[1];
    req->n_resource_metrics = 2;
    req->resource_metrics = pt_alloc(&a, 2 * sizeof(otc_resource_metrics *));
    req->resource_metrics[0] = rm[0];
    req->resource_metrics[1] = rm[1];
    return pack(&a, &req->base, len);
}

static uint8_t *rich(enum otc_signal s, size_t *len, unsigned dup_every)
{
    return s == OTC_TRACES ? rich_traces(len, dup_every)
           : s == OTC_LOGS ? rich_logs(len, dup_every)
                           : rich_metrics(len, dup_every);
}

/* A batch of the bytes, decoded or as the receivers' fast path leaves it. */
static struct otc_batch *form(enum otc_signal s, const uint8_t *p, size_t len, bool decoded)
{
    struct otc_batch *b = otc_batch_from_bytes(s, p, len);
    size_t items;

    assert_non_null(b);
    assert_int_equal(otc_batch_scan(b, NULL), OTC_OK); /* as the receivers leave it */
    items = b->items;
    if (decoded) {
        assert_int_equal(otc_batch_decode(b), OTC_OK);
        assert_int_equal(b->items, items);
    }
    return b;
}

/* The request as protobuf-c encodes it after decoding (malloc'd). */
static uint8_t *canonical(enum otc_signal s, const uint8_t *p, size_t len, size_t *out_len)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(otc_request_descriptor(s), NULL, len, p);
    uint8_t *out;

    assert_non_null(m);
    *out_len = protobuf_c_message_get_packed_size(m);
    out = malloc(*out_len ? *out_len : 1);
    protobuf_c_message_pack(m, out);
    protobuf_c_message_free_unpacked(m, NULL);
    return out;
}

static void assert_same_request(enum otc_signal s, struct otc_batch *a, struct otc_batch *b)
{
    const uint8_t *pa, *pb;
    size_t la, lb, ca_len, cb_len;
    uint8_t *ca, *cb;

    assert_int_equal(otc_batch_bytes(a, &pa, &la), OTC_OK);
    assert_int_equal(otc_batch_bytes(b, &pb, &lb), OTC_OK);
    ca = canonical(s, pa, la, &ca_len);
    cb = canonical(s, pb, lb, &cb_len);
    assert_int_equal(ca_len, cb_len);
    assert_memory_equal(ca, cb, ca_len);
    free(ca);
    free(cb);
}

/* ------------------------------------------------------------ walks */

struct trail {
    char   s[512];
    size_t n;
};

static void trail_put(struct trail *t, char c, size_t v)
{
    t->n += (size_t)snprintf(t->s + t->n, sizeof(t->s) - t->n, "%c%zu", c, v);
}

static int pb_res(void *arg, const struct otc_pb_head *h)
{
    trail_put(arg, h->msg ? 'R' : 'r', h->schema_url_len);
    return 0;
}

static int pb_scope(void *arg, const struct otc_pb_head *h)
{
    trail_put(arg, h->msg ? 'S' : 's', h->schema_url_len);
    return 0;
}

static int pb_item(void *arg, const uint8_t *p, size_t len)
{
    (void)p;
    (void)len;
    trail_put(arg, 'I', 0);
    return 0;
}

static int pb_point(void *arg, const struct otc_pb_metric *m, const uint8_t *p, size_t len)
{
    struct otc_pb_point pt;

    assert_true(otc_pb_point_read(p, len, &pt));
    trail_put(arg, 'P', m->type * 1000 + pt.time_unix_nano);
    return 0;
}

static int msg_res(void *arg, const struct otc_msg_head *h)
{
    trail_put(arg, h->msg ? 'R' : 'r', h->schema_url ? strlen(h->schema_url) : 0);
    return 0;
}

static int msg_scope(void *arg, const struct otc_msg_head *h)
{
    trail_put(arg, h->msg ? 'S' : 's', h->schema_url ? strlen(h->schema_url) : 0);
    return 0;
}

static int msg_item(void *arg, ProtobufCMessage *item)
{
    (void)item;
    trail_put(arg, 'I', 0);
    return 0;
}

static int msg_point(void *arg, const otc_metric *m, ProtobufCMessage *point)
{
    uint64_t t;

    switch (m->data_case) {
    case METRIC(HISTOGRAM):
        t = ((HistogramPoint *)point)->time_unix_nano;
        break;
    case METRIC(EXPONENTIAL_HISTOGRAM):
        t = ((ExpPoint *)point)->time_unix_nano;
        break;
    case METRIC(SUMMARY):
        t = ((SummaryPoint *)point)->time_unix_nano;
        break;
    default:
        t = ((NumberPoint *)point)->time_unix_nano;
        break;
    }
    trail_put(arg, 'P', (size_t)m->data_case * 1000 + t);
    return 0;
}

/* Both walks visit the same heads, items and points in the same order. */
static void test_walks_agree(void **state)
{
    (void)state;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        size_t len;
        uint8_t *p = rich((enum otc_signal)s, &len, 0);
        struct otc_batch *b = form((enum otc_signal)s, p, len, true);
        struct trail tw = {0}, tm = {0};
        struct otc_pb_visitor pv = {pb_res, pb_scope, pb_item, s == OTC_METRICS ? pb_point : NULL,
                                    &tw, true};
        struct otc_msg_visitor mv = {msg_res, msg_scope, msg_item,
                                     s == OTC_METRICS ? msg_point : NULL, &tm, NULL};
        bool ew = false, em = false;

        assert_int_equal(otc_pb_walk(p, len, &pv, &ew), OTC_OK);
        assert_int_equal(otc_msg_walk((enum otc_signal)s, b->msg, &mv, &em), OTC_OK);
        assert_string_equal(tw.s, tm.s);
        assert_true(ew);
        assert_true(em);
        if (s == OTC_METRICS) { /* 7 metrics, 10 points of 5 types, in order */
            assert_non_null(strstr(tw.s, "I0P10007I0P11008P11009")); /* exp histogram, summary */
            assert_int_equal(b->items, 10);
        }
        otc_batch_unref(b);
        free(p);
    }
}

/* Dropping items (data points) from the bytes and from the decoded request
 * gives the same request, for every signal and many keep patterns. */
static void test_keep_agree(void **state)
{
    (void)state;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        size_t len;
        uint8_t *p = rich((enum otc_signal)s, &len, 0);
        struct otc_batch *probe = form((enum otc_signal)s, p, len, false);
        size_t n = probe->items;
        uint8_t keep[64], *out = malloc(len);
        uint32_t x = 12345;

        otc_batch_unref(probe);
        assert_true(n <= sizeof(keep));
        for (int pattern = 0; pattern < 40; pattern++) {
            struct otc_batch *d = form((enum otc_signal)s, p, len, true), *w;
            size_t kept = 0, left, wl;
            uint8_t *cw, *cd;
            size_t cw_len, cd_len;
            const uint8_t *dp;
            size_t dl;

            for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                keep[i] = pattern == 0   ? 1
                          : pattern == 1 ? 0
                          : pattern < 2 + (int)n ? i != (size_t)(pattern - 2)
                                                 : (x >> 16) & 1;
                kept += keep[i];
            }
            wl = otc_pb_keep_items((enum otc_signal)s, p, len, keep, out);
            assert_true(wl <= len);
            d = otc_batch_writable(d);
            left = otc_msg_keep_items((enum otc_signal)s, otc_batch_msg_mut(d), keep);
            assert_int_equal(left, kept);
            assert_int_equal(otc_batch_bytes(d, &dp, &dl), OTC_OK);
            cw = canonical((enum otc_signal)s, out, wl, &cw_len);
            cd = canonical((enum otc_signal)s, dp, dl, &cd_len);
            assert_int_equal(cw_len, cd_len);
            assert_memory_equal(cw, cd, cw_len);
            /* and the batch helper on an undecoded batch */
            w = otc_batch_keep_items(form((enum otc_signal)s, p, len, false), keep, kept);
            assert_non_null(w);
            assert_int_equal(w->items, kept);
            assert_false(otc_batch_is_decoded(w));
            assert_int_equal(otc_batch_decode(w), OTC_OK);
            assert_int_equal(w->items, kept);
            free(cw);
            free(cd);
            otc_batch_unref(w);
            otc_batch_unref(d);
        }
        free(out);
        free(p);
    }
}

/* --------------------------------------------------- stages on both forms */

static uint64_t dropped_of(struct otc_instance *ins, enum otc_signal s)
{
    return atomic_load(&ins->counters.dropped[s]);
}

/* Run a fresh instance of ops on one form of p; its output (NULL: none) and
 * the dropped count. */
static struct otc_batch *run_form(const struct otc_component_ops *ops, const char *const *opts,
                                  enum otc_signal s, const uint8_t *p, size_t len, bool decoded,
                                  uint64_t *dropped, bool *stayed_undecoded)
{
    struct otc_instance ins;
    struct otc_batch *out = NULL;
    char err[128];

    assert_int_equal(pt_proc(&ins, ops, opts, err, sizeof(err)), OTC_OK);
    pt_capture_reset();
    assert_int_equal(pt_run(&ins, form(s, p, len, decoded)), OTC_OK);
    assert_true(pt_captured.n <= 1);
    if (pt_captured.n) {
        out = pt_captured.b[0];
        pt_captured.n = 0;
        *stayed_undecoded = !otc_batch_is_decoded(out);
    }
    *dropped = dropped_of(&ins, s);
    pt_proc_free(&ins);
    return out;
}

/* dedup keys items of either form alike: the same drops within a request,
 * the same output, and a request seen in one form is a duplicate in the other;
 * the undecoded form stays undecoded. */
static void test_dedup_forms_agree(void **state)
{
    (void)state;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        for (unsigned dup = 0; dup < 3; dup++) {
            size_t len;
            uint8_t *p = rich((enum otc_signal)s, &len, dup);
            uint64_t dd, dw;
            bool und_d = false, und_w = false;
            struct otc_batch *od = run_form(&otc_processor_dedup_ops, NULL, (enum otc_signal)s, p,
                                            len, true, &dd, &und_d);
            struct otc_batch *ow = run_form(&otc_processor_dedup_ops, NULL, (enum otc_signal)s, p,
                                            len, false, &dw, &und_w);

            assert_int_equal(dd, dw);
            assert_true((od == NULL) == (ow == NULL));
            if (od) {
                assert_true(und_w); /* keyed and dropped on the wire */
                assert_same_request((enum otc_signal)s, od, ow);
            }
            if (dup == 1 && s != OTC_TRACES) {
                assert_true(dd > 0); /* equal up to a NUL, or fully: duplicates */
            }
            otc_batch_unref(od);
            otc_batch_unref(ow);
            /* across forms, both ways */
            for (int first_decoded = 0; first_decoded < 2; first_decoded++) {
                struct otc_instance ins;
                char err[128];
                uint64_t before;
                size_t items;

                assert_int_equal(pt_proc(&ins, &otc_processor_dedup_ops, NULL, err, sizeof(err)),
                                 OTC_OK);
                pt_capture_reset();
                pt_run(&ins, form((enum otc_signal)s, p, len, first_decoded));
                before = dropped_of(&ins, (enum otc_signal)s);
                pt_capture_reset();
                {
                    struct otc_batch *b = form((enum otc_signal)s, p, len, !first_decoded);
                    items = b->items;
                    pt_run(&ins, b);
                }
                assert_int_equal(pt_captured.n, 0);
                assert_int_equal(dropped_of(&ins, (enum otc_signal)s) - before, items);
                pt_proc_free(&ins);
            }
            free(p);
        }
    }
}

/* truncate gives the same output from either form; within the limits the
 * undecoded form is never decoded. */
static void test_truncate_forms_agree(void **state)
{
    static const char *const cut[] = {"max_value_length", "6", "max_attributes", "5", "log_body",
                                      "true", NULL};
    static const char *const within[] = {"max_value_length", "64", "max_attributes", "16", NULL};

    (void)state;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        size_t len;
        uint8_t *p = rich((enum otc_signal)s, &len, 0);
        uint64_t dd, dw;
        bool und_d = false, und_w = false;
        struct otc_batch *od, *ow;

        od = run_form(&otc_processor_truncate_ops, cut, (enum otc_signal)s, p, len, true, &dd,
                      &und_d);
        ow = run_form(&otc_processor_truncate_ops, cut, (enum otc_signal)s, p, len, false, &dw,
                      &und_w);
        assert_non_null(od);
        assert_non_null(ow);
        assert_same_request((enum otc_signal)s, od, ow);
        otc_batch_unref(od);
        otc_batch_unref(ow);
        ow = run_form(&otc_processor_truncate_ops, within, (enum otc_signal)s, p, len, false, &dw,
                      &und_w);
        assert_non_null(ow);
        assert_true(und_w);
        assert_true(ow->raw_fresh);
        assert_int_equal(ow->raw_len, len);
        assert_memory_equal(ow->raw, p, len);
        otc_batch_unref(ow);
        free(p);
    }
}

/* Log records for the sampler: with and without trace ids; a from_attribute
 * of every kind; sampling.threshold / .randomness, valid and not; a priority
 * as a double, an int and a string; keys that end at a NUL. */
static uint8_t *sampler_logs(size_t *len, bool nul)
{
    enum { N = 48 };
    struct otc_arena a;
    otc_logs_req *req;

    otc_arena_init(&a, 1 << 18);
    req = pt_logs(&a, N);
    for (size_t i = 0; i < N; i++) {
        uint8_t tid[16];
        otc_key_value *kv[4];
        size_t n = 0;
        otc_log_record *lr;

        for (int k = 0; k < 16; k++) {
            tid[k] = (uint8_t)(i * 37 + k * 11 + 1);
        }
        lr = pt_log(&a, tid, i % 3 == 0 ? 0 : 16, i);
        switch (i % 8) {
        case 0:
            kv[n++] = pt_kv(&a, "user.id", pt_any_str(&a, i & 8 ? "alice" : "bob"));
            break;
        case 1:
            kv[n++] = pt_kv(&a, "user.id", pt_any_int(&a, (int64_t)i * 1000 - 7));
            break;
        case 2:
            kv[n++] = pt_kv(&a, "user.id", pt_any_double(&a, 0.1 * (double)i));
            break;
        case 3:
            kv[n++] = pt_kv(&a, "user.id", pt_any_bool(&a, i & 1));
            kv[n++] = pt_kv(&a, "sampling.threshold", pt_any_str(&a, i & 8 ? "8" : "xyz"));
            break;
        case 4:
            kv[n++] = pt_kv(&a, nul ? "user.id?NUL" : "user.idx", pt_any_bytes(&a, "\x01\x02", 2));
            kv[n++] = pt_kv(&a, "sampling.randomness", pt_any_str(&a, "00112233445566"));
            break;
        case 5:
            kv[n++] = pt_kv(&a, "prio", pt_any_double(&a, 12.5 * (double)(i % 5)));
            kv[n++] = pt_kv(&a, nul ? "sampling.threshold?NUL" : "sampling.threshold",
                            pt_any_str(&a, "c"));
            break;
        case 6:
            kv[n++] = pt_kv(&a, "prio", pt_any_int(&a, (int64_t)(i % 3) * 40));
            kv[n++] = pt_kv(&a, "user.id", NULL);
            break;
        default:
            kv[n++] = pt_kv(&a, "prio", pt_any_str(&a, "50"));
            break;
        }
        lr->attributes = pt_attrs(&a, n, kv);
        lr->n_attributes = n;
        req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
    }
    return pack(&a, &req->base, len);
}

/* The scan bounds a stage carried over to the bytes it wrote (otc_batch_rescanned)
 * are bounds of those bytes. */
static size_t bounds_checked;

static void scan_bounds_hold(enum otc_signal s, const struct otc_batch *b)
{
    const struct otc_scan_bounds *sb = otc_batch_scanned(b);
    struct otc_pb_scan_info now;

    assert_non_null(sb);
    assert_int_equal(otc_pb_scan_request_info(s, b->raw, b->raw_len, &now), OTC_OK);
    assert_true(now.longest_value <= sb->longest_value);
    assert_true(now.most_attrs <= sb->most_attrs);
    assert_int_equal(now.keys & ~sb->keys, 0); /* every key it has may be there */
    if (sb->ordered) {
        assert_true(now.ordered);
    }
    bounds_checked++;
}

static void sampler_forms(enum otc_signal s, const char *const *cfg, const uint8_t *p,
                          size_t len, bool same_bytes, uint64_t *dropped);

/* The sampler decides and writes every log record alike from either form, in
 * every mode (a kept record gets the sampling attributes otelcol writes: a
 * replaced value, or attributes appended), sampled and at 100%. */
static void test_sampler_logs_forms_agree(void **state)
{
    static const char *const c1[] = {"sampling_percentage", "50", "hash_seed", "3", NULL};
    static const char *const c2[] = {"sampling_percentage", "0", NULL};
    static const char *const c3[] = {"sampling_percentage", "50", "attribute_source", "record",
                                     "from_attribute", "user.id", NULL};
    static const char *const c4[] = {"sampling_percentage", "30", "from_attribute", "user.id",
                                     "sampling_priority", "prio", "fail_closed", "false", NULL};
    static const char *const c5[] = {"sampling_percentage", "0", "fail_closed", "false",
                                     "sampling_priority", "prio", NULL};
    static const char *const c6[] = {"sampling_percentage", "100", NULL};
    static const char *const c7[] = {"sampling_percentage", "50", "mode", "proportional",
                                     "fail_closed", "false", NULL};
    static const char *const c8[] = {"sampling_percentage", "100", "mode", "equalizing",
                                     "sampling_priority", "prio", NULL};
    static const char *const *const configs[] = {c1, c2, c3, c4, c5, c6, c7, c8};

    (void)state;
    for (int nul = 0; nul < 2; nul++) {
        size_t len;
        uint8_t *p = sampler_logs(&len, nul);

        for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
            uint64_t d;

            sampler_forms(OTC_LOGS, configs[c], p, len, !nul, &d);
            if (c == 0 || c == 2 || c == 3) {
                assert_true(d > 0 && d < 48); /* some kept, some dropped */
            }
        }
        free(p);
    }
    assert_true(bounds_checked > 0);
    /* records with no sampling attribute: the ones written are in the key set
     * of the output (scan_bounds_hold) */
    {
        struct otc_pb_scan_info info;
        size_t len, before = bounds_checked;
        uint8_t *p = rich(OTC_LOGS, &len, 0);
        uint64_t d;

        assert_int_equal(otc_pb_scan_request_info(OTC_LOGS, p, len, &info), OTC_OK);
        assert_false(otc_pb_key_maybe(info.keys, "sampling.threshold"));
        sampler_forms(OTC_LOGS, c7, p, len, false, &d);
        assert_int_equal(bounds_checked, before + 1); /* some kept: checked */
        free(p);
    }
    /* records that all carry a randomness, which hash_seed mode leaves alone
     * (kept with fail_closed false): nothing to write, the same bytes go on */
    {
        static const char *const keep_as_is[] = {"sampling_percentage", "100", "fail_closed",
                                                 "false", NULL};
        struct otc_arena a;
        otc_logs_req *req;
        size_t len;
        uint8_t *p;
        uint64_t d;
        bool und = false;
        struct otc_batch *o;

        otc_arena_init(&a, 1 << 14);
        req = pt_logs(&a, 8);
        for (size_t i = 0; i < 8; i++) {
            uint8_t tid[16] = {1, (uint8_t)i};
            otc_log_record *lr = pt_log(&a, tid, 16, i);
            otc_key_value *kv = pt_kv(&a, "sampling.randomness", pt_any_str(&a, "00112233445566"));

            lr->attributes = pt_attrs(&a, 1, &kv);
            lr->n_attributes = 1;
            req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
        }
        p = pack(&a, &req->base, &len);
        o = run_form(&otc_processor_probabilistic_sampler_ops, keep_as_is, OTC_LOGS, p, len, false,
                     &d, &und);
        assert_non_null(o);
        assert_true(und);
        assert_int_equal(d, 0);
        assert_int_equal(o->raw_len, len);
        assert_memory_equal(o->raw, p, len);
        otc_batch_unref(o);
        free(p);
    }
}

/* Spans for the sampler in two resources of two scopes each (one scope of a
 * single span): tracestates of every kind (none, th, rv and th, other
 * vendors, malformed, "ot" with other fields, with a NUL when nul), trace ids
 * random and all zeros, sampling.priority as an int, a double and a string. With
 * all_rv every span carries an rv, which hash_seed mode leaves alone. */
static uint8_t *sampler_spans(size_t *len, bool nul, bool all_rv)
{
    static const char *const states[] = {
        "", "ot=th:8", "ot=rv:90000000000000;th:8", "vendor=x,ot=th:c;foo:bar",
        "ot=rv:c0000000000000", "bad state!!", "ot=th:8NUL?junk", "a=1,b=2",
        "ot=rv:00000000000001;th:0", ""};
    enum { PER = 12 };
    struct otc_arena a;
    otc_traces_req *req;
    size_t n = 0;

    otc_arena_init(&a, 1 << 18);
    req = pt_traces(&a, PER);
    req->resource_spans = otc_arena_memdup(&a, req->resource_spans, sizeof(void *) * 2);
    req->n_resource_spans = 2;
    for (size_t r = 0; r < 2; r++) {
        otc_resource_spans *rs = req->resource_spans[0];

        if (r == 1) {
            rs = pt_alloc(&a, sizeof(*rs));
            opentelemetry__proto__trace__v1__resource_spans__init(rs);
            rs->schema_url = pt_str(&a, "https://schema/2");
            req->resource_spans[1] = rs;
        }
        rs->n_scope_spans = 2;
        rs->scope_spans = pt_alloc(&a, 2 * sizeof(*rs->scope_spans));
        for (size_t c = 0; c < 2; c++) {
            otc_scope_spans *ss = pt_alloc(&a, sizeof(*ss));
            size_t k = r == 1 && c == 0 ? 1 : PER;

            opentelemetry__proto__trace__v1__scope_spans__init(ss);
            ss->scope = pt_scope(&a);
            ss->n_spans = k;
            ss->spans = pt_alloc(&a, k * sizeof(*ss->spans));
            for (size_t i = 0; i < k; i++, n++) {
                uint8_t tid[16];
                otc_key_value *kv[3];
                size_t na = 0;
                otc_span *sp;
                const char *ts = states[n % 10];

                for (int b = 0; b < 16; b++) { /* every 7th all zeros: no randomness */
                    tid[b] = n % 7 == 3 ? 0 : (uint8_t)(n * 53 + b * 29 + 7);
                }
                sp = pt_span(&a, tid, 16, n);
                if (all_rv) {
                    ts = "ot=rv:40000000000000";
                } else if (!nul && n % 10 == 6) {
                    ts = "ot=th:8";
                }
                sp->trace_state = pt_str(&a, ts);
                sp->start_time_unix_nano = 1000 + n;
                kv[na++] = pt_kv(&a, "http.method", pt_any_str(&a, "GET"));
                if (!all_rv && (n % 10 == 9 || n % 13 == 4)) {
                    switch (n % 5) {
                    case 0:
                        kv[na++] = pt_kv(&a, "sampling.priority", pt_any_int(&a, 0));
                        break;
                    case 1:
                        kv[na++] = pt_kv(&a, "sampling.priority", pt_any_double(&a, 1.5));
                        break;
                    case 2:
                        kv[na++] = pt_kv(&a, "sampling.priority", pt_any_str(&a, "0"));
                        break;
                    case 3:
                        kv[na++] = pt_kv(&a, nul ? "sampling.priority?NUL" : "sampling.priority",
                                         pt_any_str(&a, "2"));
                        break;
                    default:
                        kv[na++] = pt_kv(&a, "sampling.priority", pt_any_str(&a, "x"));
                        break;
                    }
                }
                kv[na++] = pt_kv(&a, "peer", pt_any_int(&a, (int64_t)n));
                sp->attributes = pt_attrs(&a, na, kv);
                sp->n_attributes = na;
                ss->spans[i] = sp;
            }
            rs->scope_spans[c] = ss;
        }
    }
    return pack(&a, &req->base, len);
}

/* The output of the sampler on both forms of one request: the same drops and
 * the same request; the wire path's stays undecoded and, for requests an
 * encoder wrote (no NULs to cut), has the bytes the decoded path encodes. */
static void sampler_forms(enum otc_signal s, const char *const *cfg, const uint8_t *p,
                          size_t len, bool same_bytes, uint64_t *dropped)
{
    uint64_t dd, dw;
    bool und_d = false, und_w = false;
    struct otc_batch *od = run_form(&otc_processor_probabilistic_sampler_ops, cfg, s, p, len, true,
                                    &dd, &und_d);
    struct otc_batch *ow = run_form(&otc_processor_probabilistic_sampler_ops, cfg, s, p, len,
                                    false, &dw, &und_w);

    assert_int_equal(dd, dw);
    assert_true((od == NULL) == (ow == NULL));
    if (od) {
        const uint8_t *pd;
        size_t ld;

        assert_true(und_w);
        assert_int_equal(od->items, ow->items);
        assert_same_request(s, od, ow);
        assert_int_equal(otc_batch_bytes(od, &pd, &ld), OTC_OK);
        if (same_bytes) {
            assert_int_equal(ow->raw_len, ld);
            assert_memory_equal(ow->raw, pd, ld);
        }
        scan_bounds_hold(s, ow);
    }
    *dropped = dd;
    otc_batch_unref(od);
    otc_batch_unref(ow);
}

/* The sampler decides and writes every span alike from either form, in every
 * mode, sampled and at 100%; a request it leaves as it is goes on as it came. */
static void test_sampler_traces_forms_agree(void **state)
{
    static const char *const c1[] = {"sampling_percentage", "50", "hash_seed", "3", NULL};
    static const char *const c2[] = {"sampling_percentage", "100", NULL};
    static const char *const c3[] = {"sampling_percentage", "0", "fail_closed", "false", NULL};
    static const char *const c4[] = {"sampling_percentage", "50", "mode", "proportional", NULL};
    static const char *const c5[] = {"sampling_percentage", "30", "mode", "equalizing",
                                     "sampling_precision", "3", NULL};
    static const char *const c6[] = {"sampling_percentage", "100", "mode", "proportional",
                                     "fail_closed", "false", NULL};
    static const char *const c7[] = {"sampling_percentage", "100", "mode", "equalizing", NULL};
    static const char *const c8[] = {"sampling_percentage", "25", "fail_closed", "false", NULL};
    static const char *const c9[] = {"sampling_percentage", "0", NULL};
    static const char *const *const configs[] = {c1, c2, c3, c4, c5, c6, c7, c8, c9};
    static const char *const keep_as_is[] = {"sampling_percentage", "100", "fail_closed", "false",
                                             NULL};
    const size_t total = 12 * 3 + 1;

    (void)state;
    for (int nul = 0; nul < 2; nul++) {
        size_t len;
        uint8_t *p = sampler_spans(&len, nul, false);

        for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
            uint64_t d;

            sampler_forms(OTC_TRACES, configs[c], p, len, !nul, &d);
            if (c == 0 || c == 3 || c == 4 || c == 7) {
                assert_true(d > 0 && d < total); /* some kept, some dropped */
            }
            if (c == 8) {
                assert_int_equal(d, total);
            }
        }
        free(p);
    }
    /* 32 traces of 3 spans, interleaved as SDKs export them, without
     * tracestates: spans of one trace share a decision, other traces do not */
    {
        struct otc_arena a;
        otc_traces_req *req;
        size_t len;
        uint8_t *p;

        otc_arena_init(&a, 1 << 16);
        req = pt_traces(&a, 96);
        for (size_t i = 0; i < 96; i++) {
            uint8_t tid[16];

            for (int b = 0; b < 16; b++) {
                tid[b] = (uint8_t)((i % 32) * 37 + b * 11 + 1);
            }
            req->resource_spans[0]->scope_spans[0]->spans[i] = pt_span(&a, tid, 16, i);
        }
        p = pack(&a, &req->base, &len);
        for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
            uint64_t d;

            sampler_forms(OTC_TRACES, configs[c], p, len, true, &d);
            if (c == 0 || c == 3) {
                assert_true(d > 0 && d < 96 && d % 3 == 0); /* whole traces */
            }
        }
        free(p);
    }
    /* nothing to write: the same bytes go on, undecoded */
    {
        size_t len;
        uint8_t *p = sampler_spans(&len, false, true);
        uint64_t d;
        bool und = false;
        struct otc_batch *o = run_form(&otc_processor_probabilistic_sampler_ops, keep_as_is,
                                       OTC_TRACES, p, len, false, &d, &und);

        assert_non_null(o);
        assert_true(und);
        assert_int_equal(d, 0);
        assert_int_equal(o->raw_len, len);
        assert_memory_equal(o->raw, p, len);
        otc_batch_unref(o);
        free(p);
    }
}

/* Spans whose sampling.priority attribute says drop are dropped from either
 * form, wherever the receive scan meets the key (its key set must hold it):
 * the first of a span's string attributes, one in a run of them, an int
 * value (a KeyValue the scan enters), a key cut by a NUL as the decoded key
 * reads it. Each request has that attribute and no other of its name. */
static void test_sampler_priority_found(void **state)
{
    static const char *const cfg[] = {"sampling_percentage", "100", NULL};

    (void)state;
    for (int layout = 0; layout < 4; layout++) {
        struct otc_arena a;
        otc_traces_req *req;
        uint8_t tid[16] = {5};
        size_t len;
        uint8_t *p;

        otc_arena_init(&a, 1 << 12);
        req = pt_traces(&a, 2);
        for (size_t i = 0; i < 2; i++) {
            otc_span *sp = pt_span(&a, tid, 16, i);
            otc_key_value *kv[2];
            size_t n = 0;

            if (layout != 0) {
                kv[n++] = pt_kv(&a, "http.method", pt_any_str(&a, "GET"));
            }
            kv[n++] = layout == 2   ? pt_kv(&a, "sampling.priority", pt_any_int(&a, 0))
                      : layout == 3 ? pt_kv(&a, "sampling.priority?NUL", pt_any_int(&a, 0))
                                    : pt_kv(&a, "sampling.priority", pt_any_str(&a, "0"));
            sp->attributes = pt_attrs(&a, n, kv);
            sp->n_attributes = n;
            req->resource_spans[0]->scope_spans[0]->spans[i] = sp;
        }
        p = pack(&a, &req->base, &len);
        for (int decoded = 0; decoded < 2; decoded++) {
            uint64_t d;
            bool und = false;
            struct otc_batch *o = run_form(&otc_processor_probabilistic_sampler_ops, cfg,
                                           OTC_TRACES, p, len, decoded, &d, &und);
            assert_null(o);
            assert_int_equal(d, 2);
        }
        free(p);
    }
}

/* ------------------------------------------------------------ malformed */

struct w {
    uint8_t b[512];
    size_t  n;
};

static void w_varint(struct w *w, uint64_t v)
{
    while (v >= 0x80) {
        w->b[w->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->b[w->n++] = (uint8_t)v;
}

static void w_bytes(struct w *w, uint32_t field, const void *p, size_t len)
{
    w_varint(w, (uint64_t)field << 3 | 2);
    w_varint(w, len);
    memcpy(w->b + w->n, p, len);
    w->n += len;
}

static void w_msg(struct w *w, uint32_t field, const struct w *m)
{
    w_bytes(w, field, m->b, m->n);
}

static int count_point(void *arg, const struct otc_pb_metric *m, const uint8_t *p, size_t len)
{
    (void)m;
    (void)p;
    (void)len;
    (*(size_t *)arg)++;
    return 0;
}

static int any_head(void *arg, const struct otc_pb_head *h)
{
    (void)arg;
    (void)h;
    return 0;
}

/* Every prefix of each signal's request walks and keeps without harm; heads
 * and metric data given twice (merged by unpack) are refused; the field
 * readers refuse what unpack would merge and read bools as unpack does. */
static void test_malformed(void **state)
{
    (void)state;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        size_t len, np = 0;
        uint8_t *p = rich((enum otc_signal)s, &len, 0);
        uint8_t keep[64], *out = malloc(len);
        struct otc_pb_visitor v = {any_head, any_head, NULL,
                                   s == OTC_METRICS ? count_point : NULL, &np, s != OTC_LOGS};

        memset(keep, 1, sizeof(keep));
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *q = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees overreads */
            size_t r;

            memcpy(q, p, cut);
            (void)otc_pb_walk(q, cut, &v, NULL);
            r = otc_pb_keep_items((enum otc_signal)s, q, cut, keep, out);
            assert_true(r == SIZE_MAX || r <= cut);
            free(q);
        }
        free(out);
        free(p);
    }
    {
        struct w res = {0}, rs = {0}, req = {0}, ss = {0}, m = {0}, g = {0}, pt = {0};
        struct otc_pb_visitor v = {any_head, any_head, NULL, count_point, NULL, true};
        size_t n = 0;

        v.arg = &n;
        w_bytes(&res, 1, "\x0a\x01k", 3);
        w_msg(&rs, 1, &res);
        w_msg(&rs, 1, &res); /* Resource twice */
        w_msg(&req, 1, &rs);
        assert_int_equal(otc_pb_walk(req.b, req.n, &v, NULL), OTC_EINVAL);
        v.heads = false; /* heads where they are met: the second is refused too */
        assert_int_equal(otc_pb_walk(req.b, req.n, &v, NULL), OTC_EINVAL);
        v.heads = true;
        v.resource = NULL; /* not read without a resource callback */
        assert_int_equal(otc_pb_walk(req.b, req.n, &v, NULL), OTC_OK);

        w_varint(&pt, 3 << 3 | 1);
        memcpy(pt.b + pt.n, "\x07\0\0\0\0\0\0\0", 8);
        pt.n += 8;
        w_msg(&g, 1, &pt);
        w_msg(&m, 5, &g);
        w_msg(&ss, 2, &m);
        rs.n = 0;
        w_msg(&rs, 2, &ss);
        req.n = 0;
        w_msg(&req, 1, &rs);
        assert_int_equal(otc_pb_walk(req.b, req.n, &v, NULL), OTC_OK);
        assert_int_equal(n, 1);
        w_msg(&m, 7, &g); /* a second data member */
        ss.n = 0;
        w_msg(&ss, 2, &m);
        rs.n = 0;
        w_msg(&rs, 2, &ss);
        req.n = 0;
        w_msg(&req, 1, &rs);
        assert_int_equal(otc_pb_walk(req.b, req.n, &v, NULL), OTC_EINVAL);
        {
            uint8_t keep1[2] = {1, 1}, out[512];
            assert_int_equal(otc_pb_keep_items(OTC_METRICS, req.b, req.n, keep1, out), SIZE_MAX);
        }
    }
    {
        struct otc_pb_kv kv;
        struct otc_pb_any a;
        /* key, value, key again: the last key counts */
        static const uint8_t kv1[] = {0x0a, 1, 'a', 0x12, 2, 0x18, 5, 0x0a, 1, 'b'};
        static const uint8_t kv2[] = {0x12, 0, 0x12, 0};          /* value twice */
        static const uint8_t any1[] = {0x0a, 1, 'x', 0x18, 0x7f}; /* string, then int: int */
        static const uint8_t any2[] = {0x2a, 0, 0x32, 0};         /* array and kvlist */
        static const uint8_t any3[] = {0x10, 0x80, 0x80, 0x80, 0x80, 0x80,
                                       0x80, 0x80, 0x80, 0x80, 0x02}; /* bool: a bit past 64 */
        static const uint8_t any4[] = {0x2a, 0, 0x21, 1, 2, 3, 4, 5, 6, 7, 8}; /* array, double */

        assert_true(otc_pb_kv_read(kv1, sizeof(kv1), &kv));
        assert_int_equal(kv.key_len, 1);
        assert_int_equal(kv.key[0], 'b');
        assert_int_equal(kv.value_len, 2);
        assert_false(otc_pb_kv_read(kv2, sizeof(kv2), &kv));
        assert_false(otc_pb_kv_read(kv1, sizeof(kv1) - 1, &kv));
        assert_true(otc_pb_any_read(any1, sizeof(any1), &a));
        assert_int_equal(a.kind, OTC_PB_ANY_INT);
        assert_int_equal(a.v, 0x7f);
        assert_false(otc_pb_any_read(any2, sizeof(any2), &a));
        assert_true(otc_pb_any_read(any3, sizeof(any3), &a));
        assert_int_equal(a.kind, OTC_PB_ANY_BOOL);
        assert_int_equal(a.v, 1);
        assert_true(otc_pb_any_read(any4, sizeof(any4), &a));
        assert_int_equal(a.kind, OTC_PB_ANY_DOUBLE);
        assert_null(a.p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walks_agree),
        cmocka_unit_test(test_keep_agree),
        cmocka_unit_test(test_dedup_forms_agree),
        cmocka_unit_test(test_truncate_forms_agree),
        cmocka_unit_test(test_sampler_logs_forms_agree),
        cmocka_unit_test(test_sampler_traces_forms_agree),
        cmocka_unit_test(test_sampler_priority_found),
        cmocka_unit_test(test_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
