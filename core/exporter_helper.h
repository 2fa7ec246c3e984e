/* exporter_helper.h - what the engine wraps around every exporter (otelcol's
 * exporterhelper): the shared options (timeout, sending_queue,
 * retry_on_failure), the sending queue, back-off and retries, the async send
 * slots and the exporter threads. Built and started on the main thread; the
 * queue is fed by pipeline workers and receivers, drained by exporter threads. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_EXPORTER_HELPER_H
#define OTC_CORE_EXPORTER_HELPER_H

#include <pthread.h>

#include "otc/otc_component.h"
#include "circuit_breaker.h"
#include "otc/otc_queue.h"
#include "wal.h"

struct otc_engine;

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
    char   *storage;  /* sending_queue.storage: a storage extension id, or NULL */
    int     sizer;    /* sending_queue.sizer: index of requests, items, bytes */
    /* otelcol options accepted for compatibility (see the table's descriptions) */
    bool    block_on_overflow;
    bool    wait_for_result;
    bool    batch_enabled;       /* sending_queue.batch present */
    int64_t batch_flush_timeout_ns;
    int64_t batch_min_size;
    int64_t batch_max_size;
    int     batch_sizer;
    /* circuit_breaker */
    bool    cb_enabled;
    int64_t cb_failure_threshold;
    int64_t cb_recovery_ns;
    int64_t cb_half_open;
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
    struct otc_breaker           breaker;   /* circuit_breaker (disabled: every call passes) */
    bool                         used;
    uint64_t                     wal_key;   /* otc_wal_exporter_key(ins.id): names it in
                                               the persistent queues' progress */
};

/* The circuit breaker of an exporter (circuit_breaker options), for stages
 * that route around an exporter whose backend is down (failover): any
 * thread, lock-free reads. exporter is an instance the engine built as an
 * exporter. otc_exporter_circuit_open is true while the circuit is open or
 * half-open (probing), false while closed or when the breaker is disabled.
 * otc_exporter_circuit_changes counts the state changes so far: a poller
 * that sees it move reads the state again (a cheap poll, no callback). */
enum otc_circuit_state otc_exporter_circuit_state(const struct otc_instance *exporter);
bool     otc_exporter_circuit_open(const struct otc_instance *exporter);
uint64_t otc_exporter_circuit_changes(const struct otc_instance *exporter);

/* The exporter helper option table (timeout, sending_queue, retry_on_failure,
 * circuit_breaker). */
const struct otc_config_entry *otc_exporter_helper_map(void);

/* What sending_queue.queue_size counts in the persistent queue. */
enum otc_wal_sizer otc_exporter_sizer(const struct otc_exporter_settings *set);

/* Hand b to rt's queue; OTC_EAGAIN when full (b stays the caller's). Pipeline
 * workers and receivers. */
int  otc_exporter_enqueue(struct otc_exporter_rt *rt, struct otc_batch *b);
/* items of signal s will not be delivered because shutdown_timeout passed:
 * counted in send_failed (queued) or enqueue_failed, and in shutdown_lost. */
void otc_exporter_lost(struct otc_exporter_rt *rt, enum otc_signal s, size_t items, bool queued);
/* Queues, init() and start() of the exporter, then its threads. Main thread. */
int  otc_exporter_start(struct otc_engine *e, struct otc_exporter_rt *rt);
/* No more input: the threads exit once the queues are empty. Main thread. */
void otc_exporter_close(struct otc_exporter_rt *rt);
/* Free what rt holds (queued batches, retries, options, the instance); its
 * threads were joined. Main thread. */
void otc_exporter_release(struct otc_exporter_rt *rt);

#endif
