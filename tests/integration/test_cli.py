# test_cli.py: the command line as otelcol's. Several --config sources merge in
# order (mappings deep-merged, the later value wins, lists replaced); --set
# with "." and "::" keys; file:, env: and yaml: URIs; ${file:} and ${env:} in
# values; print-config (YAML, JSON, redacted); components as otelcol's YAML;
# --feature-gates accepted; validate lists the errors of two files at once
# (telemetry section included) with file:line; an unreadable file is named.
# A value that is one whole ${env:} or ${file:} reference is parsed as YAML.
# A config split over two files runs as one, and a change to the second file
# is reloaded.
# SPDX-License-Identifier: Apache-2.0
import json
import os
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

BASE = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
exporters:
  debug:
    verbosity: basic
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
"""

OVER = """processors:
  batch:
    timeout: 1s
exporters:
  debug:
    verbosity: detailed
service:
  pipelines:
    traces:
      exporters: [debug, nop]
"""


def print_config(t, args, env=None, what=""):
    r = h.run_otelc(["print-config", "--format", "json"] + args, env=env)
    t.eq(r.returncode, 0, "print-config %s exits 0" % what)
    try:
        return json.loads(r.stdout)
    except ValueError:
        t.check(False, "print-config %s prints JSON" % what, r.stdout + r.stderr)
        return {}


def merging(t):
    base = h.write_config(BASE % 4317, "base.yaml")
    over = h.write_config(OVER.replace("exporters:\n  debug:", "exporters:\n  nop:\n  debug:"), "over.yaml")
    c = print_config(t, ["--config", base, "--config", "file:" + over], what="of two files")
    t.eq(c.get("exporters", {}).get("debug"), {"verbosity": "detailed"}, "merge: the later value wins")
    t.eq(c.get("receivers", {}).get("otlp", {}).get("protocols", {}).get("grpc", {}).get("endpoint"),
         "127.0.0.1:4317", "merge: mappings are deep-merged (the first file's receiver stays)")
    t.eq(c.get("service", {}).get("pipelines", {}).get("traces"),
         {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["debug", "nop"]},
         "merge: lists are replaced, sibling keys kept")
    t.eq(c.get("processors"), {"batch": {"timeout": "1s"}}, "merge: a section only in the second file")

    # --set, with "." and "::" keys and a flow list
    c = print_config(t, ["--config", base, "--set", "processors.batch.timeout=2s",
                         "--set", "exporters::debug::sampling_initial=5",
                         "--set", "service.pipelines.traces.exporters=[nop]"], what="with --set")
    t.eq(c.get("processors"), {"batch": {"timeout": "2s"}}, "--set a.b.c=value")
    t.eq(c.get("exporters", {}).get("debug"), {"verbosity": "basic", "sampling_initial": 5},
         "--set a::b::c=value is merged into the mapping")
    t.eq(c.get("service", {}).get("pipelines", {}).get("traces", {}).get("exporters"), ["nop"],
         "--set replaces a list")

    # URIs: env: and yaml:, ${file:} and ${env:} in values; "::" keys in a file
    tok = h.write_config("s3cret-token\n", "token.txt")
    extra = h.write_config("exporters::debug::verbosity: normal\n"
                           "extensions:\n  bearertokenauth:\n    token: ${file:%s}\n"
                           "  health_check:\n    endpoint: ${env:HC_ENDPOINT}\n" % tok, "extra.yaml")
    env = {"OTELC_EXTRA": "processors:\n  batch:\n    send_batch_size: 10\n",
           "HC_ENDPOINT": "127.0.0.1:13133"}
    c = print_config(t, ["--config", "file:" + base, "--config", "env:OTELC_EXTRA",
                         "--config", "yaml:processors::batch::timeout: 3s", "--config", extra,
                         "--mode", "unredacted"], env=env, what="of file:, env:, yaml: and a plain path")
    t.eq(c.get("processors"), {"batch": {"send_batch_size": 10, "timeout": "3s"}},
         "env: and yaml: sources merged (yaml:a::b::c nests)")
    t.eq(c.get("exporters", {}).get("debug"), {"verbosity": "normal"}, "a file key a::b::c nests")
    t.eq(c.get("extensions", {}).get("bearertokenauth"), {"token": "s3cret-token"},
         "${file:PATH} is the file's content without its newline")
    t.eq(c.get("extensions", {}).get("health_check"), {"endpoint": "127.0.0.1:13133"},
         "${env:VAR} inside a value")
    c = print_config(t, ["--config", extra], env=env, what="of one file with a::b keys")
    t.eq(c.get("exporters"), {"debug": {"verbosity": "normal"}}, "a::b keys nest in a single file too")
    red = h.run_otelc(["print-config", "--config", base, "--config", extra], env=env)
    t.check("s3cret-token" not in red.stdout and "[REDACTED]" in red.stdout,
            "print-config redacts secrets by default", red.stdout)
    try:
        y = yaml.safe_load(red.stdout)
        t.eq(y.get("exporters", {}).get("debug"), {"verbosity": "normal"},
             "print-config's default output is YAML of the merged config")
    except yaml.YAMLError as e:
        t.check(False, "print-config prints YAML", "%s\n%s" % (e, red.stdout))

    # the merged config is valid; --feature-gates is accepted
    r = h.run_otelc(["validate", "--config", base, "--config", over, "--feature-gates", "-foo,+bar"])
    t.eq(r.returncode, 0, "validate of two files that are valid together exits 0")
    t.check("valid" in r.stdout and "nop" in r.stdout, "validate describes the merged pipelines",
            r.stdout + r.stderr)
    r = h.run_otelc(["validate", "--config", base])
    t.eq(r.returncode, 1, "the first file alone is not valid (no batch processor defined)")
    r = h.run_otelc(["validate", "--config", base, "--config", "env:OTELC_NOPE"])
    t.check(r.returncode == 1 and "OTELC_NOPE" in r.stderr, "an unset env: source is named", r.stderr)


def whole_values(t):
    """A value that is one whole ${env:...} or ${file:...} reference is parsed
    as YAML (a list or mapping comes from a variable or file), as otelcol's
    confmap does; a reference inside a longer value is replaced by text."""
    proc = h.write_config("verbosity: detailed\nsampling_initial: 3\n", "debug-settings.yaml")
    text = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:4317\n"
            "exporters:\n  debug: ${file:%s}\n  nop:\n"
            "  otlp:\n    endpoint: \"x-${env:WHOLE_LIST}:4317\"\n"
            "    headers: ${env:WHOLE_MAP}\n"
            "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
            "      exporters: ${env:WHOLE_LIST}\n" % proc)
    path = h.write_config(text, "whole.yaml")
    env = {"WHOLE_LIST": "[debug, nop]", "WHOLE_MAP": "{x-a: one, x-b: two}"}
    c = print_config(t, ["--config", path, "--mode", "unredacted"], env=env, what="of whole references")
    t.eq(c.get("service", {}).get("pipelines", {}).get("traces", {}).get("exporters"), ["debug", "nop"],
         "a whole ${env:VAR} holding a YAML list becomes the list")
    t.eq(c.get("exporters", {}).get("debug"), {"verbosity": "detailed", "sampling_initial": 3},
         "a whole ${file:PATH} holding a YAML mapping becomes the mapping")
    t.eq(c.get("exporters", {}).get("otlp", {}).get("headers"), {"x-a": "one", "x-b": "two"},
         "a whole ${env:VAR} holding a flow mapping becomes the mapping")
    t.eq(c.get("exporters", {}).get("otlp", {}).get("endpoint"), "x-[debug, nop]:4317",
         "a reference inside a longer value is replaced by its text")
    r = h.run_otelc(["validate", "--config", path], env=env)
    t.check(r.returncode == 0 and "debug" in r.stdout and "nop" in r.stdout,
            "validate: the pipeline takes its exporters from the variable", r.stdout + r.stderr)


def validate_errors(t):
    bad1 = h.write_config("""receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
        colour: red
exporters:
  debug: {}
service:
  telemetry:
    metrics:
      level: loud
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
""", "bad1.yaml")
    bad2 = h.write_config("""exporters:
  debug:
    verbosty: basic
service:
  telemetry:
    logs:
      level: chatty
""", "bad2.yaml")
    r = h.run_otelc(["validate", "--config", bad1, "--config", bad2])
    t.eq(r.returncode, 1, "validate of two bad files exits 1")
    for want in ('bad1.yaml:6:9: receiver "otlp": unknown key "protocols.grpc.colour"',
                 'bad1.yaml:12:14: service: key "telemetry.metrics.level"',
                 'bad2.yaml:3:5: exporter "debug": unknown key "verbosty"',
                 'bad2.yaml:7:14: service: key "telemetry.logs.level"'):
        t.check(want in r.stderr, "validate lists: %s" % want, r.stderr)
    t.check("4 errors" in r.stderr, "every error of both files in one run", r.stderr)
    missing = os.path.join(h.tmpdir(), "no-such.yaml")
    r = h.run_otelc(["validate", "--config", bad1, "--config", missing, "--config", "yaml:a: ["])
    t.eq(r.returncode, 1, "validate with an unreadable file exits 1")
    t.check("%s: cannot read config" % missing in r.stderr, "an unreadable file names its path", r.stderr)
    t.check("yaml:a: [" in r.stderr and "invalid YAML" in r.stderr,
            "a bad yaml: source is reported in the same run", r.stderr)
    r = h.run_otelc(["validate", "--config", bad1, "--set", "nokey"])
    t.check(r.returncode == 1 and "--set nokey" in r.stderr, "a --set without = is refused", r.stderr)


def components(t):
    r = h.run_otelc(["components"])
    t.eq(r.returncode, 0, "components exits 0")
    try:
        c = yaml.safe_load(r.stdout)
    except yaml.YAMLError as e:
        t.check(False, "components prints YAML", "%s\n%s" % (e, r.stdout))
        return
    t.eq(c.get("buildinfo", {}).get("command"), "otelc", "components: buildinfo.command")
    for section, name in (("receivers", "otlp"), ("processors", "batch"), ("exporters", "debug"),
                          ("extensions", "health_check")):
        names = [x.get("name") for x in c.get(section) or []]
        t.check(name in names, "components: %s lists %s" % (section, name), names)
    exp = {x.get("name"): x for x in c.get("exporters") or []}
    for alias, canon in (("otlp_grpc", "otlp"), ("otlp_http", "otlphttp")):
        t.check(alias in exp and canon in exp and exp[alias].get("module") == exp[canon].get("module")
                and exp[alias].get("stability") == exp[canon].get("stability"),
                "components: the exporter %s is listed under %s too, same module" % (canon, alias),
                sorted(exp))
    ref = h.run_otelc(["reference"]).stdout
    t.check("#### exporter `otlp` (also `otlp_grpc`)" in ref and
            "#### exporter `otlphttp` (also `otlp_http`)" in ref,
            "reference: an exporter's heading names its alias",
            [l for l in ref.splitlines() if l.startswith("#### exporter")])
    otlp = [x for x in c.get("receivers") or [] if x.get("name") == "otlp"]
    t.check(otlp and set(otlp[0].get("stability", {})) == {"logs", "metrics", "traces"} and
            otlp[0].get("module"), "components: each entry has module and stability per signal", otlp)
    t.eq(sorted(p.get("scheme") for p in c.get("providers") or []), ["env", "file", "yaml"],
         "components: providers")


def split_config_runs(t):
    sink = h.Sink("cli-sink")
    port = h.free_port()
    first = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
             "processors:\n  batch:\n    timeout: 50ms\n" % port)
    second_text = ("exporters:\n%s" % h.otlp_exporter_yaml("otlp/sink", sink.port) +
                   "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
                   "      processors: [batch]\n      exporters: [otlp/sink]\n")
    second = h.write_config(second_text, "second.yaml")
    proc = h.start_otelc(first, port=port, args=["--config", second])
    c = h.Client(port)
    code, _resp, _d = c.export_full("traces", h.make_traces(5), timeout=10)
    t.eq(code, h.grpc.StatusCode.OK, "split config: traces accepted")
    t.eq(sink.wait_count("traces", 5, 10), 5, "split config: the spans reach the exporter of the second file")

    # a change to the second file reloads both: a logs pipeline appears
    with open(second + ".tmp", "w") as f:
        f.write(second_text + "    logs:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n")
    os.rename(second + ".tmp", second)
    h.wait_until(lambda: "config reloaded" in h.otelc_stderr(proc), 10)
    t.check("config reloaded" in h.otelc_stderr(proc), "a change to the second file is reloaded",
            h.otelc_stderr(proc)[-2000:])
    deadline = time.monotonic() + 10
    code = None
    while time.monotonic() < deadline:
        code, _resp, _d = c.export_full("logs", h.make_logs(3), timeout=5)
        if code == h.grpc.StatusCode.OK:
            break
        time.sleep(0.1)
    t.eq(code, h.grpc.StatusCode.OK, "after the reload: logs accepted")
    t.eq(sink.wait_count("logs", 3, 10), 3, "after the reload: the logs pipeline of the second file runs")
    h.stop_otelc(proc)


def main(t):
    merging(t)
    whole_values(t)
    validate_errors(t)
    components(t)
    split_config_runs(t)


if __name__ == "__main__":
    h.run_test(main, timeout=60)
