/* engine.h - the pipeline graph built from the config: shared receiver and
 * exporter instances, per-pipeline processor chains, the queues and threads
 * between them. Built, started, stopped and reloaded on the main thread.
 * The parts live in files by job: graph.c (build), service.c (the service
 * section), instance.c, exporter_helper.c, pipeline.c, ingest.c,
 * persistent_queue.c, engine.c (start, stop, destroy) and reload.c. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_ENGINE_H
#define OTC_CORE_ENGINE_H

#include <stdio.h>

#include "config.h"
#include "exporter_helper.h"
#include "ingest.h"
#include "otc/otc_component.h"
#include "otc/otc_queue.h"
#include "pipeline.h"
#include "service.h"
#include "telemetry.h"
#include "wal.h"

struct otc_engine {
    struct otc_instance   **receivers;      /* each allocated alone: a reload moves them */
    char                  **receiver_conf;  /* canonical text of each receiver's config */
    size_t                  n_receivers;
    char                   *ext_conf;       /* canonical text of extensions + service.extensions */
    struct otc_exporter_rt *exporters;
    size_t                  n_exporters;
    struct otc_pipeline    *pipelines;
    size_t                  n_pipelines;
    struct otc_instance    *extensions;     /* every configured extension */
    size_t                  n_extensions;
    struct otc_instance    *connectors;     /* every configured connector */
    size_t                  n_connectors;
    struct otc_instance   **service_ext;    /* service.extensions, in start order */
    size_t                  n_service_ext;
    struct otc_telemetry    telemetry;      /* service.telemetry.metrics */
    struct otc_log_options  log;            /* service.telemetry.logs: applied at start
                                               or once a reload to this engine succeeded */
    atomic_int              state;          /* enum otc_engine_state */
    atomic_uint_fast64_t    state_since;    /* CLOCK_REALTIME ns of the last change */
    int64_t                 shutdown_timeout_ns;
    atomic_bool             stopping;  /* receivers are being stopped */
    atomic_bool             abort;     /* drain deadline passed: give up retries */
};

/* Registry of every component type compiled in (core/registry.c). */
const struct otc_component_ops *otc_registry_find(enum otc_kind kind, const char *type);
const struct otc_component_ops *const *otc_registry_all(size_t *n);
int otc_registry_check(void); /* rejects duplicate (kind, type) pairs and bad aliases */

/* Build the graph from a loaded config; every problem is added to d. Changes
 * nothing outside the new engine. */
int  otc_engine_build(struct otc_yaml *y, struct otc_diag *d, struct otc_engine **out);
void otc_engine_describe(const struct otc_engine *e, FILE *out);
/* Apply e's log options, then start extensions, exporters, pipelines (with
 * their persistent queues), receivers and the metrics endpoint. */
int  otc_engine_start(struct otc_engine *e);
/* Stop receivers, drain pipelines and exporters within shutdown_timeout. */
void otc_engine_stop(struct otc_engine *e);
void otc_engine_destroy(struct otc_engine *e);
/* Replace the running engine old by next (built, not started): receivers whose
 * id, settings and signals are unchanged keep running (and their sockets) and
 * are switched to next's pipelines; the others are stopped or started; old's
 * pipelines drain to old's exporters within shutdown_timeout. On OTC_OK old is
 * destroyed, next runs and its log options apply; on an error old runs
 * untouched (log level and encoding included) and next is destroyed.
 * Main thread. */
int  otc_engine_reload(struct otc_engine *old, struct otc_engine *next);

/* Shared by engine.c and reload.c. */
void otc_engine_set_state(struct otc_engine *e, enum otc_engine_state st);
/* Start e's used exporters, then each pipeline. */
int  otc_engine_start_pipelines(struct otc_engine *e);
/* Register every instance /metrics shows (before the metrics thread runs). */
int  otc_engine_telemetry_register(struct otc_engine *e);

#endif
