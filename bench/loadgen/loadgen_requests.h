/* loadgen_requests.h - builds the load generator's pool of serialized OTLP
 * Export requests once at start-up, and stamps each copy sent with fresh trace
 * ids (or timestamps, for metrics) so that no two requests are duplicates.
 * Runs on the load generator's main thread only. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_BENCH_LOADGEN_REQUESTS_H
#define OTC_BENCH_LOADGEN_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

enum lg_signal { LG_TRACES, LG_METRICS, LG_LOGS };

struct lg_shape {
    enum lg_signal signal;
    size_t         items;          /* spans, data points or log records per request */
    size_t         attrs;          /* string attributes per item */
    size_t         attr_size;      /* bytes per attribute value */
    size_t         distinct_traces; /* trace ids per request (traces, logs) */
};

/* A place in a serialized request rewritten before each send. */
struct lg_patch {
    uint32_t offset; /* of the 8 bytes rewritten */
    uint32_t group;  /* trace index within the request, or the item index */
};

struct lg_request {
    uint8_t         *bytes;
    size_t           len;
    struct lg_patch *patches;
    size_t           n_patches;
};

struct lg_pool {
    struct lg_shape    shape;
    uint64_t           base_ns; /* metric timestamps start here */
    struct lg_request *req;
    size_t             n;
};

/* Builds n requests of the given shape; seed varies ids and values. 0 or -1. */
int lg_pool_build(struct lg_pool *pool, const struct lg_shape *shape, size_t n, uint64_t seed);
void lg_pool_free(struct lg_pool *pool);
/* Copies request r into dst (r->len bytes) and makes it unique for sequence seq. */
void lg_request_stamp(const struct lg_pool *pool, const struct lg_request *r, uint64_t seq,
                      uint8_t *dst);
const char *lg_signal_name(enum lg_signal s);
const char *lg_signal_method(enum lg_signal s);

#endif
