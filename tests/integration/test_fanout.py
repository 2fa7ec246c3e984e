# test_fanout.py: pipelines with two exporters deliver everything to both
# (two otlp sinks, and sink + file exporter); a blocked exporter does not stall
# its sibling; after rewriting the config without one exporter and restarting
# otelc, only the remaining one receives new data.
# SPDX-License-Identifier: Apache-2.0
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OK = h.grpc.StatusCode.OK


def send(t, client, sig, n_requests, n_items, label, **kw):
    reqs = []
    bad = []
    for i in range(n_requests):
        req = h.make_request(sig, n_items, **kw)
        code, _ = client.export(sig, req, compression="gzip" if i % 2 else None, timeout=10)
        if code == OK:
            reqs.append(req)
        else:
            bad.append(code)
    t.check(not bad, "%s: %d %s requests answered OK" % (label, n_requests, sig), bad)
    return reqs


def check_sink(t, sink, sig, sent, label, timeout=15):
    want = h.count_items(sig, sent)
    sink.wait_count(sig, want, timeout)
    time.sleep(0.3)
    missing, extra = h.compare(sig, sent, sink.requests(sig))
    t.check(not missing and not extra, "%s: %s %s at %s equal what was sent (%d items)"
            % (label, sig, "content", sink.name, want), h.diff_report(sig, missing, extra))


def file_exporter_yaml(name, path):
    return "  %s:\n    path: %s\n" % (name, path)


def main(t):
    a = h.Sink("sink-a")
    b = h.Sink("sink-b")
    d = h.tmpdir()
    file1 = os.path.join(d, "out1.jsonl")
    file2 = os.path.join(d, "out2.jsonl")

    # ---- phase 1: traces -> a + b; metrics -> a + file; logs -> b + file
    port = h.free_port()
    exporters = (h.otlp_exporter_yaml("otlp/a", a.port) + h.otlp_exporter_yaml("otlp/b", b.port)
                 + file_exporter_yaml("file/out", file1))
    cfg = h.config_yaml(port, exporters, {"traces": ["otlp/a", "otlp/b"],
                                          "metrics": ["otlp/a", "file/out"],
                                          "logs": ["otlp/b", "file/out"]})
    proc = h.start_otelc(cfg)
    c = h.Client(port)
    tr = send(t, c, "traces", 6, 25, "phase 1", rich=True, n_resources=2)
    me = send(t, c, "metrics", 6, 20, "phase 1", rich=True, n_scopes=2)
    lo = send(t, c, "logs", 6, 25, "phase 1", rich=True)
    tricky = {}  # edge-case values through both the otlp and the file exporter
    for sig in ("metrics", "logs"):
        req = h.make_tricky(sig, nul=False)  # U+0000: see make_tricky
        code, _ = c.export(sig, req, timeout=10)
        t.check(code == OK, "phase 1: %s request with edge-case values answered OK (%s)"
                % (sig, code.name))
        tricky[sig] = [req] if code == OK else []
    check_sink(t, a, "traces", tr, "phase 1")
    check_sink(t, b, "traces", tr, "phase 1")
    check_sink(t, a, "metrics", me + tricky["metrics"], "phase 1")
    check_sink(t, b, "logs", lo + tricky["logs"], "phase 1")
    t.eq(a.count("logs") + b.count("metrics"), 0, "phase 1: no logs at sink-a, no metrics at sink-b")

    # ---- phase 1b: sink-b blocks; sink-a still gets traces; b gets them after release
    b.block()
    tr2 = send(t, c, "traces", 2, 10, "phase 1b (sink-b blocked)")
    n_a = h.count_items("traces", tr + tr2)
    got = a.wait_count("traces", n_a, 10)
    t.eq(got, n_a, "phase 1b: sink-a receives traces while sink-b is blocked")
    b.release()
    check_sink(t, b, "traces", tr + tr2, "phase 1b after release")

    c.close()
    h.stop_otelc(proc)
    files, errs = h.read_jsonl(file1)
    t.check(not errs, "phase 1: file exporter output is valid OTLP/JSON lines", errs[:3])
    for sig, sent in (("metrics", me), ("logs", lo)):
        missing, extra = h.compare(sig, sent + tricky[sig], files[sig])
        # judge the ordinary items and the edge-case items separately
        edge = set(h.flatten(sig, tricky[sig]))
        plain_missing = {k: v for k, v in missing.items() if k not in edge}
        edge_missing = {k: v for k, v in missing.items() if k in edge}
        t.check(not plain_missing, "phase 1: %s in the file include everything sent" % sig,
                h.diff_report(sig, plain_missing, {}))
        t.check(not edge_missing and not extra,
                "phase 1: %s edge-case values (control chars, U+2028, NaN, inf, -0, "
                "int64/uint64 extremes) in the file equal what was sent" % sig,
                h.diff_report(sig, edge_missing, extra))
    t.eq(len(files["traces"]), 0, "phase 1: no traces in the file")

    # ---- phase 2: config rewritten without otlp/b; otelc restarted
    for s in (a, b):
        s.clear()
    port = h.free_port()
    exporters = h.otlp_exporter_yaml("otlp/a", a.port) + file_exporter_yaml("file/out", file2)
    cfg = h.config_yaml(port, exporters, {"traces": ["otlp/a"], "metrics": ["otlp/a"],
                                          "logs": ["file/out"]})
    proc = h.start_otelc(cfg)
    c = h.Client(port)
    tr = send(t, c, "traces", 4, 25, "phase 2")
    me = send(t, c, "metrics", 4, 20, "phase 2")
    lo = send(t, c, "logs", 4, 25, "phase 2")
    check_sink(t, a, "traces", tr, "phase 2")
    check_sink(t, a, "metrics", me, "phase 2")
    time.sleep(1.0)  # give a wrongly-wired exporter time to deliver
    t.eq(sum(b.count(s) for s in h.SIGNALS), 0, "phase 2: removed exporter's sink-b received nothing")
    t.eq(b.attempts, {s: 0 for s in h.SIGNALS}, "phase 2: no export calls reached sink-b")
    t.eq(a.count("logs"), 0, "phase 2: no logs at sink-a")
    c.close()
    h.stop_otelc(proc)
    files, errs = h.read_jsonl(file2)
    t.check(not errs, "phase 2: file output is valid OTLP/JSON lines", errs[:3])
    missing, extra = h.compare("logs", lo, files["logs"])
    t.check(not missing and not extra, "phase 2: logs in the file equal what was sent",
            h.diff_report("logs", missing, extra))
    t.eq(len(files["traces"]) + len(files["metrics"]), 0, "phase 2: only logs in the file")
    a.stop()
    b.stop()


if __name__ == "__main__":
    h.run_test(main)
