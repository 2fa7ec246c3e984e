/* msg_walk.c - the traversal layer over decoded (protobuf-c) requests: the
 * walk with the same callbacks and order as the serialized form's, item and
 * data point counts, and the keep / drop helper of the decoded form.
 * Reentrant; runs on whichever thread holds the batch. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_batch.h"
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"

#include <stddef.h>
#include <string.h>

/* ------------------------------------------------------ decoded requests */

#define MSG_LAYOUT(REQ, RES, SCOPE, rfield, sfield, ifield)                                \
    {                                                                                      \
        offsetof(REQ, n_##rfield), offsetof(REQ, rfield), sizeof(RES),                     \
        offsetof(RES, n_##sfield), offsetof(RES, sfield), offsetof(RES, resource),         \
        offsetof(RES, schema_url), sizeof(SCOPE), offsetof(SCOPE, n_##ifield),             \
        offsetof(SCOPE, ifield), offsetof(SCOPE, scope), offsetof(SCOPE, schema_url)       \
    }

static const struct otc_msg_layout msg_layouts[OTC_SIGNAL_COUNT] = {
    [OTC_TRACES] = MSG_LAYOUT(otc_traces_req, otc_resource_spans, otc_scope_spans,
                              resource_spans, scope_spans, spans),
    [OTC_METRICS] = MSG_LAYOUT(otc_metrics_req, otc_resource_metrics, otc_scope_metrics,
                               resource_metrics, scope_metrics, metrics),
    [OTC_LOGS] = MSG_LAYOUT(otc_logs_req, otc_resource_logs, otc_scope_logs, resource_logs,
                            scope_logs, log_records),
};

const struct otc_msg_layout *otc_msg_layout(enum otc_signal s)
{
    return (unsigned)s < OTC_SIGNAL_COUNT ? &msg_layouts[s] : NULL;
}

#define M_N(p, off)   (*(size_t *)((char *)(p) + (off)))
#define M_V(p, off)   (*(void ***)((char *)(p) + (off)))
#define M_MSG(p, off) (*(ProtobufCMessage **)((char *)(p) + (off)))
#define M_STR(p, off) (*(char **)((char *)(p) + (off)))

/* Every metric data type starts with base, n_data_points, data_points. */
typedef Opentelemetry__Proto__Metrics__V1__Gauge msg_points;
#define MSG_SAME_POINTS(T)                                                                  \
    _Static_assert(offsetof(T, n_data_points) == offsetof(msg_points, n_data_points) &&     \
                   offsetof(T, data_points) == offsetof(msg_points, data_points),           \
                   #T " layout")
MSG_SAME_POINTS(Opentelemetry__Proto__Metrics__V1__Sum);
MSG_SAME_POINTS(Opentelemetry__Proto__Metrics__V1__Histogram);
MSG_SAME_POINTS(Opentelemetry__Proto__Metrics__V1__ExponentialHistogram);
MSG_SAME_POINTS(Opentelemetry__Proto__Metrics__V1__Summary);

/* The data member of m (any of them: they share the layout above), or NULL. */
static msg_points *metric_data(const otc_metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        return (msg_points *)m->gauge; /* the members share one union */
    default:
        return NULL;
    }
}

ProtobufCMessage **otc_msg_points(const otc_metric *m, size_t *n)
{
    msg_points *d = metric_data(m);

    if (!d || !d->n_data_points) {
        *n = 0;
        return NULL;
    }
    *n = d->n_data_points;
    return (ProtobufCMessage **)d->data_points;
}

size_t otc_metric_point_count(const otc_metric *m)
{
    const msg_points *d = metric_data(m);

    return d ? d->n_data_points : 0;
}

size_t otc_request_count_items(enum otc_signal s, const ProtobufCMessage *req)
{
    const struct otc_msg_layout *L;
    size_t n = 0;

    if (!req || (unsigned)s >= OTC_SIGNAL_COUNT) {
        return 0;
    }
    L = &msg_layouts[s];
    for (size_t i = 0; i < M_N(req, L->req_n); i++) {
        void *rs = M_V(req, L->req_v)[i];

        for (size_t j = 0; j < M_N(rs, L->res_n); j++) {
            void *ss = M_V(rs, L->res_v)[j];
            size_t n_it = M_N(ss, L->scope_n);

            if (s != OTC_METRICS) {
                n += n_it;
                continue;
            }
            for (size_t k = 0; k < n_it; k++) {
                n += otc_metric_point_count(M_V(ss, L->scope_v)[k]);
            }
        }
    }
    return n;
}

int otc_msg_walk(enum otc_signal s, const ProtobufCMessage *req, const struct otc_msg_visitor *v,
                 bool *empty_groups)
{
    const struct otc_msg_layout *L;
    bool empty = false;
    int r;

    if (!req || (unsigned)s >= OTC_SIGNAL_COUNT) {
        return OTC_EINVAL;
    }
    L = &msg_layouts[s];
    for (size_t i = 0; i < M_N(req, L->req_n); i++) {
        void *rs = M_V(req, L->req_v)[i];
        size_t n_sc = M_N(rs, L->res_n);

        if (v->resource) {
            struct otc_msg_head h = {M_MSG(rs, L->res_msg), M_STR(rs, L->res_schema)};
            if ((r = v->resource(v->arg, &h)) != 0) {
                return r;
            }
        }
        empty |= n_sc == 0;
        for (size_t j = 0; j < n_sc; j++) {
            void *ss = M_V(rs, L->res_v)[j];
            size_t n_it = M_N(ss, L->scope_n);
            ProtobufCMessage **items = (ProtobufCMessage **)M_V(ss, L->scope_v);

            if (v->scope) {
                struct otc_msg_head h = {M_MSG(ss, L->scope_msg), M_STR(ss, L->scope_schema)};
                if ((r = v->scope(v->arg, &h)) != 0) {
                    return r;
                }
            }
            empty |= n_it == 0;
            if (v->items && n_it && (r = v->items(v->arg, items, n_it)) != 0) {
                return r;
            }
            for (size_t k = 0; k < n_it && (v->item || v->point); k++) {
                ProtobufCMessage **pts;
                size_t np;

                if (v->item && (r = v->item(v->arg, items[k])) != 0) {
                    return r;
                }
                if (s != OTC_METRICS || !v->point) {
                    continue;
                }
                pts = otc_msg_points((const otc_metric *)items[k], &np);
                for (size_t p = 0; p < np; p++) {
                    if ((r = v->point(v->arg, (const otc_metric *)items[k], pts[p])) != 0) {
                        return r;
                    }
                }
            }
        }
    }
    if (empty_groups) {
        *empty_groups = empty;
    }
    return OTC_OK;
}

/* Keep the entries of v whose flag (read from keep at *at onwards) is set. */
static size_t keep_compact(void **v, size_t n, const uint8_t *keep, size_t *at)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (keep[(*at)++]) {
            v[kept++] = v[i];
        }
    }
    return kept;
}

size_t otc_msg_keep_items(enum otc_signal s, ProtobufCMessage *req, const uint8_t *keep)
{
    const struct otc_msg_layout *L;
    size_t at = 0, nr = 0, left = 0;

    if (!req || (unsigned)s >= OTC_SIGNAL_COUNT) {
        return 0;
    }
    L = &msg_layouts[s];
    for (size_t i = 0; i < M_N(req, L->req_n); i++) {
        void *rs = M_V(req, L->req_v)[i];
        size_t ns = 0;

        for (size_t j = 0; j < M_N(rs, L->res_n); j++) {
            void *ss = M_V(rs, L->res_v)[j];
            void **items = M_V(ss, L->scope_v);
            size_t n = M_N(ss, L->scope_n), kept = 0;

            if (s != OTC_METRICS) {
                kept = keep_compact(items, n, keep, &at);
                left += kept;
            } else {
                /* Metrics that lose all their points go; metrics that had none stay. */
                for (size_t k = 0; k < n; k++) {
                    msg_points *d = metric_data(items[k]);

                    if (d && d->n_data_points > 0) {
                        d->n_data_points = keep_compact((void **)d->data_points,
                                                        d->n_data_points, keep, &at);
                        if (d->n_data_points == 0) {
                            continue;
                        }
                        left += d->n_data_points;
                    }
                    items[kept++] = items[k];
                }
            }
            M_N(ss, L->scope_n) = kept;
            if (kept) {
                M_V(rs, L->res_v)[ns++] = ss;
            }
        }
        M_N(rs, L->res_n) = ns;
        if (ns) {
            M_V(req, L->req_v)[nr++] = rs;
        }
    }
    M_N(req, L->req_n) = nr;
    return left;
}

