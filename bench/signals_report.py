#!/usr/bin/env python3
# signals_report.py - the "Per signal" section of bench/RESULTS.md from what
# bench/run.sh measured: its rows file (one run per line, key=value fields) and
# per-thread CPU snapshots of otelc's full chain around the max-rate run.
#
# Usage: signals_report.py ROWS THREAD_DIR HEADER OUT CHART_DATA
#   ROWS        lines "signal=S setup=forward|passthrough|full kind=fixed|max|search
#               [round=K] rate=R items_s=X cpu_m=C ticks=T ok=N refused=N errors=N p99=MS
#               bytes_per_req=B items_per_req=I req_s=Q" (rate: requests/s asked,
#               0 = unthrottled; req_s: requests/s sent and answered)
#   THREAD_DIR  threads-S.before / threads-S.after: "tid<TAB>ticks<TAB>comm" per thread
#   HEADER      markdown put first (title and bullets, written by run.sh)
#   OUT         the section written
#   CHART_DATA  "signal fwd pt full" CPU-s per M items, for gnuplot
# SPDX-License-Identifier: Apache-2.0
import os
import sys

SETUPS = (("forward", "forward-only"), ("passthrough", "otelc pass-through"),
          ("full", "otelc full chain"))
BUSY = 0.01  # a thread with less than 1% of the process CPU does not count as a copy
# Threads otelc names itself (pthread_setname_np; "otelc" = the main thread and
# threads left unnamed); the others are the gRPC library's own.
OTELC_THREADS = ("grpc-loop", "pipeline", "exporter", "telemetry", "wal-replay", "wal-acks", "otelc")


def num(x, default=None):
    try:
        return float(x)
    except (TypeError, ValueError):
        return default


def median(xs):
    xs = sorted(xs)
    if not xs:
        return None
    k = len(xs) // 2
    return xs[k] if len(xs) % 2 else (xs[k - 1] + xs[k]) / 2.0


def fixed_rounds(rows, sig, setup):
    """round -> row of the fixed-rate runs of one setup"""
    return {r.get("round", "1"): r for r in rows
            if (r["signal"], r["setup"], r["kind"]) == (sig, setup, "fixed")}


def read_rows(path):
    rows = []
    for line in open(path):
        line = line.strip()
        if line:
            rows.append(dict(kv.split("=", 1) for kv in line.split()))
    return rows


def read_threads(path):
    """tid -> (ticks, comm)"""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        parts = line.rstrip("\n").split("\t", 2)
        if len(parts) == 3:
            out[parts[0]] = (int(parts[1]), parts[2])
    return out


def amdahl(s, n):
    return 1.0 / (s + (1.0 - s) / n)


def thread_shares(before, after, proc_ticks):
    """Per thread of the after-snapshot: (tid, comm, ticks in the run), and the
    ticks of the process not found on a live thread (threads that ended)."""
    threads = []
    for tid, (t1, comm) in after.items():
        t0 = before.get(tid, (0, comm))[0]
        threads.append((tid, comm, max(t1 - t0, 0)))
    total = max(proc_ticks, sum(t for _, _, t in threads), 1)
    gone = max(total - sum(t for _, _, t in threads), 0)
    return threads, total, gone


def serial_fraction(threads, total):
    """s for Amdahl: the busiest thread whose name has a single busy thread in
    the process (its work cannot spread over cores as things are). When every
    busy name has several threads (loops and workers sized by the CPUs), the
    work of each name spreads, and s is the busiest thread whose name occurs
    once in the process (0 when there is none)."""
    busy, count = {}, {}
    for _, comm, t in threads:
        count[comm] = count.get(comm, 0) + 1
        if t >= BUSY * total:
            busy[comm] = busy.get(comm, 0) + 1
    single = [(t, comm, tid) for tid, comm, t in threads if busy.get(comm) == 1]
    if single:
        t, comm, tid = max(single)
        return t / total, comm, "the busiest thread whose name has no other busy thread"
    alone = [(t, comm, tid) for tid, comm, t in threads if count.get(comm) == 1]
    if not alone:
        return 0.0, "-", "no thread runs alone"
    t, comm, tid = max(alone)
    return t / total, comm, "every busy name has several threads: the busiest thread of a name that occurs once"


def main(argv):
    rows_path, thread_dir, header, out_path, chart_path = argv[1:6]
    rows = read_rows(rows_path)
    signals = []
    for r in rows:
        if r["signal"] not in signals:
            signals.append(r["signal"])

    def find(sig, setup, kind):
        for r in rows:
            if (r["signal"], r["setup"], r["kind"]) == (sig, setup, kind):
                return r
        return {}

    out = [open(header).read().rstrip("\n"), ""]
    w = out.append
    chart = []
    targets = []

    # 1. fixed rate
    w("### CPU per item at a fixed rate")
    w("")
    sizes = ["%s %s" % (sig, find(sig, "forward", "fixed").get("bytes_per_req", "-")) for sig in signals]
    w("Bytes per request: %s." % ", ".join(sizes))
    w("")
    w("Items/s = items answered OK per second. Below 95% of the rate asked, the share reached is")
    w("shown: that run did not reach the rate (a busy machine, refusals, or the calls in flight")
    w("did not suffice), so its CPU figure is from a lower rate than the others'. With several")
    w("rounds, items/s, CPU and p99 are the medians of the rounds, the ratio is the median of")
    w("the rounds' own ratios (each round's forward-only run is its reference), and refusals")
    w("and errors are summed.")
    w("")
    w("| signal | setup | items/s | CPU-s per M items | ratio to forward-only | ratio in each round "
      "| p99 ms | requests refused (UNAVAILABLE) | other errors |")
    w("|---|---|---:|---:|---:|---|---:|---:|---:|")
    for sig in signals:
        fwd = fixed_rounds(rows, sig, "forward")
        line = [sig]
        for setup, label in SETUPS:
            runs = fixed_rounds(rows, sig, setup)
            if not runs:
                line.append("-")
                continue
            cpus = [num(r.get("cpu_m")) for r in runs.values() if num(r.get("cpu_m"))]
            c = median(cpus)
            ratios = [num(r.get("cpu_m")) / num(fwd[k].get("cpu_m")) for k, r in sorted(runs.items())
                      if k in fwd and num(r.get("cpu_m")) and num(fwd[k].get("cpu_m"))]
            mr = median(ratios)
            ratio = "%.2f" % mr if mr is not None else "-"
            each = " / ".join("%.2f" % x for x in ratios) if len(ratios) > 1 else "-"
            refused = sum(int(num(r.get("refused"), 0)) for r in runs.values())
            other = sum(int(num(r.get("errors"), 0)) for r in runs.values()) - refused
            sent = sum(int(num(r.get("ok"), 0)) + int(num(r.get("errors"), 0)) for r in runs.values())
            pct = " (%.1f%%)" % (100.0 * refused / sent) if refused and sent else ""
            its = median([num(r.get("items_s"), 0) for r in runs.values()])
            reached = "{:,.0f}".format(its)
            any_r = next(iter(runs.values()))
            asked = num(any_r.get("rate"), 0) * num(any_r.get("items_per_req"), 0)
            if asked and its < 0.95 * asked:
                reached += " (%.0f%% of %s)" % (100.0 * its / asked, "{:,.0f}".format(asked))
            p99 = median([num(r.get("p99")) for r in runs.values() if num(r.get("p99")) is not None])
            p99 = any_r.get("p99", "-") if len(runs) == 1 else "%.3f" % p99 if p99 is not None else "-"
            w("| %s | %s | %s | %s | %s | %s | %s | %d%s | %d |" % (
                sig, label, reached, "%.3f" % c if c is not None else "-", ratio, each, p99,
                refused, pct, other))
            line.append("%.3f" % c if c is not None else "-")
            if setup == "full":
                targets.append(("%s: full chain CPU per item <= 1.2x forward-only, 0 refused"
                                % sig, "%sx, %d refused" % (ratio, refused),
                                mr is not None and mr <= 1.2 and refused == 0))
        chart.append(line)
    w("")

    # 2. max rate and highest rate with 0 refusals
    w("### Full chain: maximum rate and the highest rate with 0 refusals")
    w("")
    w("The search asks for 90%, 81%, ... of the requests/s answered OK in the max-rate run; a step that")
    w("fell short of the rate asked by more than 5% shows the requests/s it reached. The ratio to")
    w("the max rate compares items/s answered OK.")
    w("")
    w("| signal | items/s at max rate (unthrottled) | refused at max rate | CPU-s per M items at max "
      "| highest rate with 0 refusals: req/s asked (share of max) | items/s there | ratio to max rate "
      "| steps tried (req/s asked: refused) |")
    w("|---|---:|---:|---:|---:|---:|---:|---|")
    for sig in signals:
        m = find(sig, "full", "max")
        if not m:
            continue
        mx = num(m.get("items_s"), 0)
        mx_req = num(m.get("req_s"), 0)
        tried = [r for r in rows if (r["signal"], r["setup"], r["kind"]) == (sig, "full", "search")]

        def asked(r):
            a, got = num(r.get("rate"), 0), num(r.get("req_s"))
            txt = "%s" % r.get("rate", "-")
            if mx_req:
                txt += " (%.0f%%)" % (100.0 * a / mx_req)
            if got is not None and a and got < 0.95 * a:
                txt += ", %.0f reached" % got
            return txt
        best = None
        if int(num(m.get("errors"), 0)) == 0:
            best = ("max (unthrottled)", mx)
        for r in tried:
            if best is None and int(num(r.get("errors"), 0)) == 0:
                best = (asked(r), num(r.get("items_s"), 0))
        trail = ", ".join("%s: %s" % (asked(r), r.get("refused")) for r in tried) or "-"
        ratio = best[1] / mx if best and mx else None
        w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            sig, "{:,.0f}".format(mx), m.get("refused", "-"), m.get("cpu_m", "-"),
            best[0] if best else "none tried was refusal-free",
            "{:,.0f}".format(best[1]) if best else "-",
            "%.2f" % ratio if ratio is not None else "-", trail))
        targets.append(("%s: highest rate with 0 refusals >= 80%% of the max rate" % sig,
                        "%.2f" % ratio if ratio is not None else "-",
                        ratio is not None and ratio >= 0.8))
    w("")

    # 3. threads
    w("### Full chain: each thread's share of the process CPU at the maximum rate")
    w("")
    w("Share = the thread's utime+stime over the max-rate run (`/proc/PID/task/*/stat`) / the")
    w("process's (`/proc/PID/stat`); threads grouped by name (`comm`, cut to 15 characters by")
    w("Linux), with the number of threads of that name (and of those with >= 1% of the process")
    w("CPU, where not all are). \"(gRPC)\": the gRPC library's own threads;")
    w("\"otelc\": the main thread and threads left unnamed. \"ended threads\" = process CPU not found")
    w("on a thread alive at the end of the run.")
    w("Serial fraction *s* = the share of the busiest thread whose name has no other busy thread")
    w("(>= 1% of the process CPU) in the process: as otelc is built, that work cannot spread over")
    w("more cores. When every busy name has several threads (the gRPC loops and pipeline workers,")
    w("one per usable CPU), their work spreads, and *s* is the busiest thread of a name that occurs")
    w("once. Amdahl's law gives the projected speedup on N cores:")
    w("**speedup(N) = 1 / (s + (1 - s) / N)**. Thread shares do not show work serialized inside")
    w("a thread pool: the batch processor's lock and dedup's shard locks, contention on shared")
    w("cache lines. The projection is an upper bound from the threads' CPU alone.")
    w("")
    cols = {}  # signal -> {name: (threads, ticks)}, total, gone, top, s
    for sig in signals:
        m = find(sig, "full", "max")
        before = read_threads(os.path.join(thread_dir, "threads-%s.before" % sig))
        after = read_threads(os.path.join(thread_dir, "threads-%s.after" % sig))
        if not m or not after:
            continue
        threads, total, gone = thread_shares(before, after, int(num(m.get("ticks"), 0)))
        groups = {}  # name -> [threads, ticks, busy threads]
        for _, comm, t in threads:
            g = groups.setdefault(comm, [0, 0, 0])
            g[0] += 1
            g[1] += t
            g[2] += t >= BUSY * total
        top = max(threads, key=lambda x: x[2])
        s, s_comm, _ = serial_fraction(threads, total)
        cols[sig] = (groups, total, gone, top, s, s_comm)
        targets.append(("%s: no thread > 60%% of the process CPU at the max rate" % sig,
                        "%s %.1f%%" % (top[1], 100.0 * top[2] / total), top[2] <= 0.6 * total))
        targets.append(("%s: projected 8-core speedup >= 5x" % sig, "%.2fx" % amdahl(s, 8),
                        amdahl(s, 8) >= 5))
    sigs = [sig for sig in signals if sig in cols]
    if sigs:
        w("| thread name | %s |" % " | ".join("%s: share (threads)" % sig for sig in sigs))
        w("|---|" + "---:|" * len(sigs))
        load = {}
        for sig in sigs:
            groups, total = cols[sig][0], cols[sig][1]
            for comm, (n, t, b) in groups.items():
                load[comm] = load.get(comm, 0) + t / total
        for comm in sorted(load, key=lambda c: (-load[c], c)):
            cells = []
            for sig in sigs:
                groups, total = cols[sig][0], cols[sig][1]
                n, t, b = groups.get(comm, (0, 0, 0))
                busy = ", %d busy" % b if 0 < b < n else ""
                cells.append("%.1f%% (%d%s)" % (100.0 * t / total, n, busy) if n else "-")
            w("| %s%s | %s |" % (comm, "" if comm in OTELC_THREADS else " (gRPC)", " | ".join(cells)))

        def row(name, f):
            w("| %s | %s |" % (name, " | ".join(f(*cols[sig]) for sig in sigs)))
        row("ended threads", lambda g, total, gone, top, s, sc: "%.1f%%" % (100.0 * gone / total))
        row("gRPC library threads together",
            lambda g, total, gone, top, s, sc: "%.1f%%" % (100.0 * sum(
                t for comm, (n, t, b) in g.items() if comm not in OTELC_THREADS) / total))
        row("**busiest thread**",
            lambda g, total, gone, top, s, sc: "%s %.1f%%" % (top[1], 100.0 * top[2] / total))
        row("**serial fraction s**", lambda g, total, gone, top, s, sc: "%.3f (%s)" % (s, sc))
        row("**speedup(4)**", lambda g, total, gone, top, s, sc: "%.2fx" % amdahl(s, 4))
        row("**speedup(8)**", lambda g, total, gone, top, s, sc: "%.2fx" % amdahl(s, 8))
    w("")
    w("![CPU per item by signal and setup](results-signals.svg)")
    w("")

    w("### Targets (issue 14), from this run")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    for name, measured, ok in targets:
        w("| %s | %s | %s |" % (name, measured, "**met**" if ok else "**not met**"))
    w("")

    open(out_path, "w").write("\n".join(out) + "\n")
    with open(chart_path, "w") as f:
        for line in chart:
            f.write(" ".join(line) + "\n")


if __name__ == "__main__":
    main(sys.argv)
