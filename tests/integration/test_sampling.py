# test_sampling.py: the probabilistic_sampler through the real otelc binary.
# Phase 3: proportional and equalizing modes side by side against a reference
# of the consistent scheme (kept set and written tracestate, logs too).
# Traces of several spans are sent with the spans of each trace spread over
# different requests (and, in phase 1, over two otelc instances sharing a
# seed); every trace arrives whole or not at all, the kept fraction is within
# 1 percentage point of sampling_percentage, and the kept set is exactly what
# a Python reference of otelcol's hash_seed algorithm selects.
# SPDX-License-Identifier: Apache-2.0
import collections
import math
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OK = h.grpc.StatusCode.OK
SPANS_PER_REQUEST = 1000


# ---- reference: otelcol-contrib probabilisticsamplerprocessor, hash_seed mode.
# computeHash: FNV-1a 32 over the seed as 4 little-endian bytes, then the trace
# id. Kept when (hash & 0x3FFF) < uint32(float32(pct) * float32(0x4000 / 100.0)),
# the product taken in float32 and truncated toward zero; pct above 100 is 100.

def fnv1a32(data):
    hsh = 0x811C9DC5
    for b in data:
        hsh = ((hsh ^ b) * 0x01000193) & 0xFFFFFFFF
    return hsh


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def scaled_rate(pct):
    pct = min(f32(float(pct)), 100.0)
    # the exact product of two float32 values fits a double; rounding it once
    # to float32 is float32 multiplication
    return int(f32(pct * f32(0x4000 / 100.0)))


def ref_keep(seed, trace_id, scaled):
    return (fnv1a32(struct.pack("<I", seed) + trace_id) & 0x3FFF) < scaled


# ---- traffic

def sampler_config(port, sink, pct, seed):
    return ("receivers:\n  otlp:\n    protocols:\n      grpc:\n"
            "        endpoint: 127.0.0.1:%d\n"
            "processors:\n  probabilistic_sampler:\n"
            "    sampling_percentage: %s\n    hash_seed: %d\n"
            "exporters:\n%s"
            "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
            "      processors: [probabilistic_sampler]\n      exporters: [otlp/sink]\n"
            % (port, pct, seed, h.otlp_exporter_yaml("otlp/sink", sink.port)))


def make_trace_ids(rng, n):
    ids = set()
    while len(ids) < n:
        tid = rng.getrandbits(128).to_bytes(16, "little")
        if any(tid):
            ids.add(tid)
    return sorted(ids)


def span_requests(rng, trace_ids, which):
    """Requests holding span j of every trace for each j in `which`, in a
    shuffled order, SPANS_PER_REQUEST spans per request: the spans of one
    trace always travel in different requests."""
    t0 = time.time_ns()
    spans = [(tid, j) for j in which for tid in trace_ids]
    rng.shuffle(spans)
    reqs = []
    for k in range(0, len(spans), SPANS_PER_REQUEST):
        req = h.pb.request["traces"]()
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(h.attrs({"service.name": "sampling-it"}))
        ss = rs.scope_spans.add()
        ss.scope.name = "sampling-it"
        for tid, j in spans[k:k + SPANS_PER_REQUEST]:
            ss.spans.add(trace_id=tid, span_id=struct.pack(">Q", j + 1),
                         name="span-%d" % j, start_time_unix_nano=t0 + j,
                         end_time_unix_nano=t0 + j + 1000)
        reqs.append(req)
    return reqs


def send_all(t, clients, reqs_per_client, label):
    bad = []
    n = 0
    for client, reqs in zip(clients, reqs_per_client):
        for req in reqs:
            # UNAVAILABLE is otelc's backpressure (pipeline queue full): retried
            code, _ = client.export_retrying("traces", req, timeout=20)
            n += 1
            if code != OK:
                bad.append(code.name)
    t.check(not bad, "%s: %d requests answered OK" % (label, n), bad[:5])


def received_traces(sink):
    """{trace id: Counter of span ids} over everything the sink received."""
    got = collections.defaultdict(collections.Counter)
    for req in sink.requests("traces"):
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    got[sp.trace_id][sp.span_id] += 1
    return got


def check_phase(t, sink, trace_ids, spans_per_trace, pct, seed, label):
    scaled = scaled_rate(pct)
    want = {tid for tid in trace_ids if ref_keep(seed, tid, scaled)}
    n_want = len(want) * spans_per_trace
    got_n = sink.wait_count("traces", n_want, 60)
    time.sleep(0.5)  # anything beyond the expected count would arrive now
    got_n = sink.count("traces")
    got = received_traces(sink)
    t.eq(got_n, n_want, "%s: spans received equal the spans of the reference's kept traces" % label)
    partial = [tid.hex() for tid, c in got.items()
               if len(c) != spans_per_trace or any(v != 1 for v in c.values())]
    t.check(not partial, "%s: every kept trace arrived whole, each span once (%d traces)"
            % (label, len(got)), "partial or duplicated traces, e.g. %s" % partial[:5])
    got_set = set(got)
    t.check(got_set == want, "%s: kept traces equal the otelcol hash_seed reference (seed %d, "
            "%s%%, 14-bit threshold %d of 16384)" % (label, seed, pct, scaled),
            "%d kept that the reference drops, %d dropped that the reference keeps"
            % (len(got_set - want), len(want - got_set)))
    n = len(trace_ids)
    frac = 100.0 * len(got_set) / n
    sd = 100.0 * math.sqrt(float(pct) / 100 * (1 - float(pct) / 100) / n)
    t.check(abs(frac - float(pct)) <= 1.0, "%s: kept %.2f%% of %d traces, setting %s%% "
            "(within 1 point; binomial sd %.2f points)" % (label, frac, n, pct, sd))


def main(t):
    rng = random.Random(0x5A3D1E)  # reproducible trace ids

    # ---- phase 1: two collectors with the same seed each get half of every
    # trace's spans; together they must keep or drop each trace whole.
    sink = h.Sink("sink")
    n_traces, spans_per_trace, pct, seed = 20000, 4, "25", 0
    ports = [h.free_port(), h.free_port()]
    procs = [h.start_otelc(sampler_config(p, sink, pct, seed)) for p in ports]
    clients = [h.Client(p) for p in ports]
    ids = make_trace_ids(rng, n_traces)
    reqs_a = span_requests(rng, ids, (0, 2))
    reqs_b = span_requests(rng, ids, (1, 3))
    t0 = time.monotonic()
    send_all(t, clients, [reqs_a, reqs_b], "phase 1 (2 collectors)")
    check_phase(t, sink, ids, spans_per_trace, pct, seed, "phase 1 (2 collectors, seed 0, 25%)")
    h.log("phase 1: %d spans in %.1f s" % (n_traces * spans_per_trace, time.monotonic() - t0))
    for c in clients:
        c.close()
    for p in procs:
        h.stop_otelc(p)

    # ---- phase 2: one collector, a non-zero seed above 2^31, a percentage
    # that is not a whole number of 14-bit buckets.
    sink.clear()
    n_traces, spans_per_trace, pct, seed = 20000, 3, "33.3", 3735928559
    port = h.free_port()
    proc = h.start_otelc(sampler_config(port, sink, pct, seed))
    client = h.Client(port)
    ids = make_trace_ids(rng, n_traces)
    reqs = span_requests(rng, ids, range(spans_per_trace))
    send_all(t, [client], [reqs], "phase 2")
    check_phase(t, sink, ids, spans_per_trace, pct, seed, "phase 2 (seed 3735928559, 33.3%)")
    # the same traces with the seed the reference would use by mistake (0)
    # would be another set: the check above can tell seeds apart
    other = {tid for tid in ids if ref_keep(0, tid, scaled_rate(pct))}
    mine = {tid for tid in ids if ref_keep(seed, tid, scaled_rate(pct))}
    t.check(other != mine, "phase 2: the reference's kept set depends on the seed")
    client.close()
    h.stop_otelc(proc)


# ---- reference: the OpenTelemetry consistent scheme (proportional, equalizing).
# Randomness: the last 7 bytes of the trace id, or the tracestate's rv; kept
# when randomness >= threshold; a kept span's tracestate gets th (hex digits,
# trailing zeros dropped) and keeps the other members after "ot".

def w3c_randomness(tid):
    return int.from_bytes(tid[9:], "big")


def phase_consistent(t, rng):
    """proportional 25% and equalizing 25% side by side: spans arriving
    unsampled, or with ot=th:8 (sampled at 50% before), with and without
    another vendor's member; log records too."""
    sink = h.Sink("consistent")
    port = h.free_port()
    text = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "processors:\n"
            "  probabilistic_sampler/p:\n    mode: proportional\n    sampling_percentage: 25\n"
            "  probabilistic_sampler/e:\n    mode: equalizing\n    sampling_percentage: 25\n"
            "  attributes/p:\n    actions: [{key: via, value: p, action: insert}]\n"
            "  attributes/e:\n    actions: [{key: via, value: e, action: insert}]\n"
            "exporters:\n%s"
            "service:\n  pipelines:\n"
            "    traces/p:\n      receivers: [otlp]\n      processors: [probabilistic_sampler/p, attributes/p]\n"
            "      exporters: [otlp/sink]\n"
            "    traces/e:\n      receivers: [otlp]\n      processors: [probabilistic_sampler/e, attributes/e]\n"
            "      exporters: [otlp/sink]\n"
            "    logs/p:\n      receivers: [otlp]\n      processors: [probabilistic_sampler/p, attributes/p]\n"
            "      exporters: [otlp/sink]\n"
            % (port, h.otlp_exporter_yaml("otlp/sink", sink.port)))
    proc = h.start_otelc(text, port=port)
    client = h.Client(port)
    ids = make_trace_ids(rng, 4000)
    req = h.make_traces(len(ids))
    spans = req.resource_spans[0].scope_spans[0].spans
    want = {}
    for i, (sp, tid) in enumerate(zip(spans, ids)):
        sp.trace_id = tid
        arriving = ["", "ot=th:8", "vendor=x", "ot=th:8,vendor=x"][i % 4]
        sp.trace_state = arriving
        r = w3c_randomness(tid)
        incoming_th = 0x80000000000000 if "th:8" in arriving else 0
        rest = ",vendor=x" if "vendor" in arriving else ""
        if r >= incoming_th:  # what an honest upstream sampler let through
            # proportional: 25% of what arrived (50% -> 12.5%, th e)
            th_p = 0xc0000000000000 if not incoming_th else 0xe0000000000000
            if r >= th_p:
                want[(sp.span_id, "p")] = ("ot=th:%s" % ("c" if not incoming_th else "e")) + rest
            # equalizing: 25% whatever arrived (th c)
            if r >= 0xc0000000000000:
                want[(sp.span_id, "e")] = "ot=th:c" + rest
        else:
            sp.trace_state = ""  # no inconsistent thresholds in this phase
            if r >= 0xc0000000000000:
                want[(sp.span_id, "p")] = "ot=th:c"
                want[(sp.span_id, "e")] = "ot=th:c"
    code = client.call(h.METHOD["traces"], req.SerializeToString(), timeout=20)[0]
    t.check(code.name == "OK", "consistent modes: traces answered OK (%s)" % code.name)
    logs = h.make_logs(2000)
    recs = logs.resource_logs[0].scope_logs[0].log_records
    lids = make_trace_ids(rng, len(recs))
    want_logs = set()
    for lr, tid in zip(recs, lids):
        lr.trace_id = tid
        if w3c_randomness(tid) >= 0xc0000000000000:
            want_logs.add(tid)
    code = client.call(h.METHOD["logs"], logs.SerializeToString(), timeout=20)[0]
    t.check(code.name == "OK", "consistent modes: logs answered OK (%s)" % code.name)
    sink.wait_count("traces", len(want), 30)
    sink.wait_count("logs", len(want_logs), 30)
    time.sleep(0.5)
    got = {}
    for r in sink.requests("traces"):
        r = h.decode("traces", r) if isinstance(r, (bytes, bytearray)) else r
        for rs in r.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    via = [a.value.string_value for a in sp.attributes if a.key == "via"][0]
                    got[(sp.span_id, via)] = sp.trace_state
    t.check(got == want, "proportional and equalizing 25%%: the kept spans and their tracestates "
            "equal the reference (%d kept of %d x 2; %d got, %d differ)"
            % (len(want), len(ids), len(got),
               len(set(got.items()) ^ set(want.items()))),
            sorted(set(got.items()) ^ set(want.items()))[:5])
    frac = sum(1 for k in want if k[1] == "p") / len(ids)
    t.check(0.15 < frac < 0.35, "proportional kept %.1f%% of spans arriving at 100%%/50%%" % (100 * frac))
    got_logs, bad = set(), []
    for r in sink.requests("logs"):
        r = h.decode("logs", r) if isinstance(r, (bytes, bytearray)) else r
        for rl in r.resource_logs:
            for sl in rl.scope_logs:
                for lr in sl.log_records:
                    got_logs.add(bytes(lr.trace_id))
                    th = [a.value.string_value for a in lr.attributes if a.key == "sampling.threshold"]
                    if th != ["c"]:
                        bad.append(th)
    t.check(got_logs == want_logs and not bad,
            "proportional 25%%: the kept log records (%d of %d) are the reference's, each with "
            "sampling.threshold c" % (len(got_logs), len(recs)), bad[:3])
    client.close()
    h.stop_otelc(proc)


def main_all(t):
    main(t)
    phase_consistent(t, random.Random(7))


if __name__ == "__main__":
    h.run_test(main_all, timeout=300)
