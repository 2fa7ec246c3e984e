/* pb_walk.c - the OTLP traversal layer over serialized requests: the walk (so
 * that stages which only look at a request, or only drop whole items, need not
 * decode it) and the field readers. The decoded form's walk is in msg_walk.c,
 * the keep / drop helper of the serialized form in pb_keep.c. Reentrant; runs
 * on whichever thread holds the batch (the pipeline worker). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_batch.h"
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"

#include <stddef.h>

/* Every request has one shape: request.1 -> Resource*; Resource*.1 Resource,
 * .2 Scope* container, .3 schema_url; container.1 InstrumentationScope, .2
 * items (Span, Metric, LogRecord), .3 schema_url. The walk needs no
 * signal-specific field numbers, except inside a Metric. */
enum {
    HEAD_MSG = 1,    /* Resource* .resource, Scope* .scope */
    CHILD = 2,       /* Resource* .scope_*, Scope* .spans / .metrics / .log_records */
    HEAD_SCHEMA = 3, /* both: schema_url */
    METRIC_NAME = 1,
    DATA_POINTS = 1, /* Gauge, Sum, ... .data_points */
};

/* A container's own fields, read before its children: the last schema_url
 * counts; a head message given twice (merged by unpack) is refused. */
static int read_head(const uint8_t *p, const uint8_t *end, struct otc_pb_head *h)
{
    struct otc_pb_field f;
    int r;

    memset(h, 0, sizeof(*h));
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == HEAD_MSG) {
            if (f.wt != 2 || h->msg) {
                return OTC_EINVAL;
            }
            h->msg = f.p;
            h->msg_len = f.len;
        } else if (f.num == HEAD_SCHEMA) {
            if (f.wt != 2) {
                return OTC_EINVAL;
            }
            h->schema_url = f.p;
            h->schema_url_len = f.len;
        }
    }
    return r < 0 ? OTC_EINVAL : OTC_OK;
}

/* The Metric at p: its name and the one data member (given twice: refused). */
static int read_metric(const uint8_t *p, size_t len, struct otc_pb_metric *m,
                       const uint8_t **data, size_t *data_len)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    int r;

    m->p = p;
    m->len = len;
    m->name = NULL;
    m->name_len = 0;
    m->type = OTC_PB_METRIC_NONE;
    *data = NULL;
    *data_len = 0;
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == METRIC_NAME && f.wt == 2) {
            m->name = f.p;
            m->name_len = f.len;
        } else if (otc_pb_is_metric_type(f.num)) {
            if (f.wt != 2 || m->type) {
                return OTC_EINVAL;
            }
            m->type = f.num;
            *data = f.p;
            *data_len = f.len;
        }
    }
    return r < 0 ? OTC_EINVAL : OTC_OK;
}

/* An item of a scope container: the item callback, then, for a Metric when
 * the visitor takes points, each data point. */
static inline int walk_item(const uint8_t *p, size_t len, const struct otc_pb_visitor *v)
{
    struct otc_pb_metric m;
    struct otc_pb_field f;
    const uint8_t *d, *dend;
    size_t dlen;
    int r;

    if (v->item && (r = v->item(v->arg, p, len)) != 0) {
        return r;
    }
    if (!v->point) {
        return 0;
    }
    if ((r = read_metric(p, len, &m, &d, &dlen)) != OTC_OK) {
        return r;
    }
    if (!d) {
        return 0; /* a Metric without data: no points */
    }
    for (dend = d + dlen; (r = otc_pb_next_field(&d, dend, &f)) > 0;) {
        if (f.num == DATA_POINTS && f.wt == 2 && (r = v->point(v->arg, &m, f.p, f.len)) != 0) {
            return r;
        }
    }
    return r < 0 ? OTC_EINVAL : 0;
}

/* level 1 walks a Resource* container (its head to v->resource, field 2 one
 * level down), level 2 a Scope* container (v->scope, items). */
static int walk_level(const uint8_t *p, const uint8_t *end, int level,
                      const struct otc_pb_visitor *v, bool *empty)
{
    int (*head)(void *, const struct otc_pb_head *) = level == 1 ? v->resource : v->scope;
    struct otc_pb_field f;
    bool any = false, met = false;
    int r;

    if (head && v->heads) {
        struct otc_pb_head h;

        if ((r = read_head(p, end, &h)) != OTC_OK || (r = head(v->arg, &h)) != 0) {
            return r;
        }
        head = NULL;
    }
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num != CHILD || f.wt != 2) {
            if (head && f.num == HEAD_MSG) {
                struct otc_pb_head h = {f.p, f.len, NULL, 0};

                if (f.wt != 2 || met) {
                    return OTC_EINVAL; /* as read_head */
                }
                met = true;
                if ((r = head(v->arg, &h)) != 0) {
                    return r;
                }
            }
            continue;
        }
        any = true;
        r = level == 1 ? walk_level(f.p, f.p + f.len, 2, v, empty) : walk_item(f.p, f.len, v);
        if (r != 0) {
            return r;
        }
    }
    if (r < 0) {
        return OTC_EINVAL;
    }
    *empty |= !any;
    return OTC_OK;
}

int otc_pb_walk(const uint8_t *buf, size_t len, const struct otc_pb_visitor *v, bool *empty_groups)
{
    const uint8_t *p = buf, *end = buf + len;
    struct otc_pb_field f;
    bool empty = false;
    int r;

    if (!buf) {
        p = end = (const uint8_t *)"";
    }
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && f.wt == 2 && (r = walk_level(f.p, f.p + f.len, 1, v, &empty)) != 0) {
            return r;
        }
    }
    if (r < 0) {
        return OTC_EINVAL;
    }
    if (empty_groups) {
        *empty_groups = empty;
    }
    return OTC_OK;
}

/* ------------------------------------------------------- field readers */

bool otc_pb_kv_read(const uint8_t *p, size_t len, struct otc_pb_kv *kv)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    int r;

    memset(kv, 0, sizeof(*kv));
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && f.wt == 2) {
            kv->key = f.p;
            kv->key_len = f.len;
        } else if (f.num == 2 && f.wt == 2) {
            if (kv->value) {
                return false;
            }
            kv->value = f.p;
            kv->value_len = f.len;
        }
    }
    return r == 0;
}

/* Whether the varint field from at (its tag) to end is true as unpack reads a
 * bool: any value bit set, also past the 64 that a varint holds. */
static bool varint_nonzero(const uint8_t *at, const uint8_t *end)
{
    while (*at++ & 0x80) { /* the tag */
    }
    for (; at < end; at++) {
        if (*at & 0x7f) {
            return true;
        }
    }
    return false;
}

bool otc_pb_any_read(const uint8_t *p, size_t len, struct otc_pb_any *a)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    bool message = false;
    int r;

    memset(a, 0, sizeof(*a));
    for (const uint8_t *at = p; (r = otc_pb_next_field(&p, end, &f)) > 0; at = p) {
        switch (f.num) {
        case OTC_PB_ANY_STRING:
        case OTC_PB_ANY_BYTES:
        case OTC_PB_ANY_ARRAY:
        case OTC_PB_ANY_KVLIST:
            if (f.wt != 2) {
                return false;
            }
            if (f.num == OTC_PB_ANY_ARRAY || f.num == OTC_PB_ANY_KVLIST) {
                if (message) {
                    return false;
                }
                message = true;
            }
            a->p = f.p;
            a->len = f.len;
            a->v = 0;
            break;
        case OTC_PB_ANY_BOOL:
        case OTC_PB_ANY_INT:
            if (f.wt != 0) {
                return false;
            }
            a->p = NULL;
            a->len = 0;
            a->v = f.num == OTC_PB_ANY_BOOL ? varint_nonzero(at, p) : f.v;
            break;
        case OTC_PB_ANY_DOUBLE:
            if (f.wt != 1) {
                return false;
            }
            a->p = NULL;
            a->len = 0;
            a->v = f.v;
            break;
        default:
            continue;
        }
        a->kind = f.num;
    }
    return r == 0;
}

bool otc_pb_point_read(const uint8_t *p, size_t len, struct otc_pb_point *pt)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    int r;

    pt->start_time_unix_nano = pt->time_unix_nano = 0;
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.wt == 1 && f.num == 2) {
            pt->start_time_unix_nano = f.v;
        } else if (f.wt == 1 && f.num == 3) {
            pt->time_unix_nano = f.v;
        }
    }
    return r == 0;
}

/* Encoders write a KeyValue as its key (tag 0x0a, here with a one-byte length)
 * followed by its value (tag 0x12) and nothing else. Such a KeyValue's key is
 * read in place; any other layout is read field by field. */
static inline bool kv_is_plain(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len, *v;
    uint64_t n;

    if (len < 2 || p[0] != 0x0a || p[1] >= 128 || (size_t)p[1] + 2 > len) {
        return false;
    }
    v = p + 2 + p[1];
    if (v == end) {
        return true;
    }
    if (*v != 0x12 || !(v = otc_pb_varint(v + 1, end, &n))) {
        return false;
    }
    return n == (uint64_t)(end - v);
}

/* Whether the key bytes kp (kl of them) name key (klen bytes) as the decoded
 * string does: it ends at the first NUL, so "key\0more" is named key. */
static inline bool key_is(const uint8_t *kp, size_t kl, const char *key, size_t klen)
{
    return (kl == klen || (kl > klen && kp[klen] == 0)) && memcmp(kp, key, klen) == 0;
}

/* kv_named for a KeyValue of any layout, field by field. */
static int kv_named_fields(const uint8_t *p, size_t len, const char *key, size_t klen)
{
    const uint8_t *end = p + len, *kp = NULL;
    struct otc_pb_field f;
    size_t kl = 0;
    int r;

    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && f.wt == 2) {
            kp = f.p;
            kl = f.len;
        }
    }
    if (r < 0) {
        return -1;
    }
    return kp && key_is(kp, kl, key, klen);
}

/* Whether the KeyValue at p is named key (klen bytes): 1, 0, or -1 when
 * malformed. When the key field is given twice, the last counts. */
static inline int kv_named(const uint8_t *p, size_t len, const char *key, size_t klen)
{
    if (kv_is_plain(p, len)) {
        return key_is(p + 2, p[1], key, klen);
    }
    return kv_named_fields(p, len, key, klen);
}

bool otc_pb_keys_init(struct otc_pb_keys *k, const char *const *keys, uint64_t present)
{
    k->n = 0;
    for (size_t i = 0; keys && keys[i]; i++) {
        if (i == OTC_PB_MAX_KEYS) {
            return false;
        }
        if (otc_pb_key_maybe(present, keys[i])) {
            k->s[k->n] = keys[i];
            k->len[k->n++] = strlen(keys[i]);
        }
    }
    return true;
}

/* kv_named_any for a KeyValue of any layout. */
static int kv_named_any_fields(const uint8_t *v, size_t n, const struct otc_pb_keys *keys)
{
    for (size_t i = 0; i < keys->n; i++) {
        int k = kv_named(v, n, keys->s[i], keys->len[i]);
        if (k != 0) {
            return k;
        }
    }
    return 0;
}

/* Whether the KeyValue at v (n bytes) is named one of the keys: 1, 0, or -1
 * when malformed. The plain layout with one-byte lengths (key 0x0a, then one
 * value field 0x12 to the end), which encoders write, is read in place. */
static inline int kv_named_any(const uint8_t *v, size_t n, const struct otc_pb_keys *keys)
{
    size_t kl;

    if (n >= 4 && v[0] == 0x0a && (kl = v[1]) + 4 <= n && v[kl + 2] == 0x12 &&
        v[kl + 3] == n - kl - 4) {
        size_t nk = keys->n;

        if (nk == 1) { /* the usual case, without the loop */
            return key_is(v + 2, kl, keys->s[0], keys->len[0]);
        }
        for (size_t i = 0; i < nk; i++) {
            if (key_is(v + 2, kl, keys->s[i], keys->len[i])) {
                return 1;
            }
        }
        return 0;
    }
    return kv_named_any_fields(v, n, keys);
}

/* Note a KeyValue of an item: has_key once it is named one of keys (NULL
 * when there are none); false when malformed. Once per attribute of every
 * span read: kept inline in the span reader (a call costs it about 30%). */
static inline __attribute__((always_inline)) bool note_attr(const uint8_t *v, size_t n, const struct otc_pb_keys *keys,
                             bool *has_key)
{
    int k;

    if (!keys || *has_key) {
        return true;
    }
    if ((k = kv_named_any(v, n, keys)) < 0) {
        return false;
    }
    *has_key = k;
    return true;
}

/* Span field numbers (opentelemetry/proto/trace/v1/trace.proto). */
enum {
    SPAN_TRACE_ID = 1,
    SPAN_SPAN_ID = 2,
    SPAN_TRACE_STATE = 3,
    SPAN_START_TIME = 7,
    SPAN_ATTRIBUTES = 9,
};

/* Note one field of a span; false when malformed. */
static bool span_field(struct otc_pb_span *sp, const struct otc_pb_field *f,
                       const struct otc_pb_keys *keys)
{
    switch (f->num) {
    case SPAN_TRACE_ID:
        if (f->wt == 2) {
            sp->trace_id = f->p;
            sp->trace_id_len = f->len;
        }
        break;
    case SPAN_SPAN_ID:
        if (f->wt == 2) {
            sp->span_id = f->p;
            sp->span_id_len = f->len;
        }
        break;
    case SPAN_TRACE_STATE:
        if (f->wt == 2) {
            sp->trace_state = f->p;
            sp->trace_state_len = f->len;
        }
        break;
    case SPAN_START_TIME:
        if (f->wt == 1) {
            sp->start_time_unix_nano = f->v;
        }
        break;
    case SPAN_ATTRIBUTES:
        if (f->wt == 2) {
            sp->n_attributes++;
            return note_attr(f->p, f->len, keys, &sp->has_key);
        }
        break;
    default:
        break;
    }
    return true;
}

bool otc_pb_span_read(const uint8_t *p, size_t len, const struct otc_pb_keys *keys,
                      struct otc_pb_span *sp)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;

    memset(sp, 0, sizeof(*sp));
    if (keys && !keys->n) {
        keys = NULL;
    }
    while (p < end) {
        unsigned tag = p[0];

        /* Encoders write nearly every span field with a one-byte tag and, for
         * the length-delimited ones, a one-byte length (attributes are most of
         * them): those are read here without the general field reader. */
        if (end - p >= 2 && p[1] < 0x80) {
            if (tag == (SPAN_ATTRIBUTES << 3 | 2)) {
                const uint8_t *v = p + 2;
                size_t n = p[1];

                if (n > (size_t)(end - v)) {
                    return false;
                }
                p = v + n;
                sp->n_attributes++;
                if (!note_attr(v, n, keys, &sp->has_key)) {
                    return false;
                }
                continue;
            }
            if (tag >= 8 && tag < 0x80 && (tag & 7) == 0) {
                p += 2;
                continue;
            }
        }
        if (tag == (SPAN_START_TIME << 3 | 1) && end - p >= 9) {
            memcpy(&sp->start_time_unix_nano, p + 1, 8);
            p += 9;
            continue;
        }
        {
            const uint8_t *start = p;

            if (otc_pb_next_field(&p, end, &f) < 0 || !span_field(sp, &f, keys)) {
                return false;
            }
            if (f.num == SPAN_TRACE_STATE && f.wt == 2) {
                sp->trace_state_field = start;
            }
        }
    }
    return true;
}

bool otc_pb_span_ids(const uint8_t *p, size_t len, struct otc_pb_span *sp)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;

    memset(sp, 0, sizeof(*sp));
    for (const uint8_t *start = p; p < end; start = p) {
        if (otc_pb_next_field(&p, end, &f) < 0) {
            return false;
        }
        if (f.num > SPAN_TRACE_STATE) {
            break; /* in order: the fields read are all behind */
        }
        span_field(sp, &f, NULL);
        if (f.num == SPAN_TRACE_STATE && f.wt == 2) {
            sp->trace_state_field = start;
        }
    }
    return true;
}

/* LogRecord field numbers (opentelemetry/proto/logs/v1/logs.proto). */
enum {
    LOG_ATTRIBUTES = 6,
    LOG_TRACE_ID = 9,
};

bool otc_pb_log_read(const uint8_t *p, size_t len, const struct otc_pb_keys *keys,
                     struct otc_pb_log *lr)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;

    const uint8_t *after = NULL; /* the first field numbered above the attributes */

    memset(lr, 0, sizeof(*lr));
    if (keys && !keys->n) {
        keys = NULL;
    }
    while (p < end) {
        const uint8_t *v, *start = p;
        size_t n;
        unsigned tag = p[0];

        /* one-byte tag and length, as for spans: read in place */
        if (tag >= 8 && tag < 0x80 && (tag & 7) == 2 && end - p >= 2 && p[1] < 0x80) {
            v = p + 2;
            n = p[1];
            if (n > (size_t)(end - v)) {
                return false;
            }
            p = v + n;
        } else if (otc_pb_next_field(&p, end, &f) < 0) {
            return false;
        } else if (f.wt != 2) {
            if (!after && f.num > LOG_ATTRIBUTES) {
                after = start;
            }
            continue;
        } else {
            tag = f.num << 3 | 2;
            v = f.p;
            n = f.len;
        }
        if (tag == (LOG_ATTRIBUTES << 3 | 2)) {
            if (!note_attr(v, n, keys, &lr->has_key)) {
                return false;
            }
            lr->attrs_end = p;
            continue;
        }
        if (!after && (tag >> 3) > LOG_ATTRIBUTES) {
            after = start;
        }
        if (tag == (LOG_TRACE_ID << 3 | 2)) {
            lr->trace_id = v;
            lr->trace_id_len = n;
        }
    }
    if (!lr->attrs_end) {
        lr->attrs_end = after ? after : end;
    }
    return true;
}

