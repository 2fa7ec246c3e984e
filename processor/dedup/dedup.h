/* dedup.h - the `dedup` processor: drops exact duplicates of spans, log
 * records and metric data points seen within a time window. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_DEDUP_H
#define OTC_PROCESSOR_DEDUP_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_dedup_ops;

#endif
