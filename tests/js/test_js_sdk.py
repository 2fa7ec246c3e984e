# test_js_sdk.py: the OpenTelemetry JS SDK (node) sends spans, log records and
# metric points to the real otelc three times, once with each family of its OTLP
# exporters: exporter-*-otlp-grpc, exporter-*-otlp-proto (HTTP, protobuf) and
# exporter-*-otlp-http (HTTP, JSON). otelc writes them with its file exporter;
# every item of every run must be in the OTLP/JSON output.
# SPDX-License-Identifier: Apache-2.0
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import otlp_harness as h  # noqa: E402

N = 8


def any_value(v):
    """An OTLP/JSON AnyValue -> python value."""
    if not isinstance(v, dict) or not v:
        return None
    (k, x), = v.items()
    if k == "intValue":
        return int(x)
    if k == "doubleValue":
        return float(x)
    if k == "arrayValue":
        return [any_value(e) for e in x.get("values", [])]
    if k == "kvlistValue":
        return {e["key"]: any_value(e.get("value")) for e in x.get("values", [])}
    return x


def attr_map(lst):
    return {a["key"]: any_value(a.get("value")) for a in lst or []}


def point_value(p):
    if "asInt" in p:
        return int(p["asInt"])
    if "asDouble" in p:
        return float(p["asDouble"])
    return None


def main(t):
    r = subprocess.run(["sh", os.path.join(HERE, "setup.sh")], capture_output=True, text=True,
                       timeout=90)
    if not t.check(r.returncode == 0, "setup.sh installed the JS SDK (exit %d)" % r.returncode,
                   (r.stdout + r.stderr)[-2000:]):
        return
    # setup.sh is idempotent: a second run does nothing
    r2 = subprocess.run(["sh", os.path.join(HERE, "setup.sh")], capture_output=True, text=True,
                        timeout=30)
    t.check(r2.returncode == 0 and "up to date" in r2.stdout,
            "setup.sh run again skips npm install", (r2.stdout + r2.stderr)[-500:])

    out = os.path.join(h.tmpdir(), "js.jsonl")
    gport, hport = h.free_port(), h.free_port()
    cfg = h.config_yaml(gport, "  file/out:\n    path: %s\n" % out,
                        {s: ["file/out"] for s in h.SIGNALS})
    grpc_line = "        endpoint: 127.0.0.1:%d\n" % gport
    cfg = cfg.replace(grpc_line, grpc_line + "      http:\n        endpoint: 127.0.0.1:%d\n" % hport)
    proc = h.start_otelc(cfg)
    t.check(h.wait_until(lambda: h.port_open(hport), 10), "otelc serves OTLP/HTTP on %d" % hport)
    runs = []
    for protocol, port in (("grpc", gport), ("http/protobuf", hport), ("http/json", hport)):
        r = subprocess.run(["node", os.path.join(HERE, "send.js")], capture_output=True, text=True,
                           timeout=60, cwd=HERE,
                           env=dict(os.environ, OTLP_ENDPOINT="http://127.0.0.1:%d" % port,
                                    OTLP_PROTOCOL=protocol, OTC_JS_N=str(N)))
        t.check(r.returncode == 0, "%s: node send.js exported everything (exit %d)"
                % (protocol, r.returncode), r.stderr[-3000:])
        try:
            sent = json.loads(r.stdout.strip().splitlines()[-1])
        except Exception as e:
            t.check(False, "%s: send.js printed what it sent as JSON" % protocol,
                    "%r: %r" % (e, r.stdout[-500:]))
            continue
        t.eq(sent.get("protocol"), protocol, "send.js used the %s exporters" % protocol)
        runs.append(sent)
    t.check(True, "otelc stopped cleanly in %.2f s" % h.stop_otelc(proc))

    # ---- read the file exporter's OTLP/JSON lines
    lines = []
    bad_lines = []
    with open(out) as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    lines.append(json.loads(line))
                except ValueError as e:
                    bad_lines.append("line %d: %s" % (i, e))
    t.check(lines and not bad_lines, "file output: %d lines, each one JSON object" % len(lines),
            bad_lines[:3])
    _, strict_errors = h.read_jsonl(out)
    t.check(not strict_errors, "file output parses strictly as OTLP/JSON (hex ids, known fields)",
            strict_errors[:3])
    for sent in runs:
        check_run(t, sent, lines)


def check_run(t, sent, lines):
    """Everything one send.js run sent is in the file output (its items carry
    the run tag in names, bodies and the test.run resource attribute)."""
    p = sent["protocol"] + ": "
    spans, logs, points, resources = [], [], {}, []
    for obj in lines:
        for rs in obj.get("resourceSpans", []):
            res = attr_map(rs.get("resource", {}).get("attributes"))
            if res.get("test.run") != sent["run"]:
                continue
            resources.append(res)
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    spans.append(sp)
        for rl in obj.get("resourceLogs", []):
            res = attr_map(rl.get("resource", {}).get("attributes"))
            if res.get("test.run") != sent["run"]:
                continue
            resources.append(res)
            for sl in rl.get("scopeLogs", []):
                logs.extend(sl.get("logRecords", []))
        for rm in obj.get("resourceMetrics", []):
            res = attr_map(rm.get("resource", {}).get("attributes"))
            if res.get("test.run") != sent["run"]:
                continue
            resources.append(res)
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    for kind in ("sum", "gauge"):
                        if kind in m:
                            for pt in m[kind].get("dataPoints", []):
                                points.setdefault((m["name"], kind), []).append(pt)

    # ---- spans
    by_name = {}
    for sp in spans:
        by_name.setdefault(sp.get("name"), []).append(sp)
    missing = [s["name"] for s in sent["spans"] if s["name"] not in by_name]
    t.check(not missing, p + "all %d spans arrived by name" % len(sent["spans"]), missing[:5])
    t.eq(len(spans), len(sent["spans"]), p + "spans of this run in the file")
    wrong = []
    for s in sent["spans"]:
        for sp in by_name.get(s["name"], [])[:1]:
            got = attr_map(sp.get("attributes"))
            if any(got.get(k) != v for k, v in s["attributes"].items()):
                wrong.append((s["name"], s["attributes"], got))
            if len(sp.get("traceId", "")) != 32 or len(sp.get("spanId", "")) != 16:
                wrong.append((s["name"], "ids not hex", sp.get("traceId"), sp.get("spanId")))
    t.check(not wrong, p + "span attributes and hex ids intact", wrong[:3])
    root = by_name.get("js-root-%s" % sent["run"], [{}])[0]
    children = [by_name[s["name"]][0] for s in sent["spans"][1:] if s["name"] in by_name]
    t.check(root and children and all(c.get("parentSpanId") == root.get("spanId")
                                      and c.get("traceId") == root.get("traceId")
                                      for c in children),
            p + "child spans keep parentSpanId/traceId of the root span")

    # ---- logs
    bodies = {}
    for lr in logs:
        bodies.setdefault(any_value(lr.get("body")), []).append(lr)
    missing = [s["body"] for s in sent["logs"] if s["body"] not in bodies]
    t.check(not missing, p + "all %d log record bodies arrived" % len(sent["logs"]), missing[:5])
    wrong = [(s["body"], lr.get("severityNumber"), attr_map(lr.get("attributes")))
             for s in sent["logs"] for lr in bodies.get(s["body"], [])[:1]
             if lr.get("severityNumber") != s["severityNumber"]
             or attr_map(lr.get("attributes")) != s["attributes"]]
    t.check(not wrong, p + "log severityNumber and attributes intact", wrong[:3])

    # ---- metrics
    for m in sent["metrics"]:
        got = points.get((m["name"], m["type"]), [])
        have = [(attr_map(pt.get("attributes")), point_value(pt)) for pt in got]
        missing = [pt for pt in m["points"] if (pt["attributes"], pt["value"]) not in have]
        t.check(got and not missing, p + "%s %s: all %d data points arrived (%d points in the file)"
                % (m["type"], m["name"], len(m["points"]), len(got)),
                "missing %s; have %s" % (missing[:3], have[:5]))

    want_res = sent["resource"]
    t.check(resources and all(all(r.get(k) == v for k, v in want_res.items()) for r in resources),
            p + "resource attributes %s on every resource" % want_res, resources[:3])


if __name__ == "__main__":
    h.run_test(main)
