#!/usr/bin/env bash
# Whole-process benchmark of adaptive viewers with per-viewer networks: N native viewers of the built-in
# origin's default ladder (360p 800k, 720p 2.5M, 1080p 5M; 2 s segments; the origin in its own process
# on loopback), each pair of runs the same but for the viewers' links:
#   abr:   --variant abr, uncapped         against  --variant abr --network 3g:20%,4g:50%,cable:30%
#   first: --variant first (360p), uncapped against --variant first --network (the same bytes: the cost
#          of shaping alone)
# Prints for each run: requests, CPU per request (user + sys of the swarm), RSS per viewer above a
# 1-viewer run, stalls, switches, errors by class, and the capped run's CPU per request as a ratio of
# the uncapped one's.
# Usage: scripts/bench-abr.sh [VIEWERS] [SECONDS] [abr|first|both]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-2000}
secs=${2:-60}
pairs=${3:-both}
network="3g:20%,4g:50%,cable:30%"
need=()
[ -x /usr/bin/time ] || need+=(time)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
ulimit -n "$(ulimit -Hn)"
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/hls-swarm
work=$(mktemp -d)
$bin origin --listen 127.0.0.1:0 >"$work/origin" 2>/dev/null &
origin=$!
trap 'kill $origin 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
url="$(head -1 "$work/origin")master.m3u8"

field() { grep -F "$1" "$2" | awk -F': ' '{print $2}'; }
cpu() { echo "$(field 'User time' "$1") + $(field 'System time' "$1")" | bc -l; }

swarm() { # NAME VIEWERS SECONDS FLAGS...
  local name=$1 n=$2 s=$3; shift 3
  /usr/bin/time -v $bin run "$url" --clients "$n" --ramp-rate 500 --duration "$s" --no-tui --metrics-addr none \
    --report "$work/$name.json" "$@" >"$work/$name.out" 2>"$work/$name.err"
}

measure() { # NAME FLAGS...: prints the run's figures; leaves its CPU per request in $work/NAME.cpr
  local name=$1; shift
  swarm "$name-base" 1 10 "$@"
  swarm "$name" "$viewers" "$secs" "$@"
  python3 - "$work/$name.json" "$(cpu "$work/$name.err")" "$name" "$viewers" \
    "$(field 'Maximum resident set size' "$work/$name-base.err")" \
    "$(field 'Maximum resident set size' "$work/$name.err")" "$work/$name.cpr" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
cpu, name, viewers, base_kb, load_kb, out = float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
reqs = sum(k["count"] for k in report["requests"].values())
gb = sum(k["bytes"] for k in report["requests"].values()) / 1e9
p = report["playback"]
errors = {k: v for k, v in report["errors"].items() if v}
print(f"{name}: {viewers} viewers, {report['duration_seconds']:.0f} s: {reqs} requests, {gb:.2f} GB; "
      f"CPU {cpu:.2f} s -> {cpu * 1e6 / reqs:.1f} us per request; "
      f"RSS {(load_kb - base_kb) * 1024 / viewers / 1000:.1f} KB per viewer")
print(f"{name}: stalls {p['stall_count']}, switches up {p.get('switches_up', 0)} down {p.get('switches_down', 0)}, "
      f"errors {errors or 'none'}; segments by variant "
      f"{ {v['label']: v['requests']['segment']['count'] for v in report['variants']} }")
g = report["generator"]
print(f"{name}: generator timer lateness p99 {(g['lateness_ms'] or {}).get('p99', 0):.1f} ms, saturated {g['saturated_seconds']:.0f} s")
open(out, "w").write(f"{cpu * 1e6 / reqs}")
PY
}

ratio() { echo "$1: capped / uncapped CPU per request = $(echo "$(cat "$work/$3.cpr") / $(cat "$work/$2.cpr")" | bc -l | cut -c1-5)"; }

if [ "$pairs" != first ]; then
  measure abr --variant abr
  measure abr-network --variant abr --network "$network"
  ratio abr abr abr-network
fi
if [ "$pairs" != abr ]; then
  measure first --variant first
  measure first-network --variant first --network "$network"
  ratio first first first-network
fi
