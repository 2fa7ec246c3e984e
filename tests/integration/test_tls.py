# test_tls.py: TLS and mTLS with certificates made by the openssl CLI during
# the test. The otlp receiver serves TLS on gRPC and HTTP: a client trusting
# the CA succeeds, a plaintext client fails; with client_ca_file a client
# without a certificate, or with one from another CA, is refused and a client
# with a valid certificate succeeds; min_version 1.3 refuses TLS 1.2 clients.
# The otlp exporter verifies a TLS backend: the right ca_file delivers, a wrong
# CA does not (and says so in the log), insecure_skip_verify and
# server_name_override deliver, and a client certificate satisfies an mTLS sink.
# SPDX-License-Identifier: Apache-2.0
import http.client
import os
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_ca(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=%s" % name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, crt


def make_cert(d, name, ca, san, usage):
    """A leaf certificate signed by ca (key, crt) with the given subjectAltName."""
    key, csr, crt = (os.path.join(d, name + x) for x in (".key", ".csr", ".crt"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n" % usage)
        if san:
            f.write("subjectAltName=%s\n" % san)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=%s" % name)
    openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    return key, crt


def rd(path):
    with open(path, "rb") as f:
        return f.read()


def grpc_try(port, ca=None, cert=None, plaintext=False):
    """Export 3 spans over gRPC; returns the status code."""
    if plaintext:
        c = h.Client(port)
    else:
        creds = h.grpc.ssl_channel_credentials(
            root_certificates=rd(ca), private_key=rd(cert[0]) if cert else None,
            certificate_chain=rd(cert[1]) if cert else None)
        c = h.Client(port, credentials=creds)
    try:
        code, _resp, _d = c.export_full("traces", h.make_traces(3), timeout=5)
        return code
    finally:
        c.close()


def http_try(port, ca=None, cert=None, plaintext=False, max_version=None):
    """POST 2 spans to /v1/traces; returns the status or the exception's name."""
    body = h.make_traces(2).SerializeToString()
    try:
        if plaintext:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        else:
            ctx = ssl.create_default_context(cafile=ca)
            if cert:
                ctx.load_cert_chain(cert[1], cert[0])
            if max_version:
                ctx.maximum_version = max_version
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
        conn.request("POST", "/v1/traces", body=body,
                     headers={"Content-Type": "application/x-protobuf"})
        r = conn.getresponse()
        r.read()
        conn.close()
        return r.status
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__


def receiver_cfg(gport, hport, sink, cert, key, client_ca=None, http_min=None):
    tls = "          cert_file: %s\n          key_file: %s\n" % (cert, key)
    if client_ca:
        tls += "          client_ca_file: %s\n" % client_ca
    htls = tls + ("          min_version: \"%s\"\n" % http_min if http_min else "")
    return ("receivers:\n  otlp:\n    protocols:\n"
            "      grpc:\n        endpoint: 127.0.0.1:%d\n        tls:\n%s"
            "      http:\n        endpoint: 127.0.0.1:%d\n        tls:\n%s"
            "exporters:\n%s"
            "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
            "      exporters: [otlp/sink]\n") % (gport, tls, hport, htls,
                                                 h.otlp_exporter_yaml("otlp/sink", sink.port))


def tls_exporter_yaml(name, port, tls_lines):
    return ("  %s:\n    endpoint: 127.0.0.1:%d\n    compression: none\n    timeout: 2s\n"
            "    retry_on_failure:\n      initial_interval: 100ms\n      max_interval: 500ms\n"
            "      max_elapsed_time: 0\n    tls:\n%s") % (name, port, tls_lines)


def main(t):
    d = h.tmpdir()
    ca = make_ca(d, "ca")
    other = make_ca(d, "other-ca")
    srv = make_cert(d, "localhost", ca, "DNS:localhost,IP:127.0.0.1", "serverAuth")
    named = make_cert(d, "sink.example", ca, "DNS:sink.example", "serverAuth")
    cli = make_cert(d, "client", ca, None, "clientAuth")
    bad_cli = make_cert(d, "stranger", other, None, "clientAuth")

    # ---- receiver: TLS on both protocols
    sink = h.Sink("tls-sink")
    gport, hport = h.free_port(), h.free_port()
    proc = h.start_otelc(receiver_cfg(gport, hport, sink, srv[1], srv[0]))
    h.wait_until(lambda: h.port_open(hport), 5)
    t.eq(grpc_try(gport, ca=ca[1]), SC.OK, "gRPC over TLS with the CA succeeds")
    t.check(grpc_try(gport, plaintext=True) != SC.OK, "gRPC plaintext client fails on a TLS port")
    t.check(grpc_try(gport, ca=other[1]) != SC.OK, "gRPC client trusting another CA fails")
    t.eq(http_try(hport, ca=ca[1]), 200, "HTTPS with the CA succeeds")
    r = http_try(hport, plaintext=True)
    t.check(r != 200, "plain HTTP to the TLS port fails (%r)" % r)
    r = http_try(hport, ca=other[1])
    t.check(r == "SSLCertVerificationError", "HTTPS client trusting another CA fails (%r)" % r)
    t.eq(sink.wait_count("traces", 5, 10), 5, "only the TLS requests were delivered (3 + 2 spans)")
    h.stop_otelc(proc)
    t.check("OTLP/gRPC (TLS) listening" in h.otelc_stderr(proc), "log says gRPC serves TLS")

    # ---- receiver: mTLS on both protocols; HTTP also min_version 1.3
    sink.clear()
    gport, hport = h.free_port(), h.free_port()
    proc = h.start_otelc(receiver_cfg(gport, hport, sink, srv[1], srv[0], client_ca=ca[1],
                                      http_min="1.3"))
    h.wait_until(lambda: h.port_open(hport), 5)
    t.check(grpc_try(gport, ca=ca[1]) != SC.OK, "mTLS gRPC: a client without a certificate is refused")
    t.check(grpc_try(gport, ca=ca[1], cert=bad_cli) != SC.OK,
            "mTLS gRPC: a certificate from another CA is refused")
    t.eq(grpc_try(gport, ca=ca[1], cert=cli), SC.OK, "mTLS gRPC: a valid client certificate succeeds")
    r = http_try(hport, ca=ca[1])
    t.check(r != 200, "mTLS HTTP: a client without a certificate is refused (%r)" % r)
    r = http_try(hport, ca=ca[1], cert=bad_cli)
    t.check(r != 200, "mTLS HTTP: a certificate from another CA is refused (%r)" % r)
    t.eq(http_try(hport, ca=ca[1], cert=cli), 200, "mTLS HTTP: a valid client certificate succeeds")
    r = http_try(hport, ca=ca[1], cert=cli, max_version=ssl.TLSVersion.TLSv1_2)
    t.check(r != 200, "HTTP min_version 1.3 refuses a TLS 1.2 client (%r)" % r)
    t.eq(sink.wait_count("traces", 5, 10), 5, "only the authenticated requests were delivered")
    time.sleep(0.3)
    t.eq(sink.count("traces"), 5, "nothing else arrived")
    h.stop_otelc(proc)

    # ---- exporter: verifies the TLS backend
    good = h.Sink("tls-good", tls=(rd(srv[1]), rd(srv[0])))
    wrong = h.Sink("tls-wrong-ca", tls=(rd(srv[1]), rd(srv[0])))
    skip = h.Sink("tls-skip", tls=(rd(named[1]), rd(named[0])))
    renamed = h.Sink("tls-name", tls=(rd(named[1]), rd(named[0])))
    mtls = h.Sink("tls-mtls", tls=(rd(srv[1]), rd(srv[0]), rd(ca[1])))
    exps = (tls_exporter_yaml("otlp/good", good.port, "      ca_file: %s\n" % ca[1]) +
            tls_exporter_yaml("otlp/wrong", wrong.port, "      ca_file: %s\n" % other[1]) +
            tls_exporter_yaml("otlp/skip", skip.port, "      insecure_skip_verify: true\n") +
            tls_exporter_yaml("otlp/renamed", renamed.port,
                              "      ca_file: %s\n      server_name_override: sink.example\n" % ca[1]) +
            tls_exporter_yaml("otlp/mtls", mtls.port,
                              "      ca_file: %s\n      cert_file: %s\n      key_file: %s\n"
                              % (ca[1], cli[1], cli[0])))
    port = h.free_port()
    cfg = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
           "exporters:\n%sservice:\n  shutdown_timeout: 2s\n  pipelines:\n" % (port, exps))
    for name in ("good", "wrong", "skip", "renamed", "mtls"):
        cfg += "    traces/%s:\n      receivers: [otlp]\n      exporters: [otlp/%s]\n" % (name, name)
    proc = h.start_otelc(cfg)
    c = h.Client(port)
    code, _r, details = c.export_full("traces", h.make_traces(4), timeout=10)
    t.eq(code, SC.OK, "request accepted by the receiver")
    t.eq(good.wait_count("traces", 4, 15), 4, "exporter with the right ca_file delivers")
    t.eq(skip.wait_count("traces", 4, 15), 4, "exporter with insecure_skip_verify delivers")
    t.eq(renamed.wait_count("traces", 4, 15), 4, "exporter with server_name_override delivers")
    t.eq(mtls.wait_count("traces", 4, 15), 4, "exporter with a client certificate satisfies mTLS")
    time.sleep(2.0)  # the wrong-CA exporter has retried several times by now
    t.eq(wrong.count("traces"), 0, "exporter with a wrong CA delivers nothing")
    t.eq(wrong.attempts["traces"], 0, "no call reached the wrongly trusted sink")
    h.stop_otelc(proc, timeout=20)
    err = h.otelc_stderr(proc)
    wrong_lines = [ln for ln in err.splitlines() if "otlp/wrong" in ln and
                   ("[warn]" in ln or "[error]" in ln)]
    t.check(any("certificate verify failed" in ln for ln in wrong_lines),
            "the wrong-CA exporter's failure is logged with the reason", err[-2000:])
    t.check(not any("otlp/good" in ln and "[error]" in ln for ln in err.splitlines()),
            "the good exporter logged no error", err[-2000:])
    c.close()

    # ---- config validation
    bad = [("      grpc:\n        endpoint: 127.0.0.1:1\n        tls:\n          cert_file: %s\n"
            % srv[1], "cert_file and key_file go together"),
           ("      http:\n        endpoint: 127.0.0.1:1\n        tls:\n          client_ca_file: %s\n"
            % ca[1], "client_ca_file needs cert_file"),
           ("      grpc:\n        endpoint: 127.0.0.1:1\n        tls:\n          cert_file: %s\n"
            "          key_file: %s\n          min_version: \"1.3\"\n" % (srv[1], srv[0]),
            "cannot be enforced by gRPC core"),
           ("      http:\n        endpoint: 127.0.0.1:1\n        tls:\n          min_version: \"1.4\"\n",
            "min_version")]
    for text, want in bad:
        path = h.write_config("receivers:\n  otlp:\n    protocols:\n" + text +
                              "exporters:\n  nop:\nservice:\n  pipelines:\n    traces:\n"
                              "      receivers: [otlp]\n      exporters: [nop]\n")
        r = h.run_otelc(["validate", "--config", path])
        t.check(r.returncode != 0 and want in (r.stderr + r.stdout),
                "otelc validate refuses: %s" % want, (r.stdout + r.stderr)[-600:])


if __name__ == "__main__":
    h.run_test(main, timeout=150)
