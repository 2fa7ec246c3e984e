/* pb_walk.c - read-only walks over serialized OTLP requests, so that stages
 * which only look at a request (is anything over a limit, which spans are
 * kept, which are duplicates) need not decode it. Reentrant; runs on
 * whichever thread holds the batch (the pipeline worker). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_pb_walk.h"
#include "otc/otc_rc.h"

/* Every request has one shape: request.1 -> Resource*; Resource*.1 Resource,
 * .2 Scope* container; container.1 InstrumentationScope, .2 items (Span,
 * Metric, LogRecord). The walk needs no signal-specific field numbers.
 * level 1 walks a Resource* (its field 1 goes to v->resource, field 2 one
 * level down), level 2 a Scope* container (v->scope, v->item). */
static int walk_level(const uint8_t *p, const uint8_t *end, int level,
                      const struct otc_pb_visitor *v, bool *empty)
{
    int (*head)(void *, const uint8_t *, size_t) = level == 1 ? v->resource : v->scope;
    struct otc_pb_field f;
    bool any = false;
    int r;

    while ((r = otc_pb_next_field(&p, end, &f)) > 0) {
        if (f.wt != 2) {
            continue;
        }
        if (f.num == 2) {
            any = true;
            r = level == 1 ? walk_level(f.p, f.p + f.len, 2, v, empty)
                : v->item  ? v->item(v->arg, f.p, f.len)
                           : 0;
            if (r != 0) {
                return r;
            }
        } else if (f.num == 1 && head && (r = head(v->arg, f.p, f.len)) != 0) {
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
    return kp && kl == klen && memcmp(kp, key, klen) == 0;
}

/* Whether the KeyValue at p is named key (klen bytes): 1, 0, or -1 when
 * malformed. When the key field is given twice, the last counts. */
static inline int kv_named(const uint8_t *p, size_t len, const char *key, size_t klen)
{
    if (kv_is_plain(p, len)) {
        return p[1] == klen && memcmp(p + 2, key, klen) == 0;
    }
    return kv_named_fields(p, len, key, klen);
}

bool otc_pb_keys_init(struct otc_pb_keys *k, const char *const *keys)
{
    k->n = 0;
    for (size_t i = 0; keys && keys[i]; i++) {
        if (k->n == OTC_PB_MAX_KEYS) {
            return false;
        }
        k->s[k->n] = keys[i];
        k->len[k->n++] = strlen(keys[i]);
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
            return kl == keys->len[0] && memcmp(v + 2, keys->s[0], kl) == 0;
        }
        for (size_t i = 0; i < nk; i++) {
            if (kl == keys->len[i] && memcmp(v + 2, keys->s[i], kl) == 0) {
                return 1;
            }
        }
        return 0;
    }
    return kv_named_any_fields(v, n, keys);
}

/* Note a KeyValue of an item: has_key once it is named one of keys (NULL
 * when there are none); false when malformed. */
static inline bool note_attr(const uint8_t *v, size_t n, const struct otc_pb_keys *keys,
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
        if (otc_pb_next_field(&p, end, &f) < 0 || !span_field(sp, &f, keys)) {
            return false;
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

    memset(lr, 0, sizeof(*lr));
    if (keys && !keys->n) {
        keys = NULL;
    }
    while (p < end) {
        const uint8_t *v;
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
            continue;
        } else {
            tag = f.num << 3 | 2;
            v = f.p;
            n = f.len;
        }
        if (tag == (LOG_TRACE_ID << 3 | 2)) {
            lr->trace_id = v;
            lr->trace_id_len = n;
        } else if (tag == (LOG_ATTRIBUTES << 3 | 2) && !note_attr(v, n, keys, &lr->has_key)) {
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------ filtering */

static uint8_t *put_varint(uint8_t *o, size_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static size_t varint_size(size_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The content of the message at p..end at nesting level (0 request, 1
 * Resource*, 2 Scope* container) without the dropped items and emptied
 * containers, written to out (when not NULL). Returns its length; 0 for a
 * container left without items (dropped), SIZE_MAX when malformed. *idx counts
 * the items seen, in walk order. */
static size_t keep_level(const uint8_t *p, const uint8_t *end, int level, const uint8_t *keep,
                         size_t *idx, uint8_t *out)
{
    const uint32_t child = level == 0 ? 1 : 2; /* request.1 Resource*, Resource*.2 / Scope*.2 */
    size_t n = 0;
    bool any = false;
    struct otc_pb_field f;
    int r;

    for (const uint8_t *start = p; (r = otc_pb_next_field(&p, end, &f)) > 0; start = p) {
        size_t clen;

        if (f.num != child || f.wt != 2) {
            if (out) { /* any other field goes on as it arrived */
                memcpy(out + n, start, (size_t)(p - start));
            }
            n += (size_t)(p - start);
            continue;
        }
        if (level == 2) {
            if (!keep[(*idx)++]) {
                continue;
            }
            clen = f.len;
        } else {
            size_t first = *idx;
            clen = keep_level(f.p, f.p + f.len, level + 1, keep, idx, NULL);
            if (clen == SIZE_MAX) {
                return SIZE_MAX;
            }
            if (clen == 0) {
                continue;
            }
            if (out) {
                *idx = first;
            }
        }
        any = true;
        if (out) {
            uint8_t *o = out + n;
            *o++ = (uint8_t)(child << 3 | 2);
            o = put_varint(o, clen);
            if (level == 2) {
                memcpy(o, f.p, clen);
            } else {
                keep_level(f.p, f.p + f.len, level + 1, keep, idx, o);
            }
        }
        n += 1 + varint_size(clen) + clen;
    }
    if (r < 0) {
        return SIZE_MAX;
    }
    return level > 0 && !any ? 0 : n;
}

size_t otc_pb_keep_items(const uint8_t *buf, size_t len, const uint8_t *keep, uint8_t *out)
{
    size_t idx = 0;

    if (!buf) {
        return 0;
    }
    return keep_level(buf, buf + len, 0, keep, &idx, out);
}
