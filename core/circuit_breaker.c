/* circuit_breaker.c - the exporter helper's circuit breaker: tickets per
 * export call, the closed / open / half-open state machine, its gauge and one
 * log line per change of state. Called from exporter threads and from
 * whichever thread starts or ends an async attempt; one mutex per breaker. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "circuit_breaker.h"

static const char *const state_names[] = {"closed", "open", "half-open"};

int otc_breaker_init(struct otc_breaker *b, struct otc_instance *ins, bool enabled,
                     int64_t threshold, int64_t recovery_ns, int64_t half_open)
{
    memset(b, 0, sizeof(*b));
    b->enabled = enabled;
    b->threshold = threshold > 0 ? threshold : 1;
    b->recovery_ns = recovery_ns > 0 ? recovery_ns : 1;
    b->half_open = half_open > 0 ? half_open : 1;
    b->ins = ins;
    atomic_init(&b->state, OTC_CIRCUIT_CLOSED);
    if (!enabled) {
        return OTC_OK;
    }
    pthread_mutex_init(&b->lock, NULL);
    b->ready = true;
    b->m_state.name = "otelcol_exporter_circuit_state";
    b->m_state.unit = "1";
    b->m_state.kind = OTC_METRIC_GAUGE;
    b->m_state.help = "State of the exporter's circuit breaker: 0 closed, 1 open, 2 half-open";
    return otc_metric_register(ins, &b->m_state);
}

void otc_breaker_destroy(struct otc_breaker *b)
{
    if (b->ready) {
        pthread_mutex_destroy(&b->lock);
        b->ready = false;
    }
}

/* Under the lock: the one place the state changes (gauge, counter, log line). */
static void set_state(struct otc_breaker *b, enum otc_circuit_state s, const char *why)
{
    atomic_store_explicit(&b->state, s, memory_order_release);
    otc_metric_set(&b->m_state, s);
    atomic_fetch_add(&b->changes, 1);
    if (s == OTC_CIRCUIT_OPEN) {
        otc_log_warn(b->ins, "circuit breaker %s: %s; no export calls for %.3gs, the data "
                     "waits in the sending queue", state_names[s], why,
                     (double)b->recovery_ns / 1e9);
    } else {
        otc_log_info(b->ins, "circuit breaker %s: %s", state_names[s], why);
    }
}

/* Under the lock: open now (until now + recovery_timeout). */
static void open_circuit(struct otc_breaker *b, uint64_t now, const char *why)
{
    b->open_until = now + (uint64_t)b->recovery_ns;
    b->probes = 0;
    b->probes_ok = 0;
    set_state(b, OTC_CIRCUIT_OPEN, why);
}

/* Under the lock: a ticket, or OTC_BRK_REFUSED; take = false only looks. */
static int admit_locked(struct otc_breaker *b, uint64_t now, bool take)
{
    switch (atomic_load_explicit(&b->state, memory_order_relaxed)) {
    case OTC_CIRCUIT_CLOSED:
        /* calls under way and consecutive failures together stay within the
         * threshold: a backend that starts failing sees at most failure_threshold
         * calls before the circuit opens (so num_consumers above the threshold
         * does not add concurrency) */
        if (b->calls >= b->threshold - b->failures) {
            return OTC_BRK_REFUSED;
        }
        b->calls += take;
        return OTC_BRK_CALL;
    case OTC_CIRCUIT_OPEN:
        if (now < b->open_until) {
            return OTC_BRK_REFUSED;
        }
        if (!take) {
            return OTC_BRK_PROBE;
        }
        {
            char why[96];
            snprintf(why, sizeof(why), "recovery_timeout passed, probing with %lld request%s",
                     (long long)b->half_open, b->half_open == 1 ? "" : "s");
            set_state(b, OTC_CIRCUIT_HALF_OPEN, why);
        }
        /* fall through */
    default:
        if (b->probes + b->probes_ok >= b->half_open) {
            return OTC_BRK_REFUSED;
        }
        b->probes += take;
        return OTC_BRK_PROBE;
    }
}

int otc_breaker_acquire(struct otc_breaker *b, uint64_t now_ns)
{
    int t;

    if (!b->enabled) {
        return OTC_BRK_NONE;
    }
    pthread_mutex_lock(&b->lock);
    t = admit_locked(b, now_ns, true);
    pthread_mutex_unlock(&b->lock);
    return t;
}

bool otc_breaker_would_admit(struct otc_breaker *b, uint64_t now_ns)
{
    int t;

    if (!b->enabled) {
        return true;
    }
    pthread_mutex_lock(&b->lock);
    t = admit_locked(b, now_ns, false);
    pthread_mutex_unlock(&b->lock);
    return t != OTC_BRK_REFUSED;
}

void otc_breaker_release(struct otc_breaker *b, int ticket, enum otc_brk_outcome o,
                         const char *reason, uint64_t now_ns)
{
    enum otc_circuit_state s;
    char why[320];

    if (!b->enabled || (ticket != OTC_BRK_CALL && ticket != OTC_BRK_PROBE)) {
        return;
    }
    pthread_mutex_lock(&b->lock);
    s = atomic_load_explicit(&b->state, memory_order_relaxed);
    if (ticket == OTC_BRK_CALL) {
        b->calls--;
        /* calls that started while closed count only while it is still closed */
        if (s == OTC_CIRCUIT_CLOSED && o == OTC_BRK_OK) {
            b->failures = 0;
        } else if (s == OTC_CIRCUIT_CLOSED && o == OTC_BRK_FAIL && ++b->failures >= b->threshold) {
            snprintf(why, sizeof(why), "%lld consecutive failures (failure_threshold), the "
                     "last: %.200s", (long long)b->failures, reason ? reason : "export failed");
            b->failures = 0;
            open_circuit(b, now_ns, why);
        }
    } else {
        b->probes--;
        if (s == OTC_CIRCUIT_HALF_OPEN && o == OTC_BRK_FAIL) {
            snprintf(why, sizeof(why), "a probe failed: %.200s", reason ? reason : "export failed");
            open_circuit(b, now_ns, why);
        } else if (s == OTC_CIRCUIT_HALF_OPEN && o == OTC_BRK_OK &&
                   ++b->probes_ok >= b->half_open) {
            snprintf(why, sizeof(why), "%lld probe%s succeeded, sending again",
                     (long long)b->probes_ok, b->probes_ok == 1 ? "" : "s");
            b->failures = 0;
            set_state(b, OTC_CIRCUIT_CLOSED, why);
        }
    }
    pthread_mutex_unlock(&b->lock);
}
