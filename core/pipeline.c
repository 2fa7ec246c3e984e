/* pipeline.c - the data path inside a pipeline: the worker loop that runs the
 * processor chain and its timers, otc_next between stages, and the fan-out to
 * the exporters' queues. Started on the main thread; the loop runs on the
 * pipeline's worker threads (several when every processor may share them),
 * and the chain also on receivers' threads (otc_pipeline_run_inline). */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "engine.h"
#include "exporter_helper.h"
#include "instance.h"
#include "otc/otc_sysinfo.h"
#include "pipeline.h"

/* Is exporter i of p to be left out for b (it has b's records already)? */
static bool fanout_skips(const struct otc_batch *b, size_t i)
{
    return i < 64 && (b->skip_exporters >> i & 1u);
}

/* True on a receiver's thread while it runs a pipeline's processors
 * (otc_pipeline_run_inline): nothing there may wait. */
static _Thread_local bool on_receiver;

/* A hand-over to a full exporter queue, left to worker 0 by a receiver. */
struct fanout_resume {
    struct fanout_resume *next;
    struct otc_batch     *b;
    size_t                exporter;
};

/* Queue x into exporter rt, waiting while its queue is full (a full queue
 * holds the worker, so the pipeline's queue fills and receivers refuse). */
static void exporter_put_wait(struct otc_engine *e, struct otc_exporter_rt *rt, struct otc_batch *x)
{
    int64_t backoff = 50000;

    while (otc_exporter_enqueue(rt, x) != OTC_OK) {
        if (atomic_load(&e->abort)) {
            otc_exporter_lost(rt, x->signal, x->items, false);
            otc_batch_unref(x);
            return;
        }
        otc_sleep_ns(backoff);
        if (backoff < 2000000) {
            backoff *= 2;
        }
    }
}

/* On a receiver's thread: x for exporter i of p waits for worker 0 (false
 * when out of memory: the caller waits instead). */
static bool resume_later(struct otc_pipeline *p, struct otc_batch *x, size_t i)
{
    struct fanout_resume *r = malloc(sizeof(*r));

    if (!r) {
        return false;
    }
    r->b = x;
    r->exporter = i;
    pthread_mutex_lock(&p->resume_lock);
    r->next = p->resume;
    p->resume = r;
    atomic_store(&p->resume_pending, true);
    pthread_mutex_unlock(&p->resume_lock);
    otc_queue_kick(&p->queue);
    return true;
}

/* On worker 0: the hand-overs receivers left, each waiting for room. */
static void run_resumes(struct otc_pipeline *p)
{
    struct fanout_resume *r, *oldest = NULL;

    pthread_mutex_lock(&p->resume_lock);
    r = p->resume;
    p->resume = NULL;
    atomic_store(&p->resume_pending, false);
    pthread_mutex_unlock(&p->resume_lock);
    /* the list holds the newest first: delivered in the order they were left */
    while (r) {
        struct fanout_resume *next = r->next;

        r->next = oldest;
        oldest = r;
        r = next;
    }
    while (oldest) {
        struct fanout_resume *next = oldest->next;

        exporter_put_wait(p->engine, p->exporters[oldest->exporter], oldest->b);
        free(oldest);
        oldest = next;
    }
}

/* Hand b to every exporter of p, except those that have it already (a
 * replayed record), then to every connector. A full exporter queue makes the
 * worker wait, which fills the pipeline queue, which makes receivers answer
 * UNAVAILABLE; a connector's full output pipeline does the same. */
static int pipeline_fanout(struct otc_pipeline *p, struct otc_batch *b)
{
    struct otc_engine *e = p->engine;
    size_t last = p->n_exporters, n_conn = p->n_connectors;

    while (last > 0 && fanout_skips(b, last - 1)) {
        last--;
    }
    if (last == 0 && n_conn == 0) { /* no exporter, or every one has it */
        otc_batch_unref(b);
        return OTC_OK;
    }
    /* With several exporters and a log, each exporter notes the records b
     * alone carries as delivered to it (exporter_helper.c): only when nothing
     * before the fan-out holds b still (a processor keeping it, another
     * pipeline sharing it), which could hand those records on again. */
    if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1) {
        b->fanout_log = p->wal && p->n_exporters > 1 ? p->wal : NULL;
        if (n_conn && b->queued_bytes == 0) {
            b->queued_bytes = b->arena.bytes; /* what connectors' outputs count */
        }
    }
    for (size_t i = 0; i < last; i++) {
        struct otc_exporter_rt *rt = p->exporters[i];
        struct otc_batch *x;

        if (fanout_skips(b, i)) {
            continue;
        }
        x = (i + 1 < last || n_conn) ? otc_batch_ref(b) : b;
        if (otc_exporter_enqueue(rt, x) != OTC_OK && !(on_receiver && resume_later(p, x, i))) {
            exporter_put_wait(e, rt, x);
        }
    }
    for (size_t k = 0; k < n_conn; k++) {
        struct otc_instance *c = p->connectors[k];
        struct otc_batch *x = (k + 1 < n_conn) ? otc_batch_ref(b) : b;

        atomic_fetch_add_explicit(&c->counters.incoming[x->signal], x->items, memory_order_relaxed);
        c->ops->consume(c, c->ctx, x);
    }
    return OTC_OK;
}

/* Hand b to processor pr, counting what enters it (otelcol's
 * processor_incoming_items). */
static int stage_consume(struct otc_instance *pr, struct otc_batch *b)
{
    atomic_fetch_add_explicit(&pr->counters.incoming[b->signal], b->items, memory_order_relaxed);
    return pr->ops->consume(pr, pr->ctx, b);
}

int otc_next(struct otc_instance *ins, struct otc_batch *b)
{
    struct otc_instance *next = ins->next.ins;

    atomic_fetch_add_explicit(&ins->counters.outgoing[b->signal], b->items, memory_order_relaxed);
    if (next) {
        return stage_consume(next, b);
    }
    return pipeline_fanout(ins->next.pipeline, b);
}

static void pipeline_run(struct otc_pipeline *p, struct otc_batch *b)
{
    if (p->n_processors) {
        stage_consume(&p->processors[0], b);
    } else {
        pipeline_fanout(p, b);
    }
}

/* Run due processor timers; returns ms until the next one (at most OTC_WORKER_IDLE_MS). */
static int pipeline_timers(struct otc_pipeline *p)
{
    uint64_t now = otc_now_ns();
    uint64_t wait = (uint64_t)OTC_WORKER_IDLE_MS * 1000000u;

    for (size_t i = 0; i < p->n_processors; i++) {
        struct otc_instance *pr = &p->processors[i];
        uint64_t due = pr->ops->timer ? atomic_load(&pr->timer_due_ns) : 0;

        if (due == 0) {
            continue;
        }
        if (due <= now) {
            pr->ops->timer(pr, pr->ctx, now);
            now = otc_now_ns();
            due = atomic_load(&pr->timer_due_ns);
        }
        if (due > now && due - now < wait) {
            wait = due - now;
        }
    }
    return (int)((wait + 999999u) / 1000000u);
}

bool otc_pipeline_run_inline(struct otc_pipeline *p, struct otc_batch *b)
{
    if (!p->inline_ok || on_receiver || otc_queue_len(&p->queue) != 0 ||
        atomic_load(&p->resume_pending)) {
        return false;
    }
    for (size_t i = 0; i < p->n_exporters; i++) {
        struct otc_queue *q = &p->exporters[i]->queue;

        if (otc_queue_len(q) >= q->capacity / 2) {
            return false;
        }
    }
    /* pairs with worker 0, which sets closing before it waits for inline_runs */
    atomic_fetch_add(&p->inline_runs, 1);
    if (atomic_load(&p->closing)) {
        atomic_fetch_sub(&p->inline_runs, 1);
        return false;
    }
    on_receiver = true;
    pipeline_run(p, b);
    if (p->has_timers && pthread_mutex_trylock(&p->timer_lock) == 0) {
        int next_ms = pipeline_timers(p);

        pthread_mutex_unlock(&p->timer_lock);
        /* worker 0 would sleep past a timer set just now */
        if (otc_now_ns() + (uint64_t)next_ms * 1000000u <
            atomic_load_explicit(&p->worker0_wake_ns, memory_order_relaxed)) {
            otc_queue_kick(&p->queue);
        }
    }
    on_receiver = false;
    atomic_fetch_sub(&p->inline_runs, 1);
    return true;
}

void otc_pipeline_maybe_help(struct otc_pipeline *p)
{
    if (p->n_workers > 1 && atomic_load_explicit(&p->helpers_idle, memory_order_relaxed) > 0 &&
        otc_queue_len(&p->queue) >= OTC_PIPELINE_HELP_BACKLOG) {
        pthread_mutex_lock(&p->help_lock);
        pthread_cond_broadcast(&p->help_wake);
        pthread_mutex_unlock(&p->help_lock);
    }
}

/* Workers above 0 help only while requests wait: they sleep until worker 0
 * finds a backlog (a request that one thread carries costs fewer wake-ups and
 * hand-offs between cores on one thread), take requests while the backlog
 * lasts, and look at the closing flag at least every OTC_WORKER_IDLE_MS. */
static bool helper_take(struct otc_pipeline *p, void **b)
{
    if (otc_queue_len(&p->queue) > 0 && otc_queue_pop(&p->queue, b)) {
        return true;
    }
    if (!atomic_load(&p->closing)) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += OTC_WORKER_IDLE_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&p->help_lock);
        atomic_fetch_add(&p->helpers_idle, 1);
        /* pairs with worker 0's check of helpers_idle after its pop: a backlog
         * seen before this thread counted itself idle is seen below */
        if (otc_queue_len(&p->queue) < OTC_PIPELINE_HELP_BACKLOG && !atomic_load(&p->closing)) {
            pthread_cond_timedwait(&p->help_wake, &p->help_lock, &ts);
        }
        atomic_fetch_sub(&p->helpers_idle, 1);
        pthread_mutex_unlock(&p->help_lock);
    }
    return otc_queue_pop(&p->queue, b);
}

/* One worker of p. Worker 0 also runs the processors' timers and, once
 * every other worker has left its loop, the final flush. */
struct pipeline_worker {
    struct otc_pipeline *p;
    unsigned             index;
};

static void *pipeline_loop(void *arg)
{
    struct pipeline_worker *w = arg;
    struct otc_pipeline *p = w->p;
    int wait_ms = OTC_WORKER_IDLE_MS;
    void *b;

    pthread_setname_np(pthread_self(), "pipeline");
    for (;;) {
        bool got;

        if (w->index == 0) {
            atomic_store_explicit(&p->worker0_wake_ns, otc_now_ns() + (uint64_t)wait_ms * 1000000u,
                                  memory_order_relaxed);
            got = otc_queue_pop_wait(&p->queue, &b, wait_ms);
            if (got) {
                otc_pipeline_maybe_help(p);
            }
        } else {
            got = helper_take(p, &b);
        }
        if (got) {
            uint64_t qb = ((struct otc_batch *)b)->queued_bytes;
            if (qb) { /* taken: the budget is free for the next request */
                atomic_fetch_sub_explicit(&p->queued_bytes, qb, memory_order_relaxed);
            }
            pipeline_run(p, b);
        }
        /* timers: whichever worker gets there (worker 0 also when idle) */
        if (p->has_timers && (w->index == 0 || got) && pthread_mutex_trylock(&p->timer_lock) == 0) {
            int next = pipeline_timers(p);
            pthread_mutex_unlock(&p->timer_lock);
            if (w->index == 0) {
                wait_ms = next;
            }
        }
        if (w->index == 0 && atomic_load(&p->resume_pending)) {
            run_resumes(p);
        }
        if (got) {
            continue;
        }
        if (atomic_load(&p->closing)) {
            break;
        }
    }
    atomic_fetch_sub(&p->running, 1);
    if (w->index == 0) {
        /* the others, and receivers running the processors, may still be
         * inside a stage: flush after them */
        while (atomic_load(&p->running) != 0 || atomic_load(&p->inline_runs) != 0) {
            otc_sleep_ns(1000000);
        }
        run_resumes(p);
        /* Stages holding data (batching) pass it on in pipeline order. */
        for (size_t i = 0; i < p->n_processors; i++) {
            struct otc_instance *pr = &p->processors[i];
            if (pr->ops->flush) {
                pr->ops->flush(pr, pr->ctx);
            }
        }
    }
    free(w);
    return NULL;
}

unsigned otc_pipeline_workers(const struct otc_pipeline *p, char *err, size_t errlen)
{
    unsigned n = p->workers_cfg > 0 ? (unsigned)p->workers_cfg : otc_cpus_usable();

    if (n > OTC_PIPELINE_MAX_WORKERS) {
        n = OTC_PIPELINE_MAX_WORKERS;
    }
    for (size_t k = 0; k < p->n_processors && n > 1; k++) {
        const struct otc_instance *pr = &p->processors[k];
        if (!pr->ops->concurrent) {
            if (p->workers_cfg > 1 && err) {
                snprintf(err, errlen, "processor \"%s\" runs on one thread only", pr->id);
            }
            n = 1;
        }
    }
    return n;
}

/* Whether receivers may run p's processors on their own threads: every
 * processor is concurrent (and `workers: 1` was not asked for), p feeds no
 * connector (they may wait for room downstream) and every exporter has a
 * queue (one without sends on the thread that hands it the batch). */
static bool pipeline_inline_ok(const struct otc_pipeline *p)
{
    if (p->n_processors == 0 || p->n_connectors > 0 || p->workers_cfg == 1) {
        return false;
    }
    for (size_t k = 0; k < p->n_processors; k++) {
        if (!p->processors[k].ops->concurrent) {
            return false;
        }
    }
    for (size_t i = 0; i < p->n_exporters; i++) {
        if (!p->exporters[i]->set.queue_enabled) {
            return false;
        }
    }
    return true;
}

int otc_pipeline_start(struct otc_pipeline *p)
{
    int rc;

    p->n_workers = otc_pipeline_workers(p, NULL, 0);
    rc = p->n_workers > 1 ? otc_queue_init(&p->queue, OTC_PIPELINE_QUEUE_SLOTS)
                          : otc_queue_init_sc(&p->queue, OTC_PIPELINE_QUEUE_SLOTS);
    if (rc != OTC_OK) {
        return rc;
    }
    for (size_t k = 0; k < p->n_processors; k++) {
        if ((rc = otc_instance_init_start(&p->processors[k])) != OTC_OK) {
            return rc;
        }
    }
    pthread_mutex_init(&p->timer_lock, NULL);
    pthread_mutex_init(&p->resume_lock, NULL);
    p->inline_ok = pipeline_inline_ok(p);
    pthread_mutex_init(&p->help_lock, NULL);
    pthread_cond_init(&p->help_wake, NULL);
    atomic_store(&p->running, p->n_workers);
    for (unsigned i = 0; i < p->n_workers; i++) {
        struct pipeline_worker *w = malloc(sizeof(*w));

        if (!w) {
            atomic_fetch_sub(&p->running, p->n_workers - i);
            return OTC_ENOMEM;
        }
        *w = (struct pipeline_worker){p, i};
        if (pthread_create(&p->threads[i], NULL, pipeline_loop, w) != 0) {
            free(w);
            atomic_fetch_sub(&p->running, p->n_workers - i);
            return OTC_ENOMEM;
        }
        p->n_started++;
    }
    return OTC_OK;
}
