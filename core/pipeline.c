/* pipeline.c - the data path inside a pipeline: the worker loop that runs the
 * processor chain and its timers, otc_next between stages, and the fan-out to
 * the exporters' queues. Started on the main thread; the loop runs on the
 * pipeline's own worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <pthread.h>

#include "clock.h"
#include "engine.h"
#include "exporter_helper.h"
#include "instance.h"
#include "pipeline.h"

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

        while (otc_exporter_enqueue(rt, x) != OTC_OK) {
            if (atomic_load(&e->abort)) {
                otc_exporter_lost(rt, x->signal, x->items, false);
                otc_batch_unref(x);
                break;
            }
            otc_sleep_ns(backoff);
            if (backoff < 2000000) {
                backoff *= 2;
            }
        }
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
    int wait_ms = OTC_WORKER_IDLE_MS;
    void *b;

    pthread_setname_np(pthread_self(), "pipeline");

    for (;;) {
        if (otc_queue_pop_wait(&p->queue, &b, wait_ms)) {
            uint64_t qb = ((struct otc_batch *)b)->queued_bytes;
            if (qb) { /* taken: the budget is free for the next request */
                atomic_fetch_sub_explicit(&p->queued_bytes, qb, memory_order_relaxed);
            }
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

int otc_pipeline_start(struct otc_pipeline *p)
{
    int rc;

    if ((rc = otc_queue_init_sc(&p->queue, OTC_PIPELINE_QUEUE_SLOTS)) != OTC_OK) {
        return rc;
    }
    for (size_t k = 0; k < p->n_processors; k++) {
        if ((rc = otc_instance_init_start(&p->processors[k])) != OTC_OK) {
            return rc;
        }
    }
    if (pthread_create(&p->thread, NULL, pipeline_loop, p) != 0) {
        return OTC_ENOMEM;
    }
    p->thread_started = true;
    return OTC_OK;
}
