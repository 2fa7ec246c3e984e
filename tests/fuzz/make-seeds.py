#!/usr/bin/python3
"""make-seeds.py - writes the seed corpora in tests/fuzz/corpus/: serialized OTLP
Export requests of every shape the test harness builds, and the example configs.
Run from anywhere with Debian's python3 (python3-grpcio, python3-protobuf)."""
import base64
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import otlp_harness as h  # noqa: E402


def write(sig, name, msg):
    d = os.path.join(HERE, "corpus", sig)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(h.encode(msg))


ID_KEYS = ("traceId", "spanId", "parentSpanId")


def write_json(sig_index, name, msg):
    """An OTLP/JSON seed for fuzz_json: a signal byte, then the body."""
    from google.protobuf import json_format
    d = json_format.MessageToDict(msg, use_integers_for_enums=True)

    def fix(o):
        if isinstance(o, dict):
            return {k: (base64.b64decode(v).hex() if k in ID_KEYS and isinstance(v, str)
                        else fix(v)) for k, v in o.items()}
        if isinstance(o, list):
            return [fix(x) for x in o]
        return o
    d_ = os.path.join(HERE, "corpus", "json")
    os.makedirs(d_, exist_ok=True)
    with open(os.path.join(d_, name), "wb") as f:
        f.write(bytes([sig_index]) + json.dumps(fix(d)).encode())


def sampling_attrs():
    """Items carrying what changes a sampling decision: spans with
    sampling.priority or a tracestate, log records with sampling.threshold,
    sampling.randomness or a priority attribute, next to plain ones."""
    tr = h.make_traces(6)
    spans = tr.resource_spans[0].scope_spans[0].spans
    kv = spans[1].attributes.add()
    kv.key, kv.value.int_value = "sampling.priority", 0
    kv = spans[3].attributes.add()
    kv.key, kv.value.string_value = "sampling.priority", "2"
    spans[4].trace_state = "ot=th:8"
    lg = h.make_logs(6)
    recs = lg.resource_logs[0].scope_logs[0].log_records
    for i, r in enumerate(recs):
        r.trace_id = bytes([i + 1] * 16)
    for i, (key, val) in enumerate([("sampling.threshold", "8"), ("sampling.randomness", "1a2b3c4d5e6f70"),
                                    ("sampling.priority", "")]):
        kv = recs[2 * i].attributes.add()
        kv.key, kv.value.string_value = key, val
    return tr, lg


def duplicates():
    """Requests whose items repeat, in another scope and within one, so that
    the twin chains' dedup drops items (data points for metrics) and empties
    metrics and containers on both forms."""
    out = {}
    for sig, make in (("traces", lambda: h.make_traces(4, n_scopes=2)),
                      ("logs", lambda: h.make_logs(4, n_scopes=2, rich=True)),
                      ("metrics", lambda: h.make_metrics(10, n_scopes=2, rich=True))):
        req = make()
        group = {"traces": "spans", "logs": "logs", "metrics": "metrics"}[sig]
        rx = getattr(req, "resource_" + group)[0]
        scopes = getattr(rx, "scope_" + group)
        scopes[1].CopyFrom(scopes[0])  # the second scope repeats the first
        items = getattr(scopes[0], {"traces": "spans", "logs": "log_records", "metrics": "metrics"}[sig])
        items.add().CopyFrom(items[0])  # and one item repeats within it
        out[sig] = req
    return out


def write_duplicates():
    for sig, req in duplicates().items():
        write(sig, "duplicates", req)


def main():
    write_duplicates()
    tr, lg = sampling_attrs()
    write("traces", "sampling-attrs", tr)
    write("logs", "sampling-attrs", lg)
    write("traces", "small", h.make_traces(3))
    write("traces", "many-resources", h.make_traces(12, n_resources=3, n_scopes=2))
    write("traces", "tricky", h.make_tricky("traces"))
    write("logs", "small", h.make_logs(3))
    write("logs", "rich", h.make_logs(6, n_resources=2, n_scopes=2, rich=True))
    write("logs", "tricky", h.make_tricky("logs"))
    write("metrics", "small", h.make_metrics(3))
    write("metrics", "rich", h.make_metrics(8, n_resources=2, n_scopes=2, rich=True))
    write("metrics", "tricky", h.make_tricky("metrics"))
    write_json(0, "traces", h.make_traces(4, n_resources=2))
    write_json(1, "metrics", h.make_metrics(6, rich=True))
    write_json(2, "logs", h.make_logs(4, rich=True))
    write_json(0, "traces-tricky", h.make_tricky("traces", nul=False))
    cfg = os.path.join(HERE, "corpus", "config")
    os.makedirs(cfg, exist_ok=True)
    shutil.copy(os.path.join(HERE, "..", "..", "pipeline.yaml"), os.path.join(cfg, "pipeline.yaml"))
    shutil.copy(os.path.join(HERE, "..", "data", "config", "good.yaml"), os.path.join(cfg, "good.yaml"))
    with open(os.path.join(cfg, "processors.yaml"), "w") as f:
        f.write("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: ${env:OTC_FUZZ_VAR}\n"
                "processors:\n  batch:\n    timeout: 1s\n  dedup:\n    window: 10s\n"
                "  truncate:\n    max_value_length: 10\n  probabilistic_sampler:\n    sampling_percentage: 5\n"
                "  transform:\n    trace_statements: ['truncate_all(span.attributes, 4)']\n"
                "  memory_limiter:\n    check_interval: 1s\n    limit_mib: 100\n"
                "exporters:\n  debug:\n  file/x:\n    path: /dev/null\n"
                "service:\n  pipelines:\n    traces/a:\n      receivers: [otlp]\n"
                "      processors: [memory_limiter, probabilistic_sampler, transform, truncate, dedup, batch]\n"
                "      exporters: [debug, file/x]\n")


if __name__ == "__main__":
    main()
