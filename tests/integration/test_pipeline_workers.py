# test_pipeline_workers.py: a pipeline on several worker threads
# (service.pipelines.<id>.workers). The full chain (sampler 100%, filter, truncate,
# dedup with a sharded table, batch) runs on 3 workers while 8 clients send
# at once, every span twice (by two different clients): the sink gets each
# span exactly once, with nothing lost, and otelc shows 3 "pipeline" threads.
# The gRPC side runs one "grpc-loop" thread per usable CPU on one shared
# completion queue; loop 0 handles the calls (the others wake only while it
# cannot keep up: tests/unit/test_grpc_loop.c).
# A bad count is a config error.
# SPDX-License-Identifier: Apache-2.0
import collections
import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

CLIENTS = 8
REQUESTS = 40   # per client
SPANS = 50


def config(port, sink_port, workers, processors):
    return ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "processors:\n  probabilistic_sampler:\n    sampling_percentage: 100\n"
            "  truncate:\n    max_value_length: 256\n"
            "  dedup:\n    max_entries: 262144\n"
            "  batch:\n    timeout: 50ms\n    send_batch_size: 500\n"
            "  filter:\n    traces:\n      span:\n        - name == \"health\"\n"
            "exporters:\n%s"
            "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
            "      processors: [%s]\n      exporters: [otlp/sink]\n      workers: %s\n"
            % (port, h.otlp_exporter_yaml("otlp/sink", sink_port), ", ".join(processors), workers))


def threads(pid):
    """[(name, ns on a CPU)] of pid's threads (schedstat: exact, unlike the
    clock ticks of stat, which miss short bursts)."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        out.append((name, ns))
    return out


def thread_names(pid):
    return collections.Counter(name for name, _ in threads(pid))


def main(t):
    chain = ["probabilistic_sampler", "filter", "truncate", "dedup", "batch"]
    for workers, procs, want in (("lots", chain, "workers"), ("99", chain, "workers")):
        path = h.write_config(config(h.free_port(), h.free_port(), workers, procs))
        res = h.run_otelc(["validate", "--config", path])
        out = res.stdout + res.stderr
        t.check(res.returncode != 0 and "pipelines.traces.workers" in out and want in out,
                "validate refuses workers: %s with %s, naming %s" % (workers, procs[-1], want), out[-400:])

    sink = h.Sink("workers-sink", max_workers=32)
    port = h.free_port()
    proc = h.start_otelc(config(port, sink.port, 3, chain))
    # a thread names itself once it runs: give the workers a moment to start
    h.wait_until(lambda: thread_names(proc.pid).get("pipeline") == 3, 5)
    names = thread_names(proc.pid)
    h.log("otelc threads: %s" % dict(names))
    t.eq(names.get("pipeline"), 3, "the traces pipeline runs 3 worker threads")
    cpus = min(len(os.sched_getaffinity(0)), 16)
    t.eq(names.get("grpc-loop"), cpus, "one grpc-loop thread per usable CPU")

    # every span twice: client c sends the requests of id block (c % 4), so
    # clients c and c + 4 send the same spans, each in its own order
    blocks = [[h.make_traces(SPANS) for _ in range(REQUESTS)] for _ in range(CLIENTS // 2)]

    def client(c):
        cl = h.Client(port)
        reqs = blocks[c % (CLIENTS // 2)]
        order = reqs if c < CLIENTS // 2 else list(reversed(reqs))
        codes = collections.Counter(cl.export("traces", r, timeout=10)[0].name for r in order)
        cl.close()
        return codes

    with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        codes = sum(pool.map(client, range(CLIENTS)), collections.Counter())
    t.eq(dict(codes), {"OK": CLIENTS * REQUESTS}, "every request answered OK")
    loops = [ticks for name, ticks in threads(proc.pid) if name == "grpc-loop"]
    h.log("CPU ms of the grpc-loop threads after the load: %s" % [v // 1000000 for v in loops])
    t.check(len(loops) == cpus and max(loops) > 0,
            "the grpc-loop threads ran the calls (CPU ms: %s)" % [v // 1000000 for v in loops])
    want = collections.Counter(h.flatten("traces", [r for b in blocks for r in b]))
    h.wait_until(lambda: len(sink.items("traces")) >= len(want), 20)
    h.wait_until(lambda: False, 0.5)  # anything late would show now
    got = collections.Counter(sink.items("traces", drop_ot=True))  # the sampler writes ot=
    missing = sum(1 for k in want if got[k] == 0)
    dups = sum(n - 1 for n in got.values() if n > 1)
    h.log("spans: %d unique sent twice; arrived %d distinct, %d missing, %d duplicates"
          % (len(want), len(got), missing, dups))
    t.eq(missing, 0, "no span is lost")
    t.eq(dups, 0, "dedup across 3 workers lets each span through once")
    t.eq(set(got) - set(want), set(), "nothing the clients did not send")
    h.stop_otelc(proc)


if __name__ == "__main__":
    h.run_test(main, timeout=150)
