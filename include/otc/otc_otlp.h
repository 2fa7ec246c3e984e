/* otc_otlp.h - short names for the protobuf-c types generated from the OTLP
 * schema in proto/, so component code stays readable. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OTC_INCLUDE_OTLP_H
#define OTC_INCLUDE_OTLP_H

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest     otc_traces_req;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse    otc_traces_resp;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest otc_metrics_req;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse otc_metrics_resp;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest       otc_logs_req;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse      otc_logs_resp;

typedef Opentelemetry__Proto__Trace__V1__ResourceSpans     otc_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans        otc_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span              otc_span;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics otc_resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics    otc_scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric          otc_metric;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs       otc_resource_logs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs          otc_scope_logs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord          otc_log_record;
typedef Opentelemetry__Proto__Common__V1__KeyValue         otc_key_value;
typedef Opentelemetry__Proto__Common__V1__AnyValue         otc_any_value;

/* Data points of one metric, whatever its type. */
size_t otc_metric_point_count(const otc_metric *m);

#endif
