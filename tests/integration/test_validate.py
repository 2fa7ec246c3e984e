# test_validate.py: `otelc validate --config FILE` accepts good configs (exit 0,
# prints the pipelines) and rejects bad ones (exit 1) with file:line:column and
# the offending key or component; ${env:VAR} and ${env:VAR:-default}
# substitution works in validate and in a running otelc.
# SPDX-License-Identifier: Apache-2.0
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

GOOD_FULL = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
        max_recv_msg_size_mib: 4
exporters:
  otlp/sink:
    endpoint: 127.0.0.1:4318
    tls:
      insecure: true
    compression: gzip
    timeout: 5s
    sending_queue:
      queue_size: 1000
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0
  file/out:
    path: {tmp}/x.jsonl
  debug:
    verbosity: basic
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp/sink, debug]
    metrics:
      receivers: [otlp]
      exporters: [file/out]
    logs:
      receivers: [otlp]
      exporters: [nop, otlp/sink]
"""

GOOD_MINIMAL = """\
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
service:
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [nop]
"""

GOOD_BLOCK_LISTS = """\
# comments and block-style lists are fine
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:4317"   # quoted
exporters:
  otlp:
    endpoint: 127.0.0.1:4318
    tls:
      insecure: true
    compression: none
  debug:
service:
  pipelines:
    traces:
      receivers:
        - otlp
      exporters:
        - otlp
        - debug
"""

GOOD_NAMED_PIPELINES = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
exporters:
  debug/a:
    verbosity: basic
  nop/b:
service:
  pipelines:
    traces/first:
      receivers: [otlp]
      exporters: [debug/a]
    traces/second:
      receivers: [otlp]
      exporters: [nop/b]
"""

BASE = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
exporters:
  otlp/sink:
    endpoint: 127.0.0.1:4318
    tls:
      insecure: true
    timeout: 5s
    sending_queue:
      queue_size: 100
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp/sink]
"""


def mutate(old, new, base=BASE):
    assert old in base, old
    return base.replace(old, new, 1)


# (name, config text, marker text on the offending line, words the message must name)
BAD = [
    ("unknown exporter type",
     mutate("  otlp/sink:\n", "  foobar/x:\n    a: 1\n  otlp/sink:\n"), "foobar/x:", ["foobar"]),
    ("unknown receiver type",
     mutate("  otlp:\n    protocols:", "  kafkaz:\n    brokers: x\n  otlp:\n    protocols:"),
     "kafkaz:", ["kafkaz"]),
    ("unknown key in an exporter",
     mutate("    timeout: 5s\n", "    timeout: 5s\n    endpointt: 127.0.0.1:1\n"),
     "endpointt:", ["endpointt"]),
    ("unknown key in the receiver",
     mutate("        endpoint: 127.0.0.1:4317\n",
            "        endpoint: 127.0.0.1:4317\n        max_recv_msg_size: 4\n"),
     "max_recv_msg_size:", ["max_recv_msg_size"]),
    ("unknown top-level section",
     mutate("service:\n", "processorz:\n  batch:\nservice:\n"), "processorz:", ["processorz"]),
    ("wrong type: timeout: abc",
     mutate("    timeout: 5s\n", "    timeout: abc\n"), "timeout: abc", ["timeout"]),
    ("wrong type: queue_size: many",
     mutate("      queue_size: 100\n", "      queue_size: many\n"), "queue_size: many",
     ["queue_size"]),
    ("wrong type: insecure: maybe",
     mutate("      insecure: true\n", "      insecure: maybe\n"), "insecure: maybe", ["insecure"]),
    ("pipeline names an undefined exporter",
     mutate("      exporters: [otlp/sink]\n", "      exporters: [otlp/sink, otlp/missing]\n"),
     "otlp/missing", ["otlp/missing"]),
    ("pipeline names an undefined receiver",
     mutate("      receivers: [otlp]\n", "      receivers: [otlp/other]\n"), "otlp/other",
     ["otlp/other"]),
    ("unknown pipeline signal",
     mutate("    traces:\n", "    profilez:\n"), "profilez:", ["profilez"]),
    ("invalid YAML: mapping value in a plain scalar",
     mutate("    timeout: 5s\n", "    timeout: 5s: 6s\n"), "timeout: 5s: 6s", []),
    ("invalid YAML: bad indentation",
     mutate("    tls:\n      insecure: true\n", "    tls:\n      insecure: true\n     compression: gzip\n"),
     "     compression: gzip", []),
]


def line_col_candidates(text, marker):
    """1-based line of the first line containing marker, and plausible 1-based
    columns: the key, the value and the marker itself."""
    for i, line in enumerate(text.splitlines(), 1):
        if marker in line:
            cols = {len(line) - len(line.lstrip()) + 1, line.index(marker) + 1}
            if ":" in line:
                k = line.index(":")
                rest = line[k + 1:]
                cols.add(k + 2 + len(rest) - len(rest.lstrip()))
                cols.add(k + 1)
            m = re.search(r"\[(.*)\]", line)
            if m and marker in m.group(1):
                cols.add(line.index(marker) + 1)
            return i, cols
    raise AssertionError(marker)


def run_validate(path, env=None):
    return h.run_otelc(["validate", "--config", path], env=env, timeout=20)


def positions(out, path):
    pat = r"(?:%s|%s):(\d+):(\d+)" % (re.escape(path), re.escape(os.path.basename(path)))
    return [(int(a), int(b)) for a, b in re.findall(pat, out)]


def main(t):
    tmp = h.tmpdir()

    # ---- good configs
    goods = [("full config", GOOD_FULL.format(tmp=tmp), {"traces": ["otlp/sink", "debug"],
                                                          "metrics": ["file/out"],
                                                          "logs": ["nop", "otlp/sink"]}),
             ("minimal config (empty grpc, nop)", GOOD_MINIMAL, {"logs": ["nop"]}),
             ("block lists, comments, quotes", GOOD_BLOCK_LISTS, {"traces": ["otlp", "debug"]}),
             ("named pipelines traces/first and traces/second", GOOD_NAMED_PIPELINES,
              {"traces/first": ["debug/a"], "traces/second": ["nop/b"]})]
    for name, text, pipes in goods:
        path = h.write_config(text)
        r = run_validate(path)
        out = r.stdout + r.stderr
        t.check(r.returncode == 0, "validate %s: exit 0 (got %d)" % (name, r.returncode), out[-2000:])
        missing = [w for p, exps in pipes.items() for w in [p] + exps + ["otlp"] if w not in r.stdout]
        t.check(not missing, "validate %s: stdout names the pipelines and their components" % name,
                "missing %s in stdout:\n%s" % (missing, r.stdout[-2000:]))

    # ---- bad configs
    for name, text, marker, words in BAD:
        path = h.write_config(text)
        r = run_validate(path)
        out = r.stdout + r.stderr
        t.check(r.returncode == 1, "validate bad (%s): exit 1 (got %d)" % (name, r.returncode),
                out[-1500:])
        line, cols = line_col_candidates(text, marker)
        pos = positions(out, path)
        if name.startswith("invalid YAML"):
            # libyaml may point at the offending token or just after it
            good_pos = [p for p in pos if p[0] in (line, line + 1)]
        else:
            good_pos = [p for p in pos if p[0] == line and p[1] in cols]
        t.check(good_pos, "validate bad (%s): message names %s:%d:<col in %s>"
                % (name, os.path.basename(path), line, sorted(cols)),
                "positions found %s in:\n%s" % (pos, out[-1500:]))
        miss = [w for w in words if w not in out]
        if words:
            t.check(not miss, "validate bad (%s): message names %s" % (name, words),
                    out[-1500:])

    r = run_validate(os.path.join(tmp, "does-not-exist.yaml"))
    t.check(r.returncode == 1 and "does-not-exist.yaml" in r.stdout + r.stderr,
            "validate on a missing file: exit 1 naming the file (got %d)" % r.returncode,
            (r.stdout + r.stderr)[-500:])

    # ---- ${env:VAR} and ${env:VAR:-default}
    env_cfg = mutate("    timeout: 5s\n", "    timeout: ${env:OTC_IT_TIMEOUT}\n")
    path = h.write_config(env_cfg)
    r = run_validate(path, env={"OTC_IT_TIMEOUT": "2s"})
    t.check(r.returncode == 0, "validate with timeout: ${env:OTC_IT_TIMEOUT}=2s: exit 0 (got %d)"
            % r.returncode, (r.stdout + r.stderr)[-1000:])
    r = run_validate(path, env={"OTC_IT_TIMEOUT": "abc"})
    t.check(r.returncode == 1 and "timeout" in r.stdout + r.stderr,
            "validate with timeout: ${env:OTC_IT_TIMEOUT}=abc: exit 1 naming timeout (got %d)"
            % r.returncode, (r.stdout + r.stderr)[-1000:])
    env_cfg = mutate("    timeout: 5s\n", "    timeout: ${env:OTC_IT_UNSET_VAR_X:-3s}\n")
    path = h.write_config(env_cfg)
    r = run_validate(path)
    t.check(r.returncode == 0, "validate with ${env:UNSET:-3s} default: exit 0 (got %d)"
            % r.returncode, (r.stdout + r.stderr)[-1000:])

    # a running otelc: receiver port from the environment, sink port from a default
    sink = h.Sink()
    port = h.free_port()
    cfg = (
        "receivers:\n"
        "  otlp:\n"
        "    protocols:\n"
        "      grpc:\n"
        "        endpoint: 127.0.0.1:${env:OTC_IT_RECV_PORT}\n"
        "exporters:\n"
        "  otlp/sink:\n"
        "    endpoint: ${env:OTC_IT_SINK_HOST:-127.0.0.1}:${env:OTC_IT_UNSET_SINK_PORT:-%d}\n"
        "    tls:\n"
        "      insecure: true\n"
        "service:\n"
        "  pipelines:\n"
        "    logs:\n"
        "      receivers: [otlp]\n"
        "      exporters: [otlp/sink]\n") % sink.port
    proc = h.start_otelc(cfg, port=port, env={"OTC_IT_RECV_PORT": str(port)})
    t.check(True, "otelc listens on the port given by ${env:OTC_IT_RECV_PORT} (%d)" % port)
    c = h.Client(port)
    req = h.make_logs(5)
    code, _ = c.export("logs", req)
    t.check(code == h.grpc.StatusCode.OK, "export to the env-configured receiver -> OK (%s)"
            % code.name)
    sink.wait_count("logs", 5, 10)
    missing, extra = h.compare("logs", [req], sink.requests("logs"))
    t.check(not missing and not extra,
            "logs reach the sink at the endpoint from ${env:...:-default}",
            h.diff_report("logs", missing, extra))
    c.close()
    h.stop_otelc(proc)
    sink.stop()


if __name__ == "__main__":
    h.run_test(main)
