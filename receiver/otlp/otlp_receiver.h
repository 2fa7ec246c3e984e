/* otlp_receiver.h - the `otlp` receiver (OTLP/gRPC on gRPC core). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_RECEIVER_OTLP_H
#define OTC_RECEIVER_OTLP_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_receiver_otlp_ops;

#endif
