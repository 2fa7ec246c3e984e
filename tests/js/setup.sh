#!/bin/sh
# setup.sh: installs the JS SDK packages for test_js_sdk.py into tests/js/node_modules.
# Idempotent: runs npm only when node_modules is missing or package.json changed
# since the last successful install (recorded in node_modules/.otelc-setup-stamp).
# SPDX-License-Identifier: Apache-2.0
set -eu
cd "$(dirname "$0")"

stamp=node_modules/.otelc-setup-stamp
want=$(sha256sum package.json | cut -d' ' -f1)

if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "setup.sh: node_modules is up to date"
    exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "setup.sh: npm not found" >&2; exit 1; }
echo "setup.sh: npm install (package.json changed or node_modules missing)"
npm install --no-audit --no-fund
echo "$want" > "$stamp"
