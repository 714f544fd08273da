#!/usr/bin/env bash
# ./test.sh — installs what is missing, builds, and runs the whole test
# suite through ctest: the libFuzzer smoke runs (clang build in build-fuzz/),
# every unit and integration test (build/), then the same tests again built
# with AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/).
set -euo pipefail
cd "$(dirname "$0")"

./run.sh --build
./run.sh --test-deps

jobs=$(nproc 2>/dev/null || echo 2)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEEDBANK_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$jobs"
ctest --test-dir build-fuzz --output-on-failure -j "$jobs"

ctest --test-dir build --output-on-failure -j "$jobs"

# The whole suite again under ASan+UBSan (leaks included). A report fails
# the test that caused it.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEEDBANK_SANITIZE=ON -DSEEDBANK_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"
