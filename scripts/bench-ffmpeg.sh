#!/usr/bin/env bash
# Whole-process benchmark of the FFmpeg engine next to the native one: N viewers of the built-in origin
# (a separate process on loopback, default ladder, --variant first: 360p at 800 kbps, 2 s segments) for
# SECONDS each. Prints, per engine: segments and throughput per minute (they must keep growing), report
# bytes against the origin's own /metrics (they must be equal), and CPU and memory per viewer in the
# steady state after the ramp (hls-swarm itself, and its FFmpeg processes: RSS and PSS, the latter
# sharing the libraries' pages fairly between processes).
# Usage: scripts/bench-ffmpeg.sh [VIEWERS] [SECONDS] [ENGINES]   e.g. scripts/bench-ffmpeg.sh 50 300 "ffmpeg native"
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-250}
secs=${2:-300}
engines=${3:-"ffmpeg native"}
ramp=5
command -v ffmpeg >/dev/null || { echo "bench-ffmpeg.sh: needs ffmpeg (scripts/test.sh installs it)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/hls-swarm  # where cargo build put it
work=$(mktemp -d)
$bin origin --listen 127.0.0.1:0 >"$work/origin" 2>/dev/null &
origin=$!
trap 'kill $origin 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
base=$(head -1 "$work/origin")
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GB;" \
  "$(ffmpeg -version | head -1 | cut -d' ' -f1-3)"
echo "origin $base; $viewers viewers, ramp $ramp/s, ${secs}s per engine"

# origin_bytes: playlist and segment body bytes the origin has served so far (its /metrics; kind "other"
# holds the /metrics responses themselves)
origin_bytes() {
  curl -s "${base}metrics" | awk '/^hls_origin_response_body_bytes_total/ && !/kind="other"/ {s+=$2} END{printf "%.0f\n", s}'
}

for engine in $engines; do
  before=$(origin_bytes)
  $bin run "${base}master.m3u8" --engine "$engine" --variant first --clients "$viewers" --ramp-rate $ramp --duration "${secs}s" \
    --report "$work/$engine.json" >"$work/$engine.out" 2>"$work/$engine.err" &
  pid=$!
  python3 scripts/bench_sample.py "$pid" >"$work/$engine.samples" &
  sampler=$!
  wait $pid
  wait $sampler || true
  after=$(origin_bytes)
  echo "== engine $engine"
  grep -E '^hls-swarm: ffmpeg processes' "$work/$engine.err" || true
  python3 scripts/bench_sample.py --summary "$work/$engine.samples" "$work/$engine.json" "$viewers" \
    $(( viewers / ramp + 20 )) $(( secs - 2 )) $(( after - before ))
done
