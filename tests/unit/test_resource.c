/* test_resource.c - unit tests for the resource processor, configured through
 * the YAML loader: the example of otelcol-contrib's README and testdata
 * (upsert, insert from_attribute, delete, default_value) on the resources of
 * traces, metrics and logs requests, a resource missing from a container, a
 * request whose resources would not change going on untouched, and config
 * errors. Single-threaded cmocka executable. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "proc_test_util.h"
#include "processor/resource/resource.h"

#define FILE_NAME "resource.yaml"
#define CFG_HEAD "receivers:\n  otlp:\n    protocols:\n      grpc:\n" \
                 "processors:\n  resource:\n"
#define CFG_TAIL(sig) "exporters:\n  nop:\n" \
                      "service:\n  pipelines:\n    " sig ":\n      receivers: [otlp]\n" \
                      "      processors: [resource]\n      exporters: [nop]\n"

/* The README's example, with testdata's default_value case. */
#define README_ACTIONS                                                     \
    "    attributes:\n"                                                    \
    "    - key: cloud.availability_zone\n      value: \"zone-1\"\n"        \
    "      action: upsert\n"                                               \
    "    - key: k8s.cluster.name\n      from_attribute: k8s-cluster\n"     \
    "      action: insert\n"                                               \
    "    - key: redundant-attribute\n      action: delete\n"               \
    "    - key: service.namespace\n      from_attribute: namespace\n"      \
    "      default_value: \"default\"\n      action: insert\n"

static const otc_any_value *get(const PtResource *r, const char *key)
{
    for (size_t i = 0; r && i < r->n_attributes; i++) {
        if (!strcmp(r->attributes[i]->key, key)) {
            return r->attributes[i]->value;
        }
    }
    return NULL;
}

static void expect_str(const otc_any_value *v, const char *s)
{
    assert_non_null(v);
    assert_int_equal(v->value_case, PT_ANY(STRING_VALUE));
    assert_string_equal(v->string_value, s);
}

static struct otc_instance *build(struct pt_built *bt, const char *yaml)
{
    struct otc_instance *ins;

    pt_build(bt, FILE_NAME, yaml);
    if (bt->rc != OTC_OK) {
        pt_print_diags(&bt->d);
        fail_msg("config did not build");
    }
    ins = &bt->e->pipelines[0].processors[0];
    assert_ptr_equal(ins->ops, &otc_processor_resource_ops);
    assert_int_equal(ins->ops->init(ins, ins->ctx), OTC_OK);
    ins->next.ins = &pt_capture_ins;
    return ins;
}

static struct otc_batch *run(struct otc_instance *ins, struct otc_batch *b)
{
    struct otc_batch *out;

    assert_int_equal(ins->ops->consume(ins, ins->ctx, b), OTC_OK);
    assert_int_equal(pt_captured.n, 1);
    out = pt_captured.b[0];
    pt_captured.n = 0;
    return out;
}

/* Resource 0: {cloud.availability_zone: old, k8s-cluster: c1,
 * redundant-attribute: x}; resource 1: {k8s.cluster.name: keep, k8s-cluster:
 * c2, namespace: ns}. */
static void fill(struct otc_arena *a, PtResource *r, int which)
{
    otc_key_value *kvs[3];

    if (which == 0) {
        kvs[0] = pt_kv(a, "cloud.availability_zone", pt_any_str(a, "old"));
        kvs[1] = pt_kv(a, "k8s-cluster", pt_any_str(a, "c1"));
        kvs[2] = pt_kv(a, "redundant-attribute", pt_any_str(a, "x"));
    } else {
        kvs[0] = pt_kv(a, "k8s.cluster.name", pt_any_str(a, "keep"));
        kvs[1] = pt_kv(a, "k8s-cluster", pt_any_str(a, "c2"));
        kvs[2] = pt_kv(a, "namespace", pt_any_str(a, "ns"));
    }
    r->attributes = pt_attrs(a, 3, kvs);
    r->n_attributes = 3;
}

/* On undecoded requests (the *_undecoded run) the processor rewrites the
 * bytes without decoding the request. */
static void expect_form(struct otc_batch *out)
{
    if (getenv("OTC_FX_UNDECODED")) {
        assert_false(otc_batch_is_decoded(out));
    }
}

static void check(const PtResource *r0, const PtResource *r1)
{
    expect_str(get(r0, "cloud.availability_zone"), "zone-1");
    expect_str(get(r0, "k8s.cluster.name"), "c1");
    assert_null(get(r0, "redundant-attribute"));
    expect_str(get(r0, "service.namespace"), "default");
    assert_int_equal(r0->n_attributes, 4);
    expect_str(get(r1, "cloud.availability_zone"), "zone-1");
    expect_str(get(r1, "k8s.cluster.name"), "keep");
    expect_str(get(r1, "service.namespace"), "ns");
    assert_int_equal(r1->n_attributes, 5);
}

/* Two resources per request, for each signal. */
static void test_readme_all_signals(void **state)
{
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        char yaml[2048];
        struct pt_built bt;
        struct otc_instance *ins;
        struct otc_arena a;
        struct otc_batch *out;

        snprintf(yaml, sizeof(yaml), CFG_HEAD README_ACTIONS "%s",
                 s == OTC_TRACES ? CFG_TAIL("traces") : s == OTC_METRICS ? CFG_TAIL("metrics")
                                                                         : CFG_TAIL("logs"));
        print_message("  %s\n", otc_signal_name((enum otc_signal)s));
        ins = build(&bt, yaml);
        otc_arena_init(&a, 1 << 14);
        if (s == OTC_TRACES) {
            otc_traces_req *req = pt_traces(&a, 0);
            otc_resource_spans **v = pt_alloc(&a, 2 * sizeof(*v));
            v[0] = req->resource_spans[0];
            v[1] = pt_traces(&a, 0)->resource_spans[0];
            req->resource_spans = v;
            req->n_resource_spans = 2;
            fill(&a, v[0]->resource, 0);
            fill(&a, v[1]->resource, 1);
            out = run(ins, pt_batch(OTC_TRACES, &a, &req->base));
            expect_form(out);
            check(((const otc_traces_req *)otc_batch_msg(out))->resource_spans[0]->resource,
                  ((const otc_traces_req *)otc_batch_msg(out))->resource_spans[1]->resource);
        } else if (s == OTC_LOGS) {
            otc_logs_req *req = pt_logs(&a, 0);
            otc_resource_logs **v = pt_alloc(&a, 2 * sizeof(*v));
            v[0] = req->resource_logs[0];
            v[1] = pt_logs(&a, 0)->resource_logs[0];
            req->resource_logs = v;
            req->n_resource_logs = 2;
            fill(&a, v[0]->resource, 0);
            fill(&a, v[1]->resource, 1);
            out = run(ins, pt_batch(OTC_LOGS, &a, &req->base));
            expect_form(out);
            check(((const otc_logs_req *)otc_batch_msg(out))->resource_logs[0]->resource,
                  ((const otc_logs_req *)otc_batch_msg(out))->resource_logs[1]->resource);
        } else {
            otc_metrics_req *req = pt_alloc(&a, sizeof(*req));
            otc_resource_metrics **v = pt_alloc(&a, 2 * sizeof(*v));
            opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
            for (int i = 0; i < 2; i++) {
                v[i] = pt_alloc(&a, sizeof(*v[i]));
                opentelemetry__proto__metrics__v1__resource_metrics__init(v[i]);
                v[i]->resource = pt_resource(&a);
                fill(&a, v[i]->resource, i);
            }
            req->resource_metrics = v;
            req->n_resource_metrics = 2;
            out = run(ins, pt_batch(OTC_METRICS, &a, &req->base));
            expect_form(out);
            check(((const otc_metrics_req *)otc_batch_msg(out))->resource_metrics[0]->resource,
                  ((const otc_metrics_req *)otc_batch_msg(out))->resource_metrics[1]->resource);
        }
        otc_batch_unref(out);
        pt_built_free(&bt);
    }
}

/* A container without a Resource gets one when an action adds to it. */
static void test_missing_resource(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD README_ACTIONS CFG_TAIL("traces"));
    struct otc_arena a;
    otc_traces_req *req;
    struct otc_batch *out;
    const PtResource *r;

    otc_arena_init(&a, 1 << 12);
    req = pt_traces(&a, 0);
    req->resource_spans[0]->resource = NULL;
    out = run(ins, pt_batch(OTC_TRACES, &a, &req->base));
    expect_form(out);
    r = ((const otc_traces_req *)otc_batch_msg(out))->resource_spans[0]->resource;
    assert_non_null(r);
    expect_str(get(r, "cloud.availability_zone"), "zone-1");
    expect_str(get(r, "service.namespace"), "default");
    assert_int_equal(r->n_attributes, 2);
    otc_batch_unref(out);
    pt_built_free(&bt);
}

/* Nothing to change: the same batch with its received bytes. */
static void test_untouched(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD
        "    attributes:\n    - {key: env, value: prod, action: upsert}\n"
        "    - {key: tmp, action: delete}\n" CFG_TAIL("logs"));
    struct otc_arena a;
    otc_logs_req *req;
    struct otc_batch *b, *out;
    otc_key_value *kv;

    otc_arena_init(&a, 1 << 12);
    req = pt_logs(&a, 0);
    kv = pt_kv(&a, "env", pt_any_str(&a, "prod"));
    req->resource_logs[0]->resource->attributes = pt_attrs(&a, 1, &kv);
    req->resource_logs[0]->resource->n_attributes = 1;
    b = pt_batch(OTC_LOGS, &a, &req->base);
    out = run(ins, b);
    assert_ptr_equal(out, b);
    assert_true(otc_batch_bytes_fresh(out));
    otc_batch_unref(out);
    pt_built_free(&bt);
}

/* A batch another holder shares (fan-out) is not changed: the stage gets a
 * copy (a new request of its own on undecoded requests). */
static void test_shared(void **state)
{
    struct pt_built bt;
    struct otc_instance *ins = build(&bt, CFG_HEAD README_ACTIONS CFG_TAIL("traces"));
    struct otc_arena a;
    otc_traces_req *req;
    struct otc_batch *b, *out;

    otc_arena_init(&a, 1 << 12);
    req = pt_traces(&a, 1);
    req->resource_spans[0]->scope_spans[0]->spans[0] =
        pt_span(&a, (const uint8_t *)"0123456789abcdef", 16, 5);
    fill(&a, req->resource_spans[0]->resource, 0);
    b = pt_batch(OTC_TRACES, &a, &req->base);
    otc_batch_ref(b);
    out = run(ins, b);
    assert_ptr_not_equal(out, b);
    expect_str(get(((const otc_traces_req *)otc_batch_msg(b))->resource_spans[0]->resource,
                   "cloud.availability_zone"), "old");
    expect_str(get(((const otc_traces_req *)otc_batch_msg(out))->resource_spans[0]->resource,
                   "cloud.availability_zone"), "zone-1");
    assert_int_equal(out->items, 1);
    assert_int_equal(((const otc_traces_req *)otc_batch_msg(out))->resource_spans[0]
                         ->scope_spans[0]->spans[0]->span_id.data[0], 5);
    otc_batch_unref(out);
    otc_batch_unref(b);
    pt_built_free(&bt);
}

static void expect_error(const char *opts, const char *at, const char *needle)
{
    char yaml[1024];
    struct pt_built bt;

    snprintf(yaml, sizeof(yaml), CFG_HEAD "%s" CFG_TAIL("traces"), opts);
    pt_build(&bt, FILE_NAME, yaml);
    pt_print_diags(&bt.d);
    assert_int_not_equal(bt.rc, OTC_OK);
    assert_true(pt_diag_has(&bt.d, at, "processor \"resource\"", needle, NULL));
    pt_built_free(&bt);
}

static void test_config_errors(void **state)
{
    /* testdata's resource/empty */
    expect_error("", FILE_NAME ":6:12: ", "attributes: missing required field \"attributes\"");
    expect_error("    attributes:\n    - {key: a, action: upsert, value: 1, from_attribute: b}\n",
                 FILE_NAME ":8:7: ", "attributes[0]: multiple value sources");
    expect_error("    attributes:\n    - {key: a, action: insert, from_context: client.address}\n",
                 FILE_NAME ":8:46: ", "attributes[0].from_context: not supported");
    expect_error("    actions:\n    - {key: a, action: delete}\n", FILE_NAME ":7:5: ",
                 "unknown key \"actions\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_all_signals),
        cmocka_unit_test(test_missing_resource),
        cmocka_unit_test(test_untouched),
        cmocka_unit_test(test_shared),
        cmocka_unit_test(test_config_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
