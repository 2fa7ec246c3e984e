/* bench_connectors.c - what the routing connector costs per span against the
 * forward connector (the pass-through: the whole request handed to one
 * pipeline), in one run. A real engine is built and started from YAML (nop
 * receiver, nop exporters); this thread calls each connector's consume() with
 * undecoded requests of 100 spans in two resources, as the receivers deliver
 * them, and its own CPU time is measured: the walk, the conditions, the
 * per-pipeline requests and the hand-off to the downstream queues (which the
 * downstream pipelines drain on their own threads).
 * Arguments: [requests per case] [case index], the latter for instruction
 * counts: valgrind --tool=callgrind --toggle-collect=forward_consume (case 0)
 * or --toggle-collect=routing_consume. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch_builder.h"
#include "core/config.h"
#include "core/engine.h"

#define HALF 50 /* spans per resource; two resources per request */
#define ATTRS 10
#define REPS 5

static const char yaml[] =
    "receivers:\n  nop:\n"
    "exporters:\n  nop/a:\n  nop/b:\n"
    "connectors:\n"
    "  forward: {}\n"
    "  routing/whole:\n    default_pipelines: [traces/b]\n    table:\n"
    "      - condition: attributes[\"attribute.key.099.000\"] != nil\n"
    "        pipelines: [traces/a]\n"
    "  routing/half:\n    default_pipelines: [traces/b]\n    table:\n"
    "      - condition: attributes[\"attribute.key.099.000\"] == \"value-000001-000099-xx\"\n"
    "        pipelines: [traces/a]\n"
    "  routing/spans:\n    default_pipelines: [traces/b]\n    table:\n"
    "      - context: span\n        condition: IsMatch(name, \"^span-[0-9]-\")\n"
    "        pipelines: [traces/a]\n"
    "service:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n"
    "    traces/1:\n      receivers: [nop]\n      exporters: [forward]\n"
    "    traces/2:\n      receivers: [nop]\n      exporters: [routing/whole]\n"
    "    traces/3:\n      receivers: [nop]\n      exporters: [routing/half]\n"
    "    traces/4:\n      receivers: [nop]\n      exporters: [routing/spans]\n"
    "    traces/a:\n      receivers: [forward, routing/whole, routing/half, routing/spans]\n"
    "      exporters: [nop/a]\n"
    "    traces/b:\n      receivers: [routing/whole, routing/half, routing/spans]\n"
    "      exporters: [nop/b]\n";

static const struct {
    const char *id;
    const char *what;
} cases[] = {
    {"forward", "forward (pass-through: the whole request, shared)"},
    {"routing/whole", "routing, resource condition, all to one pipeline"},
    {"routing/half", "routing, resource condition, split 50/50"},
    {"routing/spans", "routing, span context IsMatch(name), split 20/80"},
};

static double thread_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Two one-resource requests, concatenated: one request of two resources. */
static uint8_t *make_request(unsigned i, size_t *len)
{
    size_t l1, l2;
    uint8_t *a = otc_test_traces_bytes(HALF, ATTRS, 1, &l1);
    uint8_t *b = otc_test_traces_bytes(HALF, ATTRS, 2 + i % 1000, &l2);
    uint8_t *out = malloc(l1 + l2);

    memcpy(out, a, l1);
    memcpy(out + l1, b, l2);
    *len = l1 + l2;
    free(a);
    free(b);
    return out;
}

static struct otc_instance *connector(struct otc_engine *e, const char *id)
{
    for (size_t i = 0; i < e->n_connectors; i++) {
        if (!strcmp(e->connectors[i].id, id)) {
            return &e->connectors[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    int only = argc > 2 ? atoi(argv[2]) : -1;
    struct otc_yaml y;
    struct otc_diag d = {0};
    struct otc_engine *e = NULL;
    uint8_t *reqs[64];
    size_t lens[64];
    double pass = 0;

    if (otc_yaml_load_string(&y, "bench.yaml", yaml, sizeof(yaml) - 1, &d) != OTC_OK ||
        otc_engine_build(&y, &d, &e) != OTC_OK || otc_engine_start(e) != OTC_OK) {
        otc_diag_print(&d, stderr);
        return 1;
    }
    for (int i = 0; i < 64; i++) {
        reqs[i] = make_request((unsigned)i, &lens[i]);
    }
    printf("request: 2 resources x %d spans x %d attributes, %zu bytes; %d requests per case\n",
           HALF, ATTRS, lens[0], n);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct otc_instance *ins = connector(e, cases[c].id);
        double ns[REPS];

        if (only >= 0 && (size_t)only != c) {
            continue;
        }
        for (int r = 0; r < REPS; r++) {
            double sum = 0;
            for (int i = 0; i < n / REPS; i++) {
                struct otc_batch *b = otc_batch_from_bytes(OTC_TRACES, reqs[i % 64], lens[i % 64]);
                double t0;

                b->items = 2 * HALF; /* as the receivers' scan counts them */
                t0 = thread_ns();
                ins->ops->consume(ins, ins->ctx, b);
                sum += thread_ns() - t0;
            }
            ns[r] = sum / ((double)(n / REPS) * 2 * HALF);
        }
        qsort(ns, REPS, sizeof(ns[0]), cmp_double);
        if (c == 0) {
            pass = ns[REPS / 2];
        }
        printf("%-56s %7.1f ns/span (min %6.1f)%s", cases[c].what, ns[REPS / 2], ns[0],
               pass > 0 && c > 0 ? "" : "\n");
        if (pass > 0 && c > 0) {
            printf("  %5.2fx forward\n", ns[REPS / 2] / pass);
        }
    }
    otc_engine_stop(e);
    otc_engine_destroy(e);
    otc_yaml_free(&y);
    otc_diag_free(&d);
    for (int i = 0; i < 64; i++) {
        free(reqs[i]);
    }
    return 0;
}
