/* test_backoff.c - unit tests for the exporter helper's retry back-off
 * (otc_backoff_* in core/exporter_helper.c) and its option defaults: growth by
 * multiplier up to max_interval, jitter bounds and spread, seeded determinism. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/engine.h"

#define MS 1000000LL
#define S  1000000000LL

static struct otc_exporter_settings settings(int64_t initial, int64_t max, double mult, double rf)
{
    struct otc_exporter_settings set;

    memset(&set, 0, sizeof(set));
    set.retry_enabled = true;
    set.initial_interval_ns = initial;
    set.max_interval_ns = max;
    set.multiplier = mult;
    set.randomization_factor = rf;
    return set;
}

/* The interval (before jitter) of the k-th wait, computed independently. */
static double nominal(const struct otc_exporter_settings *set, int k)
{
    double v = (double)set->initial_interval_ns;

    for (int i = 0; i < k; i++) {
        v *= set->multiplier;
        if (v > (double)set->max_interval_ns) {
            v = (double)set->max_interval_ns;
        }
    }
    return v;
}

static void test_defaults_match_otelcol(void **state)
{
    struct otc_exporter_settings set;

    (void)state;
    memset(&set, 0xff, sizeof(set));
    assert_int_equal(otc_config_map_defaults(otc_exporter_helper_map(), &set), OTC_OK);
    assert_int_equal(set.timeout_ns, 5 * S);
    assert_true(set.queue_enabled);
    assert_int_equal(set.num_consumers, 10);
    assert_int_equal(set.queue_size, 1000);
    assert_true(set.retry_enabled);
    assert_int_equal(set.initial_interval_ns, 5 * S);
    assert_int_equal(set.max_interval_ns, 30 * S);
    assert_int_equal(set.max_elapsed_ns, 300 * S);
    assert_true(set.multiplier == 1.5);
    assert_true(set.randomization_factor == 0.5);
}

/* Without jitter the waits are exactly initial * multiplier^k, capped. */
static void test_no_jitter_exact_sequence(void **state)
{
    struct otc_exporter_settings set = settings(500 * MS, 4 * S, 2.0, 0.0);
    static const int64_t want[] = {500 * MS, 1 * S, 2 * S, 4 * S, 4 * S, 4 * S, 4 * S};
    struct otc_backoff bo;

    (void)state;
    otc_backoff_init(&bo, &set, 42);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int64_t w = otc_backoff_next(&bo, &set);
        assert_true(llabs(w - want[i]) <= 1);
    }
}

/* otelcol's defaults: 5s, x1.5, capped at 30s: 5, 7.5, 11.25, 16.875, 25.3125, 30, 30 */
static void test_default_growth_without_jitter(void **state)
{
    struct otc_exporter_settings set = settings(5 * S, 30 * S, 1.5, 0.0);
    static const double want_s[] = {5, 7.5, 11.25, 16.875, 25.3125, 30, 30};
    struct otc_backoff bo;

    (void)state;
    otc_backoff_init(&bo, &set, 1);
    for (size_t i = 0; i < sizeof(want_s) / sizeof(want_s[0]); i++) {
        double w = (double)otc_backoff_next(&bo, &set) / 1e9;
        assert_true(fabs(w - want_s[i]) < 1e-6);
    }
}

/* Every jittered wait lies in [I(1-rf), I(1+rf)]; over many seeds the waits
 * average to I and reach close to both ends of the range. */
static void test_jitter_bounds_and_spread(void **state)
{
    struct otc_exporter_settings set = settings(5 * S, 30 * S, 1.5, 0.5);
    enum { SEEDS = 4000, STEPS = 8 };
    double sum[STEPS] = {0}, lo[STEPS], hi[STEPS];

    (void)state;
    for (int k = 0; k < STEPS; k++) {
        lo[k] = 1e30;
        hi[k] = 0;
    }
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        struct otc_backoff bo;
        otc_backoff_init(&bo, &set, seed * 7919u);
        for (int k = 0; k < STEPS; k++) {
            double w = (double)otc_backoff_next(&bo, &set);
            double n = nominal(&set, k);
            assert_true(w >= n * 0.5 - 1 && w <= n * 1.5 + 1);
            sum[k] += w;
            lo[k] = w < lo[k] ? w : lo[k];
            hi[k] = w > hi[k] ? w : hi[k];
        }
    }
    for (int k = 0; k < STEPS; k++) {
        double n = nominal(&set, k);
        double mean = sum[k] / SEEDS;
        assert_true(fabs(mean - n) < 0.03 * n);
        assert_true(lo[k] < n * 0.52);
        assert_true(hi[k] > n * 1.48);
    }
}

static void test_seeded_determinism(void **state)
{
    struct otc_exporter_settings set = settings(100 * MS, 10 * S, 1.5, 0.5);
    struct otc_backoff a, b, c;
    bool differs = false;

    (void)state;
    otc_backoff_init(&a, &set, 12345);
    otc_backoff_init(&b, &set, 12345);
    otc_backoff_init(&c, &set, 54321);
    for (int k = 0; k < 20; k++) {
        int64_t wa = otc_backoff_next(&a, &set);
        int64_t wb = otc_backoff_next(&b, &set);
        int64_t wc = otc_backoff_next(&c, &set);
        assert_int_equal(wa, wb);
        differs |= wa != wc;
    }
    assert_true(differs);
}

/* multiplier 1: a constant interval; a tiny interval never yields a zero wait. */
static void test_constant_and_tiny(void **state)
{
    struct otc_exporter_settings set = settings(250 * MS, 30 * S, 1.0, 0.0);
    struct otc_exporter_settings tiny = settings(1, 1, 1.0, 0.5);
    struct otc_backoff bo;

    (void)state;
    otc_backoff_init(&bo, &set, 9);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(otc_backoff_next(&bo, &set), 250 * MS);
    }
    otc_backoff_init(&bo, &tiny, 9);
    for (int k = 0; k < 10; k++) {
        assert_true(otc_backoff_next(&bo, &tiny) >= 1);
    }
}

/* The jittered sequence of a test-like configuration (500ms, x2, 4s, rf 0.2)
 * never shrinks by more than the jitter allows: w[k+1] >= w[k] * 0.8/1.2. */
static void test_non_decreasing_within_jitter(void **state)
{
    struct otc_exporter_settings set = settings(500 * MS, 4 * S, 2.0, 0.2);

    (void)state;
    for (uint64_t seed = 1; seed <= 500; seed++) {
        struct otc_backoff bo;
        int64_t prev;
        otc_backoff_init(&bo, &set, seed);
        prev = otc_backoff_next(&bo, &set);
        for (int k = 1; k < 10; k++) {
            int64_t w = otc_backoff_next(&bo, &set);
            assert_true((double)w >= (double)prev * (0.8 / 1.2) - 1);
            prev = w;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_otelcol),
        cmocka_unit_test(test_no_jitter_exact_sequence),
        cmocka_unit_test(test_default_growth_without_jitter),
        cmocka_unit_test(test_jitter_bounds_and_spread),
        cmocka_unit_test(test_seeded_determinism),
        cmocka_unit_test(test_constant_and_tiny),
        cmocka_unit_test(test_non_decreasing_within_jitter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
