/* instance.h - one component instance as the engine drives it: configured
 * from its YAML mapping (defaults, the user's values, validate()), started
 * (init, start), shut down and released. Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_INSTANCE_H
#define OTC_CORE_INSTANCE_H

#include "config.h"
#include "otc/otc_component.h"

/* ins gets ops, id and a context with the option table applied to node;
 * extra_map (may be NULL) is a second table read from the same node into extra
 * (exporters: the exporter helper's options). Errors go to d. */
int  otc_instance_configure(struct otc_instance *ins, const struct otc_component_ops *ops,
                            const char *id, struct otc_yaml *y, yaml_node_t *node,
                            const struct otc_config_entry *extra_map, void *extra,
                            struct otc_diag *d);
/* The component's checks of its options for one signal it is used for
 * (ops->validate_signal), reported at node (its mapping) like validate()'s. */
int  otc_instance_validate_signal(struct otc_instance *ins, enum otc_signal s, struct otc_yaml *y,
                                  yaml_node_t *node, struct otc_diag *d);
/* Free what configure and the build gave ins; leaves it zeroed. */
void otc_instance_release(struct otc_instance *ins);
/* init() then start(); logs and returns the first failure. */
int  otc_instance_init_start(struct otc_instance *ins);
/* shutdown() (idempotent, safe without start). */
void otc_instance_shutdown(struct otc_instance *ins);
/* A receiver that feeds at least one pipeline. */
bool otc_receiver_used(const struct otc_instance *r);

#endif
