/* pipeline.h - one pipeline: its receivers, its own processor chain, its
 * exporters, and the queue its worker thread drains (running the processors
 * and fanning out to the exporters). Built and started on the main thread;
 * the loop runs on the pipeline's worker thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_PIPELINE_H
#define OTC_CORE_PIPELINE_H

#include <pthread.h>

#include "otc/otc_component.h"
#include "otc/otc_queue.h"

#define OTC_PIPELINE_QUEUE_SLOTS 4096 /* batches a pipeline's queue can hold: its byte
                                         budget (queue.max_bytes) is what binds */
#define OTC_PIPELINE_QUEUE_MIN_BYTES (4u << 20)  /* default budget: 1/16 of the memory, */
#define OTC_PIPELINE_QUEUE_MAX_BYTES (64u << 20) /* within these bounds */
#define OTC_PIPELINE_QUEUE_WAIT_NS 1000000000LL /* queue.max_wait's default: 1s */
#define OTC_PIPELINE_MAX_WORKERS 16     /* worker threads of one pipeline, at most */
#define OTC_PIPELINE_HELP_BACKLOG 4   /* requests waiting that wake the other workers */
#define OTC_WORKER_IDLE_MS 100     /* pipeline and exporter threads look at their
                                      closing flag (and timers) at least this often */

struct otc_exporter_rt;
struct otc_wal;

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
    struct otc_instance    **connectors;  /* connectors it exports to (after its exporters) */
    size_t                   n_connectors;
    struct otc_instance    **conn_in;     /* connectors it receives from */
    size_t                   n_conn_in;
    unsigned                 rank;        /* connector hops from a pipeline fed by receivers
                                             only: pipelines drain in rank order */
    struct otc_queue         queue;       /* popped by its workers */
    int64_t                  workers_cfg; /* service.pipelines.<id>.workers (0: auto) */
    unsigned                 n_workers;   /* worker threads (decided at start) */
    unsigned                 n_started;
    pthread_t                threads[OTC_PIPELINE_MAX_WORKERS];
    atomic_uint              running;     /* workers not yet out of their loop */
    pthread_mutex_t          timer_lock;  /* one worker at a time runs the timers */
    pthread_mutex_t          help_lock;   /* workers above 0 sleep on help_wake until */
    pthread_cond_t           help_wake;   /* worker 0 sees a backlog */
    atomic_uint              helpers_idle;
    /* admission by bytes (service.pipelines.<id>.queue): receivers reserve a
     * request's bytes before handing it over, the worker gives them back when
     * it takes the request */
    uint64_t                 queue_max_bytes;
    atomic_uint_fast64_t     queued_bytes;
    atomic_uint_fast64_t     queue_refused;  /* requests refused by the budget */
    int64_t                  queue_max_wait_ns; /* queue.max_wait: how long a receiver's
                                                   request may wait for room (0: none) */
    atomic_uint_fast64_t     queue_waited;   /* requests that waited for room */
    atomic_bool              closing;
    /* run-to-completion: a receiver runs the processors on its own thread
     * when nothing waits in the queue (no hand-off); what an exporter's full
     * queue refuses then goes to worker 0, which waits for room */
    bool                     inline_ok;
    atomic_uint              inline_runs;  /* receivers inside the processors now */
    pthread_mutex_t          resume_lock;
    struct fanout_resume    *resume;       /* for worker 0: batch and exporter */
    atomic_bool              resume_pending;
    atomic_uint_fast64_t     worker0_wake_ns; /* when worker 0 wakes, timers or not */
    struct otc_instance     *storage;     /* storage extension of its exporters, or NULL */
    struct otc_wal          *wal;         /* write-ahead log at the entrance (storage) */
    pthread_t                replay_thread; /* feeds what earlier runs left into queue */
    bool                     replay_started;
    atomic_bool              replay_stop;
};

/* Its queue, its processors' init() and start(), then its worker threads:
 * as many as configured (auto: the CPUs the process may use) when every
 * processor is concurrent, else one. Main thread. */
int otc_pipeline_start(struct otc_pipeline *p);
/* On a receiver's thread: run b through p's processors here when p allows it
 * and nothing waits in its queue, every exporter queue has room and p is not
 * closing. False: b is still the caller's (queue it). */
bool otc_pipeline_run_inline(struct otc_pipeline *p, struct otc_batch *b);
/* Wake p's idle workers above 0 when requests are waiting (worker 0 after
 * each pop, receivers after each push). Any thread. */
void otc_pipeline_maybe_help(struct otc_pipeline *p);
/* How many workers p would run with workers_cfg (0: auto); why not, in err,
 * when workers_cfg asks for more than one and a processor cannot share. */
unsigned otc_pipeline_workers(const struct otc_pipeline *p, char *err, size_t errlen);

#endif
