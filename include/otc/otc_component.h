/* otc_component.h - the one interface every receiver, processor and exporter
 * exports (an ops table), and the instance the engine builds around it. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_COMPONENT_H
#define OTC_INCLUDE_COMPONENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otc_batch.h"
#include "otc_config_map.h"
#include "otc_log.h"
#include "otc_metric.h"
#include "otc_rc.h"
#include "otc_signal.h"

/* A connector (otelcol's) is the exporter of one pipeline and the receiver of
 * others of the same signal: its consume() runs on the exporting pipeline's
 * workers and passes data on with otc_connector_emit(). */
enum otc_kind { OTC_RECEIVER, OTC_PROCESSOR, OTC_EXPORTER, OTC_EXTENSION, OTC_CONNECTOR };

struct otc_instance;
struct otc_export_call;
struct otc_auth_ops;
struct otc_storage_ops;
struct otc_admission;

struct otc_component_ops {
    const char                    *type;       /* key used in pipeline.yaml */
    enum otc_kind                  kind;
    unsigned                       signals;    /* OTC_SIG_* bits */
    bool                           mutates;    /* changes batches in place */
    bool                           concurrent; /* consume may run on several threads at once:
                                                  exporters: sending_queue.num_consumers;
                                                  processors: a pipeline's workers (timer and
                                                  flush then also race with consume) */
    size_t                         ctx_size;   /* engine callocs this, then applies config_map */
    const struct otc_config_entry *config_map; /* OTC_CFG_END-terminated */
    /* Cross-field validation after the config map was applied; writes a reason. */
    int  (*validate)(const void *ctx, char *err, size_t errlen);
    int  (*init)(struct otc_instance *ins, void *ctx);
    int  (*start)(struct otc_instance *ins, void *ctx);
    /* Takes ownership of b, whatever it returns.
     * Processors: called on the pipeline's worker thread; pass on with otc_next().
     * Connectors: called on the exporting pipeline's workers (several at once:
     * must be thread-safe); pass on with otc_connector_emit().
     * Exporters: called on the exporter's own thread; OTC_EIO asks for a retry
     * (then ownership stays with the engine), OTC_EPERM drops the batch. */
    int  (*consume)(struct otc_instance *ins, void *ctx, struct otc_batch *b);
    /* Exporters, optional: start sending b and return without waiting for the
     * answer. Takes ownership of b, whatever it returns. OTC_OK: the attempt
     * is under way, and the exporter calls otc_export_done(call, rc) once when
     * it ends, on any thread, after filling call->result; anything else: the
     * attempt failed at once (call->result says why, as for consume()). The
     * engine sends first attempts this way, at most sending_queue.num_consumers
     * at once, from whichever thread queued the batch or finished the previous
     * attempt (the shared gRPC thread among them: send() must not block), with
     * the batch's bytes already encoded; retries go through consume() on the
     * exporter's threads. */
    int  (*send)(struct otc_instance *ins, void *ctx, struct otc_batch *b,
                 struct otc_export_call *call);
    int  (*flush)(struct otc_instance *ins, void *ctx);
    /* Processors: called on the worker thread once now >= ins->timer_due_ns
     * (0 = no timer); the stage sets the next due time itself. */
    int  (*timer)(struct otc_instance *ins, void *ctx, uint64_t now_ns);
    /* Processors: called on receiver threads before a batch of 'bytes' enters the
     * pipeline; false refuses it (the receiver answers UNAVAILABLE). Must be
     * thread-safe and cheap. */
    bool (*admit)(struct otc_instance *ins, void *ctx, size_t bytes);
    void (*shutdown)(struct otc_instance *ins, void *ctx); /* idempotent, safe without start */
    void (*destroy)(void *ctx);                            /* safe on a half-built ctx */
    /* Extensions: the interfaces this one implements, NULL where it does not. */
    const struct otc_auth_ops    *auth;    /* an authenticator (otc_auth.h) */
    const struct otc_storage_ops *storage; /* a storage provider (otc_storage.h) */
    /* Processors, optional: the checks of the options that depend on the signal
     * of the pipeline the instance is in (otelcol validates some options per
     * signal); called after validate() for each pipeline, writes a reason that
     * starts with the option's key path where there is one. */
    int  (*validate_signal)(const void *ctx, enum otc_signal s, char *err, size_t errlen);
    /* Connectors, optional: called once the graph is built, to resolve and
     * check the pipelines the options name (otc_connector_output); writes a
     * reason that starts with the option's key path. */
    int  (*link)(struct otc_instance *ins, void *ctx, char *err, size_t errlen);
    /* Processors, optional: admit() that sees the request and the call, on
     * receiver threads before the receiver answers (struct otc_admission).
     * OTC_OK admits; OTC_ETHROTTLED refuses with a delay (a->retry_after_ns:
     * the receiver answers RESOURCE_EXHAUSTED with RetryInfo, or HTTP 429 with
     * Retry-After); OTC_ELIMIT refuses for good (RESOURCE_EXHAUSTED without
     * RetryInfo, or 413); OTC_EAGAIN refuses as admit() does. a->reason may
     * say why. Must be thread-safe and must not keep a->b. */
    int  (*admit_request)(struct otc_instance *ins, void *ctx, struct otc_admission *a);
};

/* Every component compiled in: defined by components.c at the top of the tree,
 * the one place that names them all (otelcol's components.go). The engine
 * looks types up in it (core/registry.c); components never read it. */
extern const struct otc_component_ops *const otc_components[];
extern const size_t otc_components_len;

/* A second type name for a component (otelcol's WithDeprecatedTypeAlias, used
 * when a type is renamed): `alias` in a config means the component `type`.
 * Defined next to otc_components in components.c. */
struct otc_component_alias {
    enum otc_kind kind;
    const char   *alias;
    const char   *type;
};
extern const struct otc_component_alias otc_component_aliases[];
extern const size_t otc_component_aliases_len;

/* The ops of the component of kind and type (an alias too), or NULL: how a
 * component built on another one (the load_balancing exporter's per-backend
 * otlp exporters) reaches it without naming it. Any thread. */
const struct otc_component_ops *otc_component_find(enum otc_kind kind, const char *type);

/* Self-observability counters of one instance, by signal (otelcol names in comments). */
struct otc_counters {
    atomic_uint_fast64_t accepted[OTC_SIGNAL_COUNT];       /* receiver_accepted_* */
    atomic_uint_fast64_t refused[OTC_SIGNAL_COUNT];        /* receiver_refused_* */
    atomic_uint_fast64_t sent[OTC_SIGNAL_COUNT];           /* exporter_sent_* */
    atomic_uint_fast64_t send_failed[OTC_SIGNAL_COUNT];    /* exporter_send_failed_* */
    atomic_uint_fast64_t enqueue_failed[OTC_SIGNAL_COUNT]; /* exporter_enqueue_failed_* */
    atomic_uint_fast64_t dropped[OTC_SIGNAL_COUNT];        /* processor drops */
    atomic_uint_fast64_t deduplicated[OTC_SIGNAL_COUNT];   /* dedup: duplicates removed
                                                              (also counted in dropped) */
    /* Receivers: the part of accepted/refused that came over OTLP/HTTP (the rest
     * came over gRPC); otc_receiver_deliver counts it from otc_batch.transport. */
    atomic_uint_fast64_t http_accepted[OTC_SIGNAL_COUNT];
    atomic_uint_fast64_t http_refused[OTC_SIGNAL_COUNT];
    /* Processors: items handed to the stage and items it passed on, counted by
     * the engine at each hand-off (processor_incoming_items / outgoing_items). */
    atomic_uint_fast64_t incoming[OTC_SIGNAL_COUNT];
    atomic_uint_fast64_t outgoing[OTC_SIGNAL_COUNT];
    /* Exporters: batches taken off the queue and not yet done with, retries
     * included (exporter_in_flight_requests). */
    atomic_int_fast64_t  in_flight;
    /* The instance's own metrics (otc_metric_register), newest first. */
    struct otc_metric *_Atomic metrics;
};

struct otc_pipeline;
struct otc_engine;
struct otc_feed_table;

/* Where a stage sends its output: the next processor, or the pipeline's fan-out. */
struct otc_next {
    struct otc_instance *ins;       /* next processor, or NULL for the exporters' fan-out */
    struct otc_pipeline *pipeline;
};

struct otc_instance {
    const struct otc_component_ops *ops;
    char                           *id;        /* "type" or "type/name" as in the config */
    void                           *ctx;
    struct otc_engine              *engine;
    struct otc_next                 next;      /* processors only */
    int64_t                         timeout_ns; /* exporters: the helper's `timeout` */
    _Atomic uint64_t                timer_due_ns; /* processors: CLOCK_MONOTONIC time of the
                                                     next timer() call, 0 = none (set by any
                                                     worker, read by the one running timers) */
    struct otc_pipeline           **feeds[OTC_SIGNAL_COUNT]; /* receivers, connectors: pipelines fed */
    unsigned                        n_feeds[OTC_SIGNAL_COUNT]; /* (as built; nonzero = signal served) */
    struct otc_feed_table *_Atomic  feed_table; /* receivers: what otc_receiver_deliver uses
                                                   (the engine swaps it on reload) */
    struct otc_counters             counters;
    unsigned                        signals;   /* signals this instance is used for */
    bool                            started;
};

/* Client metadata of a call (gRPC metadata, HTTP headers), for stages that
 * key by it: a receiver passes it when its include_metadata is true. */
struct otc_client_meta {
    /* The idx-th value (0, 1, ...) of key, matched whatever its case, with its
     * length in *len (not NUL-terminated); NULL past the last. */
    const char *(*get)(const void *src, const char *key, size_t idx, size_t *len);
    const void  *src;
};

/* One request on its way in: what a receiver knows of the call, and what
 * admission gates (ops->admit_request) answer. */
struct otc_admission {
    struct otc_batch             *b;        /* engine: the request (read-only; may be
                                               undecoded) */
    const struct otc_client_meta *client;   /* receiver: metadata, or NULL */
    int64_t                       retry_after_ns; /* gate: OTC_ETHROTTLED's delay */
    char                          reason[160];    /* gate: why it refused ("" = default) */
    /* receiver: the request may wait for room in its pipelines' byte budgets:
     * when one is full and nothing was handed over yet, delivery returns
     * OTC_EFULL and b stays the receiver's, to offer again with
     * otc_receiver_redeliver (the admission gates are not run again) */
    bool                          wait;
    /* engine, with OTC_EFULL: how long the request may wait, at most (the
     * smallest service.pipelines.<id>.queue.max_wait of its pipelines) */
    int64_t                       wait_ns;
    bool                          waited;         /* engine: counted as waiting */
};

/* Processor: hand b to the next stage (takes ownership). */
int otc_next(struct otc_instance *ins, struct otc_batch *b);
/* Processor: true when a later processor of ins's pipeline changes batches in
 * place (ops->mutates). Valid from init() on, once the pipeline is built. */
bool otc_next_mutates(const struct otc_instance *ins);
/* How many of the pipeline's workers may run a processor's consume() at once
 * (1 unless every processor of the pipeline is concurrent). From init() on. */
unsigned otc_stage_workers(const struct otc_instance *ins);
/* Connector: how many pipelines of signal s list it as a receiver (its
 * outputs, in the order the config lists the pipelines), and the id of one. */
unsigned    otc_connector_outputs(const struct otc_instance *ins, enum otc_signal s);
const char *otc_connector_output_id(const struct otc_instance *ins, enum otc_signal s, unsigned i);
/* Connector: the output of signal s that is pipeline id, or -1. */
int         otc_connector_output(const struct otc_instance *ins, enum otc_signal s, const char *id);
/* Connector: true unless an exporter of output i's pipeline has its circuit
 * open or half-open (circuit_breaker). Any thread. */
bool        otc_connector_output_ready(const struct otc_instance *ins, enum otc_signal s, unsigned i);
/* Connector: hand b to output i of b's signal (takes ownership). Waits while
 * that pipeline's queue is full, as an exporter's full queue makes the
 * pipeline's worker wait, so nothing is dropped and the pressure reaches the
 * receivers; OTC_ESHUTDOWN (b counted lost) only once the shutdown timeout
 * has passed. */
int         otc_connector_emit(struct otc_instance *ins, unsigned i, struct otc_batch *b);
/* Receiver: hand b to every pipeline fed by this receiver for b->signal (takes
 * ownership). OTC_OK once every pipeline has taken it; OTC_EAGAIN when a queue
 * is full (answer UNAVAILABLE); OTC_ESHUTDOWN when stopping. */
int otc_receiver_deliver(struct otc_instance *ins, struct otc_batch *b);
/* otc_receiver_deliver with the call's side (a may be NULL): also OTC_ETHROTTLED
 * (answer RESOURCE_EXHAUSTED with RetryInfo a->retry_after_ns, or HTTP 429 with
 * Retry-After) and OTC_ELIMIT (RESOURCE_EXHAUSTED, or 413) from a pipeline's
 * admission gates, with a->reason; with a->wait set, OTC_EFULL (b not taken)
 * when a queue's byte budget is full and its pipelines allow a wait. */
int otc_receiver_deliver_call(struct otc_instance *ins, struct otc_batch *b,
                              struct otc_admission *a);
/* A request that otc_receiver_deliver_call (a->wait set) answered OTC_EFULL:
 * offer it to the pipelines' budgets again, and the persistent queues and
 * queues after them; the admission gates it passed are not run again. Takes
 * ownership of b unless it returns OTC_EFULL again (only while a->wait is
 * set: clear it for the last try). Otherwise the codes of
 * otc_receiver_deliver. Receiver threads. */
int otc_receiver_redeliver(struct otc_instance *ins, struct otc_batch *b,
                           struct otc_admission *a);
/* True when the engine is shutting down (long waits in components poll this). */
bool otc_engine_stopping(const struct otc_engine *e);
/* True once service.shutdown_timeout has passed during shutdown: an exporter
 * waiting on a call cancels it and returns OTC_EIO (the batch is counted lost). */
bool otc_engine_drain_expired(const struct otc_engine *e);

/* Exporters: what one consume() learned beyond its return code, for the
 * exporter helper's retry loop. The engine clears it before each call on the
 * calling thread; consume() fills it through otc_export_result(). */
struct otc_export_result {
    int64_t  retry_after_ns; /* OTC_EIO/OTC_EPERM: the server's RetryInfo delay (0 = none) */
    uint64_t rejected;       /* OTC_OK: items the server rejected (partial_success) */
    char     reason[256];    /* failure or partial success: status code and message */
};
struct otc_export_result *otc_export_result(void); /* this thread's record */
/* One attempt started with ops->send: the exporter fills result, then calls
 * otc_export_done. The rest belongs to the engine. */
struct otc_export_call {
    struct otc_export_result result;
    void                    *engine_data;
};
void otc_export_done(struct otc_export_call *call, int rc);
/* Lifecycle state, for the health_check extension: RUNNING only while every
 * pipeline is running. since (may be NULL): CLOCK_REALTIME ns of the change. */
enum otc_engine_state { OTC_ENGINE_STARTING, OTC_ENGINE_RUNNING, OTC_ENGINE_STOPPING };
enum otc_engine_state otc_engine_state(const struct otc_engine *e, uint64_t *since);
/* A started extension listed in service.extensions, by id ("bearertokenauth/x"),
 * or NULL. Receivers and exporters resolve `auth.authenticator` with it in
 * start(), then ask otc_auth_server / otc_auth_client (otc_auth.h) for its
 * interface. */
struct otc_instance *otc_engine_extension(const struct otc_engine *e, const char *id);
/* CLOCK_MONOTONIC in nanoseconds (the clock of timer_due_ns). */
uint64_t otc_now_ns(void);

const char *otc_kind_name(enum otc_kind k);

#endif
