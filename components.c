/* components.c - the one list of every component compiled into otelc (like
 * otelcol's generated components.go), and the only file that includes the
 * components' headers. core/registry.c looks types up in it; nothing else
 * names a concrete component. Read-only after start-up, any thread. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "connector/failover/failover.h"
#include "connector/forward/forward.h"
#include "connector/routing/routing.h"
#include "exporter/debug/debug.h"
#include "exporter/file/file.h"
#include "exporter/load_balancing/load_balancing.h"
#include "exporter/nop/nop.h"
#include "exporter/otlp/otlp_exporter.h"
#include "exporter/otlphttp/otlphttp_exporter.h"
#include "extension/bearertokenauth/bearertokenauth.h"
#include "extension/file_storage/file_storage.h"
#include "extension/health_check/health_check.h"
#include "otc/otc_component.h"
#include "processor/attributes/attributes.h"
#include "processor/batch/batch.h"
#include "processor/dedup/dedup.h"
#include "processor/memory_limiter/memory_limiter.h"
#include "processor/probabilistic_sampler/probabilistic_sampler.h"
#include "processor/ratelimiter/ratelimiter.h"
#include "processor/filter/filter.h"
#include "processor/resource/resource.h"
#include "processor/tail_sampling/tail_sampling.h"
#include "processor/transform/transform.h"
#include "processor/truncate/truncate.h"
#include "receiver/nop/nop_receiver.h"
#include "receiver/otlp/otlp_receiver.h"

const struct otc_component_ops *const otc_components[] = {
    &otc_receiver_otlp_ops,
    &otc_receiver_nop_ops,
    &otc_exporter_otlp_ops,
    &otc_exporter_otlphttp_ops,
    &otc_exporter_debug_ops,
    &otc_exporter_file_ops,
    &otc_exporter_nop_ops,
    &otc_exporter_load_balancing_ops,
    &otc_processor_memory_limiter_ops,
    &otc_processor_dedup_ops,
    &otc_processor_batch_ops,
    &otc_processor_probabilistic_sampler_ops,
    &otc_processor_tail_sampling_ops,
    &otc_processor_truncate_ops,
    &otc_processor_filter_ops,
    &otc_processor_transform_ops,
    &otc_processor_attributes_ops,
    &otc_processor_resource_ops,
    &otc_processor_ratelimiter_ops,
    &otc_extension_health_check_ops,
    &otc_extension_bearertokenauth_ops,
    &otc_extension_file_storage_ops,
    &otc_connector_forward_ops,
    &otc_connector_failover_ops,
    &otc_connector_routing_ops,
};

const size_t otc_components_len = sizeof(otc_components) / sizeof(otc_components[0]);

/* otelcol renamed its OTLP exporters to otlp_grpc and otlp_http (January 2026)
 * and keeps otlp and otlphttp as aliases; otelc accepts both spellings. */
const struct otc_component_alias otc_component_aliases[] = {
    {OTC_EXPORTER, "otlp_grpc", "otlp"},
    {OTC_EXPORTER, "otlp_http", "otlphttp"},
    /* Elastic's ratelimitprocessor registers its factory as "ratelimit" */
    {OTC_PROCESSOR, "ratelimit", "ratelimiter"},
    /* otelcol-contrib's name for the load_balancing exporter */
    {OTC_EXPORTER, "loadbalancing", "load_balancing"},
};

const size_t otc_component_aliases_len =
    sizeof(otc_component_aliases) / sizeof(otc_component_aliases[0]);
