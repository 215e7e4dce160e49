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

A=remora-demo-a
B=remora-demo-b
work=$(mktemp -d /tmp/remora-demo.XXXXXX)
chmod 755 "$work"
pids=()

cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$work"
  echo "demo: torn down"
}
trap cleanup EXIT INT TERM

# The proxy runs as UID 1337: give it copies it can read wherever the checkout lives.
cp "$build/proxy/remora" "$build/tools/init/remora-init" "$work/"
chmod 755 "$work/remora" "$work/remora-init"

ip netns del "$A" 2>/dev/null || true
ip netns del "$B" 2>/dev/null || true
ip netns add "$A"
ip netns add "$B"
ip link add rmrdemo-a type veth peer name rmrdemo-b
ip link set rmrdemo-a netns "$A"
ip link set rmrdemo-b netns "$B"
ip -n "$A" addr add 192.0.2.1/24 dev rmrdemo-a
ip -n "$B" addr add 192.0.2.2/24 dev rmrdemo-b
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set rmrdemo-a up
ip -n "$B" link set rmrdemo-b up
echo "demo: pod A is 192.0.2.1 ($A), pod B is 192.0.2.2 ($B)"

for ns in "$A" "$B"; do
  ip netns exec "$ns" "$work/remora-init" >/dev/null
  ip netns exec "$ns" setpriv --reuid=1337 --regid=1337 --clear-groups \
    "$work/remora" --concurrency 2 >"$work/$ns.log" 2>&1 &
  pids+=($!)
done
echo "demo: remora-init rules installed and remora started (UID 1337) in both pods"

mkdir -p "$work/www"
echo "hello from pod B" >"$work/www/index.html"
ip netns exec "$B" python3 -m http.server 8080 --directory "$work/www" >"$work/http.log" 2>&1 &
pids+=($!)

ready() { ip netns exec "$1" curl -sf -o /dev/null "http://127.0.0.1:$2$3"; }
for _ in $(seq 100); do
  ready "$A" 15000 /ready && ready "$B" 15000 /ready &&
    ip netns exec "$B" ss -Hltn "sport = :8080" | grep -q LISTEN && break
  sleep 0.1
done

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
