#!/bin/sh
# run-all.sh - the whole test suite: installs what is missing, then builds and
# runs ctest in four builds: normal (warnings are errors), AddressSanitizer +
# UndefinedBehaviorSanitizer, ThreadSanitizer (unit and stress tests), and the
# libFuzzer targets (clang, a short run each). Exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
status=0

deploy/install-deps.sh --test || exit 1
if [ -x tests/js/setup.sh ]; then
    tests/js/setup.sh || echo "run-all: JS SDK packages could not be installed; the JS test will fail"
fi

run_suite() { # name, build dir, ctest args, extra cmake args...
    name=$1
    dir=$2
    ctest_args=$3
    shift 3
    echo "=== $name: build ($dir)"
    if ! cmake -S "$root" -B "$dir" -DOTC_WERROR=ON "$@" >"$dir.cmake.log" 2>&1; then
        cat "$dir.cmake.log"
        status=1
        return
    fi
    if ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
        grep -E "error|warning" "$dir.build.log" | head -50
        echo "=== $name: build failed"
        status=1
        return
    fi
    echo "=== $name: ctest"
    # shellcheck disable=SC2086
    (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600 $ctest_args) || status=1
}

mkdir -p build build-asan build-tsan build-fuzz
run_suite "release" "$root/build" ""
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite "asan+ubsan" "$root/build-asan" "" -DOTC_SANITIZE="address;undefined" \
    -DCMAKE_BUILD_TYPE=Debug -DOTC_BUILD_BENCH=OFF
# gRPC itself is not built with ThreadSanitizer, so only the tests that do not
# run it (unit and stress tests) are meaningful here.
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_suite "tsan" "$root/build-tsan" "-L unit" -DOTC_SANITIZE=thread -DOTC_BUILD_BENCH=OFF
CC=clang-14 run_suite "fuzz" "$root/build-fuzz" "-L fuzz" -DOTC_FUZZ=ON -DOTC_BUILD_TESTS=OFF \
    -DOTC_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo

if [ "$status" -eq 0 ]; then
    echo "run-all: every suite passed"
else
    echo "run-all: FAILED"
fi
exit "$status"
