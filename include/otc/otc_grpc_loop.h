/* otc_grpc_loop.h - the process's gRPC completion queue and the threads that
 * drive it (up to one per usable CPU; those above the first poll only while
 * the first cannot keep up), shared by the OTLP/gRPC receivers (server calls)
 * and the otlp exporter (client calls): the thread that reads a completion
 * runs its handler, with no hand-off between threads per request. Any thread
 * may start calls on it; a handler runs on whichever loop thread reads it.
 * A handler may also defer work to later on its own loop thread
 * (otc_grpc_timer), e.g. to answer a call later without blocking the loop. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_GRPC_LOOP_H
#define OTC_INCLUDE_GRPC_LOOP_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stdint.h>

/* What every tag given to the shared queue points at: the handler of its
 * completion (ok: the operation succeeded), run on the loop thread. */
struct otc_grpc_tag {
    void (*done)(struct otc_grpc_tag *tag, bool ok);
};

/* A function the loop thread runs about every 100 ms, busy or not. */
struct otc_grpc_tick {
    void (*fn)(void *arg);
    void *arg;
    struct otc_grpc_tick *next;
};

/* A function a loop thread runs once, at or soon after at_ns (the clock of
 * otc_grpc_loop_now_ns): set with otc_grpc_loop_defer on that loop thread.
 * The caller owns the struct; next is the loop's. */
struct otc_grpc_timer {
    void (*fn)(struct otc_grpc_timer *timer);
    int64_t at_ns;
    struct otc_grpc_timer *next;
};

#define OTC_GRPC_LOOPS_MAX 16

/* Before the first otc_grpc_loop_get: how many loop threads (0: one per CPU
 * the process may use; at most OTC_GRPC_LOOPS_MAX). */
void otc_grpc_loop_set_threads(unsigned n);
/* The loops, started by the first user; the shared queue, or NULL when out
 * of memory. Each successful call needs one otc_grpc_loop_put. A server
 * registers the queue before grpc_server_start. */
grpc_completion_queue *otc_grpc_loop_get(void);
/* The shared queue (between a get and its put). */
grpc_completion_queue *otc_grpc_loop_cq(void);
/* Loop threads running, and how many of them poll now (1 .. count). */
unsigned               otc_grpc_loop_count(void);
unsigned               otc_grpc_loop_active(void);
/* Done with the queue: every call and server of the caller must have ended.
 * The last user shuts the queue down and joins the threads. */
void otc_grpc_loop_put(void);
/* The choice loop 0 makes every tick: how many loops poll next, from k
 * polling now (of n) and their summed demand (CPU time plus run-queue wait,
 * as shares of the tick); st carries the counts of ticks in a row. */
struct otc_grpc_loop_policy {
    unsigned hot, calm, fits;
};
unsigned otc_grpc_loop_decide(struct otc_grpc_loop_policy *st, unsigned k, unsigned n, double sum);
/* Run tick->fn on loop 0's thread, about every 100 ms, until removed (the caller owns tick). */
void otc_grpc_loop_add_tick(struct otc_grpc_tick *tick);
/* Remove tick; once this returns, tick->fn is not running and will not run. */
void otc_grpc_loop_remove_tick(struct otc_grpc_tick *tick);

/* Now on the clock of the loop timers (CLOCK_MONOTONIC, ns). Any thread. */
int64_t otc_grpc_loop_now_ns(void);
/* On a loop thread only (a completion handler or a timer's fn): run
 * timer->fn(timer) on this same thread once otc_grpc_loop_now_ns() >= at_ns
 * (timers due at once run after the current handler returns, earliest
 * first). A polling loop waits for the queue no longer than its earliest
 * timer; a loop above 0 that stops polling still wakes for its timers.
 * OTC_EINVAL (nothing deferred) on any other thread. A timer still pending
 * when the last otc_grpc_loop_put stops the loops never runs: its owner ends
 * its timers before that put. */
int  otc_grpc_loop_defer(struct otc_grpc_timer *timer, int64_t at_ns);
/* On the loop thread that deferred timer: it will not run (no-op when it is
 * not pending). */
void otc_grpc_loop_cancel(struct otc_grpc_timer *timer);
/* Timers pending on this loop thread (0 on any other thread). */
unsigned otc_grpc_loop_timers(void);

/* Channel and server arguments, appended to ca->args (the caller's array has
 * room for every one it may add): an integer (capped at INT32_MAX), a duration
 * given in ns as milliseconds rounded up (nothing when ns <= 0), a string (not
 * copied). */
void otc_grpc_arg_int(grpc_channel_args *ca, const char *key, int64_t v);
void otc_grpc_arg_ms(grpc_channel_args *ca, const char *key, int64_t ns);
void otc_grpc_arg_str(grpc_channel_args *ca, const char *key, const char *v);

#endif
