# test_bad_input.py: malformed and hostile requests against a running otelc:
# garbage and truncated protobuf, unknown methods, oversized and empty
# messages. Each must get the right gRPC status quickly, and afterwards a
# valid request must still succeed and the process must be alive.
# SPDX-License-Identifier: Apache-2.0
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode


def python_rejects(sig, data):
    try:
        h.decode(sig, data)
        return False
    except Exception:
        return True


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def nested_any_request(depth):
    """A traces request whose one span attribute is an array in an array ...
    depth times, written by hand: the Python protobuf library refuses to build it."""
    def field(num, payload):
        return varint((num << 3) | 2) + varint(len(payload)) + payload
    v = field(1, b"x")                  # AnyValue.string_value
    for _ in range(depth):
        v = field(5, field(1, v))       # AnyValue.array_value { ArrayValue.values }
    kv = field(1, b"k") + field(2, v)   # KeyValue
    span = field(1, bytes(range(1, 17))) + field(2, bytes(range(1, 9))) + field(5, b"s") + field(9, kv)
    return field(1, field(2, field(2, span)))  # ResourceSpans.scope_spans.spans


class Ctx:
    def __init__(self, t, proc, client, sink):
        self.t, self.proc, self.client, self.sink = t, proc, client, sink

    def still_serving(self, after):
        """A valid request still succeeds and arrives; the process is alive."""
        sig = "traces"
        req = h.make_traces(3)
        code, _r, det = self.client.export_full(sig, req, timeout=5)
        keys = set(h.flatten(sig, [req]))
        h.wait_until(lambda: keys <= set(self.sink.items(sig)), 10, interval=0.1)
        arrived = keys <= set(self.sink.items(sig))
        self.t.check(code == SC.OK and arrived and self.proc.poll() is None,
                     "after %s: valid request OK and delivered, otelc alive" % after,
                     "code=%s details=%r arrived=%s exit=%s" % (code.name, det, arrived,
                                                               self.proc.poll()))


def expect(ctx, what, path, data, want, timeout=5.0, max_s=None, need_details=False,
           compression=None):
    t0 = time.monotonic()
    code, _resp, details = ctx.client.call(path, data, compression=compression, timeout=timeout)
    el = time.monotonic() - t0
    ok = code == want
    msg = "%s -> %s (got %s in %.2f s, details %r)" % (what, want.name, code.name, el, details[:120])
    if max_s is not None:
        ok = ok and el <= max_s
        msg += " within %.0f s" % max_s
    if need_details:
        ok = ok and bool(details.strip())
        msg += " with a details message"
    ctx.t.check(ok, msg)
    return code, details


def main(t):
    sink = h.Sink()
    port = h.free_port()
    cfg = h.config_yaml(port, h.otlp_exporter_yaml("otlp/sink", sink.port),
                        {s: ["otlp/sink"] for s in h.SIGNALS})
    proc = h.start_otelc(cfg)
    c = h.Client(port)
    ctx = Ctx(t, proc, c, sink)
    ctx.still_serving("start-up")

    # ---- garbage bytes: INVALID_ARGUMENT with a details message, every signal
    garbage = [
        ("wire type 7 tag", b"\x0f" + b"garbage!" * 4),
        ("over-long varint", b"\x08" + b"\xff" * 11),
        ("length beyond end", b"\x0a\xff\x7f" + b"x" * 10),
        ("random bytes", bytes((i * 73 + 41) % 256 for i in range(257)) + b"\x0f"),
        ("field number 0", b"\x02\x01x"),
    ]
    for sig in h.SIGNALS:
        for name, data in garbage:
            assert python_rejects(sig, data), (sig, name)  # the sample really is invalid
            expect(ctx, "%s garbage (%s)" % (sig, name), h.METHOD[sig], data,
                   SC.INVALID_ARGUMENT, need_details=True)
    ctx.still_serving("garbage")

    # ---- garbage inside a valid envelope: wrong wire type for a known field
    rs = h.make_traces(2).resource_spans[0].SerializeToString() + b"\x12\x01\x0f"
    bad_nested = b"\x0a" + varint(len(rs)) + rs
    assert python_rejects("traces", bad_nested)
    expect(ctx, "traces with a broken nested ScopeSpans", h.METHOD["traces"], bad_nested,
           SC.INVALID_ARGUMENT)

    # ---- truncated valid protobuf -> INVALID_ARGUMENT
    for sig in h.SIGNALS:
        full = h.make_request(sig, 20, rich=True).SerializeToString()
        for cut in (len(full) // 2, len(full) - 1):
            data = full[:cut]
            if not python_rejects(sig, data):
                continue  # a cut on a field boundary is a valid (shorter) message
            expect(ctx, "%s truncated to %d of %d bytes" % (sig, cut, len(full)), h.METHOD[sig],
                   data, SC.INVALID_ARGUMENT)
    ctx.still_serving("truncated protobuf")

    # ---- unknown methods -> UNIMPLEMENTED quickly (not a hang to the deadline)
    for path in ("/foo.Bar/Baz", "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
                 "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"):
        expect(ctx, "unknown method %s" % path, path, h.make_traces(1).SerializeToString(),
               SC.UNIMPLEMENTED, timeout=10, max_s=2)
    ctx.still_serving("unknown methods")

    # ---- oversized: 5 MiB with the default 4 MiB limit -> RESOURCE_EXHAUSTED
    big = h.make_traces(5, attr_size=1024 * 1024).SerializeToString()
    assert 5 * h.MIB <= len(big) < 6 * h.MIB, len(big)
    expect(ctx, "%.2f MiB traces request (limit 4 MiB)" % (len(big) / h.MIB), h.METHOD["traces"],
           big, SC.RESOURCE_EXHAUSTED, timeout=15)
    big_gz = h.make_logs(5, attr_size=1024 * 1024).SerializeToString()
    expect(ctx, "%.2f MiB logs request gzip-compressed (limit applies to the inflated size)"
           % (len(big_gz) / h.MIB), h.METHOD["logs"], big_gz, SC.RESOURCE_EXHAUSTED, timeout=15,
           compression="gzip")
    ctx.still_serving("oversized request")
    # just under the limit is accepted and delivered intact
    near = h.make_traces(3, attr_size=1024 * 1024)
    code, _r, det = c.export_full("traces", near, timeout=15)
    t.check(code == SC.OK, "3 MiB request under the 4 MiB limit -> OK (got %s %r)"
            % (code.name, det[:100]))
    keys = set(h.flatten("traces", [near]))
    h.wait_until(lambda: keys <= set(sink.items("traces")), 15, interval=0.2)
    t.check(keys <= set(sink.items("traces")), "the 3 MiB request arrives intact at the sink")

    # ---- empty request (0 bytes) -> OK, for every signal, nothing forwarded
    before = {s: sink.count(s) for s in h.SIGNALS}
    for sig in h.SIGNALS:
        code, resp, det = c.export_full(sig, b"", timeout=5)
        t.check(code == SC.OK, "%s empty request (0 bytes) -> OK (got %s %r)"
                % (sig, code.name, det))
        # an envelope with an empty resource is valid too
        empty_rs = {"traces": b"\x0a\x00", "metrics": b"\x0a\x00", "logs": b"\x0a\x00"}[sig]
        code, resp, det = c.export_full(sig, empty_rs, timeout=5)
        t.check(code == SC.OK, "%s request with one empty resource -> OK (got %s %r)"
                % (sig, code.name, det))
    ctx.still_serving("empty requests")
    time.sleep(0.5)
    t.eq({s: sink.count(s) - before[s] for s in ("metrics", "logs")}, {"metrics": 0, "logs": 0},
         "empty requests forward no items")

    # ---- a burst of bad requests interleaved with good ones
    bad = 0
    for i in range(50):
        code, _ = c.export("metrics", garbage[i % len(garbage)][1], timeout=5)
        bad += code == SC.INVALID_ARGUMENT
    t.eq(bad, 50, "50 garbage metrics requests in a row all INVALID_ARGUMENT")
    ctx.still_serving("a burst of garbage")

    # ---- AnyValue nested in AnyValue: refused before the recursive decoder runs
    for depth, want in ((10000, SC.INVALID_ARGUMENT), (200, SC.INVALID_ARGUMENT), (40, SC.OK)):
        code, det = expect(ctx, "a span attribute with %d nested AnyValue arrays" % depth,
                           h.METHOD["traces"], nested_any_request(depth), want, need_details=(want != SC.OK))
        if want != SC.OK:
            t.check("nested" in det, "the message names the nesting (%r)" % det[:160])
    ctx.still_serving("deeply nested AnyValue")

    c.close()
    t.check(True, "otelc stopped cleanly in %.2f s" % h.stop_otelc(proc))

    # ---- max_recv_msg_size_mib raises the limit
    port = h.free_port()
    cfg = h.config_yaml(port, h.otlp_exporter_yaml("otlp/sink", sink.port),
                        {"traces": ["otlp/sink"]}, max_recv_msg_size_mib=8)
    proc = h.start_otelc(cfg)
    c = h.Client(port)
    big_req = h.make_traces(5, attr_size=1024 * 1024)
    code, _r, det = c.export_full("traces", big_req, timeout=15)
    t.check(code == SC.OK, "5 MiB request with max_recv_msg_size_mib: 8 -> OK (got %s %r)"
            % (code.name, det[:100]))
    keys = set(h.flatten("traces", [big_req]))
    h.wait_until(lambda: keys <= set(sink.items("traces")), 15, interval=0.2)
    t.check(keys <= set(sink.items("traces")), "the 5 MiB request arrives intact at the sink")
    big9 = h.make_traces(9, attr_size=1024 * 1024).SerializeToString()
    expect(Ctx(t, proc, c, sink), "9 MiB request with max_recv_msg_size_mib: 8",
           h.METHOD["traces"], big9, SC.RESOURCE_EXHAUSTED, timeout=15)
    c.close()
    h.stop_otelc(proc)
    sink.stop()


if __name__ == "__main__":
    h.run_test(main)
