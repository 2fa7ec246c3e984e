/* registry.c - the one static table of every component compiled into otelc.
 * Read-only after start-up; any thread may look types up. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "engine.h"
#include "exporter/debug/debug.h"
#include "exporter/file/file.h"
#include "exporter/nop/nop.h"
#include "exporter/otlp/otlp_exporter.h"
#include "exporter/otlphttp/otlphttp_exporter.h"
#include "extension/bearertokenauth/bearertokenauth.h"
#include "extension/file_storage/file_storage.h"
#include "extension/health_check/health_check.h"
#include "processor/batch/batch.h"
#include "processor/dedup/dedup.h"
#include "processor/memory_limiter/memory_limiter.h"
#include "processor/probabilistic_sampler/probabilistic_sampler.h"
#include "processor/transform/transform.h"
#include "processor/truncate/truncate.h"
#include "receiver/otlp/otlp_receiver.h"

static const struct otc_component_ops *const registry[] = {
    &otc_receiver_otlp_ops,
    &otc_exporter_otlp_ops,
    &otc_exporter_otlphttp_ops,
    &otc_exporter_debug_ops,
    &otc_exporter_file_ops,
    &otc_exporter_nop_ops,
    &otc_processor_memory_limiter_ops,
    &otc_processor_dedup_ops,
    &otc_processor_batch_ops,
    &otc_processor_probabilistic_sampler_ops,
    &otc_processor_truncate_ops,
    &otc_processor_transform_ops,
    &otc_extension_health_check_ops,
    &otc_extension_bearertokenauth_ops,
    &otc_extension_file_storage_ops,
};

#define REGISTRY_LEN (sizeof(registry) / sizeof(registry[0]))

const struct otc_component_ops *const *otc_registry_all(size_t *n)
{
    *n = REGISTRY_LEN;
    return registry;
}

const struct otc_component_ops *otc_registry_find(enum otc_kind kind, const char *type)
{
    for (size_t i = 0; i < REGISTRY_LEN; i++) {
        if (registry[i]->kind == kind && !strcmp(registry[i]->type, type)) {
            return registry[i];
        }
    }
    return NULL;
}

int otc_registry_check(void)
{
    for (size_t i = 0; i < REGISTRY_LEN; i++) {
        for (size_t j = i + 1; j < REGISTRY_LEN; j++) {
            if (registry[i]->kind == registry[j]->kind && !strcmp(registry[i]->type, registry[j]->type)) {
                return OTC_EINVAL;
            }
        }
    }
    return OTC_OK;
}
