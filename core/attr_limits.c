/* attr_limits.c - attribute limits shared by the truncate and transform
 * processors: UTF-8 safe cuts written in place (the batch's arena owns every
 * string), attribute-count limits, and the walk over every attribute set of a
 * request. Runs on the pipeline worker thread of whichever processor calls it. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "otc/otc_attr_limits.h"
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"

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

/* The walk is the traversal layer's (otc_msg_walk); these callbacks hand each
 * attribute set of what it visits to the caller's function. */
struct attr_walk {
    otc_attr_visit_fn fn;
    void             *arg;
    bool              with_body;
};

static int walk_visit(const struct attr_walk *w, enum otc_attr_ctx c, otc_key_value ***kvs,
                      size_t *n, uint32_t *dropped)
{
    struct otc_attr_set set = {.ctx = c, .kvs = kvs, .n = n, .dropped = dropped, .body = NULL};

    return w->fn(w->arg, &set);
}

static int walk_resource(void *arg, const struct otc_msg_head *h)
{
    otc_resource *res = (otc_resource *)h->msg; /* the request is the caller's to write */

    return res && walk_visit(arg, OTC_ACTX_RESOURCE, &res->attributes, &res->n_attributes,
                             &res->dropped_attributes_count);
}

static int walk_scope(void *arg, const struct otc_msg_head *h)
{
    otc_scope *scope = (otc_scope *)h->msg;

    return scope && walk_visit(arg, OTC_ACTX_SCOPE, &scope->attributes, &scope->n_attributes,
                               &scope->dropped_attributes_count);
}

static int walk_span(void *arg, ProtobufCMessage *item)
{
    otc_span *sp = (otc_span *)item;

    if (walk_visit(arg, OTC_ACTX_SPAN, &sp->attributes, &sp->n_attributes,
                   &sp->dropped_attributes_count)) {
        return 1;
    }
    for (size_t e = 0; e < sp->n_events; e++) {
        otc_span_event *ev = sp->events[e];
        if (walk_visit(arg, OTC_ACTX_SPANEVENT, &ev->attributes, &ev->n_attributes,
                       &ev->dropped_attributes_count)) {
            return 1;
        }
    }
    for (size_t l = 0; l < sp->n_links; l++) {
        otc_span_link *ln = sp->links[l];
        if (walk_visit(arg, OTC_ACTX_SPANLINK, &ln->attributes, &ln->n_attributes,
                       &ln->dropped_attributes_count)) {
            return 1;
        }
    }
    return 0;
}

static int walk_log(void *arg, ProtobufCMessage *item)
{
    const struct attr_walk *w = arg;
    otc_log_record *lr = (otc_log_record *)item;

    if (walk_visit(w, OTC_ACTX_LOG, &lr->attributes, &lr->n_attributes,
                   &lr->dropped_attributes_count)) {
        return 1;
    }
    if (w->with_body && lr->body) {
        struct otc_attr_set set = {.ctx = OTC_ACTX_LOG_BODY, .body = lr->body};
        return w->fn(w->arg, &set);
    }
    return 0;
}

static int walk_exemplars(const struct attr_walk *w, otc_exemplar **ex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (walk_visit(w, OTC_ACTX_EXEMPLAR, &ex[i]->filtered_attributes,
                       &ex[i]->n_filtered_attributes, NULL)) {
            return 1;
        }
    }
    return 0;
}

/* One data point of m, whatever its type: its attributes, then its exemplars'. */
static int walk_point(void *arg, const otc_metric *m, ProtobufCMessage *point)
{
    switch (m->data_case) {
    case METRIC(GAUGE):
    case METRIC(SUM): {
        otc_number_point *p = (otc_number_point *)point;
        return walk_visit(arg, OTC_ACTX_DATAPOINT, &p->attributes, &p->n_attributes, NULL) ||
               walk_exemplars(arg, p->exemplars, p->n_exemplars);
    }
    case METRIC(HISTOGRAM): {
        otc_histogram_point *p = (otc_histogram_point *)point;
        return walk_visit(arg, OTC_ACTX_DATAPOINT, &p->attributes, &p->n_attributes, NULL) ||
               walk_exemplars(arg, p->exemplars, p->n_exemplars);
    }
    case METRIC(EXPONENTIAL_HISTOGRAM): {
        otc_exp_histogram_point *p = (otc_exp_histogram_point *)point;
        return walk_visit(arg, OTC_ACTX_DATAPOINT, &p->attributes, &p->n_attributes, NULL) ||
               walk_exemplars(arg, p->exemplars, p->n_exemplars);
    }
    case METRIC(SUMMARY): {
        otc_summary_point *p = (otc_summary_point *)point;
        return walk_visit(arg, OTC_ACTX_DATAPOINT, &p->attributes, &p->n_attributes, NULL);
    }
    default:
        return 0;
    }
}

bool otc_attr_walk(enum otc_signal s, ProtobufCMessage *req, bool with_body,
                   otc_attr_visit_fn fn, void *arg)
{
    struct attr_walk w = {fn, arg, with_body};
    struct otc_msg_visitor v = {.resource = walk_resource, .scope = walk_scope, .arg = &w};

    if (!req || (unsigned)s >= OTC_SIGNAL_COUNT) {
        return false;
    }
    if (s == OTC_TRACES) {
        v.item = walk_span;
    } else if (s == OTC_LOGS) {
        v.item = walk_log;
    } else {
        v.point = walk_point;
    }
    return otc_msg_walk(s, req, &v, NULL) != OTC_OK;
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
