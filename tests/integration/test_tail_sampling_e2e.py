# test_tail_sampling_e2e.py: the tail_sampling processor through the real otelc
# binary over loopback, with configs as users write them.
#   phase 1: the example config of otelcol-contrib's tailsamplingprocessor README
#            (processor/tailsamplingprocessor/README.md, "Examples"), with a short
#            decision_wait: always_sample keeps every trace whole except those the
#            drop policy matches (url.path /health, /metrics by regex).
#   phase 2: status_code, latency, string_attribute, numeric_attribute and
#            probabilistic together; the spans of each trace are spread over
#            several requests; the kept traces must be exactly the union the test
#            computes itself (probabilistic with a Python FNV-1a 64 and Go's
#            big.Float threshold), each whole, and late spans follow the cached
#            decision.
#   phase 3: rate_limiting keeps the first traces that fit spans_per_second (one
#            shard: exactly the first ones, in arrival order; 8 shards: as many).
#   phase 4: shutdown decides and sends traces still held (decision_wait 60s).
# SPDX-License-Identifier: Apache-2.0
import collections
import hashlib
import math
import os
import struct
import sys
import time
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OK = h.grpc.StatusCode.OK

# ---- reference: otelcol-contrib's probabilistic tail-sampling policy.
# hash = FNV-1a 64 over the salt then the 16 trace-id bytes; sampled when
# hash <= threshold, threshold = MaxUint64 * (pct / 100) computed in Go's
# big.Float: the exact product rounded to a 64-bit mantissa (nearest even),
# then truncated to an integer and clamped to MaxUint64.
MAX64 = 2**64 - 1


def fnv1a64(data):
    hsh = 0xCBF29CE484222325
    for b in data:
        hsh = ((hsh ^ b) * 0x100000001B3) & MAX64
    return hsh


def go_threshold(pct):
    ratio = float(pct) / 100
    if not ratio > 0:
        return 0
    exact = Fraction(MAX64) * Fraction(ratio)
    e = exact.numerator.bit_length() - exact.denominator.bit_length()
    while Fraction(2) ** e > exact:
        e -= 1
    while Fraction(2) ** (e + 1) <= exact:
        e += 1
    scale = Fraction(2) ** (e - 63)
    q = exact / scale
    fl = math.floor(q)
    rem = q - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    return min(math.floor(fl * scale), MAX64)


def prob_keep(tid, pct, salt="default-hash-seed"):
    return fnv1a64(salt.encode() + tid) <= go_threshold(pct)


# ---- configs

def pipeline_yaml(port, sink, processor_yaml):
    return ("receivers:\n  otlp:\n    protocols:\n      grpc:\n"
            "        endpoint: 127.0.0.1:%d\n"
            "processors:\n%s"
            "exporters:\n%s"
            "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n"
            "      processors: [tail_sampling]\n      exporters: [otlp/sink]\n"
            % (port, processor_yaml, h.otlp_exporter_yaml("otlp/sink", sink.port)))


# The README's example as written there (flow style), decision_wait shortened.
README_EXAMPLE = r"""  tail_sampling:
    decision_wait: 2s
    num_traces: 100
    expected_new_traces_per_sec: 10
    decision_cache:
      sampled_cache_size: 100_000
      non_sampled_cache_size: 100_000
    policies:
      [
          {
            name: test-policy-1,
            type: always_sample
          },
          {
            name: test-policy-2,
            type: latency,
            latency: {threshold_ms: 5000, upper_threshold_ms: 10000}
          },
          {
            name: test-policy-3,
            type: numeric_attribute,
            numeric_attribute: {key: key1, min_value: 50, max_value: 100}
          },
          {
            name: test-policy-4,
            type: probabilistic,
            probabilistic: {sampling_percentage: 10}
          },
          {
            name: test-policy-5,
            type: status_code,
            status_code: {status_codes: [ERROR, UNSET]}
          },
          {
            name: test-policy-6,
            type: string_attribute,
            string_attribute: {key: key2, values: [value1, value2]}
          },
          {
            name: test-policy-7,
            type: string_attribute,
            string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}
          },
          {
            name: test-policy-8,
            type: rate_limiting,
            rate_limiting: {spans_per_second: 35}
         },
         {
            name: test-policy-9,
            type: bytes_limiting,
            bytes_limiting: {bytes_per_second: 1024000, burst_capacity: 2048000}
         },
         {
            name: test-policy-10,
            type: span_count,
            span_count: {min_spans: 2, max_spans: 20}
         },
         {
             name: test-policy-11,
             type: trace_state,
             trace_state: { key: key3, values: [value1, value2] }
         },
         {
              name: test-policy-12,
              type: boolean_attribute,
              boolean_attribute: {key: key4, value: true}
         },
         {
              name: test-policy-13,
              type: ottl_condition,
              ottl_condition: {
                   error_mode: ignore,
                   span: [
                        "attributes[\"test_attr_key_1\"] == \"test_attr_val_1\"",
                        "attributes[\"test_attr_key_2\"] != \"test_attr_val_1\"",
                   ],
                   spanevent: [
                        "name != \"test_span_event_name\"",
                        "attributes[\"test_event_attr_key_2\"] != \"test_event_attr_val_1\"",
                   ]
              }
         },
         {
            name: and-policy-1,
            type: and,
            and: {
              and_sub_policy:
              [
                {
                  name: test-and-policy-1,
                  type: numeric_attribute,
                  numeric_attribute: { key: key1, min_value: 50, max_value: 100 }
                },
                {
                    name: test-and-policy-2,
                    type: string_attribute,
                    string_attribute: { key: key2, values: [ value1, value2 ] }
                },
              ]
            }
         },
         {
            name: drop-policy-1,
            type: drop,
            drop: {
              drop_sub_policy:
              [
                {
                    name: test-drop-policy-1,
                    type: string_attribute,
                    string_attribute: {key: url.path, values: [\/health, \/metrics], enabled_regex_matching: true}
                }
              ]
            }
         },
         {
            name: composite-policy-1,
            type: composite,
            composite:
              {
                max_total_spans_per_second: 1000,
                policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3],
                composite_sub_policy:
                  [
                    {
                      name: test-composite-policy-1,
                      type: numeric_attribute,
                      numeric_attribute: {key: key1, min_value: 50}
                    },
                    {
                      name: test-composite-policy-2,
                      type: string_attribute,
                      string_attribute: {key: key2, values: [value1, value2]}
                    },
                    {
                      name: test-composite-policy-3,
                      type: always_sample
                    }
                  ],
                rate_allocation:
                  [
                    {
                      policy: test-composite-policy-1,
                      percent: 50
                    },
                    {
                      policy: test-composite-policy-2,
                      percent: 25
                    }
                  ]
              }
          },
        ]
"""

PHASE2 = """  tail_sampling:
    decision_wait: 2s
    decision_cache:
      sampled_cache_size: 10000
      non_sampled_cache_size: 10000
    policies:
      - name: errors
        type: status_code
        status_code:
          status_codes: [ERROR]
      - name: slow
        type: latency
        latency:
          threshold_ms: 500
      - name: checkout
        type: string_attribute
        string_attribute:
          key: http.route
          values: ["^/checkout/"]
          enabled_regex_matching: true
      - name: server-errors
        type: numeric_attribute
        numeric_attribute:
          key: http.status_code
          min_value: 500
          max_value: 599
      - name: some
        type: probabilistic
        probabilistic:
          sampling_percentage: 12.5
"""


# ---- traffic

def trace_id(label, i):
    return hashlib.sha256(("%s-%d" % (label, i)).encode()).digest()[:16]


def new_request():
    req = h.pb.request["traces"]()
    return req


def add_span(req, tid, j, res_name="tail-it", dur_ms=1, status=0, attrs=None, parent=True):
    """Append span j of trace tid to req, under a resource named res_name."""
    rs = None
    for r in req.resource_spans:
        if r.resource.attributes[0].value.string_value == res_name:
            rs = r
    if rs is None:
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(h.attrs({"service.name": res_name}))
        rs.scope_spans.add().scope.name = "tail-it"
    t0 = time.time_ns()
    sp = rs.scope_spans[0].spans.add(trace_id=tid, span_id=struct.pack(">Q", j + 1),
                                      name="span-%d" % j, start_time_unix_nano=t0,
                                      end_time_unix_nano=t0 + dur_ms * 1000000)
    if parent:
        sp.parent_span_id = struct.pack(">Q", 999)
    if status:
        sp.status.code = status
    if attrs:
        sp.attributes.extend(h.attrs(attrs))
    return sp


def received_traces(sink):
    got = collections.defaultdict(collections.Counter)
    for req in sink.requests("traces"):
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    got[sp.trace_id][sp.span_id] += 1
    return got


def send(t, client, reqs, label):
    bad = []
    for req in reqs:
        code, _ = client.export_retrying("traces", req, timeout=20)
        if code != OK:
            bad.append(code.name)
    t.check(not bad, "%s: %d requests answered OK" % (label, len(reqs)), bad[:5])


def check_kept(t, sink, want, spans_per_trace, label, settle=1.0):
    n_want = sum(spans_per_trace[tid] for tid in want)
    sink.wait_count("traces", n_want, 30)
    time.sleep(settle)  # anything beyond the expected count would arrive now
    got = received_traces(sink)
    t.check(set(got) == set(want), "%s: the kept traces are exactly the expected %d" % (label, len(want)),
            "%d kept that should not be, %d missing" % (len(set(got) - set(want)), len(set(want) - set(got))))
    partial = [tid.hex() for tid, c in got.items()
               if len(c) != spans_per_trace.get(tid, -1) or any(v != 1 for v in c.values())]
    t.check(not partial, "%s: every kept trace arrived whole, each span once" % label, partial[:5])


def phase1(t, sink):
    port = h.free_port()
    proc = h.start_otelc(pipeline_yaml(port, sink, README_EXAMPLE))
    client = h.Client(port)
    ids = [trace_id("p1", i) for i in range(60)]
    spans = {}
    reqs = [new_request(), new_request(), new_request()]
    want = set()
    for i, tid in enumerate(ids):
        path = ["/health", "/metrics", "/api/orders", "/api/users"][i % 4]
        spans[tid] = 3
        for j in range(3):
            add_span(reqs[j], tid, j, attrs={"url.path": path} if j == 1 else None, parent=j > 0)
        if path not in ("/health", "/metrics"):
            want.add(tid)
    send(t, client, reqs, "phase 1 (README example)")
    check_kept(t, sink, want, spans, "phase 1 (README example: always_sample, drop /health and /metrics)")
    client.close()
    h.stop_otelc(proc)


def phase2(t, sink):
    port = h.free_port()
    proc = h.start_otelc(pipeline_yaml(port, sink, PHASE2))
    client = h.Client(port)
    n = 400
    ids = [trace_id("p2", i) for i in range(n)]
    spans = {}
    want = set()
    reqs = [new_request() for _ in range(4)]
    kinds = collections.Counter()
    for i, tid in enumerate(ids):
        kind = ["error", "slow", "checkout", "5xx", "404", "plain", "plain", "plain"][i % 8]
        k = 2 + i % 3
        spans[tid] = k
        for j in range(k):
            status = 2 if (kind == "error" and j == k - 1) else 1
            dur = 800 if (kind == "slow" and j == 0) else 5
            attrs = None
            if j == 1 and kind == "checkout":
                attrs = {"http.route": "/checkout/cart"}
            elif j == 1 and kind == "5xx":
                attrs = {"http.status_code": 503}
            elif j == 1 and kind == "404":
                attrs = {"http.status_code": 404, "http.route": "/catalog/checkout/"}
            add_span(reqs[(i + j) % 4], tid, j, res_name="svc-%d" % (j % 2), dur_ms=dur, status=status,
                     attrs=attrs, parent=j > 0)
        keep = kind in ("error", "slow", "checkout", "5xx") or prob_keep(tid, 12.5)
        if keep:
            want.add(tid)
            kinds["prob" if kind not in ("error", "slow", "checkout", "5xx") else kind] += 1
    h.log("phase 2: expected kept by kind: %s" % dict(kinds))
    t.check(kinds["prob"] > 0, "phase 2: the probabilistic policy alone keeps some traces (%d)" % kinds["prob"])
    send(t, client, reqs, "phase 2")
    check_kept(t, sink, want, spans, "phase 2 (status_code, latency, string regex, numeric, probabilistic 12.5%)")

    # late spans: one more span per trace; kept traces' spans go straight on,
    # the others' are dropped by the non-sampled cache
    before = sink.count("traces")
    late = new_request()
    for tid in ids[:80]:
        add_span(late, tid, 50)
    send(t, client, [late], "phase 2 late spans")
    n_late = sum(1 for tid in ids[:80] if tid in want)
    sink.wait_count("traces", before + n_late, 10)
    time.sleep(0.5)
    got = received_traces(sink)
    late_got = {tid for tid, c in got.items() if struct.pack(">Q", 51) in c}
    t.check(late_got == {tid for tid in ids[:80] if tid in want},
            "phase 2: late spans follow the cached decision (%d forwarded, %d dropped)"
            % (n_late, 80 - n_late))
    client.close()
    h.stop_otelc(proc)


def phase3(t, sink):
    # one shard: decisions in arrival order, as otelcol makes them, so the first 7
    # traces are the ones kept; with several shards (the default) each shard
    # decides its own traces in order, so which 7 depends on how ids hash
    for shards in (1, 8):
        sink.clear()
        cfg = ("  tail_sampling:\n    decision_wait: 1s\n    shards: %d\n    policies:\n"
               "      - {name: rate, type: rate_limiting, rate_limiting: {spans_per_second: 35}}\n" % shards)
        port = h.free_port()
        proc = h.start_otelc(pipeline_yaml(port, sink, cfg))
        client = h.Client(port)
        ids = [trace_id("p3-%d" % shards, i) for i in range(20)]
        req = new_request()
        for tid in ids:
            for j in range(5):
                add_span(req, tid, j, parent=j > 0)
        # one request: every trace is due at once and decided in one window of one second
        send(t, client, [req], "phase 3 (%d shards)" % shards)
        label = "phase 3 (rate_limiting 35 spans/s, 5-span traces, %d shards)" % shards
        if shards == 1:
            check_kept(t, sink, set(ids[:7]), {tid: 5 for tid in ids}, label, settle=2.0)
        else:
            sink.wait_count("traces", 35, 30)
            time.sleep(2.0)
            got = received_traces(sink)
            t.check(len(got) == 7 and all(len(c) == 5 for c in got.values()),
                    "%s: 7 whole traces kept (35 spans in the second)" % label,
                    "%d traces, span counts %s" % (len(got), sorted(len(c) for c in got.values())))
        client.close()
        h.stop_otelc(proc)


def phase4(t, sink):
    cfg = ("  tail_sampling:\n    decision_wait: 60s\n    policies:\n"
           "      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n")
    port = h.free_port()
    proc = h.start_otelc(pipeline_yaml(port, sink, cfg))
    client = h.Client(port)
    ids = [trace_id("p4", i) for i in range(30)]
    req = new_request()
    for i, tid in enumerate(ids):
        add_span(req, tid, 0, status=2 if i % 3 == 0 else 1, parent=False)
        add_span(req, tid, 1)
    send(t, client, [req], "phase 4")
    time.sleep(0.5)
    t.eq(sink.count("traces"), 0, "phase 4: nothing is sent before decision_wait")
    client.close()
    h.stop_otelc(proc)
    want = {tid for i, tid in enumerate(ids) if i % 3 == 0}
    check_kept(t, sink, want, {tid: 2 for tid in ids}, "phase 4 (shutdown decides held traces)", settle=0.2)


def main(t):
    sink = h.Sink("sink")
    for phase in (phase1, phase2, phase3, phase4):
        sink.clear()
        phase(t, sink)


if __name__ == "__main__":
    h.run_test(main, timeout=200)
