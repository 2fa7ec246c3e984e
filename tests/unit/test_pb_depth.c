/* test_pb_depth.c - unit tests for the stack-safe nesting check run before
 * protobuf-c unpacks a request (core/pb_depth.c). Single-threaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otc/otc_batch.h"
#include "otc/otc_buf.h"
#include "otc/otc_otlp.h"
#include "otc/otc_pb_depth.h"
#include "otc/otc_rc.h"

static void put_varint(struct otc_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;

    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    otc_buf_add(b, tmp, n);
}

/* out = field num (length-delimited) holding in; in is freed. */
static void wrap(struct otc_buf *out, unsigned num, struct otc_buf *in)
{
    otc_buf_init(out);
    put_varint(out, ((uint64_t)num << 3) | 2);
    put_varint(out, in->len);
    otc_buf_add(out, in->data, in->len);
    otc_buf_free(in);
}

/* A traces request whose one span attribute is k arrays deep; its deepest
 * message (the innermost AnyValue) is at level 6 + 2k. */
static struct otc_buf nested_request(unsigned k)
{
    struct otc_buf v, t, kv, span, out;

    otc_buf_init(&v);
    put_varint(&v, (1 << 3) | 2); /* AnyValue.string_value = "x" */
    put_varint(&v, 1);
    otc_buf_add(&v, "x", 1);
    for (unsigned i = 0; i < k; i++) {
        wrap(&t, 1, &v); /* ArrayValue.values */
        wrap(&v, 5, &t); /* AnyValue.array_value */
    }
    otc_buf_init(&kv);
    otc_buf_add(&kv, "\x0a\x01k", 3); /* KeyValue.key */
    wrap(&t, 2, &v);                  /* KeyValue.value */
    otc_buf_add(&kv, t.data, t.len);
    otc_buf_free(&t);
    otc_buf_init(&span);
    otc_buf_add(&span, "\x2a\x01s", 3); /* Span.name */
    wrap(&t, 9, &kv);                   /* Span.attributes */
    otc_buf_add(&span, t.data, t.len);
    otc_buf_free(&t);
    wrap(&t, 2, &span); /* ScopeSpans.spans */
    wrap(&v, 2, &t);    /* ResourceSpans.scope_spans */
    wrap(&out, 1, &v);  /* request.resource_spans */
    return out;
}

static int check(unsigned k, unsigned max)
{
    struct otc_buf b = nested_request(k);
    int rc = otc_pb_check_depth(otc_request_descriptor(OTC_TRACES), (const uint8_t *)b.data, b.len, max);

    otc_buf_free(&b);
    return rc;
}

static void test_exact_limit(void **state)
{
    (void)state;
    /* levels 6 + 2k: k = 61 is exactly 128 */
    assert_int_equal(check(61, OTC_PB_MAX_DEPTH), OTC_OK);
    assert_int_equal(check(62, OTC_PB_MAX_DEPTH), OTC_ELIMIT);
    assert_int_equal(check(0, 6), OTC_OK);
    assert_int_equal(check(0, 5), OTC_ELIMIT);
    assert_int_equal(check(5000, 0), OTC_ELIMIT); /* 0: the hard ceiling */
}

/* The batch refuses what the check refuses, and decodes what it accepts. */
static void test_batch_decode(void **state)
{
    (void)state;
    for (unsigned k = 55; k < 70; k++) {
        struct otc_buf b = nested_request(k);
        struct otc_batch *batch = otc_batch_from_bytes(OTC_TRACES, b.data, b.len);
        int rc;

        assert_non_null(batch);
        rc = otc_batch_decode(batch);
        assert_int_equal(rc, 6 + 2 * k <= OTC_PB_MAX_DEPTH ? OTC_OK : OTC_ELIMIT);
        otc_batch_unref(batch);
        otc_buf_free(&b);
    }
    /* deep enough to overflow unpack's stack if it got there */
    {
        struct otc_buf b = nested_request(5000);
        struct otc_batch *batch = otc_batch_from_bytes(OTC_TRACES, b.data, b.len);

        assert_int_equal(otc_batch_decode(batch), OTC_ELIMIT);
        otc_batch_unref(batch);
        otc_buf_free(&b);
    }
}

/* Malformed input is left to unpack: the check neither fails nor reads past the end. */
static void test_malformed(void **state)
{
    static const uint8_t cut_len[] = {0x0a, 0x80};             /* unfinished varint */
    static const uint8_t too_long[] = {0x0a, 0x7f, 0x12, 0x00}; /* length past the end */
    static const uint8_t group[] = {0x0b, 0x0c};                /* wire type 3 */
    const ProtobufCMessageDescriptor *d = otc_request_descriptor(OTC_TRACES);
    struct otc_buf b = nested_request(80);

    (void)state;
    assert_int_equal(otc_pb_check_depth(d, cut_len, sizeof(cut_len), 0), OTC_OK);
    assert_int_equal(otc_pb_check_depth(d, too_long, sizeof(too_long), 0), OTC_OK);
    assert_int_equal(otc_pb_check_depth(d, group, sizeof(group), 0), OTC_OK);
    assert_int_equal(otc_pb_check_depth(d, NULL, 0, 0), OTC_OK);
    /* a deep request cut short: its outer length runs past the end, so unpack
     * refuses it at the top without going inside, and neither does the check */
    assert_int_equal(otc_pb_check_depth(d, (const uint8_t *)b.data, b.len - 3, OTC_PB_MAX_DEPTH),
                     OTC_OK);
    {
        struct otc_batch *batch = otc_batch_from_bytes(OTC_TRACES, b.data, b.len - 3);
        assert_int_equal(otc_batch_decode(batch), OTC_EINVAL);
        otc_batch_unref(batch);
    }
    otc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_limit),
        cmocka_unit_test(test_batch_decode),
        cmocka_unit_test(test_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
