# otlp_harness.py: the shared harness for otelc's end-to-end tests.
# Runs the real otelc binary over loopback against real gRPC clients and an
# in-process OTLP/gRPC sink (Debian's python3-grpcio; run with /usr/bin/python3).
# SPDX-License-Identifier: Apache-2.0
"""Integration-test harness for otelc.

Environment (set by tests/CMakeLists.txt; defaults for running by hand):
  OTELC          path to the otelc binary   (default OTC_BUILD_DIR/otelc)
  OTC_SOURCE_DIR repository root            (default: two levels above this file)
  OTC_BUILD_DIR  build directory            (default OTC_SOURCE_DIR/build)

What it offers:
  - OTLP protobuf classes generated at test time from proto/ into
    OTC_BUILD_DIR/py_otlp (grpc_tools.protoc, else protoc): module `pb`.
  - Sink: an in-process OTLP/gRPC server that records what it acknowledges and
    can answer normally, block until released, or fail the next N calls.
  - start_otelc() / stop_otelc(): run the binary with a config text.
  - Client: export(signal, request) -> (grpc.StatusCode, response).
  - make_traces / make_metrics / make_logs: requests with unique items.
  - flatten / compare: telemetry compared by decoded content, so re-batching
    (merging or splitting of requests, resources or scopes) does not matter.
  - otlp_json_to_request: an OTLP/JSON object (file exporter) -> request.
  - run_test(): bounded test runner printing "N passed, M failed".
"""

import atexit
import collections
import concurrent.futures
import copy
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("OTC_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("OTC_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
OTELC = os.environ.get("OTELC") or os.path.join(BUILD_DIR, "otelc")
PROTO_DIR = os.path.join(SOURCE_DIR, "proto")
PY_OTLP_DIR = os.path.join(BUILD_DIR, "py_otlp")

SIGNALS = ("traces", "metrics", "logs")
METHOD = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
SERVICE = {s: m.split("/")[1] for s, m in METHOD.items()}

MIB = 1024 * 1024


def log(*args):
    print(*args, flush=True)


# --------------------------------------------------------------------------
# Generated protobuf classes
# --------------------------------------------------------------------------

def _proto_files():
    out = []
    for root, _dirs, files in os.walk(os.path.join(PROTO_DIR, "opentelemetry")):
        out.extend(os.path.join(root, f) for f in files if f.endswith(".proto"))
    return sorted(out)


def _protoc_cmd():
    """The command prefix that runs protoc with --python_out support."""
    try:
        import grpc_tools.protoc  # noqa: F401  (python3-grpc-tools)
        return [sys.executable, "-m", "grpc_tools.protoc"]
    except ImportError:
        pass
    exe = shutil.which("protoc")  # protobuf-compiler
    if exe:
        return [exe]
    raise RuntimeError("no protoc: install python3-grpc-tools or protobuf-compiler")


def generate_protos():
    """Generate the OTLP python modules into BUILD_DIR/py_otlp when the .proto
    files are newer than the last generation. Safe when tests run in
    parallel: generation goes to a temp dir that is renamed into place."""
    protos = _proto_files()
    if not protos:
        raise RuntimeError("no .proto files under %s" % PROTO_DIR)
    stamp = os.path.join(PY_OTLP_DIR, ".stamp")
    newest = max(os.path.getmtime(p) for p in protos)
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= newest:
        with open(stamp) as f:
            if f.read() == "\n".join(protos):
                return PY_OTLP_DIR
    os.makedirs(BUILD_DIR, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="py_otlp.", dir=BUILD_DIR)
    try:
        cmd = _protoc_cmd() + ["-I" + PROTO_DIR, "--python_out=" + tmp] + protos
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("protoc failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr))
        # Regular packages, so that no other 'opentelemetry' on sys.path can shadow them.
        for root, _dirs, _files in os.walk(tmp):
            open(os.path.join(root, "__init__.py"), "a").close()
        with open(os.path.join(tmp, ".stamp"), "w") as f:
            f.write("\n".join(protos))
        old = PY_OTLP_DIR + ".old.%d" % os.getpid()
        if os.path.exists(PY_OTLP_DIR):
            try:
                os.rename(PY_OTLP_DIR, old)
            except OSError:
                pass
        try:
            os.rename(tmp, PY_OTLP_DIR)
        except OSError:
            if not os.path.exists(os.path.join(PY_OTLP_DIR, ".stamp")):
                raise  # someone else won the race only if theirs is complete
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return PY_OTLP_DIR


class _PB:
    """Namespace holding the generated modules and message classes."""

    def load(self):
        generate_protos()
        if PY_OTLP_DIR not in sys.path:
            sys.path.insert(0, PY_OTLP_DIR)
        from opentelemetry.proto.common.v1 import common_pb2
        from opentelemetry.proto.resource.v1 import resource_pb2
        from opentelemetry.proto.trace.v1 import trace_pb2
        from opentelemetry.proto.metrics.v1 import metrics_pb2
        from opentelemetry.proto.logs.v1 import logs_pb2
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
        self.common = common_pb2
        self.resource = resource_pb2
        self.trace = trace_pb2
        self.metrics = metrics_pb2
        self.logs = logs_pb2
        self.request = {
            "traces": trace_service_pb2.ExportTraceServiceRequest,
            "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
            "logs": logs_service_pb2.ExportLogsServiceRequest,
        }
        self.response = {
            "traces": trace_service_pb2.ExportTraceServiceResponse,
            "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
            "logs": logs_service_pb2.ExportLogsServiceResponse,
        }
        return self


pb = _PB().load()


def decode(signal_name, data):
    msg = pb.request[signal_name]()
    msg.ParseFromString(data)
    return msg


def encode(msg_or_bytes):
    if isinstance(msg_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(msg_or_bytes)
    return msg_or_bytes.SerializeToString()


# --------------------------------------------------------------------------
# Process and resource bookkeeping (everything started is stopped at exit)
# --------------------------------------------------------------------------

_PROCS = []
_SINKS = []
_TMPDIRS = []
_LOCK = threading.Lock()


def _cleanup():
    with _LOCK:
        procs, sinks = list(_PROCS), list(_SINKS)
    for p in procs:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass
    for s in sinks:
        try:
            s.stop()
        except Exception:
            pass
    if not os.environ.get("OTC_KEEP_TMP"):
        for d in _TMPDIRS:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def tmpdir():
    """A per-test temporary directory (removed at exit unless OTC_KEEP_TMP)."""
    if not _TMPDIRS:
        _TMPDIRS.append(tempfile.mkdtemp(prefix="otelc-it."))
    return _TMPDIRS[0]


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_open(port, timeout=0.2):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(pred, timeout, interval=0.05):
    """Poll pred() until it is truthy or timeout seconds pass; returns the
    last value of pred()."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# --------------------------------------------------------------------------
# otelc process
# --------------------------------------------------------------------------

class OtelcError(Exception):
    pass


def _receiver_port(config_text):
    """The port of the first grpc endpoint under `receivers:`."""
    m = re.search(r"^receivers:\s*$(.*?)^\S", config_text + "\nZ", re.S | re.M)
    if m:
        e = re.search(r"endpoint:\s*[\"']?[\w.\-]*:(\d+)", m.group(1))
        if e:
            return int(e.group(1))
    return None


def write_config(config_text, name=None):
    d = tmpdir()
    if name is None:
        name = "otelc-%d.yaml" % next(_cfg_seq)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(config_text)
    return path


_cfg_seq = itertools.count(1)
_run_seq = itertools.count(1)


def read_file(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def start_otelc(config_yaml_text, port=None, env=None, args=(), timeout=10.0):
    """Write the config to a temp file, run `$OTELC --config FILE` with stdout
    and stderr captured to files, and wait until the receiver port accepts TCP
    connections. Returns the Popen with extra attributes: config_path,
    stderr_path, stdout_path, port. Raises OtelcError (with stderr) on failure."""
    if not os.access(OTELC, os.X_OK):
        raise OtelcError("otelc binary not found at %s" % OTELC)
    if port is None:
        port = _receiver_port(config_yaml_text)
    n = next(_run_seq)
    cfg = write_config(config_yaml_text, "otelc-run%d.yaml" % n)
    d = tmpdir()
    errp = os.path.join(d, "otelc-run%d.stderr" % n)
    outp = os.path.join(d, "otelc-run%d.stdout" % n)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with open(errp, "wb") as ef, open(outp, "wb") as of:
        proc = subprocess.Popen([OTELC, "--config", cfg] + list(args), stdout=of, stderr=ef,
                                stdin=subprocess.DEVNULL, env=full_env)
    with _LOCK:
        _PROCS.append(proc)
    proc.config_path, proc.stderr_path, proc.stdout_path, proc.port = cfg, errp, outp, port
    if port is None:
        return proc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise OtelcError("otelc exited with %d before listening on %d\n--- config\n%s--- stderr\n%s"
                             % (proc.returncode, port, config_yaml_text, read_file(errp)))
        if port_open(port):
            return proc
        time.sleep(0.05)
    kill_otelc(proc)
    raise OtelcError("otelc did not listen on 127.0.0.1:%d within %.0f s\n--- stderr\n%s"
                     % (port, timeout, read_file(errp)))


def otelc_stderr(proc):
    return read_file(proc.stderr_path)


def kill_otelc(proc):
    if proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def stop_otelc(proc, timeout=15.0):
    """SIGTERM, wait up to `timeout` s, require exit code 0. Returns the
    elapsed seconds; raises OtelcError otherwise (after SIGKILL on a hang)."""
    t0 = time.monotonic()
    if proc.poll() is not None:
        raise OtelcError("otelc had already exited with %d\n--- stderr\n%s"
                         % (proc.returncode, otelc_stderr(proc)))
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_otelc(proc)
        raise OtelcError("otelc did not exit within %.0f s of SIGTERM\n--- stderr\n%s"
                         % (timeout, otelc_stderr(proc)[-4000:]))
    if rc != 0:
        raise OtelcError("otelc exited with %d after SIGTERM\n--- stderr\n%s"
                         % (rc, otelc_stderr(proc)[-4000:]))
    return time.monotonic() - t0


def run_otelc(args, env=None, timeout=20.0):
    """Run otelc to completion (e.g. `validate`); returns CompletedProcess."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([OTELC] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=full_env, stdin=subprocess.DEVNULL)


# --------------------------------------------------------------------------
# Config helpers
# --------------------------------------------------------------------------

def otlp_exporter_yaml(name, port, compression="none", timeout="5s", queue_size=1000,
                       initial_interval="100ms", max_interval="1s", max_elapsed_time="0",
                       extra=""):
    return (
        "  %s:\n"
        "    endpoint: 127.0.0.1:%d\n"
        "    tls:\n"
        "      insecure: true\n"
        "    compression: %s\n"
        "    timeout: %s\n"
        "    sending_queue:\n"
        "      queue_size: %d\n"
        "    retry_on_failure:\n"
        "      initial_interval: %s\n"
        "      max_interval: %s\n"
        "      max_elapsed_time: %s\n"
        "%s"
    ) % (name, port, compression, timeout, queue_size, initial_interval, max_interval,
         max_elapsed_time, extra)


def config_yaml(receiver_port, exporters_yaml, pipelines, max_recv_msg_size_mib=None,
                service_extra=""):
    """exporters_yaml: the text under `exporters:` (each entry indented 2).
    pipelines: {signal: [exporter names]}. service_extra: lines under
    `service:` before `pipelines:` (indented 2), e.g. "  shutdown_timeout: 3s\n"."""
    recv = ("receivers:\n"
            "  otlp:\n"
            "    protocols:\n"
            "      grpc:\n"
            "        endpoint: 127.0.0.1:%d\n" % receiver_port)
    if max_recv_msg_size_mib is not None:
        recv += "        max_recv_msg_size_mib: %s\n" % max_recv_msg_size_mib
    text = recv + "exporters:\n" + exporters_yaml + "service:\n" + service_extra + "  pipelines:\n"
    for sig, exps in pipelines.items():
        text += "    %s:\n      receivers: [otlp]\n      exporters: [%s]\n" % (sig, ", ".join(exps))
    return text


# --------------------------------------------------------------------------
# Sink: in-process OTLP/gRPC server
# --------------------------------------------------------------------------

def _pb_varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _pb_field(num, wire, payload):
    if wire == 0:
        return _pb_varint(num << 3) + _pb_varint(payload)
    return _pb_varint(num << 3 | 2) + _pb_varint(len(payload)) + payload


def status_with_retry_info(code, message, delay_s):
    """A serialized google.rpc.Status{code, message, details: [Any(RetryInfo{
    retry_delay: delay_s})]}, as servers put in grpc-status-details-bin."""
    secs = int(delay_s)
    nanos = int(round((delay_s - secs) * 1e9))
    duration = (_pb_field(1, 0, secs) if secs else b"") + (_pb_field(2, 0, nanos) if nanos else b"")
    retry_info = _pb_field(1, 2, duration)
    any_ = (_pb_field(1, 2, b"type.googleapis.com/google.rpc.RetryInfo") +
            _pb_field(2, 2, retry_info))
    code_num = code.value[0] if isinstance(code, grpc.StatusCode) else int(code)
    return (_pb_field(1, 0, code_num) + _pb_field(2, 2, message.encode()) +
            _pb_field(3, 2, any_))


class Sink:
    """An OTLP/gRPC server on 127.0.0.1:<free port> taking raw bytes.

    received[signal]  requests answered OK (decoded), in arrival order
    attempts[signal]  number of Export calls that reached the handler
    attempt_times     (time.monotonic(), signal, outcome) of every call, outcome
                      "ok", "blocked-cancelled" or the injected code's name
    Modes: normal (default); block() until release(); fail_next(n, code),
    optionally with a google.rpc.RetryInfo delay (retry_delay=seconds);
    partial_next(n, rejected, message): answer OK with partial_success.
    metadata[signal]  the call metadata (dict) of each request in received.
    tls=(cert_pem, key_pem) serves TLS with that certificate (bytes);
    tls=(cert_pem, key_pem, client_ca_pem) also requires a client certificate."""

    def __init__(self, name="sink", max_workers=64, port=0, tls=None):
        self.name = name
        self.received = {s: [] for s in SIGNALS}
        self.raw = {s: [] for s in SIGNALS}
        self.metadata = {s: [] for s in SIGNALS}
        self.attempts = {s: 0 for s in SIGNALS}
        self.attempt_times = []
        self.cancelled = 0     # blocked calls the client gave up on
        self.failed = 0        # calls answered with an injected error
        self.blocked_now = 0   # calls currently held by block()
        self.decode_errors = []
        self._cond = threading.Condition()
        self._release = threading.Event()
        self._release.set()
        self._fail_n = 0
        self._fail_code = grpc.StatusCode.UNAVAILABLE
        self._fail_details = None
        self._partial = (0, 0, "")
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers)
        self.server = grpc.server(self._pool, options=[
            ("grpc.max_receive_message_length", 256 * MIB),
            ("grpc.max_send_message_length", 256 * MIB),
            ("grpc.so_reuseport", 0),
        ])
        handlers = []
        for sig in SIGNALS:
            h = grpc.unary_unary_rpc_method_handler(self._make_handler(sig))
            handlers.append(grpc.method_handlers_generic_handler(SERVICE[sig], {"Export": h}))
        self.server.add_generic_rpc_handlers(tuple(handlers))
        if tls:
            client_ca = tls[2] if len(tls) > 2 else None
            creds = grpc.ssl_server_credentials([(tls[1], tls[0])], root_certificates=client_ca,
                                                require_client_auth=client_ca is not None)
            self.port = self.server.add_secure_port("127.0.0.1:%d" % port, creds)
        else:
            self.port = self.server.add_insecure_port("127.0.0.1:%d" % port)
        if not self.port:
            raise RuntimeError("sink could not bind a port")
        self.server.start()
        self._stopped = False
        with _LOCK:
            _SINKS.append(self)

    @property
    def endpoint(self):
        return "127.0.0.1:%d" % self.port

    # -- modes --
    def block(self):
        """Hold every new call unanswered until release()."""
        self._release.clear()

    def release(self):
        self._release.set()

    def fail_next(self, n, code=grpc.StatusCode.UNAVAILABLE, retry_delay=None):
        """Answer `code` to the next n calls; with retry_delay (seconds), also
        send a google.rpc.Status holding a RetryInfo in grpc-status-details-bin."""
        with self._cond:
            self._fail_n = n
            self._fail_code = code
            self._fail_details = (None if retry_delay is None else
                                  status_with_retry_info(code, "sink: throttled", retry_delay))

    def partial_next(self, n, rejected, message):
        """Answer the next n successful calls OK with partial_success
        {rejected_<items>: rejected, error_message: message}."""
        with self._cond:
            self._partial = (n, rejected, message)

    def normal(self):
        with self._cond:
            self._fail_n = 0
        self._release.set()

    def clear(self):
        with self._cond:
            for s in SIGNALS:
                self.received[s] = []
                self.raw[s] = []
                self.metadata[s] = []
                self.attempts[s] = 0
            self.attempt_times = []

    # -- handler --
    def _make_handler(self, sig):
        def handler(request, context):
            with self._cond:
                self.attempts[sig] += 1
                if self._fail_n > 0:
                    self._fail_n -= 1
                    self.failed += 1
                    code = self._fail_code
                    details = self._fail_details
                else:
                    code = details = None
                self.attempt_times.append((time.monotonic(), sig, code.name if code else "ok"))
            if code is not None:
                if details is not None:
                    context.set_trailing_metadata((("grpc-status-details-bin", details),))
                context.abort(code, "sink: injected %s" % code.name)
            if not self._release.is_set():
                with self._cond:
                    self.blocked_now += 1
                try:
                    while not self._release.wait(0.05):
                        if not context.is_active():
                            with self._cond:
                                self.cancelled += 1
                            return b""
                finally:
                    with self._cond:
                        self.blocked_now -= 1
                if not context.is_active():  # released after the client gave up
                    with self._cond:
                        self.cancelled += 1
                    return b""
            try:
                msg = decode(sig, request)
            except Exception as e:  # record and refuse: otelc sent garbage
                with self._cond:
                    self.decode_errors.append((sig, repr(e), bytes(request[:64])))
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "sink: undecodable: %r" % e)
            md = dict((k, v) for k, v in context.invocation_metadata())
            resp = pb.response[sig]()
            with self._cond:
                self.received[sig].append(msg)
                self.raw[sig].append(bytes(request))
                self.metadata[sig].append(md)
                self._cond.notify_all()
                if self._partial[0] > 0:
                    n, rejected, message = self._partial
                    self._partial = (n - 1, rejected, message)
                    field = {"traces": "rejected_spans", "metrics": "rejected_data_points",
                             "logs": "rejected_log_records"}[sig]
                    setattr(resp.partial_success, field, rejected)
                    resp.partial_success.error_message = message
            return resp.SerializeToString()
        return handler

    # -- queries --
    def requests(self, sig):
        with self._cond:
            return list(self.received[sig])

    def items(self, sig, drop_ot=False):
        return flatten(sig, self.requests(sig), drop_ot)

    def count(self, sig):
        return count_items(sig, self.requests(sig))

    def wait_count(self, sig, n, timeout):
        """Wait until at least n items of `sig` were received; returns the count."""
        wait_until(lambda: self.count(sig) >= n, timeout)
        return self.count(sig)

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        self._release.set()
        self.server.stop(grace=0).wait(5)
        self._pool.shutdown(wait=False)


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------

class Client:
    """An OTLP/gRPC client for otelc's receiver sending raw bytes.
    credentials: grpc.ssl_channel_credentials(...) for TLS; options: more
    channel options (e.g. grpc.ssl_target_name_override)."""

    def __init__(self, port_or_endpoint, credentials=None, options=()):
        if isinstance(port_or_endpoint, int):
            port_or_endpoint = "127.0.0.1:%d" % port_or_endpoint
        self.endpoint = port_or_endpoint
        opts = [
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", -1),
            ("grpc.enable_retries", 0),
        ] + list(options)
        if credentials is not None:
            self.channel = grpc.secure_channel(self.endpoint, credentials, options=opts)
        else:
            self.channel = grpc.insecure_channel(self.endpoint, options=opts)
        self._stubs = {}

    def _stub(self, path):
        st = self._stubs.get(path)
        if st is None:
            st = self.channel.unary_unary(path)  # no (de)serializer: raw bytes
            self._stubs[path] = st
        return st

    def call(self, path, data, compression=None, timeout=5.0, metadata=None):
        """Raw unary call. Returns (code, response bytes or None, details)."""
        comp = {None: None, "none": grpc.Compression.NoCompression,
                "gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}[compression]
        try:
            resp = self._stub(path)(encode(data), timeout=timeout, compression=comp,
                                    metadata=metadata, wait_for_ready=False)
            return grpc.StatusCode.OK, resp, ""
        except grpc.RpcError as e:
            return e.code(), None, e.details() or ""

    def export_full(self, signal_name, request, compression=None, timeout=5.0, metadata=None):
        """Returns (code, decoded response or None, details)."""
        code, resp, details = self.call(METHOD[signal_name], request, compression, timeout, metadata)
        if resp is not None:
            m = pb.response[signal_name]()
            m.ParseFromString(resp)
            resp = m
        return code, resp, details

    def export(self, signal_name, request, compression=None, timeout=5.0):
        code, resp, _details = self.export_full(signal_name, request, compression, timeout)
        return code, resp

    def export_retrying(self, signal_name, request, timeout=20.0, attempts=100):
        """export(), retrying UNAVAILABLE (otelc's backpressure: the request was
        not taken) with a short growing pause, as an SDK does. Returns the last code."""
        for attempt in range(attempts):
            code, resp = self.export(signal_name, request, timeout=timeout)
            if code != grpc.StatusCode.UNAVAILABLE:
                break
            time.sleep(min(0.05 * (attempt + 1), 0.5))
        return code, resp

    def close(self):
        self.channel.close()


# --------------------------------------------------------------------------
# Request builders
# --------------------------------------------------------------------------

_uid = itertools.count(1)
RUN_ID = os.urandom(4).hex()


def _any(v):
    av = pb.common.AnyValue()
    if isinstance(v, bool):
        av.bool_value = v
    elif isinstance(v, int):
        av.int_value = v
    elif isinstance(v, float):
        av.double_value = v
    elif isinstance(v, str):
        av.string_value = v
    elif isinstance(v, bytes):
        av.bytes_value = v
    elif isinstance(v, (list, tuple)):
        av.array_value.values.extend(_any(x) for x in v)
    elif isinstance(v, dict):
        av.kvlist_value.values.extend(kv(k, x) for k, x in v.items())
    else:
        raise TypeError(type(v))
    return av


def kv(key, value):
    k = pb.common.KeyValue(key=key)
    k.value.CopyFrom(_any(value))
    return k


def attrs(d):
    return [kv(k, v) for k, v in d.items()]


def rich_attrs(i):
    """Attributes of every AnyValue kind (for round-trip checks)."""
    return {
        "str": "value-%d" % i, "int": -1234567890123 - i, "dbl": 3.25 + i, "bool": bool(i % 2),
        "bytes": bytes([i % 256, 0, 255]), "arr": ["a", 1, 2.5, False],
        "kv": {"inner": "x", "n": i, "nested": {"deep": [1, 2]}}, "empty": "",
        "utf8": "h\u00e9llo \u2603 %d" % i,
    }


def _resource(rattrs, i):
    r = pb.resource.Resource()
    base = {"service.name": "otelc-it", "test.run": RUN_ID, "res.index": i}
    base.update(rattrs or {})
    r.attributes.extend(attrs(base))
    return r


def _scope(j):
    return pb.common.InstrumentationScope(name="otelc-it.scope%d" % j, version="1.%d.0" % j,
                                          attributes=attrs({"scope.index": j}))


def _now_ns():
    return time.time_ns()


def make_traces(n_spans, n_resources=1, n_scopes=1, span_attrs=None, resource_attrs=None,
                rich=False, attr_size=0):
    """An ExportTraceServiceRequest with n_spans spans spread over resources and
    scopes; every span has unique ids and a unique name."""
    req = pb.request["traces"]()
    t = _now_ns()
    per = [n_spans // (n_resources * n_scopes)] * (n_resources * n_scopes)
    for k in range(n_spans - sum(per)):
        per[k] += 1
    k = 0
    for ri in range(n_resources):
        rs = req.resource_spans.add()
        rs.resource.CopyFrom(_resource(resource_attrs, ri))
        rs.schema_url = "https://opentelemetry.io/schemas/1.21.0"
        for sj in range(n_scopes):
            ss = rs.scope_spans.add()
            ss.scope.CopyFrom(_scope(sj))
            for _ in range(per[k]):
                u = next(_uid)
                sp = ss.spans.add()
                sp.trace_id = os.urandom(16)
                sp.span_id = os.urandom(8)
                sp.parent_span_id = os.urandom(8) if u % 3 else b""
                sp.trace_state = "k=v%d" % u if u % 4 == 0 else ""
                sp.flags = 0x301 if u % 2 else 0
                sp.name = "span-%s-%d" % (RUN_ID, u)
                sp.kind = u % 6
                sp.start_time_unix_nano = t + u
                sp.end_time_unix_nano = t + u + 1000 * u
                a = {"uid": u, "http.method": "GET"}
                if rich:
                    a.update(rich_attrs(u))
                if attr_size:
                    a["blob"] = "x" * attr_size
                a.update(span_attrs or {})
                sp.attributes.extend(attrs(a))
                sp.dropped_attributes_count = u % 2
                if rich:
                    ev = sp.events.add(time_unix_nano=t + u + 5, name="ev-%d" % u,
                                       attributes=attrs({"e": u}))
                    ev.dropped_attributes_count = 1
                    ln = sp.links.add(trace_id=os.urandom(16), span_id=os.urandom(8),
                                      trace_state="l=1", attributes=attrs({"l": u}), flags=1)
                    ln.dropped_attributes_count = 2
                    sp.dropped_events_count = 3
                    sp.dropped_links_count = 4
                    sp.status.code = 2
                    sp.status.message = "boom %d" % u
            k += 1
    return req


def make_logs(n_records, n_resources=1, n_scopes=1, rich=False, attr_size=0):
    req = pb.request["logs"]()
    t = _now_ns()
    per = [n_records // (n_resources * n_scopes)] * (n_resources * n_scopes)
    for k in range(n_records - sum(per)):
        per[k] += 1
    k = 0
    for ri in range(n_resources):
        rl = req.resource_logs.add()
        rl.resource.CopyFrom(_resource(None, ri))
        for sj in range(n_scopes):
            sl = rl.scope_logs.add()
            sl.scope.CopyFrom(_scope(sj))
            sl.schema_url = "https://opentelemetry.io/schemas/1.21.0"
            for _ in range(per[k]):
                u = next(_uid)
                lr = sl.log_records.add()
                lr.time_unix_nano = t + u
                lr.observed_time_unix_nano = t + u + 7
                lr.severity_number = 1 + u % 24
                lr.severity_text = "SEV%d" % (u % 24)
                if rich and u % 3 == 0:
                    lr.body.CopyFrom(_any({"msg": "log-%s-%d" % (RUN_ID, u), "n": u}))
                else:
                    lr.body.string_value = "log-%s-%d" % (RUN_ID, u)
                a = {"uid": u}
                if rich:
                    a.update(rich_attrs(u))
                if attr_size:
                    a["blob"] = "x" * attr_size
                lr.attributes.extend(attrs(a))
                lr.dropped_attributes_count = u % 3
                if u % 2:
                    lr.trace_id = os.urandom(16)
                    lr.span_id = os.urandom(8)
                    lr.flags = 1
                if rich and u % 5 == 0:
                    lr.event_name = "evt.%d" % u
            k += 1
    return req


def make_metrics(n_points, n_resources=1, n_scopes=1, rich=False, points_per_metric=2):
    """An ExportMetricsServiceRequest with n_points data points in metrics of
    points_per_metric points each. With rich=True the metric types cycle through
    gauge, sum, histogram, exponential histogram and summary; otherwise gauge
    and sum only."""
    req = pb.request["metrics"]()
    t = _now_ns()
    kinds = ["gauge", "sum", "histogram", "exponential_histogram", "summary"] if rich else ["gauge", "sum"]
    left = n_points
    rms = []
    for ri in range(n_resources):
        rm = req.resource_metrics.add()
        rm.resource.CopyFrom(_resource(None, ri))
        rm.schema_url = "https://opentelemetry.io/schemas/1.21.0"
        for sj in range(n_scopes):
            sm = rm.scope_metrics.add()
            sm.scope.CopyFrom(_scope(sj))
            rms.append(sm)
    k = 0
    while left > 0:
        sm = rms[k % len(rms)]
        u = next(_uid)
        kind = kinds[u % len(kinds)]
        m = sm.metrics.add(name="metric-%s-%d" % (RUN_ID, u), description="desc %d" % u, unit="ms")
        if rich:
            m.metadata.extend(attrs({"md": u}))
        npts = min(points_per_metric, left)
        left -= npts
        k += 1
        for p in range(npts):
            pa = attrs({"uid": u, "point": p})
            if kind in ("gauge", "sum"):
                cont = getattr(m, kind)
                if kind == "sum":
                    cont.aggregation_temporality = 1 + u % 2
                    cont.is_monotonic = bool(u % 2)
                dp = cont.data_points.add(start_time_unix_nano=t, time_unix_nano=t + u + p)
                dp.attributes.extend(pa)
                if (u + p) % 2:
                    dp.as_int = -5 * u - p
                else:
                    dp.as_double = 0.5 * u + p
                if rich and p == 0:
                    ex = dp.exemplars.add(time_unix_nano=t + 1, as_double=1.5,
                                          span_id=os.urandom(8), trace_id=os.urandom(16))
                    ex.filtered_attributes.extend(attrs({"ex": u}))
                dp.flags = p % 2
            elif kind == "histogram":
                m.histogram.aggregation_temporality = 2
                dp = m.histogram.data_points.add(start_time_unix_nano=t, time_unix_nano=t + u + p,
                                                 count=6, bucket_counts=[1, 2, 3],
                                                 explicit_bounds=[1.0, 10.0])
                dp.attributes.extend(pa)
                dp.sum = 42.5 + p
                dp.min = 0.0  # presence of a zero min must survive
                dp.max = 20.0 + u
            elif kind == "exponential_histogram":
                m.exponential_histogram.aggregation_temporality = 1
                dp = m.exponential_histogram.data_points.add(
                    start_time_unix_nano=t, time_unix_nano=t + u + p, count=7, scale=-2,
                    zero_count=1, zero_threshold=0.001)
                dp.attributes.extend(pa)
                dp.positive.offset = -3
                dp.positive.bucket_counts.extend([1, 2])
                dp.negative.offset = 2
                dp.negative.bucket_counts.extend([3])
                dp.sum = -1.25
                dp.min = -9.0
                dp.max = 8.0
            else:
                dp = m.summary.data_points.add(start_time_unix_nano=t, time_unix_nano=t + u + p,
                                               count=10, sum=99.5)
                dp.attributes.extend(pa)
                dp.quantile_values.add(quantile=0.5, value=4.0)
                dp.quantile_values.add(quantile=0.99, value=9.5)
    return req


TRICKY_STRINGS = ["", "quote\" backslash\\ slash/", "nl\n cr\r tab\t", "nul\x00 ctl\x01\x1f del\x7f",
                  "\u00e9\u4e2d\u6587 \U0001F600 \u2028\u2029 \ufeff", "</script>&<>'", "x" * 3000]
TRICKY_DOUBLES = [0.0, -0.0, 1e308, -1e308, 5e-324, 1.0 / 3, float("inf"), float("-inf"), float("nan")]
TRICKY_INTS = [0, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 53 + 1]


def make_tricky(signal_name, nul=True):
    """A request full of edge-case values: control characters, non-BMP
    unicode, int64 extremes, NaN and infinities, max fixed64 timestamps.
    nul=False leaves U+0000 out of strings: otelc keeps it when forwarding the
    received bytes, but protobuf-c decodes strings as NUL-terminated C strings,
    so a re-encoded or JSON-written string ends at its first U+0000 (README)."""
    if not nul:
        global TRICKY_STRINGS
        saved = TRICKY_STRINGS
        TRICKY_STRINGS = [x.replace("\x00", "") for x in saved]
        try:
            return make_tricky(signal_name)
        finally:
            TRICKY_STRINGS = saved
    if signal_name == "traces":
        req = make_traces(len(TRICKY_STRINGS))
        for i, sp in enumerate(req.resource_spans[0].scope_spans[0].spans):
            sp.name = TRICKY_STRINGS[i]
            sp.start_time_unix_nano = 2 ** 64 - 1 if i == 0 else sp.start_time_unix_nano
            sp.attributes.extend(attrs({"s%d" % k: v for k, v in enumerate(TRICKY_STRINGS)}))
            sp.attributes.extend(attrs({"d%d" % k: v for k, v in enumerate(TRICKY_DOUBLES)}))
            sp.attributes.extend(attrs({"i%d" % k: v for k, v in enumerate(TRICKY_INTS)}))
            sp.attributes.extend(attrs({TRICKY_STRINGS[i]: "key is tricky"}))
            sp.status.message = TRICKY_STRINGS[-1 - i]
        return req
    if signal_name == "logs":
        req = make_logs(len(TRICKY_STRINGS))
        recs = req.resource_logs[0].scope_logs[0].log_records
        for i, lr in enumerate(recs):
            lr.body.string_value = TRICKY_STRINGS[i]
            lr.severity_text = TRICKY_STRINGS[-1 - i][:20]
        recs[0].body.CopyFrom(_any([TRICKY_STRINGS, TRICKY_DOUBLES, TRICKY_INTS, b"\x00\xff"]))
        recs[1].body.CopyFrom(_any({k: k for k in TRICKY_STRINGS}))
        recs[2].time_unix_nano = 2 ** 64 - 1
        recs[3].ClearField("body")
        return req
    req = pb.request["metrics"]()
    rm = req.resource_metrics.add()
    rm.resource.CopyFrom(_resource(None, 0))
    sm = rm.scope_metrics.add()
    sm.scope.CopyFrom(_scope(0))
    m = sm.metrics.add(name="tricky-%s-%d" % (RUN_ID, next(_uid)), unit="{\"}")
    for k, v in enumerate(TRICKY_DOUBLES):
        dp = m.gauge.data_points.add(time_unix_nano=2 ** 64 - 1 - k, as_double=v)
        dp.attributes.extend(attrs({"k": k}))
    for k, v in enumerate(TRICKY_INTS):
        dp = m.gauge.data_points.add(time_unix_nano=k, as_int=v)
        dp.attributes.extend(attrs({"ik": k}))
    h = sm.metrics.add(name="tricky-hist-%s-%d" % (RUN_ID, next(_uid)))
    h.histogram.aggregation_temporality = 2
    for k, v in enumerate(TRICKY_DOUBLES):
        dp = h.histogram.data_points.add(count=2 ** 64 - 1, bucket_counts=[2 ** 64 - 1, 0],
                                         explicit_bounds=[v])
        dp.attributes.extend(attrs({"k": k}))
        dp.sum = v
        dp.min = v
        dp.max = v
    return req


MAKERS = {"traces": make_traces, "metrics": make_metrics, "logs": make_logs}


def make_request(signal_name, n, **kw):
    return MAKERS[signal_name](n, **kw)


# --------------------------------------------------------------------------
# Comparing telemetry by content
# --------------------------------------------------------------------------

_POINT_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


def _ser(m):
    return m.SerializeToString(deterministic=True)


def _without_ot(sp):
    """A copy of span sp without the "ot" member of its tracestate (what the
    probabilistic_sampler writes on every span it keeps, as otelcol's does)."""
    members = [m for m in sp.trace_state.split(",") if m.strip() and m.split("=")[0].strip() != "ot"]
    sp = copy.deepcopy(sp)
    sp.trace_state = ",".join(m.strip() for m in members)
    return sp


def flatten(signal_name, requests, drop_ot=False):
    """Flatten requests (messages or bytes) into a sorted list of canonical
    tuples, one per item (span, log record, metric data point):
      (resource + resource schema_url, scope + scope schema_url, [metric
       descriptor,] item), each a deterministic serialization.
    Any re-batching of the same items gives the same list. drop_ot: spans
    compared without their tracestate's "ot" member (a probabilistic_sampler
    on the way writes one)."""
    out = []
    for req in requests:
        if isinstance(req, (bytes, bytearray)):
            req = decode(signal_name, req)
        if signal_name == "traces":
            for rs in req.resource_spans:
                rk = _ser(rs.resource) + b"|" + rs.schema_url.encode()
                for ss in rs.scope_spans:
                    sk = _ser(ss.scope) + b"|" + ss.schema_url.encode()
                    out.extend((rk, sk, _ser(_without_ot(sp) if drop_ot else sp))
                               for sp in ss.spans)
        elif signal_name == "logs":
            for rl in req.resource_logs:
                rk = _ser(rl.resource) + b"|" + rl.schema_url.encode()
                for sl in rl.scope_logs:
                    sk = _ser(sl.scope) + b"|" + sl.schema_url.encode()
                    out.extend((rk, sk, _ser(lr)) for lr in sl.log_records)
        elif signal_name == "metrics":
            for rm in req.resource_metrics:
                rk = _ser(rm.resource) + b"|" + rm.schema_url.encode()
                for sm in rm.scope_metrics:
                    sk = _ser(sm.scope) + b"|" + sm.schema_url.encode()
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        desc = copy.deepcopy(m)
                        if kind:
                            getattr(desc, kind).ClearField("data_points")
                        dk = _ser(desc)
                        pts = getattr(m, kind).data_points if kind else []
                        if not pts:
                            out.append((rk, sk, dk, b""))
                        out.extend((rk, sk, dk, _ser(p)) for p in pts)
        else:
            raise ValueError(signal_name)
    out.sort()
    return out


def count_items(signal_name, requests):
    n = 0
    for req in requests:
        if isinstance(req, (bytes, bytearray)):
            req = decode(signal_name, req)
        if signal_name == "traces":
            n += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
        elif signal_name == "logs":
            n += sum(len(sl.log_records) for rl in req.resource_logs for sl in rl.scope_logs)
        else:
            for rm in req.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        n += len(getattr(m, kind).data_points) if kind else 0
    return n


def compare(signal_name, sent, received, drop_ot=False):
    """Multiset comparison. Returns (missing, extra): Counters of flattened
    items sent but not received, and received but not sent (or too often).
    drop_ot: as flatten's, on both sides."""
    a = collections.Counter(flatten(signal_name, sent, drop_ot))
    b = collections.Counter(flatten(signal_name, received, drop_ot))
    return a - b, b - a


def describe_item(signal_name, item):
    """A short human-readable form of one flattened item (for failure output)."""
    try:
        if signal_name == "traces":
            m = pb.trace.Span()
            m.ParseFromString(item[2])
            return "span %r id=%s" % (m.name, m.span_id.hex())
        if signal_name == "logs":
            m = pb.logs.LogRecord()
            m.ParseFromString(item[2])
            return "log %s" % str(m.body).strip().replace("\n", " ")
        m = pb.metrics.Metric()
        m.ParseFromString(item[2])
        return "metric %r point %s" % (m.name, item[3].hex()[:48])
    except Exception as e:  # pragma: no cover - diagnostics only
        return "undecodable item (%r)" % e


def diff_report(signal_name, missing, extra, limit=5, width=300):
    lines = []
    for title, c in (("missing", missing), ("unexpected", extra)):
        if c:
            lines.append("  %d %s items, e.g.:" % (sum(c.values()), title))
            for it in list(c)[:limit]:
                d = describe_item(signal_name, it)
                lines.append("    " + (d if len(d) <= width else d[:width] + "..."))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# OTLP/JSON (the file exporter's format)
# --------------------------------------------------------------------------

_HEX_ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def _hex_ids_to_b64(o):
    import base64
    if isinstance(o, dict):
        r = {}
        for k, v in o.items():
            if k in _HEX_ID_KEYS and isinstance(v, str):
                r[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                r[k] = _hex_ids_to_b64(v)
        return r
    if isinstance(o, list):
        return [_hex_ids_to_b64(x) for x in o]
    return o


def otlp_json_signal(obj):
    for key, sig in (("resourceSpans", "traces"), ("resourceMetrics", "metrics"),
                     ("resourceLogs", "logs")):
        if key in obj:
            return sig
    return None


def otlp_json_to_request(obj, signal_name=None):
    """Parse one OTLP/JSON object (ids as hex, enums as ints, as the OTLP spec
    requires) into the matching Export*ServiceRequest. Strict: unknown fields
    are an error."""
    from google.protobuf import json_format
    signal_name = signal_name or otlp_json_signal(obj)
    if signal_name is None:
        raise ValueError("not an OTLP/JSON object: keys %s" % list(obj)[:5])
    msg = pb.request[signal_name]()
    json_format.ParseDict(_hex_ids_to_b64(obj), msg, ignore_unknown_fields=False)
    return signal_name, msg


def read_jsonl(path):
    """Read a JSON-lines file exported by otelc: {signal: [requests]}, errors."""
    import json
    out = {s: [] for s in SIGNALS}
    errors = []
    try:
        with open(path) as f:
            lines = f.read().split("\n")  # not splitlines(): U+2028 etc. are valid in JSON strings
    except OSError as e:
        return out, ["cannot read %s: %s" % (path, e)]
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            # "-0" must stay a negative zero for double fields
            obj = json.loads(line, parse_int=lambda x: -0.0 if x == "-0" else int(x))
            sig, msg = otlp_json_to_request(obj)
            out[sig].append(msg)
        except Exception as e:
            errors.append("%s:%d: %s: %s" % (path, i, type(e).__name__, str(e)[:300]))
    return out, errors


# --------------------------------------------------------------------------
# Test runner
# --------------------------------------------------------------------------

class Checks:
    """Counts checks; each prints one line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            log("ok   - %s" % what)
        else:
            self.failed += 1
            log("FAIL - %s" % what)
            if detail:
                log("       " + str(detail).replace("\n", "\n       "))
        return bool(cond)

    def eq(self, got, want, what):
        return self.check(got == want, "%s (got %r, want %r)" % (what, got, want)
                          if got != want else "%s (%r)" % (what, got))


class _Timeout(BaseException):
    pass


def run_test(main, timeout=110):
    """Run main(checks) with a global time limit; print 'N passed, M failed'
    and exit 0 only if nothing failed. Every process and sink started
    through this module is stopped, even on failure or SIGTERM."""
    checks = Checks()

    def on_alarm(_sig, _frm):
        raise _Timeout("test exceeded %d s" % timeout)

    def on_term(sig, _frm):
        raise _Timeout("killed by signal %d" % sig)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(timeout)
    try:
        if not os.access(OTELC, os.X_OK):
            checks.check(False, "otelc binary exists at %s" % OTELC)
        else:
            main(checks)
    except _Timeout as e:
        checks.check(False, "completed in time", str(e) + "\n" + traceback.format_exc())
    except OtelcError as e:
        checks.check(False, "otelc ran", str(e))
    except Exception:
        checks.check(False, "no exception", traceback.format_exc())
    finally:
        signal.alarm(0)
        try:
            _cleanup()
        except BaseException:
            pass
    log("%d passed, %d failed" % (checks.passed, checks.failed))
    sys.stdout.flush()
    os._exit(0 if checks.failed == 0 and checks.passed > 0 else 1)
