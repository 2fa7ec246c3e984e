# test_load_balancing_config.py: bad input to the load_balancing exporter (and
# to the tail_sampling processor of a sampling tier) is refused by
# `otelc validate` with exit 1 and a message naming file:line:column, the
# component and the key; a routing_key the pipeline's signal cannot use stops
# the start with a message naming it; a good two-tier agent config validates.
# SPDX-License-Identifier: Apache-2.0
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

BASE = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
processors:
  tail_sampling:
    decision_wait: 1s
    policies:
%s
exporters:
  loadbalancing:
%s
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [tail_sampling]
      exporters: [loadbalancing]
%s"""

POLICY = "      - {name: all, type: always_sample}"
STATIC = "    resolver: {static: {hostnames: [127.0.0.1:4317]}}"

# (what, policies, exporter body, extra pipelines, words the message must hold)
BAD = [
    ("no resolver", POLICY, "    protocol: {otlp: {tls: {insecure: true}}}", "",
     ['exporter "loadbalancing"', "resolver", "no resolver given"]),
    ("two resolvers", POLICY,
     "    resolver:\n      static: {hostnames: [a:4317]}\n      dns: {hostname: tier.example}", "",
     ["resolver", "only one resolver", "static", "dns"]),
    ("unknown routing_key", POLICY, "    routing_key: traceId\n" + STATIC, "",
     ['key "routing_key"', "traceId", "traceID"]),
    ("streamID routing_key", POLICY, "    routing_key: streamID\n" + STATIC, "",
     ["routing_key", "streamID", "not supported"]),
    ("k8s resolver", POLICY, "    resolver: {k8s: {service: lb-svc.ns}}", "",
     ["resolver.k8s", "not supported"]),
    ("aws_cloud_map resolver", POLICY,
     "    resolver: {aws_cloud_map: {namespace: n, service_name: s}}", "",
     ["resolver.aws_cloud_map", "not supported"]),
    ("dns without hostname", POLICY, "    resolver: {dns: {port: 4317}}", "",
     ["resolver.dns.hostname", "required"]),
    ("static without hostnames", POLICY, "    resolver: {static: {hostnames: []}}", "",
     ["resolver.static.hostnames"]),
    ("attributes without routing_attributes", POLICY, "    routing_key: attributes\n" + STATIC, "",
     ["routing_attributes", "attributes"]),
    ("routing_attributes without attributes", POLICY,
     "    routing_attributes: [tenant]\n" + STATIC, "", ["routing_attributes", "traceID"]),
    ("unknown protocol.otlp key", POLICY, "    protocol: {otlp: {compresion: gzip}}\n" + STATIC, "",
     ["protocol.otlp.compresion", "unknown key"]),
    ("bad protocol.otlp value", POLICY, "    protocol: {otlp: {compression: brotli}}\n" + STATIC, "",
     ["protocol.otlp.compression", "brotli"]),
    ("bad protocol.otlp.timeout", POLICY, "    protocol: {otlp: {timeout: soon}}\n" + STATIC, "",
     ["protocol.otlp.timeout", "soon"]),
    ("bad resolver.dns.interval", POLICY,
     "    resolver: {dns: {hostname: tier.example, interval: often}}", "",
     ['key "resolver.dns.interval"']),
    ("unknown resolver key", POLICY, "    resolver: {static: {hostnames: [a:4317]}, dnss: {}}", "",
     ['unknown key "resolver.dnss"']),
    ("tail_sampling: unknown policy type", "      - {name: odd, type: sometimes}", STATIC, "",
     ['processor "tail_sampling"', "policies[0]", "unknown policy type", "sometimes"]),
    ("tail_sampling: invalid regex", "      - {name: rx, type: string_attribute, string_attribute: "
     "{key: k, values: ['(open'], enabled_regex_matching: true}}", STATIC, "",
     ['processor "tail_sampling"', "string_attribute.values[0]", "invalid regular expression",
      "(open"]),
]


def main(t):
    for what, pol, exp, extra, words in BAD:
        text = BASE % (h.free_port(), pol, exp, extra)
        path = h.write_config(text)
        r = h.run_otelc(["validate", "--config", path])
        out = r.stdout + r.stderr
        t.check(r.returncode == 1, "validate (%s): exit 1 (got %d)" % (what, r.returncode), out[-800:])
        t.check(re.search(r"%s:\d+:\d+: " % re.escape(os.path.basename(path)), out) is not None,
                "validate (%s): the message names file:line:column" % what, out[-800:])
        miss = [w for w in words if w not in out]
        t.check(not miss, "validate (%s): the message names %s" % (what, words),
                "missing %s in:\n%s" % (miss, out[-800:]))

    # a good agent config, with the otelcol-contrib spelling `loadbalancing`
    good = BASE % (h.free_port(), POLICY,
                   "    routing_key: service\n    protocol:\n      otlp:\n        timeout: 1s\n"
                   "        tls: {insecure: true}\n        sending_queue: {enabled: false}\n"
                   "    resolver:\n      dns: {hostname: tier.example, port: 4317, interval: 5s, "
                   "timeout: 1s}",
                   "    metrics:\n      receivers: [otlp]\n      exporters: [loadbalancing]\n")
    r = h.run_otelc(["validate", "--config", h.write_config(good)])
    t.check(r.returncode == 0, "validate a good agent config (exit 0)", (r.stdout + r.stderr)[-800:])
    also = good.replace("loadbalancing", "load_balancing")
    r = h.run_otelc(["validate", "--config", h.write_config(also)])
    t.check(r.returncode == 0, "validate the same with type load_balancing (exit 0)",
            (r.stdout + r.stderr)[-800:])

    # traceID cannot route metrics: the start fails naming routing_key
    text = BASE % (h.free_port(), POLICY, STATIC,
                   "    metrics:\n      receivers: [otlp]\n      exporters: [loadbalancing]\n")
    path = h.write_config(text)
    try:
        r = h.run_otelc(["--config", path], timeout=10)
        out = r.stdout + r.stderr
        t.check(r.returncode != 0 and 'routing_key "traceID" cannot route metrics' in out,
                "start with routing_key traceID in a metrics pipeline fails naming routing_key "
                "(exit %d)" % r.returncode, out[-800:])
    except h.subprocess.TimeoutExpired:
        t.check(False, "start with routing_key traceID in a metrics pipeline fails")


if __name__ == "__main__":
    h.run_test(main, timeout=120)
