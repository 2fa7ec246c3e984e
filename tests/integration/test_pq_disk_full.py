# test_pq_disk_full.py: issue 18, "Bounded disk". The persistent queue fills
# up while the backend is down, in two ways:
#   disk:  the queue directory is a 2 MiB tmpfs (mount -t tmpfs, as root)
#          that the backlog fills;
#   sizer: sending_queue.sizer: bytes with queue_size 300000 on a normal
#          directory.
# Either way the client is answered UNAVAILABLE (retryable) once it is full,
# the disk use stays within the bound, /metrics shows the queue, and once the
# backend is back every request answered OK arrives and new data is taken
# again. Without permission to mount, the disk scenario is skipped (said so).
# SPDX-License-Identifier: Apache-2.0
import os
import subprocess
import sys
import time
import urllib.request

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

PER_REQUEST = 20
MOUNT_SIZE = 2 * 1024 * 1024
SIZER_BYTES = 300000


def config(rport, mport, sink_port, qdir, queue=""):
    return """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
extensions:
  file_storage/q:
    directory: %s
    segment_size: 64KiB
exporters:
  otlp:
    endpoint: 127.0.0.1:%d
    tls:
      insecure: true
    timeout: 5s
    sending_queue:
      storage: file_storage/q%s
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 500ms
      max_elapsed_time: 0
service:
  extensions: [file_storage/q]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlp]
""" % (rport, qdir, sink_port, queue, mport)


def request(tag, i):
    """Log records that barely compress (random hex bodies), each named."""
    req = h.make_logs(PER_REQUEST)
    ids = []
    k = 0
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            for lr in sl.log_records:
                k += 1
                lr.body.string_value = "df-%s-%s-%d-%d %s" % (h.RUN_ID, tag, i, k, os.urandom(300).hex())
                ids.append(lr.body.string_value.split(" ")[0])
    return req, ids


def ids_arrived(sink):
    return set(lr.body.string_value.split(" ")[0] for r in sink.requests("logs")
               for rl in r.resource_logs for sl in rl.scope_logs for lr in sl.log_records)


def metric(mport, name, labels=""):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=3) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and labels in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return None


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def fill_until_refused(c, client, tag):
    """Send until the queue refuses 5 times in a row; returns (acked ids, codes seen)."""
    acked, codes, refused, i = set(), set(), 0, 0
    while refused < 5 and i < 5000:
        i += 1
        req, ids = request(tag, i)
        code, _ = client.export("logs", req, timeout=5.0)
        codes.add(code)
        if code == grpc.StatusCode.OK:
            acked.update(ids)
            refused = 0
        else:
            refused += 1
            time.sleep(0.05)
    return acked, codes


def scenario(c, tag, qdir, queue, bound):
    sink_port = h.free_port()
    port = h.free_port()
    mport = h.free_port()
    cfg = config(port, mport, sink_port, qdir, queue)
    proc = h.start_otelc(cfg, port=port)
    client = h.Client(port)
    acked, codes = fill_until_refused(c, client, tag)
    wal = os.path.join(qdir, "logs")
    used = dir_bytes(wal)
    h.log("[%s] %d log records answered OK before the queue was full; %d bytes on disk; codes %s"
          % (tag, len(acked), used, sorted(x.name for x in codes)))
    c.check(len(acked) >= 10 * PER_REQUEST, "[%s] the queue took a backlog first (%d records)"
            % (tag, len(acked)))
    c.eq(codes - {grpc.StatusCode.OK}, {grpc.StatusCode.UNAVAILABLE},
         "[%s] a full queue is answered UNAVAILABLE (retryable), nothing else" % tag)
    c.check(used <= bound, "[%s] the queue's files stay within %d bytes (%d)" % (tag, bound, used))
    size = metric(mport, "otelcol_exporter_queue_size", 'data_type="logs"')
    disk = metric(mport, "otelc_persistent_queue_disk_bytes", 'pipeline="logs"')
    items = metric(mport, "otelc_persistent_queue_items", 'pipeline="logs"')
    c.check(size is not None and size > 0, "[%s] otelcol_exporter_queue_size{data_type=\"logs\"} "
            "shows the queue (%s)" % (tag, size))
    c.check(disk is not None and 0 < disk <= bound, "[%s] otelc_persistent_queue_disk_bytes: %s"
            % (tag, disk))
    c.eq(items, len(acked), "[%s] otelc_persistent_queue_items counts every queued record" % tag)
    if "sizer" in queue:
        c.eq(metric(mport, "otelcol_exporter_queue_capacity", 'data_type="logs"'), SIZER_BYTES,
             "[%s] otelcol_exporter_queue_capacity is queue_size in the sizer's unit" % tag)
        c.check((metric(mport, "otelc_persistent_queue_full_refusals", 'pipeline="logs"') or 0) >= 5,
                "[%s] the refusals at capacity are counted" % tag)
    # the backend comes back: everything answered OK arrives, the disk empties
    sink = h.Sink(name="sink-" + tag, port=sink_port)
    h.wait_until(lambda: acked <= ids_arrived(sink), 30.0, interval=0.2)
    missing = acked - ids_arrived(sink)
    c.check(not missing, "[%s] every record answered OK arrived once the backend was back "
            "(%d missing)" % (tag, len(missing)))
    # and new data is taken again
    more = set()
    for i in range(10):
        req, ids = request(tag + "-after", i)
        code, _ = client.export_retrying("logs", req, timeout=5.0)
        if code == grpc.StatusCode.OK:
            more.update(ids)
    c.eq(len(more), 10 * PER_REQUEST, "[%s] the collector takes new data again" % tag)
    h.wait_until(lambda: more <= ids_arrived(sink), 20.0, interval=0.2)
    c.check(more <= ids_arrived(sink), "[%s] and delivers it" % tag)
    h.wait_until(lambda: dir_bytes(wal) < 64 * 1024 + 4096, 5.0, interval=0.2)
    c.check(dir_bytes(wal) < 64 * 1024 + 4096, "[%s] delivered segments gave the disk back (%d bytes)"
            % (tag, dir_bytes(wal)))
    client.close()
    h.stop_otelc(proc, timeout=30.0)
    sink.stop()


def main(c):
    mnt = os.path.join(h.tmpdir(), "tmpfs")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % MOUNT_SIZE, "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        h.log("SKIP disk: cannot mount a tmpfs here (%s); the sizer scenario still runs"
              % (r.stderr.strip() or r.returncode))
    else:
        try:
            scenario(c, "disk", mnt, "", MOUNT_SIZE)
        finally:
            for _ in range(20):
                if subprocess.run(["umount", mnt], capture_output=True).returncode == 0:
                    break
                time.sleep(0.2)
    # bytes: the capacity is checked before each append, so one record may be
    # all that goes past it
    scenario(c, "sizer", os.path.join(h.tmpdir(), "q-sizer"),
             "\n      sizer: bytes\n      queue_size: %d" % SIZER_BYTES, SIZER_BYTES)
    # a large disk queue is a large number in bytes (the in-memory ring stays bounded)
    for queue in ("\n      sizer: bytes\n      queue_size: 1073741824",
                  "\n      sizer: items\n      queue_size: 50000000"):
        path = h.write_config(config(h.free_port(), h.free_port(), h.free_port(),
                                     os.path.join(h.tmpdir(), "q-big"), queue))
        res = h.run_otelc(["validate", "--config", path])
        c.check(res.returncode == 0, "validate takes%s" % queue.replace("\n     ", ""),
                res.stdout + res.stderr)


if __name__ == "__main__":
    h.run_test(main, timeout=120)
