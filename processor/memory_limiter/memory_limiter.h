/* memory_limiter.h - the `memory_limiter` processor (otelcol-compatible):
 * receivers refuse data (UNAVAILABLE) while memory use is above the soft limit. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_MEMORY_LIMITER_H
#define OTC_PROCESSOR_MEMORY_LIMITER_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_memory_limiter_ops;

#endif
