/* grpc_loop.c - the process's gRPC completion queues, one per loop thread
 * ("grpc-loop"; one per CPU the process may use, at most OTC_GRPC_LOOPS_MAX):
 * they run the completion handlers of the receivers' and the otlp exporter's
 * calls, and loop 0 their periodic ticks. Get/put and ticks are called from
 * any thread; handlers run on the loop thread of their queue. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "otc/otc_grpc_loop.h"
#include "otc/otc_sysinfo.h"

#define LOOP_TICK_MS 100

struct loop {
    grpc_completion_queue *cq;
    pthread_t              thread;
    unsigned               index;
};

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER; /* users, threads, ticks */
static struct loop loops[OTC_GRPC_LOOPS_MAX];
static unsigned loop_n;      /* loops running (set while loop_users > 0) */
static unsigned loop_want;   /* otc_grpc_loop_set_threads (0: one per usable CPU) */
static unsigned loop_users;
static struct otc_grpc_tick *loop_ticks;
static atomic_uint loop_rr;  /* round-robin pick for calls started off the loops */
static _Thread_local int loop_self = -1; /* this thread's loop, if it is one */

static int64_t now_ms(void)
{
    gpr_timespec t = gpr_now(GPR_CLOCK_MONOTONIC);

    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void run_ticks(void)
{
    pthread_mutex_lock(&loop_lock);
    for (struct otc_grpc_tick *t = loop_ticks; t; t = t->next) {
        t->fn(t->arg);
    }
    pthread_mutex_unlock(&loop_lock);
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    int64_t next_tick = now_ms() + LOOP_TICK_MS;

    loop_self = (int)l->index;
    pthread_setname_np(pthread_self(), "grpc-loop");
    for (;;) {
        gpr_timespec step = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(LOOP_TICK_MS, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(l->cq, step, NULL);

        if (ev.type == GRPC_QUEUE_SHUTDOWN) {
            break;
        }
        if (ev.type == GRPC_OP_COMPLETE) {
            struct otc_grpc_tag *tag = ev.tag;
            tag->done(tag, ev.success != 0);
        }
        if (l->index == 0 && now_ms() >= next_tick) {
            run_ticks();
            next_tick = now_ms() + LOOP_TICK_MS;
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
        for (loop_n = 0; loop_n < n; loop_n++) {
            struct loop *l = &loops[loop_n];

            l->index = loop_n;
            if (!(l->cq = grpc_completion_queue_create_for_next(NULL))) {
                break;
            }
            if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
                grpc_completion_queue_destroy(l->cq);
                l->cq = NULL;
                break;
            }
        }
        if (loop_n == 0) {
            pthread_mutex_unlock(&loop_lock);
            return NULL;
        }
    }
    loop_users++;
    cq = loops[0].cq;
    pthread_mutex_unlock(&loop_lock);
    return cq;
}

unsigned otc_grpc_loop_count(void)
{
    return loop_n;
}

grpc_completion_queue *otc_grpc_loop_cq(unsigned i)
{
    return loops[i % (loop_n ? loop_n : 1)].cq;
}

grpc_completion_queue *otc_grpc_loop_here(void)
{
    if (loop_self >= 0) {
        return loops[loop_self].cq;
    }
    return otc_grpc_loop_cq(atomic_fetch_add_explicit(&loop_rr, 1, memory_order_relaxed));
}

void otc_grpc_loop_put(void)
{
    struct loop stop[OTC_GRPC_LOOPS_MAX];
    unsigned n = 0;

    pthread_mutex_lock(&loop_lock);
    if (loop_users > 0 && --loop_users == 0) {
        n = loop_n;
        for (unsigned i = 0; i < n; i++) {
            stop[i] = loops[i];
            loops[i].cq = NULL;
        }
        loop_n = 0;
    }
    pthread_mutex_unlock(&loop_lock);
    /* outside the lock: loop 0 may be waiting for it to run the ticks */
    for (unsigned i = 0; i < n; i++) {
        grpc_completion_queue_shutdown(stop[i].cq);
    }
    for (unsigned i = 0; i < n; i++) {
        pthread_join(stop[i].thread, NULL);
        grpc_completion_queue_destroy(stop[i].cq);
    }
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
