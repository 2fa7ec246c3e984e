# test_attributes_e2e.py: the attributes and resource processors through the
# real otelc binary over loopback, with the configs users copy from
# otelcol-contrib's READMEs:
# - attributes/example is the sample of processor/attributesprocessor/README.md
#   (open-telemetry/opentelemetry-collector-contrib), without its last action
#   (from_context: metadata.tenant, which otelc refuses: its receivers keep no
#   client metadata);
# - attributes/log_body_regexp is testdata/config.yaml's of the same
#   processor;
# - resource is the example of processor/resourceprocessor/README.md.
# Traces go through an attributes processor, then the resource processor;
# logs and metrics through the resource processor first (it rewrites the
# received bytes without decoding them), then an attributes processor; the sink must receive exactly what a model of otelcol's rules
# (written here from the READMEs) makes of the sent requests. `otelc
# validate` names a bad action with its file:line:column.
# SPDX-License-Identifier: Apache-2.0
import copy
import hashlib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OK = h.grpc.StatusCode.OK

CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
processors:
  attributes/example:
    actions:
      - key: db.table
        action: delete
      - key: redacted_span
        value: true
        action: upsert
      - key: copy_key
        from_attribute: key_original
        action: update
      - key: account_id
        value: 2245
        action: insert
      - key: account_password
        action: delete
      - key: account_email
        action: hash
      - key: http.status_code
        action: convert
        converted_type: int
      # Use default_value when source attribute doesn't exist
      - key: region
        from_attribute: cloud.region
        default_value: "us-east-1"
        action: insert
  attributes/log_body_regexp:
    include:
      match_type: regexp
      log_bodies: ["AUTH.*"]
    actions:
      - key: password
        action: update
        value: "obfuscated"
      - key: token
        action: delete
  attributes/metrics:
    include:
      match_type: strict
      metric_names: [http.server.duration]
    actions:
      - key: http.target
        action: delete
      - key: tenant
        value: acme
        action: upsert
  resource:
    attributes:
    - key: cloud.availability_zone
      value: "zone-1"
      action: upsert
    - key: k8s.cluster.name
      from_attribute: k8s-cluster
      action: insert
    - key: redundant-attribute
      action: delete
exporters:
{exporter}service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [attributes/example, resource]
      exporters: [otlp/sink]
    logs:
      receivers: [otlp]
      processors: [resource, attributes/log_body_regexp]
      exporters: [otlp/sink]
    metrics:
      receivers: [otlp]
      processors: [resource, attributes/metrics]
      exporters: [otlp/sink]
"""


# ---- model of otelcol's rules

def find(kvs, key):
    for i, kv in enumerate(kvs):
        if kv.key == key:
            return i
    return -1


def put(kvs, key, value):
    i = find(kvs, key)
    if i >= 0:
        kvs[i].value.CopyFrom(h._any(value))
    else:
        kvs.append(h.kv(key, value))


def delete(kvs, key):
    i = find(kvs, key)
    if i >= 0:
        del kvs[i]


def model_resource(res):
    kvs = res.attributes
    put(kvs, "cloud.availability_zone", "zone-1")
    src = find(kvs, "k8s-cluster")
    if src >= 0 and find(kvs, "k8s.cluster.name") < 0:
        kvs.append(h.pb.common.KeyValue(key="k8s.cluster.name", value=kvs[src].value))
    delete(kvs, "redundant-attribute")


def model_span(kvs):
    delete(kvs, "db.table")
    put(kvs, "redacted_span", True)
    src = find(kvs, "key_original")
    if src >= 0 and find(kvs, "copy_key") >= 0:
        kvs[find(kvs, "copy_key")].value.CopyFrom(kvs[src].value)
    if find(kvs, "account_id") < 0:
        kvs.append(h.kv("account_id", 2245))
    delete(kvs, "account_password")
    i = find(kvs, "account_email")
    if i >= 0:
        kvs[i].value.CopyFrom(h._any(hashlib.sha256(
            kvs[i].value.string_value.encode()).hexdigest()))
    i = find(kvs, "http.status_code")
    if i >= 0 and kvs[i].value.WhichOneof("value") == "string_value":
        try:
            kvs[i].value.CopyFrom(h._any(int(kvs[i].value.string_value, 10)))
        except ValueError:
            pass
    if find(kvs, "region") < 0:
        src = find(kvs, "cloud.region")
        kvs.append(h.pb.common.KeyValue(key="region", value=kvs[src].value) if src >= 0
                   else h.kv("region", "us-east-1"))


def model(sig, req):
    req = copy.deepcopy(req)
    if sig == "traces":
        for rs in req.resource_spans:
            model_resource(rs.resource)
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    model_span(sp.attributes)
    elif sig == "logs":
        for rl in req.resource_logs:
            model_resource(rl.resource)
            for sl in rl.scope_logs:
                for lr in sl.log_records:
                    if re.search("AUTH.*", lr.body.string_value):
                        i = find(lr.attributes, "password")
                        if i >= 0:
                            lr.attributes[i].value.CopyFrom(h._any("obfuscated"))
                        delete(lr.attributes, "token")
    else:
        for rm in req.resource_metrics:
            model_resource(rm.resource)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name != "http.server.duration":
                        continue
                    for dp in getattr(m, m.WhichOneof("data")).data_points:
                        delete(dp.attributes, "http.target")
                        put(dp.attributes, "tenant", "acme")
    return req


# ---- input

def make_traces():
    req = h.make_traces(6, n_resources=2)
    req.resource_spans[0].resource.attributes.extend(h.attrs({
        "k8s-cluster": "prod-eu", "redundant-attribute": "x",
        "cloud.availability_zone": "old"}))
    req.resource_spans[1].resource.attributes.extend(h.attrs({
        "k8s-cluster": "prod-us", "k8s.cluster.name": "kept"}))
    shapes = [
        {"db.table": "users", "account_password": "hunter2", "account_email": "a@example.com",
         "http.status_code": "404", "copy_key": "old", "key_original": "orig"},
        {"account_id": 7, "http.status_code": "not-a-number", "cloud.region": "eu-west-1",
         "account_email": "b@example.com"},
        {"redacted_span": "no", "copy_key": "old"},  # no key_original: copy_key unchanged
    ]
    spans = [sp for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    for i, sp in enumerate(spans):
        sp.attributes.extend(h.attrs(shapes[i % 3]))
    return req


def make_logs():
    req = h.make_logs(4)
    recs = req.resource_logs[0].scope_logs[0].log_records
    req.resource_logs[0].resource.attributes.extend(h.attrs({"redundant-attribute": "x"}))
    for i, lr in enumerate(recs):
        lr.body.string_value = ("AUTH failed for %d" % i) if i % 2 == 0 else ("GET /%d" % i)
        lr.attributes.extend(h.attrs({"password": "pw%d" % i, "token": "t%d" % i}))
    return req


def make_metrics():
    req = h.make_metrics(8, rich=True)
    ms = req.resource_metrics[0].scope_metrics[0].metrics
    for i, m in enumerate(ms):
        if i % 2 == 0:
            m.name = "http.server.duration"
        for dp in getattr(m, m.WhichOneof("data")).data_points:
            dp.attributes.extend(h.attrs({"http.target": "/x", "tenant": "old"}))
    return req


def main(t):
    sink = h.Sink("sink")
    port = h.free_port()
    cfg = CONFIG.format(port=port, exporter=h.otlp_exporter_yaml("otlp/sink", sink.port))
    proc = h.start_otelc(cfg)
    c = h.Client(port)

    sent = {"traces": make_traces(), "logs": make_logs(), "metrics": make_metrics()}
    for sig, req in sent.items():
        code, _ = c.export(sig, req, timeout=10)
        t.eq(code, OK, "%s request answered" % sig)
    for sig, req in sent.items():
        sink.wait_count(sig, h.count_items(sig, [req]), 15)
        time.sleep(0.2)
        missing, extra = h.compare(sig, [model(sig, req)], sink.requests(sig))
        t.check(not missing and not extra, "%s: the sink received exactly the model's result"
                % sig, h.diff_report(sig, missing, extra))

    # the same facts spelled out, independently of the model
    spans = [sp for r in sink.requests("traces") for rs in r.resource_spans
             for ss in rs.scope_spans for sp in ss.spans]
    by_email = {}
    for sp in spans:
        a = {kv.key: kv.value for kv in sp.attributes}
        if "account_email" in a:
            by_email[a["account_email"].string_value] = a
    want = hashlib.sha256(b"a@example.com").hexdigest()
    t.check(want in by_email, "hash: account_email is the SHA-256 hex of its value", by_email.keys())
    if want in by_email:
        a = by_email[want]
        t.eq(a["http.status_code"].WhichOneof("value"), "int_value",
             "convert: \"404\" became an int")
        t.eq((a["http.status_code"].int_value, "db.table" in a, "account_password" in a),
             (404, False, False), "convert value; db.table and account_password deleted")
        t.eq((a["account_id"].int_value, a["redacted_span"].bool_value),
             (2245, True), "insert 2245 (an int), upsert true (a bool)")
        t.eq((a["copy_key"].string_value, a["region"].string_value), ("orig", "us-east-1"),
             "update from_attribute; insert default_value when cloud.region is absent")
    res = [rs.resource for r in sink.requests("traces") for rs in r.resource_spans]
    got = sorted((next(kv.value.string_value for kv in r.attributes if kv.key == "k8s.cluster.name"),
                  next(kv.value.string_value for kv in r.attributes
                       if kv.key == "cloud.availability_zone"),
                  any(kv.key == "redundant-attribute" for kv in r.attributes)) for r in res)
    t.eq(got, [("kept", "zone-1", False), ("prod-eu", "zone-1", False)],
         "resource: upsert zone, insert cluster name from k8s-cluster (kept when present), delete")
    recs = [lr for r in sink.requests("logs") for rl in r.resource_logs
            for sl in rl.scope_logs for lr in sl.log_records]
    got = sorted((lr.body.string_value.startswith("AUTH"),
                  {kv.key: kv.value.string_value for kv in lr.attributes}.get("password", "")
                  == "obfuscated",
                  any(kv.key == "token" for kv in lr.attributes)) for lr in recs)
    t.eq(got, [(False, False, True)] * 2 + [(True, True, False)] * 2,
         "logs: only records whose body matches AUTH.* are changed")
    c.close()
    h.stop_otelc(proc)

    # ---- otelc validate: a bad action is named with file:line:column
    bad = cfg.replace("      - key: account_password\n        action: delete\n",
                      "      - key: account_password\n        action: redact\n")
    line = bad.split("\n").index("        action: redact") + 1
    path = h.write_config(bad, "bad-action.yaml")
    r = h.run_otelc(["validate", "--config", path])
    out = r.stdout + r.stderr
    h.log(out.strip())
    t.check(r.returncode != 0, "validate: an unknown action fails (exit %d)" % r.returncode)
    m = re.search(re.escape(path) + r":(\d+):(\d+): processor \"attributes/example\": "
                  r"actions\[4\]\.action: unsupported action \"redact\"", out)
    t.check(m is not None, "validate: the error names the processor, key and value", out)
    if m:
        t.eq((int(m.group(1)), int(m.group(2))), (line, 17), "validate: line and column of the value")


if __name__ == "__main__":
    h.run_test(main, timeout=120)
