# test_crash_loop.py: issues 4 and 18, "Crash loop". With the persistent queue
# (file_storage, fsync on), clients send spans at 2,000 a second plus logs
# while otelc is killed with SIGKILL three times and restarted each time on
# the same directory and port. Afterwards:
#   - every span and log record whose Export was answered OK has arrived;
#   - duplicates are bounded: at most 5% of the acked items, or at most the
#     items in flight at the kills (both figures printed). In flight at a kill
#     = answered OK by otelc but not yet arrived at the sink one progress
#     interval (50 ms, when the delivery progress is written) before the kill.
# Then the backend goes down, otelc is killed once more and restarted: it
# answers new data OK within 1 s of being started while its backlog waits to
# be replayed, and once the backend is back everything answered OK arrives.
# SPDX-License-Identifier: Apache-2.0
import os
import random
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

KILLS = 3
SPANS_PER_S = 2000
SPAN_CLIENTS = 2
SPANS_PER_REQUEST = 50
LOG_CLIENTS = 2
LOGS_PER_REQUEST = 20
LOG_REQUESTS_PER_S = 10     # per client: 400 log records a second in all
PROGRESS_INTERVAL = 0.05    # core/wal.c WAL_ACK_INTERVAL
DUP_SHARE = 0.05


def config(rport, sink_port, qdir):
    return """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 100ms
    send_batch_size: 200
extensions:
  file_storage/q:
    directory: %s
exporters:
  otlp:
    endpoint: 127.0.0.1:%d
    tls:
      insecure: true
    timeout: 5s
    sending_queue:
      storage: file_storage/q
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 500ms
      max_elapsed_time: 0
service:
  extensions: [file_storage/q]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
""" % (rport, qdir, sink_port)


def ids_of(sig, req):
    if sig == "traces":
        return [sp.name for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    return [lr.body.string_value for rl in req.resource_logs for sl in rl.scope_logs
            for lr in sl.log_records]


class Load:
    """Paced clients: spans at SPANS_PER_S in all, plus logs."""

    def __init__(self, port):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {"traces": set(), "logs": set()}
        self.calls = {"ok": 0, "failed": 0}
        self.port = port
        span_rate = float(SPANS_PER_S) / SPAN_CLIENTS / SPANS_PER_REQUEST
        self.threads = ([threading.Thread(target=self._run, args=("traces", i, span_rate), daemon=True)
                         for i in range(SPAN_CLIENTS)] +
                        [threading.Thread(target=self._run, args=("logs", i, LOG_REQUESTS_PER_S),
                                          daemon=True) for i in range(LOG_CLIENTS)])

    def _request(self, sig, tid, seq):
        if sig == "traces":
            return h.make_traces(SPANS_PER_REQUEST)
        req = h.make_logs(LOGS_PER_REQUEST)
        k = 0
        for rl in req.resource_logs:
            for sl in rl.scope_logs:
                for lr in sl.log_records:
                    k += 1
                    lr.body.string_value = "crash-%s-%d-%d-%d" % (h.RUN_ID, tid, seq, k)
        return req

    def _run(self, sig, tid, rate):
        client = h.Client(self.port, options=[("grpc.initial_reconnect_backoff_ms", 100),
                                              ("grpc.min_reconnect_backoff_ms", 100),
                                              ("grpc.max_reconnect_backoff_ms", 300)])
        seq = 0
        due = time.monotonic()
        while not self.stop.is_set():
            seq += 1
            req = self._request(sig, tid, seq)
            code, _ = client.export(sig, req, timeout=3.0)
            with self.lock:
                if code == grpc.StatusCode.OK:
                    self.acked[sig].update(ids_of(sig, req))
                    self.calls["ok"] += 1
                else:
                    self.calls["failed"] += 1
            due += 1.0 / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            elif pause < -1.0:
                due = time.monotonic()  # after an outage: no burst to catch up
        client.close()

    def snapshot(self):
        with self.lock:
            return {s: set(v) for s, v in self.acked.items()}


def sanitized():
    with open(h.OTELC, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def arrived(sinks):
    seen = {"traces": {}, "logs": {}}
    for sink in sinks:
        for sig in seen:
            for req in sink.requests(sig):
                for i in ids_of(sig, req):
                    seen[sig][i] = seen[sig].get(i, 0) + 1
    return seen


def main(c):
    sink = h.Sink()
    sink_port = sink.port
    sinks = [sink]
    port = h.free_port()
    qdir = os.path.join(h.tmpdir(), "queue")
    cfg = config(port, sink_port, qdir)
    proc = h.start_otelc(cfg, port=port)
    load = Load(port)
    for t in load.threads:
        t.start()
    rng = random.Random()
    in_flight = []
    for k in range(KILLS):
        time.sleep(rng.uniform(1.5, 3.0))
        seen_before = arrived(sinks)
        time.sleep(PROGRESS_INTERVAL)
        acked = load.snapshot()
        proc.kill()  # SIGKILL
        proc.wait(timeout=10)
        n = sum(len(acked[s] - set(seen_before[s])) for s in acked)
        in_flight.append(n)
        h.log("kill -9 #%d: %d items answered OK, %d of them in flight"
              % (k + 1, sum(len(v) for v in acked.values()), n))
        time.sleep(rng.uniform(0.0, 0.3))
        proc = h.start_otelc(cfg, port=port, timeout=30.0)
    time.sleep(1.0)
    acked = load.snapshot()
    c.check(h.wait_until(lambda: all(acked[s] <= set(arrived(sinks)[s]) for s in acked), 30.0,
                         interval=0.5) is not False, "the load so far arrived")
    seen = arrived(sinks)
    n_acked = sum(len(v) for v in acked.values())
    missing = {s: acked[s] - set(seen[s]) for s in acked}
    dups = {s: sum(n - 1 for i, n in seen[s].items() if i in acked[s]) for s in acked}
    n_dups = sum(dups.values())
    h.log("answered OK: %d spans, %d log records; duplicates: %d spans, %d log records; missing: "
          "%d spans, %d log records" % (len(acked["traces"]), len(acked["logs"]), dups["traces"],
                                        dups["logs"], len(missing["traces"]), len(missing["logs"])))
    h.log("duplicates: %d = %.2f%% of the %d acked items; items in flight at the kills: %s = %d"
          % (n_dups, 100.0 * n_dups / max(1, n_acked), n_acked, in_flight, sum(in_flight)))
    c.check(len(acked["traces"]) > 3 * SPANS_PER_S, "spans were answered OK under load (%d)"
            % len(acked["traces"]))
    c.check(not missing["traces"] and not missing["logs"],
            "every item answered OK arrived (%d spans, %d log records missing)"
            % (len(missing["traces"]), len(missing["logs"])),
            "e.g. %s" % sorted(missing["traces"] | missing["logs"])[:5])
    c.check(n_dups <= DUP_SHARE * n_acked or n_dups <= sum(in_flight),
            "duplicates (%d) are at most 5%% of the acked items (%d) or the items in flight at "
            "the kills (%d)" % (n_dups, int(DUP_SHARE * n_acked), sum(in_flight)))

    # -- backend down: a restarted otelc takes new data at once ------------
    sink.stop()
    time.sleep(1.0)  # a backlog builds up in the queue
    proc.kill()
    proc.wait(timeout=10)
    t_spawn = time.monotonic()
    proc = h.start_otelc(cfg, port=port, timeout=30.0)
    t_listen = time.monotonic()
    probe = h.Client(port)
    first_ok = None
    probe_ids = set()
    while time.monotonic() - t_spawn < 5.0:
        req = h.make_logs(5)
        code, _ = probe.export("logs", req, timeout=1.0)
        if code == grpc.StatusCode.OK:
            first_ok = time.monotonic()
            probe_ids.update(ids_of("logs", req))
            break
        time.sleep(0.02)
    probe.close()
    # a sanitizer build takes about a second to start on a busy machine: there
    # the second counts from the moment it listens
    t_ref = t_listen if sanitized() else t_spawn
    c.check(first_ok is not None and first_ok - t_ref <= 1.0,
            "with the backend down, the restarted otelc answered new data OK %.3fs after it was "
            "started (%.3fs after it listened)" % ((first_ok or 0) - t_spawn, (first_ok or 0) - t_listen))
    time.sleep(1.5)
    sink2 = h.Sink(name="sink-back", port=sink_port)
    sinks.append(sink2)
    time.sleep(1.0)
    load.stop.set()
    for t in load.threads:
        t.join(timeout=10)
    acked = load.snapshot()
    acked["logs"] |= probe_ids
    h.wait_until(lambda: all(acked[s] <= set(arrived(sinks)[s]) for s in acked), 40.0, interval=0.5)
    seen = arrived(sinks)
    missing = {s: acked[s] - set(seen[s]) for s in acked}
    c.check(not missing["traces"] and not missing["logs"],
            "once the backend was back, every item answered OK arrived (%d spans, %d log records "
            "missing)" % (len(missing["traces"]), len(missing["logs"])))
    c.check(not sink.decode_errors and not sink2.decode_errors, "the sinks decoded everything")
    h.stop_otelc(proc, timeout=40.0)
    # once everything is delivered and otelc stopped cleanly, the queue is empty
    for sig in ("traces", "logs"):
        left = [f for f in os.listdir(os.path.join(qdir, sig)) if f.endswith(".wal")]
        c.eq(left, [], "no %s segment is left after a clean stop with everything delivered" % sig)


if __name__ == "__main__":
    h.run_test(main, timeout=170)
