#!/usr/bin/env bash
# Runs every test: unit and integration tests (cargo), a short fuzzing run, then the browser
# tests (Playwright in Debian's Chromium) against a freshly built console. Installs what is
# missing first. Prints how long each step took.
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
