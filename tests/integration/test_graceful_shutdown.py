# test_graceful_shutdown.py: SIGTERM under steady load (issue 4, "Graceful
# shutdown", without persistent storage): otelc exits 0 within
# service.shutdown_timeout, and every item it answered OK is either at the
# backend or counted in the "not delivered" line of the log, exactly.
# SPDX-License-Identifier: Apache-2.0
import collections
import os
import random
import re
import signal
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

CLIENTS = 4
LOST_RE = re.compile(r"\[exporter:otlp\] service\.shutdown_timeout \([0-9.]+s\) reached: "
                     r"(\d+) spans, (\d+) data points, (\d+) log records not delivered")
# Answers that say for sure the request was not taken.
REFUSED = ("shutting down", "pipeline is full", "failed to connect", "Connection refused",
           "connection refused")


def config(rport, sink_port, shutdown_timeout):
    return """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 200ms
    send_batch_size: 100
exporters:
  otlp:
    endpoint: 127.0.0.1:%d
    tls:
      insecure: true
    compression: none
    timeout: 30s
    sending_queue:
      num_consumers: 4
      queue_size: 50
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0
service:
  shutdown_timeout: %s
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
""" % (rport, sink_port, shutdown_timeout)


class Load:
    """CLIENTS threads sending small requests of every signal until stopped."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.calls = []  # (signal, request, code, details)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(CLIENTS)]

    def _run(self, i):
        client = h.Client(self.port)
        rnd = random.Random(i)
        k = i
        while not self.stop.is_set():
            sig = h.SIGNALS[k % 3]
            k += 1
            req = h.make_request(sig, rnd.randint(3, 12))
            code, _resp, details = client.export_full(sig, req, timeout=10)
            with self.lock:
                self.calls.append((sig, req, code, details))
            if code != grpc.StatusCode.OK:
                time.sleep(0.02)

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(15)

    def split(self, sig):
        ok, refused, unsure = [], [], []
        for s, req, code, details in self.calls:
            if s != sig:
                continue
            if code == grpc.StatusCode.OK:
                ok.append(req)
            elif code == grpc.StatusCode.UNAVAILABLE and any(r in details for r in REFUSED):
                refused.append(req)
            else:
                unsure.append((req, code, details))
        return ok, refused, unsure


def lost_counts(proc):
    n = [0, 0, 0]
    lines = LOST_RE.findall(h.otelc_stderr(proc))
    for m in lines:
        for i in range(3):
            n[i] += int(m[i])
    return dict(zip(h.SIGNALS, n)), len(lines)


def account(checks, what, load, sink, lost):
    """Every item answered OK is at the sink or counted as lost; nothing else
    arrives. Calls whose outcome the client could not know (cut by the
    shutdown) may go either way and widen the bound."""
    for sig in h.SIGNALS:
        ok, refused, unsure = load.split(sig)
        ok_items = collections.Counter(h.flatten(sig, ok))
        unsure_items = collections.Counter(h.flatten(sig, [u[0] for u in unsure]))
        at_sink = collections.Counter(h.flatten(sig, sink.requests(sig)))
        ok_missing = sum((ok_items - at_sink).values())
        unsure_missing = sum((unsure_items - at_sink).values())
        stray = at_sink - ok_items - unsure_items
        dups = sum(v - 1 for v in at_sink.values() if v > 1)
        h.log("  %s %s: answered OK %d items (%d calls), at the sink %d, lost in the log %d, "
              "refused calls %d, calls cut by the shutdown %d %s"
              % (what, sig, sum(ok_items.values()), len(ok), sum(at_sink.values()), lost[sig],
                 len(refused), len(unsure), sorted(set("%s: %s" % (u[1].name, u[2]) for u in unsure))))
        checks.check(not stray, "%s %s: the sink got nothing that was not sent" % (what, sig),
                     h.diff_report(sig, collections.Counter(), stray))
        checks.eq(dups, 0, "%s %s: no item arrived twice" % (what, sig))
        if not unsure:
            checks.eq(lost[sig], ok_missing,
                      "%s %s: OK items not at the sink == items reported not delivered" % (what, sig))
        else:
            checks.check(ok_missing <= lost[sig] <= ok_missing + unsure_missing,
                         "%s %s: OK items not at the sink (%d) <= reported lost (%d) <= that + "
                         "items of calls cut by the shutdown (%d)"
                         % (what, sig, ok_missing, lost[sig], unsure_missing))


def run_case(checks, what, shutdown_timeout_s, block_sink):
    sink = h.Sink()
    rport = h.free_port()
    proc = h.start_otelc(config(rport, sink.port, "%gs" % shutdown_timeout_s), port=rport)
    load = Load(rport)
    load.start()
    time.sleep(2.0)
    if block_sink:
        sink.block()
        time.sleep(2.5)  # the queues fill up behind the held calls
    ok_before = sum(1 for c in load.calls if c[2] == grpc.StatusCode.OK)
    checks.check(ok_before > 20, "%s: steady load before SIGTERM (%d calls answered OK)"
                 % (what, ok_before))
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=shutdown_timeout_s + 30)
    except Exception:
        h.kill_otelc(proc)
        rc = None
    elapsed = time.monotonic() - t0
    load.finish()
    checks.eq(rc, 0, "%s: exit code after SIGTERM" % what)
    checks.check(elapsed < shutdown_timeout_s + 2.0,
                 "%s: exited %.2fs after SIGTERM (shutdown_timeout %gs, +2s allowed for teardown "
                 "on a loaded machine)" % (what, elapsed, shutdown_timeout_s))
    time.sleep(0.5)  # held calls see the cancellation
    lost, n_lines = lost_counts(proc)
    if block_sink:
        checks.check(n_lines == 1 and sum(lost.values()) > 0,
                     "%s: one line reports what was not delivered: %s" % (what, lost),
                     h.otelc_stderr(proc)[-2000:])
    else:
        checks.eq(n_lines, 0, "%s: nothing reported lost with a healthy backend" % what)
    account(checks, what, load, sink, lost)
    sink.stop()


def main(checks):
    run_case(checks, "healthy backend", 10, block_sink=False)
    run_case(checks, "blocked backend", 3, block_sink=True)


if __name__ == "__main__":
    h.run_test(main, timeout=150)
