/* ratelimiter.h - the `ratelimiter` processor: token buckets per key (client
 * metadata, resource attributes), decided at admission, before the receiver
 * answers (the options of Elastic's ratelimitprocessor, plus resource_keys). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_RATELIMITER_H
#define OTC_PROCESSOR_RATELIMITER_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_ratelimiter_ops;

#endif
