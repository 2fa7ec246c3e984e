/* forward.h - the `forward` connector: otelcol's forwardconnector, which
 * passes everything one pipeline exports to the pipelines that list it as a
 * receiver. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CONNECTOR_FORWARD_H
#define OTC_CONNECTOR_FORWARD_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_connector_forward_ops;

#endif
