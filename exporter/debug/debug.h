/* debug.h - the `debug` exporter: prints telemetry to stderr. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_DEBUG_H
#define OTC_EXPORTER_DEBUG_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_exporter_debug_ops;

#endif
