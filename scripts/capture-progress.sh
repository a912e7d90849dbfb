#!/usr/bin/env bash
# Captures FFmpeg's -progress output against the built-in origin, for the parser and health tests in
# tests/ffmpeg_progress.rs. Writes tests/data/ffmpeg-<version>-*.txt:
#   live.txt      verbatim -progress bytes of a live stream with 1 s segments, read for 15 s;
#   live.timed    the same run's lines, each prefixed with its arrival time in ms ("1234 key=value");
#   nomedia.txt   verbatim -progress bytes of a reader that outputs nothing (-ss 600 as an output option
#                 drops every packet): media time stays 0, speed is "   0x" with spaces, N/A values.
# Usage: scripts/capture-progress.sh   (needs ffmpeg and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q
version=$(ffmpeg -version | head -1 | awk '{print $3}' | cut -d. -f1,2)
out=tests/data/ffmpeg-$version
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

origin() { # NAME ARGS...: starts an origin, sets $url to its base URL
  "${CARGO_TARGET_DIR:-target}"/debug/hls-swarm origin --listen 127.0.0.1:0 "${@:2}" >"$work/$1" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$work/$1" ] && break; sleep 0.1; done
  url=$(head -1 "$work/$1")
}
stamp() { python3 -c '
import sys, time
t0 = time.monotonic()
for line in sys.stdin:
    print(int((time.monotonic() - t0) * 1000), line.rstrip("\n"), flush=True)'; }

origin live --segment-duration 1 --variants 360p:800k
timeout -s INT 15 ffmpeg -nostdin -hide_banner -nostats -loglevel warning -i "${url}360p/stream.m3u8" \
  -c copy -f null - -progress pipe:1 2>/dev/null | tee "$out-live.txt" | stamp >"$out-live.timed" || true

timeout -s INT 4 ffmpeg -nostdin -hide_banner -nostats -loglevel warning -i "${url}360p/stream.m3u8" \
  -c copy -ss 600 -f null - -progress pipe:1 >"$out-nomedia.txt" 2>/dev/null || true
wc -l "$out"-*
