# test_bench_tools.py: the end-to-end benchmark tools (bench/loadgen, bench/baseline)
# against an in-process Sink that decodes what arrives: the load generator's
# requests have the asked shape and fresh ids on every request, for all three
# signals, with and without gzip; the forward-only server delivers the bytes
# unchanged and passes the downstream status back; the receive-only server
# counts requests and bytes; --rate paces the requests. bench/signals_report.py
# turns run.sh's rows and thread snapshots into the "Per signal" section, and a
# one-second run of run.sh's "signals" phase writes that section in place.
# SPDX-License-Identifier: Apache-2.0
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

BENCH = os.path.join(h.BUILD_DIR, "bench")
LOADGEN = os.path.join(BENCH, "loadgen", "otlp_loadgen")
RECV = os.path.join(BENCH, "baseline", "baseline_receive")
FWD = os.path.join(BENCH, "baseline", "baseline_forward")
RUN_SH = os.path.join(h.SOURCE_DIR, "bench", "run.sh")
REPORT = os.path.join(h.SOURCE_DIR, "bench", "signals_report.py")


def result(out):
    """The RESULT key=value line of otlp_loadgen's stdout, as a dict."""
    lines = [l for l in out.splitlines() if l.startswith("RESULT ")]
    if not lines:
        return {}
    return dict(kv.split("=", 1) for kv in lines[-1].split()[1:])


def loadgen(endpoint, *args, timeout=60):
    p = subprocess.run([LOADGEN, "--endpoint", endpoint, "--quiet"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    return p.returncode, result(p.stdout), p.stdout + p.stderr


def start_server(argv, port):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not h.wait_until(lambda: h.port_open(port) or proc.poll() is not None, 10) or \
            proc.poll() is not None:
        raise RuntimeError("%s did not start: %s" % (argv[0], proc.stderr.read()))
    return proc


def stop_server(proc):
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err.decode(errors="replace")


def start_forward(sink, gzip=False):
    port = h.free_port()
    argv = [FWD, "--endpoint", "127.0.0.1:%d" % port, "--downstream", sink.endpoint]
    if gzip:
        argv.append("--gzip")
    return start_server(argv, port), "127.0.0.1:%d" % port


def ids_of(sig, reqs):
    """Per request: the list of trace ids (traces, logs) or timestamps (metrics)."""
    out = []
    for r in reqs:
        if sig == "traces":
            out.append([s.trace_id for rs in r.resource_spans for ss in rs.scope_spans
                        for s in ss.spans])
        elif sig == "logs":
            out.append([l.trace_id for rl in r.resource_logs for sl in rl.scope_logs
                        for l in sl.log_records])
        else:
            out.append([dp.time_unix_nano for rm in r.resource_metrics
                        for sm in rm.scope_metrics for m in sm.metrics
                        for dp in m.sum.data_points])
    return out


def item_attrs(sig, reqs):
    n = []
    for r in reqs:
        if sig == "traces":
            n += [len(s.attributes) for rs in r.resource_spans for ss in rs.scope_spans
                  for s in ss.spans]
        elif sig == "logs":
            n += [len(l.attributes) for rl in r.resource_logs for sl in rl.scope_logs
                  for l in sl.log_records]
        else:
            n += [len(dp.attributes) for rm in r.resource_metrics for sm in rm.scope_metrics
                  for m in sm.metrics for dp in m.sum.data_points]
    return n


def test_shapes_through_forward(t):
    """Each signal, plain and gzip: loadgen -> baseline_forward -> Sink."""
    for gzip in (False, True):
        sink = h.Sink("fwd-gzip" if gzip else "fwd")
        fwd, endpoint = start_forward(sink, gzip)
        what = " (gzip)" if gzip else ""
        for sig in h.SIGNALS:
            args = ["--signal", sig, "--requests", "12", "--items", "7", "--attrs", "3",
                    "--attr-size", "11", "--distinct-traces", "2", "--concurrency", "4",
                    "--pool", "3"] + (["--gzip"] if gzip else [])
            rc, res, out = loadgen(endpoint, *args)
            t.eq(rc, 0, "%s%s: otlp_loadgen exits 0" % (sig, what))
            t.eq((res.get("ok"), res.get("errors"), res.get("status_OK")), ("12", "0", "12"),
                 "%s%s: 12 requests answered OK, counted per status" % (sig, what))
            t.eq(sink.wait_count(sig, 12 * 7, 10), 84, "%s%s: 84 items arrived" % (sig, what))
            reqs = sink.requests(sig)
            t.eq(len(reqs), 12, "%s%s: one downstream request per request" % (sig, what))
            t.check(all(n == 3 for n in item_attrs(sig, reqs)),
                    "%s%s: 3 attributes on every item" % (sig, what))
            ids = ids_of(sig, reqs)
            flat = [i for r in ids for i in r]
            if sig == "metrics":
                t.eq(len(set(flat)), 84, "metrics%s: every data point has its own timestamp" % what)
            else:
                t.check(all(len(set(r)) == 2 for r in ids),
                        "%s%s: 2 distinct trace ids per request" % (sig, what), ids[:2])
                t.eq(len(set(flat)), 24, "%s%s: no trace id repeats across requests" % (sig, what))
                t.check(all(len(i) == 16 for i in flat), "%s%s: 16-byte trace ids" % (sig, what))
            raw = sink.raw[sig]
            t.eq(sum(len(r) for r in raw) // max(len(raw), 1), int(res.get("bytes_per_request", -1)),
                 "%s%s: the sink got requests of the size loadgen reports" % (sig, what))
        rc, err = stop_server(fwd)
        t.eq(rc, 0, "baseline_forward%s exits 0 on SIGTERM" % what)
        t.check("requests=36 " in err, "baseline_forward%s counted 36 requests" % what, err)
        sink.stop()


def test_bytes_unchanged(t):
    """The forward-only server sends exactly the bytes it received."""
    sink = h.Sink("bytes")
    fwd, endpoint = start_forward(sink)
    c = h.Client(endpoint)
    req = h.make_traces(5)
    data = h.encode(req)
    code = c.call("/opentelemetry.proto.collector.trace.v1.TraceService/Export", data)[0]
    t.eq(code, h.grpc.StatusCode.OK, "one Export through baseline_forward answered OK")
    h.wait_until(lambda: len(sink.raw["traces"]) >= 1, 10)
    t.check(sink.raw["traces"] == [data], "the sink received the request's bytes unchanged")
    c.close()
    stop_server(fwd)
    sink.stop()


def test_downstream_status(t):
    """Downstream errors reach the client and loadgen counts them per code."""
    sink = h.Sink("fail")
    fwd, endpoint = start_forward(sink)
    sink.fail_next(3, h.grpc.StatusCode.UNAVAILABLE)
    rc, res, out = loadgen(endpoint, "--requests", "10", "--items", "5", "--concurrency", "1")
    t.check((res.get("ok"), res.get("errors"), res.get("status_UNAVAILABLE")) == ("7", "3", "3"),
            "3 injected UNAVAILABLE answers counted, 7 OK", out)
    t.check("first UNAVAILABLE: sink: injected UNAVAILABLE" in out,
            "the summary shows the first error message", out)
    stop_server(fwd)
    sink.stop()


def test_receive_only(t):
    """baseline_receive answers OK and counts requests and bytes."""
    port = h.free_port()
    stats = os.path.join(h.tmpdir(), "recv.stats")
    recv = start_server([RECV, "--endpoint", "127.0.0.1:%d" % port, "--stats", stats], port)
    rc, res, out = loadgen("127.0.0.1:%d" % port, "--requests", "9", "--items", "10",
                           "--pool", "1")
    t.eq((rc, res.get("ok")), (0, "9"), "9 requests answered OK by baseline_receive")
    rc, err = stop_server(recv)
    t.eq(rc, 0, "baseline_receive exits 0 on SIGTERM")
    want = "requests=9 bytes=%d " % (9 * int(res.get("bytes_per_request", "0")))
    t.check(want in err, "baseline_receive counted %s" % want.strip(), err)
    t.check(want in h.read_file(stats), "the stats file holds the same counts")


def test_rate(t):
    """--rate paces the requests: 20 at 40/s take at least 0.4 s."""
    sink = h.Sink("rate")
    fwd, endpoint = start_forward(sink)
    t0 = time.monotonic()
    rc, res, out = loadgen(endpoint, "--requests", "20", "--rate", "40", "--items", "2")
    elapsed = time.monotonic() - t0
    t.eq(res.get("ok"), "20", "20 requests at --rate 40 answered OK")
    t.check(elapsed >= 0.4 and float(res.get("seconds", 0)) >= 0.4,
            "20 requests at 40/s took at least 0.4 s", "took %.3f s" % elapsed)
    stop_server(fwd)
    sink.stop()


def test_bad_options(t):
    for args in (["--signal", "spans"], ["--items", "0"], ["--rate", "-1"], ["--bogus"]):
        p = subprocess.run([LOADGEN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        t.eq(p.returncode, 2, "otlp_loadgen %s is refused" % " ".join(args))
    port = h.free_port()
    rc, res, out = loadgen("127.0.0.1:%d" % port, "--requests", "1", timeout=30)
    t.eq((rc, res.get("error")), (3, "connect"), "nothing listening: exit 3, error=connect")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def test_signals_report(t):
    """signals_report.py: ratios to forward-only, the refusal-free rate, thread
    shares grouped by name, the serial fraction and Amdahl's projection."""
    d = h.tmpdir()
    rows = [
        "signal=logs setup=forward kind=fixed rate=2000 items_s=200000 cpu_m=2.000 ticks=40 ok=4000 "
        "refused=0 errors=0 p99=1.5 bytes_per_req=59184",
        "signal=logs setup=passthrough kind=fixed rate=2000 items_s=200000 cpu_m=2.200 ticks=44 "
        "ok=4000 refused=0 errors=0 p99=1.6 bytes_per_req=59184",
        "signal=logs setup=full kind=fixed rate=2000 items_s=180000 cpu_m=3.000 ticks=60 ok=3800 "
        "refused=200 errors=200 p99=9.0 bytes_per_req=59184 items_per_req=100",
        "signal=logs setup=full kind=max rate=0 items_s=400000 cpu_m=2.500 ticks=200 ok=8000 "
        "refused=900 errors=900 p99=20 bytes_per_req=59184 req_s=4000",
        "signal=logs setup=full kind=search rate=3600 items_s=330000 cpu_m=2.5 ticks=80 ok=3000 "
        "refused=3 errors=3 p99=9 bytes_per_req=59184 req_s=3500",
        "signal=logs setup=full kind=search rate=3240 items_s=320000 cpu_m=2.5 ticks=80 ok=3000 "
        "refused=0 errors=0 p99=4 bytes_per_req=59184 req_s=3000",
    ]
    # three rounds: the median of the rounds' own ratios (1.50, 1.10, 1.20)
    for k, (fwd, full) in enumerate(((1.0, 1.5), (2.0, 2.2), (1.0, 1.2))):
        rows.append("signal=metrics setup=forward kind=fixed round=%d rate=2000 items_s=200000 "
                    "cpu_m=%.3f ok=4000 refused=0 errors=0 p99=1 items_per_req=100" % (k + 1, fwd))
        rows.append("signal=metrics setup=full kind=fixed round=%d rate=2000 items_s=200000 "
                    "cpu_m=%.3f ok=4000 refused=0 errors=0 p99=%d items_per_req=100"
                    % (k + 1, full, k + 2))
    write(os.path.join(d, "rows.txt"), "\n".join(rows) + "\n")
    # 200 ticks in the process: grpc-loop 100, the logs pipeline 60 (two idle
    # pipelines), two busy exporter threads 10 each, a new gRPC thread 10, 10 ended.
    write(os.path.join(d, "threads-logs.before"),
          "1\t0\totelc\n2\t50\tgrpc-loop\n3\t5\tpipeline\n4\t5\tpipeline\n"
          "5\t7\tpipeline\n6\t1\texporter\n7\t1\texporter\n")
    write(os.path.join(d, "threads-logs.after"),
          "1\t0\totelc\n2\t150\tgrpc-loop\n3\t5\tpipeline\n4\t5\tpipeline\n"
          "5\t67\tpipeline\n6\t11\texporter\n7\t11\texporter\n8\t10\tdefault-executo\n")
    write(os.path.join(d, "header.md"), "## Per signal\n\nheader text\n")
    out, chart = os.path.join(d, "out.md"), os.path.join(d, "chart.dat")
    p = subprocess.run([sys.executable, REPORT, os.path.join(d, "rows.txt"), d,
                        os.path.join(d, "header.md"), out, chart],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    t.check(p.returncode == 0, "signals_report.py exits 0", p.stdout)
    md = h.read_file(out) if os.path.exists(out) else ""
    t.check(md.startswith("## Per signal\n\nheader text\n"), "the header comes first", md[:200])
    t.check("| logs | otelc pass-through | 200,000 | 2.200 | 1.10 | - | 1.6 | 0 | 0 |" in md,
            "pass-through: ratio 1.10 to forward-only", md)
    t.check("| logs | otelc full chain | 180,000 (90% of 200,000) | 3.000 | 1.50 | - | 9.0 | 200 (5.0%) | 0 |" in md,
            "full chain: ratio 1.50, 200 refused (5.0%)", md)
    t.check("| logs | 400,000 | 900 | 2.500 | 3240 (81%), 3000 reached | 320,000 | 0.80 "
            "| 3600 (90%): 3, 3240 (81%), 3000 reached: 0 |" in md,
            "the first refusal-free rate of the search, 0.80 of the max", md)
    t.check("| thread name | logs: share (threads) |\n|---|---:|\n"
            "| grpc-loop | 50.0% (1) |\n| pipeline | 30.0% (3, 1 busy) |\n| exporter | 10.0% (2) |\n"
            "| default-executo (gRPC) | 5.0% (1) |\n| otelc | 0.0% (1) |\n| ended threads | 5.0% |\n"
            "| gRPC library threads together | 5.0% |\n| **busiest thread** | grpc-loop 50.0% |\n"
            in md, "thread shares grouped by name", md)
    # s = grpc-loop's 0.5: speedup(4) = 1 / (0.5 + 0.5 / 4) = 1.6, speedup(8) = 1.78
    t.check("| **serial fraction s** | 0.500 (grpc-loop) |\n| **speedup(4)** | 1.60x |\n"
            "| **speedup(8)** | 1.78x |\n" in md,
            "serial fraction from the busiest single thread, Amdahl for 4 and 8 cores", md)
    t.check("speedup(N) = 1 / (s + (1 - s) / N)" in md, "the formula is stated")
    t.check("| logs: highest rate with 0 refusals >= 80% of the max rate | 0.80 | **met** |" in md
            and "| logs: full chain CPU per item <= 1.2x forward-only, 0 refused | 1.50x, 200 "
            "refused | **not met** |" in md, "targets with verdicts", md)
    t.check("| metrics | otelc full chain | 200,000 | 1.500 | 1.20 | 1.50 / 1.10 / 1.20 | 3.000 | 0 | 0 |"
            in md, "rounds: median CPU, the median of the rounds' ratios, each round's ratio", md)
    t.check("| metrics: full chain CPU per item <= 1.2x forward-only, 0 refused | 1.20x, 0 "
            "refused | **met** |" in md, "the target from the median ratio", md)
    t.eq(h.read_file(chart) if os.path.exists(chart) else "",
         "logs 2.000 2.200 3.000\nmetrics 1.000 - 1.500\n",
         "chart data: forward-only, pass-through, full chain per signal")


def test_run_sh_signals(t):
    """A one-second run of run.sh's "signals" phase on the binaries of this build:
    the "Per signal" section replaces the old one, the other sections stay."""
    if not os.access(os.path.join(h.BUILD_DIR, "otelc"), os.X_OK):
        t.check(False, "otelc is built in %s" % h.BUILD_DIR)
        return
    d = h.tmpdir()
    results = write(os.path.join(d, "RESULTS.md"),
                    "# Benchmark results\n\n## End-to-end\n\nkept\n\n## Per signal\n\nstale\n\n"
                    "## Later\n\nkept too\n")
    env = dict(os.environ, PHASES="signals", SIGNALS="logs", DURATION="1", SEARCH_DURATION="1",
               SEARCH_STEPS="1", FIXED_RATE="20", FIXED_ROUNDS="2", SKIP_BUILD="1", BUILD_DIR=h.BUILD_DIR,
               RESULTS=results, CHART_SIGNALS=os.path.join(d, "signals.svg"),
               RUN_DIR=os.path.join(d, "run"))
    p = subprocess.run(["bash", RUN_SH], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    t.check(p.returncode == 0, "run.sh PHASES=signals SIGNALS=logs DURATION=1 exits 0",
            p.stdout[-3000:])
    md = h.read_file(results)
    t.eq(re.findall(r"^## .*", md, re.M), ["## End-to-end", "## Per signal", "## Later"],
         "the sections in order, Per signal once")
    t.check("stale" not in md and "kept\n" in md and "kept too\n" in md,
            "the old Per signal section is replaced, the others kept", md)
    for setup in ("forward-only", "otelc pass-through", "otelc full chain"):
        t.check(re.search(r"^\| logs \| %s \| [0-9,]+ \| [0-9.]+ \| [0-9.]+ \|" % setup, md, re.M),
                "a fixed-rate row for logs, %s" % setup, md)
    t.check(re.search(r"^\| logs \| otelc full chain \| [0-9,]+ \| [0-9.]+ \| [0-9.]+ \| "
                      r"[0-9.]+ / [0-9.]+ \|", md, re.M),
            "FIXED_ROUNDS=2: the full chain's ratio in each of the two rounds", md)
    t.check(re.search(r"^\| logs \| [0-9,]+ \| [0-9]+ \| [0-9.]+ \| ", md, re.M),
            "a max-rate row for logs", md)
    t.check(re.search(r"^\| pipeline \| [0-9.]+% \([0-9]+(, [0-9]+ busy)?\) \|$", md, re.M) and
            re.search(r"^\| \*\*speedup\(8\)\*\* \| [0-9.]+x \|$", md, re.M),
            "thread shares for logs name the pipeline threads, with projections", md)
    t.check(os.path.exists(os.path.join(d, "run", "threads-logs.after")),
            "the thread snapshots are kept in the run directory")


def main(t):
    for exe in (LOADGEN, RECV, FWD):
        if not os.access(exe, os.X_OK):
            t.check(False, "%s is built (OTC_BUILD_BENCH=ON)" % exe)
            return
    test_shapes_through_forward(t)
    test_bytes_unchanged(t)
    test_downstream_status(t)
    test_receive_only(t)
    test_rate(t)
    test_bad_options(t)
    test_signals_report(t)
    test_run_sh_signals(t)


if __name__ == "__main__":
    h.run_test(main, timeout=240)
