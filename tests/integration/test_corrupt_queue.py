# test_corrupt_queue.py: issue 4, "Corrupt queue" and "Graceful shutdown" with
# persistent storage. otelc is stopped with SIGTERM while the sink holds every
# call, so the answered-OK requests stay in the queue (shutdown_timeout cuts
# the exports). Then:
#   none:     restart with the sink released: everything answered OK arrives;
#   truncate: the newest segment loses its last bytes (a torn record);
#   flip:     one byte of the newest segment's last record is changed (CRC);
#   middle:   one byte of a record in the middle of the segment is changed:
#             that record is skipped, the records after it still replay;
# and after a restart every request but the damaged one arrives, and the log
# names the segment file and the offset of the damage.
# SPDX-License-Identifier: Apache-2.0
import os
import re
import sys
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

REQUESTS = 12
PER_REQUEST = 10
CUT_RE = re.compile(r"queue segment (\S+\.wal): (.+) at offset (\d+); cut there")
SKIP_RE = re.compile(r"queue segment (\S+\.wal): (.+) at offset (\d+); skipped (\d+) bytes .* "
                     r"next good record at offset (\d+)")
MIDDLE = 5


def config(rport, sink_port, qdir):
    return """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
extensions:
  file_storage/q:
    directory: %s
exporters:
  otlp:
    endpoint: 127.0.0.1:%d
    tls:
      insecure: true
    timeout: 30s
    sending_queue:
      storage: file_storage/q
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0
service:
  shutdown_timeout: 1s
  extensions: [file_storage/q]
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlp]
""" % (rport, qdir, sink_port)


def bodies(req):
    return [lr.body.string_value for rl in req.resource_logs for sl in rl.scope_logs
            for lr in sl.log_records]


def newest_segment(d):
    segs = sorted(f for f in os.listdir(d) if f.endswith(".wal")
                  and os.path.getsize(os.path.join(d, f)) > 0)
    return os.path.join(d, segs[-1]) if segs else None


def record_offsets(path):
    with open(path, "rb") as f:
        data = f.read()
    off, offs = 0, []
    while off + 9 <= len(data):
        offs.append(off)
        off += 9 + int.from_bytes(data[off:off + 4], "little")
    return offs, len(data)


def last_record_offset(path):
    offs, size = record_offsets(path)
    return offs[-1], size


def scenario(c, mode):
    sink = h.Sink(name="sink-" + mode)
    sink.block()
    port = h.free_port()
    qdir = os.path.join(h.tmpdir(), "queue-" + mode)
    cfg = config(port, sink.port, qdir)
    proc = h.start_otelc(cfg, port=port)
    client = h.Client(port)
    sent = []
    for i in range(REQUESTS):
        req = h.make_logs(PER_REQUEST)
        ids = []
        for rl in req.resource_logs:
            for sl in rl.scope_logs:
                for k, lr in enumerate(sl.log_records):
                    lr.body.string_value = "cq-%s-%s-%d-%d" % (h.RUN_ID, mode, i, k)
                    ids.append(lr.body.string_value)
        code, _ = client.export("logs", req, timeout=5.0)
        if code == grpc.StatusCode.OK:
            sent.append(ids)
    client.close()
    c.eq(len(sent), REQUESTS, "[%s] every request was answered OK" % mode)
    h.wait_until(lambda: sink.blocked_now > 0, 10.0)
    t0 = time.monotonic()
    h.stop_otelc(proc, timeout=20.0)
    c.check(time.monotonic() - t0 < 10.0, "[%s] SIGTERM with a held sink exits within "
            "shutdown_timeout plus slack (%.1fs)" % (mode, time.monotonic() - t0))
    sink.clear()
    sink.release()
    wal_dir = os.path.join(qdir, "logs")
    seg = newest_segment(wal_dir)
    c.check(seg is not None, "[%s] the queue holds a segment after the stop (%s)" % (mode, seg))
    if seg is None:
        return
    last_off, size = last_record_offset(seg)
    expect_lost = set()
    if mode == "truncate":
        os.truncate(seg, size - 7)
        expect_lost = set(sent[-1])
    elif mode == "flip":
        with open(seg, "r+b") as f:
            f.seek(last_off + 12)
            b = f.read(1)
            f.seek(last_off + 12)
            f.write(bytes([b[0] ^ 0xA5]))
        expect_lost = set(sent[-1])
    elif mode == "middle":
        offs, _ = record_offsets(seg)
        c.eq(len(offs), REQUESTS, "[%s] one record per request in the segment" % mode)
        last_off = offs[MIDDLE]
        with open(seg, "r+b") as f:
            f.seek(last_off + 20)
            b = f.read(1)
            f.seek(last_off + 20)
            f.write(bytes([b[0] ^ 0xA5]))
        expect_lost = set(sent[MIDDLE])
    proc = h.start_otelc(cfg, port=port)
    want = set(i for ids in sent for i in ids) - expect_lost
    h.wait_until(lambda: want <= set(b for r in sink.requests("logs") for b in bodies(r)), 20.0)
    got = [b for r in sink.requests("logs") for b in bodies(r)]
    missing = want - set(got)
    h.log("[%s] answered OK %d, expected after the cut %d, arrived unique %d, duplicates %d"
          % (mode, sum(len(s) for s in sent), len(want), len(set(got)), len(got) - len(set(got))))
    c.check(not missing, "[%s] every good record was delivered after the restart (%d missing)"
            % (mode, len(missing)))
    c.check(not (set(got) & expect_lost), "[%s] the cut record was not delivered" % mode)
    h.stop_otelc(proc, timeout=20.0)
    err = h.otelc_stderr(proc)
    cuts = CUT_RE.findall(err)
    skips = SKIP_RE.findall(err)
    if mode == "middle":
        c.eq(cuts, [], "[%s] nothing was cut" % mode)
        c.eq(len(skips), 1, "[%s] one warning line reports the skipped record" % mode)
        if skips:
            path, why, off, n, to = skips[0]
            c.eq(os.path.basename(path), os.path.basename(seg), "[%s] the warning names the file" % mode)
            c.eq(int(off), last_off, "[%s] the warning names the offset of the bad record" % mode)
            c.eq(int(to), offs[MIDDLE + 1], "[%s] the replay went on at the next record" % mode)
            c.check("CRC32C" in why, "[%s] the reason fits (%s)" % (mode, why))
    elif mode == "none":
        c.eq(cuts, [], "[%s] no cut was reported" % mode)
    else:
        c.eq(len(cuts), 1, "[%s] one warning line reports the cut" % mode)
        if cuts:
            path, why, off = cuts[0]
            c.eq(os.path.basename(path), os.path.basename(seg), "[%s] the warning names the file" % mode)
            c.eq(int(off), last_off, "[%s] the warning names the offset of the last good byte" % mode)
            c.check(("CRC32C" in why) == (mode == "flip"), "[%s] the reason fits (%s)" % (mode, why))
    left = [f for f in os.listdir(wal_dir) if f.endswith(".wal")]
    c.eq(left, [], "[%s] no segment is left once everything was delivered" % mode)
    sink.stop()


def main(c):
    for mode in ("none", "truncate", "flip", "middle"):
        scenario(c, mode)


if __name__ == "__main__":
    h.run_test(main, timeout=170)
