/* test_batch_processor.c - unit tests for the batch processor
 * (processor/batch): size trigger, timeout trigger (timer with a fake now),
 * send_batch_max_size splits, merging of equal resources and scopes across
 * input batches, flush, the three signals, the lifetime of inputs, and undecoded
 * inputs batched as their concatenated bytes (order, splits, write-ahead log),
 * and replayed inputs merged only with inputs bound for the same exporters. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/wal.h"
#include "otc/otc_pb_check.h"
#include "proc_fixtures.h"
#include "processor/batch/batch.h"

#define MS 1000000ull

static int teardown(void **state)
{
    (void)state;
    fx_capture_clear();
    return 0;
}

static int fire_timer(struct otc_instance *ins, uint64_t now)
{
    return ins->ops->timer(ins, ins->ctx, now);
}

/* Span start times of a traces batch, in request order. */
static size_t span_times(struct otc_batch *b, uint64_t *out, size_t max)
{
    const otc_traces_req *r = (const otc_traces_req *)otc_batch_msg(b);
    size_t n = 0;

    for (size_t i = 0; i < r->n_resource_spans; i++) {
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
            const otc_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
            for (size_t k = 0; k < ss->n_spans && n < max; k++) {
                out[n++] = ss->spans[k]->start_time_unix_nano;
            }
        }
    }
    return n;
}

/* Serialize and decode again: what an exporter would send. */
static struct otc_batch *roundtrip(struct otc_batch *b)
{
    const uint8_t *data;
    size_t len;
    struct otc_batch *c;

    assert_int_equal(otc_batch_bytes(b, &data, &len), OTC_OK);
    c = otc_batch_from_bytes(b->signal, data, len);
    assert_non_null(c);
    assert_int_equal(otc_batch_decode(c), OTC_OK);
    return c;
}

static void test_config(void **state)
{
    const char *bad[] = {"send_batch_size=100", "send_batch_max_size=50", NULL};
    const char *neg[] = {"send_batch_size=-1", NULL};
    const char *ok[] = {"send_batch_size=100", "send_batch_max_size=100", "timeout=1s", NULL};
    struct otc_instance *ins;
    int vrc;

    (void)state;
    assert_null(fx_instance(&otc_processor_batch_ops, bad, &vrc));
    assert_int_equal(vrc, OTC_EINVAL);
    assert_null(fx_instance(&otc_processor_batch_ops, neg, &vrc));
    assert_int_equal(vrc, OTC_EINVAL);
    ins = fx_instance(&otc_processor_batch_ops, ok, &vrc);
    assert_non_null(ins);
    fx_instance_free(ins);
    ins = fx_instance(&otc_processor_batch_ops, NULL, &vrc);
    assert_non_null(ins);
    assert_int_equal(ins->timer_due_ns, 0);
    fx_instance_free(ins);
}

/* Nothing leaves until send_batch_size items are pending; then all of them. */
static void test_size_trigger(void **state)
{
    const char *opts[] = {"send_batch_size=100", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    uint64_t t[200];

    (void)state;
    fx_consume(ins, fx_simple(OTC_TRACES, 40, 0));
    fx_consume(ins, fx_simple(OTC_TRACES, 40, 40));
    assert_int_equal(fx_captured.n, 0);
    assert_true(ins->timer_due_ns > 0);
    fx_consume(ins, fx_simple(OTC_TRACES, 40, 80));
    assert_int_equal(fx_captured.n, 1);
    assert_int_equal(fx_captured.b[0]->items, 120);
    assert_int_equal(ins->timer_due_ns, 0); /* nothing pending */
    /* one resource, one scope, items in arrival order */
    {
        const otc_traces_req *r = (const otc_traces_req *)otc_batch_msg(fx_captured.b[0]);
        assert_int_equal(r->n_resource_spans, 1);
        assert_int_equal(r->resource_spans[0]->n_scope_spans, 1);
    }
    assert_int_equal(span_times(fx_captured.b[0], t, 200), 120);
    for (size_t i = 0; i < 120; i++) {
        assert_int_equal(t[i], 1000 + i);
    }
    fx_instance_free(ins);
}

/* Pending items leave `timeout` after the oldest arrived, not before. */
static void test_timeout_trigger(void **state)
{
    const char *opts[] = {"send_batch_size=1000", "timeout=200ms", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct otc_batch *b1 = fx_simple(OTC_LOGS, 10, 0);
    struct otc_batch *b2 = fx_simple(OTC_LOGS, 5, 10);
    uint64_t due;

    (void)state;
    b2->received_ns = b1->received_ns + 50 * MS;
    due = b1->received_ns + 200 * MS;
    fx_consume(ins, b1);
    fx_consume(ins, b2);
    assert_int_equal(fx_captured.n, 0);
    assert_int_equal(ins->timer_due_ns, due);
    fire_timer(ins, due - 1);
    assert_int_equal(fx_captured.n, 0);
    assert_int_equal(ins->timer_due_ns, due);
    fire_timer(ins, due);
    assert_int_equal(fx_captured.n, 1);
    assert_int_equal(fx_captured.b[0]->items, 15);
    assert_int_equal(ins->timer_due_ns, 0);
    /* a new arrival re-arms the timer from its own arrival time */
    b1 = fx_simple(OTC_LOGS, 3, 100);
    fx_consume(ins, b1);
    assert_int_equal(ins->timer_due_ns, b1->received_ns + 200 * MS);
    fx_instance_free(ins); /* destroy frees what is still pending */
}

/* timeout 0: every batch leaves at once. */
static void test_timeout_zero(void **state)
{
    const char *opts[] = {"send_batch_size=1000", "timeout=0s", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);

    (void)state;
    fx_consume(ins, fx_simple(OTC_TRACES, 3, 0));
    fx_consume(ins, fx_simple(OTC_TRACES, 4, 3));
    assert_int_equal(fx_captured.n, 2);
    assert_int_equal(fx_captured_items(), 7);
    assert_int_equal(ins->timer_due_ns, 0);
    fx_instance_free(ins);
}

/* send_batch_max_size: no request above it, nothing lost or repeated, order kept. */
static void test_max_size_split(void **state)
{
    const char *opts[] = {"send_batch_size=100", "send_batch_max_size=100", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    uint64_t t[400];
    size_t n = 0;

    (void)state;
    fx_consume(ins, fx_simple(OTC_TRACES, 350, 0));
    assert_int_equal(fx_captured.n, 3); /* 3 x 100 left; 50 wait */
    fx_consume(ins, fx_simple(OTC_TRACES, 30, 350));
    assert_int_equal(fx_captured.n, 3);
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 4);
    for (size_t i = 0; i < fx_captured.n; i++) {
        assert_true(fx_captured.b[i]->items <= 100);
        n += span_times(fx_captured.b[i], t + n, 400 - n);
    }
    assert_int_equal(n, 380);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i], 1000 + i);
    }
    /* the pieces survive serialization */
    for (size_t i = 0; i < fx_captured.n; i++) {
        struct otc_batch *c = roundtrip(fx_captured.b[i]);
        assert_int_equal(c->items, fx_captured.b[i]->items);
        otc_batch_unref(c);
    }
    fx_instance_free(ins);
}

/* A metric with more points than send_batch_max_size is split across requests. */
static void test_max_size_split_metric_points(void **state)
{
    const char *opts[] = {"send_batch_size=64", "send_batch_max_size=64", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct fx_item it[250];
    uint8_t seen[250] = {0};

    (void)state;
    for (size_t i = 0; i < 250; i++) {
        it[i] = (struct fx_item){.res = 1, .scope = 1, .metric = i < 200 ? 1 : 2, .id = i, .time = 5};
    }
    fx_consume(ins, fx_metrics(it, 250));
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 4); /* 64 + 64 + 64 + 58 */
    for (size_t b = 0; b < fx_captured.n; b++) {
        struct otc_batch *c = roundtrip(fx_captured.b[b]);
        const otc_metrics_req *r = (const otc_metrics_req *)c->msg;
        assert_true(c->items <= 64);
        for (size_t i = 0; i < r->n_resource_metrics; i++) {
            for (size_t j = 0; j < r->resource_metrics[i]->n_scope_metrics; j++) {
                const otc_scope_metrics *sm = r->resource_metrics[i]->scope_metrics[j];
                for (size_t k = 0; k < sm->n_metrics; k++) {
                    const otc_metric *m = sm->metrics[k];
                    for (size_t p = 0; p < m->gauge->n_data_points; p++) {
                        int64_t v = m->gauge->data_points[p]->as_int;
                        assert_true(v >= 0 && v < 250);
                        assert_string_equal(m->name, v < 200 ? "m-1" : "m-2");
                        seen[v]++;
                    }
                }
            }
        }
        otc_batch_unref(c);
    }
    for (size_t i = 0; i < 250; i++) {
        assert_int_equal(seen[i], 1);
    }
    fx_instance_free(ins);
}

/* Items of equal resource and scope from different inputs share one
 * ResourceSpans/ScopeSpans; different ones stay apart. */
static void test_merge(void **state)
{
    const char *opts[] = {"send_batch_size=1000", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct fx_item a[] = {{1, 1, 1, 1, 0}, {1, 1, 2, 2, 0}, {1, 1, 3, 3, 0},
                          {2, 1, 4, 4, 0}, {2, 1, 5, 5, 0}, {1, 1, 6, 6, 0}};
    struct fx_item b[] = {{1, 1, 7, 7, 0}, {1, 2, 8, 8, 0}};
    struct fx_item c[] = {{2, 1, 9, 9, 0}};
    struct otc_batch *out;
    const otc_traces_req *r;

    (void)state;
    fx_consume(ins, fx_traces(a, 6)); /* resource 1 appears twice inside one request */
    fx_consume(ins, fx_traces(b, 2));
    fx_consume(ins, fx_traces(c, 1));
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 1);
    out = roundtrip(fx_captured.b[0]);
    r = (const otc_traces_req *)out->msg;
    assert_int_equal(out->items, 9);
    assert_int_equal(r->n_resource_spans, 2);
    assert_string_equal(r->resource_spans[0]->resource->attributes[0]->value->string_value, "svc-1");
    assert_string_equal(r->resource_spans[1]->resource->attributes[0]->value->string_value, "svc-2");
    assert_int_equal(r->resource_spans[0]->n_scope_spans, 2);
    assert_string_equal(r->resource_spans[0]->scope_spans[0]->scope->name, "scope-1");
    assert_int_equal(r->resource_spans[0]->scope_spans[0]->n_spans, 5); /* ids 1 2 3 6 7 */
    assert_int_equal(r->resource_spans[0]->scope_spans[0]->spans[3]->start_time_unix_nano, 6);
    assert_int_equal(r->resource_spans[0]->scope_spans[0]->spans[4]->start_time_unix_nano, 7);
    assert_string_equal(r->resource_spans[0]->scope_spans[1]->scope->name, "scope-2");
    assert_int_equal(r->resource_spans[0]->scope_spans[1]->n_spans, 1);
    assert_int_equal(r->resource_spans[1]->n_scope_spans, 1);
    assert_int_equal(r->resource_spans[1]->scope_spans[0]->n_spans, 3); /* ids 4 5 9 */
    otc_batch_unref(out);
    fx_instance_free(ins);
}

/* Merging works alike for logs and metrics (metrics: the scope's metrics list). */
static void test_merge_logs_metrics(void **state)
{
    const char *opts[] = {"send_batch_size=1000", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct fx_item a[] = {{1, 1, 1, 1, 1}, {2, 1, 2, 2, 1}};
    struct fx_item b[] = {{2, 1, 3, 3, 2}, {1, 1, 4, 4, 1}};

    (void)state;
    fx_consume(ins, fx_logs(a, 2));
    fx_consume(ins, fx_logs(b, 2));
    fx_consume(ins, fx_metrics(a, 2));
    fx_consume(ins, fx_metrics(b, 2));
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 2);
    for (size_t i = 0; i < 2; i++) {
        struct otc_batch *o = roundtrip(fx_captured.b[i]);
        assert_int_equal(o->items, 4);
        if (o->signal == OTC_LOGS) {
            const otc_logs_req *r = (const otc_logs_req *)o->msg;
            assert_int_equal(r->n_resource_logs, 2);
            assert_int_equal(r->resource_logs[0]->n_scope_logs, 1);
            assert_int_equal(r->resource_logs[0]->scope_logs[0]->n_log_records, 2);
            assert_int_equal(r->resource_logs[1]->scope_logs[0]->n_log_records, 2);
        } else {
            const otc_metrics_req *r = (const otc_metrics_req *)o->msg;
            assert_int_equal(o->signal, OTC_METRICS);
            assert_int_equal(r->n_resource_metrics, 2);
            assert_int_equal(r->resource_metrics[0]->n_scope_metrics, 1);
            assert_int_equal(r->resource_metrics[0]->scope_metrics[0]->n_metrics, 2);
            assert_int_equal(r->resource_metrics[1]->scope_metrics[0]->n_metrics, 2);
        }
        otc_batch_unref(o);
    }
    fx_instance_free(ins);
}

/* flush sends every signal's pending items and leaves nothing behind. */
static void test_flush_all_signals(void **state)
{
    const char *opts[] = {"send_batch_size=1000", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    unsigned seen = 0;

    (void)state;
    fx_consume(ins, fx_simple(OTC_TRACES, 7, 0));
    fx_consume(ins, fx_simple(OTC_LOGS, 8, 0));
    fx_consume(ins, fx_simple(OTC_METRICS, 9, 0));
    fx_consume(ins, fx_simple(OTC_TRACES, 1, 7));
    assert_int_equal(fx_captured.n, 0);
    assert_int_equal(ins->ops->flush(ins, ins->ctx), OTC_OK);
    assert_int_equal(fx_captured.n, 3);
    for (size_t i = 0; i < 3; i++) {
        struct otc_batch *b = fx_captured.b[i];
        seen |= OTC_SIG_BIT(b->signal);
        assert_int_equal(b->items, b->signal == OTC_TRACES ? 8 : b->signal == OTC_LOGS ? 8 : 9);
    }
    assert_int_equal(seen, OTC_SIG_ALL);
    assert_int_equal(ins->timer_due_ns, 0);
    assert_int_equal(ins->ops->flush(ins, ins->ctx), OTC_OK); /* nothing more */
    assert_int_equal(fx_captured.n, 3);
    fx_instance_free(ins);
}

/* One whole input that already has one container per resource and scope
 * leaves as it is, keeping its received bytes (zero-copy). */
static void test_pass_through(void **state)
{
    const char *opts[] = {"send_batch_size=10", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct otc_batch *b = fx_simple(OTC_TRACES, 20, 0);
    struct fx_item twice[] = {{1, 1, 1, 1, 0}, {2, 1, 2, 2, 0}, {1, 1, 3, 3, 0},
                              {1, 1, 4, 4, 0}, {1, 1, 5, 5, 0}, {1, 1, 6, 6, 0},
                              {1, 1, 7, 7, 0}, {1, 1, 8, 8, 0}, {1, 1, 9, 9, 0},
                              {1, 1, 10, 10, 0}};
    struct otc_batch *c = fx_traces(twice, 10);

    (void)state;
    fx_consume(ins, b);
    assert_int_equal(fx_captured.n, 1);
    assert_ptr_equal(fx_captured.b[0], b);
    assert_true(b->raw_fresh);
    fx_consume(ins, c); /* resource 1 twice: must be merged, so rebuilt */
    assert_int_equal(fx_captured.n, 2);
    assert_ptr_not_equal(fx_captured.b[1], c);
    assert_int_equal(((const otc_traces_req *)otc_batch_msg(fx_captured.b[1]))->n_resource_spans, 2);
    fx_instance_free(ins);
}

/* Outputs keep their inputs alive: readable after everything else let go. */
static void test_output_owns_inputs(void **state)
{
    const char *opts[] = {"send_batch_size=50", "send_batch_max_size=50", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct otc_batch *o1, *o2;
    uint64_t t[100];

    (void)state;
    fx_consume(ins, fx_simple(OTC_TRACES, 30, 0));
    fx_consume(ins, fx_simple(OTC_TRACES, 30, 30)); /* split inside this one */
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 2);
    o1 = fx_captured.b[0];
    o2 = fx_captured.b[1];
    fx_captured.n = 0;
    fx_instance_free(ins); /* the processor is gone; only the outputs remain */
    otc_batch_unref(o1);   /* the second input is still needed by o2 */
    assert_int_equal(span_times(o2, t, 100), 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(t[i], 1050 + i);
    }
    otc_batch_unref(o2);
}

/* A later stage that writes into requests: inputs shared with another
 * pipeline are copied first, so the other pipeline's batch is untouched. */
static int mut_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    (void)ctx;
    return otc_next(ins, b);
}

static const struct otc_component_ops mut_ops = {
    .type = "mutator", .kind = OTC_PROCESSOR, .signals = OTC_SIG_ALL, .mutates = true,
    .consume = mut_consume,
};

static void test_downstream_mutates(void **state)
{
    struct otc_instance mut = {.ops = &mut_ops, .id = (char *)"mutator"};
    struct otc_instance *ins;
    struct otc_batch *shared = fx_simple(OTC_TRACES, 5, 0);
    const otc_traces_req *orig = (const otc_traces_req *)otc_batch_msg(shared);
    const otc_traces_req *r;

    (void)state;
    mut.next.ins = &fx_capture_ins;
    /* the mutator is the next stage before init, as the engine wires it */
    ins = calloc(1, sizeof(*ins));
    ins->ops = &otc_processor_batch_ops;
    ins->id = strdup("batch");
    ins->ctx = calloc(1, otc_processor_batch_ops.ctx_size);
    ins->next.ins = &mut;
    assert_int_equal(otc_config_map_defaults(otc_processor_batch_ops.config_map, ins->ctx), OTC_OK);
    assert_int_equal(otc_config_map_set(otc_config_map_find(otc_processor_batch_ops.config_map,
                                                            "timeout"), ins->ctx, "1h", NULL, 0),
                     OTC_OK);
    assert_int_equal(otc_processor_batch_ops.init(ins, ins->ctx), OTC_OK);
    otc_batch_ref(shared);
    fx_consume(ins, shared);
    fx_consume(ins, fx_simple(OTC_TRACES, 5, 5));
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 1);
    r = (const otc_traces_req *)otc_batch_msg(fx_captured.b[0]);
    assert_int_equal(fx_captured.b[0]->items, 10);
    assert_ptr_not_equal(r->resource_spans[0]->scope_spans[0]->spans[0],
                         orig->resource_spans[0]->scope_spans[0]->spans[0]);
    assert_ptr_not_equal(r->resource_spans[0]->resource, orig->resource_spans[0]->resource);
    assert_int_equal(shared->items, 5);
    otc_batch_unref(shared);
    fx_instance_free(ins);
}

/* ------------------------------------------------ undecoded inputs */

/* An undecoded batch of b's bytes with items set by the wire scan, as a
 * receiver's fast path leaves it. Takes b. */
static struct otc_batch *undecoded(struct otc_batch *b)
{
    const uint8_t *data;
    size_t len, items = 0;
    struct otc_batch *u;

    assert_non_null(b);
    assert_int_equal(otc_batch_bytes(b, &data, &len), OTC_OK);
    u = otc_batch_from_bytes(b->signal, data, len);
    assert_non_null(u);
    assert_int_equal(otc_pb_scan_request(b->signal, data, len, &items), OTC_OK);
    assert_int_equal(items, b->items);
    u->items = items;
    u->received_ns = b->received_ns;
    otc_batch_unref(b);
    return u;
}

static bool is_decoded(struct otc_batch *b)
{
    return atomic_load_explicit(&b->decoded, memory_order_acquire);
}

/* A decoded batch of n spans (ids first_id..), whatever the fixtures deliver. */
static struct otc_batch *decoded_simple(size_t n, uint64_t first_id)
{
    struct otc_batch *b = fx_simple(OTC_TRACES, n, first_id);

    assert_non_null(b);
    assert_int_equal(otc_batch_decode(b), OTC_OK);
    return b;
}

/* The bytes of several batches one after the other (what a raw output must hold). */
struct bytes {
    uint8_t *p;
    size_t   len;
};

static void bytes_add(struct bytes *acc, const struct otc_batch *b)
{
    acc->p = realloc(acc->p, acc->len + b->raw_len);
    assert_non_null(acc->p);
    memcpy(acc->p + acc->len, b->raw, b->raw_len);
    acc->len += b->raw_len;
}

static void assert_bytes(const struct otc_batch *b, const struct bytes *want)
{
    assert_true(b->raw_fresh);
    assert_int_equal(b->raw_len, want->len);
    assert_memory_equal(b->raw, want->p, want->len);
}

/* Undecoded inputs leave undecoded, as the concatenation of their bytes: every
 * span of every input, in order, under the inputs' own resources (not merged). */
static void test_raw_concat(void **state)
{
    const char *opts[] = {"send_batch_size=100", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct fx_item a[40], b[30], c[50];
    struct otc_batch *in[3], *out;
    struct bytes want = {0};
    const otc_traces_req *r;
    uint64_t t[200];

    (void)state;
    for (size_t i = 0; i < 50; i++) {
        if (i < 40) {
            a[i] = (struct fx_item){.res = 1, .scope = 1, .id = i, .time = 1000 + i};
        }
        if (i < 30) {
            b[i] = (struct fx_item){.res = 1, .scope = 1, .id = 40 + i, .time = 1040 + i};
        }
        c[i] = (struct fx_item){.res = i < 20 ? 2 : 3, .scope = 1, .id = 70 + i, .time = 1070 + i};
    }
    in[0] = undecoded(fx_traces(a, 40));
    in[1] = undecoded(fx_traces(b, 30));
    in[2] = undecoded(fx_traces(c, 50));
    for (size_t i = 0; i < 3; i++) {
        bytes_add(&want, in[i]);
        otc_batch_ref(in[i]); /* kept to check they are left undecoded */
    }
    fx_consume(ins, in[0]);
    fx_consume(ins, in[1]);
    assert_int_equal(fx_captured.n, 0);
    fx_consume(ins, in[2]);
    assert_int_equal(fx_captured.n, 1);
    out = fx_captured.b[0];
    for (size_t i = 0; i < 3; i++) {
        assert_ptr_not_equal(out, in[i]);
        assert_false(is_decoded(in[i]));
        assert_int_equal(atomic_load(&in[i]->refs), 1); /* not adopted: only the bytes were used */
        otc_batch_unref(in[i]);
    }
    assert_false(is_decoded(out));
    assert_int_equal(out->items, 120);
    assert_int_equal(out->signal, OTC_TRACES);
    assert_bytes(out, &want);
    assert_int_equal(ins->timer_due_ns, 0);
    /* decoding gives every span in order, under four resources as sent */
    r = (const otc_traces_req *)otc_batch_msg(out);
    assert_non_null(r);
    assert_int_equal(otc_request_count_items(OTC_TRACES, &r->base), 120);
    assert_int_equal(r->n_resource_spans, 4);
    assert_string_equal(r->resource_spans[0]->resource->attributes[0]->value->string_value, "svc-1");
    assert_string_equal(r->resource_spans[1]->resource->attributes[0]->value->string_value, "svc-1");
    assert_string_equal(r->resource_spans[2]->resource->attributes[0]->value->string_value, "svc-2");
    assert_string_equal(r->resource_spans[3]->resource->attributes[0]->value->string_value, "svc-3");
    assert_int_equal(span_times(out, t, 200), 120);
    for (size_t i = 0; i < 120; i++) {
        assert_int_equal(t[i], 1000 + i);
    }
    free(want.p);
    fx_instance_free(ins);
}

/* Logs and metrics alike; metrics count data points. */
static void test_raw_concat_logs_metrics(void **state)
{
    const char *opts[] = {"send_batch_size=1000", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct bytes want[2] = {{0}, {0}};
    const enum otc_signal sig[2] = {OTC_LOGS, OTC_METRICS};
    struct fx_item m[12];

    (void)state;
    for (size_t i = 0; i < 12; i++) { /* 3 metrics of 4 points */
        m[i] = (struct fx_item){.res = 1, .scope = 1, .id = 100 + i, .time = 7, .metric = (unsigned)i / 4};
    }
    for (size_t k = 0; k < 2; k++) {
        struct otc_batch *x = undecoded(fx_simple(sig[k], 7, 0));
        struct otc_batch *y = undecoded(k == 0 ? fx_simple(OTC_LOGS, 12, 7) : fx_metrics(m, 12));
        bytes_add(&want[k], x);
        bytes_add(&want[k], y);
        fx_consume(ins, x);
        fx_consume(ins, y);
    }
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 2);
    for (size_t k = 0; k < 2; k++) {
        struct otc_batch *o = fx_captured.b[0]->signal == sig[k] ? fx_captured.b[0] : fx_captured.b[1];
        assert_int_equal(o->signal, sig[k]);
        assert_false(is_decoded(o));
        assert_int_equal(o->items, 19);
        assert_bytes(o, &want[k]);
        assert_non_null(otc_batch_msg(o));
        assert_int_equal(otc_request_count_items(o->signal, o->msg), 19);
        free(want[k].p);
    }
    {
        struct otc_batch *o = fx_captured.b[0]->signal == OTC_METRICS ? fx_captured.b[0] : fx_captured.b[1];
        const otc_metrics_req *r = (const otc_metrics_req *)o->msg;
        assert_int_equal(r->n_resource_metrics, 2);
        assert_int_equal(r->resource_metrics[0]->scope_metrics[0]->n_metrics, 1); /* 7 points */
        assert_int_equal(r->resource_metrics[0]->scope_metrics[0]->metrics[0]->gauge->n_data_points, 7);
        assert_int_equal(r->resource_metrics[1]->scope_metrics[0]->n_metrics, 3);
        assert_string_equal(r->resource_metrics[1]->scope_metrics[0]->metrics[2]->name, "m-2");
        assert_int_equal(r->resource_metrics[1]->scope_metrics[0]->metrics[2]->gauge->data_points[3]->as_int, 111);
    }
    fx_instance_free(ins);
}

/* send_batch_max_size with undecoded inputs: inputs that fit are concatenated
 * up to the limit, one larger than it is decoded and split; order is kept. */
static void test_raw_max_size(void **state)
{
    const char *opts[] = {"send_batch_size=100", "send_batch_max_size=100", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct otc_batch *last;
    struct bytes want = {0};
    uint64_t t[400];
    size_t n = 0;
    const size_t sizes[] = {90, 100, 100, 50, 20};

    (void)state;
    {
        struct otc_batch *a = undecoded(fx_simple(OTC_TRACES, 60, 0));
        struct otc_batch *b = undecoded(fx_simple(OTC_TRACES, 30, 60));
        bytes_add(&want, a);
        bytes_add(&want, b);
        fx_consume(ins, a);
        fx_consume(ins, b);
    }
    assert_int_equal(fx_captured.n, 0);
    fx_consume(ins, undecoded(fx_simple(OTC_TRACES, 250, 90))); /* over the limit alone */
    assert_int_equal(fx_captured.n, 3); /* 60+30 as bytes, then 100 + 100 of the split one */
    last = undecoded(fx_simple(OTC_TRACES, 20, 340));
    fx_consume(ins, last); /* 50 + 20 pending */
    assert_int_equal(fx_captured.n, 3);
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 5);
    /* the first request: the two that fit, as bytes; not the whole 340 pending */
    assert_false(is_decoded(fx_captured.b[0]));
    assert_bytes(fx_captured.b[0], &want);
    /* the last one fitted alone: it leaves as it came */
    assert_ptr_equal(fx_captured.b[4], last);
    assert_false(is_decoded(last));
    for (size_t i = 0; i < fx_captured.n; i++) {
        struct otc_batch *c = roundtrip(fx_captured.b[i]);
        assert_int_equal(fx_captured.b[i]->items, sizes[i]);
        assert_int_equal(c->items, sizes[i]);
        n += span_times(c, t + n, 400 - n);
        otc_batch_unref(c);
    }
    assert_int_equal(n, 360);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i], 1000 + i);
    }
    free(want.p);
    fx_instance_free(ins);
}

/* An undecoded metrics input over the limit is split inside a metric's points. */
static void test_raw_split_metric_points(void **state)
{
    const char *opts[] = {"send_batch_size=64", "send_batch_max_size=64", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct fx_item it[150];
    uint8_t seen[150] = {0};
    size_t total = 0;

    (void)state;
    for (size_t i = 0; i < 150; i++) {
        it[i] = (struct fx_item){.res = 1, .scope = 1, .metric = i < 100 ? 1 : 2, .id = i, .time = 5};
    }
    fx_consume(ins, undecoded(fx_metrics(it, 150)));
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 3); /* 64 + 64 + 22 */
    for (size_t b = 0; b < fx_captured.n; b++) {
        struct otc_batch *c = roundtrip(fx_captured.b[b]);
        const otc_metrics_req *r = (const otc_metrics_req *)c->msg;
        assert_true(c->items <= 64);
        total += c->items;
        for (size_t i = 0; i < r->n_resource_metrics; i++) {
            for (size_t j = 0; j < r->resource_metrics[i]->n_scope_metrics; j++) {
                const otc_scope_metrics *sm = r->resource_metrics[i]->scope_metrics[j];
                for (size_t k = 0; k < sm->n_metrics; k++) {
                    for (size_t p = 0; p < sm->metrics[k]->gauge->n_data_points; p++) {
                        int64_t v = sm->metrics[k]->gauge->data_points[p]->as_int;
                        assert_true(v >= 0 && v < 150);
                        assert_string_equal(sm->metrics[k]->name, v < 100 ? "m-1" : "m-2");
                        seen[v]++;
                    }
                }
            }
        }
        otc_batch_unref(c);
    }
    assert_int_equal(total, 150);
    for (size_t i = 0; i < 150; i++) {
        assert_int_equal(seen[i], 1);
    }
    fx_instance_free(ins);
}

/* Undecoded and decoded inputs mixed: each run goes its own way (bytes, or a
 * merged request), and the items leave in arrival order. */
static void test_raw_decoded_mix(void **state)
{
    const char *opts[] = {"send_batch_size=1000", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct otc_batch *a = undecoded(fx_simple(OTC_TRACES, 10, 0));
    struct otc_batch *d = undecoded(fx_simple(OTC_TRACES, 10, 20));
    struct otc_batch *e = undecoded(fx_simple(OTC_TRACES, 10, 30));
    struct bytes want = {0};
    uint64_t t[100];
    size_t n = 0;

    (void)state;
    bytes_add(&want, d);
    bytes_add(&want, e);
    fx_consume(ins, a);
    fx_consume(ins, decoded_simple(5, 10));
    fx_consume(ins, decoded_simple(5, 15));
    fx_consume(ins, d);
    fx_consume(ins, e);
    fx_consume(ins, decoded_simple(3, 40));
    ins->ops->flush(ins, ins->ctx);
    assert_int_equal(fx_captured.n, 4);
    assert_ptr_equal(fx_captured.b[0], a);
    assert_false(is_decoded(a));
    assert_int_equal(fx_captured.b[1]->items, 10);
    assert_int_equal(((const otc_traces_req *)otc_batch_msg(fx_captured.b[1]))->n_resource_spans, 1);
    assert_false(is_decoded(fx_captured.b[2]));
    assert_int_equal(fx_captured.b[2]->items, 20);
    assert_bytes(fx_captured.b[2], &want);
    assert_int_equal(fx_captured.b[3]->items, 3);
    for (size_t i = 0; i < fx_captured.n; i++) {
        n += span_times(fx_captured.b[i], t + n, 100 - n);
    }
    assert_int_equal(n, 43);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i], 1000 + i);
    }
    free(want.p);
    fx_instance_free(ins);
}


/* Replayed inputs carry the exporters that have them already: the processor
 * merges only inputs bound for the same exporters (decoded and undecoded
 * alike), and each request keeps that set; a copy keeps it too, and a request
 * made of inputs with different sets keeps only what all of them have. */
static void test_skip_sets(void **state)
{
    const char *opts[] = {"send_batch_size=1000", "timeout=1h", NULL};
    const uint64_t skip[5] = {1, 1, 0, 3, 3};
    const size_t want_items[3] = {4, 2, 4};
    const uint64_t want_skip[3] = {1, 0, 3};

    (void)state;
    for (int raw = 0; raw < 2; raw++) {
        struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
        for (size_t i = 0; i < 5; i++) {
            struct fx_item it[2] = {{1, 1, 2 * i, 2 * i, 0}, {1, 1, 2 * i + 1, 2 * i + 1, 0}};
            struct otc_batch *b = fx_traces(it, 2);
            if (raw) {
                b = undecoded(b);
            }
            b->skip_exporters = skip[i];
            fx_consume(ins, b);
        }
        ins->ops->flush(ins, ins->ctx);
        assert_int_equal(fx_captured.n, 3);
        for (size_t k = 0; k < 3; k++) {
            assert_int_equal(fx_captured.b[k]->items, want_items[k]);
            assert_int_equal(fx_captured.b[k]->skip_exporters, want_skip[k]);
        }
        fx_capture_clear();
        fx_instance_free(ins);
    }
    {
        struct fx_item it[1] = {{1, 1, 1, 1, 0}};
        struct otc_batch *b = fx_traces(it, 1), *other = fx_traces(it, 1), *copy;
        b->skip_exporters = 6;
        otc_batch_ref(b);
        copy = otc_batch_writable(b); /* shared: a copy */
        assert_ptr_not_equal(copy, b);
        assert_int_equal(copy->skip_exporters, 6);
        other->skip_exporters = 3;
        otc_batch_merge_skip(copy, b, true);
        otc_batch_merge_skip(copy, other, false);
        assert_int_equal(copy->skip_exporters, 2);
        otc_batch_unref(copy);
        otc_batch_unref(other);
        otc_batch_unref(b);
    }
}

static char *wal_dir(void)
{
    char *t = strdup("/tmp/otc-batch-wal-XXXXXX");

    assert_non_null(mkdtemp(t));
    return t;
}

static void wal_dir_remove(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];

    while (d && (de = readdir(d))) {
        if (de->d_name[0] != '.') {
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static uint64_t wal_segments(struct otc_wal *w)
{
    struct otc_wal_stats st;

    otc_wal_stats(w, &st);
    return st.segments;
}

/* A durable undecoded input (holding a write-ahead log record) is adopted by
 * the request made of its bytes: the record stays held until that request is
 * freed (delivered). A non-durable one is freed once copied. */
static void test_raw_durable(void **state)
{
    const char *opts[] = {"send_batch_size=20", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct otc_wal_options wo = {.fsync = false, .segment_size = 1}; /* one record a segment */
    char *dir = wal_dir(), err[256];
    struct otc_wal *w = otc_wal_open(dir, &wo, NULL, err, sizeof(err));
    struct otc_wal_rec *held, *other;
    struct otc_batch *a = undecoded(fx_simple(OTC_TRACES, 10, 0));
    struct otc_batch *b = undecoded(fx_simple(OTC_TRACES, 10, 10));
    struct otc_batch *out;
    struct bytes want = {0};
    uint64_t t[20];

    (void)state;
    assert_non_null(w);
    assert_int_equal(otc_wal_append(w, OTC_TRACES, a->raw, a->raw_len, 1, &held, NULL), OTC_OK);
    assert_int_equal(otc_wal_append(w, OTC_TRACES, b->raw, b->raw_len, 1, &other, NULL), OTC_OK);
    otc_wal_rec_release(other); /* the active segment: kept anyway */
    assert_int_equal(wal_segments(w), 2);
    assert_int_equal(otc_wal_rec_hold(a, held), OTC_OK);
    assert_true(a->durable);
    bytes_add(&want, a);
    bytes_add(&want, b);
    otc_batch_ref(b);
    fx_consume(ins, a);
    fx_consume(ins, b);
    assert_int_equal(fx_captured.n, 1);
    out = fx_captured.b[0];
    fx_captured.n = 0;
    assert_false(is_decoded(out));
    assert_bytes(out, &want);
    assert_true(out->durable);
    assert_int_equal(atomic_load(&b->refs), 1); /* b was only copied */
    otc_batch_unref(b);
    fx_instance_free(ins);
    /* a lives on inside out: its record is still held */
    assert_int_equal(wal_segments(w), 2);
    assert_int_equal(span_times(out, t, 20), 20);
    for (size_t i = 0; i < 20; i++) {
        assert_int_equal(t[i], 1000 + i);
    }
    otc_batch_unref(out); /* delivered: the record is released */
    assert_int_equal(wal_segments(w), 1);
    otc_wal_close(w);
    wal_dir_remove(dir);
    free(want.p);
}

/* A durable undecoded input that fits alone leaves as it is, records held. */
static void test_raw_durable_alone(void **state)
{
    const char *opts[] = {"send_batch_size=10", "timeout=1h", NULL};
    struct otc_instance *ins = fx_instance(&otc_processor_batch_ops, opts, NULL);
    struct otc_batch *a = undecoded(fx_simple(OTC_LOGS, 10, 0));

    (void)state;
    a->durable = true; /* as a batch holding a record is */
    fx_consume(ins, a);
    assert_int_equal(fx_captured.n, 1);
    assert_ptr_equal(fx_captured.b[0], a);
    assert_int_equal(atomic_load(&a->refs), 1);
    assert_false(is_decoded(a));
    fx_instance_free(ins);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_config, teardown),
        cmocka_unit_test_teardown(test_size_trigger, teardown),
        cmocka_unit_test_teardown(test_timeout_trigger, teardown),
        cmocka_unit_test_teardown(test_timeout_zero, teardown),
        cmocka_unit_test_teardown(test_max_size_split, teardown),
        cmocka_unit_test_teardown(test_max_size_split_metric_points, teardown),
        cmocka_unit_test_teardown(test_merge, teardown),
        cmocka_unit_test_teardown(test_merge_logs_metrics, teardown),
        cmocka_unit_test_teardown(test_flush_all_signals, teardown),
        cmocka_unit_test_teardown(test_pass_through, teardown),
        cmocka_unit_test_teardown(test_output_owns_inputs, teardown),
        cmocka_unit_test_teardown(test_downstream_mutates, teardown),
        cmocka_unit_test_teardown(test_raw_concat, teardown),
        cmocka_unit_test_teardown(test_raw_concat_logs_metrics, teardown),
        cmocka_unit_test_teardown(test_raw_max_size, teardown),
        cmocka_unit_test_teardown(test_raw_split_metric_points, teardown),
        cmocka_unit_test_teardown(test_raw_decoded_mix, teardown),
        cmocka_unit_test_teardown(test_raw_durable, teardown),
        cmocka_unit_test_teardown(test_raw_durable_alone, teardown),
        cmocka_unit_test_teardown(test_skip_sets, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
