#!/usr/bin/env bash
# A short fuzzing run of the product key parser (libFuzzer through cargo-fuzz).
#   scripts/fuzz.sh [SECONDS]     default 30
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable compiler take
# them for this build only.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] installing cargo-fuzz"
  CARGO_PROFILE_DEV_DEBUG=0 cargo install cargo-fuzz --debug
fi
mkdir -p fuzz/corpus/product_key
# Valid keys signed by the fuzz target's key: the fuzzer starts from real structure.
cp fuzz/seeds/product_key/* fuzz/corpus/product_key/
RUSTC_BOOTSTRAP=1 cargo fuzz run product_key --sanitizer none -- -max_total_time="$seconds" -max_len=4096
