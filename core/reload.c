/* reload.c - hot reload: the running engine is replaced by one built from
 * the new config. Receivers whose settings are unchanged keep running (and
 * their sockets) and switch to the new pipelines; the old pipelines drain to
 * the old exporters. Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "instance.h"
#include "persistent_queue.h"

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
            otc_persistent_queue_stop(o); /* p's replay thread goes on where it stopped */
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

    if ((rc = otc_engine_start_pipelines(next)) != OTC_OK) {
        return rc;
    }
    for (size_t i = 0; i < next->n_pipelines; i++) {
        struct otc_pipeline *p = &next->pipelines[i];
        if (!p->storage) {
            continue;
        }
        p->wal = reload_take_wal(old, p);
        if ((rc = otc_persistent_queue_open(p)) != OTC_OK) {
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
                otc_persistent_queue_stop(p);
                o->wal = p->wal;
                p->wal = NULL;
                (void)otc_persistent_queue_open(o); /* its replay goes on, if any is left */
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
    otc_engine_set_state(old, OTC_ENGINE_STARTING); /* the health check answers 503 */
    otc_engine_set_state(next, OTC_ENGINE_STARTING);
    reload_swap_extensions(old, next);
    if ((rc = reload_start_pipelines(old, next)) != OTC_OK) {
        otc_log_err(NULL, "reload: cannot start the new pipelines: %s", otc_strerror(rc));
        reload_return_wals(old, next);
        reload_swap_extensions(next, old);
        otc_engine_set_state(old, OTC_ENGINE_RUNNING);
        otc_engine_stop(next);
        otc_engine_destroy(next);
        free(retired);
        return rc;
    }
    /* From here the reload goes through (a receiver that fails to start is
     * logged, the rest runs): next's log level and encoding apply. */
    otc_log_options_apply(&next->log);
    /* Receivers that change or go stop first (a changed one may reuse its
     * port); their calls in flight still reach old's pipelines. */
    for (size_t j = 0; j < old->n_receivers; j++) {
        struct otc_instance *o = old->receivers[j];
        bool keep = false;
        for (size_t i = 0; o && i < next->n_receivers; i++) {
            keep |= otc_receiver_used(next->receivers[i]) && reload_match(old, next, i) == j;
        }
        if (o && o->started && !keep) {
            otc_instance_shutdown(o);
            stopped++;
        }
    }
    /* Kept receivers move to next and switch to its pipelines at once. */
    for (size_t i = 0; i < next->n_receivers; i++) {
        struct otc_instance *r = next->receivers[i];
        size_t j = otc_receiver_used(r) ? reload_match(old, next, i) : SIZE_MAX;
        struct otc_feed_table *t;
        struct otc_instance *o;

        if (j == SIZE_MAX) {
            continue;
        }
        o = old->receivers[j];
        if (!(t = otc_feed_table_new(next, r))) {
            otc_instance_shutdown(o); /* cannot switch it: it stops with old */
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
        otc_instance_release(r);
        free(r);
        next->receivers[i] = o;
        old->receivers[j] = NULL;
        retired[kept++] = atomic_exchange(&o->feed_table, t);
    }
    /* no deliver call holds a retired table (nor feeds old's pipelines) after this */
    otc_feeds_synchronize();
    for (size_t k = 0; k < kept; k++) {
        free(retired[k]);
    }
    free(retired);
    for (size_t i = 0; i < next->n_receivers; i++) {
        struct otc_instance *r = next->receivers[i];
        if (r->started || !otc_receiver_used(r)) {
            continue;
        }
        struct otc_feed_table *ft = otc_feed_table_new(next, r);

        if (ft) {
            atomic_store(&r->feed_table, ft);
        }
        if (!ft || (rc = otc_instance_init_start(r)) != OTC_OK) {
            otc_log_err(r, "reload: the receiver did not start; the other pipelines run");
            continue;
        }
        started++;
    }
    otc_telemetry_stop(&old->telemetry);
    if (otc_engine_telemetry_register(next) != OTC_OK || otc_telemetry_start(&next->telemetry) != OTC_OK) {
        otc_log_warn(NULL, "reload: the metrics endpoint did not start");
    }
    otc_engine_set_state(next, OTC_ENGINE_RUNNING);
    otc_log_info(NULL, "reload: %zu receivers kept running, %zu stopped, %zu started; draining "
                 "the previous pipelines", kept, stopped, started);
    /* old's pipelines drain to old's exporters (bounded by its shutdown_timeout);
     * its extensions are next's now: old only holds next's unstarted ones */
    old->n_service_ext = 0;
    otc_engine_stop(old);
    otc_engine_destroy(old);
    return OTC_OK;
}
