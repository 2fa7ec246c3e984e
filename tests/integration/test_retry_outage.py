# test_retry_outage.py: the backend is down (nothing listening) for 20 s and
# then comes up on the same port (issue 4, "Backend outage"): every item otelc
# answered OK arrives, and one batch's retry waits follow retry_on_failure
# (initial_interval 500ms, multiplier 2, max_interval 4s, jitter 0.2), read
# from otelc's per-attempt log lines.
# SPDX-License-Identifier: Apache-2.0
import calendar
import os
import random
import re
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

OUTAGE_S = 20.0
INITIAL, MULT, MAX, JITTER = 0.5, 2.0, 4.0, 0.2
MARKER_SPANS = 13  # the batch whose attempts are timed; no other request has this size
ATTEMPT_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z \[\w+\] \[exporter:otlp\] "
                        r"export of %d spans failed \(attempt (\d+): .*\), retrying in ([0-9.]+)s"
                        % MARKER_SPANS)


def stamp(date, ms):
    return calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000.0


def nominal(k):
    """The interval before jitter of the k-th wait (k = 1 for the first)."""
    return min(INITIAL * MULT ** (k - 1), MAX)


def main(checks):
    sink_port = h.free_port()
    rport = h.free_port()
    exporters = h.otlp_exporter_yaml(
        "otlp", sink_port, initial_interval="%gms" % (INITIAL * 1000), max_interval="%gs" % MAX,
        max_elapsed_time="300s",
        extra="      multiplier: %g\n      randomization_factor: %g\n" % (MULT, JITTER))
    cfg = h.config_yaml(rport, exporters, {s: ["otlp"] for s in h.SIGNALS},
                        service_extra="  telemetry:\n    logs:\n      level: debug\n")
    t0 = time.monotonic()
    proc = h.start_otelc(cfg, port=rport)
    client = h.Client(rport)
    sent = {s: [] for s in h.SIGNALS}
    refused = [0]

    def export(sig, req):
        code, _resp, details = client.export_full(sig, req)
        if code == grpc.StatusCode.OK:
            sent[sig].append(req)
        else:
            refused[0] += 1
        return code, details

    marker = h.make_request("traces", MARKER_SPANS)
    code, details = export("traces", marker)
    checks.eq(code, grpc.StatusCode.OK, "the first batch is answered OK while the backend is down")

    stop = threading.Event()

    def load():
        rnd = random.Random(7)
        i = 0
        while not stop.is_set():
            sig = h.SIGNALS[i % 3]
            i += 1
            export(sig, h.make_request(sig, rnd.randint(2, 9)))
            time.sleep(0.25)

    th = threading.Thread(target=load, daemon=True)
    th.start()
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t0)))
    sink = h.Sink(port=sink_port)
    h.log("backend up on port %d after %.1fs" % (sink_port, time.monotonic() - t0))
    time.sleep(4.0)  # load keeps coming after the backend is back
    stop.set()
    th.join(10)
    n_ok = sum(len(v) for v in sent.values())
    checks.check(n_ok > 50 and refused[0] == 0,
                 "otelc answered OK to every request during the outage (%d requests, %d refused)"
                 % (n_ok, refused[0]))

    for sig in h.SIGNALS:
        want = h.count_items(sig, sent[sig])
        got = sink.wait_count(sig, want, 40)
        missing, extra = h.compare(sig, sent[sig], sink.requests(sig))
        checks.check(not missing, "%s: every item answered OK arrived (%d of %d)" % (sig, got, want),
                     h.diff_report(sig, missing, extra))
        stray = [it for it in extra if it not in set(h.flatten(sig, sent[sig]))]
        checks.check(not stray, "%s: nothing arrived that was not sent" % sig)

    # The marker batch's attempts during the outage.
    attempts = []
    for line in h.otelc_stderr(proc).splitlines():
        m = ATTEMPT_RE.match(line)
        if m:
            attempts.append((int(m.group(3)), stamp(m.group(1), m.group(2)), float(m.group(4))))
    h.log("marker batch: %d failed attempts; (attempt, wait chosen, gap to the next attempt):"
          % len(attempts))
    checks.check(len(attempts) >= 5, "the marker batch was retried through the outage "
                 "(%d failed attempts logged)" % len(attempts))
    checks.eq([a[0] for a in attempts], list(range(1, len(attempts) + 1)),
              "attempts are numbered 1, 2, 3, ... (one line each)")
    waits_ok = gaps_ok = grow_ok = True
    prev_gap = None
    for i, (k, t, wait) in enumerate(attempts):
        n = nominal(k)
        lo, hi = n * (1 - JITTER) - 0.001, n * (1 + JITTER) + 0.001
        gap = attempts[i + 1][1] - t if i + 1 < len(attempts) else None
        h.log("  attempt %2d: wait %.3fs (allowed %.3f..%.3f)%s" % (
            k, wait, lo, hi, "" if gap is None else ", next attempt %.3fs later" % gap))
        waits_ok &= lo <= wait <= hi
        if gap is not None:
            # The wait starts when the failure is seen, the log line is stamped a
            # little later (much later under a sanitizer on a loaded machine), so
            # a gap may look shorter than its wait by that delay.
            gaps_ok &= wait - 0.25 <= gap <= wait + 1.0
            if prev_gap is not None:
                grow_ok &= gap >= prev_gap * (1 - JITTER) / (1 + JITTER) - 0.05
            prev_gap = gap
    checks.check(waits_ok, "every chosen wait is initial_interval * multiplier^k, capped at "
                 "max_interval, within +/-%d%% jitter" % (JITTER * 100))
    checks.check(gaps_ok, "the measured gaps between attempts match the chosen waits")
    checks.check(grow_ok, "the gaps never shrink by more than the jitter allows")
    if len(attempts) >= 4:
        first = attempts[1][1] - attempts[0][1]
        last = attempts[-1][1] - attempts[-2][1]
        checks.check(last > 2.5 * first, "the gaps grew (first %.2fs, last %.2fs)" % (first, last))
        checks.check(all(a[2] <= MAX * (1 + JITTER) + 0.001 for a in attempts),
                     "no wait exceeds max_interval plus jitter")
    h.stop_otelc(proc, timeout=30)
    sink.stop()


if __name__ == "__main__":
    h.run_test(main, timeout=150)
