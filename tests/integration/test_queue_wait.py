# test_queue_wait.py: a request that finds its pipeline's queue at its byte
# budget (service.pipelines.<id>.queue.max_bytes) waits up to
# queue.max_wait, within the gRPC call's deadline, before it is answered
# UNAVAILABLE. A pipeline `batch` -> otlp exporter (one consumer, a queue of
# one) in front of a gRPC sink the test stalls:
#   a. a burst over the budget while the backend stalls for less than
#      max_wait: every call is answered OK, every span arrives exactly once,
#      otelc_pipeline_queue_waited_requests counts the waits (/metrics and
#      the OTLP self-telemetry push);
#   b. a stall longer than max_wait: UNAVAILABLE after about max_wait, and
#      the spans that arrive are exactly those answered OK;
#   c. a client deadline shorter than max_wait: UNAVAILABLE before the
#      deadline, never DEADLINE_EXCEEDED;
#   d. max_wait: 0 refuses at once, as before;
#   e. OTLP/HTTP: 200 when the backend resumes in time, 503 after the wait
#      otherwise; a client that hangs up while its request waits harms nothing;
#   f. SIGTERM while calls wait: each is answered UNAVAILABLE ("shutting
#      down") promptly and the process exits within its shutdown timeout;
#   g. the admission gates (ratelimiter) are not charged again while a
#      request waits.
# SPDX-License-Identifier: Apache-2.0
import collections
import concurrent.futures
import http.client
import os
import signal
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
BUDGET = 16 << 10   # bytes: about three requests of SPANS spans
SPANS = 40
BURST = 20          # concurrent calls: below the receiver's 32 call slots per signal


def config(port, http_port, sink_port, mport, tel_port, max_wait, shutdown="10s", rate=0):
    limiter = ("  ratelimiter:\n    rate: 1\n    burst: %d\n" % rate) if rate else ""
    return ("receivers:\n  otlp:\n    protocols:\n"
            "      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "      http:\n        endpoint: 127.0.0.1:%d\n"
            "processors:\n  batch:\n    send_batch_size: 100\n    timeout: 10ms\n%s"
            "exporters:\n  otlp/sink:\n    endpoint: 127.0.0.1:%d\n    tls:\n      insecure: true\n"
            "    timeout: 60s\n"
            "    sending_queue:\n      queue_size: 1\n      num_consumers: 1\n"
            "    retry_on_failure:\n      enabled: false\n"
            "service:\n  shutdown_timeout: %s\n"
            "  telemetry:\n    metrics:\n      readers:\n"
            "        - pull:\n            exporter:\n              prometheus:\n"
            "                host: 127.0.0.1\n                port: %d\n"
            "        - periodic:\n            interval: 200\n            exporter:\n              otlp:\n"
            "                protocol: grpc\n                endpoint: 127.0.0.1:%d\n"
            "  pipelines:\n"
            "    traces:\n      receivers: [otlp]\n      processors: [%sbatch]\n"
            "      exporters: [otlp/sink]\n"
            "      queue:\n        max_bytes: %d\n        max_wait: %s\n"
            % (port, http_port, limiter, sink_port, shutdown, mport, tel_port,
               "ratelimiter, " if rate else "", BUDGET, max_wait))


class Collector:
    def __init__(self, max_wait, shutdown="10s", rate=0):
        self.sink = h.Sink("stalled-sink", max_workers=16)
        self.tel = h.Sink("self-telemetry", max_workers=4)
        self.port, self.http_port, self.mport = h.free_port(), h.free_port(), h.free_port()
        self.proc = h.start_otelc(config(self.port, self.http_port, self.sink.port, self.mport,
                                         self.tel.port, max_wait, shutdown, rate))
        self.client = h.Client(self.port)

    def metric(self, name):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.mport, timeout=3) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + "{") and 'pipeline="traces"' in line:
                    return float(line.rsplit(" ", 1)[1])
        return None

    def pushed(self, name):
        """The last value of `name` the periodic OTLP reader pushed, or None."""
        last = None
        for req in self.tel.requests("metrics"):
            for rm in req.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        if m.name == name and m.sum.data_points:
                            last = m.sum.data_points[-1].as_int
        return last

    def call(self, req, timeout=10.0):
        t0 = time.monotonic()
        code, _resp, det = self.client.export_full("traces", req, timeout=timeout)
        return code, det, time.monotonic() - t0

    def burst(self, reqs, timeout=10.0):
        """Send reqs at once; [(code, details, seconds)] in order."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(reqs)) as pool:
            return list(pool.map(lambda r: self.call(r, timeout), reqs))

    def burst_async(self, reqs, timeout=10.0):
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(reqs))
        futs = [pool.submit(self.call, r, timeout) for r in reqs]
        pool.shutdown(wait=False)
        return futs

    def post(self, req, timeout=10.0):
        """OTLP/HTTP protobuf POST: (status, seconds)."""
        t0 = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            conn.request("POST", "/v1/traces", body=h.encode(req),
                         headers={"Content-Type": "application/x-protobuf"})
            status = conn.getresponse().status
        finally:
            conn.close()
        return status, time.monotonic() - t0

    def fill(self):
        """With the sink blocked: requests until one waits (the budget is full).
        Returns the requests answered OK."""
        ok = []
        for _ in range(40):
            r = h.make_traces(SPANS)
            futs = self.burst_async([r], timeout=10)
            try:
                code, det, _dt = futs[0].result(timeout=0.3)
            except concurrent.futures.TimeoutError:
                code, det, _dt = futs[0].result()   # it waited: the budget is full
                if code == SC.OK:
                    ok.append(r)
                return ok
            if code == SC.OK:
                ok.append(r)
        raise AssertionError("the queue never filled")

    def stop(self):
        self.client.close()
        return h.stop_otelc(self.proc, timeout=30)


def spans(reqs):
    return collections.Counter(h.flatten("traces", reqs))


def codes(results):
    return dict(collections.Counter(c.name for c, _d, _t in results))


def case_a_burst_within_wait(t):
    c = Collector("3s")
    c.sink.block()
    reqs = [h.make_traces(SPANS) for _ in range(BURST)]
    futs = c.burst_async(reqs)
    time.sleep(0.7)
    waited_during = c.metric("otelc_pipeline_queue_waited_requests")
    c.sink.release()
    res = [f.result() for f in futs]
    slow = max(dt for _c, _d, dt in res)
    h.log("a. burst of %d x %d B, backend stalled 0.7 s, max_wait 3s: %s; slowest answer %.2f s; "
          "waited %s" % (BURST, len(h.encode(reqs[0])), codes(res), slow, waited_during))
    t.eq(codes(res), {"OK": BURST}, "a. every call of a burst over the budget is answered OK")
    t.check(slow >= 0.6, "a. some calls waited for the backend (slowest %.2f s)" % slow)
    t.check(waited_during is not None and waited_during > 0,
            "a. otelc_pipeline_queue_waited_requests > 0 (%s)" % waited_during)
    want = spans(reqs)
    t.check(h.wait_until(lambda: sum(collections.Counter(c.sink.items("traces")).values())
                         >= sum(want.values()), 20),
            "a. the spans of every call reach the backend")
    time.sleep(0.3)
    got = collections.Counter(c.sink.items("traces"))
    t.check(got == want, "a. every span arrives exactly once (%d sent, %d received, %d distinct)"
            % (sum(want.values()), sum(got.values()), len(got)))
    t.eq(c.metric("otelc_pipeline_queue_refused_requests"), 0.0, "a. nothing was refused")
    pushed = h.wait_until(lambda: c.pushed("otelc_pipeline_queue_waited_requests"), 5)
    t.check(pushed is not None and pushed > 0,
            "a. the OTLP self-telemetry push carries otelc_pipeline_queue_waited_requests (%s)"
            % pushed)
    c.stop()


def case_g_gates_once(t):
    """The admission gates run once per request, not at each new try: a
    ratelimiter with a burst of BURST + 2 requests (refilled at 1/s) lets a
    burst of BURST requests through whole, however many times they are
    offered again while they wait."""
    c = Collector("3s", rate=BURST + 2)
    c.sink.block()
    reqs = [h.make_traces(SPANS) for _ in range(BURST)]
    futs = c.burst_async(reqs)
    time.sleep(0.7)
    c.sink.release()
    res = [f.result() for f in futs]
    waited = c.metric("otelc_pipeline_queue_waited_requests")
    h.log("g. ratelimiter burst %d, %d requests, backend stalled 0.7 s: %s; waited %s"
          % (BURST + 2, BURST, codes(res), waited))
    t.check(waited is not None and waited > 0, "g. requests waited (%s)" % waited)
    t.eq(codes(res), {"OK": BURST}, "g. a waiting request is not charged by the ratelimiter again")
    c.stop()


def case_b_c_d_refusals(t):
    # b: stall longer than max_wait
    c = Collector("1s")
    c.sink.block()
    ok = c.fill()
    reqs = [h.make_traces(SPANS) for _ in range(8)]
    res = c.burst(reqs)
    refused = [dt for code, _d, dt in res if code == SC.UNAVAILABLE]
    ok += [r for r, (code, _d, _dt) in zip(reqs, res) if code == SC.OK]
    h.log("b. backend stalled, max_wait 1s: %s; refusals after %s s"
          % (codes(res), ", ".join("%.2f" % x for x in refused)))
    t.check(len(refused) >= 6, "b. calls past the budget are refused (%d of 8)" % len(refused))
    t.check(all(0.9 <= x <= 1.6 for x in refused),
            "b. each refusal comes after about max_wait (%s)" % ", ".join("%.2f" % x for x in refused))
    t.check(all(d == "otlp: the pipeline is full, retry later"
                for code, d, _t in res if code == SC.UNAVAILABLE), "b. the refusal says why")
    # c: a deadline shorter than max_wait (max_wait 1s, deadline 0.6 s)
    res = [c.call(h.make_traces(SPANS), timeout=0.6) for _ in range(3)]
    h.log("c. deadline 0.6 s: %s after %s s" % (codes(res), ", ".join("%.2f" % x for _c, _d, x in res)))
    t.eq(codes(res), {"UNAVAILABLE": 3}, "c. answered UNAVAILABLE before the deadline, "
         "not DEADLINE_EXCEEDED")
    t.check(all(0.3 <= x < 0.6 for _c, _d, x in res),
            "c. the answer comes after a wait, before the deadline")
    refused_n = c.metric("otelc_pipeline_queue_refused_requests")
    waited_n = c.metric("otelc_pipeline_queue_waited_requests")
    t.check(refused_n is not None and waited_n is not None and refused_n >= 9 and waited_n >= 10,
            "b/c. metrics count the waits and the refusals (waited %s, refused %s)"
            % (waited_n, refused_n))
    # nothing answered OK is lost; nothing refused is delivered
    c.sink.release()
    want = spans(ok)
    t.check(h.wait_until(lambda: sum(collections.Counter(c.sink.items("traces")).values())
                         >= sum(want.values()), 20), "b. the spans answered OK arrive")
    time.sleep(0.5)
    got = collections.Counter(c.sink.items("traces"))
    t.check(got == want, "b. exactly the spans answered OK arrive, once (%d answered OK, "
            "%d received)" % (sum(want.values()), sum(got.values())))
    c.stop()

    # d: max_wait 0 refuses at once
    c = Collector("0")
    c.sink.block()
    for _ in range(2):  # full; then full again once the worker has settled (batch's timer)
        for _ in range(40):
            code, _d, dt = c.call(h.make_traces(SPANS))
            if code != SC.OK:
                break
        time.sleep(0.3)
    res = [c.call(h.make_traces(SPANS)) for _ in range(5)]
    h.log("d. max_wait 0: %s after %s s" % (codes(res), ", ".join("%.3f" % x for _c, _d, x in res)))
    # the worker may still take one request off the queue meanwhile (it then
    # waits for the stalled exporter), which makes room for one more
    t.check(codes(res).get("UNAVAILABLE", 0) >= 4 and set(codes(res)) <= {"UNAVAILABLE", "OK"},
            "d. max_wait 0: UNAVAILABLE (%s)" % codes(res))
    t.check(all(x < 0.3 for _c, _d, x in res), "d. max_wait 0: at once")
    t.eq(c.metric("otelc_pipeline_queue_waited_requests"), 0.0, "d. max_wait 0: nothing waited")
    c.sink.release()
    c.stop()


def hang_up(port, req):
    """POST a request and close the connection before the answer."""
    body = h.encode(req)
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(0.1)
    s.close()


def case_e_http(t):
    c = Collector("2s")
    c.sink.block()
    ok = c.fill()
    # resumes in time: 200
    reqs = [h.make_traces(SPANS) for _ in range(4)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futs = [pool.submit(c.post, r) for r in reqs]
        hang_up(c.http_port, h.make_traces(SPANS))
        time.sleep(0.5)
        c.sink.release()
        res = [f.result() for f in futs]
    h.log("e. OTLP/HTTP, backend resumes after 0.6 s (max_wait 2s): %s" % res)
    t.eq([s for s, _dt in res], [200] * 4, "e. HTTP: 200 once the backend resumes within max_wait")
    t.check(max(dt for _s, dt in res) >= 0.4, "e. HTTP: the requests waited")
    ok += reqs
    # stalled past max_wait: 503 after the wait
    c.sink.block()
    ok += c.fill()
    res = [c.post(h.make_traces(SPANS)) for _ in range(3)]
    h.log("e. OTLP/HTTP, backend stalled past max_wait 2s: %s" % res)
    t.eq([s for s, _dt in res], [503] * 3, "e. HTTP: 503 when the budget stays full")
    t.check(all(1.9 <= dt <= 2.8 for _s, dt in res), "e. HTTP: 503 after about max_wait")
    c.sink.release()
    want = spans(ok)
    h.wait_until(lambda: sum(collections.Counter(c.sink.items("traces")).values())
                 >= sum(want.values()), 20)
    time.sleep(0.5)
    got = collections.Counter(c.sink.items("traces"))
    t.check(all(got[k] == 1 for k in want),
            "e. every span answered OK arrives once (%d of %d)"
            % (sum(1 for k in want if got[k] == 1), len(want)))
    t.eq(c.post(h.make_traces(SPANS))[0], 200, "e. the receiver answers 200 again")
    c.stop()


def case_f_shutdown(t):
    c = Collector("20s", shutdown="3s")
    c.sink.block()
    c.fill()
    reqs = [h.make_traces(SPANS) for _ in range(6)]
    futs = c.burst_async(reqs, timeout=30)
    http_res = []
    th = threading.Thread(target=lambda: http_res.append(c.post(h.make_traces(SPANS), timeout=30)))
    th.start()
    time.sleep(0.5)
    t.check(not any(f.done() for f in futs), "f. the calls wait for room")
    t0 = time.monotonic()
    c.proc.send_signal(signal.SIGTERM)
    res = [f.result() for f in futs]
    answered = time.monotonic() - t0
    th.join(10)
    try:
        rc = c.proc.wait(timeout=15)
    except Exception:
        rc = None
    exited = time.monotonic() - t0
    h.log("f. SIGTERM with %d gRPC calls and 1 HTTP request waiting: %s %s in %.2f s, HTTP %s; "
          "exit %s after %.2f s" % (len(reqs), codes(res), set(d for _c, d, _t in res), answered,
                                    http_res, rc, exited))
    t.eq(codes(res), {"UNAVAILABLE": len(reqs)}, "f. waiting calls are answered UNAVAILABLE")
    t.check(all(d == "otlp: the collector is shutting down" for _c, d, _t in res),
            "f. ... saying the collector is shutting down")
    t.check(answered < 1.0, "f. ... promptly (%.2f s after SIGTERM)" % answered)
    t.check(http_res and http_res[0][0] == 503, "f. the waiting HTTP request gets 503 (%s)" % http_res)
    t.eq(rc, 0, "f. otelc exits 0")
    t.check(exited < 3.0 + 2.0, "f. otelc exits within its shutdown timeout (3s; %.2f s)" % exited)
    c.client.close()


def main(t):
    case_a_burst_within_wait(t)
    case_g_gates_once(t)
    case_b_c_d_refusals(t)
    case_e_http(t)
    case_f_shutdown(t)


if __name__ == "__main__":
    h.run_test(main, timeout=240)
