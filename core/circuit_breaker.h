/* circuit_breaker.h - the exporter helper's circuit breaker (circuit_breaker.*
 * options): closed, it counts consecutive retryable failures and opens at
 * failure_threshold; open, it refuses calls until recovery_timeout has passed;
 * half-open, it lets half_open_requests probes through, which close it (all
 * succeeded) or open it again (one failed). Callers take a ticket before each
 * export call and give it back with the call's outcome. Any thread: one mutex,
 * the state itself readable without it. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_CORE_CIRCUIT_BREAKER_H
#define OTC_CORE_CIRCUIT_BREAKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "otc/otc_component.h"

enum otc_circuit_state { OTC_CIRCUIT_CLOSED = 0, OTC_CIRCUIT_OPEN = 1, OTC_CIRCUIT_HALF_OPEN = 2 };

/* Tickets (otc_breaker_acquire): who may call. */
#define OTC_BRK_REFUSED (-1) /* no call now: wait and ask again */
#define OTC_BRK_NONE    0    /* breaker disabled: no bookkeeping */
#define OTC_BRK_CALL    1    /* a call while closed */
#define OTC_BRK_PROBE   2    /* a probe while half-open */

/* What a call's ticket reports. */
enum otc_brk_outcome {
    OTC_BRK_OK,      /* the backend answered (sent, or refused the data for good) */
    OTC_BRK_FAIL,    /* a retryable failure: unreachable, UNAVAILABLE, 503, ... */
    OTC_BRK_UNUSED,  /* no call was made with the ticket */
};

struct otc_breaker {
    bool                 enabled;
    int64_t              threshold;   /* failure_threshold */
    int64_t              recovery_ns; /* recovery_timeout */
    int64_t              half_open;   /* half_open_requests */
    struct otc_instance *ins;         /* for its log lines */
    _Atomic int          state;       /* enum otc_circuit_state */
    atomic_uint_fast64_t changes;     /* state changes so far */
    pthread_mutex_t      lock;        /* the fields below */
    int64_t              failures;    /* consecutive, while closed */
    int64_t              calls;       /* tickets out while closed */
    int64_t              probes;      /* probe tickets out while half-open */
    int64_t              probes_ok;   /* probes of this half-open period that succeeded */
    uint64_t             open_until;  /* CLOCK_MONOTONIC ns: when half-open may start */
    struct otc_metric    m_state;     /* otelcol_exporter_circuit_state */
    bool                 ready;       /* init done (lock, metric) */
};

/* Set up b from the options (enabled false: every call passes, nothing is
 * counted); registers the state gauge on ins. */
int  otc_breaker_init(struct otc_breaker *b, struct otc_instance *ins, bool enabled,
                      int64_t threshold, int64_t recovery_ns, int64_t half_open);
void otc_breaker_destroy(struct otc_breaker *b);
/* A ticket for one call at now_ns, or OTC_BRK_REFUSED. */
int  otc_breaker_acquire(struct otc_breaker *b, uint64_t now_ns);
/* Give back a ticket with the call's outcome; reason (may be NULL) goes into
 * the log line when this opens the circuit. */
void otc_breaker_release(struct otc_breaker *b, int ticket, enum otc_brk_outcome o,
                         const char *reason, uint64_t now_ns);
/* Would otc_breaker_acquire give a ticket now? (no ticket taken) */
bool otc_breaker_would_admit(struct otc_breaker *b, uint64_t now_ns);

static inline enum otc_circuit_state otc_breaker_state(const struct otc_breaker *b)
{
    return (enum otc_circuit_state)atomic_load_explicit((_Atomic int *)&b->state,
                                                        memory_order_acquire);
}

#endif
