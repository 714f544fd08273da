#!/usr/bin/env bash
# run_fuzz.sh FUZZER SEED_CORPUS_DIR SECONDS
# Runs a libFuzzer target on a scratch copy of its seed corpus, so the
# committed corpus only changes when someone adds to it on purpose. On
# failure the whole log and any crash/leak/timeout input are kept in
# $SEEDBANK_FUZZ_ARTIFACTS (default /tmp/seedbank-fuzz-artifacts).
set -uo pipefail
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null
"$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=25 -rss_limit_mb=2048 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" >"$work/log" 2>&1
status=$?
# A sanitizer report that did not stop the run still fails it.
if [ "$status" -eq 0 ] && grep -q "runtime error:" "$work/log"; then status=1; fi
if [ "$status" -ne 0 ]; then
  keep="${SEEDBANK_FUZZ_ARTIFACTS:-/tmp/seedbank-fuzz-artifacts}"
  mkdir -p "$keep"
  name=$(basename "$fuzzer")
  cp "$work/log" "$keep/$name.log"
  cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$keep/" 2>/dev/null
  grep -E "ERROR|SUMMARY|Test unit written|Done" "$work/log" | head -n 20
  tail -n 40 "$work/log"
  echo "run_fuzz.sh: $name failed (exit $status); log and inputs kept in $keep"
else
  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$work/log"
fi
exit "$status"
