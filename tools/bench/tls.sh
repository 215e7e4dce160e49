#!/usr/bin/env bash
# TLS benchmark (issue 6), side by side in one run, on loopback:
#   handshakes - full mTLS handshakes (TLS 1.3, X25519, ECDSA P-256 certificates, a client
#                certificate verified against the CA, no resumption) per second of the
#                server's CPU, for remora (one worker) and HAProxy (nbthread 1), against the
#                crypto bound from `openssl speed` on the same core. Also: remora-chain (the
#                CA appended to certificate_chain, so OpenSSL builds no chain per handshake),
#                remora-stateless (disable_stateful_session_resumption: stateless
#                tickets, the default before stateful resumption) and OpenSSL's own
#                s_server (the library with next to no application around it); see README.
#   latency    - keep-alive GET 1 KiB at a fixed rate through a client sidecar and a server
#                sidecar (two remoras, one worker each): plaintext hop vs mTLS hop; added
#                latency = mTLS percentile - plaintext percentile. Direct for reference.
#   idle       - RSS growth per idle connection (handshake done) for remora and HAProxy,
#                mTLS and plaintext, a fresh proxy each round.
#   tools/bench/tls.sh [--seconds S] [--threads N] [--rounds N] [--lat-rounds N]
#                      [--rate RPS] [--connections N] [--duration S] [--idle N]
#                      [--only handshakes,latency,idle]
# Defaults: 10 s x 8 client threads per handshake round, 5 rounds (handshakes, idle), 3 latency
# rounds of 20 s at 2,000 req/s over 20 connections, 2,000 idle connections.
# Pinning (BENCH_PIN=0 turns it off): the proxies and `openssl speed` on CPU 1; the load
# generators and NGINX on CPU 0. REMORA_BIN runs that binary instead of building.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
args=("$@")
SECONDS_HS=10 THREADS=8 ROUNDS=5 LAT_ROUNDS=3 RATE=2000 CONNS=20 DURATION=20 IDLE=2000
ONLY=handshakes,latency,idle
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_HS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --lat-rounds) LAT_ROUNDS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    *) sed -n '2,25p' "$0" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "${args[@]}"
want() { [[ ",$ONLY," == *",$1,"* ]]; }

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx-light)
command -v g++ >/dev/null || need+=(g++)
command -v openssl >/dev/null || need+=(openssl)
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

work=$(mktemp -d /tmp/remora-tls-bench.XXXXXX)
chmod 755 "$work"  # NGINX workers run as nobody and serve the file from here
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${BENCH_KEEP:-}" ] && echo "tls.sh: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$REMORA_BIN" "$work/remora"  # a rebuild during the run changes nothing
g++ -std=c++20 -O2 -o "$work/tls_load" tools/bench/tls_load.cc -lssl -lcrypto -lpthread
g++ -std=c++20 -O2 -o "$work/http_load" tools/bench/http_load.cc

if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  ON_CLIENT=(taskset -c 0) ON_PROXY=(taskset -c 1) PIN="proxies and openssl speed on CPU 1; load generators and NGINX on CPU 0"
else
  ON_CLIENT=() ON_PROXY=() PIN="not pinned"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_listen() {  # wait_listen PORT PID
  for _ in $(seq 200); do
    kill -0 "$2" 2>/dev/null || { echo "tls.sh: process $2 exited before listening on $1" >&2; return 1; }
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$2," && return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$(pgrep -P "$2" | head -1)," && return 0
    sleep 0.05
  done
  echo "tls.sh: nothing of process $2 listens on port $1" >&2
  return 1
}
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }  # field NAME "a=1 b=2"
median() { sort -g | awk '{v[NR] = $1} END { if (NR == 0) print "-"; else printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
HZ=$(getconf CLK_TCK)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg) START=$(date -u '+%F %H:%M')

# --- Certificates as the mesh's CA makes them: ECDSA P-256, a SPIFFE ID as the only SAN,
# digitalSignature, server and client auth, valid for a day ---
cert="$work/certs"
mkdir -p "$cert"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$cert/ca.key" 2>/dev/null
openssl req -x509 -new -key "$cert/ca.key" -subj "/O=remora bench/CN=bench root" -days 2 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$cert/ca.pem" 2>/dev/null
leaf() {  # leaf NAME SPIFFE-ID
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$cert/$1.key" 2>/dev/null
  openssl req -new -key "$cert/$1.key" -subj "/" -out "$cert/$1.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=critical,URI:$2" \
    "authorityKeyIdentifier=keyid" >"$cert/$1.ext"
  openssl x509 -req -in "$cert/$1.csr" -CA "$cert/ca.pem" -CAkey "$cert/ca.key" \
    -CAcreateserial -days 1 -extfile "$cert/$1.ext" -out "$cert/$1.pem" 2>/dev/null
  cat "$cert/$1.pem" "$cert/$1.key" >"$cert/$1.haproxy.pem"
}
SERVER_ID=spiffe://cluster.local/ns/bench/sa/server
CLIENT_ID=spiffe://cluster.local/ns/bench/sa/client
leaf server "$SERVER_ID"
leaf client "$CLIENT_ID"
cat "$cert/server.pem" "$cert/ca.pem" >"$cert/server-chain.pem"
chmod -R a+rX "$cert"

# --- NGINX upstream (CPU 0): a static 1 KiB file, keep-alive without limits ---
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

# --- remora configuration pieces ---
hcm() {  # hcm STAT_PREFIX CLUSTER
  cat <<CFG
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $1
          route_config:
            virtual_hosts: [{name: all, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: $2}}]}]
          http_filters: [{name: envoy.filters.http.router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
CFG
}
# listener NAME PORT CLUSTER [CHAIN_FILE]: mTLS when CHAIN_FILE is given, as the mesh's inbound.
listener() {
  echo "  - name: $1"
  echo "    address: {socket_address: {address: 127.0.0.1, port_value: $2}}"
  echo "    filter_chains:"
  if [ -n "${4:-}" ]; then
    cat <<CFG
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            alpn_protocols: [http/1.1]
            tls_certificates: [{certificate_chain: {filename: $4}, private_key: {filename: $cert/server.key}}]
            validation_context:
              trusted_ca: {filename: $cert/ca.pem}
              match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: '$CLIENT_ID'}}]
CFG
  else
    echo "    -"
  fi
  hcm "$1" "$3"
}
# cluster NAME PORT [tls]: with tls, mTLS to the server sidecar that must be SERVER_ID.
cluster() {
  cat <<CFG
  - name: $1
    type: STATIC
    connect_timeout: 1s
    load_assignment: {cluster_name: $1, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $2}}}}]}]}
CFG
  [ "${3:-}" = tls ] || return 0
  cat <<CFG
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: server.bench.svc.cluster.local
        common_tls_context:
          alpn_protocols: [http/1.1]
          tls_certificates: [{certificate_chain: {filename: $cert/client.pem}, private_key: {filename: $cert/client.key}}]
          validation_context:
            trusted_ca: {filename: $cert/ca.pem}
            match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: '$SERVER_ID'}}]
CFG
}
bootstrap() {  # bootstrap FILE LISTENERS CLUSTERS
  {
    echo "admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}"
    echo "static_resources:"
    echo "  listeners:"
    printf '%s\n' "$2"
    echo "  clusters:"
    printf '%s\n' "$3"
  } >"$1"
}
# start_remora NAME BOOTSTRAP PORT; sets STARTED
start_remora() {
  "${ON_PROXY[@]}" "$work/remora" --bootstrap "$2" --concurrency 1 --prometheus-address= \
    --health-address= --admin-address 127.0.0.1:0 --log-level "${BENCH_LOG:-warning}" \
    >"$work/$1.log" 2>&1 &
  STARTED=$!
  PIDS+=("$STARTED")
  wait_listen "$3" "$STARTED" || { tail -n 5 "$work/$1.log" >&2; exit 1; }
}
# start_haproxy NAME PORT tls|plain; sets STARTED
start_haproxy() {
  local bind="bind 127.0.0.1:$2"
  [ "$3" = tls ] && bind+=" ssl crt $cert/server.haproxy.pem ca-file $cert/ca.pem verify required alpn http/1.1 curves X25519:P-256 ssl-min-ver TLSv1.2"
  cat >"$work/$1.cfg" <<CFG
global
  nbthread 1
  maxconn 8000  # 2 descriptors per connection; the hard limit here is 20000
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
frontend bench
  $bind
  default_backend upstream
backend upstream
  server up 127.0.0.1:$UP
CFG
  "${ON_PROXY[@]}" haproxy -f "$work/$1.cfg" -db >"$work/$1.log" 2>&1 &
  STARTED=$!
  PIDS+=("$STARTED")
  wait_listen "$2" "$STARTED" || { tail -n 5 "$work/$1.log" >&2; exit 1; }
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
hs() { "${ON_CLIENT[@]}" "$work/tls_load" handshakes "127.0.0.1:$1" "$2" "$THREADS" "$cert/client.pem" "$cert/client.key" "${@:3}"; }

REPORT=()
say() { REPORT+=("$*"); }

# --- 1. Crypto bound and full handshakes ---
if want handshakes; then
  # openssl speed on the proxy's core: X25519 derivations, ECDSA P-256 signs and verifies.
  declare -a X25519 SIGN VERIFY
  for r in $(seq "$ROUNDS"); do
    echo "tls.sh: openssl speed round $r/$ROUNDS ..." >&2
    s=$("${ON_PROXY[@]}" openssl speed -mr -seconds 2 ecdhx25519 ecdsap256 2>/dev/null)
    X25519+=("$(awk -F: '/^\+F5:/ && $3 == 253 {print $4}' <<<"$s")")
    SIGN+=("$(awk -F: '/^\+F4:/ && $3 == 256 {print $4}' <<<"$s")")
    VERIFY+=("$(awk -F: '/^\+F4:/ && $3 == 256 {print $5}' <<<"$s")")
  done
  x=$(printf '%s\n' "${X25519[@]}" | median) sg=$(printf '%s\n' "${SIGN[@]}" | median)
  vf=$(printf '%s\n' "${VERIFY[@]}" | median)
  evp=$("${ON_PROXY[@]}" "$work/tls_load" crypto 2 "$cert/client.pem")
  # Server side of one TLS 1.3 mTLS handshake: an X25519 key share (keygen + derive, two
  # scalar multiplications = two of openssl speed's ecdh ops), one ECDSA sign (its
  # CertificateVerify), two ECDSA verifies (the CA's signature on the client certificate,
  # the client's CertificateVerify).
  BOUND=$(awk -v x="$x" -v s="$sg" -v v="$vf" 'BEGIN { printf "%.0f", 1 / (2 / x + 1 / s + 2 / v) }')
  BOUND1=$(awk -v x="$x" -v s="$sg" -v v="$vf" 'BEGIN { printf "%.0f", 1 / (2 / x + 1 / s + 1 / v) }')

  declare -A HPORT HPID HS
  hpaths=(remora remora-chain remora-stateless haproxy s_server)
  for p in "${hpaths[@]}"; do HPORT[$p]=$(free_port); done
  hs_remora() {  # hs_remora NAME CHAIN [EXTRA_TLS_LINE]
    local l
    l=$(listener mtls "${HPORT[$1]}" app "$2")
    [ -n "${3:-}" ] && l=$(sed "s|^          require_client_certificate: true|&\n          $3|" <<<"$l")
    bootstrap "$work/hs-$1.yaml" "$l" "$(cluster app "$UP")"
    start_remora "hs-$1" "$work/hs-$1.yaml" "${HPORT[$1]}"
    HPID[$1]=$STARTED
  }
  hs_remora remora "$cert/server.pem"
  hs_remora remora-chain "$cert/server-chain.pem"
  hs_remora remora-stateless "$cert/server.pem" "disable_stateful_session_resumption: true"
  start_haproxy hs-haproxy "${HPORT[haproxy]}" tls
  HPID[haproxy]=$STARTED
  # OpenSSL's own server: what the library costs with next to no application around it.
  "${ON_PROXY[@]}" openssl s_server -accept "127.0.0.1:${HPORT[s_server]}" -cert "$cert/server.pem" \
    -key "$cert/server.key" -CAfile "$cert/ca.pem" -Verify 2 -verify_return_error \
    -groups X25519:P-256 -www -quiet -naccept 100000000 >"$work/s_server.log" 2>&1 &
  HPID[s_server]=$!
  PIDS+=("${HPID[s_server]}")
  wait_listen "${HPORT[s_server]}" "${HPID[s_server]}"
  # Both must refuse a client without a certificate, and accept ours.
  for p in "${hpaths[@]}"; do
    o=$(hs "${HPORT[$p]}" 1 --no-cert)
    [ "$(field handshakes "$o")" = 0 ] || { echo "tls.sh: $p accepted a client without a certificate: $o" >&2; exit 1; }
    o=$(hs "${HPORT[$p]}" 1)
    [ "$(field failures "$o")" = 0 ] || { echo "tls.sh: $p: handshakes failed: $o" >&2; exit 1; }
  done
  for r in $(seq "$ROUNDS"); do
    for p in "${hpaths[@]}"; do
      echo "tls.sh: round $r/$ROUNDS: $p handshakes for ${SECONDS_HS}s ..." >&2
      c0=$(cpu_ticks "${HPID[$p]}")
      o=$(hs "${HPORT[$p]}" "$SECONDS_HS")
      c1=$(cpu_ticks "${HPID[$p]}")
      HS[$p]+="$o ticks=$((c1 - c0))"$'\n'
    done
  done
  say "Full mTLS handshakes: TLS 1.3, X25519, ECDSA P-256 server and client certificates, no resumption;"
  say "tls_load with $THREADS threads for ${SECONDS_HS}s per round, $ROUNDS rounds taking turns, medians;"
  say "per CPU-second = handshakes / the server's user+system seconds (/proc/PID/stat)."
  say ""
  say "openssl speed (CPU 1, medians of $ROUNDS): X25519 $x ops/s, ECDSA P-256 sign $sg/s, verify $vf/s"
  say "crypto bound = 1 / (2/X25519 + 1/sign + 2/verify) = $BOUND handshakes/s per core"
  say "  (with one verify, as for a client chain alone: $BOUND1/s)"
  say "EVP as libssl calls it (tls_load crypto, CPU 1, µs): $evp"
  say ""
  say "| server           | handshakes/s | server CPU % | handshakes per CPU-second | of the bound | failures |"
  say "| ---------------- | -----------: | -----------: | ------------------------: | -----------: | -------: |"
  declare -A PERCPU
  for p in "${hpaths[@]}"; do
    rows=${HS[$p]%$'\n'}
    rate=$(while read -r l; do field rate "$l"; done <<<"$rows" | median)
    cpu=$(while read -r l; do awk -v t="$(field ticks "$l")" -v hz="$HZ" -v s="$(field secs "$l")" 'BEGIN { print t / hz / s * 100 }'; done <<<"$rows" | median)
    per=$(while read -r l; do awk -v n="$(field handshakes "$l")" -v t="$(field ticks "$l")" -v hz="$HZ" 'BEGIN { print (t > 0) ? n / (t / hz) : 0 }'; done <<<"$rows" | median)
    fails=$(while read -r l; do field failures "$l"; done <<<"$rows" | awk '{t += $1} END {print t + 0}')
    PERCPU[$p]=$per
    say "$(printf '| %-16s | %12s | %12s | %25.0f | %11s%% | %8s |' "$p" "$rate" "$cpu" "$per" \
      "$(awk -v a="$per" -v b="$BOUND" 'BEGIN { printf "%.0f", a / b * 100 }')" "$fails")"
  done
  say ""
  for p in "${hpaths[@]}"; do
    say "$p per CPU-second by round: $(while read -r l; do awk -v n="$(field handshakes "$l")" -v t="$(field ticks "$l")" -v hz="$HZ" 'BEGIN { printf "%.0f ", (t > 0) ? n / (t / hz) : 0 }'; done <<<"${HS[$p]%$'\n'}")"
  done
  say "target: remora >= 80% of the bound: $(awk -v a="${PERCPU[remora]}" -v b="$BOUND" 'BEGIN { printf "%.0f%%: %s", a / b * 100, (a >= 0.8 * b) ? "met" : "NOT met" }')"
  say "target: remora >= haproxy: $(awk -v a="${PERCPU[remora]}" -v b="${PERCPU[haproxy]}" 'BEGIN { printf "ratio %.2f: %s", a / b, (a >= b) ? "met" : "NOT met" }')"
  for p in "${hpaths[@]}"; do stop "${HPID[$p]}"; done
  say ""
fi

# --- 2. Added latency of an mTLS hop between two sidecars ---
if want latency; then
  BP=$(free_port) BM=$(free_port) AP=$(free_port) AM=$(free_port)
  bootstrap "$work/server-sidecar.yaml" \
    "$(listener in-plain "$BP" app)"$'\n'"$(listener in-mtls "$BM" app "$cert/server.pem")" \
    "$(cluster app "$UP")"
  bootstrap "$work/client-sidecar.yaml" \
    "$(listener out-plain "$AP" b-plain)"$'\n'"$(listener out-mtls "$AM" b-mtls)" \
    "$(cluster b-plain "$BP")"$'\n'"$(cluster b-mtls "$BM" tls)"
  start_remora server-sidecar "$work/server-sidecar.yaml" "$BM"
  SB=$STARTED
  start_remora client-sidecar "$work/client-sidecar.yaml" "$AM"
  SA=$STARTED
  declare -A LPORT LAT
  LPORT[direct]=$UP LPORT[plaintext]=$AP LPORT[mtls]=$AM
  lpaths=(direct plaintext mtls)
  for p in "${lpaths[@]}"; do
    check=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:${LPORT[$p]}/1k")
    [ "$check" = "200 1024" ] || { echo "tls.sh: $p: check request gave '$check'" >&2; tail -n 5 "$work"/*-sidecar.log >&2; exit 1; }
  done
  for r in $(seq "$LAT_ROUNDS"); do
    for p in "${lpaths[@]}"; do
      echo "tls.sh: round $r/$LAT_ROUNDS: $p at $RATE req/s ..." >&2
      LAT[$p]+="$("${ON_CLIENT[@]}" "$work/http_load" "127.0.0.1:${LPORT[$p]}" /1k "$RATE" "$CONNS" "$DURATION" 2)"$'\n'
    done
  done
  say "Latency: GET 1 KiB keep-alive at $RATE req/s over $CONNS connections for ${DURATION}s (after 2 s warm-up),"
  say "client sidecar -> server sidecar -> NGINX, both sidecars remora with one worker on CPU 1;"
  say "$LAT_ROUNDS rounds taking turns, median of the rounds' percentiles; added = mtls - plaintext."
  say ""
  say "| path      | p50 µs | p90 µs | p99 µs | max µs | added p50 µs | added p99 µs | errors |"
  say "| --------- | -----: | -----: | -----: | -----: | -----------: | -----------: | -----: |"
  lat() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"${LAT[$1]}" | median; }
  for p in "${lpaths[@]}"; do
    a50="–" a99="–"
    if [ "$p" = mtls ]; then
      a50=$(awk -v a="$(lat mtls p50_us)" -v b="$(lat plaintext p50_us)" 'BEGIN { printf "%.1f", a - b }')
      a99=$(awk -v a="$(lat mtls p99_us)" -v b="$(lat plaintext p99_us)" 'BEGIN { printf "%.1f", a - b }')
    fi
    errs=$(sed -n 's/.*\bnon2xx=\([0-9]*\) errors=\([0-9]*\).*/\1 \2/p' <<<"${LAT[$p]}" | awk '{t += $1 + $2} END {print t + 0}')
    say "$(printf '| %-9s | %6s | %6s | %6s | %6s | %12s | %12s | %6s |' "$p" "$(lat "$p" p50_us)" \
      "$(lat "$p" p90_us)" "$(lat "$p" p99_us)" "$(lat "$p" max_us)" "$a50" "$a99" "$errs")"
  done
  say ""
  for p in "${lpaths[@]}"; do
    say "$p p50 by round: $(sed -n 's/.*\bp50_us=\([^ ]*\).*/\1/p' <<<"${LAT[$p]}" | tr '\n' ' ')µs; p99: $(sed -n 's/.*\bp99_us=\([^ ]*\).*/\1/p' <<<"${LAT[$p]}" | tr '\n' ' ')µs"
  done
  stop "$SA"
  stop "$SB"
  say ""
fi

# --- 3. Memory per idle connection, a fresh proxy per round ---
if want idle; then
  declare -A IDLED
  ipaths=(remora-mtls remora-plain haproxy-mtls haproxy-plain)
  for r in $(seq "$ROUNDS"); do
    for p in "${ipaths[@]}"; do
      port=$(free_port)
      case $p in
        remora-mtls)
          bootstrap "$work/idle.yaml" "$(listener mtls "$port" app "$cert/server.pem")" "$(cluster app "$UP")"
          start_remora idle-remora "$work/idle.yaml" "$port" ;;
        remora-plain)
          bootstrap "$work/idle.yaml" "$(listener plain "$port" app)" "$(cluster app "$UP")"
          start_remora idle-remora "$work/idle.yaml" "$port" ;;
        haproxy-mtls) start_haproxy idle-haproxy "$port" tls ;;
        haproxy-plain) start_haproxy idle-haproxy "$port" plain ;;
      esac
      pid=$STARTED
      opt=()
      [[ $p == *-plain ]] && opt=(--plain)
      echo "tls.sh: round $r/$ROUNDS: $IDLE idle connections to $p ..." >&2
      # Warm up (lazy initialisation on the first connections), then settle.
      "${ON_CLIENT[@]}" "$work/tls_load" idle "127.0.0.1:$port" 20 0 "$cert/client.pem" "$cert/client.key" "${opt[@]}" >/dev/null
      sleep 0.5
      before=$(rss_kib "$pid")
      fifo="$work/idle.fifo"
      rm -f "$fifo" && mkfifo "$fifo"
      "${ON_CLIENT[@]}" "$work/tls_load" idle "127.0.0.1:$port" "$IDLE" 600 "$cert/client.pem" "$cert/client.key" "${opt[@]}" <"$fifo" >"$work/idle.out" &
      lp=$!
      exec 9>"$fifo"  # the client holds its connections until this closes
      for _ in $(seq 1200); do grep -q '^open=' "$work/idle.out" 2>/dev/null && break; sleep 0.1; done
      sleep 1
      after=$(rss_kib "$pid")
      out=$(cat "$work/idle.out")
      exec 9>&-
      wait "$lp" || true
      stop "$pid"
      IDLED[$p]+="before=$before after=$after $out"$'\n'
    done
  done
  say "Idle connections: $IDLE connections held open (TLS: handshake done, tickets read), RSS growth"
  say "of the proxy (VmRSS) after 1 s, a fresh proxy per round after 20 warm-up connections;"
  say "$ROUNDS rounds, medians."
  say ""
  say "| path          | RSS before KiB | RSS after KiB | bytes per idle connection |"
  say "| ------------- | -------------: | ------------: | ------------------------: |"
  for p in "${ipaths[@]}"; do
    rows=${IDLED[$p]%$'\n'}
    b=$(while read -r l; do field before "$l"; done <<<"$rows" | median)
    a=$(while read -r l; do field after "$l"; done <<<"$rows" | median)
    per=$(while read -r l; do awk -v a="$(field after "$l")" -v b="$(field before "$l")" -v n="$(field open "$l")" 'BEGIN { print (n > 0) ? (a - b) * 1024 / n : 0 }'; done <<<"$rows" | median)
    say "$(printf '| %-13s | %14s | %13s | %25.0f |' "$p" "$b" "$a" "$per")"
  done
  say ""
  for p in "${ipaths[@]}"; do
    say "$p by round: $(while read -r l; do printf '%s/%s KiB open=%s failures=%s; ' "$(field before "$l")" "$(field after "$l")" "$(field open "$l")" "$(field failures "$l")"; done <<<"${IDLED[$p]%$'\n'}")"
  done
  say ""
fi

echo
echo "TLS benchmark: $START-$(date -u '+%H:%M') UTC, $(nproc) cores ($(uname -r)), load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "tools/bench/tls.sh ${args[*]}"
echo "$(openssl version); $(haproxy -v 2>/dev/null | head -1); $PIN"
echo
printf '%s\n' "${REPORT[@]}"
