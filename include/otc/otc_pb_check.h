/* otc_pb_check.h - checks a receiver runs on each OTLP request: a count of the
 * telemetry entries in the serialized bytes (before anything is decoded), and
 * UTF-8 validation and repair of every string field of a decoded request.
 * Reentrant; runs on the receiving thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_PB_CHECK_H
#define OTC_INCLUDE_PB_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "otc_arena.h"
#include "otc_signal.h"

/* Count the entries of a serialized Export*ServiceRequest of signal s that
 * each decode into a struct: resources, scopes and spans; resources, scopes,
 * metrics and data points; resources, scopes and log records. Stops once the
 * count passes max (0 = no limit) and returns OTC_ELIMIT; OTC_OK otherwise,
 * the count in *count when not NULL. Malformed bytes end the count early
 * (OTC_OK): unpack refuses them. */
int otc_pb_count_entries(enum otc_signal s, const uint8_t *buf, size_t len, size_t max,
                         size_t *count);

/* True when every string field in the tree under m is valid UTF-8 (no
 * overlong forms, surrogates or code points past U+10FFFF). */
bool otc_pb_utf8_valid(const ProtobufCMessage *m);
/* Replace, in every string field under m, each byte that does not belong to a
 * valid UTF-8 sequence with U+FFFD. Repaired strings are allocated in a; valid
 * ones are left in place. Returns the number of strings changed; *enomem is
 * set (and that string left unchanged) when a is exhausted. */
size_t otc_pb_utf8_repair(ProtobufCMessage *m, struct otc_arena *a, bool *enomem);

/* The receivers' fast path: one pass over a serialized request of signal s,
 * without decoding it. OTC_OK with the item count (spans, data points or log
 * records, as otc_request_count_items counts them) when the request is well
 * formed, nests at most OTC_PB_MAX_DEPTH deep, has valid UTF-8 in every string,
 * span and log ids of the lengths receivers accept, and no singular
 * sub-message given twice: such a request may be forwarded as received and
 * decoded later (lazily) with the same result. OTC_ELIMIT when nested too
 * deep; OTC_PB_SCAN_SLOW when anything else needs the decoding path, which
 * reports or repairs it. */
#define OTC_PB_SCAN_SLOW 1
int otc_pb_scan_request(enum otc_signal s, const uint8_t *buf, size_t len, size_t *items);

/* What one scan learns of a request besides its validity, for the receivers
 * (entries: otc_pb_count_entries' count, so that a clean request needs no
 * separate count) and for stages that would otherwise walk it again (the
 * bounds, kept in the batch: struct otc_scan_bounds). */
struct otc_pb_scan_info {
    size_t items;         /* as otc_pb_scan_request's *items */
    size_t entries;       /* resources, scopes and items (metrics: and metrics) */
    size_t longest_value; /* bytes of the longest AnyValue anywhere (attribute
                             values, array and kvlist members, log bodies) */
    size_t most_attrs;    /* most KeyValues in one message (attribute sets,
                             kvlists) */
    bool   ordered;       /* every message has its fields in increasing order,
                             none but repeated ones given more than once */
    uint64_t keys;        /* every KeyValue key's otc_pb_key_bit */
};
/* otc_pb_scan_request, filling *info when it returns OTC_OK. */
int otc_pb_scan_request_info(enum otc_signal s, const uint8_t *buf, size_t len,
                             struct otc_pb_scan_info *info);

#endif
