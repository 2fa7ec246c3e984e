#!/usr/bin/env bash
# load_balancing_e2e.sh - the agent's CPU per span with the load_balancing
# exporter (routing_key traceID, static resolver, 3 backends) against a plain
# otlp exporter to one backend (pass-through), in one run: otlp_loadgen sends
# to otelc, which forwards to baseline_receive sinks. CPU is otelc's
# utime+stime over the run (and 1 s after it); memory its peak RSS (VmHWM).
# Usage: bench/load_balancing_e2e.sh   (BUILD_DIR, RATE requests/s (0: as fast
#        as otelc takes them), DURATION s, ITEMS spans per request, TRACES trace
#        ids per request, BACKENDS for load_balancing, BATCH=1: a batch processor
#        (send_batch_size 8192, 200ms) before the exporter in both)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
RATE=${RATE:-200}
DURATION=${DURATION:-10}
ITEMS=${ITEMS:-100}
TRACES=${TRACES:-10}
BACKENDS=${BACKENDS:-3}
BATCH=${BATCH:-0}
DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # run NAME N_SINKS EXPORTER_KIND
    local name=$1 n=$2 kind=$3 in pid t0 t1 hz spans exp hosts="" sinks=() procs=""
    [ "$BATCH" = 1 ] && procs=batch
    in=$(free_port)
    for _ in $(seq "$n"); do
        local out
        out=$(free_port)
        "$BUILD/bench/baseline/baseline_receive" --endpoint "127.0.0.1:$out" >>"$DIR/sink.log" 2>&1 &
        sinks+=($!)
        hosts="$hosts${hosts:+, }127.0.0.1:$out"
    done
    if [ "$kind" = otlp ]; then
        exp="  otlp:
    endpoint: $hosts
    tls:
      insecure: true
    compression: none"
    else
        exp="  loadbalancing:
    protocol:
      otlp:
        tls:
          insecure: true
        compression: none
    resolver:
      static:
        hostnames: [$hosts]"
    fi
    cat >"$DIR/$name.yaml" <<EOC
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$in
processors:
  batch:
    send_batch_size: 8192
    timeout: 200ms
exporters:
$exp
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [$procs]
      exporters: [$kind]
EOC
    "$BUILD/otelc" --config "$DIR/$name.yaml" >"$DIR/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$in") 2>/dev/null && break
        sleep 0.1
    done
    t0=$(cpu_ticks "$pid")
    "$BUILD/bench/loadgen/otlp_loadgen" --endpoint "127.0.0.1:$in" --rate "$RATE" --duration "$DURATION" \
        --items "$ITEMS" --distinct-traces "$TRACES" --quiet >"$DIR/$name.load" 2>&1
    sleep 1
    t1=$(cpu_ticks "$pid")
    hz=$(getconf CLK_TCK)
    spans=$(( $(sed -n 's/^RESULT.* ok=\([0-9]*\) .*/\1/p' "$DIR/$name.load") * ITEMS ))
    printf '%-36s %7.0f ns CPU/span  peak RSS %5d MiB  (%s spans, %s spans/s accepted)\n' "$name" \
        "$(echo "($t1 - $t0) * 1000000000 / $hz / $spans" | bc -l)" \
        "$(( $(awk '/VmHWM/ {print $2}' "/proc/$pid/status") / 1024 ))" "$spans" \
        "$(sed -n 's/^RESULT.* items_per_s=\([0-9]*\) .*/\1/p' "$DIR/$name.load")"
    kill "$pid" "${sinks[@]}"
    wait "$pid" "${sinks[@]}" 2>/dev/null || true
}

echo "rate $RATE requests/s x $ITEMS spans ($TRACES traces per request) for $DURATION s; batch processor: $BATCH"
run "otlp, 1 backend (pass-through)" 1 otlp
run "load_balancing, $BACKENDS backends" "$BACKENDS" loadbalancing
