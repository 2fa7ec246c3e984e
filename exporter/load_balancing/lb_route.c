/* lb_route.c - the load_balancing exporter's routing keys: one walk over a
 * serialized request (the wire traversal layer, no decoding) gives every item
 * its ring position from the trace id, the service, the resource, the metric
 * name or a list of attributes. Runs on the exporter threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_internal.h"
#include "otc/otc_pb_walk.h"

#define KEY_MAX 4096 /* bytes of an attributes key; longer values are cut */

/* Span fields read for the pseudo attributes span.name and span.kind. */
enum { SPAN_NAME = 5, SPAN_KIND = 6 };

struct route {
    struct lb_ctx   *lb;
    enum otc_signal  s;
    uint32_t        *pos;
    size_t           n, cap;
    uint32_t         res_pos;  /* service / resource: the current resource's */
    struct otc_pb_head res, scope;
    char             key[KEY_MAX];
    size_t           key_len;
};

/* A random position, for log records without a trace id (otelcol gives them
 * a random one). splitmix64 over a shared counter. */
static uint32_t random_pos(struct lb_ctx *lb)
{
    uint64_t z = atomic_fetch_add_explicit(&lb->rng, 0x9e3779b97f4a7c15u, memory_order_relaxed);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (uint32_t)((z ^ (z >> 31)) % LB_RING_POSITIONS);
}

/* The AnyValue of the attribute named name (len) in the attributes (field
 * num) of the message at p; false when absent. */
static bool find_attr(const uint8_t *p, size_t len, uint32_t num, const char *name, size_t nlen,
                      struct otc_pb_any *out)
{
    struct otc_pb_iter it;
    const uint8_t *v;
    size_t vn;
    bool found = false;

    if (!p) {
        return false;
    }
    otc_pb_iter_init(&it, p, len, num);
    while (otc_pb_iter_next(&it, &v, &vn) > 0) {
        struct otc_pb_kv kv;
        if (otc_pb_kv_read(v, vn, &kv) && kv.key_len == nlen && !memcmp(kv.key, name, nlen)) {
            /* the last one counts, as in unpack */
            found = kv.value ? otc_pb_any_read(kv.value, kv.value_len, out) : (out->kind = 0, true);
        }
    }
    return found;
}

static void key_put(struct route *r, const void *p, size_t n)
{
    if (n > KEY_MAX - r->key_len) {
        n = KEY_MAX - r->key_len;
    }
    memcpy(r->key + r->key_len, p, n);
    r->key_len += n;
}

/* An AnyValue as text, as otelcol writes it into an attributes key: strings
 * as they are, ints in decimal, bools as true/false, doubles in the shortest
 * form that reads back; other kinds as their encoded bytes. */
static void key_value(struct route *r, const struct otc_pb_any *a)
{
    char buf[40];
    int n = 0;

    switch (a->kind) {
    case OTC_PB_ANY_STRING:
    case OTC_PB_ANY_BYTES:
    case OTC_PB_ANY_ARRAY:
    case OTC_PB_ANY_KVLIST:
        key_put(r, a->p, a->len);
        return;
    case OTC_PB_ANY_BOOL:
        n = snprintf(buf, sizeof(buf), "%s", a->v ? "true" : "false");
        break;
    case OTC_PB_ANY_INT:
        n = snprintf(buf, sizeof(buf), "%lld", (long long)(int64_t)a->v);
        break;
    case OTC_PB_ANY_DOUBLE: {
        double d;
        memcpy(&d, &a->v, sizeof(d));
        for (int prec = 1; prec <= 17; prec++) {
            n = snprintf(buf, sizeof(buf), "%.*g", prec, d);
            if (strtod(buf, NULL) == d) {
                break;
            }
        }
        break;
    }
    default:
        return;
    }
    key_put(r, buf, (size_t)n);
}

/* The routing attributes of an item at p (a Span or LogRecord) as
 * "name=value|" each, looked up in the resource, the scope, then the item. */
static uint32_t attributes_pos(struct route *r, const uint8_t *p, size_t len)
{
    const struct otc_strlist *names = &r->lb->routing_attributes;
    uint32_t item_attrs = r->s == OTC_TRACES ? OTC_PB_SPAN_ATTRIBUTES : OTC_PB_LOG_ATTRIBUTES;

    r->key_len = 0;
    for (size_t i = 0; i < names->n; i++) {
        const char *name = names->v[i];
        size_t nlen = strlen(name);
        struct otc_pb_any a = {0};
        bool found = find_attr(r->res.msg, r->res.msg_len, OTC_PB_RESOURCE_ATTRIBUTES, name, nlen, &a) ||
                     find_attr(r->scope.msg, r->scope.msg_len, OTC_PB_SCOPE_ATTRIBUTES, name, nlen, &a) ||
                     find_attr(p, len, item_attrs, name, nlen, &a);

        key_put(r, name, nlen);
        key_put(r, "=", 1);
        if (found) {
            key_value(r, &a);
        } else if (r->s == OTC_TRACES && (!strcmp(name, "span.name") || !strcmp(name, "span.kind"))) {
            /* pseudo attributes: the span's name, or its kind as Go names it */
            static const char *const kinds[] = {"Unspecified", "Internal", "Server", "Client",
                                                "Producer", "Consumer"};
            const uint8_t *q = p, *end = p + len;
            struct otc_pb_field f = {0};
            const uint8_t *sname = NULL;
            size_t sname_len = 0;
            uint64_t kind = 0;

            while (otc_pb_next_field(&q, end, &f) > 0) {
                if (f.num == SPAN_NAME && f.wt == 2) {
                    sname = f.p;
                    sname_len = f.len;
                } else if (f.num == SPAN_KIND && f.wt == 0) {
                    kind = f.v;
                }
            }
            if (name[5] == 'n') {
                key_put(r, sname, sname ? sname_len : 0);
            } else {
                const char *k = kind < 6 ? kinds[kind] : "Unspecified";
                key_put(r, k, strlen(k));
            }
        }
        key_put(r, "|", 1);
    }
    return lb_ring_position(r->key, r->key_len);
}

/* The trace id of a serialized Span or LogRecord (field num, the last one
 * given counts, as in unpack), skipping the other fields without reading
 * them: the routing reads nothing else. False when malformed. */
static bool read_trace_id(const uint8_t *p, size_t len, uint32_t num, const uint8_t **id,
                          size_t *id_len)
{
    const uint8_t *end = p + len;

    *id = NULL;
    *id_len = 0;
    while (p < end) {
        uint64_t key, n;

        if (*p < 0x80) {
            key = *p++;
        } else if (!(p = otc_pb_varint(p, end, &key))) {
            return false;
        }
        switch (key & 7) {
        case 0:
            while (p < end && (*p & 0x80)) {
                p++;
            }
            if (p++ >= end) {
                return false;
            }
            break;
        case 1:
            if (end - p < 8) {
                return false;
            }
            p += 8;
            break;
        case 5:
            if (end - p < 4) {
                return false;
            }
            p += 4;
            break;
        case 2:
            if (p < end && *p < 0x80) {
                n = *p++;
            } else if (!(p = otc_pb_varint(p, end, &n))) {
                return false;
            }
            if (n > (uint64_t)(end - p)) {
                return false;
            }
            if ((key >> 3) == num) {
                *id = p;
                *id_len = (size_t)n;
            }
            p += n;
            break;
        default:
            return false;
        }
    }
    return true;
}

static int push(struct route *r, uint32_t pos)
{
    if (r->n >= r->cap) {
        return OTC_ELIMIT;
    }
    r->pos[r->n++] = pos;
    return 0;
}

static int on_resource(void *arg, const struct otc_pb_head *h)
{
    struct route *r = arg;
    struct otc_pb_any a = {0};

    r->res = *h;
    memset(&r->scope, 0, sizeof(r->scope));
    if (r->lb->routing_key == LB_KEY_SERVICE) {
        /* no service.name: the empty name's position (otelcol refuses the request) */
        if (find_attr(h->msg, h->msg_len, OTC_PB_RESOURCE_ATTRIBUTES, "service.name", 12, &a) &&
            a.kind == OTC_PB_ANY_STRING) {
            r->res_pos = lb_ring_position(a.p, a.len);
        } else {
            r->res_pos = lb_ring_position("", 0);
        }
    } else if (r->lb->routing_key == LB_KEY_RESOURCE) {
        r->res_pos = lb_ring_position(h->msg ? h->msg : (const uint8_t *)"", h->msg ? h->msg_len : 0);
    }
    return 0;
}

static int on_scope(void *arg, const struct otc_pb_head *h)
{
    ((struct route *)arg)->scope = *h;
    return 0;
}

static int on_item(void *arg, const uint8_t *p, size_t len)
{
    struct route *r = arg;

    switch (r->lb->routing_key) {
    case LB_KEY_TRACE: {
        /* Span.trace_id is field 1, LogRecord.trace_id field 9 */
        const uint8_t *id;
        size_t n;

        if (!read_trace_id(p, len, r->s == OTC_TRACES ? 1 : 9, &id, &n)) {
            return OTC_EINVAL;
        }
        if (n == 0 && r->s == OTC_LOGS) {
            return push(r, random_pos(r->lb)); /* otelcol gives such records a random id */
        }
        return push(r, lb_ring_position(id ? id : (const uint8_t *)"", n));
    }
    case LB_KEY_ATTRIBUTES:
        return push(r, attributes_pos(r, p, len));
    default:
        return push(r, r->res_pos);
    }
}

static int on_point(void *arg, const struct otc_pb_metric *m, const uint8_t *p, size_t len)
{
    struct route *r = arg;

    (void)p;
    (void)len;
    if (r->lb->routing_key == LB_KEY_METRIC) {
        return push(r, lb_ring_position(m->name ? m->name : (const uint8_t *)"",
                                        m->name ? m->name_len : 0));
    }
    return push(r, r->res_pos);
}

int lb_route(struct lb_ctx *lb, enum otc_signal s, const uint8_t *data, size_t len,
             uint32_t *pos, size_t n, size_t *n_out)
{
    struct route rt, *r = &rt;
    int key = lb->routing_key;
    struct otc_pb_visitor v = {
        .resource = on_resource,
        .scope = on_scope,
        .heads = key != LB_KEY_TRACE && key != LB_KEY_METRIC,
    };
    int rc;

    memset(r, 0, offsetof(struct route, key));
    r->lb = lb;
    r->s = s;
    r->pos = pos;
    r->cap = n;
    v.arg = r;
    if (s == OTC_METRICS) {
        v.point = on_point;
    } else {
        v.item = on_item;
    }
    rc = otc_pb_walk(data, len, &v, NULL);
    *n_out = r->n;
    return rc == OTC_OK ? OTC_OK : rc == OTC_ELIMIT ? OTC_ELIMIT : OTC_EINVAL;
}
