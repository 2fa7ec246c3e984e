# test_batch_e2e.py: the `batch` processor through the real otelc binary
# (otlp receiver -> batch -> otlp exporter -> in-process Sink): size trigger,
# timeout trigger, send_batch_max_size split, requests appended whole (as
# otelcol), flush on SIGTERM; then the top-level pipeline.yaml end to end.
# SPDX-License-Identifier: Apache-2.0
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
SIGNAL_KEYS = {"traces": ("resource_spans", "scope_spans"),
               "metrics": ("resource_metrics", "scope_metrics"),
               "logs": ("resource_logs", "scope_logs")}


def batch_config(port, sink, signals, batch_yaml):
    """otlp receiver -> batch -> otlp exporter to sink, for each signal."""
    exp = h.otlp_exporter_yaml("otlp/sink", sink.port)
    text = h.config_yaml(port, exp, {s: ["otlp/sink"] for s in signals})
    text = text.replace("exporters:\n", "processors:\n  batch:\n%sexporters:\n" % batch_yaml, 1)
    return text.replace("      exporters:", "      processors: [batch]\n      exporters:")


def start(sink, signals, batch_yaml):
    port = h.free_port()
    proc = h.start_otelc(batch_config(port, sink, signals, batch_yaml))
    return proc, h.Client(port)


def send_ok(t, c, sig, reqs, what):
    codes = [c.export(sig, r)[0] for r in reqs]
    return t.check(all(x == SC.OK for x in codes), "%s: every request answered OK" % what,
                   "codes %s" % [x.name for x in codes])


def check_all_arrived(t, sink, sig, sent, what, drop_ot=False):
    missing, extra = h.compare(sig, sent, sink.requests(sig), drop_ot)
    t.check(not missing and not extra, "%s: every %s item arrived exactly once" % (what, sig),
            h.diff_report(sig, missing, extra))


def sizes(sink, sig):
    return [h.count_items(sig, [r]) for r in sink.requests(sig)]


def test_size_trigger(t):
    """send_batch_size reached: sent at once although the timeout is long."""
    sink = h.Sink("size")
    proc, c = start(sink, ["traces", "logs"],
                    "    send_batch_size: 100\n    timeout: 60s\n")
    for sig, n_each in (("traces", 40), ("logs", 35)):
        reqs = [h.make_request(sig, n_each) for _ in range(3)]
        send_ok(t, c, sig, reqs[:2], "size trigger %s, below the size" % sig)
        time.sleep(0.7)
        t.eq(sink.count(sig), 0, "size trigger %s: nothing sent below send_batch_size" % sig)
        t0 = time.monotonic()
        send_ok(t, c, sig, reqs[2:], "size trigger %s, size reached" % sig)
        got = sink.wait_count(sig, 3 * n_each, 15)
        dt = time.monotonic() - t0
        t.eq(got, 3 * n_each, "size trigger %s: all items arrived" % sig)
        # the timeout is 60 s: arriving within 15 s means the size triggered the send
        t.check(dt < 15, "size trigger %s: sent %.2f s after the size was reached" % (sig, dt))
        # send_batch_size is a trigger, not a cap: the pending items leave together
        t.eq(sizes(sink, sig), [3 * n_each], "size trigger %s: one request of all pending items"
             % sig)
        check_all_arrived(t, sink, sig, reqs, "size trigger")
    h.stop_otelc(proc)


def test_timeout_trigger(t):
    """A few items, a short timeout: they arrive after about the timeout."""
    sink = h.Sink("timeout")
    timeout_s = 1.0
    proc, c = start(sink, ["traces", "metrics"],
                    "    send_batch_size: 100000\n    timeout: %dms\n" % (timeout_s * 1000))
    for sig in ("traces", "metrics"):
        reqs = [h.make_request(sig, 4), h.make_request(sig, 6)]
        t0 = time.monotonic()
        send_ok(t, c, sig, reqs, "timeout trigger %s" % sig)
        got = sink.wait_count(sig, 10, 20)
        dt = time.monotonic() - t0
        t.eq(got, 10, "timeout trigger %s: all items arrived" % sig)
        # never before the timeout; generous upper bound for a loaded machine
        t.check(timeout_s * 0.9 <= dt <= timeout_s + 8,
                "timeout trigger %s: arrived %.2f s after sending (timeout %.1f s)"
                % (sig, dt, timeout_s))
        t.eq(len(sink.requests(sig)), 1, "timeout trigger %s: both requests in one" % sig)
        check_all_arrived(t, sink, sig, reqs, "timeout trigger")
    h.stop_otelc(proc)


def test_max_size_split(t):
    """send_batch_max_size caps every sent request; nothing is lost."""
    sink = h.Sink("split")
    cap = 70
    proc, c = start(sink, ["traces", "metrics", "logs"],
                    "    send_batch_size: 50\n    send_batch_max_size: %d\n"
                    "    timeout: 500ms\n" % cap)
    cases = {
        "traces": [h.make_traces(500, n_resources=3, n_scopes=2), h.make_traces(33)],
        # metrics of 7 points each: a metric's points are split across requests
        "metrics": [h.make_metrics(301, n_resources=2, points_per_metric=7, rich=True)],
        "logs": [h.make_logs(260, n_resources=2, n_scopes=3)],
    }
    for sig, reqs in cases.items():
        want = h.count_items(sig, reqs)
        send_ok(t, c, sig, reqs, "split %s" % sig)
        got = sink.wait_count(sig, want, 20)
        t.eq(got, want, "split %s: all %d items arrived" % (sig, want))
        sz = sizes(sink, sig)
        t.check(sz and max(sz) <= cap, "split %s: no request above %d items (sizes %s)"
                % (sig, cap, sz))
        t.check(len(sz) >= -(-want // cap), "split %s: %d requests for %d items"
                % (sig, len(sz), want))
        check_all_arrived(t, sink, sig, reqs, "split")
    h.stop_otelc(proc)


def test_merge(t):
    """Requests received undecoded leave as one request holding all their
    resources, in order, equal ones not merged (as otelcol's batch processor
    appends them): the concatenation of the requests received."""
    sink = h.Sink("merge")
    proc, c = start(sink, ["traces", "logs", "metrics"],
                    "    send_batch_size: 100000\n    timeout: 3s\n")
    for sig in ("traces", "logs", "metrics"):
        rkey, _ = SIGNAL_KEYS[sig]
        same = [h.make_request(sig, 10) for _ in range(5)]
        grid = [h.make_request(sig, 12, n_resources=2, n_scopes=2) for _ in range(3)]
        send_ok(t, c, sig, same + grid, "merge %s" % sig)
        want = h.count_items(sig, same + grid)
        t.eq(sink.wait_count(sig, want, 20), want, "merge %s: all items arrived" % sig)
        reqs = sink.requests(sig)
        t.eq(len(reqs), 1, "merge %s: one request" % sig)
        if len(reqs) != 1:
            continue
        # same: 1 resource each; grid: 2 each
        t.eq(len(getattr(reqs[0], rkey)), 5 + 3 * 2,
             "merge %s: every request's resources, appended" % sig)
        whole = h.decode(sig, b"".join(r.SerializeToString() for r in same + grid))
        t.check(reqs[0] == whole, "merge %s: the requests' resources in order" % sig)
        check_all_arrived(t, sink, sig, same + grid, "merge")
    h.stop_otelc(proc)


def test_flush_on_sigterm(t):
    """Items held by a long timeout are sent before otelc exits with 0."""
    sink = h.Sink("flush")
    proc, c = start(sink, ["traces", "metrics", "logs"],
                    "    send_batch_size: 100000\n    timeout: 120s\n")
    sent = {s: [h.make_request(s, 25), h.make_request(s, 30)] for s in h.SIGNALS}
    for sig, reqs in sent.items():
        send_ok(t, c, sig, reqs, "flush %s" % sig)
    time.sleep(0.7)
    t.eq(sum(sink.count(s) for s in h.SIGNALS), 0, "flush: nothing sent before SIGTERM")
    dt = h.stop_otelc(proc, timeout=30)  # raises unless exit code 0
    t.check(True, "flush: otelc exited with 0 after SIGTERM (%.2f s)" % dt)
    for sig, reqs in sent.items():
        check_all_arrived(t, sink, sig, reqs, "flush on SIGTERM")


def test_top_level_pipeline_yaml(t):
    """The repository's pipeline.yaml (memory_limiter, probabilistic_sampler,
    truncate, dedup, batch) with its env overrides pointing at a sink."""
    sink = h.Sink("pipeline-yaml")
    port = h.free_port()
    path = os.path.join(h.SOURCE_DIR, "pipeline.yaml")
    with open(path) as f:
        text = f.read()
    env = {"OTELC_GRPC_ENDPOINT": "127.0.0.1:%d" % port, "OTLP_BACKEND": sink.endpoint,
           "OTELC_EXPORTER": "otlp", "OTELC_SAMPLING_PERCENTAGE": "100"}
    r = h.run_otelc(["validate", "--config", path], env=env)
    t.eq(r.returncode, 0, "pipeline.yaml validates with the sink overrides")
    r = h.run_otelc(["validate", "--config", path])
    t.eq(r.returncode, 0, "pipeline.yaml validates with its defaults")
    t.check("exporters: [debug]" in r.stdout and "batch]" in r.stdout,
            "pipeline.yaml: debug exporter by default, batch last", r.stdout + r.stderr)
    proc = h.start_otelc(text, port=port, env=env)
    c = h.Client(port)
    sent = {"traces": [h.make_traces(120, n_resources=2), h.make_traces(30, rich=True)],
            "metrics": [h.make_metrics(80, rich=True)],
            "logs": [h.make_logs(90, n_scopes=2)]}
    for sig, reqs in sent.items():
        send_ok(t, c, sig, reqs, "pipeline.yaml %s" % sig)
        # the same requests again, as a retrying client would: dedup drops them
        send_ok(t, c, sig, reqs, "pipeline.yaml %s resent" % sig)
    for sig, reqs in sent.items():
        want = h.count_items(sig, reqs)
        sink.wait_count(sig, want, 20)
    time.sleep(0.5)  # batch timeout is 200ms: anything duplicated would be here by now
    for sig, reqs in sent.items():
        # its probabilistic_sampler writes otelcol's ot=rv:..;th:0 on every span
        check_all_arrived(t, sink, sig, reqs, "pipeline.yaml", drop_ot=True)
    h.stop_otelc(proc)


def main(t):
    for fn in (test_size_trigger, test_timeout_trigger, test_max_size_split, test_merge,
               test_flush_on_sigterm, test_top_level_pipeline_yaml):
        h.log("# %s" % fn.__name__)
        fn(t)


if __name__ == "__main__":
    h.run_test(main, timeout=240)
