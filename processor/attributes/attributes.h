/* attributes.h - the `attributes` processor: otelcol-contrib's attributes
 * processor (actions on span, log record and data point attributes, with
 * include / exclude matching). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_ATTRIBUTES_H
#define OTC_PROCESSOR_ATTRIBUTES_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_attributes_ops;

#endif
