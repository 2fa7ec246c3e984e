/* tail_sampling.h - the `tail_sampling` processor (tail_sampling.c). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_TAIL_SAMPLING_H
#define OTC_PROCESSOR_TAIL_SAMPLING_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_tail_sampling_ops;

#endif
