/* test_transform.c - unit tests for the transform processor: truncate_all and
 * limit in every context of traces, metrics and logs, the contrib README's
 * statements in the flat and grouped forms (conditions, where, error_mode),
 * configured through the YAML loader; statements otelc cannot run are config
 * errors naming them with file:line:column. Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdatomic.h>

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
    expect_rejected("trace_statements", "traces", "'frobnicate(span.attributes)'",
                    "trace_statements[1]: \"frobnicate(span.attributes)\"",
                    "function frobnicate() is not supported at character 1");
    expect_rejected("trace_statements", "traces", "'set(attributes[\"x\"], \"y\")'",
                    "\"set(attributes[\"x\"], \"y\")\"", "path \"attributes\" needs its context");
    expect_rejected("trace_statements", "traces", "truncate_all(attributes, 10)",
                    "\"truncate_all(attributes, 10)\"", "needs its context, e.g. span.attributes");
    expect_rejected("trace_statements", "traces", "truncate_all(span.attributes, -1)",
                    "truncate_all(span.attributes, -1)", "cannot be negative");
    expect_rejected("trace_statements", "traces", "limit(span.attributes, 1, [\"a\", \"b\"])",
                    "limit(span.attributes, 1, [", "less than number of priority attributes 2");
    expect_rejected("metric_statements", "metrics", "truncate_all(metric.attributes, 5)",
                    "truncate_all(metric.attributes, 5)",
                    "path \"metric.attributes\" is not supported in context metric");
    expect_rejected("log_statements", "logs", "truncate_all(span.attributes, 5)",
                    "truncate_all(span.attributes, 5)", "context \"span\" does not exist in logs");
    expect_rejected("trace_statements", "traces",
                    "truncate_all(span.attributes, 5) where span.nam == \"x\"",
                    "truncate_all(span.attributes, 5) where", "path \"span.nam\" is not supported");
    expect_rejected("trace_statements", "traces", "'truncate_all(span.name, 5)'",
                    "truncate_all(span.name, 5)", "the target must be a map");
    expect_rejected("trace_statements", "traces", "limit(span.attributes, 5)",
                    "limit(span.attributes, 5)", "limit: takes 3 arguments, got 2");
    expect_rejected("trace_statements", "traces", "truncate_all(span.attributes, 5, 6)",
                    "truncate_all(span.attributes, 5, 6)", "character 34 of");

    /* otelcol's grouped form: errors point at the group */
    {
        struct pt_built bt;
        pt_build(&bt, FILE_NAME,
                 CFG_HEAD "    trace_statements:\n      - context: span\n        statements:\n"
                 "          - set(name, Frob(name))\n"
                 CFG_TAIL("traces"));
        pt_print_diags(&bt.d);
        assert_int_not_equal(bt.rc, OTC_OK);
        assert_true(pt_diag_has(&bt.d, FILE_NAME ":8:9: ", "trace_statements[0]", "set(name, Frob",
                                "function Frob() is not supported", NULL));
        pt_built_free(&bt);
        pt_build(&bt, FILE_NAME,
                 CFG_HEAD "    trace_statements:\n      - context: span\n"
                 "        conditions: ['nme == \"x\"']\n"
                 "        statements: [\"truncate_all(attributes, 10)\"]\n"
                 CFG_TAIL("traces"));
        pt_print_diags(&bt.d);
        assert_int_not_equal(bt.rc, OTC_OK);
        assert_true(pt_diag_has(&bt.d, "path \"nme\" is not supported in context span", NULL));
        pt_built_free(&bt);
        /* a group without a context infers it from its paths, which must name one */
        pt_build(&bt, FILE_NAME,
                 CFG_HEAD "    trace_statements:\n      - statements: [\"truncate_all(attributes, 10)\"]\n"
                 CFG_TAIL("traces"));
        pt_print_diags(&bt.d);
        assert_int_not_equal(bt.rc, OTC_OK);
        assert_true(pt_diag_has(&bt.d, FILE_NAME ":8:9: ", "trace_statements[0]",
                                "path \"attributes\" needs its context", NULL));
        pt_built_free(&bt);
        pt_build(&bt, FILE_NAME,
                 CFG_HEAD "    metric_statements:\n      - context: metric\n"
                 "        statements: [\"truncate_all(attributes, 10)\"]\n"
                 CFG_TAIL("metrics"));
        pt_print_diags(&bt.d);
        assert_int_not_equal(bt.rc, OTC_OK);
        assert_true(pt_diag_has(&bt.d, "path \"attributes\" is not supported in context metric", NULL));
        pt_built_free(&bt);
        pt_build(&bt, FILE_NAME,
                 CFG_HEAD "    log_statements:\n      - context: log\n        error_mode: loud\n"
                 "        statements: [\"set(body, \\\"x\\\")\"]\n"
                 CFG_TAIL("logs"));
        pt_print_diags(&bt.d);
        assert_int_not_equal(bt.rc, OTC_OK);
        assert_true(pt_diag_has(&bt.d, "error_mode \"loud\" is not one of", NULL));
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

/* The contrib README's flat statements on a span and a log record. */
static void test_readme_flat(void **state)
{
    const char *yaml = CFG_HEAD
        "    error_mode: ignore\n"
        "    trace_statements:\n"
        "      - keep_keys(span.attributes, [\"service.name\", \"process.command_line\"])\n"
        "      - replace_pattern(span.attributes[\"process.command_line\"], \"password\\\\=[^\\\\s]*(\\\\s?)\", \"password=***\")\n"
        "      - limit(span.attributes, 100, [])\n"
        "      - truncate_all(span.attributes, 4096)\n"
        "      - set(span.status.code, STATUS_CODE_OK) where span.attributes[\"http.path\"] == \"/health\"\n"
        "      - set(span.name, Concat([resource.attributes[\"service.name\"], span.name], \":\"))\n"
        CFG_TAIL("traces");
    const char *logs = CFG_HEAD
        "    log_statements:\n"
        "      - set(log.severity_text, \"FAIL\") where log.body == \"request failed\"\n"
        "      - replace_all_patterns(log.attributes, \"value\", \"/account/\\\\d{4}\", \"/account/{accountId}\")\n"
        "      - set(log.body, log.attributes[\"http.route\"])\n"
        CFG_TAIL("logs");
    struct otc_arena a;
    otc_traces_req *req;
    otc_logs_req *lreq;
    otc_span *sp;
    otc_log_record *lr;
    otc_key_value *kvs[3], *rk[1];
    uint8_t tid[16] = {5};
    struct otc_batch *out;
    const otc_span *o;
    const otc_log_record *ol;

    (void)state;
    otc_arena_init(&a, 1 << 12);
    req = pt_traces(&a, 1);
    sp = pt_span(&a, tid, 16, 0);
    sp->name = pt_str(&a, "GET");
    kvs[0] = pt_kv(&a, "process.command_line", pt_any_str(&a, "app --password=secret -v"));
    kvs[1] = pt_kv(&a, "http.path", pt_any_str(&a, "/health"));
    kvs[2] = pt_kv(&a, "service.name", pt_any_str(&a, "svc"));
    sp->attributes = pt_attrs(&a, 3, kvs);
    sp->n_attributes = 3;
    rk[0] = pt_kv(&a, "service.name", pt_any_str(&a, "cart"));
    req->resource_spans[0]->resource->attributes = pt_attrs(&a, 1, rk);
    req->resource_spans[0]->resource->n_attributes = 1;
    req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
    out = run_yaml(yaml, pt_batch(OTC_TRACES, &a, &req->base));
    assert_false(out->raw_fresh); /* changed: the bytes are encoded again */
    o = ((const otc_traces_req *)out->msg)->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(o->n_attributes, 2);
    assert_string_equal(o->attributes[0]->value->string_value, "app --password=***-v");
    assert_null(o->status); /* http.path was dropped by keep_keys before the where ran */
    assert_string_equal(o->name, "cart:GET");
    otc_batch_unref(out);

    otc_arena_init(&a, 1 << 12);
    lreq = pt_logs(&a, 1);
    lr = pt_log(&a, NULL, 0, 1);
    lr->body = pt_any_str(&a, "request failed");
    kvs[0] = pt_kv(&a, "http.route", pt_any_str(&a, "/account/1234/list"));
    lr->attributes = pt_attrs(&a, 1, kvs);
    lr->n_attributes = 1;
    lreq->resource_logs[0]->scope_logs[0]->log_records[0] = lr;
    out = run_yaml(logs, pt_batch(OTC_LOGS, &a, &lreq->base));
    ol = ((const otc_logs_req *)out->msg)->resource_logs[0]->scope_logs[0]->log_records[0];
    assert_string_equal(ol->severity_text, "FAIL");
    assert_string_equal(ol->body->string_value, "/account/{accountId}/list");
    otc_batch_unref(out);
}

/* Grouped statements with group conditions: only spans matching one run them. */
static void test_group_conditions(void **state)
{
    const char *yaml = CFG_HEAD
        "    trace_statements:\n"
        "      - context: resource\n"
        "        statements:\n"
        "          - set(attributes[\"deployment.environment\"], \"prod\")\n"
        "      - context: span\n"
        "        conditions:\n"
        "          - kind == SPAN_KIND_SERVER\n"
        "          - attributes[\"force\"] == true\n"
        "        statements:\n"
        "          - set(attributes[\"server\"], true)\n"
        "          - set(status.code, STATUS_CODE_ERROR) where attributes[\"http.status_code\"] >= 500\n"
        "      - context: span\n"
        "        statements:\n"
        "          - set(attributes[\"seen\"], 1)\n"
        "      - conditions: ['span.attributes[\"force\"] == true']\n" /* context inferred: span */
        "        statements: ['set(resource.attributes[\"forced\"], span.name)']\n"
        CFG_TAIL("traces");
    struct otc_arena a;
    otc_traces_req *req;
    otc_key_value *kv;
    uint8_t tid[16] = {6};
    struct otc_batch *out;
    const otc_resource_spans *rs;

    (void)state;
    otc_arena_init(&a, 1 << 12);
    req = pt_traces(&a, 3);
    for (int i = 0; i < 3; i++) {
        otc_span *sp = pt_span(&a, tid, 16, (uint64_t)i);
        sp->kind = i == 0 ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
                          : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
        kv = pt_kv(&a, "http.status_code", pt_any_int(&a, i == 0 ? 503 : 200));
        if (i == 2) {
            kv = pt_kv(&a, "force", pt_any_bool(&a, true));
        }
        sp->attributes = pt_attrs(&a, 1, &kv);
        sp->n_attributes = 1;
        req->resource_spans[0]->scope_spans[0]->spans[i] = sp;
    }
    out = run_yaml(yaml, pt_batch(OTC_TRACES, &a, &req->base));
    rs = ((const otc_traces_req *)out->msg)->resource_spans[0];
    assert_string_equal(rs->resource->attributes[0]->key, "deployment.environment");
    assert_int_equal(rs->resource->n_attributes, 2); /* the inferred group ran for span 2 only */
    assert_string_equal(rs->resource->attributes[1]->key, "forced");
    assert_string_equal(rs->resource->attributes[1]->value->string_value, "pt-span");
    {
        otc_span *const *sp = rs->scope_spans[0]->spans;
        assert_int_equal(sp[0]->n_attributes, 3); /* server, and seen */
        assert_string_equal(sp[0]->attributes[1]->key, "server");
        assert_int_equal(sp[0]->status->code, 2);
        assert_int_equal(sp[1]->n_attributes, 2); /* a client: only seen */
        assert_string_equal(sp[1]->attributes[1]->key, "seen");
        assert_int_equal(sp[2]->n_attributes, 3); /* forced */
        assert_null(sp[2]->status);
    }
    otc_batch_unref(out);
}

/* A statement that fails at run time: propagate drops the batch, ignore goes on. */
static void test_error_mode(void **state)
{
    static const char *const modes[] = {"propagate", "ignore"};

    (void)state;
    for (int m = 0; m < 2; m++) {
        char yaml[1024];
        struct pt_built bt;
        struct otc_instance *ins;
        struct otc_arena a;
        otc_traces_req *req;
        otc_span *sp;
        otc_key_value *kv;
        uint8_t tid[16] = {7};
        int rc;

        snprintf(yaml, sizeof(yaml), CFG_HEAD "    error_mode: %s\n    trace_statements:\n"
                 "      - set(span.attributes[\"h\"], SHA256(span.attributes[\"n\"]))\n"
                 "      - set(span.name, \"after\")\n" CFG_TAIL("traces"), modes[m]);
        otc_arena_init(&a, 1 << 12);
        req = pt_traces(&a, 1);
        sp = pt_span(&a, tid, 16, 0);
        kv = pt_kv(&a, "n", pt_any_int(&a, 1));
        sp->attributes = pt_attrs(&a, 1, &kv);
        sp->n_attributes = 1;
        req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
        pt_build(&bt, FILE_NAME, yaml);
        assert_int_equal(bt.rc, OTC_OK);
        ins = &bt.e->pipelines[0].processors[0];
        assert_int_equal(ins->ops->init(ins, ins->ctx), OTC_OK);
        ins->next.ins = &pt_capture_ins;
        pt_captured.n = 0;
        rc = ins->ops->consume(ins, ins->ctx, pt_batch(OTC_TRACES, &a, &req->base));
        if (m == 0) {
            assert_int_not_equal(rc, OTC_OK);
            assert_int_equal(pt_captured.n, 0);
            assert_int_equal(atomic_load(&ins->counters.dropped[OTC_TRACES]), 1);
        } else {
            const otc_span *o;
            assert_int_equal(rc, OTC_OK);
            assert_int_equal(pt_captured.n, 1);
            o = ((const otc_traces_req *)pt_captured.b[0]->msg)->resource_spans[0]->scope_spans[0]->spans[0];
            assert_string_equal(o->name, "after");
            pt_capture_reset();
        }
        pt_built_free(&bt);
    }
}

/* Several pipeline workers at once on one transform (it is concurrent): each
 * thread sends its own batches; every span comes out with the attribute set,
 * and every failed statement (error_mode ignore) is counted once. */
#define MT_THREADS  4
#define MT_REQUESTS 200

static atomic_uint mt_out, mt_bad;

static int mt_sink(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    const otc_traces_req *req = (const otc_traces_req *)otc_batch_msg(b);
    const otc_span *sp = req->resource_spans[0]->scope_spans[0]->spans[0];
    bool ok = false;

    (void)ins;
    (void)ctx;
    for (size_t i = 0; i < sp->n_attributes; i++) {
        ok |= !strcmp(sp->attributes[i]->key, "env") &&
              !strcmp(sp->attributes[i]->value->string_value, "prod");
    }
    atomic_fetch_add(ok ? &mt_out : &mt_bad, 1);
    otc_batch_unref(b);
    return OTC_OK;
}

static const struct otc_component_ops mt_sink_ops = {.type = "sink", .kind = OTC_PROCESSOR,
                                                     .consume = mt_sink};
static struct otc_instance mt_sink_ins = {.ops = &mt_sink_ops, .id = "sink"};

static void *mt_worker(void *p)
{
    struct otc_instance *ins = p;

    for (unsigned r = 0; r < MT_REQUESTS; r++) {
        struct otc_arena a;
        otc_traces_req *req;
        uint8_t tid[16] = {(uint8_t)r, 1};

        otc_arena_init(&a, 1 << 12);
        req = pt_traces(&a, 1);
        req->resource_spans[0]->scope_spans[0]->spans[0] = pt_span(&a, tid, 16, 0);
        ins->ops->consume(ins, ins->ctx, pt_batch(OTC_TRACES, &a, &req->base));
    }
    return NULL;
}

static void test_concurrent_workers(void **state)
{
    const char yaml[] = CFG_HEAD "    error_mode: ignore\n    trace_statements:\n"
                        "      - set(span.attributes[\"env\"], \"prod\")\n"
                        "      - set(span.name, Concat([span.name, \"x\"], \"-\"))\n"
                        "      - set(span.attributes[\"h\"], SHA256(span.attributes[\"none\"]))\n"
                        CFG_TAIL("traces");
    struct pt_built bt;
    struct otc_instance *ins;
    pthread_t th[MT_THREADS];

    (void)state;
    pt_build(&bt, FILE_NAME, yaml);
    assert_int_equal(bt.rc, OTC_OK);
    ins = &bt.e->pipelines[0].processors[0];
    assert_true(ins->ops->concurrent);
    assert_int_equal(ins->ops->init(ins, ins->ctx), OTC_OK);
    ins->next.ins = &mt_sink_ins;
    for (int t = 0; t < MT_THREADS; t++) {
        assert_int_equal(pthread_create(&th[t], NULL, mt_worker, ins), 0);
    }
    for (int t = 0; t < MT_THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    assert_int_equal(atomic_load(&mt_out), MT_THREADS * MT_REQUESTS);
    assert_int_equal(atomic_load(&mt_bad), 0);
    assert_int_equal(atomic_load(&ins->counters.dropped[OTC_TRACES]), 0);
    pt_built_free(&bt);
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
        cmocka_unit_test(test_readme_flat),
        cmocka_unit_test(test_group_conditions),
        cmocka_unit_test(test_error_mode),
        cmocka_unit_test(test_concurrent_workers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
