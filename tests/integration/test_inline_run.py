# test_inline_run.py: a receiver runs a pipeline's processors on its own
# thread when nothing waits in the pipeline's queue (run-to-completion, no
# hand-off to a "pipeline" worker), and never waits there for a full exporter
# queue: what that queue refuses goes to worker 0, which waits for room.
#   a. 300 requests one after another through `attributes` (an exporter
#      queue that never fills): the "pipeline" threads take almost no CPU; the
#      grpc-loop threads do the work.
#   b. a request that the batch processor splits into 12 single-span batches
#      meets an exporter queue of 4 behind a stalled backend: it is answered
#      OK at once (the loop thread did not wait), a second request is answered
#      OK too, and once the backend resumes all 24 spans arrive exactly once.
#   c. the same, then SIGTERM while the backend still stalls: the hand-overs
#      worker 0 holds are delivered before the process exits.
# SPDX-License-Identifier: Apache-2.0
import collections
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SPLIT = 12  # spans per request in b and c: one batch each


def config(port, sink_port, processors, queue_size=4, consumers=1):
    return ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "processors:\n"
            "  attributes:\n    actions:\n      - key: tier\n        value: edge\n        action: insert\n"
            "  batch:\n    send_batch_size: 1\n    send_batch_max_size: 1\n    timeout: 10ms\n"
            "exporters:\n  otlp/sink:\n    endpoint: 127.0.0.1:%d\n    tls:\n      insecure: true\n"
            "    timeout: 60s\n"
            "    sending_queue:\n      queue_size: %d\n      num_consumers: %d\n"
            "    retry_on_failure:\n      enabled: false\n"
            "service:\n  shutdown_timeout: 20s\n"
            "  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [%s]\n"
            "      exporters: [otlp/sink]\n"
            % (port, sink_port, queue_size, consumers, ", ".join(processors)))


def cpu_by_name(pid):
    """{thread name: ns on a CPU} from each thread's schedstat."""
    out = collections.Counter()
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                out[name] += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return out


def case_a_no_hand_off(t):
    sink = h.Sink("inline-sink")
    port = h.free_port()
    proc = h.start_otelc(config(port, sink.port, ["attributes"], queue_size=1000, consumers=10))
    cl = h.Client(port)
    reqs = [h.make_traces(100) for _ in range(300)]
    before = cpu_by_name(proc.pid)
    codes = collections.Counter(cl.export("traces", r, timeout=10)[0].name for r in reqs)
    after = cpu_by_name(proc.pid)
    cl.close()
    pipe = (after["pipeline"] - before["pipeline"]) / 1e6
    loops = (after["grpc-loop"] - before["grpc-loop"]) / 1e6
    h.log("a. 300 requests of 100 spans one after another: %s; CPU ms: pipeline threads %.1f, "
          "grpc-loop threads %.1f" % (dict(codes), pipe, loops))
    t.eq(dict(codes), {"OK": 300}, "a: every request answered OK")
    t.check(loops > 0 and pipe < loops / 10,
            "a: the processors ran on the receiving threads (pipeline threads %.1f ms, "
            "grpc-loop threads %.1f ms)" % (pipe, loops))
    want = collections.Counter(h.flatten("traces", reqs))
    h.wait_until(lambda: len(sink.items("traces")) >= len(want), 20)
    got = collections.Counter(sink.items("traces"))
    t.eq(sum(got.values()), sum(want.values()), "a: every span arrived once")
    h.stop_otelc(proc)
    sink.stop()


def case_b_full_exporter_queue(t, stop_while_stalled):
    tag = "c" if stop_while_stalled else "b"
    sink = h.Sink("stalled-sink", max_workers=8)
    port = h.free_port()
    proc = h.start_otelc(config(port, sink.port, ["batch"]))
    cl = h.Client(port)
    sink.block()
    reqs = [h.make_traces(SPLIT) for _ in range(2)]
    answers = []
    for r in reqs:
        t0 = time.monotonic()
        code = cl.export("traces", r, timeout=10)[0].name
        answers.append((code, time.monotonic() - t0))
    h.log("%s. backend stalled, 2 requests split into %d batches each, exporter queue 4: %s"
          % (tag, SPLIT, ["%s in %.2f s" % a for a in answers]))
    t.eq([a[0] for a in answers], ["OK", "OK"], "%s: both requests answered OK" % tag)
    t.check(all(a[1] < 1.0 for a in answers),
            "%s: answered at once while the backend stalls (the receiving thread did not "
            "wait for the full exporter queue)" % tag)
    cl.close()
    if stop_while_stalled:
        proc.send_signal(signal.SIGTERM)
        threading.Timer(1.0, sink.release).start()
        rc = proc.wait(timeout=30)
        h.log("c. SIGTERM with the backend stalled, released 1 s later: exit %s" % rc)
        t.eq(rc, 0, "c: clean exit")
    else:
        time.sleep(1.5)
        sink.release()
    want = collections.Counter(h.flatten("traces", reqs))
    h.wait_until(lambda: len(sink.items("traces")) >= len(want), 20)
    h.wait_until(lambda: False, 0.3)  # anything late would show now
    got = collections.Counter(sink.items("traces"))
    missing = sum(1 for k in want if got[k] == 0)
    dups = sum(n - 1 for n in got.values() if n > 1)
    h.log("%s. spans: %d sent, %d arrived, %d missing, %d duplicates"
          % (tag, len(want), sum(got.values()), missing, dups))
    t.eq(missing, 0, "%s: no span lost" % tag)
    t.eq(dups, 0, "%s: no span doubled" % tag)
    if not stop_while_stalled:
        h.stop_otelc(proc)
    sink.stop()


def main(t):
    case_a_no_hand_off(t)
    case_b_full_exporter_queue(t, stop_while_stalled=False)
    case_b_full_exporter_queue(t, stop_while_stalled=True)


if __name__ == "__main__":
    h.run_test(main, timeout=150)
