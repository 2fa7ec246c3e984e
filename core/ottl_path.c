/* ottl_path.c - OTTL paths on decoded OTLP: reading and writing the fields
 * and attributes of a resource, scope, span, span event, metric, data point or
 * log record. Pipeline worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ottl_internal.h"

/* ------------------------------------------------------------ paths */

static bool ctx_attrs(const struct otc_ottl_env *e, enum otc_ottl_ctx c, otc_key_value ****kvs,
                      size_t **n)
{
    switch (c) {
    case OTC_OTTL_RESOURCE:
        if (!e->resource) {
            return false;
        }
        *kvs = &e->resource->attributes;
        *n = &e->resource->n_attributes;
        return true;
    case OTC_OTTL_SCOPE:
        if (!e->scope) {
            return false;
        }
        *kvs = &e->scope->attributes;
        *n = &e->scope->n_attributes;
        return true;
    case OTC_OTTL_SPAN:
        *kvs = &e->span->attributes;
        *n = &e->span->n_attributes;
        return true;
    case OTC_OTTL_SPANEVENT:
        *kvs = &e->event->attributes;
        *n = &e->event->n_attributes;
        return true;
    case OTC_OTTL_DATAPOINT: {
        struct ottl_point_head *p = (struct ottl_point_head *)e->point;
        *kvs = &p->attributes;
        *n = &p->n_attributes;
        return true;
    }
    case OTC_OTTL_LOG:
        *kvs = &e->log->attributes;
        *n = &e->log->n_attributes;
        return true;
    default:
        return false;
    }
}

/* Apply the selectors from index k on to v. */
static void select_keys(const struct ottl_node *p, size_t k, struct ottl_val *v)
{
    for (; k < p->n_keys; k++) {
        const struct ottl_node *key = p->keys[k];
        const otc_any_value *a = NULL;

        if (key->v.t == V_STR && v->t == V_MAP) {
            const otc_key_value *kv = ottl_map_find(v->kvs, v->n, key->v.s, NULL);
            a = kv ? kv->value : NULL;
        } else if (key->v.t == V_INT && v->t == V_ARR && key->v.i >= 0 && (size_t)key->v.i < v->n) {
            a = v->vals[key->v.i];
        }
        ottl_val_from_any(a, v);
        if (!a) {
            return; /* nil */
        }
    }
}

static void set_u64(struct ottl_val *v, uint64_t x)
{
    v->t = V_INT;
    v->i = (int64_t)x;
}

static void set_str(struct ottl_val *v, const char *s)
{
    v->t = V_STR;
    v->s = s ? s : "";
    v->len = strlen(v->s);
}

static void set_bytes(struct ottl_val *v, const ProtobufCBinaryData *b)
{
    v->t = V_BYTES;
    v->s = (const char *)b->data;
    v->len = b->len;
}

static int id_string(struct ottl_run *r, const ProtobufCBinaryData *b, struct ottl_val *v)
{
    char *s = otc_arena_alloc(r->env->arena, 2 * b->len + 1);

    if (!s) {
        return OTC_ENOMEM;
    }
    ottl_hex(s, b->data, b->len);
    set_str(v, s);
    return OTC_OK;
}

static int metric_type(const otc_metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: return 1;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: return 2;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: return 3;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM: return 4;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: return 5;
    default: return 0;
    }
}

static int64_t metric_temporality(const otc_metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        return m->sum ? m->sum->aggregation_temporality : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        return m->histogram ? m->histogram->aggregation_temporality : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return m->exponential_histogram ? m->exponential_histogram->aggregation_temporality : 0;
    default:
        return 0;
    }
}

#define PT_IS(p, t) ((p)->descriptor == &opentelemetry__proto__metrics__v1__##t##__descriptor)

static int point_get(const struct otc_ottl_env *e, enum ottl_field f, struct ottl_val *v)
{
    const ProtobufCMessage *p = e->point;

    if (PT_IS(p, number_data_point)) {
        const ottl_number_point *np = (const void *)p;
        switch (f) {
        case F_START_TIME: set_u64(v, np->start_time_unix_nano); return OTC_OK;
        case F_TIME: set_u64(v, np->time_unix_nano); return OTC_OK;
        case F_FLAGS: set_u64(v, np->flags); return OTC_OK;
        case F_VALUE_DOUBLE:
            v->t = V_DBL;
            v->d = np->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE
                       ? np->as_double : 0;
            return OTC_OK;
        case F_VALUE_INT:
            v->t = V_INT;
            v->i = np->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT
                       ? np->as_int : 0;
            return OTC_OK;
        default: return OTC_OK; /* nil */
        }
    }
    if (PT_IS(p, histogram_data_point)) {
        const Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *h = (const void *)p;
        switch (f) {
        case F_START_TIME: set_u64(v, h->start_time_unix_nano); return OTC_OK;
        case F_TIME: set_u64(v, h->time_unix_nano); return OTC_OK;
        case F_FLAGS: set_u64(v, h->flags); return OTC_OK;
        case F_COUNT: set_u64(v, h->count); return OTC_OK;
        case F_SUM: v->t = V_DBL; v->d = h->sum; return OTC_OK;
        default: return OTC_OK;
        }
    }
    if (PT_IS(p, exponential_histogram_data_point)) {
        const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *h = (const void *)p;
        switch (f) {
        case F_START_TIME: set_u64(v, h->start_time_unix_nano); return OTC_OK;
        case F_TIME: set_u64(v, h->time_unix_nano); return OTC_OK;
        case F_FLAGS: set_u64(v, h->flags); return OTC_OK;
        case F_COUNT: set_u64(v, h->count); return OTC_OK;
        case F_SUM: v->t = V_DBL; v->d = h->sum; return OTC_OK;
        default: return OTC_OK;
        }
    }
    if (PT_IS(p, summary_data_point)) {
        const Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *s = (const void *)p;
        switch (f) {
        case F_START_TIME: set_u64(v, s->start_time_unix_nano); return OTC_OK;
        case F_TIME: set_u64(v, s->time_unix_nano); return OTC_OK;
        case F_FLAGS: set_u64(v, s->flags); return OTC_OK;
        case F_COUNT: set_u64(v, s->count); return OTC_OK;
        case F_SUM: v->t = V_DBL; v->d = s->sum; return OTC_OK;
        default: return OTC_OK;
        }
    }
    return OTC_OK;
}

int ottl_path_get(struct ottl_run *r, const struct ottl_node *p, struct ottl_val *v)
{
    const struct otc_ottl_env *e = r->env;
    const otc_span *sp = e->span;
    const otc_log_record *lr = e->log;

    memset(v, 0, sizeof(*v));
    if (p->field == F_ATTRIBUTES) {
        otc_key_value ***kvs;
        size_t *n;
        v->t = V_MAP;
        if (ctx_attrs(e, p->ctx, &kvs, &n)) {
            v->kvs = *kvs;
            v->n = *n;
        }
        select_keys(p, 0, v);
        return OTC_OK;
    }
    switch (p->ctx) {
    case OTC_OTTL_RESOURCE:
        set_u64(v, e->resource ? e->resource->dropped_attributes_count : 0);
        return OTC_OK;
    case OTC_OTTL_SCOPE:
        switch (p->field) {
        case F_NAME: set_str(v, e->scope ? e->scope->name : ""); break;
        case F_VERSION: set_str(v, e->scope ? e->scope->version : ""); break;
        default: set_u64(v, e->scope ? e->scope->dropped_attributes_count : 0); break;
        }
        return OTC_OK;
    case OTC_OTTL_SPAN:
        switch (p->field) {
        case F_NAME: set_str(v, sp->name); break;
        case F_KIND: set_u64(v, (uint64_t)sp->kind); break;
        case F_STATUS_CODE: set_u64(v, sp->status ? (uint64_t)sp->status->code : 0); break;
        case F_STATUS_MSG: set_str(v, sp->status ? sp->status->message : ""); break;
        case F_TRACE_ID: set_bytes(v, &sp->trace_id); break;
        case F_SPAN_ID: set_bytes(v, &sp->span_id); break;
        case F_PARENT_SPAN_ID: set_bytes(v, &sp->parent_span_id); break;
        case F_TRACE_ID_STR: return id_string(r, &sp->trace_id, v);
        case F_SPAN_ID_STR: return id_string(r, &sp->span_id, v);
        case F_PARENT_SPAN_ID_STR: return id_string(r, &sp->parent_span_id, v);
        case F_TRACE_STATE: set_str(v, sp->trace_state); break;
        case F_START_TIME: set_u64(v, sp->start_time_unix_nano); break;
        case F_END_TIME: set_u64(v, sp->end_time_unix_nano); break;
        case F_FLAGS: set_u64(v, sp->flags); break;
        case F_DROPPED_ATTRS: set_u64(v, sp->dropped_attributes_count); break;
        case F_DROPPED_EVENTS: set_u64(v, sp->dropped_events_count); break;
        case F_DROPPED_LINKS: set_u64(v, sp->dropped_links_count); break;
        default: break;
        }
        return OTC_OK;
    case OTC_OTTL_SPANEVENT:
        switch (p->field) {
        case F_NAME: set_str(v, e->event->name); break;
        case F_TIME: set_u64(v, e->event->time_unix_nano); break;
        default: set_u64(v, e->event->dropped_attributes_count); break;
        }
        return OTC_OK;
    case OTC_OTTL_METRIC:
        switch (p->field) {
        case F_NAME: set_str(v, e->metric->name); break;
        case F_DESCRIPTION: set_str(v, e->metric->description); break;
        case F_UNIT: set_str(v, e->metric->unit); break;
        case F_METRIC_TYPE: set_u64(v, (uint64_t)metric_type(e->metric)); break;
        case F_AGG_TEMPORALITY: v->t = V_INT; v->i = metric_temporality(e->metric); break;
        case F_IS_MONOTONIC:
            v->t = V_BOOL;
            v->b = e->metric->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM &&
                   e->metric->sum && e->metric->sum->is_monotonic;
            break;
        default: break;
        }
        return OTC_OK;
    case OTC_OTTL_DATAPOINT:
        return point_get(e, p->field, v);
    case OTC_OTTL_LOG:
        switch (p->field) {
        case F_BODY: ottl_val_from_any(lr->body, v); select_keys(p, 0, v); break;
        case F_SEVERITY_NUMBER: set_u64(v, (uint64_t)lr->severity_number); break;
        case F_SEVERITY_TEXT: set_str(v, lr->severity_text); break;
        case F_TIME: set_u64(v, lr->time_unix_nano); break;
        case F_OBSERVED_TIME: set_u64(v, lr->observed_time_unix_nano); break;
        case F_TRACE_ID: set_bytes(v, &lr->trace_id); break;
        case F_SPAN_ID: set_bytes(v, &lr->span_id); break;
        case F_TRACE_ID_STR: return id_string(r, &lr->trace_id, v);
        case F_SPAN_ID_STR: return id_string(r, &lr->span_id, v);
        case F_FLAGS: set_u64(v, lr->flags); break;
        case F_DROPPED_ATTRS: set_u64(v, lr->dropped_attributes_count); break;
        case F_EVENT_NAME: set_str(v, lr->event_name); break;
        default: break;
        }
        return OTC_OK;
    default:
        return OTC_OK;
    }
}

/* The kvlist inside an AnyValue, made one (an empty map) when it is not. */
static bool any_as_map(struct otc_arena *a, otc_any_value *v, struct ottl_mapref *m, bool make)
{
    if (v->value_case != ANY(KVLIST_VALUE) || !v->kvlist_value) {
        otc_kvlist *l;
        if (!make || !(l = otc_arena_alloc(a, sizeof(*l)))) {
            return false;
        }
        opentelemetry__proto__common__v1__key_value_list__init(l);
        v->value_case = ANY(KVLIST_VALUE);
        v->kvlist_value = l;
    }
    m->kvs = &v->kvlist_value->values;
    m->n = &v->kvlist_value->n_values;
    return true;
}

/* The map a path names with all but its last 'skip' selectors applied. */
static int path_mapref(struct ottl_run *r, const struct ottl_node *p, size_t upto,
                       struct ottl_mapref *m, bool make)
{
    struct otc_arena *a = r->env->arena;

    if (p->field == F_ATTRIBUTES) {
        if (!ctx_attrs(r->env, p->ctx, &m->kvs, &m->n)) {
            return ottl_fail(r, "the %s is absent", otc_ottl_ctx_name(p->ctx));
        }
    } else if (p->field == F_BODY) {
        if (!r->env->log->body) {
            otc_any_value *b;
            if (!make || !(b = otc_arena_alloc(a, sizeof(*b)))) {
                return make ? OTC_ENOMEM : ottl_fail(r, "body is not a map");
            }
            opentelemetry__proto__common__v1__any_value__init(b);
            r->env->log->body = b;
        }
        if (!any_as_map(a, r->env->log->body, m, make && p->n_keys > 0)) {
            return ottl_fail(r, "body is not a map");
        }
    } else {
        return ottl_fail(r, "the path is not a map");
    }
    for (size_t k = 0; k < upto; k++) {
        const struct ottl_node *key = p->keys[k];
        otc_key_value *kv;
        otc_any_value *v;
        if (key->v.t != V_STR) {
            return ottl_fail(r, "only map keys can be written through");
        }
        if (!(kv = ottl_map_find(*m->kvs, *m->n, key->v.s, NULL))) {
            if (!make || !(v = otc_arena_alloc(a, sizeof(*v)))) {
                return make ? OTC_ENOMEM : ottl_fail(r, "no map at key \"%s\"", key->v.s);
            }
            opentelemetry__proto__common__v1__any_value__init(v);
            if (ottl_map_put(a, m, key->v.s, v) != OTC_OK) {
                return OTC_ENOMEM;
            }
        } else {
            v = kv->value;
            if (!v) {
                if (!(v = kv->value = otc_arena_alloc(a, sizeof(*v)))) {
                    return OTC_ENOMEM;
                }
                opentelemetry__proto__common__v1__any_value__init(v);
            }
        }
        if (!any_as_map(a, v, m, make)) {
            return ottl_fail(r, "the value at key \"%s\" is not a map", key->v.s);
        }
    }
    return OTC_OK;
}

int ottl_path_map(struct ottl_run *r, const struct ottl_node *p, struct ottl_mapref *m)
{
    struct ottl_val v;
    int rc;

    if ((rc = ottl_path_get(r, p, &v)) != OTC_OK) {
        return rc;
    }
    if (v.t != V_MAP) {
        return ottl_fail(r, "expected a map, got %s", v.t == V_NIL ? "nil" : "another type");
    }
    return path_mapref(r, p, p->n_keys, m, false);
}

static int set_string_field(struct ottl_run *r, char **field, const struct ottl_val *v)
{
    char *s;

    if (v->t != V_STR) {
        return OTC_OK; /* otelcol's setters ignore values of another type */
    }
    if (!(s = ottl_arena_strndup(r->env->arena, v->s, v->len))) {
        return OTC_ENOMEM;
    }
    *field = s;
    return OTC_OK;
}

static int set_id(struct ottl_run *r, ProtobufCBinaryData *b, const struct ottl_val *v, size_t len,
                  bool text)
{
    uint8_t *d;

    if (text) {
        if (v->t != V_STR || v->len != 2 * len) {
            return OTC_OK;
        }
        if (!(d = otc_arena_alloc(r->env->arena, len))) {
            return OTC_ENOMEM;
        }
        for (size_t i = 0; i < len; i++) {
            unsigned x;
            if (sscanf(v->s + 2 * i, "%2x", &x) != 1) {
                return ottl_fail(r, "invalid hex id \"%s\"", v->s);
            }
            d[i] = (uint8_t)x;
        }
    } else {
        if (v->t != V_BYTES || v->len != len || !(d = otc_arena_memdup(r->env->arena, v->s, len))) {
            return v->t == V_BYTES && v->len == len ? OTC_ENOMEM : OTC_OK;
        }
    }
    b->data = d;
    b->len = len;
    return OTC_OK;
}

#define SET_INT(dst, type) do { if (v->t == V_INT) { (dst) = (type)v->i; } } while (0)

int ottl_path_set(struct ottl_run *r, const struct ottl_node *p, const struct ottl_val *v)
{
    struct otc_ottl_env *e = r->env;
    struct otc_arena *a = e->arena;
    otc_span *sp = e->span;
    otc_log_record *lr = e->log;

    if (p->field == F_ATTRIBUTES || (p->field == F_BODY && p->n_keys)) {
        struct ottl_mapref m;
        otc_any_value *nv;
        int rc;
        if (p->n_keys == 0) { /* the whole map */
            if (v->t != V_MAP) {
                return OTC_OK;
            }
            if ((rc = path_mapref(r, p, 0, &m, true)) != OTC_OK ||
                !(nv = ottl_any_from(a, v))) {
                return rc != OTC_OK ? rc : OTC_ENOMEM;
            }
            *m.kvs = nv->kvlist_value->values;
            *m.n = nv->kvlist_value->n_values;
            return OTC_OK;
        }
        if (p->keys[p->n_keys - 1]->v.t != V_STR) {
            return ottl_fail(r, "writing to an array element is not supported");
        }
        if ((rc = path_mapref(r, p, p->n_keys - 1, &m, true)) != OTC_OK) {
            return rc;
        }
        if (!(nv = ottl_any_from(a, v))) {
            return OTC_ENOMEM;
        }
        return ottl_map_put(a, &m, p->keys[p->n_keys - 1]->v.s, nv);
    }
    switch (p->ctx) {
    case OTC_OTTL_RESOURCE:
        SET_INT(e->resource->dropped_attributes_count, uint32_t);
        return OTC_OK;
    case OTC_OTTL_SCOPE:
        switch (p->field) {
        case F_NAME: return set_string_field(r, &e->scope->name, v);
        case F_VERSION: return set_string_field(r, &e->scope->version, v);
        default: SET_INT(e->scope->dropped_attributes_count, uint32_t); return OTC_OK;
        }
    case OTC_OTTL_SPAN:
        if ((p->field == F_STATUS_CODE || p->field == F_STATUS_MSG) && !sp->status) {
            Opentelemetry__Proto__Trace__V1__Status *st = otc_arena_alloc(a, sizeof(*st));
            if (!st) {
                return OTC_ENOMEM;
            }
            opentelemetry__proto__trace__v1__status__init(st);
            sp->status = st;
        }
        switch (p->field) {
        case F_NAME: return set_string_field(r, &sp->name, v);
        case F_KIND: SET_INT(sp->kind, Opentelemetry__Proto__Trace__V1__Span__SpanKind); break;
        case F_STATUS_CODE:
            SET_INT(sp->status->code, Opentelemetry__Proto__Trace__V1__Status__StatusCode);
            break;
        case F_STATUS_MSG: return set_string_field(r, &sp->status->message, v);
        case F_TRACE_ID: return set_id(r, &sp->trace_id, v, 16, false);
        case F_SPAN_ID: return set_id(r, &sp->span_id, v, 8, false);
        case F_PARENT_SPAN_ID: return set_id(r, &sp->parent_span_id, v, 8, false);
        case F_TRACE_ID_STR: return set_id(r, &sp->trace_id, v, 16, true);
        case F_SPAN_ID_STR: return set_id(r, &sp->span_id, v, 8, true);
        case F_PARENT_SPAN_ID_STR: return set_id(r, &sp->parent_span_id, v, 8, true);
        case F_TRACE_STATE: return set_string_field(r, &sp->trace_state, v);
        case F_START_TIME: SET_INT(sp->start_time_unix_nano, uint64_t); break;
        case F_END_TIME: SET_INT(sp->end_time_unix_nano, uint64_t); break;
        case F_FLAGS: SET_INT(sp->flags, uint32_t); break;
        case F_DROPPED_ATTRS: SET_INT(sp->dropped_attributes_count, uint32_t); break;
        case F_DROPPED_EVENTS: SET_INT(sp->dropped_events_count, uint32_t); break;
        case F_DROPPED_LINKS: SET_INT(sp->dropped_links_count, uint32_t); break;
        default: break;
        }
        return OTC_OK;
    case OTC_OTTL_SPANEVENT:
        switch (p->field) {
        case F_NAME: return set_string_field(r, &e->event->name, v);
        case F_TIME: SET_INT(e->event->time_unix_nano, uint64_t); break;
        default: SET_INT(e->event->dropped_attributes_count, uint32_t); break;
        }
        return OTC_OK;
    case OTC_OTTL_METRIC:
        switch (p->field) {
        case F_NAME: return set_string_field(r, &e->metric->name, v);
        case F_DESCRIPTION: return set_string_field(r, &e->metric->description, v);
        case F_UNIT: return set_string_field(r, &e->metric->unit, v);
        default: return ottl_fail(r, "this metric field cannot be set by otelc");
        }
    case OTC_OTTL_DATAPOINT:
        if (PT_IS(e->point, number_data_point)) {
            ottl_number_point *np = (void *)e->point;
            switch (p->field) {
            case F_VALUE_DOUBLE:
                if (v->t == V_DBL) {
                    np->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
                    np->as_double = v->d;
                }
                return OTC_OK;
            case F_VALUE_INT:
                if (v->t == V_INT) {
                    np->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
                    np->as_int = v->i;
                }
                return OTC_OK;
            case F_START_TIME: SET_INT(np->start_time_unix_nano, uint64_t); return OTC_OK;
            case F_TIME: SET_INT(np->time_unix_nano, uint64_t); return OTC_OK;
            case F_FLAGS: SET_INT(np->flags, uint32_t); return OTC_OK;
            default: break;
            }
        }
        return ottl_fail(r, "this data point field cannot be set by otelc");
    case OTC_OTTL_LOG:
        switch (p->field) {
        case F_BODY: {
            otc_any_value *nv = ottl_any_from(a, v);
            if (!nv) {
                return OTC_ENOMEM;
            }
            lr->body = nv;
            return OTC_OK;
        }
        case F_SEVERITY_NUMBER: SET_INT(lr->severity_number, Opentelemetry__Proto__Logs__V1__SeverityNumber); break;
        case F_SEVERITY_TEXT: return set_string_field(r, &lr->severity_text, v);
        case F_TIME: SET_INT(lr->time_unix_nano, uint64_t); break;
        case F_OBSERVED_TIME: SET_INT(lr->observed_time_unix_nano, uint64_t); break;
        case F_TRACE_ID: return set_id(r, &lr->trace_id, v, 16, false);
        case F_SPAN_ID: return set_id(r, &lr->span_id, v, 8, false);
        case F_TRACE_ID_STR: return set_id(r, &lr->trace_id, v, 16, true);
        case F_SPAN_ID_STR: return set_id(r, &lr->span_id, v, 8, true);
        case F_FLAGS: SET_INT(lr->flags, uint32_t); break;
        case F_DROPPED_ATTRS: SET_INT(lr->dropped_attributes_count, uint32_t); break;
        case F_EVENT_NAME: return set_string_field(r, &lr->event_name, v);
        default: break;
        }
        return OTC_OK;
    default:
        return OTC_OK;
    }
}
