#!/usr/bin/env bash
# remora demo: two pods (network namespaces joined by a veth pair, 192.0.2.0/24), each with
# remora-init's iptables rules and a remora sidecar running as UID 1337. Pod A's curl reaches
# pod B's HTTP server through A's outbound and B's inbound sidecar; then both sidecars'
# counters are printed. Everything is torn down on exit or Ctrl-C.
#   tools/demo.sh          run the demo and exit
#   tools/demo.sh --stay   keep the pods up until Ctrl-C, to try things by hand
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
stay=0
[ "${1:-}" = "--stay" ] && stay=1

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: network namespaces and iptables need root; re-running with sudo"
  exec sudo -E "$0" "$@"
fi

tools/setup.sh >/dev/null
build=${REMORA_BUILD_DIR:-$root/build}
echo "demo: building (incremental)"
cmake -S . -B "$build" -G Ninja >/dev/null
cmake --build "$build" --target remora remora-init >/dev/null

POD_A=remora-demo-a
POD_B=remora-demo-b
source tools/lib/pods.sh
A=$POD_A
B=$POD_B
work=$(mktemp -d /tmp/remora-demo.XXXXXX)

cleanup() {
  trap - EXIT INT TERM
  pods_down
  rm -rf "$work"
  echo "demo: torn down"
}
trap cleanup EXIT INT TERM

pods_stage "$build" "$work"
pods_up "$work"
echo "demo: pod A is 192.0.2.1 ($A), pod B is 192.0.2.2 ($B); remora-init rules installed"
for ns in "$A" "$B"; do
  as_proxy "$ns" "$work/$ns.log" "$work/remora" --concurrency 2
done
echo "demo: remora started as UID 1337 in both pods"

mkdir -p "$work/www"
echo "hello from pod B" >"$work/www/index.html"
ip netns exec "$B" python3 -m http.server 8080 --directory "$work/www" >"$work/http.log" 2>&1 &
POD_PIDS+=($!)
wait_http "$A" 15000 /ready
wait_http "$B" 15000 /ready
wait_port "$B" 8080

echo
echo "== pod A: curl http://192.0.2.2:8080/ (captured by A's 15001, then B's 15006)"
ip netns exec "$A" curl -sS -m 5 -v http://192.0.2.2:8080/ 2>&1 | sed 's/^/   /'
echo
echo "== pod B's HTTP server log (the client it saw is B's sidecar, 127.0.0.6)"
sed 's/^/   /' "$work/http.log"
echo
for ns in "$A" "$B"; do
  echo "== counters of $ns's sidecar (non-zero, from 127.0.0.1:15000/stats)"
  ip netns exec "$ns" curl -s http://127.0.0.1:15000/stats | grep -v ': 0$' | grep -v '^server\.' | sed 's/^/   /'
  echo
done
echo "== pod A's iptables nat rules (remora-init)"
ip netns exec "$A" iptables-save -t nat | grep -E '^-A (PREROUTING|OUTPUT|REMORA)' | sed 's/^/   /'

if [ "$stay" = 1 ]; then
  echo
  echo "demo: pods stay up; try for example"
  echo "   ip netns exec $A curl http://192.0.2.2:8080/"
  echo "   ip netns exec $A curl http://127.0.0.1:15000/stats/prometheus"
  echo "demo: Ctrl-C to tear down"
  while true; do sleep 3600; done
fi
