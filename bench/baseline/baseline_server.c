/* baseline_server.c - gRPC core server set-up shared by the reference servers:
 * the channel arguments, method registration and start-up of the otlp receiver,
 * signal handling and the stats file. Called from each server's main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/baseline/baseline_server.h"

const char *const bl_method_paths[BL_SIGNALS] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

static sigset_t bl_sigs;

void bl_init(void)
{
    sigemptyset(&bl_sigs);
    sigaddset(&bl_sigs, SIGINT);
    sigaddset(&bl_sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &bl_sigs, NULL);
    grpc_init();
}

int bl_server_start(struct bl_server *s, const char *endpoint, int max_recv_mib)
{
    grpc_arg args[2];
    grpc_channel_args chargs = {.num_args = 2, .args = args};
    grpc_server_credentials *creds;
    int port;

    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = max_recv_mib * 1024 * 1024;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_ALLOW_REUSEPORT;
    args[1].value.integer = 0;
    s->server = grpc_server_create(&chargs, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    for (int i = 0; i < BL_SIGNALS; i++) {
        s->method[i] = grpc_server_register_method(s->server, bl_method_paths[i], NULL,
                                                   GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    }
    creds = grpc_insecure_server_credentials_create();
    port = grpc_server_add_http2_port(s->server, endpoint, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        fprintf(stderr, "baseline: cannot listen on %s\n", endpoint);
        return -1;
    }
    grpc_server_start(s->server);
    return 0;
}

void bl_wait_for_signal(void)
{
    int sig;

    while (sigwait(&bl_sigs, &sig) != 0) {
    }
}

void bl_write_stats(const struct bl_server *s, const char *line)
{
    char tmp[4096];
    FILE *f;

    if (!s->stats_path) {
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->stats_path);
    f = fopen(tmp, "w");
    if (!f) {
        return;
    }
    fprintf(f, "%s\n", line);
    if (fclose(f) == 0) {
        rename(tmp, s->stats_path);
    }
}

uint64_t bl_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
