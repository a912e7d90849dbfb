#!/usr/bin/env bash
# The built-in origin in-process (`hls-swarm run` without a URL) against the same origin in a process
# of its own (`hls-swarm origin`), same ladder and viewers: with its own runtime the in-process origin
# must time like the separate one. Prints, for each, errors, stalls and segment TTFB p50/p99.
# Runs ROUNDS rounds, the two setups one after the other in each, and prints every run and the median
# p99 of each setup: on a 2-core machine one run's p99 can be several times another's.
# Usage: scripts/bench-embedded.sh [VIEWERS] [SECONDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-5000}
secs=${2:-60}
rounds=${3:-3}
ulimit -n "$(ulimit -Hn)"
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/hls-swarm  # where cargo build put it
work=$(mktemp -d)
origin=""
trap 'kill $origin 2>/dev/null; rm -rf "$work"' EXIT

summary() { # NAME REPORT
  python3 - "$1" "$2" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
seg = r["requests"]["segment"]
t = seg["ttfb_ms"] or {}
print(f"{name}: requests {sum(k['count'] for k in r['requests'].values())}, segments {seg['count']}, "
      f"errors {sum(r['errors'].values())}, stalls {r['playback']['stall_count']}, "
      f"segment TTFB p50 {t.get('p50', 0):.3f} ms, p99 {t.get('p99', 0):.3f} ms")
PY
}

flags=(--clients "$viewers" --ramp-rate 500 --duration "${secs}s" --no-tui --metrics-addr none)
for round in $(seq "$rounds"); do
  $bin origin --listen 127.0.0.1:0 >"$work/origin" 2>/dev/null &
  origin=$!
  for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
  $bin run "$(head -1 "$work/origin")master.m3u8" "${flags[@]}" --report "$work/separate-$round.json" >/dev/null \
    2>"$work/separate-$round.err"
  kill $origin; wait $origin 2>/dev/null || true; origin=""
  $bin run "${flags[@]}" --report "$work/embedded-$round.json" >/dev/null 2>"$work/embedded-$round.err"
  summary "round $round, origin in its own process" "$work/separate-$round.json"
  summary "round $round, origin in-process (no URL)" "$work/embedded-$round.json"
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def p99(name):
    return statistics.median(json.load(open(f"{work}/{name}-{r}.json"))["requests"]["segment"]["ttfb_ms"]["p99"]
                             for r in range(1, rounds + 1))
s, e = p99("separate"), p99("embedded")
print(f"median segment TTFB p99: own process {s:.3f} ms, in-process {e:.3f} ms, ratio {e / s:.2f}")
PY
