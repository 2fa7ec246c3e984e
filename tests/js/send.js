// send.js: sends spans, log records and metric data points to otelc with the
// OpenTelemetry JS SDK and one family of its OTLP exporters (gRPC, HTTP with
// protobuf bodies, or HTTP with JSON bodies), then flushes and shuts down.
// Run by test_js_sdk.py; prints what it sent as JSON on stdout.
// SPDX-License-Identifier: Apache-2.0
//
// Environment:
//   OTLP_ENDPOINT  http://127.0.0.1:PORT (required): the gRPC server, or the
//                  HTTP server's base URL (/v1/traces etc. are appended)
//   OTLP_PROTOCOL  grpc (default), http/protobuf or http/json
//   OTC_JS_N       number of spans, log records and points per metric (default 5)
//   OTC_JS_RUN     a tag included in every name and body (default: random)
'use strict';

const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { SeverityNumber } = require('@opentelemetry/api-logs');

const endpoint = process.env.OTLP_ENDPOINT;
if (!endpoint) {
  console.error('send.js: OTLP_ENDPOINT is not set');
  process.exit(2);
}
const PROTOCOL = process.env.OTLP_PROTOCOL || 'grpc';
const PACKAGE_SUFFIX = { grpc: 'grpc', 'http/protobuf': 'proto', 'http/json': 'http' }[PROTOCOL];
if (!PACKAGE_SUFFIX) {
  console.error(`send.js: unknown OTLP_PROTOCOL ${PROTOCOL}`);
  process.exit(2);
}
const { OTLPTraceExporter } = require(`@opentelemetry/exporter-trace-otlp-${PACKAGE_SUFFIX}`);
const { OTLPMetricExporter } = require(`@opentelemetry/exporter-metrics-otlp-${PACKAGE_SUFFIX}`);
const { OTLPLogExporter } = require(`@opentelemetry/exporter-logs-otlp-${PACKAGE_SUFFIX}`);
// gRPC takes the server address; the HTTP exporters take each signal's full URL.
function url(signal) {
  return PACKAGE_SUFFIX === 'grpc' ? endpoint : `${endpoint.replace(/\/$/, '')}/v1/${signal}`;
}
const N = parseInt(process.env.OTC_JS_N || '5', 10);
const RUN = process.env.OTC_JS_RUN || Math.random().toString(16).slice(2, 10);

api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN);

// Wrap an exporter so that every export result is recorded: the SDK's
// processors swallow failures, and this script must fail when an export does.
const results = [];
function recording(kind, exporter) {
  return new Proxy(exporter, {
    get(target, prop, receiver) {
      if (prop === 'export') {
        return (items, cb) => target.export(items, (res) => {
          results.push({ kind, code: res.code, error: res.error ? String(res.error) : undefined });
          cb(res);
        });
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const resource = resourceFromAttributes({
  'service.name': 'otelc-js-test',
  'test.run': RUN,
});

async function main() {
  const sent = { run: RUN, protocol: PROTOCOL, resource: { 'service.name': 'otelc-js-test', 'test.run': RUN },
    spans: [], logs: [], metrics: [] };

  // ---- traces
  const traceExporter = recording('traces', new OTLPTraceExporter({ url: url('traces') }));
  const tracerProvider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(traceExporter, { scheduledDelayMillis: 200 })],
  });
  const tracer = tracerProvider.getTracer('otelc-js-test', '1.0.0');
  const root = tracer.startSpan(`js-root-${RUN}`, { attributes: { 'test.index': -1 } });
  sent.spans.push({ name: `js-root-${RUN}`, attributes: { 'test.index': -1 } });
  const ctx = api.trace.setSpan(api.context.active(), root);
  for (let i = 0; i < N; i++) {
    const name = `js-span-${RUN}-${i}`;
    const attributes = { 'test.index': i, 'test.str': `v${i}`, 'test.flag': i % 2 === 0 };
    const span = tracer.startSpan(name, { attributes, kind: api.SpanKind.CLIENT }, ctx);
    span.addEvent('an-event', { 'event.index': i });
    span.setStatus({ code: i % 2 ? api.SpanStatusCode.ERROR : api.SpanStatusCode.OK });
    span.end();
    sent.spans.push({ name, attributes });
  }
  root.end();

  // ---- logs (gzip-compressed, to exercise the receiver's decompression)
  const logExporter = recording('logs', new OTLPLogExporter({ url: url('logs'), compression: 'gzip' }));
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new BatchLogRecordProcessor({ exporter: logExporter, scheduledDelayMillis: 200 })],
  });
  const logger = loggerProvider.getLogger('otelc-js-test', '1.0.0');
  for (let i = 0; i < N; i++) {
    const body = `js-log-${RUN}-${i}`;
    logger.emit({
      body,
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      attributes: { 'test.index': i },
    });
    sent.logs.push({ body, severityNumber: SeverityNumber.WARN, attributes: { 'test.index': i } });
  }

  // ---- metrics: a counter and a gauge with one point per attribute set
  const metricExporter = recording('metrics', new OTLPMetricExporter({ url: url('metrics') }));
  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({
      exporter: metricExporter, exportIntervalMillis: 60000, exportTimeoutMillis: 10000,
    })],
  });
  const meter = meterProvider.getMeter('otelc-js-test', '1.0.0');
  const counterName = `js.counter.${RUN}`;
  const gaugeName = `js.gauge.${RUN}`;
  const counter = meter.createCounter(counterName, { description: 'a test counter', unit: '1',
    valueType: api.ValueType.INT });
  const counterPoints = [];
  for (let i = 0; i < N; i++) {
    counter.add(i + 1, { 'test.index': i });
    counter.add(10, { 'test.index': i });
    counterPoints.push({ attributes: { 'test.index': i }, value: i + 11 });
  }
  const gauge = meter.createGauge(gaugeName, { description: 'a test gauge', unit: 'ms' });
  const gaugePoints = [];
  for (let i = 0; i < N; i++) {
    gauge.record(i * 1.5 + 0.25, { 'test.index': i });
    gaugePoints.push({ attributes: { 'test.index': i }, value: i * 1.5 + 0.25 });
  }
  sent.metrics.push({ name: counterName, type: 'sum', points: counterPoints });
  sent.metrics.push({ name: gaugeName, type: 'gauge', points: gaugePoints });

  // ---- flush and shut down everything
  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  await meterProvider.forceFlush();
  await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]);

  sent.exports = results;
  const failed = results.filter((r) => r.code !== 0);
  const kinds = new Set(results.map((r) => r.kind));
  process.stdout.write(JSON.stringify(sent) + '\n');
  if (failed.length) {
    console.error(`send.js: ${failed.length} export(s) failed: ${JSON.stringify(failed)}`);
    process.exit(1);
  }
  for (const k of ['traces', 'logs', 'metrics']) {
    if (!kinds.has(k)) {
      console.error(`send.js: no ${k} export happened`);
      process.exit(1);
    }
  }
}

main().catch((err) => {
  console.error('send.js:', err && err.stack ? err.stack : err);
  process.exit(1);
});
