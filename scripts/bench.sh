#!/usr/bin/env bash
# Builds the release console and prints its size and speed figures (scripts/bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
python3 scripts/bench.py
python3 scripts/bench_broker.py
