/* probabilistic_sampler.h - the `probabilistic_sampler` processor:
 * otelcol-contrib's hash_seed, proportional and equalizing sampling of spans
 * and log records, writing the sampling threshold on what it keeps. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_PROBABILISTIC_SAMPLER_H
#define OTC_PROCESSOR_PROBABILISTIC_SAMPLER_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_probabilistic_sampler_ops;

#endif
