/* filter.h - the `filter` processor: otelcol-contrib's filter processor with
 * OTTL conditions (otc_ottl.h). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_FILTER_H
#define OTC_PROCESSOR_FILTER_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_filter_ops;

#endif
