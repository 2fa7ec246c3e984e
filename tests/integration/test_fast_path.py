#!/usr/bin/python3
"""test_fast_path.py - the receive fast path (a clean request forwarded
undecoded) and the decoding path (stages that read every item, then the batch
processor re-encoding) deliver the same telemetry for the same input, for all
three signals, including edge-case values, invalid UTF-8 (repaired) and bad ids
(dropped with partial_success) on both."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402


def config(port_a, port_b, sink_a, sink_b):
    sigs = "traces", "metrics", "logs"
    text = ("receivers:\n"
            "  otlp/fast:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "  otlp/decode:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "processors:\n"
            "  probabilistic_sampler:\n    sampling_percentage: 100\n"
            "  truncate:\n    max_value_length: 1000000\n"
            "  dedup:\n    window: 1h\n"
            "  batch:\n    timeout: 100ms\n"
            "exporters:\n" % (port_a, port_b)
            + h.otlp_exporter_yaml("otlp/fast", sink_a.port)
            + h.otlp_exporter_yaml("otlp/decode", sink_b.port)
            + "service:\n  pipelines:\n")
    for s in sigs:
        # stages that read every item and keep them all (logs without a trace id
        # would meet the sampler's fail_closed; equal log records, dedup)
        procs = "[probabilistic_sampler, truncate, dedup, batch]" if s == "traces" else \
                "[truncate, batch]"
        text += ("    %s/fast:\n      receivers: [otlp/fast]\n      exporters: [otlp/fast]\n"
                 "    %s/decode:\n      receivers: [otlp/decode]\n      processors: %s\n"
                 "      exporters: [otlp/decode]\n" % (s, s, procs))
    return text


def bad_utf8_traces():
    req = h.make_traces(3)
    raw = bytearray(req.SerializeToString())
    i = raw.find(b"otelc")  # a string field: make one byte invalid UTF-8
    raw[i] = 0xff
    return bytes(raw)


def main(t):
    sink_a, sink_b = h.Sink(), h.Sink()
    port_a, port_b = h.free_port(), h.free_port()
    proc = h.start_otelc(config(port_a, port_b, sink_a, sink_b), port=port_a)
    ca, cb = h.Client(port_a), h.Client(port_b)
    sent = {
        "traces": [h.make_traces(50, n_resources=2, n_scopes=2), h.make_tricky("traces", nul=False)],
        "metrics": [h.make_metrics(40, n_resources=2, rich=True), h.make_tricky("metrics", nul=False)],
        "logs": [h.make_logs(30, n_resources=2, rich=True), h.make_tricky("logs", nul=False)],
    }
    for sig, reqs in sent.items():
        for req in reqs:
            data = req.SerializeToString()
            ra = ca.call(h.METHOD[sig], data, timeout=10)
            rb = cb.call(h.METHOD[sig], data, timeout=10)
            t.check(ra[0].name == "OK" and rb[0].name == "OK" and ra[1] == rb[1],
                    "%s: both paths answer OK with the same response (%s / %s)"
                    % (sig, ra[0].name, rb[0].name))
    # invalid UTF-8: both paths repair it the same way
    bad = bad_utf8_traces()
    ra, rb = ca.call(h.METHOD["traces"], bad, timeout=10), cb.call(h.METHOD["traces"], bad, timeout=10)
    t.check(ra[0].name == rb[0].name == "OK", "invalid UTF-8 accepted on both paths")
    # a span with a 3-byte trace id: dropped with partial_success on both
    bad_ids = h.make_traces(4)
    bad_ids.resource_spans[0].scope_spans[0].spans[1].trace_id = b"abc"
    data = bad_ids.SerializeToString()
    ra, rb = ca.call(h.METHOD["traces"], data, timeout=10), cb.call(h.METHOD["traces"], data, timeout=10)
    t.check(ra[0].name == rb[0].name == "OK" and ra[1] == rb[1] and ra[1],
            "bad ids: the same partial_success on both paths (%r)" % (ra[1][:40],))
    for sig in sent:
        want = len(h.flatten(sig, sent[sig])) + (3 + 3 if sig == "traces" else 0)
        sink_a.wait_count(sig, want, 15)
        sink_b.wait_count(sig, want, 15)
        # the decoding path has a probabilistic_sampler, which writes otelcol's ot= member
        a, b = sink_a.items(sig), sink_b.items(sig, drop_ot=True)
        t.check(len(a) == want and a == b,
                "%s: the fast path and the decoding path deliver the same %d items (%d / %d)"
                % (sig, want, len(a), len(b)))
    ca.close()
    cb.close()
    h.stop_otelc(proc)
    sink_a.stop()
    sink_b.stop()


if __name__ == "__main__":
    h.run_test(main)
