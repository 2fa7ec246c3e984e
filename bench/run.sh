#!/usr/bin/env bash
# run.sh - the end-to-end benchmark: builds Release into build-bench/ (if needed),
# then
#  - phase "e2e": puts the same OTLP/gRPC traces load through the receive-only and
#    forward-only reference servers and through otelc (pass-through, the full
#    pipeline.yaml chain, the same with gzip), profiles otelc, runs the
#    micro-benchmarks, and writes the "End-to-end" section of bench/RESULTS.md and
#    the chart bench/results.svg;
#  - phase "signals": for each of SIGNALS, forward-only, otelc pass-through and
#    otelc's full chain at FIXED_RATE requests/s, then the full chain unthrottled
#    (with each thread's share of the process CPU) and the highest rate it takes
#    with 0 refusals; writes the "Per signal" section of bench/RESULTS.md and the
#    chart bench/results-signals.svg.
# Usage: bench/run.sh        (environment overrides: see the defaults below)
#        BASE_OTELC=/path/to/older/otelc bench/run.sh   also measures that binary's
#        pass-through and full chain in the same run ("(base)" rows), for before/after ratios.
#        PHASES=signals SIGNALS=logs DURATION=3 bench/run.sh   a short look at one signal.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build-bench}
DURATION=${DURATION:-15}         # seconds of each load run (max rate, then half rate)
CONCURRENCY=${CONCURRENCY:-8}    # Export calls in flight
ITEMS=${ITEMS:-100}              # spans per request
ATTRS=${ATTRS:-10}               # attributes per span
ATTR_SIZE=${ATTR_SIZE:-20}       # bytes per attribute value
TRACES=${TRACES:-10}             # distinct trace ids per request
JOBS=${JOBS:-$(nproc)}
PROFILE=${PROFILE:-perf}         # perf | none: profile otelc's full chain at the end
PROFILE_SECONDS=${PROFILE_SECONDS:-10}
RESULTS=${RESULTS:-$SRC/bench/RESULTS.md}
CHART=${CHART:-$SRC/bench/results.svg}
RUN_DIR=${RUN_DIR:-$BUILD/bench-run-$(date +%Y%m%d-%H%M%S)}
BASE_OTELC=${BASE_OTELC:-}       # an older otelc binary measured in the same run, or empty
PHASES=${PHASES:-e2e signals}    # which parts to run: e2e, signals
SIGNALS=${SIGNALS:-traces logs metrics} # signals of the "signals" phase
FIXED_RATE=${FIXED_RATE:-2000}   # requests/s of the fixed-rate runs (x ITEMS items)
FIXED_ROUNDS=${FIXED_ROUNDS:-3}  # rounds of the fixed-rate runs (forward-only, pass-through,
                                 # full chain in turn); the report takes the median ratio
SIGNAL_CONCURRENCY=${SIGNAL_CONCURRENCY:-32} # Export calls in flight in the "signals" phase
SEARCH_DURATION=${SEARCH_DURATION:-4} # seconds of each step of the search for 0 refusals
SEARCH_STEPS=${SEARCH_STEPS:-8}  # at most this many steps of -10% below the max rate
CHART_SIGNALS=${CHART_SIGNALS:-$SRC/bench/results-signals.svg}
SKIP_BUILD=${SKIP_BUILD:-0}      # 1: use the binaries already in BUILD_DIR as they are
COMMAND_LINE="bench/run.sh${*:+ $*}"
for v in BASE_OTELC BUILD_DIR JOBS DURATION CONCURRENCY ITEMS ATTRS ATTR_SIZE TRACES PROFILE PROFILE_SECONDS \
         PHASES SIGNALS FIXED_RATE FIXED_ROUNDS SIGNAL_CONCURRENCY SEARCH_DURATION SEARCH_STEPS SKIP_BUILD; do
    if printenv "$v" >/dev/null; then
        case ${!v} in
            *" "*) COMMAND_LINE="$v='${!v}' $COMMAND_LINE" ;;
            *) COMMAND_LINE="$v=${!v} $COMMAND_LINE" ;;
        esac
    fi
done

T0=$(date +%s)
log() { printf '[run.sh %4ds] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

has_phase() { case " $PHASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for ph in $PHASES; do
    case $ph in e2e | signals) ;; *) die "PHASES: unknown phase $ph (e2e, signals)" ;; esac
done
for sig in $SIGNALS; do
    case $sig in traces | logs | metrics) ;; *) die "SIGNALS: unknown signal $sig (traces, logs, metrics)" ;; esac
done

# ------------------------------------------------------------------ build
BENCH_TARGETS="otelc otlp_loadgen baseline_receive baseline_forward bench_queue bench_decode"
[ -f "$SRC/bench/bench_processors.c" ] && BENCH_TARGETS="$BENCH_TARGETS bench_processors"
if [ "$SKIP_BUILD" = 1 ]; then
    log "using the binaries in $BUILD as they are (SKIP_BUILD=1)"
else
    # configured every time: the source lists are globbed at configure time
    log "configuring a Release build in $BUILD"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DOTC_BUILD_TESTS=OFF \
        -DOTC_BUILD_BENCH=ON >"$BUILD.cmake.log" 2>&1 || die "cmake failed, see $BUILD.cmake.log"
    log "building $BENCH_TARGETS (-j$JOBS)"
    # shellcheck disable=SC2086
    cmake --build "$BUILD" -j"$JOBS" --target $BENCH_TARGETS >>"$BUILD.cmake.log" 2>&1 ||
        die "build failed, see $BUILD.cmake.log"
fi
OTELC=$BUILD/otelc
LOADGEN=$BUILD/bench/loadgen/otlp_loadgen
RECV=$BUILD/bench/baseline/baseline_receive
FWD=$BUILD/bench/baseline/baseline_forward
for exe in "$OTELC" "$LOADGEN" "$RECV" "$FWD"; do
    [ -x "$exe" ] || die "$exe is missing"
done

if ! command -v gnuplot >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing gnuplot-nox for the chart"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnuplot-nox \
            >/dev/null 2>&1 || log "gnuplot-nox could not be installed: no chart"
    else
        log "gnuplot is missing (Debian: apt-get install gnuplot-nox): no chart"
    fi
fi

mkdir -p "$RUN_DIR"
log "run directory: $RUN_DIR"

# ------------------------------------------------------------------ helpers
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # port pid
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

cpu_ticks() { # utime + stime of a process, in clock ticks
    sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

status_kib() { # pid VmRSS|VmHWM
    awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"
}

result_field() { # file key -> value from the RESULT line
    awk -v k="$2" '/^RESULT /{for (i = 2; i <= NF; i++) {split($i, a, "="); if (a[1] == k) print a[2]}}' "$1" | tail -1
}

sink_bytes() {
    sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$RUN_DIR/sink.stats" 2>/dev/null || echo 0
}

CLK_TCK=$(getconf CLK_TCK)
LOAD_ARGS=(--items "$ITEMS" --attrs "$ATTRS" --attr-size "$ATTR_SIZE" --distinct-traces "$TRACES"
           --concurrency "$CONCURRENCY" --duration "$DURATION")

# One row of the table per setup, as key=value fields.
ROWS=$RUN_DIR/rows.txt
: >"$ROWS"

# measure NAME PID PORT [loadgen args...]: max-rate run, then half-rate run.
measure() {
    local name=$1 pid=$2 port=$3
    shift 3
    local tag idle c0 c1 c2 c3 cpu_h items ok_bytes rate half p99max p99half hwm cpu_m err1 err2 s0 s1 delivered
    tag=$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_')
    sleep 1
    idle=$(status_kib "$pid" VmRSS)
    s0=$(sink_bytes)
    c0=$(cpu_ticks "$pid")
    log "$name: max rate for ${DURATION}s"
    "$LOADGEN" --endpoint "127.0.0.1:$port" "${LOAD_ARGS[@]}" "$@" \
        >"$RUN_DIR/$tag.max.txt" 2>"$RUN_DIR/$tag.max.progress" || true
    sleep 1 # let batches still in the pipeline leave
    c1=$(cpu_ticks "$pid")
    grep -q '^RESULT .*ok=' "$RUN_DIR/$tag.max.txt" || die "$name: the load generator failed, see $RUN_DIR/$tag.max.txt"
    items=$(( $(result_field "$RUN_DIR/$tag.max.txt" ok) * ITEMS ))
    ok_bytes=$(result_field "$RUN_DIR/$tag.max.txt" bytes)
    rate=$(result_field "$RUN_DIR/$tag.max.txt" req_per_s)
    p99max=$(result_field "$RUN_DIR/$tag.max.txt" p99_ms)
    err1=$(result_field "$RUN_DIR/$tag.max.txt" errors)
    cpu_m=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" -v n="$items" \
        'BEGIN {printf "%.3f", (n > 0 ? (b - a) / t / (n / 1e6) : 0)}')
    half=$(awk -v r="$rate" 'BEGIN {printf "%.1f", r / 2}')
    log "$name: $(result_field "$RUN_DIR/$tag.max.txt" items_per_s) items/s, $cpu_m CPU-s per M items; half rate ($half req/s)"
    c2=$(cpu_ticks "$pid")
    "$LOADGEN" --endpoint "127.0.0.1:$port" "${LOAD_ARGS[@]}" --rate "$half" "$@" \
        >"$RUN_DIR/$tag.half.txt" 2>"$RUN_DIR/$tag.half.progress" || true
    p99half=$(result_field "$RUN_DIR/$tag.half.txt" p99_ms)
    err2=$(result_field "$RUN_DIR/$tag.half.txt" errors)
    hwm=$(status_kib "$pid" VmHWM)
    ok_bytes=$((ok_bytes + $(result_field "$RUN_DIR/$tag.half.txt" bytes)))
    sleep 2 # the sink rewrites its counters once a second
    c3=$(cpu_ticks "$pid")
    s1=$(sink_bytes)
    cpu_h=$(awk -v a="$c2" -v b="$c3" -v t="$CLK_TCK" -v n="$(( $(result_field "$RUN_DIR/$tag.half.txt" ok) * ITEMS ))" \
        'BEGIN {printf "%.3f", (n > 0 ? (b - a) / t / (n / 1e6) : 0)}')
    delivered=$(awk -v a="$s0" -v b="$s1" -v n="$ok_bytes" 'BEGIN {printf "%.1f", (n > 0 ? 100 * (b - a) / n : 0)}')
    echo "name=$tag label=$name items_s=$(result_field "$RUN_DIR/$tag.max.txt" items_per_s)" \
         "cpu_m=$cpu_m cpu_h=$cpu_h idle_kib=$idle hwm_kib=$hwm p99_max=$p99max p99_half=$p99half" \
         "p50_half=$(result_field "$RUN_DIR/$tag.half.txt" p50_ms) half_rate=$half" \
         "err_max=${err1:-0} err_half=${err2:-0} delivered=$delivered" >>"$ROWS"
}

# ------------------------------------------------------------------ otelc configurations
cat >"$RUN_DIR/passthrough.yaml" <<EOF
# otelc pass-through: OTLP/gRPC in, OTLP/gRPC out, no processors, no compression.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: \${env:OTELC_GRPC_ENDPOINT}
exporters:
  otlp:
    endpoint: \${env:OTLP_BACKEND}
    tls:
      insecure: true
    compression: none
service:
  telemetry:
    logs:
      level: warn
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
EOF
# the same, one pipeline of each signal (phase "signals")
for sig in traces metrics logs; do
    sed "s/^    traces:\$/    $sig:/" "$RUN_DIR/passthrough.yaml" >"$RUN_DIR/passthrough-$sig.yaml"
done
CHAIN_FROM="bench/run.sh's own copy of the chain"
if grep -q 'processors: \[memory_limiter, probabilistic_sampler, truncate, dedup, batch\]' "$SRC/pipeline.yaml" &&
   [ "$(grep -c 'processors: \[memory_limiter, truncate, dedup, batch\]' "$SRC/pipeline.yaml")" = 2 ] &&
   grep -q '^    compression: gzip' "$SRC/pipeline.yaml" &&
   grep -q 'OTELC_EXPORTER' "$SRC/pipeline.yaml"; then
    CHAIN_FROM="the top-level pipeline.yaml (exporter otlp, sampling 100%)"
    cp "$SRC/pipeline.yaml" "$RUN_DIR/fullchain-gzip.yaml"
    # no compression: also without the gzip level (compression_params and its level)
    sed -e 's/^    compression: gzip/    compression: none/' -e '/^    compression_params:/,/^      level:/d' \
        "$SRC/pipeline.yaml" >"$RUN_DIR/fullchain.yaml"
else
    for c in none gzip; do
        f=$RUN_DIR/fullchain.yaml
        [ "$c" = gzip ] && f=$RUN_DIR/fullchain-gzip.yaml
        cat >"$f" <<EOF
# otelc full chain: memory_limiter, probabilistic_sampler (100%, traces), truncate, dedup, batch -> otlp.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: \${env:OTELC_GRPC_ENDPOINT}
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
  probabilistic_sampler:
    sampling_percentage: 100
    hash_seed: 22
  truncate:
    max_value_length: 4096
    max_attributes: 128
  dedup:
    window: 30s
    max_entries: 262144
  batch:
    send_batch_size: 8192
    send_batch_max_size: 10000
    timeout: 200ms
exporters:
  otlp:
    endpoint: \${env:OTLP_BACKEND}
    tls:
      insecure: true
    compression: $c
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, probabilistic_sampler, truncate, dedup, batch]
      exporters: [otlp]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, truncate, dedup, batch]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      processors: [memory_limiter, truncate, dedup, batch]
      exporters: [otlp]
EOF
    done
fi

OTELC_IDLE_KIB=""
# start_otelc name config: otelc on a free port ($P, $PORT), sink as the backend.
start_otelc() {
    PORT=$(free_port)
    OTELC_GRPC_ENDPOINT="127.0.0.1:$PORT" OTLP_BACKEND="127.0.0.1:$SINK_PORT" OTELC_EXPORTER=otlp \
        OTELC_SAMPLING_PERCENTAGE=100 OTELC_MEMORY_LIMIT_MIB=512 \
        "${OTELC_BIN:-$OTELC}" --config "$2" 2>"$RUN_DIR/$1.log" &
    P=$!
    PIDS+=("$P")
    wait_port "$PORT" "$P" || die "otelc did not start with $2, see $RUN_DIR/$1.log"
}

run_otelc() { # label config [loadgen args]
    local label=$1 cfg=$2
    shift 2
    start_otelc "$(basename "$cfg" .yaml)" "$cfg"
    measure "$label" "$P" "$PORT" "$@"
}

# ------------------------------------------------------------------ sink
SINK_PORT=$(free_port)
"$RECV" --endpoint "127.0.0.1:$SINK_PORT" --stats "$RUN_DIR/sink.stats" 2>"$RUN_DIR/sink.log" &
SINK_PID=$!
PIDS+=("$SINK_PID")
wait_port "$SINK_PORT" "$SINK_PID" || die "the receive-only server did not start"

# ------------------------------------------------------------------ phase e2e
if has_phase e2e; then
    # 1. receive-only: the load generator talks to the sink itself.
    measure "receive-only" "$SINK_PID" "$SINK_PORT"
    sed -i '$ s/delivered=[0-9.]*/delivered=-/' "$ROWS"

    # 2. forward-only, plain and gzip.
    for mode in plain gzip; do
        PORT=$(free_port)
        extra=()
        [ "$mode" = gzip ] && extra=(--gzip)
        "$FWD" --endpoint "127.0.0.1:$PORT" --downstream "127.0.0.1:$SINK_PORT" "${extra[@]}" \
            2>"$RUN_DIR/forward-$mode.log" &
        P=$!
        PIDS+=("$P")
        wait_port "$PORT" "$P" || die "the forward-only server did not start"
        if [ "$mode" = gzip ]; then
            measure "forward-only gzip" "$P" "$PORT" --gzip
        else
            measure "forward-only" "$P" "$PORT"
        fi
        stop_pid "$P"
    done

    # Each base row runs right after the row it is compared with.
    [ -z "$BASE_OTELC" ] || [ -x "$BASE_OTELC" ] || die "BASE_OTELC=$BASE_OTELC is not an executable"
    run_otelc "otelc pass-through" "$RUN_DIR/passthrough.yaml"
    stop_pid "$P"
    if [ -n "$BASE_OTELC" ]; then
        OTELC_BIN=$BASE_OTELC run_otelc "otelc pass-through (base)" "$RUN_DIR/passthrough.yaml"
        stop_pid "$P"
    fi
    run_otelc "otelc full chain" "$RUN_DIR/fullchain.yaml"
    stop_pid "$P"
    if [ -n "$BASE_OTELC" ]; then
        OTELC_BIN=$BASE_OTELC run_otelc "otelc full chain (base)" "$RUN_DIR/fullchain.yaml"
        stop_pid "$P"
    fi
    run_otelc "otelc full chain gzip" "$RUN_DIR/fullchain-gzip.yaml" --gzip
    stop_pid "$P"
    if [ -n "$BASE_OTELC" ]; then
        OTELC_BIN=$BASE_OTELC run_otelc "otelc full chain gzip (base)" "$RUN_DIR/fullchain-gzip.yaml" --gzip
        stop_pid "$P"
    fi

    # profile name: perf on otelc ($P) for PROFILE_SECONDS under max-rate load.
    PROFILED=()
    profile() {
        [ "$PROFILE" = perf ] && command -v perf >/dev/null 2>&1 || return 0
        log "profiling otelc ($1) with perf for ${PROFILE_SECONDS}s at max rate"
        "$LOADGEN" --endpoint "127.0.0.1:$PORT" "${LOAD_ARGS[@]}" --duration $((PROFILE_SECONDS + 2)) --quiet \
            >"$RUN_DIR/profile-$1.load.txt" 2>&1 &
        local lg=$!
        sleep 1
        if perf record -e cpu-clock -F 999 -p "$P" -o "$RUN_DIR/perf-$1.data" -- sleep "$PROFILE_SECONDS" \
            >"$RUN_DIR/perf-$1.record.log" 2>&1; then
            perf report -i "$RUN_DIR/perf-$1.data" --sort dso,symbol --stdio 2>/dev/null |
                grep -E '^ +[0-9]' | sed -E 's/ +/ /g; s/( -)* *$//' | head -25 >"$RUN_DIR/profile-$1.txt" || true
            perf report -i "$RUN_DIR/perf-$1.data" --sort dso --stdio 2>/dev/null |
                grep -E '^ +[0-9]' | sed -E 's/ +/ /g; s/( -)* *$//' | head -8 >"$RUN_DIR/profile-$1-dso.txt" || true
            PROFILED+=("$1")
        else
            log "perf record failed (see $RUN_DIR/perf-$1.record.log): no profile"
        fi
        wait "$lg" || true
    }

    # Idle RSS of otelc with the full chain (started, 2 s, no load), then its profile.
    start_otelc idle "$RUN_DIR/fullchain.yaml"
    sleep 2
    OTELC_IDLE_KIB=$(status_kib "$P" VmRSS)
    profile full-chain
    stop_pid "$P"
    start_otelc profile-passthrough "$RUN_DIR/passthrough.yaml"
    profile pass-through
    stop_pid "$P"

    # ------------------------------------------------------------------ micro-benchmarks
    MICRO=$RUN_DIR/micro.txt
    : >"$MICRO"
    for b in bench_queue bench_decode bench_processors; do
        exe=$BUILD/bench/$b
        [ -x "$exe" ] || continue
        log "micro-benchmark $b"
        {
            echo "\$ $b"
            timeout 300 "$exe" 2>&1 || echo "($b exited with status $?)"
            echo
        } >>"$MICRO"
    done

fi

# ------------------------------------------------------------------ phase signals
# Rows of the "Per signal" section, as key=value fields (see bench/signals_report.py).
SIG_ROWS=$RUN_DIR/signals.txt
: >"$SIG_ROWS"

thread_ticks() { # pid: "tid<TAB>utime+stime<TAB>comm" for each of its threads
    local t st comm
    local -a f
    for t in /proc/"$1"/task/*; do
        st=$(cat "$t/stat" 2>/dev/null) || continue
        comm=${st#*(}
        comm=${comm%)*}
        read -r -a f <<<"${st##*) }"
        printf '%s\t%s\t%s\n' "${t##*/}" "$((f[11] + f[12]))" "$comm"
    done
}

# measure_signal SIGNAL SETUP KIND PID PORT RATE SECONDS [THREADS_TAG]: one load run
# at RATE requests/s (0 = unthrottled); appends a row to SIG_ROWS and prints the
# requests/s reached. With THREADS_TAG, snapshots of every thread's CPU before and
# after go to $RUN_DIR/threads-THREADS_TAG.{before,after}.
measure_signal() {
    local sig=$1 setup=$2 kind=$3 pid=$4 port=$5 rate=$6 secs=$7 threads=${8:-}
    local out c0 c1 ok items cpu refused errors
    out=$RUN_DIR/signal-$sig-$setup-$kind-$rate-${ROUND:-1}.txt
    [ -z "$threads" ] || thread_ticks "$pid" >"$RUN_DIR/threads-$threads.before"
    c0=$(cpu_ticks "$pid")
    "$LOADGEN" --endpoint "127.0.0.1:$port" --signal "$sig" "${SIG_LOAD_ARGS[@]}" \
        --rate "$rate" --duration "$secs" >"$out" 2>"${out%.txt}.progress" || true
    sleep 1 # let batches still in the pipeline leave
    kill -0 "$pid" 2>/dev/null || die "$sig $setup: the server under test exited during the run (logs in $RUN_DIR)"
    c1=$(cpu_ticks "$pid")
    [ -z "$threads" ] || thread_ticks "$pid" >"$RUN_DIR/threads-$threads.after"
    grep -q '^RESULT .*ok=' "$out" || die "$sig $setup: the load generator failed, see $out"
    ok=$(result_field "$out" ok)
    items=$((ok * ITEMS))
    refused=$(result_field "$out" status_UNAVAILABLE)
    errors=$(result_field "$out" errors)
    cpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" -v n="$items" \
        'BEGIN {printf "%.3f", (n > 0 ? (b - a) / t / (n / 1e6) : 0)}')
    echo "signal=$sig setup=$setup kind=$kind round=${ROUND:-1} rate=$rate items_s=$(result_field "$out" items_per_s)" \
         "cpu_m=$cpu ticks=$((c1 - c0)) ok=$ok refused=${refused:-0} errors=${errors:-0}" \
         "p99=$(result_field "$out" p99_ms) bytes_per_req=$(result_field "$out" bytes_per_request)" \
         "items_per_req=$(result_field "$out" items_per_request) req_s=$(result_field "$out" req_per_s)" >>"$SIG_ROWS"
    log "$sig $setup $kind ($([ "$rate" = 0 ] && echo unthrottled || echo "$rate req/s")):" \
        "$(result_field "$out" items_per_s) items/s," \
        "$cpu CPU-s per M items, ${refused:-0} refused, ${errors:-0} errors"
    LAST_REQ_S=$(result_field "$out" req_per_s)
    LAST_ERRORS=${errors:-0}
}

# signal_phase SIGNAL: forward-only, pass-through and full chain at FIXED_RATE, in
# turn for FIXED_ROUNDS rounds (each a fresh process); then, in the last round's full
# chain, the full chain unthrottled with per-thread CPU; then -10% steps until 0 refusals.
signal_phase() {
    local sig=$1 max k rate
    for ROUND in $(seq "$FIXED_ROUNDS"); do
        PORT=$(free_port)
        "$FWD" --endpoint "127.0.0.1:$PORT" --downstream "127.0.0.1:$SINK_PORT" \
            2>"$RUN_DIR/forward-$sig.log" &
        P=$!
        PIDS+=("$P")
        wait_port "$PORT" "$P" || die "the forward-only server did not start"
        sleep 1
        measure_signal "$sig" forward fixed "$P" "$PORT" "$FIXED_RATE" "$DURATION"
        stop_pid "$P"

        start_otelc "passthrough-$sig" "$RUN_DIR/passthrough-$sig.yaml"
        sleep 1
        measure_signal "$sig" passthrough fixed "$P" "$PORT" "$FIXED_RATE" "$DURATION"
        stop_pid "$P"

        start_otelc "fullchain-$sig" "$RUN_DIR/fullchain.yaml"
        sleep 1
        measure_signal "$sig" full fixed "$P" "$PORT" "$FIXED_RATE" "$DURATION"
        [ "$ROUND" = "$FIXED_ROUNDS" ] || stop_pid "$P"
    done
    ROUND=1
    sleep 1
    measure_signal "$sig" full max "$P" "$PORT" 0 "$DURATION" "$sig"
    max=$LAST_REQ_S
    if [ "$LAST_ERRORS" != 0 ]; then
        for k in $(seq 1 "$SEARCH_STEPS"); do
            rate=$(awk -v m="$max" -v k="$k" 'BEGIN {printf "%.0f", m * 0.9 ^ k}')
            [ "$rate" -gt 0 ] || break
            sleep 1
            measure_signal "$sig" full search "$P" "$PORT" "$rate" "$SEARCH_DURATION"
            [ "$LAST_ERRORS" != 0 ] || break
        done
    fi
    stop_pid "$P"
}

if has_phase signals; then
    SIG_LOAD_ARGS=(--items "$ITEMS" --attrs "$ATTRS" --attr-size "$ATTR_SIZE" --distinct-traces "$TRACES"
                   --concurrency "$SIGNAL_CONCURRENCY")
    for sig in $SIGNALS; do
        signal_phase "$sig"
    done
fi
stop_pid "$SINK_PID"

# ------------------------------------------------------------------ report
log "writing $RESULTS and the charts"
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU_MODEL=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
CPU_MHZ=$(awk -F': ' '/^cpu MHz/{printf "%.0f MHz", $2; exit}' /proc/cpuinfo)
NPROC=$(nproc)
MEM=$(awk '/^MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
KERNEL=$(uname -r)
COMMIT=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    COMMIT="$COMMIT plus uncommitted changes"
fi
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
BASE_VERSION=""
if [ -n "$BASE_OTELC" ]; then
    # the commit of the source tree the base binary was configured from
    base_src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$(dirname "$BASE_OTELC")/CMakeCache.txt" 2>/dev/null)
    BASE_VERSION="commit $(git -C "${base_src:-/nonexistent}" rev-parse --short HEAD 2>/dev/null || echo unknown)"
fi
# replace_section FILE HEADING [AFTER]: put the section in FILE in place of the
# RESULTS.md section "## HEADING" (other sections are kept); a new section goes
# after the section "## AFTER" if there is one, else at the end.
replace_section() {
    /usr/bin/python3 - "$RESULTS" "$1" "$2" "${3:-}" <<'PYEOF'
import os, sys
path, section, heading, after = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3], sys.argv[4]
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n\n"
lines = text.splitlines(keepends=True)
def find(h):
    start = next((i for i, l in enumerate(lines) if l.rstrip() == "## " + h), None)
    if start is None:
        return None, None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, end
start, end = find(heading)
if start is None and after:
    _, at = find(after)
    if at is not None:
        start = end = at
if start is None:
    if not text.endswith("\n\n"):
        text += "\n" if text.endswith("\n") else "\n\n"
    text += section
else:
    section = section.rstrip("\n") + "\n"
    text = "".join(lines[:start]) + section + ("\n" if end < len(lines) else "") + "".join(lines[end:])
open(path, "w").write(text)
PYEOF
}

ELAPSED=$(($(date +%s) - T0))
# The "End-to-end" report (the body is not indented: it holds here-documents).
if has_phase e2e; then
BYTES_PER_REQ=$(result_field "$RUN_DIR/receive_only.max.txt" bytes_per_request)

# chart data: "label" CPU-s per M items, thousand items/s
: >"$RUN_DIR/chart.dat"
while read -r line; do
    label=$(sed -n 's/.*label=\(.*\) items_s=.*/\1/p' <<<"$line")
    cpu=$(sed -n 's/.* cpu_m=\([^ ]*\).*/\1/p' <<<"$line")
    cpuh=$(sed -n 's/.* cpu_h=\([^ ]*\).*/\1/p' <<<"$line")
    its=$(sed -n 's/.* items_s=\([^ ]*\).*/\1/p' <<<"$line")
    echo "\"$label\" $cpu $(awk -v x="$its" 'BEGIN {printf "%.1f", x / 1000}') $cpuh" >>"$RUN_DIR/chart.dat"
done <"$ROWS"
if command -v gnuplot >/dev/null 2>&1; then
    gnuplot <<EOF || log "gnuplot failed: no chart"
set terminal svg size 900,480 dynamic font "sans,11" background "#ffffff"
set output "$CHART"
set title "otelc end-to-end, $ITEMS-span requests x $ATTRS attributes ($DATE, $NPROC shared cores)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by 20 right scale 0 font ",10"
set ylabel "CPU-seconds per million spans (lower is better)"
set y2label "thousand spans/s at max rate (higher is better)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set grid ytics
set key outside top center horizontal
plot "$RUN_DIR/chart.dat" using 2:xtic(1) title "CPU-s per M spans, max rate" lc rgb "#3b6ea8", \
     "" using 4 title "CPU-s per M spans, half rate" lc rgb "#8fb3d9", \
     "" using 3 axes x1y2 title "k spans/s at max rate (right axis)" lc rgb "#e0a030"
EOF
fi

SECTION=$RUN_DIR/end-to-end.md
/usr/bin/python3 - "$ROWS" "$SECTION" <<PYEOF
import sys
rows = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    head, label_rest = line.split(" label=", 1)
    label, rest = label_rest.split(" items_s=", 1)
    d = dict(kv.split("=", 1) for kv in ("items_s=" + rest).split())
    d["label"] = label
    rows.append(d)
by = {r["label"]: r for r in rows}
def f(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None
fwd = f(by.get("forward-only", {}).get("cpu_m"))
fwdz = f(by.get("forward-only gzip", {}).get("cpu_m"))
fwd_h = f(by.get("forward-only", {}).get("cpu_h"))
fwdz_h = f(by.get("forward-only gzip", {}).get("cpu_h"))
def ratio(r, base, key="cpu_m"):
    c = f(r.get(key))
    return "%.2f" % (c / base) if c and base else "-"
def mib(k):
    v = f(k)
    return "%.1f" % (v / 1024) if v is not None else "-"
out = []
w = out.append
w("## End-to-end")
w("")
w("Written by \`bench/run.sh\`; re-run it to refresh this section (other sections are kept).")
w("")
w("- **Command:** \`$COMMAND_LINE\` (source \`$SRC\` at commit $COMMIT; build \`$BUILD\`, Release), $DATE, took ${ELAPSED} s including the build.")
w("- **Machine:** $CPU_MODEL, $CPU_MHZ, nproc = $NPROC, $MEM RAM, Linux $KERNEL; load average at the end: $LOADAVG.")
w("  The machine is **shared with other engineers compiling and testing** while this ran, and the")
w("  load generator and the sink run on the same $NPROC cores as the process under test: absolute")
w("  figures move between runs, the **ratios within one run** are the figures to compare.")
w("- **Load:** \`otlp_loadgen\`, traces, $ITEMS spans per request, $ATTRS string attributes per span")
w("  ($ATTR_SIZE-byte values), 1 event per span, $TRACES trace ids per request, fresh ids on every request")
w("  (${BYTES_PER_REQ} bytes per request), $CONCURRENCY calls in flight on one connection. Each setup: ${DURATION} s at the")
w("  maximum rate, then ${DURATION} s at half the rate it reached (open loop, same concurrency cap).")
w("- **Setups:** receive-only and forward-only are \`bench/baseline\` (gRPC core, the otlp receiver's")
w("  server code, no decoding). The receive-only server is also the downstream sink of every other setup.")
w("  otelc pass-through = otlp receiver -> otlp exporter, no processors, no compression. otelc full chain")
w("  = $CHAIN_FROM: memory_limiter, probabilistic_sampler at 100%, truncate, dedup, batch -> otlp")
w("  exporter, no compression; \"gzip\" = the same with gzip from the load generator and to the sink")
w("  (forward-only gzip is its reference). Configs are in the run directory.")
if "$BASE_OTELC":
    w("- **Base:** the \"(base)\" rows run \`$BASE_OTELC\` (\`$BASE_VERSION\`) on the same configs, each")
    w("  right after the row without \"(base)\" that it is compared with.")
w("- **Columns:** CPU = utime+stime of the process under test (\`/proc/PID/stat\`) over each run plus")
w("  its drain, per million spans answered OK (requests refused with UNAVAILABLE cost CPU too: at the")
w("  max rate an overloaded setup is charged for them; the half-rate figures are the ones without")
w("  overload). Refused = UNAVAILABLE answers (the load generator does not retry). Idle RSS = VmRSS before the load, peak RSS = VmHWM")
w("  after both runs. Delivered = bytes the sink received / bytes answered OK to the load generator, both runs (uncompressed).")
w("")
w("| setup | spans/s (max rate) | CPU-s per M spans, max rate | ratio to forward-only, max rate | CPU-s per M spans, half rate | ratio, half rate | idle RSS MiB | peak RSS MiB | p99 ms at max | p99 ms at half rate | p50 ms at half rate | refused (max / half) | delivered % |")
w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    extra = extra_h = ""
    if r["label"].endswith("gzip") and r["label"] != "forward-only gzip" and fwdz:
        extra = " (%s to forward-only gzip)" % ratio(r, fwdz)
        extra_h = " (%s)" % ratio(r, fwdz_h, "cpu_h")
    w("| %s | %s | %s | %s%s | %s | %s%s | %s | %s | %s | %s | %s | %s / %s | %s |" % (
        r["label"], "{:,.0f}".format(f(r["items_s"]) or 0), r["cpu_m"], ratio(r, fwd), extra,
        r["cpu_h"], ratio(r, fwd_h, "cpu_h"), extra_h,
        mib(r["idle_kib"]), mib(r["hwm_kib"]), r["p99_max"], r["p99_half"], r["p50_half"],
        r["err_max"], r["err_half"], r["delivered"]))
w("")
w("![CPU per span and throughput per setup](results.svg)")
w("")
full = by.get("otelc full chain", {})
pt = by.get("otelc pass-through", {})
idle = f("$OTELC_IDLE_KIB")
def verdict(ok):
    return "**met**" if ok else "**not met**"
w("### Targets (issue 7), from this run")
w("")
def rr(r, key, base):
    c = f(r.get(key))
    return c / base if c and base else None
fr, frh = rr(full, "cpu_m", fwd), rr(full, "cpu_h", fwd_h)
pr, prh = rr(pt, "cpu_m", fwd), rr(pt, "cpu_h", fwd_h)
def both(a, b):
    return "%s at max rate, %s at half rate" % ("%.2fx" % a if a else "-", "%.2fx" % b if b else "-")
w("| target | measured | verdict |")
w("|---|---|---|")
w("| full chain CPU per span <= 1.5x forward-only | %s | %s |" % (both(fr, frh), verdict(fr is not None and fr <= 1.5 and frh is not None and frh <= 1.5)))
w("| pass-through CPU per span <= 1.15x forward-only | %s | %s |" % (both(pr, prh), verdict(pr is not None and pr <= 1.15 and prh is not None and prh <= 1.15)))
w("| idle RSS <= 16 MiB (otelc, full chain config) | %s MiB | %s |" % ("%.1f" % (idle / 1024) if idle else "-", verdict(idle is not None and idle <= 16 * 1024)))
h = f(full.get("hwm_kib"))
w("| RSS <= 128 MiB at the max rate (full chain, default queues) | %s MiB | %s |" % ("%.1f" % (h / 1024) if h else "-", verdict(h is not None and h <= 128 * 1024)))
p = f(full.get("p99_half"))
w("| p99 Export latency <= 5 ms at half the max rate (full chain) | %s ms | %s |" % (p if p is not None else "-", verdict(p is not None and p <= 5)))
w("")
# What gzip adds to the full chain (CPU-s per M spans, gzip minus none), this
# build against the base binary's, both measured in this run.
def gz_cost(suffix, key):
    a, b = f(by.get("otelc full chain gzip" + suffix, {}).get(key)), f(by.get("otelc full chain" + suffix, {}).get(key))
    return a - b if a is not None and b is not None else None
w("### What gzip on the exporter adds to the full chain")
w("")
w("| build | at max rate (CPU-s per M spans) | at half rate |")
w("|---|---|---|")
cost = {}
for label, suffix in (("this build", ""), ("base", " (base)")):
    cm, ch = gz_cost(suffix, "cpu_m"), gz_cost(suffix, "cpu_h")
    cost[label] = (cm, ch)
    if cm is not None or ch is not None:
        w("| %s | %s | %s |" % (label, "%.3f" % cm if cm is not None else "-", "%.3f" % ch if ch is not None else "-"))
tb, bs = cost.get("this build", (None, None)), cost.get("base", (None, None))
if bs[0] and bs[1] and tb[0] is not None and tb[1] is not None:
    w("")
    w("This build's gzip cost is %.2fx the base's at the max rate and %.2fx at half rate "
      "(issue 14: at most half, 0.50x)." % (tb[0] / bs[0], tb[1] / bs[1]))
w("")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PYEOF

{
    for name in "${PROFILED[@]}"; do
        [ -s "$RUN_DIR/profile-$name.txt" ] || continue
        echo "### Where otelc's time goes: $name (perf, ${PROFILE_SECONDS} s at max rate)"
        echo
        echo "\`perf record -e cpu-clock -F 999 -p <otelc>\`, self time of every thread; by shared object:"
        echo
        echo '```'
        cat "$RUN_DIR/profile-$name-dso.txt"
        echo '```'
        echo
        echo "Top functions:"
        echo
        echo '```'
        cat "$RUN_DIR/profile-$name.txt"
        echo '```'
        echo
    done
    echo "### Micro-benchmarks (this run, same build)"
    echo
    echo '```'
    cat "$MICRO"
    echo '```'
    echo
    echo "Raw load-generator output and configs: \`$RUN_DIR\`."
    echo
} >>"$SECTION"

replace_section "$SECTION" "End-to-end"
sed -n '1,/^### Targets/p' "$SECTION" | grep '^|' >&2 || true
fi

# The "Per signal" report (the body is not indented: it holds here-documents).
if has_phase signals; then
SECTION=$RUN_DIR/per-signal.md
FIXED_ITEMS_S=$(awk -v r="$FIXED_RATE" -v n="$ITEMS" 'BEGIN {printf "%.0f", r * n}')
cat >"$RUN_DIR/per-signal-header.md" <<EOF
## Per signal

Written by \`bench/run.sh\` (its phase "signals"); re-run it to refresh this section (other sections are kept).

- **Command:** \`$COMMAND_LINE\` (source \`$SRC\` at commit $COMMIT; build \`$BUILD\`, Release), $DATE, took ${ELAPSED} s in all.
- **Machine:** $CPU_MODEL, $CPU_MHZ, nproc = $NPROC, $MEM RAM, Linux $KERNEL; load average at the end: $LOADAVG.
  The load generator and the sink run on the same $NPROC cores as the process under test: the
  **ratios within one run** are the figures to compare.
- **Load:** \`otlp_loadgen --signal S\`, $ITEMS items per request (spans, log records or sum data
  points), $ATTRS string attributes per item ($ATTR_SIZE-byte values), $TRACES trace ids per request
  (traces, logs), fresh ids (metrics: timestamps) on every request, $SIGNAL_CONCURRENCY calls in flight on one
  connection. **Fixed rate:** $FIXED_RATE requests/s ($FIXED_ITEMS_S items/s) for ${DURATION} s, $FIXED_ROUNDS rounds of the three
  setups in turn (each run a fresh process); CPU and ratio are the medians of the rounds. **Max rate:**
  unthrottled for ${DURATION} s. **Highest rate with 0 refusals:** ${SEARCH_DURATION} s runs at 90%, 81%, ... of
  the requests/s answered OK at the max rate (at most $SEARCH_STEPS steps), down to the first with no
  error; not searched when the max-rate run had none.
- **Setups:** forward-only = \`bench/baseline/baseline_forward\` (no decoding). otelc pass-through =
  one pipeline of the signal, otlp receiver -> otlp exporter, no processors. otelc full chain =
  $CHAIN_FROM, all three pipelines: traces = memory_limiter,
  probabilistic_sampler at 100%, truncate, dedup, batch; metrics and logs = memory_limiter,
  truncate, dedup, batch (otelcol's probabilistic_sampler takes traces and logs; pipeline.yaml
  samples traces only); otlp exporter without compression. Each setup is a fresh process; the
  full chain's last fixed-rate run, the max-rate and search runs share one. The downstream of all is
  \`bench/baseline/baseline_receive\`.
- **Columns:** CPU = utime+stime of the process under test (\`/proc/PID/stat\`) over the run and
  1 s after it, per million items answered OK. Refused = UNAVAILABLE answers (the load generator
  does not retry); other errors = any other status but OK.
EOF
/usr/bin/python3 "$SRC/bench/signals_report.py" "$SIG_ROWS" "$RUN_DIR" "$RUN_DIR/per-signal-header.md" \
    "$SECTION" "$RUN_DIR/chart-signals.dat" || die "bench/signals_report.py failed"
if command -v gnuplot >/dev/null 2>&1; then
    gnuplot <<EOF || log "gnuplot failed: no per-signal chart"
set terminal svg size 900,480 dynamic font "sans,11" background "#ffffff"
set output "$CHART_SIGNALS"
set title "CPU per item, $FIXED_ITEMS_S items/s asked, by signal ($DATE, $NPROC shared cores)"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics scale 0
set ylabel "CPU-seconds per million items (lower is better)"
set yrange [0:*]
set grid ytics
set key outside top center horizontal
plot "$RUN_DIR/chart-signals.dat" using 2:xtic(1) title "forward-only" lc rgb "#8fb3d9", \
     "" using 3 title "otelc pass-through" lc rgb "#3b6ea8", \
     "" using 4 title "otelc full chain" lc rgb "#e0a030"
EOF
fi
replace_section "$SECTION" "Per signal" "End-to-end"
grep '^|' "$SECTION" | grep -v '^|---' >&2 || true
fi
log "done in $(($(date +%s) - T0)) s: $RESULTS"
