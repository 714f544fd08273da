#!/usr/bin/env bash
# bench/run.sh [SECTION...] [options]: builds Seedbank and runs the benchmark
# runner (see bench/README.md). Example: bench/run.sh hash --size-mib 1024
set -euo pipefail
cd "$(dirname "$0")/.."
./run.sh --build >/dev/null
exec ./build/bench/seedbank-bench "$@"
