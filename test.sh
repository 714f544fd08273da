#!/usr/bin/env bash
# ./test.sh — installs what is missing, checks the code's format and names, builds,
# and runs the whole test suite through ctest: the libFuzzer smoke runs
# (clang build in build-fuzz/), every unit and integration test (build/),
# then the tests not labelled `heavy` again built with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/).
set -euo pipefail
cd "$(dirname "$0")"
# As run.sh: ccache hits across clones in other folders (CI's).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

./run.sh --build
./run.sh --test-deps

# The format is .clang-format's, as Debian 12's clang-format 14 applies it:
# a file that differs fails the run (fix: clang-format -i FILE).
if [ -d .git ]; then
  mapfile -t sources < <(git ls-files '*.cpp' '*.h')
else
  mapfile -t sources < <(find bench indexer node protocol tests -name '*.cpp' -o -name '*.h')
fi
clang-format --dry-run --Werror "${sources[@]}" || {
  echo "test.sh: the files above differ from .clang-format; run clang-format -i on them" >&2
  exit 1
}

jobs=$(nproc 2>/dev/null || echo 2)

# .clang-tidy's checks: names (types CamelCase; functions, variables and
# namespaces lower_case; private members lower_case_; constants kCamelCase)
# and three bug patterns (use after move, dangling handles, needless
# copies), over node/ and the headers its files include (node, protocol,
# indexer): a warning fails the run. Uses build/'s compile commands (GCC's);
# clang 14 needs telling that Boost.Asio's coroutines are there.
mapfile -t tidy_sources < <(printf '%s\n' "${sources[@]}" | grep -E '^node/.*\.cpp$')
tidy_log=$(mktemp)
if ! printf '%s\n' "${tidy_sources[@]}" |
  xargs -P "$jobs" -n 4 clang-tidy -p build --quiet --warnings-as-errors='*' \
    --header-filter="$PWD/(node|protocol|indexer)/" \
    --extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT=1 --extra-arg=-DBOOST_ASIO_HAS_STD_COROUTINE=1 \
    >"$tidy_log" 2>/dev/null; then
  grep -E 'warning:|error:' "$tidy_log" >&2 || cat "$tidy_log" >&2
  echo "test.sh: clang-tidy found what .clang-tidy's checks forbid (above); rename or fix it" >&2
  exit 1
fi
rm -f "$tidy_log"

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEEDBANK_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$jobs"
ctest --test-dir build-fuzz --output-on-failure -j "$jobs"

ctest --test-dir build --output-on-failure -j "$jobs"

# The suite again under ASan+UBSan (leaks included), but for the tests
# labelled `heavy` (many processes, a browser, timing): those run in the
# plain build only. A report fails the test that caused it.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEEDBANK_SANITIZE=ON -DSEEDBANK_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE heavy
