/* test_otlphttp_exporter.c - unit tests for the otlphttp exporter's configuration:
 * defaults, per-signal URL derivation, validation of bad values, the tls block
 * (versions, cipher and curve names, otelcol's consistency checks, unreadable
 * or malformed certificate files named in the error), compression levels and
 * codecs, and start() refusing a signal it has no URL for. Single-threaded. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "exporter/otlphttp/otlphttp_exporter.h"
#include "exporter/otlphttp/otlphttp_tls.h"

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
    assert_int_equal(set(ctx, "compression", "snappy"), OTC_OK);
    assert_int_equal(*(const int *)field(ctx, "compression"), 2);
    assert_int_equal(set(ctx, "compression", "zlib"), OTC_OK);
    assert_int_equal(set(ctx, "compression", "deflate"), OTC_OK);
    assert_int_equal(set(ctx, "compression", "x-snappy-framed"), OTC_OK);
    assert_int_equal(*(const int *)field(ctx, "compression"), 5);
    assert_int_equal(set(ctx, "compression", "lz4"), OTC_OK);
    assert_int_equal(*(const int *)field(ctx, "compression"), 6);
    assert_int_equal(set(ctx, "compression", "none"), OTC_OK);
    assert_int_equal(*(const int *)field(ctx, "compression"), 7);
    assert_int_equal(set(ctx, "compression", ""), OTC_OK); /* otelcol's other "none" */
    assert_int_equal(*(const int *)field(ctx, "compression"), 8);
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

/* https is accepted; port 443 by default. */
static void test_https_endpoint(void **state)
{
    void *ctx = ctx_new();
    char err[256];

    (void)state;
    assert_int_equal(set(ctx, "endpoint", "https://collector.example.com"), OTC_OK);
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_OK);
    assert_int_equal(set(ctx, "endpoint", "https://[::1]:4318/base/"), OTC_OK);
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_OK);
    ctx_free(ctx);
}

static void test_tls_versions(void **state)
{
    int v = -1;

    (void)state;
    assert_int_equal(otc_otlphttp_tls_version(NULL, &v), OTC_OK);
    assert_int_equal(v, 0);
    assert_int_equal(otc_otlphttp_tls_version("", &v), OTC_OK);
    assert_int_equal(v, 0);
    assert_int_equal(otc_otlphttp_tls_version("1.0", &v), OTC_OK);
    assert_int_equal(v, TLS1_VERSION);
    assert_int_equal(otc_otlphttp_tls_version("1.2", &v), OTC_OK);
    assert_int_equal(v, TLS1_2_VERSION);
    assert_int_equal(otc_otlphttp_tls_version("1.3", &v), OTC_OK);
    assert_int_equal(v, TLS1_3_VERSION);
    assert_int_equal(otc_otlphttp_tls_version("1.4", &v), OTC_EINVAL);
    assert_int_equal(otc_otlphttp_tls_version("TLS1.2", &v), OTC_EINVAL);
}

/* A validated context with endpoint https and one option set; the reason in err. */
static int tls_validate(const char *key, const char *value, char *err, size_t n)
{
    void *ctx = ctx_new();
    int rc;

    assert_int_equal(set(ctx, "endpoint", "https://127.0.0.1:4318"), OTC_OK);
    if (key) {
        assert_int_equal(set(ctx, key, value), OTC_OK);
    }
    rc = validate(ctx, err, n);
    ctx_free(ctx);
    return rc;
}

static void set_list(struct otc_strlist *l, const char *a, const char *b)
{
    l->v = calloc(2, sizeof(char *));
    assert_non_null(l->v);
    l->v[0] = strdup(a);
    l->v[1] = b ? strdup(b) : NULL;
    l->n = b ? 2 : 1;
}

static void test_tls_checks(void **state)
{
    struct otlphttp_tls t;
    char err[256], list[256];

    (void)state;
    assert_int_equal(tls_validate(NULL, NULL, err, sizeof(err)), OTC_OK);
    assert_int_equal(tls_validate("tls.min_version", "1.4", err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "tls.min_version"));
    assert_int_equal(tls_validate("tls.max_version", "2", err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "tls.max_version"));
    /* max below the default minimum (1.2) */
    assert_int_equal(tls_validate("tls.max_version", "1.1", err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "min_version"));
    assert_int_equal(tls_validate("tls.cert_file", "/x.crt", err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "key_file"));
    assert_int_equal(tls_validate("tls.key_pem", "k", err, sizeof(err)), OTC_EINVAL);
    assert_int_equal(tls_validate("tls.reload_interval", "10s", err, sizeof(err)), OTC_OK);

    memset(&t, 0, sizeof(t));
    t.ca_file = "/a.crt";
    t.ca_pem = "pem";
    assert_int_equal(otc_otlphttp_tls_check(&t, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "ca_file or ca_pem"));
    t.ca_pem = NULL;
    t.cert_file = "/c.crt";
    t.cert_pem = "pem";
    t.key_file = "/c.key";
    assert_int_equal(otc_otlphttp_tls_check(&t, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "cert_file or cert_pem"));
    t.cert_pem = NULL;
    t.min_version = "1.3";
    t.max_version = "1.2";
    assert_int_equal(otc_otlphttp_tls_check(&t, err, sizeof(err)), OTC_EINVAL);
    t.max_version = "1.3";
    assert_int_equal(otc_otlphttp_tls_check(&t, err, sizeof(err)), OTC_OK);

    /* insecure without a CA: otelcol's "defaults only" */
    memset(&t, 0, sizeof(t));
    t.insecure = true;
    assert_true(otc_otlphttp_tls_defaults_only(&t));
    t.ca_file = "/a.crt";
    assert_false(otc_otlphttp_tls_defaults_only(&t));

    /* cipher suites by IANA name; TLS 1.3 names are skipped, as Go does */
    memset(&t, 0, sizeof(t));
    set_list(&t.cipher_suites, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256");
    assert_int_equal(otc_otlphttp_tls_ciphers(&t.cipher_suites, list, sizeof(list), err,
                                              sizeof(err)), OTC_OK);
    assert_string_equal(list, "ECDHE-RSA-AES128-GCM-SHA256");
    free(t.cipher_suites.v[1]);
    t.cipher_suites.v[1] = strdup("TLS_NOT_A_SUITE");
    assert_int_equal(otc_otlphttp_tls_ciphers(&t.cipher_suites, list, sizeof(list), err,
                                              sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "TLS_NOT_A_SUITE"));
    assert_int_equal(otc_otlphttp_tls_check(&t, err, sizeof(err)), OTC_EINVAL);
    for (size_t i = 0; i < t.cipher_suites.n; i++) {
        free(t.cipher_suites.v[i]);
    }
    free(t.cipher_suites.v);

    /* curves by Go's names */
    set_list(&t.curve_preferences, "P256", "X25519MLKEM768");
    assert_int_equal(otc_otlphttp_tls_groups(&t.curve_preferences, list, sizeof(list), err,
                                             sizeof(err)), OTC_OK);
    assert_string_equal(list, "P-256");
    free(t.curve_preferences.v[1]);
    t.curve_preferences.v[1] = strdup("secp256r1");
    assert_int_equal(otc_otlphttp_tls_groups(&t.curve_preferences, list, sizeof(list), err,
                                             sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "secp256r1"));
    for (size_t i = 0; i < t.curve_preferences.n; i++) {
        free(t.curve_preferences.v[i]);
    }
    free(t.curve_preferences.v);
}

/* Certificate files that cannot be used: the error names the option and the path. */
static void test_tls_bad_files(void **state)
{
    char dir[] = "/tmp/otlphttp_tls_XXXXXX", junk[64], err[512];
    struct otlphttp_tls t;
    SSL_CTX *ctx;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
    f = fopen(junk, "w");
    assert_non_null(f);
    fputs("this is not a certificate\n", f);
    fclose(f);

    memset(&t, 0, sizeof(t));
    ctx = otc_otlphttp_tls_ctx(&t, err, sizeof(err)); /* system roots only */
    assert_non_null(ctx);
    SSL_CTX_free(ctx);

    t.ca_file = "/nonexistent/otelc-ca.crt";
    assert_null(otc_otlphttp_tls_ctx(&t, err, sizeof(err)));
    assert_non_null(strstr(err, "tls.ca_file /nonexistent/otelc-ca.crt"));
    assert_non_null(strstr(err, "No such file"));

    t.ca_file = junk;
    assert_null(otc_otlphttp_tls_ctx(&t, err, sizeof(err)));
    assert_non_null(strstr(err, "tls.ca_file"));
    assert_non_null(strstr(err, junk));

    t.ca_file = NULL;
    t.cert_file = "/nonexistent/client.crt";
    t.key_file = "/nonexistent/client.key";
    assert_null(otc_otlphttp_tls_ctx(&t, err, sizeof(err)));
    assert_non_null(strstr(err, "tls.cert_file /nonexistent/client.crt"));

    t.cert_file = junk;
    assert_null(otc_otlphttp_tls_ctx(&t, err, sizeof(err)));
    assert_non_null(strstr(err, "tls.cert_file"));
    assert_non_null(strstr(err, junk));

    t.cert_file = NULL;
    t.key_file = NULL;
    t.ca_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    assert_null(otc_otlphttp_tls_ctx(&t, err, sizeof(err)));
    assert_non_null(strstr(err, "tls.ca_pem"));

    /* start() fails on an https endpoint with an unreadable ca_file */
    {
        struct otc_instance ins;
        void *x = ctx_new();

        assert_int_equal(set(x, "endpoint", "https://127.0.0.1:9"), OTC_OK);
        assert_int_equal(set(x, "tls.ca_file", "/nonexistent/otelc-ca.crt"), OTC_OK);
        assert_int_equal(validate(x, err, sizeof(err)), OTC_OK); /* files are read at start */
        memset(&ins, 0, sizeof(ins));
        ins.ops = ops;
        ins.id = "otlphttp";
        ins.ctx = x;
        ins.signals = OTC_SIG_TRACES;
        assert_int_equal(ops->start(&ins, x), OTC_EINVAL);
        ops->shutdown(&ins, x);
        ctx_free(x);

        /* the same on http:// is never read: the tls block does not apply */
        x = ctx_new();
        assert_int_equal(set(x, "endpoint", "http://127.0.0.1:9"), OTC_OK);
        assert_int_equal(set(x, "tls.ca_file", "/nonexistent/otelc-ca.crt"), OTC_OK);
        ins.ctx = x;
        assert_int_equal(ops->start(&ins, x), OTC_OK);
        ops->shutdown(&ins, x);
        ctx_free(x);
    }
    unlink(junk);
    rmdir(dir);
}

static void test_compression_levels(void **state)
{
    void *ctx = ctx_new();
    char err[256];

    (void)state;
    assert_int_equal(otc_otlphttp_compression_check(0, 0, err, sizeof(err)), OTC_OK);   /* gzip */
    assert_int_equal(otc_otlphttp_compression_check(0, 9, err, sizeof(err)), OTC_OK);
    assert_int_equal(otc_otlphttp_compression_check(0, -2, err, sizeof(err)), OTC_OK);
    assert_int_equal(otc_otlphttp_compression_check(0, 10, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "gzip"));
    assert_int_equal(otc_otlphttp_compression_check(1, 22, err, sizeof(err)), OTC_OK);  /* zstd */
    assert_int_equal(otc_otlphttp_compression_check(1, -7, err, sizeof(err)), OTC_OK);
    assert_int_equal(otc_otlphttp_compression_check(2, 0, err, sizeof(err)), OTC_OK);   /* snappy */
    assert_int_equal(otc_otlphttp_compression_check(2, 1, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "snappy"));
    assert_int_equal(otc_otlphttp_compression_check(5, 1, err, sizeof(err)), OTC_EINVAL); /* framed */
    assert_int_equal(otc_otlphttp_compression_check(6, 1, err, sizeof(err)), OTC_EINVAL); /* lz4 */
    assert_int_equal(otc_otlphttp_compression_check(7, 3, err, sizeof(err)), OTC_EINVAL); /* none */

    assert_int_equal(set(ctx, "endpoint", "http://127.0.0.1:4318"), OTC_OK);
    assert_int_equal(set(ctx, "compression", "snappy"), OTC_OK);
    assert_int_equal(set(ctx, "compression_params.level", "3"), OTC_OK);
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_EINVAL);
    assert_non_null(strstr(err, "compression_params.level"));
    assert_int_equal(set(ctx, "compression", "zstd"), OTC_OK);
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_OK);
    ctx_free(ctx);
}

/* Every codec's output decodes back to the input. */
static void test_codecs(void **state)
{
    uint8_t in[20000], *out, *back = malloc(sizeof(in));
    size_t outlen, n;

    (void)state;
    assert_non_null(back);
    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (uint8_t)((i * 7) % 251 < 40 ? i : 'a' + i % 5);
    }
    for (int c = 0; c <= 6; c++) { /* gzip, zstd, snappy, zlib, deflate, (framed), lz4 */
        int levels[] = {0, 9, -2};

        for (size_t k = 0; k < 3; k++) {
            if (c == 5 || ((c == 2 || c == 6) && levels[k] != 0) || (c == 1 && levels[k] == -2)) {
                continue;
            }
            assert_int_equal(otc_otlphttp_compress(c, levels[k], in, sizeof(in), &out, &outlen),
                             OTC_OK);
            n = sizeof(in);
            if (c == 0 || c == 3 || c == 4) {
                z_stream z;

                memset(&z, 0, sizeof(z));
                assert_int_equal(inflateInit2(&z, c == 0 ? 15 + 16 : 15), Z_OK);
                z.next_in = out;
                z.avail_in = (uInt)outlen;
                z.next_out = back;
                z.avail_out = (uInt)sizeof(in);
                assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
                n = sizeof(in) - z.avail_out;
                inflateEnd(&z);
            } else if (c == 1) {
                n = ZSTD_decompress(back, sizeof(in), out, outlen);
                assert_false(ZSTD_isError(n));
            } else if (c == 6) {
                LZ4F_dctx *dc = NULL;
                size_t src = outlen;

                assert_false(LZ4F_isError(LZ4F_createDecompressionContext(&dc, LZ4F_VERSION)));
                assert_int_equal(LZ4F_decompress(dc, back, &n, out, &src, NULL), 0);
                assert_int_equal(src, outlen);
                LZ4F_freeDecompressionContext(dc);
            } else {
                assert_int_equal(snappy_uncompress((const char *)out, outlen, (char *)back, &n),
                                 SNAPPY_OK);
            }
            assert_int_equal(n, sizeof(in));
            assert_memory_equal(back, in, sizeof(in));
            free(out);
        }
    }
    /* an empty body too */
    assert_int_equal(otc_otlphttp_compress(2, 0, in, 0, &out, &outlen), OTC_OK);
    free(out);
    assert_int_equal(otc_otlphttp_compress(7, 0, in, 1, &out, &outlen), OTC_EINVAL); /* none */
    free(back);
}

static uint32_t crc32c_ref(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;

    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) {
            crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
        }
    }
    return ~crc;
}

/* x-snappy-framed: the stream identifier, then chunks of at most 64 KiB of
 * input, each with the masked CRC-32C of its bytes; compressed chunks where
 * that helps, stored ones where not. */
static void test_snappy_framed(void **state)
{
    size_t len = 200000, got = 0, outlen;
    uint8_t *in = malloc(len), *out, *back = malloc(len);
    int compressed = 0, stored = 0;

    (void)state;
    assert_non_null(in);
    assert_non_null(back);
    assert_int_equal(crc32c_ref((const uint8_t *)"123456789", 9), 0xe3069283u); /* check value */
    srand(7);
    for (size_t i = 0; i < len; i++) {
        /* compressible first half, random second half */
        in[i] = i < len / 2 ? (uint8_t)('a' + i % 3) : (uint8_t)rand();
    }
    assert_int_equal(otc_otlphttp_compress(5, 0, in, len, &out, &outlen), OTC_OK);
    assert_true(outlen > 10);
    assert_memory_equal(out, "\xff\x06\x00\x00sNaPpY", 10);
    for (size_t at = 10; at < outlen;) {
        uint8_t type = out[at];
        size_t clen = out[at + 1] | (size_t)out[at + 2] << 8 | (size_t)out[at + 3] << 16;
        uint32_t crc = out[at + 4] | (uint32_t)out[at + 5] << 8 | (uint32_t)out[at + 6] << 16 |
                       (uint32_t)out[at + 7] << 24;
        const uint8_t *data = out + at + 8;
        size_t n = len - got, dlen = clen - 4, want;

        assert_true(at + 4 + clen <= outlen);
        if (type == 0x00) {
            assert_int_equal(snappy_uncompress((const char *)data, dlen, (char *)back + got, &n),
                             SNAPPY_OK);
            compressed++;
        } else {
            assert_int_equal(type, 0x01);
            memcpy(back + got, data, dlen);
            n = dlen;
            stored++;
        }
        assert_true(n <= 65536);
        want = crc32c_ref(back + got, n);
        assert_int_equal(crc, (uint32_t)(((want >> 15) | (want << 17)) + 0xa282ead8u));
        got += n;
        at += 4 + clen;
    }
    assert_int_equal(got, len);
    assert_memory_equal(back, in, len);
    assert_true(compressed > 0 && stored > 0);
    free(out);
    /* empty input: the stream identifier alone */
    assert_int_equal(otc_otlphttp_compress(5, 0, in, 0, &out, &outlen), OTC_OK);
    assert_int_equal(outlen, 10);
    free(out);
    free(in);
    free(back);
}

/* Options otelcol accepts and otelc documents as without effect are accepted. */
static void test_accepted_options(void **state)
{
    static const char *const keys[][2] = {
        {"proxy_url", "http://proxy:3128"}, {"read_buffer_size", "123"},
        {"write_buffer_size", "345"},       {"max_idle_conns", "10"},
        {"max_idle_conns_per_host", "2"},   {"max_conns_per_host", "4"},
        {"idle_conn_timeout", "30s"},       {"disable_keep_alives", "true"},
        {"keepalive.enabled", "false"},     {"keepalive.idle_conn_timeout", "1m"},
        {"keepalive.max_idle_conns", "5"},  {"keepalive.max_idle_conns_per_host", "1"},
        {"http2_read_idle_timeout", "10s"}, {"http2_ping_timeout", "5s"},
        {"force_attempt_http2", "false"},   {"cookies.enabled", "true"},
        {"profiles_endpoint", "http://x/p"}, {"tls.insecure", "true"},
        {"tls.include_system_ca_certs_pool", "true"}, {"tls.tpm.enabled", "false"},
        {"tls.tpm.path", "/dev/tpmrm0"},    {"auth.authenticator", "bearertokenauth"},
    };
    void *ctx = ctx_new();
    char err[256];

    (void)state;
    assert_int_equal(set(ctx, "endpoint", "http://127.0.0.1:4318"), OTC_OK);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (set(ctx, keys[i][0], keys[i][1]) != OTC_OK) {
            fail_msg("%s: %s refused", keys[i][0], keys[i][1]);
        }
    }
    assert_int_equal(validate(ctx, err, sizeof(err)), OTC_OK);
    assert_non_null(otc_config_map_find(ops->config_map, "middlewares"));
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
        cmocka_unit_test(test_https_endpoint),
        cmocka_unit_test(test_tls_versions),
        cmocka_unit_test(test_tls_checks),
        cmocka_unit_test(test_tls_bad_files),
        cmocka_unit_test(test_compression_levels),
        cmocka_unit_test(test_codecs),
        cmocka_unit_test(test_snappy_framed),
        cmocka_unit_test(test_accepted_options),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
