/* test_dedup.c - unit tests for the dedup processor (processor/dedup): the
 * bounded key table (FIFO eviction, expiry, fixed memory) and the processor
 * (duplicates within and across batches, window, identities of spans, logs
 * and metric points, untouched batches, shared batches, config). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>

#include "core/pipeline.h"
#include "otc/otc_pb_check.h"
#include "proc_fixtures.h"
#include "processor/dedup/dedup.h"
#include "processor/dedup/dedup_table.h"

#define SEC 1000000000ull

static struct otc_dedup_key key_of(uint64_t i)
{
    /* spread like a hash would, but reproducible */
    struct otc_dedup_key k = {.lo = i * 0x9e3779b97f4a7c15ull + 7, .hi = i ^ 0xdeadbeefull};

    return k;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static uint64_t dropped(struct otc_instance *ins, enum otc_signal s)
{
    return atomic_load(&ins->counters.dropped[s]);
}

static int teardown(void **state)
{
    (void)state;
    fx_capture_clear();
    return 0;
}

/* ------------------------------------------------------------- the table */

static void test_table_basic(void **state)
{
    struct otc_dedup_table t;
    struct otc_dedup_key k1 = key_of(1), k2 = key_of(2);

    (void)state;
    assert_int_equal(otc_dedup_table_init(&t, 16, 10 * SEC), OTC_OK);
    assert_false(otc_dedup_table_check(&t, &k1, SEC));
    assert_true(otc_dedup_table_check(&t, &k1, SEC));
    assert_false(otc_dedup_table_check(&t, &k2, SEC));
    assert_true(otc_dedup_table_check(&t, &k2, 2 * SEC));
    assert_int_equal(t.count, 2);
    otc_dedup_table_release(&t);
    assert_int_equal(otc_dedup_table_init(&t, 0, SEC), OTC_EINVAL);
    assert_int_equal(otc_dedup_table_init(&t, (size_t)OTC_DEDUP_MAX_ENTRIES + 1, SEC), OTC_EINVAL);
}

/* Keys count as duplicates for window ns after their first sighting only. */
static void test_table_window(void **state)
{
    struct otc_dedup_table t;
    struct otc_dedup_key k1 = key_of(1), k2 = key_of(2);

    (void)state;
    assert_int_equal(otc_dedup_table_init(&t, 16, 10 * SEC), OTC_OK);
    assert_false(otc_dedup_table_check(&t, &k1, 100 * SEC));
    assert_false(otc_dedup_table_check(&t, &k2, 105 * SEC));
    assert_true(otc_dedup_table_check(&t, &k1, 110 * SEC - 1)); /* age < window */
    /* a duplicate does not restart the window */
    assert_false(otc_dedup_table_check(&t, &k1, 110 * SEC));    /* age == window: new */
    assert_true(otc_dedup_table_check(&t, &k1, 115 * SEC));     /* seen again at 110s */
    /* k2 (105s) is too old at 115s, whether or not expire() removed it yet */
    otc_dedup_table_expire(&t, 115 * SEC);
    assert_false(otc_dedup_table_check(&t, &k2, 115 * SEC));
    assert_true(otc_dedup_table_check(&t, &k2, 116 * SEC));
    /* expire() forgets by age from the oldest: everything after 1000s */
    otc_dedup_table_expire(&t, 1000 * SEC);
    assert_int_equal(t.count, 0);
    assert_false(otc_dedup_table_check(&t, &k1, 1000 * SEC));
    assert_int_equal(t.count, 1);
    otc_dedup_table_expire(&t, 1005 * SEC);
    assert_int_equal(t.count, 1);
    otc_dedup_table_expire(&t, 1010 * SEC);
    assert_int_equal(t.count, 0);
    otc_dedup_table_release(&t);
}

/* More unique keys than max_entries: memory stays what init allocated, the
 * table keeps exactly the newest max_entries keys, the oldest go first. */
static void test_table_fifo_bound(void **state)
{
    enum { CAP = 1000, TOTAL = 25000 };
    struct otc_dedup_table t;
    size_t bytes;

    (void)state;
    assert_int_equal(otc_dedup_table_init(&t, CAP, 3600 * SEC), OTC_OK);
    bytes = t.bytes;
    assert_true(bytes >= CAP * 24u && bytes <= CAP * 24u + 4 * CAP * 8u);
    for (uint64_t i = 0; i < TOTAL; i++) {
        struct otc_dedup_key k = key_of(i);
        assert_false(otc_dedup_table_check(&t, &k, SEC));
        assert_true(t.count <= CAP);
    }
    assert_int_equal(t.count, CAP);
    assert_int_equal(t.bytes, bytes);
    /* the newest CAP keys are all remembered (checking them re-inserts nothing) */
    for (uint64_t i = TOTAL - CAP; i < TOTAL; i++) {
        struct otc_dedup_key k = key_of(i);
        assert_true(otc_dedup_table_check(&t, &k, SEC));
    }
    /* the oldest were evicted: they pass again (each evicting the then-oldest) */
    for (uint64_t i = 0; i < 100; i++) {
        struct otc_dedup_key k = key_of(i);
        assert_false(otc_dedup_table_check(&t, &k, SEC));
    }
    /* those 100 re-inserts pushed out keys TOTAL-CAP .. TOTAL-CAP+99, not newer ones */
    for (uint64_t i = TOTAL - CAP + 100; i < TOTAL; i++) {
        struct otc_dedup_key k = key_of(i);
        assert_true(otc_dedup_table_check(&t, &k, SEC));
    }
    {
        struct otc_dedup_key k = key_of(TOTAL - CAP);
        assert_false(otc_dedup_table_check(&t, &k, SEC));
    }
    otc_dedup_table_release(&t);
}

/* Colliding index homes: eviction (backward shift) keeps every other key findable. */
static void test_table_collisions(void **state)
{
    enum { CAP = 64 };
    struct otc_dedup_table t;
    struct otc_dedup_key keys[3 * CAP];

    (void)state;
    assert_int_equal(otc_dedup_table_init(&t, CAP, 3600 * SEC), OTC_OK);
    for (size_t i = 0; i < 3 * CAP; i++) {
        /* only 4 distinct homes: long probe clusters */
        keys[i].lo = ((uint64_t)(i * 7919u) << 32) | (i % 4);
        keys[i].hi = i;
    }
    for (size_t i = 0; i < 3 * CAP; i++) {
        assert_false(otc_dedup_table_check(&t, &keys[i], SEC));
        /* the last min(i+1, CAP) keys are present */
        for (size_t j = (i + 1 > CAP ? i + 1 - CAP : 0); j <= i; j++) {
            uint8_t d;
            size_t n = otc_dedup_table_check_many(&t, &keys[j], 1, SEC, &d);
            assert_int_equal(n, 1);
        }
    }
    otc_dedup_table_release(&t);
}

/* ---------------------------------------------------------- processor */

static void test_config(void **state)
{
    const char *bad_window[] = {"window=0s", NULL};
    const char *bad_entries[] = {"max_entries=0", NULL};
    const char *bad_signal[] = {"signals=traces,spans", NULL};
    const char *good[] = {"window=5s", "max_entries=100", "signals=logs,metrics", NULL};
    struct otc_instance *ins;
    int vrc;

    (void)state;
    assert_null(fx_instance(&otc_processor_dedup_ops, bad_window, &vrc));
    assert_int_equal(vrc, OTC_EINVAL);
    assert_null(fx_instance(&otc_processor_dedup_ops, bad_entries, &vrc));
    assert_int_equal(vrc, OTC_EINVAL);
    assert_null(fx_instance(&otc_processor_dedup_ops, bad_signal, &vrc));
    assert_int_equal(vrc, OTC_EINVAL);
    ins = fx_instance(&otc_processor_dedup_ops, good, &vrc);
    assert_non_null(ins);
    fx_instance_free(ins);
    /* defaults are valid */
    ins = fx_instance(&otc_processor_dedup_ops, NULL, &vrc);
    assert_non_null(ins);
    fx_instance_free(ins);
}

/* A batch without duplicates is passed on as it is: same batch, bytes intact. */
static void test_untouched(void **state)
{
    const char *opts[] = {"max_entries=1000", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, opts, NULL);
    struct otc_batch *b = fx_simple(OTC_TRACES, 50, 1);
    const uint8_t *raw = b->raw;

    (void)state;
    assert_true(b->raw_fresh);
    assert_int_equal(fx_consume(ins, b), OTC_OK);
    assert_int_equal(fx_captured.n, 1);
    assert_ptr_equal(fx_captured.b[0], b);
    assert_true(b->raw_fresh);
    assert_ptr_equal(b->raw, raw);
    assert_int_equal(b->items, 50);
    assert_int_equal(dropped(ins, OTC_TRACES), 0);
    fx_instance_free(ins);
}

static void test_within_batch(void **state)
{
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, NULL, NULL);
    /* ids 1 2 3 2 1 4 under two resources; the repeats are exact duplicates */
    struct fx_item it[] = {
        {.res = 1, .scope = 1, .id = 1, .time = 11}, {.res = 1, .scope = 1, .id = 2, .time = 12},
        {.res = 1, .scope = 2, .id = 3, .time = 13}, {.res = 2, .scope = 1, .id = 2, .time = 12},
        {.res = 2, .scope = 1, .id = 1, .time = 11}, {.res = 2, .scope = 1, .id = 4, .time = 14},
    };
    struct otc_batch *b = fx_traces(it, 6), *out;
    const otc_traces_req *r;

    (void)state;
    assert_int_equal(b->items, 6);
    fx_consume(ins, b);
    assert_int_equal(fx_captured.n, 1);
    out = fx_captured.b[0];
    assert_int_equal(out->items, 4);
    if (getenv("OTC_FX_UNDECODED")) {
        /* dropped on the wire: still undecoded, the other spans as they arrived */
        assert_false(atomic_load(&out->decoded));
        assert_true(out->raw_fresh);
    } else {
        assert_false(out->raw_fresh);
    }
    assert_int_equal(dropped(ins, OTC_TRACES), 2);
    r = (const otc_traces_req *)otc_batch_msg(out);
    assert_int_equal(r->n_resource_spans, 2);
    assert_int_equal(r->resource_spans[1]->n_scope_spans, 1);
    assert_int_equal(r->resource_spans[1]->scope_spans[0]->n_spans, 1);
    assert_int_equal(r->resource_spans[1]->scope_spans[0]->spans[0]->start_time_unix_nano, 14);
    /* the re-encoded request decodes to the same content */
    {
        const uint8_t *data;
        size_t len;
        struct otc_batch *again;
        assert_int_equal(otc_batch_bytes(out, &data, &len), OTC_OK);
        again = otc_batch_from_bytes(OTC_TRACES, data, len);
        assert_int_equal(otc_batch_decode(again), OTC_OK);
        assert_int_equal(again->items, 4);
        otc_batch_unref(again);
    }
    fx_instance_free(ins);
}

static void test_across_batches(void **state)
{
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, NULL, NULL);

    (void)state;
    fx_consume(ins, fx_simple(OTC_TRACES, 10, 100)); /* ids 100..109 */
    fx_consume(ins, fx_simple(OTC_TRACES, 10, 105)); /* 105..109 repeat */
    fx_consume(ins, fx_simple(OTC_TRACES, 10, 100)); /* all repeat: nothing passed on */
    fx_consume(ins, fx_simple(OTC_TRACES, 10, 100)); /* a third time */
    assert_int_equal(fx_captured.n, 2);
    assert_int_equal(fx_captured.b[0]->items, 10);
    assert_int_equal(fx_captured.b[1]->items, 5);
    assert_int_equal(fx_captured_items(), 15);
    assert_int_equal(dropped(ins, OTC_TRACES), 25);
    fx_instance_free(ins);
}

/* A copy of b's request, decoded or left undecoded (as the receivers' fast
 * path delivers it, with the scan's item count). Drops the reference to b. */
static struct otc_batch *as_form(struct otc_batch *b, bool decoded)
{
    const uint8_t *data;
    size_t len, items;
    struct otc_batch *c;

    assert_int_equal(otc_batch_bytes(b, &data, &len), OTC_OK);
    c = otc_batch_from_bytes(b->signal, data, len);
    assert_non_null(c);
    otc_batch_unref(b);
    if (decoded) {
        assert_int_equal(otc_batch_decode(c), OTC_OK);
    } else {
        assert_int_equal(otc_pb_scan_request(c->signal, c->raw, c->raw_len, &items), OTC_OK);
        c->items = items;
    }
    return c;
}

/* Spans keyed from their bytes and spans keyed from the decoded request get
 * the same identity: a retry is caught whichever form each copy arrives in. */
static void test_decoded_and_undecoded_agree(void **state)
{
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, NULL, NULL);
    const uint64_t high = 1ull << 56; /* ids that differ only in their last byte */

    (void)state;
    fx_consume(ins, as_form(fx_simple(OTC_TRACES, 10, 100), true));
    fx_consume(ins, as_form(fx_simple(OTC_TRACES, 10, 100), false)); /* all repeats */
    fx_consume(ins, as_form(fx_simple(OTC_TRACES, 10, 200), false));
    fx_consume(ins, as_form(fx_simple(OTC_TRACES, 10, 200), true)); /* all repeats */
    fx_consume(ins, as_form(fx_simple(OTC_TRACES, 3, high), false));
    fx_consume(ins, as_form(fx_simple(OTC_TRACES, 3, 2 * high), false)); /* new spans */
    fx_consume(ins, as_form(fx_simple(OTC_TRACES, 3, 2 * high), true));  /* repeats */
    assert_int_equal(fx_captured.n, 4);
    assert_false(atomic_load(&fx_captured.b[1]->decoded)); /* passed on without decoding */
    assert_int_equal(fx_captured_items(), 26);
    assert_int_equal(dropped(ins, OTC_TRACES), 23);
    fx_instance_free(ins);
}

/* Same span ids with another start time are different spans. */
static void test_span_identity(void **state)
{
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, NULL, NULL);
    struct fx_item a = {.res = 1, .scope = 1, .id = 7, .time = 70};
    struct fx_item b = {.res = 1, .scope = 1, .id = 7, .time = 71};
    struct fx_item c = {.res = 9, .scope = 9, .id = 7, .time = 70}; /* same ids, other resource */

    (void)state;
    fx_consume(ins, fx_traces(&a, 1));
    fx_consume(ins, fx_traces(&b, 1));
    fx_consume(ins, fx_traces(&c, 1)); /* span identity ignores the resource */
    assert_int_equal(fx_captured_items(), 2);
    assert_int_equal(dropped(ins, OTC_TRACES), 1);
    fx_instance_free(ins);
}

static void test_window_expiry(void **state)
{
    const char *opts[] = {"window=300ms", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, opts, NULL);

    (void)state;
    fx_consume(ins, fx_simple(OTC_LOGS, 20, 1));
    fx_consume(ins, fx_simple(OTC_LOGS, 20, 1)); /* within the window: dropped */
    assert_int_equal(fx_captured_items(), 20);
    sleep_ms(400);
    fx_consume(ins, fx_simple(OTC_LOGS, 20, 1)); /* window passed: new again */
    assert_int_equal(fx_captured_items(), 40);
    fx_consume(ins, fx_simple(OTC_LOGS, 20, 1)); /* and remembered anew */
    assert_int_equal(fx_captured_items(), 40);
    assert_int_equal(dropped(ins, OTC_LOGS), 40);
    fx_instance_free(ins);
}

/* A stream of unique keys larger than max_entries: the oldest are forgotten
 * (a re-sent old batch passes again), the newest are still caught. */
static void test_memory_bound(void **state)
{
    const char *opts[] = {"max_entries=1000", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, opts, NULL);

    (void)state;
    for (uint64_t i = 0; i < 50; i++) {
        fx_consume(ins, fx_simple(OTC_TRACES, 100, 1 + i * 100));
    }
    assert_int_equal(fx_captured_items(), 5000);
    fx_capture_clear();
    fx_consume(ins, fx_simple(OTC_TRACES, 100, 1 + 49 * 100)); /* newest: caught */
    assert_int_equal(fx_captured.n, 0);
    fx_consume(ins, fx_simple(OTC_TRACES, 100, 1)); /* oldest: evicted long ago */
    assert_int_equal(fx_captured_items(), 100);
    assert_int_equal(dropped(ins, OTC_TRACES), 100);
    fx_instance_free(ins);
}

static void test_log_identity(void **state)
{
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, NULL, NULL);
    struct fx_item base = {.res = 1, .scope = 1, .id = 5, .time = 50};
    struct fx_item other_body = {.res = 1, .scope = 1, .id = 6, .time = 50};
    struct fx_item other_time = {.res = 1, .scope = 1, .id = 5, .time = 51};
    struct fx_item other_res = {.res = 2, .scope = 1, .id = 5, .time = 50};
    struct fx_item other_scope = {.res = 1, .scope = 2, .id = 5, .time = 50};
    struct fx_item mix[] = {base, other_body, base, other_scope, other_res, other_time, base};

    (void)state;
    fx_consume(ins, fx_logs(&base, 1));
    fx_consume(ins, fx_logs(&base, 1)); /* duplicate */
    assert_int_equal(fx_captured_items(), 1);
    fx_consume(ins, fx_logs(mix, 7)); /* 4 new, 3 copies of base */
    if (getenv("OTC_FX_UNDECODED")) {
        /* keyed and dropped on the wire: still undecoded */
        assert_false(otc_batch_is_decoded(fx_captured.b[1]));
    }
    assert_int_equal(fx_captured_items(), 5);
    assert_int_equal(dropped(ins, OTC_LOGS), 4);
    {
        const otc_logs_req *r = (const otc_logs_req *)otc_batch_msg(fx_captured.b[1]);
        /* base's container kept other_body, then scope 2, resource 2, other_time */
        assert_int_equal(r->n_resource_logs, 3);
        assert_int_equal(r->resource_logs[0]->n_scope_logs, 2);
        assert_int_equal(fx_captured.b[1]->items, 4);
    }
    fx_instance_free(ins);
}

static void test_metric_identity(void **state)
{
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, NULL, NULL);
    /* metric m-1: points p-1, p-2; metric m-2: point p-1 */
    struct fx_item first[] = {
        {.res = 1, .scope = 1, .metric = 1, .id = 1, .time = 10},
        {.res = 1, .scope = 1, .metric = 1, .id = 2, .time = 10},
        {.res = 1, .scope = 1, .metric = 2, .id = 1, .time = 10},
    };
    /* m-1 p-1 again (dup), m-1 p-1 at another time, m-2 p-1 again (dup: its
     * metric disappears), m-1 p-1 under resource 2 (new) */
    struct fx_item second[] = {
        {.res = 1, .scope = 1, .metric = 1, .id = 1, .time = 10},
        {.res = 1, .scope = 1, .metric = 1, .id = 1, .time = 20},
        {.res = 1, .scope = 1, .metric = 2, .id = 1, .time = 10},
        {.res = 2, .scope = 1, .metric = 1, .id = 1, .time = 10},
    };
    const otc_metrics_req *r;

    (void)state;
    fx_consume(ins, fx_metrics(first, 3));
    fx_consume(ins, fx_metrics(second, 4));
    assert_int_equal(fx_captured.n, 2);
    if (getenv("OTC_FX_UNDECODED")) {
        /* keyed and dropped on the wire: still undecoded */
        assert_false(otc_batch_is_decoded(fx_captured.b[0]));
        assert_false(otc_batch_is_decoded(fx_captured.b[1]));
    }
    assert_int_equal(fx_captured.b[0]->items, 3);
    assert_int_equal(fx_captured.b[1]->items, 2);
    assert_int_equal(dropped(ins, OTC_METRICS), 2);
    r = (const otc_metrics_req *)otc_batch_msg(fx_captured.b[1]);
    assert_int_equal(r->n_resource_metrics, 2);
    assert_int_equal(r->resource_metrics[0]->scope_metrics[0]->n_metrics, 1); /* m-2 removed */
    assert_string_equal(r->resource_metrics[0]->scope_metrics[0]->metrics[0]->name, "m-1");
    assert_int_equal(r->resource_metrics[0]->scope_metrics[0]->metrics[0]->gauge->n_data_points, 1);
    assert_int_equal(
        r->resource_metrics[0]->scope_metrics[0]->metrics[0]->gauge->data_points[0]->time_unix_nano, 20);
    fx_instance_free(ins);
}

/* ------------------------------------------- identities of both forms */

/* A protobuf writer for requests laid out in ways encoders do not write. */
struct pbw {
    uint8_t b[2048];
    size_t  n;
};

static void pbw_varint(struct pbw *w, uint64_t v)
{
    while (v >= 0x80) {
        w->b[w->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->b[w->n++] = (uint8_t)v;
}

static void pbw_bytes(struct pbw *w, uint32_t field, const void *p, size_t n)
{
    pbw_varint(w, field << 3 | 2);
    pbw_varint(w, n);
    assert_true(w->n + n <= sizeof(w->b));
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void pbw_msg(struct pbw *w, uint32_t field, const struct pbw *m)
{
    pbw_bytes(w, field, m->b, m->n);
}

static void pbw_fixed64(struct pbw *w, uint32_t field, uint64_t v)
{
    pbw_varint(w, field << 3 | 1);
    memcpy(w->b + w->n, &v, 8);
    w->n += 8;
}

static void pbw_uint(struct pbw *w, uint32_t field, uint64_t v)
{
    pbw_varint(w, field << 3);
    pbw_varint(w, v);
}

/* KeyValue variants, and the class of each: variants of one class are the
 * same attribute once decoded (a string is cut at its first NUL; field order
 * inside a KeyValue does not matter), variants of different classes are not. */
struct kv_variant {
    const char *what;
    int         cls;
};

static const struct kv_variant kv_variants[] = {
    {"plain k=v", 0},
    {"key k\\0x", 0},
    {"value v\\0y", 0},
    {"value before key", 0},
    {"value with a two-byte length", 1},
    {"empty key", 2},
    {"empty value", 3},
    {"int 5", 4},
    {"bool true", 5},
    {"double 1.5", 6},
    {"bytes v", 7},
    {"array [v, 5]", 8},
    {"kvlist {k: v}", 9},
    {"kvlist {k: v\\0z, n: 5}", 10},
    {"no value", 11},
    {"empty value message", 12},
    {"key kv, value empty", 13}, /* not the same as key k, value v */
    {"key k, value string 'v' in a value with another field first", 0},
    {"key k\\0 and 40 bytes", 0},
    {"value v\\0 and 40 bytes", 0},
    {"key of 40 bytes, value of 40 bytes ending in \\0", 14},
    {"no key", 2},
};
#define N_KV_VARIANTS (sizeof(kv_variants) / sizeof(kv_variants[0]))

static void kv_variant(struct pbw *kv, size_t i)
{
    struct pbw v = {0}, inner = {0}, item = {0};
    static char long_value[200];

    memset(kv, 0, sizeof(*kv));
    memset(long_value, 'v', sizeof(long_value));
    switch (i) {
    case 0:
        pbw_bytes(kv, 1, "k", 1);
        pbw_bytes(&v, 1, "v", 1);
        break;
    case 1:
        pbw_bytes(kv, 1, "k\0x", 3);
        pbw_bytes(&v, 1, "v", 1);
        break;
    case 2:
        pbw_bytes(kv, 1, "k", 1);
        pbw_bytes(&v, 1, "v\0y", 3);
        break;
    case 3:
        pbw_bytes(&v, 1, "v", 1);
        pbw_msg(kv, 2, &v);
        pbw_bytes(kv, 1, "k", 1);
        return;
    case 4:
        pbw_bytes(kv, 1, "k", 1);
        pbw_bytes(&v, 1, long_value, sizeof(long_value));
        break;
    case 5:
        pbw_bytes(kv, 1, "", 0);
        pbw_bytes(&v, 1, "v", 1);
        break;
    case 6:
        pbw_bytes(kv, 1, "k", 1);
        pbw_bytes(&v, 1, "", 0);
        break;
    case 7:
        pbw_bytes(kv, 1, "k", 1);
        pbw_uint(&v, 3, 5);
        break;
    case 8:
        pbw_bytes(kv, 1, "k", 1);
        pbw_uint(&v, 2, 1);
        break;
    case 9:
        pbw_bytes(kv, 1, "k", 1);
        pbw_fixed64(&v, 4, 0x3ff8000000000000ull);
        break;
    case 10:
        pbw_bytes(kv, 1, "k", 1);
        pbw_bytes(&v, 7, "v", 1);
        break;
    case 11:
        pbw_bytes(kv, 1, "k", 1);
        pbw_bytes(&item, 1, "v", 1);
        pbw_msg(&inner, 1, &item);
        memset(&item, 0, sizeof(item));
        pbw_uint(&item, 3, 5);
        pbw_msg(&inner, 1, &item);
        pbw_msg(&v, 5, &inner);
        break;
    case 12:
    case 13:
        pbw_bytes(kv, 1, "k", 1);
        pbw_bytes(&item, 1, "k", 1);
        {
            struct pbw s = {0};
            pbw_bytes(&s, 1, i == 12 ? "v" : "v\0z", i == 12 ? 1 : 3);
            pbw_msg(&item, 2, &s);
        }
        pbw_msg(&inner, 1, &item);
        if (i == 13) {
            struct pbw s = {0};
            memset(&item, 0, sizeof(item));
            pbw_bytes(&item, 1, "n", 1);
            pbw_uint(&s, 3, 5);
            pbw_msg(&item, 2, &s);
            pbw_msg(&inner, 1, &item);
        }
        pbw_msg(&v, 6, &inner);
        break;
    case 14:
        pbw_bytes(kv, 1, "k", 1);
        return;
    case 15:
        pbw_bytes(kv, 1, "k", 1);
        break; /* an AnyValue without a member */
    case 16:
        pbw_bytes(kv, 1, "kv", 2);
        pbw_bytes(&v, 1, "", 0);
        break;
    case 17:
        pbw_bytes(kv, 1, "k", 1);
        pbw_uint(&v, 3, 9); /* replaced by the string that follows: the last member counts */
        pbw_bytes(&v, 1, "v", 1);
        break;
    case 21:
        pbw_bytes(&v, 1, "v", 1); /* the key is "" once decoded */
        break;
    default: /* long enough for the copy of a run in 32-byte blocks */
        if (i == 20) { /* the only NUL in the last bytes of the run */
            pbw_bytes(kv, 1, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", 40);
            pbw_bytes(&v, 1, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\0", 40);
        } else {
            pbw_bytes(kv, 1, i == 19 ? "k" : "k\0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i == 19 ? 1 : 42);
            pbw_bytes(&v, 1, i == 18 ? "v" : "v\0yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy", i == 18 ? 1 : 42);
        }
        break;
    }
    pbw_msg(kv, 2, &v);
}

/* A request of signal s with one item (a log record, or a gauge point and a
 * histogram point of two metrics) whose resource, and the item, carry the
 * attribute "a"="b", then variant i, then "c"="d". */
static struct otc_batch *variant_request(enum otc_signal s, size_t i, bool decoded)
{
    static struct pbw req, rc, res, sc, scope, item, data, kv, ab, cd, metric, tmp;
    size_t items;
    struct otc_batch *b;

    memset(&req, 0, sizeof(req));
    memset(&rc, 0, sizeof(rc));
    memset(&res, 0, sizeof(res));
    memset(&sc, 0, sizeof(sc));
    memset(&scope, 0, sizeof(scope));
    memset(&ab, 0, sizeof(ab));
    memset(&cd, 0, sizeof(cd));
    memset(&tmp, 0, sizeof(tmp));
    pbw_bytes(&ab, 1, "a", 1);
    pbw_bytes(&tmp, 1, "b", 1);
    pbw_msg(&ab, 2, &tmp);
    memset(&tmp, 0, sizeof(tmp));
    pbw_bytes(&cd, 1, "c", 1);
    pbw_bytes(&tmp, 1, "d", 1);
    pbw_msg(&cd, 2, &tmp);
    kv_variant(&kv, i);
    pbw_msg(&res, 1, &ab);
    pbw_msg(&res, 1, &kv);
    pbw_msg(&res, 1, &cd);
    pbw_msg(&rc, 1, &res);
    pbw_bytes(&scope, 1, "scope", 5);
    pbw_msg(&sc, 1, &scope);
    if (s == OTC_LOGS) {
        memset(&item, 0, sizeof(item));
        memset(&tmp, 0, sizeof(tmp));
        pbw_fixed64(&item, 1, 1000);
        pbw_bytes(&tmp, 1, "body", 4);
        pbw_msg(&item, 5, &tmp);
        pbw_msg(&item, 6, &ab);
        pbw_msg(&item, 6, &kv);
        pbw_msg(&item, 6, &cd);
        pbw_fixed64(&item, 11, 2000);
        pbw_msg(&sc, 2, &item);
    } else {
        for (uint32_t type = 5; type <= 9; type += 4) { /* gauge, histogram */
            uint32_t attrs = type == 5 ? 7 : 9;

            memset(&metric, 0, sizeof(metric));
            memset(&data, 0, sizeof(data));
            memset(&item, 0, sizeof(item));
            pbw_bytes(&metric, 1, type == 5 ? "g" : "h", 1);
            pbw_msg(&item, attrs, &ab);
            pbw_fixed64(&item, 2, 1000);
            pbw_msg(&item, attrs, &kv);
            pbw_msg(&item, attrs, &cd);
            pbw_fixed64(&item, 3, 2000);
            pbw_msg(&data, 1, &item);
            pbw_msg(&metric, type, &data);
            pbw_msg(&sc, 2, &metric);
        }
    }
    pbw_msg(&rc, 2, &sc);
    pbw_msg(&req, 1, &rc);
    b = otc_batch_from_bytes(s, req.b, req.n);
    assert_non_null(b);
    if (decoded) {
        assert_int_equal(otc_batch_decode(b), OTC_OK);
    } else {
        assert_int_equal(otc_pb_scan_request(s, b->raw, b->raw_len, &items), OTC_OK);
        b->items = items;
    }
    return b;
}

/* Each variant keyed from its bytes and from its decoded request: one
 * identity per class, the same in both forms (a variant whose class was seen
 * is a duplicate in either form; the second copy always is). */
static void test_attribute_forms(void **state)
{
    static const enum otc_signal sigs[] = {OTC_LOGS, OTC_METRICS};

    (void)state;
    for (size_t s = 0; s < 2; s++) {
        for (int first_decoded = 0; first_decoded < 2; first_decoded++) {
            struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, NULL, NULL);
            bool seen[32] = {false};
            size_t per = sigs[s] == OTC_LOGS ? 1 : 2;

            for (size_t i = 0; i < N_KV_VARIANTS; i++) {
                size_t before = fx_captured.n;
                int cls = kv_variants[i].cls;

                /* counted in batches (one per request passed on, whole: its
                 * items are the same attribute), before the count decodes them */
                fx_consume(ins, variant_request(sigs[s], i, first_decoded));
                if (fx_captured.n != before + (seen[cls] ? 0 : 1)) {
                    fail_msg("%s, %s first: variant \"%s\" %s", sigs[s] == OTC_LOGS ? "logs" : "metrics",
                             first_decoded ? "decoded" : "undecoded", kv_variants[i].what,
                             seen[cls] ? "not a duplicate" : "taken for a duplicate");
                }
                if (!first_decoded && !seen[cls] &&
                    otc_batch_is_decoded(fx_captured.b[fx_captured.n - 1])) {
                    fail_msg("%s: variant \"%s\" not keyed from its bytes",
                             sigs[s] == OTC_LOGS ? "logs" : "metrics", kv_variants[i].what);
                }
                seen[cls] = true;
                before = fx_captured.n;
                fx_consume(ins, variant_request(sigs[s], i, !first_decoded));
                if (fx_captured.n != before) {
                    fail_msg("%s: variant \"%s\" keyed differently from its other form",
                             sigs[s] == OTC_LOGS ? "logs" : "metrics", kv_variants[i].what);
                }
            }
            assert_int_equal(fx_captured_items(), 15 * per); /* 15 classes */
            fx_instance_free(ins);
            fx_capture_clear();
        }
    }
}

/* Only the configured signals are deduplicated. */
static void test_signals_option(void **state)
{
    const char *opts[] = {"signals=traces", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, opts, NULL);

    (void)state;
    fx_consume(ins, fx_simple(OTC_LOGS, 5, 1));
    fx_consume(ins, fx_simple(OTC_LOGS, 5, 1));
    fx_consume(ins, fx_simple(OTC_TRACES, 5, 1));
    fx_consume(ins, fx_simple(OTC_TRACES, 5, 1));
    assert_int_equal(fx_captured_items(), 15);
    assert_int_equal(dropped(ins, OTC_LOGS), 0);
    assert_int_equal(dropped(ins, OTC_TRACES), 5);
    fx_instance_free(ins);
}

/* A batch shared with another pipeline is copied before anything is removed. */
static void test_shared_batch(void **state)
{
    struct otc_instance *ins = fx_instance(&otc_processor_dedup_ops, NULL, NULL);
    struct fx_item it[] = {{.id = 1, .time = 1}, {.id = 1, .time = 1}, {.id = 2, .time = 2}};
    struct otc_batch *b = fx_traces(it, 3);

    (void)state;
    otc_batch_ref(b); /* the other pipeline's reference */
    fx_consume(ins, b);
    assert_int_equal(fx_captured.n, 1);
    assert_ptr_not_equal(fx_captured.b[0], b);
    assert_int_equal(fx_captured.b[0]->items, 2);
    assert_int_equal(b->items, 3);
    assert_true(b->raw_fresh);
    assert_int_equal(otc_request_count_items(OTC_TRACES, otc_batch_msg(b)), 3);
    otc_batch_unref(b);
    fx_instance_free(ins);
}

/* Several pipeline workers at once on one dedup with a sharded table: every
 * id is sent twice, by two different threads, so exactly half of the items
 * are duplicates whichever thread gets there first. */
#define MT_THREADS  4
#define MT_REQUESTS 150
#define MT_ITEMS    40

struct mt_arg {
    struct otc_instance *ins;
    unsigned             t;
    enum otc_signal      s;
};

static void *mt_worker(void *p)
{
    struct mt_arg *a = p;
    uint64_t unique = (uint64_t)MT_THREADS / 2 * MT_REQUESTS * MT_ITEMS;

    for (unsigned r = 0; r < MT_REQUESTS; r++) {
        uint64_t first = ((uint64_t)(a->t * MT_REQUESTS + r) * MT_ITEMS) % unique + 1;
        fx_consume(a->ins, fx_simple(a->s, MT_ITEMS, first));
    }
    return NULL;
}

static void test_concurrent_workers(void **state)
{
    const char *opts[] = {"max_entries=1048576", NULL};
    struct otc_pipeline p;
    uint64_t total = (uint64_t)MT_THREADS * MT_REQUESTS * MT_ITEMS;

    (void)state;
    memset(&p, 0, sizeof(p));
    p.n_workers = MT_THREADS; /* dedup splits its table into shards for them */
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        struct otc_instance *ins = fx_instance_in(&otc_processor_dedup_ops, opts, NULL, &p);
        struct mt_arg args[MT_THREADS];
        pthread_t th[MT_THREADS];

        assert_non_null(ins);
        for (unsigned t = 0; t < MT_THREADS; t++) {
            args[t] = (struct mt_arg){ins, t, (enum otc_signal)s};
            assert_int_equal(pthread_create(&th[t], NULL, mt_worker, &args[t]), 0);
        }
        for (unsigned t = 0; t < MT_THREADS; t++) {
            pthread_join(th[t], NULL);
        }
        assert_int_equal(dropped(ins, (enum otc_signal)s), total / 2);
        assert_int_equal(atomic_load(&ins->counters.outgoing[s]), total / 2);
        fx_instance_free(ins);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_basic),
        cmocka_unit_test(test_table_window),
        cmocka_unit_test(test_table_fifo_bound),
        cmocka_unit_test(test_table_collisions),
        cmocka_unit_test_teardown(test_config, teardown),
        cmocka_unit_test_teardown(test_untouched, teardown),
        cmocka_unit_test_teardown(test_within_batch, teardown),
        cmocka_unit_test_teardown(test_across_batches, teardown),
        cmocka_unit_test_teardown(test_span_identity, teardown),
        cmocka_unit_test_teardown(test_decoded_and_undecoded_agree, teardown),
        cmocka_unit_test_teardown(test_window_expiry, teardown),
        cmocka_unit_test_teardown(test_memory_bound, teardown),
        cmocka_unit_test_teardown(test_log_identity, teardown),
        cmocka_unit_test_teardown(test_metric_identity, teardown),
        cmocka_unit_test_teardown(test_attribute_forms, teardown),
        cmocka_unit_test_teardown(test_signals_option, teardown),
        cmocka_unit_test_teardown(test_shared_batch, teardown),
        cmocka_unit_test(test_concurrent_workers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
