# test_filter_transform_e2e.py: the filter and transform processors through the
# real otelc binary, with the configurations users write:
#   - transform: the OpenTelemetry demo's collector config (grouped form,
#     replace_pattern + replace_match on span names), from
#     open-telemetry/opentelemetry-demo src/otel-collector/otelcol-config.yml
#     at e5a43bde140e14a7ae4e02baa15bc047c2e2aac7;
#   - filter/ottl: the filter/ottl example of the opentelemetry-collector-contrib
#     filter processor README (traces.span, traces.spanevent, metrics.metric,
#     metrics.datapoint, logs.log_record);
#   - filter/health: a health-check drop in the newer flat trace_conditions;
#   - transform/flat: flat metric and log statements in the style of the
#     contrib transform processor README (where clauses, replace_all_patterns,
#     set from an attribute).
# The sink must receive exactly what a model of otelcol's semantics computes,
# for traces, metrics and logs; `otelc validate` rejects an unsupported OTTL
# function naming it with file:line:column.
# SPDX-License-Identifier: Apache-2.0
import copy
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OK = h.grpc.StatusCode.OK

CONFIG = r"""receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
processors:
  transform:
    error_mode: ignore
    trace_statements:
      - context: span
        statements:
          # could be removed when https://github.com/vercel/next.js/pull/64852 is fixed upstream
          - replace_pattern(name, "\\?.*", "")
          - replace_match(name, "GET /api/products/*", "GET /api/products/{{productId}}")
  filter/ottl:
    error_mode: ignore
    traces:
      span:
        - 'attributes["container.name"] == "app_container_1"'
        - 'resource.attributes["host.name"] == "localhost"'
        - 'name == "app_3"'
      spanevent:
        - 'attributes["grpc"] == true'
        - 'IsMatch(name, ".*grpc.*")'
    metrics:
      metric:
          - 'name == "my.metric" and resource.attributes["my_label"] == "abc123"'
          - 'type == METRIC_DATA_TYPE_HISTOGRAM'
      datapoint:
          - 'metric.type == METRIC_DATA_TYPE_SUMMARY'
          - 'resource.attributes["service.name"] == "my_service_name"'
    logs:
      log_record:
        - 'IsMatch(body, ".*password.*")'
        - 'severity_number < SEVERITY_NUMBER_WARN'
  filter/health:
    trace_conditions:
      - span.attributes["url.path"] == "/health" and span.kind == SPAN_KIND_SERVER
  transform/flat:
    error_mode: ignore
    metric_statements:
      - set(metric.description, "Sum") where metric.type == METRIC_DATA_TYPE_SUM
      - set(datapoint.attributes["host"], resource.attributes["host.name"])
    log_statements:
      - set(log.severity_text, "FAIL") where log.body == "request failed"
      - replace_all_patterns(log.attributes, "value", "/account/\\d{{4}}", "/account/{{accountId}}")
      - set(log.body, log.attributes["http.route"])
      - set(log.attributes["user.hash"], SHA256(log.attributes["user"])) where log.attributes["user"] != nil
      - delete_key(log.attributes, "user")
exporters:
{exporter}service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [transform, filter/ottl, filter/health]
      exporters: [otlp/sink]
    metrics:
      receivers: [otlp]
      processors: [filter/ottl, transform/flat]
      exporters: [otlp/sink]
    logs:
      receivers: [otlp]
      processors: [filter/ottl, transform/flat]
      exporters: [otlp/sink]
"""

SERVER = 2  # SPAN_KIND_SERVER


# ---- input

def span(name, attrs=None, kind=SERVER, events=()):
    sp = h.pb.trace.Span(name=name, kind=kind, trace_id=os.urandom(16), span_id=os.urandom(8),
                         start_time_unix_nano=1, end_time_unix_nano=2)
    sp.attributes.extend(h.attrs(attrs or {}))
    for ev_name, ev_attrs in events:
        ev = sp.events.add(name=ev_name, time_unix_nano=1)
        ev.attributes.extend(h.attrs(ev_attrs))
    return sp


def resource_spans(rattrs, spans):
    rs = h.pb.trace.ResourceSpans()
    rs.resource.attributes.extend(h.attrs(rattrs))
    ss = rs.scope_spans.add()
    ss.scope.name = "demo"
    ss.spans.extend(spans)
    return rs


def make_traces():
    req = h.pb.request["traces"]()
    req.resource_spans.append(resource_spans({"host.name": "localhost"}, [span("x")]))
    req.resource_spans.append(resource_spans({"host.name": "web", "service.name": "frontend"}, [
        span("GET /api/products/OLJCESPC7Z?currency=USD"),
        span("app_3"),
        span("GET /health", {"url.path": "/health"}),
        span("GET /health", {"url.path": "/health"}, kind=3),   # a client: kept
        span("db", {"container.name": "app_container_1"}),
        span("checkout", events=[("e1", {"grpc": True}), ("rpc.grpc.call", {}),
                                 ("ok", {"grpc": False})]),
        span("cart?id=1"),
    ]))
    return req


def metric(name, kind, points, **kw):
    m = h.pb.metrics.Metric(name=name)
    data = getattr(m, kind)
    for i in range(points):
        dp = data.data_points.add(time_unix_nano=10 + i)
        if kind in ("gauge", "sum"):
            dp.as_int = i
        else:
            dp.count = 1
    for k, v in kw.items():
        setattr(data, k, v)
    return m


def make_metrics():
    req = h.pb.request["metrics"]()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(h.attrs({"my_label": "abc123", "service.name": "svc",
                                           "host.name": "n1"}))
    sm = rm.scope_metrics.add()
    sm.metrics.extend([
        metric("my.metric", "gauge", 2),
        metric("latency", "histogram", 2),
        metric("quantiles", "summary", 2),
        metric("requests", "sum", 2, is_monotonic=True, aggregation_temporality=2),
        metric("cpu", "gauge", 3),
    ])
    rm2 = req.resource_metrics.add()
    rm2.resource.attributes.extend(h.attrs({"service.name": "my_service_name"}))
    rm2.scope_metrics.add().metrics.extend([metric("g2", "gauge", 2)])
    return req


def log(body, sev, attrs=None):
    lr = h.pb.logs.LogRecord(severity_number=sev, time_unix_nano=5)
    lr.body.string_value = body
    lr.attributes.extend(h.attrs(attrs or {}))
    return lr


def make_logs():
    req = h.pb.request["logs"]()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(h.attrs({"service.name": "svc"}))
    sl = rl.scope_logs.add()
    sl.log_records.extend([
        log("login password=hunter2", 17),
        log("debug noise", 5),
        log("info noise", 9),
        log("request failed", 17, {"http.route": "/account/1234/orders", "user": "alice"}),
        log("slow", 13, {"http.route": "/a"}),
    ])
    return req


# ---- model: what otelcol does with these configs

def model_traces(req):
    req = copy.deepcopy(req)
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:  # transform (the demo)
                sp.name = re.sub(r"\?.*", "", sp.name)
                if sp.name.startswith("GET /api/products/"):
                    sp.name = "GET /api/products/{productId}"
    out = h.pb.request["traces"]()
    for rs in req.resource_spans:
        host = {kv.key: kv.value.string_value for kv in rs.resource.attributes}.get("host.name")
        keep = []
        for sp in rs.scope_spans[0].spans:
            a = {kv.key: kv.value for kv in sp.attributes}
            if (a.get("container.name") and a["container.name"].string_value == "app_container_1") \
                    or host == "localhost" or sp.name == "app_3":
                continue
            if a.get("url.path") and a["url.path"].string_value == "/health" and sp.kind == SERVER:
                continue
            evs = [ev for ev in sp.events
                   if not any(kv.key == "grpc" and kv.value.bool_value for kv in ev.attributes)
                   and not re.search(".*grpc.*", ev.name)]
            del sp.events[:]
            sp.events.extend(evs)
            keep.append(sp)
        if keep:
            o = out.resource_spans.add()
            o.resource.CopyFrom(rs.resource)
            s = o.scope_spans.add()
            s.scope.CopyFrom(rs.scope_spans[0].scope)
            s.spans.extend(keep)
    return out


def model_metrics(req):
    out = h.pb.request["metrics"]()
    for rm in req.resource_metrics:
        ra = {kv.key: kv.value.string_value for kv in rm.resource.attributes}
        keep = []
        for m in rm.scope_metrics[0].metrics:
            kind = m.WhichOneof("data")
            if (m.name == "my.metric" and ra.get("my_label") == "abc123") or kind == "histogram":
                continue
            if kind == "summary" or ra.get("service.name") == "my_service_name":
                continue  # every data point dropped: the metric goes
            m = copy.deepcopy(m)
            if kind == "sum":
                m.description = "Sum"
            if "host.name" in ra:
                for dp in getattr(m, kind).data_points:
                    dp.attributes.extend(h.attrs({"host": ra["host.name"]}))
            keep.append(m)
        if keep:
            o = out.resource_metrics.add()
            o.resource.CopyFrom(rm.resource)
            o.scope_metrics.add().metrics.extend(keep)
    return out


def model_logs(req):
    import hashlib
    out = copy.deepcopy(req)
    sl = out.resource_logs[0].scope_logs[0]
    keep = []
    for lr in sl.log_records:
        if re.search(".*password.*", lr.body.string_value) or lr.severity_number < 13:
            continue
        if lr.body.string_value == "request failed":
            lr.severity_text = "FAIL"
        a = {kv.key: kv.value.string_value for kv in lr.attributes}
        route = re.sub(r"/account/\d{4}", "/account/{accountId}", a["http.route"])
        new = {"http.route": route}
        lr.body.string_value = route
        if "user" in a:
            new["user.hash"] = hashlib.sha256(a["user"].encode()).hexdigest()
        del lr.attributes[:]
        lr.attributes.extend(h.attrs(new))
        keep.append(lr)
    del sl.log_records[:]
    sl.log_records.extend(keep)
    return out


def main(t):
    sink = h.Sink("sink")
    port = h.free_port()
    cfg = CONFIG.format(port=port, exporter=h.otlp_exporter_yaml("otlp/sink", sink.port))
    proc = h.start_otelc(cfg)
    c = h.Client(port)

    inputs = {"traces": make_traces(), "metrics": make_metrics(), "logs": make_logs()}
    models = {"traces": model_traces, "metrics": model_metrics, "logs": model_logs}
    for sig, req in inputs.items():
        code, _ = c.export(sig, req, timeout=10)
        t.eq(code, OK, "%s request answered" % sig)
    for sig, req in inputs.items():
        want = models[sig](req)
        sink.wait_count(sig, h.count_items(sig, [want]), 15)
        time.sleep(0.3)
        missing, extra = h.compare(sig, [want], sink.requests(sig))
        t.check(not missing and not extra, "%s: the sink received exactly the model's result"
                % sig, h.diff_report(sig, missing, extra))

    # the same facts spelled out, independently of the model
    spans = [sp for r in sink.requests("traces") for rs in r.resource_spans
             for ss in rs.scope_spans for sp in ss.spans]
    t.eq(sorted(sp.name for sp in spans),
         ["GET /api/products/{productId}", "GET /health", "cart", "checkout"],
         "demo transform renamed spans; filter dropped app_3, the container's span, the "
         "localhost resource and the server health check")
    checkout = [sp for sp in spans if sp.name == "checkout"]
    t.eq([ev.name for ev in checkout[0].events] if checkout else None, ["ok"],
         "spanevent conditions dropped the grpc events")
    t.eq(len([rs for r in sink.requests("traces") for rs in r.resource_spans]), 1,
         "the localhost resource, left empty, is gone")
    metrics = {m.name: m for r in sink.requests("metrics") for rm in r.resource_metrics
               for sm in rm.scope_metrics for m in sm.metrics}
    t.eq(sorted(metrics), ["cpu", "requests"], "metric and datapoint conditions dropped the rest")
    if "requests" in metrics:
        t.eq(metrics["requests"].description, "Sum", "set(metric.description) where type is sum")
    recs = [lr for r in sink.requests("logs") for rl in r.resource_logs
            for sl in rl.scope_logs for lr in sl.log_records]
    t.eq(sorted(lr.body.string_value for lr in recs), ["/a", "/account/{accountId}/orders"],
         "log_record conditions dropped the password and low-severity records; body set")
    c.close()
    h.stop_otelc(proc)

    # ---- otelc validate: an OTTL function otelc lacks is named with line and column
    stmt = 'replace_all_matches(log.attributes, "/user/*", "/user/{userId}")'
    bad = cfg.replace('      - delete_key(log.attributes, "user")\n',
                      '      - delete_key(log.attributes, "user")\n      - \'%s\'\n' % stmt)
    line = bad.split("\n").index("      - '%s'" % stmt) + 1
    path = h.write_config(bad, "bad-ottl.yaml")
    r = h.run_otelc(["validate", "--config", path])
    out = r.stdout + r.stderr
    h.log(out.strip())
    t.check(r.returncode != 0, "validate: an unsupported OTTL function fails (exit %d)"
            % r.returncode)
    m = re.search(re.escape(path) + r":(\d+):(\d+): .*log_statements\[5\].*"
                  r"function replace_all_matches\(\) is not supported at character 1", out)
    t.check(m is not None, "validate: the error names the function, file:line:column", out)
    if m:
        t.eq((int(m.group(1)), int(m.group(2))), (line, 9),
             "validate: line and column are those of the statement")
    r = h.run_otelc(["validate", "--config", h.write_config(cfg, "good-ottl.yaml")])
    t.eq(r.returncode, 0, "validate: the configuration as written passes")


if __name__ == "__main__":
    h.run_test(main, timeout=120)
