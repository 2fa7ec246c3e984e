/* exporter_helper.c - what the engine wraps around every exporter (otelcol's
 * exporterhelper): the option table, back-off, the retry state machine, the
 * async send slots and the exporter threads. Started on the main thread; the
 * retry loops run on the exporter threads, send slots on whichever thread
 * queues a batch or ends an attempt. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "common.h"
#include "engine.h"
#include "exporter_helper.h"
#include "instance.h"

#define SET_OFF(f) offsetof(struct otc_exporter_settings, f)

#define EXPORTER_RING_MAX (1 << 20) /* batches an exporter's queue holds in memory, at most */

static const char *const sizer_choices[] = {"requests", "items", "bytes", NULL};
static const char *const batch_sizers[] = {"items", "bytes", "requests", NULL};

static const struct otc_config_entry exporter_helper_map[] = {
    {OTC_CFG_DURATION, "timeout", "5s", SET_OFF(timeout_ns), OTC_CFG_F_MIN, 0, 0, NULL,
     "time limit of one export attempt"},
    {OTC_CFG_BOOL, "sending_queue.enabled", "true", SET_OFF(queue_enabled), 0, 0, 0, NULL,
     "queue batches in front of the exporter"},
    {OTC_CFG_INT, "sending_queue.num_consumers", "10", SET_OFF(num_consumers),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 1, 256, NULL,
     "batches sent at once: calls under way (otlp) or export threads (exporters that send "
     "one batch at a time use 1)"},
    {OTC_CFG_INT, "sending_queue.queue_size", "1000", SET_OFF(queue_size),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 1, 1LL << 50, NULL,
     "batches the queue holds in memory (at most 1048576); with storage, the persistent "
     "queue's capacity in the unit of sizer; when full receivers answer UNAVAILABLE"},
    {OTC_CFG_ENUM, "sending_queue.sizer", "requests", SET_OFF(sizer), 0, 0, 0, sizer_choices,
     "what queue_size counts in the persistent queue (storage): requests, items or bytes on disk"},
    {OTC_CFG_STR, "sending_queue.storage", NULL, SET_OFF(storage), 0, 0, 0, NULL,
     "a file_storage extension id: the pipelines of this exporter log each request durably "
     "before answering OK, and replay what was not delivered at start-up"},
    {OTC_CFG_BOOL, "sending_queue.block_on_overflow", "false", SET_OFF(block_on_overflow), 0, 0,
     0, NULL,
     "accepted; otelc always behaves as true: a full queue makes the pipeline wait, and its "
     "receivers answer UNAVAILABLE once the pipeline's own queue is full (nothing is dropped)"},
    {OTC_CFG_BOOL, "sending_queue.wait_for_result", "false", SET_OFF(wait_for_result), 0, 0, 0,
     NULL,
     "accepted; otelc behaves as false: a receiver answers once every pipeline has queued "
     "the data, not once it was exported"},
    {OTC_CFG_SECTION, "sending_queue.batch", NULL, SET_OFF(batch_enabled), 0, 0, 0, NULL,
     "accepted, no effect: otelc sends requests as they leave the pipeline; put the batch "
     "processor last in the pipeline to merge them"},
    {OTC_CFG_DURATION, "sending_queue.batch.flush_timeout", "200ms",
     SET_OFF(batch_flush_timeout_ns), OTC_CFG_F_MIN, 0, 0, NULL,
     "accepted, no effect (the batch processor's timeout)"},
    {OTC_CFG_INT, "sending_queue.batch.min_size", "8192", SET_OFF(batch_min_size),
     OTC_CFG_F_MIN, 0, 0, NULL, "accepted, no effect (the batch processor's send_batch_size)"},
    {OTC_CFG_INT, "sending_queue.batch.max_size", "0", SET_OFF(batch_max_size), OTC_CFG_F_MIN,
     0, 0, NULL, "accepted, no effect (the batch processor's send_batch_max_size)"},
    {OTC_CFG_ENUM, "sending_queue.batch.sizer", "items", SET_OFF(batch_sizer), 0, 0, 0,
     batch_sizers, "accepted, no effect: unit of min_size and max_size"},
    {OTC_CFG_BOOL, "retry_on_failure.enabled", "true", SET_OFF(retry_enabled), 0, 0, 0, NULL,
     "retry failed exports that are retryable"},
    {OTC_CFG_DURATION, "retry_on_failure.initial_interval", "5s", SET_OFF(initial_interval_ns),
     OTC_CFG_F_MIN, 0.001, 0, NULL, "wait before the first retry"},
    {OTC_CFG_DURATION, "retry_on_failure.max_interval", "30s", SET_OFF(max_interval_ns),
     OTC_CFG_F_MIN, 0.001, 0, NULL, "upper bound of the wait between retries"},
    {OTC_CFG_DURATION, "retry_on_failure.max_elapsed_time", "300s", SET_OFF(max_elapsed_ns),
     OTC_CFG_F_MIN, 0, 0, NULL, "give up after this long (0 = retry forever)"},
    {OTC_CFG_DOUBLE, "retry_on_failure.multiplier", "1.5", SET_OFF(multiplier),
     OTC_CFG_F_MIN, 1, 0, NULL, "growth factor of the wait"},
    {OTC_CFG_DOUBLE, "retry_on_failure.randomization_factor", "0.5", SET_OFF(randomization_factor),
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 0, 1, NULL, "jitter: the wait varies by this fraction"},
    {OTC_CFG_BOOL, "circuit_breaker.enabled", "false", SET_OFF(cb_enabled), 0, 0, 0, NULL,
     "otelc: stop calling a backend that keeps failing: the data waits in the sending queue "
     "(counted as queued, not failed) until a probe succeeds"},
    {OTC_CFG_INT, "circuit_breaker.failure_threshold", "10", SET_OFF(cb_failure_threshold),
     OTC_CFG_F_MIN, 1, 0, NULL,
     "consecutive retryable failures (unreachable, UNAVAILABLE, 429, 503, ...) that open the "
     "circuit; after a failure, calls under way are kept below the failures left"},
    {OTC_CFG_DURATION, "circuit_breaker.recovery_timeout", "5m", SET_OFF(cb_recovery_ns),
     OTC_CFG_F_MIN, 0.001, 0, NULL,
     "how long the circuit stays open (no call at all) before probes are let through"},
    {OTC_CFG_INT, "circuit_breaker.half_open_requests", "1", SET_OFF(cb_half_open),
     OTC_CFG_F_MIN, 1, 0, NULL,
     "probes let through once recovery_timeout has passed: all of them succeeding closes the "
     "circuit, one failing opens it again for recovery_timeout"},
    OTC_CFG_END,
};

const struct otc_config_entry *otc_exporter_helper_map(void)
{
    return exporter_helper_map;
}

enum otc_wal_sizer otc_exporter_sizer(const struct otc_exporter_settings *set)
{
    return set->sizer == 2 ? OTC_WAL_SIZER_BYTES
         : set->sizer == 1 ? OTC_WAL_SIZER_ITEMS : OTC_WAL_SIZER_REQUESTS;
}

/* Per-thread outcome of the exporter's consume() (see otc_export_result). */
static _Thread_local struct otc_export_result export_result;

struct otc_export_result *otc_export_result(void)
{
    return &export_result;
}

/* splitmix64: a small, seedable generator for the jitter (no shared state). */
static uint64_t backoff_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void otc_backoff_init(struct otc_backoff *bo, const struct otc_exporter_settings *set, uint64_t seed)
{
    bo->interval_ns = (double)set->initial_interval_ns;
    bo->rng = seed;
}

int64_t otc_backoff_next(struct otc_backoff *bo, const struct otc_exporter_settings *set)
{
    double interval = bo->interval_ns;
    double delta = set->randomization_factor * interval;
    double u = (double)(backoff_rand(&bo->rng) >> 11) / 9007199254740992.0; /* [0, 1) */
    double wait = interval - delta + 2.0 * delta * u;

    if (interval >= (double)set->max_interval_ns / set->multiplier) {
        bo->interval_ns = (double)set->max_interval_ns;
    } else {
        bo->interval_ns = interval * set->multiplier;
    }
    return wait < 1.0 ? 1 : (int64_t)wait;
}

/* Retry warnings: at most one a second per exporter (the others go to debug). */
static bool exporter_log_allowed(struct otc_exporter_rt *rt)
{
    uint_fast64_t now = otc_now_ns() / 1000000000u;
    uint_fast64_t last = atomic_load(&rt->last_log_s);

    return now != last && atomic_compare_exchange_strong(&rt->last_log_s, &last, now);
}

/* Lines about lost data: up to EXPORTER_DROP_LINES_PER_S a second per exporter;
 * the ones held back are counted and the next line says how many. Returns that
 * count, or -1 when this line is held back. */
#define EXPORTER_DROP_LINES_PER_S 10u

static int64_t exporter_drop_log_allowed(struct otc_exporter_rt *rt)
{
    uint_fast64_t now = otc_now_ns() / 1000000000u;
    uint_fast64_t window = atomic_load(&rt->drop_log_s);

    if (window != now && atomic_compare_exchange_strong(&rt->drop_log_s, &window, now)) {
        atomic_store(&rt->drop_log_n, 0);
    }
    if (atomic_fetch_add(&rt->drop_log_n, 1) < EXPORTER_DROP_LINES_PER_S) {
        return (int64_t)atomic_exchange(&rt->drop_log_held, 0);
    }
    atomic_fetch_add(&rt->drop_log_held, 1);
    return -1;
}
/* Items that will not be delivered because shutdown_timeout passed. */
void otc_exporter_lost(struct otc_exporter_rt *rt, enum otc_signal s, size_t items, bool queued)
{
    atomic_fetch_add(queued ? &rt->ins.counters.send_failed[s] : &rt->ins.counters.enqueue_failed[s],
                     items);
    atomic_fetch_add(&rt->stats.shutdown_lost_items[s], items);
}

static const char *held_note(char *buf, size_t len, int64_t held)
{
    buf[0] = '\0';
    if (held > 0) {
        snprintf(buf, len, " (and %lld earlier lines about lost data held back)", (long long)held);
    }
    return buf;
}

/* A batch dropped for good: counted in send_failed and its cause, logged once
 * (rate-limited per exporter; the held-back lines are counted in the next). */
static void exporter_drop(struct otc_exporter_rt *rt, atomic_uint_fast64_t *cause, enum otc_signal s,
                          size_t items, const char *why, const char *detail)
{
    char note[96];
    int64_t held;

    atomic_fetch_add(&rt->ins.counters.send_failed[s], items);
    atomic_fetch_add(&cause[s], items);
    if ((held = exporter_drop_log_allowed(rt)) >= 0) {
        otc_log_err(&rt->ins, "dropping %zu %s: %s: %s%s", items, otc_signal_item_words(s), why, detail,
                    held_note(note, sizeof(note), held));
    }
}

/* rt is done with b for good: sent, or dropped (what it counts in sent or
 * send_failed, not what shutdown_timeout cut short). When b left a pipeline
 * with a log and several exporters, the log notes the records b alone
 * carries as delivered to rt, so a replay after a crash leaves rt out. */
static void export_done(struct otc_exporter_rt *rt, struct otc_batch *b)
{
    if (b->fanout_log) {
        otc_wal_batch_done_by(b->fanout_log, b, rt->wal_key);
    }
}

static uint64_t exporter_seed(void)
{
    static atomic_uint_fast64_t seq;

    return otc_now_ns() ^ ((uint64_t)atomic_fetch_add(&seq, 1) << 48);
}

/* One batch's way through the exporter helper: its attempts so far. */
struct export_try {
    struct otc_batch *b;
    uint64_t          start;
    uint64_t          held;    /* ns spent waiting on the circuit breaker */
    int               ticket;  /* the breaker's ticket of the next attempt
                                  (OTC_BRK_REFUSED: none taken yet) */
    unsigned          attempt;
    struct otc_backoff bo;
    int64_t           wait;    /* before the next attempt */
    struct otc_export_call call; /* an attempt made with ops->send */
};

static void export_try_init(struct export_try *t, struct otc_exporter_rt *rt, struct otc_batch *b)
{
    memset(t, 0, sizeof(*t));
    t->b = b;
    t->start = otc_now_ns();
    t->ticket = OTC_BRK_REFUSED;
    atomic_fetch_add(&rt->ins.counters.in_flight, 1); /* until the batch is released */
    otc_backoff_init(&t->bo, &rt->set, exporter_seed());
}

/* An attempt of t begins: its result record is cleared, and it is counted. */
static void export_attempt(struct otc_exporter_rt *rt, struct export_try *t,
                           struct otc_export_result *res)
{
    res->retry_after_ns = 0;
    res->rejected = 0;
    res->reason[0] = '\0';
    t->attempt++;
    atomic_fetch_add(&rt->stats.attempts, 1);
}

/* The breaker's side of an attempt that ended with rc: its ticket back. */
static void export_report(struct otc_exporter_rt *rt, struct export_try *t, int rc,
                          const struct otc_export_result *res)
{
    enum otc_brk_outcome o = rc == OTC_EIO ? OTC_BRK_FAIL : OTC_BRK_OK;

    if (rc == OTC_EIO && atomic_load(&rt->ins.engine->abort)) {
        o = OTC_BRK_UNUSED; /* cut short at shutdown: says nothing of the backend */
    }
    otc_breaker_release(&rt->breaker, t->ticket, o, res->reason[0] ? res->reason : otc_strerror(rc),
                        otc_now_ns());
    t->ticket = OTC_BRK_REFUSED;
}

/* Wait for the breaker's ticket for t's next attempt (none needed when one
 * is held or the breaker is disabled). False when shutdown_timeout passed. */
static bool export_gate(struct otc_exporter_rt *rt, struct otc_engine *e, struct export_try *t)
{
    uint64_t from = 0;

    if (!rt->breaker.enabled || t->ticket != OTC_BRK_REFUSED) {
        return true;
    }
    while ((t->ticket = otc_breaker_acquire(&rt->breaker, otc_now_ns())) == OTC_BRK_REFUSED) {
        if (atomic_load(&e->abort)) {
            t->held += from ? otc_now_ns() - from : 0;
            return false;
        }
        if (!from) {
            from = otc_now_ns();
        }
        otc_sleep_ns(10 * 1000000);
    }
    t->held += from ? otc_now_ns() - from : 0;
    return true;
}

/* An attempt ended with rc (res says more): count and log what happened.
 * True when the batch is done with (sent or dropped); false when it is to be
 * tried again after t->wait. */
static bool export_settle(struct otc_exporter_rt *rt, struct otc_engine *e, struct export_try *t,
                          int rc, const struct otc_export_result *res)
{
    struct otc_instance *ins = &rt->ins;
    enum otc_signal s = t->b->signal;
    size_t items = t->b->items;
    const char *reason = res->reason[0] ? res->reason : otc_strerror(rc);
    enum otc_log_level level;
    char note[96];
    int64_t wait, held;
    uint64_t now;

    if (rc == OTC_OK) {
        uint64_t rej = res->rejected < items ? res->rejected : items;
        atomic_fetch_add(&ins->counters.sent[s], items - rej);
        if (rej) {
            atomic_fetch_add(&ins->counters.send_failed[s], rej);
            atomic_fetch_add(&rt->stats.partial_rejected_items[s], rej);
            if ((held = exporter_drop_log_allowed(rt)) >= 0) {
                otc_log_warn(ins, "partial success: the server rejected %llu of %zu %s: %s "
                             "(not retried)%s", (unsigned long long)rej, items, otc_signal_item_words(s),
                             reason, held_note(note, sizeof(note), held));
            }
        }
        export_done(rt, t->b);
        return true;
    }
    if (atomic_load(&e->abort)) { /* the call was cut short at the deadline */
        otc_exporter_lost(rt, s, items, true);
        return true;
    }
    if (rc != OTC_EIO) {
        exporter_drop(rt, rt->stats.permanent_items, s, items, "permanent error", reason);
        export_done(rt, t->b);
        return true;
    }
    if (!rt->set.retry_enabled) {
        exporter_drop(rt, rt->stats.permanent_items, s, items,
                      "export failed (retry_on_failure disabled)", reason);
        export_done(rt, t->b);
        return true;
    }
    wait = otc_backoff_next(&t->bo, &rt->set);
    if (res->retry_after_ns > wait) {
        wait = res->retry_after_ns;
    }
    now = otc_now_ns();
    /* With the circuit breaker, time waiting on it does not count, nor do
     * failures once the circuit has opened: an open circuit drops nothing. */
    if (rt->set.max_elapsed_ns > 0 && otc_breaker_state(&rt->breaker) == OTC_CIRCUIT_CLOSED &&
        now + (uint64_t)wait - t->start - t->held > (uint64_t)rt->set.max_elapsed_ns) {
        char why[96];
        snprintf(why, sizeof(why), "retry_on_failure.max_elapsed_time reached after %u attempts in %.1fs",
                 t->attempt, (double)(now - t->start) / 1e9);
        exporter_drop(rt, rt->stats.exhausted_items, s, items, why, reason);
        export_done(rt, t->b);
        return true;
    }
    atomic_fetch_add(&rt->stats.retries, 1);
    level = exporter_log_allowed(rt) ? OTC_LOG_WARN : OTC_LOG_DEBUG;
    OTC_LOG_(level, ins, "export of %zu %s failed (attempt %u: %s), retrying in %.3fs%s", items,
             otc_signal_item_words(s), t->attempt, reason, (double)wait / 1e9,
             res->retry_after_ns ? " (server's RetryInfo)" : "");
    t->wait = wait;
    return false;
}

/* Send one batch with consume(): wait t->wait first, then retry what is
 * retryable with back-off (honouring the server's RetryInfo), until it is
 * sent, fails for good, runs out of max_elapsed_time, or shutdown_timeout
 * passes. Releases the batch. Runs on an exporter thread. */
static void export_with_retry(struct otc_exporter_rt *rt, struct otc_engine *e, struct export_try *t)
{
    struct otc_instance *ins = &rt->ins;
    struct otc_export_result *res = otc_export_result();

    for (;;) {
        uint64_t deadline = otc_now_ns() + (uint64_t)t->wait;
        int rc;

        while (otc_now_ns() < deadline && !atomic_load(&e->abort)) {
            int64_t left = (int64_t)(deadline - otc_now_ns());
            otc_sleep_ns(left < 10 * 1000000 ? (left > 0 ? left : 0) : 10 * 1000000);
        }
        if (atomic_load(&e->abort) || !export_gate(rt, e, t)) {
            otc_exporter_lost(rt, t->b->signal, t->b->items, true);
            break;
        }
        export_attempt(rt, t, res);
        rc = ins->ops->consume(ins, ins->ctx, otc_batch_ref(t->b));
        export_report(rt, t, rc, res);
        if (export_settle(rt, e, t, rc, res)) {
            break;
        }
    }
    otc_breaker_release(&rt->breaker, t->ticket, OTC_BRK_UNUSED, NULL, otc_now_ns());
    t->ticket = OTC_BRK_REFUSED;
    otc_batch_unref(t->b);
    t->b = NULL;
    atomic_fetch_sub(&rt->ins.counters.in_flight, 1);
}

/* ------------------------------------------------- exporters with send() */

/* An exporter with ops->send keeps up to max_in_flight batches under way.
 * A slot is taken from in_flight for each batch started and given back when
 * the batch is done with, including its retries (which wait in retry_queue
 * for an exporter thread), so num_consumers bounds both, as in otelcol. */
static void exporter_pump(struct otc_exporter_rt *rt);

/* The batch of slot t is done with: free the slot. */
static void export_slot_free(struct otc_exporter_rt *rt, struct export_try *t)
{
    if (t->b) {
        otc_batch_unref(t->b);
        atomic_fetch_sub(&rt->ins.counters.in_flight, 1);
    }
    free(t);
    atomic_fetch_sub(&rt->in_flight, 1);
}

/* The end of an attempt made with send (or refused at once by it): true when
 * the batch waits for a retry (its slot stays taken), false when its slot
 * was freed. */
static bool export_sent(struct otc_exporter_rt *rt, struct export_try *t, int rc)
{
    export_report(rt, t, rc, &t->call.result);
    if (!export_settle(rt, rt->ins.engine, t, rc, &t->call.result)) {
        if (otc_queue_push(&rt->retry_queue, t) == OTC_OK) {
            return true;
        }
        /* cannot happen: the retry queue has a place for every slot */
        exporter_drop(rt, rt->stats.permanent_items, t->b->signal, t->b->items,
                      "permanent error", "no room in the retry queue");
        export_done(rt, t->b);
    }
    export_slot_free(rt, t);
    return false;
}

void otc_export_done(struct otc_export_call *call, int rc)
{
    struct export_try *t = (struct export_try *)((char *)call - offsetof(struct export_try, call));
    struct otc_exporter_rt *rt = call->engine_data;

    if (!export_sent(rt, t, rc)) {
        exporter_pump(rt);
    }
}

/* Start queued batches while slots are free. Called by whichever thread
 * queued a batch or freed a slot; a slot taken when the queue turns out empty
 * is given back, and the queue looked at once more, so a batch queued
 * meanwhile is not left waiting. */
static void exporter_pump(struct otc_exporter_rt *rt)
{
    struct otc_engine *e = rt->ins.engine;

    for (;;) {
        unsigned n = atomic_load(&rt->in_flight);
        struct export_try *t;
        void *b;
        int rc, ticket;

        if (n >= rt->max_in_flight || atomic_load(&e->abort)) {
            return;
        }
        if (!atomic_compare_exchange_weak(&rt->in_flight, &n, n + 1)) {
            continue;
        }
        /* the breaker first: while it refuses, batches stay in the queue (the
         * retry threads pump again at least every OTC_WORKER_IDLE_MS) */
        if ((ticket = otc_breaker_acquire(&rt->breaker, otc_now_ns())) == OTC_BRK_REFUSED) {
            atomic_fetch_sub(&rt->in_flight, 1);
            return;
        }
        if (!otc_queue_pop(&rt->queue, &b)) {
            otc_breaker_release(&rt->breaker, ticket, OTC_BRK_UNUSED, NULL, otc_now_ns());
            atomic_fetch_sub(&rt->in_flight, 1);
            if (otc_queue_len(&rt->queue) == 0) {
                return;
            }
            continue;
        }
        if (!(t = malloc(sizeof(*t)))) {
            /* no memory to track the attempt: dropped as consume() returning
             * OTC_ENOMEM would be */
            exporter_drop(rt, rt->stats.permanent_items, ((struct otc_batch *)b)->signal,
                          ((struct otc_batch *)b)->items, "permanent error",
                          otc_strerror(OTC_ENOMEM));
            export_done(rt, b);
            otc_batch_unref(b);
            otc_breaker_release(&rt->breaker, ticket, OTC_BRK_UNUSED, NULL, otc_now_ns());
            atomic_fetch_sub(&rt->in_flight, 1);
            continue;
        }
        export_try_init(t, rt, b);
        t->ticket = ticket;
        t->call.engine_data = rt;
        export_attempt(rt, t, &t->call.result);
        rc = rt->ins.ops->send(&rt->ins, rt->ins.ctx, otc_batch_ref(t->b), &t->call);
        if (rc != OTC_OK) {
            export_sent(rt, t, rc); /* this loop goes on: no recursion */
        }
    }
}

/* Hand b to rt's queue; OTC_EAGAIN when full (b stays the caller's). */
int otc_exporter_enqueue(struct otc_exporter_rt *rt, struct otc_batch *b)
{
    if (rt->async) {
        /* A batch a stage changed is encoded here, on the thread that queues it,
         * not by send() on the shared gRPC thread, which would stall every
         * receiver meanwhile (a no-op for bytes that are current). */
        const uint8_t *data;
        size_t len;
        (void)otc_batch_bytes(b, &data, &len);
    }
    if (otc_queue_push(&rt->queue, b) != OTC_OK) {
        return OTC_EAGAIN;
    }
    if (rt->async) {
        exporter_pump(rt);
    }
    return OTC_OK;
}

struct exporter_thread_arg {
    struct otc_exporter_rt *rt;
    struct otc_engine      *engine;
};

/* Exporter threads of an exporter with send(): the retries. At shutdown
 * they wait until no batch is under way, and at the deadline count what is
 * still queued as lost. */
static void exporter_retry_loop(struct otc_exporter_rt *rt, struct otc_engine *e)
{
    void *p;

    for (;;) {
        if (otc_queue_pop_wait(&rt->retry_queue, &p, OTC_WORKER_IDLE_MS)) {
            struct export_try *t = p;
            export_with_retry(rt, e, t);
            export_slot_free(rt, t);
            exporter_pump(rt);
            continue;
        }
        if (!atomic_load(&rt->closing)) {
            if (rt->breaker.enabled && otc_queue_len(&rt->queue) > 0) {
                exporter_pump(rt); /* the circuit may let calls through again */
            }
            continue;
        }
        if (atomic_load(&e->abort)) {
            while (otc_queue_pop(&rt->queue, &p)) {
                struct otc_batch *b = p;
                otc_exporter_lost(rt, b->signal, b->items, true);
                otc_batch_unref(b);
            }
        } else {
            exporter_pump(rt);
        }
        if (atomic_load(&rt->in_flight) == 0 && otc_queue_len(&rt->retry_queue) == 0 &&
            otc_queue_len(&rt->queue) == 0) {
            break;
        }
    }
}

static void *exporter_loop(void *arg)
{
    struct exporter_thread_arg *a = arg;
    struct otc_exporter_rt *rt = a->rt;
    struct otc_engine *e = a->engine;
    void *p;

    pthread_setname_np(pthread_self(), "exporter");
    if (rt->async) {
        exporter_retry_loop(rt, e);
        free(a);
        return NULL;
    }
    for (;;) {
        /* while the circuit refuses calls, batches stay in the queue; a few
         * threads may still pop at once and wait for a ticket with the batch */
        if (rt->breaker.enabled && !atomic_load(&e->abort) && otc_queue_len(&rt->queue) > 0 &&
            !otc_breaker_would_admit(&rt->breaker, otc_now_ns())) {
            otc_sleep_ns(10 * 1000000);
            continue;
        }
        if (otc_queue_pop_wait(&rt->queue, &p, OTC_WORKER_IDLE_MS)) {
            struct export_try t;
            export_try_init(&t, rt, p);
            export_with_retry(rt, e, &t);
            continue;
        }
        if (atomic_load(&rt->closing)) {
            break;
        }
    }
    free(a);
    return NULL;
}


int otc_exporter_start(struct otc_engine *e, struct otc_exporter_rt *rt)
{
    unsigned threads = 1;
    /* the ring in memory counts batches, whatever the persistent queue's sizer */
    int64_t qsize = !rt->set.queue_enabled ? 1
                    : rt->set.queue_size > EXPORTER_RING_MAX ? EXPORTER_RING_MAX : rt->set.queue_size;
    int rc;

    rt->wal_key = otc_wal_exporter_key(rt->ins.id);
    if ((rc = otc_queue_init(&rt->queue, (unsigned)qsize)) != OTC_OK) {
        return rc;
    }
    if ((rc = otc_breaker_init(&rt->breaker, &rt->ins, rt->set.cb_enabled,
                               rt->set.cb_failure_threshold, rt->set.cb_recovery_ns,
                               rt->set.cb_half_open)) != OTC_OK) {
        return rc;
    }
    if ((rc = otc_instance_init_start(&rt->ins)) != OTC_OK) {
        return rc;
    }
    if (rt->ins.ops->concurrent && rt->set.queue_enabled) {
        threads = (unsigned)rt->set.num_consumers;
    }
    if (rt->ins.ops->send && rt->set.queue_enabled) {
        rt->async = true;
        rt->max_in_flight = threads;
        atomic_init(&rt->in_flight, 0);
        if ((rc = otc_queue_init(&rt->retry_queue, threads)) != OTC_OK) {
            return rc;
        }
    }
    rt->threads = calloc(threads, sizeof(*rt->threads));
    if (!rt->threads) {
        return OTC_ENOMEM;
    }
    for (unsigned t = 0; t < threads; t++) {
        struct exporter_thread_arg *a = malloc(sizeof(*a));
        if (!a) {
            return OTC_ENOMEM;
        }
        a->rt = rt;
        a->engine = e;
        if (pthread_create(&rt->threads[t], NULL, exporter_loop, a) != 0) {
            free(a);
            return OTC_ENOMEM;
        }
        rt->n_threads++;
    }
    return OTC_OK;
}

void otc_exporter_close(struct otc_exporter_rt *rt)
{
    atomic_store(&rt->closing, true);
    if (rt->queue.cells) {
        otc_queue_kick(&rt->queue);
    }
    if (rt->retry_queue.cells) {
        otc_queue_kick(&rt->retry_queue);
    }
}

void otc_exporter_release(struct otc_exporter_rt *rt)
{
    void *b;

    if (rt->queue.cells) {
        while (otc_queue_pop(&rt->queue, &b)) {
            otc_batch_unref(b);
        }
        otc_queue_destroy(&rt->queue);
    }
    if (rt->retry_queue.cells) {
        while (otc_queue_pop(&rt->retry_queue, &b)) {
            struct export_try *t = b;
            otc_batch_unref(t->b);
            free(t);
        }
        otc_queue_destroy(&rt->retry_queue);
    }
    free(rt->threads);
    otc_breaker_destroy(&rt->breaker);
    otc_config_map_free(exporter_helper_map, &rt->set);
    otc_instance_release(&rt->ins);
}

static const struct otc_exporter_rt *rt_of(const struct otc_instance *exporter)
{
    return (const struct otc_exporter_rt *)((const char *)exporter -
                                            offsetof(struct otc_exporter_rt, ins));
}

enum otc_circuit_state otc_exporter_circuit_state(const struct otc_instance *exporter)
{
    return otc_breaker_state(&rt_of(exporter)->breaker);
}

bool otc_exporter_circuit_open(const struct otc_instance *exporter)
{
    return otc_exporter_circuit_state(exporter) != OTC_CIRCUIT_CLOSED;
}

uint64_t otc_exporter_circuit_changes(const struct otc_instance *exporter)
{
    return atomic_load(&rt_of(exporter)->breaker.changes);
}
