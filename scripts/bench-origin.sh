#!/usr/bin/env bash
# Whole-process benchmark of the built-in origin with wrk over loopback (both on this machine): a
# 2.5 Mbps 2 s segment and the live media playlist, requests and bytes per second and the server's CPU per
# request; then the same two files, as the origin served them, from Debian's nginx (static files,
# sendfile, as a packager's output is served), for the ratio. Both servers get the machine's CPUs (the
# origin one worker thread per CPU, nginx one worker process per CPU); wrk runs beside them.
# Usage: scripts/bench-origin.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
cargo build --release -q
work=$(mktemp -d)
"${CARGO_TARGET_DIR:-target}"/release/hls-swarm origin --listen 127.0.0.1:0 --variants 720p:2500k --segment-duration 2 >"$work/out" 2>/dev/null &
pid=$!
nginx=""
trap 'kill $pid 2>/dev/null || true; [ -z "$nginx" ] || kill "$nginx" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/out" ] && break; sleep 0.1; done
base=$(head -1 "$work/out")
seq=$(curl -s "${base}720p/stream.m3u8" | grep '^seg' | tail -1)  # the newest: servable for 26 s
size=$(curl -s -o /dev/null -w '%{size_download}' "${base}720p/$seq")
echo "origin $base, segment $seq of $size bytes; wrk -t2 -c$conns -d${secs}s"

# CPU seconds (user + system) of the processes PIDS, from /proc.
cpu_of() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t / $(getconf CLK_TCK)" | bc -l; }
# bench NAME URL PIDS...: wrk against URL, the servers' CPU over the run
bench() {
  local name=$1 url=$2; shift 2
  local before after reqs
  before=$(cpu_of "$@")
  wrk -t2 -c"$conns" -d"${secs}s" "$url" >"$work/wrk" 2>&1
  after=$(cpu_of "$@")
  reqs=$(grep -oE '^ +[0-9]+ requests' "$work/wrk" | grep -oE '[0-9]+')
  local rps xfer non2xx
  rps=$(awk '/Requests\/sec/{print $2}' "$work/wrk")
  xfer=$(awk '/Transfer\/sec/{print $2}' "$work/wrk")
  non2xx=$(awk '/Non-2xx/{print $5}' "$work/wrk")
  echo "$name: ${rps} requests/s, ${xfer}/s, ${non2xx:-0} non-2xx; server CPU $(echo "($after - $before) * 1000000 / $reqs" | bc -l | cut -c1-5) us per request"
  echo "$rps" >"$work/rps.$name"
}
bench "origin segment" "${base}720p/$seq" $pid
bench "origin playlist" "${base}720p/stream.m3u8" $pid
echo "origin RSS after the run: $(ps -o rss= -p $pid) KiB"

# The same bytes from nginx: the playlist and the segment as the origin sent them, as files.
mkdir -p "$work/www/720p"
curl -s -o "$work/www/720p/stream.m3u8" "${base}720p/stream.m3u8"
curl -s -o "$work/www/720p/$seq" "${base}720p/$seq"
chmod 755 "$work" && chmod -R a+rX "$work/www"  # nginx's workers run as nobody
kill $pid; wait $pid 2>/dev/null || true
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/nginx.conf" <<CONF
worker_processes $(nproc);
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  open_file_cache max=100;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" -e "$work/error.log" &
nginx=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/720p/stream.m3u8" && break; sleep 0.1; done
pids="$nginx $(pgrep -d ' ' -P "$nginx")"  # the master and its workers
# shellcheck disable=SC2086
bench "nginx segment" "http://127.0.0.1:$port/720p/$seq" $pids
# shellcheck disable=SC2086
bench "nginx playlist" "http://127.0.0.1:$port/720p/stream.m3u8" $pids
for what in segment playlist; do
  echo "origin / nginx, $what: $(echo "$(cat "$work/rps.origin $what") / $(cat "$work/rps.nginx $what")" | bc -l | cut -c1-4)"
done
