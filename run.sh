#!/usr/bin/env bash
# ./run.sh [--build] [seedbank options...]
#
# Installs the Debian packages Seedbank needs (when missing), builds it
# (Release, incremental, in build/), then starts a node on the default data
# dir: `seedbank [options] node`. With --build it stops after building.
# test.sh uses the same steps.
set -euo pipefail
cd "$(dirname "$0")"

# Build and runtime dependencies (Debian 12 package names).
PACKAGES=(
  g++ cmake ninja-build pkg-config ccache git ca-certificates
  libtorrent-rasterbar-dev libboost-dev libboost-system-dev libboost-test-dev
  libsodium-dev liblmdb-dev libcapnp-dev capnproto libssl-dev openssl
  nlohmann-json3-dev zlib1g-dev libcli11-dev libgd-dev
)
# Only the test suite and benchmarks need these (fuzz targets build with
# clang; clang-format checks the style; the gallery is tested in Debian's
# Chromium; wrk loads the HTTP API).
TEST_PACKAGES=(clang libclang-rt-14-dev llvm clang-format clang-tidy aria2 opentracker chromium wrk)

install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "run.sh: installing ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ccache keys on paths relative to the checkout, so a fresh clone in
# another folder (CI's) reuses what an earlier build of the same code
# compiled.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

build() {
  local jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j "$jobs"
}

mode=run
if [ "${1:-}" = "--build" ]; then mode=build; shift; fi
if [ "${1:-}" = "--test-deps" ]; then
  install_packages "${TEST_PACKAGES[@]}"
  # Node.js for the browser test: Debian's, unless one is installed already.
  command -v node >/dev/null && command -v npm >/dev/null || install_packages nodejs npm
  # playwright-core, pinned by tests/browser/package-lock.json (it drives
  # Debian's chromium; no browser is downloaded).
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  exit 0
fi

install_packages "${PACKAGES[@]}"
build
[ "$mode" = build ] && exit 0
exec ./build/node/seedbank "$@" node
