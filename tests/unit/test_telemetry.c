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
#include <string.h>

#include <cmocka.h>

#include "core/engine.h"
#include "core/telemetry.h"

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

    assert_line(s, "# TYPE otelcol_receiver_accepted_spans_total counter");
    assert_line(s, "otelcol_receiver_accepted_spans_total{receiver=\"otlp\"," SVC ",transport=\"grpc\"} 70");
    assert_line(s, "otelcol_receiver_accepted_spans_total{receiver=\"otlp\"," SVC ",transport=\"http\"} 30");
    assert_line(s, "otelcol_receiver_refused_spans_total{receiver=\"otlp\"," SVC ",transport=\"grpc\"} 7");
    assert_line(s, "otelcol_receiver_refused_spans_total{receiver=\"otlp\"," SVC ",transport=\"http\"} 0");
    assert_line(s, "otelcol_receiver_accepted_metric_points_total{receiver=\"otlp\"," SVC ",transport=\"grpc\"} 12");
    assert_null(strstr(s, "otelcol_receiver_accepted_log_records_total"));
    assert_line(s, "otelcol_exporter_sent_spans_total{exporter=\"otlp/x\"," SVC "} 90");
    assert_line(s, "otelcol_exporter_send_failed_spans_total{exporter=\"otlp/x\"," SVC "} 10");
    assert_line(s, "otelcol_exporter_enqueue_failed_spans_total{exporter=\"otlp/x\"," SVC "} 3");
    assert_null(strstr(s, "otelcol_exporter_sent_metric_points_total"));
    assert_line(s, "# TYPE otelcol_exporter_queue_size gauge");
    assert_line(s, "otelcol_exporter_queue_size{exporter=\"otlp/x\"," SVC "} 2");
    assert_line(s, "otelcol_exporter_queue_capacity{exporter=\"otlp/x\"," SVC "} 8");
    /* no processor registered: no processor family at all */
    assert_null(strstr(s, "otelcol_processor_"));
    /* one HELP and TYPE per family */
    assert_int_equal(count_substr(s, "# TYPE otelcol_receiver_accepted_spans_total "), 1);
    assert_int_equal(count_substr(s, "# HELP otelcol_receiver_accepted_spans_total "), 1);
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
    assert_line(s, "otelcol_receiver_accepted_log_records_total{receiver=\"otlp/in\"," SVC
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
    assert_line(s, "otelcol_processor_dropped_spans_total{processor=\"dedup\"," SVC "} 10");
    assert_line(s, "otelcol_processor_deduplicated_spans_total{processor=\"dedup\"," SVC "} 9");
    assert_line(s, "otelcol_processor_dropped_log_records_total{processor=\"dedup\"," SVC "} 2");
    assert_line(s, "otelcol_processor_dropped_spans_total{processor=\"probabilistic_sampler\"," SVC "} 11");
    assert_int_equal(count_substr(s, "otelcol_processor_dropped_spans_total{processor=\"dedup\""), 1);
    /* deduplicated only for the dedup type */
    assert_null(strstr(s, "otelcol_processor_deduplicated_spans_total{processor=\"probabilistic_sampler\""));
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
    assert_line(s, "otelcol_exporter_sent_metric_points_total{exporter=\"otlp/a\\\"b\\\\c\\nd\"," SVC "} 0");
    assert_null(strstr(s, "otelcol_exporter_queue_size")); /* no queue */
    assert_line(s, "# TYPE otelcol_process_uptime_seconds_total counter");
    assert_line(s, "# TYPE otelcol_process_memory_rss_bytes gauge");
    p = strstr(s, "\notelcol_process_memory_rss_bytes{" SVC "} ");
    assert_non_null(p);
    assert_int_equal(sscanf(p + strlen("\notelcol_process_memory_rss_bytes{" SVC "} "), "%llu", &rss), 1);
    assert_true(rss > 1024 * 1024);
    assert_non_null(strstr(s, "\notelcol_process_uptime_seconds_total{" SVC "} "));
    /* every line is a comment or "name{labels} value" and the text ends with a newline */
    assert_int_equal(s[b.len - 1], '\n');
    for (char *line = s; *line; line = strchr(line, '\n') + 1) {
        assert_true(line[0] == '#' || !strncmp(line, "otelcol_", 8));
    }
    otc_buf_free(&b);
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
    assert_true(t.without_type_suffix_set && !t.without_type_suffix);
    assert_true(t.without_units_set && t.without_units);
    assert_false(t.without_scope_info_set);
    assert_string_equal(t.periodic_endpoint, "http://collector:4318");
    assert_string_equal(t.periodic_protocol, "http/protobuf");
    assert_int_equal(t.periodic_interval_ms, 5000);
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
        cmocka_unit_test(test_config_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
