/* test_filter.c - unit tests for the filter processor: the conditions of the
 * otelcol-contrib filter processor README (traces.span, traces.spanevent,
 * metrics.metric, metrics.datapoint, logs.log_record), the newer
 * trace_conditions / log_conditions with context inference and groups,
 * removal of emptied containers, error_mode, and config errors with their
 * file:line:column. Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdatomic.h>

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
static void expect_rejected_in(const char *sig, const char *opts, const char *where,
                               const char *n1, const char *n2);

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
    expect_rejected_in("metrics", "    metrics:\n      include:\n        metric_names: [a]\n",
                       FILE_NAME, "metrics.include.match_type: unrecognized match_type: ''", "");
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
    expect_rejected_in("traces", opts, where, n1, n2);
}

static void expect_rejected_in(const char *sig, const char *opts, const char *where,
                               const char *n1, const char *n2)
{
    char yaml[1024];
    struct pt_built bt;

    snprintf(yaml, sizeof(yaml), CFG_HEAD "%s" "exporters:\n  nop:\n"
             "service:\n  pipelines:\n    %s:\n      receivers: [otlp]\n"
             "      processors: [filter]\n      exporters: [nop]\n", opts, sig);
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

/* ------------------------------------------------ the older match-properties form */

/* One resource (service.name) and scope (name, version) per span, as
 * otelcol-contrib's generateTraces builds them (filterprocessor traces_test). */
struct tspec {
    const char *service, *span, *key, *value, *scope, *version;
};

static struct otc_batch *traces_of(const struct tspec *t, size_t n)
{
    struct otc_arena a;
    otc_traces_req *req;
    otc_resource_spans **v;

    otc_arena_init(&a, 1 << 14);
    req = pt_traces(&a, 1);
    v = pt_alloc(&a, n * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        otc_traces_req *one = pt_traces(&a, 1);
        otc_resource_spans *rs = one->resource_spans[0];
        otc_span *sp = span_named(&a, t[i].span, i);
        if (t[i].service) {
            rs->resource->attributes = one_attr(&a, "service.name", pt_any_str(&a, t[i].service),
                                                &rs->resource->n_attributes);
        }
        if (t[i].key) {
            sp->attributes = one_attr(&a, t[i].key, pt_any_str(&a, t[i].value), &sp->n_attributes);
        }
        rs->scope_spans[0]->scope->name = pt_str(&a, t[i].scope ? t[i].scope : "");
        rs->scope_spans[0]->scope->version = pt_str(&a, t[i].version ? t[i].version : "");
        rs->scope_spans[0]->spans[0] = sp;
        v[i] = rs;
    }
    req->n_resource_spans = n;
    req->resource_spans = v;
    return pt_batch(OTC_TRACES, &a, &req->base);
}

/* The names of the spans that came out, in order, joined by ",". */
static void span_names(struct otc_batch *out, char *buf, size_t n)
{
    const otc_traces_req *r;

    buf[0] = 0;
    if (!out) {
        return;
    }
    assert_int_equal(otc_batch_decode(out), OTC_OK);
    r = (const otc_traces_req *)out->msg;
    for (size_t i = 0; i < r->n_resource_spans; i++) {
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
            const otc_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
            assert_true(ss->n_spans > 0); /* emptied containers are removed */
            for (size_t k = 0; k < ss->n_spans; k++) {
                size_t l = strlen(buf);
                snprintf(buf + l, n - l, "%s%s", l ? "," : "", ss->spans[k]->name);
            }
        }
    }
}

static void expect_spans(const char *opts, const struct tspec *t, size_t n, const char *want)
{
    char yaml[2048], got[256];
    uint64_t dropped;
    int rc;
    struct otc_batch *out;

    snprintf(yaml, sizeof(yaml), CFG_HEAD "%s" CFG_TAIL("traces"), opts);
    out = run_yaml(yaml, traces_of(t, n), &rc, &dropped);
    assert_int_equal(rc, OTC_OK);
    span_names(out, got, sizeof(got));
    if (strcmp(got, want)) {
        fail_msg("%s: kept \"%s\", expected \"%s\"", opts, got, want);
    }
    if (out) {
        otc_batch_unref(out);
    }
}

static void test_spans_include_exclude(void **state)
{
    /* filterprocessor traces_test.go: redisTraces, nameTraces */
    static const struct tspec redis[] = {
        {"test_service", "test!", "db.type", "redis", "otel", "11"},
    };
    static const struct tspec names[] = {
        {"keep", "a", NULL, NULL, "otel", "11"},
        {"dont_keep", "b", NULL, NULL, "otel", "11"},
        {"keep", "c", NULL, NULL, "otel", "11"},
    };
    /* contrib's testdata/config_traces.yaml (filter/spans): include strict on
     * services and an attribute whose value is the literal text, exclude by
     * a regexp on another attribute */
    static const struct tspec mixed[] = {
        {"test", "s1", "should_include", "(true|probably_true)", NULL, NULL},
        {"test2", "s2", "should_include", "true", NULL, NULL},
        {"other", "s3", "should_include", "(true|probably_true)", NULL, NULL},
        {"test2", "s4", "should_exclude", "false", NULL, NULL},
    };
    static const struct tspec libs[] = {
        {"svc", "a", NULL, NULL, "otel", "11"},
        {"svc", "b", NULL, NULL, "otel", "12"},
        {"svc", "c", NULL, NULL, "other", "11"},
        {NULL, "d", NULL, NULL, NULL, NULL},
    };
    const char *redis_props = "        match_type: strict\n"
                              "        attributes:\n          - {key: db.type, value: redis}\n";
    char opts[512];

    (void)state;
    snprintf(opts, sizeof(opts), "    spans:\n      exclude:\n%s", redis_props);
    expect_spans(opts, redis, 1, ""); /* filterRedis: everything filtered */
    snprintf(opts, sizeof(opts), "    spans:\n      include:\n%s", redis_props);
    expect_spans(opts, redis, 1, "test!"); /* keepRedis */
    expect_spans("    spans:\n      include:\n        match_type: strict\n        services: [keep]\n",
                 names, 3, "a,c"); /* keepServiceName */
    expect_spans("    spans:\n"
                 "      include:\n        match_type: strict\n        services: [test, test2]\n"
                 "        attributes:\n          - key: should_include\n"
                 "            value: \"(true|probably_true)\"\n"
                 "      exclude:\n        match_type: regexp\n"
                 "        attributes:\n          - key: should_exclude\n"
                 "            value: \"(probably_false|false)\"\n",
                 mixed, 4, "s1");
    /* exclude alone, regexp: s4 goes; the others have no should_exclude */
    expect_spans("    spans:\n      exclude:\n        match_type: regexp\n"
                 "        attributes:\n          - {key: should_exclude, value: \"(probably_false|false)\"}\n",
                 mixed, 4, "s1,s2,s3");
    /* libraries (scope name and version), span names by regexp, services by regexp */
    expect_spans("    spans:\n      include:\n        match_type: strict\n"
                 "        libraries:\n          - {name: otel, version: \"11\"}\n", libs, 4, "a");
    expect_spans("    spans:\n      include:\n        match_type: regexp\n"
                 "        libraries:\n          - {name: \"^otel\"}\n", libs, 4, "a,b");
    expect_spans("    spans:\n      exclude:\n        match_type: regexp\n"
                 "        span_names: [\"^[ab]$\"]\n", libs, 4, "c,d");
    /* a span without service.name matches no service pattern but ".*" does
     * match otelcol's "<nil-service-name>" stand-in */
    expect_spans("    spans:\n      include:\n        match_type: regexp\n        services: [sv]\n",
                 libs, 4, "a,b,c");
    expect_spans("    spans:\n      include:\n        match_type: strict\n"
                 "        span_kinds: [SPAN_KIND_INTERNAL]\n", libs, 4, "");
}

struct lspec {
    int         sev;
    const char *text, *body, *key, *value;
};

static struct otc_batch *logs_of(const struct lspec *l, size_t n, const char *res_key,
                                 const char *res_value)
{
    struct otc_arena a;
    otc_logs_req *req;

    otc_arena_init(&a, 1 << 13);
    req = pt_logs(&a, n);
    if (res_key) {
        otc_resource_logs *rl = req->resource_logs[0];
        rl->resource->attributes = one_attr(&a, res_key, pt_any_str(&a, res_value),
                                            &rl->resource->n_attributes);
    }
    for (size_t i = 0; i < n; i++) {
        otc_log_record *lr = pt_log(&a, NULL, 0, i);
        lr->severity_number = l[i].sev;
        lr->severity_text = pt_str(&a, l[i].text ? l[i].text : "");
        lr->body = pt_any_str(&a, l[i].body);
        if (l[i].key) {
            lr->attributes = one_attr(&a, l[i].key, pt_any_str(&a, l[i].value), &lr->n_attributes);
        }
        req->resource_logs[0]->scope_logs[0]->log_records[i] = lr;
    }
    return pt_batch(OTC_LOGS, &a, &req->base);
}

static void expect_logs_res(const char *opts, const struct lspec *l, size_t n, const char *rk,
                            const char *rv, const char *want)
{
    char yaml[2048], got[256] = "";
    uint64_t dropped;
    int rc;
    struct otc_batch *out;

    snprintf(yaml, sizeof(yaml), CFG_HEAD "%s" CFG_TAIL("logs"), opts);
    out = run_yaml(yaml, logs_of(l, n, rk, rv), &rc, &dropped);
    assert_int_equal(rc, OTC_OK);
    if (out) {
        const otc_logs_req *r;
        assert_int_equal(otc_batch_decode(out), OTC_OK);
        r = (const otc_logs_req *)out->msg;
        for (size_t i = 0; i < r->n_resource_logs; i++) {
            for (size_t j = 0; j < r->resource_logs[i]->n_scope_logs; j++) {
                const otc_scope_logs *sl = r->resource_logs[i]->scope_logs[j];
                for (size_t k = 0; k < sl->n_log_records; k++) {
                    size_t len = strlen(got);
                    snprintf(got + len, sizeof(got) - len, "%s%s", len ? "," : "",
                             sl->log_records[k]->body->string_value);
                }
            }
        }
        otc_batch_unref(out);
    }
    if (strcmp(got, want)) {
        fail_msg("%s: kept \"%s\", expected \"%s\"", opts, got, want);
    }
}

static void expect_logs(const char *opts, const struct lspec *l, size_t n, const char *want)
{
    expect_logs_res(opts, l, n, NULL, NULL, want);
}

static void test_logs_include_exclude(void **state)
{
    static const struct lspec sev[] = {
        {1, "TRACE", "trace", NULL, NULL},  {5, "DEBUG", "debug", NULL, NULL},
        {9, "INFO", "info", NULL, NULL},    {14, "WARN2", "warn2", NULL, NULL},
        {17, "ERROR", "error", NULL, NULL}, {21, "FATAL", "fatal", NULL, NULL},
        {0, "", "undefined", NULL, NULL},   {10, "INFO2", "info2", NULL, NULL},
        {6, "DEBUG2", "debug2", NULL, NULL},
    };
    static const struct lspec hosts[] = {
        {9, NULL, "h1", "host.name", "host1"},
        {9, NULL, "h2", "host.name", "mycustomhost2"},
        {9, NULL, "b1", "host.name", "banned_host_1"},
        {9, NULL, "none", NULL, NULL},
    };
    static const struct lspec bodies[] = {
        {9, NULL, "This is an important event", NULL, NULL},
        {9, NULL, "This is a minor event", NULL, NULL},
    };

    (void)state;
    /* contrib's testdata/config_logs_min_severity.yaml */
    expect_logs("    logs:\n      include:\n        severity_number:\n          min: \"INFO\"\n"
                "          match_undefined: true\n",
                sev, 9, "info,warn2,error,fatal,undefined,info2");
    expect_logs("    logs:\n      exclude:\n        severity_number:\n          min: \"ERROR\"\n",
                sev, 9, "trace,debug,info,warn2,undefined,info2,debug2");
    expect_logs("    logs:\n      include:\n        severity_number:\n          min: \"INFO\"\n"
                "          match_undefined: true\n"
                "      exclude:\n        severity_number:\n          min: \"ERROR\"\n",
                sev, 9, "info,warn2,undefined,info2"); /* INFO and WARN ranges, and undefined */
    /* min in lower case (otelcol upper-cases it); undefined not matched by default */
    expect_logs("    logs:\n      include:\n        severity_number: {min: warn}\n",
                sev, 9, "warn2,error,fatal");
    /* config_logs_severity_regexp.yaml */
    expect_logs("    logs:\n      include:\n        match_type: regexp\n"
                "        severity_texts: [\"INFO[2-4]?\"]\n      exclude:\n"
                "        match_type: regexp\n        severity_texts: [\"DEBUG[2-4]?\"]\n",
                sev, 9, "info,info2");
    expect_logs("    logs:\n      exclude:\n        match_type: strict\n"
                "        severity_texts: [DEBUG, DEBUG2]\n", sev, 9,
                "trace,info,warn2,error,fatal,undefined,info2");
    /* config_logs_record_attributes_regexp.yaml */
    expect_logs("    logs:\n      include:\n        match_type: regexp\n"
                "        record_attributes:\n          - key: host.name\n"
                "            value: \"(host1|mycustomhost2)\"\n", hosts, 4, "h1,h2");
    expect_logs("    logs:\n      exclude:\n        match_type: regexp\n"
                "        record_attributes:\n          - {key: host.name, value: banned_host_.*}\n",
                hosts, 4, "h1,h2,none");
    /* filter/empty: a section with nothing to match is ignored */
    expect_logs("    logs:\n      include:\n        match_type: regexp\n", hosts, 4, "h1,h2,b1,none");
    /* config_logs_body_*.yaml: bodies */
    expect_logs("    logs:\n      include:\n        match_type: strict\n"
                "        bodies: [\"This is an important event\"]\n", bodies, 2,
                "This is an important event");
    expect_logs("    logs:\n      exclude:\n        match_type: regexp\n"
                "        bodies: [\"^This.*minor\"]\n", bodies, 2, "This is an important event");
    /* resource_attributes: the one resource matches or not */
    expect_logs_res("    logs:\n      include:\n        match_type: strict\n"
                    "        resource_attributes:\n          - {key: k8s.namespace.name, value: prod}\n",
                    bodies, 2, "k8s.namespace.name", "prod",
                    "This is an important event,This is a minor event");
    expect_logs_res("    logs:\n      include:\n        match_type: strict\n"
                    "        resource_attributes:\n          - {key: k8s.namespace.name, value: prod}\n",
                    bodies, 2, "k8s.namespace.name", "dev", "");
}

static struct otc_batch *metrics_of(const char *res_value, const char *const *names, size_t n)
{
    struct otc_arena a;
    otc_metrics_req *req;
    otc_resource_metrics *rm;
    otc_scope_metrics *sm;

    otc_arena_init(&a, 1 << 13);
    req = pt_alloc(&a, sizeof(*req));
    rm = pt_alloc(&a, sizeof(*rm));
    sm = pt_alloc(&a, sizeof(*sm));
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    rm->resource = pt_resource(&a);
    rm->resource->attributes = one_attr(&a, "env", pt_any_str(&a, res_value),
                                        &rm->resource->n_attributes);
    sm->n_metrics = n;
    sm->metrics = pt_alloc(&a, n * sizeof(*sm->metrics));
    for (size_t i = 0; i < n; i++) {
        sm->metrics[i] = metric(&a, names[i], 1, 1);
    }
    rm->n_scope_metrics = 1;
    rm->scope_metrics = pt_alloc(&a, sizeof(*rm->scope_metrics));
    rm->scope_metrics[0] = sm;
    req->n_resource_metrics = 1;
    req->resource_metrics = pt_alloc(&a, sizeof(*req->resource_metrics));
    req->resource_metrics[0] = rm;
    return pt_batch(OTC_METRICS, &a, &req->base);
}

static size_t metrics_kept(const char *opts, const char *res_value)
{
    static const char *const names[] = {"hello_world", "hello/world", "other"};
    char yaml[1024];
    uint64_t dropped;
    int rc;
    size_t n = 0;
    struct otc_batch *out;

    snprintf(yaml, sizeof(yaml), CFG_HEAD "%s" CFG_TAIL("metrics"), opts);
    out = run_yaml(yaml, metrics_of(res_value, names, 3), &rc, &dropped);
    assert_int_equal(rc, OTC_OK);
    if (out) {
        const otc_metrics_req *r;
        assert_int_equal(otc_batch_decode(out), OTC_OK);
        r = (const otc_metrics_req *)out->msg;
        for (size_t i = 0; i < r->n_resource_metrics; i++) {
            n += r->resource_metrics[i]->scope_metrics[0]->n_metrics;
        }
        otc_batch_unref(out);
    }
    return n;
}

static void test_metrics_include_exclude(void **state)
{
    (void)state;
    /* contrib's testdata/config_strict.yaml */
    assert_int_equal(metrics_kept("    metrics:\n      include:\n        match_type: strict\n", "a"),
                     3); /* filter/empty: no names, nothing filtered */
    assert_int_equal(metrics_kept("    metrics:\n      include:\n        match_type: strict\n"
                                  "        metric_names: [hello_world, hello/world]\n", "a"), 2);
    assert_int_equal(metrics_kept("    metrics:\n      exclude:\n        match_type: strict\n"
                                  "        metric_names: [hello_world, hello/world]\n", "a"), 1);
    assert_int_equal(metrics_kept("    metrics:\n      include:\n        match_type: strict\n"
                                  "        metric_names: [hello_world, hello/world]\n"
                                  "      exclude:\n        match_type: strict\n"
                                  "        metric_names: [hello_world]\n", "a"), 1);
    /* config_regexp.yaml's cache options are accepted */
    assert_int_equal(metrics_kept("    metrics:\n      include:\n        match_type: regexp\n"
                                  "        regexp: {cacheenabled: true, cachemaxnumentries: 10}\n"
                                  "        metric_names: [\".*_world\"]\n", "a"), 1);
    /* resource_attributes: the resource goes with its metrics */
    assert_int_equal(metrics_kept("    metrics:\n      include:\n        match_type: strict\n"
                                  "        resource_attributes: [{key: env, value: prod}]\n",
                                  "prod"), 3);
    assert_int_equal(metrics_kept("    metrics:\n      include:\n        match_type: strict\n"
                                  "        resource_attributes: [{key: env, value: prod}]\n",
                                  "dev"), 0);
    assert_int_equal(metrics_kept("    metrics:\n      exclude:\n        match_type: regexp\n"
                                  "        resource_attributes: [{key: env, value: ^pr}]\n",
                                  "prod"), 0);
    /* match_type expr without expressions selects nothing to filter */
    assert_int_equal(metrics_kept("    metrics:\n      exclude:\n        match_type: expr\n", "a"), 3);
    /* OTTL resource conditions of the traces / metrics / logs sections */
    assert_int_equal(metrics_kept("    metrics:\n      resource:\n        - 'attributes[\"env\"] == \"dev\"'\n",
                                  "dev"), 0);
}

static void test_older_form_errors(void **state)
{
    (void)state;
    expect_rejected("    spans:\n      include:\n        match_type: strict\n        log_bodies: [x]\n",
                    FILE_NAME, "spans.include.log_bodies: log_bodies should not be specified for "
                    "trace spans", "");
    expect_rejected("    spans:\n      include:\n        match_type: strict\n", FILE_NAME,
                    "spans.include: at least one of", "must be specified for spans");
    expect_rejected("    spans:\n      exclude:\n        match_type: glob\n        span_names: [a]\n",
                    FILE_NAME, "spans.exclude.match_type: unrecognized match_type: 'glob'", "");
    expect_rejected("    spans:\n      include:\n        match_type: regexp\n        span_names: [\"(\"]\n",
                    FILE_NAME, "spans.include.span_names[0]: invalid regular expression", "");
    expect_rejected("    spans:\n      include:\n        match_type: strict\n        services: [a]\n"
                    "    traces:\n      span: ['name == \"a\"']\n", FILE_NAME,
                    "cannot use \"traces.resource\", \"traces.span\"", "at the same time");
    /* the spans section is checked only where the processor runs on traces */
    {
        char yaml[1024];
        struct pt_built bt;
        snprintf(yaml, sizeof(yaml), CFG_HEAD "%s" CFG_TAIL("logs"),
                 "    spans:\n      include:\n        match_type: strict\n        log_bodies: [x]\n");
        pt_build(&bt, FILE_NAME, yaml);
        assert_int_equal(bt.rc, OTC_OK);
        pt_built_free(&bt);
    }
    /* config_logs_invalid_severity.yaml */
    expect_rejected_in("logs", "    logs:\n      include:\n        severity_number: {min: foo}\n",
                       FILE_NAME, "logs.include.severity_number.min: 'foo' is not a valid severity", "");
    expect_rejected_in("logs", "    logs:\n      include:\n        severity_number: {min: \"0\"}\n",
                       FILE_NAME, "'0' is not a valid severity", "");
    expect_rejected_in("logs", "    logs:\n      include:\n        match_type: regexp\n"
                       "        record_attributes: [{key: n, value: 1}]\n", FILE_NAME,
                       "logs.include.record_attributes[0].value: match_type=regexp for \"n\" only "
                       "supports Str, but found Int", "");
    expect_rejected_in("logs", "    logs:\n      exclude:\n        bodies: [a]\n"
                       "    log_conditions: ['log.body == \"x\"']\n", FILE_NAME,
                       "log_conditions: cannot be used with", "");
    expect_rejected_in("metrics", "    metrics:\n      include:\n        match_type: expr\n"
                       "        expressions: ['MetricName == \"a\"']\n", FILE_NAME,
                       "metrics.include.expressions: match_type expr", "not supported by otelc");
    expect_rejected_in("metrics", "    metrics:\n      include:\n        match_type: strict\n"
                       "        metric_names: [a]\n      metric: ['name == \"a\"']\n",
                       FILE_NAME, "cannot use \"metrics.resource\", \"metrics.metric\"", "");
}

/* Several pipeline workers at once on one filter (it is concurrent): each
 * thread sends undecoded requests of two spans, one of which the condition
 * drops; exactly the other one comes out of every request. */
#define MT_THREADS  4
#define MT_REQUESTS 200

static atomic_uint mt_kept, mt_bad;

static int mt_sink(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    const otc_traces_req *req = (const otc_traces_req *)otc_batch_msg(b);
    const otc_scope_spans *ss = req ? req->resource_spans[0]->scope_spans[0] : NULL;

    (void)ins;
    (void)ctx;
    atomic_fetch_add(ss && ss->n_spans == 1 && !strcmp(ss->spans[0]->name, "keep") ? &mt_kept
                                                                                     : &mt_bad, 1);
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
        otc_scope_spans *ss;
        struct otc_batch *b;
        uint8_t *buf;
        size_t len;

        otc_arena_init(&a, 1 << 12);
        req = pt_traces(&a, 2);
        ss = req->resource_spans[0]->scope_spans[0];
        ss->spans[0] = span_named(&a, "drop-me", r);
        ss->spans[1] = span_named(&a, "keep", r + 1);
        len = protobuf_c_message_get_packed_size(&req->base);
        buf = malloc(len);
        protobuf_c_message_pack(&req->base, buf);
        b = otc_batch_from_bytes(OTC_TRACES, buf, len);
        b->items = 2; /* undecoded, as the receivers' scan delivers it */
        free(buf);
        otc_arena_release(&a);
        ins->ops->consume(ins, ins->ctx, b);
    }
    return NULL;
}

static void test_concurrent_workers(void **state)
{
    const char yaml[] = CFG_HEAD "    error_mode: ignore\n    traces:\n      span:\n"
                        "        - name == \"drop-me\"\n"
                        "        - Int(name) > 3\n" CFG_TAIL("traces");
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
    assert_int_equal(atomic_load(&mt_kept), MT_THREADS * MT_REQUESTS);
    assert_int_equal(atomic_load(&mt_bad), 0);
    assert_int_equal(atomic_load(&ins->counters.dropped[OTC_TRACES]), MT_THREADS * MT_REQUESTS);
    pt_built_free(&bt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_workers),
        cmocka_unit_test(test_readme_traces),
        cmocka_unit_test(test_flat_conditions),
        cmocka_unit_test(test_untouched_and_all_dropped),
        cmocka_unit_test(test_shared_batch),
        cmocka_unit_test(test_readme_logs),
        cmocka_unit_test(test_readme_metrics),
        cmocka_unit_test(test_error_mode),
        cmocka_unit_test(test_metric_names),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_spans_include_exclude),
        cmocka_unit_test(test_logs_include_exclude),
        cmocka_unit_test(test_metrics_include_exclude),
        cmocka_unit_test(test_older_form_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
