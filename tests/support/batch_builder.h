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

#endif
