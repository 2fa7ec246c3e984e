# test_otelcol_options.py - otelcol's names and options that otelc implements,
# end to end: the otlp_grpc and otlp_http exporter names, the otlp exporter's
# keepalive / balancer_name / authority options and the receiver's gRPC
# keepalive, buffer and enforcement options on a working path; a url path
# written without its leading / (otelcol adds it); compression_algorithms
# refusing an encoding left out; bearertokenauth `tokens`; the nop receiver.
# SPDX-License-Identifier: Apache-2.0
import gzip
import json
import os
import socket
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OK = h.grpc.StatusCode.OK


def post(port, path, body, headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                 method="POST",
                                 headers=dict({"Content-Type": "application/json"},
                                              **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main(t):
    sink = h.Sink("sink")
    grpc_port, http_port = h.free_port(), h.free_port()
    config = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
        read_buffer_size: 1024
        write_buffer_size: 65536
        include_metadata: true
        keepalive:
          server_parameters:
            max_connection_idle: 11s
            max_connection_age: 12s
            max_connection_age_grace: 13s
            time: 30s
            timeout: 5s
          enforcement_policy:
            min_time: 10s
            permit_without_stream: true
      http:
        endpoint: 127.0.0.1:%d
        traces_url_path: traces
        compression_algorithms: [gzip]
        auth:
          authenticator: bearertokenauth
  nop:
extensions:
  bearertokenauth:
    tokens: [first, second]
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      insecure: true
    compression: snappy
    keepalive:
      time: 20s
      timeout: 30s
      permit_without_stream: true
    balancer_name: round_robin
    sending_queue:
      block_on_overflow: true
      batch:
        flush_timeout: 200ms
  otlp_http/unused:
    endpoint: http://127.0.0.1:1
service:
  extensions: [bearertokenauth]
  pipelines:
    traces:
      receivers: [otlp, nop]
      exporters: [otlp_grpc]
    logs:
      receivers: [nop]
      exporters: [otlp_http/unused]
""" % (grpc_port, http_port, sink.endpoint)
    proc = h.start_otelc(config, port=grpc_port)
    try:
        client = h.Client(grpc_port)
        req = h.make_request("traces", 3)
        code, _ = client.export("traces", req, timeout=10)
        t.check(code == OK, "a gRPC export through the otlp_grpc exporter is answered OK", code)
        sink.wait_count("traces", 3, 15)
        t.check(sink.count("traces") == 3, "the sink received the 3 spans", sink.count("traces"))

        body = json.dumps({"resourceSpans": []}).encode()
        auth = {"Authorization": "Bearer second"}
        t.check(post(http_port, "/traces", body, auth) == 200,
                "traces_url_path \"traces\" is served at /traces")
        t.check(post(http_port, "/v1/traces", body, auth) == 404,
                "the default path is not served when traces_url_path is set")
        t.check(post(http_port, "/traces", body, {"Authorization": "Bearer first"}) == 200,
                "the first of the tokens is accepted")
        t.check(post(http_port, "/traces", body, {"Authorization": "Bearer third"}) == 401,
                "a token not in the list is refused")
        t.check(post(http_port, "/traces", gzip.compress(body),
                     dict(auth, **{"Content-Encoding": "gzip"})) == 200,
                "gzip, listed in compression_algorithms, is accepted")
        t.check(post(http_port, "/traces", body, dict(auth, **{"Content-Encoding": "zstd"})) == 400,
                "zstd, left out of compression_algorithms, gets 400")
        client.close()
    finally:
        h.stop_otelc(proc)  # raises unless it exits with 0
        sink.stop()


def unix_accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def unix_socket(t):
    """protocols.grpc.transport: unix serves OTLP/gRPC on a Unix domain socket."""
    sock = os.path.join(h.tmpdir(), "otlp.sock")
    config = """receivers:
  otlp:
    protocols:
      grpc:
        transport: unix
        endpoint: %s
exporters:
  nop:
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
""" % sock
    proc = h.start_otelc(config, port=None)
    try:
        # The socket file appears at bind(), a moment before listen(): wait
        # until it takes a connection, or the client may be refused.
        t.check(h.wait_until(lambda: unix_accepts(sock), 10),
                "the Unix socket takes connections")
        client = h.Client("unix:" + sock)
        code, _, details = client.export_full("traces", h.make_request("traces", 2), timeout=10)
        t.check(code == OK, "an export over the Unix socket is answered OK", "%s %s" % (code, details))
        client.close()
    finally:
        h.stop_otelc(proc)


def all_tests(t):
    main(t)
    unix_socket(t)


if __name__ == "__main__":
    h.run_test(all_tests)
