/* otc_metric.h - a metric a component adds to its instance's self-telemetry
 * (otelcol's per-component metrics, e.g. the batch processor's). The
 * component owns the storage (usually in its ctx), registers it in init(),
 * and updates it from its own threads; the telemetry thread only reads it. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_METRIC_H
#define OTC_INCLUDE_METRIC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define OTC_METRIC_MAX_BOUNDS 24
#define OTC_METRIC_MAX_LABELS 2

enum otc_metric_kind {
    OTC_METRIC_COUNTER,   /* monotonic sum: Prometheus counter (_total) */
    OTC_METRIC_GAUGE,     /* up-down counter or gauge: Prometheus gauge */
    OTC_METRIC_HISTOGRAM, /* explicit bounds: _bucket, _sum, _count */
};

struct otc_metric {
    /* set by the component */
    const char          *name;     /* otelcol's name, e.g. "otelcol_processor_batch_timeout_trigger_send" */
    const char          *unit;     /* UCUM: "{units}", "By", "s", "1" */
    const char          *help;
    const char          *scope;    /* instrumentation scope (NULL: the component's kind) */
    enum otc_metric_kind kind;
    const double        *bounds;   /* histogram: ascending upper bounds */
    size_t               n_bounds; /* at most OTC_METRIC_MAX_BOUNDS */
    /* labels of this series beside the component's (optional): metrics of one
     * name whose labels differ are separate series of one family */
    const char          *label_keys[OTC_METRIC_MAX_LABELS];
    const char          *label_values[OTC_METRIC_MAX_LABELS];
    size_t               n_labels;
    /* updated with otc_metric_add / otc_metric_set / otc_metric_record */
    atomic_int_fast64_t  value;    /* counter or gauge; histogram: the sum */
    atomic_uint_fast64_t count;    /* histogram: observations */
    atomic_uint_fast64_t buckets[OTC_METRIC_MAX_BOUNDS + 1]; /* histogram: per bucket (+Inf last) */
    /* the engine's */
    struct otc_metric   *next;
};

struct otc_instance;

/* Add m to ins's self-telemetry, shown with ins's kind and id as labels
 * (and m's own). Call from init(), or later from one thread of the component
 * at a time (a series that appears at run time); m must live until destroy(). */
int  otc_metric_register(struct otc_instance *ins, struct otc_metric *m);
void otc_metric_record(struct otc_metric *m, uint64_t v); /* histogram observation */

static inline void otc_metric_add(struct otc_metric *m, int64_t v)
{
    atomic_fetch_add_explicit(&m->value, v, memory_order_relaxed);
}

static inline void otc_metric_set(struct otc_metric *m, int64_t v)
{
    atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

#endif
