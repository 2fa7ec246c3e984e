/* test_queue.c - unit tests for the bounded MPMC pointer queue (core/queue.c):
 * capacity, backpressure, FIFO order, timeouts, wake-ups and a threaded stress test. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "otc/otc_queue.h"
#include "otc/otc_rc.h"

/* Items moved by each stress configuration; OTC_STRESS_ITEMS overrides it. */
#define STRESS_ITEMS_DEFAULT 1000000u

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static bool is_pow2_u64(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static void *item(uintptr_t i)
{
    return (void *)(i + 1); /* never NULL */
}

/* The queue holds exactly the requested number of items; the ring under it
 * is the smallest power of two with room for them (at least 2). */
static void test_capacity(void **state)
{
    static const unsigned req[] = {1, 2, 3, 4, 5, 7, 8, 100, 127, 128, 1000, 1023, 1024, 65535};
    static const unsigned ring[] = {2, 2, 4, 4, 8, 8, 8, 128, 128, 128, 1024, 1024, 1024, 65536};

    (void)state;
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        struct otc_queue q;
        unsigned pushed = 0;
        void *p;

        assert_int_equal(otc_queue_init(&q, req[i]), OTC_OK);
        assert_int_equal(q.capacity, req[i]);
        assert_int_equal(q.mask + 1, ring[i]);
        assert_true(is_pow2_u64(q.mask + 1));
        assert_int_equal(otc_queue_len(&q), 0);
        /* exactly capacity pushes succeed */
        while (pushed <= req[i] && otc_queue_push(&q, item(pushed)) == OTC_OK) {
            pushed++;
        }
        assert_int_equal(pushed, req[i]);
        assert_int_equal(otc_queue_len(&q), req[i]);
        assert_int_equal(otc_queue_push(&q, item(pushed)), OTC_EAGAIN);
        for (unsigned k = 0; k < req[i]; k++) {
            assert_true(otc_queue_pop(&q, &p));
            assert_ptr_equal(p, item(k));
        }
        assert_false(otc_queue_pop(&q, &p));
        otc_queue_destroy(&q);
    }
}

/* A capacity whose ring size does not fit in an unsigned must be refused,
 * not silently turned into a zero-sized ring. */
static void test_capacity_too_large(void **state)
{
    static const unsigned req[] = {UINT_MAX, 0x80000000u};

    (void)state;
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        struct otc_queue q;
        int rc;

        memset(&q, 0, sizeof(q));
        rc = otc_queue_init(&q, req[i]);
        if (rc == OTC_OK) {
            uint64_t ring_size = q.mask + 1;
            otc_queue_destroy(&q);
            print_error("otc_queue_init(%u) returned OTC_OK with ring size %llu, capacity %u\n",
                        req[i], (unsigned long long)ring_size, q.capacity);
        }
        assert_int_not_equal(rc, OTC_OK);
    }
}

/* A full queue refuses with OTC_EAGAIN, enqueues nothing, and accepts again
 * after a pop. The refused pointer never comes out. Capacity 6 sits on a ring
 * of 8, so the bound is the queue's own, not the ring's. */
static void test_push_until_full(void **state)
{
    struct otc_queue q;
    void *p;
    int *refused = malloc(sizeof(*refused));

    (void)state;
    assert_non_null(refused);
    assert_int_equal(otc_queue_init(&q, 6), OTC_OK);
    assert_int_equal(q.capacity, 6);
    for (uintptr_t i = 0; i < 6; i++) {
        assert_int_equal(otc_queue_push(&q, item(i)), OTC_OK);
        assert_int_equal(otc_queue_len(&q), i + 1);
    }
    assert_int_equal(otc_queue_push(&q, refused), OTC_EAGAIN);
    assert_int_equal(otc_queue_push(&q, refused), OTC_EAGAIN);
    assert_int_equal(otc_queue_len(&q), 6);
    /* the caller still owns the refused pointer */
    free(refused);

    assert_true(otc_queue_pop(&q, &p));
    assert_ptr_equal(p, item(0));
    assert_int_equal(otc_queue_push(&q, item(6)), OTC_OK);
    assert_int_equal(otc_queue_push(&q, item(7)), OTC_EAGAIN);
    for (uintptr_t i = 1; i <= 6; i++) {
        assert_true(otc_queue_pop(&q, &p));
        assert_ptr_equal(p, item(i));
    }
    assert_false(otc_queue_pop(&q, &p));
    assert_int_equal(otc_queue_len(&q), 0);
    otc_queue_destroy(&q);
}

/* FIFO across many wrap-arounds of a small ring, with pop and pop_wait. */
static void test_fifo_order(void **state)
{
    struct otc_queue q;
    uintptr_t next_in = 0, next_out = 0;
    void *p;

    (void)state;
    assert_int_equal(otc_queue_init(&q, 15), OTC_OK);
    for (int round = 0; round < 1000; round++) {
        unsigned burst = (unsigned)(round % 15) + 1;
        for (unsigned k = 0; k < burst; k++) {
            assert_int_equal(otc_queue_push(&q, item(next_in++)), OTC_OK);
        }
        for (unsigned k = 0; k < burst; k++) {
            bool got = (k & 1) ? otc_queue_pop_wait(&q, &p, 1000) : otc_queue_pop(&q, &p);
            assert_true(got);
            assert_ptr_equal(p, item(next_out++));
        }
    }
    assert_int_equal(next_in, next_out);
    assert_false(otc_queue_pop(&q, &p));
    otc_queue_destroy(&q);
}

/* pop on an empty queue returns at once; pop_wait returns false after about
 * its timeout, and with timeout 0 at once. *p is left alone. */
static void test_pop_wait_timeout(void **state)
{
    struct otc_queue q;
    void *p = (void *)0x1234;
    uint64_t t0, dt;

    (void)state;
    assert_int_equal(otc_queue_init(&q, 4), OTC_OK);
    assert_false(otc_queue_pop(&q, &p));
    t0 = now_ms();
    assert_false(otc_queue_pop_wait(&q, &p, 0));
    assert_true(now_ms() - t0 < 50);

    t0 = now_ms();
    assert_false(otc_queue_pop_wait(&q, &p, 150));
    dt = now_ms() - t0;
    assert_true(dt >= 140);   /* waited (allow coarse clocks) */
    assert_true(dt < 2000);   /* but not much longer than asked */
    assert_ptr_equal(p, (void *)0x1234);

    /* an item already queued is returned immediately */
    assert_int_equal(otc_queue_push(&q, item(5)), OTC_OK);
    t0 = now_ms();
    assert_true(otc_queue_pop_wait(&q, &p, 5000));
    assert_true(now_ms() - t0 < 100);
    assert_ptr_equal(p, item(5));
    otc_queue_destroy(&q);
}

struct waiter {
    struct otc_queue *q;
    int               timeout_ms;
    bool              got;
    void             *p;
    uint64_t          woke_ms;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;

    w->got = otc_queue_pop_wait(w->q, &w->p, w->timeout_ms);
    w->woke_ms = now_ms();
    return NULL;
}

/* A consumer asleep in pop_wait with a long timeout is woken by a push. */
static void test_wakeup_latency(void **state)
{
    struct otc_queue q;
    struct waiter w;
    pthread_t t;
    uint64_t pushed;

    (void)state;
    assert_int_equal(otc_queue_init(&q, 16), OTC_OK);
    for (int round = 0; round < 5; round++) {
        memset(&w, 0, sizeof(w));
        w.q = &q;
        w.timeout_ms = 10000;
        assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
        /* wait until the consumer is past its spin phase and registered as a
         * sleeper (it holds the lock from there until it blocks) */
        for (int i = 0; i < 5000 && atomic_load(&q.sleepers) != 1; i++) {
            sleep_ms(1);
        }
        assert_int_equal(atomic_load(&q.sleepers), 1);
        sleep_ms(20);
        pushed = now_ms();
        assert_int_equal(otc_queue_push(&q, item((uintptr_t)round)), OTC_OK);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(w.got);
        assert_ptr_equal(w.p, item((uintptr_t)round));
        assert_true(w.woke_ms - pushed < 1000); /* far below the 10 s timeout */
        assert_int_equal(atomic_load(&q.sleepers), 0);
    }
    otc_queue_destroy(&q);
}

/* kick wakes every sleeping consumer (used at shutdown). */
static void test_kick_wakes_all(void **state)
{
    struct otc_queue q;
    struct waiter w[2];
    pthread_t t[2];
    uint64_t kicked;

    (void)state;
    assert_int_equal(otc_queue_init(&q, 16), OTC_OK);
    for (int i = 0; i < 2; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].q = &q;
        w[i].timeout_ms = 10000;
        assert_int_equal(pthread_create(&t[i], NULL, waiter_main, &w[i]), 0);
    }
    while (atomic_load(&q.sleepers) != 2) {
        sleep_ms(1);
    }
    kicked = now_ms();
    otc_queue_kick(&q);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_false(w[i].got);
        assert_true(w[i].woke_ms - kicked < 1000);
    }
    otc_queue_destroy(&q);
}

/* Ping-pong: the producer pushes one item, waits until the consumer has it,
 * then (after a varying short delay) pushes the next, so pushes keep landing
 * while the consumer is between its spin phase and its sleep. Every push must
 * wake the consumer: a round that lasts until pop_wait's timeout is a lost
 * wake-up. Bounded by a round count and a wall-clock budget. */
#define PINGPONG_ROUNDS 300000u
#define PINGPONG_BUDGET_MS 3000u
#define PINGPONG_TIMEOUT_MS 400
#define PINGPONG_SLOW_MS 250u

struct pingpong {
    struct otc_queue     q;
    atomic_uint          acked;     /* rounds the consumer has completed */
    atomic_uint_fast64_t pushed_ns; /* when the current item was pushed */
    atomic_bool          stop;
    unsigned             slow_round;
    uint64_t             slow_ms;
    atomic_uint          slow_count; /* read by the producer while the consumer runs */
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *pingpong_consumer(void *arg)
{
    struct pingpong *pp = arg;
    void *p;

    for (unsigned i = 0;; i++) {
        uint64_t lat_ms;

        while (!otc_queue_pop_wait(&pp->q, &p, PINGPONG_TIMEOUT_MS)) {
            if (atomic_load(&pp->stop)) {
                return NULL;
            }
        }
        lat_ms = (now_ns() - atomic_load_explicit(&pp->pushed_ns, memory_order_relaxed)) /
                 1000000u;
        if (lat_ms >= PINGPONG_SLOW_MS) {
            if (atomic_fetch_add(&pp->slow_count, 1) == 0) {
                pp->slow_round = i;
                pp->slow_ms = lat_ms;
            }
        }
        atomic_store(&pp->acked, i + 1);
    }
}

static void test_no_lost_wakeup(void **state)
{
    struct pingpong pp;
    pthread_t t;
    uint64_t start = now_ms();
    unsigned rounds = 0;

    (void)state;
    memset(&pp, 0, sizeof(pp));
    assert_int_equal(otc_queue_init(&pp.q, 16), OTC_OK);
    atomic_init(&pp.acked, 0);
    atomic_init(&pp.pushed_ns, 0);
    atomic_init(&pp.stop, false);
    assert_int_equal(pthread_create(&t, NULL, pingpong_consumer, &pp), 0);
    for (unsigned i = 0; i < PINGPONG_ROUNDS; i++) {
        unsigned spins = 0;

        /* relaxed: a plain store, so the test adds no fence around the push */
        atomic_store_explicit(&pp.pushed_ns, now_ns(), memory_order_relaxed);
        assert_int_equal(otc_queue_push(&pp.q, item(i)), OTC_OK);
        while (atomic_load(&pp.acked) != i + 1) {
            if (++spins % 1024 == 0) {
                sched_yield();
            }
        }
        rounds++;
        if (pp.slow_count || now_ms() - start > PINGPONG_BUDGET_MS) {
            break;
        }
        for (volatile unsigned k = 0; k < i % 256; k++) {
        }
    }
    atomic_store(&pp.stop, true);
    otc_queue_kick(&pp.q);
    assert_int_equal(pthread_join(t, NULL), 0);
    otc_queue_destroy(&pp.q);
    print_message("%u ping-pong rounds\n", rounds);
    if (pp.slow_count) {
        fail_msg("round %u: the consumer stayed asleep for %llu ms after a push "
                 "(pop_wait timeout %d ms): lost wake-up",
                 pp.slow_round, (unsigned long long)pp.slow_ms, PINGPONG_TIMEOUT_MS);
    }
}

/* ---------------------------------------------------------------- stress */

struct stress {
    struct otc_queue  q;
    unsigned          n_items;
    unsigned          n_producers;
    unsigned          n_consumers;
    atomic_uchar     *seen;       /* per-item arrival count */
    atomic_uint       consumed;
    atomic_uint       bad;        /* out-of-range pointers, order violations */
    atomic_uint       next_id;
};

struct stress_arg {
    struct stress *s;
    unsigned       id;
};

static void *stress_producer(void *arg)
{
    struct stress_arg *a = arg;
    struct stress *s = a->s;

    /* producer k pushes items k, k + P, k + 2P, ... in increasing order */
    for (unsigned i = a->id; i < s->n_items; i += s->n_producers) {
        while (otc_queue_push(&s->q, item(i)) != OTC_OK) {
            sched_yield();
        }
    }
    return NULL;
}

static void *stress_consumer(void *arg)
{
    struct stress_arg *a = arg;
    struct stress *s = a->s;
    long last[8];
    void *p;

    for (unsigned k = 0; k < 8; k++) {
        last[k] = -1;
    }
    while (atomic_load(&s->consumed) < s->n_items) {
        uintptr_t i;

        if (!otc_queue_pop_wait(&s->q, &p, 20)) {
            continue;
        }
        i = (uintptr_t)p - 1;
        if (p == NULL || i >= s->n_items) {
            atomic_fetch_add(&s->bad, 1);
            continue;
        }
        /* with one consumer, each producer's items arrive in push order */
        if (s->n_consumers == 1) {
            unsigned prod = (unsigned)(i % s->n_producers);
            if ((long)i <= last[prod]) {
                atomic_fetch_add(&s->bad, 1);
            }
            last[prod] = (long)i;
        }
        atomic_fetch_add_explicit(&s->seen[i], 1, memory_order_relaxed);
        atomic_fetch_add(&s->consumed, 1);
    }
    return NULL;
}

static unsigned stress_items(void)
{
    const char *env = getenv("OTC_STRESS_ITEMS");
    unsigned long v = env ? strtoul(env, NULL, 10) : 0;

    return v ? (unsigned)v : STRESS_ITEMS_DEFAULT;
}

static void run_stress(unsigned producers, unsigned consumers, bool single_consumer)
{
    struct stress s;
    struct stress_arg pa[4], ca[4];
    pthread_t pt[4], ct[4];
    unsigned missing = 0, dup = 0;
    void *p;

    memset(&s, 0, sizeof(s));
    s.n_items = stress_items();
    s.n_producers = producers;
    s.n_consumers = consumers;
    s.seen = calloc(s.n_items, sizeof(*s.seen));
    assert_non_null(s.seen);
    atomic_init(&s.consumed, 0);
    atomic_init(&s.bad, 0);
    assert_int_equal(single_consumer ? otc_queue_init_sc(&s.q, 1000) : otc_queue_init(&s.q, 1000),
                     OTC_OK);
    for (unsigned i = 0; i < consumers; i++) {
        ca[i].s = &s;
        ca[i].id = i;
        assert_int_equal(pthread_create(&ct[i], NULL, stress_consumer, &ca[i]), 0);
    }
    for (unsigned i = 0; i < producers; i++) {
        pa[i].s = &s;
        pa[i].id = i;
        assert_int_equal(pthread_create(&pt[i], NULL, stress_producer, &pa[i]), 0);
    }
    for (unsigned i = 0; i < producers; i++) {
        assert_int_equal(pthread_join(pt[i], NULL), 0);
    }
    for (unsigned i = 0; i < consumers; i++) {
        assert_int_equal(pthread_join(ct[i], NULL), 0);
    }
    for (unsigned i = 0; i < s.n_items; i++) {
        unsigned c = atomic_load(&s.seen[i]);
        missing += c == 0;
        dup += c > 1;
    }
    if (missing || dup) {
        print_error("%u producers, %u consumers: %u items missing, %u duplicated\n", producers,
                    consumers, missing, dup);
    }
    assert_int_equal(missing, 0);
    assert_int_equal(dup, 0);
    assert_int_equal(atomic_load(&s.bad), 0);
    assert_int_equal(atomic_load(&s.consumed), s.n_items);
    assert_false(otc_queue_pop(&s.q, &p));
    otc_queue_destroy(&s.q);
    free(s.seen);
}

static void test_stress_2p_1c(void **state)
{
    (void)state;
    run_stress(2, 1, false);
}

/* The single-consumer queue (the pipeline worker's) under the same load. */
static void test_stress_2p_1c_single_consumer(void **state)
{
    (void)state;
    run_stress(2, 1, true);
}

static void test_stress_2p_2c(void **state)
{
    (void)state;
    run_stress(2, 2, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_capacity_too_large),
        cmocka_unit_test(test_push_until_full),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_pop_wait_timeout),
        cmocka_unit_test(test_wakeup_latency),
        cmocka_unit_test(test_kick_wakes_all),
        cmocka_unit_test(test_no_lost_wakeup),
        cmocka_unit_test(test_stress_2p_1c),
        cmocka_unit_test(test_stress_2p_1c_single_consumer),
        cmocka_unit_test(test_stress_2p_2c),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
