/* baseline_server.h - the gRPC core server set-up the reference servers share with
 * the otlp receiver (receiver/otlp/otlp_receiver.c): same channel arguments,
 * registered Export methods read with their payload, one completion-queue
 * thread, the same shutdown sequence. Used by baseline_receive and baseline_forward. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_BENCH_BASELINE_SERVER_H
#define OTC_BENCH_BASELINE_SERVER_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stdint.h>

#define BL_SIGNALS          3
#define BL_CALLS_PER_METHOD 32 /* as the otlp receiver's CALLS_PER_METHOD */

extern const char *const bl_method_paths[BL_SIGNALS];

struct bl_server {
    grpc_server           *server;
    grpc_completion_queue *cq;
    void                  *method[BL_SIGNALS];
    const char            *stats_path; /* rewritten once a second when set */
};

/* Blocks SIGINT and SIGTERM (gRPC's threads inherit the mask), then grpc_init. */
void bl_init(void);
/* Creates, binds and starts the server; cq is registered. 0 or -1 (logged). */
int bl_server_start(struct bl_server *s, const char *endpoint, int max_recv_mib);
/* Blocks until SIGINT or SIGTERM. */
void bl_wait_for_signal(void);
/* Writes "key=value ..." lines atomically to s->stats_path (if set). */
void bl_write_stats(const struct bl_server *s, const char *line);
uint64_t bl_now_ns(void);

#endif
