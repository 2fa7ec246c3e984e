# test_js_ratelimit.py: the ratelimiter processor against the OpenTelemetry JS
# SDK's OTLP trace exporter, over gRPC and over HTTP/protobuf. ratelimiter:
# rate 500, burst 1000, strategy records, resource_keys [service.name].
# ratelimit.js sends 5,000 spans of service A as fast as it can (requests of
# 100), while a second run sends 800 spans of service B at the same time:
#   - A: at most burst + rate x elapsed spans pass, at least burst; every other
#     call got RESOURCE_EXHAUSTED (gRPC) or 429 with Retry-After (HTTP), as
#     the client saw it;
#   - B, with its own bucket, is untouched: every span passes;
#   - the backend gets exactly the spans answered OK.
# SPDX-License-Identifier: Apache-2.0
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import otlp_harness as h  # noqa: E402

RATE, BURST, N_A, N_B = 500, 1000, 5000, 800


def config(gport, hport, sink_port):
    return ("receivers:\n  otlp:\n    protocols:\n"
            "      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "      http:\n        endpoint: 127.0.0.1:%d\n"
            "processors:\n  ratelimiter:\n    rate: %d\n    burst: %d\n"
            "    strategy: records\n    resource_keys: [service.name]\n"
            "exporters:\n%s"
            "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
            "      processors: [ratelimiter]\n      exporters: [otlp]\n"
            % (gport, hport, RATE, BURST, h.otlp_exporter_yaml("otlp", sink_port)))


def node(protocol, port, service, n):
    return subprocess.Popen(
        ["node", os.path.join(HERE, "ratelimit.js")], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=HERE,
        env=dict(os.environ, OTLP_ENDPOINT="http://127.0.0.1:%d" % port,
                 OTLP_PROTOCOL=protocol, OTC_JS_N=str(n), OTC_JS_SERVICE=service))


def result(t, p, what):
    out, err = p.communicate(timeout=120)
    if not t.check(p.returncode == 0, "%s: node ratelimit.js ran (exit %d)" % (what, p.returncode),
                   err[-2000:]):
        return None
    return json.loads(out.strip().splitlines()[-1])


def spans_by_service(sink):
    n = {}
    for req in sink.requests("traces"):
        for rs in req.resource_spans:
            svc = [a.value.string_value for a in rs.resource.attributes if a.key == "service.name"]
            k = svc[0] if svc else ""
            n[k] = n.get(k, 0) + sum(len(ss.spans) for ss in rs.scope_spans)
    return n


def refused_as_throttled(protocol, call):
    """The answer the client got for a refused call was the throttling one."""
    if protocol == "grpc":
        return call.get("code") == 8 and "RESOURCE_EXHAUSTED" in (call.get("error") or "")
    return bool(call["http"]) and all(a["status"] == 429 and a.get("retryAfter") == "1"
                                      for a in call["http"])


def run(t, protocol, port, sink):
    a_svc, b_svc = "rl-a-%s" % protocol, "rl-b-%s" % protocol
    pa = node(protocol, port, a_svc, N_A)
    pb = node(protocol, port, b_svc, N_B)
    a, b = result(t, pa, protocol + " A"), result(t, pb, protocol + " B")
    if not a or not b:
        return
    passed = sum(c["spans"] for c in a["calls"] if c["ok"])
    refused = [c for c in a["calls"] if not c["ok"]]
    limit = BURST + RATE * a["elapsed"]
    t.eq(a["sent"], N_A, "%s: A sent %d spans" % (protocol, N_A))
    t.check(passed <= limit, "%s: A: %d spans passed in %.2f s, at most burst + rate x elapsed "
            "= %.0f" % (protocol, passed, a["elapsed"], limit))
    t.check(passed >= BURST, "%s: A: the burst passed (%d >= %d)" % (protocol, passed, BURST))
    t.eq(passed + sum(c["spans"] for c in refused), N_A,
         "%s: A: every span either passed or was refused" % protocol)
    bad = [c for c in refused if not refused_as_throttled(protocol, c)]
    t.check(refused and not bad, "%s: A: each of the %d refused calls got %s" % (
        protocol, len(refused), "RESOURCE_EXHAUSTED" if protocol == "grpc"
        else "429 with Retry-After: 1"), bad[:2])
    b_passed = sum(c["spans"] for c in b["calls"] if c["ok"])
    t.eq(b_passed, N_B, "%s: B, in its own bucket, is untouched: all its spans passed" % protocol)
    want = {a_svc: passed, b_svc: b_passed}
    h.wait_until(lambda: all(spans_by_service(sink).get(k, 0) >= v for k, v in want.items()), 10)
    time.sleep(0.3)
    got = spans_by_service(sink)
    t.eq({k: got.get(k, 0) for k in want}, want,
         "%s: the backend got exactly the spans answered OK" % protocol)


def main(t):
    r = subprocess.run(["sh", os.path.join(HERE, "setup.sh")], capture_output=True, text=True,
                       timeout=90)
    if not t.check(r.returncode == 0, "setup.sh installed the JS SDK (exit %d)" % r.returncode,
                   (r.stdout + r.stderr)[-2000:]):
        return
    sink = h.Sink("rl-sink")
    gport, hport = h.free_port(), h.free_port()
    proc = h.start_otelc(config(gport, hport, sink.port), port=gport)
    t.check(h.wait_until(lambda: h.port_open(hport), 10), "otelc serves OTLP/HTTP on %d" % hport)
    run(t, "grpc", gport, sink)
    run(t, "http/protobuf", hport, sink)
    h.stop_otelc(proc)


if __name__ == "__main__":
    h.run_test(main, timeout=280)
