#!/usr/bin/env bash
# Installs what building, running and testing the console needs, and skips what is there.
# Safe to run again and again; both README commands call it first.
#
#   Debian packages : rustc-web, cargo-web, rust-web-src, lld-22 (the wasm32 standard library
#                     built from source, see below), chromium (browser tests), brotli
#                     (precompressed WASM/JS/CSS), sqlite3 (a browser test edits the
#                     database by hand, as an intruder would, to show the audit chain break)
#   cargo tools     : wasm-bindgen-cli, exactly the version in Cargo.lock; byoc-split-wasm
#                     (splits the WASM per page, see scripts/build.sh)
#   npm packages    : end2end/ (Playwright driving Debian's Chromium; binaryen's wasm-opt)
#   Maven Central   : Apache Kafka 4.4.0's jars, a log4j2 backend and Prometheus' JMX agent
#                     (kafka/pom.xml, scripts/fetch_kafka.sh), with Java 17 from Debian if
#                     missing: every instance is a Kafka cluster of `java` processes. (The old
#                     single-process broker, nisshi, is no longer installed: its half-hour
#                     compile is gone from a fresh machine's set-up.)
#   PyPI            : schemathesis, openapi-spec-validator (the REST API's document, tested);
#                     confluent-kafka (a real Kafka client, with a modern librdkafka, for the
#                     Kafka tests; Debian's kcat is older than Kafka 4's protocol floor)
#
# The hydration WASM needs the wasm32-unknown-unknown standard library. With rustup that is
# `rustup target add wasm32-unknown-unknown`; where that target cannot be downloaded (no access
# to the Rust toolchain servers) Debian's rustc 1.96 builds it from source with -Zbuild-std.
# scripts/build.sh picks whichever is available.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; exit 1; fi
}

have_wasm32_target() {
  command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown
}

# --- Debian packages -------------------------------------------------------------------------
packages=(chromium brotli sqlite3)
if ! have_wasm32_target; then
  packages+=(rustc-web cargo-web rust-web-src lld-22)
fi
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
  log "Debian packages present"
fi

# --- wasm-bindgen-cli, the version Cargo.lock pins --------------------------------------------
want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (found: ${have:-none})"
  # --debug: installs in about a minute instead of eight, and runs fast enough for our wasm.
  # No --locked: its lock file asks for crate versions newer than some registries serve.
  CARGO_PROFILE_DEV_DEBUG=0 cargo install wasm-bindgen-cli --version "$want" --debug --force
else
  log "wasm-bindgen-cli $want present"
fi

# --- byoc-split-wasm: splits the WASM into a main module and one module per page ----------------
# scripts/split-wasm: the splitter cargo-leptos runs for lazy routes (wasm-split-cli's library,
# pinned in its Cargo.lock) and the preload manifest wasm-split-cli does not write.
SPLIT_WASM_VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' scripts/split-wasm/Cargo.toml)
if [ "$(byoc-split-wasm --version 2>/dev/null)" = "byoc-split-wasm $SPLIT_WASM_VERSION" ]; then
  log "byoc-split-wasm $SPLIT_WASM_VERSION present"
else
  log "installing byoc-split-wasm $SPLIT_WASM_VERSION"
  cargo install --locked --path scripts/split-wasm --force
fi

# --- Apache Kafka 4.4.0 (the engine's clusters): jars from Maven Central, pinned -----------------
# kafka/pom.xml, copied once into ~/.local/share/byoc/kafka-4.4.0/libs (BYOC_KAFKA_HOME);
# Java 17 checked (Debian's openjdk-17-jre-headless where missing). Nothing at run time.
scripts/fetch_kafka.sh
# The console's own plug-ins for Kafka's plug-in points (kafka/plugins/*), built with Maven
# (their unit tests run) into the same libs/.
scripts/build_kafka_plugins.sh

# --- a real Kafka client for the Kafka tests -------------------------------------------------
if python3 -c 'import confluent_kafka' 2>/dev/null; then
  log "confluent-kafka present"
else
  log "installing confluent-kafka (PyPI)"
  python3 -m pip install --quiet 'confluent-kafka>=2.6' ||
    python3 -m pip install --quiet --break-system-packages 'confluent-kafka>=2.6'
fi

# --- the REST API's document checkers: a validator and a property-based tester ----------------
if python3 -c 'import schemathesis, openapi_spec_validator' 2>/dev/null; then
  log "schemathesis and openapi-spec-validator present"
else
  log "installing schemathesis and openapi-spec-validator (PyPI)"
  python3 -m pip install --quiet 'schemathesis>=4,<5' 'openapi-spec-validator>=0.7' ||
    python3 -m pip install --quiet --break-system-packages 'schemathesis>=4,<5' 'openapi-spec-validator>=0.7'
fi

# --- npm packages for the browser tests and wasm-opt ------------------------------------------
if [ ! -x end2end/node_modules/.bin/playwright ] || [ ! -x end2end/node_modules/.bin/wasm-opt ] ||
   [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  log "installing npm packages in end2end/"
  (cd end2end && npm ci --no-audit --no-fund)
else
  log "npm packages present"
fi
log "done"
