/* engine.h - the pipeline graph built from the config: shared receiver and
 * exporter instances, per-pipeline processor chains, the queues and threads
 * between them. Built and stopped on the main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_ENGINE_H
#define OTC_CORE_ENGINE_H

#include <stdio.h>

#include "config.h"
#include "otc/otc_component.h"
#include "otc/otc_queue.h"
#include "telemetry.h"
#include "wal.h"

#define OTC_PIPELINE_QUEUE_SIZE 64 /* batches handed to a pipeline's worker: absorbs the
                                      client bursts that arrive while a stage is busy */

/* The exporter helper's options (otelcol exporterhelper), shared by every exporter. */
struct otc_exporter_settings {
    int64_t timeout_ns;
    bool    queue_enabled;
    int64_t num_consumers;
    int64_t queue_size;
    bool    retry_enabled;
    int64_t initial_interval_ns;
    int64_t max_interval_ns;
    int64_t max_elapsed_ns;
    double  multiplier;
    double  randomization_factor;
    char   *storage;  /* sending_queue.storage: a file_storage extension id, or NULL */
};

/* The exporter helper's own counters, beyond the otelcol ones it keeps in
 * rt->ins.counters (sent, send_failed, enqueue_failed: items per signal, read by
 * the /metrics endpoint). Atomics bumped per batch; any thread may read them.
 * Each *_items array is a part of send_failed (shutdown_lost: of send_failed
 * or enqueue_failed), split by cause. */
struct otc_exporter_stats {
    atomic_uint_fast64_t attempts;                              /* export calls made */
    atomic_uint_fast64_t retries;                               /* calls followed by a retry */
    atomic_uint_fast64_t permanent_items[OTC_SIGNAL_COUNT];     /* non-retryable answer */
    atomic_uint_fast64_t exhausted_items[OTC_SIGNAL_COUNT];     /* max_elapsed_time reached */
    atomic_uint_fast64_t partial_rejected_items[OTC_SIGNAL_COUNT]; /* partial_success */
    atomic_uint_fast64_t shutdown_lost_items[OTC_SIGNAL_COUNT]; /* still unsent when
                                                                   shutdown_timeout passed */
};

/* Exponential back-off of one batch (otelcol's, from cenkalti/backoff): each
 * wait is the current interval +/- randomization_factor of it, uniformly; the
 * interval starts at initial_interval and grows by multiplier up to
 * max_interval. rng is the state of the jitter's generator (seeded). */
struct otc_backoff {
    double   interval_ns;
    uint64_t rng;
};

void    otc_backoff_init(struct otc_backoff *bo, const struct otc_exporter_settings *set,
                         uint64_t seed);
/* The next wait in ns; advances the interval. */
int64_t otc_backoff_next(struct otc_backoff *bo, const struct otc_exporter_settings *set);

struct otc_exporter_rt {
    struct otc_instance          ins;
    struct otc_exporter_settings set;
    struct otc_exporter_stats    stats;
    struct otc_queue             queue;
    bool                         async;         /* first attempts through ops->send */
    unsigned                     max_in_flight; /* async: batches under way at most */
    atomic_uint                  in_flight;     /* async: batches under way (with retries) */
    struct otc_queue             retry_queue;   /* async: batches waiting for a retry thread */
    pthread_t                   *threads;
    unsigned                     n_threads;
    atomic_bool                  closing;   /* no more input: exit when the queue is empty */
    atomic_uint_fast64_t         last_log_s;
    atomic_uint_fast64_t         drop_log_s;     /* second of the current drop-line window */
    atomic_uint                  drop_log_n;     /* drop lines written in that second */
    atomic_uint_fast64_t         drop_log_held;  /* drop lines held back since the last one */
    bool                         used;
};

struct otc_pipeline {
    char                    *id;          /* "traces" or "traces/name" */
    enum otc_signal          signal;
    struct otc_engine       *engine;
    struct otc_instance    **receivers;
    size_t                   n_receivers;
    struct otc_instance     *processors;  /* owned: one instance per pipeline */
    size_t                   n_processors;
    struct otc_instance    **admit;       /* processors with an admit() gate */
    size_t                   n_admit;
    bool                     has_timers;
    struct otc_exporter_rt **exporters;
    size_t                   n_exporters;
    struct otc_queue         queue;
    pthread_t                thread;
    bool                     thread_started;
    atomic_bool              closing;
    struct otc_instance     *storage;     /* file_storage of its exporters, or NULL */
    struct otc_wal          *wal;         /* write-ahead log at the entrance (storage) */
};

/* What a receiver feeds, per signal: immutable once published in
 * otc_instance.feed_table; a reload publishes a new one and frees the old one
 * only after every otc_receiver_deliver() that could hold it has returned. */
struct otc_feed_table {
    struct otc_engine    *engine;
    unsigned              n[OTC_SIGNAL_COUNT];
    struct otc_pipeline **p[OTC_SIGNAL_COUNT];
};

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
    struct otc_instance   **service_ext;    /* service.extensions, in start order */
    size_t                  n_service_ext;
    struct otc_telemetry    telemetry;      /* service.telemetry.metrics */
    atomic_int              state;          /* enum otc_engine_state */
    atomic_uint_fast64_t    state_since;    /* CLOCK_REALTIME ns of the last change */
    int64_t                 shutdown_timeout_ns;
    atomic_bool             stopping;  /* receivers are being stopped */
    atomic_bool             abort;     /* drain deadline passed: give up retries */
};

/* Registry of every component type compiled in (core/registry.c). */
const struct otc_component_ops *otc_registry_find(enum otc_kind kind, const char *type);
const struct otc_component_ops *const *otc_registry_all(size_t *n);
int otc_registry_check(void); /* rejects duplicate (kind, type) pairs */

/* Build the graph from a loaded config; every problem is added to d. */
/* The exporter helper option table (timeout, sending_queue, retry_on_failure). */
const struct otc_config_entry *otc_exporter_helper_map(void);

int  otc_engine_build(struct otc_yaml *y, struct otc_diag *d, struct otc_engine **out);
void otc_engine_describe(const struct otc_engine *e, FILE *out);
int  otc_engine_start(struct otc_engine *e);
/* Stop receivers, drain pipelines and exporters within shutdown_timeout. */
void otc_engine_stop(struct otc_engine *e);
void otc_engine_destroy(struct otc_engine *e);
/* Replace the running engine old by next (built, not started): receivers whose
 * id, settings and signals are unchanged keep running (and their sockets) and
 * are switched to next's pipelines; the others are stopped or started; old's
 * pipelines drain to old's exporters within shutdown_timeout. On OTC_OK old is
 * destroyed and next runs; on an error old runs untouched and next is destroyed.
 * Main thread. */
int  otc_engine_reload(struct otc_engine *old, struct otc_engine *next);

#endif
