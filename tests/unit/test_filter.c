/* test_filter.c - unit tests for the filter processor: the conditions of the
 * otelcol-contrib filter processor README (traces.span, traces.spanevent,
 * metrics.metric, metrics.datapoint, logs.log_record), the newer
 * trace_conditions / log_conditions with context inference and groups,
 * removal of emptied containers, error_mode, and config errors with their
 * file:line:column. Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "proc_test_util.h"
#include "otc/otc_pb_walk.h"
#include "processor/filter/filter.h"

#define FILE_NAME "filter.yaml"
#define CFG_HEAD  "receivers:\n  otlp:\n    protocols:\n      grpc:\n" \
                  "processors:\n  filter:\n"
#define CFG_TAIL(sig) "exporters:\n  nop:\n" \
                      "service:\n  pipelines:\n    " sig ":\n      receivers: [otlp]\n" \
                      "      processors: [filter]\n      exporters: [nop]\n"

static const uint8_t TID[16] = {9};

/* Build the config, init its filter, run b through it: what came out (NULL:
 * nothing), *rc the consume result, *dropped the instance's drop count. */
static struct otc_batch *run_yaml(const char *yaml, struct otc_batch *b, int *rc, uint64_t *dropped)
{
    struct pt_built bt;
    struct otc_instance *ins;
    struct otc_batch *out = NULL;
    enum otc_signal s = b->signal;

    pt_build(&bt, FILE_NAME, yaml);
    if (bt.rc != OTC_OK) {
        pt_print_diags(&bt.d);
        fail_msg("config did not build");
    }
    ins = &bt.e->pipelines[0].processors[0];
    assert_ptr_equal(ins->ops, &otc_processor_filter_ops);
    assert_int_equal(ins->ops->init(ins, ins->ctx), OTC_OK);
    ins->next.ins = &pt_capture_ins;
    pt_captured.n = 0;
    *rc = ins->ops->consume(ins, ins->ctx, b);
    if (pt_captured.n) {
        assert_int_equal(pt_captured.n, 1);
        out = pt_captured.b[0];
        pt_captured.n = 0;
    }
    *dropped = atomic_load(&ins->counters.dropped[s]);
    pt_built_free(&bt);
    return out;
}

static otc_key_value **one_attr(struct otc_arena *a, const char *k, otc_any_value *v, size_t *n)
{
    otc_key_value *kv = pt_kv(a, k, v);

    *n = 1;
    return pt_attrs(a, 1, &kv);
}

static otc_span *span_named(struct otc_arena *a, const char *name, uint64_t idx)
{
    otc_span *sp = pt_span(a, TID, 16, idx);

    sp->name = pt_str(a, name);
    return sp;
}

static PtEvent *event(struct otc_arena *a, const char *name, const char *k, otc_any_value *v)
{
    PtEvent *ev = pt_alloc(a, sizeof(*ev));

    opentelemetry__proto__trace__v1__span__event__init(ev);
    ev->name = pt_str(a, name);
    if (k) {
        ev->attributes = one_attr(a, k, v, &ev->n_attributes);
    }
    return ev;
}

/* Resource 0 (host.name localhost): span "a". Resource 1 (host.name other):
 * spans "app_3", "keep" (events: grpc=true, "rpc.grpc.call", "other"),
 * "c" (container.name app_container_1), "d". */
static struct otc_batch *readme_traces(void)
{
    struct otc_arena a;
    otc_traces_req *req, *r1;
    otc_span *keep, *c;

    otc_arena_init(&a, 1 << 14);
    req = pt_traces(&a, 1);
    r1 = pt_traces(&a, 4);
    req->resource_spans[0]->resource->attributes =
        one_attr(&a, "host.name", pt_any_str(&a, "localhost"), &req->resource_spans[0]->resource->n_attributes);
    req->resource_spans[0]->scope_spans[0]->spans[0] = span_named(&a, "a", 0);
    r1->resource_spans[0]->resource->attributes =
        one_attr(&a, "host.name", pt_any_str(&a, "other"), &r1->resource_spans[0]->resource->n_attributes);
    keep = span_named(&a, "keep", 2);
    keep->n_events = 3;
    keep->events = pt_alloc(&a, 3 * sizeof(*keep->events));
    keep->events[0] = event(&a, "e0", "grpc", pt_any_bool(&a, true));
    keep->events[1] = event(&a, "rpc.grpc.call", NULL, NULL);
    keep->events[2] = event(&a, "other", "grpc", pt_any_bool(&a, false));
    c = span_named(&a, "c", 3);
    c->attributes = one_attr(&a, "container.name", pt_any_str(&a, "app_container_1"), &c->n_attributes);
    r1->resource_spans[0]->scope_spans[0]->spans[0] = span_named(&a, "app_3", 1);
    r1->resource_spans[0]->scope_spans[0]->spans[1] = keep;
    r1->resource_spans[0]->scope_spans[0]->spans[2] = c;
    r1->resource_spans[0]->scope_spans[0]->spans[3] = span_named(&a, "d", 4);
    req->n_resource_spans = 2;
    {
        otc_resource_spans **v = pt_alloc(&a, 2 * sizeof(*v));
        v[0] = req->resource_spans[0];
        v[1] = r1->resource_spans[0];
        req->resource_spans = v;
    }
    return pt_batch(OTC_TRACES, &a, &req->base);
}

/* What readme_traces leaves under the README conditions, in either form. */
static void check_readme_traces(struct otc_batch *out, int rc, uint64_t dropped)
{
    const otc_traces_req *r;
    const otc_scope_spans *ss;
    const otc_span *keep;

    assert_int_equal(rc, OTC_OK);
    assert_non_null(out);
    assert_int_equal(otc_batch_decode(out), OTC_OK);
    r = (const otc_traces_req *)out->msg;
    assert_int_equal(r->n_resource_spans, 1); /* the localhost resource went with its span */
    ss = r->resource_spans[0]->scope_spans[0];
    assert_int_equal(ss->n_spans, 2);
    keep = ss->spans[0];
    assert_string_equal(keep->name, "keep");
    assert_string_equal(ss->spans[1]->name, "d");
    assert_int_equal(keep->n_events, 1);
    assert_string_equal(keep->events[0]->name, "other");
    assert_int_equal(out->items, 2);
    assert_int_equal(dropped, 3);
    otc_batch_unref(out);
}

static void test_readme_traces(void **state)
{
    /* the traces part of the contrib README's filter/ottl example */
    const char *yaml = CFG_HEAD
        "    error_mode: ignore\n"
        "    traces:\n"
        "      span:\n"
        "        - 'attributes[\"container.name\"] == \"app_container_1\"'\n"
        "        - 'resource.attributes[\"host.name\"] == \"localhost\"'\n"
        "        - 'name == \"app_3\"'\n"
        "      spanevent:\n"
        "        - 'attributes[\"grpc\"] == true'\n"
        "        - 'IsMatch(name, \".*grpc.*\")'\n"
        CFG_TAIL("traces");
    uint64_t dropped;
    int rc;
    struct otc_batch *out;

    (void)state;
    out = run_yaml(yaml, readme_traces(), &rc, &dropped);
    check_readme_traces(out, rc, dropped);
}

static void test_flat_conditions(void **state)
{
    /* the same intent with context inference (trace_conditions, contrib v0.146) */
    const char *yaml = CFG_HEAD
        "    trace_conditions:\n"
        "      - resource.attributes[\"host.name\"] == \"localhost\"\n"
        "      - span.attributes[\"container.name\"] == \"app_container_1\"\n"
        "      - span.name == \"app_3\"\n"
        "      - spanevent.attributes[\"grpc\"] == true\n"
        "      - IsMatch(spanevent.name, \".*grpc.*\")\n"
        CFG_TAIL("traces");
    const char *grouped = CFG_HEAD
        "    trace_conditions:\n"
        "      - context: span\n"
        "        conditions:\n"
        "          - attributes[\"container.name\"] == \"app_container_1\"\n"
        "          - name == \"app_3\" or resource.attributes[\"host.name\"] == \"localhost\"\n"
        "      - context: spanevent\n"
        "        conditions: ['attributes[\"grpc\"] == true', 'IsMatch(name, \"grpc\")']\n"
        CFG_TAIL("traces");
    const char *inferred = CFG_HEAD /* groups without a context: inferred from the paths */
        "    trace_conditions:\n"
        "      - conditions:\n"
        "          - span.attributes[\"container.name\"] == \"app_container_1\"\n"
        "          - span.name == \"app_3\" or resource.attributes[\"host.name\"] == \"localhost\"\n"
        "      - conditions: ['spanevent.attributes[\"grpc\"] == true', 'IsMatch(spanevent.name, \"grpc\")']\n"
        CFG_TAIL("traces");
    uint64_t dropped;
    int rc;
    struct otc_batch *out;

    (void)state;
    out = run_yaml(yaml, readme_traces(), &rc, &dropped);
    check_readme_traces(out, rc, dropped);
    out = run_yaml(grouped, readme_traces(), &rc, &dropped);
    check_readme_traces(out, rc, dropped);
    out = run_yaml(inferred, readme_traces(), &rc, &dropped);
    check_readme_traces(out, rc, dropped);
}

static void test_untouched_and_all_dropped(void **state)
{
    const char *none = CFG_HEAD "    traces:\n      span:\n        - 'name == \"nope\"'\n" CFG_TAIL("traces");
    const char *all = CFG_HEAD "    traces:\n      span:\n        - 'name != nil'\n" CFG_TAIL("traces");
    struct otc_batch *b, *out;
    uint64_t dropped;
    int rc;

    (void)state;
    b = readme_traces();
    out = run_yaml(none, b, &rc, &dropped);
    assert_ptr_equal(out, b); /* nothing matched: the batch and its bytes go on */
    assert_true(otc_batch_bytes_fresh(out));
    assert_int_equal(dropped, 0);
    otc_batch_unref(out);

    out = run_yaml(all, readme_traces(), &rc, &dropped);
    assert_int_equal(rc, OTC_OK);
    assert_null(out); /* nothing left: nothing passed on */
    assert_int_equal(dropped, 5);
}

/* A batch another pipeline also holds: the filter's output is a copy, the
 * shared batch keeps every span, in both forms. */
static void test_shared_batch(void **state)
{
    const char *yaml = CFG_HEAD "    traces:\n      span:\n        - 'name == \"app_3\"'\n" CFG_TAIL("traces");

    (void)state;
    for (int decoded = 0; decoded < 2; decoded++) {
        struct otc_batch *b = readme_traces(), *out;
        uint64_t dropped;
        int rc;

        if (decoded) {
            assert_int_equal(otc_batch_decode(b), OTC_OK);
        }
        otc_batch_ref(b); /* the other pipeline's reference */
        out = run_yaml(yaml, b, &rc, &dropped);
        assert_int_equal(rc, OTC_OK);
        assert_non_null(out);
        assert_ptr_not_equal(out, b);
        assert_int_equal(out->items, 4);
        assert_int_equal(dropped, 1);
        assert_int_equal(b->items, 5);
        assert_true(otc_batch_bytes_fresh(b));
        assert_int_equal(otc_batch_decode(b), OTC_OK);
        assert_int_equal(((const otc_traces_req *)b->msg)->resource_spans[1]->scope_spans[0]->n_spans, 4);
        otc_batch_unref(out);
        otc_batch_unref(b);
    }
}

static struct otc_batch *readme_logs(void)
{
    static const struct { const char *body; int sev; } recs[] = {
        {"my password is x", 17}, {"info", 9}, {"error", 17}, {"warn", 13},
    };
    struct otc_arena a;
    otc_logs_req *req;

    otc_arena_init(&a, 1 << 12);
    req = pt_logs(&a, 4);
    for (size_t i = 0; i < 4; i++) {
        otc_log_record *lr = pt_log(&a, NULL, 0, i);
        lr->body = pt_any_str(&a, recs[i].body);
        lr->severity_number = recs[i].sev;
        req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
    }
    return pt_batch(OTC_LOGS, &a, &req->base);
}

static void test_readme_logs(void **state)
{
    const char *yaml = CFG_HEAD
        "    logs:\n"
        "      log_record:\n"
        "        - 'IsMatch(body, \".*password.*\")'\n"
        "        - 'severity_number < SEVERITY_NUMBER_WARN'\n"
        CFG_TAIL("logs");
    const char *flat = CFG_HEAD
        "    log_conditions:\n"
        "      - 'IsMatch(log.body, \".*password.*\") or log.severity_number < SEVERITY_NUMBER_WARN'\n"
        CFG_TAIL("logs");
    const char *const yamls[] = {yaml, flat};

    (void)state;
    for (int i = 0; i < 2; i++) {
        uint64_t dropped;
        int rc;
        struct otc_batch *out = run_yaml(yamls[i], readme_logs(), &rc, &dropped);
        const otc_scope_logs *sl;

        assert_int_equal(rc, OTC_OK);
        assert_non_null(out);
        assert_int_equal(otc_batch_decode(out), OTC_OK);
        sl = ((const otc_logs_req *)out->msg)->resource_logs[0]->scope_logs[0];
        assert_int_equal(sl->n_log_records, 2);
        assert_string_equal(sl->log_records[0]->body->string_value, "error");
        assert_string_equal(sl->log_records[1]->body->string_value, "warn");
        assert_int_equal(dropped, 2);
        otc_batch_unref(out);
    }
}

static otc_metric *metric(struct otc_arena *a, const char *name, int type, size_t points)
{
    otc_metric *m = pt_alloc(a, sizeof(*m));
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint **np = pt_alloc(a, points * sizeof(*np));

    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = pt_str(a, name);
    for (size_t i = 0; i < points; i++) {
        np[i] = pt_alloc(a, sizeof(**np));
        opentelemetry__proto__metrics__v1__number_data_point__init(np[i]);
        np[i]->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
        np[i]->as_int = (int64_t)i;
    }
    if (type == 3) { /* histogram */
        Opentelemetry__Proto__Metrics__V1__HistogramDataPoint **hp = pt_alloc(a, sizeof(*hp));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        m->histogram = pt_alloc(a, sizeof(*m->histogram));
        opentelemetry__proto__metrics__v1__histogram__init(m->histogram);
        hp[0] = pt_alloc(a, sizeof(**hp));
        opentelemetry__proto__metrics__v1__histogram_data_point__init(hp[0]);
        m->histogram->n_data_points = 1;
        m->histogram->data_points = hp;
    } else if (type == 5) { /* summary */
        Opentelemetry__Proto__Metrics__V1__SummaryDataPoint **sp = pt_alloc(a, 2 * sizeof(*sp));
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
        m->summary = pt_alloc(a, sizeof(*m->summary));
        opentelemetry__proto__metrics__v1__summary__init(m->summary);
        for (int i = 0; i < 2; i++) {
            sp[i] = pt_alloc(a, sizeof(**sp));
            opentelemetry__proto__metrics__v1__summary_data_point__init(sp[i]);
        }
        m->summary->n_data_points = 2;
        m->summary->data_points = sp;
    } else {
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m->gauge = pt_alloc(a, sizeof(*m->gauge));
        opentelemetry__proto__metrics__v1__gauge__init(m->gauge);
        m->gauge->n_data_points = points;
        m->gauge->data_points = np;
    }
    return m;
}

static void test_readme_metrics(void **state)
{
    /* the metrics part of the contrib README's filter/ottl example */
    const char *yaml = CFG_HEAD
        "    metrics:\n"
        "      metric:\n"
        "        - 'name == \"my.metric\" and resource.attributes[\"my_label\"] == \"abc123\"'\n"
        "        - 'type == METRIC_DATA_TYPE_HISTOGRAM'\n"
        "        - 'HasAttrOnDatapoint(\"tier\", \"free\")'\n"
        "      datapoint:\n"
        "        - 'metric.type == METRIC_DATA_TYPE_SUMMARY'\n"
        "        - 'value_int == 1'\n"
        CFG_TAIL("metrics");
    struct otc_arena a;
    otc_metrics_req *req = NULL;
    otc_resource_metrics *rm;
    otc_scope_metrics *sm;
    const otc_scope_metrics *o;
    struct otc_batch *out;
    uint64_t dropped;
    int rc;

    (void)state;
    otc_arena_init(&a, 1 << 14);
    req = pt_alloc(&a, sizeof(*req));
    rm = pt_alloc(&a, sizeof(*rm));
    sm = pt_alloc(&a, sizeof(*sm));
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    rm->resource = pt_resource(&a);
    rm->resource->attributes = one_attr(&a, "my_label", pt_any_str(&a, "abc123"), &rm->resource->n_attributes);
    sm->scope = pt_scope(&a);
    sm->n_metrics = 5;
    sm->metrics = pt_alloc(&a, 5 * sizeof(*sm->metrics));
    sm->metrics[0] = metric(&a, "my.metric", 1, 2);  /* dropped by name and label */
    sm->metrics[1] = metric(&a, "h", 3, 0);          /* a histogram */
    sm->metrics[2] = metric(&a, "s", 5, 0);          /* a summary: every point goes, then it */
    sm->metrics[3] = metric(&a, "g", 1, 3);          /* the point with value 1 goes */
    sm->metrics[4] = metric(&a, "free", 1, 2);       /* a point has tier=free: dropped */
    {
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint *np = sm->metrics[4]->gauge->data_points[1];
        np->attributes = one_attr(&a, "tier", pt_any_str(&a, "free"), &np->n_attributes);
        np = sm->metrics[3]->gauge->data_points[0];
        np->attributes = one_attr(&a, "tier", pt_any_str(&a, "paid"), &np->n_attributes);
    }
    rm->n_scope_metrics = 1;
    rm->scope_metrics = pt_alloc(&a, sizeof(*rm->scope_metrics));
    rm->scope_metrics[0] = sm;
    req->n_resource_metrics = 1;
    req->resource_metrics = pt_alloc(&a, sizeof(*req->resource_metrics));
    req->resource_metrics[0] = rm;
    out = run_yaml(yaml, pt_batch(OTC_METRICS, &a, &req->base), &rc, &dropped);
    assert_int_equal(rc, OTC_OK);
    assert_non_null(out);
    assert_int_equal(otc_batch_decode(out), OTC_OK);
    o = ((const otc_metrics_req *)out->msg)->resource_metrics[0]->scope_metrics[0];
    assert_int_equal(o->n_metrics, 1);
    assert_string_equal(o->metrics[0]->name, "g");
    assert_int_equal(o->metrics[0]->gauge->n_data_points, 2);
    assert_int_equal(o->metrics[0]->gauge->data_points[1]->as_int, 2);
    assert_int_equal(out->items, 2);
    assert_int_equal(dropped, 2 + 1 + 2 + 1 + 2);
    otc_batch_unref(out);
}

static void expect_rejected(const char *opts, const char *where, const char *n1, const char *n2);

/* The older metric name filter (the opentelemetry.io configuration page's
 * example): include regexp keeps the matching metrics, exclude strict drops. */
static void test_metric_names(void **state)
{
    const char *yaml = CFG_HEAD
        "    metrics:\n"
        "      include:\n"
        "        match_type: regexp\n"
        "        metric_names:\n"
        "          - prefix/.*\n"
        "          - prefix_.*\n"
        "      exclude:\n"
        "        match_type: strict\n"
        "        metric_names: [prefix_b]\n"
        CFG_TAIL("metrics");
    static const char *const names[] = {"prefix/a", "prefix_b", "other", "my.prefix_c"};
    struct otc_arena a;
    otc_metrics_req *req;
    otc_resource_metrics *rm;
    otc_scope_metrics *sm;
    const otc_scope_metrics *o;
    struct otc_batch *out;
    uint64_t dropped;
    int rc;

    (void)state;
    otc_arena_init(&a, 1 << 13);
    req = pt_alloc(&a, sizeof(*req));
    rm = pt_alloc(&a, sizeof(*rm));
    sm = pt_alloc(&a, sizeof(*sm));
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    sm->n_metrics = 4;
    sm->metrics = pt_alloc(&a, 4 * sizeof(*sm->metrics));
    for (int i = 0; i < 4; i++) {
        sm->metrics[i] = metric(&a, names[i], 1, 1);
    }
    rm->n_scope_metrics = 1;
    rm->scope_metrics = pt_alloc(&a, sizeof(*rm->scope_metrics));
    rm->scope_metrics[0] = sm;
    req->n_resource_metrics = 1;
    req->resource_metrics = pt_alloc(&a, sizeof(*req->resource_metrics));
    req->resource_metrics[0] = rm;
    out = run_yaml(yaml, pt_batch(OTC_METRICS, &a, &req->base), &rc, &dropped);
    assert_int_equal(rc, OTC_OK);
    assert_non_null(out);
    assert_int_equal(otc_batch_decode(out), OTC_OK);
    o = ((const otc_metrics_req *)out->msg)->resource_metrics[0]->scope_metrics[0];
    assert_int_equal(o->n_metrics, 2); /* regexp finds the pattern anywhere in the name */
    assert_string_equal(o->metrics[0]->name, "prefix/a");
    assert_string_equal(o->metrics[1]->name, "my.prefix_c");
    assert_int_equal(dropped, 2);
    otc_batch_unref(out);
    expect_rejected("    metrics:\n      include:\n        metric_names: [a]\n", FILE_NAME,
                    "metrics.include: needs match_type", "");
}

/* A condition that fails at run time (Len of a bool): propagate fails the
 * batch, ignore counts the condition false. */
static void test_error_mode(void **state)
{
    static const char *const modes[] = {"propagate", "ignore", "silent"};

    (void)state;
    for (int m = 0; m < 3; m++) {
        char yaml[1024];
        struct otc_arena a;
        otc_traces_req *req;
        otc_span *sp;
        struct otc_batch *out;
        uint64_t dropped;
        int rc;

        snprintf(yaml, sizeof(yaml), CFG_HEAD "    error_mode: %s\n    traces:\n      span:\n"
                 "        - 'Len(attributes[\"flag\"]) > 0'\n        - 'name == \"x\"'\n"
                 CFG_TAIL("traces"), modes[m]);
        otc_arena_init(&a, 1 << 12);
        req = pt_traces(&a, 2);
        sp = span_named(&a, "x", 0);
        sp->attributes = one_attr(&a, "flag", pt_any_bool(&a, true), &sp->n_attributes);
        req->resource_spans[0]->scope_spans[0]->spans[0] = sp;
        req->resource_spans[0]->scope_spans[0]->spans[1] = span_named(&a, "y", 1);
        out = run_yaml(yaml, pt_batch(OTC_TRACES, &a, &req->base), &rc, &dropped);
        print_message("  error_mode %s: rc %d, %s\n", modes[m], rc, out ? "passed on" : "nothing");
        if (m == 0) {
            assert_int_not_equal(rc, OTC_OK);
            assert_null(out);
            assert_int_equal(dropped, 2);
            continue;
        }
        assert_int_equal(rc, OTC_OK);
        assert_non_null(out); /* the failed condition is false, the next one drops "x" */
        assert_int_equal(otc_batch_decode(out), OTC_OK);
        assert_int_equal(((const otc_traces_req *)out->msg)->resource_spans[0]->scope_spans[0]->n_spans, 1);
        assert_int_equal(dropped, 1);
        otc_batch_unref(out);
    }
}

static void expect_rejected(const char *opts, const char *where, const char *n1, const char *n2)
{
    char yaml[1024];
    struct pt_built bt;

    snprintf(yaml, sizeof(yaml), CFG_HEAD "%s" CFG_TAIL("traces"), opts);
    pt_build(&bt, FILE_NAME, yaml);
    pt_print_diags(&bt.d);
    assert_int_not_equal(bt.rc, OTC_OK);
    assert_true(pt_diag_has(&bt.d, where, "processor \"filter\"", n1, n2, NULL));
    pt_built_free(&bt);
}

static void test_config_errors(void **state)
{
    (void)state;
    /* line 10, column 11: the second item of traces.span */
    expect_rejected("    traces:\n      span:\n        - 'name == \"a\"'\n        - 'IsRootSpan()'\n",
                    FILE_NAME ":10:11: ", "traces.span[1]", "function IsRootSpan() is not supported");
    expect_rejected("    trace_conditions:\n      - span.name == \"a\"\n      - 'span.nme == \"b\"'\n",
                    FILE_NAME ":9:9: ", "trace_conditions[1]: \"span.nme == \"b\"\"",
                    "path \"span.nme\" is not supported in context span at character 1");
    expect_rejected("    trace_conditions:\n      - name == \"a\"\n", FILE_NAME ":8:9: ",
                    "trace_conditions[0]", "path \"name\" needs its context, e.g. span.name");
    expect_rejected("    trace_conditions: ['span.name == \"a\"']\n    traces:\n      span: ['name == \"b\"']\n",
                    FILE_NAME, "cannot be used with traces.span", "");
    expect_rejected("    trace_conditions:\n      - context: datapoint\n        conditions: ['name == \"a\"']\n",
                    FILE_NAME ":8:9: ", "unknown context \"datapoint\"", "");
    expect_rejected("    traces:\n      span: ['name == \"a\" and']\n", FILE_NAME,
                    "traces.span[0]", "unexpected end");
    expect_rejected("    traces:\n      spans: ['name == \"a\"']\n", FILE_NAME, "spans", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_traces),
        cmocka_unit_test(test_flat_conditions),
        cmocka_unit_test(test_untouched_and_all_dropped),
        cmocka_unit_test(test_shared_batch),
        cmocka_unit_test(test_readme_logs),
        cmocka_unit_test(test_readme_metrics),
        cmocka_unit_test(test_error_mode),
        cmocka_unit_test(test_metric_names),
        cmocka_unit_test(test_config_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
