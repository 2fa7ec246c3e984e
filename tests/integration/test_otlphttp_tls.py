# test_otlphttp_tls.py: the otlphttp exporter over https, to a second otelc's
# OTLP/HTTP receiver, with certificates made by the openssl CLI during the test.
# 1. A receiver with a private CA: the exporter (named otlp_http, otelcol's
#    canonical name; otlphttp elsewhere) trusting that CA (tls.ca_file)
#    delivers every signal intact, with each compression (gzip, zstd, snappy,
#    zlib... as far as the receiver takes them: gzip, zstd, snappy, none); one
#    trusting another CA delivers nothing and logs why.
# 2. A receiver with mTLS (client_ca_file) and bearertokenauth: the exporter with
#    a client certificate and auth.authenticator delivers intact (also with a new
#    connection per request re-reading the files: reload_interval); without the
#    certificate nothing arrives; with a wrong token the batch is refused (401).
# 3. On the wire (a python https server): Content-Encoding as configured and the
#    authenticator's Authorization header, which wins over a configured one.
# 4. A server answering slower than the exporter's 100 ms deadline tick (plain
#    http): the request completes (the tick once crashed the exporter).
# 5. The OTLP/HTTP receiver on snappy bodies made here (one literal block):
#    decoded, corrupt ones 400, ones declaring more than max_request_body_size 413.
# 6. A bad ca_file / cert_file (missing, or not PEM) stops start-up with an
#    error naming the option and the path.
# SPDX-License-Identifier: Apache-2.0
import http.client
import os
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402
from test_otlphttp_e2e import Backend  # noqa: E402
from test_tls import make_ca, make_cert  # noqa: E402

TOKEN = "s3cret-T0ken"


def downstream(sink, hport, tls_lines, auth=False):
    """An otelc serving OTLP/HTTP over TLS on hport, forwarding to sink."""
    cfg = ""
    if auth:
        cfg += "extensions:\n  bearertokenauth:\n    token: %s\n" % TOKEN
    cfg += ("receivers:\n  otlp:\n    protocols:\n      http:\n"
            "        endpoint: 127.0.0.1:%d\n        tls:\n%s" % (hport, tls_lines))
    if auth:
        cfg += "        auth:\n          authenticator: bearertokenauth\n"
    cfg += "exporters:\n" + h.otlp_exporter_yaml("otlp/sink", sink.port) + "service:\n"
    if auth:
        cfg += "  extensions: [bearertokenauth]\n"
    cfg += "  pipelines:\n"
    for sig in h.SIGNALS:
        cfg += "    %s:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n" % sig
    return h.start_otelc(cfg, port=hport)


def upstream_cfg(gport, exporters, token=None, signals=h.SIGNALS):
    """An otelc taking OTLP/gRPC on gport, every signal to every exporter in
    `exporters` (name -> the exporter's option lines)."""
    cfg = ""
    if token:
        cfg += "extensions:\n  bearertokenauth/out:\n    token: %s\n" % token
    cfg += ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "exporters:\n" % gport)
    for name, lines in exporters.items():
        cfg += ("  %s:\n%s    timeout: 3s\n    retry_on_failure:\n      initial_interval: 100ms\n"
                "      max_interval: 500ms\n      max_elapsed_time: 0\n" % (name, lines))
    cfg += "service:\n  shutdown_timeout: 2s\n"
    if token:
        cfg += "  extensions: [bearertokenauth/out]\n"
    cfg += "  pipelines:\n"
    for sig in signals:
        cfg += ("    %s:\n      receivers: [otlp]\n      exporters: [%s]\n"
                % (sig, ", ".join(exporters)))
    return cfg


def exporter_complaints(proc):
    """The exporter's warning and error lines in proc's log."""
    return [ln for ln in h.otelc_stderr(proc).splitlines()
            if ("[exporter:otlphttp" in ln or "[exporter:otlp_http" in ln)
            and ("[warn]" in ln or "[error]" in ln)]


def send_all(gport, sizes=(5, 3)):
    """Every signal, one request per size; returns {signal: [requests]}."""
    client = h.Client(gport)
    sent = {}
    for sig in h.SIGNALS:
        sent[sig] = [h.make_request(sig, n) for n in sizes]
        for req in sent[sig]:
            client.export(sig, req)
    client.close()
    return sent


def check_arrived(t, sink, sent, what):
    for sig in h.SIGNALS:
        want = h.count_items(sig, sent[sig])
        got_n = sink.wait_count(sig, want, 20)
        missing, extra = h.compare(sig, sent[sig], sink.requests(sig))
        t.check(got_n == want and not missing and not extra,
                "%s: all %d %s items arrive intact (got %d)" % (what, want, sig, got_n),
                h.diff_report(sig, missing, extra))


def private_ca(t, d, ca, other, srv):
    sink = h.Sink("https-sink")
    hport = h.free_port()
    down = downstream(sink, hport, "          cert_file: %s\n          key_file: %s\n"
                      % (srv[1], srv[0]))
    url = "https://127.0.0.1:%d" % hport
    for compression in ("gzip", "zstd", "snappy", "none"):
        sink.clear()
        gport = h.free_port()
        lines = "    endpoint: %s\n    tls:\n      ca_file: %s\n" % (url, ca[1])
        if compression != "gzip":  # gzip is the default
            lines += "    compression: %s\n" % compression
        # otlp_http: the exporter's canonical name (otlphttp is its alias)
        up = h.start_otelc(upstream_cfg(gport, {"otlp_http": lines}), port=gport)
        sent = send_all(gport)
        check_arrived(t, sink, sent, "https with a private CA, compression %s" % compression)
        h.stop_otelc(up)
        t.check(not exporter_complaints(up),
                "no errors or warnings (compression %s)" % compression, h.otelc_stderr(up)[-2000:])

    # the canonical host name works as well as the address (SAN DNS:localhost)
    sink.clear()
    gport = h.free_port()
    lines = ("    endpoint: https://localhost:%d/\n    compression: snappy\n"
             "    tls:\n      ca_file: %s\n      min_version: \"1.3\"\n" % (hport, ca[1]))
    up = h.start_otelc(upstream_cfg(gport, {"otlphttp": lines}), port=gport)
    sent = send_all(gport, sizes=(2,))
    check_arrived(t, sink, sent, "https://localhost with min_version 1.3")
    h.stop_otelc(up)

    # trusting another CA: nothing arrives, and the log says why
    sink.clear()
    gport = h.free_port()
    lines = "    endpoint: %s\n    tls:\n      ca_file: %s\n" % (url, other[1])
    up = h.start_otelc(upstream_cfg(gport, {"otlphttp/wrong": lines}, signals=("traces",)),
                       port=gport)
    client = h.Client(gport)
    client.export("traces", h.make_request("traces", 4))
    client.close()
    time.sleep(1.5)
    t.eq(sink.count("traces"), 0, "an exporter trusting another CA delivers nothing")
    h.stop_otelc(up)
    err = h.otelc_stderr(up)
    t.check(any("otlphttp/wrong" in ln and "certificate" in ln and "not trusted" in ln
                for ln in err.splitlines()),
            "the failure is logged with the TLS reason", err[-2000:])

    # insecure_skip_verify with the wrong CA delivers
    sink.clear()
    gport = h.free_port()
    lines = ("    endpoint: %s\n    tls:\n      ca_file: %s\n      insecure_skip_verify: true\n"
             % (url, other[1]))
    up = h.start_otelc(upstream_cfg(gport, {"otlphttp": lines}), port=gport)
    sent = send_all(gport, sizes=(3,))
    check_arrived(t, sink, sent, "insecure_skip_verify")
    h.stop_otelc(up)
    h.stop_otelc(down)


def mtls_bearer(t, d, ca, srv, cli):
    sink = h.Sink("mtls-sink")
    hport = h.free_port()
    down = downstream(sink, hport, "          cert_file: %s\n          key_file: %s\n"
                      "          client_ca_file: %s\n" % (srv[1], srv[0], ca[1]), auth=True)
    url = "https://127.0.0.1:%d" % hport
    tls = ("    tls:\n      ca_file: %s\n      cert_file: %s\n      key_file: %s\n"
           % (ca[1], cli[1], cli[0]))
    auth = "    auth:\n      authenticator: bearertokenauth/out\n"

    for compression in ("gzip", "zstd", "snappy"):
        sink.clear()
        gport = h.free_port()
        lines = "    endpoint: %s\n    compression: %s\n%s%s" % (url, compression, tls, auth)
        if compression == "snappy":
            # a new connection per request, each re-reading the certificate files
            lines += "    disable_keep_alives: true\n"
            lines = lines.replace("    tls:\n", "    tls:\n      reload_interval: 1ms\n")
        up = h.start_otelc(upstream_cfg(gport, {"otlp_http/mtls": lines}, token=TOKEN), port=gport)
        sent = send_all(gport)
        check_arrived(t, sink, sent, "mTLS + bearer token, compression %s" % compression)
        h.stop_otelc(up)
        t.check(not exporter_complaints(up),
                "mTLS + bearer: no errors or warnings (%s)" % compression,
                h.otelc_stderr(up)[-2000:])

    # no client certificate: the handshake is refused, nothing arrives
    sink.clear()
    gport = h.free_port()
    lines = "    endpoint: %s\n    tls:\n      ca_file: %s\n%s" % (url, ca[1], auth)
    up = h.start_otelc(upstream_cfg(gport, {"otlphttp/nocert": lines}, token=TOKEN,
                                    signals=("traces",)), port=gport)
    client = h.Client(gport)
    client.export("traces", h.make_request("traces", 4))
    client.close()
    time.sleep(1.5)
    t.eq(sink.count("traces"), 0, "without a client certificate nothing arrives")
    h.stop_otelc(up)
    err = h.otelc_stderr(up)
    t.check(any("otlphttp/nocert" in ln and "[warn]" in ln for ln in err.splitlines()),
            "the refused handshake is logged as a retry", err[-2000:])

    # a wrong token: 401, a permanent error, logged as a drop
    gport = h.free_port()
    lines = "    endpoint: %s\n%s%s" % (url, tls, auth)
    up = h.start_otelc(upstream_cfg(gport, {"otlphttp/badtoken": lines}, token="not-it",
                                    signals=("traces",)), port=gport)
    client = h.Client(gport)
    client.export("traces", h.make_request("traces", 4))
    client.close()
    h.wait_until(lambda: "HTTP 401" in h.otelc_stderr(up), 10)
    t.eq(sink.count("traces"), 0, "with a wrong token nothing arrives")
    h.stop_otelc(up)
    err = h.otelc_stderr(up)
    t.check(any("HTTP 401" in ln and "dropping 4 spans" in ln for ln in err.splitlines()),
            "the 401 is a permanent failure: the batch is dropped and logged", err[-2000:])
    h.stop_otelc(down)


def on_the_wire(t, d, ca, srv):
    """A python https server records each post's headers."""
    be = Backend()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(srv[1], srv[0])
    be.server.socket = ctx.wrap_socket(be.server.socket, server_side=True)
    exporters = {}
    for c in ("gzip", "zstd", "snappy", "zlib", "deflate", "x-snappy-framed", "lz4", "none"):
        exporters["otlphttp/%s" % c] = (
            "    traces_endpoint: https://127.0.0.1:%d/v1/traces\n    compression: %s\n"
            "    tls:\n      ca_file: %s\n    auth:\n      authenticator: bearertokenauth/out\n"
            "    headers:\n      Authorization: Basic overridden\n      X-Tenant: acme\n"
            % (be.port, c, ca[1]))
    gport = h.free_port()
    up = h.start_otelc(upstream_cfg(gport, exporters, token=TOKEN, signals=("traces",)),
                       port=gport)
    client = h.Client(gport)
    req = h.make_request("traces", 3)
    client.export("traces", req)
    client.close()
    h.wait_until(lambda: len(be.all_posts()) >= len(exporters), 15)
    posts = be.all_posts()
    encodings = sorted(p[2].get("content-encoding", "(none)") for p in posts)
    t.eq(encodings, sorted(["gzip", "zstd", "snappy", "zlib", "deflate", "x-snappy-framed",
                            "lz4", "(none)"]),
         "each exporter's Content-Encoding on the wire")
    t.check(posts and all(p[2].get("authorization") == "Bearer " + TOKEN and
                          p[2].get("x-tenant") == "acme" for p in posts),
            "every post carries the authenticator's token (not the configured Authorization) "
            "and the configured headers", repr([p[2] for p in posts])[:1500])
    decoded = [p[4] for p in posts if p[2].get("content-encoding") in (None, "gzip", "zstd")]
    t.check(len(decoded) == 3 and all(r == req for r in decoded),
            "gzip, zstd and uncompressed bodies decode to the request sent")
    h.stop_otelc(up)
    be.stop()


def slow_server(t):
    be = Backend()
    handler = be.server.RequestHandlerClass
    post = handler.do_POST

    def slow_post(self):
        time.sleep(0.35)
        post(self)
    handler.do_POST = slow_post
    gport = h.free_port()
    lines = "    endpoint: http://127.0.0.1:%d\n    compression: snappy\n" % be.port
    up = h.start_otelc(upstream_cfg(gport, {"otlphttp": lines}, signals=("logs",)), port=gport)
    client = h.Client(gport)
    client.export("logs", h.make_request("logs", 2))
    client.close()
    h.wait_until(lambda: len(be.all_posts()) >= 1, 10)
    time.sleep(0.5)
    t.eq([p[3] for p in be.all_posts()], [200], "a slow answer (350 ms) is taken, not retried")
    h.stop_otelc(up)
    be.stop()


def snappy_literal(data):
    """data as a valid snappy block: its length (varint), then one literal."""
    n, out = len(data), bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    if data:
        out += bytes([63 << 2]) + (len(data) - 1).to_bytes(4, "little") + data
    return bytes(out)


def receiver_snappy(t):
    sink = h.Sink("snappy-sink")
    hport = h.free_port()
    cfg = ("receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:%d\n"
           "        max_request_body_size: 65536\nexporters:\n" % hport
           + h.otlp_exporter_yaml("otlp/sink", sink.port)
           + "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
           "      exporters: [otlp/sink]\n")
    proc = h.start_otelc(cfg, port=hport)

    def post(body):
        conn = http.client.HTTPConnection("127.0.0.1", hport, timeout=5)
        conn.request("POST", "/v1/traces", body=body,
                     headers={"Content-Type": "application/x-protobuf",
                              "Content-Encoding": "snappy"})
        r = conn.getresponse()
        r.read()
        conn.close()
        return r.status
    req = h.make_request("traces", 6)
    t.eq(post(snappy_literal(req.SerializeToString())), 200, "receiver: a snappy body is taken")
    t.eq(sink.wait_count("traces", 6, 10), 6, "receiver: its 6 spans arrive")
    missing, extra = h.compare("traces", [req], sink.requests("traces"))
    t.check(not missing and not extra, "receiver: the snappy body arrives intact",
            h.diff_report("traces", missing, extra))
    t.eq(post(snappy_literal(req.SerializeToString())[:-10]), 400,
         "receiver: a truncated snappy body gets 400")
    t.eq(post(b"\x80\x80\x80\x40" + b"\x00" * 16), 413,
         "receiver: a snappy body declaring 128 MiB gets 413 (nothing allocated)")
    h.stop_otelc(proc)


def bad_files(t, d, ca, srv):
    junk = os.path.join(d, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    cases = [("      ca_file: /nonexistent/otelc/ca.crt\n", "tls.ca_file /nonexistent/otelc/ca.crt"),
             ("      ca_file: %s\n" % junk, "tls.ca_file %s" % junk),
             ("      ca_file: %s\n      cert_file: /nonexistent/otelc/client.crt\n"
              "      key_file: %s\n" % (ca[1], srv[0]), "tls.cert_file /nonexistent/otelc/client.crt"),
             ("      ca_file: %s\n      cert_file: %s\n      key_file: %s\n" % (ca[1], srv[1], junk),
              "tls.key_file %s" % junk)]
    for tls, want in cases:
        gport = h.free_port()
        cfg = upstream_cfg(gport, {"otlphttp": "    endpoint: https://127.0.0.1:9\n    tls:\n" + tls},
                           signals=("traces",))
        path = h.write_config(cfg)
        r = h.run_otelc(["--config", path], timeout=15)
        out = r.stdout + r.stderr
        t.check(r.returncode != 0 and want in out,
                "start-up fails naming the file: %s" % want, out[-800:])
    # validate checks the block's consistency, not the files (read at start)
    gport = h.free_port()
    cfg = upstream_cfg(gport, {"otlphttp": "    endpoint: https://127.0.0.1:9\n    tls:\n"
                               "      cert_file: %s\n" % srv[1]}, signals=("traces",))
    r = h.run_otelc(["validate", "--config", h.write_config(cfg)])
    t.check(r.returncode != 0 and "key_file" in r.stdout + r.stderr,
            "validate: cert_file without key_file is refused", (r.stdout + r.stderr)[-600:])


def main(t):
    d = h.tmpdir()
    ca = make_ca(d, "ca")
    other = make_ca(d, "other-ca")
    srv = make_cert(d, "localhost", ca, "DNS:localhost,IP:127.0.0.1", "serverAuth")
    cli = make_cert(d, "client", ca, None, "clientAuth")
    private_ca(t, d, ca, other, srv)
    mtls_bearer(t, d, ca, srv, cli)
    on_the_wire(t, d, ca, srv)
    slow_server(t)
    receiver_snappy(t)
    bad_files(t, d, ca, srv)


if __name__ == "__main__":
    h.run_test(main, timeout=240)
