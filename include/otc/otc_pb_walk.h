/* otc_pb_walk.h - read-only walks over serialized OTLP requests, for stages
 * that only need to look: a field reader, a visitor over the resources, scopes
 * and items of a request, and the span fields the trace stages read.
 * Reentrant; runs on whichever thread holds the batch. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_PB_WALK_H
#define OTC_INCLUDE_PB_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otc_pb_depth.h"

/* One field of a serialized message. */
struct otc_pb_field {
    uint32_t       num;
    uint32_t       wt;  /* wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    uint64_t       v;   /* the value of a varint, fixed64 or fixed32 field */
    const uint8_t *p;   /* length-delimited: the bytes */
    size_t         len;
};

/* Read the field at *pp (before end) into f and move *pp past it.
 * 1: a field was read; 0: end of the message; -1: malformed. */
static inline int otc_pb_next_field(const uint8_t **pp, const uint8_t *end, struct otc_pb_field *f)
{
    const uint8_t *p = *pp;
    uint64_t key;

    f->p = NULL;
    f->len = 0;
    if (p >= end) {
        return 0;
    }
    if (!(p = otc_pb_varint(p, end, &key)) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
        return -1;
    }
    f->num = (uint32_t)(key >> 3);
    f->wt = (uint32_t)(key & 7);
    switch (f->wt) {
    case 0:
        if (!(p = otc_pb_varint(p, end, &f->v))) {
            return -1;
        }
        break;
    case 1:
        if (end - p < 8) {
            return -1;
        }
        memcpy(&f->v, p, 8); /* protobuf is little-endian, as are the targets */
        p += 8;
        break;
    case 5: {
        uint32_t v32;
        if (end - p < 4) {
            return -1;
        }
        memcpy(&v32, p, 4);
        f->v = v32;
        p += 4;
        break;
    }
    case 2: {
        uint64_t n;
        if (!(p = otc_pb_varint(p, end, &n)) || n > (uint64_t)(end - p)) {
            return -1;
        }
        f->p = p;
        f->len = (size_t)n;
        p += n;
        break;
    }
    default:
        return -1;
    }
    *pp = p;
    return 1;
}

/* What a walk visits. Each callback returns 0 to go on, anything else to stop
 * the walk (otc_pb_walk then returns that value). A NULL callback is skipped.
 * resource: the Resource message of a Resource{Spans,Metrics,Logs} (not
 * called when absent); scope: the InstrumentationScope of a Scope* container;
 * item: a Span, Metric or LogRecord. */
struct otc_pb_visitor {
    int (*resource)(void *arg, const uint8_t *p, size_t len);
    int (*scope)(void *arg, const uint8_t *p, size_t len);
    int (*item)(void *arg, const uint8_t *p, size_t len);
    void *arg;
};

/* Walk a serialized Export*ServiceRequest (of any signal: they share one
 * shape) in wire order, which is the order protobuf-c's unpack gives. OTC_OK when walked to the end (with
 * *empty_groups, when not NULL, set if a resource has no scope container or a
 * scope container has no item), OTC_EINVAL when malformed, otherwise what a
 * callback returned. */
int otc_pb_walk(const uint8_t *buf, size_t len, const struct otc_pb_visitor *v, bool *empty_groups);

/* Attribute keys a reader looks for, each with its length: set up once
 * (otc_pb_keys_init), used for every item. */
#define OTC_PB_MAX_KEYS 4
struct otc_pb_keys {
    const char *s[OTC_PB_MAX_KEYS];
    size_t      len[OTC_PB_MAX_KEYS];
    size_t      n;
};

/* The keys of a NULL-terminated list (NULL: none); false when there are more
 * than OTC_PB_MAX_KEYS. */
bool otc_pb_keys_init(struct otc_pb_keys *k, const char *const *keys);

/* The fields of a Span that the trace stages read. When a field is given more
 * than once, the last one counts, as in unpack. */
struct otc_pb_span {
    const uint8_t *trace_id, *span_id, *trace_state;
    size_t         trace_id_len, span_id_len, trace_state_len;
    uint64_t       start_time_unix_nano;
    size_t         n_attributes;
    bool           has_key; /* an attribute is named one of the keys asked for */
};

/* Read a serialized Span, and look for attributes named one of keys (NULL:
 * none) in the same pass; false when malformed. */
bool otc_pb_span_read(const uint8_t *p, size_t len, const struct otc_pb_keys *keys,
                      struct otc_pb_span *sp);

/* The fields of a LogRecord that the log stages read (the last one counts). */
struct otc_pb_log {
    const uint8_t *trace_id;
    size_t         trace_id_len;
    bool           has_key; /* an attribute is named one of the keys asked for */
};

/* Read a serialized LogRecord, and look for attributes named one of keys
 * (NULL: none) in the same pass; false when malformed. */
bool otc_pb_log_read(const uint8_t *p, size_t len, const struct otc_pb_keys *keys,
                     struct otc_pb_log *lr);

/* Write the request at buf (len bytes) to out without the items whose entry
 * in keep (one per item, in walk order) is 0, and without the scope and
 * resource containers then left without items, or without any from the start
 * (as the processors' decoded paths remove them). Everything else goes on as
 * it arrived. out needs room for len bytes (the result is never longer).
 * Returns the length written, or SIZE_MAX when buf is malformed. */
size_t otc_pb_keep_items(const uint8_t *buf, size_t len, const uint8_t *keep, uint8_t *out);

#endif
