# test_otlp_gzip.py: the otlp exporter's gzip. otelc compresses each message
# itself (libdeflate) and sends it marked as compressed; a real gRPC server
# (python grpcio) must read every span back intact, and the bytes on the wire,
# counted by a TCP relay between otelc and the server, must be a fraction of
# the requests' size. For compression gzip with compression_params.level 1, 9
# and the default, and compression none as the control. A level out of range
# is a config error naming the key.
# SPDX-License-Identifier: Apache-2.0
import collections
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
REQUESTS = 20
SPANS = 200


class Relay:
    """Accepts TCP connections on a free port, connects each to target, and
    counts the bytes going from client to target."""

    def __init__(self, target_port):
        self.target = target_port
        self.upstream_bytes = 0
        self.lock = threading.Lock()
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, False), daemon=True).start()

    def _pipe(self, src, dst, count):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if count:
                    with self.lock:
                        self.upstream_bytes += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.srv.close()


def run_case(t, compression, level):
    sink = h.Sink("gzip-sink")
    relay = Relay(sink.port)
    extra = "    compression_params:\n      level: %d\n" % level if level is not None else ""
    exp = h.otlp_exporter_yaml("otlp/sink", relay.port, compression=compression, extra=extra)
    port = h.free_port()
    proc = h.start_otelc(h.config_yaml(port, exp, {"traces": ["otlp/sink"]}))
    c = h.Client(port)
    reqs = [h.make_traces(SPANS, span_attrs={"http.url": "/api/v1/orders/%d" % i,
                                             "component": "checkout"}) for i in range(REQUESTS)]
    raw = sum(len(h.encode(r)) for r in reqs)
    codes = collections.Counter(c.export("traces", r)[0].name for r in reqs)
    t.eq(dict(codes), {"OK": REQUESTS}, "%s level %s: every request answered OK" % (compression, level))
    want = collections.Counter(h.flatten("traces", reqs))
    arrived = h.wait_until(lambda: collections.Counter(sink.items("traces")) == want, 15)
    wire = relay.upstream_bytes
    h.log("%s, level %s: %d request bytes, %d bytes on the wire to the server (%.2f)"
          % (compression, level, raw, wire, wire / raw))
    t.check(arrived, "%s level %s: the server read every span (%d) back intact" % (compression, level,
                                                                                 len(want)))
    c.close()
    h.stop_otelc(proc)
    relay.close()
    sink.stop()
    return raw, wire


def main(t):
    raw, wire = run_case(t, "none", None)
    t.check(wire >= raw, "compression none: the wire carries at least the requests' bytes (%d >= %d)"
            % (wire, raw))
    sizes = {}
    for level in (None, 1, 9):
        raw, wire = run_case(t, "gzip", level)
        sizes[level] = wire
        t.check(wire < raw / 3, "gzip level %s: the wire carries under a third of the requests' bytes "
                "(%d of %d)" % (level, wire, raw))
    t.check(sizes[9] <= sizes[1], "level 9 is no larger on the wire than level 1 (%d <= %d)"
            % (sizes[9], sizes[1]))

    for compression, level in (("gzip", 10), ("none", 5)):
        extra = "    compression_params:\n      level: %d\n" % level
        path = h.write_config(h.config_yaml(h.free_port(), h.otlp_exporter_yaml(
            "otlp/sink", h.free_port(), compression=compression, extra=extra), {"traces": ["otlp/sink"]}))
        res = h.run_otelc(["validate", "--config", path])
        out = res.stdout + res.stderr
        t.check(res.returncode != 0 and "compression_params.level" in out,
                "validate refuses level %d with compression %s, naming the key" % (level, compression),
                out[-500:])


if __name__ == "__main__":
    h.run_test(main, timeout=150)
