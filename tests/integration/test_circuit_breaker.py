# test_circuit_breaker.py: the exporters' circuit breaker (circuit_breaker.*),
# with a gRPC sink switched between always-UNAVAILABLE and OK that counts the
# calls reaching it. failure_threshold 5, recovery_timeout 10s, retries every
# 100-200 ms (which without the breaker make about 5 calls a second per batch):
#   - while the backend fails: at most 5 calls, then one probe per 10 s;
#   - the state changes are one log line each (open, half-open, open, ...,
#     closed), and otelcol_exporter_circuit_state reports them;
#   - once the backend is back, every span answered OK arrives exactly once;
#   - the same with the file_storage persistent queue, otelc restarted while
#     the circuit is open (and the backend still failing after the restart);
#   - failure_threshold: 0 is refused, naming the key.
# SPDX-License-Identifier: Apache-2.0
import collections
import os
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
THRESHOLD = 5
RECOVERY_S = 10.0
FAIL = 10 ** 9  # sink.fail_next: fail every call until normal()


def exporter_yaml(sink_port, storage=None):
    return ("  otlp:\n"
            "    endpoint: 127.0.0.1:%d\n"
            "    tls:\n      insecure: true\n"
            "    timeout: 2s\n"
            "    sending_queue:\n      queue_size: 1000\n%s"
            "    retry_on_failure:\n"
            "      initial_interval: 100ms\n      max_interval: 200ms\n"
            "      max_elapsed_time: 60s\n"
            "    circuit_breaker:\n"
            "      enabled: true\n      failure_threshold: %d\n      recovery_timeout: 10s\n"
            % (sink_port, "      storage: file_storage/q\n" if storage else "", THRESHOLD))


def config(port, mport, sink_port, qdir=None):
    ext = ("extensions:\n  file_storage/q:\n    directory: %s\n" % qdir) if qdir else ""
    return ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "%sexporters:\n%s"
            "service:\n%s  shutdown_timeout: 2s\n"
            "  telemetry:\n    metrics:\n      readers:\n        - pull:\n"
            "            exporter:\n              prometheus:\n                host: 127.0.0.1\n"
            "                port: %d\n"
            "  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n"
            % (port, ext, exporter_yaml(sink_port, qdir), "  extensions: [file_storage/q]\n"
               if qdir else "", mport))


def circuit_state(mport):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(r'^otelcol_exporter_circuit_state\{[^}]*exporter="otlp"[^}]*\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


def breaker_lines(proc):
    return re.findall(r"circuit breaker (open|half-open|closed):", h.otelc_stderr(proc))


def send_spans(c, n_requests, tag):
    """n_requests requests of 10 spans; returns the names of the spans answered OK."""
    names = []
    for i in range(n_requests):
        req = h.make_traces(10)
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    sp.name = "%s-%s" % (tag, sp.name)
        code, _ = c.export_retrying("traces", req)
        if code == SC.OK:
            names += [sp.name for rs in req.resource_spans for ss in rs.scope_spans
                      for sp in ss.spans]
    return names


def received_names(sink):
    return [sp.name for req in sink.requests("traces") for rs in req.resource_spans
            for ss in rs.scope_spans for sp in ss.spans]


def calls_between(sink, t0, t1):
    return sum(1 for (t, _sig, _o) in list(sink.attempt_times) if t0 <= t < t1)


def check_probe_pacing(t, sink, t_open, t_end, what):
    """After the circuit opened at t_open: calls come one per recovery_timeout."""
    times = [a for (a, _s, _o) in list(sink.attempt_times) if t_open + 0.5 <= a < t_end]
    allowed = int((t_end - t_open) / RECOVERY_S) + 1
    t.check(len(times) <= allowed, "%s: at most one probe per 10 s while open (%d calls in "
            "%.1f s, allowed %d)" % (what, len(times), t_end - t_open, allowed))
    gaps = [b - a for a, b in zip(times, times[1:])]
    t.check(all(g >= RECOVERY_S - 0.5 for g in gaps),
            "%s: probes at least recovery_timeout apart (gaps %s)"
            % (what, ["%.1f" % g for g in gaps]))
    return len(times)


def part_memory(t):
    sink = h.Sink("cb-sink")
    sink.fail_next(FAIL)
    port, mport = h.free_port(), h.free_port()
    proc = h.start_otelc(config(port, mport, sink.port))
    c = h.Client(port)
    t0 = time.monotonic()
    sent = send_spans(c, 20, "mem")
    t.eq(len(sent), 200, "memory: every request answered OK (queued) while the backend fails")
    h.wait_until(lambda: "open" in breaker_lines(proc), 10)
    t_open = time.monotonic()
    first = calls_between(sink, t0, t_open + 0.5)
    t.check(first <= THRESHOLD, "memory: at most failure_threshold calls before the circuit "
            "opens (%d)" % first)
    t.eq(circuit_state(mport), 1.0, "memory: otelcol_exporter_circuit_state is 1 (open)")
    time.sleep(2 * RECOVERY_S + 3)  # two probes, both failing
    t_end = time.monotonic()
    probes = check_probe_pacing(t, sink, t_open, t_end, "memory")
    t.check(probes >= 2, "memory: the probes happen (%d in %.1f s)" % (probes, t_end - t_open))
    t.eq(sink.count("traces"), 0, "memory: nothing delivered while failing")
    lines = breaker_lines(proc)
    t.eq(lines[:5], ["open", "half-open", "open", "half-open", "open"],
         "memory: one log line per change of state")
    # the backend recovers: the next probe closes the circuit and the queue drains
    sink.normal()
    h.wait_until(lambda: sink.count("traces") >= len(sent), RECOVERY_S + 15)
    time.sleep(1.0)
    got = received_names(sink)
    dup = [n for n, k in collections.Counter(got).items() if k > 1]
    t.check(sorted(set(got)) == sorted(sent), "memory: every span queued while open is "
            "delivered (%d of %d)" % (len(set(got) & set(sent)), len(sent)))
    t.eq(dup, [], "memory: no span delivered twice")
    lines = breaker_lines(proc)
    t.eq(lines[-2:], ["half-open", "closed"], "memory: the last changes are half-open, closed")
    t.check(all(lines[i] != lines[i + 1] for i in range(len(lines) - 1)),
            "memory: each log line is a change (%s)" % lines)
    t.eq(circuit_state(mport), 0.0, "memory: otelcol_exporter_circuit_state is 0 (closed)")
    # once closed, new data flows at once
    more = send_spans(c, 2, "after")
    h.wait_until(lambda: sink.count("traces") >= len(sent) + len(more), 5)
    t.eq(sink.count("traces"), len(sent) + len(more), "memory: sends flow once closed")
    c.close()
    h.stop_otelc(proc)
    sink.stop()


def part_persistent(t):
    sink = h.Sink("cb-pq-sink")
    sink.fail_next(FAIL)
    port, mport = h.free_port(), h.free_port()
    qdir = os.path.join(h.tmpdir(), "cb-queue")
    cfg = config(port, mport, sink.port, qdir)
    proc = h.start_otelc(cfg, port=port)
    c = h.Client(port)
    sent = send_spans(c, 20, "pq")
    t.eq(len(sent), 200, "persistent: every request answered OK (stored) while the backend fails")
    h.wait_until(lambda: "open" in breaker_lines(proc), 10)
    c.close()
    h.stop_otelc(proc, timeout=20)  # restart while the circuit is open
    t.eq(sink.count("traces"), 0, "persistent: nothing delivered before the restart")
    n_before = len(sink.attempt_times)
    t.check(n_before <= THRESHOLD, "persistent: at most failure_threshold calls in the first "
            "run (%d)" % n_before)
    t_restart = time.monotonic()
    proc = h.start_otelc(cfg, port=port)
    # still failing after the restart: the replayed queue opens the circuit again
    h.wait_until(lambda: "open" in breaker_lines(proc), 10)
    t_open = time.monotonic()
    second = calls_between(sink, t_restart, t_open + 0.5)
    t.check(second <= THRESHOLD, "persistent: at most failure_threshold calls after the "
            "restart (%d)" % second)
    time.sleep(3)
    t.eq(sink.count("traces"), 0, "persistent: nothing delivered while still failing")
    sink.normal()
    h.wait_until(lambda: sink.count("traces") >= len(sent), RECOVERY_S + 15)
    time.sleep(1.0)
    got = received_names(sink)
    dup = [n for n, k in collections.Counter(got).items() if k > 1]
    t.check(sorted(set(got)) == sorted(sent), "persistent: every span stored before the "
            "restart is delivered once the backend is back (%d of %d)"
            % (len(set(got) & set(sent)), len(sent)))
    t.eq(dup, [], "persistent: no span delivered twice")
    t.eq(breaker_lines(proc)[-1:], ["closed"], "persistent: the circuit closed")
    h.stop_otelc(proc)
    sink.stop()


def part_bad_input(t):
    sink_port = h.free_port()
    cfg = config(h.free_port(), h.free_port(), sink_port).replace(
        "failure_threshold: %d" % THRESHOLD, "failure_threshold: 0")
    path = h.write_config(cfg, "cb-bad.yaml")
    r = h.run_otelc(["validate", "--config", path])
    t.check(r.returncode != 0, "failure_threshold 0: validate fails")
    t.check("circuit_breaker.failure_threshold" in r.stderr,
            "failure_threshold 0: the error names the key", r.stderr[-600:])
    line = [ln for ln in cfg.splitlines()].index("      failure_threshold: 0") + 1
    t.check(":%d" % line in r.stderr or "line %d" % line in r.stderr,
            "failure_threshold 0: the error names the line", r.stderr[-600:])


def main(t):
    part_bad_input(t)
    part_memory(t)
    part_persistent(t)


if __name__ == "__main__":
    h.run_test(main, timeout=240)
