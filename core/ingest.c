/* ingest.c - receivers hand requests to the engine here: admission by the
 * pipelines' gates, the persistent queue's append, per-transport counters,
 * and the feed tables that route a request to its pipelines (swapped safely
 * on reload). Admission gates (admit, admit_request) run here, before the
 * receiver answers. A request that finds a byte budget full may be kept by
 * its receiver and offered again (otc_receiver_redeliver) rather than
 * refused at once. Delivery runs on receiver threads; tables are built and
 * swapped on the main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine.h"
#include "exporter_helper.h"
#include "ingest.h"
#include "pipeline.h"

/* Self-metrics of a receiver, per request: the total, and the OTLP/HTTP part. */
static void count_items(struct otc_instance *ins, enum otc_signal s, uint8_t transport,
                        size_t items, bool accepted)
{
    atomic_fetch_add(accepted ? &ins->counters.accepted[s] : &ins->counters.refused[s], items);
    if (transport == OTC_TRANSPORT_HTTP) {
        atomic_fetch_add(accepted ? &ins->counters.http_accepted[s] : &ins->counters.http_refused[s],
                         items);
    }
}

static void count_received(struct otc_instance *ins, const struct otc_batch *b, bool accepted)
{
    count_items(ins, b->signal, b->transport, b->items, accepted);
}

/* Persistent queue write failures: one line a second at most. */
static bool wal_log_allowed(void)
{
    static atomic_uint_fast64_t last;
    uint_fast64_t now = otc_now_ns() / 1000000000u;
    uint_fast64_t prev = atomic_load(&last);

    return now != prev && atomic_compare_exchange_strong(&last, &prev, now);
}

/* Readers of feed tables (otc_receiver_deliver), counted in two epochs so a
 * reload can wait for the ones that may still hold a table it replaced, while
 * new readers (which see the new table) count in the other epoch. */
static atomic_uint  feeds_epoch;
static atomic_ulong feeds_readers[2];

/* Wait until no deliver call can hold a feed table published before this
 * call: after each flip, the readers of the previous epoch only leave. */
void otc_feeds_synchronize(void)
{
    for (int flip = 0; flip < 2; flip++) {
        unsigned prev = atomic_fetch_add(&feeds_epoch, 1) & 1u;
        while (atomic_load(&feeds_readers[prev]) != 0) {
            otc_sleep_ns(100000);
        }
    }
}

/* Does p take requests through its own queue (and its byte budget)? Not a
 * pipeline with no processor and one queued exporter: that one is fed
 * straight into the exporter's queue, which saves a thread hand-off per
 * request (a full exporter queue is then answered UNAVAILABLE at once). */
static bool pipeline_queued(const struct otc_pipeline *p)
{
    return !(p->n_processors == 0 && p->n_exporters == 1 && p->n_connectors == 0 &&
             p->exporters[0]->set.queue_enabled);
}

/* Give back the bytes reserved in the budgets of the first n of ps. */
static void release_budgets(struct otc_pipeline *const *ps, unsigned n, uint64_t bytes)
{
    for (unsigned i = 0; i < n; i++) {
        if (pipeline_queued(ps[i])) {
            atomic_fetch_sub_explicit(&ps[i]->queued_bytes, bytes, memory_order_relaxed);
        }
    }
}

/* Reserve b's bytes in the budget of each of the n pipelines that queue it.
 * A queue with nothing reserved takes any one request, however big. NULL
 * when reserved; else the first pipeline found full (nothing reserved). */
static struct otc_pipeline *reserve_budgets(struct otc_pipeline *const *ps, unsigned n,
                                            uint64_t bytes)
{
    for (unsigned i = 0; i < n; i++) {
        struct otc_pipeline *p = ps[i];
        uint64_t before;

        if (!pipeline_queued(p)) {
            continue;
        }
        before = atomic_fetch_add_explicit(&p->queued_bytes, bytes, memory_order_relaxed);
        if (before > 0 && before + bytes > p->queue_max_bytes) {
            release_budgets(ps, i + 1, bytes);
            return p;
        }
    }
    return NULL;
}

/* Hand b (its bytes reserved) to pipeline p's queue, or to its one exporter's
 * queue. OTC_EAGAIN when full (b stays the caller's, the reservation is
 * given back). */
static int pipeline_enter(struct otc_pipeline *p, struct otc_batch *b)
{
    if (!pipeline_queued(p)) {
        return otc_exporter_enqueue(p->exporters[0], b);
    }
    /* run here, with no hand-off, when the pipeline's workers have nothing to
     * do; the bytes reserved are given back once the processors are done */
    {
        uint64_t qb = b->queued_bytes; /* b may be gone after the run */

        if (otc_pipeline_run_inline(p, b)) {
            atomic_fetch_sub_explicit(&p->queued_bytes, qb, memory_order_relaxed);
            return OTC_OK;
        }
    }
    if (otc_queue_push(&p->queue, b) != OTC_OK) {
        atomic_fetch_sub_explicit(&p->queued_bytes, b->queued_bytes, memory_order_relaxed);
        return OTC_EAGAIN;
    }
    otc_pipeline_maybe_help(p);
    return OTC_OK;
}

/* Write b to p's persistent queue; the record is done once b is freed. */
static int wal_hold(struct otc_pipeline *p, struct otc_batch *b, bool *full)
{
    struct otc_wal_rec *rec;
    const uint8_t *data;
    size_t len;
    int rc = otc_batch_bytes(b, &data, &len);

    if (rc == OTC_OK &&
        (rc = otc_wal_append(p->wal, (uint8_t)b->signal, data, len, b->items, &rec, full)) == OTC_OK) {
        rc = otc_wal_rec_hold(b, rec);
    }
    return rc;
}

/* The admission gates of the n pipelines, in order: OTC_OK, or the first
 * refusal (a says more for admit_request gates). Tokens a gate took stay
 * taken when a later gate or budget refuses the request. */
static int admit_gates(struct otc_pipeline *const *ps, unsigned n, struct otc_batch *b,
                       struct otc_admission *a)
{
    for (unsigned i = 0; i < n; i++) {
        struct otc_pipeline *p = ps[i];
        for (size_t k = 0; k < p->n_admit; k++) {
            struct otc_instance *pr = p->admit[k];
            int rc;

            if (pr->ops->admit && !pr->ops->admit(pr, pr->ctx, b->arena.bytes)) {
                return OTC_EAGAIN;
            }
            if (pr->ops->admit_request) {
                a->b = b;
                rc = pr->ops->admit_request(pr, pr->ctx, a);
                a->b = NULL;
                if (rc != OTC_OK) {
                    return rc == OTC_ETHROTTLED || rc == OTC_ELIMIT ? rc : OTC_EAGAIN;
                }
            }
        }
    }
    return OTC_OK;
}

/* The longest a request to the n pipelines may wait for room: the smallest
 * queue.max_wait among them. */
static int64_t pipelines_wait_ns(struct otc_pipeline *const *ps, unsigned n)
{
    int64_t w = INT64_MAX;

    for (unsigned i = 0; i < n; i++) {
        w = ps[i]->queue_max_wait_ns < w ? ps[i]->queue_max_wait_ns : w;
    }
    return n ? w : 0;
}

/* b found pipeline p's queue (or the exporter queue it feeds straight) full
 * before anything was handed over: kept for another try (OTC_EFULL, counted
 * once as waiting), or refused (counted, freed: OTC_EAGAIN). */
static int refuse_full(struct otc_instance *ins, struct otc_pipeline *p, struct otc_batch *b,
                       struct otc_admission *a, bool may_wait)
{
    if (may_wait) {
        if (!a->waited) {
            a->waited = true;
            atomic_fetch_add_explicit(&p->queue_waited, 1, memory_order_relaxed);
        }
        return OTC_EFULL;
    }
    if (pipeline_queued(p)) {
        atomic_fetch_add_explicit(&p->queue_refused, 1, memory_order_relaxed);
    }
    count_received(ins, b, false);
    otc_batch_unref(b);
    return OTC_EAGAIN;
}

/* b, past the admission gates, into the n pipelines: their byte budgets,
 * their persistent queues, their queues. Only a refusal before anything was
 * handed over may keep b for another try (a->wait): a full budget, or the
 * one queue of a request to a single pipeline without a persistent queue. */
static int deliver_pipelines(struct otc_instance *ins, struct otc_pipeline *const *ps, unsigned n,
                             struct otc_batch *b, struct otc_admission *a)
{
    enum otc_signal s = b->signal;
    size_t items = b->items;
    bool may_wait = a->wait && (a->wait_ns = pipelines_wait_ns(ps, n)) > 0;
    struct otc_pipeline *full;
    uint8_t transport;
    int rc = OTC_OK;

    /* the queues' byte budgets, before anything is written or handed over */
    b->queued_bytes = b->arena.bytes;
    if ((full = reserve_budgets(ps, n, b->queued_bytes)) != NULL) {
        return refuse_full(ins, full, b, a, may_wait);
    }
    /* persistent storage: the request is durable before any pipeline sees it */
    for (unsigned i = 0; i < n; i++) {
        struct otc_pipeline *p = ps[i];
        bool wal_full = false;

        if (!p->wal) {
            continue;
        }
        if ((rc = wal_hold(p, b, &wal_full)) != OTC_OK) {
            if (wal_log_allowed()) {
                otc_log_warn(ins, "pipeline %s: %s; answering UNAVAILABLE", p->id,
                             wal_full ? "the persistent queue is full (sending_queue.queue_size)"
                                      : "cannot write the persistent queue");
            }
            release_budgets(ps, n, b->queued_bytes);
            count_received(ins, b, false);
            otc_batch_unref(b);
            return OTC_EAGAIN;
        }
    }
    /* counted before the last push hands b over */
    transport = b->transport;
    if (n == 1 && !ps[0]->wal) {
        if (pipeline_enter(ps[0], b) != OTC_OK) {
            return refuse_full(ins, ps[0], b, a, may_wait);
        }
    } else {
        for (unsigned i = 0; i < n; i++) {
            struct otc_batch *x = (i + 1 < n) ? otc_batch_ref(b) : b;
            if (pipeline_enter(ps[i], x) != OTC_OK) {
                if (pipeline_queued(ps[i])) {
                    atomic_fetch_add_explicit(&ps[i]->queue_refused, 1, memory_order_relaxed);
                }
                otc_batch_unref(x);
                rc = OTC_EAGAIN;
            }
        }
    }
    /* per request, as otelcol: accepted only when every pipeline took it */
    count_items(ins, s, transport, items, rc == OTC_OK);
    return rc;
}

static int deliver_table(struct otc_instance *ins, const struct otc_feed_table *t,
                         struct otc_batch *b, struct otc_admission *a, bool gates)
{
    enum otc_signal s = b->signal;
    unsigned n = t ? t->n[s] : 0;
    int rc;

    if (n == 0) {
        otc_batch_unref(b);
        return OTC_EUNSUPP;
    }
    if (atomic_load(&t->engine->stopping)) {
        count_received(ins, b, false);
        otc_batch_unref(b);
        return OTC_ESHUTDOWN;
    }
    if (gates && (rc = admit_gates(t->p[s], n, b, a)) != OTC_OK) {
        count_received(ins, b, false);
        otc_batch_unref(b);
        return rc;
    }
    return deliver_pipelines(ins, t->p[s], n, b, a);
}

/* A receiver's delivery, counted as a reader of ins's feed table. */
static int deliver(struct otc_instance *ins, struct otc_batch *b, struct otc_admission *a,
                   bool gates)
{
    /* pairs with the seq_cst epoch flip in otc_feeds_synchronize(): a reader counted
     * after the flip loads the table stored before it */
    unsigned idx = atomic_load(&feeds_epoch) & 1u;
    int rc;

    a->retry_after_ns = 0;
    a->reason[0] = '\0';
    atomic_fetch_add(&feeds_readers[idx], 1);
    rc = deliver_table(ins, atomic_load(&ins->feed_table), b, a, gates);
    atomic_fetch_sub(&feeds_readers[idx], 1);
    return rc;
}

int otc_receiver_deliver_call(struct otc_instance *ins, struct otc_batch *b,
                              struct otc_admission *a)
{
    struct otc_admission none;

    if (!a) {
        memset(&none, 0, sizeof(none));
        a = &none;
    }
    a->waited = false;
    return deliver(ins, b, a, true);
}

int otc_receiver_redeliver(struct otc_instance *ins, struct otc_batch *b,
                           struct otc_admission *a)
{
    return deliver(ins, b, a, false);
}

int otc_receiver_deliver(struct otc_instance *ins, struct otc_batch *b)
{
    return otc_receiver_deliver_call(ins, b, NULL);
}

/* An immutable copy of what r feeds (its build-time lists), for engine e. */
struct otc_feed_table *otc_feed_table_new(struct otc_engine *e, const struct otc_instance *r)
{
    size_t total = 0, off = 0;
    struct otc_feed_table *t;
    struct otc_pipeline **slots;

    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        total += r->n_feeds[s];
    }
    t = calloc(1, sizeof(*t) + (total ? total : 1) * sizeof(*slots));
    if (!t) {
        return NULL;
    }
    slots = (struct otc_pipeline **)(t + 1);
    t->engine = e;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        t->n[s] = r->n_feeds[s];
        t->p[s] = slots + off;
        for (unsigned i = 0; i < r->n_feeds[s]; i++) {
            slots[off++] = r->feeds[s][i];
        }
    }
    return t;
}


/* From a connector, on the exporting pipeline's worker: b enters p as a
 * receiver's request would, but a full queue (or a persistent queue that
 * cannot be written) makes the caller wait rather than refuse, as a full
 * exporter queue does, until the shutdown timeout has passed. */
int otc_pipeline_enter_wait(struct otc_pipeline *p, struct otc_batch *b)
{
    struct otc_engine *e = p->engine;
    int64_t backoff = 50000;

    for (;;) {
        bool full = false;
        uint64_t before;

        if (p->wal && !b->durable) {
            if (atomic_load(&b->refs) > 1 && !(b = otc_batch_writable(b))) {
                return OTC_ENOMEM;
            }
            if (wal_hold(p, b, &full) != OTC_OK) {
                goto wait;
            }
        }
        if (b->queued_bytes == 0 && atomic_load(&b->refs) == 1) {
            b->queued_bytes = b->arena.bytes; /* only this thread holds it */
        }
        if (!pipeline_queued(p)) {
            if (otc_exporter_enqueue(p->exporters[0], b) == OTC_OK) {
                return OTC_OK;
            }
            goto wait;
        }
        before = atomic_fetch_add_explicit(&p->queued_bytes, b->queued_bytes, memory_order_relaxed);
        if ((before == 0 || before + b->queued_bytes <= p->queue_max_bytes) &&
            otc_queue_push(&p->queue, b) == OTC_OK) {
            otc_pipeline_maybe_help(p);
            return OTC_OK;
        }
        atomic_fetch_sub_explicit(&p->queued_bytes, b->queued_bytes, memory_order_relaxed);
    wait:
        if (atomic_load(&e->abort)) {
            otc_batch_unref(b);
            return OTC_ESHUTDOWN;
        }
        otc_sleep_ns(backoff);
        if (backoff < 2000000) {
            backoff *= 2;
        }
    }
}
