#!/usr/bin/python3
"""test_log_encoding.py - service.telemetry.logs: encoding json writes one JSON
object per stderr line (level, ts, component, msg); bad values and unknown keys
are config errors with line and column."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402


def main(t):
    sink = h.Sink()
    port = h.free_port()
    cfg = h.config_yaml(port, h.otlp_exporter_yaml("otlp/sink", sink.port), {"traces": ["otlp/sink"]},
                        service_extra="  telemetry:\n    logs:\n      level: debug\n      encoding: json\n")
    proc = h.start_otelc(cfg)
    c = h.Client(port)
    req = h.make_traces(5)
    code, _ = c.export("traces", req, timeout=5)
    t.check(code.name == "OK", "export through a json-logging otelc is OK (%s)" % code.name)
    t.check(sink.wait_count("traces", 5, 10), "the spans arrive")
    sink.fail_next(1)  # one warn line from the exporter with a quoted reason
    c.export("traces", h.make_traces(2), timeout=5)
    time.sleep(1.0)
    c.close()
    h.stop_otelc(proc)
    lines = [ln for ln in h.otelc_stderr(proc).splitlines() if ln.strip()]
    parsed, bad = [], []
    for ln in lines:
        try:
            parsed.append(json.loads(ln))
        except ValueError:
            bad.append(ln)
    t.check(lines and not bad, "every stderr line is a JSON object (%d lines, %d not JSON: %r)"
            % (len(lines), len(bad), bad[:2]))
    t.check(all({"level", "ts", "msg"} <= set(o) for o in parsed), "each has level, ts and msg")
    t.check(any(o.get("otelcol.component.id") == "otlp/sink" and o.get("otelcol.component.kind") == "exporter"
                for o in parsed), "component lines name the component id and kind")
    t.check(any("Everything is ready" in o.get("msg", "") for o in parsed), "the ready line is there")
    t.check(all(o.get("level") in ("debug", "info", "warn", "error") for o in parsed),
            "levels are debug, info, warn or error")
    t.check(any(o.get("level") == "warn" and "failed" in o.get("msg", "") for o in parsed),
            "the failed export is one warn line, its reason inside the JSON string")

    for extra, want in (("      encoding: xml\n", "telemetry.logs.encoding"),
                        ("      format: json\n", "telemetry.logs.format")):
        text = h.config_yaml(port, "  debug:\n", {"traces": ["debug"]},
                             service_extra="  telemetry:\n    logs:\n" + extra)
        r = h.run_otelc(["validate", "--config", h.write_config(text)])
        t.check(r.returncode == 1 and want in r.stdout + r.stderr and ":" in r.stdout + r.stderr,
                "validate refuses %r naming %s (rc %d: %s)" % (extra.strip(), want, r.returncode,
                                                             (r.stdout + r.stderr).strip()[:160]))
    sink.stop()


if __name__ == "__main__":
    h.run_test(main)
