#!/usr/bin/env bash
# The figures a plan for a big sharded run rests on (README, "A plan for 1,000,000 viewers"), measured on
# this machine with the origin in its own process on loopback:
#  1. one shard of N viewers of a 5 Mbit/s rendition (6 s segments, as CDNs serve them) for S seconds:
#     the swarm's CPU per GB received and per viewer, RSS per viewer, bytes per second;
#  2. what one shard gives Prometheus: the series of its /metrics at the end of the ramp, for a
#     three-rung ladder played by ABR (the default);
#  3. the report: its size, and the share that grows with the run (one timeline point a second);
#  4. `report merge` of K copies of that report as shards 0..K-1, as measured and with its timeline
#     stretched to an hour (3,600 points, its own repeated): time and peak RSS.
# Usage: scripts/bench-shard.sh [VIEWERS] [SECONDS] [SHARDS_TO_MERGE]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-400}
secs=${2:-60}
copies=${3:-250}
need=()
[ -x /usr/bin/time ] || need+=(time)
command -v bc >/dev/null || need+=(bc)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
ulimit -n "$(ulimit -Hn)"
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/hls-swarm
work=$(mktemp -d)
origin=""
trap 'kill $origin 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
field() { grep -F "$1" "$2" | awk -F': ' '{print $2}'; }
cpu() { echo "$(field 'User time' "$1") + $(field 'System time' "$1")" | bc -l; }

# 1 and 3: one rendition of 5 Mbit/s, every viewer on it.
$bin origin --listen 127.0.0.1:0 --variants 1080p:5M --segment-duration 6 --window 6 >"$work/origin" 2>/dev/null &
origin=$!
for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
url="$(head -1 "$work/origin")master.m3u8"
/usr/bin/time -v $bin run "$url" --clients 1 --duration 10s --metrics-addr none --report "$work/base.json" \
  >/dev/null 2>"$work/base.err"
/usr/bin/time -v $bin run "$url" --clients "$viewers" --ramp-rate 100 --duration "${secs}s" --metrics-addr none \
  --shard 0/1 --report "$work/shard.json" >/dev/null 2>"$work/shard.err"
c=$(cpu "$work/shard.err")
base_kb=$(field 'Maximum resident set size' "$work/base.err")
load_kb=$(field 'Maximum resident set size' "$work/shard.err")
python3 - "$work/shard.json" "$c" "$viewers" "$secs" "$base_kb" "$load_kb" <<'EOF'
import json, sys
path, cpu, viewers, secs, base_kb, load_kb = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
r = json.load(open(path))
got = sum(k["bytes"] for k in r["requests"].values())
errors, stalls = sum(r["errors"].values()), r["playback"]["stall_count"]
print(f"shard: {viewers} viewers of 5 Mbit/s for {secs} s: {got / 1e9:.2f} GB, {got * 8 / secs / 1e9:.2f} Gbit/s on average, "
      f"{errors} errors, {stalls} stalls")
print(f"shard: CPU {cpu:.1f} s -> {cpu / (got / 1e9):.3f} s per GB, {cpu / secs / viewers * 1000:.3f} ms of CPU per viewer-second; "
      f"RSS {load_kb / 1024:.1f} MiB, {(load_kb - base_kb) * 1024 / viewers / 1024:.1f} KiB per viewer above 1 viewer")
text = open(path).read()
hist = sum(len(v) for v in r["histograms"].values()) + sum(len(x) for v in r["variants"] for x in v.get("histograms", {}).values())
points = len(r["timeline"])
timeline = sum(len(json.dumps(p)) for p in r["timeline"])
print(f"report: {len(text)} bytes; histograms {hist} bytes; timeline {points} points, {timeline / max(points, 1):.0f} bytes each")
EOF
kill $origin; wait $origin 2>/dev/null || true

# 2: a ladder of three, ABR, the exporter scraped at the end of the ramp.
$bin origin --listen 127.0.0.1:0 --segment-duration 2 >"$work/origin" 2>/dev/null &
origin=$!
for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
port=$(free_port)
$bin run "$(head -1 "$work/origin")master.m3u8" --clients 50 --ramp-rate 50 --duration 12s \
  --metrics-addr "127.0.0.1:$port" --shard 0/1 >/dev/null 2>&1 &
run=$!
sleep 8
curl -s "127.0.0.1:$port/metrics" >"$work/metrics"
wait $run
series=$(grep -cv '^#' "$work/metrics")
bytes=$(wc -c <"$work/metrics")
echo "prometheus: one shard exposes $series series ($bytes bytes a scrape), three-rung ladder, ABR"
grep -v '^#' "$work/metrics" | sed 's/[{ ].*//' | sort | uniq -c | sort -rn | head -5 | sed 's/^/prometheus:   /'

# 4: K shards' reports merged, as run and an hour long.
for hours in 0 1; do
  rm -f "$work"/part-*.json
  python3 - "$work/shard.json" "$work" "$copies" "$hours" <<'EOF'
import json, sys
path, work, k, hours = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r = json.load(open(path))
if hours:
    points = r["timeline"]
    r["timeline"] = [dict(points[i % len(points)], t=i + 1) for i in range(3600 * hours)]
    r["duration_seconds"] = 3600 * hours
for i in range(k):
    r["shard"] = {"index": i, "count": k, "host": f"pod-{i}"}
    with open(f"{work}/part-{i:04d}.json", "w") as f:
        json.dump(r, f)
EOF
  /usr/bin/time -v $bin report merge "$work"/part-*.json -o "$work/all.json" 2>"$work/merge.err" >/dev/null
  long=$([ "$hours" = 1 ] && echo "1 h (timeline stretched)" || echo "${secs} s")
  echo "merge: $copies shard reports of $long ($(du -ch "$work"/part-*.json | tail -1 | cut -f1) in all) in" \
    "$(field 'Elapsed (wall clock)' "$work/merge.err"), peak RSS $(( $(field 'Maximum resident set size' "$work/merge.err") / 1024 )) MiB;" \
    "merged report $(wc -c <"$work/all.json") bytes"
done
