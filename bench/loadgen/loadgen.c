/* loadgen.c - otlp_loadgen: an OTLP/gRPC load generator on the gRPC core client
 * API. Keeps up to --concurrency Export calls in flight at --rate requests/s (0 =
 * as fast as the server answers), reports progress once a second on stderr and
 * ends with throughput, latency percentiles and a count per gRPC status. One
 * thread drives every call through one completion queue.
 * Usage: otlp_loadgen --help */
/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/loadgen_requests.h"

#define STATUS_SLOTS 18 /* gRPC codes 0..16, and one for anything else */
#define TAG_CONNECT  ((void *)1)

struct options {
    const char     *endpoint;
    struct lg_shape shape;
    size_t          concurrency;
    size_t          connections;
    double          rate;
    double          duration;
    uint64_t        requests;
    double          timeout;
    size_t          pool;
    bool            gzip;
    bool            quiet;
};

struct lg_call {
    grpc_call          *call;
    grpc_byte_buffer   *send;
    grpc_byte_buffer   *recv;
    grpc_metadata_array md_initial;
    grpc_metadata_array md_trailing;
    grpc_status_code    status;
    grpc_slice          details;
    uint64_t            t0;
    size_t              items;
    size_t              len;      /* request bytes, before compression */
    struct lg_call     *next_free;
};

struct stats {
    uint64_t  sent;
    uint64_t  done;
    uint64_t  ok;
    uint64_t  errors;
    uint64_t  ok_items;
    uint64_t  bytes;
    uint64_t  status[STATUS_SLOTS];
    char      first_error[STATUS_SLOTS][160];
    uint32_t *lat_us;   /* one entry per finished call */
    size_t    n_lat;
    size_t    cap_lat;
};

static volatile sig_atomic_t stop_requested;

static const char *const status_names[STATUS_SLOTS] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED", "OTHER"};

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static gpr_timespec deadline_in(uint64_t ns)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_nanos((int64_t)ns, GPR_TIMESPAN));
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: otlp_loadgen [options]\n"
            "  --endpoint HOST:PORT     OTLP/gRPC server (default localhost:4317)\n"
            "  --signal S               traces | metrics | logs (default traces)\n"
            "  --items N                spans, data points or log records per request (100)\n"
            "  --attrs N                string attributes per item (10)\n"
            "  --attr-size N            bytes per attribute value (20)\n"
            "  --distinct-traces N      trace ids per request, traces and logs (10)\n"
            "  --concurrency N          Export calls in flight (8)\n"
            "  --connections N          HTTP/2 connections the calls are spread over (1)\n"
            "  --rate R                 requests per second, 0 = as fast as possible (0)\n"
            "  --duration S             seconds to send for (10), or\n"
            "  --requests N             requests to send (overrides --duration)\n"
            "  --timeout S              deadline of each call (10)\n"
            "  --pool N                 distinct pre-built requests cycled through (16)\n"
            "  --gzip                   compress requests with gzip\n"
            "  --quiet                  no progress line\n"
            "Every request sent gets fresh trace ids (metrics: timestamps), so none is a\n"
            "duplicate of another. The last line of stdout is machine-readable:\n"
            "RESULT key=value ...\n");
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    if (!*s || *end) {
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"signal", required_argument, NULL, 's'},
        {"items", required_argument, NULL, 'i'},
        {"attrs", required_argument, NULL, 'a'},
        {"attr-size", required_argument, NULL, 'z'},
        {"distinct-traces", required_argument, NULL, 't'},
        {"concurrency", required_argument, NULL, 'c'},
        {"connections", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'R'},
        {"timeout", required_argument, NULL, 'T'},
        {"pool", required_argument, NULL, 'p'},
        {"gzip", no_argument, NULL, 'g'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    size_t v;

    *o = (struct options){
        .endpoint = "localhost:4317",
        .shape = {.signal = LG_TRACES, .items = 100, .attrs = 10, .attr_size = 20,
                  .distinct_traces = 10},
        .concurrency = 8,
        .connections = 1,
        .duration = 10,
        .timeout = 10,
        .pool = 16,
    };
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': o->endpoint = optarg; break;
        case 's':
            if (!strcmp(optarg, "traces")) {
                o->shape.signal = LG_TRACES;
            } else if (!strcmp(optarg, "metrics")) {
                o->shape.signal = LG_METRICS;
            } else if (!strcmp(optarg, "logs")) {
                o->shape.signal = LG_LOGS;
            } else {
                fprintf(stderr, "loadgen: --signal must be traces, metrics or logs\n");
                return -1;
            }
            break;
        case 'i': case 'a': case 'z': case 't': case 'c': case 'n': case 'R': case 'p':
            if (parse_size(optarg, &v) != 0) {
                fprintf(stderr, "loadgen: %s is not a non-negative integer\n", optarg);
                return -1;
            }
            if (c == 'i') {
                o->shape.items = v;
            } else if (c == 'a') {
                o->shape.attrs = v;
            } else if (c == 'z') {
                o->shape.attr_size = v;
            } else if (c == 't') {
                o->shape.distinct_traces = v;
            } else if (c == 'c') {
                o->concurrency = v;
            } else if (c == 'n') {
                o->connections = v;
            } else if (c == 'R') {
                o->requests = v;
            } else {
                o->pool = v;
            }
            break;
        case 'r': case 'd': case 'T': {
            char *end;
            double d = strtod(optarg, &end);
            if (!*optarg || *end || d < 0 || !isfinite(d)) {
                fprintf(stderr, "loadgen: %s is not a non-negative number\n", optarg);
                return -1;
            }
            if (c == 'r') {
                o->rate = d;
            } else if (c == 'd') {
                o->duration = d;
            } else {
                o->timeout = d;
            }
            break;
        }
        case 'g': o->gzip = true; break;
        case 'q': o->quiet = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loadgen: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    if (o->concurrency == 0 || o->connections == 0 || o->pool == 0 || o->shape.items == 0 ||
        o->shape.items > 1000000 || o->shape.attrs > 10000 || o->shape.attr_size > 1000000) {
        fprintf(stderr, "loadgen: --concurrency, --connections, --pool and --items must be "
                        "at least 1 (and items <= 1e6, attrs <= 1e4, attr-size <= 1e6)\n");
        return -1;
    }
    if (o->duration == 0 && o->requests == 0) {
        fprintf(stderr, "loadgen: give --duration or --requests\n");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ channels */

static grpc_channel *open_channel(const struct options *o)
{
    grpc_arg args[3];
    grpc_channel_args chargs = {.num_args = 0, .args = args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch;

    args[chargs.num_args].type = GRPC_ARG_INTEGER;
    args[chargs.num_args].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[chargs.num_args].value.integer = 64 * 1024 * 1024;
    chargs.num_args++;
    /* one connection per channel, not one shared by all channels */
    args[chargs.num_args].type = GRPC_ARG_INTEGER;
    args[chargs.num_args].key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
    args[chargs.num_args].value.integer = 1;
    chargs.num_args++;
    if (o->gzip) {
        args[chargs.num_args].type = GRPC_ARG_INTEGER;
        args[chargs.num_args].key = GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM;
        args[chargs.num_args].value.integer = GRPC_COMPRESS_GZIP;
        chargs.num_args++;
    }
    ch = grpc_channel_create(o->endpoint, creds, &chargs);
    grpc_channel_credentials_release(creds);
    return ch;
}

/* Waits until every channel is connected; false after timeout_s. */
static bool wait_ready(grpc_channel **ch, size_t n, grpc_completion_queue *cq, double timeout_s)
{
    uint64_t end = now_ns() + (uint64_t)(timeout_s * 1e9);

    for (size_t i = 0; i < n; i++) {
        for (;;) {
            grpc_connectivity_state st = grpc_channel_check_connectivity_state(ch[i], 1);
            grpc_event ev;
            uint64_t now = now_ns();

            if (st == GRPC_CHANNEL_READY) {
                break;
            }
            if (now >= end || stop_requested) {
                return false;
            }
            grpc_channel_watch_connectivity_state(ch[i], st, deadline_in(end - now), cq,
                                                  TAG_CONNECT);
            do {
                ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
            } while (ev.type == GRPC_OP_COMPLETE && ev.tag != TAG_CONNECT);
        }
    }
    return true;
}

/* ------------------------------------------------------------ calls */

static int call_start(struct lg_call *c, grpc_channel *ch, grpc_completion_queue *cq,
                      grpc_slice method, const struct options *o, const struct lg_pool *pool,
                      uint64_t seq)
{
    const struct lg_request *r = &pool->req[seq % pool->n];
    grpc_slice payload = grpc_slice_malloc(r->len);
    grpc_op ops[6];
    grpc_call_error err;

    lg_request_stamp(pool, r, seq, GRPC_SLICE_START_PTR(payload));
    c->send = grpc_raw_byte_buffer_create(&payload, 1);
    grpc_slice_unref(payload);
    c->recv = NULL;
    grpc_metadata_array_init(&c->md_initial);
    grpc_metadata_array_init(&c->md_trailing);
    c->details = grpc_empty_slice();
    c->status = GRPC_STATUS_UNKNOWN;
    c->items = pool->shape.items;
    c->len = r->len;
    c->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                       deadline_in((uint64_t)(o->timeout * 1e9)), NULL);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->md_initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->md_trailing;
    ops[5].data.recv_status_on_client.status = &c->status;
    ops[5].data.recv_status_on_client.status_details = &c->details;
    c->t0 = now_ns();
    err = grpc_call_start_batch(c->call, ops, 6, c, NULL);
    if (err != GRPC_CALL_OK) {
        fprintf(stderr, "loadgen: grpc_call_start_batch failed: %d\n", err);
        return -1;
    }
    return 0;
}

static void record_latency(struct stats *st, uint64_t ns)
{
    uint64_t us = ns / 1000;

    if (st->n_lat == st->cap_lat) {
        size_t cap = st->cap_lat ? st->cap_lat * 2 : 65536;
        uint32_t *v = realloc(st->lat_us, cap * sizeof(*v));
        if (!v) {
            return;
        }
        st->lat_us = v;
        st->cap_lat = cap;
    }
    st->lat_us[st->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void call_finish(struct lg_call *c, struct stats *st)
{
    unsigned code = (unsigned)c->status < STATUS_SLOTS - 1 ? (unsigned)c->status
                                                           : STATUS_SLOTS - 1;

    record_latency(st, now_ns() - c->t0);
    st->done++;
    st->status[code]++;
    if (c->status == GRPC_STATUS_OK) {
        st->ok++;
        st->ok_items += c->items;
        st->bytes += c->len;
    } else {
        st->errors++;
        if (!st->first_error[code][0]) {
            snprintf(st->first_error[code], sizeof(st->first_error[code]), "%.*s",
                     (int)GRPC_SLICE_LENGTH(c->details),
                     (const char *)GRPC_SLICE_START_PTR(c->details));
            if (!st->first_error[code][0]) {
                snprintf(st->first_error[code], sizeof(st->first_error[code]), "(no message)");
            }
        }
    }
    grpc_byte_buffer_destroy(c->send);
    if (c->recv) {
        grpc_byte_buffer_destroy(c->recv);
    }
    grpc_metadata_array_destroy(&c->md_initial);
    grpc_metadata_array_destroy(&c->md_trailing);
    grpc_slice_unref(c->details);
    grpc_call_unref(c->call);
    c->call = NULL;
}

/* ------------------------------------------------------------ report */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const struct stats *st, double p)
{
    size_t i;

    if (st->n_lat == 0) {
        return 0;
    }
    i = (size_t)ceil(p / 100.0 * (double)st->n_lat);
    i = i ? i - 1 : 0;
    if (i >= st->n_lat) {
        i = st->n_lat - 1;
    }
    return st->lat_us[i] / 1000.0;
}

static void report(const struct options *o, const struct lg_pool *pool, struct stats *st,
                   double secs)
{
    double mean = 0;
    double req_s = secs > 0 ? (double)st->ok / secs : 0;
    double items_s = secs > 0 ? (double)st->ok_items / secs : 0;
    size_t avg_len = 0;

    for (size_t i = 0; i < pool->n; i++) {
        avg_len += pool->req[i].len;
    }
    avg_len /= pool->n;
    qsort(st->lat_us, st->n_lat, sizeof(*st->lat_us), cmp_u32);
    for (size_t i = 0; i < st->n_lat; i++) {
        mean += st->lat_us[i];
    }
    mean = st->n_lat ? mean / (double)st->n_lat / 1000.0 : 0;
    printf("otlp_loadgen: %s to %s, %zu items/request x %zu attributes of %zu bytes, "
           "%zu bytes/request%s\n",
           lg_signal_name(o->shape.signal), o->endpoint, o->shape.items, o->shape.attrs,
           o->shape.attr_size, avg_len, o->gzip ? " (gzip)" : "");
    printf("  concurrency %zu on %zu connection(s), rate %s, %.2f s\n", o->concurrency,
           o->connections, o->rate > 0 ? "limited" : "max", secs);
    if (o->rate > 0) {
        printf("  target rate %.1f requests/s\n", o->rate);
    }
    printf("  requests  %10llu sent, %llu ok, %llu failed\n", (unsigned long long)st->sent,
           (unsigned long long)st->ok, (unsigned long long)st->errors);
    printf("  throughput %10.1f requests/s  %12.0f items/s  %8.2f MB/s\n", req_s, items_s,
           secs > 0 ? (double)st->bytes / secs / 1e6 : 0);
    printf("  latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
           pct_ms(st, 50), pct_ms(st, 90), pct_ms(st, 99), pct_ms(st, 99.9),
           pct_ms(st, 100), mean);
    printf("  status   ");
    for (int i = 0; i < STATUS_SLOTS; i++) {
        if (st->status[i]) {
            printf("  %s %llu", status_names[i], (unsigned long long)st->status[i]);
        }
    }
    printf("\n");
    for (int i = 1; i < STATUS_SLOTS; i++) {
        if (st->first_error[i][0]) {
            printf("  first %s: %s\n", status_names[i], st->first_error[i]);
        }
    }
    printf("RESULT signal=%s items_per_request=%zu attrs=%zu attr_size=%zu bytes_per_request=%zu "
           "gzip=%d concurrency=%zu rate=%.1f seconds=%.3f sent=%llu ok=%llu errors=%llu bytes=%llu "
           "req_per_s=%.1f items_per_s=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
           "max_ms=%.3f mean_ms=%.3f",
           lg_signal_name(o->shape.signal), o->shape.items, o->shape.attrs, o->shape.attr_size,
           avg_len, o->gzip, o->concurrency, o->rate, secs, (unsigned long long)st->sent,
           (unsigned long long)st->ok, (unsigned long long)st->errors,
           (unsigned long long)st->bytes, req_s, items_s,
           pct_ms(st, 50), pct_ms(st, 90), pct_ms(st, 99), pct_ms(st, 99.9), pct_ms(st, 100),
           mean);
    for (int i = 0; i < STATUS_SLOTS; i++) {
        if (st->status[i]) {
            printf(" status_%s=%llu", status_names[i], (unsigned long long)st->status[i]);
        }
    }
    printf("\n");
    fflush(stdout);
}

static void progress(const struct stats *st, uint64_t *last_done, uint64_t *last_items,
                     uint64_t *last_err, double elapsed, double interval, size_t inflight,
                     bool tty)
{
    double rs = (double)(st->done - *last_done) / interval;
    double is = (double)(st->ok_items - *last_items) / interval;

    fprintf(stderr, "%s[%6.1fs] %9.1f req/s %11.0f items/s  in flight %3zu  errors %llu (+%llu)%s",
            tty ? "\r" : "", elapsed, rs, is, inflight, (unsigned long long)st->errors,
            (unsigned long long)(st->errors - *last_err), tty ? "\033[K" : "\n");
    *last_done = st->done;
    *last_items = st->ok_items;
    *last_err = st->errors;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    struct options o;
    struct lg_pool pool;
    struct stats st;
    grpc_completion_queue *cq;
    grpc_channel **ch;
    struct lg_call *calls, *free_list = NULL;
    grpc_slice method;
    uint64_t t_start, t_end_send, next_due, next_tick, interval_ns = 0, now;
    uint64_t last_done = 0, last_items = 0, last_err = 0, last_tick;
    size_t inflight = 0, rr = 0;
    bool sending = true, tty = isatty(2);
    int rc = 0;

    if (parse_args(argc, argv, &o) != 0) {
        return 2;
    }
    memset(&st, 0, sizeof(st));
    if (lg_pool_build(&pool, &o.shape, o.pool, 0x5eed0000u + (uint64_t)getpid()) != 0) {
        fprintf(stderr, "loadgen: cannot build the request pool\n");
        return 2;
    }
    calls = calloc(o.concurrency, sizeof(*calls));
    ch = calloc(o.connections, sizeof(*ch));
    if (!calls || !ch) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < o.concurrency; i++) {
        calls[i].next_free = free_list;
        free_list = &calls[i];
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    grpc_init();
    cq = grpc_completion_queue_create_for_next(NULL);
    for (size_t i = 0; i < o.connections; i++) {
        ch[i] = open_channel(&o);
    }
    if (!wait_ready(ch, o.connections, cq, 10)) {
        fprintf(stderr, "loadgen: cannot connect to %s within 10 s\n", o.endpoint);
        printf("RESULT error=connect endpoint=%s\n", o.endpoint);
        return 3;
    }
    method = grpc_slice_from_static_string(lg_signal_method(o.shape.signal));
    if (o.rate > 0) {
        interval_ns = (uint64_t)(1e9 / o.rate);
    }
    t_start = now_ns();
    t_end_send = o.requests ? UINT64_MAX : t_start + (uint64_t)(o.duration * 1e9);
    next_due = t_start;
    next_tick = t_start + 1000000000u;
    last_tick = t_start;
    for (;;) {
        grpc_event ev;
        uint64_t wait_until;

        now = now_ns();
        if (stop_requested || now >= t_end_send || (o.requests && st.sent >= o.requests)) {
            sending = false;
        }
        while (sending && free_list) {
            struct lg_call *c;

            if (interval_ns) {
                if (next_due > now) {
                    break;
                }
                next_due += interval_ns;
                if (next_due + 100000000u < now) { /* over 100 ms behind: no burst */
                    next_due = now;
                }
            }
            c = free_list;
            free_list = c->next_free;
            if (call_start(c, ch[rr++ % o.connections], cq, method, &o, &pool, st.sent) != 0) {
                rc = 1;
                sending = false;
                c->next_free = free_list;
                free_list = c;
                break;
            }
            st.sent++;
            inflight++;
            if (o.requests && st.sent >= o.requests) {
                sending = false;
            }
        }
        if (!sending && inflight == 0) {
            break;
        }
        wait_until = next_tick;
        if (sending && free_list && interval_ns && next_due < wait_until) {
            wait_until = next_due;
        }
        if (sending && t_end_send < wait_until) {
            wait_until = t_end_send;
        }
        now = now_ns();
        ev = grpc_completion_queue_next(cq, deadline_in(wait_until > now ? wait_until - now : 0),
                                        NULL);
        if (ev.type == GRPC_OP_COMPLETE && ev.tag != TAG_CONNECT) {
            struct lg_call *c = ev.tag;

            if (!ev.success) {
                c->status = GRPC_STATUS_UNKNOWN;
            }
            call_finish(c, &st);
            c->next_free = free_list;
            free_list = c;
            inflight--;
        }
        now = now_ns();
        if (now >= next_tick) {
            if (!o.quiet) {
                progress(&st, &last_done, &last_items, &last_err,
                         (double)(now - t_start) / 1e9, (double)(now - last_tick) / 1e9, inflight,
                         tty);
            }
            last_tick = now;
            next_tick = now + 1000000000u;
        }
    }
    now = now_ns();
    if (!o.quiet && tty) {
        fprintf(stderr, "\n");
    }
    report(&o, &pool, &st, (double)(now - t_start) / 1e9);
    for (size_t i = 0; i < o.connections; i++) {
        grpc_channel_destroy(ch[i]);
    }
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    grpc_shutdown();
    lg_pool_free(&pool);
    free(st.lat_us);
    free(calls);
    free(ch);
    if (rc == 0 && st.ok == 0) {
        rc = 1;
    }
    return rc;
}
