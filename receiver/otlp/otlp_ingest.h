/* otlp_ingest.h - the delivery path the `otlp` receiver's gRPC side
 * (otlp_receiver.c) and HTTP side (otlp_http.c) share (otlp_ingest.c). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_RECEIVER_OTLP_INGEST_H
#define OTC_RECEIVER_OTLP_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "otc/otc_component.h"
#include "otc/otc_pb_depth.h"

/* Both protocols hand every decoded request here. Drops items with invalid ids
 * (their count in *rejected, for partial_success), then delivers to the
 * pipelines (takes ownership of b). Returns what otc_receiver_deliver returns,
 * or OTC_OK when nothing was left to deliver. */
int otlp_ingest_accept(struct otc_instance *ins, struct otc_batch *b, size_t *rejected,
                       struct otc_admission *a);

/* A google.rpc.Status for a throttled request: code, message, and (retry_ns
 * > 0) one detail, a google.rpc.RetryInfo with that delay (OTLP's throttling:
 * RESOURCE_EXHAUSTED with RetryInfo over gRPC, the same Status as a 429 body
 * over HTTP). Everything lives in the struct: st points into it. */
struct otlp_retry_status {
    Google__Rpc__Status        st;
    Google__Protobuf__Any      any;
    Google__Protobuf__Any     *anys[1];
    Google__Rpc__RetryInfo     ri;
    Google__Protobuf__Duration d;
    uint8_t                    ri_buf[32];
};
void otlp_retry_status_init(struct otlp_retry_status *r, int code, const char *msg,
                            int64_t retry_ns);

/* Client metadata (otc_client_meta.get) of gRPC metadata (src: a
 * grpc_metadata_array) and of libevent HTTP headers (src: a struct evkeyvalq). */
const char *otlp_meta_grpc_get(const void *src, const char *key, size_t idx, size_t *len);
const char *otlp_meta_http_get(const void *src, const char *key, size_t idx, size_t *len);
/* The checks of a received request b (serialized, not decoded yet): the scan,
 * which leaves a clean request undecoded with its item count and scan bounds;
 * otherwise the entry count, then decoding. OTC_OK: b may go on. OTC_ELIMIT:
 * more than max entries (RESOURCE_EXHAUSTED). OTC_EINVAL: not decodable
 * (INVALID_ARGUMENT). why names the problem. */
int otlp_ingest_check(struct otc_batch *b, size_t max, char *why, size_t whylen);

/* Count a request refused for a missing or wrong credential as refused (its
 * items found by a scan of the protobuf bytes, nothing decoded); transport is
 * OTC_TRANSPORT_*. */
void otlp_ingest_refuse_unauth(struct otc_instance *ins, enum otc_signal s, int transport,
                               const uint8_t *pb, size_t len);

/* The partial_success message for rejected items (traces and logs). */
#define OTLP_REJECTED_WHY "invalid trace or span id length"
/* Decode refusal for requests nested past OTC_PB_MAX_DEPTH (AnyValue in AnyValue). */
#define OTLP_TOO_DEEP "messages nested more than 128 levels deep (AnyValue arrays and kvlists)"
_Static_assert(OTC_PB_MAX_DEPTH == 128, "OTLP_TOO_DEEP names the limit");

#endif
