/* otc_grpc_loop.h - the process's gRPC completion queues and the threads that
 * drive them (one per usable CPU), shared by the OTLP/gRPC receivers (server
 * calls, spread over every queue) and the otlp exporter (client calls, on the
 * queue of the thread that starts them), so that a request and the call
 * forwarding it complete on the same thread, as in the forward-only baseline.
 * Any thread may start calls on them; a handler runs on its queue's loop thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_GRPC_LOOP_H
#define OTC_INCLUDE_GRPC_LOOP_H

#include <grpc/grpc.h>
#include <stdbool.h>

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

#define OTC_GRPC_LOOPS_MAX 16

/* Before the first otc_grpc_loop_get: how many loop threads (0: one per CPU
 * the process may use; at most OTC_GRPC_LOOPS_MAX). */
void otc_grpc_loop_set_threads(unsigned n);
/* The loops, started by the first user; loop 0's queue, or NULL when out of
 * memory. Each successful call needs one otc_grpc_loop_put. A server
 * registers every loop's queue (otc_grpc_loop_cq) before grpc_server_start. */
grpc_completion_queue *otc_grpc_loop_get(void);
/* Loops running, and loop i's queue (between a get and its put). */
unsigned               otc_grpc_loop_count(void);
grpc_completion_queue *otc_grpc_loop_cq(unsigned i);
/* The queue for a call started now: on a loop thread its own (the call ends
 * on the thread that started it, with no hand-off), elsewhere the next loop
 * in turn. */
grpc_completion_queue *otc_grpc_loop_here(void);
/* Done with the queue: every call and server of the caller must have ended.
 * The last user shuts the queue down and joins the thread. */
void otc_grpc_loop_put(void);
/* Run tick->fn on loop 0's thread, about every 100 ms, until removed (the caller owns tick). */
void otc_grpc_loop_add_tick(struct otc_grpc_tick *tick);
/* Remove tick; once this returns, tick->fn is not running and will not run. */
void otc_grpc_loop_remove_tick(struct otc_grpc_tick *tick);

/* Channel and server arguments, appended to ca->args (the caller's array has
 * room for every one it may add): an integer (capped at INT32_MAX), a duration
 * given in ns as milliseconds rounded up (nothing when ns <= 0), a string (not
 * copied). */
void otc_grpc_arg_int(grpc_channel_args *ca, const char *key, int64_t v);
void otc_grpc_arg_ms(grpc_channel_args *ca, const char *key, int64_t ns);
void otc_grpc_arg_str(grpc_channel_args *ca, const char *key, const char *v);

#endif
