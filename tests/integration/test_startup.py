# test_startup.py: start-up problems each give one clear log line: a port
# already in use (exit 1), an unreadable config (exit 1), an unreachable
# exporter endpoint (a warning; otelc keeps running and delivers once the
# endpoint comes up). An idle otelc stops on SIGTERM promptly with exit 0.
# SPDX-License-Identifier: Apache-2.0
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402


def main(t):
    # port already in use: the second otelc exits 1 with one line naming the endpoint
    port = h.free_port()
    cfg = h.config_yaml(port, "  nop:\n", {"traces": ["nop"]})
    first = h.start_otelc(cfg)
    path = h.write_config(cfg, "second.yaml")
    r = h.run_otelc(["--config", path], timeout=15)
    t.eq(r.returncode, 1, "second otelc on a busy port exits 1")
    lines = [ln for ln in r.stderr.splitlines() if "cannot listen on 127.0.0.1:%d" % port in ln]
    t.eq(len(lines), 1, "one log line names the busy endpoint")
    t.check("Address already in use" not in r.stderr,
            "gRPC's own error text stays out of the log at the default level", r.stderr)
    t.check(h.port_open(port), "the first otelc still serves")
    t.check(h.stop_otelc(first) < 5, "an idle otelc stops within 5 s of SIGTERM")

    # unreadable config
    r = h.run_otelc(["--config", "/nonexistent/otelc.yaml"])
    t.eq(r.returncode, 1, "a missing config file exits 1")
    t.check("/nonexistent/otelc.yaml" in r.stderr and "cannot read config" in r.stderr,
            "the error names the file", r.stderr)

    # unreachable exporter endpoint: one warning, not fatal, delivery once it is up
    sink_port = h.free_port()
    port = h.free_port()
    cfg = h.config_yaml(port, h.otlp_exporter_yaml("otlp/late", sink_port),
                        {"traces": ["otlp/late"]})
    proc = h.start_otelc(cfg)
    h.wait_until(lambda: "cannot reach" in h.otelc_stderr(proc), 5.0)  # probed beside the start
    time.sleep(0.2)
    warn = [ln for ln in h.otelc_stderr(proc).splitlines()
            if "cannot reach 127.0.0.1:%d" % sink_port in ln]
    t.eq(len(warn), 1, "one warning names the unreachable exporter endpoint")
    c = h.Client(port)
    req = h.make_traces(10)
    code, _ = c.export("traces", req)
    t.eq(code, h.grpc.StatusCode.OK, "data is accepted while the backend is down")
    sink = h.Sink(port=sink_port)
    got = sink.wait_count("traces", 10, 20)
    t.eq(got, 10, "the spans arrive once the backend comes up")
    sink.stop()
    c.close()
    h.stop_otelc(proc, timeout=30)


if __name__ == "__main__":
    h.run_test(main)
