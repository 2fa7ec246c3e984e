# test_connectors.py: the `connectors:` section through the real otelc binary,
# with gRPC sinks standing for the backends:
#   (a) routing on resource attributes, traces, metrics and logs through one
#       connector: each resource goes to the pipelines of the first route it
#       matches (a statement route sends to two), the rest to
#       default_pipelines; requests mixing tenants are split;
#   (b) routing per item (span and log contexts) and match_once: false;
#   (c) forward: two pipelines get the same data, one of them filters it
#       (the other's copy is untouched);
#   (d) a blocked backend behind a connector: the pressure reaches the
#       client as UNAVAILABLE, nothing answered OK is lost, and a stop right
#       after a burst drains the connector's downstream pipelines too;
#   (e) a pipeline.yaml edit under load (SIGHUP) moves a tenant from one
#       backend to the other: nothing answered OK is lost or duplicated, and
#       what was sent after the reload goes to the new backend;
#   (f) bad connector configs are refused with file:line and the key;
#   (g) failover: when the primary backend fails and its exporter's circuit
#       opens (while that exporter has a queue), data flows to the secondary
#       within retry_gap, and back once the primary recovers; every span
#       answered OK arrives exactly once.
# SPDX-License-Identifier: Apache-2.0
import collections
import os
import signal
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OK = grpc.StatusCode.OK
SIGNALS = ("traces", "metrics", "logs")
RES_FIELD = {"traces": "resource_spans", "metrics": "resource_metrics", "logs": "resource_logs"}


def exporter(name, sink):
    return h.otlp_exporter_yaml(name, sink.port, max_elapsed_time="0")


def tenant_request(sig, tenants, n_per=4):
    """One request of signal sig with one resource per tenant (None: no
    tenant attribute), n_per items each."""
    req = h.make_request(sig, n_per * len(tenants), n_resources=len(tenants))
    for rs, t in zip(getattr(req, RES_FIELD[sig]), tenants):
        if t is not None:
            rs.resource.attributes.extend(h.attrs({"tenant": t}))
    return req


def only(sig, req, keep):
    """A copy of req with only the resources whose tenant is in keep."""
    out = h.pb.request[sig]()
    for rs in getattr(req, RES_FIELD[sig]):
        t = {a.key: a.value.string_value for a in rs.resource.attributes}.get("tenant")
        if t in keep:
            getattr(out, RES_FIELD[sig]).add().CopyFrom(rs)
    return out


ROUTING_CFG = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
exporters:
{exporters}connectors:
  routing:
    default_pipelines: [traces/other, metrics/other, logs/other]
    table:
      - condition: attributes["tenant"] == "acme"
        pipelines: [traces/acme, metrics/acme, logs/acme]
      - statement: route() where attributes["tenant"] == "beta"
        pipelines: [traces/acme, traces/other, metrics/acme, metrics/other, logs/acme, logs/other]
      - condition: attributes["tenant"] == "acme" or attributes["tenant"] == "beta"
        pipelines: [traces/other, metrics/other, logs/other]
processors:
  batch:
    timeout: 50ms
service:
  pipelines:
{pipelines}"""


def routing_pipelines():
    text = ""
    for sig in SIGNALS:
        text += ("    %s/in:\n      receivers: [otlp]\n      processors: [batch]\n"
                 "      exporters: [routing]\n" % sig)
        for dest in ("acme", "other"):
            text += ("    %s/%s:\n      receivers: [routing]\n      exporters: [otlp/%s]\n"
                     % (sig, dest, dest))
    return text


def case_routing_resource(checks):
    acme, other = h.Sink("acme"), h.Sink("other")
    port = h.free_port()
    cfg = ROUTING_CFG.format(port=port, exporters=exporter("otlp/acme", acme) +
                             exporter("otlp/other", other), pipelines=routing_pipelines())
    proc = h.start_otelc(cfg, port=port)
    client = h.Client(port)
    sent = {s: [] for s in SIGNALS}
    for sig in SIGNALS:
        for k in range(5):
            req = tenant_request(sig, ["acme", "beta", None, "gamma"][k % 4:] + ["acme", None][: k % 3])
            code, _ = client.export(sig, req)
            checks.eq(code, OK, "(a) %s request %d answered OK" % (sig, k))
            sent[sig].append(req)
    for sig in SIGNALS:
        want_acme = [only(sig, r, {"acme", "beta"}) for r in sent[sig]]
        want_other = [only(sig, r, {"beta", None, "gamma"}) for r in sent[sig]]
        n_acme, n_other = h.count_items(sig, want_acme), h.count_items(sig, want_other)
        acme.wait_count(sig, n_acme, 10)
        other.wait_count(sig, n_other, 10)
        time.sleep(0.2)
        checks.check(h.compare(sig, want_acme, acme.requests(sig)),
                     "(a) %s: the acme backend got exactly the acme and beta resources (%d items)"
                     % (sig, n_acme), "got %d" % acme.count(sig))
        checks.check(h.compare(sig, want_other, other.requests(sig)),
                     "(a) %s: the other backend got beta (second route), untagged and gamma "
                     "(default) resources, and acme only once: the first route wins (%d items)"
                     % (sig, n_other), "got %d" % other.count(sig))
    client.close()
    h.stop_otelc(proc)


PER_ITEM_CFG = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
exporters:
{exporters}connectors:
  routing/items:
    default_pipelines: [traces/rest, logs/rest]
    table:
      - context: span
        condition: attributes["http.method"] == "POST"
        pipelines: [traces/post]
      - context: log
        condition: severity_number >= SEVERITY_NUMBER_ERROR
        pipelines: [logs/post]
  routing/all:
    match_once: false
    table:
      - condition: attributes["tenant"] == "acme"
        pipelines: [traces/post]
      - context: span
        condition: attributes["http.method"] == "POST"
        pipelines: [traces/rest]
service:
  pipelines:
    traces/in:
      receivers: [otlp]
      exporters: [routing/items]
    logs/in:
      receivers: [otlp]
      exporters: [routing/items]
    traces/post:
      receivers: [routing/items, routing/all]
      exporters: [otlp/post]
    traces/rest:
      receivers: [routing/items, routing/all]
      exporters: [otlp/rest]
    logs/post:
      receivers: [routing/items]
      exporters: [otlp/post]
    logs/rest:
      receivers: [routing/items]
      exporters: [otlp/rest]
    traces/all:
      receivers: [otlp/all]
      exporters: [routing/all]
  telemetry:
    metrics:
      level: none
"""


def case_routing_items(checks):
    post, rest = h.Sink("post"), h.Sink("rest")
    port, port2 = h.free_port(), h.free_port()
    exp = exporter("otlp/post", post) + exporter("otlp/rest", rest)
    cfg = PER_ITEM_CFG.format(port=port, exporters=exp).replace(
        "exporters:\n", "  otlp/all:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n"
        "exporters:\n" % port2, 1)
    proc = h.start_otelc(cfg, port=port)
    client, client2 = h.Client(port), h.Client(port2)
    traces = h.make_traces(30, n_resources=3, n_scopes=2)
    want_post, want_rest = h.pb.request["traces"](), h.pb.request["traces"]()
    want_post.CopyFrom(traces)
    want_rest.CopyFrom(traces)
    n_post = 0
    for rs_all, rs_p, rs_r in zip(traces.resource_spans, want_post.resource_spans,
                                  want_rest.resource_spans):
        for ss_all, ss_p, ss_r in zip(rs_all.scope_spans, rs_p.scope_spans, rs_r.scope_spans):
            del ss_p.spans[:]
            del ss_r.spans[:]
            for i, sp in enumerate(ss_all.spans):
                if i % 3 == 0:
                    for a in sp.attributes:
                        if a.key == "http.method":
                            a.value.string_value = "POST"
                (ss_p if i % 3 == 0 else ss_r).spans.add().CopyFrom(sp)
                n_post += i % 3 == 0
    logs = h.make_logs(20, n_resources=2)
    want_lp, want_lr = h.pb.request["logs"](), h.pb.request["logs"]()
    for rl in logs.resource_logs:
        lp, lr = want_lp.resource_logs.add(), want_lr.resource_logs.add()
        lp.resource.CopyFrom(rl.resource)
        lr.resource.CopyFrom(rl.resource)
        lp.schema_url = lr.schema_url = rl.schema_url
        for sl in rl.scope_logs:
            slp, slr = lp.scope_logs.add(), lr.scope_logs.add()
            slp.scope.CopyFrom(sl.scope)
            slr.scope.CopyFrom(sl.scope)
            slp.schema_url = slr.schema_url = sl.schema_url
            for i, rec in enumerate(sl.log_records):
                rec.severity_number = 17 if i % 4 == 0 else 9
                (slp if i % 4 == 0 else slr).log_records.add().CopyFrom(rec)
    checks.eq(client.export("traces", traces)[0], OK, "(b) traces answered OK")
    checks.eq(client.export("logs", logs)[0], OK, "(b) logs answered OK")
    n_lp = h.count_items("logs", [want_lp])
    post.wait_count("traces", n_post, 10)
    rest.wait_count("traces", 30 - n_post, 10)
    post.wait_count("logs", n_lp, 10)
    rest.wait_count("logs", 20 - n_lp, 10)
    time.sleep(0.2)
    checks.check(h.compare("traces", [want_post], post.requests("traces")),
                 "(b) span context: exactly the POST spans (%d of 30) went to traces/post" % n_post,
                 "got %d" % post.count("traces"))
    checks.check(h.compare("traces", [want_rest], rest.requests("traces")),
                 "(b) span context: the other spans went to the default pipeline",
                 "got %d" % rest.count("traces"))
    checks.check(h.compare("logs", [want_lp], post.requests("logs")),
                 "(b) log context: exactly the ERROR records (%d of 20) went to logs/post" % n_lp,
                 "got %d" % post.count("logs"))
    checks.check(h.compare("logs", [want_lr], rest.requests("logs")),
                 "(b) log context: the other records went to the default pipeline")
    # match_once: false: an acme POST span takes both routes
    post.clear()
    rest.clear()
    req = tenant_request("traces", ["acme"], n_per=6)
    for sp in req.resource_spans[0].scope_spans[0].spans[:2]:
        for a in sp.attributes:
            if a.key == "http.method":
                a.value.string_value = "POST"
    want_both = h.pb.request["traces"]()
    want_both.CopyFrom(req)
    del want_both.resource_spans[0].scope_spans[0].spans[2:]
    checks.eq(client2.export("traces", req)[0], OK, "(b) match_once: false request answered OK")
    post.wait_count("traces", 6, 10)
    rest.wait_count("traces", 2, 10)
    time.sleep(0.2)
    checks.check(h.compare("traces", [req], post.requests("traces")) and
                 h.compare("traces", [want_both], rest.requests("traces")),
                 "(b) match_once: false: all 6 acme spans took the resource route, and the 2 POST "
                 "spans the span route as well", "post %d rest %d" % (post.count("traces"),
                                                                       rest.count("traces")))
    client.close()
    client2.close()
    h.stop_otelc(proc)


FORWARD_CFG = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
processors:
  filter/health:
    error_mode: ignore
    traces:
      span:
        - attributes["uid"] < 10
exporters:
{exporters}connectors:
  forward: {{}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [forward]
    traces/filtered:
      receivers: [forward]
      processors: [filter/health]
      exporters: [otlp/a]
    traces/all:
      receivers: [forward]
      exporters: [otlp/b]
"""


def case_forward(checks):
    a, b = h.Sink("a"), h.Sink("b")
    port = h.free_port()
    proc = h.start_otelc(FORWARD_CFG.format(port=port, exporters=exporter("otlp/a", a) +
                                            exporter("otlp/b", b)), port=port)
    client = h.Client(port)
    reqs = [h.make_traces(10) for _ in range(4)]
    for r in reqs:
        checks.eq(client.export("traces", r)[0], OK, "(c) forward: request answered OK")
    total = h.count_items("traces", reqs)
    b.wait_count("traces", total, 10)
    kept = []
    for r in reqs:
        c = h.pb.request["traces"]()
        c.CopyFrom(r)
        for rs in c.resource_spans:
            for ss in rs.scope_spans:
                keep = [sp for sp in ss.spans
                        if {x.key: x.value.int_value for x in sp.attributes}["uid"] >= 10]
                del ss.spans[:]
                ss.spans.extend(keep)
        kept.append(c)
    n_kept = h.count_items("traces", kept)
    a.wait_count("traces", n_kept, 10)
    time.sleep(0.3)
    checks.check(h.compare("traces", reqs, b.requests("traces")),
                 "(c) forward: the unfiltered pipeline got all %d spans, unchanged" % total,
                 "got %d" % b.count("traces"))
    checks.check(h.compare("traces", kept, a.requests("traces")),
                 "(c) forward: the filtered pipeline got the %d spans with uid >= 10" % n_kept,
                 "got %d" % a.count("traces"))
    client.close()
    h.stop_otelc(proc)


def case_backpressure(checks):
    acme, other = h.Sink("acme"), h.Sink("other")
    port = h.free_port()
    exp = (h.otlp_exporter_yaml("otlp/acme", acme.port, queue_size=4, max_elapsed_time="0") +
           h.otlp_exporter_yaml("otlp/other", other.port, queue_size=4, max_elapsed_time="0"))
    cfg = ROUTING_CFG.format(port=port, exporters=exp, pipelines=routing_pipelines()).replace(
        "service:\n", "service:\n  shutdown_timeout: 30s\n", 1)
    cfg = cfg.replace("  pipelines:\n    traces/in", "  pipelines:\n    traces/in", 1)
    cfg = cfg.replace("      exporters: [routing]\n", "      exporters: [routing]\n"
                      "      queue:\n        max_bytes: 256KiB\n")
    proc = h.start_otelc(cfg, port=port)
    client = h.Client(port)
    acme.block()
    ok, unavailable = [], 0
    deadline = time.monotonic() + 20
    while unavailable == 0 and time.monotonic() < deadline:
        req = tenant_request("traces", ["acme"], n_per=50)
        code, _ = client.export("traces", req, timeout=5)
        if code == OK:
            ok.append(req)
        elif code == grpc.StatusCode.UNAVAILABLE:
            unavailable += 1
        else:
            checks.check(False, "(d) only OK or UNAVAILABLE while the backend is blocked", code)
            break
    checks.check(unavailable > 0, "(d) with the backend behind the connector blocked, the client "
                 "got UNAVAILABLE after %d requests answered OK" % len(ok))
    acme.release()
    n = h.count_items("traces", ok)
    acme.wait_count("traces", n, 20)
    time.sleep(0.3)
    checks.check(h.compare("traces", ok, acme.requests("traces")),
                 "(d) once released, every one of the %d spans answered OK arrived exactly once" % n,
                 "got %d" % acme.count("traces"))
    # a burst, then stop at once: the downstream pipelines drain after the upstream one
    acme.clear()
    burst = [tenant_request("traces", ["acme", None], n_per=20) for _ in range(30)]
    for r in burst:
        checks.check(client.export_retrying("traces", r)[0] == OK, "(d) burst request answered OK")
    client.close()
    h.stop_otelc(proc)
    checks.check(h.compare("traces", [only("traces", r, {"acme"}) for r in burst],
                           acme.requests("traces")) and
                 h.compare("traces", [only("traces", r, {None}) for r in burst],
                           other.requests("traces")),
                 "(d) stopped right after a burst: both backends got every span answered OK",
                 "acme %d other %d" % (acme.count("traces"), other.count("traces")))


RELOAD_CFG = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
exporters:
{exporters}connectors:
  routing:
    default_pipelines: [traces/b]
    table:
      - condition: attributes["tenant"] == "{tenant}"
        pipelines: [traces/a]
processors:
  batch:
    timeout: 100ms
service:
  shutdown_timeout: 20s
  pipelines:
    traces/in:
      receivers: [otlp]
      processors: [batch]
      exporters: [routing]
    traces/a:
      receivers: [routing]
      exporters: [otlp/a]
    traces/b:
      receivers: [routing]
      exporters: [otlp/b]
"""


def case_reload(checks):
    a, b = h.Sink("a"), h.Sink("b")
    port = h.free_port()
    exp = exporter("otlp/a", a) + exporter("otlp/b", b)
    proc = h.start_otelc(RELOAD_CFG.format(port=port, exporters=exp, tenant="acme"), port=port)
    path = proc.config_path
    calls, lock, stop = [], threading.Lock(), threading.Event()

    def load():
        c = h.Client(port)
        while not stop.is_set():
            req = tenant_request("traces", ["acme"], n_per=5)
            t0 = time.monotonic()
            code, _ = c.export("traces", req, timeout=10)
            with lock:
                calls.append((t0, req, code))
            time.sleep(0.005 if code == OK else 0.02)
        c.close()

    threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    h.wait_until(lambda: a.count("traces") > 200, 15)
    with open(path + ".tmp", "w") as f:
        f.write(RELOAD_CFG.format(port=port, exporters=exp, tenant="nobody"))
    os.rename(path + ".tmp", path)
    proc.send_signal(signal.SIGHUP)
    t_reload = time.monotonic()
    h.wait_until(lambda: b.count("traces") > 200 and time.monotonic() > t_reload + 4, 20)
    stop.set()
    for t in threads:
        t.join(15)
    ok = [c for c in calls if c[2] == OK]
    codes = collections.Counter(c[2] for c in calls)
    checks.check(set(codes) <= {OK, grpc.StatusCode.UNAVAILABLE},
                 "(e) during the reload every call was answered OK or UNAVAILABLE", dict(codes))
    stderr = h.otelc_stderr(proc)
    h.stop_otelc(proc)
    got = collections.Counter(h.flatten("traces", a.requests("traces")) +
                              h.flatten("traces", b.requests("traces")))
    want = collections.Counter(h.flatten("traces", [c[1] for c in ok]))
    lost = sum((want - got).values())
    dup = sum((got - want).values())
    checks.check(lost == 0 and dup == 0 and len(want) > 0,
                 "(e) every one of the %d spans answered OK arrived exactly once, at a or b "
                 "(lost %d, extra %d)" % (sum(want.values()), lost, dup))
    late = [c for c in ok if c[0] > t_reload + 2.0]
    late_items = collections.Counter(h.flatten("traces", [c[1] for c in late]))
    in_a = collections.Counter(h.flatten("traces", a.requests("traces")))
    checks.check(late and not (late_items & in_a),
                 "(e) after the edit, the tenant's spans (%d requests sent later) went to b only"
                 % len(late))
    checks.check("config reloaded" in stderr, "(e) the log says the config was reloaded",
                 stderr[-800:])


BAD = [
    ("unknown pipeline", 'pipelines: [traces/acme, metrics/acme', 'pipelines: [traces/nope, metrics/acme',
     'table[0].pipelines: pipeline "traces/nope" does not list routing as a receiver'),
    ("bad condition", 'condition: attributes["tenant"] == "acme"',
     'condition: attributes["tenant"] === "acme"', 'at character 24 of the condition'),
    ("statement without route()", 'statement: route() where', 'statement: drop() where',
     'expected route() where <condition>'),
    ("request context", '      - condition: attributes["tenant"] == "acme"',
     '      - context: request\n        condition: request["X-Tenant"] == "acme"',
     'table[0].context: request'),
    ("span context in a metrics pipeline", '      - condition: attributes["tenant"] == "acme"',
     '      - context: span\n        condition: name == "x"', 'table[0].context: metrics has no span context'),
    ("empty table", None, None, 'table: the routing table is empty'),
    ("unused as receiver", '    traces/other:\n      receivers: [routing]',
     '    traces/other:\n      receivers: [otlp]',
     'pipeline "traces/other" does not list routing as a receiver'),
    ("cycle", '    traces/acme:\n      receivers: [routing]\n      exporters: [otlp/acme]',
     '    traces/acme:\n      receivers: [routing]\n      exporters: [routing]', 'cycle'),
]


def case_bad(checks):
    acme, other = h.Sink("acme"), h.Sink("other")
    base = ROUTING_CFG.format(port=h.free_port(), exporters=exporter("otlp/acme", acme) +
                              exporter("otlp/other", other), pipelines=routing_pipelines())
    r = h.run_otelc(["validate", "--config", h.write_config(base)])
    checks.eq(r.returncode, 0, "(f) the routing config is valid")
    for name, old, new, want in BAD:
        if old is None:
            text = base[:base.index("    table:")] + "    table: []\n" + base[base.index("processors:"):]
        else:
            if old not in base:
                checks.check(False, "(f) %s: the test's edit applies" % name)
                continue
            text = base.replace(old, new, 1)
        path = h.write_config(text)
        r = h.run_otelc(["validate", "--config", path])
        out = r.stdout + r.stderr
        checks.check(r.returncode != 0 and want in out and os.path.basename(path) + ":" in out,
                     "(f) %s: refused with file:line and %r" % (name, want), out[-600:])


FAILOVER_CFG = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
exporters:
  otlp/primary:
    endpoint: 127.0.0.1:{p1}
    tls:
      insecure: true
    timeout: 2s
    sending_queue:
      queue_size: 1000
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 200ms
      max_elapsed_time: 0
    circuit_breaker:
      enabled: true
      failure_threshold: 3
      recovery_timeout: 3s
{secondary}connectors:
  failover:
    priority_levels:
      - [traces/primary]
      - [traces/secondary]
    retry_gap: 2s
    retry_interval: 10s
service:
  shutdown_timeout: 20s
  pipelines:
    traces/in:
      receivers: [otlp]
      exporters: [failover]
    traces/primary:
      receivers: [failover]
      exporters: [otlp/primary]
    traces/secondary:
      receivers: [failover]
      exporters: [otlp/secondary]
"""


def case_failover(checks):
    primary, secondary = h.Sink("primary"), h.Sink("secondary")
    port = h.free_port()
    proc = h.start_otelc(FAILOVER_CFG.format(port=port, p1=primary.port, secondary=exporter(
        "otlp/secondary", secondary)), port=port)
    client = h.Client(port)
    ok = []

    def send(n):
        for _ in range(n):
            req = h.make_traces(5)
            if client.export_retrying("traces", req)[0] == OK:
                ok.append((time.monotonic(), req))
            time.sleep(0.02)

    send(20)
    primary.wait_count("traces", 100, 10)
    checks.eq(secondary.count("traces"), 0, "(g) failover: while the primary is healthy, the "
              "secondary gets nothing")
    attempts_before = primary.attempts["traces"]
    primary.fail_next(10 ** 9)
    t_fail = time.monotonic()
    t_first = None
    while t_first is None and time.monotonic() < t_fail + 15:
        send(1)
        if secondary.count("traces"):
            t_first = time.monotonic()
    send(40)
    checks.check(t_first is not None and t_first - t_fail < 2.0,
                 "(g) failover: the primary failing, data reached the secondary %.2f s later "
                 "(retry_gap 2s)" % ((t_first or t_fail + 99) - t_fail))
    attempts_while_down = primary.attempts["traces"] - attempts_before
    primary.normal()
    t_back = time.monotonic()
    h.wait_until(lambda: "now sending to priority level 0" in h.otelc_stderr(proc), 15)
    send(30)
    late = [r for t, r in ok if t > t_back + 5.0]
    h.wait_until(lambda: primary.count("traces") + secondary.count("traces") >= 5 * len(ok), 20)
    client.close()
    stderr = h.otelc_stderr(proc)
    h.stop_otelc(proc)
    got = collections.Counter(h.flatten("traces", primary.requests("traces")) +
                              h.flatten("traces", secondary.requests("traces")))
    want = collections.Counter(h.flatten("traces", [r for _t, r in ok]))
    lost, extra = sum((want - got).values()), sum((got - want).values())
    checks.check(lost == 0 and extra == 0,
                 "(g) failover: every one of the %d spans answered OK arrived exactly once (lost %d, "
                 "extra %d)" % (sum(want.values()), lost, extra))
    in_primary = collections.Counter(h.flatten("traces", primary.requests("traces")))
    late_items = collections.Counter(h.flatten("traces", late))
    checks.check(late and not (late_items - in_primary),
                 "(g) failover: once the primary recovered, data went back to it (%d requests sent "
                 "later all reached the primary)" % len(late))
    checks.check("now sending to priority level 1" in stderr and
                 "now sending to priority level 0" in stderr,
                 "(g) failover: each switch of level is one log line", stderr[-600:])
    checks.check(3 <= attempts_while_down <= 3 + 6,
                 "(g) failover: the failing primary saw %d calls (failure_threshold 3, then a probe "
                 "each recovery_timeout of 3s)" % attempts_while_down)


def main(checks):
    case_routing_resource(checks)
    case_routing_items(checks)
    case_forward(checks)
    case_backpressure(checks)
    case_reload(checks)
    case_bad(checks)
    case_failover(checks)


if __name__ == "__main__":
    h.run_test(main, timeout=200)
