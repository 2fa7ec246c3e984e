# test_load_balancing.py: the two-tier deployment on loopback with real otelc
# processes: an agent with the load_balancing exporter in front of sampling-tier
# otelc instances, each forwarding what it keeps to a sink of its own.
#   phase 1 (static resolver, 3 tiers): every trace lands whole on the tier the
#            ring picks, computed here independently (Python's zlib.crc32 and
#            otelcol-contrib's ring rules); logs by trace id too; each request
#            reaches a backend as one export; the self-metrics.
#   phase 2 (tail_sampling in the tiers): status_code, latency, string_attribute
#            and probabilistic (otelcol's FNV-1a decision) keep exactly the
#            expected traces, whole; rate_limiting with one shard keeps each
#            tier's first traces in arrival order.
#   phase 3 (dns resolver): the agent runs in a private mount namespace with a
#            hosts file of its own (unshare -m, bind mount over /etc/hosts,
#            rewritten in place: glibc reads it at each lookup); the name goes
#            from 3 addresses in 127.0.0.0/8 to another 3 (one leaves, one joins)
#            while traffic flows: no accepted span is lost, none is duplicated,
#            and traces sent after the change land where the new ring says. Then
#            a tier stops while data is queued for it (its share is retried),
#            and leaves the name: that data is re-routed to the others.
# SPDX-License-Identifier: Apache-2.0
import collections
import os
import re
import shutil
import stat
import struct
import sys
import time
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402
import test_tail_sampling_e2e as ts  # noqa: E402

OK = h.grpc.StatusCode.OK


# ---- reference ring: otelcol-contrib's loadbalancing exporter (v0.130 on)

def ring_build(endpoints):
    """Sorted (position, endpoint) points of the ring over endpoints (sorted)."""
    taken = {}
    for ep in endpoints:
        for i in range(100):
            pos = zlib.crc32(ep.encode() + struct.pack("<I", i)) % 36000
            probed = 0
            while pos in taken and probed < 10:
                pos = (pos + 1) % 36000
                probed += 1
            if probed >= 10:
                continue
            taken[pos] = ep
    return sorted(taken.items())


def ring_pick(points, key):
    pos = zlib.crc32(key) % 36000
    for p, ep in points:
        if p >= pos:
            return ep
    return points[0][1]


# ---- processes

def tier_yaml(listen, sink, processors=""):
    return ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: %s\n"
            "%sexporters:\n%s"
            "service:\n  pipelines:\n"
            "    traces:\n      receivers: [otlp]\n%s      exporters: [otlp/sink]\n"
            "    logs:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n"
            "    metrics:\n      receivers: [otlp]\n      exporters: [otlp/sink]\n"
            % (listen, ("processors:\n" + processors) if processors else "",
               h.otlp_exporter_yaml("otlp/sink", sink.port),
               "      processors: [tail_sampling]\n" if processors else ""))


def start_tier(listen, sink, processors=""):
    host, port = listen.rsplit(":", 1)
    find = h._receiver_port
    h._receiver_port = lambda _text: None  # the harness waits on 127.0.0.1 only: wait here
    try:
        proc = h.start_otelc(tier_yaml(listen, sink, processors))
    finally:
        h._receiver_port = find
    if not h.wait_until(lambda: _open(host, int(port)), 10):
        raise h.OtelcError("tier did not listen on %s\n%s" % (listen, h.otelc_stderr(proc)))
    return proc


def _open(host, port):
    import socket
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def agent_yaml(port, resolver_yaml, metrics_port=None, routing_key="traceID"):
    tel = ("  telemetry:\n    metrics:\n      address: 127.0.0.1:%d\n" % metrics_port
           if metrics_port else "")
    return ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
            "exporters:\n  loadbalancing:\n    routing_key: %s\n"
            "    protocol:\n      otlp:\n        timeout: 2s\n        compression: none\n"
            "        tls:\n          insecure: true\n"
            "    retry_on_failure:\n      initial_interval: 100ms\n      max_interval: 300ms\n"
            "      max_elapsed_time: 0\n"
            "    resolver:\n%s"
            "service:\n%s  pipelines:\n"
            "    traces:\n      receivers: [otlp]\n      exporters: [loadbalancing]\n"
            "    logs:\n      receivers: [otlp]\n      exporters: [loadbalancing]\n"
            % (port, routing_key, resolver_yaml, tel))


def trace_id(label, i):
    return ts.trace_id(label, i)


def spans_by_trace(sink):
    """trace id -> Counter of span ids, from what sink received."""
    return ts.received_traces(sink)


def mixed_requests(ids, spans_per_trace, n_requests, label):
    """Requests each holding spans of many traces (span j of every trace in
    request j % n_requests), so each request is split across backends."""
    reqs = [ts.new_request() for _ in range(n_requests)]
    for j in range(spans_per_trace):
        for tid in ids:
            ts.add_span(reqs[j % n_requests], tid, j, res_name=label, parent=j > 0)
    return reqs


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=3) as r:
        return r.read().decode()


def metric_value(text, name, **labels):
    """The sum of the samples of name (or name_total, as the reader names
    counters) that carry labels."""
    total = None
    for line in text.splitlines():
        if not re.match(r"%s(_total)?[{ ]" % re.escape(name), line):
            continue
        if all(('%s="%s"' % (k, v)) in line for k, v in labels.items()):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


# ---- phase 1: static resolver, the ring, whole traces

def phase1(t):
    sinks = [h.Sink("tier%d" % i) for i in range(3)]
    ports = [h.free_port() for _ in range(3)]
    eps = ["127.0.0.1:%d" % p for p in ports]
    tiers = [start_tier(eps[i], sinks[i]) for i in range(3)]
    port, mport = h.free_port(), h.free_port()
    resolver = "      static:\n        hostnames: [%s]\n" % ", ".join(eps[::-1])  # order given does not matter
    agent = h.start_otelc(agent_yaml(port, resolver, metrics_port=mport))
    client = h.Client(port)
    ids = [trace_id("lb1", i) for i in range(300)]
    reqs = mixed_requests(ids, 4, 4, "lb-static")
    ts.send(t, client, reqs, "phase 1")
    for s in sinks:
        pass
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(s.count("traces") for s in sinks) < 1200:
        time.sleep(0.05)
    time.sleep(0.5)
    points = ring_build(sorted(eps))
    where = collections.defaultdict(set)
    counts = collections.Counter()
    for i, s in enumerate(sinks):
        for tid, c in spans_by_trace(s).items():
            where[tid].add(eps[i])
            counts[tid] += sum(c.values())
            if any(v != 1 for v in c.values()):
                counts[tid] += 1000  # a duplicate
    wrong = [tid.hex() for tid in ids if where[tid] != {ring_pick(points, tid)}]
    t.check(not wrong, "phase 1: each of 300 traces landed whole on the tier the ring picks "
            "(independent computation)", wrong[:5])
    t.check(all(counts[tid] == 4 for tid in ids), "phase 1: every span arrived once",
            [(tid.hex(), counts[tid]) for tid in ids if counts[tid] != 4][:5])
    per_tier = [len(spans_by_trace(s)) for s in sinks]
    t.check(min(per_tier) > 0, "phase 1: every tier got traces %s" % per_tier)
    # one export per backend per request: 4 requests -> at most 4 calls per tier
    calls = [s.attempts["traces"] for s in sinks]
    t.check(all(c <= 4 for c in calls), "phase 1: each request reached each tier as one export "
            "(calls per tier %s)" % calls)

    # logs route by their trace id on the same ring
    lreq = h.pb.request["logs"]()
    rl = lreq.resource_logs.add()
    rl.resource.attributes.extend(h.attrs({"service.name": "lb-logs"}))
    sl = rl.scope_logs.add()
    for tid in ids[:60]:
        sl.log_records.add(trace_id=tid, body=h._any("log of %s" % tid.hex()))
    code, _ = client.export_retrying("logs", lreq, timeout=20)
    t.eq(code, OK, "phase 1: logs accepted")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(s.count("logs") for s in sinks) < 60:
        time.sleep(0.05)
    bad = []
    for i, s in enumerate(sinks):
        for req in s.requests("logs"):
            for r in req.resource_logs:
                for sc in r.scope_logs:
                    for lr in sc.log_records:
                        if ring_pick(points, lr.trace_id) != eps[i]:
                            bad.append(lr.trace_id.hex())
    t.check(sum(s.count("logs") for s in sinks) == 60 and not bad,
            "phase 1: 60 log records landed on the tiers their trace ids pick", bad[:5])

    text = scrape(mport)
    t.eq(metric_value(text, "otelcol_loadbalancer_num_backends", resolver="static"), 3.0,
         "phase 1: otelcol_loadbalancer_num_backends{resolver=static}")
    t.eq(metric_value(text, "otelcol_loadbalancer_num_resolutions", resolver="static",
                      success="true"), 1.0, "phase 1: one successful static resolution")
    ok = [metric_value(text, "otelcol_loadbalancer_backend_outcome", endpoint=ep,
                       success="true") for ep in eps]
    t.check(all(v and v >= 1 for v in ok), "phase 1: backend_outcome{success=true} per endpoint %s" % ok)
    client.close()
    h.stop_otelc(agent)
    for p in tiers:
        h.stop_otelc(p)
    for s in sinks:
        s.stop()


# ---- phase 2: tail_sampling in the tiers, through the agent

POLICIES = ("  tail_sampling:\n    decision_wait: 1s\n    policies:\n"
            "      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
            "      - {name: slow, type: latency, latency: {threshold_ms: 500}}\n"
            "      - {name: gold, type: string_attribute, string_attribute: {key: tenant, values: [gold]}}\n"
            "      - {name: some, type: probabilistic, probabilistic: {sampling_percentage: 20}}\n")


def phase2(t):
    sinks = [h.Sink("tier%d" % i) for i in range(3)]
    eps = ["127.0.0.1:%d" % h.free_port() for _ in range(3)]
    tiers = [start_tier(eps[i], sinks[i], POLICIES) for i in range(3)]
    port = h.free_port()
    resolver = "      static:\n        hostnames: [%s]\n" % ", ".join(eps)
    agent = h.start_otelc(agent_yaml(port, resolver))
    client = h.Client(port)
    points = ring_build(sorted(eps))
    ids = [trace_id("lb2", i) for i in range(240)]
    reqs = [ts.new_request() for _ in range(3)]
    want = set()
    for i, tid in enumerate(ids):
        kind = i % 6
        for j in range(3):
            status = 2 if (kind == 1 and j == 2) else 0
            dur = 800 if (kind == 2 and j == 0) else 5
            attrs = {"tenant": "gold" if kind == 3 else "free"}
            ts.add_span(reqs[j], tid, j, dur_ms=dur, status=status, attrs=attrs, parent=j > 0)
        if kind in (1, 2, 3) or ts.prob_keep(tid, 20):
            want.add(tid)
    ts.send(t, client, reqs, "phase 2")
    n_want = 3 * len(want)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(s.count("traces") for s in sinks) < n_want:
        time.sleep(0.05)
    time.sleep(1.5)
    got, misplaced, partial = set(), [], []
    for i, s in enumerate(sinks):
        for tid, c in spans_by_trace(s).items():
            got.add(tid)
            if ring_pick(points, tid) != eps[i]:
                misplaced.append(tid.hex())
            if len(c) != 3 or any(v != 1 for v in c.values()):
                partial.append(tid.hex())
    t.check(got == want, "phase 2: the tiers kept exactly the %d expected traces (status, latency, "
            "attribute, probabilistic)" % len(want),
            "%d extra, %d missing" % (len(got - want), len(want - got)))
    t.check(not misplaced and not partial, "phase 2: each kept trace whole, on the tier the ring picks",
            (misplaced[:3], partial[:3]))
    client.close()
    h.stop_otelc(agent)
    for p in tiers:
        h.stop_otelc(p)

    # rate_limiting, one shard: each tier keeps its first 7 five-span traces in
    # the order they arrive, which is the order of the one request the agent split
    for s in sinks:
        s.clear()
    rl = ("  tail_sampling:\n    decision_wait: 1s\n    shards: 1\n    policies:\n"
          "      - {name: rate, type: rate_limiting, rate_limiting: {spans_per_second: 35}}\n")
    tiers = [start_tier(eps[i], sinks[i], rl) for i in range(3)]
    agent = h.start_otelc(agent_yaml(port, resolver))
    client = h.Client(port)
    ids = [trace_id("lb2rl", i) for i in range(60)]
    req = ts.new_request()
    for tid in ids:
        for j in range(5):
            ts.add_span(req, tid, j, parent=j > 0)
    ts.send(t, client, [req], "phase 2 (rate_limiting)")
    want_by_tier = {ep: [tid for tid in ids if ring_pick(points, tid) == ep][:7] for ep in eps}
    total = sum(len(v) for v in want_by_tier.values()) * 5
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(s.count("traces") for s in sinks) < total:
        time.sleep(0.05)
    time.sleep(2.0)
    bad = []
    for i, s in enumerate(sinks):
        got = spans_by_trace(s)
        if set(got) != set(want_by_tier[eps[i]]) or any(len(c) != 5 for c in got.values()):
            bad.append((eps[i], len(got)))
    t.check(not bad, "phase 2: rate_limiting (35 spans/s, one shard) kept each tier's first 7 "
            "traces, whole", bad)
    client.close()
    h.stop_otelc(agent)
    for p in tiers:
        h.stop_otelc(p)
    for s in sinks:
        s.stop()


# ---- phase 3: dns resolver over a changing name

WRAPPER = """#!/bin/sh
# otelc in a private mount namespace whose /etc/hosts is $LB_HOSTS
exec unshare -m sh -c 'mount --bind "$LB_HOSTS" /etc/hosts && exec "$LB_OTELC" "$@"' otelc "$@"
"""


def write_hosts(path, addrs):
    # rewritten in place: the bind mount holds this inode
    with open(path, "r+") as f:
        f.seek(0)
        f.truncate()
        f.write("127.0.0.1 localhost\n" + "".join("%s lb-tier.test\n" % a for a in addrs))


def phase3(t):
    if not shutil.which("unshare"):
        t.check(False, "phase 3: unshare (util-linux) is installed")
        return
    d = h.tmpdir()
    hosts = os.path.join(d, "hosts")
    with open(hosts, "w") as f:
        f.write("")
    wrapper = os.path.join(d, "otelc-ns.sh")
    with open(wrapper, "w") as f:
        f.write(WRAPPER)
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IEXEC)
    tport = h.free_port()
    addrs = ["127.0.0.%d" % i for i in (11, 12, 13, 14)]
    eps = {a: "%s:%d" % (a, tport) for a in addrs}
    sinks = {a: h.Sink("tier-" + a) for a in addrs}
    tiers = {a: start_tier(eps[a], sinks[a]) for a in addrs}
    write_hosts(hosts, addrs[:3])
    port = h.free_port()
    resolver = ("      dns:\n        hostname: lb-tier.test\n        port: %d\n"
                "        interval: 200ms\n        timeout: 1s\n" % tport)
    real = h.OTELC
    h.OTELC = wrapper
    try:
        agent = h.start_otelc(agent_yaml(port, resolver),
                              env={"LB_HOSTS": hosts, "LB_OTELC": real})
    finally:
        h.OTELC = real
    client = h.Client(port)

    def wait_log(pattern, timeout=10):
        return h.wait_until(lambda: re.search(pattern, h.otelc_stderr(agent)), timeout)

    t.check(wait_log(r"3 backends: 127\.0\.0\.11:%d, 127\.0\.0\.12:%d, 127\.0\.0\.13:%d"
                     % (tport, tport, tport)),
            "phase 3: the agent resolved the name through its own hosts file (3 backends)",
            h.otelc_stderr(agent)[-1500:])
    sent = collections.Counter()  # trace id -> spans accepted
    batch = [0]

    def send_some(n_traces, label):
        ids = [trace_id("lb3-%s-%d" % (label, batch[0]), i) for i in range(n_traces)]
        batch[0] += 1
        for req in mixed_requests(ids, 2, 2, "lb-dns"):
            code, _ = client.export_retrying("traces", req, timeout=20)
            if code == OK:
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        for sp in ss.spans:
                            sent[sp.trace_id] += 1
        return ids

    for _ in range(5):
        send_some(40, "before")
    # one address leaves (.13), one joins (.14), while traffic flows
    write_hosts(hosts, [addrs[0], addrs[1], addrs[3]])
    for _ in range(10):
        send_some(40, "during")
        time.sleep(0.05)
    t.check(wait_log(r"3 backends: 127\.0\.0\.11:%d, 127\.0\.0\.12:%d, 127\.0\.0\.14:%d"
                     % (tport, tport, tport)),
            "phase 3: the agent followed the name (.13 left, .14 joined)")
    after = []
    for _ in range(3):
        after += send_some(40, "after")
    new_points = ring_build(sorted(eps[a] for a in (addrs[0], addrs[1], addrs[3])))
    # everything so far delivered (an answer OK means queued in the agent), so
    # that what is re-routed below is only what was sent after the stop
    h.wait_until(lambda: sum(s.count("traces") for s in sinks.values()) >= sum(sent.values()), 20)

    # a tier stops while data is queued for it, then leaves the name
    h.stop_otelc(tiers[addrs[1]])
    stopped = []
    for _ in range(3):
        stopped += send_some(40, "stopped")
    bound_to_12 = [tid for tid in stopped if ring_pick(new_points, tid) == eps[addrs[1]]]
    t.check(len(bound_to_12) > 0 and
            wait_log(r"failed \(attempt \d+: backend 127\.0\.0\.12:%d" % tport, 10),
            "phase 3: %d traces were routed to the stopped tier, whose share is retried"
            % len(bound_to_12))
    write_hosts(hosts, [addrs[0], addrs[3]])
    t.check(wait_log(r"2 backends: 127\.0\.0\.11:%d, 127\.0\.0\.14:%d" % (tport, tport)),
            "phase 3: the stopped tier left the name")
    want = sum(sent.values())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(s.count("traces") for s in sinks.values()) < want:
        time.sleep(0.1)
    time.sleep(0.5)
    got = collections.Counter()
    where = collections.defaultdict(set)
    for a, s in sinks.items():
        for tid, c in spans_by_trace(s).items():
            got[tid] += sum(c.values())
            where[tid].add(eps[a])
    lost = [tid.hex() for tid in sent if got[tid] < sent[tid]]
    dup = [tid.hex() for tid in sent if got[tid] > sent[tid]]
    t.check(not lost, "phase 3: no accepted span lost (%d spans of %d traces)" % (want, len(sent)),
            lost[:5])
    t.check(not dup, "phase 3: no span delivered twice", dup[:5])
    wrong = [tid.hex() for tid in after if where[tid] != {ring_pick(new_points, tid)}]
    t.check(not wrong, "phase 3: traces sent after the change landed whole where the new ring says",
            wrong[:5])
    rerouted = [tid.hex() for tid in bound_to_12
                if where[tid] - {eps[addrs[0]], eps[addrs[3]]}]
    t.check(not rerouted and all(got[tid] == sent[tid] for tid in bound_to_12),
            "phase 3: the %d traces queued for the stopped tier were re-routed to the others"
            % len(bound_to_12), rerouted[:5])
    client.close()
    h.stop_otelc(agent)
    for a in (addrs[0], addrs[2], addrs[3]):
        h.stop_otelc(tiers[a])


# ---- phase 4: routing by service and by metric name

def phase4(t):
    sinks = [h.Sink("tier%d" % i) for i in range(3)]
    eps = ["127.0.0.1:%d" % h.free_port() for _ in range(3)]
    tiers = [start_tier(eps[i], sinks[i]) for i in range(3)]
    port = h.free_port()
    lb = ("    protocol:\n      otlp:\n        tls:\n          insecure: true\n"
          "    resolver:\n      static:\n        hostnames: [%s]\n" % ", ".join(eps))
    cfg = ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
           "exporters:\n  loadbalancing/svc:\n    routing_key: service\n%s"
           "  loadbalancing/metric:\n    routing_key: metric\n%s"
           "service:\n  pipelines:\n"
           "    traces:\n      receivers: [otlp]\n      exporters: [loadbalancing/svc]\n"
           "    metrics:\n      receivers: [otlp]\n      exporters: [loadbalancing/metric]\n"
           % (port, lb, lb))
    agent = h.start_otelc(cfg)
    client = h.Client(port)
    points = ring_build(sorted(eps))
    services = ["checkout", "cart", "payment", "search", "auth", "ads"]
    req = ts.new_request()
    n_spans = 0
    for i in range(120):
        ts.add_span(req, trace_id("lb4", i), 0, res_name=services[i % len(services)], parent=False)
        n_spans += 1
    ts.send(t, client, [req], "phase 4 (service)")
    mreq = h.pb.request["metrics"]()
    rm = mreq.resource_metrics.add()
    rm.resource.attributes.extend(h.attrs({"service.name": "metrics-src"}))
    sm = rm.scope_metrics.add()
    names = ["lb.metric.%d" % i for i in range(24)]
    for name in names:
        m = sm.metrics.add(name=name)
        for k in range(2):
            m.gauge.data_points.add(as_int=k, time_unix_nano=h._now_ns())
    code, _ = client.export_retrying("metrics", mreq, timeout=20)
    t.eq(code, OK, "phase 4: metrics accepted")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (sum(s.count("traces") for s in sinks) < n_spans or
                                           sum(s.count("metrics") for s in sinks) < 48):
        time.sleep(0.05)
    time.sleep(0.3)
    bad_svc, bad_metric, n_points = [], [], 0
    for i, s in enumerate(sinks):
        for r in s.requests("traces"):
            for rs in r.resource_spans:
                svc = [a.value.string_value for a in rs.resource.attributes if a.key == "service.name"][0]
                if ring_pick(points, svc.encode()) != eps[i]:
                    bad_svc.append(svc)
        for r in s.requests("metrics"):
            for rm in r.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        n_points += len(m.gauge.data_points)
                        if ring_pick(points, m.name.encode()) != eps[i]:
                            bad_metric.append(m.name)
    t.check(sum(s.count("traces") for s in sinks) == n_spans and not bad_svc,
            "phase 4: routing_key service: each service's spans on the tier its name picks", bad_svc[:5])
    t.check(n_points == 48 and not bad_metric,
            "phase 4: routing_key metric: each metric's 2 points on the tier its name picks (%d points)"
            % n_points, bad_metric[:5])
    client.close()
    h.stop_otelc(agent)
    for p in tiers:
        h.stop_otelc(p)
    for s in sinks:
        s.stop()


def main(t):
    phase1(t)
    phase2(t)
    phase4(t)
    phase3(t)


if __name__ == "__main__":
    h.run_test(main, timeout=280)
