# test_self_metrics.py: otelc's own metrics and health check. After a known
# load (spans, metric points and log records accepted; spans refused through
# overload while the sink blocks; a batch of log records the sink rejects;
# duplicates removed by dedup), GET /metrics must report exactly those counts
# with current otelcol's names and labels (no _total or unit suffix), the
# processor incoming/outgoing items, the batch processor's metrics, data_type
# on the queue gauges, in-flight requests and target_info with
# service.telemetry.resource, plus uptime and RSS. A second collector with
# without_*: false prints the suffixed names and scope labels; a third pushes
# its metrics with periodic readers to an OTLP/HTTP sink and a gRPC sink. The health_check
# extension answers 200 while running and 503 while shutdown is held open by
# a blocked exporter.
# SPDX-License-Identifier: Apache-2.0
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def http_get(port, path, timeout=3.0):
    """(status, body) of GET http://127.0.0.1:port/path; (None, error) when unreachable."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, repr(e)


def scrape(port):
    status, text = http_get(port, "/metrics")
    if status != 200:
        raise h.OtelcError("GET /metrics answered %r: %s" % (status, text[:300]))
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise h.OtelcError("not a Prometheus sample line: %r" % line)
        labels = dict(LABEL.findall(m.group(2)))
        key = (m.group(1), tuple(sorted((k, v) for k, v in labels.items()
                                        if not k.startswith("service_"))))
        samples[key] = float(m.group(3))
        samples.setdefault(("__labels__", m.group(1)), labels)
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def main(t):
    sink = h.Sink("metrics-sink", max_workers=64)
    port, mport, hport = h.free_port(), h.free_port(), h.free_port()
    exp = h.otlp_exporter_yaml("otlp/sink", sink.port, timeout="2s", queue_size=2,
                               initial_interval="100ms", max_interval="500ms",
                               max_elapsed_time="0")
    cfg = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
           "processors:\n  dedup:\n  batch:\n    timeout: 50ms\n"
           "extensions:\n  health_check:\n    endpoint: 127.0.0.1:%d\n"
           "exporters:\n%s"
           "service:\n  extensions: [health_check]\n  shutdown_timeout: 20s\n"
           "  telemetry:\n    resource:\n      deployment.environment: ci\n    metrics:\n      level: detailed\n      readers:\n        - pull:\n"
           "            exporter:\n              prometheus:\n                host: 127.0.0.1\n"
           "                port: %d\n"
           "  pipelines:\n"
           "    traces:\n      receivers: [otlp]\n      processors: [dedup]\n      exporters: [otlp/sink]\n"
           "    metrics:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [otlp/sink]\n"
           "    logs:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n") % (port, hport, exp, mport)
    proc = h.start_otelc(cfg)
    c = h.Client(port)
    want = {"acc": {s: 0 for s in h.SIGNALS}, "ref_spans": 0}

    def send(sig, req):
        code, _resp, details = c.export_full(sig, req, timeout=10)
        n = h.count_items(sig, [req])
        if code == SC.OK:
            want["acc"][sig] += n
        return code, n, details

    # ---- health: 200 while running
    st, body = h.wait_until(lambda: (lambda r: r if r[0] == 200 else None)(http_get(hport, "/")), 5) \
        or http_get(hport, "/")
    t.eq(st, 200, "health check answers 200 while running")
    try:
        t.eq(json.loads(body).get("status"), "Server available", "health check body status")
    except ValueError:
        t.check(False, "health check body is JSON", body)
    t.eq(http_get(hport, "/nope")[0], 404, "health check: another path is 404")

    # ---- phase 1: normal load
    dup_req = h.make_traces(10)
    for sig, n, k in (("traces", 10, 4), ("metrics", 6, 3), ("logs", 7, 3)):
        for i in range(k):
            req = dup_req if (sig == "traces" and i == 0) else h.make_request(sig, n)
            code, _n, details = send(sig, req)
            t.eq(code, SC.OK, "%s request %d accepted" % (sig, i))
    for sig in h.SIGNALS:
        t.eq(sink.wait_count(sig, want["acc"][sig], 20), want["acc"][sig], "sink got every %s item" % sig)

    # ---- phase 2: duplicates (accepted by the receiver, removed by dedup)
    code, ndup, _ = send("traces", dup_req)
    t.eq(code, SC.OK, "duplicate request accepted by the receiver")

    # ---- phase 3: the sink rejects one logs batch permanently
    before_attempts = sink.attempts["logs"]
    sink.fail_next(1, SC.INVALID_ARGUMENT)
    failed_req = h.make_logs(5)
    code, nfailed, _ = send("logs", failed_req)
    t.eq(code, SC.OK, "logs request accepted (its export will fail)")
    h.wait_until(lambda: sink.attempts["logs"] > before_attempts, 10)
    time.sleep(0.3)

    # ---- phase 4: overload: the sink blocks until the receiver refuses
    sink.block()
    refused_codes = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        code, n, details = send("traces", h.make_traces(10))
        if code == SC.UNAVAILABLE:
            want["ref_spans"] += n
            refused_codes += 1
            if refused_codes >= 3:
                break
        elif code != SC.OK:
            t.check(False, "overload answers are OK or UNAVAILABLE", "%s %s" % (code, details))
            break
    t.check(refused_codes >= 3, "the receiver refused under overload (%d UNAVAILABLE)" % refused_codes)
    s_blocked, _ = scrape(mport)
    t.check((value(s_blocked, "otelcol_exporter_in_flight_requests", exporter="otlp/sink",
                   data_type="traces") or 0) >= 1,
            "otelcol_exporter_in_flight_requests counts the request held by the blocked sink")
    t.check((value(s_blocked, "otelcol_exporter_queue_size", exporter="otlp/sink",
                   data_type="traces") or 0) >= 1, "otelcol_exporter_queue_size shows the backlog")
    sink.release()
    exp_sent = {"traces": want["acc"]["traces"] - ndup, "metrics": want["acc"]["metrics"],
                "logs": want["acc"]["logs"] - nfailed}
    for sig in h.SIGNALS:
        t.eq(sink.wait_count(sig, exp_sent[sig], 30), exp_sent[sig],
             "sink received every %s item that was accepted and not removed" % sig)

    # ---- the metrics, after the exporter settled
    def settled():
        s, _ = scrape(mport)
        return all(value(s, "otelcol_exporter_sent_%s" % it, exporter="otlp/sink") == exp_sent[sig]
                   for sig, it in (("traces", "spans"), ("metrics", "metric_points"),
                                   ("logs", "log_records")))
    h.wait_until(settled, 15, 0.2)
    s, types = scrape(mport)
    items = {"traces": "spans", "metrics": "metric_points", "logs": "log_records"}
    for sig, it in items.items():
        t.eq(value(s, "otelcol_receiver_accepted_%s" % it, receiver="otlp", transport="grpc"),
             want["acc"][sig], "otelcol_receiver_accepted_%s{receiver=otlp,transport=grpc}" % it)
        t.eq(value(s, "otelcol_exporter_sent_%s" % it, exporter="otlp/sink"), exp_sent[sig],
             "otelcol_exporter_sent_%s{exporter=otlp/sink}" % it)
        t.eq(value(s, "otelcol_exporter_enqueue_failed_%s" % it, exporter="otlp/sink"), 0,
             "otelcol_exporter_enqueue_failed_%s" % it)
    t.eq(value(s, "otelcol_receiver_refused_spans", receiver="otlp", transport="grpc"),
         want["ref_spans"], "otelcol_receiver_refused_spans counts the refused requests' spans")
    t.eq(value(s, "otelcol_receiver_refused_log_records", receiver="otlp", transport="grpc"), 0,
         "no log records refused")
    t.eq(value(s, "otelcol_exporter_send_failed_log_records", exporter="otlp/sink"), nfailed,
         "otelcol_exporter_send_failed_log_records counts the rejected batch")
    t.eq(value(s, "otelcol_exporter_send_failed_spans", exporter="otlp/sink"), 0,
         "retried spans are not counted as failed")
    t.eq(value(s, "otelcol_processor_dropped_spans", processor="dedup"), ndup,
         "otelcol_processor_dropped_spans{processor=dedup}")
    t.eq(value(s, "otelcol_processor_deduplicated_spans", processor="dedup"), ndup,
         "otelcol_processor_deduplicated_spans{processor=dedup}")
    for sig in h.SIGNALS:
        t.eq(value(s, "otelcol_exporter_queue_capacity", exporter="otlp/sink", data_type=sig), 2,
             "queue capacity{data_type=%s}" % sig)
        t.eq(value(s, "otelcol_exporter_queue_size", exporter="otlp/sink", data_type=sig), 0,
             "queue empty at rest{data_type=%s}" % sig)
        t.eq(value(s, "otelcol_exporter_in_flight_requests", exporter="otlp/sink", data_type=sig), 0,
             "nothing in flight at rest{data_type=%s}" % sig)
    # the engine counts what enters and leaves each processor
    t.eq(value(s, "otelcol_processor_incoming_items", processor="dedup", otel_signal="traces"),
         want["acc"]["traces"], "otelcol_processor_incoming_items{processor=dedup,otel_signal=traces}")
    t.eq(value(s, "otelcol_processor_outgoing_items", processor="dedup", otel_signal="traces"),
         want["acc"]["traces"] - ndup, "outgoing_items: incoming less the duplicates")
    t.eq(value(s, "otelcol_processor_incoming_items", processor="batch", otel_signal="metrics"),
         want["acc"]["metrics"], "batch incoming_items{otel_signal=metrics}")
    t.eq(value(s, "otelcol_processor_outgoing_items", processor="batch", otel_signal="metrics"),
         want["acc"]["metrics"], "batch outgoing_items{otel_signal=metrics}")
    # the batch processor's own metrics
    t.eq(value(s, "otelcol_processor_batch_batch_send_size_sum", processor="batch"),
         want["acc"]["metrics"], "batch_send_size sums the items sent")
    t.check((value(s, "otelcol_processor_batch_timeout_trigger_send", processor="batch") or 0) >= 1,
            "timeout_trigger_send counted")
    t.eq(value(s, "otelcol_processor_batch_batch_size_trigger_send", processor="batch"), 0,
         "batch_size_trigger_send (send_batch_size never reached)")
    t.eq(value(s, "otelcol_processor_batch_metadata_cardinality", processor="batch"), 1,
         "metadata_cardinality")
    t.eq(types.get("otelcol_processor_batch_batch_send_size"), "histogram", "send size is a histogram")
    ti = s.get(("__labels__", "target_info"), {})
    t.eq(ti.get("deployment_environment"), "ci", "target_info carries service.telemetry.resource")
    t.eq(ti.get("service_name"), "otelc", "target_info carries service.name")
    t.check(not any(n.endswith("_total") for n in types), "no _total suffix by default")
    t.check(not any("otel_scope_name" in lab for (k, n), lab in s.items() if k == "__labels__"),
            "no scope labels by default")
    t.eq(types.get("otelcol_receiver_accepted_spans"), "counter", "accepted is a counter")
    t.eq(types.get("otelcol_exporter_queue_size"), "gauge", "queue size is a gauge")
    up = value(s, "otelcol_process_uptime")
    rss = value(s, "otelcol_process_memory_rss")
    t.check(up is not None and up > 0, "uptime present and positive (%r)" % up)
    t.check(rss is not None and rss > 1 << 20, "RSS present and above 1 MiB (%r)" % rss)
    lab = s.get(("__labels__", "otelcol_receiver_accepted_spans"), {})
    t.eq(lab.get("service_name"), "otelc", "service_name label")
    t.check(re.match(r"^[0-9a-f-]{36}$", lab.get("service_instance_id", "")),
             "service_instance_id label is a UUID")
    t.eq(http_get(mport, "/other")[0], 404, "metrics server: another path is 404")

    # ---- health: 503 while shutdown is held open by a blocked exporter
    sink.block()
    code, _n, _ = send("logs", h.make_logs(3))
    t.eq(code, SC.OK, "a logs request is accepted before shutdown")
    h.wait_until(lambda: sink.blocked_now > 0, 10)
    t.check(sink.blocked_now > 0, "the exporter is held by the blocked sink")
    t.eq(http_get(hport, "/")[0], 200, "still 200 before SIGTERM")
    proc.send_signal(h.signal.SIGTERM)
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        st, body = http_get(hport, "/", timeout=1)
        seen.append(st)
        if st == 503:
            break
        time.sleep(0.05)
    t.check(503 in seen, "health check answers 503 during shutdown (saw %r)" % sorted(set(seen), key=str))
    t.check(proc.poll() is None, "otelc was still draining when 503 was seen")
    if 503 in seen:
        try:
            t.eq(json.loads(body).get("status"), "Server not available", "503 body status")
        except ValueError:
            t.check(False, "503 body is JSON", body)
    threading.Timer(1.0, sink.release).start()
    rc = proc.wait(timeout=30)
    t.eq(rc, 0, "otelc exits 0 after the drain")
    t.eq(sink.count("logs"), exp_sent["logs"] + 3, "the held logs batch was delivered during the drain")

    suffixed_and_periodic(t)


class _OtlpHttpSink:
    """A minimal OTLP/HTTP metrics receiver: keeps every decoded request."""

    def __init__(self):
        import http.server
        outer = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append((self.path, self.headers.get("Content-Type"),
                                       self.headers.get("x-tenant"), h.decode("metrics", body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def suffixed_and_periodic(t):
    """without_*: false prints the suffixed names; periodic readers push the same
    metrics over OTLP/HTTP and OTLP/gRPC."""
    http_sink = _OtlpHttpSink()
    grpc_sink = h.Sink("periodic-grpc")
    port, mport = h.free_port(), h.free_port()
    cfg = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
           "exporters:\n  nop:\n"
           "service:\n  telemetry:\n    resource:\n      k8s.pod.name: pod-a\n"
           "    metrics:\n      readers:\n"
           "        - pull:\n            exporter:\n              prometheus:\n"
           "                host: 127.0.0.1\n                port: %d\n"
           "                without_type_suffix: false\n                without_units: false\n"
           "                without_scope_info: false\n"
           "        - periodic:\n            interval: 200\n            exporter:\n              otlp:\n"
           "                protocol: http/protobuf\n                endpoint: http://127.0.0.1:%d\n"
           "                headers:\n                  - name: x-tenant\n                    value: t1\n"
           "        - periodic:\n            interval: 200\n            exporter:\n              otlp:\n"
           "                protocol: grpc\n                endpoint: 127.0.0.1:%d\n"
           "  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [nop]\n"
           ) % (port, mport, http_sink.port, grpc_sink.port)
    proc = h.start_otelc(cfg)
    c = h.Client(port)
    code, _resp, _d = c.export_full("traces", h.make_traces(4), timeout=10)
    t.eq(code, SC.OK, "suffixed: a traces request is accepted")
    h.wait_until(lambda: value(scrape(mport)[0], "otelcol_exporter_sent_spans_total", exporter="nop",
                               otel_scope_name="go.opentelemetry.io/collector/exporter/exporterhelper",
                               otel_scope_version="") == 4, 10)
    s, types = scrape(mport)
    t.eq(value(s, "otelcol_exporter_sent_spans_total", exporter="nop",
               otel_scope_name="go.opentelemetry.io/collector/exporter/exporterhelper",
               otel_scope_version=""), 4,
         "without_type_suffix: false: otelcol_exporter_sent_spans_total with scope labels")
    for name, typ in (("otelcol_process_uptime_seconds_total", "counter"),
                      ("otelcol_process_memory_rss_bytes", "gauge"),
                      ("otelcol_process_cpu_seconds_total", "counter"),
                      ("otelcol_receiver_accepted_spans_total", "counter")):
        t.eq(types.get(name), typ, "without_units/type_suffix false: %s is a %s" % (name, typ))
    t.check("otelcol_exporter_sent_spans" not in types, "no unsuffixed name alongside")

    def pushed(name):
        for path, _ct, _tenant, req in list(http_sink.requests):
            for rm in req.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        if m.name == name and m.sum.data_points and \
                                m.sum.data_points[0].as_int == 4:
                            return rm
        return None
    rm = h.wait_until(lambda: pushed("otelcol_exporter_sent_spans"), 10)
    t.check(rm is not None, "periodic http/protobuf: otelcol_exporter_sent_spans pushed with its value")
    if rm is not None:
        attrs = {kv.key: kv.value.string_value for kv in rm.resource.attributes}
        t.eq(attrs.get("service.name"), "otelc", "pushed resource: service.name")
        t.eq(attrs.get("k8s.pod.name"), "pod-a", "pushed resource: service.telemetry.resource")
        path, ctype, tenant, _req = http_sink.requests[-1]
        t.eq((path, ctype, tenant), ("/v1/metrics", "application/x-protobuf", "t1"),
             "periodic http/protobuf: path, content type and configured header")
    t.check(h.wait_until(lambda: grpc_sink.count("metrics") > 0, 10),
            "periodic grpc: the collector's metrics reached the gRPC sink")
    h.stop_otelc(proc)
    http_sink.server.shutdown()


if __name__ == "__main__":
    h.run_test(main, timeout=150)
