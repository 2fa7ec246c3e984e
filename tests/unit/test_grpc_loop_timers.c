/* test_grpc_loop_timers.c - unit tests for the loop timers of core/grpc_loop.c
 * (otc_grpc_loop_defer / cancel): refused off a loop thread, run on the loop
 * thread that deferred them, in time order, not before their time and not
 * held back until the loop's 100 ms tick, cancelled, and deferred again from
 * their own fn. A completion handler is reached through a connectivity watch
 * on a channel to a closed port, which completes on the loops' queue. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#include "otc/otc_grpc_loop.h"
#include "otc/otc_rc.h"

#define MS 1000000LL
#define MAX_RUNS 16

/* What the timers of one scenario saw, filled on the loop thread. */
struct record {
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    int             runs;
    char            order[MAX_RUNS];
    int64_t         late_ns[MAX_RUNS];  /* ran this long after at_ns (< 0: early) */
    pthread_t       thread[MAX_RUNS];
    pthread_t       handler_thread;
    unsigned        pending_after_cancel;
};

static struct record rec;

struct named_timer {
    struct otc_grpc_timer t;
    char                  name;
    int                   again;  /* times it defers itself once more */
};

static void record_run(struct otc_grpc_timer *t)
{
    struct named_timer *n = (struct named_timer *)t;
    int64_t late = otc_grpc_loop_now_ns() - t->at_ns;

    pthread_mutex_lock(&rec.lock);
    if (rec.runs < MAX_RUNS) {
        rec.order[rec.runs] = n->name;
        rec.late_ns[rec.runs] = late;
        rec.thread[rec.runs] = pthread_self();
    }
    rec.runs++;
    pthread_cond_broadcast(&rec.cond);
    pthread_mutex_unlock(&rec.lock);
    if (n->again > 0) {
        n->again--;
        assert_int_equal(otc_grpc_loop_defer(t, otc_grpc_loop_now_ns() + 1 * MS), OTC_OK);
    }
}

/* A completion handler on a loop thread that runs a scenario there. */
struct scenario {
    struct otc_grpc_tag tag;
    void (*run)(void);
};

static void scenario_done(struct otc_grpc_tag *tag, bool ok)
{
    struct scenario *s = (struct scenario *)tag;

    (void)ok;
    rec.handler_thread = pthread_self();
    s->run();
}

/* Run fn on a loop thread, from a completion handler, and wait until
 * `runs` timers have run (or 2 s have passed); the runs seen. */
static int on_loop(void (*fn)(void), int runs)
{
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create("127.0.0.1:1", creds, NULL);
    struct scenario s = {{scenario_done}, fn};
    struct timespec until;
    int seen;

    memset(&rec, 0, sizeof(rec));
    pthread_mutex_init(&rec.lock, NULL);
    pthread_cond_init(&rec.cond, NULL);
    grpc_channel_credentials_release(creds);
    /* nothing connects: the watch completes at its deadline, on a loop */
    grpc_channel_watch_connectivity_state(
        ch, grpc_channel_check_connectivity_state(ch, 0),
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(5, GPR_TIMESPAN)),
        otc_grpc_loop_cq(), &s.tag);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&rec.lock);
    while (rec.runs < runs &&
           pthread_cond_timedwait(&rec.cond, &rec.lock, &until) == 0) {
    }
    pthread_mutex_unlock(&rec.lock);
    /* a moment for timers that must not run */
    nanosleep(&(struct timespec){0, 150 * MS}, NULL);
    pthread_mutex_lock(&rec.lock);
    seen = rec.runs;
    pthread_mutex_unlock(&rec.lock);
    grpc_channel_destroy(ch);
    return seen;
}

static int setup(void **state)
{
    (void)state;
    grpc_init();
    otc_grpc_loop_set_threads(2);
    return otc_grpc_loop_get() ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    otc_grpc_loop_put();
    grpc_shutdown();
    return 0;
}

static void test_defer_off_loop(void **state)
{
    struct named_timer t = {{record_run, 0, NULL}, 'x', 0};

    (void)state;
    assert_int_equal(otc_grpc_loop_defer(&t.t, otc_grpc_loop_now_ns()), OTC_EINVAL);
    assert_int_equal(otc_grpc_loop_timers(), 0);
}

/* ---- order and time */
static struct named_timer ta, tb, tc, td, te;

static void order_run(void)
{
    int64_t now = otc_grpc_loop_now_ns();

    ta = (struct named_timer){{record_run, 0, NULL}, 'a', 0};
    tb = (struct named_timer){{record_run, 0, NULL}, 'b', 0};
    tc = (struct named_timer){{record_run, 0, NULL}, 'c', 0};
    td = (struct named_timer){{record_run, 0, NULL}, 'd', 0};
    te = (struct named_timer){{record_run, 0, NULL}, 'e', 0};
    assert_int_equal(otc_grpc_loop_defer(&ta.t, now + 60 * MS), OTC_OK);
    assert_int_equal(otc_grpc_loop_defer(&tb.t, now + 20 * MS), OTC_OK);
    assert_int_equal(otc_grpc_loop_defer(&tc.t, now + 40 * MS), OTC_OK);
    assert_int_equal(otc_grpc_loop_defer(&td.t, now + 20 * MS), OTC_OK); /* after b */
    assert_int_equal(otc_grpc_loop_defer(&te.t, now - 1 * MS), OTC_OK);  /* due at once */
    assert_int_equal(otc_grpc_loop_timers(), 5);
}

static void test_order_and_time(void **state)
{
    (void)state;
    assert_int_equal(on_loop(order_run, 5), 5);
    assert_memory_equal(rec.order, "ebdca", 5);
    for (int i = 0; i < 5; i++) {
        assert_true(pthread_equal(rec.thread[i], rec.handler_thread));
        assert_true(rec.late_ns[i] >= 0);
        /* the loop waits for its queue only until its earliest timer: without
         * that, b would wait for the 100 ms tick, about 80 ms late */
        assert_true(rec.late_ns[i] < 50 * MS);
    }
}

/* ---- cancel */
static void cancel_run(void)
{
    int64_t now = otc_grpc_loop_now_ns();

    ta = (struct named_timer){{record_run, 0, NULL}, 'a', 0};
    tb = (struct named_timer){{record_run, 0, NULL}, 'b', 0};
    assert_int_equal(otc_grpc_loop_defer(&ta.t, now + 20 * MS), OTC_OK);
    assert_int_equal(otc_grpc_loop_defer(&tb.t, now + 30 * MS), OTC_OK);
    otc_grpc_loop_cancel(&ta.t);
    otc_grpc_loop_cancel(&ta.t); /* not pending: nothing */
    rec.pending_after_cancel = otc_grpc_loop_timers();
}

static void test_cancel(void **state)
{
    (void)state;
    assert_int_equal(on_loop(cancel_run, 1), 1);
    assert_int_equal(rec.pending_after_cancel, 1);
    assert_int_equal(rec.order[0], 'b');
}

/* ---- a timer deferring itself again (a back-off) */
static void again_run(void)
{
    ta = (struct named_timer){{record_run, 0, NULL}, 'a', 4};
    assert_int_equal(otc_grpc_loop_defer(&ta.t, otc_grpc_loop_now_ns() + 1 * MS), OTC_OK);
}

static void test_defer_again(void **state)
{
    (void)state;
    assert_int_equal(on_loop(again_run, 5), 5);
    assert_memory_equal(rec.order, "aaaaa", 5);
    for (int i = 0; i < 5; i++) {
        assert_true(pthread_equal(rec.thread[i], rec.handler_thread));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defer_off_loop),
        cmocka_unit_test(test_order_and_time),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_defer_again),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
