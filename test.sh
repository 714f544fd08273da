#!/usr/bin/env bash
# ./test.sh — installs what is missing, builds, and runs the whole test
# suite through ctest: the libFuzzer smoke runs (clang build in build-fuzz/)
# and then every unit and integration test (build/).
set -euo pipefail
cd "$(dirname "$0")"

./run.sh --build
./run.sh --test-deps

jobs=$(nproc 2>/dev/null || echo 2)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEEDBANK_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$jobs"
ctest --test-dir build-fuzz --output-on-failure -j "$jobs"

ctest --test-dir build --output-on-failure -j "$jobs"
