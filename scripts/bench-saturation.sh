#!/usr/bin/env bash
# Memory of a saturated swarm: N viewers of 0.5 s segments on one viewer thread, that thread's CPU shared
# with a busy loop (taskset, both on CPU 0; the origin in its own process on CPU 1), so the generator is
# late on purpose and every viewer's requests stay in flight; then the same run with CPU 0 to itself.
# Prints RSS per viewer, the generator's lateness and saturated seconds, for both.
# Usage: scripts/bench-saturation.sh [VIEWERS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-8000}
secs=${2:-40}
need=()
[ -x /usr/bin/time ] || need+=(time)
command -v taskset >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
ulimit -n "$(ulimit -Hn)"
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/hls-swarm
work=$(mktemp -d)
origin=""
busy=""
trap 'kill $origin $busy 2>/dev/null; rm -rf "$work"' EXIT
taskset -c 1 $bin origin --listen 127.0.0.1:0 --variants 240p:256k --segment-duration 0.5 --window 12 \
  >"$work/origin" 2>/dev/null &
origin=$!
for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
url="$(head -1 "$work/origin")master.m3u8"
field() { grep -F "$1" "$2" | awk -F': ' '{print $2}'; }
for mode in shared alone; do
  if [ "$mode" = shared ]; then
    taskset -c 0 sh -c 'while :; do :; done' &
    busy=$!
  fi
  taskset -c 0 /usr/bin/time -v $bin run "$url" --variant first --clients "$viewers" --ramp-rate 1000 --threads 1 \
    --duration "${secs}s" --metrics-addr none --report "$work/$mode.json" >/dev/null 2>"$work/$mode.err"
  if [ -n "$busy" ]; then kill $busy; wait $busy 2>/dev/null || true; busy=""; fi
  rss=$(field 'Maximum resident set size' "$work/$mode.err")
  python3 - "$work/$mode.json" "$mode" "$viewers" "$rss" <<'EOF'
import json, sys
r, mode, viewers, rss = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
g, seg = r["generator"], r["requests"]["segment"]
late = g["lateness_ms"] or {}
print(f"{mode}: {viewers} viewers: RSS {rss / 1024:.0f} MiB, {rss / viewers:.1f} KiB per viewer; "
      f"timer lateness p99 {late.get('p99', 0):.1f} ms, saturated {g['saturated_seconds']:.0f} s; "
      f"segments {seg['count']}, TTFB p50 {seg['ttfb_ms']['p50']:.1f} ms; stalls {r['playback']['stall_count']}")
EOF
done
