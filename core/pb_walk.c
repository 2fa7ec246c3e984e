/* pb_walk.c - read-only walks over serialized OTLP requests, so that stages
 * which only look at a request (is anything over a limit, which spans are
 * kept, which are duplicates) need not decode it. Reentrant; runs on
 * whichever thread holds the batch (the pipeline worker). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"

/* Every request has one shape: request.1 -> Resource*; Resource*.1 Resource,
 * .2 Scope* container; container.1 InstrumentationScope, .2 items (Span,
 * Metric, LogRecord). The walk needs no signal-specific field numbers. */
static int walk_scope(const uint8_t *p, const uint8_t *end, const struct otc_pb_visitor *v,
                      bool *empty)
{
    struct otc_pb_field f;
    bool items = false;
    int r;

    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.wt != 2) {
            continue;
        }
        if (f.num == 2) {
            items = true;
            if (v->item && (r = v->item(v->arg, f.p, f.len)) != 0) {
                return r;
            }
        } else if (f.num == 1 && v->scope && (r = v->scope(v->arg, f.p, f.len)) != 0) {
            return r;
        }
    }
    if (r < 0) {
        return OTC_EINVAL;
    }
    *empty |= !items;
    return OTC_OK;
}

static int walk_resource(const uint8_t *p, const uint8_t *end, const struct otc_pb_visitor *v,
                         bool *empty)
{
    struct otc_pb_field f;
    bool scopes = false;
    int r;

    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.wt != 2) {
            continue;
        }
        if (f.num == 2) {
            scopes = true;
            if ((r = walk_scope(f.p, f.p + f.len, v, empty)) != 0) {
                return r;
            }
        } else if (f.num == 1 && v->resource && (r = v->resource(v->arg, f.p, f.len)) != 0) {
            return r;
        }
    }
    if (r < 0) {
        return OTC_EINVAL;
    }
    *empty |= !scopes;
    return OTC_OK;
}

int otc_pb_walk(enum otc_signal s, const uint8_t *buf, size_t len, const struct otc_pb_visitor *v,
                bool *empty_groups)
{
    const uint8_t *p = buf, *end = buf + len;
    struct otc_pb_field f;
    bool empty = false;
    int r;

    (void)s; /* one shape for all signals */
    if (!buf) {
        p = end = (const uint8_t *)"";
    }
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && f.wt == 2 && (r = walk_resource(f.p, f.p + f.len, v, &empty)) != 0) {
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

/* Span field numbers (opentelemetry/proto/trace/v1/trace.proto). */
enum {
    SPAN_TRACE_ID = 1,
    SPAN_SPAN_ID = 2,
    SPAN_TRACE_STATE = 3,
    SPAN_START_TIME = 7,
    SPAN_ATTRIBUTES = 9,
};

bool otc_pb_span_read(const uint8_t *p, size_t len, struct otc_pb_span *sp)
{
    const uint8_t *end = p + len;
    struct otc_pb_field f;
    int r;

    memset(sp, 0, sizeof(*sp));
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        switch (f.num) {
        case SPAN_TRACE_ID:
            if (f.wt == 2) {
                sp->trace_id = f.p;
                sp->trace_id_len = f.len;
            }
            break;
        case SPAN_SPAN_ID:
            if (f.wt == 2) {
                sp->span_id = f.p;
                sp->span_id_len = f.len;
            }
            break;
        case SPAN_TRACE_STATE:
            if (f.wt == 2) {
                sp->trace_state = f.p;
                sp->trace_state_len = f.len;
            }
            break;
        case SPAN_START_TIME:
            if (f.wt == 1) {
                sp->start_time_unix_nano = f.v;
            }
            break;
        case SPAN_ATTRIBUTES:
            sp->n_attributes += f.wt == 2;
            break;
        default:
            break;
        }
    }
    return r == 0;
}

/* Encoders write a KeyValue as its key (tag 0x0a, here with a one-byte length)
 * followed by its value (tag 0x12) and nothing else. Such a KeyValue's key is
 * read in place; any other layout is read field by field. */
static bool kv_is_plain(const uint8_t *p, size_t len)
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

int otc_pb_has_attr(const uint8_t *p, size_t len, uint32_t field, const char *key)
{
    const uint8_t *end = p + len;
    size_t klen = strlen(key);
    struct otc_pb_field f;
    int r;

    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        const uint8_t *q, *qend;
        struct otc_pb_field kf;
        int kr;

        if (f.num != field || f.wt != 2) {
            continue;
        }
        if (kv_is_plain(f.p, f.len)) {
            if (f.p[1] == klen && memcmp(f.p + 2, key, klen) == 0) {
                return 1;
            }
            continue;
        }
        /* otherwise read the whole KeyValue: the last key field counts */
        q = f.p;
        qend = f.p + f.len;
        {
            const uint8_t *kp = NULL;
            size_t kl = 0;
            while ((kr = otc_pb_next_field(&q, qend, &kf)) > 0) {
                if (kf.num == 1 && kf.wt == 2) {
                    kp = kf.p;
                    kl = kf.len;
                }
            }
            if (kr < 0) {
                return -1;
            }
            if (kp && kl == klen && memcmp(kp, key, klen) == 0) {
                return 1;
            }
        }
    }
    return r < 0 ? -1 : 0;
}
