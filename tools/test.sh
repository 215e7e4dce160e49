#!/usr/bin/env bash
# Builds remora and runs the whole test suite (unit, loopback and, as root, the network
# namespace integration tests). Does its own set-up on a fresh Debian 12 machine.
#   tools/test.sh               build in ./build and run every test
#   tools/test.sh -R netns      pass extra arguments to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

tools/setup.sh
python3 tools/lint/test_names.py

build=${REMORA_BUILD_DIR:-$root/build}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=$root
# ccache's 5 GB default holds about two builds of this tree (protobuf and gRPC code is large),
# so a clone in a new directory used to evict what the last one left; one build is ~2.5 GB.
[ -n "${CCACHE_MAXSIZE:-}" ] || export CCACHE_MAXSIZE=12G
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: not root: skipping the network-namespace tests (they need iptables and netns)"
  set -- -LE root "$@"
fi
cd "$build"
# The integration cases run as separate processes; give each a fair timeout.
ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"
