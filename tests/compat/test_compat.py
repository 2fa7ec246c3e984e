#!/usr/bin/env python3
"""test_compat.py - the compatibility corpus: real otelcol configs from public
sources (each file names its source and what was removed), every one of which
must pass `otelc validate` and start.

For each config: validate it as it is (with the environment variables it
names set); then, in a temporary directory used as the working directory,
start a copy whose listeners are moved to free loopback ports (and whose
absolute TLS paths point at a key pair made for the test), check that it
becomes ready, that each OTLP/HTTP receiver answers an export, each OTLP/gRPC
receiver accepts connections and each health_check answers, and that SIGTERM
stops it with exit code 0 and no error in its log.
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml  # python3-yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("OTC_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("OTC_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
OTELC = os.path.abspath(os.environ.get("OTELC") or os.path.join(BUILD_DIR, "otelc"))

# Variables the corpus references (the Helm chart's pod variables).
ENV = {
    "MY_POD_IP": "127.0.0.1",
    "OTEL_K8S_NODE_NAME": "node-1",
    "OTEL_K8S_NAMESPACE": "default",
    "OTEL_K8S_NODE_IP": "127.0.0.1",
    "OTEL_K8S_POD_IP": "127.0.0.1",
    "OTEL_K8S_POD_NAME": "otelc-0",
    # the OpenTelemetry demo's collector
    "OTEL_COLLECTOR_HOST": "127.0.0.1",
    "OTEL_COLLECTOR_PORT_GRPC": "4317",
    "OTEL_COLLECTOR_PORT_HTTP": "4318",
}

SIGNAL_PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}
URL_KEYS = {"traces": "traces_url_path", "metrics": "metrics_url_path", "logs": "logs_url_path"}
EMPTY_BODY = {"traces": {"resourceSpans": []}, "metrics": {"resourceMetrics": []},
              "logs": {"resourceLogs": []}}


def log(*args):
    print(*args, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def env():
    e = dict(os.environ)
    e.update(ENV)
    return e


def make_keypair(d):
    crt, key = os.path.join(d, "test.crt"), os.path.join(d, "test.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", crt],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return crt, key


def kind_of(cid):
    return cid.split("/", 1)[0]


def rewrite(cfg, tmp):
    """Move listeners to free ports; returns what to probe."""
    probes = {"http": [], "grpc": [], "health": []}
    pipelines = (cfg.get("service") or {}).get("pipelines") or {}
    keypair = None

    def signals_of(rid):
        return sorted({kind_of(p) for p, body in pipelines.items()
                       if rid in ((body or {}).get("receivers") or [])})

    def fix_tls(section):
        nonlocal keypair
        tls = (section or {}).get("tls")
        if isinstance(tls, dict):
            for k in ("cert_file", "key_file"):
                if isinstance(tls.get(k), str) and os.path.isabs(tls[k]):
                    keypair = keypair or make_keypair(tmp)
                    tls[k] = keypair[0] if k == "cert_file" else keypair[1]

    for rid, rc in (cfg.get("receivers") or {}).items():
        if kind_of(rid) != "otlp":
            continue
        protocols = (rc or {}).get("protocols") or {}
        sigs = signals_of(rid)
        for proto in ("grpc", "http"):
            if proto not in protocols:
                continue
            section = protocols[proto] if isinstance(protocols[proto], dict) else {}
            port = free_port()
            section["endpoint"] = "127.0.0.1:%d" % port
            fix_tls(section)
            protocols[proto] = section
            if not sigs:
                continue
            if proto == "grpc":
                probes["grpc"].append((rid, port))
            else:
                path = section.get(URL_KEYS[sigs[0]], SIGNAL_PATHS[sigs[0]])
                if not path.startswith("/"):
                    path = "/" + path  # otelcol adds it
                auth = (section.get("auth") or {}).get("authenticator")
                tls = bool((section.get("tls") or {}).get("cert_file"))
                probes["http"].append((rid, port, path, sigs[0], auth, tls))
    for eid, ec in list((cfg.get("extensions") or {}).items()):
        if kind_of(eid) == "health_check":
            ec = ec if isinstance(ec, dict) else {}
            port = free_port()
            ec["endpoint"] = "127.0.0.1:%d" % port
            cfg["extensions"][eid] = ec
            if eid in ((cfg.get("service") or {}).get("extensions") or []):
                probes["health"].append((eid, port, ec.get("path", "/")))
    svc = cfg.setdefault("service", {})
    metrics = (svc.setdefault("telemetry", {}) or {}).setdefault("metrics", {}) or {}
    svc["telemetry"]["metrics"] = metrics
    if "address" in metrics:
        metrics["address"] = "127.0.0.1:%d" % free_port()
    for r in metrics.get("readers") or []:
        prom = (((r or {}).get("pull") or {}).get("exporter") or {}).get("prometheus")
        if isinstance(prom, dict):
            prom["host"] = "127.0.0.1"
            prom["port"] = free_port()
    if "address" not in metrics and not metrics.get("readers"):
        metrics["address"] = "127.0.0.1:%d" % free_port()
    return probes


def token_for(cfg, auth_id):
    ext = (cfg.get("extensions") or {}).get(auth_id) or {}
    scheme = ext.get("scheme", "Bearer")
    token = ext.get("token") or (ext.get("tokens") or [None])[-1]
    value = token if not scheme else "%s %s" % (scheme, token)
    return ext.get("header", "Authorization"), value


def post_json(port, path, body, tls, headers):
    import ssl
    url = "%s://127.0.0.1:%d%s" % ("https" if tls else "http", port, path)
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers=dict({"Content-Type": "application/json"}, **headers))
    ctx = ssl._create_unverified_context() if tls else None
    try:
        with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def check(path):
    problems = []
    name = os.path.basename(path)
    with open(path) as f:
        text = f.read()
    head = text.splitlines()[0] if text else ""
    if not head.startswith("# Source: "):
        problems.append("first line must be '# Source: <url or repository + path>'")

    v = subprocess.run([OTELC, "validate", "--config", path], env=env(), capture_output=True,
                       text=True, timeout=30)
    if v.returncode != 0:
        return problems + ["validate exit %d: %s" % (v.returncode, v.stderr.strip())]

    tmp = tempfile.mkdtemp(prefix="otelc-compat-")
    try:
        cfg = yaml.safe_load(text)
        probes = rewrite(cfg, tmp)
        with open(os.path.join(tmp, "file-containing.token"), "w") as f:
            f.write("tokenfromfile\n")
        run_path = os.path.join(tmp, name)
        with open(run_path, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        errf = open(os.path.join(tmp, "stderr.log"), "w+")
        proc = subprocess.Popen([OTELC, "--config", run_path], cwd=tmp, env=env(),
                                stdout=subprocess.DEVNULL, stderr=errf)
        try:
            deadline = time.time() + 15
            ready = False
            while time.time() < deadline and proc.poll() is None:
                with open(errf.name) as f:
                    if "Everything is ready" in f.read():
                        ready = True
                        break
                time.sleep(0.05)
            if not ready:
                problems.append("did not become ready (exit %s)" % proc.poll())
            else:
                for rid, port, hpath, sig, auth, tls in probes["http"]:
                    headers = {}
                    if auth:
                        h, value = token_for(cfg, auth)
                        headers[h] = value
                    code = post_json(port, hpath, EMPTY_BODY[sig], tls, headers)
                    if code != 200:
                        problems.append("%s: POST %s answered %d" % (rid, hpath, code))
                    if auth and post_json(port, hpath, EMPTY_BODY[sig], tls, {}) != 401:
                        problems.append("%s: a request without a token was not refused" % rid)
                for rid, port in probes["grpc"]:
                    if not port_open(port):
                        problems.append("%s: gRPC port %d not open" % (rid, port))
                for eid, port, hpath in probes["health"]:
                    code = get(port, hpath)
                    if code != 200:
                        problems.append("%s: GET %s answered %d" % (eid, hpath, code))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    problems.append("did not stop within 40s of SIGTERM")
            if proc.returncode not in (0, None) and not problems:
                problems.append("exit code %d after SIGTERM" % proc.returncode)
            errf.seek(0)
            logtext = errf.read()
            errf.close()
            bad = [l for l in logtext.splitlines() if "[error]" in l]
            if bad:
                problems.append("errors logged: " + " | ".join(bad[:3]))
            if problems:
                log("---- %s: otelc's log\n%s" % (name, logtext))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return problems


def main():
    files = sorted(glob.glob(os.path.join(HERE, "*.yaml")))
    failed = 0
    if len(files) < 20:
        log("FAIL corpus: %d configs, at least 20 expected" % len(files))
        failed += 1
    for path in files:
        problems = check(path)
        log("%s %s%s" % ("FAIL" if problems else "ok  ", os.path.basename(path),
                         "".join("\n     - " + p for p in problems)))
        failed += bool(problems)
    log("%d passed, %d failed" % (len(files) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
