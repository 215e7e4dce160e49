#!/usr/bin/env bash
# xDS benchmark (see xds_bench.py): propagation latency, proxy RSS and bytes per push with
# 1,000 clusters and 10,000 endpoints, state of the world vs Delta.
#   tools/bench/xds.sh [changes, default 40]
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/setup.sh >/dev/null
build=${REMORA_BUILD_DIR:-$(pwd)/build}
cmake -S . -B "$build" -G Ninja >/dev/null
cmake --build "$build" --target remora remora-control >/dev/null
exec python3 tools/bench/xds_bench.py "$build" "${1:-40}"
