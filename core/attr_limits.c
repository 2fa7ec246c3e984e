/* attr_limits.c - attribute limits shared by the truncate and transform
 * processors: UTF-8 safe cuts written in place (the batch's arena owns every
 * string), attribute-count limits, and the walk over every attribute set of a
 * request. Runs on the pipeline worker thread of whichever processor calls it. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "otc/otc_attr_limits.h"

#define ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c
#define METRIC(c) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##c

typedef Opentelemetry__Proto__Resource__V1__Resource                    otc_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope          otc_scope;
typedef Opentelemetry__Proto__Trace__V1__Span__Event                    otc_span_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link                     otc_span_link;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint              otc_number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint           otc_histogram_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint otc_exp_histogram_point;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint             otc_summary_point;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar                     otc_exemplar;

/* ------------------------------------------------------------------ walk */

static bool walk_visit(otc_attr_visit_fn fn, void *arg, enum otc_attr_ctx c,
                       otc_key_value ***kvs, size_t *n, uint32_t *dropped)
{
    struct otc_attr_set set = {.ctx = c, .kvs = kvs, .n = n, .dropped = dropped, .body = NULL};

    return fn(arg, &set);
}

static bool walk_resource_scope(otc_resource *res, otc_scope *scope, otc_attr_visit_fn fn,
                                void *arg)
{
    if (res && walk_visit(fn, arg, OTC_ACTX_RESOURCE, &res->attributes, &res->n_attributes,
                          &res->dropped_attributes_count)) {
        return true;
    }
    if (scope && walk_visit(fn, arg, OTC_ACTX_SCOPE, &scope->attributes, &scope->n_attributes,
                            &scope->dropped_attributes_count)) {
        return true;
    }
    return false;
}

static bool walk_exemplars(otc_exemplar **ex, size_t n, otc_attr_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < n; i++) {
        if (walk_visit(fn, arg, OTC_ACTX_EXEMPLAR, &ex[i]->filtered_attributes,
                       &ex[i]->n_filtered_attributes, NULL)) {
            return true;
        }
    }
    return false;
}

static bool walk_metric(otc_metric *m, otc_attr_visit_fn fn, void *arg)
{
    otc_number_point **np = NULL;
    size_t n_np = 0;

    switch (m->data_case) {
    case METRIC(GAUGE):
        if (m->gauge) {
            np = m->gauge->data_points;
            n_np = m->gauge->n_data_points;
        }
        break;
    case METRIC(SUM):
        if (m->sum) {
            np = m->sum->data_points;
            n_np = m->sum->n_data_points;
        }
        break;
    case METRIC(HISTOGRAM):
        for (size_t i = 0; m->histogram && i < m->histogram->n_data_points; i++) {
            otc_histogram_point *p = m->histogram->data_points[i];
            if (walk_visit(fn, arg, OTC_ACTX_DATAPOINT, &p->attributes, &p->n_attributes, NULL) ||
                walk_exemplars(p->exemplars, p->n_exemplars, fn, arg)) {
                return true;
            }
        }
        return false;
    case METRIC(EXPONENTIAL_HISTOGRAM):
        for (size_t i = 0; m->exponential_histogram && i < m->exponential_histogram->n_data_points;
             i++) {
            otc_exp_histogram_point *p = m->exponential_histogram->data_points[i];
            if (walk_visit(fn, arg, OTC_ACTX_DATAPOINT, &p->attributes, &p->n_attributes, NULL) ||
                walk_exemplars(p->exemplars, p->n_exemplars, fn, arg)) {
                return true;
            }
        }
        return false;
    case METRIC(SUMMARY):
        for (size_t i = 0; m->summary && i < m->summary->n_data_points; i++) {
            otc_summary_point *p = m->summary->data_points[i];
            if (walk_visit(fn, arg, OTC_ACTX_DATAPOINT, &p->attributes, &p->n_attributes, NULL)) {
                return true;
            }
        }
        return false;
    default:
        return false;
    }
    for (size_t i = 0; i < n_np; i++) {
        if (walk_visit(fn, arg, OTC_ACTX_DATAPOINT, &np[i]->attributes, &np[i]->n_attributes,
                       NULL) ||
            walk_exemplars(np[i]->exemplars, np[i]->n_exemplars, fn, arg)) {
            return true;
        }
    }
    return false;
}

static bool walk_traces(otc_traces_req *r, otc_attr_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < r->n_resource_spans; i++) {
        otc_resource_spans *rs = r->resource_spans[i];
        if (walk_resource_scope(rs->resource, NULL, fn, arg)) {
            return true;
        }
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            otc_scope_spans *ss = rs->scope_spans[j];
            if (walk_resource_scope(NULL, ss->scope, fn, arg)) {
                return true;
            }
            for (size_t k = 0; k < ss->n_spans; k++) {
                otc_span *sp = ss->spans[k];
                if (walk_visit(fn, arg, OTC_ACTX_SPAN, &sp->attributes, &sp->n_attributes,
                               &sp->dropped_attributes_count)) {
                    return true;
                }
                for (size_t e = 0; e < sp->n_events; e++) {
                    otc_span_event *ev = sp->events[e];
                    if (walk_visit(fn, arg, OTC_ACTX_SPANEVENT, &ev->attributes,
                                   &ev->n_attributes, &ev->dropped_attributes_count)) {
                        return true;
                    }
                }
                for (size_t l = 0; l < sp->n_links; l++) {
                    otc_span_link *ln = sp->links[l];
                    if (walk_visit(fn, arg, OTC_ACTX_SPANLINK, &ln->attributes,
                                   &ln->n_attributes, &ln->dropped_attributes_count)) {
                        return true;
                    }
                }
            }
        }
    }
    return false;
}

static bool walk_metrics(otc_metrics_req *r, otc_attr_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < r->n_resource_metrics; i++) {
        otc_resource_metrics *rm = r->resource_metrics[i];
        if (walk_resource_scope(rm->resource, NULL, fn, arg)) {
            return true;
        }
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            otc_scope_metrics *sm = rm->scope_metrics[j];
            if (walk_resource_scope(NULL, sm->scope, fn, arg)) {
                return true;
            }
            for (size_t k = 0; k < sm->n_metrics; k++) {
                if (walk_metric(sm->metrics[k], fn, arg)) {
                    return true;
                }
            }
        }
    }
    return false;
}

static bool walk_logs(otc_logs_req *r, bool with_body, otc_attr_visit_fn fn, void *arg)
{
    for (size_t i = 0; i < r->n_resource_logs; i++) {
        otc_resource_logs *rl = r->resource_logs[i];
        if (walk_resource_scope(rl->resource, NULL, fn, arg)) {
            return true;
        }
        for (size_t j = 0; j < rl->n_scope_logs; j++) {
            otc_scope_logs *sl = rl->scope_logs[j];
            if (walk_resource_scope(NULL, sl->scope, fn, arg)) {
                return true;
            }
            for (size_t k = 0; k < sl->n_log_records; k++) {
                otc_log_record *lr = sl->log_records[k];
                if (walk_visit(fn, arg, OTC_ACTX_LOG, &lr->attributes, &lr->n_attributes,
                               &lr->dropped_attributes_count)) {
                    return true;
                }
                if (with_body && lr->body) {
                    struct otc_attr_set set = {.ctx = OTC_ACTX_LOG_BODY, .body = lr->body};
                    if (fn(arg, &set)) {
                        return true;
                    }
                }
            }
        }
    }
    return false;
}

bool otc_attr_walk(enum otc_signal s, ProtobufCMessage *req, bool with_body,
                   otc_attr_visit_fn fn, void *arg)
{
    if (!req) {
        return false;
    }
    switch (s) {
    case OTC_TRACES:
        return walk_traces((otc_traces_req *)req, fn, arg);
    case OTC_METRICS:
        return walk_metrics((otc_metrics_req *)req, fn, arg);
    case OTC_LOGS:
        return walk_logs((otc_logs_req *)req, with_body, fn, arg);
    default:
        return false;
    }
}

/* ---------------------------------------------------------------- values */

size_t otc_utf8_cut(const char *s, size_t len, size_t max)
{
    size_t cut = max;

    if (len <= max) {
        return len;
    }
    /* s[cut] is the first byte left out; if it continues a sequence, that
     * sequence started before the cut: back off to its lead byte (at most 3). */
    while (cut > 0 && cut + 3 > max && ((unsigned char)s[cut] & 0xC0) == 0x80) {
        cut--;
    }
    if (((unsigned char)s[cut] & 0xC0) == 0x80) {
        return max; /* not UTF-8 here: a plain byte cut */
    }
    return cut;
}

static bool value_over(const otc_any_value *v, size_t max, bool nested, unsigned depth)
{
    if (!v || depth > OTC_ATTR_MAX_DEPTH) {
        return false;
    }
    switch (v->value_case) {
    case ANY(STRING_VALUE):
        return v->string_value && strnlen(v->string_value, max + 1) > max;
    case ANY(ARRAY_VALUE):
        for (size_t i = 0; nested && v->array_value && i < v->array_value->n_values; i++) {
            if (value_over(v->array_value->values[i], max, nested, depth + 1)) {
                return true;
            }
        }
        return false;
    case ANY(KVLIST_VALUE):
        for (size_t i = 0; nested && v->kvlist_value && i < v->kvlist_value->n_values; i++) {
            if (value_over(v->kvlist_value->values[i]->value, max, nested, depth + 1)) {
                return true;
            }
        }
        return false;
    default:
        return false;
    }
}

/* Cut a string value (v->value_case is STRING_VALUE); 1 when it was cut. */
static inline size_t string_cut(otc_any_value *v, size_t max)
{
    /* a length of max + 1 is all otc_utf8_cut needs to know (it reads up to s[max]) */
    size_t len = v->string_value ? strnlen(v->string_value, max + 1) : 0;

    if (len > max) {
        v->string_value[otc_utf8_cut(v->string_value, len, max)] = '\0';
        return 1;
    }
    return 0;
}

static size_t value_cut(otc_any_value *v, size_t max, bool nested, unsigned depth)
{
    size_t cut = 0;

    if (!v || depth > OTC_ATTR_MAX_DEPTH) {
        return 0;
    }
    switch (v->value_case) {
    case ANY(STRING_VALUE):
        return string_cut(v, max);
    case ANY(ARRAY_VALUE):
        for (size_t i = 0; nested && v->array_value && i < v->array_value->n_values; i++) {
            cut += value_cut(v->array_value->values[i], max, nested, depth + 1);
        }
        return cut;
    case ANY(KVLIST_VALUE):
        for (size_t i = 0; nested && v->kvlist_value && i < v->kvlist_value->n_values; i++) {
            cut += value_cut(v->kvlist_value->values[i]->value, max, nested, depth + 1);
        }
        return cut;
    default:
        return 0;
    }
}

bool otc_value_over(const otc_any_value *v, size_t max, bool nested)
{
    return max != OTC_ATTR_NO_LIMIT && value_over(v, max, nested, 0);
}

size_t otc_value_cut(otc_any_value *v, size_t max, bool nested)
{
    return max != OTC_ATTR_NO_LIMIT ? value_cut(v, max, nested, 0) : 0;
}

/* ------------------------------------------------------- attribute sets */

bool otc_attrs_over(otc_key_value *const *kvs, size_t n, size_t max_len, size_t max_attrs,
                    bool nested)
{
    if (n > max_attrs) {
        return true;
    }
    if (max_len == OTC_ATTR_NO_LIMIT) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const otc_any_value *v = kvs[i]->value;
        /* strings, the common case, without the recursive call */
        if (v && v->value_case == ANY(STRING_VALUE)) {
            if (v->string_value && strnlen(v->string_value, max_len + 1) > max_len) {
                return true;
            }
        } else if (value_over(v, max_len, nested, 0)) {
            return true;
        }
    }
    return false;
}

void otc_attrs_apply(otc_key_value **kvs, size_t *n, uint32_t *dropped, size_t max_len,
                     size_t max_attrs, bool nested)
{
    if (*n > max_attrs) {
        if (dropped) {
            uint64_t d = (uint64_t)*dropped + (*n - max_attrs);
            *dropped = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        }
        *n = max_attrs;
    }
    if (max_len == OTC_ATTR_NO_LIMIT) {
        return;
    }
    for (size_t i = 0; i < *n; i++) {
        otc_any_value *v = kvs[i]->value;
        if (v && v->value_case == ANY(STRING_VALUE)) {
            string_cut(v, max_len);
        } else {
            value_cut(v, max_len, nested, 0);
        }
    }
}

static bool key_in(const char *key, char *const *keep, size_t n_keep)
{
    for (size_t i = 0; i < n_keep; i++) {
        if (!strcmp(key, keep[i])) {
            return true;
        }
    }
    return false;
}

/* OTTL counts each priority key present once (a map has unique keys). */
static size_t limit_present(otc_key_value *const *kvs, size_t n, char *const *keep,
                            size_t n_keep)
{
    size_t count = 0;

    for (size_t k = 0; k < n_keep; k++) {
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(kvs[i]->key, keep[k])) {
                count++;
                break;
            }
        }
    }
    return count;
}

bool otc_attrs_limit_over(otc_key_value *const *kvs, size_t n, size_t limit,
                          char *const *keep, size_t n_keep)
{
    size_t count;

    if (n <= limit) {
        return false;
    }
    count = limit_present(kvs, n, keep, n_keep);
    for (size_t i = 0; i < n; i++) {
        if (key_in(kvs[i]->key, keep, n_keep)) {
            continue;
        }
        if (count < limit) {
            count++;
            continue;
        }
        return true;
    }
    return false;
}

void otc_attrs_limit_apply(otc_key_value **kvs, size_t *n, size_t limit,
                           char *const *keep, size_t n_keep)
{
    size_t count, out = 0;

    if (*n <= limit) {
        return;
    }
    count = limit_present(kvs, *n, keep, n_keep);
    for (size_t i = 0; i < *n; i++) {
        if (!key_in(kvs[i]->key, keep, n_keep)) {
            if (count >= limit) {
                continue;
            }
            count++;
        }
        kvs[out++] = kvs[i];
    }
    *n = out;
}
