/* ingest.h - where receivers hand requests to the engine
 * (otc_receiver_deliver, in otc/otc_component.h): admission, the persistent
 * queue's append, per-transport counters, and the feed tables that route a
 * request to its pipelines. Delivery runs on receiver threads; tables are
 * built and swapped on the main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_INGEST_H
#define OTC_CORE_INGEST_H

#include "otc/otc_component.h"

/* What a receiver feeds, per signal: immutable once published in
 * otc_instance.feed_table; a reload publishes a new one and frees the old one
 * only after every otc_receiver_deliver() that could hold it has returned. */
struct otc_feed_table {
    struct otc_engine    *engine;
    unsigned              n[OTC_SIGNAL_COUNT];
    struct otc_pipeline **p[OTC_SIGNAL_COUNT];
};

/* An immutable copy of what r feeds (its build-time lists), for engine e. */
struct otc_feed_table *otc_feed_table_new(struct otc_engine *e, const struct otc_instance *r);
/* Wait until no otc_receiver_deliver() can hold a feed table published
 * before this call. Main thread. */
void otc_feeds_synchronize(void);

/* A connector's output into p (otc_connector_emit): takes ownership of b;
 * waits while p's queue is full; OTC_ESHUTDOWN once the shutdown timeout has
 * passed, OTC_ENOMEM (b freed either way). Pipeline workers. */
struct otc_pipeline;
int otc_pipeline_enter_wait(struct otc_pipeline *p, struct otc_batch *b);

#endif
