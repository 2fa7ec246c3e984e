#!/bin/sh
# run-all.sh - the whole test suite: installs what is missing, then builds and
# runs ctest twice: a normal build (warnings are errors) and an AddressSanitizer +
# UndefinedBehaviorSanitizer build. Exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
status=0

deploy/install-deps.sh --test || exit 1
if [ -x tests/js/setup.sh ]; then
    tests/js/setup.sh || echo "run-all: JS SDK packages could not be installed; the JS test will fail"
fi

run_suite() { # name, build dir, extra cmake args...
    name=$1
    dir=$2
    shift 2
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
    (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 300) || status=1
}

mkdir -p build build-asan
run_suite "release" "$root/build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite "asan+ubsan" "$root/build-asan" -DOTC_SANITIZE="address;undefined" \
    -DCMAKE_BUILD_TYPE=Debug -DOTC_BUILD_BENCH=OFF

if [ "$status" -eq 0 ]; then
    echo "run-all: every suite passed"
else
    echo "run-all: FAILED"
fi
exit "$status"
