#!/usr/bin/env bash
# Installs what is missing, builds the console (release) and serves it.
# Defaults: http://127.0.0.1:8080, database in ./data. Extra arguments go to `serve`,
# e.g. scripts/run.sh --listen 0.0.0.0:8080 --data-dir /var/lib/byoc-console
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec target/release/byoc-console serve "$@"
