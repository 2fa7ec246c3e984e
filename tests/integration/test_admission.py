# test_admission.py: admission by bytes (issue 14). A pipeline's queue holds
# requests up to its byte budget (service.pipelines.<id>.queue.max_bytes), not
# a fixed number of batches (the memory the waiting requests hold). With the exporter's backend stalled:
#   1. a burst of 300 concurrent requests, well under the budget, is answered
#      OK in full (a queue of 64 batches refused most of it);
#   2. past the budget, receivers answer UNAVAILABLE, and what was taken stays
#      within the budget plus one request;
#   3. the budget, what the queue holds and the refusals show in /metrics;
#   4. once the backend answers, every span answered OK arrives and the queue
#      holds 0 bytes again.
# Also: a bad queue option is a config error naming the key.
# SPDX-License-Identifier: Apache-2.0
import collections
import concurrent.futures
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
BUDGET = 2 << 20           # bytes
BURST = 300                # concurrent requests of SPANS spans
SPANS = 10


def config(port, sink_port, metrics_port, queue):
    return ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "processors:\n  probabilistic_sampler:\n    sampling_percentage: 100\n"
            "exporters:\n%s"
            "service:\n"
            "  telemetry:\n    metrics:\n      readers:\n        - pull:\n"
            "            exporter:\n              prometheus:\n                host: 127.0.0.1\n"
            "                port: %d\n"
            "  pipelines:\n"
            "    traces:\n      receivers: [otlp]\n      processors: [probabilistic_sampler]\n"
            "      exporters: [otlp/sink]\n%s"
            % (port, h.otlp_exporter_yaml("otlp/sink", sink_port, timeout="20s", queue_size=2),
               metrics_port, queue))


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=3) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{") and 'pipeline="traces"' in line:
                return float(line.rsplit(" ", 1)[1])
    return None


def check_bad_options(t):
    for queue, key in (("      queue:\n        max_bytes: lots\n", "max_bytes"),
                       ("      queue:\n        max_items: 5\n", "max_items")):
        path = h.write_config(config(h.free_port(), h.free_port(), h.free_port(), queue))
        res = h.run_otelc(["validate", "--config", path])
        rc, out = res.returncode, res.stdout + res.stderr
        t.check(rc != 0 and "pipelines.traces.queue." + key in out,
                "validate refuses queue option %r, naming it (exit %d)" % (key, rc), out[-600:])


def main(t):
    check_bad_options(t)
    sink = h.Sink("stalled-sink", max_workers=64)
    port, mport = h.free_port(), h.free_port()
    proc = h.start_otelc(config(port, sink.port, mport,
                                "      queue:\n        max_bytes: %d\n" % BUDGET))
    c = h.Client(port)
    sink.block()

    # ---- 1. a burst under the budget is taken whole
    reqs = [h.make_traces(SPANS) for _ in range(BURST)]
    req_bytes = len(h.encode(reqs[0]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        codes = list(pool.map(lambda r: c.export_full("traces", r, timeout=10)[0], reqs))
    counts = collections.Counter(code.name for code in codes)
    h.log("burst of %d requests of about %d bytes (%d KiB in all) with the backend stalled: %s"
          % (BURST, req_bytes, BURST * req_bytes // 1024, dict(counts)))
    t.eq(counts.get("OK", 0), BURST, "every request of a burst under the byte budget is answered OK")
    ok_reqs = [r for r, code in zip(reqs, codes) if code == SC.OK]

    # ---- 2. past the budget: UNAVAILABLE, and what was taken stays within it
    refused, details = 0, ""
    for i in range(2 * BUDGET // req_bytes):
        r = h.make_traces(SPANS)
        code, _resp, det = c.export_full("traces", r, timeout=10)
        if code == SC.OK:
            ok_reqs.append(r)
        elif code == SC.UNAVAILABLE:
            refused += 1
            details = det
            if refused >= 5:
                break
        else:
            t.check(False, "answers are OK or UNAVAILABLE", "%s %s" % (code, det))
            break
    h.log("taken before the first refusals: %d requests (%d KiB); refusal: %r"
          % (len(ok_reqs), len(ok_reqs) * req_bytes // 1024, details))
    t.check(refused >= 5, "past the budget the receiver answers UNAVAILABLE (%d refusals)" % refused)
    held = metric(mport, "otelc_pipeline_queue_bytes")
    cap = metric(mport, "otelc_pipeline_queue_capacity_bytes")
    n_refused = metric(mport, "otelc_pipeline_queue_refused_requests")
    h.log("metrics: queue bytes %s, capacity %s, refused %s" % (held, cap, n_refused))
    t.eq(cap, float(BUDGET), "otelc_pipeline_queue_capacity_bytes is the configured budget")
    t.check(held is not None and BUDGET - 4 * req_bytes <= held <= BUDGET + 2 * req_bytes,
            "otelc_pipeline_queue_bytes shows the queue at its budget (%s)" % held)
    t.check(n_refused is not None and n_refused >= refused,
            "otelc_pipeline_queue_refused_requests counts the refusals (%s >= %d)" % (n_refused, refused))
    # the exporter holds its queue (2) and its consumers' calls (10) beyond the pipeline's budget
    t.check(len(ok_reqs) * req_bytes <= BUDGET + 16 * req_bytes,
            "what was taken stays within the budget plus what the exporter holds (%d KiB)"
            % (len(ok_reqs) * req_bytes // 1024))

    # ---- 3. the backend answers: everything taken arrives, the queue empties
    sink.release()
    want = collections.Counter(h.flatten("traces", ok_reqs))

    def all_arrived():
        got = collections.Counter(sink.items("traces", drop_ot=True))  # the sampler writes ot=
        return all(got[k] >= 1 for k in want)

    t.check(h.wait_until(all_arrived, 60, interval=0.2),
            "every span answered OK (%d) arrives once the backend answers" % len(want))
    t.check(h.wait_until(lambda: metric(mport, "otelc_pipeline_queue_bytes") == 0, 10),
            "the pipeline's queue holds 0 bytes after the drain")
    code = c.export("traces", h.make_traces(SPANS), timeout=5)[0]
    t.eq(code.name, "OK", "the receiver answers OK again")
    c.close()
    h.stop_otelc(proc)


if __name__ == "__main__":
    h.run_test(main, timeout=200)
