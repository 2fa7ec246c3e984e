/* nop.c - the `nop` exporter: drops every batch (counted as sent), for
 * pipelines that only need a sink and for benchmarks. Runs on its exporter thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "nop.h"

static const struct otc_config_entry nop_config[] = {
    OTC_CFG_END,
};

static int nop_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    otc_batch_unref(b);
    return OTC_OK;
}

const struct otc_component_ops otc_exporter_nop_ops = {
    .type = "nop",
    .kind = OTC_EXPORTER,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = false,
    .ctx_size = 0,
    .config_map = nop_config,
    .validate = NULL,
    .init = NULL,
    .start = NULL,
    .consume = nop_consume,
    .flush = NULL,
    .shutdown = NULL,
    .destroy = NULL,
};
