# test_retry_failing.py: the exporter helper against a failing backend (issue 4,
# "Failing backend"): retryable gRPC codes are retried until everything arrives;
# INVALID_ARGUMENT and RESOURCE_EXHAUSTED without RetryInfo drop the batch, count
# it and log it once with the reason; RetryInfo's delay is honoured.
# SPDX-License-Identifier: Apache-2.0
import os
import re
import sys
import time
import urllib.request

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

EXPORTER = "otlp"


def metrics_yaml(port):
    return "  telemetry:\n    metrics:\n      address: 127.0.0.1:%d\n" % port


def metrics_supported(cfg_text):
    """True when this build accepts service.telemetry.metrics (a /metrics endpoint)."""
    path = h.write_config(cfg_text)
    r = h.run_otelc(["validate", "--config", path])
    return r.returncode == 0


def scrape(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def metric_value(text, name, exporter):
    total = None
    for m in re.finditer(r"^%s(?:_total)?\{([^}]*)\} ([0-9.e+]+)$" % re.escape(name), text, re.M):
        if 'exporter="%s"' % exporter in m.group(1):
            total = (total or 0) + float(m.group(2))
    return total


def drop_lines(proc, items, item_name, code_name):
    pat = re.compile(r"\[error\] \[exporter:%s\] dropping %d %s: permanent error: status %s "
                     % (re.escape(EXPORTER), items, re.escape(item_name), code_name))
    return [ln for ln in h.otelc_stderr(proc).splitlines() if pat.search(ln)]


def send(client, sig, req, checks, what):
    code, _resp, details = client.export_full(sig, req)
    checks.check(code == grpc.StatusCode.OK, "%s: otelc answered OK" % what, "%s %s" % (code, details))
    return code == grpc.StatusCode.OK


def main(checks):
    sink = h.Sink()
    rport = h.free_port()
    mport = h.free_port()
    exporters = h.otlp_exporter_yaml(EXPORTER, sink.port, initial_interval="100ms",
                                     max_interval="1s", max_elapsed_time="0")
    pipelines = {s: [EXPORTER] for s in h.SIGNALS}
    cfg = h.config_yaml(rport, exporters, pipelines)
    with_metrics = h.config_yaml(rport, exporters, pipelines, service_extra=metrics_yaml(mport))
    use_metrics = metrics_supported(with_metrics)
    h.log("self-metrics endpoint: %s" % ("yes, counters are checked there too" if use_metrics
                                         else "not in this build, the log is checked"))
    proc = h.start_otelc(with_metrics if use_metrics else cfg, port=rport)
    client = h.Client(rport)

    # 1. UNAVAILABLE to the first N calls, then OK: everything arrives, exactly.
    n_fail = 6
    sink.fail_next(n_fail, grpc.StatusCode.UNAVAILABLE)
    sent = {s: [] for s in h.SIGNALS}
    for i in range(3):
        for sig in h.SIGNALS:
            req = h.make_request(sig, 5 + i)
            if send(client, sig, req, checks, "UNAVAILABLE x%d: %s request %d" % (n_fail, sig, i)):
                sent[sig].append(req)
    for sig in h.SIGNALS:
        want = h.count_items(sig, sent[sig])
        got = sink.wait_count(sig, want, 30)
        missing, extra = h.compare(sig, sent[sig], sink.requests(sig))
        checks.check(not missing and not extra,
                     "UNAVAILABLE x%d then OK: %s arrive exactly as sent (%d of %d items)"
                     % (n_fail, sig, got, want), h.diff_report(sig, missing, extra))
    checks.eq(sink.failed, n_fail, "the sink refused exactly the first %d calls" % n_fail)
    checks.check(sum(sink.attempts.values()) >= n_fail + 9,
                 "refused calls were retried (%d calls for 9 requests)" % sum(sink.attempts.values()))

    # 2. INVALID_ARGUMENT: dropped after one attempt, counted, logged once with the reason.
    sink.clear()
    sink.fail_next(1, grpc.StatusCode.INVALID_ARGUMENT)
    req = h.make_request("traces", 7)
    send(client, "traces", req, checks, "INVALID_ARGUMENT")
    lines = h.wait_until(lambda: drop_lines(proc, 7, "spans", "INVALID_ARGUMENT"), 15)
    time.sleep(1.5)  # room for a (wrong) retry
    lines = drop_lines(proc, 7, "spans", "INVALID_ARGUMENT")
    checks.eq(len(lines), 1, "INVALID_ARGUMENT: one log line says 7 spans were dropped and why")
    checks.check(lines and "sink: injected INVALID_ARGUMENT" in lines[0],
                 "the line carries the server's message", lines)
    checks.eq(sink.attempts["traces"], 1, "INVALID_ARGUMENT: not retried (calls)")
    checks.eq(sink.count("traces"), 0, "INVALID_ARGUMENT: nothing arrived")

    # 3. RESOURCE_EXHAUSTED without RetryInfo: permanent, like INVALID_ARGUMENT.
    sink.clear()
    sink.fail_next(1, grpc.StatusCode.RESOURCE_EXHAUSTED)
    req = h.make_request("logs", 4)
    send(client, "logs", req, checks, "RESOURCE_EXHAUSTED")
    h.wait_until(lambda: drop_lines(proc, 4, "log records", "RESOURCE_EXHAUSTED"), 15)
    time.sleep(1.5)
    lines = drop_lines(proc, 4, "log records", "RESOURCE_EXHAUSTED")
    checks.eq(len(lines), 1, "RESOURCE_EXHAUSTED without RetryInfo: dropped, logged once")
    checks.eq(sink.attempts["logs"], 1, "RESOURCE_EXHAUSTED without RetryInfo: not retried (calls)")
    checks.eq(sink.count("logs"), 0, "RESOURCE_EXHAUSTED without RetryInfo: nothing arrived")

    # 3b. partial_success: counted and logged with the rejected count and message, not retried.
    sink.clear()
    sink.partial_next(1, 3, "sink: 3 spans too old")
    req = h.make_request("traces", 10)
    send(client, "traces", req, checks, "partial success")
    pat = re.compile(r"\[warn\] \[exporter:otlp\] partial success: the server rejected 3 of 10 "
                     r"spans: sink: 3 spans too old \(not retried\)")
    h.wait_until(lambda: pat.search(h.otelc_stderr(proc)), 15)
    time.sleep(1.0)
    checks.eq(len(pat.findall(h.otelc_stderr(proc))), 1,
              "partial success: one line with the rejected count and the server's message")
    checks.eq(sink.attempts["traces"], 1, "partial success: not retried (calls)")

    if use_metrics:
        text = h.wait_until(lambda: (lambda t: t if metric_value(
            t, "otelcol_exporter_send_failed_log_records", EXPORTER) else "")(scrape(mport)), 10)
        checks.eq(metric_value(text, "otelcol_exporter_send_failed_spans", EXPORTER), 7.0 + 3.0,
                  "/metrics: otelcol_exporter_send_failed_spans counts the dropped spans "
                  "(7 refused, 3 rejected in a partial success)")
        checks.eq(metric_value(text, "otelcol_exporter_send_failed_log_records", EXPORTER), 4.0,
                  "/metrics: otelcol_exporter_send_failed_log_records counts the dropped records")

    # 4. RetryInfo: RESOURCE_EXHAUSTED becomes retryable and the delay is honoured
    #    (initial_interval is 100ms, so a wait near the delay can only come from it).
    for code, delay, sig in ((grpc.StatusCode.RESOURCE_EXHAUSTED, 2.0, "metrics"),
                             (grpc.StatusCode.UNAVAILABLE, 1.5, "traces")):
        sink.clear()
        sink.fail_next(1, code, retry_delay=delay)
        req = h.make_request(sig, 6)
        if not send(client, sig, req, checks, "%s with RetryInfo" % code.name):
            continue
        got = sink.wait_count(sig, h.count_items(sig, [req]), 20)
        missing, extra = h.compare(sig, [req], sink.requests(sig))
        checks.check(not missing and not extra, "%s with RetryInfo(%.1fs): retried, arrived (%d items)"
                     % (code.name, delay, got), h.diff_report(sig, missing, extra))
        times = [t for t, s, _o in sink.attempt_times if s == sig]
        outcomes = [o for _t, s, o in sink.attempt_times if s == sig]
        checks.eq(outcomes, [code.name, "ok"], "%s with RetryInfo: one refusal, one retry" % code.name)
        if len(times) == 2:
            gap = times[1] - times[0]
            checks.check(delay - 0.1 <= gap <= delay + 3.0,
                         "%s: retried after the server's delay (%.2fs, RetryInfo %.1fs)"
                         % (code.name, gap, delay))

    h.stop_otelc(proc, timeout=30)

    # 5. max_elapsed_time: a batch refused for longer is dropped, counted and logged once.
    sink.clear()
    sink.fail_next(10 ** 6, grpc.StatusCode.UNAVAILABLE)
    rport2 = h.free_port()
    short = h.otlp_exporter_yaml(EXPORTER, sink.port, initial_interval="100ms",
                                 max_interval="200ms", max_elapsed_time="1s")
    proc = h.start_otelc(h.config_yaml(rport2, short, {"traces": [EXPORTER]}), port=rport2)
    send(h.Client(rport2), "traces", h.make_request("traces", 5), checks, "max_elapsed_time 1s")
    pat = re.compile(r"\[error\] \[exporter:otlp\] dropping 5 spans: retry_on_failure\."
                     r"max_elapsed_time reached after (\d+) attempts in ([0-9.]+)s: status UNAVAILABLE")
    h.wait_until(lambda: pat.search(h.otelc_stderr(proc)), 15)
    time.sleep(1.0)
    found = pat.findall(h.otelc_stderr(proc))
    checks.eq(len(found), 1, "max_elapsed_time 1s: one line drops the batch, with the reason")
    if found:
        attempts, secs = int(found[0][0]), float(found[0][1])
        checks.check(attempts >= 3 and secs <= 1.0 and attempts == sink.attempts["traces"],
                     "max_elapsed_time 1s: %d attempts in %.1fs, none after (sink saw %d)"
                     % (attempts, secs, sink.attempts["traces"]))
    checks.eq(sink.count("traces"), 0, "max_elapsed_time 1s: nothing arrived")
    h.stop_otelc(proc, timeout=30)
    sink.stop()


if __name__ == "__main__":
    h.run_test(main, timeout=150)
