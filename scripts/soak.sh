#!/usr/bin/env bash
# Soak: VIEWERS live viewers of a 256 kbps variant with 2 s segments for MINUTES, the origin in a separate
# process on loopback. Samples the swarm's RSS every 30 s (printed as a curve, and flat-or-not after the
# ramp), and at the end compares the report's requests and body bytes per kind with what the origin
# says it served (its /metrics), which must be equal.
# Usage: scripts/soak.sh [VIEWERS] [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-5000}
minutes=${2:-30}
command -v curl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; }
ulimit -n "$(ulimit -Hn)"
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/hls-swarm
work=$(mktemp -d)
$bin origin --listen 127.0.0.1:0 --variants 240p:256k --segment-duration 2 --window 10 >"$work/origin" 2>/dev/null &
origin=$!
swarm=""
trap 'kill $origin $swarm 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
base="$(head -1 "$work/origin")"

$bin run "${base}master.m3u8" --variant first --clients "$viewers" --ramp-rate 500 --duration "${minutes}m" \
  --no-tui --metrics-addr none --report "$work/soak.json" >"$work/soak.out" 2>"$work/soak.err" &
swarm=$!
start=$(date +%s)
: >"$work/rss"
while kill -0 $swarm 2>/dev/null; do
  rss=$(awk '/^VmRSS:/{print $2}' "/proc/$swarm/status" 2>/dev/null || true)
  [ -n "$rss" ] && echo "$(( $(date +%s) - start )) $rss" >>"$work/rss"
  sleep 30
done
wait $swarm || echo "soak: the run exited with $?" >&2
curl -s "${base}metrics" >"$work/origin.metrics"

python3 - "$work" "$viewers" <<'PY'
import json, re, sys
work, viewers = sys.argv[1], int(sys.argv[2])
r = json.load(open(f"{work}/soak.json"))
served, bytes_ = {}, {}
for line in open(f"{work}/origin.metrics"):
    m = re.match(r'hls_origin_requests_total\{kind="(\w+)",variant="[^"]*",status="[^"]*"\} (\d+)', line)
    if m:
        served[m[1]] = served.get(m[1], 0) + int(m[2])
    m = re.match(r'hls_origin_response_body_bytes_total\{kind="(\w+)",variant="[^"]*"\} (\d+)', line)
    if m:
        bytes_[m[1]] = bytes_.get(m[1], 0) + int(m[2])
rows = [tuple(map(int, l.split())) for l in open(f"{work}/rss") if l.strip()]
print("soak: RSS (seconds, MiB):", " ".join(f"{t}:{kb / 1024:.1f}" for t, kb in rows))
after = [kb for t, kb in rows if t >= 180]
if after:
    lo, hi = min(after), max(after)
    print(f"soak: from 3 min on RSS {lo / 1024:.1f} to {hi / 1024:.1f} MiB ({(hi - lo) * 100 / lo:.1f} % apart), "
          f"{hi * 1024 / viewers:.0f} bytes per viewer at the most")
equal = True
for kind, k in sorted(r["requests"].items()):
    if k["count"] == 0 and served.get(kind, 0) == 0:
        continue
    same = k["count"] == served.get(kind, 0) and k["bytes"] == bytes_.get(kind, 0)
    equal &= same
    print(f"soak: {kind}: swarm {k['count']} requests {k['bytes']} bytes, origin {served.get(kind, 0)} requests "
          f"{bytes_.get(kind, 0)} bytes {'equal' if same else 'DIFFERENT'}")
errors = sum(v for c, v in r["errors"].items() if c != "abandoned")
g = r["generator"]
print(f"soak: errors {errors}, stalls {r['playback']['stall_count']}, segments {r['segments']['downloaded']}, "
      f"{r['segments']['bytes'] / 1e9:.1f} GB, generator saturated {g['saturated_seconds']:.0f} s, "
      f"counts {'equal to the origin' if equal else 'NOT equal to the origin'}")
PY
