#!/usr/bin/env bash
# Whole-process benchmark of the native swarm: N live viewers of a 256 kbps variant with 2 s segments,
# the origin in a separate process on loopback. Prints RSS per viewer above a 1-viewer base, CPU per
# request, CPU per GB and per 1,000 requests, and the same for wrk fetching the same segment over
# keep-alive (the floor). The swarm's and the origin's CPU per request are printed for the whole run and
# for its steady state (from 5 s after the ramp to 3 s before the end, when that is at least 10 s), since
# the ramp's connects and first fetches cost more per request than the viewers' steady reloads and segments.
# With `tls` or `h2`, Debian's nginx terminates TLS (and HTTP/2) in front of the origin and the swarm
# goes through it (`h2`: with --http2); wrk then fetches over TLS too.
# With `fmp4`, the same run is then repeated against a second origin serving CMAF fMP4 with audio as its
# own rendition (`--container fmp4 --audio-rendition`: each viewer plays a video and an audio track),
# and both sets of figures are printed, TS first.
# With `nginx`, the plain run is then repeated against Debian's nginx serving the same live stream as
# files (a loop copies each new segment, then the playlist, from the origin four times a second), so the
# origin's CPU per request on the swarm's mix is printed next to nginx's on the same mix.
# With PROCESSES above 1 (plain only), the origin serves from that many worker processes (`--workers`)
# and the swarm runs as that many shards on this machine (`--shard i/P`, one `--start-at`), each process
# with its own open-file limit; the shards' reports are merged (`report merge`), their CPU and RSS added
# up, and the origin's CPU is its workers' together.
# Usage: [RAMP=viewers/s] [THREADS=per shard] scripts/bench-swarm.sh [VIEWERS] [SECONDS] [plain|tls|h2|fmp4|nginx] [PROCESSES]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-5000}
secs=${2:-60}
mode=${3:-plain}
procs=${4:-1}
ramp=${RAMP:-500}  # viewers started a second
threads=()  # THREADS=N: viewer threads of each shard (the default is per process, blind to the other shards)
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
case $mode in plain|tls|h2|fmp4|nginx) ;; *) echo "mode must be plain, tls, h2, fmp4 or nginx, not '$mode'" >&2; exit 2;; esac
case $procs in [1-9]) ;; *) echo "PROCESSES must be 1 to 9, not '$procs'" >&2; exit 2;; esac
if [ "$procs" -gt 1 ] && [ "$mode" != plain ]; then echo "PROCESSES above 1 needs mode plain" >&2; exit 2; fi
forms=false
if [ "$mode" = fmp4 ]; then forms=true; mode=plain; fi
mirror=false
if [ "$mode" = nginx ]; then mirror=true; mode=plain; fi
need=()
if $mirror && [ ! -x /usr/sbin/nginx ]; then need+=(nginx); fi
command -v curl >/dev/null || need+=(curl)
command -v pgrep >/dev/null || need+=(procps)
if [ "$mode" != plain ]; then
  [ -x /usr/sbin/nginx ] || need+=(nginx)
  command -v openssl >/dev/null || need+=(openssl)
fi
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/bin/time ] || need+=(time)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
ulimit -n "$(ulimit -Hn)"  # 2 connections per viewer
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/hls-swarm  # where cargo build put it
work=$(mktemp -d)
$bin origin --listen 127.0.0.1:0 --variants 240p:256k --segment-duration 2 --window 10 --workers "$procs" \
  >"$work/origin" 2>/dev/null &
origin=$!
nginx=""
copier=""
trap 'kill $origin $nginx $copier 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
base="$(head -1 "$work/origin")"
flags=()
if [ "$mode" != plain ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout "$work/key.pem" \
    -out "$work/cert.pem" 2>/dev/null
  h2=""; [ "$mode" = h2 ] && h2=" http2"
  upstream=${base#http://}; upstream=${upstream%/}
  cat >"$work/nginx.conf" <<CONF
master_process off;
daemon off;
worker_rlimit_nofile 30000;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 25000; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  keepalive_requests 100000;
  upstream origin { server $upstream; keepalive 64; }
  server {
    listen 127.0.0.1:$port ssl$h2;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
  /usr/sbin/nginx -c "$work/nginx.conf" -p "$work" -e "$work/error.log" &
  nginx=$!
  for _ in $(seq 50); do curl -sk -o /dev/null "https://127.0.0.1:$port/" && break; sleep 0.1; done
  base="https://localhost:$port/"
  flags=(--resolve 127.0.0.1 --insecure --dangerous)
  [ "$mode" = h2 ] && flags+=(--http2)
fi
url="${base}master.m3u8"

# field NAME FILE: a value from GNU time -v output
field() { grep -F "$1" "$2" | awk -F': ' '{print $2}'; }
cpu() { echo "$(field 'User time' "$1") + $(field 'System time' "$1")" | bc -l; }
# requests and bytes from a report
total() { python3 -c "import json,sys; r=json.load(open('$1')); print(sum(k['$2'] for k in r['requests'].values()))"; }

swarm() { # VIEWERS SECONDS NAME [PROCESSES]: PROCESSES shards (NAME-s0.err ...) merged into NAME.json
  local p=${4:-1}
  if [ "$p" -eq 1 ]; then
    /usr/bin/time -v $bin run "$url" "${flags[@]}" --variant first --clients "$1" --ramp-rate "$ramp" --duration "$2" \
      --report "$work/$3.json" >"$work/$3.out" 2>"$work/$3.err"
    return
  fi
  local i pids=()
  for i in $(seq 0 $((p - 1))); do
    /usr/bin/time -v $bin run "$url" --variant first --clients "$1" --ramp-rate "$ramp" --duration "$2" \
      --shard "$i/$p" "${threads[@]}" --start-at +3s --metrics-addr none --report "$work/$3-s$i.json" \
      >"$work/$3-s$i.out" 2>"$work/$3-s$i.err" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  $bin report merge "$work"/"$3"-s*.json -o "$work/$3.json" >/dev/null
}
# sum_field NAME PATTERN: a GNU time field added up over the files matching PATTERN
sum_field() { local f t=0; for f in $2; do t=$(echo "$t + $(field "$1" "$f")" | bc -l); done; echo "$t"; }
# tree_cpu PID: CPU seconds so far (user + system) of a process and its children (the origin's workers,
# nginx's), from /proc
tree_cpu() {
  local p t=0
  for p in "$1" $(pgrep -P "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t / $(getconf CLK_TCK)" | bc -l
}
# pids_cpu PID...: tree_cpu added up over processes
pids_cpu() { local p t=0; for p in "$@"; do t=$(echo "$t + $(tree_cpu "$p")" | bc -l); done; echo "$t"; }
origin_cpu() { tree_cpu "$origin"; }
# origin_served BASE_URL: requests the origin has answered, from its /metrics
origin_served() { curl -s "${1}metrics" | awk '/^hls_origin_requests_total\{/{n += $2} END {print n}'; }
# steady NAME ORIGIN_BASE_URL: while the run NAME is on, the CPU per request of its swarm processes and of
# the origin from 5 s after the ramp's end to 3 s before the run's, so without the ramp's connects and
# first fetches and without the shutdown; printed when that window is at least 10 s long
steady() {
  local from=$(( (viewers + ramp - 1) / ramp + 5 )) to=$((secs - 3)) lead=0 pids s0 s1 o0 o1 r0 r1
  [ $((to - from)) -ge 10 ] || return 0
  [ "$procs" -gt 1 ] && lead=3  # the shards' --start-at
  sleep $((from + lead))
  # no swarm process found (the run ended early): no steady-state line, and the benchmark goes on
  pids=$(pgrep -f "^$bin run .*--report $work/$1[.-]") || return 0
  s0=$(pids_cpu $pids); o0=$(origin_cpu); r0=$(origin_served "$2")
  sleep $((to - from))
  s1=$(pids_cpu $pids); o1=$(origin_cpu); r1=$(origin_served "$2")
  echo "swarm ($1): steady state, s $from to $to of the run: $((r1 - r0)) requests;" \
    "swarm $(echo "($s1 - $s0) * 1000000 / ($r1 - $r0)" | bc -l | cut -c1-5) us per request," \
    "origin $(echo "($o1 - $o0) * 1000000 / ($r1 - $r0)" | bc -l | cut -c1-5) us per request"
}
measure() { # NAME ORIGIN_BASE_URL: the 1-viewer base run, the load run, and their figures
  swarm 1 10 "$1-base"
  ocpu0=$(origin_cpu); oreq0=$(origin_served "$2")
  steady "$1" "$2" >"$work/$1.steady" &
  local sampler=$!
  swarm "$viewers" "$secs" "$1" "$procs"
  wait "$sampler"
  ocpu1=$(origin_cpu); oreq1=$(origin_served "$2")
  base_kb=$(field 'Maximum resident set size' "$work/$1-base.err")
  if [ "$procs" -eq 1 ]; then
    load_kb=$(field 'Maximum resident set size' "$work/$1.err"); c=$(cpu "$work/$1.err")
  else # each shard's RSS above its own 1-viewer base, and the shards' CPU, added up
    load_kb=$(( $(sum_field 'Maximum resident set size' "$work/$1-s*.err") - (procs - 1) * base_kb ))
    c=$(echo "$(sum_field 'User time' "$work/$1-s*.err") + $(sum_field 'System time' "$work/$1-s*.err")" | bc -l)
    echo "swarm ($1): $procs shards on this machine, the origin with --workers $procs"
  fi
  reqs=$(total "$work/$1.json" count)
  bytes=$(total "$work/$1.json" bytes)
  errs=$(python3 -c "import json; r=json.load(open('$work/$1.json')); print(sum(r['errors'].values()), r['playback']['stall_count'], r['segments']['downloaded'], {k: v['count'] for k, v in r['requests'].items()})")
  echo "swarm ($1): $viewers viewers, ${secs}s: requests $reqs, body bytes $bytes, (errors stalls segments by-kind) $errs"
  conns=$(curl -s "${2}metrics" | awk '/^hls_origin_connections_total /{print $2}')
  echo "swarm ($1): the origin accepted $conns connections"
  [ "$mode" = plain ] && echo "origin ($1): CPU $(echo "$ocpu1 - $ocpu0" | bc -l | cut -c1-6) s for $((oreq1 - oreq0)) requests ->" \
    "$(echo "($ocpu1 - $ocpu0) * 1000000 / ($oreq1 - $oreq0)" | bc -l | cut -c1-5) us per request"
  echo "swarm ($1): max RSS $load_kb KiB, base (1 viewer) $base_kb KiB -> $(( (load_kb - base_kb) * 1024 / viewers )) bytes per viewer"
  cat "$work/$1.steady"
  python3 -c "import json; t=json.load(open('$work/$1.json'))['requests']['segment']['ttfb_ms']; print(f\"swarm ($1): segment TTFB p50 {t['p50']:.2f} p99 {t['p99']:.2f} max {t['max']:.1f} ms\")"
  python3 -c "import json; g=json.load(open('$work/$1.json'))['generator']; l=g['lateness_ms'] or {}; print(f\"swarm ($1): generator timer lateness p50 {l.get('p50', 0):.1f} p99 {l.get('p99', 0):.1f} max {l.get('max', 0):.1f} ms, saturated {g['saturated_seconds']:.0f} s in {g['saturated_episodes']} episode(s), {g['threads']} thread(s)\")"
  echo "swarm ($1): CPU $c s -> $(echo "$c * 1000000 / $reqs" | bc -l | cut -c1-6) us per request," \
    "$(echo "$c / ($bytes / 1000000000)" | bc -l | cut -c1-6) s per GB, $(echo "$c * 1000 / $reqs" | bc -l | cut -c1-6) s per 1,000 requests"
}
measure "$mode" "$(head -1 "$work/origin")"

seg=$(curl -s "$(head -1 "$work/origin")240p/stream.m3u8" | grep '^seg' | tail -1)
wurl="${base/localhost/127.0.0.1}240p/$seg"
/usr/bin/time -v wrk -t1 -c50 -d10s "$wurl" >"$work/wrk.out" 2>"$work/wrk.err"
wreqs=$(grep -oE '^ +[0-9]+ requests' "$work/wrk.out" | grep -oE '[0-9]+')
wsize=$(curl -sk -o /dev/null -w '%{size_download}' "$wurl")
wc=$(cpu "$work/wrk.err")
echo "wrk:   $wreqs requests of $wsize bytes, CPU $wc s -> $(echo "$wc * 1000000 / $wreqs" | bc -l | cut -c1-6) us per request," \
  "$(echo "$wc / ($wreqs * $wsize / 1000000000)" | bc -l | cut -c1-6) s per GB"

if $forms; then
  # CMAF fMP4 with audio as its own rendition, from a second origin process (the first one stops).
  kill $origin; wait $origin 2>/dev/null || true
  $bin origin --listen 127.0.0.1:0 --variants 240p:256k --segment-duration 2 --window 10 --container fmp4 \
    --audio-rendition >"$work/origin" 2>/dev/null &
  origin=$!
  for _ in $(seq 50); do [ -s "$work/origin" ] && break; sleep 0.1; done
  base="$(head -1 "$work/origin")"; url="${base}master.m3u8"
  measure fmp4-audio "$base"
fi

if $mirror; then
  # The origin's live stream as files, served by nginx: each new segment copied before the playlist
  # that lists it, each file renamed into place whole.
  obase="$(head -1 "$work/origin")"
  mkdir -p "$work/www/240p"
  curl -s -o "$work/www/master.m3u8" "${obase}master.m3u8"
  copy() {
    while true; do
      local pl seg
      pl=$(curl -s "${obase}240p/stream.m3u8")
      for seg in $(grep -v '^#' <<<"$pl"); do
        [ -e "$work/www/240p/$seg" ] && continue
        curl -s -o "$work/www/240p/.$seg" "${obase}240p/$seg" && mv "$work/www/240p/.$seg" "$work/www/240p/$seg"
      done
      printf '%s\n' "$pl" >"$work/www/240p/.stream.m3u8" && mv "$work/www/240p/.stream.m3u8" "$work/www/240p/stream.m3u8"
      chmod -R a+rX "$work/www"
      sleep 0.25
    done
  }
  copy &
  copier=$!
  chmod 755 "$work"  # nginx's workers run as nobody
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$work/nginx.conf" <<CONF
worker_processes $(nproc);
worker_rlimit_nofile 30000;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 25000; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
  /usr/sbin/nginx -c "$work/nginx.conf" -p "$work" -e "$work/error.log" &
  nginx=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/240p/stream.m3u8" && break; sleep 0.1; done
  url="http://127.0.0.1:$port/master.m3u8"
  n0=$(tree_cpu "$nginx")
  swarm "$viewers" "$secs" nginx "$procs"
  n1=$(tree_cpu "$nginx")
  reqs=$(total "$work/nginx.json" count)
  errs=$(python3 -c "import json; r=json.load(open('$work/nginx.json')); print(sum(r['errors'].values()), r['playback']['stall_count'], {k: v['count'] for k, v in r['requests'].items() if v['count']})")
  echo "swarm (nginx): $viewers viewers, ${secs}s: requests $reqs, (errors stalls by-kind) $errs"
  if [ "$procs" -eq 1 ]; then c=$(cpu "$work/nginx.err"); else
    c=$(echo "$(sum_field 'User time' "$work/nginx-s*.err") + $(sum_field 'System time' "$work/nginx-s*.err")" | bc -l); fi
  echo "swarm (nginx): CPU $c s -> $(echo "$c * 1000000 / $reqs" | bc -l | cut -c1-6) us per request"
  echo "nginx (the same stream as files): CPU $(echo "$n1 - $n0" | bc -l | cut -c1-6) s for the swarm's $reqs requests ->" \
    "$(echo "($n1 - $n0) * 1000000 / $reqs" | bc -l | cut -c1-5) us per request"
fi
