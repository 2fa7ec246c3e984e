/* graph.h - the graph built from a loaded config (otc_engine_build in
 * engine.h): component instances, pipelines and the links between them.
 * What the other build steps share with it. Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_GRAPH_H
#define OTC_CORE_GRAPH_H

#include "config.h"
#include "otc/otc_component.h"

/* The mapping of component id under its section (receivers, processors,
 * exporters or extensions); *defined tells whether the id is there at all
 * (its value may be empty). */
yaml_node_t *otc_graph_component(struct otc_yaml *y, enum otc_kind kind, const char *id,
                                 bool *defined);

#endif
