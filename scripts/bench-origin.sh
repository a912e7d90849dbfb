#!/usr/bin/env bash
# Whole-process benchmark of the built-in origin with wrk over loopback (both on this machine):
# segment bytes per second for a 2.5 Mbps 2 s segment, and live media playlist requests per second.
# Usage: scripts/bench-origin.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q
out=$(mktemp)
"${CARGO_TARGET_DIR:-target}"/release/hls-swarm origin --listen 127.0.0.1:0 --variants 720p:2500k --segment-duration 2 >"$out" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
base=$(head -1 "$out")
seq=$(curl -s "${base}720p/stream.m3u8" | grep '^seg' | tail -1)  # the newest: servable for 26 s
size=$(curl -s -o /dev/null -w '%{size_download}' "${base}720p/$seq")
echo "origin $base, segment $seq of $size bytes; wrk -t2 -c$conns -d${secs}s"
echo "== segments"
wrk -t2 -c"$conns" -d"${secs}s" "${base}720p/$seq" | grep -E 'Requests/sec|Transfer/sec|Latency|Non-2xx|requests in'
echo "== live media playlist"
wrk -t2 -c"$conns" -d"${secs}s" "${base}720p/stream.m3u8" | grep -E 'Requests/sec|Transfer/sec|Latency|Non-2xx|requests in'
echo "== origin RSS after the run: $(ps -o rss= -p $pid) KiB"
