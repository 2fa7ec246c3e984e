# test_otlphttp_e2e.py: the otlphttp exporter against real servers.
# 1. otelc (otlp/gRPC in) -> otlphttp -> a second otelc's OTLP/HTTP receiver ->
#    otlp -> Sink, for every signal, with encoding proto and json and compression
#    gzip, zstd and none: everything arrives identical.
# 2. A python HTTP backend answering 503 + Retry-After: 1 to the first posts: all
#    arrives, and each retry waited for the server's delay; the configured
#    headers, Content-Type and Content-Encoding are on every post.
# 3. A backend answering 400 with a google.rpc.Status: the batch is dropped,
#    not retried, and its message is logged once.
# SPDX-License-Identifier: Apache-2.0
import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}


def clear_negative_zero(msg):
    """A copy of msg with every -0.0 double turned into 0.0. OTLP/JSON writes
    -0.0 as -0 (as Go's protojson does), which the JSON decoders here (python's
    json module, otelc's receiver via json-c) read back as an integer 0: that
    sign is outside the exporter, so JSON comparisons ignore it."""
    from google.protobuf.descriptor import FieldDescriptor as F
    m = type(msg)()
    m.CopyFrom(msg)

    def walk(x):
        for fd, v in x.ListFields():
            if fd.type == F.TYPE_MESSAGE:
                for sub in (v if fd.label == F.LABEL_REPEATED else [v]):
                    walk(sub)
            elif fd.type == F.TYPE_DOUBLE:
                if fd.label == F.LABEL_REPEATED:
                    for i, d in enumerate(v):
                        if d == 0.0:
                            v[i] = 0.0
                elif v == 0.0:
                    setattr(x, fd.name, 0.0)
    walk(m)
    return m


def otlphttp_yaml(name, extra, initial_interval="100ms"):
    return ("  %s:\n%s"
            "    timeout: 5s\n"
            "    retry_on_failure:\n"
            "      initial_interval: %s\n"
            "      max_interval: 1s\n"
            "      max_elapsed_time: 60s\n" % (name, extra, initial_interval))


def upstream_config(gport, exporter_yaml, name, signals=h.SIGNALS):
    cfg = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
           "exporters:\n%sservice:\n  pipelines:\n" % (gport, exporter_yaml))
    for sig in signals:
        cfg += "    %s:\n      receivers: [otlp]\n      exporters: [%s]\n" % (sig, name)
    return cfg


def zstd_decompress(data):
    r = subprocess.run(["zstd", "-q", "-d", "-c"], input=data, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("zstd -d failed: %r" % r.stderr)
    return r.stdout


def status_pb(code, message):
    """A serialized google.rpc.Status {code, message}."""
    m = message.encode()
    return bytes([0x08, code]) + bytes([0x12]) + h._pb_varint(len(m)) + m


class Backend:
    """An OTLP/HTTP server in this process. The first `fail` posts are answered
    with `fail_code` (plus `fail_headers` and `fail_body`); later posts get 200
    and an empty Export*ServiceResponse. Every post is recorded as
    (monotonic time, path, headers, status answered, decoded request or None)."""

    def __init__(self, fail=0, fail_code=503, fail_headers=None, fail_body=b"",
                 fail_type="application/x-protobuf", port=0, paths=None):
        self.posts = []
        self.lock = threading.Lock()
        self.fail = fail
        self.signal_of = {v: k for k, v in (paths or PATHS).items()}
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                hd = {k.lower(): v for k, v in self.headers.items()}
                sig = backend.signal_of.get(self.path)
                with backend.lock:
                    failing = backend.fail > 0
                    if failing:
                        backend.fail -= 1
                req = None
                try:
                    if hd.get("content-encoding") == "gzip":
                        body = gzip.decompress(body)
                    elif hd.get("content-encoding") == "zstd":
                        body = zstd_decompress(body)
                    if sig and hd.get("content-type") == "application/json":
                        req = h.otlp_json_to_request(json.loads(body), sig)[1]
                    elif sig:
                        req = h.decode(sig, body)
                except Exception as e:  # recorded as undecodable
                    h.log("backend: cannot decode %s: %s" % (self.path, e))
                code = fail_code if failing else 200
                with backend.lock:
                    backend.posts.append((time.monotonic(), self.path, hd, code, req))
                if failing:
                    out, ctype = fail_body, fail_type
                else:
                    out, ctype = h.pb.response[sig]().SerializeToString(), "application/x-protobuf"
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                for k, v in (fail_headers or {}).items() if failing else ():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accepted(self, sig):
        with self.lock:
            return [p[4] for p in self.posts if p[3] == 200 and self.signal_of.get(p[1]) == sig]

    def all_posts(self):
        with self.lock:
            return list(self.posts)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def chain(t):
    """Every encoding and compression through a second otelc's OTLP/HTTP receiver."""
    sink = h.Sink("chain-sink")
    dg, dh = h.free_port(), h.free_port()
    down = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "      http:\n        endpoint: 127.0.0.1:%d\n"
            "exporters:\n" % (dg, dh)
            + h.otlp_exporter_yaml("otlp/sink", sink.port)
            + "service:\n  pipelines:\n")
    for sig in h.SIGNALS:
        down += "    %s:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n" % sig
    dproc = h.start_otelc(down, port=dh)
    for encoding in ("proto", "json"):
        for compression in ("gzip", "zstd", "none"):
            sink.clear()
            gport = h.free_port()
            # proto with gzip uses the defaults: no encoding / compression keys
            extra = "    endpoint: http://127.0.0.1:%d\n" % dh
            if (encoding, compression) != ("proto", "gzip"):
                extra += "    encoding: %s\n    compression: %s\n" % (encoding, compression)
            up = h.start_otelc(upstream_config(gport, otlphttp_yaml("otlphttp", extra),
                                               "otlphttp"), port=gport)
            client = h.Client(gport)
            sent = {}
            for sig in h.SIGNALS:
                sent[sig] = [h.make_request(sig, 5), h.make_tricky(sig, nul=False),
                             h.make_request(sig, 3)]
                for req in sent[sig]:
                    client.export(sig, req)
            client.close()
            for sig in h.SIGNALS:
                want = h.count_items(sig, sent[sig])
                sink.wait_count(sig, want, 20)
                got = sink.requests(sig)
                want_reqs = sent[sig]
                if encoding == "json":
                    want_reqs = [clear_negative_zero(r) for r in want_reqs]
                    got = [clear_negative_zero(h.decode(sig, r) if isinstance(r, bytes) else r)
                           for r in got]
                missing, extra_items = h.compare(sig, want_reqs, got)
                t.check(not missing and not extra_items,
                        "%s via otlphttp (encoding %s, compression %s): all %d items arrive "
                        "identical" % (sig, encoding, compression, want),
                        h.diff_report(sig, missing, extra_items))
            h.stop_otelc(up)
            err = h.otelc_stderr(up)
            t.check("dropping" not in err and "[error]" not in err,
                    "no drops or errors logged (%s/%s)" % (encoding, compression), err[-2000:])
    h.stop_otelc(dproc)


def retry_after(t):
    """503 + Retry-After: 1 to the first posts, then 200."""
    n_fail = 2
    be = Backend(fail=n_fail, fail_code=503, fail_headers={"Retry-After": "1"},
                 fail_body=status_pb(14, "backend: overloaded"))
    gport = h.free_port()
    extra = ("    endpoint: http://127.0.0.1:%d/\n"
             "    headers:\n      X-Tenant: acme\n      Authorization: Bearer t0k\n" % be.port)
    proc = h.start_otelc(upstream_config(gport, otlphttp_yaml("otlphttp/be", extra),
                                         "otlphttp/be", signals=("traces",)), port=gport)
    client = h.Client(gport)
    req = h.make_request("traces", 7)
    client.export("traces", req)
    client.close()
    h.wait_until(lambda: be.accepted("traces"), 30)
    got = be.accepted("traces")
    missing, extra_items = h.compare("traces", [req], [r for r in got if r is not None])
    t.check(got and not missing and not extra_items,
            "after %d answers 503 the batch arrives identical" % n_fail,
            h.diff_report("traces", missing, extra_items))
    posts = be.all_posts()
    t.eq([p[3] for p in posts], [503] * n_fail + [200], "answers seen by the exporter")
    gaps = [b[0] - a[0] for a, b in zip(posts, posts[1:])]
    # initial_interval is 100ms: only Retry-After explains a wait near 1 s
    t.check(len(gaps) == n_fail and all(0.9 <= g <= 6.0 for g in gaps),
            "each retry waited for Retry-After: 1 (gaps %s s)" % ["%.2f" % g for g in gaps])
    hd = posts[-1][2] if posts else {}
    t.eq((hd.get("content-type"), hd.get("content-encoding"), hd.get("x-tenant"),
          hd.get("authorization")),
         ("application/x-protobuf", "gzip", "acme", "Bearer t0k"),
         "Content-Type, Content-Encoding and the configured headers")
    t.eq(posts[-1][1] if posts else None, "/v1/traces", "endpoint with a trailing / gets v1/traces")
    h.stop_otelc(proc)
    err = h.otelc_stderr(proc)
    t.check("HTTP 503: backend: overloaded" in err and "dropping" not in err,
            "the retry is logged with the server's Status message", err[-2000:])
    be.stop()


def permanent(t):
    """400 with a google.rpc.Status: dropped at once, logged once; signal URLs."""
    be = Backend(fail=1000, fail_code=400, fail_body=status_pb(3, "backend: bad span xyz"),
                 paths={"traces": "/custom/spans", "logs": "/v1/logs"})
    gport = h.free_port()
    extra = ("    traces_endpoint: http://127.0.0.1:%d/custom/spans\n"
             "    logs_endpoint: http://127.0.0.1:%d/v1/logs\n"
             "    encoding: json\n" % (be.port, be.port))
    proc = h.start_otelc(upstream_config(gport, otlphttp_yaml("otlphttp", extra),
                                         "otlphttp", signals=("traces", "logs")), port=gport)
    client = h.Client(gport)
    client.export("traces", h.make_request("traces", 4))
    h.wait_until(lambda: len(be.all_posts()) >= 1, 20)
    time.sleep(1.5)  # a retry (initial_interval 100ms) would have come by now
    posts = be.all_posts()
    t.eq([(p[1], p[3]) for p in posts], [("/custom/spans", 400)],
         "traces_endpoint used as is; one post, not retried")
    t.check(posts and posts[0][2].get("content-type") == "application/json"
            and posts[0][4] is not None,
            "encoding json posts OTLP/JSON the backend decodes")
    client.close()
    h.stop_otelc(proc)
    err = h.otelc_stderr(proc)
    lines = [ln for ln in err.splitlines() if "backend: bad span xyz" in ln]
    t.check(len(lines) == 1 and "dropping 4 spans" in lines[0] and "HTTP 400" in lines[0],
            "the drop is logged once with the Status message", "\n".join(lines) or err[-2000:])
    be.stop()


def refused_then_up(t):
    """Connection refused is retried until the backend comes up."""
    probe = Backend()
    port = probe.port
    probe.stop()
    gport = h.free_port()
    extra = "    endpoint: http://127.0.0.1:%d\n    compression: none\n" % port
    proc = h.start_otelc(upstream_config(gport, otlphttp_yaml("otlphttp", extra), "otlphttp",
                                         signals=("logs",)), port=gport)
    client = h.Client(gport)
    req = h.make_request("logs", 6)
    client.export("logs", req)
    client.close()
    time.sleep(1.0)
    be = None
    for _ in range(20):  # rebind the same port (it was just released)
        try:
            be = Backend(port=port)
            break
        except OSError:
            time.sleep(0.2)
    if not t.check(be is not None, "backend rebinds port %d" % port):
        return
    h.wait_until(lambda: be.accepted("logs"), 20)
    missing, extra_items = h.compare("logs", [req], be.accepted("logs"))
    t.check(be.accepted("logs") and not missing and not extra_items,
            "logs sent while nothing listened arrive once the backend is up",
            h.diff_report("logs", missing, extra_items))
    h.stop_otelc(proc)
    t.check("cannot connect" in h.otelc_stderr(proc) or "connection" in h.otelc_stderr(proc),
            "the connection failure is logged as a retry")
    be.stop()


def main(t):
    chain(t)
    retry_after(t)
    permanent(t)
    refused_then_up(t)


if __name__ == "__main__":
    h.run_test(main, timeout=240)
