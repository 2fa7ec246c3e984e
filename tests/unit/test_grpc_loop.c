/* test_grpc_loop.c - unit tests for the gRPC loops (core/grpc_loop.c): the
 * choice of how many loops poll, and the real threads following a busy loop 0
 * up to two loops and back to one. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "otc/otc_grpc_loop.h"

/* Policy: a loop more after two hot ticks, never above n. */
static void decide_up_after_two_hot_ticks(void **state)
{
    struct otc_grpc_loop_policy st = {0};

    (void)state;
    assert_int_equal(otc_grpc_loop_decide(&st, 1, 4, 0.95), 1);
    assert_int_equal(otc_grpc_loop_decide(&st, 1, 4, 0.95), 2);
    /* a cool tick in between starts the count again */
    assert_int_equal(otc_grpc_loop_decide(&st, 2, 4, 1.90), 2);
    assert_int_equal(otc_grpc_loop_decide(&st, 2, 4, 1.50), 2);
    assert_int_equal(otc_grpc_loop_decide(&st, 2, 4, 1.90), 2);
    assert_int_equal(otc_grpc_loop_decide(&st, 2, 4, 1.90), 3);
    /* 0.85 each: below UP, loop 0 alone keeps up */
    assert_int_equal(otc_grpc_loop_decide(&st, 3, 4, 2.55), 3);
    assert_int_equal(otc_grpc_loop_decide(&st, 3, 4, 2.55), 3);
    /* all in use: no more */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(otc_grpc_loop_decide(&st, 4, 4, 3.90), 4);
    }
    /* one loop of one: stays */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(otc_grpc_loop_decide(&st, 1, 1, 1.00), 1);
    }
}

/* Policy: one fewer when the rest would be below 0.6 each for two ticks. */
static void decide_down_when_calm(void **state)
{
    struct otc_grpc_loop_policy st = {0};

    (void)state;
    assert_int_equal(otc_grpc_loop_decide(&st, 3, 4, 1.10), 3);
    assert_int_equal(otc_grpc_loop_decide(&st, 3, 4, 1.10), 2);
    assert_int_equal(otc_grpc_loop_decide(&st, 2, 4, 0.50), 2);
    assert_int_equal(otc_grpc_loop_decide(&st, 2, 4, 0.50), 1);
    /* loop 0 alone never goes */
    for (int i = 0; i < 30; i++) {
        assert_int_equal(otc_grpc_loop_decide(&st, 1, 4, 0.0), 1);
    }
}

/* Policy: between 0.6 and 1.3 for the rest, a trial with one fewer after 20
 * ticks; above 1.3, never. */
static void decide_trial_after_twenty_ticks(void **state)
{
    struct otc_grpc_loop_policy st = {0};

    (void)state;
    for (int i = 0; i < 19; i++) {
        assert_int_equal(otc_grpc_loop_decide(&st, 2, 2, 1.20), 2);
    }
    assert_int_equal(otc_grpc_loop_decide(&st, 2, 2, 1.20), 1);
    memset(&st, 0, sizeof(st));
    for (int i = 0; i < 100; i++) {
        assert_int_equal(otc_grpc_loop_decide(&st, 2, 2, 1.40), 2);
    }
}

static void burn_ms(int64_t ms)
{
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static atomic_bool burning;

/* A tick that keeps loop 0 busy for most of each 100 ms while burning is set. */
static void busy_tick(void *arg)
{
    (void)arg;
    if (atomic_load(&burning)) {
        burn_ms(98);
    }
}

static bool wait_active(unsigned want, int max_ms)
{
    for (int waited = 0; waited < max_ms; waited += 20) {
        if (otc_grpc_loop_active() == want) {
            return true;
        }
        struct timespec d = {0, 20 * 1000000};

        nanosleep(&d, NULL);
    }
    return otc_grpc_loop_active() == want;
}

/* The threads: one loop polls when idle; a busy loop 0 wakes the second; the
 * second sleeps again once the load is gone. */
static void loops_follow_the_load(void **state)
{
    struct otc_grpc_tick tick = {busy_tick, NULL, NULL};
    grpc_completion_queue *cq;

    (void)state;
    grpc_init();
    otc_grpc_loop_set_threads(2);
    cq = otc_grpc_loop_get();
    assert_non_null(cq);
    assert_ptr_equal(otc_grpc_loop_cq(), cq);
    assert_int_equal(otc_grpc_loop_count(), 2);
    assert_int_equal(otc_grpc_loop_active(), 1);
    otc_grpc_loop_add_tick(&tick);
    assert_true(wait_active(1, 500)); /* idle: stays at one */
    atomic_store(&burning, true);
    assert_true(wait_active(2, 5000));
    atomic_store(&burning, false);
    assert_true(wait_active(1, 5000));
    otc_grpc_loop_remove_tick(&tick);
    otc_grpc_loop_put();
    otc_grpc_loop_set_threads(0);
    grpc_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decide_up_after_two_hot_ticks),
        cmocka_unit_test(decide_down_when_calm),
        cmocka_unit_test(decide_trial_after_twenty_ticks),
        cmocka_unit_test(loops_follow_the_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
