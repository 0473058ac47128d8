#!/usr/bin/env bash
# Builds the release console and prints its size and speed figures (scripts/bench.py), the
# browser's WASM by crate (scripts/bench_wasm.py), the instance list's throughput through the
# REST API and the server function under wrk (scripts/bench_api.py), the signed-in pages next
# to a bare axum server with the same body (scripts/bench_pages.py) and the data plane's
# figures: a three-node Kafka cluster beside Kafka's own ProducerPerformance
# (scripts/bench_kafka.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# wrk (Debian package) loads the pages and the instance list in bench_api.py and bench_pages.py.
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
# twiggy (crates.io) reads the WASM's function names for the figures by crate (bench_wasm.py).
TWIGGY_VERSION=0.8.0
if [ "$(twiggy --version 2>/dev/null)" != "twiggy-opt $TWIGGY_VERSION" ]; then
  cargo install twiggy --version "$TWIGGY_VERSION" --locked --force
fi
scripts/build.sh
# The reference server of bench_pages.py, built like the console.
cargo build --release --quiet --bin bare-axum
python3 scripts/bench.py
python3 scripts/bench_wasm.py
python3 scripts/bench_api.py
python3 scripts/bench_pages.py
python3 scripts/bench_kafka.py
