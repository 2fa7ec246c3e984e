/* ottl_walk.c - visits every item of one OTTL context in a decoded request
 * (resources, scopes, spans, span events, metrics, data points, log records)
 * and removes those the visitor drops, with the containers left empty, as
 * otelcol's filter processor does. Runs on the thread that holds the batch. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "otc/otc_pb_walk.h"
#include "ottl_internal.h"

typedef Opentelemetry__Proto__Resource__V1__Resource           ottl_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope ottl_scope;

static int visit(struct otc_ottl_walk *w, struct otc_ottl_env *e, bool *drop)
{
    int r = w->fn(w->arg, e);

    *drop = r == OTC_OTTL_DROP;
    return r < 0 ? r : OTC_OK;
}

static ottl_resource *head_resource(struct otc_ottl_walk *w, ottl_resource **r)
{
    if (!*r && w->make_heads && (*r = otc_arena_alloc(w->arena, sizeof(**r)))) {
        opentelemetry__proto__resource__v1__resource__init(*r);
    }
    return *r;
}

static ottl_scope *head_scope(struct otc_ottl_walk *w, ottl_scope **s)
{
    if (!*s && w->make_heads && (*s = otc_arena_alloc(w->arena, sizeof(**s)))) {
        opentelemetry__proto__common__v1__instrumentation_scope__init(*s);
    }
    return *s;
}

/* Record one removal decision; true when the entry stays. */
static bool sweep(struct otc_ottl_walk *w, bool drop, bool empty, size_t items)
{
    if (drop) {
        w->removed++;
        w->items += items;
        return false;
    }
    if (empty && w->prune) {
        w->removed++;
        return false;
    }
    return true;
}

#define KEEP_AT(arr, wr, i) do { (arr)[(wr)++] = (arr)[(i)]; } while (0)
#define SET_N(n, wr) do { if (w->apply) { (n) = (wr); } } while (0)

static int walk_spans(struct otc_ottl_walk *w, struct otc_ottl_env *e, otc_scope_spans *ss)
{
    size_t wr = 0;
    int rc;

    for (size_t k = 0; k < ss->n_spans; k++) {
        otc_span *sp = ss->spans[k];
        bool drop = false;

        e->span = sp;
        if (w->ctx == OTC_OTTL_SPAN) {
            if ((rc = visit(w, e, &drop)) != OTC_OK) {
                return rc;
            }
        } else {
            size_t we = 0;
            for (size_t v = 0; v < sp->n_events; v++) {
                bool edrop;
                e->event = sp->events[v];
                if ((rc = visit(w, e, &edrop)) != OTC_OK) {
                    return rc;
                }
                if (sweep(w, edrop, false, 0)) {
                    KEEP_AT(sp->events, we, v);
                }
            }
            SET_N(sp->n_events, we);
            e->event = NULL;
        }
        if (sweep(w, drop, false, 1)) {
            KEEP_AT(ss->spans, wr, k);
        }
    }
    SET_N(ss->n_spans, wr);
    return OTC_OK;
}

static int walk_traces(struct otc_ottl_walk *w, otc_traces_req *req)
{
    size_t wr = 0;
    int rc;

    for (size_t i = 0; i < req->n_resource_spans; i++) {
        otc_resource_spans *rs = req->resource_spans[i];
        struct otc_ottl_env e = {.arena = w->arena, .resource = head_resource(w, &rs->resource)};
        bool drop = false;
        size_t items = 0, ws = 0;

        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            items += rs->scope_spans[j]->n_spans;
        }
        if (w->ctx == OTC_OTTL_RESOURCE) {
            if ((rc = visit(w, &e, &drop)) != OTC_OK) {
                return rc;
            }
        } else {
            for (size_t j = 0; j < rs->n_scope_spans; j++) {
                otc_scope_spans *ss = rs->scope_spans[j];
                bool sdrop = false;
                e.scope = head_scope(w, &ss->scope);
                if (w->ctx == OTC_OTTL_SCOPE) {
                    if ((rc = visit(w, &e, &sdrop)) != OTC_OK) {
                        return rc;
                    }
                } else if ((rc = walk_spans(w, &e, ss)) != OTC_OK) {
                    return rc;
                }
                if (sweep(w, sdrop, ss->n_spans == 0, ss->n_spans)) {
                    KEEP_AT(rs->scope_spans, ws, j);
                }
            }
            SET_N(rs->n_scope_spans, ws);
        }
        if (sweep(w, drop, rs->n_scope_spans == 0, items)) {
            KEEP_AT(req->resource_spans, wr, i);
        }
    }
    SET_N(req->n_resource_spans, wr);
    return OTC_OK;
}

static int walk_points(struct otc_ottl_walk *w, struct otc_ottl_env *e, otc_metric *m)
{
    size_t n = 0, wr = 0;
    ProtobufCMessage **pts = otc_msg_points(m, &n);
    int rc;

    for (size_t p = 0; p < n; p++) {
        bool drop;
        e->point = pts[p];
        if ((rc = visit(w, e, &drop)) != OTC_OK) {
            return rc;
        }
        if (sweep(w, drop, false, 1)) {
            KEEP_AT(pts, wr, p);
        }
    }
    e->point = NULL;
    if (!w->apply || wr == n) {
        return OTC_OK;
    }
    switch (m->data_case) { /* otc_msg_points handed out the metric's own array */
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: m->gauge->n_data_points = wr; break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: m->sum->n_data_points = wr; break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        m->histogram->n_data_points = wr;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        m->exponential_histogram->n_data_points = wr;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        m->summary->n_data_points = wr;
        break;
    default: break;
    }
    return OTC_OK;
}

static int walk_metrics(struct otc_ottl_walk *w, otc_metrics_req *req)
{
    size_t wr = 0;
    int rc;

    for (size_t i = 0; i < req->n_resource_metrics; i++) {
        otc_resource_metrics *rm = req->resource_metrics[i];
        struct otc_ottl_env e = {.arena = w->arena, .resource = head_resource(w, &rm->resource)};
        bool drop = false;
        size_t items = 0, ws = 0;

        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            for (size_t k = 0; k < rm->scope_metrics[j]->n_metrics; k++) {
                items += otc_metric_point_count(rm->scope_metrics[j]->metrics[k]);
            }
        }
        if (w->ctx == OTC_OTTL_RESOURCE && (rc = visit(w, &e, &drop)) != OTC_OK) {
            return rc;
        }
        for (size_t j = 0; w->ctx != OTC_OTTL_RESOURCE && j < rm->n_scope_metrics; j++) {
            otc_scope_metrics *sm = rm->scope_metrics[j];
            bool sdrop = false;
            size_t sitems = 0, wm = 0;
            e.scope = head_scope(w, &sm->scope);
            for (size_t k = 0; k < sm->n_metrics; k++) {
                sitems += otc_metric_point_count(sm->metrics[k]);
            }
            if (w->ctx == OTC_OTTL_SCOPE && (rc = visit(w, &e, &sdrop)) != OTC_OK) {
                return rc;
            }
            for (size_t k = 0; w->ctx > OTC_OTTL_SCOPE && k < sm->n_metrics; k++) {
                otc_metric *m = sm->metrics[k];
                bool mdrop = false;
                size_t before = otc_metric_point_count(m);
                e.metric = m;
                if (w->ctx == OTC_OTTL_METRIC) {
                    if ((rc = visit(w, &e, &mdrop)) != OTC_OK) {
                        return rc;
                    }
                } else if ((rc = walk_points(w, &e, m)) != OTC_OK) {
                    return rc;
                }
                /* a metric left without points goes (one that had none stays) */
                if (sweep(w, mdrop, before > 0 && otc_metric_point_count(m) == 0, before)) {
                    KEEP_AT(sm->metrics, wm, k);
                }
            }
            e.metric = NULL;
            if (w->ctx > OTC_OTTL_SCOPE) {
                SET_N(sm->n_metrics, wm);
            }
            if (sweep(w, sdrop, sm->n_metrics == 0, sitems)) {
                KEEP_AT(rm->scope_metrics, ws, j);
            }
        }
        if (w->ctx != OTC_OTTL_RESOURCE) {
            SET_N(rm->n_scope_metrics, ws);
        }
        if (sweep(w, drop, rm->n_scope_metrics == 0, items)) {
            KEEP_AT(req->resource_metrics, wr, i);
        }
    }
    SET_N(req->n_resource_metrics, wr);
    return OTC_OK;
}

static int walk_logs(struct otc_ottl_walk *w, otc_logs_req *req)
{
    size_t wr = 0;
    int rc;

    for (size_t i = 0; i < req->n_resource_logs; i++) {
        otc_resource_logs *rl = req->resource_logs[i];
        struct otc_ottl_env e = {.arena = w->arena, .resource = head_resource(w, &rl->resource)};
        bool drop = false;
        size_t items = 0, ws = 0;

        for (size_t j = 0; j < rl->n_scope_logs; j++) {
            items += rl->scope_logs[j]->n_log_records;
        }
        if (w->ctx == OTC_OTTL_RESOURCE && (rc = visit(w, &e, &drop)) != OTC_OK) {
            return rc;
        }
        for (size_t j = 0; w->ctx != OTC_OTTL_RESOURCE && j < rl->n_scope_logs; j++) {
            otc_scope_logs *sl = rl->scope_logs[j];
            bool sdrop = false;
            size_t wl = 0;
            e.scope = head_scope(w, &sl->scope);
            if (w->ctx == OTC_OTTL_SCOPE && (rc = visit(w, &e, &sdrop)) != OTC_OK) {
                return rc;
            }
            for (size_t k = 0; w->ctx == OTC_OTTL_LOG && k < sl->n_log_records; k++) {
                bool ldrop;
                e.log = sl->log_records[k];
                if ((rc = visit(w, &e, &ldrop)) != OTC_OK) {
                    return rc;
                }
                if (sweep(w, ldrop, false, 1)) {
                    KEEP_AT(sl->log_records, wl, k);
                }
            }
            e.log = NULL;
            if (w->ctx == OTC_OTTL_LOG) {
                SET_N(sl->n_log_records, wl);
            }
            if (sweep(w, sdrop, sl->n_log_records == 0, sl->n_log_records)) {
                KEEP_AT(rl->scope_logs, ws, j);
            }
        }
        if (w->ctx != OTC_OTTL_RESOURCE) {
            SET_N(rl->n_scope_logs, ws);
        }
        if (sweep(w, drop, rl->n_scope_logs == 0, items)) {
            KEEP_AT(req->resource_logs, wr, i);
        }
    }
    SET_N(req->n_resource_logs, wr);
    return OTC_OK;
}

int otc_ottl_walk(enum otc_signal s, ProtobufCMessage *req, struct otc_ottl_walk *w)
{
    w->removed = 0;
    w->items = 0;
    switch (s) {
    case OTC_TRACES:
        return walk_traces(w, (otc_traces_req *)req);
    case OTC_METRICS:
        return walk_metrics(w, (otc_metrics_req *)req);
    case OTC_LOGS:
        return walk_logs(w, (otc_logs_req *)req);
    default:
        return OTC_EINVAL;
    }
}
