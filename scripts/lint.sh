#!/usr/bin/env bash
# Lints with warnings denied: rustfmt, clippy on the server build (feature `ssr`, every
# target), on the build's WASM splitter and on the browser build (feature `hydrate`, wasm32).
# The browser build uses the same compiler as scripts/build.sh: rustup's wasm32 target when
# installed, else Debian's rustc with -Zbuild-std and Debian's clippy for it (package
# rust-web-clippy).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --target-dir target/check -- -D warnings
# The build's WASM splitter, a crate of its own (scripts/split-wasm).
cargo fmt --manifest-path scripts/split-wasm/Cargo.toml --check
cargo clippy --manifest-path scripts/split-wasm/Cargo.toml --locked --target-dir target/check -- -D warnings
wasm_args=(clippy -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate
           --target-dir target/wasm-clippy)
if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  cargo "${wasm_args[@]}" -- -D warnings
else
  if ! dpkg -s rust-web-clippy >/dev/null 2>&1; then
    sudo_or=""; [ "$(id -u)" -ne 0 ] && sudo_or=sudo
    $sudo_or env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rust-web-clippy
  fi
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo-clippy "${wasm_args[@]}" -Zbuild-std=std,panic_abort -- -D warnings
fi
echo "lint: clean"
