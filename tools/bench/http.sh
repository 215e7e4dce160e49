#!/usr/bin/env bash
# HTTP/1.1 proxy benchmark (issue 4): keep-alive GETs of a 1 KiB file from an NGINX upstream,
# measured in one run with the same client and the same upstream:
#   direct  - no proxy (the client talks to the upstream)
#   remora  - one worker (--concurrency 1), static bootstrap, HCM + router
#   haproxy - HAProxy 2.6, nbthread 1, mode http, http-reuse always
#   nginx   - NGINX as a reverse proxy, worker_processes 1, upstream keepalive
# Latency: a constant request rate (tools/bench/http_load.cc) far below saturation; added
# latency = the proxy's percentile minus the direct path's, the median of --rounds rounds taking
# turns; the p50s are also compared round by round. CPU: wrk at saturation; the proxy's
# user+system CPU-seconds per 1,000 requests. With two cores the client side (wrk and the
# upstream) saturates about when the proxy does, and a proxy that finishes its work sooner then
# sleeps and wakes more, which is charged to its CPU: so CPU is also measured at a fixed high
# rate (--cpu-rate, default 20,000 req/s, below every path's saturation), where every proxy
# does the same work at the same pace. --h2 adds h2load over h2c (prior knowledge)
# through remora and through nghttpx (one worker) to the same HTTP/1.1 upstream, --sat-rounds
# rounds taking turns, the median round by CPU per request.
# --resilience adds remora-res: the same remora with a retry policy (5xx, reset,
# connect-failure; 2 retries; per-try timeout; previous-hosts predicate) and outlier detection
# on the cluster, to price that machinery when nothing fails (issue 5's target: under 5%).
# Circuit breakers are on in both (Envoy's defaults always apply).
#   tools/bench/http.sh [--rate RPS] [--connections N] [--duration S] [--rounds N]
#                       [--sat-duration S] [--sat-connections N] [--sat-rounds N] [--h2]
#                       [--resilience] [--cpu-rate RPS]
#                       [--only direct,remora,haproxy,nginx]
# Pinning (BENCH_PIN=0 turns it off): the proxy under test on CPU 1; the client, wrk and the
# upstream on CPU 0. REMORA_BIN runs that binary instead of building $REMORA_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
args=("$@")
RATE=2000 CONNS=20 DURATION=8 ROUNDS=7 SAT_DURATION=15 SAT_CONNS=50 SAT_ROUNDS=3 ONLY=direct,remora,haproxy,nginx H2=0 RES=0 CPU_RATE=20000
while [ $# -gt 0 ]; do
  case $1 in
    --rate) RATE=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --sat-duration) SAT_DURATION=$2; shift 2 ;;
    --sat-connections) SAT_CONNS=$2; shift 2 ;;
    --sat-rounds) SAT_ROUNDS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --h2) H2=1; shift ;;
    --resilience) RES=1; shift ;;
    --cpu-rate) CPU_RATE=$2; shift 2 ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "${args[@]}"

# Peers and tools from Debian; the proxy's own dependencies come from tools/setup.sh.
need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v g++ >/dev/null || need+=(g++)
command -v h2load >/dev/null || need+=(nghttp2-client)
[ "$H2" = 1 ] && ! command -v nghttpx >/dev/null && need+=(nghttp2-proxy)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
if [ -z "${REMORA_BIN:-}" ]; then
  tools/setup.sh >/dev/null
  build=${REMORA_BUILD_DIR:-$root/build}
  cmake -S . -B "$build" -G Ninja >/dev/null
  cmake --build "$build" --target remora >/dev/null
  REMORA_BIN=$build/proxy/remora
fi

work=$(mktemp -d /tmp/remora-http-bench.XXXXXX)
chmod 755 "$work"  # NGINX workers run as nobody and serve the file from here
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${BENCH_KEEP:-}" ] && echo "http.sh: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A copy, so that a rebuild during the run does not change (or truncate) the binary under test.
cp "$REMORA_BIN" "$work/remora"
g++ -std=c++20 -O2 -o "$work/http_load" tools/bench/http_load.cc

if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  ON_CLIENT=(taskset -c 0) ON_PROXY=(taskset -c 1) PIN="proxy on CPU 1; client, wrk and upstream on CPU 0"
else
  ON_CLIENT=() ON_PROXY=() PIN="not pinned"
fi

# A port nothing listens on now. Never SO_REUSEPORT in our configs: a process elsewhere on the
# machine that listens with it would silently share the port with us.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_listen PORT PID: until PID (or a child of it) listens on 127.0.0.1:PORT.
wait_listen() {
  local i
  for i in $(seq 200); do
    kill -0 "$2" 2>/dev/null || { echo "http.sh: process $2 exited before listening on $1" >&2; return 1; }
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$2," && return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$(pgrep -P "$2" | head -1)," && return 0
    sleep 0.05
  done
  echo "http.sh: nothing of process $2 listens on port $1" >&2
  return 1
}
# CPU ticks (user + system) of PID and its children (NGINX's master and worker).
cpu_ticks() {
  local t=0 p v
  for p in "$1" $(pgrep -P "$1"); do
    v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }  # field NAME "a=1 b=2"
HZ=$(getconf CLK_TCK)

# --- Upstream: NGINX, one worker, a static 1 KiB file, keep-alive without limits ---
UP=$(free_port)
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/1k"
cat >"$work/upstream.conf" <<CFG
worker_processes 1;
daemon off;
pid $work/upstream.pid;
error_log $work/upstream.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/u-body;
  proxy_temp_path $work/u-proxy;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  open_file_cache max=16;
  server {
    listen 127.0.0.1:$UP backlog=4096;
    root $work;
    location / { }
  }
}
CFG
"${ON_CLIENT[@]}" nginx -c "$work/upstream.conf" -p "$work" -e "$work/upstream.err" &
PIDS+=($!)
wait_listen "$UP" $!

# --- The proxies' configurations ---
write_configs() {  # write_configs PORT
  cat >"$work/remora.yaml" <<CFG
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: $1}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts: [{name: all, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: backend}}]}]
          http_filters: [{name: envoy.filters.http.router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    load_assignment: {cluster_name: backend, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $UP}}}}]}]}
CFG
  sed -e 's|route: {cluster: backend}|route: {cluster: backend, retry_policy: {retry_on: "5xx,reset,connect-failure", num_retries: 2, per_try_timeout: 5s, retry_host_predicate: [{name: envoy.retry_host_predicates.previous_hosts}]}}|' \
    -e 's|    connect_timeout: 1s|    connect_timeout: 1s\n    outlier_detection: {consecutive_5xx: 5, interval: 1s, base_ejection_time: 30s}|' \
    "$work/remora.yaml" >"$work/remora-res.yaml"
  cat >"$work/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn 4000  # HAProxy wants 2 descriptors per connection; the hard limit here is 20000
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
frontend bench
  bind 127.0.0.1:$1
  default_backend upstream
backend upstream
  server up 127.0.0.1:$UP
CFG
  cat >"$work/nginx.conf" <<CFG
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 10000; }
http {
  access_log off;
  client_body_temp_path $work/p-body;
  proxy_temp_path $work/p-proxy;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  upstream up {
    server 127.0.0.1:$UP;
    keepalive 128;
    keepalive_requests 100000000;
  }
  server {
    listen 127.0.0.1:$1 backlog=4096;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CFG
}

start_proxy() {  # start_proxy NAME PORT; sets PROXY_PID
  local name=$1 port=$2
  write_configs "$port"
  case $name in
    remora)
      rm -f "$work/admin"
      "${ON_PROXY[@]}" "$work/remora" --bootstrap "$work/remora.yaml" --concurrency 1 \
        --prometheus-address= --health-address= --admin-address 127.0.0.1:0 \
        --admin-address-path "$work/admin" --log-level "${BENCH_LOG:-warning}" \
        >"$work/remora.log" 2>&1 &
      ;;
    remora-res)
      "${ON_PROXY[@]}" "$work/remora" --bootstrap "$work/remora-res.yaml" --concurrency 1 \
        --prometheus-address= --health-address= --admin-address 127.0.0.1:0 \
        --log-level "${BENCH_LOG:-warning}" >"$work/remora-res.log" 2>&1 &
      ;;
    haproxy) "${ON_PROXY[@]}" haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 & ;;
    nginx) "${ON_PROXY[@]}" nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx.err" & ;;
    nghttpx)
      "${ON_PROXY[@]}" nghttpx --conf=/dev/null --single-thread --workers=1 \
        --frontend="127.0.0.1,$port;no-tls" --backend="127.0.0.1,$UP" \
        --errorlog-file="$work/nghttpx.err" --backend-keep-alive-timeout=300s &
      ;;
  esac
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  wait_listen "$port" "$PROXY_PID" ||
    { tail -n 5 "$work/$name".{log,err} >&2 2>/dev/null; exit 1; }
}
stop_proxy() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
admin_get() { curl -sS --max-time 5 "http://$(cat "$work/admin")$1"; }

# All proxies run at once, each on its own port (the idle ones cost nothing), so that the
# fixed-rate runs can take turns: ROUNDS rounds of direct, remora, haproxy, nginx, and each
# percentile is the median over the rounds. Drift on a shared machine then hits every path.
[ "$RES" = 1 ] && ONLY+=",remora-res"
IFS=, read -r -a paths <<<"$ONLY"
# The paths in round R's order: as given in odd rounds, reversed in even ones, so that no path
# always runs right after the same neighbour (or always first) and the order's effect cancels.
in_order() {
  local -n list=$2
  if (($1 % 2)); then printf '%s\n' "${list[@]}"; else printf '%s\n' "${list[@]}" | tac; fi
}
declare -A PORT PID LAT SAT NOTE RSS0 RSS1
for p in "${paths[@]}"; do
  if [ "$p" = direct ]; then
    PORT[$p]=$UP
  else
    PORT[$p]=$(free_port)
    start_proxy "$p" "${PORT[$p]}"
    PID[$p]=$PROXY_PID
  fi
  check=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:${PORT[$p]}/1k")
  [ "$check" = "200 1024" ] || { echo "http.sh: $p: check request gave '$check'" >&2; exit 1; }
  [ -n "${PID[$p]:-}" ] && RSS0[$p]=$(rss_kib "${PID[$p]}")
done

for r in $(seq "$ROUNDS"); do
  for p in $(in_order "$r" paths); do
    echo "http.sh: round $r/$ROUNDS: $p at $RATE req/s ..." >&2
    l=$("${ON_CLIENT[@]}" "$work/http_load" "127.0.0.1:${PORT[$p]}" /1k "$RATE" "$CONNS" "$DURATION" 2) || true
    LAT[$p]+="$l"$'\n'
  done
done
# median NAME: the median over the rounds of field NAME of the current path's runs.
median() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$LAT_P" | sort -g | awk '{v[NR] = $1} END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
total() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$LAT_P" | awk '{t += $1} END { print t + 0 }'; }

for p in "${paths[@]}"; do
  [ -n "${PID[$p]:-}" ] && RSS1[$p]=$(rss_kib "${PID[$p]}")
done
# Saturation, SAT_ROUNDS rounds taking turns like the rate runs: a busy neighbour on the
# machine then costs every proxy alike, and the median round is reported.
declare -A SATR
for r in $(seq "$SAT_ROUNDS"); do
  for p in $(in_order "$r" paths); do
    pid=${PID[$p]:-}
    echo "http.sh: round $r/$SAT_ROUNDS: $p at saturation ..." >&2
    c0=0 c1=0
    [ -n "$pid" ] && c0=$(cpu_ticks "$pid")
    w=$("${ON_CLIENT[@]}" wrk -t1 -c"$SAT_CONNS" -d"${SAT_DURATION}s" "http://127.0.0.1:${PORT[$p]}/1k")
    [ -n "$pid" ] && c1=$(cpu_ticks "$pid")
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<<"$w")
    secs=$(sed -n 's/^ *[0-9]* requests in \([0-9.]*\)\(m\?s\).*/\1 \2/p' <<<"$w" |
      awk '{print ($2 == "ms") ? $1 / 1000 : $1}')
    non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$w")
    sockerr=$(sed -n 's/.*Socket errors: *\(.*\)/\1/p' <<<"$w")
    SATR[$p]+="reqs=$reqs secs=$secs ticks=$((c1 - c0)) non2xx=${non2xx:-0}"$'\n'
    [ -n "$sockerr" ] && NOTE[$p]+=" wrk socket errors in round $r: $sockerr;"
    [ -n "$non2xx" ] && NOTE[$p]+=" wrk non-2xx in round $r: $non2xx;"
  done
done
# CPU at a fixed rate: the same rounds, each path in turn, with the constant-rate client.
declare -A FIXR FIXK
for r in $(seq "$SAT_ROUNDS"); do
  for p in $(in_order "$r" paths); do
    pid=${PID[$p]:-}
    [ -n "$pid" ] || continue
    echo "http.sh: round $r/$SAT_ROUNDS: $p at $CPU_RATE req/s for CPU ..." >&2
    c0=$(cpu_ticks "$pid")
    l=$("${ON_CLIENT[@]}" "$work/http_load" "127.0.0.1:${PORT[$p]}" /1k "$CPU_RATE" "$SAT_CONNS" "$SAT_DURATION" 0) || true
    c1=$(cpu_ticks "$pid")
    ok=$(field ok "$l")
    FIXR[$p]+="$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="${ok:-0}" 'BEGIN { printf "%.4f", (n > 0) ? t / hz / n * 1000 : 0 }') ok=${ok:-0} errors=$(field errors "$l") p50_us=$(field p50_us "$l")"$'\n'
  done
done
for p in "${paths[@]}"; do
  [ -n "${FIXR[$p]:-}" ] || continue
  FIXK[$p]=$(cut -d' ' -f1 <<<"${FIXR[$p]%$'\n'}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
done
# The median round by CPU per request (by throughput for the direct path).
for p in "${paths[@]}"; do
  SAT[$p]=$(awk '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%.12f %s\n", (v["ticks"] > 0) ? v["ticks"] / v["reqs"] : -v["reqs"], $0
    }' <<<"${SATR[$p]%$'\n'}" | sort -g | cut -d' ' -f2- |
    awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }')
done
for p in "${paths[@]}"; do
  pid=${PID[$p]:-}
  note=${NOTE[$p]:-}
  if [ -n "$pid" ]; then
    note+=" CPU-s per 1,000 by round: $(awk -v hz="$HZ" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%.4f ", v["ticks"] / hz / v["reqs"] * 1000 }' <<<"${SATR[$p]%$'\n'}");"
    note+=" RSS KiB at start/after the rate runs/after saturation ${RSS0[$p]}/${RSS1[$p]}/$(rss_kib "$pid");"
  fi
  if [ "$p" = remora ]; then
    stats=$(admin_get /stats || true)
    printf '%s\n' "$stats" >"$work/remora.stats"
    note+=" $(grep -E '^http\.bench\.downstream_(rq_(5xx|4xx|2xx|total)|cx_total|cx_active):' <<<"$stats" |
      tr '\n' ' ' | sed 's/http\.bench\.//g; s/: /=/g')"
    note+="$(grep -E '^cluster\.backend\.upstream_(cx_total|cx_active|rq_total|cx_destroy[a-z_]*):' <<<"$stats" |
      tr '\n' ' ' | sed 's/cluster\.backend\.//g; s/: /=/g')"
    [ -s "$work/remora.log" ] && note+=" log: $(head -c 300 "$work/remora.log" | tr '\n' ' ')"
  fi
  [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && note+=" PROCESS DIED;"
  NOTE[$p]=$note
done

# --- HTTP/2 (h2c with prior knowledge) through remora and nghttpx, saturation only ---
# SAT_ROUNDS rounds taking turns, like the HTTP/1.1 runs; the median round by CPU per request.
declare -A H2R H2PORT H2PID H2ROUNDS H2CPU
if [ "$H2" = 1 ]; then
  h2paths=()
  for p in remora nghttpx; do
    if [ "$p" = remora ] && [ -n "${PID[remora]:-}" ]; then
      port=${PORT[remora]} pid=${PID[remora]}
    else
      port=$(free_port)
      start_proxy "$p" "$port"
      pid=$PROXY_PID
    fi
    probe=$(h2load -n 20 -c 1 "http://127.0.0.1:$port/1k" 2>&1 || true)
    if ! grep -q '20 succeeded' <<<"$probe"; then
      H2R[$p]="skipped: $p has no HTTP/2 yet (h2load $(grep -m1 -E 'requests:|error|refused' <<<"$probe" | sed 's/^ *//'))"
      continue
    fi
    H2PORT[$p]=$port H2PID[$p]=$pid
    h2paths+=("$p")
  done
  for r in $(seq "$SAT_ROUNDS"); do
    for p in $(in_order "$r" h2paths); do
      echo "http.sh: h2 round $r/$SAT_ROUNDS: $p ..." >&2
      c0=$(cpu_ticks "${H2PID[$p]}")
      # No --warm-up-time: its CPU would be counted and its requests not (it added ~10%).
      out=$("${ON_CLIENT[@]}" h2load -c "$SAT_CONNS" -m 10 -D "$SAT_DURATION" \
        "http://127.0.0.1:${H2PORT[$p]}/1k" 2>&1)
      c1=$(cpu_ticks "${H2PID[$p]}")
      ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
      mean=$(awk '/^time for request:/ {print $5}' <<<"$out")
      H2ROUNDS[$p]+=$(awk -v ok="${ok:-0}" -v t=$((c1 - c0)) -v hz="$HZ" -v d="$SAT_DURATION" -v m="$mean" \
        'BEGIN { if (ok > 0) printf "%.4f %.0f %.0f %s\n", t / hz / ok * 1000, ok / d, t / hz / d * 100, m; else print "0 0 0 -" }')$'\n'
    done
  done
  for p in "${h2paths[@]}"; do
    # The median round by CPU per request: "cpu req/s core% mean".
    med=$(sed '/^$/d' <<<"${H2ROUNDS[$p]}" | sort -g | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }')
    read -r cpk rps core mean <<<"$med"
    H2CPU[$p]=$cpk
    H2R[$p]="$rps req/s, $cpk CPU-s per 1,000 requests, $core% of a core, mean request time $mean (h2load -c $SAT_CONNS -m 10; median of $SAT_ROUNDS rounds; CPU per 1,000 by round: $(sed '/^$/d' <<<"${H2ROUNDS[$p]}" | cut -d' ' -f1 | tr '\n' ' '))"
  done
fi

# --- Report ---
LAT_P=${LAT[direct]:-}
d50=$(median p50_us) d99=$(median p99_us)
echo
echo "HTTP/1.1 benchmark: $(date -u +%F), $(nproc) cores ($(uname -r)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools/bench/http.sh ${args[*]}"
echo "GET 1 KiB, keep-alive; fixed rate $RATE req/s over $CONNS connections for ${DURATION}s (after 2 s warm-up),"
echo "$ROUNDS rounds taking turns, median of the rounds' percentiles;"
echo "saturation: wrk -t1 -c$SAT_CONNS -d${SAT_DURATION}s, $SAT_ROUNDS rounds taking turns, the median round by CPU per request;"
echo "fixed-rate CPU: $CPU_RATE req/s over $SAT_CONNS connections for ${SAT_DURATION}s, $SAT_ROUNDS rounds taking turns, the median; $PIN"
echo
echo "| path       | p50 µs | p90 µs | p99 µs | max µs | added p50 µs | added p99 µs | sat. req/s | proxy CPU % | CPU-s per 1,000 req | at $CPU_RATE req/s |"
echo "| ---------- | -----: | -----: | -----: | -----: | -----------: | -----------: | ---------: | ----------: | ------------------: | ---------: |"
declare -A ADD50 ADD99 CPUK
for p in "${paths[@]}"; do
  LAT_P=${LAT[$p]}
  s=${SAT[$p]}
  p50=$(median p50_us) p90=$(median p90_us) p99=$(median p99_us) mx=$(median max_us)
  reqs=$(field reqs "$s") secs=$(field secs "$s") ticks=$(field ticks "$s")
  a50="–" a99="–" cpu="–" cpk="–"
  if [ "$p" != direct ] && [ -n "$d50" ]; then
    a50=$(awk -v a="$p50" -v b="$d50" 'BEGIN { printf "%.1f", a - b }')
    a99=$(awk -v a="$p99" -v b="$d99" 'BEGIN { printf "%.1f", a - b }')
    ADD50[$p]=$a50
    ADD99[$p]=$a99
  fi
  if [ "$p" != direct ]; then
    cpu=$(awk -v t="$ticks" -v hz="$HZ" -v s="$secs" 'BEGIN { printf "%.0f", t / hz / s * 100 }')
    cpk=$(awk -v t="$ticks" -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.4f", t / hz / n * 1000 }')
    CPUK[$p]=$cpk
  fi
  rps=$(awk -v n="$reqs" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  printf '| %-10s | %6s | %6s | %6s | %6s | %12s | %12s | %10s | %11s | %19s | %10s |\n' \
    "$p" "$p50" "$p90" "$p99" "$mx" "$a50" "$a99" "$rps" "$cpu" "$cpk" "${FIXK[$p]:-–}"
done
echo
for p in "${paths[@]}"; do
  LAT_P=${LAT[$p]}
  echo "$p: rate runs: $(total ok) ok, $(total non2xx) non-2xx, $(total errors) errors, $(total late) waited for their connection; p50 by round: $(sed -n 's/.*p50_us=\([^ ]*\).*/\1/p' <<<"$LAT_P" | tr '\n' ' ')µs; saturation (median round): ${SAT[$p]};${FIXR[$p]:+ at $CPU_RATE req/s by round: $(tr '\n' ';' <<<"${FIXR[$p]%$'\n'}")}${NOTE[$p]}"
done
# CPU per 1,000 requests of each saturation round (a SATR entry), one per line.
sat_cpu() { awk -v hz="$HZ" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  if (v["reqs"] > 0) printf "%.5f\n", v["ticks"] / hz / v["reqs"] * 1000 }' <<<"${1%$'\n'}"; }
# paired_ratios PEER FILE_REMORA FILE_PEER: round by round, remora's CPU per request over the
# peer's from the same round (the paths take turns, so a round's figures share the machine's
# state); the ratios, their median, and in how many rounds remora used less or the same.
paired_ratios() {
  local ratios med
  ratios=$(paste "$2" "$3" | awk '$1 > 0 && $2 > 0 { printf "%.3f\n", $1 / $2 }')
  [ -n "$ratios" ] || return 0
  med=$(sort -g <<<"$ratios" | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
  echo "  paired by round, remora / $1: $(tr '\n' ' ' <<<"$ratios"); median $med; remora lower or equal in $(awk '$1 <= 1' <<<"$ratios" | wc -l) of $(wc -l <<<"$ratios") rounds"
}
if [ -n "${ADD50[remora]:-}${CPUK[remora]:-}" ]; then
  best() {  # best MAPNAME: the lower of haproxy's and nginx's value, with the name
    local -n m=$1
    local b="" bn="" q
    for q in haproxy nginx; do
      [ -n "${m[$q]:-}" ] || continue
      if [ -z "$b" ] || awk -v x="${m[$q]}" -v y="$b" 'BEGIN { exit !(x < y) }'; then b=${m[$q]} bn=$q; fi
    done
    echo "$b $bn"
  }
  read -r b bn <<<"$(best ADD50)"
  [ -n "$b" ] && [ -n "${ADD50[remora]:-}" ] && echo "target added p50: remora ${ADD50[remora]} µs vs $bn $b µs: $(awk -v r="${ADD50[remora]}" -v b="$b" 'BEGIN { print (r <= b) ? "met" : "NOT met" }')"
  # The same comparison round by round: the paths take turns, so a round's p50s share the
  # machine's state, and their difference cancels what drifts between rounds.
  if [ -n "$b" ] && [ -n "${LAT[remora]:-}" ]; then
    diffs=$(paste <(sed -n 's/.*p50_us=\([^ ]*\).*/\1/p' <<<"${LAT[remora]}") \
      <(sed -n 's/.*p50_us=\([^ ]*\).*/\1/p' <<<"${LAT[$bn]}") | awk '{ printf "%+.1f\n", $1 - $2 }')
    med=$(sort -g <<<"$diffs" | awk '{ v[NR] = $1 } END { printf "%+.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    echo "paired by round, remora's p50 minus $bn's: $(tr '\n' ' ' <<<"$diffs")µs; median $med µs; remora lower or equal in $(awk '$1 <= 0' <<<"$diffs" | wc -l) of $(wc -l <<<"$diffs") rounds"
  fi
  read -r b bn <<<"$(best CPUK)"
  [ -n "$b" ] && [ -n "${CPUK[remora]:-}" ] && echo "target CPU per request: remora ${CPUK[remora]} vs $bn $b CPU-s per 1,000 (ratio $(awk -v r="${CPUK[remora]}" -v b="$b" 'BEGIN { printf "%.2f", r / b }')): $(awk -v r="${CPUK[remora]}" -v b="$b" 'BEGIN { print (r <= b) ? "met" : "NOT met" }')"
  [ -n "$b" ] && [ -n "${SATR[remora]:-}" ] &&
    paired_ratios "$bn" <(sat_cpu "${SATR[remora]}") <(sat_cpu "${SATR[$bn]}")
  read -r b bn <<<"$(best FIXK)"
  [ -n "$b" ] && [ -n "${FIXK[remora]:-}" ] && echo "target CPU per request at $CPU_RATE req/s: remora ${FIXK[remora]} vs $bn $b CPU-s per 1,000 (ratio $(awk -v r="${FIXK[remora]}" -v b="$b" 'BEGIN { printf "%.2f", r / b }')): $(awk -v r="${FIXK[remora]}" -v b="$b" 'BEGIN { print (r <= b) ? "met" : "NOT met" }')"
  [ -n "$b" ] && [ -n "${FIXR[remora]:-}" ] &&
    paired_ratios "$bn" <(cut -d' ' -f1 <<<"${FIXR[remora]%$'\n'}") <(cut -d' ' -f1 <<<"${FIXR[$bn]%$'\n'}")
fi
if [ -n "${CPUK[remora-res]:-}" ] && [ -n "${CPUK[remora]:-}" ]; then
  echo
  echo "resilience machinery when nothing fails (remora-res vs remora): CPU per request ratio $(awk -v r="${CPUK[remora-res]}" -v b="${CPUK[remora]}" 'BEGIN { printf "%.3f", r / b }'), added p99 ${ADD99[remora-res]} vs ${ADD99[remora]} µs; target: under 5% more CPU: $(awk -v r="${CPUK[remora-res]}" -v b="${CPUK[remora]}" 'BEGIN { print (r <= b * 1.05) ? "met" : "NOT met" }')"
fi
if [ "$H2" = 1 ]; then
  echo
  for p in remora nghttpx; do echo "h2 $p: ${H2R[$p]}"; done
  [ -n "${H2CPU[remora]:-}" ] && [ -n "${H2CPU[nghttpx]:-}" ] &&
    echo "h2 CPU per request, remora / nghttpx: $(awk -v r="${H2CPU[remora]}" -v b="${H2CPU[nghttpx]}" 'BEGIN { printf "%.2f", r / b }')" &&
    paired_ratios nghttpx <(sed '/^$/d' <<<"${H2ROUNDS[remora]}" | cut -d' ' -f1) <(sed '/^$/d' <<<"${H2ROUNDS[nghttpx]}" | cut -d' ' -f1)
fi
