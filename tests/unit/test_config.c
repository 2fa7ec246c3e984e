/* test_config.c - unit tests for the YAML loader (core/config.c) and the graph
 * builder (core/graph.c, core/service.c; build only): graphs, ${env:...},
 * errors with file:line:col. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/engine.h"
#include "otc/otc_buf.h"
#include "otc/otc_rc.h"

#define FILE_NAME "test.yaml"

/* The receiver every config below starts with (lines 1-4). */
#define RECEIVER_OTLP "receivers:\n"        \
                      "  otlp:\n"           \
                      "    protocols:\n"    \
                      "      grpc:\n"

/* ------------------------------------------------------------ helpers */

struct built {
    struct otc_yaml    y;
    struct otc_diag    d;
    struct otc_engine *e;
    int                rc;
};

/* Load text and, when it loads, build the engine from it. */
static void build(struct built *b, const char *text)
{
    memset(b, 0, sizeof(*b));
    b->rc = otc_yaml_load_string(&b->y, FILE_NAME, text, strlen(text), &b->d);
    if (b->rc == OTC_OK) {
        b->rc = otc_engine_build(&b->y, &b->d, &b->e);
    }
}

static void built_free(struct built *b)
{
    otc_engine_destroy(b->e);
    otc_yaml_free(&b->y);
    otc_diag_free(&b->d);
}

static void print_diags(const struct otc_diag *d)
{
    print_message("%zu diagnostic(s):\n", d->n);
    for (size_t i = 0; i < d->n; i++) {
        print_message("  %s\n", d->msgs[i]);
    }
}

/* How many diagnostics start with prefix. */
static size_t count_prefix(const struct otc_diag *d, const char *prefix)
{
    size_t n = 0;

    for (size_t i = 0; i < d->n; i++) {
        n += strncmp(d->msgs[i], prefix, strlen(prefix)) == 0;
    }
    return n;
}

/* On failure: show the diagnostics, free everything (so LeakSanitizer reports
 * only real leaks), then fail the test. */
#define REQUIRE(b, cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            print_message("rc = %d\n", (b)->rc);                              \
            print_diags(&(b)->d);                                              \
            print_error("ERROR: " __VA_ARGS__);                                \
            print_error("\n");                                                 \
            built_free(b);                                                     \
            fail();                                                            \
        }                                                                      \
    } while (0)

/* Exactly one diagnostic starts with prefix (which names file:line:col). */
#define REQUIRE_DIAG(b, prefix)                                                \
    REQUIRE(b, count_prefix(&(b)->d, prefix) == 1,                             \
            "expected exactly one diagnostic starting with: %s", prefix)

#define REQUIRE_N_DIAGS(b, count)                                              \
    REQUIRE(b, (b)->d.n == (size_t)(count), "expected %zu diagnostics, got %zu", \
            (size_t)(count), (b)->d.n)

static void expect_n_diags(const struct otc_diag *d, size_t n)
{
    if (d->n != n) {
        print_diags(d);
        fail_msg("expected %zu diagnostics, got %zu", n, d->n);
    }
}

/* Build text, expect failure with exactly one diagnostic starting with prefix. */
static void expect_single_error(const char *text, const char *prefix)
{
    struct built b;

    build(&b, text);
    REQUIRE(&b, b.rc == OTC_EINVAL && b.e == NULL && b.d.n == 1 &&
                    count_prefix(&b.d, prefix) == 1,
            "expected OTC_EINVAL and exactly one diagnostic, starting with: %s", prefix);
    built_free(&b);
}

static const char *scalar_at(struct otc_yaml *y, const char *const *path)
{
    yaml_node_t *n = otc_yaml_root(y);

    for (; *path; path++) {
        n = otc_yaml_get(y, n, *path);
        if (!n) {
            return NULL;
        }
    }
    return otc_yaml_str(n);
}

static struct otc_exporter_rt *exporter(struct otc_engine *e, const char *id)
{
    for (size_t i = 0; i < e->n_exporters; i++) {
        if (!strcmp(e->exporters[i].ins.id, id)) {
            return &e->exporters[i];
        }
    }
    fail_msg("no exporter %s", id);
    return NULL;
}

/* ------------------------------------------------------------ good configs */

static const char good_config[] =
    "receivers:\n"
    "  otlp:\n"
    "    protocols:\n"
    "      grpc:\n"
    "        endpoint: localhost:14317\n"
    "processors:\n"
    "  batch:\n"
    "    timeout: 1s\n"
    "  batch/small:\n"
    "    send_batch_size: 10\n"
    "exporters:\n"
    "  debug:\n"
    "    verbosity: detailed\n"
    "  nop:\n"
    "  file/out:\n"
    "    path: /nonexistent/otc-never-opened.json\n"
    "  otlp/backend:\n"
    "    endpoint: backend:4317\n"
    "    tls:\n"
    "      insecure: true\n"
    "    compression: none\n"
    "    timeout: 2s\n"
    "    sending_queue:\n"
    "      queue_size: 50\n"
    "      num_consumers: 2\n"
    "    retry_on_failure:\n"
    "      enabled: false\n"
    "  debug/unused:\n"
    "service:\n"
    "  shutdown_timeout: 3s\n"
    "  pipelines:\n"
    "    traces:\n"
    "      receivers: [otlp]\n"
    "      processors: [batch, batch/small]\n"
    "      exporters: [debug, nop, otlp/backend]\n"
    "    traces/fast:\n"
    "      receivers: [otlp]\n"
    "      exporters: [nop]\n"
    "    metrics:\n"
    "      receivers: [otlp]\n"
    "      processors: []\n"
    "      exporters: [file/out]\n"
    "    logs:\n"
    "      receivers: [otlp]\n"
    "      processors: [batch]\n"
    "      exporters: [debug]\n";

static void test_good_graph(void **state)
{
    struct built b;
    struct otc_engine *e;
    struct otc_instance *rcv;
    struct otc_exporter_rt *be;

    (void)state;
    build(&b, good_config);
    if (b.rc != OTC_OK) {
        print_diags(&b.d);
    }
    assert_int_equal(b.rc, OTC_OK);
    REQUIRE_N_DIAGS(&b, 0);
    e = b.e;
    assert_non_null(e);
    assert_int_equal(e->shutdown_timeout_ns, 3000000000LL);

    /* pipelines, in file order, with their signals */
    assert_int_equal(e->n_pipelines, 4);
    assert_string_equal(e->pipelines[0].id, "traces");
    assert_int_equal(e->pipelines[0].signal, OTC_TRACES);
    assert_string_equal(e->pipelines[1].id, "traces/fast");
    assert_int_equal(e->pipelines[1].signal, OTC_TRACES);
    assert_string_equal(e->pipelines[2].id, "metrics");
    assert_int_equal(e->pipelines[2].signal, OTC_METRICS);
    assert_string_equal(e->pipelines[3].id, "logs");
    assert_int_equal(e->pipelines[3].signal, OTC_LOGS);
    for (size_t i = 0; i < 4; i++) {
        assert_ptr_equal(e->pipelines[i].engine, e);
    }

    /* processors: one instance per pipeline, chained in list order */
    {
        struct otc_pipeline *tp = &e->pipelines[0], *lp = &e->pipelines[3];
        assert_int_equal(tp->n_processors, 2);
        assert_int_equal(e->pipelines[1].n_processors, 0);
        assert_int_equal(e->pipelines[2].n_processors, 0);
        assert_int_equal(lp->n_processors, 1);
        assert_string_equal(tp->processors[0].id, "batch");
        assert_string_equal(tp->processors[1].id, "batch/small");
        assert_string_equal(tp->processors[0].ops->type, "batch");
        assert_ptr_equal(tp->processors[0].next.ins, &tp->processors[1]);
        assert_ptr_equal(tp->processors[0].next.pipeline, tp);
        assert_null(tp->processors[1].next.ins); /* the last one feeds the exporters */
        assert_ptr_equal(tp->processors[1].next.pipeline, tp);
        assert_string_equal(lp->processors[0].id, "batch");
        assert_ptr_not_equal(&lp->processors[0], &tp->processors[0]);
        assert_ptr_not_equal(lp->processors[0].ctx, tp->processors[0].ctx);
        assert_null(lp->processors[0].next.ins);
        assert_ptr_equal(lp->processors[0].next.pipeline, lp);
    }

    /* one shared receiver feeding four pipelines */
    assert_int_equal(e->n_receivers, 1);
    rcv = e->receivers[0];
    assert_string_equal(rcv->id, "otlp");
    assert_ptr_equal(rcv->engine, e);
    assert_int_equal(rcv->n_feeds[OTC_TRACES], 2);
    assert_int_equal(rcv->n_feeds[OTC_METRICS], 1);
    assert_int_equal(rcv->n_feeds[OTC_LOGS], 1);
    assert_ptr_equal(rcv->feeds[OTC_TRACES][0], &e->pipelines[0]);
    assert_ptr_equal(rcv->feeds[OTC_TRACES][1], &e->pipelines[1]);
    assert_ptr_equal(rcv->feeds[OTC_METRICS][0], &e->pipelines[2]);
    assert_ptr_equal(rcv->feeds[OTC_LOGS][0], &e->pipelines[3]);
    assert_int_equal(rcv->signals, OTC_SIG_ALL);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(e->pipelines[i].n_receivers, 1);
        assert_ptr_equal(e->pipelines[i].receivers[0], rcv);
    }

    /* several exporters per pipeline, shared between pipelines */
    assert_int_equal(e->n_exporters, 5);
    assert_int_equal(e->pipelines[0].n_exporters, 3);
    assert_ptr_equal(e->pipelines[0].exporters[0], exporter(e, "debug"));
    assert_ptr_equal(e->pipelines[0].exporters[1], exporter(e, "nop"));
    assert_ptr_equal(e->pipelines[0].exporters[2], exporter(e, "otlp/backend"));
    assert_ptr_equal(e->pipelines[1].exporters[0], exporter(e, "nop"));
    assert_ptr_equal(e->pipelines[2].exporters[0], exporter(e, "file/out"));
    assert_ptr_equal(e->pipelines[3].exporters[0], exporter(e, "debug"));
    assert_int_equal(exporter(e, "debug")->ins.signals, OTC_SIG_TRACES | OTC_SIG_LOGS);
    assert_int_equal(exporter(e, "nop")->ins.signals, OTC_SIG_TRACES);
    assert_true(exporter(e, "debug")->used);
    assert_false(exporter(e, "debug/unused")->used);
    assert_string_equal(exporter(e, "debug")->ins.ops->type, "debug");
    assert_string_equal(exporter(e, "file/out")->ins.ops->type, "file");

    /* exporter helper options: defaults and the values set above */
    be = exporter(e, "otlp/backend");
    assert_int_equal(be->set.timeout_ns, 2000000000LL);
    assert_int_equal(be->ins.timeout_ns, 2000000000LL);
    assert_int_equal(be->set.queue_size, 50);
    assert_int_equal(be->set.num_consumers, 2);
    assert_true(be->set.queue_enabled);
    assert_false(be->set.retry_enabled);
    assert_int_equal(be->set.initial_interval_ns, 5000000000LL);
    assert_int_equal(be->set.max_elapsed_ns, 300000000000LL);
    assert_true(be->set.multiplier == 1.5);
    assert_int_equal(exporter(e, "nop")->set.queue_size, 1000);
    assert_int_equal(exporter(e, "nop")->set.timeout_ns, 5000000000LL);
    assert_true(exporter(e, "nop")->set.retry_enabled);
    built_free(&b);
}

static void test_describe(void **state)
{
    static const char want[] =
        "pipelines:\n"
        "  traces:\n"
        "    receivers: [otlp]\n"
        "    processors: [batch, batch/small]\n"
        "    exporters: [debug, nop, otlp/backend]\n"
        "  traces/fast:\n"
        "    receivers: [otlp]\n"
        "    processors: []\n"
        "    exporters: [nop]\n"
        "  metrics:\n"
        "    receivers: [otlp]\n"
        "    processors: []\n"
        "    exporters: [file/out]\n"
        "  logs:\n"
        "    receivers: [otlp]\n"
        "    processors: [batch]\n"
        "    exporters: [debug]\n";
    struct built b;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    build(&b, good_config);
    assert_int_equal(b.rc, OTC_OK);
    f = open_memstream(&text, &len);
    assert_non_null(f);
    otc_engine_describe(b.e, f);
    fclose(f);
    assert_string_equal(text, want);
    free(text);
    built_free(&b);
}

/* Two receivers (otlp and otlp/2) in one pipeline, each feeding it. */
/* otelcol's newer exporter names are aliases of the same components; an alias
 * is looked up like a type, and the id keeps the name the config used. */
static void test_type_aliases(void **state)
{
    static const char text[] =
        RECEIVER_OTLP
        "exporters:\n"
        "  otlp_grpc:\n"
        "    endpoint: localhost:4317\n"
        "  otlp_http/backend:\n"
        "    endpoint: http://localhost:4318\n"
        "service:\n"
        "  pipelines:\n"
        "    traces:\n"
        "      receivers: [otlp]\n"
        "      exporters: [otlp_grpc, otlp_http/backend]\n";
    struct built b;

    (void)state;
    assert_ptr_equal(otc_registry_find(OTC_EXPORTER, "otlp_grpc"),
                     otc_registry_find(OTC_EXPORTER, "otlp"));
    assert_ptr_equal(otc_registry_find(OTC_EXPORTER, "otlp_http"),
                     otc_registry_find(OTC_EXPORTER, "otlphttp"));
    assert_null(otc_registry_find(OTC_RECEIVER, "otlp_grpc")); /* aliases have a kind */
    assert_int_equal(otc_registry_check(), OTC_OK);
    build(&b, text);
    assert_int_equal(b.rc, OTC_OK);
    assert_int_equal(b.e->n_exporters, 2);
    assert_string_equal(b.e->exporters[0].ins.id, "otlp_grpc");
    assert_ptr_equal(b.e->exporters[0].ins.ops, otc_registry_find(OTC_EXPORTER, "otlp"));
    assert_string_equal(b.e->exporters[1].ins.id, "otlp_http/backend");
    assert_ptr_equal(b.e->exporters[1].ins.ops, otc_registry_find(OTC_EXPORTER, "otlphttp"));
    built_free(&b);
}

static void test_two_receivers(void **state)
{
    static const char text[] =
        RECEIVER_OTLP
        "  otlp/2:\n"
        "    protocols:\n"
        "      grpc:\n"
        "        endpoint: 127.0.0.1:24317\n"
        "exporters:\n"
        "  nop:\n"
        "service:\n"
        "  pipelines:\n"
        "    logs/a:\n"
        "      receivers: [otlp, otlp/2]\n"
        "      exporters: [nop]\n";
    struct built b;

    (void)state;
    build(&b, text);
    assert_int_equal(b.rc, OTC_OK);
    assert_int_equal(b.e->n_receivers, 2);
    assert_int_equal(b.e->n_pipelines, 1);
    assert_int_equal(b.e->pipelines[0].signal, OTC_LOGS);
    assert_int_equal(b.e->pipelines[0].n_receivers, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(b.e->receivers[i]->n_feeds[OTC_LOGS], 1);
        assert_int_equal(b.e->receivers[i]->n_feeds[OTC_TRACES], 0);
        assert_ptr_equal(b.e->receivers[i]->feeds[OTC_LOGS][0], &b.e->pipelines[0]);
    }
    built_free(&b);
}

/* ${env:VAR}, ${env:VAR:-default}, ${VAR} and $$ are substituted in scalars. */
static void test_env_substitution(void **state)
{
    static const char text[] =
        "receivers:\n"
        "  otlp:\n"
        "    protocols:\n"
        "      grpc:\n"
        "        endpoint: ${env:OTC_TEST_HOST}:${env:OTC_TEST_PORT:-4317}\n"
        "exporters:\n"
        "  file:\n"
        "    path: /tmp/$${env:HOME}/a$$b-${OTC_TEST_HOST}\n"
        "  debug:\n"
        "    verbosity: ${env:OTC_TEST_UNSET_VERBOSITY:-normal}\n"
        "  debug/2:\n"
        "    verbosity: ${env:OTC_TEST_VERBOSITY:-basic}\n"
        "  nop:\n"
        "    ${env:OTC_TEST_UNSET_VERBOSITY}\n"
        "service:\n"
        "  pipelines:\n"
        "    traces:\n"
        "      receivers: [otlp]\n"
        "      exporters: [file, debug, debug/2]\n";
    static const char *const endpoint[] = {"receivers", "otlp", "protocols", "grpc", "endpoint",
                                           NULL};
    static const char *const path[] = {"exporters", "file", "path", NULL};
    static const char *const verbosity[] = {"exporters", "debug", "verbosity", NULL};
    static const char *const verbosity2[] = {"exporters", "debug/2", "verbosity", NULL};
    static const char *const nop[] = {"exporters", "nop", NULL};
    struct built b;

    (void)state;
    assert_int_equal(setenv("OTC_TEST_HOST", "127.0.0.9", 1), 0);
    assert_int_equal(unsetenv("OTC_TEST_PORT"), 0);
    assert_int_equal(unsetenv("OTC_TEST_UNSET_VERBOSITY"), 0);
    assert_int_equal(setenv("OTC_TEST_VERBOSITY", "detailed", 1), 0);
    build(&b, text);
    if (b.rc != OTC_OK) {
        print_diags(&b.d);
    }
    assert_int_equal(b.rc, OTC_OK);
    assert_string_equal(scalar_at(&b.y, endpoint), "127.0.0.9:4317");
    assert_string_equal(scalar_at(&b.y, path), "/tmp/${env:HOME}/a$b-127.0.0.9");
    assert_string_equal(scalar_at(&b.y, verbosity), "normal");
    assert_string_equal(scalar_at(&b.y, verbosity2), "detailed");
    assert_string_equal(scalar_at(&b.y, nop), ""); /* unset, no default: empty */
    built_free(&b);

    /* a set variable wins over the default */
    assert_int_equal(setenv("OTC_TEST_PORT", "9999", 1), 0);
    build(&b, text);
    assert_int_equal(b.rc, OTC_OK);
    assert_string_equal(scalar_at(&b.y, endpoint), "127.0.0.9:9999");
    built_free(&b);
    unsetenv("OTC_TEST_PORT");
    unsetenv("OTC_TEST_HOST");
    unsetenv("OTC_TEST_VERBOSITY");
}

static void test_env_substitution_errors(void **state)
{
    static const char unterminated[] =
        RECEIVER_OTLP
        "        endpoint: ${env:OTC_TEST_HOST\n"   /* 5 */
        "exporters:\n"
        "  nop:\n";
    static const char bad_name[] =
        RECEIVER_OTLP
        "        endpoint: \"x:${env:BAD-NAME}\"\n" /* 5 */
        "exporters:\n"
        "  nop:\n";
    struct built b;

    (void)state;
    build(&b, unterminated);
    assert_int_equal(b.rc, OTC_EINVAL);
    REQUIRE_N_DIAGS(&b, 1);
    REQUIRE_DIAG(&b, FILE_NAME ":5:19: unterminated '${'");
    built_free(&b);

    build(&b, bad_name);
    assert_int_equal(b.rc, OTC_EINVAL);
    REQUIRE_N_DIAGS(&b, 1);
    REQUIRE_DIAG(&b, FILE_NAME ":5:19: bad environment variable name 'BAD-NAME'");
    built_free(&b);
}

/* The same loader from a file in tests/data/config. */
static void test_load_file(void **state)
{
    const char *dir = getenv("OTC_TEST_DATA");
    char path[1024];
    struct otc_yaml y;
    struct otc_diag d = {0};
    struct otc_engine *e = NULL;

    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/config/good.yaml", dir);
    assert_int_equal(otc_yaml_load(&y, path, &d), OTC_OK);
    assert_int_equal(otc_engine_build(&y, &d, &e), OTC_OK);
    expect_n_diags(&d, 0);
    assert_int_equal(e->n_pipelines, 3);
    assert_int_equal(e->receivers[0]->n_feeds[OTC_TRACES], 1);
    otc_engine_destroy(e);
    otc_yaml_free(&y);

    snprintf(path, sizeof(path), "%s/config/does-not-exist.yaml", dir);
    assert_int_equal(otc_yaml_load(&y, path, &d), OTC_EINVAL);
    expect_n_diags(&d, 1);
    assert_non_null(strstr(d.msgs[0], "does-not-exist.yaml: cannot read config:"));
    otc_yaml_free(&y);
    otc_diag_free(&d);
}

/* ------------------------------------------------------------ errors */

static void test_unknown_component_type(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"            /* 5 */
                        "  kafka/x:\n"            /* 6 */
                        "    brokers: [a]\n"      /* 7 */
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [kafka/x]\n",
                        FILE_NAME ":6:3: exporters: unknown exporter type \"kafka\" (known: ");
    expect_single_error("receivers:\n"
                        "  zipkin:\n"             /* 2 */
                        "exporters:\n"
                        "  nop:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [zipkin]\n"
                        "      exporters: [nop]\n",
                        FILE_NAME ":2:3: receivers: unknown receiver type \"zipkin\" "
                        "(known: otlp, nop)");
    expect_single_error(RECEIVER_OTLP
                        "processors:\n"           /* 5 */
                        "  spanmetrics/x:\n"      /* 6 */
                        "exporters:\n"
                        "  nop:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      processors: [spanmetrics/x]\n"
                        "      exporters: [nop]\n",
                        FILE_NAME ":6:3: processors: unknown processor type \"spanmetrics\"");
}

static void test_unknown_key(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  otlp: {endpoint: x, bogus: 1}\n"     /* 6 */
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [otlp]\n",
                        FILE_NAME ":6:23: exporter \"otlp\": unknown key \"bogus\"");
    /* nested keys are named by their dotted path */
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  otlp/sink:\n"                        /* 6 */
                        "    endpoint: x:1\n"                   /* 7 */
                        "    tls:\n"                            /* 8 */
                        "      insecure: true\n"                /* 9 */
                        "      verify: false\n"                 /* 10 */
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [otlp/sink]\n",
                        FILE_NAME ":10:7: exporter \"otlp/sink\": unknown key \"tls.verify\"");
    /* in a receiver */
    expect_single_error("receivers:\n"
                        "  otlp:\n"
                        "    protocols:\n"
                        "      grpc:\n"
                        "        endpoint: localhost:4317\n"    /* 5 */
                        "        max_msg: 4\n"                  /* 6 */
                        "exporters:\n"
                        "  nop:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [nop]\n",
                        FILE_NAME ":6:9: receiver \"otlp\": unknown key "
                        "\"protocols.grpc.max_msg\"");
}

static void test_wrong_type(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  otlp/sink:\n"                        /* 6 */
                        "    endpoint: x:1\n"                   /* 7 */
                        "    timeout: abc\n"                    /* 8 */
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [otlp/sink]\n",
                        FILE_NAME ":8:14: exporter \"otlp/sink\": key \"timeout\": expected a "
                        "duration such as 200ms, 5s or 1m (or an integer of nanoseconds), got 'abc'");
    /* a mapping where a scalar is expected */
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  otlp:\n"                             /* 6 */
                        "    endpoint: {host: x}\n"             /* 7 */
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [otlp]\n",
                        FILE_NAME ":7:15: exporter \"otlp\": key \"endpoint\": expected a scalar, "
                        "got a mapping");
    /* a scalar where a mapping is expected */
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  otlp:\n"                             /* 6 */
                        "    endpoint: x:1\n"                   /* 7 */
                        "    headers: abc\n"                    /* 8 */
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [otlp]\n",
                        FILE_NAME ":8:14: exporter \"otlp\": key \"headers\": expected a mapping, "
                        "got a scalar");
}

static void test_out_of_range(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  otlp:\n"                             /* 6 */
                        "    endpoint: x:1\n"                   /* 7 */
                        "    sending_queue:\n"                  /* 8 */
                        "      queue_size: 0\n"                 /* 9 */
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [otlp]\n",
                        FILE_NAME ":9:19: exporter \"otlp\": key \"sending_queue.queue_size\": "
                        "value must be >= 1");
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  nop:\n"                              /* 6 */
                        "    retry_on_failure:\n"               /* 7 */
                        "      randomization_factor: 1.5\n"     /* 8 */
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [nop]\n",
                        FILE_NAME ":8:29: exporter \"nop\": key "
                        "\"retry_on_failure.randomization_factor\": value must be <= 1");
}

static void test_bad_enum(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  otlp:\n"                             /* 6 */
                        "    endpoint: x:1\n"                   /* 7 */
                        "    compression: lz4\n"                /* 8 */
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [otlp]\n",
                        FILE_NAME ":8:18: exporter \"otlp\": key \"compression\": 'lz4' is not one "
                        "of: gzip none");
}

/* A component's own validation (missing required option) names the component. */
static void test_validate_error(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  file:\n"                             /* 6: null value after ':' */
                        "service:\n"
                        "  pipelines:\n"
                        "    logs:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [file]\n",
                        FILE_NAME ":6:8: exporter \"file\": \"path\" is required");
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  otlp:\n"                             /* 6 */
                        "    compression: none\n"               /* 7: the mapping starts here */
                        "service:\n"
                        "  pipelines:\n"
                        "    logs:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [otlp]\n",
                        FILE_NAME ":7:5: exporter \"otlp\": \"endpoint\" is required");
}

/* A component used for a signal it does not handle, and a processor option error. */
static void test_processor_errors(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "processors:\n"
                        "  probabilistic_sampler:\n"
                        "exporters:\n"
                        "  nop:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    metrics:\n"                      /* 11 */
                        "      receivers: [otlp]\n"
                        "      processors: [probabilistic_sampler]\n" /* 13 */
                        "      exporters: [nop]\n",
                        FILE_NAME ":13:20: pipeline \"metrics\": processor "
                        "\"probabilistic_sampler\" does not support metrics");
    expect_single_error(RECEIVER_OTLP
                        "processors:\n"                       /* 5 */
                        "  batch/x:\n"                        /* 6 */
                        "    timeout: soon\n"                 /* 7 */
                        "exporters:\n"
                        "  nop:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      processors: [batch/x]\n"
                        "      exporters: [nop]\n",
                        FILE_NAME ":7:14: processor \"batch/x\": key \"timeout\": expected a "
                        "duration");
    expect_single_error(RECEIVER_OTLP
                        "processors:\n"
                        "  batch:\n"
                        "exporters:\n"
                        "  nop:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      processors: [batch/missing]\n" /* 13 */
                        "      exporters: [nop]\n",
                        FILE_NAME ":13:20: pipeline \"traces\": references processor "
                        "\"batch/missing\", which is not configured under \"processors\"");
}

static void test_undefined_exporter(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"                          /* 5 */
                        "  debug:\n"                            /* 6 */
                        "service:\n"                            /* 7 */
                        "  pipelines:\n"                        /* 8 */
                        "    traces:\n"                         /* 9 */
                        "      receivers: [otlp]\n"             /* 10 */
                        "      exporters: [debug, otlp/missing]\n", /* 11 */
                        FILE_NAME ":11:26: pipeline \"traces\": references exporter "
                        "\"otlp/missing\", which is not configured under \"exporters\"");
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"
                        "  debug:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    metrics/x:\n"                      /* 9 */
                        "      receivers: [otlp/other]\n"       /* 10 */
                        "      exporters: [debug]\n",
                        FILE_NAME ":10:19: pipeline \"metrics/x\": references receiver "
                        "\"otlp/other\", which is not configured under \"receivers\"");
}

static void test_pipeline_without_receivers(void **state)
{
    (void)state;
    /* block style: the pipeline's mapping starts at its first key */
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"
                        "  debug:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"                         /* 9 */
                        "      exporters: [debug]\n",           /* 10 */
                        FILE_NAME ":10:7: pipeline \"traces\": must have at least one receiver");
    /* an empty list points at the list */
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"
                        "  debug:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    logs:\n"                           /* 9 */
                        "      receivers: []\n"                 /* 10 */
                        "      exporters: [debug]\n",
                        FILE_NAME ":10:18: pipeline \"logs\": must have at least one receiver");
    /* no exporters either */
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"
                        "  debug:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    logs: {receivers: [otlp]}\n",      /* 9 */
                        FILE_NAME ":9:11: pipeline \"logs\": must have at least one exporter");
}

static void test_bad_pipeline_id(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"
                        "  debug:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [debug]\n"
                        "    spans:\n"                          /* 12 */
                        "      receivers: [otlp]\n"
                        "      exporters: [debug]\n",
                        FILE_NAME ":12:5: service: pipeline \"spans\": the id must be traces, "
                        "metrics or logs");
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"
                        "  debug:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces/:\n"                        /* 9 */
                        "      receivers: [otlp]\n"
                        "      exporters: [debug]\n",
                        FILE_NAME ":9:5: service: pipeline \"traces/\": the id must be traces, "
                        "metrics or logs");
}

static void test_unknown_top_level_key(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"
                        "  debug:\n"
                        "processor:\n"                          /* 7 */
                        "  batch:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [debug]\n",
                        FILE_NAME ":7:1: unknown top-level key \"processor\"");
}

static void test_invalid_yaml(void **state)
{
    struct built b;

    (void)state;
    expect_single_error("receivers:\n"
                        "  otlp:\n"
                        "    protocols: grpc: x\n",             /* 3, second ':' at col 20 */
                        FILE_NAME ":3:20: invalid YAML: mapping values are not allowed");
    expect_single_error("receivers:\n"
                        "  - otlp\n"
                        " bad: indent\n",                       /* 3 */
                        FILE_NAME ":3:2: invalid YAML:");
    expect_single_error("- a\n- b\n", FILE_NAME ":1:1: the config must be a mapping");

    /* An unterminated quoted string: the error must point at the line where the
     * string starts (as otelcol's YAML parser does), not at the end of the file. */
    build(&b, RECEIVER_OTLP
              "        endpoint: \"localhost:4317\n"          /* 5 */
              "exporters:\n"
              "  debug:\n");
    assert_int_equal(b.rc, OTC_EINVAL);
    REQUIRE_N_DIAGS(&b, 1);
    REQUIRE(&b, strncmp(b.d.msgs[0], FILE_NAME ":5:", strlen(FILE_NAME ":5:")) == 0,
            "the unterminated string starts on line 5");
    built_free(&b);
}

/* The value of option key of receiver instance ins, read through its config map. */
static const void *option_at(const struct otc_instance *ins, const char *key)
{
    const struct otc_config_entry *e = otc_config_map_find(ins->ops->config_map, key);

    assert_non_null(e);
    return (const char *)ins->ctx + e->offset;
}

#define HTTP_PIPELINE "exporters:\n"                  \
                      "  debug:\n"                    \
                      "service:\n"                    \
                      "  pipelines:\n"                \
                      "    traces:\n"                 \
                      "      receivers: [otlp]\n"     \
                      "      exporters: [debug]\n"

/* Exactly one diagnostic, for file test.yaml, containing want. */
static void expect_one_error_with(const char *text, const char *want)
{
    struct built b;

    build(&b, text);
    REQUIRE(&b, b.rc == OTC_EINVAL && b.e == NULL && b.d.n == 1 &&
                    count_prefix(&b.d, FILE_NAME ":") == 1 && strstr(b.d.msgs[0], want),
            "expected OTC_EINVAL and exactly one diagnostic containing: %s", want);
    built_free(&b);
}

/* protocols.http: otelcol's defaults, the user's values, and bad values. */
static void test_receiver_http_options(void **state)
{
    struct built b;
    const struct otc_instance *r;
    const struct otc_strlist *l;

    (void)state;
    /* http alone is enough, with otelcol's defaults */
    build(&b, "receivers:\n"
              "  otlp:\n"
              "    protocols:\n"
              "      http:\n"
              HTTP_PIPELINE);
    REQUIRE(&b, b.rc == OTC_OK, "protocols.http alone was refused");
    r = b.e->receivers[0];
    assert_true(*(const bool *)option_at(r, "protocols.http"));
    assert_false(*(const bool *)option_at(r, "protocols.grpc"));
    assert_string_equal(*(char *const *)option_at(r, "protocols.http.endpoint"), "localhost:4318");
    assert_string_equal(*(char *const *)option_at(r, "protocols.http.traces_url_path"), "/v1/traces");
    assert_string_equal(*(char *const *)option_at(r, "protocols.http.metrics_url_path"),
                        "/v1/metrics");
    assert_string_equal(*(char *const *)option_at(r, "protocols.http.logs_url_path"), "/v1/logs");
    assert_true(*(const uint64_t *)option_at(r, "protocols.http.max_request_body_size") ==
                20u * 1024 * 1024);
    assert_int_equal(((const struct otc_strlist *)option_at(r, "protocols.http.cors.allowed_origins"))->n, 0);
    assert_true(*(const int64_t *)option_at(r, "protocols.http.cors.max_age") == 0);
    built_free(&b);

    /* both protocols, every option set */
    build(&b, "receivers:\n"
              "  otlp:\n"
              "    protocols:\n"
              "      grpc:\n"
              "      http:\n"
              "        endpoint: 0.0.0.0:4318\n"
              "        traces_url_path: /otlp/v1/traces\n"
              "        metrics_url_path: /m\n"
              "        logs_url_path: /l\n"
              "        max_request_body_size: 1MiB\n"
              "        cors:\n"
              "          allowed_origins: [\"https://*.example.com\", \"http://localhost:3000\"]\n"
              "          allowed_headers: [X-Custom]\n"
              "          max_age: 7200\n"
              HTTP_PIPELINE);
    REQUIRE(&b, b.rc == OTC_OK, "a full protocols.http section was refused");
    r = b.e->receivers[0];
    assert_true(*(const bool *)option_at(r, "protocols.grpc"));
    assert_string_equal(*(char *const *)option_at(r, "protocols.http.endpoint"), "0.0.0.0:4318");
    assert_string_equal(*(char *const *)option_at(r, "protocols.http.traces_url_path"),
                        "/otlp/v1/traces");
    assert_true(*(const uint64_t *)option_at(r, "protocols.http.max_request_body_size") ==
                1024 * 1024);
    l = option_at(r, "protocols.http.cors.allowed_origins");
    assert_int_equal(l->n, 2);
    assert_string_equal(l->v[0], "https://*.example.com");
    l = option_at(r, "protocols.http.cors.allowed_headers");
    assert_int_equal(l->n, 1);
    assert_true(*(const int64_t *)option_at(r, "protocols.http.cors.max_age") == 7200);
    built_free(&b);

    /* bad values: each one error naming the problem */
    expect_one_error_with("receivers:\n"
                          "  otlp:\n"
                          "    protocols:\n"
                          "      http:\n"
                          "        endpoint: nohostport\n"
                          HTTP_PIPELINE,
                          "receiver \"otlp\": protocols.http.endpoint must be host:port, "
                          "got \"nohostport\"");
    expect_one_error_with("receivers:\n"
                          "  otlp:\n"
                          "    protocols:\n"
                          "      http:\n"
                          "        endpoint: localhost:99999\n"
                          HTTP_PIPELINE,
                          "receiver \"otlp\": protocols.http.endpoint must be host:port");
    expect_one_error_with("receivers:\n"
                          "  otlp:\n"
                          "    protocols:\n"
                          "      http:\n"
                          "        logs_url_path: \"/v1/logs?x\"\n"
                          HTTP_PIPELINE,
                          "receiver \"otlp\": protocols.http.logs_url_path must be a "
                          "URL path");
    /* otelcol adds a missing leading / (and then the two paths are one) */
    expect_one_error_with("receivers:\n"
                          "  otlp:\n"
                          "    protocols:\n"
                          "      http:\n"
                          "        traces_url_path: v1/otlp\n"
                          "        logs_url_path: /v1/otlp\n"
                          HTTP_PIPELINE,
                          "receiver \"otlp\": protocols.http.traces_url_path and logs_url_path "
                          "are both");
    expect_one_error_with("receivers:\n"
                          "  otlp:\n"
                          "    protocols:\n"
                          "      http:\n"
                          "        compression_algorithms: [gzip, brotli]\n"
                          HTTP_PIPELINE,
                          "unsupported compression type \"brotli\"");
    expect_one_error_with("receivers:\n"
                          "  otlp:\n"
                          "    protocols:\n"
                          "      http:\n"
                          "        traces_url_path: /v1/otlp\n"
                          "        logs_url_path: /v1/otlp\n"
                          HTTP_PIPELINE,
                          "receiver \"otlp\": protocols.http.traces_url_path and logs_url_path "
                          "are both \"/v1/otlp\"");
    expect_one_error_with("receivers:\n"
                          "  otlp:\n"
                          "    protocols:\n"
                          "      http:\n"
                          "        cors:\n"
                          "          allowed_origins: [\"http://*.*.example.com\"]\n"
                          HTTP_PIPELINE,
                          "receiver \"otlp\": protocols.http.cors.allowed_origins: "
                          "\"http://*.*.example.com\" may hold at most one * wildcard");
    expect_single_error("receivers:\n"
                        "  otlp:\n"
                        "    protocols:\n"
                        "      http:\n"
                        "        max_request_body_size: lots\n"
                        HTTP_PIPELINE,
                        FILE_NAME ":5:");
    expect_single_error("receivers:\n"
                        "  otlp:\n"
                        "    protocols:\n"
                        "      http:\n"
                        "        max_request_body_size: 4GiB\n"
                        HTTP_PIPELINE,
                        FILE_NAME ":5:");
    expect_single_error("receivers:\n"
                        "  otlp:\n"
                        "    protocols:\n"
                        "      http:\n"
                        "        cors:\n"
                        "          max_age: -1\n"
                        HTTP_PIPELINE,
                        FILE_NAME ":6:");
    expect_single_error("receivers:\n"
                        "  otlp:\n"
                        "    protocols:\n"
                        "      http:\n"
                        "        cors:\n"
                        "          allowed_methods: [GET]\n"
                        HTTP_PIPELINE,
                        FILE_NAME ":6:");
    /* neither protocol */
    expect_one_error_with("receivers:\n"
                          "  otlp:\n"
                          "    protocols:\n"
                          "      {}\n"
                          HTTP_PIPELINE,
                          "must specify at least one protocol under \"protocols\" (grpc, http)");
}

static void test_empty_file(void **state)
{
    static const char *const empties[] = {"", "\n\n", "# only a comment\n"};

    (void)state;
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        struct built b;
        build(&b, empties[i]);
        assert_int_equal(b.rc, OTC_EINVAL);
        assert_null(b.e);
        REQUIRE_N_DIAGS(&b, 1);
        assert_string_equal(b.d.msgs[0], FILE_NAME ": the config is empty");
        built_free(&b);
    }
}

static void test_missing_service(void **state)
{
    struct built b;

    (void)state;
    build(&b, RECEIVER_OTLP "exporters:\n  debug:\n");
    assert_int_equal(b.rc, OTC_EINVAL);
    REQUIRE_N_DIAGS(&b, 1);
    assert_non_null(strstr(b.d.msgs[0], "\"service\" with \"pipelines\" is required"));
    built_free(&b);
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"
                        "  debug:\n"
                        "service:\n"                            /* 7 */
                        "  pipelines: {}\n",                    /* 8 */
                        FILE_NAME ":8:14: service: \"pipelines\" must define at least one");
}

static void test_listed_twice(void **state)
{
    (void)state;
    expect_single_error(RECEIVER_OTLP
                        "exporters:\n"
                        "  debug:\n"
                        "service:\n"
                        "  pipelines:\n"
                        "    traces:\n"
                        "      receivers: [otlp]\n"
                        "      exporters: [debug, debug]\n",    /* 11 */
                        FILE_NAME ":11:26: pipeline \"traces\": exporter \"debug\" is listed "
                        "twice");
}

/* A section that is not a mapping is reported once, not once per pass. */
static void test_section_not_a_mapping(void **state)
{
    struct built b;

    (void)state;
    build(&b, RECEIVER_OTLP
              "exporters: [debug]\n"                            /* 5 */
              "service:\n"
              "  pipelines:\n"
              "    traces:\n"
              "      receivers: [otlp]\n"
              "      exporters: [debug]\n");
    assert_int_equal(b.rc, OTC_EINVAL);
    REQUIRE_DIAG(&b, FILE_NAME ":5:12: \"exporters\" must be a mapping of component ids");
    built_free(&b);
}

/* Duplicate keys are an error in otelcol ("mapping key already defined"):
 * a second definition must not be accepted silently. */
static void test_duplicate_ids(void **state)
{
    struct built b;

    (void)state;
    build(&b, RECEIVER_OTLP
              "exporters:\n"
              "  debug:\n"                                      /* 6 */
              "  debug:\n"                                      /* 7 */
              "    verbosity: normal\n"
              "service:\n"
              "  pipelines:\n"
              "    traces:\n"
              "      receivers: [otlp]\n"
              "      exporters: [debug]\n");
    REQUIRE(&b, b.rc == OTC_EINVAL && b.d.n >= 1,
            "exporter \"debug\" defined twice (lines 6 and 7) was accepted");
    built_free(&b);

    build(&b, RECEIVER_OTLP
              "exporters:\n"
              "  debug:\n"
              "service:\n"
              "  pipelines:\n"
              "    traces:\n"                                   /* 9 */
              "      receivers: [otlp]\n"
              "      exporters: [debug]\n"
              "    traces:\n"                                   /* 12 */
              "      receivers: [otlp]\n"
              "      exporters: [debug]\n");
    REQUIRE(&b, b.rc == OTC_EINVAL && b.d.n >= 1,
            "pipeline \"traces\" defined twice (lines 9 and 12) was accepted");
    built_free(&b);
}

/* Every problem in one file is reported, whatever section it is in. */
static void test_many_errors_all_reported(void **state)
{
    static const char text[] =
        "receivers:\n"                                   /*  1 */
        "  otlp:\n"                                      /*  2 */
        "    protocols:\n"                               /*  3 */
        "      grpc:\n"                                  /*  4 */
        "        endpoint: localhost:4317\n"             /*  5 */
        "        bogus_rx: 1\n"                          /*  6 receiver: unknown key */
        "exporters:\n"                                   /*  7 */
        "  otlp: {endpoint: x, bogus: 1}\n"              /*  8 unknown key */
        "  otlp/a:\n"                                    /*  9 */
        "    endpoint: x:1\n"                            /* 10 */
        "    timeout: abc\n"                             /* 11 wrong type */
        "    compression: lz4\n"                         /* 12 bad enum */
        "    sending_queue:\n"                           /* 13 */
        "      queue_size: 0\n"                          /* 14 out of range */
        "  kafka:\n"                                     /* 15 unknown type */
        "extra: 1\n"                                     /* 16 unknown top-level key */
        "service:\n"                                     /* 17 */
        "  pipelines:\n"                                 /* 18 */
        "    traces:\n"                                  /* 19 */
        "      receivers: [otlp]\n"                      /* 20 */
        "      exporters: [otlp, missing]\n"             /* 21 undefined exporter */
        "    spans:\n"                                   /* 22 bad pipeline id */
        "      receivers: [otlp]\n"                      /* 23 */
        "      exporters: [otlp]\n"                      /* 24 */
        "    logs:\n"                                    /* 25 */
        "      exporters: [otlp/a]\n";                   /* 26 no receivers */
    static const char *const want[] = {
        FILE_NAME ":6:9: receiver \"otlp\": unknown key \"protocols.grpc.bogus_rx\"",
        FILE_NAME ":8:23: exporter \"otlp\": unknown key \"bogus\"",
        FILE_NAME ":11:14: exporter \"otlp/a\": key \"timeout\": expected a duration",
        FILE_NAME ":12:18: exporter \"otlp/a\": key \"compression\": 'lz4' is not one of",
        FILE_NAME ":14:19: exporter \"otlp/a\": key \"sending_queue.queue_size\": value must "
                  "be >= 1",
        FILE_NAME ":15:3: exporters: unknown exporter type \"kafka\"",
        FILE_NAME ":16:1: unknown top-level key \"extra\"",
        FILE_NAME ":21:25: pipeline \"traces\": references exporter \"missing\"",
        FILE_NAME ":22:5: service: pipeline \"spans\": the id must be",
        FILE_NAME ":26:7: pipeline \"logs\": must have at least one receiver",
    };
    struct built b;
    size_t found = 0;

    (void)state;
    build(&b, text);
    assert_int_equal(b.rc, OTC_EINVAL);
    assert_null(b.e);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (count_prefix(&b.d, want[i]) == 1) {
            found++;
        } else {
            print_message("missing: %s\n", want[i]);
        }
    }
    REQUIRE(&b, found == sizeof(want) / sizeof(want[0]) && b.d.n == found,
            "expected %zu diagnostics, found %zu of them among %zu",
            sizeof(want) / sizeof(want[0]), found, b.d.n);
    built_free(&b);
}

/* The service section is read through an option table like a component's:
 * its errors name the key the same way, and all of them are reported. */
static void test_service_errors_all_reported(void **state)
{
    static const char text[] =
        RECEIVER_OTLP                                    /*  1-4 */
        "exporters:\n"                                   /*  5 */
        "  debug:\n"                                     /*  6 */
        "service:\n"                                     /*  7 */
        "  shutdown_timeout: soon\n"                     /*  8 bad duration */
        "  bogus: 1\n"                                   /*  9 unknown key */
        "  telemetry:\n"                                 /* 10 */
        "    logs:\n"                                    /* 11 */
        "      level: verbose\n"                         /* 12 bad choice */
        "      encoding: xml\n"                          /* 13 bad choice */
        "      format: json\n"                           /* 14 unknown key */
        "    metrics:\n"                                 /* 15 */
        "      level: loud\n"                            /* 16 bad choice */
        "      adress: x\n"                              /* 17 unknown key */
        "    tracez: {}\n"                               /* 18 unknown key */
        "  pipelines:\n"                                 /* 19 */
        "    traces:\n"                                  /* 20 */
        "      receivers: [otlp]\n"                      /* 21 */
        "      exporters: [debug]\n";                    /* 22 */
    static const char *const want[] = {
        FILE_NAME ":8:21: service: key \"shutdown_timeout\": expected a duration",
        FILE_NAME ":9:3: service: unknown key \"bogus\"",
        FILE_NAME ":12:14: service: key \"telemetry.logs.level\": 'verbose' is not one of",
        FILE_NAME ":13:17: service: key \"telemetry.logs.encoding\": 'xml' is not one of",
        FILE_NAME ":14:7: service: unknown key \"telemetry.logs.format\"",
        FILE_NAME ":16:14: service: key \"telemetry.metrics.level\": 'loud' is not one of",
        FILE_NAME ":17:7: service: unknown key \"telemetry.metrics.adress\"",
        FILE_NAME ":18:5: service: unknown key \"telemetry.tracez\"",
    };
    struct built b;
    size_t found = 0;

    (void)state;
    build(&b, text);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (count_prefix(&b.d, want[i]) == 1) {
            found++;
        } else {
            print_message("missing: %s\n", want[i]);
        }
    }
    REQUIRE(&b, b.rc == OTC_EINVAL && found == sizeof(want) / sizeof(want[0]) && b.d.n == found,
            "expected %zu diagnostics, found %zu of them among %zu",
            sizeof(want) / sizeof(want[0]), found, b.d.n);
    built_free(&b);
}

#define LOGS_CONFIG(extra)                                                     \
    RECEIVER_OTLP                                                              \
    "exporters:\n"                                                             \
    "  debug:\n" extra                                                         \
    "service:\n"                                                               \
    "  telemetry:\n"                                                           \
    "    logs:\n"                                                              \
    "      level: DEBUG\n"                                                     \
    "      encoding: json\n"                                                   \
    "  pipelines:\n"                                                           \
    "    traces:\n"                                                            \
    "      receivers: [otlp]\n"                                                \
    "      exporters: [debug]\n"

/* Building a config changes nothing in the running process: the log options
 * wait in the engine until it starts (or a reload to it succeeds). */
static void test_log_options_parsed_not_applied(void **state)
{
    enum otc_log_level level = otc_log_threshold;
    bool json = otc_log_json;
    struct built b;

    (void)state;
    otc_log_threshold = OTC_LOG_INFO;
    otc_log_json = false;
    build(&b, LOGS_CONFIG(""));
    REQUIRE(&b, b.rc == OTC_OK, "the config was refused");
    assert_int_equal(otc_log_threshold, OTC_LOG_INFO);
    assert_false(otc_log_json);
    assert_true(b.e->log.level_set && b.e->log.level == OTC_LOG_DEBUG);
    assert_true(b.e->log.encoding_set && b.e->log.json);
    otc_log_options_apply(&b.e->log);
    assert_int_equal(otc_log_threshold, OTC_LOG_DEBUG);
    assert_true(otc_log_json);
    built_free(&b);

    /* a config that fails after its service section leaves them alone too */
    otc_log_threshold = OTC_LOG_INFO;
    otc_log_json = false;
    build(&b, LOGS_CONFIG("    bogus_key: 1\n"));
    REQUIRE(&b, b.rc == OTC_EINVAL, "the bad config was accepted");
    assert_int_equal(otc_log_threshold, OTC_LOG_INFO);
    assert_false(otc_log_json);
    built_free(&b);

    /* "warning" is warn, whatever the case; what a config leaves out stays unset */
    build(&b, RECEIVER_OTLP "exporters:\n  debug:\nservice:\n  telemetry:\n    logs:\n"
              "      level: Warning\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
              "      exporters: [debug]\n");
    REQUIRE(&b, b.rc == OTC_OK, "level: Warning was refused");
    assert_true(b.e->log.level_set && b.e->log.level == OTC_LOG_WARN);
    assert_false(b.e->log.encoding_set);
    built_free(&b);
    otc_log_threshold = level;
    otc_log_json = json;
}

/* Hostile documents get one clear error, in bounded time and memory. */
/* sending_queue.storage must name a storage provider (otc_storage.h) listed in
 * service.extensions; the pipelines of its exporters then get it. */
static void test_storage_extension(void **state)
{
    static const char cfg[] = "extensions:\n"
                              "  file_storage/q:\n"
                              "    directory: /nonexistent/otelc-test-queue\n"
                              "  health_check:\n"
                              RECEIVER_OTLP
                              "exporters:\n"
                              "  debug:\n"
                              "    sending_queue:\n"
                              "      storage: %s\n"
                              "service:\n"
                              "  extensions: [file_storage/q, health_check]\n"
                              "  pipelines:\n"
                              "    logs:\n"
                              "      receivers: [otlp]\n"
                              "      exporters: [debug]\n";
    char text[1024];
    struct built b;

    (void)state;
    snprintf(text, sizeof(text), cfg, "file_storage/q");
    build(&b, text);
    REQUIRE(&b, b.rc == OTC_OK && b.e && b.e->n_pipelines == 1, "a storage extension is accepted");
    REQUIRE(&b, b.e->pipelines[0].storage && !strcmp(b.e->pipelines[0].storage->id, "file_storage/q"),
            "the pipeline gets its exporter's storage");
    built_free(&b);
    snprintf(text, sizeof(text), cfg, "health_check");
    expect_one_error_with(text, "sending_queue.storage \"health_check\" must be a storage extension");
    snprintf(text, sizeof(text), cfg, "file_storage/missing");
    expect_one_error_with(text, "sending_queue.storage \"file_storage/missing\" must be a storage extension");
}

static void test_hostile_yaml(void **state)
{
    struct otc_buf deep, bomb;

    (void)state;
    /* nested far deeper than any config: refused before the recursive loader */
    otc_buf_init(&deep);
    otc_buf_adds(&deep, "receivers: ");
    for (int i = 0; i < 10000; i++) {
        otc_buf_adds(&deep, "[");
    }
    otc_buf_adds(&deep, "\n");
    expect_single_error(deep.data, FILE_NAME ":1:");
    {
        struct built b;
        build(&b, deep.data);
        REQUIRE(&b, b.d.n == 1 && strstr(b.d.msgs[0], "nested deeper than 64 levels"),
                "deep nesting: unexpected diagnostic");
        built_free(&b);
    }
    otc_buf_free(&deep);

    /* "billion laughs": 9 levels of 10 aliases each expand to 10^9 nodes */
    otc_buf_init(&bomb);
    otc_buf_adds(&bomb, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++) {
        otc_buf_addf(&bomb, "a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++) {
            otc_buf_addf(&bomb, "%s*a%d", k ? ", " : "", i - 1);
        }
        otc_buf_adds(&bomb, "]\n");
    }
    {
        struct built b;
        build(&b, bomb.data);
        REQUIRE(&b, b.rc == OTC_EINVAL && b.d.n == 1 && strstr(b.d.msgs[0], "aliases expand to more than"),
                "alias bomb: unexpected result");
        built_free(&b);
    }
    otc_buf_free(&bomb);

    /* an alias that contains itself */
    {
        struct built b;
        build(&b, "receivers: &r {otlp: *r}\n");
        REQUIRE(&b, b.rc == OTC_EINVAL && b.d.n >= 1, "a self-referencing alias was accepted");
        built_free(&b);
    }
}

/* Several sources merge in order; every node keeps the source it came from,
 * so a message names that source's line and column. */
/* A string map in otelcol's list form (`- name: ... value: ...`) reads as the
 * mapping form does; a malformed entry or a name given twice is an error. */
struct map_list_ctx {
    struct otc_strmap headers;
};

static const struct otc_config_entry map_list_table[] = {
    {OTC_CFG_STRMAP, "headers", NULL, offsetof(struct map_list_ctx, headers), 0, 0, 0, NULL,
     "headers"},
    OTC_CFG_END,
};

static int apply_map_list_text(const char *text, struct map_list_ctx *c, struct otc_diag *d)
{
    struct otc_yaml y;
    int rc;

    memset(&y, 0, sizeof(y));
    memset(c, 0, sizeof(*c));
    rc = otc_yaml_load_string(&y, FILE_NAME, text, strlen(text), d);
    if (rc == OTC_OK) {
        rc = otc_config_apply(&y, otc_yaml_root(&y), "exporter \"x\"", map_list_table, c, NULL,
                              NULL, d);
    }
    otc_yaml_free(&y);
    return rc;
}

static void test_strmap_list_form(void **state)
{
    struct map_list_ctx c;
    struct otc_diag d = {0};

    (void)state;
    assert_int_equal(apply_map_list_text("headers:\n"
                                         "  - name: X-Tenant\n"
                                         "    value: acme\n"
                                         "  - name: Authorization\n"
                                         "    value: Bearer t\n", &c, &d), OTC_OK);
    assert_int_equal(c.headers.n, 2);
    assert_string_equal(c.headers.keys[0], "X-Tenant");
    assert_string_equal(c.headers.vals[0], "acme");
    assert_string_equal(c.headers.keys[1], "Authorization");
    assert_string_equal(c.headers.vals[1], "Bearer t");
    otc_config_map_free(map_list_table, &c);

    assert_int_equal(apply_map_list_text("headers:\n"
                                         "  - name: X-A\n"
                                         "    value: 1\n"
                                         "  - name: X-A\n"
                                         "    value: 2\n", &c, &d), OTC_EINVAL);
    otc_config_map_free(map_list_table, &c);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.msgs[0], FILE_NAME ":4:5: exporter \"x\": key \"headers\": \"X-A\" is "
                        "given twice");
    otc_diag_free(&d);

    assert_int_equal(apply_map_list_text("headers:\n"
                                         "  - name: X-A\n", &c, &d), OTC_EINVAL);
    otc_config_map_free(map_list_table, &c);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.msgs[0], FILE_NAME ":2:5: exporter \"x\": key \"headers\": every list "
                        "entry must be {name: ..., value: ...}");
    otc_diag_free(&d);
}

static void test_sources_merge(void **state)
{
    const char *uris[] = {"yaml:a:\n  b: 1\n  c: [x, y]\nd: keep\n",
                          "yaml:a:\n  c: [z]\n  e::f: 2\n"};
    const char *sets[] = {"a.b=3", "g::h.i=4"};
    struct otc_yaml y;
    struct otc_diag d = {0};
    yaml_node_t *root, *a, *c, *f, *b;

    assert_int_equal(otc_yaml_load_sources(&y, uris, 2, sets, 2, &d), OTC_OK);
    root = otc_yaml_root(&y);
    a = otc_yaml_get(&y, root, "a");
    b = otc_yaml_get(&y, a, "b");
    assert_string_equal(otc_yaml_str(b), "3");
    c = otc_yaml_get(&y, a, "c");
    assert_int_equal(c->data.sequence.items.top - c->data.sequence.items.start, 1); /* replaced */
    f = otc_yaml_get(&y, otc_yaml_get(&y, a, "e"), "f");
    assert_string_equal(otc_yaml_str(f), "2");
    assert_string_equal(otc_yaml_str(otc_yaml_get(&y, root, "d")), "keep");
    assert_string_equal(otc_yaml_str(otc_yaml_get(&y, otc_yaml_get(&y, otc_yaml_get(&y, root, "g"), "h"), "i")), "4");
    /* f came from the second source, line 3; b from the first --set */
    otc_diag_add(&d, y.path, &f->start_mark, "here");
    otc_diag_add(&d, y.path, &b->start_mark, "there");
    otc_diag_add(&d, y.path, NULL, "all");
    assert_int_equal(d.n, 3);
    assert_string_equal(d.msgs[0], "yaml:a:\n  c: [z]\n  e::f: 2\n:3:9: here");
    assert_non_null(strstr(d.msgs[1], "--set a.b=3:1:"));
    assert_non_null(strstr(d.msgs[2], ", --set a.b=3, --set g::h.i=4: all"));
    otc_diag_free(&d);
    otc_yaml_free(&y);

    /* every source is read: both problems are reported */
    {
        const char *bad[] = {"/nonexistent/x.yaml", "yaml:[", "ftp:x"};
        assert_int_not_equal(otc_yaml_load_sources(&y, bad, 3, NULL, 0, &d), OTC_OK);
        assert_int_equal(d.n, 3);
        assert_non_null(strstr(d.msgs[0], "/nonexistent/x.yaml: cannot read config"));
        otc_diag_free(&d);
        otc_yaml_free(&y);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_graph),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_two_receivers),
        cmocka_unit_test(test_type_aliases),
        cmocka_unit_test(test_env_substitution),
        cmocka_unit_test(test_env_substitution_errors),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_unknown_component_type),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_bad_enum),
        cmocka_unit_test(test_validate_error),
        cmocka_unit_test(test_processor_errors),
        cmocka_unit_test(test_undefined_exporter),
        cmocka_unit_test(test_pipeline_without_receivers),
        cmocka_unit_test(test_bad_pipeline_id),
        cmocka_unit_test(test_unknown_top_level_key),
        cmocka_unit_test(test_invalid_yaml),
        cmocka_unit_test(test_receiver_http_options),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_missing_service),
        cmocka_unit_test(test_listed_twice),
        cmocka_unit_test(test_section_not_a_mapping),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_many_errors_all_reported),
        cmocka_unit_test(test_service_errors_all_reported),
        cmocka_unit_test(test_log_options_parsed_not_applied),
        cmocka_unit_test(test_hostile_yaml),
        cmocka_unit_test(test_storage_extension),
        cmocka_unit_test(test_strmap_list_form),
        cmocka_unit_test(test_sources_merge),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
