/* resource.h - the `resource` processor: otelcol-contrib's resource processor
 * (attribute actions on resource attributes). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_RESOURCE_H
#define OTC_PROCESSOR_RESOURCE_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_resource_ops;

#endif
