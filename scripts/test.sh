#!/usr/bin/env bash
# Runs every test: the docs' links and the layer rule (two short scripts), unit and
# integration tests (cargo), a short fuzzing run, then the browser tests (Playwright in
# Debian's Chromium) against a freshly built console. Installs what is missing first. Prints
# how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
  local name=$1; shift
  local start=$SECONDS
  echo "[test] $name"
  "$@"
  echo "[test] $name: $((SECONDS - start)) s"
}

step "set-up" scripts/setup.sh
# Tests only: promtool checks the /metrics text (tests/metrics.rs). Debian's prometheus package;
# without recommends, and its service is not started where there is no systemd.
if ! command -v promtool >/dev/null; then
  if [ "$(id -u)" = 0 ]; then sudo_or=""; else sudo_or=sudo; fi
  echo "[test] installing Debian's prometheus package (promtool)"
  $sudo_or env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
fi
# Tests only: a real reverse proxy in front of the console (tests/console/attacks.rs, the
# --trusted-proxy test). Debian's nginx; the test starts its own, on ports of its own.
if [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ]; then sudo_or=""; else sudo_or=sudo; fi
  echo "[test] installing Debian's nginx package (the reverse-proxy test)"
  $sudo_or env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx
fi
# Seconds, no build: every link in README.md and docs/ resolves, and the layer rule of
# docs/architecture.md holds (the checker first proves it can fail, on a tree of its own).
step "docs links and layer rule" bash -c \
  'python3 scripts/check_docs.py && python3 scripts/check_layers.py --self-test && python3 scripts/check_layers.py'
step "site (WASM, JS, CSS)" scripts/build.sh --site-only
# Also builds target/debug/byoc-console, which the browser tests start.
step "cargo test --workspace" cargo test --workspace
step "fuzzing the product key parser (30 s)" scripts/fuzz.sh 30
step "browser tests" bash -c 'cd end2end && npx playwright test'
# One plain closing line for the browser tests (Playwright's own summary has another shape).
python3 -c '
import json
stats = json.load(open("end2end/test-results/results.json"))["stats"]
print("browser: %d passed, %d failed, %d skipped" % (stats["expected"], stats["unexpected"], stats["skipped"]))
'
