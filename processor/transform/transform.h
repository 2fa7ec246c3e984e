/* transform.h - the `transform` processor: otelcol's transform processor, its
 * statements in OTTL (otc_ottl.h). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_TRANSFORM_H
#define OTC_PROCESSOR_TRANSFORM_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_transform_ops;

#endif
