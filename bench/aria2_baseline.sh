#!/usr/bin/env bash
# aria2_baseline.sh FILE: seconds for aria2c to fetch FILE from another
# aria2c on 127.0.0.1 (a v1 torrent made by transmission-create, peers found
# through a local opentracker). The fetch benchmark's second reference.
# Needs aria2, opentracker and transmission-cli (Debian packages).
set -euo pipefail
file=$(readlink -f "$1")
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
mkdir -p "$work/seed" "$work/dl" "$work/ot"
ln "$file" "$work/seed/model" 2>/dev/null || cp "$file" "$work/seed/model"
transmission-create -o "$work/x.torrent" -s 4096 -t "http://127.0.0.1:$port/announce" "$work/seed/model" >/dev/null
transmission-show "$work/x.torrent" | awk '/Hash/ {print $NF; exit}' > "$work/ot/wl.txt"
chmod 755 "$work/ot"; chmod 644 "$work/ot/wl.txt"
opentracker -i 127.0.0.1 -p "$port" -P "$port" -w /wl.txt -u nobody -d "$work/ot" >/dev/null 2>&1 & pids+=($!)
aria2c --dir="$work/seed" -V --seed-ratio=0 --seed-time=30 --enable-dht=false --bt-enable-lpd=false \
  --listen-port=$((port + 1)) --quiet=true "$work/x.torrent" >/dev/null 2>&1 & pids+=($!)
sleep 3  # the seeder checks its file and announces
start=$(date +%s.%N)
timeout 300 aria2c --dir="$work/dl" --seed-time=0 --enable-dht=false --bt-enable-lpd=false \
  --listen-port=$((port + 2)) --quiet=true --file-allocation=none "$work/x.torrent" >/dev/null 2>&1
end=$(date +%s.%N)
cmp -s "$work/dl/model" "$file" || { echo "aria2_baseline.sh: the download differs" >&2; exit 1; }
echo "$end $start" | awk '{printf "%.3f\n", $1 - $2}'
