# test_bearer_auth.py: the bearertokenauth extension. A receiver using it
# through auth.authenticator refuses requests with a missing or wrong token
# (gRPC UNAUTHENTICATED, HTTP 401), delivers nothing of them and counts their
# items as refused in /metrics; the right token is accepted and delivered. A
# token read from `filename` is re-read when the file is replaced, and the otlp
# exporter sends its extension's token in each call's metadata.
# SPDX-License-Identifier: Apache-2.0
import gzip
import http.client
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402
from test_self_metrics import scrape, value  # noqa: E402

SC = h.grpc.StatusCode


def http_post(port, sig, req, headers=None, gz=False):
    body = req.SerializeToString()
    hdrs = {"Content-Type": "application/x-protobuf"}
    if gz:
        body = gzip.compress(body)
        hdrs["Content-Encoding"] = "gzip"
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/v1/%s" % sig, body=body, headers=hdrs)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def write_token(path, tok):
    """Replace the file atomically (a new inode, as Kubernetes secret updates do)."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(tok + "\n")
    os.replace(tmp, path)


def main(t):
    d = h.tmpdir()
    tokfile = os.path.join(d, "token")
    write_token(tokfile, "first-token")
    sink = h.Sink("auth-sink")
    gport, hport, fport, mport = h.free_port(), h.free_port(), h.free_port(), h.free_port()
    cfg = ("extensions:\n"
           "  bearertokenauth:\n    token: s3cret-T0ken\n"
           "  bearertokenauth/file:\n    filename: %s\n"
           "  bearertokenauth/out:\n    token: outbound-token\n    scheme: Custom\n"
           "receivers:\n"
           "  otlp:\n    protocols:\n"
           "      grpc:\n        endpoint: 127.0.0.1:%d\n"
           "        auth:\n          authenticator: bearertokenauth\n"
           "      http:\n        endpoint: 127.0.0.1:%d\n"
           "        auth:\n          authenticator: bearertokenauth\n"
           "  otlp/file:\n    protocols:\n"
           "      grpc:\n        endpoint: 127.0.0.1:%d\n"
           "        auth:\n          authenticator: bearertokenauth/file\n"
           "exporters:\n%s"
           "service:\n  extensions: [bearertokenauth, bearertokenauth/file, bearertokenauth/out]\n"
           "  telemetry:\n    metrics:\n      readers:\n        - pull:\n"
           "            exporter:\n              prometheus:\n                host: 127.0.0.1\n"
           "                port: %d\n"
           "  pipelines:\n"
           "    traces:\n      receivers: [otlp, otlp/file]\n      exporters: [otlp/sink]\n"
           "    logs:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n") % (
        tokfile, gport, hport, fport,
        h.otlp_exporter_yaml("otlp/sink", sink.port,
                             extra="    auth:\n      authenticator: bearertokenauth/out\n"), mport)
    proc = h.start_otelc(cfg)
    h.wait_until(lambda: h.port_open(hport), 5)
    c, cf = h.Client(gport), h.Client(fport)
    want_acc, want_ref, want_http_ref = {"traces": 0, "logs": 0}, {"traces": 0, "logs": 0}, 0

    # ---- gRPC
    for md, what in ((None, "no token"), ((("authorization", "Bearer wrong"),), "a wrong token"),
                     ((("authorization", "s3cret-T0ken"),), "the token without its scheme"),
                     ((("authorization", "Bearer s3cret-T0ke"),), "a token prefix"),
                     ((("x-other", "Bearer s3cret-T0ken"),), "the token in another header")):
        code, _r, details = c.export_full("traces", h.make_traces(7), metadata=md, timeout=5)
        t.eq(code, SC.UNAUTHENTICATED, "gRPC with %s is UNAUTHENTICATED" % what)
        want_ref["traces"] += 7
    code, _r, _d = c.export_full("logs", h.make_logs(4), timeout=5)
    t.eq(code, SC.UNAUTHENTICATED, "gRPC logs without a token are UNAUTHENTICATED")
    want_ref["logs"] += 4
    code, _r, _d = c.export_full("traces", h.make_traces(5),
                                 metadata=(("authorization", "Bearer s3cret-T0ken"),), timeout=5)
    t.eq(code, SC.OK, "gRPC with the right token is accepted")
    want_acc["traces"] += 5

    # ---- HTTP
    t.eq(http_post(hport, "traces", h.make_traces(3)), 401, "HTTP without a token is 401")
    t.eq(http_post(hport, "traces", h.make_traces(3), {"Authorization": "Bearer nope"}), 401,
         "HTTP with a wrong token is 401")
    t.eq(http_post(hport, "traces", h.make_traces(3), {"Authorization": "Bearer nope"}, gz=True), 401,
         "HTTP gzip body with a wrong token is 401")
    want_ref["traces"] += 9
    want_http_ref += 9
    t.eq(http_post(hport, "traces", h.make_traces(6), {"Authorization": "Bearer s3cret-T0ken"}), 200,
         "HTTP with the right token is accepted")
    t.eq(http_post(hport, "logs", h.make_logs(2), {"authorization": "Bearer s3cret-T0ken"}), 200,
         "HTTP header names are case-insensitive")
    want_acc["traces"] += 6
    want_acc["logs"] += 2

    # ---- token file and its rotation
    ok_first = (("authorization", "Bearer first-token"),)
    ok_second = (("authorization", "Bearer second-token"),)
    t.eq(cf.export_full("traces", h.make_traces(1), metadata=ok_first)[0], SC.OK,
         "token from filename accepted")
    t.eq(cf.export_full("traces", h.make_traces(1), metadata=ok_second)[0], SC.UNAUTHENTICATED,
         "the next token is not accepted yet")
    write_token(tokfile, "second-token")
    file_refused = [2]  # the two refusals above and below; plus each poll before the re-read

    def second_accepted():
        ok = cf.export_full("traces", h.make_traces(1), metadata=ok_second)[0] == SC.OK
        file_refused[0] += 0 if ok else 1
        return ok
    t.check(h.wait_until(second_accepted, 10, interval=0.3),
            "after the file changed, the new token is accepted")
    t.eq(cf.export_full("traces", h.make_traces(1), metadata=ok_first)[0], SC.UNAUTHENTICATED,
         "after the file changed, the old token is refused")

    # ---- delivered: exactly the accepted items, and the exporter sent its token
    t.eq(sink.wait_count("traces", want_acc["traces"] + 2, 15), want_acc["traces"] + 2,
         "the sink got the accepted spans only (otlp: 11, otlp/file: 2)")
    t.eq(sink.wait_count("logs", want_acc["logs"], 15), want_acc["logs"], "the sink got the accepted logs")
    time.sleep(0.3)
    t.eq(sink.count("traces"), want_acc["traces"] + 2, "no refused span reached the sink")
    auths = set(md.get("authorization") for sig in h.SIGNALS for md in sink.metadata[sig])
    t.eq(auths, {"Custom outbound-token"}, "the exporter sent its extension's token on every call")

    # ---- self-metrics
    s, _types = scrape(mport)
    t.eq(value(s, "otelcol_receiver_refused_spans", receiver="otlp", transport="grpc"),
         want_ref["traces"] - want_http_ref, "refused spans over gRPC counted")
    t.eq(value(s, "otelcol_receiver_refused_spans", receiver="otlp", transport="http"),
         want_http_ref, "refused spans over HTTP counted (plain and gzip bodies)")
    t.eq(value(s, "otelcol_receiver_refused_log_records", receiver="otlp", transport="grpc"),
         want_ref["logs"], "refused log records counted")
    t.eq(value(s, "otelcol_receiver_accepted_spans", receiver="otlp", transport="grpc"), 5,
         "accepted spans over gRPC counted")
    t.eq(value(s, "otelcol_receiver_refused_spans", receiver="otlp/file", transport="grpc"),
         file_refused[0], "otlp/file counted each refusal")
    t.eq(value(s, "otelcol_receiver_accepted_spans", receiver="otlp/file", transport="grpc"), 2,
         "otlp/file accepted the two requests with the current token")
    h.stop_otelc(proc)
    c.close()
    cf.close()
    err = h.otelc_stderr(proc)
    t.check("s3cret-T0ken" not in err and "second-token" not in err, "no token is logged", err[-1500:])

    # ---- config errors
    for text, want in (("extensions:\n  bearertokenauth:\n    scheme: Bearer\n",
                        "one of \"token\", \"tokens\" or \"filename\" is required"),):
        path = h.write_config(text + "receivers:\n  otlp:\n    protocols:\n      grpc:\n"
                              "exporters:\n  nop:\nservice:\n  extensions: [bearertokenauth]\n"
                              "  pipelines:\n    traces:\n      receivers: [otlp]\n"
                              "      exporters: [nop]\n")
        r = h.run_otelc(["validate", "--config", path])
        t.check(r.returncode != 0 and want in r.stdout + r.stderr, "validate refuses: %s" % want,
                (r.stdout + r.stderr)[-600:])
    # an authenticator that is not in service.extensions stops the start
    port = h.free_port()
    cfg = ("extensions:\n  bearertokenauth:\n    token: x\n"
           "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
           "        auth:\n          authenticator: bearertokenauth\n"
           "exporters:\n  nop:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
           "      exporters: [nop]\n" % port)
    try:
        p2 = h.start_otelc(cfg, timeout=5)
        h.stop_otelc(p2)
        t.check(False, "an authenticator missing from service.extensions stops the start")
    except h.OtelcError as e:
        t.check("not an authenticator extension listed in service.extensions" in str(e),
                "an authenticator missing from service.extensions stops the start", str(e)[-600:])


if __name__ == "__main__":
    h.run_test(main, timeout=150)
