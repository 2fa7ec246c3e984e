# test_ratelimiter_e2e.py: the ratelimiter keyed by client metadata
# (metadata_keys, with the receiver's include_metadata) and its overrides, over
# gRPC metadata and HTTP headers: rate 1, burst 2, and an override giving the
# tenant "big" a burst of 5. Each tenant's first requests pass up to its burst,
# the rest get RESOURCE_EXHAUSTED / 429; a request without the header has its
# own bucket ("x-tenant:"). Without include_metadata every request shares one.
# SPDX-License-Identifier: Apache-2.0
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402


def config(port, hport, sink_port, include=True):
    inc = "        include_metadata: true\n" if include else ""
    return ("receivers:\n  otlp:\n    protocols:\n"
            "      grpc:\n        endpoint: 127.0.0.1:%d\n%s"
            "      http:\n        endpoint: 127.0.0.1:%d\n%s"
            "processors:\n  ratelimiter:\n    rate: 1\n    burst: 2\n"
            "    metadata_keys: [x-tenant]\n"
            "    overrides:\n      \"x-tenant:big\": {burst: 5}\n"
            "exporters:\n%s"
            "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
            "      processors: [ratelimiter]\n      exporters: [otlp]\n"
            % (port, inc, hport, inc, h.otlp_exporter_yaml("otlp", sink_port)))


def grpc_codes(c, tenant, n):
    md = (("x-tenant", tenant),) if tenant else None
    return [c.export_full("traces", h.make_traces(1), metadata=md)[0].name for _ in range(n)]


def http_codes(hport, tenant, n):
    out = []
    for _ in range(n):
        req = urllib.request.Request("http://127.0.0.1:%d/v1/traces" % hport,
                                     data=h.make_traces(1).SerializeToString(), method="POST")
        req.add_header("Content-Type", "application/x-protobuf")
        if tenant:
            req.add_header("X-Tenant", tenant)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                out.append(str(r.status))
        except urllib.error.HTTPError as e:
            out.append("%d retry-after=%s" % (e.code, e.headers.get("Retry-After")))
    return out


def main(t):
    sink = h.Sink("rl-meta-sink")
    port, hport = h.free_port(), h.free_port()
    proc = h.start_otelc(config(port, hport, sink.port), port=port)
    h.wait_until(lambda: h.port_open(hport), 10)
    c = h.Client(port)
    ex = ["RESOURCE_EXHAUSTED"]
    t.eq(grpc_codes(c, "a", 4), ["OK"] * 2 + ex * 2, "gRPC: tenant a gets burst 2")
    t.eq(grpc_codes(c, "big", 7), ["OK"] * 5 + ex * 2, "gRPC: tenant big gets its override, 5")
    t.eq(grpc_codes(c, None, 3), ["OK"] * 2 + ex, "gRPC: no header: a bucket of its own")
    t.eq(http_codes(hport, "h", 4), ["200"] * 2 + ["429 retry-after=1"] * 2,
         "HTTP: tenant h (header X-Tenant) gets burst 2, then 429 with Retry-After")
    t.eq(http_codes(hport, "a", 1), ["429 retry-after=1"],
         "HTTP: tenant a shares its bucket with its gRPC requests")
    c.close()
    h.stop_otelc(proc)
    # without include_metadata the processor sees no metadata: one bucket for all
    port, hport = h.free_port(), h.free_port()
    proc = h.start_otelc(config(port, hport, sink.port, include=False), port=port)
    c = h.Client(port)
    t.eq(grpc_codes(c, "a", 1) + grpc_codes(c, "big", 2), ["OK", "OK", "RESOURCE_EXHAUSTED"],
         "without include_metadata every tenant shares one bucket")
    c.close()
    h.stop_otelc(proc)
    sink.stop()


if __name__ == "__main__":
    h.run_test(main, timeout=60)
