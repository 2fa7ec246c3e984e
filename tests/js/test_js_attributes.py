# test_js_attributes.py: the OpenTelemetry JS SDK (node, send.js, its OTLP/gRPC
# exporters) sends spans, log records and metric points to the real otelc,
# whose pipelines hash an attribute with the attributes processor (the PII
# case: otelcol-contrib's `action: hash`, SHA-256 in hex) and stamp the
# resource with the resource processor; otelc writes what it passes on with
# its file exporter. Every item must arrive with test.str hashed (spans),
# test.index hashed as otelcol hashes an int (SHA-256 of its 8 bytes,
# little-endian; log records and data points), the other attributes as sent,
# and deployment.environment on every resource.
# SPDX-License-Identifier: Apache-2.0
import hashlib
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import otlp_harness as h  # noqa: E402
from test_js_sdk import attr_map  # noqa: E402

N = 6

PROCESSORS = """\
processors:
  attributes/pii_spans:
    actions:
      - key: test.str
        action: hash
  attributes/pii_index:
    actions:
      - key: test.index
        action: hash
  resource:
    attributes:
      - key: deployment.environment
        value: test
        action: upsert
"""


def sha_int(i):
    return hashlib.sha256(struct.pack("<q", i)).hexdigest()


def sha_str(s):
    return hashlib.sha256(s.encode()).hexdigest()


def main(t):
    r = subprocess.run(["sh", os.path.join(HERE, "setup.sh")], capture_output=True, text=True,
                       timeout=90)
    if not t.check(r.returncode == 0, "setup.sh installed the JS SDK (exit %d)" % r.returncode,
                   (r.stdout + r.stderr)[-2000:]):
        return
    out = os.path.join(h.tmpdir(), "js-attrs.jsonl")
    port = h.free_port()
    cfg = h.config_yaml(port, "  file/out:\n    path: %s\n" % out,
                        {s: ["file/out"] for s in h.SIGNALS})
    cfg = cfg.replace("exporters:\n", PROCESSORS + "exporters:\n", 1)
    for sig, procs in (("traces", "attributes/pii_spans, resource"),
                       ("logs", "resource, attributes/pii_index"),
                       ("metrics", "attributes/pii_index, resource")):
        cfg = cfg.replace("    %s:\n      receivers: [otlp]\n" % sig,
                          "    %s:\n      receivers: [otlp]\n      processors: [%s]\n"
                          % (sig, procs))
    proc = h.start_otelc(cfg)
    r = subprocess.run(["node", os.path.join(HERE, "send.js")], capture_output=True, text=True,
                       timeout=60, cwd=HERE,
                       env=dict(os.environ, OTLP_ENDPOINT="http://127.0.0.1:%d" % port,
                                OTLP_PROTOCOL="grpc", OTC_JS_N=str(N)))
    t.check(r.returncode == 0, "node send.js exported everything (exit %d)" % r.returncode,
            r.stderr[-3000:])
    sent = json.loads(r.stdout.strip().splitlines()[-1])
    t.check(True, "otelc stopped cleanly in %.2f s" % h.stop_otelc(proc))

    spans, logs, points, resources = [], [], [], []
    with open(out) as f:
        for line in f:
            if not line.strip():
                continue
            obj = json.loads(line)
            for key, scopes, items in (("resourceSpans", "scopeSpans", "spans"),
                                       ("resourceLogs", "scopeLogs", "logRecords"),
                                       ("resourceMetrics", "scopeMetrics", "metrics")):
                for rs in obj.get(key, []):
                    res = attr_map(rs.get("resource", {}).get("attributes"))
                    if res.get("test.run") != sent["run"]:
                        continue
                    resources.append(res)
                    for ss in rs.get(scopes, []):
                        for it in ss.get(items, []):
                            if key == "resourceSpans":
                                spans.append(it)
                            elif key == "resourceLogs":
                                logs.append(it)
                            else:
                                for kind in ("sum", "gauge"):
                                    points.extend(it.get(kind, {}).get("dataPoints", []))

    # spans: test.str hashed, the rest as sent
    by_name = {sp.get("name"): attr_map(sp.get("attributes")) for sp in spans}
    wrong = []
    for s in sent["spans"]:
        want = dict(s["attributes"])
        if "test.str" in want:
            want["test.str"] = sha_str(want["test.str"])
        if by_name.get(s["name"]) != want:
            wrong.append((s["name"], want, by_name.get(s["name"])))
    t.eq(len(spans), len(sent["spans"]), "every span arrived")
    t.check(not wrong, "spans: test.str is the SHA-256 hex of what the SDK sent, the other "
            "attributes unchanged", wrong[:3])

    # log records and data points: the int test.index hashed
    got = sorted(attr_map(lr.get("attributes")).get("test.index") for lr in logs)
    t.eq(got, sorted(sha_int(s["attributes"]["test.index"]) for s in sent["logs"]),
         "log records: test.index hashed as otelcol hashes an int")
    # (the SDK's periodic reader may export a cumulative point more than once)
    want_pts = sorted({sha_int(p["attributes"]["test.index"]) for m in sent["metrics"]
                       for p in m["points"]})
    got_pts = [attr_map(p.get("attributes")).get("test.index") for p in points]
    t.check(got_pts and sorted(set(got_pts)) == want_pts,
            "data points: test.index hashed on every one of %d points" % len(got_pts),
            "got %s, want %s" % (sorted(set(got_pts))[:4], want_pts[:4]))

    t.check(resources and all(r.get("deployment.environment") == "test"
                              and r.get("service.name") == "otelc-js-test" for r in resources),
            "resource processor: deployment.environment on every resource (%d)" % len(resources),
            resources[:3])


if __name__ == "__main__":
    h.run_test(main)
