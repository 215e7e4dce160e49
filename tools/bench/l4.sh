#!/usr/bin/env bash
# L4 benchmark: the same two-pod setup as the demo, a TCP stream and a request/response
# ping-pong from pod A to pod B, measured three ways in one run:
#   direct  - no proxy (the client runs as UID 1337 and B's port 9001 is not captured)
#   remora  - through A's outbound and B's inbound remora (one worker each)
#   haproxy - the same through HAProxy in TCP mode (one thread each), as the peer
# Reports throughput, round-trip percentiles, proxy CPU per GiB, and RSS per idle connection.
#   tools/bench/l4.sh [stream MiB, default 2048] [round trips, default 20000]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
MIB=${1:-2048}
RTS=${2:-20000}
[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"
tools/setup.sh >/dev/null
command -v haproxy >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null
build=${REMORA_BUILD_DIR:-$root/build}
cmake -S . -B "$build" -G Ninja >/dev/null
cmake --build "$build" --target remora remora-init remora-tcp-bench >/dev/null

POD_A=remora-bench-a
POD_B=remora-bench-b
source tools/lib/pods.sh
work=$(mktemp -d /tmp/remora-bench.XXXXXX)
trap 'pods_down; rm -rf "$work"' EXIT INT TERM
pods_stage "$build" "$work"
pods_up "$work" --exclude-inbound-ports 9001
bench="$work/remora-tcp-bench"

ip netns exec "$POD_B" "$bench" server 0.0.0.0:9000 >/dev/null 2>&1 &
POD_PIDS+=($!)
ip netns exec "$POD_B" "$bench" server 0.0.0.0:9001 >/dev/null 2>&1 &
POD_PIDS+=($!)
wait_port "$POD_B" 9000
wait_port "$POD_B" 9001

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

cat >"$work/haproxy.cfg" <<'CFG'
global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend outbound
  bind 0.0.0.0:15001
  default_backend passthrough
backend passthrough
  # 0.0.0.0 with no port: the connection's original destination (SO_ORIGINAL_DST)
  server original 0.0.0.0
frontend inbound
  bind 0.0.0.0:15006
  default_backend app
backend app
  server app 127.0.0.1 source 127.0.0.6
CFG

results=()
run_case() {  # run_case LABEL PID_A PID_B CLIENT_PREFIX... -- PORT
  local label=$1 pa=$2 pb=$3 port=$4
  shift 4
  local c0a=0 c0b=0
  [ "$pa" != - ] && c0a=$(cpu_ticks "$pa") && c0b=$(cpu_ticks "$pb")
  local s
  s=$(ip netns exec "$POD_A" "$@" "$bench" stream "192.0.2.2:$port" "$MIB")
  local c1a=0 c1b=0
  [ "$pa" != - ] && c1a=$(cpu_ticks "$pa") && c1b=$(cpu_ticks "$pb")
  local r
  r=$(ip netns exec "$POD_A" "$@" "$bench" rr "192.0.2.2:$port" 64 "$RTS")
  local hz cpu_per_gib="-"
  hz=$(getconf CLK_TCK)
  if [ "$pa" != - ]; then
    cpu_per_gib=$(awk -v a=$((c1a - c0a)) -v b=$((c1b - c0b)) -v hz="$hz" -v mib="$MIB" \
      'BEGIN { printf "%.2f", (a + b) / hz / (mib / 1024) }')
  fi
  local mem="-"
  if [ "$pa" != - ]; then
    local before after
    before=$(rss_kib "$pa")
    ip netns exec "$POD_A" "$bench" idle "192.0.2.2:$port" 1000 3 >/dev/null &
    sleep 2
    after=$(rss_kib "$pa")
    wait $! || true
    mem=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%d", (a - b) * 1024 / 1000 }')
    mem="$mem (idle RSS ${before} KiB)"
  fi
  results+=("$(printf '%-8s %s | %s | proxy CPU-s per GiB (both sidecars): %s | bytes per idle connection (outbound sidecar): %s' \
    "$label" "$s" "$r" "$cpu_per_gib" "$mem")")
}

# Direct: UID 1337 is not captured in pod A, port 9001 is not captured in pod B.
run_case direct - - 9001 setpriv --reuid=1337 --regid=1337 --clear-groups

as_proxy "$POD_A" "$work/a.log" "$work/remora" --concurrency 1 --prometheus-address= --health-address=
pa=$LAST_PID
as_proxy "$POD_B" "$work/b.log" "$work/remora" --concurrency 1 --prometheus-address= --health-address=
pb=$LAST_PID
wait_http "$POD_A" 15000 /ready
wait_http "$POD_B" 15000 /ready
run_case remora "$pa" "$pb" 9000
kill "$pa" "$pb"
wait "$pa" "$pb" 2>/dev/null || true

as_proxy "$POD_A" "$work/ha.log" haproxy -f "$work/haproxy.cfg" -db
pa=$LAST_PID
as_proxy "$POD_B" "$work/hb.log" haproxy -f "$work/haproxy.cfg" -db
pb=$LAST_PID
wait_port "$POD_A" 15001
wait_port "$POD_B" 15006
run_case haproxy "$pa" "$pb" 9000

echo "L4 benchmark: $MIB MiB stream, $RTS round trips of 64 bytes, $(nproc) cores ($(uname -r))"
printf '%s\n' "${results[@]}"
