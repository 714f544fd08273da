#!/usr/bin/env bash
# devnet.sh N [--stop]: N seedbank nodes on 127.0.0.1 (see bootstrap/README.md).
set -euo pipefail
n=${1:?usage: devnet.sh N [--stop]}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SEEDBANK:-$root/build/node/seedbank}
dir=${DEVNET_DIR:-${TMPDIR:-/tmp}/seedbank-devnet}
if [ "${2:-}" = "--stop" ]; then
  for ((i = 0; i < n; i++)); do
    [ -f "$dir/node$i.pid" ] && kill "$(cat "$dir/node$i.pid")" 2>/dev/null || true
    rm -f "$dir/node$i.pid"
  done
  echo "devnet: stopped $n nodes"
  exit 0
fi
[ -x "$bin" ] || { echo "devnet: $bin not found; run ./run.sh --build first" >&2; exit 1; }
mkdir -p "$dir"
for ((i = 0; i < n; i++)); do
  args=(--data-dir "$dir/node$i" --network devnet node --listen "127.0.0.1:$((7400 + i))"
        --bt-listen "127.0.0.1:$((6880 + i))" --http "127.0.0.1:$((7480 + i))" --no-dht --no-lan --no-port-mapping
        --sync-interval 2000)
  [ "$i" -gt 0 ] && args+=(--bootstrap 127.0.0.1:7400)
  "$bin" "${args[@]}" >"$dir/node$i.log" 2>&1 &
  echo $! >"$dir/node$i.pid"
done
# Wait until every node answers on its control socket.
for ((i = 0; i < n; i++)); do
  for _ in $(seq 100); do
    "$bin" --data-dir "$dir/node$i" status >/dev/null 2>&1 && break
    sleep 0.1
  done
done
echo "devnet: $n nodes in $dir (gossip 127.0.0.1:7400..$((7400 + n - 1)), network 'devnet')"
echo "  seedbank --data-dir $dir/node0 --network devnet peers"
echo "  bootstrap/devnet.sh $n --stop"
