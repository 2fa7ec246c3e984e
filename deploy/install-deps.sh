#!/bin/sh
# install-deps.sh - installs what otelc needs to build and test on Debian 12,
# and only what is missing (safe to run again). Run as root.
set -eu

BUILD_PKGS="build-essential cmake pkg-config libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev \
libyaml-dev libck-dev libevent-dev libssl-dev libzstd-dev zlib1g-dev libxxhash-dev libjson-c-dev libsnappy-dev liblz4-dev \
libpcre2-dev libdeflate-dev"
TEST_PKGS="curl zstd python3 python3-grpcio python3-protobuf python3-grpc-tools python3-yaml valgrind \
clang-14 libfuzzer-14-dev"

pkgs="$BUILD_PKGS"
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs $TEST_PKGS"
    command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
fi

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
