/* test_otlp_tls_config.c - unit tests for the config validation of the otlp
 * receiver's TLS and auth options (protocols.grpc / protocols.http). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/engine.h"
#include "otc/otc_rc.h"

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

static void test_receiver_tls_config(void **state)
{
    (void)state;
    expect_ok(RX "      grpc:\n        tls:\n          cert_file: a.crt\n          key_file: a.key\n"
                 "          client_ca_file: ca.crt\n"
                 "      http:\n        tls:\n          cert_file: a.crt\n          key_file: a.key\n"
                 "          min_version: \"1.3\"\n"
                 "        auth:\n          authenticator: bearertokenauth\n" TAIL);
    expect_error(RX "      grpc:\n        tls:\n          cert_file: a.crt\n" TAIL,
                 "protocols.grpc.tls.cert_file and key_file go together");
    expect_error(RX "      http:\n        tls:\n          key_file: a.key\n" TAIL,
                 "protocols.http.tls.cert_file and key_file go together");
    expect_error(RX "      http:\n        tls:\n          client_ca_file: ca.crt\n" TAIL,
                 "protocols.http.tls.client_ca_file needs cert_file and key_file");
    expect_error(RX "      grpc:\n        tls:\n          cert_file: a.crt\n          key_file: a.key\n"
                    "          min_version: \"1.3\"\n" TAIL,
                 "cannot be enforced by gRPC core");
    expect_error(RX "      grpc:\n        tls:\n          min_version: \"1.4\"\n" TAIL,
                 "min_version");
    expect_error(RX "      grpc:\n        tls:\n          certfile: a.crt\n" TAIL, "certfile");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receiver_tls_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
