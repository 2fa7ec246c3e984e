/* stage.c - what a processor may ask about its place in the pipeline, so that
 * components never walk the engine's graph themselves. Read-only over a built
 * graph; called from a stage's init() on the main thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "otc/otc_component.h"
#include "pipeline.h"

bool otc_next_mutates(const struct otc_instance *ins)
{
    for (const struct otc_instance *n = ins->next.ins; n; n = n->next.ins) {
        if (n->ops->mutates) {
            return true;
        }
    }
    return false;
}

unsigned otc_stage_workers(const struct otc_instance *ins)
{
    const struct otc_pipeline *p = ins->next.pipeline;

    return p && p->n_workers ? p->n_workers : 1;
}
