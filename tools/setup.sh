#!/usr/bin/env bash
# Installs everything remora needs to build, test and run its demo on Debian 12.
# Idempotent: when everything is present it only checks and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and runtime dependencies (Debian 12 packages only), then test peers and tools.
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libuv1-dev node-llhttp libssl-dev libnghttp2-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc libabsl-dev
  libyaml-cpp-dev libre2-dev catch2
  iptables iproute2 util-linux procps curl socat python3 nghttp2-client nghttp2-server prometheus
  openssl testssl.sh
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Node.js and npm: the machine's own (nodesource) when present, else Debian's.
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q nodejs npm
fi
# The Debian prometheus package may start a server; tests start their own.

# Envoy's v3 .proto files (and a real xDS client for interop tests), pinned by the lock file.
lock=xds/proto/package-lock.json
stamp=xds/proto/node_modules/.remora-lock.sha256
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci in xds/proto"
  (cd xds/proto && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
echo "setup: ok"
