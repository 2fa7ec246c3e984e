# test_crash_loop.py: issue 4, "Crash loop". With the persistent queue
# (file_storage, fsync on), several clients send logs steadily while otelc is
# killed with SIGKILL at random moments five times and restarted each time on
# the same directory and port. Afterwards every log record whose Export was
# answered OK has arrived at the sink (duplicates allowed, none missing).
# SPDX-License-Identifier: Apache-2.0
import os
import random
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

CLIENTS = 4
KILLS = 5
PER_REQUEST = 20


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
      max_interval: 1s
      max_elapsed_time: 0
service:
  extensions: [file_storage/q]
  pipelines:
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
""" % (rport, qdir, sink_port)


def bodies(req):
    return [lr.body.string_value for rl in req.resource_logs for sl in rl.scope_logs
            for lr in sl.log_records]


class Load:
    def __init__(self, port):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = set()
        self.calls = {"ok": 0, "failed": 0}
        self.port = port
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(CLIENTS)]

    def _run(self, tid):
        client = h.Client(self.port, options=[("grpc.initial_reconnect_backoff_ms", 100),
                                              ("grpc.min_reconnect_backoff_ms", 100),
                                              ("grpc.max_reconnect_backoff_ms", 300)])
        seq = 0
        while not self.stop.is_set():
            req = h.make_logs(PER_REQUEST)
            ids = []
            for rl in req.resource_logs:
                for sl in rl.scope_logs:
                    for lr in sl.log_records:
                        seq += 1
                        lr.body.string_value = "crash-%s-%d-%d" % (h.RUN_ID, tid, seq)
                        ids.append(lr.body.string_value)
            code, _ = client.export("logs", req, timeout=3.0)
            with self.lock:
                if code == grpc.StatusCode.OK:
                    self.acked.update(ids)
                    self.calls["ok"] += 1
                else:
                    self.calls["failed"] += 1
            if code != grpc.StatusCode.OK:
                time.sleep(0.05)
        client.close()


def arrived(sink):
    seen = {}
    for req in sink.requests("logs"):
        for b in bodies(req):
            seen[b] = seen.get(b, 0) + 1
    return seen


def main(c):
    sink = h.Sink()
    port = h.free_port()
    qdir = os.path.join(h.tmpdir(), "queue")
    cfg = config(port, sink.port, qdir)
    proc = h.start_otelc(cfg, port=port)
    load = Load(port)
    for t in load.threads:
        t.start()
    rng = random.Random()
    kills = 0
    for k in range(KILLS):
        time.sleep(rng.uniform(0.5, 2.5))
        with load.lock:
            before = load.calls["ok"]
        proc.kill()  # SIGKILL
        proc.wait(timeout=10)
        kills += 1
        h.log("kill -9 #%d after %d answered-OK calls" % (kills, before))
        time.sleep(rng.uniform(0.0, 0.3))
        proc = h.start_otelc(cfg, port=port, timeout=30.0)
    time.sleep(1.0)
    load.stop.set()
    for t in load.threads:
        t.join(timeout=10)
    with load.lock:
        acked = set(load.acked)
        calls = dict(load.calls)
    c.eq(kills, KILLS, "otelc was killed with SIGKILL and restarted")
    c.check(calls["ok"] > 50, "the load was answered OK %d times (failed %d)" % (calls["ok"], calls["failed"]))
    h.wait_until(lambda: acked <= set(arrived(sink)), 60.0, interval=0.5)
    seen = arrived(sink)
    missing = acked - set(seen)
    unique = len(set(seen))
    dups = sum(n - 1 for n in seen.values())
    h.log("answered OK: %d log records; arrived unique: %d; duplicates: %d; missing: %d"
          % (len(acked), unique, dups, len(missing)))
    c.check(not missing, "every log record answered OK arrived (%d missing)" % len(missing),
            "e.g. %s" % sorted(missing)[:5])
    c.check(not sink.decode_errors, "the sink decoded everything")
    h.stop_otelc(proc, timeout=40.0)
    # once everything is delivered and otelc stopped cleanly, the queue is empty
    left = [f for f in os.listdir(os.path.join(qdir, "logs")) if f.endswith(".wal")]
    c.eq(left, [], "no segment is left after a clean stop with everything delivered")


if __name__ == "__main__":
    h.run_test(main, timeout=170)
