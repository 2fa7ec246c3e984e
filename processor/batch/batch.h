/* batch.h - the `batch` processor (otelcol-compatible): groups items into
 * larger requests by size and time; undecoded requests are appended as their
 * bytes, decoded ones merged by equal resource and scope. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_BATCH_H
#define OTC_PROCESSOR_BATCH_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_batch_ops;

#endif
