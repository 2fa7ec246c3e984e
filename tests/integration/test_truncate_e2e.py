# test_truncate_e2e.py: attribute limits through the real otelc binary. A
# transform processor (truncate_all(span.attributes, 7)) followed by a
# truncate processor (max_value_length 10, max_attributes 6, log_body) cut
# strings without splitting UTF-8 sequences, drop attributes beyond the limit
# and raise dropped_attributes_count, as a model of otelcol's semantics says.
# `otelc validate` rejects an OTTL statement it cannot run (an unsupported
# function) naming it and its file:line:column.
# SPDX-License-Identifier: Apache-2.0
import copy
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OK = h.grpc.StatusCode.OK
OTTL_LEN = 7     # truncate_all(span.attributes, 7)
MAX_LEN = 10     # truncate: max_value_length
MAX_ATTRS = 6    # truncate: max_attributes

CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
processors:
  transform:
    trace_statements:
      - truncate_all(span.attributes, {ottl})
  truncate:
    max_value_length: {max_len}
    max_attributes: {max_attrs}
    log_body: true
exporters:
{exporter}service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [transform, truncate]
      exporters: [otlp/sink]
    logs:
      receivers: [otlp]
      processors: [truncate]
      exporters: [otlp/sink]
"""


# ---- model of the expected result

def cut(s, n):
    """The longest prefix of s of at most n UTF-8 bytes that ends on a
    character boundary."""
    b = s.encode("utf-8")
    if len(b) <= n:
        return s
    k = n
    while k > 0 and (b[k] & 0xC0) == 0x80:  # b[k] continues the character cut
        k -= 1
    return b[:k].decode("utf-8")


def cut_value(av, n, nested):
    kind = av.WhichOneof("value")
    if kind == "string_value":
        av.string_value = cut(av.string_value, n)
    elif nested and kind == "array_value":
        for v in av.array_value.values:
            cut_value(v, n, True)
    elif nested and kind == "kvlist_value":
        for kv in av.kvlist_value.values:
            cut_value(kv.value, n, True)


def limit_set(owner, field="attributes", has_dropped=True):
    """truncate: strings (nested) to MAX_LEN, the first MAX_ATTRS attributes kept."""
    kvs = getattr(owner, field)
    for kv in kvs:
        cut_value(kv.value, MAX_LEN, True)
    extra = len(kvs) - MAX_ATTRS
    if extra > 0:
        del kvs[MAX_ATTRS:]
        if has_dropped:
            owner.dropped_attributes_count += extra


def model_traces(req):
    req = copy.deepcopy(req)
    for rs in req.resource_spans:
        limit_set(rs.resource)
        for ss in rs.scope_spans:
            limit_set(ss.scope)
            for sp in ss.spans:
                for kv in sp.attributes:  # OTTL truncate_all: top-level strings only
                    cut_value(kv.value, OTTL_LEN, False)
                limit_set(sp)
                for ev in sp.events:
                    limit_set(ev)
                for ln in sp.links:
                    limit_set(ln)
    return req


def model_logs(req):
    req = copy.deepcopy(req)
    for rl in req.resource_logs:
        limit_set(rl.resource)
        for sl in rl.scope_logs:
            limit_set(sl.scope)
            for lr in sl.log_records:
                limit_set(lr)
                if lr.HasField("body"):
                    cut_value(lr.body, MAX_LEN, True)
    return req


# ---- input

# UTF-8 cut points at 7 bytes: the byte after the cut is the 1st..4th byte of
# a 2-, 3- or 4-byte sequence, or the cut falls exactly after one.
SPAN_STRINGS = {
    "u2.end": "abcde\u00e9",          # 7 bytes: kept whole
    "u2.mid": "abcdef\u00e9",         # e-acute split after 7 -> "abcdef"
    "u3.mid1": "abcde\u20ac",         # euro sign bytes 6..8 -> "abcde"
    "u3.mid2": "abcdef\u20ac",        # -> "abcdef"
    "u4.mid": "abcd\U0001F600",       # emoji bytes 5..8 -> "abcd"
    "u4.end": "abc\U0001F600xyz",     # "abc" + emoji = 7 bytes -> "abc" + emoji
}
SPAN_LITERAL = {
    "u2.end": "abcde\u00e9", "u2.mid": "abcdef", "u3.mid1": "abcde", "u3.mid2": "abcdef",
    "u4.mid": "abcd", "u4.end": "abc\U0001F600",
}


def make_traces():
    req = h.make_traces(4, n_resources=2, rich=True)
    for rs in req.resource_spans:
        # 3 resource attributes from the harness + 5: 2 dropped
        rs.resource.attributes.extend(h.attrs({"r%d" % i: "\u00e9" * 8 for i in range(5)}))
        for ss in rs.scope_spans:
            for i, sp in enumerate(ss.spans):
                del sp.attributes[:]
                sp.dropped_attributes_count = 2
                if i % 2 == 0:
                    sp.attributes.extend(h.attrs(SPAN_STRINGS))   # 6: none dropped
                else:
                    sp.attributes.extend(h.attrs({
                        "long": "\u00e9\u00e9\u00e9\u00e9x",      # 9 bytes -> 3 x e-acute
                        "n": 123456789,
                        # truncate_all leaves nested strings; truncate cuts them at 10
                        "arr": ["0123456789\u00e9", "\u20ac\u20ac\u20ac\u20ac"],
                        "map": {"k": "\u00e9\u00e9\u00e9\u00e9\u00e9\u20ac"},
                        "a4": "a", "a5": "b", "a6": "c", "a7": "d", "a8": "e",  # 3 dropped
                    }))
                ev = sp.events[0]
                ev.attributes.extend(h.attrs({
                    "ev.s1": "ab\u20ac\u20ac\u20ac",              # 11 bytes -> "ab" + 2 euro
                    "ev.s2": "abcdefghi\U0001F600",               # 13 bytes -> "abcdefghi"
                    "ev.x1": 1, "ev.x2": 2, "ev.x3": 3, "ev.x4": 4, "ev.x5": 5,  # 8: 2 dropped
                }))
    return req


def make_logs():
    req = h.make_logs(3, rich=True)
    recs = req.resource_logs[0].scope_logs[0].log_records
    recs[0].body.string_value = "ab\U0001F600cdefghijk"  # 15 bytes -> "ab" + emoji + "cdef"
    recs[1].body.CopyFrom(h._any(["\u20ac" * 4, {"k": "0123456789\u00e9"}]))
    for lr in recs:
        lr.attributes.extend(h.attrs({"l%d" % i: "x\u00e9" * 6 for i in range(4)}))
    return req


def main(t):
    sink = h.Sink("sink")
    port = h.free_port()
    cfg = CONFIG.format(port=port, ottl=OTTL_LEN, max_len=MAX_LEN, max_attrs=MAX_ATTRS,
                        exporter=h.otlp_exporter_yaml("otlp/sink", sink.port))
    proc = h.start_otelc(cfg)
    c = h.Client(port)

    tr = make_traces()
    lo = make_logs()
    for sig, req in (("traces", tr), ("logs", lo)):
        code, _ = c.export(sig, req, timeout=10)
        t.eq(code, OK, "%s request answered" % sig)
    for sig, req, model in (("traces", tr, model_traces), ("logs", lo, model_logs)):
        n = h.count_items(sig, [req])
        sink.wait_count(sig, n, 15)
        time.sleep(0.2)
        missing, extra = h.compare(sig, [model(req)], sink.requests(sig))
        t.check(not missing and not extra, "%s: the sink received exactly the model's result "
                "(UTF-8 safe cuts, nested strings, attribute limits, dropped counts)" % sig,
                h.diff_report(sig, missing, extra))

    # the same facts spelled out, independently of the model
    spans = [sp for r in sink.requests("traces") for rs in r.resource_spans
             for ss in rs.scope_spans for sp in ss.spans]
    res = [rs.resource for r in sink.requests("traces") for rs in r.resource_spans]
    full = [sp for sp in spans if {kv.key for kv in sp.attributes} == set(SPAN_LITERAL)]
    short = [sp for sp in spans if any(kv.key == "long" for kv in sp.attributes)]
    t.eq((len(full), len(short)), (2, 2), "spans of both shapes arrived")
    got = {kv.key: kv.value.string_value for kv in full[0].attributes} if full else {}
    t.eq(got, SPAN_LITERAL, "truncate_all(span.attributes, 7): cut before split 2/3/4-byte "
         "sequences, whole when a sequence ends at byte 7")
    if short:
        sp = short[0]
        a = {kv.key: kv.value for kv in sp.attributes}
        t.eq([kv.key for kv in sp.attributes], ["long", "n", "arr", "map", "a4", "a5"],
             "max_attributes 6 keeps the first six span attributes")
        t.eq(sp.dropped_attributes_count, 2 + 3, "span dropped_attributes_count: 2 received + 3 "
             "dropped")
        t.eq(a["long"].string_value, "\u00e9\u00e9\u00e9", "7-byte cut of 4 x e-acute + x")
        t.eq([v.string_value for v in a["arr"].array_value.values],
             ["0123456789", "\u20ac\u20ac\u20ac"], "array strings cut at 10 bytes by truncate")
        t.eq(a["map"].kvlist_value.values[0].value.string_value, "\u00e9" * 5,
             "kvlist string cut at 10 bytes by truncate")
        ev = {kv.key: kv.value for kv in sp.events[0].attributes}
        t.eq((ev["ev.s1"].string_value, ev["ev.s2"].string_value),
             ("ab\u20ac\u20ac", "abcdefghi"), "span event strings cut at 10 bytes")
        t.eq(sp.events[0].dropped_attributes_count, 1 + 2,
             "span event dropped_attributes_count: 1 received + 2 dropped")
    t.eq(sorted(r.dropped_attributes_count for r in res), [2, 2],
         "resource dropped_attributes_count: 8 attributes, 6 kept")
    recs = [lr for r in sink.requests("logs") for rl in r.resource_logs
            for sl in rl.scope_logs for lr in sl.log_records]
    bodies = [lr.body.string_value for lr in recs if lr.body.WhichOneof("value") == "string_value"]
    t.check("ab\U0001F600cdef" in bodies, "log body cut at 10 bytes after a 4-byte sequence",
            bodies)
    c.close()
    h.stop_otelc(proc)

    # ---- otelc validate: an invalid OTTL statement is named with line and column
    bad = CONFIG.format(port=port, ottl=OTTL_LEN, max_len=MAX_LEN, max_attrs=MAX_ATTRS,
                        exporter=h.otlp_exporter_yaml("otlp/sink", sink.port))
    stmt = 'replace_all_matches(span.attributes, "a*", "b")'
    bad = bad.replace("      - truncate_all(span.attributes, %d)\n" % OTTL_LEN,
                      "      - truncate_all(span.attributes, %d)\n      - '%s'\n"
                      % (OTTL_LEN, stmt))
    line = bad.split("\n").index("      - '%s'" % stmt) + 1
    path = h.write_config(bad, "bad-ottl.yaml")
    r = h.run_otelc(["validate", "--config", path])
    out = r.stdout + r.stderr
    h.log(out.strip())
    t.check(r.returncode != 0, "validate: an invalid OTTL statement fails (exit %d)"
            % r.returncode)
    m = re.search(re.escape(path) + r":(\d+):(\d+): .*" + re.escape(stmt), out)
    t.check(m is not None, "validate: the error names the statement with file:line:column", out)
    if m:
        t.eq((int(m.group(1)), int(m.group(2))), (line, 9),
             "validate: line and column are those of the statement")


if __name__ == "__main__":
    h.run_test(main, timeout=120)
