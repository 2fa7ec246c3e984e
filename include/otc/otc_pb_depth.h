/* otc_pb_depth.h - a stack-safe check of how deeply a serialized protobuf
 * message nests, run before protobuf-c's recursive unpack. Reentrant. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_PB_DEPTH_H
#define OTC_INCLUDE_PB_DEPTH_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Messages nested in an OTLP request, the request itself being level 1. Plain
 * telemetry uses 6 (request, ResourceSpans, ScopeSpans, Span, KeyValue,
 * AnyValue); each AnyValue array level adds 2, each kvlist level 3. */
#define OTC_PB_MAX_DEPTH 128
#define OTC_PB_MAX_DEPTH_LIMIT 1024 /* the most max_depth may be */

/* Reads the protobuf varint at p (before end) into *v; returns the byte after
 * it, or NULL when it runs past end or is longer than 10 bytes. Shared by the
 * wire-format walkers (pb_depth.c, pb_check.c). */
static inline const uint8_t *otc_pb_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;

    /* tags and most lengths are one byte, the lengths of most messages that
     * hold items two: no loop for them */
    if (p < end && !(*p & 0x80)) {
        *v = *p;
        return p + 1;
    }
    if (end - p >= 2 && !(p[1] & 0x80)) {
        *v = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
        return p + 2;
    }

    for (unsigned shift = 0; shift < 70 && p < end; shift += 7) {
        uint8_t b = *p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return p;
        }
    }
    return NULL;
}

/* OTC_OK, or OTC_ELIMIT when buf nests more than max_depth messages deep (0 or
 * above OTC_PB_MAX_DEPTH_LIMIT means OTC_PB_MAX_DEPTH_LIMIT). Malformed input
 * is OTC_OK: unpack refuses it. */
int otc_pb_check_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                       unsigned max_depth);

#endif
