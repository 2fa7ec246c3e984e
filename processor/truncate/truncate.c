/* truncate.c - the `truncate` processor: cuts string attribute values (also
 * inside arrays and kvlists, and optionally string log bodies) to
 * max_value_length bytes without splitting a UTF-8 sequence, and keeps the
 * first max_attributes attributes of each set, counting the others in
 * dropped_attributes_count. A read-only scan comes first, so a batch within the
 * limits keeps its received bytes; requests not yet decoded are scanned in
 * their serialized form (the traversal layer, otc_pb_walk.h). Runs on the pipeline worker threads, several at once. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_attr_limits.h"
#include "otc/otc_pb_walk.h"
#include "truncate.h"

struct truncate_ctx {
    int64_t max_value_length; /* bytes; 0 = no limit */
    int64_t max_attributes;   /* per attribute set; 0 = no limit */
    bool    log_body;
    size_t  max_len;          /* the two limits as the helpers take them */
    size_t  max_attrs;
};

#define OFF(f) offsetof(struct truncate_ctx, f)

static const struct otc_config_entry truncate_config[] = {
    {OTC_CFG_INT, "max_value_length", "4096", OFF(max_value_length), OTC_CFG_F_MIN, 0, 0, NULL,
     "longest string attribute value in bytes, also inside arrays and kvlists; cut at a UTF-8 "
     "character boundary (0 = no limit)"},
    {OTC_CFG_INT, "max_attributes", "0", OFF(max_attributes), OTC_CFG_F_MIN, 0, 0, NULL,
     "attributes kept per attribute set (the first ones); the others are dropped and counted in "
     "dropped_attributes_count (0 = no limit)"},
    {OTC_CFG_BOOL, "log_body", "false", OFF(log_body), 0, 0, 0, NULL,
     "also cut string log bodies (and strings nested in array or kvlist bodies)"},
    OTC_CFG_END,
};

static int truncate_init(struct otc_instance *ins, void *vctx)
{
    struct truncate_ctx *t = vctx;

    t->max_len = t->max_value_length > 0 ? (size_t)t->max_value_length : OTC_ATTR_NO_LIMIT;
    t->max_attrs = t->max_attributes > 0 ? (size_t)t->max_attributes : OTC_ATTR_NO_LIMIT;
    return OTC_OK;
}

/* Read-only: stops the walk at the first set over a limit. */
static bool truncate_over(void *arg, const struct otc_attr_set *set)
{
    const struct truncate_ctx *t = arg;

    if (set->ctx == OTC_ACTX_LOG_BODY) {
        return otc_value_over(set->body, t->max_len, true);
    }
    return otc_attrs_over(*set->kvs, *set->n, t->max_len, t->max_attrs, true);
}

static bool truncate_apply(void *arg, const struct otc_attr_set *set)
{
    const struct truncate_ctx *t = arg;

    if (set->ctx == OTC_ACTX_LOG_BODY) {
        otc_value_cut(set->body, t->max_len, true);
    } else {
        otc_attrs_apply(*set->kvs, set->n, set->dropped, t->max_len, t->max_attrs, true);
    }
    return false;
}

/* ------------------------------------------------ undecoded requests */

/* The same question asked of the serialized bytes of a request of any signal,
 * so that a request within the limits is never decoded. Conservative: anything that
 * might be over (a long string field, a malformed or very deep value) answers
 * true, and the decoded check above has the last word. */
struct wire_limits {
    size_t max_len, max_attrs;
    bool   log_body;
};

#define WIRE_OVER 1

static bool wire_value_over(const uint8_t *p, size_t len, size_t max, unsigned depth);

/* The value (AnyValue, field 2) of a KeyValue. */
static bool wire_kv_over(const uint8_t *p, size_t len, size_t max, unsigned depth)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    int r;

    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == 2 && f.wt == 2 && wire_value_over(f.p, f.len, max, depth)) {
            return true;
        }
    }
    return r < 0;
}

/* An AnyValue: its string (field 1), or the strings in its array (field 5,
 * ArrayValue.values = 1) or kvlist (field 6, KeyValueList.values = 1). */
static bool wire_value_over(const uint8_t *p, size_t len, size_t max, unsigned depth)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    int r;

    if (depth > OTC_ATTR_MAX_DEPTH) {
        return true;
    }
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        const uint8_t *q, *qend;
        struct otc_pb_field g;
        int qr;

        if (f.wt != 2) {
            continue;
        }
        if (f.num == 1) {
            if (f.len > max) {
                return true;
            }
            continue;
        }
        if (f.num != 5 && f.num != 6) {
            continue;
        }
        q = f.p;
        qend = f.p + f.len;
        while ((qr = otc_pb_next_field(&q, qend, &g)) > 0) {
            if (g.num == 1 && g.wt == 2 &&
                (f.num == 5 ? wire_value_over(g.p, g.len, max, depth + 1)
                            : wire_kv_over(g.p, g.len, max, depth + 1))) {
                return true;
            }
        }
        if (qr < 0) {
            return true;
        }
    }
    return r < 0;
}

/* A KeyValue longer than the limit. Encoders write a short string attribute as
 * key (0x0a, length, bytes), then value (0x12, length) holding only the string
 * (0x0a, length, bytes): its length is read in place; any other is walked. */
static bool wire_long_attr_over(const struct wire_limits *l, const uint8_t *p, size_t len)
{
    size_t kl, vl, sl;

    if (otc_pb_plain_kv(p, len, &kl, &vl, &sl)) {
        return sl > l->max_len;
    }
    return wire_kv_over(p, len, l->max_len, 0);
}

/* One attribute (a KeyValue). One no longer than the limit (any, when there is
 * none: OTC_ATTR_NO_LIMIT is SIZE_MAX) cannot hold a longer string. */
static inline bool wire_attr_over(const struct wire_limits *l, const uint8_t *p, size_t len)
{
    return len > l->max_len && wire_long_attr_over(l, p, len);
}

/* The attributes (KeyValue, field number field) of the message at p. */
static bool wire_attrs_over(const struct wire_limits *l, const uint8_t *p, size_t len,
                            uint32_t field)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    size_t n = 0;
    int r;

    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == field && f.wt == 2 && (++n > l->max_attrs || wire_attr_over(l, f.p, f.len))) {
            return true;
        }
    }
    return r < 0;
}

static int wire_resource(void *arg, const struct otc_pb_head *h)
{
    return h->msg && wire_attrs_over(arg, h->msg, h->msg_len, OTC_PB_RESOURCE_ATTRIBUTES)
               ? WIRE_OVER
               : 0;
}

static int wire_scope(void *arg, const struct otc_pb_head *h)
{
    return h->msg && wire_attrs_over(arg, h->msg, h->msg_len, OTC_PB_SCOPE_ATTRIBUTES) ? WIRE_OVER
                                                                                       : 0;
}

/* A data point's attributes and its exemplars' filtered_attributes, in one
 * pass over the point. */
static int wire_point(void *arg, const struct otc_pb_metric *m, const uint8_t *p, size_t len)
{
    const struct wire_limits *l = arg;
    const uint32_t attrs = otc_pb_point_attributes(m->type), ex = otc_pb_point_exemplars(m->type);
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    size_t n = 0;
    int r;

    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.wt != 2) {
            continue;
        }
        if (f.num == attrs) {
            if (++n > l->max_attrs || wire_attr_over(l, f.p, f.len)) {
                return WIRE_OVER;
            }
        } else if (f.num == ex && wire_attrs_over(l, f.p, f.len, OTC_PB_EXEMPLAR_ATTRIBUTES)) {
            return WIRE_OVER;
        }
    }
    return r < 0 ? WIRE_OVER : 0;
}

/* Span.attributes 9, events 11 (Event.attributes 3), links 13 (Link.attributes
 * 4), in one pass over the span. */
static int wire_span(void *arg, const uint8_t *p, size_t len)
{
    const struct wire_limits *l = arg;
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    size_t n = 0;
    int r = 0;

    while (p < end) {
        /* Most span fields are attributes with a one-byte tag and length: read
         * in place. */
        if (p[0] == (9 << 3 | 2) && end - p >= 2 && p[1] < 0x80) {
            const uint8_t *v = p + 2;
            size_t vlen = p[1];

            if (vlen > (size_t)(end - v)) {
                return WIRE_OVER;
            }
            p = v + vlen;
            if (++n > l->max_attrs || wire_attr_over(l, v, vlen)) {
                return WIRE_OVER;
            }
            continue;
        }
        if ((r = otc_pb_next_field(&p, end, &f)) <= 0) {
            break;
        }
        if (f.wt != 2) {
            continue;
        }
        if (f.num == 9) {
            if (++n > l->max_attrs || wire_attr_over(l, f.p, f.len)) {
                return WIRE_OVER;
            }
        } else if ((f.num == 11 && wire_attrs_over(l, f.p, f.len, 3)) ||
                   (f.num == 13 && wire_attrs_over(l, f.p, f.len, 4))) {
            return WIRE_OVER;
        }
    }
    return r < 0 ? WIRE_OVER : 0;
}

/* LogRecord.attributes 6, body 5. */
static int wire_log(void *arg, const uint8_t *p, size_t len)
{
    const struct wire_limits *l = arg;
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    int r;

    if (wire_attrs_over(l, p, len, 6)) {
        return WIRE_OVER;
    }
    if (!l->log_body || l->max_len == OTC_ATTR_NO_LIMIT) {
        return 0;
    }
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == 5 && f.wt == 2 && wire_value_over(f.p, f.len, l->max_len, 0)) {
            return WIRE_OVER;
        }
    }
    return r < 0 ? WIRE_OVER : 0;
}

/* True when the undecoded request b is surely within the limits. */
static bool wire_within(const struct truncate_ctx *t, const struct otc_batch *b)
{
    struct wire_limits l = {t->max_len, t->max_attrs, t->log_body};
    struct otc_pb_visitor v = {.resource = wire_resource, .scope = wire_scope, .arg = &l};

    if (b->signal == OTC_TRACES) {
        v.item = wire_span;
    } else if (b->signal == OTC_LOGS) {
        v.item = wire_log;
    } else {
        v.point = wire_point;
    }
    return otc_pb_walk(b->raw, b->raw_len, &v, NULL) == OTC_OK;
}

/* True when the receiver's scan of b's bytes saw no AnyValue longer than the
 * limit (so no string in one) and no message with more KeyValues than
 * max_attributes: no walk needed. */
static bool scan_within(const struct truncate_ctx *t, const struct otc_batch *b)
{
    const struct otc_scan_bounds *sb = otc_batch_scanned(b);

    return sb && sb->longest_value <= t->max_len && sb->most_attrs <= t->max_attrs;
}

/* ------------------------------------------------------------- consume */

static int truncate_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct truncate_ctx *t = vctx;
    enum otc_signal s = b->signal;
    size_t items = b->items;
    const ProtobufCMessage *msg;
    ProtobufCMessage *mut;

    if (!otc_batch_is_decoded(b) && (scan_within(t, b) || wire_within(t, b))) {
        return otc_next(ins, b);
    }
    msg = otc_batch_msg(b);

    /* The walk hands out writable pointers; the scan callback only reads. */
    if (!msg || !otc_attr_walk(s, (ProtobufCMessage *)msg, t->log_body, truncate_over, t)) {
        return otc_next(ins, b);
    }
    b = otc_batch_writable(b);
    if (!b || !(mut = otc_batch_msg_mut(b))) {
        otc_batch_unref(b);
        atomic_fetch_add(&ins->counters.dropped[s], items);
        return OTC_ENOMEM;
    }
    otc_attr_walk(s, mut, t->log_body, truncate_apply, t);
    return otc_next(ins, b);
}

const struct otc_component_ops otc_processor_truncate_ops = {
    .type = "truncate",
    .kind = OTC_PROCESSOR,
    .signals = OTC_SIG_ALL,
    .mutates = true,
    .concurrent = true,
    .ctx_size = sizeof(struct truncate_ctx),
    .config_map = truncate_config,
    .validate = NULL,
    .init = truncate_init,
    .start = NULL,
    .consume = truncate_consume,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = NULL,
};
