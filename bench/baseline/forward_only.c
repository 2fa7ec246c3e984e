/* forward_only.c - baseline_forward: the forward-only reference server. Receives
 * OTLP/gRPC Export calls with the otlp receiver's gRPC core code, sends the same
 * bytes unchanged to a downstream OTLP/gRPC server through the gRPC core client,
 * and answers the upstream call with the downstream's status and response once
 * it arrives. Decodes nothing: the least any forwarding collector can cost.
 * One completion-queue thread runs both the server and the client calls; the
 * main thread waits for SIGINT/SIGTERM.
 * Usage: baseline_forward --downstream HOST:PORT [--endpoint HOST:PORT] [--gzip] */
/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/baseline/baseline_server.h"

enum fw_state { FW_REQUESTED, FW_FORWARDING, FW_ANSWERING };

struct fw_call {
    enum fw_state       state;
    int                 signal;
    /* upstream (server side) */
    grpc_call          *call;
    gpr_timespec        deadline;
    grpc_metadata_array md;
    grpc_byte_buffer   *payload;
    int                 cancelled;
    /* downstream (client side) */
    grpc_call          *down;
    grpc_byte_buffer   *down_reply;
    grpc_metadata_array down_md_initial;
    grpc_metadata_array down_md_trailing;
    grpc_status_code    down_status;
    grpc_slice          down_details;
    grpc_byte_buffer   *empty; /* sent when the upstream call had no message */
};

static struct bl_server srv;
static grpc_channel *downstream;
static atomic_bool shutting_down;
static bool server_done;
static int live_calls;
static uint64_t n_requests, n_bytes, n_down_errors;
static void *const shutdown_tag = &srv;

static void fw_request(struct fw_call *c)
{
    grpc_call_error err;

    memset(&c->md, 0, sizeof(c->md));
    grpc_metadata_array_init(&c->md);
    c->state = FW_REQUESTED;
    c->call = NULL;
    c->payload = NULL;
    c->down = NULL;
    c->down_reply = NULL;
    c->empty = NULL;
    err = grpc_server_request_registered_call(srv.server, srv.method[c->signal], &c->call,
                                              &c->deadline, &c->md, &c->payload, srv.cq, srv.cq,
                                              c);
    if (err != GRPC_CALL_OK) {
        fprintf(stderr, "baseline_forward: cannot request a call: error %d\n", err);
        return;
    }
    live_calls++;
}

static void fw_cleanup(struct fw_call *c)
{
    if (c->payload) {
        grpc_byte_buffer_destroy(c->payload);
        c->payload = NULL;
    }
    if (c->empty) {
        grpc_byte_buffer_destroy(c->empty);
        c->empty = NULL;
    }
    if (c->down_reply) {
        grpc_byte_buffer_destroy(c->down_reply);
        c->down_reply = NULL;
    }
    if (c->down) {
        grpc_metadata_array_destroy(&c->down_md_initial);
        grpc_metadata_array_destroy(&c->down_md_trailing);
        grpc_slice_unref(c->down_details);
        grpc_call_unref(c->down);
        c->down = NULL;
    }
    grpc_metadata_array_destroy(&c->md);
    if (c->call) {
        grpc_call_unref(c->call);
        c->call = NULL;
    }
}

/* Sends the request's bytes, as received, to the same method downstream. The
 * upstream call is the parent: its deadline and cancellation carry over. */
static bool fw_forward(struct fw_call *c)
{
    grpc_op ops[6];
    grpc_slice method = grpc_slice_from_static_string(bl_method_paths[c->signal]);
    grpc_byte_buffer *msg = c->payload;

    if (!msg) {
        grpc_slice empty = grpc_empty_slice();
        c->empty = grpc_raw_byte_buffer_create(&empty, 1);
        msg = c->empty;
    }
    grpc_metadata_array_init(&c->down_md_initial);
    grpc_metadata_array_init(&c->down_md_trailing);
    c->down_details = grpc_empty_slice();
    c->down_status = GRPC_STATUS_UNKNOWN;
    c->down = grpc_channel_create_call(downstream, c->call, GRPC_PROPAGATE_DEFAULTS, srv.cq,
                                       method, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = msg;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->down_md_initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->down_reply;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->down_md_trailing;
    ops[5].data.recv_status_on_client.status = &c->down_status;
    ops[5].data.recv_status_on_client.status_details = &c->down_details;
    c->state = FW_FORWARDING;
    return grpc_call_start_batch(c->down, ops, 6, c, NULL) == GRPC_CALL_OK;
}

/* Answers upstream with what downstream said. */
static bool fw_answer(struct fw_call *c)
{
    grpc_op ops[4];
    grpc_op *op = ops;

    memset(ops, 0, sizeof(ops));
    if (c->down_status != GRPC_STATUS_OK) {
        n_down_errors++;
    }
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op++;
    if (c->down_status == GRPC_STATUS_OK) {
        if (!c->down_reply) {
            grpc_slice empty = grpc_empty_slice();
            c->down_reply = grpc_raw_byte_buffer_create(&empty, 1);
        }
        op->op = GRPC_OP_SEND_MESSAGE;
        op->data.send_message.send_message = c->down_reply;
        op++;
    }
    op->op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op->data.send_status_from_server.status = c->down_status;
    op->data.send_status_from_server.status_details =
        GRPC_SLICE_LENGTH(c->down_details) ? &c->down_details : NULL;
    op++;
    op->op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op->data.recv_close_on_server.cancelled = &c->cancelled;
    op++;
    c->state = FW_ANSWERING;
    return grpc_call_start_batch(c->call, ops, (size_t)(op - ops), c, NULL) == GRPC_CALL_OK;
}

static void fw_maybe_finish_shutdown(void)
{
    if (server_done && live_calls == 0) {
        grpc_completion_queue_shutdown(srv.cq);
    }
}

static void fw_event(struct fw_call *c, bool ok)
{
    switch (c->state) {
    case FW_REQUESTED:
        if (!ok) { /* shutdown: a pre-requested call that never arrived */
            fw_cleanup(c);
            live_calls--;
            free(c);
            fw_maybe_finish_shutdown();
            return;
        }
        n_requests++;
        n_bytes += c->payload ? grpc_byte_buffer_length(c->payload) : 0;
        if (fw_forward(c)) {
            return;
        }
        break;
    case FW_FORWARDING:
        if (fw_answer(c)) {
            return;
        }
        break;
    case FW_ANSWERING:
        break;
    }
    fw_cleanup(c);
    live_calls--;
    if (atomic_load(&shutting_down)) {
        free(c);
        fw_maybe_finish_shutdown();
        return;
    }
    fw_request(c);
}

static void fw_stats_line(char *buf, size_t len)
{
    snprintf(buf, len, "requests=%llu bytes=%llu downstream_errors=%llu",
             (unsigned long long)n_requests, (unsigned long long)n_bytes,
             (unsigned long long)n_down_errors);
}

static void *fw_loop(void *arg)
{
    uint64_t next_stats = bl_now_ns() + 1000000000u;
    char line[256];

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
                server_done = true;
                fw_maybe_finish_shutdown();
            } else {
                fw_event(ev.tag, ev.success != 0);
            }
        }
        now = bl_now_ns();
        if (now >= next_stats) {
            fw_stats_line(line, sizeof(line));
            bl_write_stats(&srv, line);
            next_stats = now + 1000000000u;
        }
    }
    return NULL;
}

static grpc_channel *fw_open_downstream(const char *target, bool gzip)
{
    grpc_arg args[2];
    grpc_channel_args chargs = {.num_args = 1, .args = args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch;

    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = 64 * 1024 * 1024;
    if (gzip) {
        args[1].type = GRPC_ARG_INTEGER;
        args[1].key = GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM;
        args[1].value.integer = GRPC_COMPRESS_GZIP;
        chargs.num_args++;
    }
    ch = grpc_channel_create(target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    return ch;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"downstream", required_argument, NULL, 'd'},
        {"gzip", no_argument, NULL, 'g'},
        {"stats", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *endpoint = "localhost:4317", *down = NULL;
    bool gzip = false;
    pthread_t thread;
    char line[256];
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': endpoint = optarg; break;
        case 'd': down = optarg; break;
        case 'g': gzip = true; break;
        case 's': srv.stats_path = optarg; break;
        case 'h':
            printf("usage: baseline_forward --downstream HOST:PORT [--endpoint HOST:PORT] "
                   "[--gzip] [--stats FILE]\n"
                   "Forwards OTLP/gRPC Export calls, bytes unchanged, to the downstream.\n");
            return 0;
        default: return 2;
        }
    }
    if (!down) {
        fprintf(stderr, "baseline_forward: --downstream HOST:PORT is required\n");
        return 2;
    }
    bl_init();
    downstream = fw_open_downstream(down, gzip);
    if (bl_server_start(&srv, endpoint, 64) != 0) {
        return 1;
    }
    for (int s = 0; s < BL_SIGNALS; s++) {
        for (int i = 0; i < BL_CALLS_PER_METHOD; i++) {
            struct fw_call *fc = calloc(1, sizeof(*fc));
            if (!fc) {
                return 1;
            }
            fc->signal = s;
            fw_request(fc);
        }
    }
    if (pthread_create(&thread, NULL, fw_loop, NULL) != 0) {
        return 1;
    }
    fprintf(stderr, "baseline_forward: listening on %s, forwarding to %s%s\n", endpoint, down,
            gzip ? " (gzip)" : "");
    bl_wait_for_signal();
    atomic_store(&shutting_down, true);
    grpc_server_shutdown_and_notify(srv.server, srv.cq, shutdown_tag);
    grpc_server_cancel_all_calls(srv.server);
    pthread_join(thread, NULL);
    grpc_server_destroy(srv.server);
    grpc_completion_queue_destroy(srv.cq);
    grpc_channel_destroy(downstream);
    fw_stats_line(line, sizeof(line));
    bl_write_stats(&srv, line);
    fprintf(stderr, "baseline_forward: %s\n", line);
    grpc_shutdown();
    return 0;
}
