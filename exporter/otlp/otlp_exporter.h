/* otlp_exporter.h - the `otlp` exporter (OTLP/gRPC client on gRPC core). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_EXPORTER_OTLP_H
#define OTC_EXPORTER_OTLP_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_exporter_otlp_ops;

#endif
