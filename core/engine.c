/* engine.c - builds the pipeline graph from the config (exporters first, then
 * processors, then receivers, as otelcol does), owns the pipeline worker and
 * exporter threads and the queues between them, and drains them at shutdown.
 * Build/start/stop run on the main thread; the loops below on their own threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "otc/otc_storage.h"

#define WORKER_IDLE_MS 100

/* ------------------------------------------------------------------ helpers */

uint64_t otc_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool otc_engine_stopping(const struct otc_engine *e)
{
    return atomic_load(&e->stopping);
}

enum otc_engine_state otc_engine_state(const struct otc_engine *e, uint64_t *since)
{
    enum otc_engine_state st = (enum otc_engine_state)atomic_load(&e->state);

    if (since) {
        *since = atomic_load(&e->state_since);
    }
    return st;
}

struct otc_instance *otc_engine_extension(const struct otc_engine *e, const char *id)
{
    for (size_t i = 0; e && id && i < e->n_service_ext; i++) {
        if (e->service_ext[i]->started && !strcmp(e->service_ext[i]->id, id)) {
            return e->service_ext[i];
        }
    }
    return NULL;
}

static void engine_set_state(struct otc_engine *e, enum otc_engine_state st)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    atomic_store(&e->state_since, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    atomic_store(&e->state, st);
}

/* -------------------------------------------------------- exporter helper */

#define SET_OFF(f) offsetof(struct otc_exporter_settings, f)

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
     OTC_CFG_F_MIN | OTC_CFG_F_MAX, 1, 1 << 20, NULL,
     "batches the queue holds; when full the pipeline waits and receivers answer UNAVAILABLE"},
    {OTC_CFG_STR, "sending_queue.storage", NULL, SET_OFF(storage), 0, 0, 0, NULL,
     "a file_storage extension id: the pipelines of this exporter log each request durably "
     "before answering OK, and replay what was not delivered at start-up"},
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
    OTC_CFG_END,
};

const struct otc_config_entry *otc_exporter_helper_map(void)
{
    return exporter_helper_map;
}

/* Per-thread outcome of the exporter's consume() (see otc_export_result). */
static _Thread_local struct otc_export_result export_result;

struct otc_export_result *otc_export_result(void)
{
    return &export_result;
}

bool otc_engine_drain_expired(const struct otc_engine *e)
{
    return atomic_load(&e->abort);
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

/* Item names for people ("data points"; otc_signal_item_name is for metric names). */
static const char *item_words(enum otc_signal s)
{
    static const char *const words[OTC_SIGNAL_COUNT] = {"spans", "data points", "log records"};

    return (unsigned)s < OTC_SIGNAL_COUNT ? words[s] : "items";
}

/* Items that will not be delivered because shutdown_timeout passed. */
static void exporter_lost(struct otc_exporter_rt *rt, enum otc_signal s, size_t items, bool queued)
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
        otc_log_err(&rt->ins, "dropping %zu %s: %s: %s%s", items, item_words(s), why, detail,
                    held_note(note, sizeof(note), held));
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
                             "(not retried)%s", (unsigned long long)rej, items, item_words(s),
                             reason, held_note(note, sizeof(note), held));
            }
        }
        return true;
    }
    if (atomic_load(&e->abort)) { /* the call was cut short at the deadline */
        exporter_lost(rt, s, items, true);
        return true;
    }
    if (rc != OTC_EIO) {
        exporter_drop(rt, rt->stats.permanent_items, s, items, "permanent error", reason);
        return true;
    }
    if (!rt->set.retry_enabled) {
        exporter_drop(rt, rt->stats.permanent_items, s, items,
                      "export failed (retry_on_failure disabled)", reason);
        return true;
    }
    wait = otc_backoff_next(&t->bo, &rt->set);
    if (res->retry_after_ns > wait) {
        wait = res->retry_after_ns;
    }
    now = otc_now_ns();
    if (rt->set.max_elapsed_ns > 0 &&
        now + (uint64_t)wait - t->start > (uint64_t)rt->set.max_elapsed_ns) {
        char why[96];
        snprintf(why, sizeof(why), "retry_on_failure.max_elapsed_time reached after %u attempts in %.1fs",
                 t->attempt, (double)(now - t->start) / 1e9);
        exporter_drop(rt, rt->stats.exhausted_items, s, items, why, reason);
        return true;
    }
    atomic_fetch_add(&rt->stats.retries, 1);
    level = exporter_log_allowed(rt) ? OTC_LOG_WARN : OTC_LOG_DEBUG;
    OTC_LOG_(level, ins, "export of %zu %s failed (attempt %u: %s), retrying in %.3fs%s", items,
             item_words(s), t->attempt, reason, (double)wait / 1e9,
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
            sleep_ns(left < 10 * 1000000 ? (left > 0 ? left : 0) : 10 * 1000000);
        }
        if (atomic_load(&e->abort)) {
            exporter_lost(rt, t->b->signal, t->b->items, true);
            break;
        }
        export_attempt(rt, t, res);
        rc = ins->ops->consume(ins, ins->ctx, otc_batch_ref(t->b));
        if (export_settle(rt, e, t, rc, res)) {
            break;
        }
    }
    otc_batch_unref(t->b);
    t->b = NULL;
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
    }
    free(t);
    atomic_fetch_sub(&rt->in_flight, 1);
}

/* The end of an attempt made with send (or refused at once by it): true when
 * the batch waits for a retry (its slot stays taken), false when its slot
 * was freed. */
static bool export_sent(struct otc_exporter_rt *rt, struct export_try *t, int rc)
{
    if (!export_settle(rt, rt->ins.engine, t, rc, &t->call.result)) {
        if (otc_queue_push(&rt->retry_queue, t) == OTC_OK) {
            return true;
        }
        /* cannot happen: the retry queue has a place for every slot */
        exporter_drop(rt, rt->stats.permanent_items, t->b->signal, t->b->items,
                      "permanent error", "no room in the retry queue");
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
        int rc;

        if (n >= rt->max_in_flight || atomic_load(&e->abort)) {
            return;
        }
        if (!atomic_compare_exchange_weak(&rt->in_flight, &n, n + 1)) {
            continue;
        }
        if (!otc_queue_pop(&rt->queue, &b)) {
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
            otc_batch_unref(b);
            atomic_fetch_sub(&rt->in_flight, 1);
            continue;
        }
        export_try_init(t, rt, b);
        t->call.engine_data = rt;
        export_attempt(rt, t, &t->call.result);
        rc = rt->ins.ops->send(&rt->ins, rt->ins.ctx, otc_batch_ref(t->b), &t->call);
        if (rc != OTC_OK) {
            export_sent(rt, t, rc); /* this loop goes on: no recursion */
        }
    }
}

/* Hand b to rt's queue; OTC_EAGAIN when full (b stays the caller's). */
static int exporter_enqueue(struct otc_exporter_rt *rt, struct otc_batch *b)
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
        if (otc_queue_pop_wait(&rt->retry_queue, &p, WORKER_IDLE_MS)) {
            struct export_try *t = p;
            export_with_retry(rt, e, t);
            export_slot_free(rt, t);
            exporter_pump(rt);
            continue;
        }
        if (!atomic_load(&rt->closing)) {
            continue;
        }
        if (atomic_load(&e->abort)) {
            while (otc_queue_pop(&rt->queue, &p)) {
                struct otc_batch *b = p;
                exporter_lost(rt, b->signal, b->items, true);
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
        if (otc_queue_pop_wait(&rt->queue, &p, WORKER_IDLE_MS)) {
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

/* ----------------------------------------------------------- data path */

/* Hand b to every exporter of p. A full exporter queue makes the worker wait,
 * which fills the pipeline queue, which makes receivers answer UNAVAILABLE. */
static int pipeline_fanout(struct otc_pipeline *p, struct otc_batch *b)
{
    struct otc_engine *e = p->engine;

    if (p->n_exporters == 0) {
        otc_batch_unref(b);
        return OTC_OK;
    }
    for (size_t i = 0; i < p->n_exporters; i++) {
        struct otc_exporter_rt *rt = p->exporters[i];
        struct otc_batch *x = (i + 1 < p->n_exporters) ? otc_batch_ref(b) : b;
        int64_t backoff = 50000;

        while (exporter_enqueue(rt, x) != OTC_OK) {
            if (atomic_load(&e->abort)) {
                exporter_lost(rt, x->signal, x->items, false);
                otc_batch_unref(x);
                break;
            }
            sleep_ns(backoff);
            if (backoff < 2000000) {
                backoff *= 2;
            }
        }
    }
    return OTC_OK;
}

int otc_next(struct otc_instance *ins, struct otc_batch *b)
{
    struct otc_instance *next = ins->next.ins;

    if (next) {
        return next->ops->consume(next, next->ctx, b);
    }
    return pipeline_fanout(ins->next.pipeline, b);
}

static void pipeline_run(struct otc_pipeline *p, struct otc_batch *b)
{
    if (p->n_processors) {
        struct otc_instance *first = &p->processors[0];
        first->ops->consume(first, first->ctx, b);
    } else {
        pipeline_fanout(p, b);
    }
}

/* Run due processor timers; returns ms until the next one (at most WORKER_IDLE_MS). */
static int pipeline_timers(struct otc_pipeline *p)
{
    uint64_t now = otc_now_ns();
    uint64_t wait = (uint64_t)WORKER_IDLE_MS * 1000000u;

    for (size_t i = 0; i < p->n_processors; i++) {
        struct otc_instance *pr = &p->processors[i];
        if (!pr->ops->timer || pr->timer_due_ns == 0) {
            continue;
        }
        if (pr->timer_due_ns <= now) {
            pr->ops->timer(pr, pr->ctx, now);
            now = otc_now_ns();
        }
        if (pr->timer_due_ns > now && pr->timer_due_ns - now < wait) {
            wait = pr->timer_due_ns - now;
        }
    }
    return (int)((wait + 999999u) / 1000000u);
}

static void *pipeline_loop(void *arg)
{
    struct otc_pipeline *p = arg;
    int wait_ms = WORKER_IDLE_MS;
    void *b;

    pthread_setname_np(pthread_self(), "pipeline");

    for (;;) {
        if (otc_queue_pop_wait(&p->queue, &b, wait_ms)) {
            pipeline_run(p, b);
            if (p->has_timers) {
                wait_ms = pipeline_timers(p);
            }
            continue;
        }
        if (p->has_timers) {
            wait_ms = pipeline_timers(p);
        }
        if (atomic_load(&p->closing)) {
            break;
        }
    }
    /* Stages holding data (batching) pass it on in pipeline order. */
    for (size_t i = 0; i < p->n_processors; i++) {
        struct otc_instance *pr = &p->processors[i];
        if (pr->ops->flush) {
            pr->ops->flush(pr, pr->ctx);
        }
    }
    return NULL;
}

/* Self-metrics of a receiver, per request: the total, and the OTLP/HTTP part. */
static void count_received(struct otc_instance *ins, const struct otc_batch *b, bool accepted)
{
    atomic_fetch_add(accepted ? &ins->counters.accepted[b->signal] : &ins->counters.refused[b->signal],
                     b->items);
    if (b->transport == OTC_TRANSPORT_HTTP) {
        atomic_fetch_add(accepted ? &ins->counters.http_accepted[b->signal]
                                  : &ins->counters.http_refused[b->signal], b->items);
    }
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
static void feeds_synchronize(void)
{
    for (int flip = 0; flip < 2; flip++) {
        unsigned prev = atomic_fetch_add(&feeds_epoch, 1) & 1u;
        while (atomic_load(&feeds_readers[prev]) != 0) {
            sleep_ns(100000);
        }
    }
}

/* Where a receiver hands a request for pipeline p: its queue, whose worker
 * runs the processors; or, for a pipeline with no processor and one queued
 * exporter, that exporter's queue, which saves a thread hand-off per request
 * (a full exporter queue is then answered UNAVAILABLE at once).
 * OTC_EAGAIN when full (b stays the caller's). */
static int pipeline_enter(struct otc_pipeline *p, struct otc_batch *b)
{
    if (p->n_processors == 0 && p->n_exporters == 1 && p->exporters[0]->set.queue_enabled) {
        return exporter_enqueue(p->exporters[0], b);
    }
    return otc_queue_push(&p->queue, b) == OTC_OK ? OTC_OK : OTC_EAGAIN;
}

static int deliver_table(struct otc_instance *ins, const struct otc_feed_table *t,
                         struct otc_batch *b)
{
    enum otc_signal s = b->signal;
    unsigned n = t ? t->n[s] : 0;
    size_t items = b->items;
    uint8_t transport;
    int rc = OTC_OK;

    if (n == 0) {
        otc_batch_unref(b);
        return OTC_EUNSUPP;
    }
    if (atomic_load(&t->engine->stopping)) {
        count_received(ins, b, false);
        otc_batch_unref(b);
        return OTC_ESHUTDOWN;
    }
    for (unsigned i = 0; i < n; i++) {
        struct otc_pipeline *p = t->p[s][i];
        for (size_t k = 0; k < p->n_admit; k++) {
            struct otc_instance *pr = p->admit[k];
            if (!pr->ops->admit(pr, pr->ctx, b->arena.bytes)) {
                count_received(ins, b, false);
                otc_batch_unref(b);
                return OTC_EAGAIN;
            }
        }
    }
    /* persistent storage: the request is durable before any pipeline sees it */
    for (unsigned i = 0; i < n; i++) {
        struct otc_pipeline *p = t->p[s][i];
        struct otc_wal_seg *seg;
        const uint8_t *data;
        size_t len;

        if (!p->wal) {
            continue;
        }
        rc = otc_batch_bytes(b, &data, &len);
        if (rc == OTC_OK && (rc = otc_wal_append(p->wal, (uint8_t)s, data, len, &seg)) == OTC_OK) {
            rc = otc_wal_seg_hold(b, seg);
        }
        if (rc != OTC_OK) {
            if (wal_log_allowed()) {
                otc_log_warn(ins, "pipeline %s: cannot write the persistent queue (%s); answering "
                             "UNAVAILABLE", p->id, otc_strerror(rc));
            }
            count_received(ins, b, false);
            otc_batch_unref(b);
            return OTC_EAGAIN;
        }
    }
    /* counted before the last push hands b over */
    transport = b->transport;
    for (unsigned i = 0; i < n; i++) {
        struct otc_batch *x = (i + 1 < n) ? otc_batch_ref(b) : b;
        if (pipeline_enter(t->p[s][i], x) != OTC_OK) {
            otc_batch_unref(x);
            rc = OTC_EAGAIN;
        }
    }
    /* per request, as otelcol: accepted only when every pipeline took it */
    atomic_fetch_add(rc == OTC_OK ? &ins->counters.accepted[s] : &ins->counters.refused[s], items);
    if (transport == OTC_TRANSPORT_HTTP) {
        atomic_fetch_add(rc == OTC_OK ? &ins->counters.http_accepted[s]
                                      : &ins->counters.http_refused[s], items);
    }
    return rc;
}

int otc_receiver_deliver(struct otc_instance *ins, struct otc_batch *b)
{
    /* pairs with the seq_cst epoch flip in feeds_synchronize(): a reader counted
     * after the flip loads the table stored before it */
    unsigned idx = atomic_load(&feeds_epoch) & 1u;
    int rc;

    atomic_fetch_add(&feeds_readers[idx], 1);
    rc = deliver_table(ins, atomic_load(&ins->feed_table), b);
    atomic_fetch_sub(&feeds_readers[idx], 1);
    return rc;
}

/* An immutable copy of what r feeds (its build-time lists), for engine e. */
static struct otc_feed_table *feed_table_new(struct otc_engine *e, const struct otc_instance *r)
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

/* ------------------------------------------------------------- building */

static const char *const section_names[] = {"receivers", "processors", "exporters", "extensions"};

/* Where a validate() message points: one that starts with an option key, with an
 * optional sequence index ("trace_statements[1]: ..."), is reported at that
 * value when the key is present in the component's mapping, else at the mapping. */
static const yaml_mark_t *validate_mark(struct otc_yaml *y, yaml_node_t *node, const char *err)
{
    char key[128];
    size_t n = 0, idx = 0;
    const char *p = err;
    yaml_node_t *v;

    while (((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') &&
           n + 1 < sizeof(key)) {
        key[n++] = *p++;
    }
    key[n] = '\0';
    v = n ? otc_yaml_get(y, node, key) : NULL;
    if (!v) {
        return node ? &node->start_mark : NULL;
    }
    if (*p == '[' && v->type == YAML_SEQUENCE_NODE) {
        for (p++; *p >= '0' && *p <= '9' && idx < 1000000; p++) {
            idx = idx * 10 + (size_t)(*p - '0');
        }
        if (*p == ']' && idx < (size_t)(v->data.sequence.items.top -
                                        v->data.sequence.items.start)) {
            return &otc_yaml_node(y, v->data.sequence.items.start[idx])->start_mark;
        }
    }
    return &v->start_mark;
}

static int instance_configure(struct otc_instance *ins, const struct otc_component_ops *ops,
                              const char *id, struct otc_yaml *y, yaml_node_t *node,
                              struct otc_exporter_settings *helper, struct otc_diag *d)
{
    char what[300];
    char err[256];
    int rc;

    snprintf(what, sizeof(what), "%s \"%s\"", otc_kind_name(ops->kind), id);
    ins->ops = ops;
    ins->id = strdup(id);
    ins->ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
    if (!ins->id || !ins->ctx) {
        return OTC_ENOMEM;
    }
    if (otc_config_map_defaults(ops->config_map, ins->ctx) != OTC_OK ||
        (helper && otc_config_map_defaults(exporter_helper_map, helper) != OTC_OK)) {
        return OTC_EINVAL;
    }
    rc = otc_config_apply(y, node, what, ops->config_map, ins->ctx,
                          helper ? exporter_helper_map : NULL, helper, d);
    if (rc != OTC_OK) {
        return rc;
    }
    if (ops->validate && ops->validate(ins->ctx, err, sizeof(err)) != OTC_OK) {
        otc_diag_add(d, y->path, validate_mark(y, node, err), "%s: %s", what, err);
        return OTC_EINVAL;
    }
    if (helper) {
        ins->timeout_ns = helper->timeout_ns;
    }
    return OTC_OK;
}

static void instance_release(struct otc_instance *ins)
{
    if (!ins->ops) {
        return;
    }
    if (ins->ctx) {
        if (ins->ops->destroy) {
            ins->ops->destroy(ins->ctx);
        }
        otc_config_map_free(ins->ops->config_map, ins->ctx);
        free(ins->ctx);
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        free(ins->feeds[s]);
    }
    free(ins->id);
    memset(ins, 0, sizeof(*ins));
}

/* "type/name" -> type (into buf). Errors for empty parts. */
static int split_id(const char *id, char *type, size_t n)
{
    const char *slash = strchr(id, '/');
    size_t tl = slash ? (size_t)(slash - id) : strlen(id);

    if (tl == 0 || tl >= n || (slash && slash[1] == '\0')) {
        return OTC_EINVAL;
    }
    memcpy(type, id, tl);
    type[tl] = '\0';
    return OTC_OK;
}

static yaml_node_t *section_node(struct otc_yaml *y, const char *name, struct otc_diag *d)
{
    yaml_node_t *n = otc_yaml_get(y, otc_yaml_root(y), name);

    if (n && !otc_yaml_is_null(n) && n->type != YAML_MAPPING_NODE) {
        otc_diag_add(d, y->path, &n->start_mark, "\"%s\" must be a mapping of component ids", name);
        return NULL;
    }
    return otc_yaml_is_null(n) ? NULL : n;
}

/* Check every component id of a section and look up its type. */
static int check_section(struct otc_yaml *y, enum otc_kind kind, struct otc_diag *d, size_t *count)
{
    yaml_node_t *sec = section_node(y, section_names[kind], d);
    int rc = OTC_OK;

    *count = 0;
    if (!sec) {
        return OTC_OK;
    }
    for (yaml_node_pair_t *p = sec->data.mapping.pairs.start; p < sec->data.mapping.pairs.top; p++) {
        yaml_node_t *k = otc_yaml_node(y, p->key);
        const char *id = otc_yaml_str(k);
        char type[128];

        if (!id || split_id(id, type, sizeof(type)) != OTC_OK) {
            otc_diag_add(d, y->path, &k->start_mark, "%s: \"%s\" is not a valid component id (type or type/name)",
                         section_names[kind], id ? id : "?");
            rc = OTC_EINVAL;
            continue;
        }
        if (!otc_registry_find(kind, type)) {
            size_t n;
            const struct otc_component_ops *const *all = otc_registry_all(&n);
            char known[512] = "";
            size_t used = 0;
            for (size_t i = 0; i < n && used < sizeof(known); i++) {
                if (all[i]->kind == kind) {
                    used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
                                             used ? ", " : "", all[i]->type);
                }
            }
            otc_diag_add(d, y->path, &k->start_mark, "%s: unknown %s type \"%s\" (known: %s)",
                         section_names[kind], otc_kind_name(kind), type, used ? known : "none");
            rc = OTC_EINVAL;
            continue;
        }
        (*count)++;
    }
    return rc;
}

static yaml_node_t *find_component(struct otc_yaml *y, enum otc_kind kind, const char *id,
                                   bool *defined)
{
    yaml_node_t *sec = otc_yaml_get(y, otc_yaml_root(y), section_names[kind]);

    *defined = false;
    if (!sec || sec->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = sec->data.mapping.pairs.start; p < sec->data.mapping.pairs.top; p++) {
        const char *k = otc_yaml_str(otc_yaml_node(y, p->key));
        if (k && !strcmp(k, id)) {
            *defined = true;
            return otc_yaml_node(y, p->value);
        }
    }
    return NULL;
}

/* A node's content as one string (keys in document order), to tell whether a
 * component's settings changed between two configs. */
static void yaml_write(FILE *f, struct otc_yaml *y, yaml_node_t *n, int depth)
{
    if (!n || depth > 64) {
        fputs("~", f);
        return;
    }
    if (n->type == YAML_SCALAR_NODE) {
        fprintf(f, "%zu:", n->data.scalar.length);
        fwrite(n->data.scalar.value, 1, n->data.scalar.length, f);
    } else if (n->type == YAML_SEQUENCE_NODE) {
        fputc('[', f);
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_write(f, y, otc_yaml_node(y, *it), depth + 1);
            fputc(',', f);
        }
        fputc(']', f);
    } else if (n->type == YAML_MAPPING_NODE) {
        fputc('{', f);
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_write(f, y, otc_yaml_node(y, p->key), depth + 1);
            fputc('=', f);
            yaml_write(f, y, otc_yaml_node(y, p->value), depth + 1);
            fputc(',', f);
        }
        fputc('}', f);
    } else {
        fputs("~", f);
    }
}

static char *yaml_canonical(struct otc_yaml *y, yaml_node_t *n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f) {
        return NULL;
    }
    yaml_write(f, y, n, 0);
    fclose(f);
    return buf;
}

static int build_shared(struct otc_engine *e, struct otc_yaml *y, enum otc_kind kind, struct otc_diag *d)
{
    yaml_node_t *sec = section_node(y, section_names[kind], d);
    size_t i = 0;
    int rc = OTC_OK;

    if (!sec) {
        return OTC_OK;
    }
    for (yaml_node_pair_t *p = sec->data.mapping.pairs.start; p < sec->data.mapping.pairs.top; p++) {
        const char *id = otc_yaml_str(otc_yaml_node(y, p->key));
        char type[128];
        const struct otc_component_ops *ops;
        struct otc_instance *ins;
        struct otc_exporter_settings *helper = NULL;

        if (!id || split_id(id, type, sizeof(type)) != OTC_OK ||
            !(ops = otc_registry_find(kind, type))) {
            continue;
        }
        if (kind == OTC_RECEIVER) {
            ins = e->receivers[i] = calloc(1, sizeof(*ins));
            e->receiver_conf[i] = yaml_canonical(y, otc_yaml_node(y, p->value));
            if (!ins || !e->receiver_conf[i++]) {
                return OTC_ENOMEM;
            }
        } else if (kind == OTC_EXTENSION) {
            ins = &e->extensions[i++];
        } else if (kind == OTC_EXPORTER) {
            struct otc_exporter_rt *rt = &e->exporters[i++];
            ins = &rt->ins;
            helper = &rt->set;
        } else {
            /* processors are instantiated per pipeline; check the definition once here */
            struct otc_instance probe = {0};
            if (instance_configure(&probe, ops, id, y, otc_yaml_node(y, p->value), NULL, d) != OTC_OK) {
                rc = OTC_EINVAL;
            }
            instance_release(&probe);
            continue;
        }
        ins->engine = e;
        if (instance_configure(ins, ops, id, y, otc_yaml_node(y, p->value), helper, d) != OTC_OK) {
            rc = OTC_EINVAL;
        }
    }
    if (kind == OTC_RECEIVER) {
        e->n_receivers = i;
    } else if (kind == OTC_EXTENSION) {
        e->n_extensions = i;
    } else if (kind == OTC_EXPORTER) {
        e->n_exporters = i;
    }
    return rc;
}

static struct otc_instance *find_receiver(struct otc_engine *e, const char *id)
{
    for (size_t i = 0; i < e->n_receivers; i++) {
        if (e->receivers[i] && e->receivers[i]->id && !strcmp(e->receivers[i]->id, id)) {
            return e->receivers[i];
        }
    }
    return NULL;
}

static struct otc_exporter_rt *find_exporter(struct otc_engine *e, const char *id)
{
    for (size_t i = 0; i < e->n_exporters; i++) {
        if (e->exporters[i].ins.id && !strcmp(e->exporters[i].ins.id, id)) {
            return &e->exporters[i];
        }
    }
    return NULL;
}

/* Resolve one list (receivers/processors/exporters) of a pipeline. */
static int pipeline_list(struct otc_engine *e, struct otc_yaml *y, struct otc_pipeline *p,
                         yaml_node_t *pn, enum otc_kind kind, struct otc_diag *d)
{
    const char *key = section_names[kind];
    yaml_node_t *list = otc_yaml_get(y, pn, key);
    size_t n;
    int rc = OTC_OK;

    if (!list || otc_yaml_is_null(list)) {
        if (kind != OTC_PROCESSOR) {
            otc_diag_add(d, y->path, &pn->start_mark, "pipeline \"%s\": must have at least one %s",
                         p->id, otc_kind_name(kind));
            return OTC_EINVAL;
        }
        return OTC_OK;
    }
    if (list->type != YAML_SEQUENCE_NODE) {
        otc_diag_add(d, y->path, &list->start_mark, "pipeline \"%s\": \"%s\" must be a list of ids",
                     p->id, key);
        return OTC_EINVAL;
    }
    n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n == 0 && kind != OTC_PROCESSOR) {
        otc_diag_add(d, y->path, &list->start_mark, "pipeline \"%s\": must have at least one %s",
                     p->id, otc_kind_name(kind));
        return OTC_EINVAL;
    }
    if (kind == OTC_RECEIVER) {
        p->receivers = calloc(n ? n : 1, sizeof(*p->receivers));
    } else if (kind == OTC_PROCESSOR) {
        p->processors = calloc(n ? n : 1, sizeof(*p->processors));
        p->admit = calloc(n ? n : 1, sizeof(*p->admit));
    } else {
        p->exporters = calloc(n ? n : 1, sizeof(*p->exporters));
    }
    if ((kind == OTC_RECEIVER && !p->receivers) ||
        (kind == OTC_PROCESSOR && (!p->processors || !p->admit)) ||
        (kind == OTC_EXPORTER && !p->exporters)) {
        return OTC_ENOMEM;
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
        yaml_node_t *item = otc_yaml_node(y, *it);
        const char *id = otc_yaml_str(item);
        bool defined;
        yaml_node_t *def;
        struct otc_instance *ins = NULL;

        if (!id) {
            otc_diag_add(d, y->path, &item->start_mark, "pipeline \"%s\": %s entries must be ids",
                         p->id, key);
            rc = OTC_EINVAL;
            continue;
        }
        def = find_component(y, kind, id, &defined);
        if (!defined) {
            otc_diag_add(d, y->path, &item->start_mark,
                         "pipeline \"%s\": references %s \"%s\", which is not configured under \"%s\"",
                         p->id, otc_kind_name(kind), id, key);
            rc = OTC_EINVAL;
            continue;
        }
        if (kind == OTC_RECEIVER) {
            ins = find_receiver(e, id);
            if (ins) {
                for (size_t k = 0; k < p->n_receivers; k++) {
                    if (p->receivers[k] == ins) {
                        otc_diag_add(d, y->path, &item->start_mark,
                                     "pipeline \"%s\": receiver \"%s\" is listed twice", p->id, id);
                        rc = OTC_EINVAL;
                        ins = NULL;
                        break;
                    }
                }
            }
            if (ins) {
                p->receivers[p->n_receivers++] = ins;
            }
        } else if (kind == OTC_EXPORTER) {
            struct otc_exporter_rt *rt = find_exporter(e, id);
            if (rt) {
                for (size_t k = 0; k < p->n_exporters; k++) {
                    if (p->exporters[k] == rt) {
                        otc_diag_add(d, y->path, &item->start_mark,
                                     "pipeline \"%s\": exporter \"%s\" is listed twice", p->id, id);
                        rc = OTC_EINVAL;
                        rt = NULL;
                        break;
                    }
                }
            }
            if (rt) {
                p->exporters[p->n_exporters++] = rt;
                ins = &rt->ins;
            }
        } else {
            char type[128];
            const struct otc_component_ops *ops;
            if (split_id(id, type, sizeof(type)) != OTC_OK || !(ops = otc_registry_find(kind, type))) {
                continue; /* reported with the section */
            }
            ins = &p->processors[p->n_processors];
            ins->engine = e;
            if (instance_configure(ins, ops, id, y, def, NULL, d) != OTC_OK) {
                instance_release(ins);
                rc = OTC_EINVAL;
                continue;
            }
            p->n_processors++;
        }
        if (ins && !(ins->ops->signals & OTC_SIG_BIT(p->signal))) {
            otc_diag_add(d, y->path, &item->start_mark, "pipeline \"%s\": %s \"%s\" does not support %s",
                         p->id, otc_kind_name(kind), id, otc_signal_name(p->signal));
            rc = OTC_EINVAL;
        } else if (ins) {
            ins->signals |= OTC_SIG_BIT(p->signal);
        }
    }
    return rc;
}

static int add_feed(struct otc_instance *r, struct otc_pipeline *p)
{
    enum otc_signal s = p->signal;
    struct otc_pipeline **grown = realloc(r->feeds[s], (r->n_feeds[s] + 1) * sizeof(*grown));

    if (!grown) {
        return OTC_ENOMEM;
    }
    r->feeds[s] = grown;
    r->feeds[s][r->n_feeds[s]++] = p;
    return OTC_OK;
}

/* service.extensions: ids configured under "extensions", started in this order. */
static int service_extensions(struct otc_engine *e, struct otc_yaml *y, yaml_node_t *vn,
                              struct otc_diag *d)
{
    size_t n;
    int rc = OTC_OK;

    if (otc_yaml_is_null(vn)) {
        return OTC_OK;
    }
    if (vn->type != YAML_SEQUENCE_NODE) {
        otc_diag_add(d, y->path, &vn->start_mark, "service: \"extensions\" must be a list of ids");
        return OTC_EINVAL;
    }
    n = (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start);
    free(e->service_ext);
    e->service_ext = calloc(n ? n : 1, sizeof(*e->service_ext));
    e->n_service_ext = 0;
    if (!e->service_ext) {
        return OTC_ENOMEM;
    }
    for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++) {
        yaml_node_t *item = otc_yaml_node(y, *it);
        const char *id = otc_yaml_str(item);
        struct otc_instance *ext = NULL;
        bool defined;

        if (id) {
            find_component(y, OTC_EXTENSION, id, &defined);
            for (size_t k = 0; defined && k < e->n_extensions; k++) {
                if (e->extensions[k].id && !strcmp(e->extensions[k].id, id)) {
                    ext = &e->extensions[k];
                }
            }
            if (!defined) {
                otc_diag_add(d, y->path, &item->start_mark,
                             "service: references extension \"%s\", which is not configured under \"extensions\"",
                             id);
                rc = OTC_EINVAL;
                continue;
            }
        } else {
            otc_diag_add(d, y->path, &item->start_mark, "service: extensions entries must be ids");
            rc = OTC_EINVAL;
            continue;
        }
        for (size_t k = 0; ext && k < e->n_service_ext; k++) {
            if (e->service_ext[k] == ext) {
                otc_diag_add(d, y->path, &item->start_mark, "service: extension \"%s\" is listed twice", id);
                rc = OTC_EINVAL;
                ext = NULL;
            }
        }
        if (ext) {
            e->service_ext[e->n_service_ext++] = ext;
        }
    }
    return rc;
}

/* service.telemetry.logs: level (debug, info, warn, error) and encoding
 * (console, json), as otelcol names them. */
static int apply_log_options(struct otc_yaml *y, yaml_node_t *logs, struct otc_diag *d)
{
    int rc = OTC_OK;

    if (otc_yaml_is_null(logs)) {
        return OTC_OK;
    }
    if (logs->type != YAML_MAPPING_NODE) {
        otc_diag_add(d, y->path, &logs->start_mark, "service: key \"telemetry.logs\": expected a mapping");
        return OTC_EINVAL;
    }
    for (yaml_node_pair_t *p = logs->data.mapping.pairs.start; p < logs->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = otc_yaml_node(y, p->key), *vn = otc_yaml_node(y, p->value);
        const char *k = otc_yaml_str(kn), *v = otc_yaml_str(vn);
        enum otc_log_level lvl;

        if (k && !strcmp(k, "level")) {
            if (!v || otc_log_level_parse(v, &lvl) != OTC_OK) {
                otc_diag_add(d, y->path, &vn->start_mark,
                             "service: key \"telemetry.logs.level\": expected debug, info, warn or error");
                rc = OTC_EINVAL;
            } else {
                otc_log_threshold = lvl;
            }
        } else if (k && !strcmp(k, "encoding")) {
            if (!v || (strcmp(v, "console") && strcmp(v, "json"))) {
                otc_diag_add(d, y->path, &vn->start_mark,
                             "service: key \"telemetry.logs.encoding\": expected console or json");
                rc = OTC_EINVAL;
            } else {
                otc_log_json = !strcmp(v, "json");
            }
        } else {
            otc_diag_add(d, y->path, &kn->start_mark,
                         "service: unknown key \"telemetry.logs.%s\" (supported: level, encoding)", k ? k : "?");
            rc = OTC_EINVAL;
        }
    }
    return rc;
}

static int build_service(struct otc_engine *e, struct otc_yaml *y, struct otc_diag *d)
{
    yaml_node_t *svc = otc_yaml_get(y, otc_yaml_root(y), "service");
    yaml_node_t *pipes;
    size_t n, i = 0;
    int rc = OTC_OK;

    if (!svc || svc->type != YAML_MAPPING_NODE) {
        otc_diag_add(d, y->path, svc ? &svc->start_mark : NULL, "\"service\" with \"pipelines\" is required");
        return OTC_EINVAL;
    }
    for (yaml_node_pair_t *p = svc->data.mapping.pairs.start; p < svc->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = otc_yaml_node(y, p->key), *vn = otc_yaml_node(y, p->value);
        const char *k = otc_yaml_str(kn);

        if (k && !strcmp(k, "pipelines")) {
            continue;
        }
        if (k && !strcmp(k, "shutdown_timeout")) {
            const char *v = otc_yaml_str(vn);
            if (!v || otc_parse_duration(v, &e->shutdown_timeout_ns) != OTC_OK) {
                otc_diag_add(d, y->path, &vn->start_mark,
                             "service: key \"shutdown_timeout\": expected a duration such as 25s");
                rc = OTC_EINVAL;
            }
            continue;
        }
        if (k && !strcmp(k, "extensions")) {
            if (service_extensions(e, y, vn, d) != OTC_OK) {
                rc = OTC_EINVAL;
            }
            continue;
        }
        if (k && !strcmp(k, "telemetry")) {
            if (!otc_yaml_is_null(vn) && vn->type == YAML_MAPPING_NODE) {
                for (yaml_node_pair_t *tp = vn->data.mapping.pairs.start; tp < vn->data.mapping.pairs.top; tp++) {
                    const char *tk = otc_yaml_str(otc_yaml_node(y, tp->key));
                    if (tk && !strcmp(tk, "metrics")) {
                        if (otc_telemetry_configure(&e->telemetry, y, otc_yaml_node(y, tp->value), d) != OTC_OK) {
                            rc = OTC_EINVAL;
                        }
                    } else if (tk && !strcmp(tk, "logs")) {
                        if (apply_log_options(y, otc_yaml_node(y, tp->value), d) != OTC_OK) {
                            rc = OTC_EINVAL;
                        }
                    } else {
                        otc_diag_add(d, y->path, &otc_yaml_node(y, tp->key)->start_mark,
                                     "service: unknown key \"telemetry.%s\" (supported: telemetry.logs, "
                                     "telemetry.metrics)",
                                     tk ? tk : "?");
                        rc = OTC_EINVAL;
                    }
                }
            }
            continue;
        }
        otc_diag_add(d, y->path, &kn->start_mark, "service: unknown key \"%s\"", k ? k : "?");
        rc = OTC_EINVAL;
    }
    pipes = otc_yaml_get(y, svc, "pipelines");
    if (!pipes || pipes->type != YAML_MAPPING_NODE || pipes->data.mapping.pairs.top == pipes->data.mapping.pairs.start) {
        otc_diag_add(d, y->path, pipes ? &pipes->start_mark : &svc->start_mark,
                     "service: \"pipelines\" must define at least one pipeline");
        return OTC_EINVAL;
    }
    n = (size_t)(pipes->data.mapping.pairs.top - pipes->data.mapping.pairs.start);
    e->pipelines = calloc(n, sizeof(*e->pipelines));
    if (!e->pipelines) {
        return OTC_ENOMEM;
    }
    for (yaml_node_pair_t *pp = pipes->data.mapping.pairs.start; pp < pipes->data.mapping.pairs.top; pp++) {
        yaml_node_t *kn = otc_yaml_node(y, pp->key), *pn = otc_yaml_node(y, pp->value);
        const char *id = otc_yaml_str(kn);
        struct otc_pipeline *p = &e->pipelines[i];
        const char *slash;
        size_t tl;

        if (!id) {
            continue;
        }
        slash = strchr(id, '/');
        tl = slash ? (size_t)(slash - id) : strlen(id);
        if (otc_signal_parse(id, tl, &p->signal) != OTC_OK || (slash && !slash[1])) {
            otc_diag_add(d, y->path, &kn->start_mark,
                         "service: pipeline \"%s\": the id must be traces, metrics or logs, optionally /name",
                         id);
            rc = OTC_EINVAL;
            continue;
        }
        if (!pn || pn->type != YAML_MAPPING_NODE) {
            otc_diag_add(d, y->path, &kn->start_mark, "service: pipeline \"%s\" must be a mapping", id);
            rc = OTC_EINVAL;
            continue;
        }
        for (yaml_node_pair_t *lp = pn->data.mapping.pairs.start; lp < pn->data.mapping.pairs.top; lp++) {
            yaml_node_t *lk = otc_yaml_node(y, lp->key);
            const char *ks = otc_yaml_str(lk);
            if (!ks || (strcmp(ks, "receivers") && strcmp(ks, "processors") && strcmp(ks, "exporters"))) {
                otc_diag_add(d, y->path, &lk->start_mark,
                             "service: pipeline \"%s\": unknown key \"%s\" (receivers, processors, exporters)",
                             id, ks ? ks : "?");
                rc = OTC_EINVAL;
            }
        }
        p->id = strdup(id);
        p->engine = e;
        i++;
        if (!p->id) {
            return OTC_ENOMEM;
        }
        if (pipeline_list(e, y, p, pn, OTC_RECEIVER, d) != OTC_OK ||
            pipeline_list(e, y, p, pn, OTC_PROCESSOR, d) != OTC_OK ||
            pipeline_list(e, y, p, pn, OTC_EXPORTER, d) != OTC_OK) {
            rc = OTC_EINVAL;
        }
    }
    e->n_pipelines = i;
    return rc;
}

/* sending_queue.storage: the extension must be a storage provider listed in
 * service.extensions. A pipeline whose exporters name one gets a write-ahead
 * log in it (the first one named when they differ). */
static int resolve_storage(struct otc_engine *e, struct otc_yaml *y, struct otc_diag *d)
{
    int rc = OTC_OK;

    for (size_t i = 0; i < e->n_exporters; i++) {
        struct otc_exporter_rt *rt = &e->exporters[i];
        struct otc_storage_settings st;
        struct otc_instance *ext = NULL;

        if (!rt->set.storage) {
            continue;
        }
        for (size_t k = 0; k < e->n_service_ext; k++) {
            if (!strcmp(e->service_ext[k]->id, rt->set.storage)) {
                ext = e->service_ext[k];
            }
        }
        if (!ext || otc_storage_settings(ext, &st) != OTC_OK) {
            otc_diag_add(d, y->path, NULL,
                         "exporter \"%s\": sending_queue.storage \"%s\" must be a storage "
                         "extension listed in service.extensions", rt->ins.id, rt->set.storage);
            rc = OTC_EINVAL;
        }
    }
    for (size_t i = 0; rc == OTC_OK && i < e->n_pipelines; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        for (size_t k = 0; k < p->n_exporters && !p->storage; k++) {
            const char *id = p->exporters[k]->set.storage;
            for (size_t j = 0; id && j < e->n_service_ext; j++) {
                if (!strcmp(e->service_ext[j]->id, id)) {
                    p->storage = e->service_ext[j];
                }
            }
        }
    }
    return rc;
}

static void wire_graph(struct otc_engine *e)
{
    for (size_t i = 0; i < e->n_pipelines; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        for (size_t k = 0; k < p->n_processors; k++) {
            p->processors[k].next.pipeline = p;
            p->processors[k].next.ins = (k + 1 < p->n_processors) ? &p->processors[k + 1] : NULL;
            p->has_timers |= p->processors[k].ops->timer != NULL;
            if (p->processors[k].ops->admit) {
                p->admit[p->n_admit++] = &p->processors[k];
            }
        }
        for (size_t k = 0; k < p->n_exporters; k++) {
            p->exporters[k]->used = true;
        }
    }
}

int otc_engine_build(struct otc_yaml *y, struct otc_diag *d, struct otc_engine **out)
{
    static const char *const top_keys[] = {"receivers", "processors", "exporters", "extensions",
                                           "service", NULL};
    struct otc_engine *e;
    yaml_node_t *root = otc_yaml_root(y);
    size_t n_rcv = 0, n_proc = 0, n_exp = 0, n_ext = 0;
    int rc = OTC_OK;

    *out = NULL;
    if (otc_registry_check() != OTC_OK) {
        otc_diag_add(d, y->path, NULL, "internal error: duplicate component types in the registry");
        return OTC_EINVAL;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = otc_yaml_node(y, p->key);
        const char *k = otc_yaml_str(kn);
        bool known = false;
        for (int i = 0; k && top_keys[i]; i++) {
            known |= !strcmp(k, top_keys[i]);
        }
        if (!known) {
            otc_diag_add(d, y->path, &kn->start_mark,
                         "unknown top-level key \"%s\" (receivers, processors, exporters, extensions, service)",
                         k ? k : "?");
            rc = OTC_EINVAL;
        }
    }
    if (check_section(y, OTC_RECEIVER, d, &n_rcv) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (check_section(y, OTC_PROCESSOR, d, &n_proc) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (check_section(y, OTC_EXPORTER, d, &n_exp) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (check_section(y, OTC_EXTENSION, d, &n_ext) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        return OTC_ENOMEM;
    }
    e->shutdown_timeout_ns = 25LL * 1000000000LL;
    e->receivers = calloc(n_rcv ? n_rcv : 1, sizeof(*e->receivers));
    e->receiver_conf = calloc(n_rcv ? n_rcv : 1, sizeof(*e->receiver_conf));
    e->exporters = calloc(n_exp ? n_exp : 1, sizeof(*e->exporters));
    e->extensions = calloc(n_ext ? n_ext : 1, sizeof(*e->extensions));
    if (otc_telemetry_init(&e->telemetry) != OTC_OK || !e->receivers || !e->receiver_conf || !e->exporters ||
        !e->extensions) {
        otc_engine_destroy(e);
        return OTC_ENOMEM;
    }
    /* exporters first, then processors, then receivers (otelcol's build order) */
    /* each section is checked even when another failed: every error is reported */
    for (int k = 0; k < 4; k++) {
        static const enum otc_kind order[] = {OTC_EXTENSION, OTC_EXPORTER, OTC_PROCESSOR,
                                              OTC_RECEIVER};
        if (build_shared(e, y, order[k], d) != OTC_OK) {
            rc = OTC_EINVAL;
        }
    }
    if (build_service(e, y, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (rc == OTC_OK && resolve_storage(e, y, d) != OTC_OK) {
        rc = OTC_EINVAL;
    }
    if (rc != OTC_OK) {
        otc_engine_destroy(e);
        return rc;
    }
    wire_graph(e);
    {
        yaml_node_t *svc = otc_yaml_get(y, root, "service");
        char *a = yaml_canonical(y, otc_yaml_get(y, root, "extensions"));
        char *b = yaml_canonical(y, otc_yaml_get(y, svc, "extensions"));
        if (a && b && asprintf(&e->ext_conf, "%s|%s", a, b) < 0) {
            e->ext_conf = NULL;
        }
        free(a);
        free(b);
        if (!e->ext_conf) {
            otc_engine_destroy(e);
            return OTC_ENOMEM;
        }
    }
    for (size_t i = 0; i < e->n_pipelines; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        for (size_t k = 0; k < p->n_receivers; k++) {
            if (add_feed(p->receivers[k], p) != OTC_OK) {
                otc_engine_destroy(e);
                return OTC_ENOMEM;
            }
        }
    }
    *out = e;
    return OTC_OK;
}

static void describe_list(FILE *out, const char *label, struct otc_instance *const *v, size_t n)
{
    fprintf(out, "    %s: [", label);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s%s", i ? ", " : "", v[i]->id);
    }
    fprintf(out, "]\n");
}

void otc_engine_describe(const struct otc_engine *e, FILE *out)
{
    fprintf(out, "pipelines:\n");
    for (size_t i = 0; i < e->n_pipelines; i++) {
        const struct otc_pipeline *p = &e->pipelines[i];
        struct otc_instance *tmp[64];
        size_t n;

        fprintf(out, "  %s:\n", p->id);
        describe_list(out, "receivers", p->receivers, p->n_receivers);
        n = p->n_processors < 64 ? p->n_processors : 64;
        for (size_t k = 0; k < n; k++) {
            tmp[k] = &p->processors[k];
        }
        describe_list(out, "processors", tmp, n);
        n = p->n_exporters < 64 ? p->n_exporters : 64;
        for (size_t k = 0; k < n; k++) {
            tmp[k] = &p->exporters[k]->ins;
        }
        describe_list(out, "exporters", tmp, n);
    }
}

/* ---------------------------------------------------------- lifecycle */

static bool receiver_used(const struct otc_instance *r)
{
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        if (r->n_feeds[s]) {
            return true;
        }
    }
    return false;
}

static int instance_init_start(struct otc_instance *ins)
{
    int rc;

    if (ins->ops->init && (rc = ins->ops->init(ins, ins->ctx)) != OTC_OK) {
        otc_log_err(ins, "init failed: %s", otc_strerror(rc));
        return rc;
    }
    if (ins->ops->start && (rc = ins->ops->start(ins, ins->ctx)) != OTC_OK) {
        otc_log_err(ins, "start failed: %s", otc_strerror(rc));
        return rc;
    }
    ins->started = true;
    return OTC_OK;
}

static int exporter_start(struct otc_engine *e, struct otc_exporter_rt *rt)
{
    unsigned threads = 1;
    int64_t qsize = rt->set.queue_enabled ? rt->set.queue_size : 1;
    int rc;

    if ((rc = otc_queue_init(&rt->queue, (unsigned)qsize)) != OTC_OK) {
        return rc;
    }
    if ((rc = instance_init_start(&rt->ins)) != OTC_OK) {
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

/* Every instance whose counters /metrics shows (the registry is read-only
 * once the metrics thread runs). */
static int telemetry_register(struct otc_engine *e)
{
    struct otc_telemetry_source src;
    int rc = OTC_OK;

    for (size_t i = 0; i < e->n_receivers && rc == OTC_OK; i++) {
        struct otc_instance *r = e->receivers[i];
        if (r && receiver_used(r)) {
            src = (struct otc_telemetry_source){OTC_RECEIVER, r->id, r->ops->type, &r->counters,
                                                r->signals, NULL, 0};
            rc = otc_telemetry_add(&e->telemetry, &src);
        }
    }
    for (size_t i = 0; i < e->n_pipelines && rc == OTC_OK; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        for (size_t k = 0; k < p->n_processors && rc == OTC_OK; k++) {
            struct otc_instance *pr = &p->processors[k];
            src = (struct otc_telemetry_source){OTC_PROCESSOR, pr->id, pr->ops->type, &pr->counters,
                                                pr->signals, NULL, 0};
            rc = otc_telemetry_add(&e->telemetry, &src);
        }
    }
    for (size_t i = 0; i < e->n_exporters && rc == OTC_OK; i++) {
        struct otc_exporter_rt *rt = &e->exporters[i];
        if (rt->used) {
            src = (struct otc_telemetry_source){OTC_EXPORTER, rt->ins.id, rt->ins.ops->type,
                                                &rt->ins.counters, rt->ins.signals,
                                                rt->set.queue_enabled ? &rt->queue : NULL,
                                                (uint64_t)rt->set.queue_size};
            rc = otc_telemetry_add(&e->telemetry, &src);
        }
    }
    return rc;
}

struct replay_state {
    struct otc_pipeline *p;
    uint64_t             requests;
    uint64_t             items;
};

/* One record of the persistent queue back into the pipeline, as if received. */
static int pipeline_replay_one(void *arg, uint8_t signal, const void *data, size_t len,
                               struct otc_wal_seg *seg)
{
    struct replay_state *st = arg;
    struct otc_pipeline *p = st->p;
    struct otc_batch *b = otc_batch_from_bytes(p->signal, data, len);
    int64_t backoff = 50000;

    if (!b) {
        otc_wal_seg_release(seg);
        return OTC_ENOMEM;
    }
    if (otc_wal_seg_hold(b, seg) != OTC_OK) {
        otc_batch_unref(b);
        return OTC_ENOMEM;
    }
    if (signal != p->signal || otc_batch_decode(b) != OTC_OK) {
        otc_log_warn(p->storage, "pipeline %s: a queued request does not decode as %s; dropped",
                     p->id, otc_signal_name(p->signal));
        otc_batch_unref(b);
        return OTC_OK;
    }
    st->requests++;
    st->items += b->items;
    /* the pipeline and its exporters run already: wait for room */
    while (otc_queue_push(&p->queue, b) != OTC_OK) {
        if (atomic_load(&p->engine->abort)) {
            otc_batch_unref(b);
            return OTC_ESHUTDOWN;
        }
        sleep_ns(backoff);
        if (backoff < 20000000) {
            backoff *= 2;
        }
    }
    return OTC_OK;
}

/* Open the pipeline's write-ahead log below its storage directory and
 * replay what an earlier run left undelivered (before any receiver starts). */
static int pipeline_open_wal(struct otc_pipeline *p)
{
    struct otc_wal_options opt;
    struct replay_state st = {p, 0, 0};
    struct otc_storage_settings ss;
    const char *base;
    char dir[4096], err[512];
    int rc;

    if (otc_storage_settings(p->storage, &ss) != OTC_OK) {
        return OTC_EINVAL;
    }
    base = ss.directory;
    opt.fsync = ss.fsync;
    opt.segment_size = (size_t)ss.segment_size;
    /* one subdirectory per pipeline: "traces/x" -> "traces_x" (ids cannot hold '_' after
     * the signal name without a '/', so two pipelines never share one) */
    snprintf(dir, sizeof(dir), "%s/%s", base, p->id);
    for (char *c = dir + strlen(base) + 1; *c; c++) {
        if (*c == '/') {
            *c = '_';
        }
    }
    p->wal = otc_wal_open(dir, &opt, p->storage, err, sizeof(err));
    if (!p->wal) {
        otc_log_err(p->storage, "pipeline %s: persistent queue: %s", p->id, err);
        return OTC_EIO;
    }
    rc = otc_wal_replay(p->wal, pipeline_replay_one, &st);
    if (st.requests) {
        otc_log_info(p->storage, "pipeline %s: replayed %llu requests (%llu %s) from the "
                     "persistent queue", p->id, (unsigned long long)st.requests,
                     (unsigned long long)st.items, item_words(p->signal));
    }
    return rc;
}

/* Start e's used exporters, then each pipeline: its queue (popped only by its
 * worker), its processors and its worker thread. Start-up and reload share it. */
static int start_exporters_and_pipelines(struct otc_engine *e)
{
    int rc;

    for (size_t i = 0; i < e->n_exporters; i++) {
        if (e->exporters[i].used && (rc = exporter_start(e, &e->exporters[i])) != OTC_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < e->n_pipelines; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        if ((rc = otc_queue_init_sc(&p->queue, OTC_PIPELINE_QUEUE_SIZE)) != OTC_OK) {
            return rc;
        }
        for (size_t k = 0; k < p->n_processors; k++) {
            if ((rc = instance_init_start(&p->processors[k])) != OTC_OK) {
                return rc;
            }
        }
        if (pthread_create(&p->thread, NULL, pipeline_loop, p) != 0) {
            return OTC_ENOMEM;
        }
        p->thread_started = true;
    }
    return OTC_OK;
}

int otc_engine_start(struct otc_engine *e)
{
    int rc;

    engine_set_state(e, OTC_ENGINE_STARTING);
    /* extensions first (the health check answers 503 while the rest starts) */
    for (size_t i = 0; i < e->n_service_ext; i++) {
        if ((rc = instance_init_start(e->service_ext[i])) != OTC_OK) {
            return rc;
        }
    }
    if ((rc = start_exporters_and_pipelines(e)) != OTC_OK) {
        return rc;
    }
    for (size_t i = 0; i < e->n_pipelines; i++) {
        if (e->pipelines[i].storage && (rc = pipeline_open_wal(&e->pipelines[i])) != OTC_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < e->n_receivers; i++) {
        struct otc_instance *r = e->receivers[i];
        if (!receiver_used(r)) {
            continue;
        }
        {
            struct otc_feed_table *ft = feed_table_new(e, r);

            if (!ft) {
                return OTC_ENOMEM;
            }
            atomic_store(&r->feed_table, ft);
        }
        if ((rc = instance_init_start(r)) != OTC_OK) {
            return rc;
        }
    }
    if ((rc = telemetry_register(e)) != OTC_OK || (rc = otc_telemetry_start(&e->telemetry)) != OTC_OK) {
        return rc;
    }
    engine_set_state(e, OTC_ENGINE_RUNNING);
    return OTC_OK;
}

static void instance_shutdown(struct otc_instance *ins)
{
    if (ins->ops && ins->ops->shutdown) {
        ins->ops->shutdown(ins, ins->ctx);
    }
    ins->started = false;
}

static void join_with_deadline(struct otc_engine *e, pthread_t t, uint64_t deadline)
{
    struct timespec ts;

    while (otc_now_ns() < deadline) {
        uint64_t now = otc_now_ns();
        uint64_t step = deadline - now < 100000000u ? deadline - now : 100000000u;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)step;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        if (pthread_timedjoin_np(t, NULL, &ts) == 0) {
            return;
        }
    }
    /* Deadline passed: stop retrying and waiting for queue space, then join.
     * What is given up from here on stays in the persistent queues. */
    for (size_t i = 0; i < e->n_pipelines; i++) {
        otc_wal_freeze(e->pipelines[i].wal);
    }
    atomic_store(&e->abort, true);
    pthread_join(t, NULL);
}

void otc_engine_stop(struct otc_engine *e)
{
    uint64_t deadline;
    uint64_t lost = 0;

    engine_set_state(e, OTC_ENGINE_STOPPING);
    atomic_store(&e->stopping, true);
    deadline = otc_now_ns() + (uint64_t)e->shutdown_timeout_ns;
    /* 1. receivers stop accepting; in-flight calls finish */
    for (size_t i = 0; i < e->n_receivers; i++) {
        if (e->receivers[i]) {
            instance_shutdown(e->receivers[i]);
        }
    }
    /* 2. pipelines drain their queues and flush their processors */
    for (size_t i = 0; i < e->n_pipelines; i++) {
        atomic_store(&e->pipelines[i].closing, true);
        otc_queue_kick(&e->pipelines[i].queue);
    }
    for (size_t i = 0; i < e->n_pipelines; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        if (p->thread_started) {
            join_with_deadline(e, p->thread, deadline);
            p->thread_started = false;
        }
        for (size_t k = 0; k < p->n_processors; k++) {
            instance_shutdown(&p->processors[k]);
        }
    }
    /* 3. exporters send what is queued, within the shutdown timeout */
    for (size_t i = 0; i < e->n_exporters; i++) {
        struct otc_exporter_rt *rt = &e->exporters[i];
        atomic_store(&rt->closing, true);
        if (rt->queue.cells) {
            otc_queue_kick(&rt->queue);
        }
        if (rt->retry_queue.cells) {
            otc_queue_kick(&rt->retry_queue);
        }
    }
    for (size_t i = 0; i < e->n_exporters; i++) {
        struct otc_exporter_rt *rt = &e->exporters[i];
        for (unsigned t = 0; t < rt->n_threads; t++) {
            join_with_deadline(e, rt->threads[t], deadline);
        }
        rt->n_threads = 0;
        instance_shutdown(&rt->ins);
    }
    /* what shutdown_timeout cut off: counted per exporter, one line each */
    for (size_t i = 0; i < e->n_exporters; i++) {
        struct otc_exporter_rt *rt = &e->exporters[i];
        uint64_t n[OTC_SIGNAL_COUNT];
        uint64_t sum = 0;

        for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
            n[s] = atomic_load(&rt->stats.shutdown_lost_items[s]);
            sum += n[s];
        }
        lost += sum;
        if (sum) {
            otc_log_warn(&rt->ins, "service.shutdown_timeout (%.1fs) reached: %llu %s, %llu %s, "
                         "%llu %s not delivered", (double)e->shutdown_timeout_ns / 1e9,
                         (unsigned long long)n[OTC_TRACES], item_words(OTC_TRACES),
                         (unsigned long long)n[OTC_METRICS], item_words(OTC_METRICS),
                         (unsigned long long)n[OTC_LOGS], item_words(OTC_LOGS));
        }
    }
    if (atomic_load(&e->abort) && lost == 0) {
        otc_log_warn(NULL, "service.shutdown_timeout (%.1fs) reached; nothing was left unsent",
                     (double)e->shutdown_timeout_ns / 1e9);
    }
    /* 4. the metrics endpoint, then extensions, last and in reverse order */
    otc_telemetry_stop(&e->telemetry);
    for (size_t i = e->n_service_ext; i > 0; i--) {
        instance_shutdown(e->service_ext[i - 1]);
    }
}

void otc_engine_destroy(struct otc_engine *e)
{
    if (!e) {
        return;
    }
    /* batches freed from here on were not delivered: their records stay queued */
    for (size_t i = 0; i < e->n_pipelines; i++) {
        otc_wal_freeze(e->pipelines[i].wal);
    }
    for (size_t i = 0; i < e->n_pipelines; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        void *b;
        if (p->queue.cells) {
            while (otc_queue_pop(&p->queue, &b)) {
                otc_batch_unref(b);
            }
            otc_queue_destroy(&p->queue);
        }
        for (size_t k = 0; k < p->n_processors; k++) {
            instance_release(&p->processors[k]);
        }
        free(p->processors);
        free(p->admit);
        free(p->receivers);
        free(p->exporters);
        free(p->id);
    }
    for (size_t i = 0; i < e->n_receivers; i++) {
        if (e->receivers[i]) {
            free(atomic_load(&e->receivers[i]->feed_table));
            instance_release(e->receivers[i]);
            free(e->receivers[i]);
        }
        free(e->receiver_conf ? e->receiver_conf[i] : NULL);
    }
    free(e->receivers);
    free(e->receiver_conf);
    free(e->ext_conf);
    for (size_t i = 0; i < e->n_exporters; i++) {
        struct otc_exporter_rt *rt = &e->exporters[i];
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
        otc_config_map_free(exporter_helper_map, &rt->set);
        instance_release(&rt->ins);
    }
    free(e->exporters);
    for (size_t i = 0; i < e->n_pipelines; i++) {
        otc_wal_close(e->pipelines[i].wal);
    }
    free(e->pipelines);
    otc_telemetry_free(&e->telemetry);
    for (size_t i = 0; i < e->n_extensions; i++) {
        instance_release(&e->extensions[i]);
    }
    free(e->extensions);
    free(e->service_ext);
    free(e);
}

/* ------------------------------------------------------------- reloading */

/* The running receiver of old that next can keep for its receiver r: same id,
 * same settings, same signals served (the gRPC methods and HTTP paths are set
 * up at start), and started. */
static size_t reload_match(struct otc_engine *old, struct otc_engine *next, size_t i)
{
    struct otc_instance *r = next->receivers[i];

    for (size_t j = 0; j < old->n_receivers; j++) {
        struct otc_instance *o = old->receivers[j];
        bool same = o && o->started && o->ops == r->ops && !strcmp(o->id, r->id) &&
                    old->receiver_conf[j] && next->receiver_conf[i] &&
                    !strcmp(old->receiver_conf[j], next->receiver_conf[i]);
        for (int s = 0; same && s < OTC_SIGNAL_COUNT; s++) {
            same = (o->n_feeds[s] != 0) == (r->n_feeds[s] != 0);
        }
        if (same) {
            return j;
        }
    }
    return SIZE_MAX;
}

/* Hand the running extensions of a to b (their configs are identical, so the
 * arrays match index for index); b's own, never started, go to a. */
static void reload_swap_extensions(struct otc_engine *a, struct otc_engine *b)
{
    struct otc_instance *mine = b->extensions;

    b->extensions = a->extensions;
    a->extensions = mine;
    for (size_t k = 0; k < b->n_service_ext; k++) {
        b->service_ext[k] = &b->extensions[b->service_ext[k] - mine];
    }
    for (size_t i = 0; i < b->n_pipelines; i++) {
        struct otc_instance *st = b->pipelines[i].storage;
        if (st && (uintptr_t)st >= (uintptr_t)mine &&
            (uintptr_t)st < (uintptr_t)(mine + b->n_extensions)) {
            b->pipelines[i].storage = &b->extensions[st - mine];
        }
    }
    for (size_t i = 0; i < b->n_extensions; i++) {
        b->extensions[i].engine = b;
    }
    for (size_t k = 0; k < a->n_service_ext; k++) {
        a->service_ext[k] = &a->extensions[a->service_ext[k] - b->extensions];
    }
    for (size_t i = 0; i < a->n_extensions; i++) {
        a->extensions[i].engine = a;
    }
}

/* The write-ahead log of old's pipeline with p's id and storage, taken over. */
static struct otc_wal *reload_take_wal(struct otc_engine *old, struct otc_pipeline *p)
{
    for (size_t i = 0; i < old->n_pipelines; i++) {
        struct otc_pipeline *o = &old->pipelines[i];
        if (o->wal && o->storage && !strcmp(o->id, p->id) && !strcmp(o->storage->id, p->storage->id)) {
            struct otc_wal *w = o->wal;
            o->wal = NULL;
            return w;
        }
    }
    return NULL;
}

/* Start next's exporters and pipelines (its receivers come later). */
static int reload_start_pipelines(struct otc_engine *old, struct otc_engine *next)
{
    int rc;

    if ((rc = start_exporters_and_pipelines(next)) != OTC_OK) {
        return rc;
    }
    for (size_t i = 0; i < next->n_pipelines; i++) {
        struct otc_pipeline *p = &next->pipelines[i];
        if (p->storage && !(p->wal = reload_take_wal(old, p)) && (rc = pipeline_open_wal(p)) != OTC_OK) {
            return rc;
        }
    }
    return OTC_OK;
}

/* Give the write-ahead logs next took over back to old (reload undone). */
static void reload_return_wals(struct otc_engine *old, struct otc_engine *next)
{
    for (size_t i = 0; i < next->n_pipelines; i++) {
        struct otc_pipeline *p = &next->pipelines[i];
        for (size_t k = 0; p->wal && k < old->n_pipelines; k++) {
            struct otc_pipeline *o = &old->pipelines[k];
            if (!o->wal && o->storage && p->storage && !strcmp(o->id, p->id) &&
                !strcmp(o->storage->id, p->storage->id)) {
                o->wal = p->wal;
                p->wal = NULL;
            }
        }
    }
}

int otc_engine_reload(struct otc_engine *old, struct otc_engine *next)
{
    struct otc_feed_table **retired;
    size_t kept = 0, started = 0, stopped = 0;
    int rc;

    if (!old->ext_conf || !next->ext_conf || strcmp(old->ext_conf, next->ext_conf)) {
        otc_log_err(NULL, "reload: the extensions (or service.extensions) changed: restart "
                    "otelc to apply that");
        otc_engine_destroy(next);
        return OTC_EINVAL;
    }
    retired = calloc(old->n_receivers + 1, sizeof(*retired));
    if (!retired) {
        otc_engine_destroy(next);
        return OTC_ENOMEM;
    }
    engine_set_state(old, OTC_ENGINE_STARTING); /* the health check answers 503 */
    engine_set_state(next, OTC_ENGINE_STARTING);
    reload_swap_extensions(old, next);
    if ((rc = reload_start_pipelines(old, next)) != OTC_OK) {
        otc_log_err(NULL, "reload: cannot start the new pipelines: %s", otc_strerror(rc));
        reload_return_wals(old, next);
        reload_swap_extensions(next, old);
        engine_set_state(old, OTC_ENGINE_RUNNING);
        otc_engine_stop(next);
        otc_engine_destroy(next);
        free(retired);
        return rc;
    }
    /* Receivers that change or go stop first (a changed one may reuse its
     * port); their calls in flight still reach old's pipelines. */
    for (size_t j = 0; j < old->n_receivers; j++) {
        struct otc_instance *o = old->receivers[j];
        bool keep = false;
        for (size_t i = 0; o && i < next->n_receivers; i++) {
            keep |= receiver_used(next->receivers[i]) && reload_match(old, next, i) == j;
        }
        if (o && o->started && !keep) {
            instance_shutdown(o);
            stopped++;
        }
    }
    /* Kept receivers move to next and switch to its pipelines at once. */
    for (size_t i = 0; i < next->n_receivers; i++) {
        struct otc_instance *r = next->receivers[i];
        size_t j = receiver_used(r) ? reload_match(old, next, i) : SIZE_MAX;
        struct otc_feed_table *t;
        struct otc_instance *o;

        if (j == SIZE_MAX) {
            continue;
        }
        o = old->receivers[j];
        if (!(t = feed_table_new(next, r))) {
            instance_shutdown(o); /* cannot switch it: it stops with old */
            stopped++;
            continue;
        }
        for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
            free(o->feeds[s]);
            o->feeds[s] = r->feeds[s];
            r->feeds[s] = NULL;
            if (o->n_feeds[s] != r->n_feeds[s]) {
                o->n_feeds[s] = r->n_feeds[s]; /* same signals: only the count moves */
            }
        }
        o->signals = r->signals;
        o->engine = next;
        for (size_t k = 0; k < next->n_pipelines; k++) {
            struct otc_pipeline *p = &next->pipelines[k];
            for (size_t m = 0; m < p->n_receivers; m++) {
                if (p->receivers[m] == r) {
                    p->receivers[m] = o;
                }
            }
        }
        instance_release(r);
        free(r);
        next->receivers[i] = o;
        old->receivers[j] = NULL;
        retired[kept++] = atomic_exchange(&o->feed_table, t);
    }
    /* no deliver call holds a retired table (nor feeds old's pipelines) after this */
    feeds_synchronize();
    for (size_t k = 0; k < kept; k++) {
        free(retired[k]);
    }
    free(retired);
    for (size_t i = 0; i < next->n_receivers; i++) {
        struct otc_instance *r = next->receivers[i];
        if (r->started || !receiver_used(r)) {
            continue;
        }
        struct otc_feed_table *ft = feed_table_new(next, r);

        if (ft) {
            atomic_store(&r->feed_table, ft);
        }
        if (!ft || (rc = instance_init_start(r)) != OTC_OK) {
            otc_log_err(r, "reload: the receiver did not start; the other pipelines run");
            continue;
        }
        started++;
    }
    otc_telemetry_stop(&old->telemetry);
    if (telemetry_register(next) != OTC_OK || otc_telemetry_start(&next->telemetry) != OTC_OK) {
        otc_log_warn(NULL, "reload: the metrics endpoint did not start");
    }
    engine_set_state(next, OTC_ENGINE_RUNNING);
    otc_log_info(NULL, "reload: %zu receivers kept running, %zu stopped, %zu started; draining "
                 "the previous pipelines", kept, stopped, started);
    /* old's pipelines drain to old's exporters (bounded by its shutdown_timeout);
     * its extensions are next's now: old only holds next's unstarted ones */
    old->n_service_ext = 0;
    otc_engine_stop(old);
    otc_engine_destroy(old);
    return OTC_OK;
}
