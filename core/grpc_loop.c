/* grpc_loop.c - the process's one gRPC completion queue and its thread
 * ("grpc-loop"): runs the completion handlers of the receivers' and the otlp
 * exporter's calls, and their periodic ticks. Get/put and ticks are called
 * from any thread; handlers and ticks run on the loop thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdint.h>

#include "otc/otc_grpc_loop.h"

#define LOOP_TICK_MS 100

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER; /* users, thread, ticks */
static grpc_completion_queue *loop_cq;
static pthread_t loop_thread;
static unsigned loop_users;
static struct otc_grpc_tick *loop_ticks;

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
    grpc_completion_queue *cq = arg;
    int64_t next_tick = now_ms() + LOOP_TICK_MS;

    pthread_setname_np(pthread_self(), "grpc-loop");
    for (;;) {
        gpr_timespec step = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(LOOP_TICK_MS, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(cq, step, NULL);

        if (ev.type == GRPC_QUEUE_SHUTDOWN) {
            break;
        }
        if (ev.type == GRPC_OP_COMPLETE) {
            struct otc_grpc_tag *tag = ev.tag;
            tag->done(tag, ev.success != 0);
        }
        if (now_ms() >= next_tick) {
            run_ticks();
            next_tick = now_ms() + LOOP_TICK_MS;
        }
    }
    return NULL;
}

grpc_completion_queue *otc_grpc_loop_get(void)
{
    grpc_completion_queue *cq;

    pthread_mutex_lock(&loop_lock);
    if (loop_users == 0) {
        loop_cq = grpc_completion_queue_create_for_next(NULL);
        if (!loop_cq || pthread_create(&loop_thread, NULL, loop_main, loop_cq) != 0) {
            if (loop_cq) {
                grpc_completion_queue_destroy(loop_cq);
                loop_cq = NULL;
            }
            pthread_mutex_unlock(&loop_lock);
            return NULL;
        }
    }
    loop_users++;
    cq = loop_cq;
    pthread_mutex_unlock(&loop_lock);
    return cq;
}

void otc_grpc_loop_put(void)
{
    grpc_completion_queue *cq = NULL;
    pthread_t thread;

    pthread_mutex_lock(&loop_lock);
    if (loop_users > 0 && --loop_users == 0) {
        cq = loop_cq;
        thread = loop_thread;
        loop_cq = NULL;
    }
    pthread_mutex_unlock(&loop_lock);
    if (cq) {
        grpc_completion_queue_shutdown(cq);
        pthread_join(thread, NULL);
        grpc_completion_queue_destroy(cq);
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
