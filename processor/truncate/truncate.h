/* truncate.h - the `truncate` processor: attribute value length and attribute
 * count limits on every attribute set of traces, metrics and logs. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_PROCESSOR_TRUNCATE_H
#define OTC_PROCESSOR_TRUNCATE_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_processor_truncate_ops;

#endif
