# test_e2e_signals.py: traces, metrics and logs from a python gRPC client
# through the real otelc (otlp receiver -> otlp exporter) into the python sink;
# what arrives must equal what was sent, compared by decoded content.
# SPDX-License-Identifier: Apache-2.0
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402


def run_case(t, exporter_compression):
    sink = h.Sink("sink-" + exporter_compression)
    port = h.free_port()
    cfg = h.config_yaml(port, h.otlp_exporter_yaml("otlp/sink", sink.port,
                                                   compression=exporter_compression),
                        {s: ["otlp/sink"] for s in h.SIGNALS})
    proc = h.start_otelc(cfg)
    client = h.Client(port)
    sent = {s: [] for s in h.SIGNALS}
    bad_calls = []
    calls = 0
    # Several requests per signal, plain and gzip, of varied shapes: small,
    # multi-resource/multi-scope with every attribute kind, and a larger one.
    shapes = [dict(n=1), dict(n=5, n_resources=2, n_scopes=2, rich=True),
              dict(n=40, n_resources=3, n_scopes=1, rich=True), dict(n=200)]
    for sig in h.SIGNALS:
        for comp in (None, "gzip"):
            for shape in shapes:
                kw = dict(shape)
                n = kw.pop("n")
                req = h.make_request(sig, n, **kw)
                code, resp, details = client.export_full(sig, req, compression=comp, timeout=10)
                calls += 1
                if code != h.grpc.StatusCode.OK:
                    bad_calls.append((sig, comp, n, code, details))
                else:
                    sent[sig].append(req)
                    ps = resp.partial_success
                    if ps.ListFields():
                        bad_calls.append((sig, comp, n, "partial_success", str(ps)))
        for comp in (None, "gzip"):
            req = h.make_tricky(sig)
            code, resp, details = client.export_full(sig, req, compression=comp, timeout=10)
            calls += 1
            if code != h.grpc.StatusCode.OK:
                bad_calls.append((sig, comp, "tricky values", code, details))
            else:
                sent[sig].append(req)
    t.check(not bad_calls, "[exporter compression=%s] all %d export calls answered OK "
            "without partial_success" % (exporter_compression, calls), bad_calls)

    for sig in h.SIGNALS:
        want = h.count_items(sig, sent[sig])
        got = sink.wait_count(sig, want, timeout=15)
        # a short settle so that duplicates would show
        time.sleep(0.3)
        got = sink.count(sig)
        t.eq(got, want, "[exporter compression=%s] %s item count at the sink"
             % (exporter_compression, sig))
        missing, extra = h.compare(sig, sent[sig], sink.requests(sig))
        t.check(not missing and not extra,
                "[exporter compression=%s] %s content at the sink equals what was sent"
                % (exporter_compression, sig), h.diff_report(sig, missing, extra))
    t.check(not sink.decode_errors, "sink decoded every request otelc sent", sink.decode_errors[:3])
    client.close()
    elapsed = h.stop_otelc(proc)
    t.check(True, "otelc exited 0 on SIGTERM in %.2f s" % elapsed)
    sink.stop()


def retry_semantics(t):
    """Retryable sink errors are retried until delivered (exactly once);
    permanent ones are dropped after one attempt and do not block later data."""
    SC = h.grpc.StatusCode
    sink = h.Sink("sink-retry")
    port = h.free_port()
    cfg = h.config_yaml(port, h.otlp_exporter_yaml("otlp/sink", sink.port, timeout="2s",
                                                   initial_interval="50ms", max_interval="200ms"),
                        {s: ["otlp/sink"] for s in h.SIGNALS})
    proc = h.start_otelc(cfg)
    client = h.Client(port)
    for code in (SC.UNAVAILABLE, SC.DEADLINE_EXCEEDED, SC.ABORTED):
        for sig in h.SIGNALS:
            sink.clear()
            sink.fail_next(3, code)
            req = h.make_request(sig, 10)
            rc, _ = client.export(sig, req)
            n = h.count_items(sig, [req])
            sink.wait_count(sig, n, 10)
            time.sleep(0.2)
            missing, extra = h.compare(sig, [req], sink.requests(sig))
            t.check(rc == SC.OK and not missing and not extra and sink.attempts[sig] == 4,
                    "sink answers %s 3 times: otelc retries and %s arrive exactly once "
                    "(attempts %d, want 4)" % (code.name, sig, sink.attempts[sig]),
                    h.diff_report(sig, missing, extra))
    for code in (SC.INVALID_ARGUMENT, SC.PERMISSION_DENIED, SC.UNIMPLEMENTED, SC.RESOURCE_EXHAUSTED):
        sig = "logs"
        sink.clear()
        sink.fail_next(1, code)
        dropped = h.make_logs(5)
        client.export(sig, dropped)
        h.wait_until(lambda: sink.attempts[sig] >= 1, 5)
        later = h.make_logs(5)
        rc, _ = client.export(sig, later)
        sink.wait_count(sig, 5, 10)
        time.sleep(0.5)
        missing, extra = h.compare(sig, [later], sink.requests(sig))
        t.check(sink.attempts[sig] == 2 and not missing and not extra,
                "sink answers %s (no RetryInfo): otelc does not retry (attempts %d, want 2) "
                "and later data still arrives" % (code.name, sink.attempts[sig]),
                h.diff_report(sig, missing, extra))
    client.close()
    h.stop_otelc(proc)
    sink.stop()


def main(t):
    run_case(t, "none")
    run_case(t, "gzip")
    retry_semantics(t)


if __name__ == "__main__":
    h.run_test(main)
