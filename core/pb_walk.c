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

/* Whether the KeyValue at p is named key (klen bytes): 1, 0, or -1 when
 * malformed. When the key field is given twice, the last counts. */
static int kv_named(const uint8_t *p, size_t len, const char *key, size_t klen)
{
    const uint8_t *end = p + len, *kp = NULL;
    struct otc_pb_field f;
    size_t kl = 0;
    int r;

    if (kv_is_plain(p, len)) {
        return p[1] == klen && memcmp(p + 2, key, klen) == 0;
    }
    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && f.wt == 2) {
            kp = f.p;
            kl = f.len;
        }
    }
    if (r < 0) {
        return -1;
    }
    return kp && kl == klen && memcmp(kp, key, klen) == 0;
}

/* Span field numbers (opentelemetry/proto/trace/v1/trace.proto). */
enum {
    SPAN_TRACE_ID = 1,
    SPAN_SPAN_ID = 2,
    SPAN_TRACE_STATE = 3,
    SPAN_START_TIME = 7,
    SPAN_ATTRIBUTES = 9,
};

bool otc_pb_span_read(const uint8_t *p, size_t len, const char *key, struct otc_pb_span *sp)
{
    const uint8_t *end = p + len;
    size_t klen = key ? strlen(key) : 0;
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
            if (f.wt == 2) {
                sp->n_attributes++;
                if (key && !sp->has_key) {
                    int k = kv_named(f.p, f.len, key, klen);
                    if (k < 0) {
                        return false;
                    }
                    sp->has_key = k;
                }
            }
            break;
        default:
            break;
        }
    }
    return r == 0;
}
