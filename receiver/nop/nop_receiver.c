/* nop_receiver.c - the `nop` receiver (otelcol's nopreceiver): opens nothing
 * and delivers nothing, for pipelines that must exist before their real input
 * does (a config skeleton, a pipeline fed only after a reload). No thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "nop_receiver.h"

static const struct otc_config_entry nop_receiver_config[] = {
    OTC_CFG_END,
};

const struct otc_component_ops otc_receiver_nop_ops = {
    .type = "nop",
    .kind = OTC_RECEIVER,
    .signals = OTC_SIG_ALL,
    .mutates = false,
    .concurrent = false,
    .ctx_size = 0,
    .config_map = nop_receiver_config,
    .validate = NULL,
    .init = NULL,
    .start = NULL,
    .consume = NULL,
    .flush = NULL,
    .shutdown = NULL,
    .destroy = NULL,
};
