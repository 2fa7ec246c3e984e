# test_reload.py: hot reload under load (issue 4, "Reload under load"), against
# the real binary: (a) a processor option changes and an exporter is added by
# rewriting the file and sending SIGHUP, with client threads sending all along:
# every call is answered OK or UNAVAILABLE, the gRPC port never refuses a
# connection, every item answered OK reaches the first sink, and items sent
# after the reload reach the new one too; (b) an invalid edit is logged and the
# old pipeline keeps running; (c) a Kubernetes-style `..data` symlink swap
# reloads without a signal; (d) a reload that fails, early (a bad option) or
# late (a change the running engine refuses), leaves the log level and
# encoding as they were; one that succeeds applies them.
# SPDX-License-Identifier: Apache-2.0
import collections
import os
import signal
import socket
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

CLIENTS = 3


def exporter(name, port):
    return """  %s:
    endpoint: 127.0.0.1:%d
    tls:
      insecure: true
    compression: none
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 500ms
""" % (name, port)


def config(rport, batch_timeout, sinks, extra_batch=""):
    names = ["otlp" if i == 0 else "otlp/%d" % (i + 1) for i in range(len(sinks))]
    return """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: %s
    send_batch_size: 50
%sexporters:
%sservice:
  shutdown_timeout: 20s
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [%s]
""" % (rport, batch_timeout, extra_batch, "".join(exporter(n, s.port) for n, s in zip(names, sinks)),
       ", ".join(names))


class Load:
    """CLIENTS threads sending small trace requests until stopped; each call is
    recorded with the time it started."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.calls = []  # (t_start, request, code, details)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def _run(self, i):
        client = h.Client(self.port)
        while not self.stop.is_set():
            req = h.make_traces(5)
            t0 = time.monotonic()
            code, _resp, details = client.export_full("traces", req, timeout=10)
            with self.lock:
                self.calls.append((t0, req, code, details))
            time.sleep(0.005 if code == grpc.StatusCode.OK else 0.02)
        client.close()

    def ok_count(self):
        with self.lock:
            return sum(1 for c in self.calls if c[2] == grpc.StatusCode.OK)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(15)


class Prober:
    """Opens a TCP connection to the receiver every 20 ms; counts refusals."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.attempts = 0
        self.refused = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            self.attempts += 1
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    pass
            except OSError as e:
                self.refused.append("%.3f %s" % (time.monotonic(), e))
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.thread.join(5)


def wait_log(proc, text, count=1, timeout=20):
    return h.wait_until(lambda: h.otelc_stderr(proc).count(text) >= count, timeout)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def case_sighup(checks):
    sink1, sink2 = h.Sink("sink1"), h.Sink("sink2")
    rport = h.free_port()
    proc = h.start_otelc(config(rport, "300ms", [sink1]), port=rport)
    load = Load(rport)
    probe = Prober(rport)
    h.wait_until(lambda: load.ok_count() > 30, 15)

    # (a) batch timeout changes and a second exporter appears
    write_atomic(proc.config_path, config(rport, "100ms", [sink1, sink2]))
    proc.send_signal(signal.SIGHUP)
    reloaded = wait_log(proc, "config reloaded (1 pipeline)")
    checks.check(reloaded, "(a) the log says: config reloaded (1 pipeline)",
                 h.otelc_stderr(proc)[-3000:])
    t_reloaded = time.monotonic()
    checks.check("1 receivers kept running" in h.otelc_stderr(proc),
                 "(a) the receiver kept running across the reload")
    h.wait_until(lambda: sum(1 for c in load.calls if c[0] > t_reloaded) > 30, 15)
    time.sleep(1.0)

    # (b) an invalid edit: unknown key in the batch processor
    n_before = load.ok_count()
    write_atomic(proc.config_path, config(rport, "100ms", [sink1, sink2], "    bogus_key: 1\n"))
    proc.send_signal(signal.SIGHUP)
    failed = wait_log(proc, "config reload failed: 1 error; keeping the running config")
    err = h.otelc_stderr(proc)
    checks.check(failed, "(b) the log says the reload failed and the running config stays",
                 err[-3000:])
    checks.check("bogus_key" in err, "(b) the error names the unknown key", err[-3000:])
    t_invalid = time.monotonic()
    h.wait_until(lambda: load.ok_count() > n_before + 60, 15)
    time.sleep(0.5)
    load.finish()
    probe.finish()
    h.stop_otelc(proc, timeout=30)

    codes = collections.Counter(c[2].name for c in load.calls)
    bad = [(c[2].name, c[3]) for c in load.calls
           if c[2] not in (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE)]
    h.log("  calls by outcome: %s; port probes %d, refused %d" % (dict(codes), probe.attempts,
                                                                  len(probe.refused)))
    checks.check(not bad, "(a) every call was answered OK or UNAVAILABLE", bad[:5])
    checks.check(probe.attempts > 50 and not probe.refused,
                 "(a) the gRPC port accepted every connection attempt (%d, every 20 ms)"
                 % probe.attempts, probe.refused[:5])
    ok = [c for c in load.calls if c[2] == grpc.StatusCode.OK]
    ok_items = collections.Counter(h.flatten("traces", [c[1] for c in ok]))
    at1 = collections.Counter(h.flatten("traces", sink1.requests("traces")))
    at2 = collections.Counter(h.flatten("traces", sink2.requests("traces")))
    missing1 = ok_items - at1
    h.log("  answered OK %d items; at sink1 %d, at sink2 %d"
          % (sum(ok_items.values()), sum(at1.values()), sum(at2.values())))
    checks.check(sum(ok_items.values()) > 300, "(a) steady load (%d items answered OK)"
                 % sum(ok_items.values()))
    checks.eq(sum(missing1.values()), 0, "(a) items answered OK missing at the first sink")
    after = collections.Counter(h.flatten("traces", [c[1] for c in ok if c[0] > t_reloaded]))
    missing2 = after - at2
    checks.check(sum(after.values()) > 50 and not missing2,
                 "(a) every item answered OK after the reload also reached the new sink "
                 "(%d items, %d missing)" % (sum(after.values()), sum(missing2.values())))
    after_invalid = collections.Counter(h.flatten("traces", [c[1] for c in ok if c[0] > t_invalid]))
    checks.check(sum(after_invalid.values()) > 0 and not (after_invalid - at1) and
                 not (after_invalid - at2),
                 "(b) after the invalid edit items keep arriving at both sinks (%d items)"
                 % sum(after_invalid.values()))
    sink1.stop()
    sink2.stop()


def case_configmap(checks):
    sink1, sink2 = h.Sink("sink1"), h.Sink("sink2")
    rport = h.free_port()
    d = h.tmpdir()
    cm = os.path.join(d, "configmap")
    os.makedirs(os.path.join(cm, "..2026_a"))
    with open(os.path.join(cm, "..2026_a", "pipeline.yaml"), "w") as f:
        f.write(config(rport, "100ms", [sink1]))
    os.symlink("..2026_a", os.path.join(cm, "..data"))
    os.symlink("..data/pipeline.yaml", os.path.join(cm, "pipeline.yaml"))
    path = os.path.join(cm, "pipeline.yaml")
    proc = h.start_otelc(config(rport, "100ms", [sink1]), port=rport, args=("--config", path))
    client = h.Client(rport)
    code, _ = client.export("traces", h.make_traces(3))
    checks.eq(code, grpc.StatusCode.OK, "(c) export before the swap")
    checks.check(sink1.wait_count("traces", 3, 10) >= 3, "(c) the first sink gets it")

    os.makedirs(os.path.join(cm, "..2026_b"))
    with open(os.path.join(cm, "..2026_b", "pipeline.yaml"), "w") as f:
        f.write(config(rport, "100ms", [sink2]))
    os.symlink("..2026_b", os.path.join(cm, "..data_tmp"))
    os.rename(os.path.join(cm, "..data_tmp"), os.path.join(cm, "..data"))
    reloaded = wait_log(proc, "config reloaded (1 pipeline)")
    checks.check(reloaded, "(c) the ..data swap reloaded the config without a signal",
                 h.otelc_stderr(proc)[-3000:])
    req = h.make_traces(4)
    code, _ = client.export("traces", req)
    checks.eq(code, grpc.StatusCode.OK, "(c) export after the swap")
    checks.check(sink2.wait_count("traces", 4, 10) >= 4, "(c) the new config's sink gets it")
    client.close()
    h.stop_otelc(proc, timeout=30)
    checks.eq(sink1.count("traces"), 3, "(c) the old sink got only what was sent before the swap")
    sink1.stop()
    sink2.stop()


def with_logs(text, level, encoding, extensions=""):
    """text (from config()) with service.telemetry.logs, and extensions added."""
    logs = "  telemetry:\n    logs:\n      level: %s\n      encoding: %s\n" % (level, encoding)
    if extensions:
        text = text.replace("service:\n", extensions + "service:\n  extensions: [health_check]\n")
    return text.replace("service:\n", "service:\n" + logs, 1)


def json_lines(text):
    return [ln for ln in text.splitlines() if ln.startswith("{")]


def case_log_options(checks):
    sink = h.Sink("sink")
    rport = h.free_port()
    good = config(rport, "100ms", [sink])
    proc = h.start_otelc(with_logs(good, "info", "console"), port=rport)
    failed = "config reload failed: 1 error; keeping the running config"

    # (d1) fails while the config is built: an unknown key in the batch processor
    write_atomic(proc.config_path, with_logs(config(rport, "100ms", [sink], "    bogus_key: 1\n"),
                                             "error", "json"))
    proc.send_signal(signal.SIGHUP)
    checks.check(wait_log(proc, failed), "(d1) the reload with a bad option failed",
                 h.otelc_stderr(proc)[-2000:])
    # (d2) fails late: the config builds, but the running engine refuses a new extension
    ext = "extensions:\n  health_check:\n    endpoint: 127.0.0.1:%d\n" % h.free_port()
    write_atomic(proc.config_path, with_logs(good, "error", "json", extensions=ext))
    proc.send_signal(signal.SIGHUP)
    checks.check(wait_log(proc, failed, count=2), "(d2) the reload with a new extension failed",
                 h.otelc_stderr(proc)[-2000:])
    err = h.otelc_stderr(proc)
    checks.eq(err.count("[error] [service] " + failed), 2,
              "(d) both failures are logged in the running encoding (console)")
    checks.check(not json_lines(err), "(d) no JSON line after the failed reloads", json_lines(err)[:3])
    checks.check("extensions (or service.extensions) changed" in err,
                 "(d2) the refusal names the extensions", err[-2000:])

    # the running level is still info: the next reload's info lines are there
    write_atomic(proc.config_path, with_logs(good, "info", "console"))
    proc.send_signal(signal.SIGHUP)
    checks.check(wait_log(proc, "[info] [service] config reloaded (1 pipeline)"),
                 "(d) info lines are still logged after the failed reloads",
                 h.otelc_stderr(proc)[-2000:])
    checks.eq(h.otelc_stderr(proc).count("[info] [service] reloading "), 3,
              "(d) every reload began with an info line in console form")
    client = h.Client(rport)
    code, _ = client.export("traces", h.make_traces(3))
    checks.eq(code, grpc.StatusCode.OK, "(d) export after the failed reloads")
    checks.check(sink.wait_count("traces", 3, 10) >= 3, "(d) the sink gets it")

    # (d3) a reload that goes through applies the new encoding
    write_atomic(proc.config_path, with_logs(good, "info", "json"))
    proc.send_signal(signal.SIGHUP)
    ok = h.wait_until(lambda: any('"msg":"config reloaded (1 pipeline)"' in ln
                                  for ln in json_lines(h.otelc_stderr(proc))), 20)
    checks.check(ok, "(d3) after a good reload to encoding json the log is JSON",
                 h.otelc_stderr(proc)[-2000:])
    client.close()
    h.stop_otelc(proc, timeout=30)
    sink.stop()


def main(checks):
    case_sighup(checks)
    case_configmap(checks)
    case_log_options(checks)


if __name__ == "__main__":
    h.run_test(main, timeout=170)
