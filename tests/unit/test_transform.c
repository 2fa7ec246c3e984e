/* test_transform.c - unit tests for the transform processor: the accepted OTTL
 * statements truncate_all(<ctx>.attributes, N) and limit(<ctx>.attributes, N,
 * [keys]) in every context of traces, metrics and logs, configured through the
 * YAML loader; every other statement is a config error naming it with
 * file:line:column. Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "proc_test_util.h"
#include "processor/transform/transform.h"

#define FILE_NAME "transform.yaml"
#define LONG_STR  "0123456789abcdefghij"
#define CUT_STR   "01234567"
#define N_SET     6

/* Config head: lines 1-6; the transform options start on line 7, column 5. */
#define CFG_HEAD "receivers:\n  otlp:\n    protocols:\n      grpc:\n" \
                 "processors:\n  transform:\n"
#define CFG_TAIL(sig) "exporters:\n  nop:\n" \
                      "service:\n  pipelines:\n    " sig ":\n      receivers: [otlp]\n" \
                      "      processors: [transform]\n      exporters: [nop]\n"

/* ------------------------------------------------------------ the test set */

/* k0 long, k1 short, k2 [long], k3 long, k4 long, k5 7 */
static otc_key_value **make_set(struct otc_arena *a, size_t *n)
{
    otc_any_value *arr = pt_any_str(a, LONG_STR);
    otc_key_value *kvs[N_SET] = {
        pt_kv(a, "k0", pt_any_str(a, LONG_STR)), pt_kv(a, "k1", pt_any_str(a, "short")),
        pt_kv(a, "k2", pt_any_array(a, 1, &arr)), pt_kv(a, "k3", pt_any_str(a, LONG_STR)),
        pt_kv(a, "k4", pt_any_str(a, LONG_STR)), pt_kv(a, "k5", pt_any_int(a, 7)),
    };

    *n = N_SET;
    return pt_attrs(a, N_SET, kvs);
}

/* After limit(.., 3, ["k4"]) then truncate_all(.., 8): k0 cut, k1, k4 cut, and
 * dropped_attributes_count untouched (OTTL's limit does not count). */
static void check_set(otc_key_value *const *kvs, size_t n, const uint32_t *dropped, bool changed,
                      const char *where)
{
    print_message("    %s: %zu attributes (%s)\n", where, n, changed ? "changed" : "untouched");
    if (dropped) {
        assert_int_equal(*dropped, 2);
    }
    if (!changed) {
        assert_int_equal(n, N_SET);
        assert_string_equal(kvs[0]->value->string_value, LONG_STR);
        assert_string_equal(kvs[2]->value->array_value->values[0]->string_value, LONG_STR);
        assert_string_equal(kvs[4]->value->string_value, LONG_STR);
        return;
    }
    assert_int_equal(n, 3);
    assert_string_equal(kvs[0]->key, "k0");
    assert_string_equal(kvs[0]->value->string_value, CUT_STR);
    assert_string_equal(kvs[1]->key, "k1");
    assert_string_equal(kvs[1]->value->string_value, "short");
    assert_string_equal(kvs[2]->key, "k4");
    assert_string_equal(kvs[2]->value->string_value, CUT_STR);
}

#define SET(owner) (owner)->attributes, (owner)->n_attributes

static otc_traces_req *make_traces(struct otc_arena *a)
{
    otc_traces_req *req = pt_traces(a, 1);
    otc_resource_spans *rs = req->resource_spans[0];
    otc_scope_spans *ss = rs->scope_spans[0];
    uint8_t tid[16] = {1};
    otc_span *sp = pt_span(a, tid, 16, 0);
    PtEvent *ev = pt_alloc(a, sizeof(*ev));
    PtLink *ln = pt_alloc(a, sizeof(*ln));

    rs->resource->attributes = make_set(a, &rs->resource->n_attributes);
    ss->scope->attributes = make_set(a, &ss->scope->n_attributes);
    sp->attributes = make_set(a, &sp->n_attributes);
    opentelemetry__proto__trace__v1__span__event__init(ev);
    ev->attributes = make_set(a, &ev->n_attributes);
    opentelemetry__proto__trace__v1__span__link__init(ln);
    ln->attributes = make_set(a, &ln->n_attributes);
    rs->resource->dropped_attributes_count = 2;
    ss->scope->dropped_attributes_count = 2;
    sp->dropped_attributes_count = 2;
    ev->dropped_attributes_count = 2;
    ln->dropped_attributes_count = 2;
    sp->n_events = 1;
    sp->events = pt_alloc(a, sizeof(*sp->events));
    sp->events[0] = ev;
    sp->n_links = 1;
    sp->links = pt_alloc(a, sizeof(*sp->links));
    sp->links[0] = ln;
    ss->spans[0] = sp;
    return req;
}

/* Gauge and summary points (two of the five point types share the walk). */
static otc_metrics_req *make_metrics(struct otc_arena *a)
{
    otc_metrics_req *req = pt_alloc(a, sizeof(*req));
    otc_resource_metrics *rm = pt_alloc(a, sizeof(*rm));
    otc_scope_metrics *sm = pt_alloc(a, sizeof(*sm));
    otc_metric *g = pt_alloc(a, sizeof(*g)), *s = pt_alloc(a, sizeof(*s));
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *np = pt_alloc(a, sizeof(*np));
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *sp = pt_alloc(a, sizeof(*sp));

    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    opentelemetry__proto__metrics__v1__metric__init(g);
    opentelemetry__proto__metrics__v1__metric__init(s);
    opentelemetry__proto__metrics__v1__number_data_point__init(np);
    opentelemetry__proto__metrics__v1__summary_data_point__init(sp);
    rm->resource = pt_resource(a);
    rm->resource->attributes = make_set(a, &rm->resource->n_attributes);
    rm->resource->dropped_attributes_count = 2;
    sm->scope = pt_scope(a);
    sm->scope->attributes = make_set(a, &sm->scope->n_attributes);
    sm->scope->dropped_attributes_count = 2;
    np->attributes = make_set(a, &np->n_attributes);
    sp->attributes = make_set(a, &sp->n_attributes);
    g->name = pt_str(a, "g");
    g->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    g->gauge = pt_alloc(a, sizeof(*g->gauge));
    opentelemetry__proto__metrics__v1__gauge__init(g->gauge);
    g->gauge->n_data_points = 1;
    g->gauge->data_points = pt_alloc(a, sizeof(np));
    g->gauge->data_points[0] = np;
    s->name = pt_str(a, "s");
    s->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
    s->summary = pt_alloc(a, sizeof(*s->summary));
    opentelemetry__proto__metrics__v1__summary__init(s->summary);
    s->summary->n_data_points = 1;
    s->summary->data_points = pt_alloc(a, sizeof(sp));
    s->summary->data_points[0] = sp;
    sm->n_metrics = 2;
    sm->metrics = pt_alloc(a, 2 * sizeof(*sm->metrics));
    sm->metrics[0] = g;
    sm->metrics[1] = s;
    rm->n_scope_metrics = 1;
    rm->scope_metrics = pt_alloc(a, sizeof(*rm->scope_metrics));
    rm->scope_metrics[0] = sm;
    req->n_resource_metrics = 1;
    req->resource_metrics = pt_alloc(a, sizeof(*req->resource_metrics));
    req->resource_metrics[0] = rm;
    return req;
}

static otc_logs_req *make_logs(struct otc_arena *a)
{
    otc_logs_req *req = pt_logs(a, 1);
    otc_resource_logs *rl = req->resource_logs[0];
    otc_scope_logs *sl = rl->scope_logs[0];
    otc_log_record *lr = pt_log(a, NULL, 0, 0);

    rl->resource->attributes = make_set(a, &rl->resource->n_attributes);
    rl->resource->dropped_attributes_count = 2;
    sl->scope->attributes = make_set(a, &sl->scope->n_attributes);
    sl->scope->dropped_attributes_count = 2;
    lr->attributes = make_set(a, &lr->n_attributes);
    lr->dropped_attributes_count = 2;
    lr->body = pt_any_str(a, LONG_STR);
    sl->log_records[0] = lr;
    return req;
}

/* Build the config, init its transform instance, run b through it. */
static struct otc_batch *run_yaml(const char *yaml, struct otc_batch *b)
{
    struct pt_built bt;
    struct otc_instance *ins;
    struct otc_batch *out;

    pt_build(&bt, FILE_NAME, yaml);
    if (bt.rc != OTC_OK) {
        pt_print_diags(&bt.d);
        fail_msg("config did not build");
    }
    assert_int_equal(bt.e->n_pipelines, 1);
    assert_int_equal(bt.e->pipelines[0].n_processors, 1);
    ins = &bt.e->pipelines[0].processors[0];
    assert_ptr_equal(ins->ops, &otc_processor_transform_ops);
    assert_int_equal(ins->ops->init(ins, ins->ctx), OTC_OK);
    ins->next.ins = &pt_capture_ins;
    assert_int_equal(ins->ops->consume(ins, ins->ctx, b), OTC_OK);
    assert_int_equal(pt_captured.n, 1);
    out = pt_captured.b[0];
    pt_captured.n = 0;
    pt_built_free(&bt);
    return out;
}

/* The two statements on one context: limit then truncate_all. */
static void yaml_for(char *buf, size_t n, const char *list, const char *ctx, const char *sig)
{
    snprintf(buf, n,
             CFG_HEAD
             "    %s:\n"
             "      - limit(%s.attributes, 3, [\"k4\"])\n"
             "      - 'truncate_all(%s.attributes, 8)'\n"
             "%s"
             "exporters:\n  nop:\n"
             "service:\n  pipelines:\n    %s:\n      receivers: [otlp]\n"
             "      processors: [transform]\n      exporters: [nop]\n",
             list, ctx, ctx, "", sig);
}

/* ------------------------------------------------------------ tests */

static void test_trace_contexts(void **state)
{
    static const char *const ctxs[] = {"resource", "scope", "span", "spanevent"};

    for (size_t c = 0; c < 4; c++) {
        char yaml[1024];
        struct otc_arena a;
        struct otc_batch *b;
        const otc_traces_req *r;
        const otc_resource_spans *rs;
        const otc_span *sp;

        print_message("  trace_statements on %s\n", ctxs[c]);
        yaml_for(yaml, sizeof(yaml), "trace_statements", ctxs[c], "traces");
        otc_arena_init(&a, 1 << 14);
        b = run_yaml(yaml, pt_batch(OTC_TRACES, &a, &make_traces(&a)->base));
        r = (const otc_traces_req *)b->msg;
        rs = r->resource_spans[0];
        sp = rs->scope_spans[0]->spans[0];
        check_set(SET(rs->resource), &rs->resource->dropped_attributes_count, c == 0, "resource");
        check_set(SET(rs->scope_spans[0]->scope), &rs->scope_spans[0]->scope->dropped_attributes_count,
                  c == 1, "scope");
        check_set(SET(sp), &sp->dropped_attributes_count, c == 2, "span");
        check_set(SET(sp->events[0]), &sp->events[0]->dropped_attributes_count, c == 3, "event");
        check_set(SET(sp->links[0]), &sp->links[0]->dropped_attributes_count, false, "link");
        otc_batch_unref(b);
    }
}

static void test_metric_contexts(void **state)
{
    static const char *const ctxs[] = {"resource", "instrumentation_scope", "datapoint"};

    for (size_t c = 0; c < 3; c++) {
        char yaml[1024];
        struct otc_arena a;
        struct otc_batch *b;
        const otc_resource_metrics *rm;
        const otc_scope_metrics *sm;

        print_message("  metric_statements on %s\n", ctxs[c]);
        yaml_for(yaml, sizeof(yaml), "metric_statements", ctxs[c], "metrics");
        otc_arena_init(&a, 1 << 14);
        b = run_yaml(yaml, pt_batch(OTC_METRICS, &a, &make_metrics(&a)->base));
        rm = ((const otc_metrics_req *)b->msg)->resource_metrics[0];
        sm = rm->scope_metrics[0];
        check_set(SET(rm->resource), &rm->resource->dropped_attributes_count, c == 0, "resource");
        check_set(SET(sm->scope), &sm->scope->dropped_attributes_count, c == 1, "scope");
        check_set(SET(sm->metrics[0]->gauge->data_points[0]), NULL, c == 2, "gauge point");
        check_set(SET(sm->metrics[1]->summary->data_points[0]), NULL, c == 2, "summary point");
        otc_batch_unref(b);
    }
}

static void test_log_contexts(void **state)
{
    static const char *const ctxs[] = {"resource", "scope", "log"};

    for (size_t c = 0; c < 3; c++) {
        char yaml[1024];
        struct otc_arena a;
        struct otc_batch *b;
        const otc_resource_logs *rl;
        const otc_log_record *lr;

        print_message("  log_statements on %s\n", ctxs[c]);
        yaml_for(yaml, sizeof(yaml), "log_statements", ctxs[c], "logs");
        otc_arena_init(&a, 1 << 14);
        b = run_yaml(yaml, pt_batch(OTC_LOGS, &a, &make_logs(&a)->base));
        rl = ((const otc_logs_req *)b->msg)->resource_logs[0];
        lr = rl->scope_logs[0]->log_records[0];
        check_set(SET(rl->resource), &rl->resource->dropped_attributes_count, c == 0, "resource");
        check_set(SET(rl->scope_logs[0]->scope), &rl->scope_logs[0]->scope->dropped_attributes_count,
                  c == 1, "scope");
        check_set(SET(lr), &lr->dropped_attributes_count, c == 2, "log");
        assert_string_equal(lr->body->string_value, LONG_STR); /* bodies are not attributes */
        otc_batch_unref(b);
    }
}

/* limit without priority keys, truncate_all at a UTF-8 boundary, and a batch
 * the statements do not change going on untouched. */
static void test_semantics(void **state)
{
    const char *yaml = CFG_HEAD
                       "    error_mode: ignore\n"
                       "    trace_statements:\n"
                       "      - limit(span.attributes, 2, [])\n"
                       "      - truncate_all(span.attributes, 5)\n"
                       "      - truncate_all(resource.attributes, 100)\n"
                       CFG_TAIL("traces");
    struct otc_arena a;
    otc_traces_req *req;
    otc_span *sp;
    otc_key_value *kvs[3];
    uint8_t tid[16] = {3};
    struct otc_batch *b, *out;
    const otc_span *o;

    otc_arena_init(&a, 1 << 12);
    req = pt_traces(&a, 1);
    sp = pt_span(&a, tid, 16, 0);
    kvs[0] = pt_kv(&a, "a", pt_any_str(&a, "abc\xE2\x82\xACxyz")); /* € at bytes 3-5 */
    kvs[1] = pt_kv(&a, "b", pt_any_str(&a, "ok"));
    kvs[2] = pt_kv(&a, "c", pt_any_str(&a, "dropped"));
    sp->attributes = pt_attrs(&a, 3, kvs);
    sp->n_attributes = 3;
    req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
    out = run_yaml(yaml, pt_batch(OTC_TRACES, &a, &req->base));
    o = ((const otc_traces_req *)out->msg)->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(o->n_attributes, 2);
    assert_string_equal(o->attributes[0]->value->string_value, "abc");
    assert_string_equal(o->attributes[1]->value->string_value, "ok");
    assert_int_equal(o->dropped_attributes_count, 0);
    otc_batch_unref(out);

    /* nothing to do: the same batch with its received bytes */
    otc_arena_init(&a, 1 << 12);
    req = pt_traces(&a, 1);
    sp = pt_span(&a, tid, 16, 0);
    kvs[0] = pt_kv(&a, "a", pt_any_str(&a, "tiny"));
    sp->attributes = pt_attrs(&a, 1, kvs);
    sp->n_attributes = 1;
    req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
    b = pt_batch(OTC_TRACES, &a, &req->base);
    out = run_yaml(yaml, b);
    assert_ptr_equal(out, b);
    assert_true(out->raw_fresh);
    otc_batch_unref(out);
}

/* A rejected statement: the error names it, at its own file:line:column. */
static void expect_rejected(const char *list, const char *sig, const char *stmt_yaml,
                            const char *needle1, const char *needle2)
{
    char yaml[1024];
    struct pt_built bt;

    snprintf(yaml, sizeof(yaml),
             CFG_HEAD "    %s:\n      - truncate_all(resource.attributes, 10)\n      - %s\n"
             "exporters:\n  nop:\n"
             "service:\n  pipelines:\n    %s:\n      receivers: [otlp]\n"
             "      processors: [transform]\n      exporters: [nop]\n",
             list, stmt_yaml, sig);
    pt_build(&bt, FILE_NAME, yaml);
    print_message("  %s\n", stmt_yaml);
    pt_print_diags(&bt.d);
    assert_int_not_equal(bt.rc, OTC_OK);
    /* the rejected statement is the list's second item: line 9, column 9 */
    assert_true(pt_diag_has(&bt.d, FILE_NAME ":9:9: ", "processor \"transform\"", needle1,
                            needle2, NULL));
    pt_built_free(&bt);
}

static void test_rejected(void **state)
{
    expect_rejected("trace_statements", "traces", "'set(attributes[\"x\"], \"y\")'",
                    "trace_statements[1]: unsupported OTTL statement",
                    "\"set(attributes[\"x\"], \"y\")\"");
    expect_rejected("log_statements", "logs", "delete_key(log.attributes, \"k\")",
                    "unsupported OTTL statement", "delete_key(log.attributes, \"k\")");
    expect_rejected("trace_statements", "traces", "truncate_all(attributes, 10)",
                    "\"truncate_all(attributes, 10)\"", "\"attributes\" needs its context");
    expect_rejected("trace_statements", "traces", "truncate_all(span.attributes, -1)",
                    "truncate_all(span.attributes, -1)", "cannot be negative");
    expect_rejected("trace_statements", "traces", "limit(span.attributes, 1, [\"a\", \"b\"])",
                    "limit(span.attributes, 1, [", "less than number of priority attributes 2");
    expect_rejected("metric_statements", "metrics", "truncate_all(metric.attributes, 5)",
                    "truncate_all(metric.attributes, 5)", "context \"metric\" has no attributes");
    expect_rejected("log_statements", "logs", "truncate_all(span.attributes, 5)",
                    "truncate_all(span.attributes, 5)", "context \"span\" has no attributes");
    expect_rejected("trace_statements", "traces",
                    "truncate_all(span.attributes, 5) where name == \"x\"",
                    "truncate_all(span.attributes, 5) where", "conditions (where)");
    expect_rejected("trace_statements", "traces", "'truncate_all(span.attributes[\"k\"], 5)'",
                    "truncate_all(span.attributes[", "whole attribute map");
    expect_rejected("trace_statements", "traces", "limit(span.attributes, 5)",
                    "limit(span.attributes, 5)", "limit takes 3 arguments");
    expect_rejected("trace_statements", "traces", "truncate_all(span.attributes, 5, 6)",
                    "truncate_all(span.attributes, 5, 6)", "character 32 of");

    /* otelcol's grouped form: unsupported functions and conditions are named */
    {
        struct pt_built bt;
        pt_build(&bt, FILE_NAME,
                 CFG_HEAD "    trace_statements:\n      - context: span\n        statements:\n"
                 "          - replace_pattern(name, \"a\", \"b\")\n"
                 CFG_TAIL("traces"));
        pt_print_diags(&bt.d);
        assert_int_not_equal(bt.rc, OTC_OK);
        assert_true(pt_diag_has(&bt.d, "trace_statements[0]", "replace_pattern(name",
                                "function replace_pattern() is not supported", NULL));
        pt_built_free(&bt);
        pt_build(&bt, FILE_NAME,
                 CFG_HEAD "    trace_statements:\n      - context: span\n"
                 "        conditions: ['name == \"x\"']\n"
                 "        statements: [\"truncate_all(attributes, 10)\"]\n"
                 CFG_TAIL("traces"));
        pt_print_diags(&bt.d);
        assert_int_not_equal(bt.rc, OTC_OK);
        assert_true(pt_diag_has(&bt.d, "conditions are not supported", "name == \"x\"", NULL));
        pt_built_free(&bt);
        pt_build(&bt, FILE_NAME,
                 CFG_HEAD "    trace_statements:\n      - statements: [\"truncate_all(attributes, 10)\"]\n"
                 CFG_TAIL("traces"));
        assert_int_not_equal(bt.rc, OTC_OK);
        assert_true(pt_diag_has(&bt.d, "a statement group needs a \"context\"", NULL));
        pt_built_free(&bt);
        pt_build(&bt, FILE_NAME,
                 CFG_HEAD "    metric_statements:\n      - context: metric\n"
                 "        statements: [\"truncate_all(attributes, 10)\"]\n"
                 CFG_TAIL("metrics"));
        assert_int_not_equal(bt.rc, OTC_OK);
        assert_true(pt_diag_has(&bt.d, "context \"metric\" has no attributes", NULL));
        pt_built_free(&bt);
    }
}

/* The grouped form maps onto the flat statements: a bare `attributes` is the
 * group context's, other contexts stay reachable by their name. */
static void test_grouped(void **state)
{
    const char *yaml = CFG_HEAD
                       "    trace_statements:\n"
                       "      - context: span\n"
                       "        error_mode: ignore\n"
                       "        statements:\n"
                       "          - limit(attributes, 2, [])\n"
                       "          - truncate_all(attributes, 5)\n"
                       "          - truncate_all(resource.attributes, 100)\n"
                       CFG_TAIL("traces");
    struct otc_arena a;
    otc_traces_req *req;
    otc_span *sp;
    otc_key_value *kvs[3];
    uint8_t tid[16] = {3};
    struct otc_batch *out;
    const otc_span *o;

    (void)state;
    otc_arena_init(&a, 1 << 12);
    req = pt_traces(&a, 1);
    sp = pt_span(&a, tid, 16, 0);
    kvs[0] = pt_kv(&a, "a", pt_any_str(&a, "abcdefgh"));
    kvs[1] = pt_kv(&a, "b", pt_any_str(&a, "ok"));
    kvs[2] = pt_kv(&a, "c", pt_any_str(&a, "dropped"));
    sp->attributes = pt_attrs(&a, 3, kvs);
    sp->n_attributes = 3;
    req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
    out = run_yaml(yaml, pt_batch(OTC_TRACES, &a, &req->base));
    o = ((const otc_traces_req *)out->msg)->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(o->n_attributes, 2);
    assert_string_equal(o->attributes[0]->value->string_value, "abcde");
    assert_string_equal(o->attributes[1]->value->string_value, "ok");
    otc_batch_unref(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_contexts),
        cmocka_unit_test(test_metric_contexts),
        cmocka_unit_test(test_log_contexts),
        cmocka_unit_test(test_semantics),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_grouped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
