# test_otlp_inflate.py: compressed requests to the OTLP/gRPC receiver, which
# inflates them itself (libdeflate) with gRPC core's per-message decompression
# off. gzip and deflate requests from python3-grpcio, small ones and ones of
# many HTTP/2 frames, of every signal, arrive intact; a message that inflates
# past max_recv_msg_size_mib gets RESOURCE_EXHAUSTED with core's wording (also
# below a lowered limit), one just under it is delivered. Over raw h2c: a
# compressed message that does not inflate (garbage, a plain body, truncated,
# a bad CRC, bytes after the end) gets INVALID_ARGUMENT naming it; gRPC core
# 1.51 used to reset such a stream (RST_STREAM INTERNAL_ERROR, no status). As
# with core: an empty compressed message is an empty request (OK), and the
# compressed flag with an encoding core does not know reads the bytes as
# they are. Two gzip members back to back are read as one message (core
# refused them).
# SPDX-License-Identifier: Apache-2.0
import collections
import gzip
import os
import random
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402
import h2c_raw as h2  # noqa: E402

SC = h.grpc.StatusCode
SIGNALS = ("traces", "metrics", "logs")


def _noisy(n, rnd):
    """Spans with a random attribute: compresses poorly, so the message takes
    many HTTP/2 frames (several slices for the receiver)."""
    req = h.make_traces(n)
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                kv = sp.attributes.add()
                kv.key = "blob"
                kv.value.string_value = "%032x" % rnd.getrandbits(128) * 4
    return req


def deliver(t, c, sink, what, comp, sig, reqs):
    codes = collections.Counter()
    for r in reqs:
        code, _resp, det = c.export_full(sig, r, compression=comp, timeout=15)
        codes[code.name] += 1
        if code != SC.OK:
            h.log("  %s %s: %s %r" % (comp, sig, code.name, det[:200]))
    want = collections.Counter(h.flatten(sig, reqs))
    got = lambda: collections.Counter(i for i in sink.items(sig) if i in want)  # noqa: E731
    h.wait_until(lambda: got() == want, 15, interval=0.1)
    t.check(codes == {"OK": len(reqs)} and got() == want,
            "%s, %s: %s answered OK and every item arrives intact (%d items)"
            % (comp, sig, what, sum(want.values())), "codes=%r got %d of %d"
            % (dict(codes), sum(got().values()), sum(want.values())))


def grpcio_cases(t, port, sink):
    c = h.Client(port)
    for comp in ("gzip", "deflate"):
        for sig in SIGNALS:
            deliver(t, c, sink, "5 small requests", comp, sig,
                    [h.make_request(sig, 20 + i) for i in range(5)])
        big = [_noisy(2000, random.Random(i)) for i in range(2)]
        n = len(h.encode(big[0]))
        z = len(gzip.compress(h.encode(big[0])))
        t.check(z > 64 * 1024, "the noisy request stays large compressed (%d of %d bytes): many frames"
                % (z, n))
        deliver(t, c, sink, "2 requests of %.1f MiB" % (n / h.MIB), comp, "traces", big)
        near = h.make_logs(3, attr_size=1024 * 1024)
        deliver(t, c, sink, "a %.2f MiB request (limit 4 MiB)" % (len(h.encode(near)) / h.MIB),
                comp, "logs", [near])
        over = h.make_logs(5, attr_size=1024 * 1024)
        code, _r, det = c.export_full("logs", over, compression=comp, timeout=15)
        t.check(code == SC.RESOURCE_EXHAUSTED and "larger than max" in det,
                "%s: a %.2f MiB request (%d bytes compressed) -> RESOURCE_EXHAUSTED "
                "(got %s %r)" % (comp, len(h.encode(over)) / h.MIB,
                                 len(gzip.compress(h.encode(over))), code.name, det))
    c.close()


def raw_cases(t, port, sink):
    path = h.METHOD["traces"]
    good = h.make_traces(3)
    body = h.encode(good)

    def call(data, enc):
        conn = h2.H2Conn(port)
        try:
            sid = conn.open_grpc(path, [("grpc-encoding", enc)] if enc else ())
            conn.send(h2.frame(h2.DATA, h2.END_STREAM, sid, data))
            return conn.answer(sid, 10)
        finally:
            conn.close()

    bad_crc = bytearray(gzip.compress(body))
    bad_crc[-6] ^= 1
    for enc, comp in (("gzip", gzip.compress), ("deflate", zlib.compress)):
        for what, data in (("64 bytes of garbage", b"\xff" * 64),
                           ("a plain body", body),
                           ("a truncated stream", comp(body)[:-7]),
                           ("a stream with 4 bytes after its end", comp(body) + b"junk")):
            res = call(h2.grpc_message(data, compressed=True), enc)
            st, msg = h2.status_of(res)
            t.check(st == 3 and ("cannot inflate" in msg and enc in msg),
                    "raw h2c: %s marked %s -> INVALID_ARGUMENT naming it (got rst=%r %s %r)"
                    % (what, enc, res["rst"], st, msg))
    st, msg = h2.status_of(call(h2.grpc_message(bytes(bad_crc), compressed=True), "gzip"))
    t.check(st == 3, "raw h2c: gzip with a bad CRC-32 -> INVALID_ARGUMENT (got %s %r)" % (st, msg))
    for enc in ("gzip", "deflate"):
        st, msg = h2.status_of(call(h2.grpc_message(b"", compressed=True), enc))
        t.check(st == 0, "raw h2c: an empty message marked %s -> OK, as gRPC core answered (got %s %r)"
                % (enc, st, msg))
    # the compressed flag with an encoding core does not know: the bytes as they are
    st, msg = h2.status_of(call(h2.grpc_message(body, compressed=True), "br"))
    t.check(st == 0, "raw h2c: compressed flag, grpc-encoding br, plain body -> OK as before "
            "(got %s %r)" % (st, msg))
    two = make_two_members()
    st, msg = h2.status_of(call(h2.grpc_message(gzip.compress(h.encode(two[0])) +
                                                gzip.compress(h.encode(two[1])), compressed=True),
                                "gzip"))
    keys = set(h.flatten("traces", two))
    h.wait_until(lambda: keys <= set(sink.items("traces")), 10, interval=0.1)
    t.check(st == 0 and keys <= set(sink.items("traces")),
            "raw h2c: two gzip members (two requests' bytes, one merged request) -> OK, "
            "both delivered (got %s %r)" % (st, msg))
    # deflate: gRPC's is zlib-wrapped; valid streams of both kinds arrive
    for enc, comp in (("gzip", gzip.compress), ("deflate", zlib.compress)):
        one = h.make_traces(4)
        st, msg = h2.status_of(call(h2.grpc_message(comp(h.encode(one)), compressed=True), enc))
        keys = set(h.flatten("traces", [one]))
        h.wait_until(lambda: keys <= set(sink.items("traces")), 10, interval=0.1)
        t.check(st == 0 and keys <= set(sink.items("traces")),
                "raw h2c: Python's %s stream -> OK, delivered (got %s %r)" % (enc, st, msg))


def make_two_members():
    return [h.make_traces(2), h.make_traces(3)]


def lowered_limit(t):
    sink = h.Sink("inflate-sink-1mib")
    port = h.free_port()
    proc = h.start_otelc(h.config_yaml(port, h.otlp_exporter_yaml("otlp/sink", sink.port),
                                       {"logs": ["otlp/sink"]}, max_recv_msg_size_mib=1))
    c = h.Client(port)
    for comp in ("gzip", "deflate"):
        over = h.make_logs(1, attr_size=1024 * 1024 + 100)
        code, _r, det = c.export_full("logs", over, compression=comp, timeout=15)
        t.check(code == SC.RESOURCE_EXHAUSTED and "larger than max" in det,
                "max_recv_msg_size_mib 1, %s: a %.2f MiB request -> RESOURCE_EXHAUSTED (got %s %r)"
                % (comp, len(h.encode(over)) / h.MIB, code.name, det))
        under = h.make_logs(1, attr_size=900 * 1024)
        deliver(t, c, sink, "max_recv_msg_size_mib 1, a %.2f MiB request" %
                (len(h.encode(under)) / h.MIB), comp, "logs", [under])
    c.close()
    h.stop_otelc(proc)
    t.check(proc.returncode == 0, "otelc exits cleanly (%s)" % proc.returncode)
    sink.stop()


def main(t):
    sink = h.Sink("inflate-sink")
    port = h.free_port()
    exp = h.otlp_exporter_yaml("otlp/sink", sink.port)
    proc = h.start_otelc(h.config_yaml(port, exp, {s: ["otlp/sink"] for s in SIGNALS}))
    grpcio_cases(t, port, sink)
    raw_cases(t, port, sink)
    c = h.Client(port)
    deliver(t, c, sink, "after all that, a request", "gzip", "traces", [h.make_traces(7)])
    c.close()
    t.check(proc.poll() is None, "otelc is still running")
    h.stop_otelc(proc)
    sink.stop()
    lowered_limit(t)


if __name__ == "__main__":
    h.run_test(main, timeout=240)
