# test_hostile.py: hostile clients against a running otelc, each with the answer
# the README ("Limits") documents: raw HTTP/2 with truncated gRPC messages, a
# wrong compressed flag and a length prefix far beyond the body; a million tiny
# spans in one request; invalid UTF-8; ids of the wrong length; a thousand idle
# connections on each protocol; slow and oversized HTTP requests. After each,
# the process is alive, still serves, and its RSS stays under a checked bound.
# SPDX-License-Identifier: Apache-2.0
import http.client
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2c_raw as h2  # noqa: E402
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
MIB = 1 << 20


def asan_env():
    # Under AddressSanitizer freed memory waits in a quarantine (256 MiB by
    # default) before reuse, which RSS counts; keep it small so that RSS
    # reflects the memory otelc holds, as in a normal build.
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") + "quarantine_size_mb=4"}


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in MiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, payload):
    return varint((num << 3) | 2) + varint(len(payload)) + payload


def tiny_spans_request(n):
    """One resource, one scope, n spans of 30 bytes (trace id and span id only)."""
    span = field(2, field(1, bytes(range(1, 17))) + field(2, bytes(range(1, 9))))
    return field(1, field(2, span * n))


def http_post(port, path, body, ctype="application/x-protobuf", timeout=20):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=body, headers={"Content-Type": ctype})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def closed_within(sock, timeout):
    """Seconds until the server closed sock (reads EOF or a reset), or None."""
    t0 = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - t0 < timeout:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - t0
    return None


def sink_spans(sink):
    return [sp for req in list(sink.received["traces"]) for rs in req.resource_spans
            for ss in rs.scope_spans for sp in ss.spans]


def sink_logs(sink):
    return [lr for req in list(sink.received["logs"]) for rl in req.resource_logs
            for sl in rl.scope_logs for lr in sl.log_records]


class Env:
    def __init__(self, t, proc, client, sink, hport):
        self.t, self.proc, self.client, self.sink, self.hport = t, proc, client, sink, hport

    def serving(self, after, rss_bound_mib):
        """A valid request still arrives, the process is alive, RSS is bounded."""
        req = h.make_traces(3)
        code, _r, det = self.client.export_full("traces", req, timeout=10)
        keys = set(h.flatten("traces", [req]))
        h.wait_until(lambda: keys <= set(self.sink.items("traces")), 15, interval=0.1)
        arrived = keys <= set(self.sink.items("traces"))
        rss = proc_status(self.proc.pid, "VmRSS") if self.proc.poll() is None else -1
        self.t.check(code == SC.OK and arrived and self.proc.poll() is None and
                     0 < rss < rss_bound_mib,
                     "after %s: a valid request is served, otelc alive, RSS %.0f MiB < %d MiB"
                     % (after, rss, rss_bound_mib),
                     "code=%s details=%r arrived=%s exit=%s" % (code.name, det, arrived,
                                                               self.proc.poll()))


def raw_grpc(env, gport, base_rss):
    t = env.t
    path = h.METHOD["traces"]
    good = h.make_traces(2)
    body = good.SerializeToString()

    def call(data, extra=(), end=True):
        c = h2.H2Conn(gport)
        try:
            sid = c.open_grpc(path, extra)
            c.send(h2.frame(h2.DATA, h2.END_STREAM if end else 0, sid, data))
            return c.answer(sid, 10)
        finally:
            c.close()

    res = call(h2.grpc_message(body))
    t.check(h2.status_of(res)[0] == 0, "raw h2c: a well-formed call -> grpc-status 0 (%r)"
            % (res["headers"],))
    for what, data in (("a message cut to 10 of %d declared bytes" % len(body),
                        h2.grpc_message(body[:10], declared=len(body))),
                       ("a length prefix of 2 GiB before 10 bytes",
                        h2.grpc_message(b"x" * 10, declared=0x7FFFFFFF)),
                       ("a length prefix of 30 MiB (under the limit) before 10 bytes",
                        h2.grpc_message(b"x" * 10, declared=30 * MIB)),
                       ("a length prefix but no message bytes", b"\x00\x00\x00\x01\x00")):
        st, msg = h2.status_of(call(data))
        t.check(st == 3 and "no complete request message" in msg,
                "raw h2c: %s -> INVALID_ARGUMENT (got %s %r)" % (what, st, msg))
    # compressed flag set, no grpc-encoding: gRPC core reads the bytes as they are
    st, msg = h2.status_of(call(h2.grpc_message(body, compressed=True)))
    keys = set(h.flatten("traces", [good]))
    h.wait_until(lambda: keys <= set(env.sink.items("traces")), 10, interval=0.1)
    t.check(st == 0 and keys <= set(env.sink.items("traces")),
            "raw h2c: compressed flag without grpc-encoding on a valid body -> OK, delivered "
            "(got %s %r)" % (st, msg))
    st, msg = h2.status_of(call(h2.grpc_message(b"\xff" * 64, compressed=True)))
    t.check(st == 3, "raw h2c: compressed flag without grpc-encoding on garbage -> "
            "INVALID_ARGUMENT (got %s %r)" % (st, msg))
    res = call(h2.grpc_message(body, compressed=True), [("grpc-encoding", "gzip")])
    t.check(res["rst"] is not None or (h2.status_of(res)[0] or 0) != 0,
            "raw h2c: compressed flag with grpc-encoding gzip on a plain body -> the stream is "
            "reset or fails (rst=%r status=%r)" % (res["rst"], h2.status_of(res)))
    # a declared 30 MiB message whose body never comes: the stream waits, nothing is reserved
    c = h2.H2Conn(gport)
    sid = c.open_grpc(path)
    c.send(h2.frame(h2.DATA, 0, sid, h2.grpc_message(b"x" * 10, declared=30 * MIB)))
    try:
        res = c.answer(sid, 1.5)
        waited = False
    except TimeoutError:
        waited = True
    rss = proc_status(env.proc.pid, "VmRSS")
    t.check(waited and rss < base_rss + 20, "raw h2c: a 30 MiB prefix with the body held back "
            "waits for it without reserving it (RSS %.0f MiB, at start %.0f)" % (rss, base_rss))
    c.close()
    # not HTTP/2 at all after the preface
    s = socket.create_connection(("127.0.0.1", gport), timeout=5)
    s.sendall(h2.PREFACE + b"\xff" * 64)
    t.check(closed_within(s, 10) is not None, "raw h2c: garbage frames after the preface -> "
            "the connection is closed")
    s.close()
    env.serving("raw HTTP/2 abuse", base_rss + 64)


def million_spans(env, gport, base_rss):
    t = env.t
    n = 1000000
    data = tiny_spans_request(n)
    t0 = time.monotonic()
    code, _resp, det = env.client.call(h.METHOD["traces"], data, timeout=60)
    el = time.monotonic() - t0
    hwm = proc_status(env.proc.pid, "VmHWM")
    t.check(code == SC.RESOURCE_EXHAUSTED and "max_items_per_request" in det,
            "%d tiny spans in one %.1f MiB request (default max_items_per_request 100000) -> "
            "RESOURCE_EXHAUSTED in %.1f s (got %s %r)" % (n, len(data) / MIB, el, code.name,
                                                         det[:100]))
    t.check(hwm < base_rss + 200, "refused before decoding: peak RSS %.0f MiB < %.0f MiB"
            % (hwm, base_rss + 200))
    data = tiny_spans_request(600000)  # 17 MiB: under max_request_body_size
    st, body = http_post(env.hport, "/v1/traces", data)
    t.check(st == 413 and b"max_items_per_request" in body,
            "600000 tiny spans over OTLP/HTTP -> 413 naming max_items_per_request (got %d)" % st)
    env.serving("a million tiny spans", base_rss + 250)


def invalid_utf8(env):
    t = env.t
    req = h.make_traces(2)
    sp = req.resource_spans[0].scope_spans[0].spans[0]
    sp.name = "bad-\u00e9\u00e9-" + h.RUN_ID
    data = req.SerializeToString().replace("\u00e9\u00e9".encode(), b"\xff\xc3\x28\x80")
    code, _resp, det = env.client.call(h.METHOD["traces"], data, timeout=10)
    want = "bad-\ufffd\ufffd(\ufffd-" + h.RUN_ID
    h.wait_until(lambda: any(s.name == want for s in sink_spans(env.sink)), 10,
                 interval=0.1)
    got = [s.name for s in sink_spans(env.sink) if s.name.startswith("bad-")]
    t.check(code == SC.OK and want in got, "OTLP/gRPC span name with invalid UTF-8 -> OK, "
            "delivered with U+FFFD per bad byte (got %s, names %r)" % (code.name, got[-2:]))
    # an attribute value, over OTLP/HTTP protobuf
    req = h.make_logs(1)
    lr = req.resource_logs[0].scope_logs[0].log_records[0]
    lr.body.string_value = "log-\u00e9-" + h.RUN_ID
    data = req.SerializeToString().replace("\u00e9".encode(), b"\xed\xa0")  # a surrogate's start
    st, _b = http_post(env.hport, "/v1/logs", data)
    want = "log-\ufffd\ufffd-" + h.RUN_ID
    h.wait_until(lambda: any(r.body.string_value == want for r in sink_logs(env.sink)),
                 10, interval=0.1)
    t.check(st == 200 and any(r.body.string_value == want for r in sink_logs(env.sink)),
            "OTLP/HTTP log body with invalid UTF-8 -> 200, delivered repaired (got %d)" % st)
    st, body = http_post(env.hport, "/v1/logs",
                         b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":'
                         b'{"stringValue":"x\xff"}}]}]}]}', ctype="application/json")
    t.check(st == 400, "OTLP/JSON with invalid UTF-8 -> 400 (JSON must be UTF-8; got %d %r)"
            % (st, body[:80]))


def bad_ids(env):
    t = env.t
    req = h.make_traces(8)
    spans = req.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = os.urandom(15)
    spans[1].span_id = os.urandom(9)
    spans[2].parent_span_id = os.urandom(7)
    spans[3].trace_id = b""
    good = h.make_traces(0)
    good.resource_spans[0].scope_spans[0].spans.extend(spans[4:])
    keys = set(h.flatten("traces", [good]))
    code, resp, det = env.client.export_full("traces", req, timeout=10)
    h.wait_until(lambda: keys <= set(env.sink.items("traces")), 10, interval=0.1)
    ps = resp.partial_success if resp is not None else None
    t.check(code == SC.OK and ps is not None and ps.rejected_spans == 4 and
            "id length" in ps.error_message and keys <= set(env.sink.items("traces")),
            "4 of 8 spans with ids of the wrong length -> OK, partial_success.rejected_spans 4, "
            "the other 4 delivered (got %s %r)" % (code.name, ps))
    req = h.make_logs(3)
    req.resource_logs[0].scope_logs[0].log_records[0].trace_id = b"abc"
    st, body = http_post(env.hport, "/v1/logs", req.SerializeToString())
    resp = h.pb.response["logs"]()
    resp.ParseFromString(body)
    t.check(st == 200 and resp.partial_success.rejected_log_records == 1,
            "OTLP/HTTP: a log record with a 3-byte trace id -> 200, rejected_log_records 1 "
            "(got %d %r)" % (st, resp.partial_success))


def idle_connections(env, gport, base_rss):
    t = env.t
    pid = env.proc.pid
    fd0 = nfds(pid)
    grpc_socks, http_socks = [], []
    for _ in range(1000):
        s = socket.create_connection(("127.0.0.1", gport), timeout=5)
        s.sendall(h2.PREFACE + h2.frame(h2.SETTINGS, 0, 0))
        grpc_socks.append(s)
        s = socket.create_connection(("127.0.0.1", env.hport), timeout=5)
        http_socks.append(s)
    h.wait_until(lambda: nfds(pid) >= fd0 + 1900, 20, interval=0.2)
    fd1 = nfds(pid)
    rss = proc_status(pid, "VmRSS")
    t.check(fd1 >= fd0 + 1900, "2000 idle connections held: %d fds (%d before)" % (fd1, fd0))
    t.check(rss < base_rss + 150, "with 1000 idle gRPC and 1000 idle HTTP connections: RSS "
            "%.0f MiB < %.0f MiB (%.0f at start)" % (rss, base_rss + 150, base_rss))
    code, _r, det = env.client.export_full("traces", h.make_traces(2), timeout=10)
    st, _b = http_post(env.hport, "/v1/traces", h.make_traces(2).SerializeToString())
    t.check(code == SC.OK and st == 200, "while they are held, new gRPC and HTTP clients are "
            "served (got %s, %d)" % (code.name, st))
    # idle_timeout 5s closes the HTTP ones; max_connection_idle 6s the gRPC ones
    t0 = time.monotonic()
    h.wait_until(lambda: nfds(pid) <= fd0 + 20, 40, interval=0.5)
    el = time.monotonic() - t0
    fd2 = nfds(pid)
    http_closed = sum(1 for s in http_socks[:50] if closed_within(s, 0.5) is not None)
    grpc_closed = sum(1 for s in grpc_socks[:50] if closed_within(s, 0.5) is not None)
    t.check(fd2 <= fd0 + 20 and http_closed == 50 and grpc_closed == 50,
            "idle_timeout and max_connection_idle closed them within %.0f s: %d fds, "
            "%d/50 HTTP and %d/50 gRPC sampled sockets see the close" % (el, fd2, http_closed,
                                                                       grpc_closed))
    for s in grpc_socks + http_socks:
        s.close()
    env.serving("2000 idle connections", base_rss + 150)


def slow_http(env, base_rss):
    t = env.t
    head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
    s = socket.create_connection(("127.0.0.1", env.hport), timeout=5)
    served = []

    def others():
        for _ in range(5):
            st, _b = http_post(env.hport, "/v1/traces", h.make_traces(1).SerializeToString(),
                               timeout=10)
            served.append(st)
    th = threading.Thread(target=others)
    t0 = time.monotonic()
    th.start()
    for i in range(len(head)):  # one byte every 50 ms: each one restarts the idle timer
        s.sendall(head[i:i + 1])
        time.sleep(0.05)
    th.join(30)
    trickle = time.monotonic() - t0
    closed = closed_within(s, 15)
    t.check(served == [200] * 5, "while a client sends its headers byte by byte for %.1f s, "
            "other clients are served (%r)" % (trickle, served))
    t.check(closed is not None and 3.0 < closed < 20,
            "the trickling client is closed once it stalls for idle_timeout (5 s): after "
            "%s s" % ("%.1f" % closed if closed is not None else "never"))
    s.close()
    # complete headers, then a body that stops short
    s = socket.create_connection(("127.0.0.1", env.hport), timeout=5)
    s.sendall(head + b"Content-Length: 1000\r\n\r\n" + b"\x0a" * 10)
    closed = closed_within(s, 15)
    t.check(closed is not None and 3.0 < closed < 20,
            "a body that stops at 10 of 1000 bytes: closed after %s s" %
            ("%.1f" % closed if closed is not None else "never"))
    s.close()
    # headers past max_request_header_size (64 KiB)
    s = socket.create_connection(("127.0.0.1", env.hport), timeout=5)
    try:
        s.sendall(head + b"X-Big: " + b"a" * (100 * 1024) + b"\r\n\r\n")
    except OSError:
        pass
    s.settimeout(10)
    try:
        answer = s.recv(200)
    except OSError:
        answer = b""
    closed = closed_within(s, 10)
    t.check(closed is not None and (answer == b"" or answer.startswith(b"HTTP/1.1 4")),
            "100 KiB of headers (max_request_header_size 64 KiB) -> %s and a close" %
            (answer.split(b"\r\n")[0].decode(errors="replace") or "no answer"))
    s.close()
    env.serving("slow and oversized HTTP requests", base_rss + 150)


def accepted_million(t):
    """With max_items_per_request: 0 the million tiny spans go through."""
    port = h.free_port()
    cfg = ("receivers:\n  otlp:\n    max_items_per_request: 0\n    protocols:\n      grpc:\n"
           "        endpoint: 127.0.0.1:%d\n        max_recv_msg_size_mib: 32\n"
           "exporters:\n  nop:\nservice:\n  pipelines:\n    traces:\n"
           "      receivers: [otlp]\n      exporters: [nop]\n" % port)
    proc = h.start_otelc(cfg, env=asan_env())
    c = h.Client(port)
    base = proc_status(proc.pid, "VmRSS")
    data = tiny_spans_request(1000000)
    t0 = time.monotonic()
    code, _resp, det = c.call(h.METHOD["traces"], data, timeout=90)
    el = time.monotonic() - t0
    hwm = proc_status(proc.pid, "VmHWM")
    t.check(code == SC.OK, "max_items_per_request: 0 -> 1000000 tiny spans (%.1f MiB) accepted "
            "in %.1f s (got %s %r)" % (len(data) / MIB, el, code.name, det[:100]))
    t.check(hwm < base + 1024, "decoding them peaks at %.0f MiB RSS < %.0f MiB"
            % (hwm, base + 1024))
    code, _r, _d = c.export_full("traces", h.make_traces(2), timeout=10)
    t.check(code == SC.OK and proc.poll() is None, "and it keeps serving (got %s)" % code.name)
    c.close()
    h.stop_otelc(proc)


def main(t):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    sink = h.Sink("hostile-sink", max_workers=32)
    gport, hport = h.free_port(), h.free_port()
    cfg = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n"
           "        endpoint: 127.0.0.1:%d\n        max_recv_msg_size_mib: 32\n"
           "        keepalive:\n          server_parameters:\n"
           "            max_connection_idle: 6s\n"
           "      http:\n        endpoint: 127.0.0.1:%d\n        idle_timeout: 5s\n"
           "exporters:\n%s"
           "service:\n  pipelines:\n"
           "    traces:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n"
           "    logs:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n"
           % (gport, hport, h.otlp_exporter_yaml("otlp/sink", sink.port)))
    proc = h.start_otelc(cfg, port=gport, env=asan_env())
    h.wait_until(lambda: h.port_open(hport), 10)
    client = h.Client(gport)
    env = Env(t, proc, client, sink, hport)
    env.serving("start", 10000)
    base = proc_status(proc.pid, "VmRSS")
    h.log("RSS at start: %.0f MiB" % base)
    raw_grpc(env, gport, base)
    bad_ids(env)
    invalid_utf8(env)
    million_spans(env, gport, base)
    slow_http(env, base)
    idle_connections(env, gport, base)
    client.close()
    t.check(True, "otelc stopped cleanly in %.2f s" % h.stop_otelc(proc))
    accepted_million(t)


if __name__ == "__main__":
    h.run_test(main, timeout=280)
