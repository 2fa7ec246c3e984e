/* routing.h - the `routing` connector: otelcol-contrib's routingconnector,
 * which sends each resource, span, log record or data point to the pipelines
 * of the first route whose OTTL condition it matches. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CONNECTOR_ROUTING_H
#define OTC_CONNECTOR_ROUTING_H

#include "otc/otc_component.h"

extern const struct otc_component_ops otc_connector_routing_ops;

#endif
