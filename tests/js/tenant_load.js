// tenant_load.js: one tenant's service sending spans at a steady rate for a
// while with the OpenTelemetry JS SDK (BatchSpanProcessor, OTLP/gRPC
// exporter). Every tenth span is a health check (http.target /health); every
// span carries a user.email. Run by test_js_routing.py; prints, as JSON on
// stdout, the spans of every export the collector answered OK and how many
// exports failed.
// SPDX-License-Identifier: Apache-2.0
//
// Environment:
//   OTLP_ENDPOINT  http://127.0.0.1:PORT (required)
//   TENANT         the tenant: resource attribute `tenant`, service.name svc-TENANT
//   DURATION_MS    how long to send (default 5000)
//   RATE           spans per second (default 200)
'use strict';

const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');

const endpoint = process.env.OTLP_ENDPOINT;
const TENANT = process.env.TENANT;
if (!endpoint || !TENANT) {
  console.error('tenant_load.js: OTLP_ENDPOINT and TENANT must be set');
  process.exit(2);
}
const DURATION_MS = parseInt(process.env.DURATION_MS || '5000', 10);
const RATE = parseInt(process.env.RATE || '200', 10);

api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.ERROR);

// Each export's spans and result: the SDK's processors swallow failures.
const ok = [];
let failed = 0;
let failedSpans = 0;
const inner = new OTLPTraceExporter({ url: endpoint });
const exporter = new Proxy(inner, {
  get(target, prop, receiver) {
    if (prop === 'export') {
      return (spans, cb) => target.export(spans, (res) => {
        if (res.code === 0) {
          for (const s of spans) {
            ok.push({ name: s.name, created: s.attributes['created.ms'],
              health: s.attributes['http.target'] === '/health' });
          }
        } else {
          failed++;
          failedSpans += spans.length;
        }
        cb(res);
      });
    }
    const v = Reflect.get(target, prop, receiver);
    return typeof v === 'function' ? v.bind(target) : v;
  },
});

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': `svc-${TENANT}`, tenant: TENANT }),
  spanProcessors: [new BatchSpanProcessor(exporter, {
    scheduledDelayMillis: 100, maxExportBatchSize: 100, maxQueueSize: 100000,
  })],
});
const tracer = provider.getTracer('otelc-tenant-load', '1.0.0');

async function main() {
  const start = Date.now();
  let seq = 0;
  while (Date.now() - start < DURATION_MS) {
    const due = Math.floor(((Date.now() - start) * RATE) / 1000);
    for (; seq < due; seq++) {
      const span = tracer.startSpan(`${TENANT}-${seq}`, {
        attributes: {
          'created.ms': Date.now(),
          'user.email': `user${seq}@${TENANT}.example`,
          'http.target': seq % 10 === 0 ? '/health' : `/api/${seq}`,
        },
      });
      span.end();
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(JSON.stringify({ tenant: TENANT, created: seq, ok, failed, failedSpans }) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
