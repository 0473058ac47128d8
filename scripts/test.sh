#!/usr/bin/env bash
# Runs every test: unit and integration tests (cargo), then the browser tests (Playwright in
# Debian's Chromium) against a freshly built console. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --site-only
echo "[test] cargo test --workspace"
# Also builds target/debug/byoc-console, which the browser tests below start.
cargo test --workspace
echo "[test] fuzzing the product key parser (30 s)"
scripts/fuzz.sh 30
echo "[test] browser tests"
(cd end2end && npx playwright test)
