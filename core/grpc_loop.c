/* grpc_loop.c - the process's gRPC completion queue and the threads that drive
 * it ("grpc-loop"; up to one per CPU the process may use, at most
 * OTC_GRPC_LOOPS_MAX): they run the completion handlers of the receivers' and
 * the otlp exporter's calls, and loop 0 the periodic ticks and the choice of
 * how many loops poll; each loop also runs the timers its own handlers
 * deferred. Get/put and ticks are called from any thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE /* pthread_setname_np, gettid */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "otc/otc_grpc_loop.h"
#include "otc/otc_rc.h"
#include "otc/otc_sysinfo.h"

#define LOOP_TICK_MS   100
#define HELPER_STEP_MS 20  /* how soon a loop above 0 sees that it may sleep */
/* Loops in use follow the load, decided on loop 0 every tick from the loops'
 * demand (CPU time plus time waiting for a CPU, as a share of the tick): one
 * more when those in use average at least UP for UP_TICKS ticks; one fewer
 * when the others could carry the load at DOWN each for DOWN_TICKS ticks, or
 * at TRY each for TRY_TICKS ticks. The last is a trial: more loops cost more
 * CPU for the same work (gRPC hands the poller role between them), so their
 * demand overstates the load, and loop 0 alone shows whether it keeps up. */
#define DEMAND_UP   0.90
#define DEMAND_DOWN 0.60
#define DEMAND_TRY  1.30
#define UP_TICKS    2
#define DOWN_TICKS  2
#define TRY_TICKS   20

/* Why one queue and loops that sleep: each loop on a queue of its own cost
 * 1.4-1.5x the CPU per request of one loop at a moderate rate (measured at
 * 2,000 requests/s of 60 KB, bench/RESULTS.md "gRPC loops"): gRPC core's
 * poller thread woke the loop owning each completion, several context
 * switches per request. On one shared queue, the thread that polls also runs
 * the handler, and loops above 0 poll only while loop 0 cannot keep up. */
struct loop {
    pthread_t thread;
    unsigned  index;
    atomic_int tid;        /* for its schedstat (0 until the thread runs) */
    uint64_t  last_busy;   /* ns of CPU plus run-queue wait at the last tick */
    struct otc_grpc_timer *timers; /* pending, earliest first: this loop's thread only */
    unsigned  n_timers;
};

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER; /* users, threads, ticks */
static pthread_cond_t  loop_wake = PTHREAD_COND_INITIALIZER;  /* loops above 0 (loop_lock) */
static grpc_completion_queue *loop_cq;
static struct loop loops[OTC_GRPC_LOOPS_MAX];
static unsigned loop_n;      /* loop threads (set while loop_users > 0) */
static unsigned loop_want;   /* otc_grpc_loop_set_threads (0: one per usable CPU) */
static unsigned loop_users;
static bool     loop_stopping;
static atomic_uint loop_active = 1; /* loops polling: 0 .. loop_active-1 */
static struct otc_grpc_loop_policy loop_policy;
static int64_t  loop_last_tick_ns;
static struct otc_grpc_tick *loop_ticks;
static _Thread_local struct loop *loop_self; /* this thread's loop, if it is one */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t otc_grpc_loop_now_ns(void)
{
    return now_ns();
}

int otc_grpc_loop_defer(struct otc_grpc_timer *timer, int64_t at_ns)
{
    struct loop *l = loop_self;
    struct otc_grpc_timer **p;

    if (!l) {
        return OTC_EINVAL;
    }
    timer->at_ns = at_ns;
    /* after the timers due at the same time: they run in the order deferred */
    for (p = &l->timers; *p && (*p)->at_ns <= at_ns; p = &(*p)->next) {
    }
    timer->next = *p;
    *p = timer;
    l->n_timers++;
    return OTC_OK;
}

void otc_grpc_loop_cancel(struct otc_grpc_timer *timer)
{
    struct loop *l = loop_self;

    for (struct otc_grpc_timer **p = l ? &l->timers : NULL; p && *p; p = &(*p)->next) {
        if (*p == timer) {
            *p = timer->next;
            timer->next = NULL;
            l->n_timers--;
            return;
        }
    }
}

unsigned otc_grpc_loop_timers(void)
{
    return loop_self ? loop_self->n_timers : 0;
}

/* Run the timers of l due by now. Those a timer's fn defers again (even due
 * at once) wait for the next pass, after the queue has been looked at. */
static void run_timers(struct loop *l)
{
    int64_t now = now_ns();
    struct otc_grpc_timer *due = l->timers, **end = &l->timers;

    while (*end && (*end)->at_ns <= now) {
        end = &(*end)->next;
        l->n_timers--;
    }
    if (end == &l->timers) {
        return;
    }
    l->timers = *end;
    *end = NULL;
    while (due) {
        struct otc_grpc_timer *t = due;

        due = t->next;
        t->next = NULL;
        t->fn(t);
    }
}

/* A loop thread's CPU time plus its time waiting for a CPU, in ns (the first
 * two fields of its schedstat); 0 when the kernel does not say. */
static uint64_t loop_busy_ns(const struct loop *l)
{
    char path[64];
    unsigned long long cpu = 0, wait = 0;
    int tid = atomic_load(&l->tid);
    FILE *f;

    if (tid == 0) {
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
    if (!(f = fopen(path, "r"))) {
        return 0;
    }
    if (fscanf(f, "%llu %llu", &cpu, &wait) != 2) {
        cpu = wait = 0;
    }
    fclose(f);
    return cpu + wait;
}

unsigned otc_grpc_loop_decide(struct otc_grpc_loop_policy *st, unsigned k, unsigned n, double sum)
{
    st->hot = k < n && sum / k >= DEMAND_UP ? st->hot + 1 : 0;
    st->calm = k > 1 && sum / (k - 1) < DEMAND_DOWN ? st->calm + 1 : 0;
    st->fits = k > 1 && sum / (k - 1) < DEMAND_TRY ? st->fits + 1 : 0;
    if (st->hot >= UP_TICKS) {
        memset(st, 0, sizeof(*st));
        return k + 1;
    }
    if (st->calm >= DOWN_TICKS || st->fits >= TRY_TICKS) {
        memset(st, 0, sizeof(*st));
        return k - 1;
    }
    return k;
}

/* On loop 0, every tick: how many loops poll, from their demand since the
 * last tick. */
static void loops_adjust(void)
{
    int64_t now = now_ns(), span = now - loop_last_tick_ns;
    unsigned k = atomic_load(&loop_active), want;
    double sum = 0;

    loop_last_tick_ns = now;
    for (unsigned i = 0; i < loop_n; i++) {
        uint64_t b = loop_busy_ns(&loops[i]);

        if (i < k && span > 0 && b >= loops[i].last_busy) {
            sum += (double)(b - loops[i].last_busy) / (double)span;
        }
        loops[i].last_busy = b;
    }
    want = otc_grpc_loop_decide(&loop_policy, k, loop_n, sum);
    if (want != k) {
        pthread_mutex_lock(&loop_lock);
        atomic_store(&loop_active, want);
        pthread_cond_broadcast(&loop_wake);
        pthread_mutex_unlock(&loop_lock);
    }
}

static void run_ticks(void)
{
    pthread_mutex_lock(&loop_lock);
    for (struct otc_grpc_tick *t = loop_ticks; t; t = t->next) {
        t->fn(t->arg);
    }
    pthread_mutex_unlock(&loop_lock);
}

/* A loop above 0 while it is not needed: sleeps, waking for its own timers
 * (run outside the lock); false once the loops stop. */
static bool helper_wait(struct loop *l)
{
    bool run;

    pthread_mutex_lock(&loop_lock);
    while (!loop_stopping && l->index >= atomic_load(&loop_active)) {
        struct timespec until;
        int64_t left;

        if (!l->timers) {
            pthread_cond_wait(&loop_wake, &loop_lock);
            continue;
        }
        if ((left = l->timers->at_ns - now_ns()) > 0) {
            /* loop_wake waits on CLOCK_REALTIME: the timer's distance from now */
            clock_gettime(CLOCK_REALTIME, &until);
            left += until.tv_nsec;
            until.tv_sec += (time_t)(left / 1000000000);
            until.tv_nsec = (long)(left % 1000000000);
            pthread_cond_timedwait(&loop_wake, &loop_lock, &until);
            continue;
        }
        pthread_mutex_unlock(&loop_lock);
        run_timers(l);
        pthread_mutex_lock(&loop_lock);
    }
    run = !loop_stopping;
    pthread_mutex_unlock(&loop_lock);
    return run;
}

/* How long a polling loop may wait for the queue: wait_ms, or less when one
 * of its timers is due sooner. */
static gpr_timespec loop_deadline(const struct loop *l, int64_t wait_ms)
{
    int64_t wait = wait_ms * 1000000;

    if (l->timers) {
        int64_t until = l->timers->at_ns - now_ns();

        wait = until < 0 ? 0 : until < wait ? until : wait;
    }
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(wait, GPR_TIMESPAN));
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    grpc_completion_queue *cq = loop_cq; /* cleared at put, before the join */
    bool first = l->index == 0;
    int64_t next_tick = now_ns() / 1000000 + LOOP_TICK_MS; /* loop 0's, every 100 ms */

    pthread_setname_np(pthread_self(), "grpc-loop");
    atomic_store(&l->tid, (int)gettid());
    loop_self = l;
    for (;;) {
        int64_t wait_ms = HELPER_STEP_MS, now_ms;
        grpc_event ev;

        if (!first && l->index >= atomic_load(&loop_active) && !helper_wait(l)) {
            break;
        }
        if (first) {
            now_ms = now_ns() / 1000000;
            wait_ms = next_tick > now_ms ? next_tick - now_ms : 0;
        }
        ev = grpc_completion_queue_next(cq, loop_deadline(l, wait_ms), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) {
            break;
        }
        if (ev.type == GRPC_OP_COMPLETE) {
            struct otc_grpc_tag *tag = ev.tag;
            tag->done(tag, ev.success != 0);
        }
        if (l->timers) {
            run_timers(l);
        }
        if (first && (now_ms = now_ns() / 1000000) >= next_tick) {
            run_ticks();
            loops_adjust();
            /* on a steady beat, so that a long tick still counts as busy time */
            next_tick += LOOP_TICK_MS;
            if (next_tick <= now_ms) {
                next_tick = now_ms + LOOP_TICK_MS;
            }
        }
    }
    return NULL;
}

void otc_grpc_loop_set_threads(unsigned n)
{
    pthread_mutex_lock(&loop_lock);
    loop_want = n > OTC_GRPC_LOOPS_MAX ? OTC_GRPC_LOOPS_MAX : n;
    pthread_mutex_unlock(&loop_lock);
}

grpc_completion_queue *otc_grpc_loop_get(void)
{
    grpc_completion_queue *cq = NULL;

    pthread_mutex_lock(&loop_lock);
    if (loop_users == 0) {
        unsigned n = loop_want ? loop_want : otc_cpus_usable();

        n = n > OTC_GRPC_LOOPS_MAX ? OTC_GRPC_LOOPS_MAX : n < 1 ? 1 : n;
        if (!(loop_cq = grpc_completion_queue_create_for_next(NULL))) {
            pthread_mutex_unlock(&loop_lock);
            return NULL;
        }
        loop_stopping = false;
        atomic_store(&loop_active, 1);
        memset(&loop_policy, 0, sizeof(loop_policy));
        loop_last_tick_ns = now_ns();
        for (loop_n = 0; loop_n < n; loop_n++) {
            struct loop *l = &loops[loop_n];

            l->index = loop_n;
            l->last_busy = 0;
            l->timers = NULL;
            l->n_timers = 0;
            atomic_store(&l->tid, 0);
            if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
                break;
            }
        }
        if (loop_n == 0) {
            grpc_completion_queue_destroy(loop_cq);
            loop_cq = NULL;
            pthread_mutex_unlock(&loop_lock);
            return NULL;
        }
    }
    loop_users++;
    cq = loop_cq;
    pthread_mutex_unlock(&loop_lock);
    return cq;
}

grpc_completion_queue *otc_grpc_loop_cq(void)
{
    return loop_cq;
}

unsigned otc_grpc_loop_count(void)
{
    return loop_n;
}

unsigned otc_grpc_loop_active(void)
{
    return atomic_load(&loop_active);
}

void otc_grpc_loop_put(void)
{
    grpc_completion_queue *cq = NULL;
    pthread_t stop[OTC_GRPC_LOOPS_MAX];
    unsigned n = 0;

    pthread_mutex_lock(&loop_lock);
    if (loop_users > 0 && --loop_users == 0) {
        n = loop_n;
        for (unsigned i = 0; i < n; i++) {
            stop[i] = loops[i].thread;
        }
        cq = loop_cq;
        loop_cq = NULL;
        loop_n = 0;
        loop_stopping = true;
        pthread_cond_broadcast(&loop_wake);
    }
    pthread_mutex_unlock(&loop_lock);
    if (!cq) {
        return;
    }
    /* outside the lock: loop 0 may be waiting for it to run the ticks */
    grpc_completion_queue_shutdown(cq);
    for (unsigned i = 0; i < n; i++) {
        pthread_join(stop[i], NULL);
    }
    grpc_completion_queue_destroy(cq);
}

void otc_grpc_loop_add_tick(struct otc_grpc_tick *tick)
{
    pthread_mutex_lock(&loop_lock);
    tick->next = loop_ticks;
    loop_ticks = tick;
    pthread_mutex_unlock(&loop_lock);
}

void otc_grpc_loop_remove_tick(struct otc_grpc_tick *tick)
{
    pthread_mutex_lock(&loop_lock);
    for (struct otc_grpc_tick **p = &loop_ticks; *p; p = &(*p)->next) {
        if (*p == tick) {
            *p = tick->next;
            break;
        }
    }
    pthread_mutex_unlock(&loop_lock);
}

/* ---------------------------------------------------------------- arguments */

void otc_grpc_arg_int(grpc_channel_args *ca, const char *key, int64_t v)
{
    grpc_arg *a = &ca->args[ca->num_args++];

    a->type = GRPC_ARG_INTEGER;
    a->key = (char *)key;
    a->value.integer = v > INT32_MAX ? INT32_MAX : (int)v;
}

void otc_grpc_arg_ms(grpc_channel_args *ca, const char *key, int64_t ns)
{
    if (ns > 0) {
        otc_grpc_arg_int(ca, key, (ns + 999999) / 1000000);
    }
}

void otc_grpc_arg_str(grpc_channel_args *ca, const char *key, const char *v)
{
    grpc_arg *a = &ca->args[ca->num_args++];

    a->type = GRPC_ARG_STRING;
    a->key = (char *)key;
    a->value.string = (char *)v;
}
