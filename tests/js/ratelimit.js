// ratelimit.js: sends spans to otelc as fast as the OpenTelemetry JS SDK's OTLP
// trace exporter can, in requests of OTC_JS_BATCH spans, and reports what each
// export call got back (code, error message), so that test_js_ratelimit.py can
// see the throttling answers (RESOURCE_EXHAUSTED / 429) the client received.
// Run by test_js_ratelimit.py; prints one JSON object on stdout.
// SPDX-License-Identifier: Apache-2.0
//
// Environment:
//   OTLP_ENDPOINT  http://127.0.0.1:PORT (required): the gRPC server, or the HTTP base URL
//   OTLP_PROTOCOL  grpc (default) or http/protobuf
//   OTC_JS_N       spans to send (default 5000)
//   OTC_JS_BATCH   spans per export call (default 100)
//   OTC_JS_SERVICE service.name of the resource (default otelc-rl-a)
'use strict';

const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } =
  require('@opentelemetry/sdk-trace-base');

const endpoint = process.env.OTLP_ENDPOINT;
if (!endpoint) {
  console.error('ratelimit.js: OTLP_ENDPOINT is not set');
  process.exit(2);
}
const PROTOCOL = process.env.OTLP_PROTOCOL || 'grpc';
const N = parseInt(process.env.OTC_JS_N || '5000', 10);
const BATCH = parseInt(process.env.OTC_JS_BATCH || '100', 10);
const SERVICE = process.env.OTC_JS_SERVICE || 'otelc-rl-a';
const { OTLPTraceExporter } = PROTOCOL === 'grpc'
  ? require('@opentelemetry/exporter-trace-otlp-grpc')
  : require('@opentelemetry/exporter-trace-otlp-proto');

api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.ERROR);

// HTTP: the exporter's result says only "retryable"; record the status and
// Retry-After of every response the client received (node's http.request,
// wrapped before the exporter imports it).
const httpAnswers = [];
if (PROTOCOL !== 'grpc') {
  const http = require('http');
  const original = http.request;
  http.request = function wrapped(...args) {
    const req = original.apply(this, args);
    req.on('response', (res) => {
      httpAnswers.push({ status: res.statusCode, retryAfter: res.headers['retry-after'] });
    });
    return req;
  };
  require('module').syncBuiltinESMExports();
}

function exportOnce(exporter, spans) {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

async function main() {
  // make the spans first (into memory), so that sending is all the loop does
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': SERVICE }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('otelc-rl-test');
  for (let i = 0; i < N; i++) {
    tracer.startSpan(`rl-${SERVICE}-${i}`).end();
  }
  await provider.forceFlush();
  const spans = memory.getFinishedSpans();

  // The SDK retries retryable answers itself within timeoutMillis; the server's
  // RetryInfo / Retry-After (1 s) is longer than this timeout, so each call
  // reports the first answer it got.
  const url = PROTOCOL === 'grpc' ? endpoint : `${endpoint.replace(/\/$/, '')}/v1/traces`;
  const exporter = new OTLPTraceExporter({ url, timeoutMillis: 800 });
  const calls = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < spans.length; i += BATCH) {
    const part = spans.slice(i, i + BATCH);
    const start = Number(process.hrtime.bigint() - t0) / 1e9;
    const seen = httpAnswers.length;
    const res = await exportOnce(exporter, part);
    const end = Number(process.hrtime.bigint() - t0) / 1e9;
    const err = res.error || {};
    calls.push({
      spans: part.length, ok: res.code === 0, start, end, http: httpAnswers.slice(seen),
      error: res.error ? String(res.error.message || res.error) : undefined,
      code: err.code, data: err.data === undefined ? undefined : String(err.data).slice(0, 200),
    });
  }
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  await exporter.shutdown();
  console.log(JSON.stringify({ protocol: PROTOCOL, service: SERVICE, sent: spans.length,
    elapsed, calls }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
