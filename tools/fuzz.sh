#!/usr/bin/env bash
# Builds the fuzz targets with clang's libFuzzer (ASan + UBSan) in build-fuzz/ and runs each
# for a while, starting from its seed corpus (test/fuzz/corpus/<name>). New findings land in
# build-fuzz/findings/<name>/; copy a reproducer into the seed corpus once fixed.
#   tools/fuzz.sh [seconds per target, default 60] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh >/dev/null
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(address spiffe init_options options admin_request xds_translate http1_parser)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DREMORA_FUZZ=ON -DREMORA_WERROR=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target $(printf '%s_fuzz ' "${targets[@]}")
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/findings/$t" "build-fuzz/corpus/$t"
  echo "fuzz: $t for ${secs}s"
  "build-fuzz/test/${t}_fuzz" -max_total_time="$secs" -artifact_prefix="build-fuzz/findings/$t/" \
    "build-fuzz/corpus/$t" "test/fuzz/corpus/$t"
done
