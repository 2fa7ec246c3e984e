/* otc_grpc_loop.h - the process's one gRPC completion queue and the thread
 * that drives it, shared by the OTLP/gRPC receivers (server calls) and the
 * otlp exporter (client calls), so that a request and the call forwarding it
 * complete on the same thread, as in the forward-only baseline.
 * Any thread may start calls on it; the handlers run on the loop thread. */
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

/* The shared queue, started by the first user; NULL when out of memory. Each
 * successful call needs one otc_grpc_loop_put. A server registers the queue
 * before grpc_server_start. */
grpc_completion_queue *otc_grpc_loop_get(void);
/* Done with the queue: every call and server of the caller must have ended.
 * The last user shuts the queue down and joins the thread. */
void otc_grpc_loop_put(void);
/* Run tick->fn on the loop thread until removed (the caller owns tick). */
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
