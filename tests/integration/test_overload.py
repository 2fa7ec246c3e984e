# test_overload.py: backpressure. An otlp exporter with a tiny sending queue
# sends to a sink that never answers; the receiver must start refusing with
# UNAVAILABLE within a bounded number of requests, and once the sink is
# released every item that was answered OK must arrive (at least once).
# SPDX-License-Identifier: Apache-2.0
import collections
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
MAX_REQUESTS = 500
SPANS_PER_REQUEST = 10
HOLD_S = 3.0  # how long the sink stays blocked after the first UNAVAILABLE


def codes_after_first(seq, first):
    return dict(collections.Counter(seq[first:])) if first else {}


def main(t):
    sink = h.Sink("blocking-sink", max_workers=128)
    port = h.free_port()
    exp = h.otlp_exporter_yaml("otlp/sink", sink.port, timeout="1s", queue_size=2,
                               initial_interval="100ms", max_interval="1s", max_elapsed_time="0")
    cfg = h.config_yaml(port, exp, {"traces": ["otlp/sink"]})
    proc = h.start_otelc(cfg)
    c = h.Client(port)

    # ---- phase 1: sink blocked; send until the receiver refuses
    sink.block()
    ok_reqs, codes, codes_seq = [], collections.Counter(), []
    refused_reqs, unknown_reqs = [], []
    first_unavailable = None
    first_unavailable_t = 0.0
    t0 = time.monotonic()
    for i in range(MAX_REQUESTS):
        req = h.make_traces(SPANS_PER_REQUEST)
        code, _resp, details = c.export_full("traces", req, timeout=5)
        codes[code.name] += 1
        codes_seq.append(code.name)
        if code == SC.OK:
            ok_reqs.append(req)
        elif code == SC.UNAVAILABLE:
            refused_reqs.append(req)
            if first_unavailable is None:
                first_unavailable = i + 1
                first_unavailable_t = time.monotonic()
                h.log("first UNAVAILABLE at request %d after %.2f s: %r"
                      % (i + 1, time.monotonic() - t0, details))
            # keep the sink blocked a while longer (several exporter timeouts,
            # so retries happen), sending now and then: refusal must hold
            if time.monotonic() - first_unavailable_t >= HOLD_S:
                break
            time.sleep(0.2)
        else:
            unknown_reqs.append((req, code, details))
        if time.monotonic() - t0 > 30:
            break
    h.log("phase 1: %d requests in %.2f s, codes %s" % (sum(codes.values()), time.monotonic() - t0,
                                                      dict(codes)))
    h.log("note: queue_size is 2 batches and num_consumers defaults to 10, so an exporter "
          "queue alone would refuse after about 12 requests; otelc accepted %s"
          % ((first_unavailable - 1) if first_unavailable else "all"))
    t.check(first_unavailable is not None,
            "receiver answered UNAVAILABLE within %d requests (first at %s)"
            % (MAX_REQUESTS, first_unavailable))
    t.check(not unknown_reqs, "every answer was OK or UNAVAILABLE",
            [(code.name, det) for _r, code, det in unknown_reqs[:5]])
    after = codes_after_first(codes_seq, first_unavailable)
    t.check(first_unavailable is None or after.get("OK", 0) == 0,
            "refusal holds while the sink stays blocked %.0f s (answers after the first "
            "UNAVAILABLE: %s)" % (HOLD_S, after))
    t.check(proc.poll() is None, "otelc is alive while the sink is blocked")
    delivered_early = sink.count("traces")
    t.eq(delivered_early, 0, "nothing was acknowledged by the blocked sink")

    # ---- release: every OK'd span must arrive
    sink.release()
    ok_items = collections.Counter(h.flatten("traces", ok_reqs))
    refused_items = set(h.flatten("traces", refused_reqs))
    want = len(ok_items)
    t1 = time.monotonic()

    def all_arrived():
        got = collections.Counter(sink.items("traces"))
        return all(got[k] >= 1 for k in ok_items)

    h.wait_until(all_arrived, 30, interval=0.2)
    drain_s = time.monotonic() - t1
    time.sleep(1.5)  # let in-flight retries land so duplicates are counted
    got = collections.Counter(sink.items("traces"))
    arrived = sum(1 for k in ok_items if got[k] >= 1)
    dups = sum(got[k] - 1 for k in ok_items if got[k] > 1)
    refused_delivered = sum(1 for k in refused_items if got[k] >= 1)
    unknown = sum(v for k, v in got.items() if k not in ok_items and k not in refused_items)
    h.log("counts: sent_ok_spans=%d arrived=%d missing=%d duplicates=%d "
          "refused_spans=%d refused_but_delivered=%d foreign=%d drain=%.2fs "
          "sink: attempts=%d cancelled_by_otelc=%d"
          % (want, arrived, want - arrived, dups, len(refused_items), refused_delivered, unknown,
             drain_s, sink.attempts["traces"], sink.cancelled))
    t.eq(arrived, want, "every span answered OK arrived at the sink after release (within 30 s)")
    t.eq(unknown, 0, "no spans the test never sent")
    t.check(True, "duplicates counted: %d (allowed)" % dups)

    # ---- after the drain the receiver accepts again
    req = h.make_traces(SPANS_PER_REQUEST)
    ok_after = h.wait_until(lambda: c.export("traces", req, timeout=5)[0] == SC.OK, 10, interval=0.2)
    t.check(ok_after, "receiver answers OK again once the queue drained")
    if ok_after:
        keys = set(h.flatten("traces", [req]))
        h.wait_until(lambda: keys <= set(sink.items("traces")), 10, interval=0.2)
        t.check(keys <= set(sink.items("traces")), "a request sent after the drain arrives")
    c.close()
    t.check(True, "otelc stopped cleanly in %.2f s" % h.stop_otelc(proc))

    # ---- shutdown with data stuck behind a blocked sink: bounded by
    # service.shutdown_timeout (the default is 25 s, beyond our 15 s budget)
    sink.clear()
    sink.block()
    port = h.free_port()
    proc = h.start_otelc(h.config_yaml(port, exp, {"traces": ["otlp/sink"]},
                                       service_extra="  shutdown_timeout: 3s\n"))
    c = h.Client(port)
    stuck = 0
    for _ in range(3):
        stuck += c.export("traces", h.make_traces(SPANS_PER_REQUEST), timeout=5)[0] == SC.OK
    time.sleep(0.5)
    c.close()
    try:
        el = h.stop_otelc(proc)
        # 3 s of shutdown_timeout, plus at most one export attempt (timeout 1s), plus slack
        t.check(el <= 3 + 1 + 2, "SIGTERM with the sink blocked and %d batches stuck: exit 0 in "
                "%.2f s (shutdown_timeout: 3s)" % (stuck, el))
        err = h.otelc_stderr(proc)
        m = re.search(r"(\d+) spans, \d+ data points, \d+ log records not delivered", err)
        t.check(m and int(m.group(1)) == stuck * SPANS_PER_REQUEST,
                "otelc logs the spans it could not export at shutdown (%s of %d)"
                % (m.group(1) if m else None, stuck * SPANS_PER_REQUEST), err[-1500:])
    except h.OtelcError as e:
        t.check(False, "SIGTERM with the sink blocked and batches stuck: exit 0 within 15 s", e)
    sink.release()
    sink.stop()


if __name__ == "__main__":
    h.run_test(main)
