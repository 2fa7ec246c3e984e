/* test_telemetry.c - unit tests for core/telemetry: the Prometheus text
 * rendering (names, labels, per-transport split, aggregation of per-pipeline
 * processors, queue gauges, process metrics, escaping) and the
 * service.telemetry.metrics config forms (address, readers, level). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/engine.h"
#include "core/telemetry.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

#define IID "00000000-0000-4000-8000-000000000000"
#define SVC "service_instance_id=\"" IID "\",service_name=\"otelc\",service_version=\"" \
            OTC_SERVICE_VERSION "\""

static char *render(struct otc_telemetry *t, struct otc_buf *b)
{
    otc_buf_init(b);
    otc_telemetry_render(t, b);
    assert_false(b->oom);
    return b->data;
}

static void assert_line(const char *text, const char *line)
{
    char *want = malloc(strlen(line) + 3);
    const char *p;

    sprintf(want, "\n%s\n", line);
    p = strstr(text, want);
    if (!p && !strncmp(text, line, strlen(line)) && text[strlen(line)] == '\n') {
        p = text;
    }
    if (!p) {
        print_error("missing line: %s\n--- in:\n%s\n", line, text);
    }
    free(want);
    assert_non_null(p);
}

static int count_substr(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) {
        n++;
    }
    return n;
}

static void setup_t(struct otc_telemetry *t)
{
    assert_int_equal(otc_telemetry_init(t), OTC_OK);
    strcpy(t->instance_id, IID);
    for (size_t i = 0; i < t->resource.n; i++) {
        if (!strcmp(t->resource.keys[i], "service.instance.id")) {
            free(t->resource.vals[i]);
            t->resource.vals[i] = strdup(IID);
        }
    }
}

static void test_defaults(void **state)
{
    struct otc_telemetry t;

    setup_t(&t);
    assert_int_equal(t.level, OTC_TELEMETRY_NORMAL);
    assert_string_equal(t.endpoint, "localhost:8888");
    assert_false(t.endpoint_set);
    otc_telemetry_free(&t);
}

static void test_receiver_exporter_counts(void **state)
{
    struct otc_telemetry t;
    struct otc_counters rx = {0}, ex = {0};
    struct otc_queue q;
    struct otc_buf b;
    char *s;

    setup_t(&t);
    atomic_store(&rx.accepted[OTC_TRACES], 100);
    atomic_store(&rx.http_accepted[OTC_TRACES], 30);
    atomic_store(&rx.refused[OTC_TRACES], 7);
    atomic_store(&rx.accepted[OTC_METRICS], 12);
    atomic_store(&rx.accepted[OTC_LOGS], 9); /* logs not served: not shown */
    atomic_store(&ex.sent[OTC_TRACES], 90);
    atomic_store(&ex.send_failed[OTC_TRACES], 10);
    atomic_store(&ex.enqueue_failed[OTC_TRACES], 3);
    assert_int_equal(otc_queue_init(&q, 8), OTC_OK);
    assert_int_equal(otc_queue_push(&q, &q), OTC_OK);
    assert_int_equal(otc_queue_push(&q, &q), OTC_OK);
    assert_int_equal(otc_telemetry_add(&t, &(struct otc_telemetry_source){
        OTC_RECEIVER, "otlp", "otlp", &rx, OTC_SIG_TRACES | OTC_SIG_METRICS, NULL, 0}), OTC_OK);
    assert_int_equal(otc_telemetry_add(&t, &(struct otc_telemetry_source){
        OTC_EXPORTER, "otlp/x", "otlp", &ex, OTC_SIG_TRACES, &q, 8}), OTC_OK);
    s = render(&t, &b);

    assert_line(s, "# TYPE otelcol_receiver_accepted_spans counter");
    assert_line(s, "otelcol_receiver_accepted_spans{receiver=\"otlp\"," SVC ",transport=\"grpc\"} 70");
    assert_line(s, "otelcol_receiver_accepted_spans{receiver=\"otlp\"," SVC ",transport=\"http\"} 30");
    assert_line(s, "otelcol_receiver_refused_spans{receiver=\"otlp\"," SVC ",transport=\"grpc\"} 7");
    assert_line(s, "otelcol_receiver_refused_spans{receiver=\"otlp\"," SVC ",transport=\"http\"} 0");
    assert_line(s, "otelcol_receiver_accepted_metric_points{receiver=\"otlp\"," SVC ",transport=\"grpc\"} 12");
    assert_null(strstr(s, "otelcol_receiver_accepted_log_records"));
    assert_line(s, "otelcol_exporter_sent_spans{exporter=\"otlp/x\"," SVC "} 90");
    assert_line(s, "otelcol_exporter_send_failed_spans{exporter=\"otlp/x\"," SVC "} 10");
    assert_line(s, "otelcol_exporter_enqueue_failed_spans{exporter=\"otlp/x\"," SVC "} 3");
    assert_null(strstr(s, "otelcol_exporter_sent_metric_points"));
    assert_line(s, "# TYPE otelcol_exporter_queue_size gauge");
    assert_line(s, "otelcol_exporter_queue_size{data_type=\"traces\",exporter=\"otlp/x\"," SVC "} 2");
    assert_line(s, "otelcol_exporter_queue_capacity{data_type=\"traces\",exporter=\"otlp/x\"," SVC "} 8");
    /* no processor registered: no processor family at all */
    assert_null(strstr(s, "otelcol_processor_"));
    /* one HELP and TYPE per family */
    assert_int_equal(count_substr(s, "# TYPE otelcol_receiver_accepted_spans "), 1);
    assert_int_equal(count_substr(s, "# HELP otelcol_receiver_accepted_spans "), 1);
    otc_buf_free(&b);
    otc_telemetry_free(&t);
    otc_queue_destroy(&q);
}

static void test_grpc_only_receiver_has_no_http_series(void **state)
{
    struct otc_telemetry t;
    struct otc_counters rx = {0};
    struct otc_buf b;
    char *s;

    setup_t(&t);
    atomic_store(&rx.accepted[OTC_LOGS], 5);
    otc_telemetry_add(&t, &(struct otc_telemetry_source){OTC_RECEIVER, "otlp/in", "otlp", &rx,
                                                         OTC_SIG_LOGS, NULL, 0});
    s = render(&t, &b);
    assert_line(s, "otelcol_receiver_accepted_log_records{receiver=\"otlp/in\"," SVC
                   ",transport=\"grpc\"} 5");
    assert_null(strstr(s, "transport=\"http\""));
    otc_buf_free(&b);
    otc_telemetry_free(&t);
}

static void test_processors_summed_per_id(void **state)
{
    struct otc_telemetry t;
    struct otc_counters p1 = {0}, p2 = {0}, smp = {0};
    struct otc_buf b;
    char *s;

    setup_t(&t);
    /* the same dedup id in a traces and a logs pipeline, and twice for traces */
    atomic_store(&p1.dropped[OTC_TRACES], 4);
    atomic_store(&p1.deduplicated[OTC_TRACES], 3);
    atomic_store(&p2.dropped[OTC_TRACES], 6);
    atomic_store(&p2.deduplicated[OTC_TRACES], 6);
    atomic_store(&p2.dropped[OTC_LOGS], 2);
    atomic_store(&smp.dropped[OTC_TRACES], 11);
    otc_telemetry_add(&t, &(struct otc_telemetry_source){OTC_PROCESSOR, "dedup", "dedup", &p1,
                                                         OTC_SIG_TRACES, NULL, 0});
    otc_telemetry_add(&t, &(struct otc_telemetry_source){OTC_PROCESSOR, "dedup", "dedup", &p2,
                                                         OTC_SIG_TRACES | OTC_SIG_LOGS, NULL, 0});
    otc_telemetry_add(&t, &(struct otc_telemetry_source){OTC_PROCESSOR, "probabilistic_sampler",
                                                         "probabilistic_sampler", &smp,
                                                         OTC_SIG_TRACES, NULL, 0});
    s = render(&t, &b);
    assert_line(s, "otelcol_processor_dropped_spans{processor=\"dedup\"," SVC "} 10");
    assert_line(s, "otelcol_processor_deduplicated_spans{processor=\"dedup\"," SVC "} 9");
    assert_line(s, "otelcol_processor_dropped_log_records{processor=\"dedup\"," SVC "} 2");
    assert_line(s, "otelcol_processor_dropped_spans{processor=\"probabilistic_sampler\"," SVC "} 11");
    assert_int_equal(count_substr(s, "otelcol_processor_dropped_spans{processor=\"dedup\""), 1);
    /* deduplicated only for the dedup type */
    assert_null(strstr(s, "otelcol_processor_deduplicated_spans{processor=\"probabilistic_sampler\""));
    otc_buf_free(&b);
    otc_telemetry_free(&t);
}

static void test_process_and_escaping(void **state)
{
    struct otc_telemetry t;
    struct otc_counters ex = {0};
    struct otc_buf b;
    char *s, *p;
    unsigned long long rss = 0;

    setup_t(&t);
    otc_telemetry_add(&t, &(struct otc_telemetry_source){OTC_EXPORTER, "otlp/a\"b\\c\nd", "otlp", &ex,
                                                         OTC_SIG_METRICS, NULL, 0});
    s = render(&t, &b);
    assert_line(s, "otelcol_exporter_sent_metric_points{exporter=\"otlp/a\\\"b\\\\c\\nd\"," SVC "} 0");
    assert_null(strstr(s, "otelcol_exporter_queue_size")); /* no queue */
    assert_line(s, "# TYPE otelcol_process_uptime counter");
    assert_line(s, "# TYPE otelcol_process_memory_rss gauge");
    p = strstr(s, "\notelcol_process_memory_rss{" SVC "} ");
    assert_non_null(p);
    assert_int_equal(sscanf(p + strlen("\notelcol_process_memory_rss{" SVC "} "), "%llu", &rss), 1);
    assert_true(rss > 1024 * 1024);
    assert_non_null(strstr(s, "\notelcol_process_uptime{" SVC "} "));
    /* every line is a comment or "name{labels} value" and the text ends with a newline */
    assert_int_equal(s[b.len - 1], '\n');
    for (char *line = s; *line; line = strchr(line, '\n') + 1) {
        assert_true(line[0] == '#' || !strncmp(line, "otelcol_", 8) || !strncmp(line, "target_info{", 12));
    }
    otc_buf_free(&b);
    otc_telemetry_free(&t);
}


static int configure(struct otc_telemetry *t, const char *yaml);

static const double bounds[] = {10, 100};

/* processor incoming/outgoing with otel_signal, in-flight and queue gauges
 * with data_type, a component's own metrics, and target_info */
static void test_otelcol_current_names(void **state)
{
    struct otc_telemetry t;
    struct otc_counters pr = {0}, ex = {0};
    struct otc_instance ins;
    struct otc_metric hist = {.name = "otelcol_processor_batch_batch_send_size", .unit = "{units}",
                              .help = "h", .kind = OTC_METRIC_HISTOGRAM, .bounds = bounds, .n_bounds = 2};
    struct otc_metric cnt = {.name = "otelcol_processor_batch_timeout_trigger_send", .unit = "{times}",
                             .help = "c", .kind = OTC_METRIC_COUNTER};
    struct otc_buf b;
    char *s;

    setup_t(&t);
    memset(&ins, 0, sizeof(ins));
    assert_int_equal(otc_metric_register(&ins, &hist), OTC_OK);
    assert_int_equal(otc_metric_register(&ins, &cnt), OTC_OK);
    otc_metric_record(&hist, 5);
    otc_metric_record(&hist, 50);
    otc_metric_record(&hist, 500);
    otc_metric_add(&cnt, 2);
    atomic_store(&ins.counters.incoming[OTC_TRACES], 10);
    atomic_store(&ins.counters.outgoing[OTC_TRACES], 8);
    atomic_store(&pr.incoming[OTC_TRACES], 5); /* the same id in a second pipeline */
    atomic_store(&pr.outgoing[OTC_TRACES], 5);
    atomic_store(&ex.in_flight, 3);
    otc_telemetry_add(&t, &(struct otc_telemetry_source){OTC_PROCESSOR, "batch", "batch", &ins.counters,
                                                         OTC_SIG_TRACES, NULL, 0});
    otc_telemetry_add(&t, &(struct otc_telemetry_source){OTC_PROCESSOR, "batch", "batch", &pr,
                                                         OTC_SIG_TRACES, NULL, 0});
    otc_telemetry_add(&t, &(struct otc_telemetry_source){OTC_EXPORTER, "debug", "debug", &ex,
                                                         OTC_SIG_TRACES | OTC_SIG_LOGS, NULL, 0});
    s = render(&t, &b);
    assert_line(s, "# TYPE otelcol_processor_incoming_items counter");
    assert_line(s, "otelcol_processor_incoming_items{otel_signal=\"traces\",processor=\"batch\"," SVC "} 15");
    assert_line(s, "otelcol_processor_outgoing_items{otel_signal=\"traces\",processor=\"batch\"," SVC "} 13");
    assert_line(s, "otelcol_exporter_in_flight_requests{data_type=\"traces\",exporter=\"debug\"," SVC "} 3");
    assert_line(s, "otelcol_exporter_in_flight_requests{data_type=\"logs\",exporter=\"debug\"," SVC "} 3");
    assert_line(s, "# TYPE otelcol_processor_batch_batch_send_size histogram");
    assert_line(s, "otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\"," SVC ",le=\"10\"} 1");
    assert_line(s, "otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\"," SVC ",le=\"100\"} 2");
    assert_line(s, "otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\"," SVC ",le=\"+Inf\"} 3");
    assert_line(s, "otelcol_processor_batch_batch_send_size_sum{processor=\"batch\"," SVC "} 555");
    assert_line(s, "otelcol_processor_batch_batch_send_size_count{processor=\"batch\"," SVC "} 3");
    assert_line(s, "otelcol_processor_batch_timeout_trigger_send{processor=\"batch\"," SVC "} 2");
    assert_int_equal(count_substr(s, "# TYPE otelcol_processor_batch_timeout_trigger_send "), 1);
    assert_line(s, "target_info{service_instance_id=\"" IID "\",service_name=\"otelc\","
                   "service_version=\"" OTC_SERVICE_VERSION "\"} 1");
    assert_null(strstr(s, "_total"));
    assert_null(strstr(s, "otel_scope_name"));
    otc_buf_free(&b);
    otc_telemetry_free(&t);
}


/* without_*: false gives the suffixed names and the scope labels */
static void test_suffixed_names(void **state)
{
    struct otc_telemetry t;
    struct otc_counters ex = {0};
    struct otc_buf b;
    char *s;

    assert_int_equal(configure(&t, "metrics:\n  readers:\n    - pull:\n        exporter:\n"
                                   "          prometheus:\n            port: 1\n"
                                   "            without_type_suffix: false\n"
                                   "            without_units: false\n"
                                   "            without_scope_info: false\n"), OTC_OK);
    strcpy(t.instance_id, IID);
    otc_telemetry_add(&t, &(struct otc_telemetry_source){OTC_EXPORTER, "debug", "debug", &ex,
                                                         OTC_SIG_TRACES, NULL, 0});
    s = render(&t, &b);
    assert_line(s, "# TYPE otelcol_exporter_sent_spans_total counter");
    assert_line(s, "# TYPE otelcol_process_uptime_seconds_total counter");
    assert_line(s, "# TYPE otelcol_process_memory_rss_bytes gauge");
    assert_line(s, "# TYPE otelcol_process_cpu_seconds_total counter");
    assert_non_null(strstr(s, "otelcol_exporter_sent_spans_total{exporter=\"debug\",otel_scope_name=\""
                              "go.opentelemetry.io/collector/exporter/exporterhelper\",otel_scope_version=\"\","));
    otc_buf_free(&b);
    otc_telemetry_free(&t);
}

static void test_resource_and_periodic_config(void **state)
{
    struct otc_telemetry t;
    struct otc_yaml y;
    struct otc_diag d = {0};
    const char *res = "resource:\n  service.name: gw\n  service.instance.id: null\n  k8s.pod.name: p-1\n";
    struct otc_buf b;
    char *s;

    assert_int_equal(configure(&t, "metrics:\n  readers:\n    - periodic:\n        interval: 500\n"
                                   "        exporter:\n          otlp:\n            protocol: http/protobuf\n"
                                   "            endpoint: http://127.0.0.1:4999\n"
                                   "            headers:\n              - name: x-a\n                value: b\n"
                                   "    - periodic:\n        exporter:\n          otlp:\n"
                                   "            protocol: grpc\n            endpoint: 127.0.0.1:5000\n"), OTC_OK);
    assert_false(t.pull); /* only periodic readers: no /metrics */
    assert_int_equal(t.n_periodic, 2);
    assert_int_equal(t.periodic[0].protocol, OTC_TELEMETRY_HTTP);
    assert_string_equal(t.periodic[0].host, "127.0.0.1");
    assert_int_equal(t.periodic[0].port, 4999);
    assert_string_equal(t.periodic[0].path, "/v1/metrics");
    assert_true(t.periodic[0].interval_ns == 500000000);
    assert_int_equal(t.periodic[0].headers.n, 1);
    assert_int_equal(t.periodic[1].protocol, OTC_TELEMETRY_GRPC);
    assert_int_equal(t.periodic[1].port, 5000);
    assert_int_equal(otc_yaml_load_string(&y, "r.yaml", res, strlen(res), &d), OTC_OK);
    assert_int_equal(otc_telemetry_resource(&t, &y, otc_yaml_get(&y, otc_yaml_root(&y), "resource"), &d),
                     OTC_OK);
    s = render(&t, &b);
    assert_non_null(strstr(s, "target_info{service_name=\"gw\",service_version=\"" OTC_SERVICE_VERSION
                              "\",k8s_pod_name=\"p-1\"} 1"));
    assert_null(strstr(s, "service_instance_id"));
    otc_buf_free(&b);

    /* the same metrics as an ExportMetricsServiceRequest */
    otc_buf_init(&b);
    assert_int_equal(otc_telemetry_otlp_encode(&t, &b), OTC_OK);
    {
        Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req =
            opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
                NULL, b.len, (const uint8_t *)b.data);
        bool uptime = false;
        assert_non_null(req);
        assert_int_equal(req->n_resource_metrics, 1);
        assert_int_equal(req->resource_metrics[0]->resource->n_attributes, 3);
        for (size_t i = 0; i < req->resource_metrics[0]->n_scope_metrics; i++) {
            Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = req->resource_metrics[0]->scope_metrics[i];
            for (size_t k = 0; k < sm->n_metrics; k++) {
                if (!strcmp(sm->metrics[k]->name, "otelcol_process_uptime")) {
                    uptime = sm->metrics[k]->sum && sm->metrics[k]->sum->is_monotonic &&
                             !strcmp(sm->metrics[k]->unit, "s");
                }
            }
        }
        assert_true(uptime);
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(req, NULL);
    }
    otc_buf_free(&b);
    otc_diag_free(&d);
    otc_yaml_free(&y);
    otc_telemetry_free(&t);
}

static int configure(struct otc_telemetry *t, const char *yaml)
{
    struct otc_yaml y;
    struct otc_diag d = {0};
    int rc = otc_yaml_load_string(&y, "t.yaml", yaml, strlen(yaml), &d);

    assert_int_equal(rc, OTC_OK);
    setup_t(t);
    rc = otc_telemetry_configure(t, &y, otc_yaml_get(&y, otc_yaml_root(&y), "metrics"), &d);
    if (rc != OTC_OK) {
        assert_true(d.n > 0);
    }
    otc_diag_free(&d);
    otc_yaml_free(&y);
    return rc;
}

static void test_config_forms(void **state)
{
    struct otc_telemetry t;

    assert_int_equal(configure(&t, "metrics:\n  level: basic\n  address: 0.0.0.0:9999\n"), OTC_OK);
    assert_int_equal(t.level, OTC_TELEMETRY_BASIC);
    assert_string_equal(t.endpoint, "0.0.0.0:9999");
    assert_true(t.endpoint_set);
    otc_telemetry_free(&t);

    assert_int_equal(configure(&t, "metrics:\n  readers:\n    - pull:\n        exporter:\n"
                                   "          prometheus:\n            host: 0.0.0.0\n"
                                   "            port: 8889\n"), OTC_OK);
    assert_string_equal(t.endpoint, "0.0.0.0:8889");
    assert_int_equal(t.level, OTC_TELEMETRY_NORMAL);
    otc_telemetry_free(&t);

    assert_int_equal(configure(&t, "metrics:\n  readers:\n    - pull:\n        exporter:\n"
                                   "          prometheus:\n            host: '::1'\n"
                                   "            port: 8889\n"), OTC_OK);
    assert_string_equal(t.endpoint, "[::1]:8889");
    otc_telemetry_free(&t);

    /* otelcol's other reader options are accepted and stored */
    assert_int_equal(configure(&t, "metrics:\n  readers:\n    - pull:\n        exporter:\n"
                                   "          prometheus:\n            port: 8889\n"
                                   "            without_type_suffix: false\n"
                                   "            without_units: true\n"
                                   "    - periodic:\n        interval: 5000\n"
                                   "        exporter:\n          otlp:\n"
                                   "            protocol: http/protobuf\n"
                                   "            endpoint: http://collector:4318\n"), OTC_OK);
    assert_false(t.without_type_suffix);
    assert_true(t.without_units);
    assert_true(t.without_scope_info); /* otelcol's default */
    assert_int_equal(t.n_periodic, 1);
    assert_int_equal(t.periodic[0].protocol, OTC_TELEMETRY_HTTP);
    assert_string_equal(t.periodic[0].host, "collector");
    assert_int_equal(t.periodic[0].port, 4318);
    assert_int_equal(t.periodic[0].interval_ns, 5000 * 1000000LL);
    otc_telemetry_free(&t);

    assert_int_equal(configure(&t, "metrics:\n  level: none\n"), OTC_OK);
    assert_int_equal(t.level, OTC_TELEMETRY_NONE);
    assert_int_equal(otc_telemetry_start(&t), OTC_OK); /* serves nothing */
    assert_null(t.httpd);
    otc_telemetry_free(&t);
}

static void test_config_errors(void **state)
{
    static const char *const bad[] = {
        "metrics:\n  level: verbose\n",
        "metrics:\n  adress: localhost:8888\n",
        "metrics:\n  address: nocolon\n",
        "metrics:\n  address: localhost:99999\n",
        "metrics:\n  address: localhost:1\n  readers:\n    - pull:\n        exporter:\n"
        "          prometheus:\n            port: 2\n",
        "metrics:\n  readers:\n    - periodic:\n        exporter:\n          zipkin: {}\n",
        "metrics:\n  readers:\n    - periodic:\n        exporter:\n          otlp:\n"
        "            protocol: http/json\n",
        "metrics:\n  readers:\n    - periodic:\n        exporter:\n          otlp:\n"
        "            endpoint: https://x:4318\n",
        "metrics:\n  readers:\n    - periodic:\n        interval: soon\n        exporter:\n"
        "          otlp: {}\n",
        "metrics:\n  readers:\n    - pull:\n        exporter:\n          prometheus:\n"
        "            without_units: maybe\n",
        "metrics:\n  readers:\n    - pull:\n        exporter:\n          prometheus:\n"
        "            host: x\n            colour: red\n",
        "metrics:\n  readers:\n    - pull:\n        exporter:\n          prometheus:\n"
        "            port: 1\n    - pull:\n        exporter:\n          prometheus:\n"
        "            port: 2\n",
        "metrics: [1]\n",
    };
    struct otc_telemetry t;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (configure(&t, bad[i]) == OTC_OK) {
            print_error("accepted: %s\n", bad[i]);
            fail();
        }
        otc_telemetry_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_receiver_exporter_counts),
        cmocka_unit_test(test_grpc_only_receiver_has_no_http_series),
        cmocka_unit_test(test_processors_summed_per_id),
        cmocka_unit_test(test_process_and_escaping),
        cmocka_unit_test(test_config_forms),
        cmocka_unit_test(test_otelcol_current_names),
        cmocka_unit_test(test_suffixed_names),
        cmocka_unit_test(test_resource_and_periodic_config),
        cmocka_unit_test(test_config_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
