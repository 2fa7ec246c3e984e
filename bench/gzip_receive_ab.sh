#!/usr/bin/env bash
# gzip_receive_ab.sh - what gzip-compressed requests cost otelc's OTLP/gRPC
# receiver, for two otelc binaries measured interleaved in one run (A = before,
# B = after): otlp receiver -> nop exporter, otlp_loadgen at a fixed request
# rate, plain then gzip, round after round. CPU = utime+stime of otelc over the
# load (/proc/PID/stat), per million spans answered OK; gzip's cost = gzip -
# plain of the same binary in the same round.
# With TOOL=callgrind each run is otelc under callgrind taking REQUESTS
# requests instead, and the figure is instructions per span over the whole
# process (start and stop cancel out in gzip - plain): repeatable on a busy host.
# Usage: bench/gzip_receive_ab.sh OTELC_A OTELC_B [OTLP_LOADGEN]
#        env: ROUNDS (5), DURATION (10 s), RATE (400 requests/s), ITEMS (100 spans),
#             TOOL (cpu | callgrind), REQUESTS (callgrind: 400, at 50 requests/s),
#             CONFIG_PLAIN and CONFIG_GZIP: other configs for the plain and gzip runs
#             (e.g. bench/run.sh's fullchain.yaml and fullchain-gzip.yaml), whose
#             receiver listens on ${env:OTELC_GRPC_ENDPOINT}; start their backend first
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail

A=${1:?usage: $0 OTELC_A OTELC_B [OTLP_LOADGEN]}
B=${2:?usage: $0 OTELC_A OTELC_B [OTLP_LOADGEN]}
SRC=$(cd "$(dirname "$0")/.." && pwd)
LOADGEN=${3:-$SRC/build/bench/loadgen/otlp_loadgen}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
RATE=${RATE:-400}
ITEMS=${ITEMS:-100}
TOOL=${TOOL:-cpu}
REQUESTS=${REQUESTS:-400}
DIR=$(mktemp -d /tmp/gzip_receive_ab.XXXXXX)
HZ=$(getconf CLK_TCK)
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$DIR/config.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$PORT
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
YAML

CONFIG_PLAIN=${CONFIG_PLAIN:-$DIR/config.yaml}
CONFIG_GZIP=${CONFIG_GZIP:-$DIR/config.yaml}
export OTELC_GRPC_ENDPOINT=127.0.0.1:$PORT

ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# run BIN MODE -> "cpu_s_per_million_spans ok_requests" (callgrind: instructions per span)
run() {
    local bin=$1 mode=$2 pid t0 t1 ok extra=() cfg=$CONFIG_PLAIN
    [ "$mode" = gzip ] && extra=(--gzip) && cfg=$CONFIG_GZIP
    if [ "$TOOL" = callgrind ]; then
        rm -f "$DIR/cg.out"
        valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" \
            "$bin" --config "$cfg" >"$DIR/otelc.log" 2>&1 &
        pid=$!
        for _ in $(seq 600); do
            (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
            sleep 0.1
        done
        "$LOADGEN" --endpoint "127.0.0.1:$PORT" --items "$ITEMS" --rate 50 --requests "$REQUESTS" \
            --timeout 60 --quiet "${extra[@]}" >"$DIR/loadgen.txt" 2>&1
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        ok=$(sed -n 's/^RESULT .* ok=\([0-9]*\) .*/\1/p' "$DIR/loadgen.txt")
        awk -v ok="$ok" -v n="$ITEMS" '/^totals:/ {printf "%.0f %d\n", $2 / (ok * n), ok}' "$DIR/cg.out"
        return
    fi
    "$bin" --config "$cfg" >"$DIR/otelc.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.05
    done
    sleep 0.5
    t0=$(ticks "$pid")
    "$LOADGEN" --endpoint "127.0.0.1:$PORT" --items "$ITEMS" --rate "$RATE" \
        --duration "$DURATION" --quiet "${extra[@]}" >"$DIR/loadgen.txt" 2>&1
    sleep 0.3
    t1=$(ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    ok=$(sed -n 's/^RESULT .* ok=\([0-9]*\) .*/\1/p' "$DIR/loadgen.txt")
    awk -v d=$((t1 - t0)) -v hz="$HZ" -v ok="$ok" -v n="$ITEMS" \
        'BEGIN {printf "%.3f %d\n", d / hz / (ok * n / 1e6), ok}'
}

echo "A=$A"
echo "B=$B"
DIGITS=3
if [ "$TOOL" = callgrind ]; then
    DIGITS=0
    echo "callgrind, $REQUESTS requests x $ITEMS spans per run, $ROUNDS rounds; instructions per span"
else
    echo "rate $RATE requests/s x $ITEMS spans, $DURATION s per run, $ROUNDS rounds; CPU-s per M spans"
fi
printf '%-6s %9s %9s %9s %9s %9s %9s %9s\n' round A.plain A.gzip B.plain B.gzip A.gz-add B.gz-add B/A
for r in $(seq "$ROUNDS"); do
    read -r ap _ < <(run "$A" plain)
    read -r ag _ < <(run "$A" gzip)
    read -r bp _ < <(run "$B" plain)
    read -r bg _ < <(run "$B" gzip)
    awk -v r="$r" -v ap="$ap" -v ag="$ag" -v bp="$bp" -v bg="$bg" -v d="$DIGITS" 'BEGIN {
        f = "%9." d "f "
        printf "%-6s " f f f f f f "%9.2f\n", r, ap, ag, bp, bg, ag - ap,
               bg - bp, ((ag - ap) > 0 ? (bg - bp) / (ag - ap) : 0) }'
done
rm -rf "$DIR"
