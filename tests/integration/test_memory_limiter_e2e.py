# test_memory_limiter_e2e.py: the memory_limiter processor through the real
# otelc binary. The otlp exporter's sink is blocked, so batches pile up in a
# sending queue far too large to fill; the limiter alone must make the
# receiver answer UNAVAILABLE, keep otelc's peak RSS (VmHWM) under limit_mib
# plus the margin documented with the option, and once the sink is released
# every item answered OK must arrive.
# SPDX-License-Identifier: Apache-2.0
import math
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

SC = h.grpc.StatusCode
MIB = h.MIB
MARGIN_MIB = 16          # documented in memory_limiter's limit_mib help
HEADROOM_MIB = 32        # limit_mib = idle RSS + this (room for ~15 requests)
CLIENTS = 3
SPANS, ATTR = 200, 4000  # about 0.8 MB per request
HOLD_S = 2.0             # keep sending this long after the first refusal


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no %s for pid %d" % (key, pid))


def limiter_config(port, sink, limit_mib):
    exp = h.otlp_exporter_yaml("otlp/sink", sink.port, timeout="60s", queue_size=100000)
    text = h.config_yaml(port, exp, {"traces": ["otlp/sink"]})
    text = text.replace("exporters:\n", "processors:\n  memory_limiter:\n"
                        "    check_interval: 100ms\n    limit_mib: %d\nexporters:\n"
                        % limit_mib, 1)
    return text.replace("      exporters:", "      processors: [memory_limiter]\n      exporters:")


def otelc_env():
    # Under AddressSanitizer freed memory waits in a quarantine (256 MiB by
    # default) before reuse, which RSS counts; keep it small so that RSS
    # reflects the memory otelc holds, as in a normal build.
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") + "quarantine_size_mb=4"}


def idle_rss(sink):
    """otelc's resident memory when idle (gRPC, threads): the limit's floor."""
    port = h.free_port()
    proc = h.start_otelc(limiter_config(port, sink, 100000), env=otelc_env())
    c = h.Client(port)
    c.export("traces", h.make_traces(10))  # warm gRPC's call path up
    time.sleep(0.5)
    rss = proc_status(proc.pid, "VmRSS")
    c.close()
    h.stop_otelc(proc)
    sink.clear()
    return rss


def main(t):
    sink = h.Sink("blocked", max_workers=32)
    idle = idle_rss(sink)
    limit_mib = max(48, int(math.ceil(idle / MIB)) + HEADROOM_MIB)
    h.log("idle VmRSS %.1f MiB -> limit_mib %d, allowed peak %d MiB"
          % (idle / MIB, limit_mib, limit_mib + MARGIN_MIB))

    port = h.free_port()
    proc = h.start_otelc(limiter_config(port, sink, limit_mib), env=otelc_env())
    sink.block()

    lock = threading.Lock()
    ok_reqs, codes, other = [], {}, []
    state = {"first_refusal": None, "rss_max": 0}
    stop = threading.Event()

    def client(k):
        c = h.Client(port)
        for _ in range(150):  # bound: about 120 MB per client
            if stop.is_set():
                break
            req = h.make_traces(SPANS, attr_size=ATTR)
            code, _resp, details = c.export_full("traces", req, timeout=20)
            with lock:
                codes[code.name] = codes.get(code.name, 0) + 1
                if code == SC.OK:
                    ok_reqs.append(req)
                elif code == SC.UNAVAILABLE:
                    if state["first_refusal"] is None:
                        state["first_refusal"] = time.monotonic()
                        h.log("first UNAVAILABLE after %d OK requests: %r"
                              % (len(ok_reqs), details))
                else:
                    other.append((code.name, details))
            if code == SC.UNAVAILABLE:
                time.sleep(0.02)  # a client backing off a little
        c.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads):
        state["rss_max"] = max(state["rss_max"], proc_status(proc.pid, "VmRSS"))
        fr = state["first_refusal"]
        if fr is not None and time.monotonic() - fr >= HOLD_S:
            stop.set()
        time.sleep(0.01)
    hwm = proc_status(proc.pid, "VmHWM")
    n_ok = sum(h.count_items("traces", [r]) for r in ok_reqs)
    h.log("codes %s in %.1f s; %d spans answered OK (%.1f MB of requests); VmRSS max sampled "
          "%.1f MiB, VmHWM %.1f MiB, limit %d MiB"
          % (codes, time.monotonic() - t0, n_ok,
             sum(r.ByteSize() for r in ok_reqs) / 1e6, state["rss_max"] / MIB, hwm / MIB,
             limit_mib))

    t.check(codes.get("UNAVAILABLE", 0) > 0, "receiver answers UNAVAILABLE once the limit is "
            "reached (%s)" % codes)
    t.check(not other, "no status other than OK and UNAVAILABLE", other[:5])
    t.check(len(ok_reqs) >= 3, "requests were accepted before the limit (%d)" % len(ok_reqs))
    err = h.otelc_stderr(proc)
    t.check("refusing data" in err, "the refusals come from memory_limiter (its log says so)",
            err[-2000:])
    t.check(hwm <= (limit_mib + MARGIN_MIB) * MIB,
            "peak RSS %.1f MiB <= limit %d MiB + margin %d MiB"
            % (hwm / MIB, limit_mib, MARGIN_MIB))
    t.check(sink.count("traces") == 0, "nothing reached the blocked sink before release")

    # ---- release the exporter: every item answered OK arrives
    sink.release()
    got = sink.wait_count("traces", n_ok, 60)
    missing, _extra = h.compare("traces", ok_reqs, sink.requests("traces"))
    t.check(not missing, "after release every span answered OK arrived (%d of %d)"
            % (got, n_ok), h.diff_report("traces", missing, {}))

    # ---- the limiter lets data in again once the queued batches are gone
    c = h.Client(port)
    late = h.make_traces(20)
    deadline = time.monotonic() + 30
    code = None
    while time.monotonic() < deadline:
        code, _ = c.export("traces", late)
        if code == SC.OK:
            break
        time.sleep(0.2)
    t.eq(code, SC.OK, "accepting again after the exporter caught up")
    if code == SC.OK:
        sink.wait_count("traces", n_ok + 20, 20)
        missing, _extra = h.compare("traces", [late], sink.requests("traces"))
        t.check(not missing, "the late request arrived")
    h.stop_otelc(proc, timeout=30)


if __name__ == "__main__":
    h.run_test(main, timeout=240)
