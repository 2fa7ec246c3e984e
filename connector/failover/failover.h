/* failover.h - the `failover` connector: otelcol-contrib's failoverconnector,
 * which sends to the first priority level of pipelines whose exporters'
 * circuits are closed. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CONNECTOR_FAILOVER_H
#define OTC_CONNECTOR_FAILOVER_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_connector_failover_ops;

#endif
