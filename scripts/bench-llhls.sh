#!/usr/bin/env bash
# Whole-process benchmark of LL-HLS viewers: N native viewers of the built-in origin in low-latency mode
# (200 ms parts, 1 s segments, three rungs; the origin in a separate process on loopback), once over
# HTTP/1.1 and once over h2c (--http2-prior-knowledge). Prints for each: requests per second, CPU per
# request, RSS per viewer above a 1-viewer run, live latency p50/p99, stalls and errors, and the report's
# requests per kind next to what the origin counted over the same run, and whether they are equal (when
# not: a hinted part asked for after it was made is a `part` to the origin, and the script says how many).
# Usage: scripts/bench-llhls.sh [VIEWERS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-2000}
secs=${2:-60}
need=()
[ -x /usr/bin/time ] || need+=(time)
command -v bc >/dev/null || need+=(bc)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
ulimit -n "$(ulimit -Hn)"  # 2 connections per viewer over HTTP/1.1
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/hls-swarm  # where cargo build put it
work=$(mktemp -d)
$bin origin --listen 127.0.0.1:0 --variants 240p:256k,360p:600k,480p:900k --segment-duration 1 --window 10 \
  --low-latency --part-duration 200ms >"$work/origin" 2>/dev/null &
origin=$!
trap 'kill $origin 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
base="$(head -1 "$work/origin")"
url="${base}master.m3u8"

field() { grep -F "$1" "$2" | awk -F': ' '{print $2}'; }
cpu() { echo "$(field 'User time' "$1") + $(field 'System time' "$1")" | bc -l; }
# The origin's requests per kind, summed over variants and statuses, as JSON.
served() {
  curl -s "${base}metrics" | python3 -c '
import json, re, sys
out = {}
for line in sys.stdin:
    m = re.match(r"hls_origin_requests_total\{([^}]*)\} (\S+)", line)
    if m:
        kind = re.search(r"kind=\"([^\"]*)\"", m.group(1)).group(1)
        out[kind] = out.get(kind, 0) + int(float(m.group(2)))
print(json.dumps(out))'
}

swarm() { # NAME VIEWERS SECONDS FLAGS...
  local name=$1 n=$2 s=$3; shift 3
  /usr/bin/time -v $bin run "$url" --variant first --clients "$n" --ramp-rate 500 --duration "$s" --no-tui --metrics-addr none \
    --report "$work/$name.json" "$@" >"$work/$name.out" 2>"$work/$name.err"
}

measure() { # NAME FLAGS...
  local name=$1; shift
  swarm "$name-base" 1 10 "$@"
  served >"$work/$name-before.json"
  swarm "$name" "$viewers" "$secs" "$@"
  served >"$work/$name-after.json"
  local base_kb load_kb c
  base_kb=$(field 'Maximum resident set size' "$work/$name-base.err")
  load_kb=$(field 'Maximum resident set size' "$work/$name.err")
  c=$(cpu "$work/$name.err")
  python3 - "$work/$name.json" "$work/$name-before.json" "$work/$name-after.json" "$c" "$name" "$viewers" \
    "$base_kb" "$load_kb" <<'PY'
import json, sys
report, before, after = (json.load(open(p)) for p in sys.argv[1:4])
cpu, name, viewers, base_kb, load_kb = float(sys.argv[4]), sys.argv[5], int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
reqs = sum(k["count"] for k in report["requests"].values())
secs = report["duration_seconds"]
lat = report["playback"].get("live_latency_ms") or {}
mine = {k: v["count"] for k, v in report["requests"].items() if v["count"]}
origin = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) - before.get(k, 0)}
origin.pop("other", None)  # this script's own scrapes of /metrics
print(f"{name}: {viewers} viewers, {secs:.0f} s: {reqs} requests ({reqs / secs:.0f}/s), "
      f"errors {sum(report['errors'].values())}, stalls {report['playback']['stall_count']}")
print(f"{name}: CPU {cpu:.2f} s -> {cpu * 1e6 / reqs:.1f} us per request; "
      f"RSS {(load_kb - base_kb) * 1024 / viewers / 1000:.1f} KB per viewer")
print(f"{name}: live latency p50 {lat.get('p50', float('nan')):.0f} ms, p99 {lat.get('p99', float('nan')):.0f} ms")
print(f"{name}: requests by kind {mine}")
print(f"{name}: origin counted  {origin}")
print(f"{name}: by kind: {'equal' if mine == origin else 'DIFFERENT'}")
if mine != origin:
    # A hinted part the viewer asked for after it was made is `part` to the origin (a viewer behind).
    merge = lambda d: {**{k: v for k, v in d.items() if k not in ("part", "preload_hint")},
                       "part+preload_hint": d.get("part", 0) + d.get("preload_hint", 0)}
    late = origin.get("part", 0) - mine.get("part", 0)
    print(f"{name}: parts and hinted parts together: {'equal' if merge(mine) == merge(origin) else 'DIFFERENT'}"
          f" ({late} hinted parts asked for after the origin made them)")
PY
}

measure http1
measure h2c --http2-prior-knowledge
