/* instance.c - one component instance as the engine drives it: configured
 * from its YAML mapping (defaults, the user's values, validate()), started,
 * shut down and released. Main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"

/* Where a validate() message points: one that starts with an option key path
 * ("actions[1].pattern: ...", "trace_statements[1]: ...", "include.services")
 * is reported at the deepest value of that path present in the component's
 * mapping, anything else at the mapping. */
static const yaml_mark_t *validate_mark(struct otc_yaml *y, yaml_node_t *node, const char *err)
{
    const char *p = err;
    yaml_node_t *cur = node;

    while (cur) {
        char key[128];
        size_t n = 0;
        yaml_node_t *v;

        while (((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') &&
               n + 1 < sizeof(key)) {
            key[n++] = *p++;
        }
        key[n] = '\0';
        if (!n || !(v = otc_yaml_get(y, cur, key))) {
            break;
        }
        cur = v;
        while (*p == '[' && cur->type == YAML_SEQUENCE_NODE) {
            size_t idx = 0;
            for (p++; *p >= '0' && *p <= '9' && idx < 1000000; p++) {
                idx = idx * 10 + (size_t)(*p - '0');
            }
            if (*p != ']' || idx >= (size_t)(cur->data.sequence.items.top -
                                             cur->data.sequence.items.start)) {
                return &cur->start_mark;
            }
            p++;
            cur = otc_yaml_node(y, cur->data.sequence.items.start[idx]);
        }
        if (*p != '.') {
            break;
        }
        p++;
    }
    return cur ? &cur->start_mark : NULL;
}

int otc_instance_validate_signal(struct otc_instance *ins, enum otc_signal s, struct otc_yaml *y,
                                 yaml_node_t *node, struct otc_diag *d)
{
    char err[256];

    if (!ins->ops->validate_signal ||
        ins->ops->validate_signal(ins->ctx, s, err, sizeof(err)) == OTC_OK) {
        return OTC_OK;
    }
    otc_diag_add(d, y->path, validate_mark(y, node, err), "%s \"%s\": %s (in a %s pipeline)",
                 otc_kind_name(ins->ops->kind), ins->id, err, otc_signal_name(s));
    return OTC_EINVAL;
}

int otc_instance_configure(struct otc_instance *ins, const struct otc_component_ops *ops,
                              const char *id, struct otc_yaml *y, yaml_node_t *node,
                           const struct otc_config_entry *extra_map, void *extra, struct otc_diag *d)
{
    char what[300];
    char err[256];
    int rc;

    snprintf(what, sizeof(what), "%s \"%s\"", otc_kind_name(ops->kind), id);
    ins->ops = ops;
    ins->id = strdup(id);
    ins->ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
    if (!ins->id || !ins->ctx) {
        return OTC_ENOMEM;
    }
    if (otc_config_map_defaults(ops->config_map, ins->ctx) != OTC_OK ||
        (extra_map && otc_config_map_defaults(extra_map, extra) != OTC_OK)) {
        return OTC_EINVAL;
    }
    rc = otc_config_apply(y, node, what, ops->config_map, ins->ctx,
                          extra_map, extra, d);
    if (rc != OTC_OK) {
        return rc;
    }
    if (ops->validate && ops->validate(ins->ctx, err, sizeof(err)) != OTC_OK) {
        otc_diag_add(d, y->path, validate_mark(y, node, err), "%s: %s", what, err);
        return OTC_EINVAL;
    }
    return OTC_OK;
}

void otc_instance_release(struct otc_instance *ins)
{
    if (!ins->ops) {
        return;
    }
    if (ins->ctx) {
        if (ins->ops->destroy) {
            ins->ops->destroy(ins->ctx);
        }
        otc_config_map_free(ins->ops->config_map, ins->ctx);
        free(ins->ctx);
    }
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        free(ins->feeds[s]);
    }
    free(ins->id);
    memset(ins, 0, sizeof(*ins));
}

bool otc_receiver_used(const struct otc_instance *r)
{
    for (int s = 0; s < OTC_SIGNAL_COUNT; s++) {
        if (r->n_feeds[s]) {
            return true;
        }
    }
    return false;
}

int otc_instance_init_start(struct otc_instance *ins)
{
    int rc;

    if (ins->ops->init && (rc = ins->ops->init(ins, ins->ctx)) != OTC_OK) {
        otc_log_err(ins, "init failed: %s", otc_strerror(rc));
        return rc;
    }
    if (ins->ops->start && (rc = ins->ops->start(ins, ins->ctx)) != OTC_OK) {
        otc_log_err(ins, "start failed: %s", otc_strerror(rc));
        return rc;
    }
    ins->started = true;
    return OTC_OK;
}

void otc_instance_shutdown(struct otc_instance *ins)
{
    if (ins->ops && ins->ops->shutdown) {
        ins->ops->shutdown(ins, ins->ctx);
    }
    ins->started = false;
}

int otc_metric_register(struct otc_instance *ins, struct otc_metric *m)
{
    if (!m->name || (m->kind == OTC_METRIC_HISTOGRAM && m->n_bounds > OTC_METRIC_MAX_BOUNDS)) {
        return OTC_EINVAL;
    }
    for (const struct otc_metric *o = atomic_load(&ins->counters.metrics); o; o = o->next) {
        if (o == m) {
            return OTC_OK; /* init() ran again: already registered */
        }
    }
    m->next = atomic_load(&ins->counters.metrics);
    /* release: the telemetry thread sees m's fields once it sees m */
    atomic_store_explicit(&ins->counters.metrics, m, memory_order_release);
    return OTC_OK;
}

void otc_metric_record(struct otc_metric *m, uint64_t v)
{
    size_t i = 0;

    while (i < m->n_bounds && (double)v > m->bounds[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->value, (int64_t)v, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}
