#!/usr/bin/env bash
# Builds the release console and prints its size and speed figures (scripts/bench.py), the
# instance list's throughput through the REST API and the server function under wrk
# (scripts/bench_api.py) and the broker provisioner's figures (scripts/bench_broker.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# wrk (Debian package) loads the instance list in scripts/bench_api.py.
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
scripts/build.sh
python3 scripts/bench.py
python3 scripts/bench_api.py
python3 scripts/bench_broker.py
