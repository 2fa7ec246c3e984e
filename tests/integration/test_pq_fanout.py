# test_pq_fanout.py: issue 18, delivery progress per exporter. Two pipelines
# with the persistent queue (file_storage, fsync on) fan out to two exporters:
# "a" whose backend is up, "b" whose backend is down. Traces go through the
# batch processor, logs straight to the exporters. Clients send spans at
# 2,000 a second plus logs while otelc is killed with SIGKILL twice and
# restarted on the same directory and port. Then b's backend comes up.
#   - every span and log record answered OK arrives at a, and at b;
#   - a gets no more duplicates than the items in flight at the kills
#     (answered OK but not at a one progress interval before the kill): the
#     replay leaves a out for the records it had. A replay to every exporter
#     sends a again everything b had not taken, i.e. all of it;
#   - b, down throughout, gets each item about once.
# SPDX-License-Identifier: Apache-2.0
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402
import test_crash_loop as cl  # noqa: E402  (its paced load and item ids)

KILLS = 2


def exporter(name, port):
    return """  otlp/%s:
    endpoint: 127.0.0.1:%d
    tls:
      insecure: true
    timeout: 5s
    sending_queue:
      storage: file_storage/q
      queue_size: 5000
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 500ms
      max_elapsed_time: 0
""" % (name, port)


def config(rport, a_port, b_port, qdir):
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
%s%sservice:
  extensions: [file_storage/q]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp/a, otlp/b]
    logs:
      receivers: [otlp]
      exporters: [otlp/a, otlp/b]
""" % (rport, qdir, exporter("a", a_port), exporter("b", b_port))


def dups_of(seen, acked):
    return {s: sum(n - 1 for i, n in seen[s].items() if i in acked[s]) for s in acked}


def main(c):
    sink_a = h.Sink(name="sink-a")
    b_port = h.free_port()  # nothing listens there until b's backend comes up
    port = h.free_port()
    qdir = os.path.join(h.tmpdir(), "queue")
    cfg = config(port, sink_a.port, b_port, qdir)
    proc = h.start_otelc(cfg, port=port)
    load = cl.Load(port)
    for t in load.threads:
        t.start()
    rng = random.Random()
    in_flight = []
    for k in range(KILLS):
        time.sleep(rng.uniform(2.0, 3.0))
        seen_before = cl.arrived([sink_a])
        time.sleep(cl.PROGRESS_INTERVAL)
        acked = load.snapshot()
        proc.kill()  # SIGKILL
        proc.wait(timeout=10)
        n = sum(len(acked[s] - set(seen_before[s])) for s in acked)
        in_flight.append(n)
        h.log("kill -9 #%d: %d items answered OK, %d of them not at a (in flight)"
              % (k + 1, sum(len(v) for v in acked.values()), n))
        time.sleep(rng.uniform(0.0, 0.3))
        proc = h.start_otelc(cfg, port=port, timeout=30.0)
    time.sleep(1.5)
    load.stop.set()
    for t in load.threads:
        t.join(timeout=10)
    acked = load.snapshot()
    n_acked = sum(len(v) for v in acked.values())
    c.check(len(acked["traces"]) > 3 * cl.SPANS_PER_S and len(acked["logs"]) > 0,
            "items were answered OK under load (%d spans, %d log records)"
            % (len(acked["traces"]), len(acked["logs"])))

    # -- b's backend comes up: it gets everything, a what it missed ---------
    sink_b = h.Sink(name="sink-b", port=b_port)

    def complete():
        at_a, at_b = cl.arrived([sink_a]), cl.arrived([sink_b])
        return all(acked[s] <= set(at_a[s]) and acked[s] <= set(at_b[s]) for s in acked)

    h.wait_until(complete, 90.0, interval=0.5)
    time.sleep(0.5)  # anything still to come would be a duplicate: let it land
    seen_a, seen_b = cl.arrived([sink_a]), cl.arrived([sink_b])
    for name, seen in (("a", seen_a), ("b", seen_b)):
        missing = {s: acked[s] - set(seen[s]) for s in acked}
        c.check(not missing["traces"] and not missing["logs"],
                "every item answered OK arrived at %s (%d spans, %d log records missing)"
                % (name, len(missing["traces"]), len(missing["logs"])),
                "e.g. %s" % sorted(missing["traces"] | missing["logs"])[:5])
    dups_a, dups_b = dups_of(seen_a, acked), dups_of(seen_b, acked)
    n_dups_a, n_dups_b = sum(dups_a.values()), sum(dups_b.values())
    h.log("answered OK: %d spans, %d log records; duplicates at a (up): %d spans, %d log records; "
          "at b (down, then up): %d spans, %d log records; in flight at the kills: %s = %d"
          % (len(acked["traces"]), len(acked["logs"]), dups_a["traces"], dups_a["logs"],
             dups_b["traces"], dups_b["logs"], in_flight, sum(in_flight)))
    c.check(n_dups_a <= sum(in_flight),
            "duplicates at the healthy backend (%d) are at most the items in flight at the "
            "kills (%d); the records it had were not replayed to it" % (n_dups_a, sum(in_flight)))
    c.check(sum(in_flight) < n_acked // 4,
            "the items in flight at the kills (%d) are a small part of those answered OK (%d)"
            % (sum(in_flight), n_acked))
    c.check(n_dups_b <= sum(in_flight),
            "duplicates at the backend that was down (%d) are at most the items in flight at "
            "the kills (%d)" % (n_dups_b, sum(in_flight)))
    c.check(not sink_a.decode_errors and not sink_b.decode_errors, "the sinks decoded everything")
    h.stop_otelc(proc, timeout=40.0)
    for sig in ("traces", "logs"):
        left = [f for f in os.listdir(os.path.join(qdir, sig)) if f.endswith(".wal")]
        c.eq(left, [], "no %s segment is left after a clean stop with everything delivered" % sig)


if __name__ == "__main__":
    h.run_test(main, timeout=200)
