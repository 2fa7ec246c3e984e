/* test_lb_split.c - unit tests for the load_balancing exporter's one-pass
 * split (exporter/load_balancing/lb_split.c): for traces and logs requests of
 * several resources (serialized requests concatenated), every share must be
 * byte for byte what otc_pb_keep_items gives for that share's items, whatever
 * the number of shares and with items sent to none; malformed input fails. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_builder.h"
#include "exporter/load_balancing/lb_internal.h"
#include "otc/otc_pb_check.h"
#include "otc/otc_pb_walk.h"

/* Three requests of different sizes concatenated: one request of 3 resources. */
static uint8_t *three(enum otc_signal s, size_t *len)
{
    size_t l[3], off = 0;
    uint8_t *part[3], *all;

    for (int i = 0; i < 3; i++) {
        part[i] = s == OTC_TRACES ? otc_test_traces_bytes(5 + 7 * (size_t)i, 3, 40u + (unsigned)i, &l[i])
                                  : otc_test_logs_bytes(4 + 9 * (size_t)i, 2, 70u + (unsigned)i, &l[i]);
        assert_non_null(part[i]);
    }
    all = malloc(l[0] + l[1] + l[2]);
    for (int i = 0; i < 3; i++) {
        memcpy(all + off, part[i], l[i]);
        off += l[i];
        free(part[i]);
    }
    *len = off;
    return all;
}

static void check_split(enum otc_signal s, size_t n_shares, unsigned seed)
{
    size_t len, n_items;
    uint8_t *req = three(s, &len);
    uint16_t *own;
    size_t *count = calloc(n_shares, sizeof(size_t)), *lens = calloc(n_shares, sizeof(size_t));
    size_t *sizes = calloc(n_shares, sizeof(size_t));
    uint8_t **outs = calloc(n_shares, sizeof(uint8_t *)), *keep, *want = malloc(len);

    assert_int_equal(otc_pb_scan_request(s, req, len, &n_items), OTC_OK);
    own = malloc(n_items * sizeof(*own));
    keep = malloc(n_items);
    for (size_t i = 0; i < n_items; i++) {
        seed = seed * 1103515245u + 12345u;
        own[i] = (seed >> 16) % 7 == 0 ? 0xffff : (uint16_t)((seed >> 8) % n_shares);
        if (own[i] != 0xffff) {
            count[own[i]]++;
        }
    }
    /* the sizes first, then the shares in buffers of exactly that size */
    assert_int_equal(lb_split(req, len, own, n_items, count, n_shares, NULL, lens), OTC_OK);
    for (size_t k = 0; k < n_shares; k++) {
        sizes[k] = lens[k];
        outs[k] = count[k] ? malloc(lens[k]) : NULL;
    }
    assert_int_equal(lb_split(req, len, own, n_items, count, n_shares, outs, lens), OTC_OK);
    for (size_t k = 0; k < n_shares; k++) {
        assert_int_equal(lens[k], sizes[k]);
    }
    for (size_t k = 0; k < n_shares; k++) {
        size_t kept = 0, wl;
        for (size_t i = 0; i < n_items; i++) {
            keep[i] = own[i] == k;
            kept += keep[i];
        }
        assert_int_equal(kept, count[k]);
        if (!kept) {
            assert_int_equal(lens[k], 0);
            continue;
        }
        wl = otc_pb_keep_items(s, req, len, keep, want);
        assert_int_not_equal(wl, SIZE_MAX);
        assert_int_equal(lens[k], wl);
        assert_memory_equal(outs[k], want, wl);
        free(outs[k]);
    }
    /* a truncated request is refused */
    memset(lens, 0, n_shares * sizeof(size_t));
    for (size_t k = 0; k < n_shares; k++) {
        outs[k] = count[k] ? malloc(len) : NULL;
    }
    assert_int_not_equal(lb_split(req, len - 3, own, n_items, count, n_shares, outs, lens), OTC_OK);
    for (size_t k = 0; k < n_shares; k++) {
        free(outs[k]);
    }
    free(req);
    free(own);
    free(keep);
    free(want);
    free(count);
    free(sizes);
    free(lens);
    free(outs);
}

static void test_traces(void **state)
{
    (void)state;
    for (size_t shares = 1; shares <= 9; shares += 2) {
        for (unsigned seed = 1; seed < 6; seed++) {
            check_split(OTC_TRACES, shares, seed);
        }
    }
    check_split(OTC_TRACES, 100, 7);
}

static void test_logs(void **state)
{
    (void)state;
    for (size_t shares = 1; shares <= 9; shares += 2) {
        for (unsigned seed = 1; seed < 6; seed++) {
            check_split(OTC_LOGS, shares, seed);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traces),
        cmocka_unit_test(test_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
