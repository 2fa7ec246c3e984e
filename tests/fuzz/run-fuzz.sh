#!/bin/sh
# run-fuzz.sh BINARY SEED_DIR SECONDS - fuzz for SECONDS, starting from the seed
# corpus (left unchanged: new inputs go to a scratch corpus). Any crash, leak or
# timeout fails; the input is written next to the scratch corpus and its path printed.
set -eu
bin=$1
seeds=$2
secs=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/otc-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" "$seeds" 2>"$work/log"; then
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" "$work/log" || true
    exit 0
fi
tail -60 "$work/log"
keep="${TMPDIR:-/tmp}/otc-fuzz-crash-$(basename "$bin")-$$"
mkdir -p "$keep" && cp "$work"/artifacts/* "$keep"/ 2>/dev/null || true
echo "run-fuzz: $(basename "$bin") failed; inputs kept in $keep (add them to $seeds)"
exit 1
