/* otc_json.h - OTLP/JSON encoding of any protobuf-c OTLP message, as the
 * OpenTelemetry Collector's file exporter writes it. Reentrant, no state. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_JSON_H
#define OTC_INCLUDE_JSON_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

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

#endif
