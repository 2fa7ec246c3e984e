/* health_check.h - the `health_check` extension (otelcol healthcheckextension):
 * an HTTP endpoint answering 200 while every pipeline runs, 503 otherwise. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXTENSION_HEALTH_CHECK_H
#define OTC_EXTENSION_HEALTH_CHECK_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_extension_health_check_ops;

#endif
