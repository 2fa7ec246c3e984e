# test_js_routing.py: two tenants' services, each the OpenTelemetry JS SDK
# (tenant_load.js, OTLP/gRPC) sending spans for several seconds, into one
# otelc whose routing connector sends tenant acme's spans to one backend and
# the rest to another; its filter processor drops health checks and its
# attributes processor hashes user.email (PII). Halfway through, pipeline.yaml
# is edited (and SIGHUP sent) so that acme goes to the other backend. Every
# span the SDK saw answered OK must arrive exactly once, hashed, at the right
# backend for when it was sent; no health check may arrive.
# SPDX-License-Identifier: Apache-2.0
import collections
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import otlp_harness as h  # noqa: E402

DURATION_MS = 12000

CONFIG = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
processors:
  filter/health:
    error_mode: ignore
    traces:
      span:
        - attributes["http.target"] == "/health"
  attributes/pii:
    actions:
      - key: user.email
        action: hash
  batch:
    timeout: 100ms
connectors:
  routing:
    default_pipelines: [traces/other]
    table:
      - condition: attributes["tenant"] == "{tenant}"
        pipelines: [traces/acme]
exporters:
{exporters}service:
  shutdown_timeout: 20s
  pipelines:
    traces/in:
      receivers: [otlp]
      processors: [filter/health, attributes/pii, batch]
      exporters: [routing]
    traces/acme:
      receivers: [routing]
      exporters: [otlp/acme]
    traces/other:
      receivers: [routing]
      exporters: [otlp/other]
"""


def spans_of(sink):
    """(tenant, name, attributes) of every span the sink got."""
    out = []
    for req in sink.requests("traces"):
        for rs in req.resource_spans:
            tenant = {a.key: a.value.string_value for a in rs.resource.attributes}.get("tenant")
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    out.append((tenant, sp.name, {a.key: a.value for a in sp.attributes}))
    return out


def main(t):
    r = subprocess.run(["sh", os.path.join(HERE, "setup.sh")], capture_output=True, text=True,
                       timeout=90)
    if not t.check(r.returncode == 0, "setup.sh installed the JS SDK (exit %d)" % r.returncode,
                   (r.stdout + r.stderr)[-2000:]):
        return
    acme, other = h.Sink("acme"), h.Sink("other")
    port = h.free_port()
    exp = h.otlp_exporter_yaml("otlp/acme", acme.port) + h.otlp_exporter_yaml("otlp/other",
                                                                             other.port)
    proc = h.start_otelc(CONFIG.format(port=port, exporters=exp, tenant="acme"), port=port)
    results = {}

    def run(tenant):
        p = subprocess.run(["node", os.path.join(HERE, "tenant_load.js")], capture_output=True,
                           text=True, timeout=90, cwd=HERE,
                           env=dict(os.environ, OTLP_ENDPOINT="http://127.0.0.1:%d" % port,
                                    TENANT=tenant, DURATION_MS=str(DURATION_MS), RATE="300"))
        results[tenant] = p

    threads = [threading.Thread(target=run, args=(x,)) for x in ("acme", "globex")]
    for th in threads:
        th.start()
    # the edit comes once acme's spans flow (node starts slowly on a loaded machine)
    t.check(h.wait_until(lambda: acme.count("traces") >= 400, 30),
            "acme's spans reach the acme backend before the edit (%d)" % acme.count("traces"))
    with open(proc.config_path + ".tmp", "w") as f:
        f.write(CONFIG.format(port=port, exporters=exp, tenant="nobody"))
    os.rename(proc.config_path + ".tmp", proc.config_path)
    proc.send_signal(signal.SIGHUP)
    t_edit_ms = time.time() * 1000
    reloaded = h.wait_until(lambda: "config reloaded" in h.otelc_stderr(proc), 15)
    t.check(reloaded, "pipeline.yaml edited under load: the log says the config was reloaded",
            h.otelc_stderr(proc)[-800:])
    for th in threads:
        th.join(100)
    sent = {}
    for tenant, p in results.items():
        ok = t.check(p.returncode == 0 and p.stdout.strip(),
                     "%s: tenant_load.js ran (exit %d)" % (tenant, p.returncode), p.stderr[-2000:])
        if ok:
            sent[tenant] = json.loads(p.stdout.strip().splitlines()[-1])
    if len(sent) != 2:
        h.stop_otelc(proc)
        return
    want = [s for x in sent.values() for s in x["ok"] if not s["health"]]
    h.wait_until(lambda: acme.count("traces") + other.count("traces") >= len(want), 20)
    h.stop_otelc(proc)
    got_a, got_b = spans_of(acme), spans_of(other)
    counts = collections.Counter(name for _t, name, _a in got_a + got_b)
    lost = [s["name"] for s in want if counts[s["name"]] == 0]
    dups = [n for n, c in counts.items() if c > 1]
    for tenant, x in sent.items():
        t.check(x["created"] > 1000, "%s: sent %d spans over %.0f s (%d exports failed)"
                % (tenant, x["created"], DURATION_MS / 1000.0, x["failed"]))
    t.check(len(want) > 1000 and not lost and not dups,
            "every one of the %d non-health spans answered OK arrived exactly once (lost %d, "
            "duplicated %d)" % (len(want), len(lost), len(dups)), str(lost[:5]) + str(dups[:5]))
    health = [n for n in counts if n.split("-")[-1].isdigit() and int(n.split("-")[-1]) % 10 == 0]
    n_health = sum(1 for x in sent.values() for s in x["ok"] if s["health"])
    t.check(n_health > 50 and not health,
            "filter: none of the %d health-check spans arrived" % n_health, str(health[:5]))
    emails = [a.get("user.email") for _t, _n, a in got_a + got_b]
    ok_hash = all(e is not None and len(e.string_value) == 64 and "@" not in e.string_value
                  for e in emails)
    sample = "%s-1" % "globex"
    want_hash = hashlib.sha256(b"user1@globex.example").hexdigest()
    got_hash = [a["user.email"].string_value for _t, n, a in got_b if n == sample]
    t.check(ok_hash and got_hash == [want_hash],
            "attributes: user.email arrived hashed (SHA-256 hex) on every span, e.g. %s" % sample,
            got_hash)
    t.check(all(x == "globex" for x, _n, _a in got_b if not _n.startswith("acme")) and
            not any(x == "globex" for x, _n, _a in got_a),
            "routing: globex went to the other backend only")
    created = {s["name"]: s["created"] for s in sent["acme"]["ok"]}
    before = [n for x, n, _a in got_a + got_b if x == "acme" and created.get(n, 0) < t_edit_ms - 500]
    after = [n for x, n, _a in got_a + got_b if x == "acme" and created.get(n, 0) > t_edit_ms + 1500]
    a_names = {n for _x, n, _a in got_a}
    t.check(len(before) > 200 and all(n in a_names for n in before),
            "routing: acme's %d spans created before the edit went to the acme backend"
            % len(before))
    t.check(len(after) > 200 and not any(n in a_names for n in after),
            "routing: acme's %d spans created 1.5 s after the edit went to the other backend"
            % len(after))


if __name__ == "__main__":
    h.run_test(main, timeout=200)
