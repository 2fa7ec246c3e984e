/* receive_only.c - baseline_receive: the receive-only reference server. Serves the
 * three OTLP/gRPC Export methods with the otlp receiver's gRPC core code and
 * answers OK without decoding; counts requests and bytes only. The least any
 * OTLP/gRPC server can cost. One completion-queue thread serves every call; the
 * main thread waits for SIGINT/SIGTERM.
 * Usage: baseline_receive [--endpoint HOST:PORT] [--stats FILE] */
/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/baseline/baseline_server.h"

enum rc_state { RC_REQUESTED, RC_ANSWERING };

struct rc_call {
    enum rc_state       state;
    int                 signal;
    grpc_call          *call;
    gpr_timespec        deadline;
    grpc_metadata_array md;
    grpc_byte_buffer   *payload;
    grpc_byte_buffer   *reply;
    int                 cancelled;
};

static struct bl_server srv;
static atomic_bool shutting_down;
static int live_calls;
static uint64_t n_requests[BL_SIGNALS], n_bytes[BL_SIGNALS];
static void *const shutdown_tag = &srv;

static void rc_request(struct rc_call *c)
{
    grpc_call_error err;

    grpc_metadata_array_init(&c->md);
    c->state = RC_REQUESTED;
    c->call = NULL;
    c->payload = NULL;
    c->reply = NULL;
    err = grpc_server_request_registered_call(srv.server, srv.method[c->signal], &c->call,
                                              &c->deadline, &c->md, &c->payload, srv.cq, srv.cq,
                                              c);
    if (err != GRPC_CALL_OK) {
        fprintf(stderr, "baseline_receive: cannot request a call: error %d\n", err);
        return;
    }
    live_calls++;
}

static void rc_cleanup(struct rc_call *c)
{
    if (c->payload) {
        grpc_byte_buffer_destroy(c->payload);
        c->payload = NULL;
    }
    if (c->reply) {
        grpc_byte_buffer_destroy(c->reply);
        c->reply = NULL;
    }
    grpc_metadata_array_destroy(&c->md);
    if (c->call) {
        grpc_call_unref(c->call);
        c->call = NULL;
    }
}

/* OK with an empty ExportXServiceResponse, as the otlp receiver answers. */
static void rc_answer(struct rc_call *c)
{
    grpc_op ops[4];
    grpc_slice empty = grpc_empty_slice();

    memset(ops, 0, sizeof(ops));
    c->reply = grpc_raw_byte_buffer_create(&empty, 1);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->reply;
    ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
    ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[3].data.recv_close_on_server.cancelled = &c->cancelled;
    c->state = RC_ANSWERING;
    if (grpc_call_start_batch(c->call, ops, 4, c, NULL) != GRPC_CALL_OK) {
        c->state = RC_REQUESTED;
    }
}

static void rc_event(struct rc_call *c, bool ok)
{
    if (c->state == RC_REQUESTED) {
        if (!ok) { /* shutdown: a pre-requested call that never arrived */
            rc_cleanup(c);
            live_calls--;
            free(c);
            return;
        }
        n_requests[c->signal]++;
        n_bytes[c->signal] += c->payload ? grpc_byte_buffer_length(c->payload) : 0;
        rc_answer(c);
        if (c->state == RC_ANSWERING) {
            return;
        }
    }
    rc_cleanup(c);
    live_calls--;
    if (atomic_load(&shutting_down)) {
        free(c);
        return;
    }
    rc_request(c);
}

static void rc_stats_line(char *buf, size_t len)
{
    uint64_t r = 0, b = 0;

    for (int i = 0; i < BL_SIGNALS; i++) {
        r += n_requests[i];
        b += n_bytes[i];
    }
    snprintf(buf, len,
             "requests=%llu bytes=%llu traces_requests=%llu metrics_requests=%llu "
             "logs_requests=%llu",
             (unsigned long long)r, (unsigned long long)b, (unsigned long long)n_requests[0],
             (unsigned long long)n_requests[1], (unsigned long long)n_requests[2]);
}

static void *rc_loop(void *arg)
{
    uint64_t next_stats = bl_now_ns() + 1000000000u;
    char line[512];

    (void)arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(
            srv.cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(1000, GPR_TIMESPAN)),
            NULL);
        uint64_t now;

        if (ev.type == GRPC_QUEUE_SHUTDOWN) {
            break;
        }
        if (ev.type == GRPC_OP_COMPLETE) {
            if (ev.tag == shutdown_tag) {
                grpc_completion_queue_shutdown(srv.cq);
            } else {
                rc_event(ev.tag, ev.success != 0);
            }
        }
        now = bl_now_ns();
        if (now >= next_stats) {
            rc_stats_line(line, sizeof(line));
            bl_write_stats(&srv, line);
            next_stats = now + 1000000000u;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"stats", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *endpoint = "localhost:4317";
    pthread_t thread;
    char line[512];
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': endpoint = optarg; break;
        case 's': srv.stats_path = optarg; break;
        case 'h':
            printf("usage: baseline_receive [--endpoint HOST:PORT] [--stats FILE]\n"
                   "Answers OK to OTLP/gRPC Export calls without decoding them.\n");
            return 0;
        default: return 2;
        }
    }
    bl_init();
    if (bl_server_start(&srv, endpoint, 64) != 0) {
        return 1;
    }
    for (int s = 0; s < BL_SIGNALS; s++) {
        for (int i = 0; i < BL_CALLS_PER_METHOD; i++) {
            struct rc_call *rc = calloc(1, sizeof(*rc));
            if (!rc) {
                return 1;
            }
            rc->signal = s;
            rc_request(rc);
        }
    }
    if (pthread_create(&thread, NULL, rc_loop, NULL) != 0) {
        return 1;
    }
    fprintf(stderr, "baseline_receive: listening on %s\n", endpoint);
    bl_wait_for_signal();
    atomic_store(&shutting_down, true);
    grpc_server_shutdown_and_notify(srv.server, srv.cq, shutdown_tag);
    grpc_server_cancel_all_calls(srv.server);
    pthread_join(thread, NULL);
    grpc_server_destroy(srv.server);
    grpc_completion_queue_destroy(srv.cq);
    rc_stats_line(line, sizeof(line));
    bl_write_stats(&srv, line);
    fprintf(stderr, "baseline_receive: %s\n", line);
    grpc_shutdown();
    return 0;
}
