/* service.h - the `service:` section of the config, read through one option
 * table: shutdown_timeout, extensions, telemetry.logs and telemetry.metrics
 * (the pipelines are the graph builder's). Reading it changes nothing outside
 * the engine being built; the log options reach the process only when that
 * engine starts or a reload to it succeeds. Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_SERVICE_H
#define OTC_CORE_SERVICE_H

#include <stdbool.h>

#include "config.h"
#include "otc/otc_log.h"

struct otc_engine;

/* service.telemetry.logs as a config asks for it; what it leaves out stays as it is. */
struct otc_log_options {
    bool               level_set;
    enum otc_log_level level;
    bool               encoding_set;
    bool               json;
};

/* Read the service section into e (shutdown_timeout, service.extensions,
 * telemetry, log options). *svc gets the section (NULL when it is missing or
 * not a mapping) and *pipelines its pipelines node (NULL when absent). Every
 * problem is added to d. */
int  otc_service_build(struct otc_engine *e, struct otc_yaml *y, yaml_node_t **svc,
                       yaml_node_t **pipelines, struct otc_diag *d);
/* Make o the process's log level and encoding. */
void otc_log_options_apply(const struct otc_log_options *o);

#endif
