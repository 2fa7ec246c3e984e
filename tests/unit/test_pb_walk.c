/* test_pb_walk.c - unit tests for the read-only walks over serialized requests
 * (core/pb_walk.c): visit order and empty containers, span fields with repeated
 * fields, attribute lookup in every KeyValue layout, malformed input. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otc/otc_otlp.h"
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"

/* A tiny protobuf writer for hand-made messages. */
struct w {
    uint8_t b[4096];
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

static void w_fixed64(struct w *w, uint32_t field, uint64_t v)
{
    w_varint(w, (uint64_t)field << 3 | 1);
    memcpy(w->b + w->n, &v, 8);
    w->n += 8;
}

/* A KeyValue with a string value, key first (as encoders write it) or not. */
static void w_kv(struct w *w, uint32_t field, const char *key, const char *val, bool key_first)
{
    struct w kv = {0}, any = {0};

    w_bytes(&any, 1, val, strlen(val));
    if (key_first) {
        w_bytes(&kv, 1, key, strlen(key));
        w_msg(&kv, 2, &any);
    } else {
        w_msg(&kv, 2, &any);
        w_bytes(&kv, 1, key, strlen(key));
    }
    w_msg(w, field, &kv);
}

/* The key set of one key (NULL: none), for the readers. */
static const struct otc_pb_keys *one_key(struct otc_pb_keys *k, const char *key)
{
    const char *list[] = {key, NULL};

    assert_true(otc_pb_keys_init(k, list, UINT64_MAX));
    return k;
}

struct seen {
    char   log[64];
    size_t n;
};

static int on_resource(void *arg, const struct otc_pb_head *h)
{
    struct seen *s = arg;
    s->log[s->n++] = h->msg ? 'R' : 'r';
    return 0;
}

static int on_scope(void *arg, const struct otc_pb_head *h)
{
    struct seen *s = arg;
    s->log[s->n++] = h->msg ? 'S' : 's';
    return 0;
}

static int on_item(void *arg, const uint8_t *p, size_t len)
{
    struct seen *s = arg;
    struct otc_pb_span sp;

    assert_true(otc_pb_span_read(p, len, NULL, &sp));
    s->log[s->n++] = (char)('0' + sp.start_time_unix_nano);
    return sp.start_time_unix_nano == 9 ? 42 : 0; /* a visitor may stop the walk */
}

/* Two resources (the second without a Resource message), three scopes, one
 * of them empty, spans in wire order; a callback's stop code comes back. */
static void test_walk_order(void **state)
{
    struct w req = {0}, rs1 = {0}, rs2 = {0}, ss = {0}, sp = {0}, res = {0}, scope = {0};
    struct seen s = {0};
    struct otc_pb_visitor v = {on_resource, on_scope, on_item, NULL, &s, true};
    bool empty = false;

    (void)state;
    w_kv(&res, 1, "service.name", "a", true);
    w_bytes(&scope, 1, "lib", 3);
    /* rs1: resource, scope with spans 1 and 2 */
    w_msg(&rs1, 1, &res);
    w_msg(&ss, 1, &scope);
    w_fixed64(&sp, 7, 1);
    w_msg(&ss, 2, &sp);
    sp.n = 0;
    w_fixed64(&sp, 7, 2);
    w_msg(&ss, 2, &sp);
    w_msg(&rs1, 2, &ss);
    /* rs2: a scope with span 3, then an empty scope container */
    ss.n = 0;
    sp.n = 0;
    w_fixed64(&sp, 7, 3);
    w_msg(&ss, 2, &sp);
    w_msg(&rs2, 2, &ss);
    ss.n = 0;
    w_msg(&rs2, 2, &ss);
    w_msg(&req, 1, &rs1);
    w_msg(&req, 1, &rs2);

    assert_int_equal(otc_pb_walk(req.b, req.n, &v, &empty), OTC_OK);
    s.log[s.n] = '\0';
    assert_string_equal(s.log, "RS12rs3s"); /* rs2 has neither Resource nor scope message */
    v.heads = false; /* heads where met: absent ones are not handed over */
    s.n = 0;
    assert_int_equal(otc_pb_walk(req.b, req.n, &v, &empty), OTC_OK);
    s.log[s.n] = '\0';
    assert_string_equal(s.log, "RS123");
    v.heads = true;
    assert_true(empty);

    /* without the empty scope container: no empty group */
    req.n = 0;
    rs2.n = 0;
    ss.n = 0;
    w_msg(&ss, 2, &sp);
    w_msg(&rs2, 2, &ss);
    w_msg(&req, 1, &rs1);
    w_msg(&req, 1, &rs2);
    s.n = 0;
    assert_int_equal(otc_pb_walk(req.b, req.n, &v, &empty), OTC_OK);
    assert_false(empty);

    /* stopped by the visitor */
    sp.n = 0;
    w_fixed64(&sp, 7, 9);
    ss.n = 0;
    w_msg(&ss, 2, &sp);
    rs2.n = 0;
    w_msg(&rs2, 2, &ss);
    w_msg(&req, 1, &rs2);
    s.n = 0;
    assert_int_equal(otc_pb_walk(req.b, req.n, &v, NULL), 42);

    /* malformed: a length past the end, at the top and inside a container */
    assert_int_equal(otc_pb_walk(req.b, req.n - 1, &v, NULL), OTC_EINVAL);
    req.n = 0;
    rs2.n = 0;
    w_msg(&rs2, 2, &ss);
    rs2.b[rs2.n - 1]++; /* the last span byte changed: still a valid container */
    rs2.b[1]--;         /* the scope container now claims one byte fewer than it has */
    w_msg(&req, 1, &rs2);
    s.n = 0;
    assert_int_equal(otc_pb_walk(req.b, req.n, &v, NULL), OTC_EINVAL);
    assert_int_equal(otc_pb_walk(NULL, 0, &v, &empty), OTC_OK);
}

/* A field given twice: the last counts, as protobuf-c's unpack keeps it. */
static void test_span_read(void **state)
{
    struct w sp = {0};
    struct otc_pb_span r;
    struct otc_pb_keys keys;
    uint8_t id1[16] = {1}, id2[16] = {2}, sid[8] = {7};

    (void)state;
    w_bytes(&sp, 1, id1, 16);
    w_bytes(&sp, 2, sid, 8);
    w_fixed64(&sp, 7, 100);
    w_kv(&sp, 9, "a", "b", true);
    w_bytes(&sp, 1, id2, 16);
    w_fixed64(&sp, 7, 200);
    w_kv(&sp, 9, "c", "d", true);
    w_bytes(&sp, 3, "k=v", 3);
    assert_true(otc_pb_span_read(sp.b, sp.n, NULL, &r));
    assert_memory_equal(r.trace_id, id2, 16);
    assert_int_equal(r.trace_id_len, 16);
    assert_int_equal(r.span_id_len, 8);
    assert_int_equal(r.start_time_unix_nano, 200);
    assert_int_equal(r.n_attributes, 2);
    assert_int_equal(r.trace_state_len, 3);
    assert_false(r.has_key);
    assert_true(otc_pb_span_read(sp.b, sp.n, one_key(&keys, "c"), &r));
    assert_true(r.has_key);
    assert_true(otc_pb_span_read(sp.b, sp.n, one_key(&keys, "z"), &r));
    assert_false(r.has_key);
    assert_false(otc_pb_span_read(sp.b, sp.n - 1, NULL, &r));
}

/* 1 when the span at sp has an attribute named key, 0 when not, -1 when malformed. */
static int span_has(const struct w *sp, const char *key)
{
    struct otc_pb_span r;
    struct otc_pb_keys keys;

    if (!otc_pb_span_read(sp->b, sp->n, one_key(&keys, key), &r)) {
        return -1;
    }
    return r.has_key;
}

/* Attribute lookup while a span is read: key first or last, a key field given
 * twice, no match. */
static void test_has_attr(void **state)
{
    struct w sp = {0}, kv = {0}, any = {0};

    (void)state;
    w_kv(&sp, 9, "http.method", "GET", true);
    w_kv(&sp, 9, "sampling.priorityX", "1", true);
    assert_int_equal(span_has(&sp, "sampling.priority"), 0);
    assert_int_equal(span_has(&sp, "http.method"), 1);
    {
        struct w ev = {0}; /* an event's attribute is not the span's */
        w_kv(&ev, 11, "event.attr", "v", true);
        assert_int_equal(span_has(&ev, "event.attr"), 0);
    }

    /* value before key */
    w_kv(&sp, 9, "sampling.priority", "1", false);
    assert_int_equal(span_has(&sp, "sampling.priority"), 1);

    /* a key field given twice: the second ("sampling.priority") counts */
    sp.n = 0;
    w_bytes(&kv, 1, "x", 1);
    w_bytes(&any, 1, "0", 1);
    w_msg(&kv, 2, &any);
    w_bytes(&kv, 1, "sampling.priority", 17);
    w_msg(&sp, 9, &kv);
    assert_int_equal(span_has(&sp, "sampling.priority"), 1);
    assert_int_equal(span_has(&sp, "x"), 0);

    /* a long key (two-byte length) */
    {
        char key[200];
        memset(key, 'k', sizeof(key) - 1);
        key[sizeof(key) - 1] = '\0';
        sp.n = 0;
        w_kv(&sp, 9, key, "v", true);
        assert_int_equal(span_has(&sp, key), 1);
        assert_int_equal(span_has(&sp, "k"), 0);
    }

    /* malformed KeyValue inside */
    sp.n = 0;
    kv.n = 0;
    w_bytes(&kv, 2, "\x0a\x09", 2); /* AnyValue claiming 9 bytes it lacks */
    kv.b[kv.n++] = 0x0a;               /* key tag with no length */
    w_msg(&sp, 9, &kv);
    assert_int_equal(span_has(&sp, "sampling.priority"), -1);
}

/* Span layouts beside the common one-byte tags and lengths: a long attribute,
 * varint and fixed32 fields, a two-byte tag; malformed fields on each path. */
static void test_span_read_layouts(void **state)
{
    struct w sp = {0};
    struct otc_pb_span r;
    struct otc_pb_keys keys;
    uint8_t id[16] = {3};
    char val[300];

    (void)state;
    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    w_bytes(&sp, 1, id, 16);
    w_varint(&sp, 6 << 3 | 0); /* kind */
    w_varint(&sp, 2);
    w_varint(&sp, 10 << 3 | 0); /* dropped_attributes_count, two-byte value */
    w_varint(&sp, 300);
    w_kv(&sp, 9, "sampling.priority", val, true); /* a KeyValue over 127 bytes */
    w_varint(&sp, 16 << 3 | 5);                   /* flags: fixed32, two-byte tag */
    memcpy(sp.b + sp.n, "\x01\x00\x00\x00", 4);
    sp.n += 4;
    w_fixed64(&sp, 7, 77);
    assert_true(otc_pb_span_read(sp.b, sp.n, one_key(&keys, "sampling.priority"), &r));
    assert_true(r.has_key);
    assert_int_equal(r.n_attributes, 1);
    assert_int_equal(r.start_time_unix_nano, 77);
    assert_memory_equal(r.trace_id, id, 16);
    /* the start time cut short, on the one-byte-tag path */
    assert_false(otc_pb_span_read(sp.b, sp.n - 1, NULL, &r));

    /* field number 0, with a one-byte tag */
    sp.n = 0;
    w_bytes(&sp, 1, id, 16);
    sp.b[sp.n++] = 0x02;
    sp.b[sp.n++] = 0x00;
    assert_false(otc_pb_span_read(sp.b, sp.n, NULL, &r));

    /* an attribute claiming more bytes than the span has */
    sp.n = 0;
    w_kv(&sp, 9, "a", "b", true);
    sp.b[1] = (uint8_t)(sp.b[1] + 1);
    assert_false(otc_pb_span_read(sp.b, sp.n, one_key(&keys, "a"), &r));
    /* a varint field cut short */
    sp.n = 0;
    w_varint(&sp, 6 << 3 | 0);
    sp.b[sp.n++] = 0x80;
    assert_false(otc_pb_span_read(sp.b, sp.n, NULL, &r));
}

/* A log record: the last trace id counts; attributes looked up against a key
 * list; malformed records. */
static void test_log_read(void **state)
{
    static const char *const list[] = {"sampling.threshold", "prio", NULL};
    struct otc_pb_keys keys;
    struct w lr = {0};
    struct otc_pb_log r;
    uint8_t id1[16] = {1}, id2[16] = {2};

    (void)state;
    assert_true(otc_pb_keys_init(&keys, list, UINT64_MAX));
    assert_int_equal(keys.n, 2);
    {
        static const char *const too_many[] = {"a", "b", "c", "d", "e", NULL};
        static const char *const some[] = {"sampling.threshold", "id", NULL};
        struct otc_pb_keys k;
        uint64_t present = otc_pb_key_bit((const uint8_t *)"prio", 4);

        assert_false(otc_pb_keys_init(&k, too_many, UINT64_MAX));
        assert_false(otc_pb_keys_init(&k, too_many, 0));
        /* a name the key set cannot hold is left out; one under four bytes never is */
        assert_true(otc_pb_keys_init(&k, list, present));
        assert_int_equal(k.n, 1);
        assert_string_equal(k.s[0], "prio");
        assert_true(otc_pb_keys_init(&k, some, 0));
        assert_int_equal(k.n, 1);
        assert_string_equal(k.s[0], "id");
    }
    w_fixed64(&lr, 1, 5);
    w_bytes(&lr, 9, id1, 16);
    w_kv(&lr, 6, "service", "a", true);
    w_bytes(&lr, 9, id2, 16);
    assert_true(otc_pb_log_read(lr.b, lr.n, &keys, &r));
    assert_memory_equal(r.trace_id, id2, 16);
    assert_int_equal(r.trace_id_len, 16);
    assert_false(r.has_key);
    w_kv(&lr, 6, "prio", "1", false);
    assert_true(otc_pb_log_read(lr.b, lr.n, &keys, &r));
    assert_true(r.has_key);
    assert_true(otc_pb_log_read(lr.b, lr.n, NULL, &r));
    assert_false(r.has_key);
    assert_false(otc_pb_log_read(lr.b, lr.n - 1, &keys, &r));

    /* a KeyValue over 127 bytes (two-byte length), key first */
    {
        char val[200];
        memset(val, 'v', sizeof(val) - 1);
        val[sizeof(val) - 1] = '\0';
        lr.n = 0;
        w_bytes(&lr, 9, id1, 16);
        w_kv(&lr, 6, "sampling.threshold", val, true);
        assert_true(otc_pb_log_read(lr.b, lr.n, &keys, &r));
        assert_true(r.has_key);
        assert_memory_equal(r.trace_id, id1, 16);
    }
}

/* A span with only a start time: the keep tests name spans by it. */
static void w_span(struct w *ss, uint64_t start)
{
    struct w sp = {0};

    w_fixed64(&sp, 7, start);
    w_msg(ss, 2, &sp);
}

/* The request the keep tests start from (spans 1-6 in wire order): rs1 with a
 * resource and a schema url, scope A (spans 1-3), scope B (4, 5); rs2 with
 * scope C (6) and an empty scope D; rs3 without scopes; an unknown top-level
 * field between them. keep says which spans an expected request keeps. */
static void keep_request(struct w *req, const uint8_t *keep, bool expected)
{
    struct w rs = {0}, ss = {0}, res = {0}, scope = {0};
    uint64_t span = 1;
    bool any_scope = false;

    req->n = 0;
    w_kv(&res, 1, "service.name", "a", true);
    w_bytes(&scope, 1, "lib", 3);
    w_msg(&rs, 1, &res);
    w_bytes(&rs, 3, "s1", 2);
    for (int c = 0; c < 2; c++) {
        ss.n = 0;
        w_msg(&ss, 1, &scope);
        bool any = false;
        for (int k = 0; k < (c == 0 ? 3 : 2); k++, span++) {
            if (!expected || keep[span - 1]) {
                w_span(&ss, span);
                any = true;
            }
        }
        if (!expected || any) {
            w_msg(&rs, 2, &ss);
            any_scope = true;
        }
    }
    if (!expected || any_scope) {
        w_msg(req, 1, &rs);
    }
    w_varint(req, 5 << 3 | 0); /* unknown to the schema: goes on as it is */
    w_varint(req, 9);
    rs.n = 0;
    ss.n = 0;
    if (!expected || keep[5]) {
        w_span(&ss, 6);
        w_msg(&rs, 2, &ss);
    }
    if (!expected) {
        ss.n = 0;
        w_msg(&rs, 2, &ss);
    }
    if (!expected || keep[5]) {
        w_msg(req, 1, &rs);
    }
    if (!expected) {
        rs.n = 0;
        w_bytes(&rs, 3, "s3", 2);
        w_msg(req, 1, &rs);
    }
}

/* Dropping items on the wire gives the request an encoder would write for
 * what is left, with empty containers gone and every other field as it was. */
static void test_keep_items(void **state)
{
    static const uint8_t cases[][6] = {
        {1, 0, 1, 0, 0, 1}, {1, 1, 1, 1, 1, 1}, {0, 0, 0, 0, 0, 0},
        {0, 0, 0, 1, 0, 0}, {0, 0, 0, 0, 0, 1}, {1, 0, 0, 0, 1, 0},
    };
    struct w in = {0}, want = {0};
    uint8_t out[4096];

    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        keep_request(&in, cases[c], false);
        keep_request(&want, cases[c], true);
        memset(out, 0xee, sizeof(out));
        assert_int_equal(otc_pb_keep_items(OTC_TRACES, in.b, in.n, cases[c], out), want.n);
        assert_memory_equal(out, want.b, want.n);
        assert_int_equal(out[want.n], 0xee); /* nothing written past the result */
    }

    /* a length prefix written in more bytes than it needs comes out minimal */
    {
        static const uint8_t keep1[] = {1};
        struct w sp = {0}, ss = {0}, rs = {0}, req = {0};
        w_fixed64(&sp, 7, 1);
        ss.b[ss.n++] = 2 << 3 | 2;
        ss.b[ss.n++] = (uint8_t)(sp.n | 0x80); /* the span's length in two bytes */
        ss.b[ss.n++] = 0x00;
        memcpy(ss.b + ss.n, sp.b, sp.n);
        ss.n += sp.n;
        w_msg(&rs, 2, &ss);
        w_msg(&req, 1, &rs);
        assert_int_equal(otc_pb_keep_items(OTC_TRACES, req.b, req.n, keep1, out), req.n - 1);
        assert_int_equal(out[5], sp.n); /* 0a len 12 len 12 len: the span's own length */
    }

    /* malformed: the last container cut short */
    keep_request(&in, cases[1], false);
    assert_int_equal(otc_pb_keep_items(OTC_TRACES, in.b, in.n - 1, cases[1], out), SIZE_MAX);
    assert_int_equal(otc_pb_keep_items(OTC_TRACES, NULL, 0, NULL, out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_order),
        cmocka_unit_test(test_span_read),
        cmocka_unit_test(test_has_attr),
        cmocka_unit_test(test_span_read_layouts),
        cmocka_unit_test(test_keep_items),
        cmocka_unit_test(test_log_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
