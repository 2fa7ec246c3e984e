/* connector.c - the engine's side of connectors: the pipelines a connector
 * feeds (its outputs, by signal) and otc_connector_emit, which hands a batch
 * to one of them. Outputs are set up on the main thread at build; emit runs
 * on the exporting pipeline's workers. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "engine.h"
#include "exporter_helper.h"
#include "ingest.h"
#include "pipeline.h"

unsigned otc_connector_outputs(const struct otc_instance *ins, enum otc_signal s)
{
    return ins->n_feeds[s];
}

const char *otc_connector_output_id(const struct otc_instance *ins, enum otc_signal s, unsigned i)
{
    return i < ins->n_feeds[s] ? ins->feeds[s][i]->id : NULL;
}

int otc_connector_output(const struct otc_instance *ins, enum otc_signal s, const char *id)
{
    for (unsigned i = 0; i < ins->n_feeds[s]; i++) {
        if (!strcmp(ins->feeds[s][i]->id, id)) {
            return (int)i;
        }
    }
    return -1;
}

bool otc_connector_output_ready(const struct otc_instance *ins, enum otc_signal s, unsigned i)
{
    const struct otc_pipeline *p = i < ins->n_feeds[s] ? ins->feeds[s][i] : NULL;

    for (size_t k = 0; p && k < p->n_exporters; k++) {
        if (otc_exporter_circuit_open(&p->exporters[k]->ins)) {
            return false;
        }
    }
    return p != NULL;
}

int otc_connector_emit(struct otc_instance *ins, unsigned i, struct otc_batch *b)
{
    enum otc_signal s = b->signal;
    size_t items = b->items;
    int rc;

    if (i >= ins->n_feeds[s]) {
        otc_batch_unref(b);
        return OTC_EINVAL;
    }
    /* What the exporting pipeline's fan-out noted on b (exporters to skip on
     * replay, its log of deliveries) means nothing downstream: a batch that
     * carries it is copied, or cleared when only this thread holds it. */
    if (b->skip_exporters || b->fanout_log) {
        if (atomic_load(&b->refs) > 1 && !(b = otc_batch_writable(b))) {
            atomic_fetch_add(&ins->counters.dropped[s], items);
            return OTC_ENOMEM;
        }
        b->skip_exporters = 0;
        b->fanout_log = NULL;
    }
    atomic_fetch_add_explicit(&ins->counters.outgoing[s], items, memory_order_relaxed);
    rc = otc_pipeline_enter_wait(ins->feeds[s][i], b);
    if (rc != OTC_OK) {
        atomic_fetch_add(&ins->counters.dropped[s], items);
    }
    return rc;
}
