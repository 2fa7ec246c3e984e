/* bench_load_balancing.c - the load_balancing exporter's cost per span against
 * a pass-through exporter, in one run: each case hands the same undecoded
 * requests (100 spans of 100 traces, 10 attributes each, as the receivers
 * deliver them) to the exporter's consume(); its per-backend otlp exporters
 * are replaced by a sender that only takes the bytes (what the otlp exporter
 * would give gRPC), so the figures are the routing: the walk, the ring and the
 * per-backend requests. The pass-through is that sender alone. Single thread.
 * Arguments: [requests per case] [case: "pass" or an index of cases[]], the
 * latter for instruction counts: valgrind --tool=callgrind
 * --toggle-collect=sender_consume (pass) or --toggle-collect=lb_consume.
 * glibc's mmap and trim thresholds are fixed high first: otherwise whether a
 * freed request goes back to the system (munmap, or a heap trimmed, then page
 * faults on the next allocation: tens of us) changes with the allocator's
 * history, and the pass-through's figure with it (3 to 150 ns/span). */
/* SPDX-License-Identifier: Apache-2.0 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch_builder.h"
#include "exporter/load_balancing/lb_internal.h"
#include "exporter/load_balancing/load_balancing.h"
#include "otc/otc_pb_check.h"

#define SPANS 100
#define ATTRS 10
#define GROUP 8

/* ------------------------------------------------ the stand-in sender */

struct sender {
    char *endpoint;
};
static size_t sent_items, sent_requests, sent_bytes;

static int sender_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    const uint8_t *data;
    size_t len;

    (void)ins;
    (void)ctx;
    if (otc_batch_bytes(b, &data, &len) == OTC_OK) {
        sent_bytes += len;
    }
    sent_items += b->items;
    sent_requests++;
    otc_batch_unref(b);
    return OTC_OK;
}

static const struct otc_config_entry sender_config[] = {
    {OTC_CFG_STR, "endpoint", NULL, offsetof(struct sender, endpoint), 0, 0, 0, NULL, "where"},
    OTC_CFG_END,
};

static const struct otc_component_ops sender_ops = {
    .type = "otlp", .kind = OTC_EXPORTER, .signals = OTC_SIG_ALL, .ctx_size = sizeof(struct sender),
    .config_map = sender_config, .consume = sender_consume,
};
static struct otc_instance sender_ins = {.ops = &sender_ops, .id = "pass-through"};

/* ------------------------------------------------------------ timing */

static uint64_t thread_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint8_t *reqs[64];
static size_t req_len[64];

static struct otc_batch *input(unsigned i)
{
    struct otc_batch *b = otc_batch_from_bytes(OTC_TRACES, reqs[i % 64], req_len[i % 64]);
    size_t items;

    if (!b || otc_pb_scan_request(OTC_TRACES, b->raw, b->raw_len, &items) != OTC_OK) {
        fprintf(stderr, "cannot scan the request\n");
        exit(1);
    }
    b->items = items;
    return b;
}

/* ns per span of consume() over iters requests (best of 5 runs). */
static double run(struct otc_instance *ins, int iters)
{
    double best = 1e18;

    for (int rep = 0; rep < 5; rep++) {
        uint64_t total = 0;
        for (int i = 0; i < iters; i += GROUP) {
            struct otc_batch *g[GROUP];
            uint64_t t0;

            for (int k = 0; k < GROUP; k++) {
                g[k] = input((unsigned)(i + k));
            }
            t0 = thread_ns();
            for (int k = 0; k < GROUP; k++) {
                int rc = ins->ops->consume(ins, ins->ctx, g[k]);
                if (rc != OTC_OK) {
                    fprintf(stderr, "%s: consume returned %d\n", ins->id, rc);
                    exit(1);
                }
            }
            total += thread_ns() - t0;
        }
        if ((double)total / ((double)iters * SPANS) < best) {
            best = (double)total / ((double)iters * SPANS);
        }
    }
    return best;
}

/* A load_balancing exporter over n static backends, its otlp exporters
 * replaced by the stand-in sender. */
static struct otc_instance *lb_make(size_t n, const char *key, char *id)
{
    const struct otc_component_ops *ops = &otc_exporter_load_balancing_ops;
    struct otc_instance *ins = calloc(1, sizeof(*ins));
    struct lb_ctx *lb = calloc(1, ops->ctx_size);
    char err[256];

    otc_config_map_defaults(ops->config_map, lb);
    otc_config_map_set(otc_config_map_find(ops->config_map, "routing_key"), lb, key, err, sizeof(err));
    lb->static_set = true;
    lb->hostnames.v = calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        char ep[64];
        snprintf(ep, sizeof(ep), "10.0.%zu.%zu:4317", i / 200, i % 200 + 1);
        lb->hostnames.v[lb->hostnames.n++] = strdup(ep);
    }
    ins->ops = ops;
    ins->id = id;
    ins->ctx = lb;
    ins->signals = OTC_SIG_TRACES;
    ins->timeout_ns = 5000000000;
    if (ops->validate(lb, err, sizeof(err)) != OTC_OK || ops->init(ins, lb) != OTC_OK) {
        fprintf(stderr, "setup failed: %s\n", err);
        exit(1);
    }
    lb->otlp = &sender_ops;
    if (ops->start(ins, lb) != OTC_OK) {
        fprintf(stderr, "start failed\n");
        exit(1);
    }
    return ins;
}

static void lb_free(struct otc_instance *ins)
{
    ins->ops->shutdown(ins, ins->ctx);
    ins->ops->destroy(ins->ctx);
    otc_config_map_free(ins->ops->config_map, ins->ctx);
    free(ins->ctx);
    free(ins);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 2000;
    const char *only = argc > 2 ? argv[2] : NULL;
    double pass = 0;
    static const struct {
        size_t n;
        const char *key;
        const char *name;
    } cases[] = {
        {1, "traceID", "load_balancing, 1 backend (request forwarded whole)"},
        {3, "traceID", "load_balancing, 3 backends, traceID"},
        {10, "traceID", "load_balancing, 10 backends, traceID"},
        {100, "traceID", "load_balancing, 100 backends, traceID"},
        {3, "service", "load_balancing, 3 backends, service"},
    };

    iters -= iters % GROUP;
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    for (unsigned i = 0; i < 64; i++) {
        reqs[i] = otc_test_traces_bytes(SPANS, ATTRS, i + 1, &req_len[i]);
    }
    printf("request: %d spans of %d traces x %d attributes, %zu bytes; %d requests per case; "
           "best of 5; ns of thread CPU per span\n", SPANS, SPANS, ATTRS, req_len[0], iters);
    if (!only || !strcmp(only, "pass")) {
        if (!only) {
            run(&sender_ins, iters); /* warm-up */
        }
        pass = run(&sender_ins, iters);
        printf("%-56s %6.1f ns/span\n", "pass-through (the sender alone)", pass);
    }
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char id[64];
        struct otc_instance *ins;
        double ns;

        if (only && (!strcmp(only, "pass") || (size_t)atoi(only) != c)) {
            continue;
        }
        snprintf(id, sizeof(id), "loadbalancing/%zu", c);
        ins = lb_make(cases[c].n, cases[c].key, id);
        if (!only) {
            pass = run(&sender_ins, iters); /* measured again next to each case */
        }
        sent_requests = sent_items = 0;
        ns = run(ins, iters);
        printf("%-56s %6.1f ns/span  %5.2fx pass-through (%.1f), %+.1f ns/span; %.1f exports "
               "per request\n", cases[c].name, ns, pass > 0 ? ns / pass : 0, pass, ns - pass,
               (double)sent_requests / (5.0 * iters));
        if (sent_items != (size_t)5 * iters * SPANS) {
            printf("  (lost items: %zu of %zu sent)\n", sent_items, (size_t)5 * iters * SPANS);
        }
        lb_free(ins);
    }
    for (unsigned i = 0; i < 64; i++) {
        free(reqs[i]);
    }
    return 0;
}
