# test_deploy.py: the Kubernetes manifests in deploy/ are consistent with each
# other and with otelc: every manifest parses, the kustomization lists them all,
# every container port matches the Service and the generated ConfigMap's
# pipeline.yaml, that config passes `otelc validate`, the probes hit the
# health_check extension, the grace period exceeds service.shutdown_timeout,
# memory_limiter fits the container limit, the pod runs as non-root with a
# read-only root filesystem and no service-account token, listeners bind the pod
# IP, the HPA alone sets the replica count, pods spread over nodes, and a
# changed config rolls the pods. `kubectl kustomize` renders the kustomization
# offline when kubectl is installed; `kubectl apply --dry-run=client` needs an
# API server. deploy/two-tier (agents with load_balancing, a sampling tier
# with tail_sampling behind a headless Service) is checked the same way.
# SPDX-License-Identifier: Apache-2.0
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml  # python3-yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_harness as h  # noqa: E402

DEPLOY = os.path.join(h.SOURCE_DIR, "deploy")


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def port_of(endpoint):
    m = re.match(r"^\[?[^\]]*\]?:(\d+)$", str(endpoint))
    return int(m.group(1)) if m else None


def host_of(endpoint):
    return str(endpoint).rsplit(":", 1)[0]


def duration_s(text):
    m = re.match(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$", str(text))
    if not m:
        raise ValueError("not a duration: %r" % text)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def mib(quantity):
    m = re.match(r"^(\d+)(Mi|Gi|M|G)$", str(quantity))
    if not m:
        raise ValueError("memory quantity %r" % quantity)
    n, u = int(m.group(1)), m.group(2)
    return {"Mi": n, "Gi": n * 1024, "M": n * 1e6 / 2 ** 20, "G": n * 1e9 / 2 ** 20}[u]


def config_name(rendered):
    return [d for d in rendered if d["kind"] == "ConfigMap"][0]["metadata"]["name"]


def config_ref(rendered):
    dep = [d for d in rendered if d["kind"] == "Deployment"][0]
    return [v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"][0][
        "configMap"]["name"]


def build_packages():
    """The package list install-deps.sh installs without --test."""
    with open(os.path.join(DEPLOY, "install-deps.sh")) as f:
        m = re.search(r'^BUILD_PKGS="([^"]*)"', f.read(), re.M | re.S)
    return set(m.group(1).replace("\\\n", " ").split()) if m else set()


def check_build_packages(t):
    """The README's first command runs install-deps.sh without --test, then the
    default configure: every pkg-config module and program that configure
    requires must come from a package on that list (a fresh machine has no
    other)."""
    pkgs = build_packages()
    t.check(pkgs, "install-deps.sh has a BUILD_PKGS list")
    modules, programs = set(), set()
    for root, dirs, fs in os.walk(h.SOURCE_DIR):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build")) and d not in ("fuzz", "node_modules")]
        if "CMakeLists.txt" not in fs:
            continue
        with open(os.path.join(root, "CMakeLists.txt")) as f:
            text = f.read()
        for args in re.findall(r"pkg_check_modules\(([^)]*)\)", text):
            words = args.split()
            if "REQUIRED" in words:
                modules.update(w for w in words[1:] if w not in ("REQUIRED", "IMPORTED_TARGET", "QUIET"))
        programs.update(re.findall(r"find_program\(\s*\w+\s+(\S+)\s+REQUIRED", text))
    t.check("cmocka" in modules, "the scan finds the test framework among the required modules")
    if not shutil.which("dpkg-query"):
        h.log("skip - not a Debian system: package ownership not checked")
        return
    owners = {}
    for mod in sorted(modules):
        r = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True, text=True)
        pc = os.path.join(r.stdout.strip(), mod + ".pc")
        owners[mod] = pc
    for prog in sorted(programs):
        owners[prog] = shutil.which(prog) or prog
    for what, path in sorted(owners.items()):
        r = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True)
        if r.returncode != 0:
            r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        pkg = r.stdout.split(":", 1)[0].strip() if r.returncode == 0 else None
        t.check(pkg in pkgs, "configure needs %s (package %s): install-deps.sh installs it without --test"
                % (what, pkg))


def main(t):
    kust_path = os.path.join(DEPLOY, "kustomization.yaml")
    t.check(os.path.exists(kust_path), "deploy/kustomization.yaml exists")
    kust = load_all(kust_path)[0]
    listed = kust.get("resources", [])
    manifests = sorted(os.path.relpath(os.path.join(r, f), DEPLOY)
                       for r, _d, fs in os.walk(os.path.join(DEPLOY, "k8s"))
                       for f in fs if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml")
    t.eq(sorted(listed), manifests, "the kustomization lists every manifest under deploy/k8s")
    k8s_kust = load_all(os.path.join(DEPLOY, "k8s", "kustomization.yaml"))[0]
    t.eq(sorted(os.path.join("k8s", r) for r in k8s_kust.get("resources", [])), manifests,
         "deploy/k8s/kustomization.yaml (the base of deploy/two-tier) lists the same manifests")

    docs = {}
    for rel in manifests:
        try:
            for d in load_all(os.path.join(DEPLOY, rel)):
                docs.setdefault(d["kind"], []).append(d)
            t.check(True, "%s parses" % rel)
        except Exception as e:  # a parse error is a failed check, not a crash
            t.check(False, "%s parses" % rel, repr(e))
    for kind in ("Namespace", "Deployment", "Service", "HorizontalPodAutoscaler",
                 "PodDisruptionBudget"):
        t.eq(len(docs.get(kind, [])), 1, "exactly one %s" % kind)
    ns = docs["Namespace"][0]["metadata"]["name"]
    t.eq(kust.get("namespace"), ns, "kustomization namespace is the Namespace's")
    for kind, objs in docs.items():
        if kind != "Namespace":
            t.eq(objs[0]["metadata"].get("namespace", ns), ns, "%s is in namespace %s" % (kind, ns))

    dep, svc = docs["Deployment"][0], docs["Service"][0]
    gens = kust.get("configMapGenerator", [])
    t.eq(len(gens), 1, "the config ConfigMap is generated by the kustomization (its name hashes "
         "the content, so a changed config rolls the pods)")
    gen = gens[0] if gens else {"name": None, "files": []}
    files = dict(f.split("=", 1) if "=" in f else (os.path.basename(f), f) for f in gen.get("files", []))
    t.check("pipeline.yaml" in files, "the generated ConfigMap holds pipeline.yaml")
    hpa, pdb = docs["HorizontalPodAutoscaler"][0], docs["PodDisruptionBudget"][0]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    t.eq(len(pod["containers"]), 1, "one container")
    ctr = pod["containers"][0]
    t.check("replicas" not in spec, "the Deployment sets no replicas: the HPA owns the count "
            "(a fixed count would reset it on every `kubectl apply`)")
    roll = spec.get("strategy", {}).get("rollingUpdate", {})
    t.eq(roll.get("maxUnavailable"), 0, "a rollout never goes below the ready pods")
    t.eq(pod.get("automountServiceAccountToken"), False, "no service-account token is mounted")
    spread = pod.get("topologySpreadConstraints", [])
    t.check(any(c.get("topologyKey") == "kubernetes.io/hostname" and
                c.get("labelSelector", {}).get("matchLabels") == spec["selector"]["matchLabels"]
                for c in spread), "pods spread over nodes")
    t.eq(spec["selector"]["matchLabels"], svc["spec"]["selector"], "Service selects the Deployment's pods")
    labels = spec["template"]["metadata"]["labels"]
    t.check(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()),
            "pod labels match the Deployment selector")
    t.check(all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items()),
            "PDB selects the pods")
    t.eq(hpa["spec"]["scaleTargetRef"]["name"], dep["metadata"]["name"], "HPA targets the Deployment")
    t.check(hpa["spec"]["minReplicas"] >= 2, "HPA keeps at least the 2 replicas")

    # ---- the config in the generated ConfigMap
    with open(os.path.join(DEPLOY, files.get("pipeline.yaml", "config/pipeline.yaml"))) as f:
        cfg_text = f.read()
    cfg = yaml.safe_load(cfg_text)
    path = h.write_config(cfg_text, "configmap-pipeline.yaml")
    r = h.run_otelc(["validate", "--config", path], env={"MY_POD_IP": "127.0.0.1"})
    t.check(r.returncode == 0, "the ConfigMap's pipeline.yaml passes `otelc validate`",
            r.stdout + r.stderr)
    mount = [m for m in ctr["volumeMounts"] if m["name"] == "config"]
    vol = [v for v in pod["volumes"] if v["name"] == "config"]
    t.check(mount and vol and vol[0]["configMap"]["name"] == gen["name"],
            "the ConfigMap is mounted")
    pod_ip = [e for e in ctr.get("env", []) if e["name"] == "MY_POD_IP"]
    t.check(pod_ip and pod_ip[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") ==
            "status.podIP", "MY_POD_IP is the pod's IP")
    args = ctr.get("args", [])
    cfg_path = args[args.index("--config") + 1] if "--config" in args else "/etc/otelc/pipeline.yaml"
    t.eq(cfg_path, os.path.join(mount[0]["mountPath"], "pipeline.yaml") if mount else None,
         "--config points at the mounted pipeline.yaml")

    protocols = cfg["receivers"]["otlp"]["protocols"]
    health = cfg["extensions"]["health_check"]
    readers = cfg["service"]["telemetry"]["metrics"]["readers"]
    prom = readers[0]["pull"]["exporter"]["prometheus"]
    cfg_endpoints = {
        "otlp-grpc": protocols["grpc"]["endpoint"],
        "otlp-http": protocols["http"]["endpoint"],
        "metrics": "%s:%s" % (prom["host"], prom["port"]),
        "health": health["endpoint"],
    }
    for name, ep in cfg_endpoints.items():
        t.eq(host_of(ep), "${env:MY_POD_IP}", "config binds %s on the pod IP" % name)
    cfg_ports = sorted(port_of(ep) for ep in cfg_endpoints.values())
    t.eq(cfg_ports, [4317, 4318, 8888, 13133], "config ports")
    t.check("health_check" in cfg["service"].get("extensions", []), "health_check is enabled in service")

    ctr_ports = sorted(p["containerPort"] for p in ctr["ports"])
    t.eq(ctr_ports, cfg_ports, "Deployment container ports = config ports")
    svc_targets = sorted(int(p.get("targetPort", p["port"])) for p in svc["spec"]["ports"])
    t.eq(svc_targets, ctr_ports, "Service target ports = Deployment ports")
    by_name = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    for p in svc["spec"]["ports"]:
        t.eq(by_name.get(p["name"]), int(p.get("targetPort", p["port"])),
             "Service port %s targets the container port of the same name" % p["name"])
        t.eq(p["port"], int(p.get("targetPort", p["port"])), "Service port %s keeps the number" % p["name"])

    # ---- probes on the health check
    hport, hpath = port_of(health["endpoint"]), health.get("path", "/")
    for probe in ("readinessProbe", "livenessProbe"):
        pr = ctr.get(probe, {}).get("httpGet", {})
        port = pr.get("port")
        if isinstance(port, str):
            port = by_name.get(port)
        t.eq((port, pr.get("path")), (hport, hpath), "%s hits the health check" % probe)

    # ---- shutdown and resources
    grace = pod.get("terminationGracePeriodSeconds", 30)
    drain = duration_s(cfg["service"].get("shutdown_timeout", "25s"))
    t.check(grace > drain, "terminationGracePeriodSeconds %s exceeds shutdown_timeout %ss" % (grace, drain))
    res = ctr.get("resources", {})
    for k in ("cpu", "memory"):
        t.check(k in res.get("requests", {}) and k in res.get("limits", {}), "%s request and limit set" % k)
    limit = mib(res["limits"]["memory"])
    ml = cfg["processors"]["memory_limiter"]
    lim, spike = ml["limit_mib"], ml.get("spike_limit_mib", ml["limit_mib"] // 5)
    t.check(0.6 * limit <= lim < limit, "memory_limiter limit_mib %d fits the %d MiB container limit"
            % (lim, limit))
    t.check(lim + spike <= limit, "limit_mib + spike_limit_mib (%d) stays within the container limit"
            % (lim + spike))
    for name in cfg["service"]["pipelines"]:
        procs = cfg["service"]["pipelines"][name].get("processors", [])
        t.check(procs[:1] == ["memory_limiter"], "pipeline %s starts with memory_limiter" % name)

    # ---- security context
    psc, csc = pod.get("securityContext", {}), ctr.get("securityContext", {})
    t.check(psc.get("runAsNonRoot") is True or csc.get("runAsNonRoot") is True, "runAsNonRoot")
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    t.check(uid is not None and uid != 0, "runs as a non-zero uid (%r)" % uid)
    t.check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    t.check(csc.get("allowPrivilegeEscalation") is False, "no privilege escalation")

    # ---- the Dockerfile agrees
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        df = f.read()
    t.check(len(re.findall(r"^FROM\s+debian:12", df, re.M)) >= 2, "Dockerfile: multi-stage on debian:12")
    t.check(re.search(r"^USER\s+(?!0\b|root\b)\S+", df, re.M), "Dockerfile: non-root USER")
    t.check(re.search(r'^ENTRYPOINT \["/usr/local/bin/otelc"\]$', df, re.M),
            "Dockerfile: ENTRYPOINT is the binary alone (arguments can be replaced)")
    t.check('CMD ["--config", "/etc/otelc/pipeline.yaml"]' in df,
            "Dockerfile: CMD --config /etc/otelc/pipeline.yaml")
    t.check("install-deps.sh" in df, "Dockerfile: build stage uses deploy/install-deps.sh")
    r = subprocess.run(["sh", "-n", os.path.join(DEPLOY, "install-deps.sh")], capture_output=True, text=True)
    t.eq(r.returncode, 0, "install-deps.sh is valid sh")
    check_build_packages(t)

    # ---- offline tools
    kubectl = shutil.which("kubectl")
    if not kubectl:
        h.log("skip - kubectl is not installed: `kubectl kustomize` and "
              "`kubectl apply --dry-run=client` checks not run")
        return
    r = subprocess.run([kubectl, "kustomize", DEPLOY], capture_output=True, text=True, timeout=60)
    t.check(r.returncode == 0, "`kubectl kustomize deploy/` renders", r.stderr)
    if r.returncode == 0:
        rendered = [d for d in yaml.safe_load_all(r.stdout) if d]
        t.eq(sorted(d["kind"] for d in rendered),
             sorted(["Namespace", "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget"]), "kustomize output has every object")
        t.check(all(d["metadata"].get("namespace", ns) == ns for d in rendered),
                "kustomize puts everything in %s" % ns)
        t.eq(config_ref(rendered), config_name(rendered), "the Deployment mounts the generated ConfigMap")
        t.check(config_name(rendered) != gen["name"], "the ConfigMap's name carries a content hash")
        # The same kustomization with one setting changed: a new name, so the pods roll.
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "deploy")
            shutil.copytree(DEPLOY, copy)
            cfg_copy = os.path.join(copy, files["pipeline.yaml"])
            with open(cfg_copy, "w") as f:
                f.write(cfg_text.replace("level: info", "level: debug"))
            r2 = subprocess.run([kubectl, "kustomize", copy], capture_output=True, text=True, timeout=60)
            t.check(r2.returncode == 0, "the changed kustomization renders", r2.stderr)
            if r2.returncode == 0:
                changed = [d for d in yaml.safe_load_all(r2.stdout) if d]
                t.check(cfg_text != open(cfg_copy).read(), "the copy's config differs")
                t.check(config_name(changed) != config_name(rendered) and
                        config_ref(changed) == config_name(changed),
                        "a changed config gives the Deployment a new ConfigMap name (a rollout)")
    r = subprocess.run([kubectl, "apply", "--dry-run=client", "-k", DEPLOY, "--request-timeout=5s"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, KUBECONFIG=os.devnull))
    if r.returncode == 0:
        t.check(True, "`kubectl apply --dry-run=client -k deploy/` accepts the manifests")
    elif re.search(r"connection refused|openapi|unable to recognize|no configuration", r.stderr):
        h.log("skip - `kubectl apply --dry-run=client` needs an API server (none here): %s"
              % r.stderr.strip().splitlines()[-1][:200])
    else:
        t.check(False, "`kubectl apply --dry-run=client -k deploy/`", r.stderr[-2000:])


TWO_TIER = os.path.join(DEPLOY, "two-tier")


def check_two_tier(t):
    """deploy/two-tier: agents (deploy/k8s) with the load_balancing exporter and
    the dns resolver on the headless Service of a StatefulSet running
    tail_sampling. The manifests and both configs agree with each other."""
    kust = load_all(os.path.join(TWO_TIER, "kustomization.yaml"))[0]
    t.check("../k8s" in kust.get("resources", []), "two-tier: the agents are deploy/k8s's manifests")
    gens = {g["name"]: dict(f.split("=", 1) for f in g["files"]) for g in kust.get("configMapGenerator", [])}
    t.eq(sorted(gens), ["otelc-config", "otelc-sampling-config"], "two-tier: one config per tier")
    docs = {}
    for rel in kust["resources"]:
        if rel.endswith(".yaml"):
            for d in load_all(os.path.join(TWO_TIER, rel)):
                docs.setdefault(d["kind"], []).append(d)
    sts, svc = docs["StatefulSet"][0], docs["Service"][0]
    t.eq(svc["spec"].get("clusterIP"), "None", "two-tier: the sampling Service is headless")
    t.eq(sts["spec"]["serviceName"], svc["metadata"]["name"], "two-tier: the StatefulSet's serviceName "
         "is the headless Service")
    t.eq(svc["spec"]["selector"], sts["spec"]["selector"]["matchLabels"],
         "two-tier: the headless Service selects the sampling pods")
    pdb = docs["PodDisruptionBudget"][0]
    t.eq(pdb["spec"]["selector"]["matchLabels"], sts["spec"]["selector"]["matchLabels"],
         "two-tier: the sampling PDB selects the sampling pods")
    pod = sts["spec"]["template"]["spec"]
    ctr = pod["containers"][0]
    by_name = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    vol = [v for v in pod["volumes"] if v["name"] == "config"][0]
    t.eq(vol["configMap"]["name"], "otelc-sampling-config", "two-tier: the sampling pods mount their config")

    cfgs = {}
    for gen, files in gens.items():
        with open(os.path.join(TWO_TIER, files["pipeline.yaml"])) as f:
            text = f.read()
        cfgs[gen] = yaml.safe_load(text)
        r = h.run_otelc(["validate", "--config", h.write_config(text, "two-tier-%s.yaml" % gen)],
                        env={"MY_POD_IP": "127.0.0.1"})
        t.check(r.returncode == 0, "two-tier: %s passes `otelc validate`" % files["pipeline.yaml"],
                r.stdout + r.stderr)
    agent, sampling = cfgs["otelc-config"], cfgs["otelc-sampling-config"]
    lbs = [v for k, v in agent["exporters"].items() if k.split("/")[0] in ("loadbalancing", "load_balancing")]
    t.eq(len(lbs), 1, "two-tier: the agents have one load_balancing exporter")
    lb = lbs[0]
    dns = lb["resolver"]["dns"]
    ns = load_all(os.path.join(DEPLOY, "k8s", "namespace.yaml"))[0]["metadata"]["name"]
    t.eq(dns["hostname"], "%s.%s.svc.cluster.local" % (svc["metadata"]["name"], ns),
         "two-tier: the dns resolver reads the headless Service's name")
    grpc_port = port_of(sampling["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])
    t.eq(int(dns.get("port", 4317)), grpc_port, "two-tier: the resolver's port is the sampling tier's OTLP/gRPC port")
    t.eq(by_name.get("otlp-grpc"), grpc_port, "two-tier: the sampling container exposes that port")
    t.check(any(p["port"] == grpc_port and p["name"] == "otlp-grpc" for p in svc["spec"]["ports"]),
            "two-tier: the headless Service lists that port")
    lb_pipes = [n for n, p in agent["service"]["pipelines"].items()
                if any(e.split("/")[0] in ("loadbalancing", "load_balancing") for e in p["exporters"])]
    t.check(lb_pipes and all(n.startswith("traces") for n in lb_pipes),
            "two-tier: the agents' traces go through load_balancing (%s)" % lb_pipes)
    procs = sampling["service"]["pipelines"]["traces"]["processors"]
    t.check("tail_sampling" in procs and procs[0] == "memory_limiter",
            "two-tier: the sampling tier's traces pipeline runs memory_limiter first, then tail_sampling")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    t.check(grace > duration_s(sampling["service"].get("shutdown_timeout", "25s")),
            "two-tier: the sampling pods' grace period exceeds shutdown_timeout")
    limit = mib(ctr["resources"]["limits"]["memory"])
    ml = sampling["processors"]["memory_limiter"]
    t.check(ml["limit_mib"] + ml.get("spike_limit_mib", 0) <= limit,
            "two-tier: the sampling tier's memory_limiter fits its container limit")

    kubectl = shutil.which("kubectl")
    if not kubectl:
        h.log("skip - kubectl is not installed: `kubectl kustomize deploy/two-tier` not run")
        return
    r = subprocess.run([kubectl, "kustomize", TWO_TIER], capture_output=True, text=True, timeout=60)
    t.check(r.returncode == 0, "`kubectl kustomize deploy/two-tier` renders", r.stderr)
    if r.returncode != 0:
        return
    rendered = [d for d in yaml.safe_load_all(r.stdout) if d]
    t.eq(sorted(d["kind"] for d in rendered),
         sorted(["Namespace", "ConfigMap", "ConfigMap", "Deployment", "StatefulSet", "Service", "Service",
                 "HorizontalPodAutoscaler", "PodDisruptionBudget", "PodDisruptionBudget"]),
         "two-tier: kustomize output has both tiers")
    t.check(all(d["metadata"].get("namespace", ns) == ns for d in rendered),
            "two-tier: kustomize puts everything in %s" % ns)
    cms = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "ConfigMap"}
    dep = [d for d in rendered if d["kind"] == "Deployment"][0]
    st = [d for d in rendered if d["kind"] == "StatefulSet"][0]

    def mounted(o):
        return [v for v in o["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"][0][
            "configMap"]["name"]
    t.check(mounted(dep) in cms and "loadbalancing" in cms[mounted(dep)]["data"]["pipeline.yaml"],
            "two-tier: the agents mount the generated config with load_balancing")
    t.check(mounted(st) in cms and "tail_sampling" in cms[mounted(st)]["data"]["pipeline.yaml"],
            "two-tier: the sampling pods mount the generated config with tail_sampling")
    t.check(mounted(dep) != "otelc-config" and mounted(st) != "otelc-sampling-config",
            "two-tier: both ConfigMap names carry a content hash")


def main_all(t):
    main(t)
    check_two_tier(t)


if __name__ == "__main__":
    h.run_test(main_all, timeout=120)
