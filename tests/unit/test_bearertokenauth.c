/* test_bearertokenauth.c - unit tests for the bearertokenauth extension (token
 * checks, scheme and header, the token file and its re-read), its config
 * validation and the otlp exporter's TLS and auth options. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/engine.h"
#include "extension/bearertokenauth/bearertokenauth.h"
#include "otc/otc_auth.h"
#include "otc/otc_rc.h"

/* ------------------------------------------------------------ helpers */

struct ext {
    struct otc_instance ins;
    char                err[256];
};

/* Configure a bearertokenauth instance from key/value pairs (NULL-terminated)
 * the way the engine does: defaults, values, validate; then start it. */
static int ext_make(struct ext *x, const char *const *kv)
{
    const struct otc_component_ops *ops = &otc_extension_bearertokenauth_ops;
    int rc;

    memset(x, 0, sizeof(*x));
    x->ins.ops = ops;
    x->ins.id = (char *)"bearertokenauth";
    x->ins.ctx = calloc(1, ops->ctx_size);
    assert_non_null(x->ins.ctx);
    assert_int_equal(otc_config_map_defaults(ops->config_map, x->ins.ctx), OTC_OK);
    for (size_t i = 0; kv && kv[i]; i += 2) {
        const struct otc_config_entry *e = otc_config_map_find(ops->config_map, kv[i]);

        assert_non_null(e);
        assert_int_equal(otc_config_map_set(e, x->ins.ctx, kv[i + 1], x->err, sizeof(x->err)), OTC_OK);
    }
    if ((rc = ops->validate(x->ins.ctx, x->err, sizeof(x->err))) != OTC_OK) {
        return rc;
    }
    rc = ops->start(&x->ins, x->ins.ctx);
    x->ins.started = rc == OTC_OK;
    return rc;
}

static void ext_free(struct ext *x)
{
    x->ins.ops->destroy(x->ins.ctx);
    otc_config_map_free(x->ins.ops->config_map, x->ins.ctx);
    free(x->ins.ctx);
}

static int check(struct ext *x, const char *v)
{
    return otc_auth_server(&x->ins)->server_check(&x->ins, v, v ? strlen(v) : 0);
}

static void write_file(const char *path, const char *text)
{
    char tmp[512];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
}

/* ------------------------------------------------------------ extension */

static void test_token_check(void **state)
{
    static const char *const kv[] = {"token", "abc123", NULL};
    struct ext x;
    char v[64];

    (void)state;
    assert_int_equal(ext_make(&x, kv), OTC_OK);
    assert_non_null(otc_auth_server(&x.ins));
    assert_non_null(otc_auth_client(&x.ins));
    assert_string_equal(otc_auth_client(&x.ins)->client_header(&x.ins), "Authorization");
    assert_string_equal(otc_auth_server(&x.ins)->server_header(&x.ins), "Authorization");
    assert_int_equal(check(&x, "Bearer abc123"), OTC_OK);
    assert_int_equal(check(&x, NULL), OTC_EPERM);
    assert_int_equal(check(&x, ""), OTC_EPERM);
    assert_int_equal(check(&x, "abc123"), OTC_EPERM);
    assert_int_equal(check(&x, "Bearer abc12"), OTC_EPERM);
    assert_int_equal(check(&x, "Bearer abc1234"), OTC_EPERM);
    assert_int_equal(check(&x, "Bearer abc124"), OTC_EPERM);
    assert_int_equal(check(&x, "bearer abc123"), OTC_EPERM);
    /* a value given with its length: bytes past it do not count */
    assert_int_equal(otc_auth_server(&x.ins)->server_check(&x.ins, "Bearer abc123xyz", 13), OTC_OK);
    assert_int_equal(otc_auth_client(&x.ins)->client_value(&x.ins, v, sizeof(v)), OTC_OK);
    assert_string_equal(v, "Bearer abc123");
    assert_int_equal(otc_auth_client(&x.ins)->client_value(&x.ins, v, 5), OTC_EINVAL);
    ext_free(&x);
}

/* Receivers and exporters find the authenticator through otc_auth.h only; an
 * extension without one (health_check) is refused there. */
static void test_auth_interface(void **state)
{
    struct otc_instance other = {0};

    (void)state;
    assert_null(otc_auth_server(NULL));
    assert_null(otc_auth_client(NULL));
    for (size_t i = 0; i < otc_components_len; i++) {
        if (otc_components[i]->kind == OTC_EXTENSION && !strcmp(otc_components[i]->type, "health_check")) {
            other.ops = otc_components[i];
        }
    }
    assert_non_null(other.ops);
    assert_null(otc_auth_server(&other));
    assert_null(otc_auth_client(&other));
}

static void test_scheme_and_header(void **state)
{
    static const char *const custom[] = {"token", "t", "scheme", "Token", "header", "X-Api-Key", NULL};
    static const char *const bare[] = {"token", "t0k", "scheme", "", NULL};
    struct ext x;

    (void)state;
    assert_int_equal(ext_make(&x, custom), OTC_OK);
    assert_string_equal(otc_auth_server(&x.ins)->server_header(&x.ins), "X-Api-Key");
    assert_int_equal(check(&x, "Token t"), OTC_OK);
    assert_int_equal(check(&x, "Bearer t"), OTC_EPERM);
    ext_free(&x);
    assert_int_equal(ext_make(&x, bare), OTC_OK);
    assert_int_equal(check(&x, "t0k"), OTC_OK);
    assert_int_equal(check(&x, " t0k"), OTC_EPERM);
    ext_free(&x);
}

static void test_validation(void **state)
{
    static const char *const none[] = {"scheme", "Bearer", NULL};
    static const char *const bad_header[] = {"token", "x", "header", "Bad Header", NULL};
    static const char *const bad_scheme[] = {"token", "x", "scheme", "Two words", NULL};
    static const char *const newline[] = {"token", "a\nb", NULL};
    static const char *const missing[] = {"filename", "/nonexistent/otelc-token", NULL};
    struct ext x;

    (void)state;
    assert_int_equal(ext_make(&x, none), OTC_EINVAL);
    assert_non_null(strstr(x.err, "one of \"token\", \"tokens\" or \"filename\" is required"));
    ext_free(&x);
    assert_int_equal(ext_make(&x, bad_header), OTC_EINVAL);
    assert_non_null(strstr(x.err, "header"));
    ext_free(&x);
    assert_int_equal(ext_make(&x, bad_scheme), OTC_EINVAL);
    ext_free(&x);
    assert_int_equal(ext_make(&x, newline), OTC_EINVAL);
    ext_free(&x);
    assert_int_not_equal(ext_make(&x, missing), OTC_OK); /* start fails: no file */
    ext_free(&x);
}

static void test_token_file_reread(void **state)
{
    char dir[] = "/tmp/otc-bta-XXXXXX";
    char path[512];
    const char *kv[] = {"filename", path, "token", "ignored", NULL};
    struct ext x;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/token", dir);
    write_file(path, "  first\n");
    assert_int_equal(ext_make(&x, kv), OTC_OK);
    assert_int_equal(check(&x, "Bearer first"), OTC_OK); /* whitespace trimmed */
    assert_int_equal(check(&x, "Bearer ignored"), OTC_EPERM); /* filename wins */
    write_file(path, "second");
    /* the file is looked at no more than once a second: within 3 s it must switch */
    for (int i = 0; i < 30 && check(&x, "Bearer second") != OTC_OK; i++) {
        usleep(100000);
    }
    assert_int_equal(check(&x, "Bearer second"), OTC_OK);
    assert_int_equal(check(&x, "Bearer first"), OTC_EPERM);
    /* a file that disappears keeps the last token */
    assert_int_equal(unlink(path), 0);
    usleep(1100000);
    assert_int_equal(check(&x, "Bearer second"), OTC_OK);
    ext_free(&x);
    rmdir(dir);
}

/* ------------------------------------------------------------ config */

/* Build text; expect failure with a diagnostic containing want. */
static void expect_error(const char *text, const char *want)
{
    struct otc_yaml y;
    struct otc_diag d = {0};
    struct otc_engine *e = NULL;
    bool found = false;
    int rc;

    memset(&y, 0, sizeof(y));
    rc = otc_yaml_load_string(&y, "t.yaml", text, strlen(text), &d);
    if (rc == OTC_OK) {
        rc = otc_engine_build(&y, &d, &e);
    }
    for (size_t i = 0; i < d.n; i++) {
        found = found || strstr(d.msgs[i], want) != NULL;
    }
    if (rc == OTC_OK || !found) {
        for (size_t i = 0; i < d.n; i++) {
            print_message("  %s\n", d.msgs[i]);
        }
    }
    otc_engine_destroy(e);
    otc_yaml_free(&y);
    otc_diag_free(&d);
    assert_int_not_equal(rc, OTC_OK);
    assert_true(found);
}

static void expect_ok(const char *text)
{
    struct otc_yaml y;
    struct otc_diag d = {0};
    struct otc_engine *e = NULL;
    int rc;

    memset(&y, 0, sizeof(y));
    rc = otc_yaml_load_string(&y, "t.yaml", text, strlen(text), &d);
    if (rc == OTC_OK) {
        rc = otc_engine_build(&y, &d, &e);
    }
    for (size_t i = 0; i < d.n; i++) {
        print_message("  %s\n", d.msgs[i]);
    }
    otc_engine_destroy(e);
    otc_yaml_free(&y);
    otc_diag_free(&d);
    assert_int_equal(rc, OTC_OK);
}

#define TAIL "exporters:\n  nop:\nservice:\n  pipelines:\n    traces:\n" \
             "      receivers: [otlp]\n      exporters: [nop]\n"
#define RX "receivers:\n  otlp:\n    protocols:\n"

static void test_exporter_and_extension_config(void **state)
{
    (void)state;
    expect_ok(RX "      grpc:\n"
              "extensions:\n  bearertokenauth/x:\n    token: t\n"
              "exporters:\n  otlp:\n    endpoint: h:1\n    tls:\n      insecure_skip_verify: true\n"
              "      server_name_override: sink.example\n"
              "    auth:\n      authenticator: bearertokenauth/x\n"
              "service:\n  extensions: [bearertokenauth/x]\n  pipelines:\n    traces:\n"
              "      receivers: [otlp]\n      exporters: [otlp]\n");
    expect_error(RX "      grpc:\n"
                 "exporters:\n  otlp:\n    endpoint: h:1\n    tls:\n      key_file: k\n"
                 "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n",
                 "tls.cert_file and tls.key_file go together");
    expect_error(RX "      grpc:\n"
                 "extensions:\n  bearertokenauth:\n    scheme: Bearer\n" TAIL,
                 "one of \"token\", \"tokens\" or \"filename\" is required");
    expect_error(RX "      grpc:\n"
                 "extensions:\n  bearertokenauth:\n    token: a\n    tokens: [b]\n" TAIL,
                 "either \"token\" or \"tokens\" can be given, not both");
    expect_ok(RX "      grpc:\n"
              "extensions:\n  bearertokenauth:\n    tokens: [a, b]\n" TAIL);
}

/* tokens: every one is accepted, the first is sent */
static void test_tokens_list(void **state)
{
    static char *toks[] = {"first", "second", "third"};
    struct ext x;
    char v[64];

    (void)state;
    assert_int_equal(ext_make(&x, NULL), OTC_EINVAL); /* nothing given */
    otc_config_map_free(x.ins.ops->config_map, x.ins.ctx);
    free(x.ins.ctx);
    memset(&x, 0, sizeof(x));
    x.ins.ops = &otc_extension_bearertokenauth_ops;
    x.ins.id = (char *)"bearertokenauth";
    x.ins.ctx = calloc(1, x.ins.ops->ctx_size);
    assert_non_null(x.ins.ctx);
    assert_int_equal(otc_config_map_defaults(x.ins.ops->config_map, x.ins.ctx), OTC_OK);
    {
        struct otc_strlist *l = (struct otc_strlist *)((char *)x.ins.ctx +
            otc_config_map_find(x.ins.ops->config_map, "tokens")->offset);
        l->v = calloc(3, sizeof(char *));
        assert_non_null(l->v);
        for (int i = 0; i < 3; i++) {
            l->v[i] = strdup(toks[i]);
        }
        l->n = 3;
    }
    assert_int_equal(x.ins.ops->validate(x.ins.ctx, x.err, sizeof(x.err)), OTC_OK);
    assert_int_equal(x.ins.ops->start(&x.ins, x.ins.ctx), OTC_OK);
    assert_int_equal(check(&x, "Bearer first"), OTC_OK);
    assert_int_equal(check(&x, "Bearer second"), OTC_OK);
    assert_int_equal(check(&x, "Bearer third"), OTC_OK);
    assert_int_equal(check(&x, "Bearer fourth"), OTC_EPERM);
    assert_int_equal(check(&x, "Bearer thir"), OTC_EPERM);
    assert_int_equal(check(&x, NULL), OTC_EPERM);
    assert_int_equal(otc_auth_client(&x.ins)->client_value(&x.ins, v, sizeof(v)), OTC_OK);
    assert_string_equal(v, "Bearer first");
    ext_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_check),
        cmocka_unit_test(test_auth_interface),
        cmocka_unit_test(test_scheme_and_header),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_token_file_reread),
        cmocka_unit_test(test_tokens_list),
        cmocka_unit_test(test_exporter_and_extension_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
