# Shared shell helpers for the demo and the benchmarks: two "pods" (network namespaces joined
# by a veth pair, pod A 192.0.2.1 and pod B 192.0.2.2) with remora-init's capture rules.
# Source this file; call pods_up, then start sidecars; pods_down tears everything down.

POD_A=${POD_A:-remora-pod-a}
POD_B=${POD_B:-remora-pod-b}
POD_PIDS=()

pods_up() {  # pods_up WORKDIR [remora-init flags for pod B...]
  local work=$1
  shift
  pods_down_quiet
  ip netns add "$POD_A"
  ip netns add "$POD_B"
  ip link add rmrpod-a type veth peer name rmrpod-b
  ip link set rmrpod-a netns "$POD_A"
  ip link set rmrpod-b netns "$POD_B"
  ip -n "$POD_A" addr add 192.0.2.1/24 dev rmrpod-a
  ip -n "$POD_B" addr add 192.0.2.2/24 dev rmrpod-b
  for ns in "$POD_A" "$POD_B"; do ip -n "$ns" link set lo up; done
  ip -n "$POD_A" link set rmrpod-a up
  ip -n "$POD_B" link set rmrpod-b up
  ip netns exec "$POD_A" "$work/remora-init" >/dev/null
  ip netns exec "$POD_B" "$work/remora-init" "$@" >/dev/null
}

pods_down_quiet() {
  ip netns del "$POD_A" 2>/dev/null || true
  ip netns del "$POD_B" 2>/dev/null || true
}

pods_down() {
  for p in "${POD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  POD_PIDS=()
  pods_down_quiet
}

# Copies the binaries where UID 1337 can run them, whatever the checkout's permissions.
pods_stage() {  # pods_stage BUILD_DIR WORKDIR
  cp "$1/proxy/remora" "$1/tools/init/remora-init" "$2/"
  [ -f "$1/tools/bench/remora-tcp-bench" ] && cp "$1/tools/bench/remora-tcp-bench" "$2/"
  chmod 755 "$2" "$2"/*
}

# Runs a command in a pod as the proxy's user (1337) in the background; sets LAST_PID.
# (Not a $(...) substitution: the pid must be recorded in this shell for pods_down.)
as_proxy() {  # as_proxy NS LOG CMD...
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" setpriv --reuid=1337 --regid=1337 --clear-groups "$@" >"$log" 2>&1 &
  LAST_PID=$!
  POD_PIDS+=("$LAST_PID")
}

wait_http() {  # wait_http NS PORT PATH
  for _ in $(seq 200); do
    ip netns exec "$1" curl -sf -o /dev/null "http://127.0.0.1:$2$3" && return 0
    sleep 0.05
  done
  echo "timed out waiting for $1 127.0.0.1:$2$3" >&2
  return 1
}

wait_port() {  # wait_port NS PORT
  for _ in $(seq 200); do
    ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q LISTEN && return 0
    sleep 0.05
  done
  echo "timed out waiting for a listener on $1:$2" >&2
  return 1
}
