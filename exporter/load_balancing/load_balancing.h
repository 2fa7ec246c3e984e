/* load_balancing.h - the `load_balancing` exporter (alias `loadbalancing`). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_LOAD_BALANCING_H
#define OTC_EXPORTER_LOAD_BALANCING_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_exporter_load_balancing_ops;

#endif
