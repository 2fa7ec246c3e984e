/* test_pb_check.c - unit tests for the receivers' per-request checks
 * (core/pb_check.c): entry counting on serialized requests, UTF-8 validation
 * and repair of decoded string fields, and the one-pass scan of undecoded
 * requests (against a reference scan and protobuf-c's unpack). Single-threaded. */
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
#include "otc/otc_pb_depth.h"
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

/* ------------------------------------------------------------- the scan */

/* A protobuf message written by hand, so that tests can put any bytes in it. */
struct pb {
    uint8_t b[4096];
    size_t  n;
};

static void pb_raw(struct pb *m, const void *p, size_t n)
{
    assert_true(m->n + n <= sizeof(m->b));
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void pb_varint(struct pb *m, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));

        pb_raw(m, &c, 1);
        v >>= 7;
    } while (v);
}

static void pb_tag(struct pb *m, uint64_t num, unsigned wt)
{
    pb_varint(m, num << 3 | wt);
}

static void pb_uint(struct pb *m, uint64_t num, uint64_t v)
{
    pb_tag(m, num, 0);
    pb_varint(m, v);
}

static void pb_fixed64(struct pb *m, uint64_t num, uint64_t v)
{
    pb_tag(m, num, 1);
    pb_raw(m, &v, 8);
}

static void pb_fixed32(struct pb *m, uint64_t num, uint32_t v)
{
    pb_tag(m, num, 5);
    pb_raw(m, &v, 4);
}

static void pb_bytes(struct pb *m, uint64_t num, const void *p, size_t n)
{
    pb_tag(m, num, 2);
    pb_varint(m, n);
    pb_raw(m, p, n);
}

static void pb_str(struct pb *m, uint64_t num, const char *s)
{
    pb_bytes(m, num, s, strlen(s));
}

static void pb_msg(struct pb *m, uint64_t num, const struct pb *sub)
{
    pb_bytes(m, num, sub->b, sub->n);
}

/* KeyValue{key, AnyValue{string_value}} */
static void pb_kv(struct pb *m, uint64_t num, const char *k, const char *v)
{
    struct pb kv = {.n = 0}, any = {.n = 0};

    pb_str(&any, 1, v);
    pb_str(&kv, 1, k);
    pb_msg(&kv, 2, &any);
    pb_msg(m, num, &kv);
}

/* A span with valid ids, the name given as bytes, and extra bytes appended. */
static void pb_span(struct pb *m, const void *name, size_t name_len, const struct pb *extra)
{
    struct pb sp = {.n = 0};

    pb_bytes(&sp, 1, "0123456789abcdef", 16);
    pb_bytes(&sp, 2, "01234567", 8);
    pb_bytes(&sp, 5, name, name_len);
    pb_fixed64(&sp, 7, 1000);
    pb_kv(&sp, 9, "http.method", "GET");
    if (extra) {
        pb_raw(&sp, extra->b, extra->n);
    }
    pb_msg(m, 2, &sp);
}

/* ExportTraceServiceRequest{ResourceSpans{Resource, ScopeSpans{scope, spans}}},
 * with extra bytes appended to the request, the resource spans and the scope
 * spans when given. */
static void pb_traces(struct pb *out, const struct pb *spans, const struct pb *x_req,
                      const struct pb *x_rs, const struct pb *x_ss)
{
    struct pb res = {.n = 0}, scope = {.n = 0}, ss = {.n = 0}, rs = {.n = 0};

    pb_kv(&res, 1, "service.name", "svc");
    pb_str(&scope, 1, "lib");
    pb_msg(&ss, 1, &scope);
    pb_raw(&ss, spans->b, spans->n);
    if (x_ss) {
        pb_raw(&ss, x_ss->b, x_ss->n);
    }
    pb_msg(&rs, 1, &res);
    pb_msg(&rs, 2, &ss);
    if (x_rs) {
        pb_raw(&rs, x_rs->b, x_rs->n);
    }
    out->n = 0;
    pb_msg(out, 1, &rs);
    if (x_req) {
        pb_raw(out, x_req->b, x_req->n);
    }
}

/* A metrics request with each kind of metric: 2 gauge points, 1 sum point,
 * 1 histogram point (packed bucket counts and bounds), 1 exponential
 * histogram point (packed varint buckets), 1 summary point: 6 items. */
static void pb_metrics(struct pb *out)
{
    struct pb np = {.n = 0}, g = {.n = 0}, s = {.n = 0}, hp = {.n = 0}, h = {.n = 0};
    struct pb bk = {.n = 0}, ep = {.n = 0}, eh = {.n = 0}, q = {.n = 0}, sp = {.n = 0};
    struct pb su = {.n = 0}, ex = {.n = 0}, m = {.n = 0}, sm = {.n = 0}, rm = {.n = 0};
    uint64_t counts[3] = {1, 2, 3};
    double bounds[2] = {0.5, 1.5};
    static const uint8_t varints[] = {0x01, 0x96, 0x01, 0x02};

    pb_fixed64(&ex, 2, 5);
    pb_fixed64(&ex, 6, 7);
    pb_bytes(&ex, 4, "01234567", 8);
    pb_kv(&np, 7, "k", "v");
    pb_fixed64(&np, 3, 1000);
    pb_fixed64(&np, 6, 42);
    pb_msg(&np, 5, &ex);
    pb_msg(&g, 1, &np);
    pb_msg(&g, 1, &np);
    pb_msg(&s, 1, &np);
    pb_uint(&s, 2, 2);
    pb_uint(&s, 3, 1);
    pb_fixed64(&hp, 4, 6);
    pb_bytes(&hp, 6, counts, sizeof(counts));
    pb_bytes(&hp, 7, bounds, sizeof(bounds));
    pb_msg(&h, 1, &hp);
    pb_uint(&bk, 1, 3);
    pb_bytes(&bk, 2, varints, sizeof(varints));
    pb_msg(&ep, 8, &bk);
    pb_msg(&ep, 9, &bk);
    pb_msg(&eh, 1, &ep);
    pb_fixed64(&q, 1, 0x3fe0000000000000ull);
    pb_msg(&sp, 6, &q);
    pb_msg(&su, 1, &sp);

    pb_str(&m, 1, "gauge");
    pb_msg(&m, 5, &g);
    pb_msg(&sm, 2, &m);
    m.n = 0;
    pb_str(&m, 1, "sum");
    pb_msg(&m, 7, &s);
    pb_msg(&sm, 2, &m);
    m.n = 0;
    pb_str(&m, 1, "histogram");
    pb_msg(&m, 9, &h);
    pb_msg(&sm, 2, &m);
    m.n = 0;
    pb_str(&m, 1, "exp");
    pb_msg(&m, 10, &eh);
    pb_msg(&sm, 2, &m);
    m.n = 0;
    pb_str(&m, 1, "summary");
    pb_msg(&m, 11, &su);
    pb_msg(&sm, 2, &m);
    pb_msg(&rm, 2, &sm);
    out->n = 0;
    pb_msg(out, 1, &rm);
}

/* A logs request of 3 records: ids, a kvlist body, an array body. */
static void pb_logs(struct pb *out)
{
    struct pb lr = {.n = 0}, body = {.n = 0}, kvl = {.n = 0}, arr = {.n = 0}, any = {.n = 0};
    struct pb sl = {.n = 0}, rl = {.n = 0};

    pb_fixed64(&lr, 1, 1000);
    pb_uint(&lr, 2, 9);
    pb_str(&lr, 3, "INFO");
    pb_fixed32(&lr, 8, 1);
    pb_bytes(&lr, 9, "0123456789abcdef", 16);
    pb_bytes(&lr, 10, "01234567", 8);
    pb_msg(&sl, 2, &lr);
    lr.n = 0;
    pb_kv(&kvl, 1, "a", "b");
    pb_msg(&body, 6, &kvl);
    pb_msg(&lr, 5, &body);
    pb_msg(&sl, 2, &lr);
    lr.n = 0;
    body.n = 0;
    pb_str(&any, 1, "x");
    pb_msg(&arr, 1, &any);
    pb_uint(&any, 3, 7); /* a second oneof member, a scalar: unpack keeps the last */
    pb_msg(&arr, 1, &any);
    pb_msg(&body, 5, &arr);
    pb_msg(&lr, 5, &body);
    pb_str(&lr, 12, "event");
    pb_msg(&sl, 2, &lr);
    pb_msg(&rl, 2, &sl);
    out->n = 0;
    pb_msg(out, 1, &rl);
}

/* UTF-8 as Unicode defines it (table 3-7), decoded code point by code point:
 * the offset of the first byte that does not start a well-formed sequence. */
static size_t ref_first_bad(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint32_t c = s[i], min;
        size_t k;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            k = 2, c &= 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 3, c &= 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 4, c &= 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (len - i < k) {
            return i;
        }
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return i;
            }
            c = c << 6 | (s[i + j] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return i;
        }
        i += k;
    }
    return len;
}

/* The scan as specified, without lookup tables: each field found through
 * protobuf-c's descriptors, every message entered as a level, strings checked
 * with ref_first_bad. The real scan must give the same result on every input,
 * and the same items, longest AnyValue and most KeyValues in one message. */
static int ref_scan(enum otc_signal sig, const uint8_t *buf, size_t len, struct otc_pb_scan_info *info)
{
    struct {
        const ProtobufCMessageDescriptor *d;
        const uint8_t *end;
        uint64_t seen;
        size_t kvs;
        uint64_t last;
        int tid, sid, pid; /* span: valid; log: invalid */
    } st[OTC_PB_MAX_DEPTH];
    unsigned depth = 0;
    const uint8_t *p = buf;
    size_t n_items = 0, longest = 0, most = 0;
    bool ordered = true;

    st[0].d = otc_request_descriptor(sig);
    st[0].end = buf + len;
    st[0].seen = 0;
    st[0].kvs = 0;
    st[0].last = 0;
    st[0].tid = st[0].sid = st[0].pid = 0;
    for (;;) {
        const ProtobufCMessageDescriptor *d = st[depth].d;
        const ProtobufCFieldDescriptor *f;
        const uint8_t *k0 = p;
        uint64_t key, n;
        unsigned wt;

        if (p == st[depth].end) {
            if (d == &opentelemetry__proto__trace__v1__span__descriptor &&
                (!st[depth].tid || !st[depth].sid || st[depth].pid)) {
                return OTC_PB_SCAN_SLOW;
            }
            if (d == &opentelemetry__proto__logs__v1__log_record__descriptor &&
                (st[depth].tid || st[depth].sid)) {
                return OTC_PB_SCAN_SLOW;
            }
            most = st[depth].kvs > most ? st[depth].kvs : most;
            if (depth == 0) {
                info->items = n_items;
                info->longest_value = longest;
                info->most_attrs = most;
                info->ordered = ordered;
                return OTC_OK;
            }
            depth--;
            continue;
        }
        if (!(p = otc_pb_varint(p, st[depth].end, &key)) || p - k0 > 5 || (key >> 3) == 0 ||
            (key >> 3) > 0x1fffffff || (*k0 & 0xf8) == 0) {
            return OTC_PB_SCAN_SLOW;
        }
        wt = key & 7;
        f = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
        if ((key >> 3) < st[depth].last ||
            ((key >> 3) == st[depth].last && !(f && f->label == PROTOBUF_C_LABEL_REPEATED))) {
            ordered = false;
        }
        st[depth].last = key >> 3;
        if (f) {
            bool rep = f->label == PROTOBUF_C_LABEL_REPEATED, ok;

            switch (f->type) {
            case PROTOBUF_C_TYPE_STRING:
            case PROTOBUF_C_TYPE_BYTES:
            case PROTOBUF_C_TYPE_MESSAGE:
                ok = wt == 2;
                break;
            case PROTOBUF_C_TYPE_FIXED32:
            case PROTOBUF_C_TYPE_SFIXED32:
            case PROTOBUF_C_TYPE_FLOAT:
                ok = wt == 5 || (rep && wt == 2);
                break;
            case PROTOBUF_C_TYPE_FIXED64:
            case PROTOBUF_C_TYPE_SFIXED64:
            case PROTOBUF_C_TYPE_DOUBLE:
                ok = wt == 1 || (rep && wt == 2);
                break;
            default:
                ok = wt == 0 || (rep && wt == 2);
                break;
            }
            if (!ok) {
                return OTC_PB_SCAN_SLOW;
            }
        }
        if (wt == 0) {
            if (!(p = otc_pb_varint(p, st[depth].end, &n))) {
                return OTC_PB_SCAN_SLOW;
            }
            continue;
        }
        if (wt == 1 || wt == 5) {
            if (st[depth].end - p < (wt == 1 ? 8 : 4)) {
                return OTC_PB_SCAN_SLOW;
            }
            p += wt == 1 ? 8 : 4;
            continue;
        }
        {
            const uint8_t *l0 = p;

            /* protobuf-c reads a length prefix of at most 5 bytes */
            if (wt != 2 || !(p = otc_pb_varint(p, st[depth].end, &n)) || p - l0 > 5 ||
                n > (uint64_t)(st[depth].end - p)) {
                return OTC_PB_SCAN_SLOW;
            }
        }
        if (!f) {
            p += n;
            continue;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            unsigned idx = (unsigned)(f - d->fields);

            if (f->label != PROTOBUF_C_LABEL_REPEATED) {
                uint64_t bits;

                if (idx >= 64) {
                    return OTC_PB_SCAN_SLOW;
                }
                bits = 1ull << idx;
                for (unsigned i = 0; i < d->n_fields && i < 64; i++) {
                    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                        (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                        d->fields[i].quantifier_offset == f->quantifier_offset) {
                        bits |= 1ull << i;
                    }
                }
                if (st[depth].seen & bits) {
                    return OTC_PB_SCAN_SLOW;
                }
                st[depth].seen |= 1ull << idx;
            }
            if (depth + 1 >= OTC_PB_MAX_DEPTH) {
                return OTC_ELIMIT;
            }
            {
                const ProtobufCMessageDescriptor *c = f->descriptor;

                n_items += c == &opentelemetry__proto__trace__v1__span__descriptor ||
                           c == &opentelemetry__proto__logs__v1__log_record__descriptor ||
                           c == &opentelemetry__proto__metrics__v1__number_data_point__descriptor ||
                           c == &opentelemetry__proto__metrics__v1__histogram_data_point__descriptor ||
                           c == &opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor ||
                           c == &opentelemetry__proto__metrics__v1__summary_data_point__descriptor;
                st[depth].kvs += c == &opentelemetry__proto__common__v1__key_value__descriptor;
                if (c == &opentelemetry__proto__common__v1__any_value__descriptor && n > longest) {
                    longest = n;
                }
            }
            depth++;
            st[depth].d = f->descriptor;
            st[depth].end = p + n;
            st[depth].seen = 0;
            st[depth].kvs = 0;
            st[depth].last = 0;
            st[depth].tid = st[depth].sid = st[depth].pid = 0;
            continue;
        }
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            if (ref_first_bad(p, (size_t)n) != n) {
                return OTC_PB_SCAN_SLOW;
            }
        } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
            if (d == &opentelemetry__proto__trace__v1__span__descriptor) {
                if (f->id == 1) {
                    st[depth].tid = n == 16;
                } else if (f->id == 2) {
                    st[depth].sid = n == 8;
                } else if (f->id == 4) {
                    st[depth].pid = n != 0 && n != 8;
                }
            } else if (d == &opentelemetry__proto__logs__v1__log_record__descriptor) {
                if (f->id == 9) {
                    st[depth].tid = n != 0 && n != 16;
                } else if (f->id == 10) {
                    st[depth].sid = n != 0 && n != 8;
                }
            }
        } else {
            switch (f->type) {
            case PROTOBUF_C_TYPE_FIXED32:
            case PROTOBUF_C_TYPE_SFIXED32:
            case PROTOBUF_C_TYPE_FLOAT:
                if (n % 4) {
                    return OTC_PB_SCAN_SLOW;
                }
                break;
            case PROTOBUF_C_TYPE_FIXED64:
            case PROTOBUF_C_TYPE_SFIXED64:
            case PROTOBUF_C_TYPE_DOUBLE:
                if (n % 8) {
                    return OTC_PB_SCAN_SLOW;
                }
                break;
            default:
                if (n && (p[n - 1] & 0x80)) {
                    return OTC_PB_SCAN_SLOW;
                }
                break;
            }
        }
        p += n;
    }
}

/* The scan of buf as signal s, checked against ref_scan and, when it lets the
 * request through, against decoding it. Returns the scan's result. */
static int scan_checked(enum otc_signal s, const uint8_t *buf, size_t len, size_t *items)
{
    size_t got = (size_t)-1, entries = 0;
    struct otc_pb_scan_info info, want;
    int rc = otc_pb_scan_request(s, buf, len, &got);
    int ref = ref_scan(s, buf, len, &want);

    assert_int_equal(rc, ref);
    assert_int_equal(otc_pb_scan_request_info(s, buf, len, &info), rc);
    if (rc == OTC_OK) {
        ProtobufCMessage *m = protobuf_c_message_unpack(otc_request_descriptor(s), NULL, len, buf);

        assert_int_equal(got, want.items);
        assert_int_equal(info.items, want.items);
        assert_int_equal(info.longest_value, want.longest_value);
        assert_int_equal(info.most_attrs, want.most_attrs);
        assert_int_equal(info.ordered, want.ordered);
        assert_int_equal(otc_pb_count_entries(s, buf, len, 0, &entries), OTC_OK);
        assert_int_equal(info.entries, entries);
        assert_non_null(m);
        assert_int_equal(otc_request_count_items(s, m), got);
        assert_true(otc_pb_utf8_valid(m));
        protobuf_c_message_free_unpacked(m, NULL);
        if (items) {
            *items = got;
        }
    }
    return rc;
}

static void test_scan_requests(void **state)
{
    struct pb spans = {.n = 0}, req;
    size_t len, n = 0;
    uint8_t *buf = otc_test_traces_bytes(100, 10, 7, &len);

    (void)state;
    assert_int_equal(scan_checked(OTC_TRACES, buf, len, &n), OTC_OK);
    assert_int_equal(n, 100);
    assert_int_equal(otc_pb_scan_request(OTC_SIGNAL_COUNT, buf, len, &n), OTC_EINVAL);
    free(buf);

    pb_span(&spans, "a", 1, NULL);
    pb_span(&spans, "b", 1, NULL);
    pb_traces(&req, &spans, NULL, NULL, NULL);
    assert_int_equal(scan_checked(OTC_TRACES, req.b, req.n, &n), OTC_OK);
    assert_int_equal(n, 2);
    pb_metrics(&req);
    assert_int_equal(scan_checked(OTC_METRICS, req.b, req.n, &n), OTC_OK);
    assert_int_equal(n, 6);
    pb_logs(&req);
    assert_int_equal(scan_checked(OTC_LOGS, req.b, req.n, &n), OTC_OK);
    assert_int_equal(n, 3);
    assert_int_equal(scan_checked(OTC_TRACES, req.b, 0, &n), OTC_OK);
    assert_int_equal(n, 0);
}

/* Field numbers past the lookup table: no OTLP field has one, so each is an
 * unknown field, kept as it is. Its bytes look like what the known field
 * numbered 32 lower holds (a span, a scope, resource spans), so a lookup that
 * wrapped around would count or check them. */
static void test_scan_high_field_numbers(void **state)
{
    static const uint64_t nums[] = {31, 32, 33, 34, 63, 64, 65, 127, 128, 1000, 0x1fffffff};
    struct pb spans = {.n = 0}, inner = {.n = 0}, req, x;
    size_t n = 0;

    (void)state;
    pb_span(&spans, "s", 1, NULL);
    pb_span(&inner, "t", 1, NULL);
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        uint64_t num = nums[i];

        /* in the request, and in the resource spans, the scope spans, the span */
        for (int where = 0; where < 4; where++) {
            x.n = 0;
            pb_bytes(&x, num, inner.b, inner.n);
            pb_uint(&x, num, 5);
            pb_fixed64(&x, num, 5);
            pb_fixed32(&x, num, 5);
            pb_bytes(&x, num, "\xff\xfe", 2); /* not UTF-8: no string field */
            spans.n = 0;
            pb_span(&spans, "s", 1, where == 3 ? &x : NULL);
            pb_traces(&req, &spans, where == 0 ? &x : NULL, where == 1 ? &x : NULL,
                      where == 2 ? &x : NULL);
            assert_int_equal(scan_checked(OTC_TRACES, req.b, req.n, &n), OTC_OK);
            assert_int_equal(n, 1);
        }
        /* an unknown field is still read: one running past its message is refused */
        x.n = 0;
        pb_tag(&x, num, 2);
        pb_varint(&x, 100);
        pb_raw(&x, "ab", 2);
        spans.n = 0;
        pb_span(&spans, "s", 1, &x);
        pb_traces(&req, &spans, NULL, NULL, NULL);
        assert_int_equal(scan_checked(OTC_TRACES, req.b, req.n, NULL), OTC_PB_SCAN_SLOW);
        /* group wire types are refused whatever the number */
        x.n = 0;
        pb_tag(&x, num, 3);
        pb_traces(&req, &inner, &x, NULL, NULL);
        assert_int_equal(scan_checked(OTC_TRACES, req.b, req.n, NULL), OTC_PB_SCAN_SLOW);
    }
    /* field numbers past 2^29-1 are refused by protobuf-c */
    x.n = 0;
    pb_uint(&x, 0x20000000, 1);
    pb_traces(&req, &inner, &x, NULL, NULL);
    assert_int_equal(scan_checked(OTC_TRACES, req.b, req.n, NULL), OTC_PB_SCAN_SLOW);
    /* the same numbers in metrics and logs requests */
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        pb_metrics(&req);
        pb_bytes(&req, nums[i], spans.b, spans.n);
        assert_int_equal(scan_checked(OTC_METRICS, req.b, req.n, &n), OTC_OK);
        assert_int_equal(n, 6);
        pb_logs(&req);
        pb_bytes(&req, nums[i], spans.b, spans.n);
        assert_int_equal(scan_checked(OTC_LOGS, req.b, req.n, &n), OTC_OK);
        assert_int_equal(n, 3);
    }
}

/* What the per-field information decides: wire types, singular sub-messages
 * and oneof members given twice, packed runs, ids. */
/* A length prefix written with more bytes than needed: protobuf-c reads at
 * most 5, so the scan must not pass a longer one (found by fuzz_metrics). */
static void test_scan_long_length_prefix(void **state)
{
    /* ExportTraceServiceRequest { resource_spans (field 1): empty, its length
     * 0 written in k bytes } */
    for (size_t k = 1; k <= 10; k++) {
        uint8_t req[16];
        size_t len = 0, n = 0;
        ProtobufCMessage *m;

        req[len++] = 0x0a;
        for (size_t i = 0; i + 1 < k; i++) {
            req[len++] = 0x80;
        }
        req[len++] = 0x00;
        m = protobuf_c_message_unpack(otc_request_descriptor(OTC_TRACES), NULL, len, req);
        assert_int_equal(m != NULL, k <= 5); /* what protobuf-c accepts */
        if (m) {
            protobuf_c_message_free_unpacked(m, NULL);
        }
        assert_int_equal(scan_checked(OTC_TRACES, req, len, &n), k <= 5 ? OTC_OK : OTC_PB_SCAN_SLOW);
    }
    (void)state;
}

static void test_scan_field_rules(void **state)
{
    struct pb spans, x, req, m, sm, rm, g;
    size_t n = 0;

    (void)state;
#define TRACES_WITH(extra, want)                                                         \
    do {                                                                                 \
        spans.n = 0;                                                                     \
        pb_span(&spans, "s", 1, (extra));                                                \
        pb_traces(&req, &spans, NULL, NULL, NULL);                                       \
        assert_int_equal(scan_checked(OTC_TRACES, req.b, req.n, &n), (want));            \
    } while (0)

    x.n = 0;
    pb_uint(&x, 5, 3); /* name as a varint */
    TRACES_WITH(&x, OTC_PB_SCAN_SLOW);
    x.n = 0;
    pb_bytes(&x, 7, "12345678", 8); /* start time (fixed64, singular) as bytes */
    TRACES_WITH(&x, OTC_PB_SCAN_SLOW);
    x.n = 0;
    pb_fixed32(&x, 16, 1); /* flags: fixed32 */
    pb_uint(&x, 6, 2);     /* kind: varint */
    TRACES_WITH(&x, OTC_OK);
    x.n = 0;
    pb_fixed64(&x, 16, 1); /* flags with the wrong width */
    TRACES_WITH(&x, OTC_PB_SCAN_SLOW);
    x.n = 0;
    pb_bytes(&x, 15, "", 0); /* status, twice */
    TRACES_WITH(&x, OTC_OK);
    pb_bytes(&x, 15, "", 0);
    TRACES_WITH(&x, OTC_PB_SCAN_SLOW);
    x.n = 0;
    pb_bytes(&x, 11, "", 0); /* events: repeated */
    pb_bytes(&x, 11, "", 0);
    TRACES_WITH(&x, OTC_OK);
    x.n = 0;
    pb_bytes(&x, 1, "0123456789abcde", 15); /* a 15-byte trace id given last */
    TRACES_WITH(&x, OTC_PB_SCAN_SLOW);
    x.n = 0;
    pb_bytes(&x, 4, "0123", 4); /* a 4-byte parent id */
    TRACES_WITH(&x, OTC_PB_SCAN_SLOW);
    x.n = 0;
    pb_bytes(&x, 4, "01234567", 8);
    TRACES_WITH(&x, OTC_OK);
    assert_int_equal(n, 1);
#undef TRACES_WITH

    /* a metric holding a gauge and a sum (one oneof), or two gauges */
    for (int second = 0; second < 3; second++) {
        struct pb dp = {.n = 0};

        m.n = g.n = sm.n = rm.n = 0;
        pb_fixed64(&dp, 3, 1);
        pb_msg(&g, 1, &dp); /* one data point, read alike in a Gauge and a Sum */
        pb_str(&m, 1, "m");
        pb_msg(&m, 5, &g);
        if (second == 1) {
            pb_msg(&m, 7, &g);
        } else if (second == 2) {
            pb_msg(&m, 5, &g);
        }
        pb_msg(&sm, 2, &m);
        pb_msg(&rm, 2, &sm);
        req.n = 0;
        pb_msg(&req, 1, &rm);
        assert_int_equal(scan_checked(OTC_METRICS, req.b, req.n, &n),
                         second ? OTC_PB_SCAN_SLOW : OTC_OK);
        if (!second) {
            assert_int_equal(n, 1);
        }
    }
    /* packed runs: whole elements only */
    for (size_t k = 0; k <= 17; k++) {
        static const uint8_t bytes[17] = {0};
        struct pb hp = {.n = 0}, h = {.n = 0};

        pb_bytes(&hp, 6, bytes, k); /* bucket_counts: fixed64 */
        pb_bytes(&hp, 7, bytes, k - k % 8); /* explicit_bounds: double */
        pb_msg(&h, 1, &hp);
        m.n = sm.n = rm.n = 0;
        pb_msg(&m, 9, &h);
        pb_msg(&sm, 2, &m);
        pb_msg(&rm, 2, &sm);
        req.n = 0;
        pb_msg(&req, 1, &rm);
        assert_int_equal(scan_checked(OTC_METRICS, req.b, req.n, &n),
                         k % 8 ? OTC_PB_SCAN_SLOW : OTC_OK);
    }
    {
        static const uint8_t open_varint[] = {0x01, 0x96}; /* ends inside a varint */
        struct pb bk = {.n = 0}, ep = {.n = 0}, eh = {.n = 0};

        pb_bytes(&bk, 2, open_varint, sizeof(open_varint));
        pb_msg(&ep, 8, &bk);
        pb_msg(&eh, 1, &ep);
        m.n = sm.n = rm.n = 0;
        pb_msg(&m, 10, &eh);
        pb_msg(&sm, 2, &m);
        pb_msg(&rm, 2, &sm);
        req.n = 0;
        pb_msg(&req, 1, &rm);
        assert_int_equal(scan_checked(OTC_METRICS, req.b, req.n, NULL), OTC_PB_SCAN_SLOW);
    }
    /* a log record with a 3-byte span id */
    {
        struct pb lr = {.n = 0}, sl = {.n = 0}, rl = {.n = 0};

        pb_bytes(&lr, 10, "abc", 3);
        pb_msg(&sl, 2, &lr);
        pb_msg(&rl, 2, &sl);
        req.n = 0;
        pb_msg(&req, 1, &rl);
        assert_int_equal(scan_checked(OTC_LOGS, req.b, req.n, NULL), OTC_PB_SCAN_SLOW);
    }
}

/* AnyValue arrays nested to around the depth limit. */
static void test_scan_depth(void **state)
{
    static struct pb any[70];
    struct pb kv = {.n = 0}, spans = {.n = 0}, req;
    int seen_ok = 0, seen_limit = 0;

    (void)state;
    any[0].n = 0;
    pb_str(&any[0], 1, "leaf");
    for (int i = 1; i < 70; i++) {
        struct pb arr = {.n = 0};

        pb_msg(&arr, 1, &any[i - 1]);
        any[i].n = 0;
        pb_msg(&any[i], 5, &arr);
    }
    for (int i = 55; i < 70; i++) {
        int rc;

        kv.n = spans.n = 0;
        pb_str(&kv, 1, "k");
        pb_msg(&kv, 2, &any[i]);
        {
            struct pb x = {.n = 0};

            pb_msg(&x, 9, &kv);
            pb_span(&spans, "s", 1, &x);
        }
        pb_traces(&req, &spans, NULL, NULL, NULL);
        rc = scan_checked(OTC_TRACES, req.b, req.n, NULL);
        seen_ok += rc == OTC_OK;
        seen_limit += rc == OTC_ELIMIT;
    }
    assert_true(seen_ok > 0 && seen_limit > 0);
}

/* Strings made to hit the 8-byte ASCII words and the 1-7 byte tails. */
static void check_string(struct otc_batch *b, otc_span *sp, const char *s)
{
    size_t len = strlen(s), bad = ref_first_bad((const uint8_t *)s, len);
    struct pb spans = {.n = 0}, req;
    char copy[128];

    assert_true(len < sizeof(copy));
    memcpy(copy, s, len + 1);
    /* the scan, on a span name in serialized bytes */
    pb_span(&spans, s, len, NULL);
    pb_traces(&req, &spans, NULL, NULL, NULL);
    assert_int_equal(scan_checked(OTC_TRACES, req.b, req.n, NULL),
                     bad == len ? OTC_OK : OTC_PB_SCAN_SLOW);
    /* validation and repair of a decoded one: the bytes before the first bad
     * one are kept, which then becomes U+FFFD */
    sp->name = copy;
    assert_int_equal(otc_pb_utf8_valid(otc_batch_msg(b)), bad == len);
    assert_int_equal(otc_pb_utf8_repair(otc_batch_msg_mut(b), &b->arena, NULL), bad != len);
    if (bad != len) {
        assert_memory_equal(sp->name, s, bad);
        assert_memory_equal(sp->name + bad, FFFD, 3);
        assert_true(otc_pb_utf8_valid(otc_batch_msg(b)));
    } else {
        assert_ptr_equal(sp->name, copy);
    }
}

static void test_utf8_ascii_words(void **state)
{
    static const char *const bad_bytes[] = {"\x80", "\xbf", "\xc0", "\xc1", "\xf5", "\xff",
                                            "\xc3", "\xe2\x82", "\xf0\x9f\x98"};
    static const char *const seqs[] = {
        "\xc2\x80", "\xc3\xa9", "\xdf\xbf", "\xe0\xa0\x80", "\xe2\x82\xac", "\xed\x9f\xbf",
        "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
    static const char *const illformed[] = {
        "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf",
        "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
        "\xe2\x28\xa1", "\xf0\x9f\x28\x80", "\xf0\x9f\x98\x28"};
    struct otc_batch *b = otc_test_traces_batch(1, 0, 5);
    otc_traces_req *r = (otc_traces_req *)otc_batch_msg_mut(b);
    otc_span *sp = r->resource_spans[0]->scope_spans[0]->spans[0];
    char s[128];

    (void)state;
    /* one bad byte at each position 0..17 of strings 1..40 bytes long */
    for (size_t len = 1; len <= 40; len++) {
        for (size_t at = 0; at < len && at < 18; at++) {
            for (size_t k = 0; k < sizeof(bad_bytes) / sizeof(bad_bytes[0]); k++) {
                size_t bl = strlen(bad_bytes[k]);

                if (at + bl > len) {
                    continue;
                }
                memset(s, 'x', len);
                memcpy(s + at, bad_bytes[k], bl);
                s[len] = '\0';
                assert_int_equal(ref_first_bad((const uint8_t *)s, len), at);
                check_string(b, sp, s);
            }
        }
    }
    /* valid and ill-formed sequences at each offset 0..17, then 0..20 ASCII
     * bytes: sequences across word boundaries, tails read as a word that
     * overlaps the sequence before them */
    for (size_t at = 0; at < 18; at++) {
        for (size_t tail = 0; tail <= 20; tail++) {
            for (size_t k = 0; k < sizeof(seqs) / sizeof(seqs[0]); k++) {
                size_t sl = strlen(seqs[k]);

                memset(s, 'a', at);
                memcpy(s + at, seqs[k], sl);
                memset(s + at + sl, 'z', tail);
                s[at + sl + tail] = '\0';
                assert_int_equal(ref_first_bad((const uint8_t *)s, at + sl + tail), at + sl + tail);
                check_string(b, sp, s);
                /* the same sequence cut short at the end of the string */
                if (tail == 0) {
                    s[at + sl - 1] = '\0';
                    check_string(b, sp, s);
                }
                /* and two of them */
                memcpy(s + at + sl + tail, seqs[k], sl);
                s[at + 2 * sl + tail] = '\0';
                check_string(b, sp, s);
            }
            for (size_t k = 0; k < sizeof(illformed) / sizeof(illformed[0]); k++) {
                size_t sl = strlen(illformed[k]);

                memset(s, 'a', at);
                memcpy(s + at, illformed[k], sl);
                memset(s + at + sl, 'z', tail);
                s[at + sl + tail] = '\0';
                assert_int_equal(ref_first_bad((const uint8_t *)s, at + sl + tail), at);
                check_string(b, sp, s);
            }
        }
    }
    /* overlong forms and surrogates after long ASCII runs, and after a valid sequence */
    for (size_t pre = 0; pre <= 70; pre++) {
        for (size_t k = 0; k < sizeof(illformed) / sizeof(illformed[0]); k++) {
            size_t sl = strlen(illformed[k]);

            memset(s, 'p', pre);
            memcpy(s + pre, illformed[k], sl);
            memcpy(s + pre + sl, "tail", 5);
            assert_int_equal(ref_first_bad((const uint8_t *)s, strlen(s)), pre);
            check_string(b, sp, s);
            if (pre >= 3) {
                memcpy(s + pre - 3, "\xe2\x82\xac", 3);
                check_string(b, sp, s);
            }
        }
    }
    otc_batch_unref(b);
}

/* Random strings, mostly ASCII, against the reference. */
static void test_utf8_random(void **state)
{
    static const uint8_t pool[] = {0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
                                   0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff};
    struct otc_batch *b = otc_test_traces_batch(1, 0, 5);
    otc_traces_req *r = (otc_traces_req *)otc_batch_msg_mut(b);
    otc_span *sp = r->resource_spans[0]->scope_spans[0]->spans[0];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t valid = 0, total = 20000;
    char s[64];

    (void)state;
    for (size_t i = 0; i < total; i++) {
        size_t len;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        len = (size_t)(x % 48);
        for (size_t j = 0; j < len; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[j] = x % 16 ? (char)('a' + x % 26) : (char)pool[(x >> 8) % sizeof(pool)];
        }
        s[len] = '\0';
        valid += ref_first_bad((const uint8_t *)s, len) == len;
        check_string(b, sp, s);
    }
    assert_true(valid > total / 10 && valid < total * 9 / 10);
    otc_batch_unref(b);
}

/* Mutated requests of each signal, read as each signal: the scan and the
 * reference agree on every one. */
static void test_scan_mutations(void **state)
{
    struct pb seeds[4], spans = {.n = 0};
    uint64_t x = 0x243f6a8885a308d3ull;
    size_t ok = 0, total = 0;
    uint8_t buf[4200];

    (void)state;
    pb_span(&spans, "span \xc3\xa9", 7, NULL);
    pb_span(&spans, "another span name", 17, NULL);
    pb_traces(&seeds[0], &spans, NULL, NULL, NULL);
    pb_metrics(&seeds[1]);
    pb_logs(&seeds[2]);
    {
        size_t len;
        uint8_t *t = otc_test_traces_bytes(3, 3, 11, &len);

        assert_true(len <= sizeof(seeds[3].b));
        memcpy(seeds[3].b, t, len);
        seeds[3].n = len;
        free(t);
    }
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 4000; i++) {
            size_t n = seeds[k].n, at;
            int edits;

            memcpy(buf, seeds[k].b, n);
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            edits = 1 + (int)(x % 3);
            for (int e = 0; e < edits; e++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                at = (size_t)((x >> 16) % n);
                switch (x % 4) {
                case 0: /* a byte changed */
                    buf[at] = (uint8_t)(x >> 40);
                    break;
                case 1: /* a bit flipped */
                    buf[at] ^= (uint8_t)(1u << ((x >> 40) % 8));
                    break;
                case 2: /* cut short */
                    n = at + 1;
                    break;
                default: /* a byte inserted */
                    if (n < sizeof(buf)) {
                        memmove(buf + at + 1, buf + at, n - at);
                        buf[at] = (uint8_t)(x >> 40);
                        n++;
                    }
                    break;
                }
            }
            for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
                total++;
                ok += scan_checked((enum otc_signal)s, buf, n, NULL) == OTC_OK;
            }
        }
    }
    print_message("%zu of %zu mutated requests scanned OK\n", ok, total);
    /* both outcomes were met often enough for the comparison to mean something */
    assert_true(ok > total / 50 && ok < total * 19 / 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_traces),
        cmocka_unit_test(test_count_tiny_spans),
        cmocka_unit_test(test_count_metrics),
        cmocka_unit_test(test_utf8_valid_and_repair),
        cmocka_unit_test(test_utf8_offsets),
        cmocka_unit_test(test_utf8_ascii_words),
        cmocka_unit_test(test_utf8_random),
        cmocka_unit_test(test_scan_requests),
        cmocka_unit_test(test_scan_high_field_numbers),
        cmocka_unit_test(test_scan_long_length_prefix),
        cmocka_unit_test(test_scan_field_rules),
        cmocka_unit_test(test_scan_depth),
        cmocka_unit_test(test_scan_mutations),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
