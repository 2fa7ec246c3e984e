/* persistent_queue.c - the pipelines' persistent queues
 * (sending_queue.storage): which storage extension backs a pipeline (at
 * build), and opening its write-ahead log (at start and reload, before the
 * receivers start) on the main thread; the replay of what earlier runs left
 * runs on a thread of its own ("wal-replay"), beside the receivers. */
/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "common.h"
#include "engine.h"
#include "otc/otc_storage.h"
#include "persistent_queue.h"

/* The names the blocks below call these by. */
static void sleep_ns(int64_t ns)
{
    otc_sleep_ns(ns);
}

static const char *item_words(enum otc_signal s)
{
    return otc_signal_item_words(s);
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

#define REPLAY_MAX_WINDOW 64 /* records */

/* The replay keeps at most this many of its records in the queues at once
 * (half the smallest exporter queue, and at most 32): the rest of the queue is for new data,
 * so the receivers keep answering OK while a backlog replays behind a
 * backend that is down. */
static uint64_t replay_window(const struct otc_pipeline *p)
{
    int64_t q = REPLAY_MAX_WINDOW;

    for (size_t k = 0; k < p->n_exporters; k++) {
        const struct otc_exporter_settings *set = &p->exporters[k]->set;
        if (set->queue_enabled && set->queue_size < q) {
            q = set->queue_size;
        }
    }
    return q / 2 > 0 ? (uint64_t)(q / 2) : 1;
}

static bool replay_stopping(const struct otc_pipeline *p)
{
    return atomic_load(&p->replay_stop) || atomic_load(&p->engine->stopping) ||
           atomic_load(&p->engine->abort);
}

/* Wait ns, or less when the replay is to stop. True when it is to stop. */
static bool replay_wait(const struct otc_pipeline *p, int64_t *backoff)
{
    if (replay_stopping(p)) {
        return true;
    }
    sleep_ns(*backoff);
    if (*backoff < 20000000) {
        *backoff *= 2;
    }
    return replay_stopping(p);
}

/* One record of the persistent queue back into the pipeline, as if received
 * (replay thread). Waits while the replay's window is full or the pipeline
 * queue has no room; when the engine stops meanwhile, the record is kept for
 * the next start. */
static int pipeline_replay_one(void *arg, uint8_t signal, const void *data, size_t len,
                               struct otc_wal_rec *rec)
{
    struct otc_pipeline *p = arg;
    struct otc_batch *b = otc_batch_from_bytes(p->signal, data, len);
    uint64_t window = replay_window(p);
    int64_t backoff = 50000;

    if (!b) {
        otc_wal_rec_keep(rec);
        otc_wal_rec_release(rec);
        return OTC_ENOMEM;
    }
    if (otc_wal_rec_hold(b, rec) != OTC_OK) {
        otc_batch_unref(b);
        return OTC_ENOMEM;
    }
    if (signal != p->signal || otc_batch_decode(b) != OTC_OK) {
        otc_log_warn(p->storage, "pipeline %s: a queued request does not decode as %s; dropped",
                     p->id, otc_signal_name(p->signal));
        otc_batch_unref(b);
        return OTC_OK;
    }
    otc_wal_rec_items(rec, b->items);
    b->skip_exporters = otc_wal_rec_skip(rec); /* the exporters that have it already */
    while (otc_wal_replay_outstanding(p->wal) > window) {
        if (replay_wait(p, &backoff)) {
            goto stop;
        }
    }
    backoff = 50000;
    while (otc_queue_push(&p->queue, b) != OTC_OK) {
        if (replay_wait(p, &backoff)) {
            goto stop;
        }
    }
    return OTC_OK;
stop:
    otc_wal_rec_keep(rec);
    otc_batch_unref(b);
    return OTC_ESHUTDOWN;
}

/* The replay thread of a pipeline: what earlier runs left undelivered goes
 * into the pipeline's queue, oldest first, while the receivers take new data. */
static void *pipeline_replay_loop(void *arg)
{
    struct otc_pipeline *p = arg;
    struct otc_wal_stats before, after;
    uint64_t t0 = otc_now_ns();
    int rc;

    pthread_setname_np(pthread_self(), "wal-replay");
    otc_wal_stats(p->wal, &before);
    rc = otc_wal_replay(p->wal, pipeline_replay_one, p);
    otc_wal_stats(p->wal, &after);
    if (after.replayed > before.replayed || after.skipped > before.skipped ||
        after.corrupt > before.corrupt) {
        otc_log_info(p->storage, "pipeline %s: %s %llu requests (%llu %s) from the persistent "
                     "queue in %.1fs; %llu already delivered skipped, %llu damaged stretches "
                     "skipped", p->id, rc == OTC_OK ? "replayed" : "stopped the replay after",
                     (unsigned long long)(after.replayed - before.replayed),
                     (unsigned long long)(after.replayed_items - before.replayed_items),
                     item_words(p->signal), (double)(otc_now_ns() - t0) / 1e9,
                     (unsigned long long)(after.skipped - before.skipped),
                     (unsigned long long)(after.corrupt - before.corrupt));
    }
    return NULL;
}

/* Start p's replay thread when earlier runs left records. The log learns p's
 * exporters first: progress is noted per exporter when there are several, and
 * the replay leaves out the exporters that have a record already. */
static int pipeline_replay_start(struct otc_pipeline *p)
{
    const char *ids[OTC_WAL_MAX_EXPORTERS];
    size_t n = p->n_exporters < OTC_WAL_MAX_EXPORTERS ? p->n_exporters : OTC_WAL_MAX_EXPORTERS;

    for (size_t k = 0; k < n; k++) {
        ids[k] = p->exporters[k]->ins.id;
    }
    otc_wal_set_exporters(p->wal, ids, n);
    atomic_store(&p->replay_stop, false);
    if (!otc_wal_replay_pending(p->wal)) {
        return OTC_OK;
    }
    if (pthread_create(&p->replay_thread, NULL, pipeline_replay_loop, p) != 0) {
        return OTC_ENOMEM;
    }
    p->replay_started = true;
    return OTC_OK;
}

/* sending_queue.queue_size and .sizer of the first exporter of p that names
 * the storage: the capacity of p's log. */
static void pipeline_capacity(const struct otc_pipeline *p, struct otc_wal_options *opt)
{
    opt->sizer = OTC_WAL_SIZER_REQUESTS;
    opt->capacity = 0;
    for (size_t k = 0; k < p->n_exporters; k++) {
        const struct otc_exporter_settings *set = &p->exporters[k]->set;
        if (set->storage) {
            opt->sizer = otc_exporter_sizer(set);
            opt->capacity = (uint64_t)set->queue_size;
            return;
        }
    }
}

/* Open the pipeline's write-ahead log below its storage directory; what an
 * earlier run left undelivered is replayed by a thread of its own. */
static int pipeline_open_wal(struct otc_pipeline *p)
{
    struct otc_wal_options opt;
    struct otc_storage_settings ss;
    const char *base;
    char dir[4096], err[512];

    if (otc_storage_settings(p->storage, &ss) != OTC_OK) {
        return OTC_EINVAL;
    }
    memset(&opt, 0, sizeof(opt));
    base = ss.directory;
    opt.fsync = ss.fsync;
    opt.segment_size = (size_t)ss.segment_size;
    opt.compress = ss.compress;
    pipeline_capacity(p, &opt);
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
    return pipeline_replay_start(p);
}

int otc_persistent_queue_resolve(struct otc_engine *e, struct otc_yaml *y, struct otc_diag *d)
{
    return resolve_storage(e, y, d);
}

int otc_persistent_queue_open(struct otc_pipeline *p)
{
    return p->wal ? pipeline_replay_start(p) : pipeline_open_wal(p);
}

void otc_persistent_queue_stop(struct otc_pipeline *p)
{
    if (p->replay_started) {
        atomic_store(&p->replay_stop, true);
        pthread_join(p->replay_thread, NULL);
        p->replay_started = false;
    }
}
