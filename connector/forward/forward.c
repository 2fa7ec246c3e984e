/* forward.c - the `forward` connector: each batch the exporting pipeline
 * sends goes, shared, to every pipeline that lists the connector as a
 * receiver (they copy before they change it). Runs on the exporting
 * pipeline's workers. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "forward.h"

static const struct otc_config_entry forward_config[] = {
    OTC_CFG_END,
};

static int forward_consume(struct otc_instance *ins, void *ctx, struct otc_batch *b)
{
    unsigned n = otc_connector_outputs(ins, b->signal);
    int rc = OTC_OK;

    (void)ctx;
    if (n == 0) {
        otc_batch_unref(b);
        return OTC_OK;
    }
    for (unsigned i = 0; i < n; i++) {
        int r = otc_connector_emit(ins, i, i + 1 < n ? otc_batch_ref(b) : b);
        rc = rc == OTC_OK ? r : rc;
    }
    return rc;
}

const struct otc_component_ops otc_connector_forward_ops = {
    .type = "forward",
    .kind = OTC_CONNECTOR,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = true,
    .ctx_size = 1,
    .config_map = forward_config,
    .validate = NULL,
    .init = NULL,
    .start = NULL,
    .consume = forward_consume,
    .send = NULL,
    .flush = NULL,
    .timer = NULL,
    .admit = NULL,
    .shutdown = NULL,
    .destroy = NULL,
    .link = NULL,
};
