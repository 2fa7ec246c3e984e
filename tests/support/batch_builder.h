/* batch_builder.h - test helper: builds OTLP requests and batches with N
 * items and given attributes, in an arena. Used by unit tests and benches. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_TESTS_BATCH_BUILDER_H
#define OTC_TESTS_BATCH_BUILDER_H

#include "otc/otc_batch.h"

/* A traces batch: one resource, one scope, n_spans spans with n_attrs string
 * attributes each; trace ids derived from seed. Serialized and decoded. */
struct otc_batch *otc_test_traces_batch(size_t n_spans, size_t n_attrs, unsigned seed);
/* Serialized ExportTraceServiceRequest as above, malloc'd; *len set. */
uint8_t *otc_test_traces_bytes(size_t n_spans, size_t n_attrs, unsigned seed, size_t *len);
/* Serialized ExportLogsServiceRequest of the same shape: n_records records
 * with trace ids, a string body and n_attrs string attributes; malloc'd. */
uint8_t *otc_test_logs_bytes(size_t n_records, size_t n_attrs, unsigned seed, size_t *len);

/* Make a batch just made from bytes look as a receiver delivers it: decoded
 * (the receivers' slow path), or, when the environment variable
 * OTC_FX_UNDECODED is set and the request passes otc_pb_scan_request, left
 * undecoded with the scan's item count (their fast path). The *_undecoded
 * ctest entries set it, so processors' wire-format paths meet the same tests.
 * Returns otc_batch_decode's result, or OTC_OK. */
int otc_test_as_received(struct otc_batch *b);

#endif
