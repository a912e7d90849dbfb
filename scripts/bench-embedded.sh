#!/usr/bin/env bash
# The built-in origin in-process (`hls-swarm run` without a URL) against the same origin in a process
# of its own (`hls-swarm origin`), same ladder and viewers: with its own runtime the in-process origin
# must time like the separate one. Prints, for each, errors, stalls and segment TTFB p50/p99, and how much
# CPU other work took during the run (other processes, and steal on a VM): on a 2-core machine a build
# running next to the benchmark makes p99 a hundred times worse, so such runs are marked `disturbed`.
# Runs ROUNDS rounds, the two setups one after the other in each, each run started once the machine has
# been quiet for 5 s (waits up to 10 minutes), and prints the median p99 of each setup over the rounds in
# which neither run was disturbed (and over all rounds).
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
hz=$(getconf CLK_TCK)
cores=$(nproc)

busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; } # user nice system irq softirq steal
quiet() { # waits until the machine used less than a fifth of a core for 5 s
  for i in $(seq 120); do
    local a; a=$(busy); sleep 5
    [ $(( ($(busy) - a) * 100 / (5 * hz) )) -lt 20 ] && return
    [ "$i" = 1 ] && echo "bench-embedded: waiting for a quiet machine" >&2
  done
  echo "bench-embedded: the machine stayed busy for 10 minutes; running anyway" >&2
}
run() { # NAME URL...: one swarm run; writes NAME.json and NAME.cpu (seconds of CPU the swarm used)
  local name=$1; shift
  /usr/bin/time -f '%U %S' -o "$work/$name.time" $bin run "$@" "${flags[@]}" --variant first --report "$work/$name.json" \
    >/dev/null 2>"$work/$name.err"
  awk '{print $1 + $2}' "$work/$name.time" >"$work/$name.cpu"
}
summary() { # NAME REPORT OTHERS_CPU_SECONDS
  python3 - "$@" "$secs" "$cores" <<'PY'
import json, sys
name, path, others, secs, cores = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = json.load(open(path))
seg = r["requests"]["segment"]
t = seg["ttfb_ms"] or {}
disturbed = others > 0.05 * cores * secs
print(f"{name}: requests {sum(k['count'] for k in r['requests'].values())}, segments {seg['count']}, "
      f"errors {sum(r['errors'].values())}, stalls {r['playback']['stall_count']}, "
      f"segment TTFB p50 {t.get('p50', 0):.3f} ms, p99 {t.get('p99', 0):.3f} ms; "
      f"other work {others:.1f} CPU-s{' (disturbed)' if disturbed else ''}")
PY
}

flags=(--clients "$viewers" --ramp-rate 500 --duration "${secs}s" --no-tui --metrics-addr none)
for round in $(seq "$rounds"); do
  quiet
  before=$(busy)
  $bin origin --listen 127.0.0.1:0 >"$work/origin" 2>/dev/null &
  origin=$!
  for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
  run "separate-$round" "$(head -1 "$work/origin")master.m3u8"
  origin_cpu=$(awk -v hz="$hz" '{print ($14 + $15) / hz}' "/proc/$origin/stat")
  kill $origin; wait $origin 2>/dev/null || true; origin=""
  echo "$(( $(busy) - before )) $hz $origin_cpu $(cat "$work/separate-$round.cpu")" |
    awk '{print $1 / $2 - $3 - $4}' >"$work/separate-$round.others"
  quiet
  before=$(busy)
  run "embedded-$round"
  echo "$(( $(busy) - before )) $hz $(cat "$work/embedded-$round.cpu")" | awk '{print $1 / $2 - $3}' \
    >"$work/embedded-$round.others"
  for setup in separate embedded; do
    label=$([ $setup = separate ] && echo "origin in its own process" || echo "origin in-process (no URL)")
    summary "round $round, $label" "$work/$setup-$round.json" "$(cat "$work/$setup-$round.others")"
  done
done
python3 - "$work" "$rounds" "$secs" "$cores" <<'PY'
import json, statistics, sys
work, rounds, secs, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def p99(name, r):
    return json.load(open(f"{work}/{name}-{r}.json"))["requests"]["segment"]["ttfb_ms"]["p99"]
def quiet(r):
    return all(float(open(f"{work}/{n}-{r}.others").read()) <= 0.05 * cores * secs for n in ("separate", "embedded"))
for label, chosen in (("all rounds", range(1, rounds + 1)), ("undisturbed rounds", [r for r in range(1, rounds + 1) if quiet(r)])):
    if not chosen:
        print(f"median segment TTFB p99 over {label}: none")
        continue
    s, e = (statistics.median(p99(n, r) for r in chosen) for n in ("separate", "embedded"))
    print(f"median segment TTFB p99 over {label} ({len(chosen)}): own process {s:.3f} ms, in-process {e:.3f} ms, "
          f"ratio {e / s:.2f}")
PY
