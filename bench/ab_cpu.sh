#!/usr/bin/env bash
# ab_cpu.sh - CPU per item of two otelc binaries (A = before, B = after) on one
# config at a fixed request rate, interleaved round after round with the
# forward-only baseline in each round: otlp_loadgen -> server -> baseline_receive.
# CPU = utime+stime of the server over the load (/proc/PID/stat), per million
# items answered OK; voluntary context switches of all its threads per request.
# With TOOL=callgrind each run is otelc under callgrind taking REQUESTS requests
# (40 requests/s, 8 in flight) and the figure is instructions per item over the
# whole process, less a run of the same binary taking one request (start, idle
# ticks and stop): repeatable on a busy host. No forward-only column then.
# Usage: bench/ab_cpu.sh OTELC_A OTELC_B CONFIG [BENCH_BUILD_DIR]
#        CONFIG's receiver listens on ${env:OTELC_GRPC_ENDPOINT} and its exporter
#        sends to ${env:OTLP_BACKEND} (bench/run.sh's passthrough-*.yaml and
#        fullchain.yaml do).
#        env: ROUNDS (3), DURATION (10 s), RATE (2000 requests/s), SIGNAL (traces),
#             CONCURRENCY (32), ITEMS (100), TOOL (cpu | callgrind), REQUESTS (400)
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail

A=${1:?usage: $0 OTELC_A OTELC_B CONFIG [BENCH_BUILD_DIR]}
B=${2:?usage: $0 OTELC_A OTELC_B CONFIG [BENCH_BUILD_DIR]}
CONFIG=${3:?usage: $0 OTELC_A OTELC_B CONFIG [BENCH_BUILD_DIR]}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${4:-$SRC/build-bench}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
RATE=${RATE:-2000}
SIGNAL=${SIGNAL:-traces}
CONCURRENCY=${CONCURRENCY:-32}
ITEMS=${ITEMS:-100}
LOADGEN=$BUILD/bench/loadgen/otlp_loadgen
RECV=$BUILD/bench/baseline/baseline_receive
FWD=$BUILD/bench/baseline/baseline_forward
DIR=$(mktemp -d /tmp/ab_cpu.XXXXXX)
HZ=$(getconf CLK_TCK)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SINK_PORT=$(free_port)
PORT=$(free_port)
export OTELC_GRPC_ENDPOINT=127.0.0.1:$PORT OTLP_BACKEND=127.0.0.1:$SINK_PORT OTELC_EXPORTER=otlp

"$RECV" --endpoint "127.0.0.1:$SINK_PORT" >/dev/null 2>&1 &
SINK=$!
trap 'kill $SINK 2>/dev/null; rm -rf "$DIR"' EXIT

ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }

# run forward|BIN -> "cpu_s_per_million_items switches_per_request ok_requests"
run() {
    local pid t0 t1 s0 s1 ok
    if [ "$1" = forward ]; then
        "$FWD" --endpoint "127.0.0.1:$PORT" --downstream "127.0.0.1:$SINK_PORT" 2>/dev/null &
    else
        "$1" --config "$CONFIG" >"$DIR/otelc.log" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.05
    done
    sleep 1
    t0=$(ticks "$pid")
    s0=$(switches "$pid")
    "$LOADGEN" --endpoint "127.0.0.1:$PORT" --signal "$SIGNAL" --items "$ITEMS" \
        --concurrency "$CONCURRENCY" --rate "$RATE" --duration "$DURATION" --quiet \
        >"$DIR/loadgen.txt" 2>&1
    sleep 0.5
    t1=$(ticks "$pid")
    s1=$(switches "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    ok=$(sed -n 's/^RESULT .* ok=\([0-9]*\) .*/\1/p' "$DIR/loadgen.txt")
    awk -v d=$((t1 - t0)) -v hz="$HZ" -v ok="$ok" -v n="$ITEMS" -v s=$((s1 - s0)) \
        'BEGIN {printf "%.3f %.2f %d\n", d / hz / (ok * n / 1e6), s / ok, ok}'
}

# callgrind BIN REQUESTS -> instructions of the whole process
callgrind() {
    local pid
    valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" "$1" --config "$CONFIG" \
        >"$DIR/otelc.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.1
    done
    "$LOADGEN" --endpoint "127.0.0.1:$PORT" --signal "$SIGNAL" --items "$ITEMS" \
        --concurrency 8 --rate 40 --requests "$2" --quiet >"$DIR/loadgen.txt" 2>&1
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    grep -q " ok=$2 " "$DIR/loadgen.txt" || { echo "not all $2 requests answered OK" >&2; exit 1; }
    sed -n 's/^summary: *//p' "$DIR/cg.out"
}

echo "A=$A"
echo "B=$B"
if [ "${TOOL:-cpu}" = callgrind ]; then
    REQUESTS=${REQUESTS:-400}
    echo "config $CONFIG, $SIGNAL, $REQUESTS requests x $ITEMS items under callgrind;" \
         "instructions per item (whole process, less a run taking one request)"
    printf '%-6s %12s %12s %8s\n' round A B B/A
    for r in $(seq "$ROUNDS"); do
        a=$(( $(callgrind "$A" "$REQUESTS") - $(callgrind "$A" 1) ))
        b=$(( $(callgrind "$B" "$REQUESTS") - $(callgrind "$B" 1) ))
        awk -v r="$r" -v a="$a" -v b="$b" -v n=$(( (REQUESTS - 1) * ITEMS )) \
            'BEGIN {printf "%-6s %12.0f %12.0f %8.3f\n", r, a / n, b / n, b / a}'
    done
    exit 0
fi
echo "config $CONFIG, $SIGNAL, rate $RATE requests/s x $ITEMS items, $CONCURRENCY in flight," \
     "$DURATION s per run, $ROUNDS rounds; CPU-s per M items (context switches per request)"
printf '%-6s %16s %16s %16s %8s %8s %8s\n' round forward A B A/fwd B/fwd B/A
for r in $(seq "$ROUNDS"); do
    read -r f fs fo < <(run forward)
    read -r a as ao < <(run "$A")
    read -r b bs bo < <(run "$B")
    awk -v r="$r" -v f="$f" -v a="$a" -v b="$b" -v fs="$fs" -v as="$as" -v bs="$bs" \
        -v fo="$fo" -v ao="$ao" -v bo="$bo" -v want=$((RATE * DURATION)) 'BEGIN {
        short = (fo < 0.95 * want || ao < 0.95 * want || bo < 0.95 * want) ? "  (a run fell short of the rate)" : ""
        printf "%-6s %8.3f (%5.2f) %8.3f (%5.2f) %8.3f (%5.2f) %8.2f %8.2f %8.2f%s\n",
               r, f, fs, a, as, b, bs, a / f, b / f, b / a, short }'
done
