#!/usr/bin/env bash
# tail_sampling_e2e.sh - otelc's CPU per span and memory with the tail_sampling
# processor against forward-only (otlp receiver -> otlp exporter, no processor), at
# one fixed request rate: otlp_loadgen sends to otelc, which forwards to baseline_receive.
# CPU is otelc's utime+stime over the run (the decisions after the load
# included, and for both runs the same idle time after the load, decision_wait
# + 1 s); memory is its peak RSS (VmHWM).
# Usage: bench/tail_sampling_e2e.sh   (BUILD_DIR, RATE requests/s (0: as fast as
#        otelc takes them), DURATION s, WAIT decision_wait, ITEMS spans per request,
#        TRACES trace ids per request, WORKERS the pipeline's worker threads)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
RATE=${RATE:-200}
DURATION=${DURATION:-10}
WAIT=${WAIT:-10s}
ITEMS=${ITEMS:-100}
TRACES=${TRACES:-10}
WORKERS=${WORKERS:-1}
DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# cpu_ticks PID: utime + stime of PID, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # run NAME PROCESSORS_YAML PIPELINE_PROCESSORS
    local name=$1 procs=$2 list=$3 in out pid sink t0 t1 hz spans
    in=$(free_port)
    out=$(free_port)
    "$BUILD/bench/baseline/baseline_receive" --endpoint "127.0.0.1:$out" >"$DIR/sink.log" 2>&1 &
    sink=$!
    cat >"$DIR/$name.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$in
processors:
$procs
exporters:
  otlp:
    endpoint: 127.0.0.1:$out
    tls:
      insecure: true
    compression: none
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [$list]
      exporters: [otlp]
      workers: $WORKERS
EOF
    "$BUILD/otelc" --config "$DIR/$name.yaml" >"$DIR/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$in") 2>/dev/null && break
        sleep 0.1
    done
    t0=$(cpu_ticks "$pid")
    "$BUILD/bench/loadgen/otlp_loadgen" --endpoint "127.0.0.1:$in" --rate "$RATE" --duration "$DURATION" \
        --items "$ITEMS" --distinct-traces "$TRACES" --quiet >"$DIR/$name.load" 2>&1
    # the last traces' decision_wait, for both runs, so idle costs are alike
    sleep "${WAIT%s}"
    sleep 1
    t1=$(cpu_ticks "$pid")
    hz=$(getconf CLK_TCK)
    spans=$(( $(sed -n 's/^RESULT.* ok=\([0-9]*\) .*/\1/p' "$DIR/$name.load") * ITEMS ))
    printf '%-40s %8.0f ns CPU/span  peak RSS %6d MiB  (%s spans, %s spans/s accepted)\n' "$name" \
        "$(echo "($t1 - $t0) * 1000000000 / $hz / $spans" | bc -l)" \
        "$(( $(awk '/VmHWM/ {print $2}' "/proc/$pid/status") / 1024 ))" "$spans" \
        "$(sed -n 's/^RESULT.* items_per_s=\([0-9]*\) .*/\1/p' "$DIR/$name.load")"
    kill "$pid" "$sink"
    wait "$pid" "$sink" 2>/dev/null || true
}

echo "rate $RATE requests/s x $ITEMS spans ($TRACES traces per request) for $DURATION s; decision_wait $WAIT; $WORKERS pipeline workers"
run forward "  {}" ""
run tail_sampling "  tail_sampling:
    decision_wait: $WAIT
    num_traces: 1000000
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: slow, type: latency, latency: {threshold_ms: 5000}}
      - {name: some, type: probabilistic, probabilistic: {sampling_percentage: 10}}" "tail_sampling"
