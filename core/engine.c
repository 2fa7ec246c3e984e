/* engine.c - the engine's lifecycle: start (extensions, exporters,
 * pipelines, receivers, the metrics endpoint), stop (receivers first, then
 * drain pipelines and exporters within service.shutdown_timeout, extensions
 * last) and destroy; and the state the health check reads. Main thread; the
 * state accessors are read from any thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "common.h"
#include "engine.h"
#include "instance.h"
#include "persistent_queue.h"

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

void otc_engine_set_state(struct otc_engine *e, enum otc_engine_state st)
{
    atomic_store(&e->state_since, otc_wall_ns());
    atomic_store(&e->state, st);
}

bool otc_engine_drain_expired(const struct otc_engine *e)
{
    return atomic_load(&e->abort);
}

/* Every instance whose counters /metrics shows (the registry is read-only
 * once the metrics thread runs). */
int otc_engine_telemetry_register(struct otc_engine *e)
{
    struct otc_telemetry_source src;
    int rc = OTC_OK;

    for (size_t i = 0; i < e->n_receivers && rc == OTC_OK; i++) {
        struct otc_instance *r = e->receivers[i];
        if (r && otc_receiver_used(r)) {
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
    for (size_t i = 0; i < e->n_pipelines && rc == OTC_OK; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        struct otc_telemetry_pipeline q = {p->id, &p->queued_bytes, p->queue_max_bytes,
                                           &p->queue_refused, &p->queue_waited};
        rc = otc_telemetry_add_pipeline(&e->telemetry, &q);
    }
    for (size_t i = 0; i < e->n_pipelines && rc == OTC_OK; i++) {
        struct otc_pipeline *p = &e->pipelines[i];
        for (size_t k = 0; p->wal && k < p->n_exporters && rc == OTC_OK; k++) {
            struct otc_exporter_rt *rt = p->exporters[k];
            if (rt->set.storage) {
                struct otc_telemetry_pq q = {rt->ins.id, p->id, p->signal, p->wal};
                rc = otc_telemetry_add_pq(&e->telemetry, &q);
            }
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

/* Start e's used exporters, then each pipeline: its queue (popped only by its
 * worker), its processors and its worker thread. Start-up and reload share it. */
int otc_engine_start_pipelines(struct otc_engine *e)
{
    int rc;

    for (size_t i = 0; i < e->n_exporters; i++) {
        if (e->exporters[i].used && (rc = otc_exporter_start(e, &e->exporters[i])) != OTC_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < e->n_connectors; i++) {
        struct otc_instance *c = &e->connectors[i];
        if (c->signals && (rc = otc_instance_init_start(c)) != OTC_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < e->n_pipelines; i++) {
        if ((rc = otc_pipeline_start(&e->pipelines[i])) != OTC_OK) {
            return rc;
        }
    }
    return OTC_OK;
}

int otc_engine_start(struct otc_engine *e)
{
    int rc;

    /* the config is known good: its log level and encoding apply from here on */
    otc_log_options_apply(&e->log);
    otc_engine_set_state(e, OTC_ENGINE_STARTING);
    /* extensions first (the health check answers 503 while the rest starts) */
    for (size_t i = 0; i < e->n_service_ext; i++) {
        if ((rc = otc_instance_init_start(e->service_ext[i])) != OTC_OK) {
            return rc;
        }
    }
    if ((rc = otc_engine_start_pipelines(e)) != OTC_OK) {
        return rc;
    }
    for (size_t i = 0; i < e->n_pipelines; i++) {
        if (e->pipelines[i].storage && (rc = otc_persistent_queue_open(&e->pipelines[i])) != OTC_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < e->n_receivers; i++) {
        struct otc_instance *r = e->receivers[i];
        if (!otc_receiver_used(r)) {
            continue;
        }
        {
            struct otc_feed_table *ft = otc_feed_table_new(e, r);

            if (!ft) {
                return OTC_ENOMEM;
            }
            atomic_store(&r->feed_table, ft);
        }
        if ((rc = otc_instance_init_start(r)) != OTC_OK) {
            return rc;
        }
    }
    if ((rc = otc_engine_telemetry_register(e)) != OTC_OK || (rc = otc_telemetry_start(&e->telemetry)) != OTC_OK) {
        return rc;
    }
    otc_engine_set_state(e, OTC_ENGINE_RUNNING);
    return OTC_OK;
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

    otc_engine_set_state(e, OTC_ENGINE_STOPPING);
    atomic_store(&e->stopping, true);
    deadline = otc_now_ns() + (uint64_t)e->shutdown_timeout_ns;
    /* 1. receivers stop accepting; in-flight calls finish */
    for (size_t i = 0; i < e->n_receivers; i++) {
        if (e->receivers[i]) {
            otc_instance_shutdown(e->receivers[i]);
        }
    }
    /* replay stops feeding: what it did not read stays queued for the next start */
    for (size_t i = 0; i < e->n_pipelines; i++) {
        otc_persistent_queue_stop(&e->pipelines[i]);
    }
    /* 2. pipelines drain their queues and flush their processors, in rank
     * order: a pipeline a connector feeds runs until those before it are done */
    for (unsigned rank = 0, more = 1; more; rank++) {
        more = 0;
        for (size_t i = 0; i < e->n_pipelines; i++) {
            if (e->pipelines[i].rank == rank) {
                atomic_store(&e->pipelines[i].closing, true);
                otc_queue_kick(&e->pipelines[i].queue);
            }
            more |= e->pipelines[i].rank > rank;
        }
        for (size_t i = 0; i < e->n_pipelines; i++) {
            struct otc_pipeline *p = &e->pipelines[i];
            if (p->rank != rank) {
                continue;
            }
            for (unsigned w = 0; w < p->n_started; w++) {
                join_with_deadline(e, p->threads[w], deadline);
            }
            p->n_started = 0;
            for (size_t k = 0; k < p->n_processors; k++) {
                otc_instance_shutdown(&p->processors[k]);
            }
        }
    }
    for (size_t i = 0; i < e->n_connectors; i++) {
        otc_instance_shutdown(&e->connectors[i]);
    }
    /* 3. exporters send what is queued, within the shutdown timeout */
    for (size_t i = 0; i < e->n_exporters; i++) {
        otc_exporter_close(&e->exporters[i]);
    }
    for (size_t i = 0; i < e->n_exporters; i++) {
        struct otc_exporter_rt *rt = &e->exporters[i];
        for (unsigned t = 0; t < rt->n_threads; t++) {
            join_with_deadline(e, rt->threads[t], deadline);
        }
        rt->n_threads = 0;
        otc_instance_shutdown(&rt->ins);
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
                         (unsigned long long)n[OTC_TRACES], otc_signal_item_words(OTC_TRACES),
                         (unsigned long long)n[OTC_METRICS], otc_signal_item_words(OTC_METRICS),
                         (unsigned long long)n[OTC_LOGS], otc_signal_item_words(OTC_LOGS));
        }
    }
    if (atomic_load(&e->abort) && lost == 0) {
        otc_log_warn(NULL, "service.shutdown_timeout (%.1fs) reached; nothing was left unsent",
                     (double)e->shutdown_timeout_ns / 1e9);
    }
    /* 4. the metrics endpoint, then extensions, last and in reverse order */
    otc_telemetry_stop(&e->telemetry);
    for (size_t i = e->n_service_ext; i > 0; i--) {
        otc_instance_shutdown(e->service_ext[i - 1]);
    }
}

void otc_engine_destroy(struct otc_engine *e)
{
    if (!e) {
        return;
    }
    /* batches freed from here on were not delivered: their records stay queued */
    for (size_t i = 0; i < e->n_pipelines; i++) {
        otc_persistent_queue_stop(&e->pipelines[i]);
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
            otc_instance_release(&p->processors[k]);
        }
        free(p->processors);
        free(p->admit);
        free(p->receivers);
        free(p->conn_in);
        free(p->exporters);
        free(p->connectors);
        free(p->id);
    }
    for (size_t i = 0; i < e->n_receivers; i++) {
        if (e->receivers[i]) {
            free(atomic_load(&e->receivers[i]->feed_table));
            otc_instance_release(e->receivers[i]);
            free(e->receivers[i]);
        }
        free(e->receiver_conf ? e->receiver_conf[i] : NULL);
    }
    free(e->receivers);
    free(e->receiver_conf);
    free(e->ext_conf);
    for (size_t i = 0; i < e->n_exporters; i++) {
        otc_exporter_release(&e->exporters[i]);
    }
    free(e->exporters);
    for (size_t i = 0; i < e->n_pipelines; i++) {
        otc_wal_close(e->pipelines[i].wal);
    }
    free(e->pipelines);
    otc_telemetry_free(&e->telemetry);
    for (size_t i = 0; i < e->n_extensions; i++) {
        otc_instance_release(&e->extensions[i]);
    }
    free(e->extensions);
    for (size_t i = 0; i < e->n_connectors; i++) {
        otc_instance_release(&e->connectors[i]);
    }
    free(e->connectors);
    free(e->service_ext);
    free(e);
}

