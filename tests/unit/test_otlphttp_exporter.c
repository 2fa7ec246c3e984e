/* test_otlphttp_exporter.c - unit tests for the otlphttp exporter's configuration:
 * defaults, per-signal URL derivation, validation of bad values, and start()
 * refusing a signal it has no URL for. Single-threaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/otlphttp/otlphttp_exporter.h"

static const struct otc_component_ops *ops = &otc_exporter_otlphttp_ops;

/* A context with the defaults applied, as the engine builds it. */
static void *ctx_new(void)
{
    void *ctx = calloc(1, ops->ctx_size);

    assert_non_null(ctx);
    assert_int_equal(otc_config_map_defaults(ops->config_map, ctx), OTC_OK);
    return ctx;
}

static void ctx_free(void *ctx)
{
    ops->destroy(ctx);
    otc_config_map_free(ops->config_map, ctx);
    free(ctx);
}

static int set(void *ctx, const char *key, const char *value)
{
    const struct otc_config_entry *e = otc_config_map_find(ops->config_map, key);
    char err[256];

    assert_non_null(e);
    return otc_config_map_set(e, ctx, value, err, sizeof(err));
}

static const void *field(void *ctx, const char *key)
{
    const struct otc_config_entry *e = otc_config_map_find(ops->config_map, key);

    assert_non_null(e);
    return (const char *)ctx + e->offset;
}

static int validate(void *ctx, char *err, size_t n)
{
    err[0] = '\0';
    return ops->validate(ctx, err, n);
}

static void test_registration(void **state)
{
    (void)state;
    assert_string_equal(ops->type, "otlphttp");
    assert_int_equal(ops->kind, OTC_EXPORTER);
    assert_int_equal(ops->signals, OTC_SIG_ALL);
    assert_false(ops->mutates);
    assert_true(ops->concurrent);
    for (const struct otc_config_entry *e = ops->config_map; e->key; e++) {
        assert_non_null(e->desc);
    }
}

static void test_defaults(void **state)
{
    void *ctx = ctx_new();
    char err[256];

    (void)state;
    /* compression gzip and encoding proto are the first choices (index 0) */
    assert_int_equal(*(const int *)field(ctx, "compression"), 0);
    assert_int_equal(*(const int *)field(ctx, "encoding"), 0);
    assert_null(*(char *const *)field(ctx, "endpoint"));
    assert_null(*(char *const *)field(ctx, "traces_endpoint"));
    assert_null(*(char *const *)field(ctx, "metrics_endpoint"));
    assert_null(*(char *const *)field(ctx, "logs_endpoint"));
    /* no endpoint at all: required */
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "endpoint"));
    ctx_free(ctx);
}

static void test_choices(void **state)
{
    void *ctx = ctx_new();

    (void)state;
    assert_int_equal(set(ctx, "compression", "zstd"), OTC_OK);
    assert_int_equal(*(const int *)field(ctx, "compression"), 1);
    assert_int_equal(set(ctx, "compression", "none"), OTC_OK);
    assert_int_equal(*(const int *)field(ctx, "compression"), 2);
    assert_int_equal(set(ctx, "compression", "brotli"), OTC_EINVAL);
    assert_int_equal(set(ctx, "encoding", "json"), OTC_OK);
    assert_int_equal(*(const int *)field(ctx, "encoding"), 1);
    assert_int_equal(set(ctx, "encoding", "xml"), OTC_EINVAL);
    assert_null(otc_config_map_find(ops->config_map, "no_such_key"));
    ctx_free(ctx);
}

static void expect_url(const char *endpoint, const char *signal_endpoint, enum otc_signal s,
                       const char *want)
{
    char out[256];

    assert_int_equal(otc_otlphttp_signal_url(endpoint, signal_endpoint, s, out, sizeof(out)),
                     OTC_OK);
    assert_string_equal(out, want);
}

static void test_signal_urls(void **state)
{
    char out[32];

    (void)state;
    expect_url("http://collector:4318", NULL, OTC_TRACES, "http://collector:4318/v1/traces");
    expect_url("http://collector:4318", NULL, OTC_METRICS, "http://collector:4318/v1/metrics");
    expect_url("http://collector:4318", NULL, OTC_LOGS, "http://collector:4318/v1/logs");
    /* a trailing slash is not doubled; a base path is kept */
    expect_url("http://collector:4318/", NULL, OTC_LOGS, "http://collector:4318/v1/logs");
    expect_url("http://gw/otlp", NULL, OTC_TRACES, "http://gw/otlp/v1/traces");
    expect_url("http://gw/otlp/", NULL, OTC_METRICS, "http://gw/otlp/v1/metrics");
    /* a per-signal URL is used as is, endpoint or not */
    expect_url("http://collector:4318", "http://other:9000/custom", OTC_TRACES,
               "http://other:9000/custom");
    expect_url(NULL, "http://other:9000/logs/", OTC_LOGS, "http://other:9000/logs/");
    expect_url("http://collector:4318", "", OTC_METRICS, "http://collector:4318/v1/metrics");
    /* neither: no URL; too long for the buffer: refused, not truncated */
    assert_int_equal(otc_otlphttp_signal_url(NULL, NULL, OTC_TRACES, out, sizeof(out)), OTC_EINVAL);
    assert_int_equal(otc_otlphttp_signal_url("", "", OTC_TRACES, out, sizeof(out)), OTC_EINVAL);
    assert_int_equal(otc_otlphttp_signal_url("http://a-rather-long-host-name:4318", NULL,
                                             OTC_METRICS, out, sizeof(out)), OTC_ELIMIT);
}

static void expect_invalid(const char *key, const char *value, const char *why)
{
    void *ctx = ctx_new();
    char err[256];

    assert_int_equal(set(ctx, "endpoint", "http://127.0.0.1:4318"), OTC_OK);
    assert_int_equal(set(ctx, key, value), OTC_OK);
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_EINVAL);
    if (!strstr(err, why)) {
        fail_msg("%s=%s: reason \"%s\" lacks \"%s\"", key, value, err, why);
    }
    ctx_free(ctx);
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_invalid("endpoint", "127.0.0.1:4318", "http://");
    expect_invalid("endpoint", "ftp://host/", "http://");
    expect_invalid("endpoint", "http://", "host");
    expect_invalid("endpoint", "https://host:4318", "https");
    expect_invalid("endpoint", "http://user:pw@host:4318", "user info");
    expect_invalid("traces_endpoint", "not a url", "URL");
    expect_invalid("logs_endpoint", "grpc://host:4317", "http://");
}

static void test_headers(void **state)
{
    void *ctx = ctx_new();
    struct otc_strmap *hm = (struct otc_strmap *)field(ctx, "headers");
    char err[256];

    (void)state;
    assert_int_equal(set(ctx, "endpoint", "http://127.0.0.1:4318"), OTC_OK);
    hm->keys = calloc(1, sizeof(char *));
    hm->vals = calloc(1, sizeof(char *));
    assert_non_null(hm->keys);
    assert_non_null(hm->vals);
    hm->n = 1;
    hm->keys[0] = strdup("X-Tenant");
    hm->vals[0] = strdup("acme");
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_OK);
    free(hm->vals[0]);
    hm->vals[0] = strdup("a\r\nInjected: 1");
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "line break"));
    free(hm->vals[0]);
    hm->vals[0] = strdup("acme");
    free(hm->keys[0]);
    hm->keys[0] = strdup("Bad Name:");
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "header name"));
    ctx_free(ctx);
}

/* Only per-signal URLs: valid, and start() needs one for every exported signal. */
static void test_signal_endpoints_only(void **state)
{
    struct otc_instance ins;
    void *ctx = ctx_new();
    char err[256];

    (void)state;
    assert_int_equal(set(ctx, "traces_endpoint", "http://127.0.0.1:9/t"), OTC_OK);
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_OK);
    memset(&ins, 0, sizeof(ins));
    ins.ops = ops;
    ins.id = "otlphttp";
    ins.ctx = ctx;
    ins.signals = OTC_SIG_TRACES;
    assert_int_equal(ops->start(&ins, ctx), OTC_OK);
    ops->shutdown(&ins, ctx);
    ctx_free(ctx);

    ctx = ctx_new();
    assert_int_equal(set(ctx, "traces_endpoint", "http://127.0.0.1:9/t"), OTC_OK);
    ins.ctx = ctx;
    ins.signals = OTC_SIG_TRACES | OTC_SIG_LOGS; /* logs have no URL */
    assert_int_equal(ops->start(&ins, ctx), OTC_EINVAL);
    ops->shutdown(&ins, ctx);
    ctx_free(ctx);
}

/* destroy and shutdown cope with a context that never started. */
static void test_destroy_unstarted(void **state)
{
    void *ctx = ctx_new();

    (void)state;
    ops->shutdown(NULL, ctx);
    ops->shutdown(NULL, ctx);
    ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registration),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_choices),
        cmocka_unit_test(test_signal_urls),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_signal_endpoints_only),
        cmocka_unit_test(test_destroy_unstarted),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
