# test_exporter_inflight.py: the otlp exporter keeps at most
# sending_queue.num_consumers calls under way (first attempts and retries
# together), every batch answered OK arrives, and a batch whose first attempt
# fails is retried until it arrives.
# SPDX-License-Identifier: Apache-2.0
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
CONSUMERS = 3
REQUESTS = 12


def exporter_yaml(port):
    return ("  otlp/sink:\n"
            "    endpoint: 127.0.0.1:%d\n"
            "    tls:\n"
            "      insecure: true\n"
            "    compression: none\n"
            "    timeout: 10s\n"
            "    sending_queue:\n"
            "      queue_size: 100\n"
            "      num_consumers: %d\n"
            "    retry_on_failure:\n"
            "      initial_interval: 100ms\n"
            "      max_interval: 200ms\n"
            "      max_elapsed_time: 0\n" % (port, CONSUMERS))


def main(t):
    sink = h.Sink("inflight-sink", max_workers=64)
    port = h.free_port()
    proc = h.start_otelc(h.config_yaml(port, exporter_yaml(sink.port), {"traces": ["otlp/sink"]}))
    c = h.Client(port)

    # ---- the sink holds every call: at most CONSUMERS reach it at once
    sink.block()
    reqs = [h.make_traces(5) for _ in range(REQUESTS)]
    codes = collections.Counter(c.export("traces", r, timeout=5)[0].name for r in reqs)
    t.eq(dict(codes), {"OK": REQUESTS}, "every request was queued and answered OK")
    reached = h.wait_until(lambda: sink.blocked_now >= CONSUMERS, 10, interval=0.05)
    t.check(reached, "%d calls reached the blocked sink (%d)" % (CONSUMERS, sink.blocked_now))
    peak = 0
    for _ in range(20):  # one second: no call beyond the bound may arrive
        peak = max(peak, sink.blocked_now)
        time.sleep(0.05)
    t.eq(peak, CONSUMERS, "calls under way at once never exceed num_consumers")
    sink.release()
    want = collections.Counter(h.flatten("traces", reqs))
    h.wait_until(lambda: set(want) <= set(sink.items("traces")), 20, interval=0.1)
    got = collections.Counter(sink.items("traces"))
    t.eq(sum(1 for k in want if got[k] >= 1), len(want), "every span answered OK arrived")

    # ---- failed first attempts go to the retry threads and arrive
    sink.clear()
    sink.normal()
    sink.fail_next(4, SC.UNAVAILABLE)
    reqs = [h.make_traces(5) for _ in range(4)]
    for r in reqs:
        t.eq(c.export("traces", r, timeout=5)[0], SC.OK, "request queued")
    want = set(h.flatten("traces", reqs))
    arrived = h.wait_until(lambda: want <= set(sink.items("traces")), 20, interval=0.1)
    t.check(arrived, "each batch whose first attempt was refused arrived after a retry "
            "(sink attempts: %d, injected failures: %d)" % (sink.attempts["traces"], sink.failed))
    t.check(sink.attempts["traces"] >= 8, "the refused attempts were made again (%d attempts)"
            % sink.attempts["traces"])
    c.close()
    t.check(True, "otelc stopped cleanly in %.2f s" % h.stop_otelc(proc))
    sink.stop()


if __name__ == "__main__":
    h.run_test(main)
