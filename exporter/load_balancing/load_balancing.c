/* load_balancing.c - the `load_balancing` exporter (otelcol-contrib's
 * `loadbalancing`): routes every span, log record or data point by its
 * routing key on a consistent hash ring of backends (lb_ring.c) and sends
 * each backend its share of a request as one export through an otlp exporter
 * of its own (lb_backends.c). A backend whose share fails is retried by the
 * exporter helper, and only what is still undelivered is sent again, routed
 * on the ring of that moment: data meant for a backend that left goes to the
 * one that took its place. consume() runs on the exporter threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_internal.h"
#include "load_balancing.h"
#include "otc/otc_pb_walk.h"

#define NONE 0xffffu
/* A request waiting for a retry is forgotten after this long without one
 * (the exporter helper gave up on it: max_elapsed_time, or shutdown). */
#define LB_PENDING_MAX_AGE_NS (15ull * 60 * 1000000000)

static const char *const key_choices[] = {"traceID", "service", "attributes", "resource", "metric",
                                          "streamID", NULL};

#define OFF(f) offsetof(struct lb_ctx, f)

static const struct otc_config_entry lb_config[] = {
    {OTC_CFG_ENUM, "routing_key", "traceID", OFF(routing_key), 0, 0, 0, key_choices,
     "what keeps items together on one backend: traceID (traces, logs), service (the "
     "resource's service.name), attributes (routing_attributes), resource (the whole "
     "resource), metric (the metric name); streamID is not supported"},
    {OTC_CFG_STRLIST, "routing_attributes", NULL, OFF(routing_attributes), 0, 0, 0, NULL,
     "routing_key attributes: the attributes whose values make the key, looked up in the "
     "resource, the scope, then the span or log record (span.name and span.kind too)"},
    {OTC_CFG_TREE, "protocol.otlp", NULL, OFF(otlp_cfg), 0, 0, 0, NULL,
     "the otlp exporter's options for every backend (its endpoint is the backend's; timeout "
     "is the per-backend call's; its retry_on_failure and sending_queue are accepted and "
     "the top-level ones apply)"},
    {OTC_CFG_SECTION, "resolver.static", NULL, OFF(static_set), 0, 0, 0, NULL,
     "a fixed list of backends"},
    {OTC_CFG_STRLIST, "resolver.static.hostnames", NULL, OFF(hostnames), 0, 0, 0, NULL,
     "the backends, host:port (port 4317 when absent)"},
    {OTC_CFG_SECTION, "resolver.dns", NULL, OFF(dns_set), 0, 0, 0, NULL,
     "the backends are the addresses a name resolves to"},
    {OTC_CFG_STR, "resolver.dns.hostname", NULL, OFF(dns_hostname), 0, 0, 0, NULL,
     "the name to resolve (e.g. a headless Service)"},
    {OTC_CFG_STR, "resolver.dns.port", "4317", OFF(dns_port), 0, 0, 0, NULL,
     "the port of every resolved address"},
    {OTC_CFG_DURATION, "resolver.dns.interval", "5s", OFF(dns_interval), OTC_CFG_F_MIN, 0.001, 0,
     NULL, "how often the name is resolved again"},
    {OTC_CFG_DURATION, "resolver.dns.timeout", "1s", OFF(dns_timeout), OTC_CFG_F_MIN, 0.001, 0,
     NULL, "a lookup that takes longer fails (the last good backends stay)"},
    {OTC_CFG_TREE, "resolver.k8s", NULL, OFF(k8s), 0, 0, 0, NULL,
     "not supported: use resolver.dns with a headless Service"},
    {OTC_CFG_TREE, "resolver.aws_cloud_map", NULL, OFF(aws), 0, 0, 0, NULL,
     "not supported: use resolver.dns or resolver.static"},
    OTC_CFG_END,
};

/* ------------------------------------------------------------ config */

static int lb_validate(const void *vctx, char *err, size_t errlen)
{
    const struct lb_ctx *lb = vctx;
    const char *given[4];
    size_t n = 0;

    if (lb->static_set) {
        given[n++] = "static";
    }
    if (lb->dns_set) {
        given[n++] = "dns";
    }
    if (lb->k8s) {
        given[n++] = "k8s";
    }
    if (lb->aws) {
        given[n++] = "aws_cloud_map";
    }
    if (n == 0) {
        snprintf(err, errlen, "resolver: no resolver given (set resolver.static or resolver.dns)");
        return OTC_EINVAL;
    }
    if (n > 1) {
        snprintf(err, errlen, "resolver: only one resolver may be given, found %s and %s", given[0],
                 given[1]);
        return OTC_EINVAL;
    }
    if (lb->k8s || lb->aws) {
        snprintf(err, errlen, "resolver.%s: not supported by otelc (use resolver.dns on a headless "
                 "Service, or resolver.static)", given[0]);
        return OTC_EINVAL;
    }
    if (lb->static_set && lb->hostnames.n == 0) {
        snprintf(err, errlen, "resolver.static.hostnames: no backend given");
        return OTC_EINVAL;
    }
    if (lb->static_set && lb->hostnames.n > 4096) {
        snprintf(err, errlen, "resolver.static.hostnames: %zu backends, at most 4096", lb->hostnames.n);
        return OTC_EINVAL;
    }
    for (size_t i = 0; lb->static_set && i < lb->hostnames.n; i++) {
        if (!*lb->hostnames.v[i]) {
            snprintf(err, errlen, "resolver.static.hostnames[%zu]: empty", i);
            return OTC_EINVAL;
        }
    }
    if (lb->dns_set && (!lb->dns_hostname || !*lb->dns_hostname)) {
        snprintf(err, errlen, "resolver.dns.hostname: required");
        return OTC_EINVAL;
    }
    if (lb->routing_key == LB_KEY_STREAM) {
        snprintf(err, errlen, "routing_key: \"streamID\" is not supported by otelc (use service, "
                 "resource or metric)");
        return OTC_EINVAL;
    }
    if (lb->routing_key == LB_KEY_ATTRIBUTES && lb->routing_attributes.n == 0) {
        snprintf(err, errlen, "routing_attributes: must be given when routing_key is \"attributes\"");
        return OTC_EINVAL;
    }
    if (lb->routing_key != LB_KEY_ATTRIBUTES && lb->routing_attributes.n > 0) {
        snprintf(err, errlen, "routing_attributes: only used when routing_key is \"attributes\" "
                 "(got \"%s\")", key_choices[lb->routing_key]);
        return OTC_EINVAL;
    }
    /* protocol.otlp: read once with the otlp exporter's table, for its errors */
    {
        struct lb_ctx probe = *lb;
        void *ctx;
        int rc;

        probe.otlp = otc_component_find(OTC_EXPORTER, "otlp");
        if (!probe.otlp) {
            snprintf(err, errlen, "protocol.otlp: the otlp exporter is not built in");
            return OTC_EINVAL;
        }
        if (!(ctx = calloc(1, probe.otlp->ctx_size))) {
            return OTC_ENOMEM;
        }
        rc = lb_otlp_config(&probe, ctx, "placeholder:4317", NULL, err, errlen);
        if (probe.otlp->destroy) {
            probe.otlp->destroy(ctx);
        }
        otc_config_map_free(probe.otlp->config_map, ctx);
        free(ctx);
        return rc;
    }
}

static void metric_init(struct otc_metric *m, const char *name, const char *unit, const char *help,
                        enum otc_metric_kind kind, const char *resolver, const char *success)
{
    m->name = name;
    m->unit = unit;
    m->help = help;
    m->kind = kind;
    m->label_keys[0] = "resolver";
    m->label_values[0] = resolver;
    m->n_labels = 1;
    if (success) {
        m->label_keys[1] = "success";
        m->label_values[1] = success;
        m->n_labels = 2;
    }
}

static int lb_init(struct otc_instance *ins, void *vctx)
{
    struct lb_ctx *lb = vctx;
    char err[256] = "";
    void *ctx;
    int rc;

    lb->ins = ins;
    if ((ins->signals & OTC_SIG_METRICS) &&
        (lb->routing_key == LB_KEY_TRACE || lb->routing_key == LB_KEY_ATTRIBUTES)) {
        otc_log_err(ins, "routing_key \"%s\" cannot route metrics: use service, resource or metric",
                    key_choices[lb->routing_key]);
        return OTC_EINVAL;
    }
    if ((ins->signals & (OTC_SIG_TRACES | OTC_SIG_LOGS)) && lb->routing_key == LB_KEY_METRIC) {
        otc_log_err(ins, "routing_key \"metric\" routes metrics only");
        return OTC_EINVAL;
    }
    if (!(lb->otlp = otc_component_find(OTC_EXPORTER, "otlp"))) {
        return OTC_EINVAL;
    }
    /* protocol.otlp.timeout, for the backends' calls */
    if (!(ctx = calloc(1, lb->otlp->ctx_size))) {
        return OTC_ENOMEM;
    }
    rc = lb_otlp_config(lb, ctx, "placeholder:4317", &lb->otlp_timeout_ns, err, sizeof(err));
    if (lb->otlp->destroy) {
        lb->otlp->destroy(ctx);
    }
    otc_config_map_free(lb->otlp->config_map, ctx);
    free(ctx);
    if (rc != OTC_OK) {
        otc_log_err(ins, "%s", err);
        return rc;
    }
    if (!lb->locks_ready) {
        pthread_mutex_init(&lb->set_lock, NULL);
        pthread_mutex_init(&lb->wake_lock, NULL);
        pthread_cond_init(&lb->wake, NULL);
        pthread_mutex_init(&lb->pend_lock, NULL);
        lb->locks_ready = true;
    }
    atomic_init(&lb->rng, otc_now_ns());
    lb->resolver_name = lb->static_set ? "static" : "dns";
    metric_init(&lb->num_backends, "otelcol_loadbalancer_num_backends", "{backends}",
                "Current number of backends in use.", OTC_METRIC_GAUGE, lb->resolver_name, NULL);
    metric_init(&lb->resolutions[0], "otelcol_loadbalancer_num_resolutions", "{resolutions}",
                "Number of times the resolver has triggered new resolutions.", OTC_METRIC_COUNTER,
                lb->resolver_name, "false");
    metric_init(&lb->resolutions[1], "otelcol_loadbalancer_num_resolutions", "{resolutions}",
                "Number of times the resolver has triggered new resolutions.", OTC_METRIC_COUNTER,
                lb->resolver_name, "true");
    metric_init(&lb->updates, "otelcol_loadbalancer_num_backend_updates", "{updates}",
                "Number of times the list of backends was updated.", OTC_METRIC_COUNTER,
                lb->resolver_name, NULL);
    otc_metric_register(ins, &lb->num_backends);
    otc_metric_register(ins, &lb->resolutions[0]);
    otc_metric_register(ins, &lb->resolutions[1]);
    otc_metric_register(ins, &lb->updates);
    return OTC_OK;
}

static int lb_start(struct otc_instance *ins, void *vctx)
{
    struct lb_ctx *lb = vctx;

    lb->ins = ins;
    return lb_resolver_start(lb);
}

/* ------------------------------------------------------- pending requests */

/* The record of b's earlier attempts, or NULL; forgets stale records. */
static struct lb_pending *pending_take(struct lb_ctx *lb, const struct otc_batch *b)
{
    struct lb_pending **pp, *found = NULL, *stale = NULL;
    uint64_t now = otc_now_ns();

    pthread_mutex_lock(&lb->pend_lock);
    for (pp = &lb->pending; *pp;) {
        struct lb_pending *p = *pp;
        if (p->b == b) {
            *pp = p->next;
            found = p;
            continue;
        }
        if (now - p->touched_ns > LB_PENDING_MAX_AGE_NS) {
            *pp = p->next;
            p->next = stale;
            stale = p;
            continue;
        }
        pp = &p->next;
    }
    pthread_mutex_unlock(&lb->pend_lock);
    while (stale) {
        struct lb_pending *p = stale;
        stale = p->next;
        otc_batch_unref(p->b);
        free(p->done);
        free(p);
    }
    return found;
}

static void pending_put(struct lb_ctx *lb, struct lb_pending *p)
{
    p->touched_ns = otc_now_ns();
    pthread_mutex_lock(&lb->pend_lock);
    p->next = lb->pending;
    lb->pending = p;
    pthread_mutex_unlock(&lb->pend_lock);
}

static void pending_free(struct lb_pending *p)
{
    if (p) {
        otc_batch_unref(p->b);
        free(p->done);
        free(p);
    }
}

/* -------------------------------------------------------------- consume */

/* One backend's share of b: b itself when it takes every item, else a new
 * request of the kept items. NULL on ENOMEM or malformed bytes. */
static struct otc_batch *share_of(struct otc_batch *b, const uint8_t *data, size_t len,
                                  const uint8_t *keep, size_t kept, bool whole)
{
    struct otc_batch *sub;
    uint8_t *dst;
    size_t n;

    if (whole) {
        return otc_batch_ref(b);
    }
    if (!(sub = otc_batch_alloc_raw(b->signal, len, &dst))) {
        return NULL;
    }
    if ((n = otc_pb_keep_items(b->signal, data, len, keep, dst)) == SIZE_MAX) {
        otc_batch_unref(sub);
        return NULL;
    }
    sub->raw_len = n;
    sub->items = kept;
    sub->received_ns = b->received_ns;
    return sub;
}

static int lb_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct lb_ctx *lb = vctx;
    struct otc_export_result *res = otc_export_result();
    struct lb_pending *pend = pending_take(lb, b);
    struct lb_set *set = NULL;
    const uint8_t *data;
    size_t len, n = 0, cap = b->items + 16, todo = 0;
    uint32_t *pos = NULL;
    uint16_t *own = NULL;
    uint8_t *keep = NULL, *done = NULL, *settled = NULL;
    size_t *count = NULL;
    struct otc_batch **shares = NULL;
    uint64_t rejected = 0;
    int64_t retry_after = 0;
    bool retry = false, fresh;
    char reason[sizeof(res->reason)] = "";
    int rc;

    (void)ins;
    if (otc_batch_bytes(b, &data, &len) != OTC_OK) {
        rc = OTC_ENOMEM;
        goto out;
    }
    fresh = !pend;
    for (;;) {
        free(pos);
        if (!(pos = malloc(cap * sizeof(*pos)))) {
            rc = OTC_ENOMEM;
            goto out;
        }
        rc = lb_route(lb, b->signal, data, len, pos, cap, &n);
        if (rc != OTC_ELIMIT) {
            break;
        }
        cap *= 2;
    }
    if (rc != OTC_OK) {
        snprintf(reason, sizeof(reason), "malformed request");
        rc = OTC_EPERM;
        goto out;
    }
    if (pend && pend->n != n) {
        pending_free(pend); /* cannot happen: the same request routes to as many items */
        pend = NULL;
        fresh = true;
    }
    if (!pend && (!(pend = calloc(1, sizeof(*pend))) || !(pend->done = calloc(n ? n : 1, 1)))) {
        free(pend);
        pend = NULL;
        rc = OTC_ENOMEM;
        goto out;
    }
    pend->n = n;
    done = pend->done;
    set = lb_set_get(lb);
    if (!set || set->n == 0) {
        snprintf(reason, sizeof(reason), "no backend resolved yet");
        retry = true;
        goto settle;
    }
    own = malloc((n ? n : 1) * sizeof(*own));
    keep = malloc(n ? n : 1);
    count = calloc(set->n, sizeof(*count));
    settled = calloc(set->n, 1);
    if (!own || !keep || !count || !settled) {
        rc = OTC_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (done[i]) {
            own[i] = NONE;
            continue;
        }
        own[i] = lb_ring_owner(&set->ring, pos[i]);
        count[own[i]]++;
        todo++;
    }
    /* every backend's share at once (traces, logs), or one at a time (metrics,
     * where items are data points inside Metrics) */
    if (!(shares = calloc(set->n, sizeof(*shares)))) {
        rc = OTC_ENOMEM;
        goto out;
    }
    if (b->signal != OTC_METRICS && !(fresh && todo > 0 && count[own[0]] == n)) {
        uint8_t **outs = calloc(set->n, sizeof(*outs));
        size_t *lens = calloc(set->n, sizeof(*lens));
        int src = outs && lens ? OTC_OK : OTC_ENOMEM;

        if (src == OTC_OK) {
            src = lb_split(data, len, own, n, count, set->n, NULL, lens); /* the sizes */
        }
        for (size_t k = 0; src == OTC_OK && k < set->n; k++) {
            if (count[k] && !(shares[k] = otc_batch_alloc_raw(b->signal, lens[k], &outs[k]))) {
                src = OTC_ENOMEM;
            }
        }
        if (src == OTC_OK) {
            src = lb_split(data, len, own, n, count, set->n, outs, lens);
        }
        for (size_t k = 0; k < set->n; k++) {
            if (shares[k]) {
                shares[k]->raw_len = lens[k];
                shares[k]->items = count[k];
                shares[k]->received_ns = b->received_ns;
            }
        }
        free(outs);
        free(lens);
        if (src != OTC_OK) {
            snprintf(reason, sizeof(reason), src == OTC_ENOMEM ? "out of memory" : "malformed request");
            rc = src == OTC_ENOMEM ? OTC_ENOMEM : OTC_EPERM;
            goto out;
        }
    }
    for (size_t k = 0; k < set->n; k++) {
        struct lb_backend *be = set->b[k];
        struct otc_export_result saved;
        struct otc_batch *sub = shares[k];
        int r;

        if (!count[k]) {
            continue;
        }
        shares[k] = NULL;
        memset(res, 0, sizeof(*res));
        if (!sub) {
            bool whole = fresh && count[k] == n;
            for (size_t i = 0; !whole && i < n; i++) {
                keep[i] = own[i] == k;
            }
            sub = share_of(b, data, len, keep, count[k], whole);
        }
        if (!be->started) {
            snprintf(res->reason, sizeof(res->reason), "its otlp exporter did not start");
            if (sub) {
                otc_batch_unref(sub);
            }
            r = OTC_EIO;
        } else if (!sub) {
            snprintf(res->reason, sizeof(res->reason), "out of memory");
            r = OTC_EIO;
        } else {
            r = lb->otlp->consume(&be->sub, be->sub.ctx, sub);
        }
        saved = *res;
        if (be->stats) {
            otc_metric_add(&be->stats->outcome[r == OTC_OK], 1);
        }
        if (r == OTC_EIO) {
            retry = true;
            if (saved.retry_after_ns > retry_after) {
                retry_after = saved.retry_after_ns;
            }
            snprintf(reason, sizeof(reason), "backend %.80s: %.160s", be->endpoint, saved.reason);
            continue;
        }
        settled[k] = 1; /* delivered, or failed for good: not sent again */
        if (r == OTC_OK) {
            rejected += saved.rejected < count[k] ? saved.rejected : count[k];
            if (saved.rejected) {
                snprintf(reason, sizeof(reason), "backend %.80s: %.160s", be->endpoint, saved.reason);
            }
        } else {
            rejected += count[k];
            snprintf(reason, sizeof(reason), "backend %.80s: %.160s", be->endpoint, saved.reason);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (own[i] != NONE && settled[own[i]]) {
            done[i] = 1;
        }
    }
settle:
    pend->rejected += rejected;
    memset(res, 0, sizeof(*res));
    snprintf(res->reason, sizeof(res->reason), "%s", reason);
    if (retry) {
        /* the rest waits for the helper's next attempt with this batch */
        res->retry_after_ns = retry_after;
        if (!pend->b) {
            pend->b = otc_batch_ref(b);
        }
        pending_put(lb, pend);
        pend = NULL;
        rc = OTC_EIO;
        goto out;
    }
    if (pend->rejected >= n && n > 0) {
        rc = OTC_EPERM; /* nothing delivered at all */
    } else {
        res->rejected = pend->rejected;
        rc = OTC_OK;
    }
out:
    if (rc == OTC_ENOMEM || (rc == OTC_EPERM && !res->reason[0])) {
        snprintf(res->reason, sizeof(res->reason), "%s", reason[0] ? reason : otc_strerror(rc));
    }
    pending_free(pend);
    free(pos);
    free(own);
    free(keep);
    free(count);
    free(settled);
    for (size_t k = 0; shares && k < set->n; k++) {
        if (shares[k]) {
            otc_batch_unref(shares[k]);
        }
    }
    free(shares);
    lb_set_put(set);
    otc_batch_unref(b);
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

static void lb_shutdown(struct otc_instance *ins, void *vctx)
{
    struct lb_ctx *lb = vctx;
    struct lb_set *s;

    (void)ins;
    if (!lb->locks_ready) {
        return;
    }
    lb_resolver_stop(lb);
    pthread_mutex_lock(&lb->set_lock);
    s = lb->cur;
    lb->cur = NULL;
    pthread_mutex_unlock(&lb->set_lock);
    lb_set_put(s); /* the exporter threads are done: the backends shut down here */
    while (lb->pending) {
        struct lb_pending *p = lb->pending;
        lb->pending = p->next;
        pending_free(p);
    }
}

static void lb_destroy(void *vctx)
{
    struct lb_ctx *lb = vctx;

    lb_shutdown(NULL, lb);
    lb_stats_free(lb);
    if (lb->locks_ready) {
        pthread_mutex_destroy(&lb->set_lock);
        pthread_mutex_destroy(&lb->wake_lock);
        pthread_cond_destroy(&lb->wake);
        pthread_mutex_destroy(&lb->pend_lock);
        lb->locks_ready = false;
    }
}

const struct otc_component_ops otc_exporter_load_balancing_ops = {
    .type = "load_balancing",
    .kind = OTC_EXPORTER,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = true,
    .ctx_size = sizeof(struct lb_ctx),
    .config_map = lb_config,
    .validate = lb_validate,
    .init = lb_init,
    .start = lb_start,
    .consume = lb_consume,
    .send = NULL,
    .flush = NULL,
    .shutdown = lb_shutdown,
    .destroy = lb_destroy,
};
