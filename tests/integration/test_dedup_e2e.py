# test_dedup_e2e.py: the dedup processor through the real otelc binary.
# Part 1: traces, logs and metrics requests sent two and three times (also
# re-packaged as one concatenated request) reach the sink exactly once.
# Part 2: a stream of unique span keys 50 times larger than max_entries keeps
# otelc's resident memory bounded, and keys pushed out of the full table are
# accepted again while recent keys are still refused.
# SPDX-License-Identifier: Apache-2.0
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OK = h.grpc.StatusCode.OK
MIB = 1024 * 1024


def dedup_config(port, sink, dedup_yaml):
    pipes = ""
    for sig in h.SIGNALS:
        pipes += ("    %s:\n      receivers: [otlp]\n      processors: [dedup]\n"
                  "      exporters: [otlp/sink]\n" % sig)
    return ("receivers:\n  otlp:\n    protocols:\n      grpc:\n"
            "        endpoint: 127.0.0.1:%d\n"
            "processors:\n  dedup:\n%s"
            "exporters:\n%s"
            "service:\n  pipelines:\n%s"
            % (port, dedup_yaml, h.otlp_exporter_yaml("otlp/sink", sink.port), pipes))


def asan_env():
    # Under AddressSanitizer freed memory waits in a quarantine (256 MiB by
    # default) before reuse, which RSS counts; keep it small so that RSS
    # reflects the memory otelc holds, as in a normal build.
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") + "quarantine_size_mb=4"}


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


# ---- part 1: retries

def part_retries(t):
    sink = h.Sink("sink")
    port = h.free_port()
    proc = h.start_otelc(dedup_config(port, sink, "    window: 5m\n"))
    c = h.Client(port)
    builders = {
        "traces": lambda: h.make_traces(40, n_resources=2, n_scopes=2, rich=True),
        "logs": lambda: h.make_logs(40, n_resources=2, rich=True),
        "metrics": lambda: h.make_metrics(40, n_scopes=2, rich=True),
    }
    for sig in h.SIGNALS:
        reqs = [builders[sig]() for _ in range(6)]
        bad = []
        sends = 0
        # every request twice (even index) or three times (odd index), the
        # repeats interleaved with other requests as retries arrive
        order = list(range(6)) + list(range(6)) + [i for i in range(6) if i % 2]
        for i in order:
            code, _ = c.export(sig, reqs[i], timeout=10)
            sends += 1
            if code != OK:
                bad.append(code.name)
        # a retry that re-packages two earlier requests as one (concatenated
        # serialized requests are one valid request holding both)
        code, _ = c.export(sig, h.encode(reqs[0]) + h.encode(reqs[1]), timeout=10)
        sends += 1
        if code != OK:
            bad.append(code.name)
        t.check(not bad, "%s: %d sends of 6 requests (2x and 3x each) answered OK"
                % (sig, sends), bad[:5])
        want = h.count_items(sig, reqs)
        sink.wait_count(sig, want, 20)
        time.sleep(0.5)  # late duplicates would arrive now
        missing, extra = h.compare(sig, reqs, sink.requests(sig))
        t.check(not missing and not extra, "%s: the sink received each of the %d items exactly "
                "once" % (sig, want), h.diff_report(sig, missing, extra))
    c.close()
    h.stop_otelc(proc)
    sink.stop()


# ---- part 2: memory bound and eviction

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, payload):
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


_SCOPE = _field(1, _field(1, b"dedup-it"))  # ScopeSpans.scope = {name}
_RESOURCE = _field(1, _field(1, _field(1, b"service.name") + _field(2, _field(1, b"dedup-it"))))


def stream_request(first, n, t0):
    """A serialized ExportTraceServiceRequest of n minimal spans whose keys
    (trace id, span id, start time) are unique for span numbers first..first+n-1."""
    spans = []
    for k in range(first, first + n):
        body = (b"\x0a\x10" + struct.pack(">QQ", 0xD0D0, k)      # trace_id
                + b"\x12\x08" + struct.pack(">Q", k + 1)         # span_id
                + b"\x2a\x01s"                                   # name
                + b"\x39" + struct.pack("<Q", t0 + k)            # start_time_unix_nano
                + b"\x41" + struct.pack("<Q", t0 + k + 1000))    # end_time_unix_nano
        spans.append(_field(2, body))
    scope_spans = _field(2, _SCOPE + b"".join(spans))
    return _field(1, _RESOURCE + scope_spans)


def part_memory(t):
    max_entries = 20000
    per_req = 2000
    n_reqs = 500          # 1,000,000 unique keys: 50x max_entries
    warm_reqs = 50        # the table is full and evicting after 10 requests
    pace = 10             # requests in flight before waiting for the sink
    sink = h.Sink("sink")
    port = h.free_port()
    proc = h.start_otelc(dedup_config(port, sink, "    window: 10m\n    max_entries: %d\n"
                                      % max_entries), env=asan_env())
    c = h.Client(port)
    t0 = time.time_ns()
    rss0 = vm_rss(proc.pid)
    rss = {}
    sent = delivered = 0
    bad = []
    first_req = last_req = None
    started = time.monotonic()
    for r in range(n_reqs):
        req = stream_request(r * per_req, per_req, t0)
        if r == 0:
            first_req = req
        last_req = req
        code, _ = c.export_retrying("traces", req, timeout=20)
        if code != OK:
            bad.append(code.name)
            continue
        sent += per_req
        if (r + 1) % pace == 0:
            got = delivered + sink.wait_count("traces", sent - delivered, 30)
            if got != sent:
                bad.append("sink has %d of %d spans" % (got, sent))
                break
            delivered = got
            sink.clear()  # keep the sink's memory flat: only counts matter here
            if r + 1 == warm_reqs:
                rss["warm"] = vm_rss(proc.pid)
            rss["max"] = max(rss.get("max", 0), vm_rss(proc.pid))
    rss["end"] = vm_rss(proc.pid)
    elapsed = time.monotonic() - started
    t.check(not bad, "stream: %d unique spans in %d requests accepted and delivered (%.1f s)"
            % (sent, n_reqs, elapsed), bad[:5])
    table = max_entries * 24 + (1 << (2 * max_entries - 1).bit_length()) * 8
    h.log("otelc VmRSS: start %.1f MiB, after %d spans %.1f MiB, max %.1f MiB, end %.1f MiB "
          "(table %.2f MiB; an unbounded set of %d keys would need >= %.1f MiB)"
          % (rss0 / MIB, warm_reqs * per_req, rss["warm"] / MIB, rss["max"] / MIB,
             rss["end"] / MIB, table / MIB, sent, sent * 24 / MIB))
    # Generous: allocator and gRPC noise may add a few MiB; the 900,000 keys
    # streamed after the warm-up would need at least 20.6 MiB if kept.
    later = sent - warm_reqs * per_req
    t.check(rss["max"] - rss["warm"] <= 12 * MIB,
            "stream: VmRSS grows by at most 12 MiB after the table is full (grew %.1f MiB "
            "while %d more unique keys passed)" % ((rss["max"] - rss["warm"]) / MIB, later))

    # Keys of the first request left the table long ago: accepted again.
    # Keys of the last request are among the newest max_entries: refused.
    base = sink.count("traces")
    code, _ = c.export("traces", first_req, timeout=20)
    t.eq(code, OK, "evicted keys: re-sent first request answered")
    got = sink.wait_count("traces", base + per_req, 20) - base
    t.eq(got, per_req, "evicted keys: the first request's spans, pushed out of the full table, "
         "are delivered again")
    base = sink.count("traces")
    code, _ = c.export("traces", last_req, timeout=20)
    t.eq(code, OK, "recent keys: re-sent last request answered")
    time.sleep(1.0)
    t.eq(sink.count("traces") - base, 0, "recent keys: the last request's spans, still in the "
         "table, are not delivered again")
    c.close()
    h.stop_otelc(proc)
    sink.stop()


def main(t):
    part_retries(t)
    part_memory(t)


if __name__ == "__main__":
    h.run_test(main, timeout=280)
