#!/usr/bin/env bash
# pq_bench.sh - the persistent queue's cost: the same fixed-rate OTLP/gRPC
# load (otlp_loadgen --rate) through otelc with the in-memory sending queue
# and with sending_queue.storage (file_storage: fsync on; fsync off; fsync on
# with compression: zstd), to
# the receive-only baseline sink, in one run. Rounds alternate the setups so
# that a busy machine weighs on each alike; the figure is otelc's CPU seconds
# (utime + stime from /proc) per million items delivered, and the ratio to
# the in-memory queue (median over the rounds). Writes the "Persistent queue"
# section of bench/RESULTS.md.
# Usage: bench/pq_bench.sh   (environment overrides: see the defaults below)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build-bench}
DURATION=${DURATION:-10}       # seconds of each load run
RATE=${RATE:-200}              # requests per second (fixed)
ITEMS=${ITEMS:-100}            # spans per request
CONCURRENCY=${CONCURRENCY:-8}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-memory fsync nofsync zstd} # memory first: the ratios are to it
JOBS=${JOBS:-2}
RESULTS=${RESULTS:-$SRC/bench/RESULTS.md}
RUN_DIR=${RUN_DIR:-$BUILD/pq-run-$(date +%Y%m%d-%H%M%S)}

T0=$(date +%s)
log() { printf '[pq_bench.sh %4ds] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

log "building otelc, otlp_loadgen, baseline_receive (Release) in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DOTC_BUILD_TESTS=OFF \
    -DOTC_BUILD_BENCH=ON >"$BUILD.cmake.log" 2>&1 || die "cmake failed, see $BUILD.cmake.log"
cmake --build "$BUILD" -j"$JOBS" --target otelc otlp_loadgen baseline_receive \
    >>"$BUILD.cmake.log" 2>&1 || die "build failed, see $BUILD.cmake.log"
OTELC=$BUILD/otelc
LOADGEN=$BUILD/bench/loadgen/otlp_loadgen
RECV=$BUILD/bench/baseline/baseline_receive
mkdir -p "$RUN_DIR"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # port pid
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
result_field() {
    awk -v k="$2" '/^RESULT /{for (i = 2; i <= NF; i++) {split($i, a, "="); if (a[1] == k) print a[2]}}' "$1" | tail -1
}
CLK_TCK=$(getconf CLK_TCK)

SINK_PORT=$(free_port)
"$RECV" --endpoint "127.0.0.1:$SINK_PORT" --stats "$RUN_DIR/sink.stats" 2>"$RUN_DIR/sink.log" &
SINK_PID=$!
PIDS+=("$SINK_PID")
wait_port "$SINK_PORT" "$SINK_PID" || die "the sink did not start"

config() { # port mode qdir -> yaml (mode: memory | fsync | nofsync | zstd)
    local port=$1 mode=$2 qdir=$3
    cat <<EOF
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$port
EOF
    if [ "$mode" != memory ]; then
        cat <<EOF
extensions:
  file_storage/q:
    directory: $qdir
    fsync: $([ "$mode" = nofsync ] && echo false || echo true)
    compression: $([ "$mode" = zstd ] && echo zstd || echo none)
EOF
    fi
    cat <<EOF
exporters:
  otlp:
    endpoint: 127.0.0.1:$SINK_PORT
    tls:
      insecure: true
    compression: none
EOF
    if [ "$mode" != memory ]; then
        printf '    sending_queue:\n      storage: file_storage/q\n'
    fi
    printf 'service:\n  telemetry:\n    metrics:\n      level: none\n'
    [ "$mode" != memory ] && printf '  extensions: [file_storage/q]\n'
    printf '  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n'
}

ROWS=$RUN_DIR/rows.txt
: >"$ROWS"
run_one() { # round mode
    local round=$1 mode=$2 port pid c0 c1 items cpu
    port=$(free_port)
    config "$port" "$mode" "$RUN_DIR/queue-$mode-$round" >"$RUN_DIR/$mode-$round.yaml"
    "$OTELC" --config "$RUN_DIR/$mode-$round.yaml" 2>"$RUN_DIR/$mode-$round.log" &
    pid=$!
    PIDS+=("$pid")
    wait_port "$port" "$pid" || die "otelc ($mode) did not start, see $RUN_DIR/$mode-$round.log"
    sleep 1
    c0=$(cpu_ticks "$pid")
    "$LOADGEN" --endpoint "127.0.0.1:$port" --items "$ITEMS" --concurrency "$CONCURRENCY" \
        --rate "$RATE" --duration "$DURATION" --quiet >"$RUN_DIR/$mode-$round.txt" 2>&1 || true
    sleep 1 # what is still queued leaves
    c1=$(cpu_ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    items=$(( $(result_field "$RUN_DIR/$mode-$round.txt" ok) * ITEMS ))
    [ "$items" -gt 0 ] || die "$mode: nothing was sent, see $RUN_DIR/$mode-$round.txt"
    cpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" -v n="$items" 'BEGIN {printf "%.3f", (b - a) / t / (n / 1e6)}')
    log "round $round $mode: $items items, $cpu CPU-s per M items, p99 $(result_field "$RUN_DIR/$mode-$round.txt" p99_ms) ms, errors $(result_field "$RUN_DIR/$mode-$round.txt" errors)"
    echo "$round $mode $cpu $(result_field "$RUN_DIR/$mode-$round.txt" p50_ms) $(result_field "$RUN_DIR/$mode-$round.txt" p99_ms) $(result_field "$RUN_DIR/$mode-$round.txt" errors)" >>"$ROWS"
}

for r in $(seq 1 "$ROUNDS"); do
    for mode in $MODES; do
        run_one "$r" "$mode"
    done
done

# median per mode, and of the per-round ratios to memory
TABLE=$(awk -v rate="$RATE" -v items="$ITEMS" '
    { cpu[$2] = cpu[$2] " " $3; p50[$2] = p50[$2] " " $4; p99[$2] = p99[$2] " " $5; err[$2] += $6
      round[$1, $2] = $3 }
    function median(s,   a, n, i, j, t) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        printf "| queue | CPU-s per M items (median) | ratio to in-memory (median of rounds) | p50 ms | p99 ms | errors |\n"
        printf "|---|---|---|---|---|---|\n"
        split("memory fsync nofsync zstd", m, " ")
        label["memory"] = "in-memory"; label["fsync"] = "persistent, fsync: true"
        label["nofsync"] = "persistent, fsync: false"
        label["zstd"] = "persistent, fsync: true, compression: zstd"
        for (k = 1; k <= 4; k++) {
            if (!(m[k] in cpu)) continue
            r = ""
            for (i = 1; (i, m[k]) in round; i++) r = r " " round[i, m[k]] / round[i, "memory"]
            printf "| %s | %.3f | %.2fx | %s | %s | %d |\n", label[m[k]], median(cpu[m[k]]),
                   median(r), median(p50[m[k]]), median(p99[m[k]]), err[m[k]]
        }
    }' "$ROWS")
echo "$TABLE"

SECTION=$RUN_DIR/section.md
{
    echo "## Persistent queue"
    echo
    echo "\`bench/pq_bench.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores shared with other work, commit" \
         "$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')): otlp_loadgen at a fixed" \
         "$RATE requests/s of $ITEMS spans ($((RATE * ITEMS)) spans/s), $CONCURRENCY calls in flight," \
         "${DURATION}s per run, $ROUNDS rounds alternating the setups ($MODES), otelc pass-through (otlp ->" \
         "otlp, no compression) to the receive-only baseline. CPU = otelc's utime + stime over the" \
         "run and one second after, per million spans sent."
    echo
    echo "$TABLE"
    echo
    echo "Goal (issue 18): the persistent queue at most 1.3x the in-memory queue's CPU per item."
    echo
    echo "Where the cost goes: with \`fsync: false\` the log adds a CRC32C (SSE4.2) and one"
    echo "\`writev\` per request, the request's bytes written in place as raw zstd blocks, and the"
    echo "acknowledgements (an array push per record, one progress write per segment every 50 ms)."
    echo "With \`fsync: true\` each group commit adds an \`fdatasync\`, whose kernel CPU on this VM's"
    echo "ext4 is about 0.2 ms (a C loop of 60 kB appends each followed by \`fdatasync\`: 190 to 300 us"
    echo "of CPU each, preallocated file or not); at a fixed 200 requests/s with 8 calls in flight"
    echo "most groups hold one request, so that sync is most of the difference, and only fewer"
    echo "syncs (larger groups at higher rates, or \`fsync: false\`, otelcol's default) reduce it."
    echo "\`compression: zstd\` (level 1) costs about 0.1 to 0.15 ms per 60 kB request, for about a"
    echo "seventh of the disk. The figures move by +/-30% between rounds on this shared machine."
}>"$SECTION"
if grep -q '^## Persistent queue' "$RESULTS"; then
    awk -v f="$SECTION" '
        /^## Persistent queue/ { while ((getline l < f) > 0) print l; skip = 1; next }
        skip && /^## / { skip = 0; print ""; }
        !skip { print }' "$RESULTS" >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"
else
    { echo; cat "$SECTION"; } >>"$RESULTS"
fi
log "wrote the Persistent queue section of $RESULTS"
