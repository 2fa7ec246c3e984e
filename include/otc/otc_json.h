/* otc_json.h - OTLP/JSON encoding of any protobuf-c OTLP message, as the
 * OpenTelemetry Collector's file exporter writes it, and decoding of OTLP/JSON
 * (the OTLP/HTTP receiver). Reentrant, no state. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_JSON_H
#define OTC_INCLUDE_JSON_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "otc/otc_arena.h"
#include "otc/otc_buf.h"

/* Deepest nesting of messages (JSON objects) the encoder accepts; the
 * top-level message is level 1. Each AnyValue array/kvlist level costs two
 * (AnyValue -> ArrayValue/KeyValueList, plus KeyValue for a kvlist). */
#define OTC_JSON_MAX_DEPTH 128

/* Append the OTLP/JSON encoding of msg (any OTLP message, typically an
 * Export{Trace,Metrics,Logs}ServiceRequest) to out, with no trailing newline.
 * Returns OTC_OK, OTC_ENOMEM (out ran out of memory, or was already in its
 * oom state) or OTC_EINVAL (bad descriptor, nesting deeper than
 * OTC_JSON_MAX_DEPTH). On failure out is cut back to its length on entry. */
int otc_json_encode(const ProtobufCMessage *msg, struct otc_buf *out);

/* The JSON (lowerCamelCase) key of field f, written to buf (truncated to fit
 * n bytes, always NUL-terminated when n > 0). Returns buf. */
const char *otc_json_field_name(const ProtobufCFieldDescriptor *f, char *buf, size_t n);

/* Size in a protobuf-c struct of one element of a repeated field of type t
 * (shared by the encoder and the decoder). */
size_t otc_pb_elem_size(ProtobufCType t);

/* Decode the OTLP/JSON document of len bytes at text (no NUL needed) into a
 * message of type desc allocated from arena (strings, bytes and sub-messages
 * too). The OTLP rules: keys in lowerCamelCase or as the proto field name;
 * traceId/spanId/parentSpanId as hex, other bytes as base64; enums as
 * integers or names; 64-bit integers as decimal strings or numbers; doubles as
 * numbers or "NaN"/"Infinity"/"-Infinity"; unknown keys and null values are
 * ignored. Returns OTC_OK and *out; OTC_EINVAL with a reason naming the field
 * path in err (e.g. "resourceSpans[0].scopeSpans[0].spans[2].traceId: invalid
 * hex id"), also for nesting deeper than OTC_JSON_MAX_DEPTH; OTC_ENOMEM. On
 * failure the arena may hold partial allocations (released with it). */
int otc_json_decode(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                    struct otc_arena *arena, ProtobufCMessage **out, char *err, size_t errlen);

#endif
