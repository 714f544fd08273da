#!/usr/bin/env bash
# run_fuzz.sh FUZZER SEED_CORPUS_DIR SECONDS
# Runs a libFuzzer target on a scratch copy of its seed corpus, so the
# committed corpus only changes when someone adds to it on purpose.
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
"$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 20
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  mkdir -p "${SEEDBANK_FUZZ_ARTIFACTS:-/tmp/seedbank-fuzz-artifacts}"
  cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* \
    "${SEEDBANK_FUZZ_ARTIFACTS:-/tmp/seedbank-fuzz-artifacts}/" 2>/dev/null || true
fi
exit "$status"
