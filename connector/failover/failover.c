/* failover.c - the `failover` connector (otelcol-contrib's
 * failoverconnector): priority_levels lists levels of pipelines; each batch
 * goes to every pipeline of the first level whose exporters all have their
 * circuit closed (circuit_breaker), or to the first level when none has.
 * Because the exporters' circuits say whether a level is healthy, it fails
 * over even when those exporters queue (otelcol's #34582), and comes back as
 * soon as the higher level's circuit closes after its probe. Levels are
 * resolved on the main thread at start-up; consume() runs on the exporting
 * pipeline's workers, several at once. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover.h"

#define MAX_LEVELS 16

struct failover_ctx {
    struct otc_cfg_tree *levels_cfg; /* priority_levels as written */
    int64_t              retry_interval_ns;
    int64_t              retry_gap_ns;
    int64_t              max_retries;
    /* per signal: each level's outputs (bits) */
    uint64_t             levels[OTC_SIGNAL_COUNT][MAX_LEVELS];
    size_t               n_levels;
    atomic_int           current[OTC_SIGNAL_COUNT]; /* the level used last, for the log */
};

#define OFF(f) offsetof(struct failover_ctx, f)

static const struct otc_config_entry failover_config[] = {
    {OTC_CFG_TREE, "priority_levels", NULL, OFF(levels_cfg), 0, 0, 0, NULL,
     "lists of pipelines, highest priority first: data goes to every pipeline of the first level "
     "whose exporters all have their circuit closed (see circuit_breaker; exporters without "
     "one count as healthy)"},
    {OTC_CFG_DURATION, "retry_interval", "10m", OFF(retry_interval_ns), 0, 0, 0, NULL,
     "otelcol: how often higher levels are tried again; accepted and checked as otelcol does "
     "(greater than retry_gap times the number of levels). otelc needs no retries: a level is "
     "used again as soon as its exporters' circuits close after their own probe "
     "(circuit_breaker.recovery_timeout)"},
    {OTC_CFG_DURATION, "retry_gap", "30s", OFF(retry_gap_ns), 0, 0, 0, NULL,
     "otelcol: the time between trying two levels; accepted and checked, see retry_interval"},
    {OTC_CFG_INT, "max_retries", "10", OFF(max_retries), 0, 0, 0, NULL,
     "otelcol: retries per level; accepted, see retry_interval"},
    OTC_CFG_END,
};

static int failover_validate(const void *vctx, char *err, size_t errlen)
{
    const struct failover_ctx *f = vctx;
    const struct otc_cfg_tree *t = f->levels_cfg;

    if (!t || t->kind != OTC_TREE_SEQ || t->n == 0) {
        snprintf(err, errlen, "priority_levels: no pipelines are defined in the priority list");
        return OTC_EINVAL;
    }
    if (t->n > MAX_LEVELS) {
        snprintf(err, errlen, "priority_levels: more than %d levels", MAX_LEVELS);
        return OTC_EINVAL;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct otc_cfg_tree *l = &t->items[i];
        if (l->kind != OTC_TREE_SEQ || l->n == 0) {
            snprintf(err, errlen, "priority_levels[%zu]: expected a list of pipeline ids", i);
            return OTC_EINVAL;
        }
        for (size_t k = 0; k < l->n; k++) {
            if (l->items[k].kind != OTC_TREE_SCALAR) {
                snprintf(err, errlen, "priority_levels[%zu][%zu]: expected a pipeline id", i, k);
                return OTC_EINVAL;
            }
        }
    }
    if (f->retry_gap_ns <= 0 || f->retry_interval_ns <= 0 ||
        f->retry_interval_ns <= f->retry_gap_ns * (int64_t)t->n) {
        snprintf(err, errlen, "retry_interval: retry_interval and retry_gap must be positive, "
                 "and retry_interval greater than retry_gap times the number of levels (%zu)", t->n);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

static int failover_link(struct otc_instance *ins, void *vctx, char *err, size_t errlen)
{
    struct failover_ctx *f = vctx;
    const struct otc_cfg_tree *t = f->levels_cfg;

    f->n_levels = t->n;
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        bool any = false;
        if (!(ins->signals & OTC_SIG_BIT(s))) {
            continue;
        }
        for (size_t i = 0; i < t->n; i++) {
            f->levels[s][i] = 0;
            for (size_t k = 0; k < t->items[i].n; k++) {
                const char *id = t->items[i].items[k].scalar;
                int o = otc_connector_output(ins, (enum otc_signal)s, id);
                bool other = false;
                for (int x = 0; o < 0 && x < OTC_SIGNAL_COUNT; x++) {
                    other |= otc_connector_output(ins, (enum otc_signal)x, id) >= 0;
                }
                if (o < 0 && !other) {
                    snprintf(err, errlen, "priority_levels[%zu][%zu]: pipeline \"%s\" does not list "
                             "%s as a receiver", i, k, id, ins->id);
                    return OTC_EINVAL;
                }
                if (o >= 64) {
                    snprintf(err, errlen, "priority_levels: more than 64 pipelines");
                    return OTC_EINVAL;
                }
                if (o >= 0) {
                    f->levels[s][i] |= 1ull << o;
                    any = true;
                }
            }
        }
        if (!any) {
            snprintf(err, errlen, "priority_levels: no %s pipeline", otc_signal_name((enum otc_signal)s));
            return OTC_EINVAL;
        }
    }
    return OTC_OK;
}

static int failover_consume(struct otc_instance *ins, void *vctx, struct otc_batch *b)
{
    struct failover_ctx *f = vctx;
    enum otc_signal s = b->signal;
    size_t level = 0;
    uint64_t outs;
    int prev, rc = OTC_OK;

    for (size_t i = 0; i < f->n_levels; i++) {
        bool healthy = f->levels[s][i] != 0;
        for (unsigned o = 0; healthy && o < 64; o++) {
            if (f->levels[s][i] >> o & 1u) {
                healthy = otc_connector_output_ready(ins, s, o);
            }
        }
        if (healthy) {
            level = i;
            break;
        }
    }
    while (level < f->n_levels && f->levels[s][level] == 0) {
        level++; /* a level with no pipeline of this signal */
    }
    if (level >= f->n_levels) {
        otc_batch_unref(b);
        return OTC_OK;
    }
    prev = atomic_exchange(&f->current[s], (int)level);
    if (prev != (int)level) {
        otc_log_warn(ins, "%s: now sending to priority level %zu (was %d)", otc_signal_name(s), level,
                     prev);
    }
    outs = f->levels[s][level];
    while (outs) {
        unsigned o = (unsigned)__builtin_ctzll(outs);
        outs &= outs - 1;
        int r = otc_connector_emit(ins, o, outs ? otc_batch_ref(b) : b);
        rc = rc == OTC_OK ? r : rc;
    }
    return rc;
}

const struct otc_component_ops otc_connector_failover_ops = {
    .type = "failover",
    .kind = OTC_CONNECTOR,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = true,
    .ctx_size = sizeof(struct failover_ctx),
    .config_map = failover_config,
    .validate = failover_validate,
    .init = NULL,
    .start = NULL,
    .consume = failover_consume,
    .send = NULL,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = NULL,
    .link = failover_link,
};
