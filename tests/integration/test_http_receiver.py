# test_http_receiver.py: the otlp receiver's OTLP/HTTP server, driven with
# python's http.client and curl against the real otelc. Binary protobuf and OTLP/JSON
# bodies, gzip and zstd encodings, and every error path (400 with a
# google.rpc.Status body, 413 on the wire and after decompression, 415, 404,
# 405, 503 with Retry-After, CORS). Accepted data must reach a Sink through an
# otlp exporter unchanged, alongside data sent over gRPC to the same receiver.
# SPDX-License-Identifier: Apache-2.0
import base64
import gzip
import http.client
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402
from google.protobuf import json_format  # noqa: E402

LIMIT = 256 * 1024  # max_request_body_size in the config below
PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}
ID_KEYS = ("traceId", "spanId", "parentSpanId")


# ---- helpers ---------------------------------------------------------------

def post(port, path, body, headers=None, method="POST", timeout=15):
    """One request on a fresh connection: (status, headers dict lower-cased, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def to_otlp_json(msg):
    """A request as OTLP/JSON: proto3 JSON with hex ids and integer enums."""
    d = json_format.MessageToDict(msg, use_integers_for_enums=True)

    def fix(o):
        if isinstance(o, dict):
            return {k: (base64.b64decode(v).hex() if k in ID_KEYS and isinstance(v, str)
                        else fix(v)) for k, v in o.items()}
        if isinstance(o, list):
            return [fix(x) for x in o]
        return o
    return json.dumps(fix(d)).encode()


def zstd_compress(data):
    r = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("zstd failed: %r" % r.stderr)
    return r.stdout


def parse_status(data):
    """Decode a serialized google.rpc.Status (code = 1, message = 2) by hand."""
    out, i = {}, 0

    def varint():
        nonlocal i
        v, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
    while i < len(data):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            out[num] = varint()
        elif wire == 2:
            n = varint()
            out[num] = data[i:i + n]
            i += n
        else:
            raise ValueError("unexpected wire type %d" % wire)
    return {"code": out.get(1, 0), "message": out.get(2, b"").decode()}


def proto_headers(extra=None):
    hd = {"Content-Type": "application/x-protobuf"}
    hd.update(extra or {})
    return hd


def json_headers(extra=None):
    hd = {"Content-Type": "application/json"}
    hd.update(extra or {})
    return hd


# ---- the test ----------------------------------------------------------------

def main(t):
    for tool in ("zstd", "curl"):
        if not shutil.which(tool):
            t.check(False, "the %s command is installed (deploy/install-deps.sh --test)" % tool)
            return
    sink = h.Sink("http-sink", max_workers=128)
    gport, hport = h.free_port(), h.free_port()
    cfg = ("receivers:\n"
           "  otlp:\n"
           "    protocols:\n"
           "      grpc:\n"
           "        endpoint: 127.0.0.1:%d\n"
           "      http:\n"
           "        endpoint: 127.0.0.1:%d\n"
           "        max_request_body_size: %d\n"
           "        cors:\n"
           "          allowed_origins: [\"https://*.example.com\"]\n"
           "          allowed_headers: [X-Custom]\n"
           "          max_age: 600\n"
           "        response_headers:\n"
           "          X-Served-By: otelc-test\n"
           "          Cache-Control: no-store\n"
           "exporters:\n" % (gport, hport, LIMIT)
           + h.otlp_exporter_yaml("otlp/sink", sink.port, timeout="1s", queue_size=2)
           + "service:\n  pipelines:\n")
    for sig in h.SIGNALS:
        cfg += "    %s:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n" % sig
    proc = h.start_otelc(cfg, port=hport)
    t.check(h.wait_until(lambda: h.port_open(gport), 10), "gRPC and HTTP listen side by side")
    sent = {s: [] for s in h.SIGNALS}

    # ---- response_headers: on every answer (200, 404, 405, 415, preflight)
    first = h.make_request("traces", 1)
    sent["traces"].append(first)
    for what, args in (("200", ("/v1/traces", first.SerializeToString(), proto_headers())),
                       ("404", ("/nope", b"x", proto_headers())),
                       ("415", ("/v1/traces", b"x", {"Content-Type": "text/plain"}))):
        st, hd, _ = post(hport, *args)
        t.check(hd.get("x-served-by") == "otelc-test" and hd.get("cache-control") == "no-store",
                "response_headers on a %s answer (got %d: %s)" % (what, st, hd))
    st, hd, _ = post(hport, "/v1/traces", None, method="GET")
    t.check(st == 405 and hd.get("x-served-by") == "otelc-test", "response_headers on a 405 answer")

    # ---- binary protobuf, plain, gzip and zstd
    for sig in h.SIGNALS:
        for enc in ("identity", "gzip", "zstd"):
            req = h.make_request(sig, 4)
            body = req.SerializeToString()
            hd = proto_headers()
            if enc == "gzip":
                body = gzip.compress(body)
                hd["Content-Encoding"] = "gzip"
            elif enc == "zstd":
                body = zstd_compress(body)
                hd["Content-Encoding"] = "zstd"
            st, rh, data = post(hport, PATHS[sig], body, hd)
            resp = h.pb.response[sig]()
            ok = st == 200 and rh.get("content-type") == "application/x-protobuf"
            try:
                resp.ParseFromString(data)
            except Exception:
                ok = False
            if t.check(ok and not resp.HasField("partial_success"),
                       "%s protobuf (%s): 200 with an Export%sServiceResponse"
                       % (sig, enc, sig.capitalize()), (st, rh, data[:200])):
                sent[sig].append(req)

    # ---- OTLP/JSON, plain and compressed, including edge-case values
    for sig in h.SIGNALS:
        for enc, req in (("identity", h.make_request(sig, 3)),
                         ("identity", h.make_tricky(sig, nul=False)),
                         ("gzip", h.make_request(sig, 2)),
                         ("zstd", h.make_request(sig, 2))):
            body = to_otlp_json(req)
            hd = json_headers()
            if enc == "gzip":
                body = gzip.compress(body)
                hd["Content-Encoding"] = "gzip"
            elif enc == "zstd":
                body = zstd_compress(body)
                hd["Content-Encoding"] = "zstd"
            st, rh, data = post(hport, PATHS[sig], body, hd)
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = None
            if t.check(st == 200 and rh.get("content-type") == "application/json"
                       and parsed == {}, "%s OTLP/JSON (%s): 200 with {}" % (sig, enc),
                       (st, rh, data[:300])):
                sent[sig].append(req)

    # ---- curl: OTLP/JSON, gzip and zstd protobuf bodies from files
    d = h.tmpdir()
    for sig in h.SIGNALS:
        for kind in ("json", "gzip", "zstd"):
            req = h.make_request(sig, 2)
            if kind == "json":
                body, hdrs = to_otlp_json(req), ["-H", "Content-Type: application/json"]
            elif kind == "gzip":
                body, hdrs = gzip.compress(req.SerializeToString()), [
                    "-H", "Content-Type: application/x-protobuf", "-H", "Content-Encoding: gzip"]
            else:
                body, hdrs = zstd_compress(req.SerializeToString()), [
                    "-H", "Content-Type: application/x-protobuf", "-H", "Content-Encoding: zstd"]
            path = os.path.join(d, "curl-%s-%s.body" % (sig, kind))
            with open(path, "wb") as f:
                f.write(body)
            r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"] + hdrs
                               + ["--data-binary", "@" + path,
                                  "http://127.0.0.1:%d%s" % (hport, PATHS[sig])],
                               capture_output=True, text=True, timeout=30)
            if t.check(r.returncode == 0 and r.stdout == "200", "curl %s (%s): 200" % (sig, kind),
                       (r.returncode, r.stdout, r.stderr[-300:])):
                sent[sig].append(req)

    # ---- gRPC to the same receiver at the same time
    c = h.Client(gport)
    for sig in h.SIGNALS:
        req = h.make_request(sig, 3)
        code, _resp = c.export(sig, req)
        if t.eq(code.name, "OK", "%s over gRPC next to HTTP" % sig):
            sent[sig].append(req)
    c.close()

    # ---- partial success: a span with a 3-byte trace id, in both encodings
    req = h.make_traces(3)
    req.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x01\x02\x03"
    good = h.pb.request["traces"]()
    good.CopyFrom(req)
    del good.resource_spans[0].scope_spans[0].spans[0]
    st, rh, data = post(hport, PATHS["traces"], to_otlp_json(req), json_headers())
    ps = json.loads(data).get("partialSuccess", {}) if st == 200 else {}
    if t.check(st == 200 and ps.get("rejectedSpans") == "1" and "id" in ps.get("errorMessage", ""),
               "JSON: a bad trace id gets 200 with partialSuccess.rejectedSpans \"1\"",
               (st, data[:300])):
        sent["traces"].append(good)
    req2 = h.pb.request["traces"]()
    req2.CopyFrom(req)
    req2.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01"
    good2 = h.pb.request["traces"]()
    good2.CopyFrom(good)
    st, rh, data = post(hport, PATHS["traces"], req2.SerializeToString(), proto_headers())
    resp = h.pb.response["traces"]()
    if st == 200:
        resp.ParseFromString(data)
    if t.check(st == 200 and resp.partial_success.rejected_spans == 1,
               "protobuf: a bad span id gets 200 with partial_success.rejected_spans 1",
               (st, data[:300])):
        sent["traces"].append(good2)

    # ---- every accepted item reaches the sink, unchanged
    for sig in h.SIGNALS:
        want = h.count_items(sig, sent[sig])
        got = sink.wait_count(sig, want, 20)
        missing, extra = h.compare(sig, sent[sig], sink.requests(sig))
        t.check(not missing and not extra,
                "%s: the sink got exactly the %d items sent (got %d)" % (sig, want, got),
                h.diff_report(sig, missing, extra))

    # ---- 400: bad JSON, bad values, bad protobuf, bad compression
    st, rh, data = post(hport, PATHS["traces"], b'{"resourceSpans":[', json_headers())
    body = json.loads(data) if rh.get("content-type") == "application/json" else {}
    t.check(st == 400 and body.get("code") == 3 and "invalid JSON" in body.get("message", ""),
            "truncated JSON: 400 with a JSON google.rpc.Status {code 3, message}", (st, data[:300]))
    bad = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz1"}]}]}]}'
    st, rh, data = post(hport, PATHS["traces"], bad, json_headers())
    body = json.loads(data) if st == 400 else {}
    t.check(st == 400 and "resourceSpans[0].scopeSpans[0].spans[0].traceId" in body.get("message", ""),
            "a bad hex trace id: 400 naming the field path", (st, data[:300]))
    st, rh, data = post(hport, PATHS["logs"],
                        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}',
                        json_headers())
    body = json.loads(data) if st == 400 else {}
    t.check(st == 400 and "timeUnixNano" in body.get("message", ""),
            "a non-numeric int64 string: 400 naming timeUnixNano", (st, data[:300]))
    deep = ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":'
            + '{"arrayValue":{"values":[' * 200 + '{"intValue":"1"}' + ']}}' * 200 + '}]}]}]}')
    st, rh, data = post(hport, PATHS["logs"], deep.encode(), json_headers())
    body = json.loads(data) if st == 400 else {}
    t.check(st == 400 and "nesting deeper than 128 levels" in body.get("message", ""),
            "AnyValue nested 200 deep: 400, nesting deeper than 128 levels", (st, data[:300]))
    st, rh, data = post(hport, PATHS["metrics"], b"\xff\xff\xff\xff", proto_headers())
    stat = parse_status(data) if rh.get("content-type") == "application/x-protobuf" else {}
    t.check(st == 400 and stat.get("code") == 3 and "malformed protobuf" in stat.get("message", ""),
            "bad protobuf: 400 with a protobuf google.rpc.Status", (st, rh, data[:300]))
    st, rh, data = post(hport, PATHS["traces"], b"\x1f\x8b\x08garbage", proto_headers(
        {"Content-Encoding": "gzip"}))
    stat = parse_status(data) if st == 400 else {}
    t.check(st == 400 and "gzip" in stat.get("message", ""), "corrupt gzip: 400", (st, data[:200]))
    st, rh, data = post(hport, PATHS["traces"], b"\x28\xb5\x2f\xfdjunk", proto_headers(
        {"Content-Encoding": "zstd"}))
    stat = parse_status(data) if st == 400 else {}
    t.check(st == 400 and "zstd" in stat.get("message", ""), "corrupt zstd: 400", (st, data[:200]))
    st, rh, data = post(hport, PATHS["traces"], b"", proto_headers({"Content-Encoding": "br"}))
    t.check(st == 400 and b"Content-Encoding" in data, "unsupported Content-Encoding: 400",
            (st, data[:200]))

    # ---- 415: not protobuf, not JSON
    st, rh, data = post(hport, PATHS["traces"], b"hello", {"Content-Type": "text/plain"})
    t.check(st == 415 and b"application/x-protobuf" in data,
            "Content-Type text/plain: 415 naming the supported types", (st, data[:200]))
    st, rh, data = post(hport, PATHS["traces"], b"hello", {})
    t.eq(st, 415, "no Content-Type: 415")

    # ---- 413: over max_request_body_size on the wire, and after decompression
    big = h.make_traces(1)
    big.resource_spans[0].scope_spans[0].spans[0].name = "x" * (LIMIT + 1000)
    st, rh, data = post(hport, PATHS["traces"], big.SerializeToString(), proto_headers())
    # refused by libevent while reading the body: its own small error page
    t.check(st == 413 and b"Request Entity Too Large" in data,
            "a %d-byte body over the %d-byte limit: 413" % (big.ByteSize(), LIMIT), (st, data[:200]))
    chunks = [big.SerializeToString()[i:i + 65536] for i in range(0, big.ByteSize(), 65536)]
    # an iterable body without Content-Length: http.client sends it chunked
    st, rh, data = post(hport, PATHS["traces"], iter(chunks), proto_headers())
    t.eq(st, 413, "the same body sent chunked (no Content-Length): 413")
    small = h.make_traces(2).SerializeToString()
    st, rh, data = post(hport, PATHS["traces"], iter([small[:10], small[10:]]), proto_headers())
    t.eq(st, 200, "a chunked body under the limit: 200")
    bomb = b"\x00" * (4 * LIMIT)
    for enc, comp in (("gzip", gzip.compress(bomb)), ("zstd", zstd_compress(bomb))):
        st, rh, data = post(hport, PATHS["traces"], comp, proto_headers({"Content-Encoding": enc}))
        stat = parse_status(data) if st == 413 else {}
        t.check(st == 413 and stat.get("code") == 8 and "decompressed" in stat.get("message", ""),
                "%s: %d bytes inflating to %d: 413 with a google.rpc.Status"
                % (enc, len(comp), len(bomb)), (st, data[:200]))
    st, rh, data = post(hport, PATHS["logs"], gzip.compress(b" " * (2 * LIMIT)),
                        json_headers({"Content-Encoding": "gzip"}))
    body = json.loads(data) if st == 413 else {}
    t.check(st == 413 and "decompressed" in body.get("message", ""),
            "JSON request inflating over the limit: 413 with a JSON Status", (st, data[:200]))

    # ---- 404 and 405
    st, rh, data = post(hport, "/v1/nothing", b"", proto_headers())
    t.eq(st, 404, "unknown path: 404")
    st, rh, data = post(hport, "/v1/traces/", b"", proto_headers())
    t.eq(st, 404, "path with a trailing slash: 404")
    st, rh, data = post(hport, PATHS["traces"], None, method="GET")
    t.check(st == 405 and rh.get("allow") == "POST", "GET /v1/traces: 405 with Allow: POST",
            (st, rh))
    st, rh, data = post(hport, PATHS["traces"] + "?x=1", h.make_traces(1).SerializeToString(),
                        proto_headers())
    t.eq(st, 200, "a query string does not change the path")

    # ---- CORS
    pre = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type, x-custom"}
    st, rh, data = post(hport, PATHS["traces"], None, pre, method="OPTIONS")
    t.check(st == 204 and rh.get("access-control-allow-origin") == "https://app.example.com"
            and rh.get("access-control-allow-methods") == "POST"
            and rh.get("access-control-max-age") == "600"
            and "x-custom" in rh.get("access-control-allow-headers", ""),
            "CORS preflight from an allowed origin: 204 with the allow headers", (st, rh))
    st, rh, data = post(hport, PATHS["traces"], None, dict(pre, Origin="https://evil.test"),
                        method="OPTIONS")
    t.check(st == 204 and "access-control-allow-origin" not in rh,
            "CORS preflight from another origin: no Access-Control-Allow-Origin", (st, rh))
    st, rh, data = post(hport, PATHS["traces"], None,
                        dict(pre, **{"Access-Control-Request-Headers": "x-secret"}),
                        method="OPTIONS")
    t.check(st == 204 and "access-control-allow-origin" not in rh,
            "CORS preflight asking for a header not allowed: refused", (st, rh))
    st, rh, data = post(hport, PATHS["traces"], h.make_traces(1).SerializeToString(),
                        proto_headers({"Origin": "https://app.example.com"}))
    t.check(st == 200 and rh.get("access-control-allow-origin") == "https://app.example.com",
            "POST from an allowed origin carries Access-Control-Allow-Origin", (st, rh))

    # ---- 503 with Retry-After when the pipeline refuses
    sink.block()
    codes, retry_after, status_msg = [], None, None
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        st, rh, data = post(hport, PATHS["traces"], h.make_traces(10).SerializeToString(),
                            proto_headers())
        codes.append(st)
        if st == 503:
            retry_after = rh.get("retry-after")
            status_msg = parse_status(data)
            break
        if st != 200:
            break
    h.log("overload: %d requests before a refusal, codes %s" % (len(codes), sorted(set(codes))))
    t.check(codes and codes[-1] == 503 and retry_after is not None and retry_after.isdigit()
            and status_msg and status_msg["code"] == 14,
            "blocked sink: 503 with Retry-After and an UNAVAILABLE Status",
            (codes[-5:], retry_after, status_msg))
    st, rh, data = post(hport, PATHS["traces"], to_otlp_json(h.make_traces(2)), json_headers())
    body = json.loads(data) if rh.get("content-type") == "application/json" else {}
    t.check(st == 503 and body.get("code") == 14 and "retry-after" in rh,
            "a JSON request to the full pipeline: 503, a JSON Status and Retry-After",
            (st, rh, data[:200]))
    sink.release()

    t.check(proc.poll() is None, "otelc is alive after every error path")
    t.check(True, "otelc stopped cleanly in %.2f s" % h.stop_otelc(proc))


if __name__ == "__main__":
    h.run_test(main, timeout=200)
