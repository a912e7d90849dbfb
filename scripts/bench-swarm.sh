#!/usr/bin/env bash
# Whole-process benchmark of the native swarm: N live viewers of a 256 kbps variant with 2 s segments,
# the origin in a separate process on loopback. Prints RSS per viewer above a 1-viewer base, CPU per
# request, CPU per GB and per 1,000 requests, and the same for wrk fetching the same segment over
# keep-alive (the floor).
# Usage: scripts/bench-swarm.sh [VIEWERS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-5000}
secs=${2:-60}
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/bin/time ] || need+=(time)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
ulimit -n "$(ulimit -Hn)"  # 2 connections per viewer
cargo build --release -q
bin=./target/release/hls-swarm
work=$(mktemp -d)
$bin origin --listen 127.0.0.1:0 --variants 240p:256k --segment-duration 2 --window 10 >"$work/origin" 2>/dev/null &
origin=$!
trap 'kill $origin 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
url="$(head -1 "$work/origin")master.m3u8"

# field NAME FILE: a value from GNU time -v output
field() { grep -F "$1" "$2" | awk -F': ' '{print $2}'; }
cpu() { echo "$(field 'User time' "$1") + $(field 'System time' "$1")" | bc -l; }
# requests and bytes from a report
total() { python3 -c "import json,sys; r=json.load(open('$1')); print(sum(k['$2'] for k in r['requests'].values()))"; }

swarm() { # VIEWERS SECONDS NAME
  /usr/bin/time -v $bin run "$url" --clients "$1" --ramp-rate 500 --duration "$2" --report "$work/$3.json" \
    >"$work/$3.out" 2>"$work/$3.err"
}
swarm 1 10 base
swarm "$viewers" "$secs" load
base_kb=$(field 'Maximum resident set size' "$work/base.err")
load_kb=$(field 'Maximum resident set size' "$work/load.err")
reqs=$(total "$work/load.json" count)
bytes=$(total "$work/load.json" bytes)
errs=$(python3 -c "import json; r=json.load(open('$work/load.json')); print(sum(r['errors'].values()), r['playback']['stall_count'], r['segments']['downloaded'])")
c=$(cpu "$work/load.err")
echo "swarm: $viewers viewers, ${secs}s: requests $reqs, body bytes $bytes, (errors stalls segments) $errs"
conns=$(curl -s "$(head -1 "$work/origin")metrics" | awk '/^hls_origin_connections_total /{print $2}')
echo "swarm: the origin accepted $conns connections (2 runs: 1 + $viewers viewers, and their preflights)"
echo "swarm: max RSS $load_kb KiB, base (1 viewer) $base_kb KiB -> $(( (load_kb - base_kb) * 1024 / viewers )) bytes per viewer"
echo "swarm: CPU $c s -> $(echo "$c * 1000000 / $reqs" | bc -l | cut -c1-6) us per request," \
  "$(echo "$c / ($bytes / 1000000000)" | bc -l | cut -c1-6) s per GB, $(echo "$c * 1000 / $reqs" | bc -l | cut -c1-6) s per 1,000 requests"

seg=$(curl -s "$(head -1 "$work/origin")240p/stream.m3u8" | grep '^seg' | tail -1)
/usr/bin/time -v wrk -t1 -c50 -d10s "$(head -1 "$work/origin")240p/$seg" >"$work/wrk.out" 2>"$work/wrk.err"
wreqs=$(grep -oE '^ +[0-9]+ requests' "$work/wrk.out" | grep -oE '[0-9]+')
wsize=$(curl -s -o /dev/null -w '%{size_download}' "$(head -1 "$work/origin")240p/$seg")
wc=$(cpu "$work/wrk.err")
echo "wrk:   $wreqs requests of $wsize bytes, CPU $wc s -> $(echo "$wc * 1000000 / $wreqs" | bc -l | cut -c1-6) us per request," \
  "$(echo "$wc / ($wreqs * $wsize / 1000000000)" | bc -l | cut -c1-6) s per GB"
