/* persistent_queue.c - the pipelines' persistent queues
 * (sending_queue.storage): which storage extension backs a pipeline (at
 * build), and opening and replaying its write-ahead log (at start and reload,
 * before the receivers start). Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
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

int otc_persistent_queue_resolve(struct otc_engine *e, struct otc_yaml *y, struct otc_diag *d)
{
    return resolve_storage(e, y, d);
}

int otc_persistent_queue_open(struct otc_pipeline *p)
{
    return pipeline_open_wal(p);
}
