#!/usr/bin/env bash
# Builds the site (hydration WASM + JS + CSS + public files into target/site) and the server.
#   scripts/build.sh              release server (what scripts/run.sh serves)
#   scripts/build.sh --debug      debug server
#   scripts/build.sh --site-only  no server (scripts/test.sh: `cargo test` builds the debug
#                                 server with the test features, so it is built only once)
# The WASM is always built optimised for size and passed through wasm-opt.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
case "${1:-}" in
  --debug) profile=debug ;;
  --site-only) profile=none ;;
  "") ;;
  *) echo "usage: scripts/build.sh [--debug|--site-only]" >&2; exit 2 ;;
esac

log() { printf '[build] %s\n' "$*"; }
# Precompressed copies: the server sends the .br or .gz file when the browser accepts it (the
# WASM shrinks to about a third), without compressing on every request.
compress() {
  for f in "$@"; do
    gzip -9 -k -f "$f"
    if command -v brotli >/dev/null; then brotli -q 11 -k -f "$f"; fi
  done
}

site=target/site
pkg=$site/pkg
mkdir -p "$pkg"

# --- the hydration WASM ------------------------------------------------------------------------
# Each page is a lazy route (app.rs): the compiled WASM is split into a main module (router,
# frame, shared code) and one module per page, which the browser fetches when the page is first
# shown. The splitter needs the linker's relocations, hence --emit-relocs (link arguments are
# taken by `cargo rustc`, for this crate only).
# A target directory of its own: it may be built by another rustc than the server, and the two
# must not invalidate each other's artifacts.
wasm_target_dir=target/wasm
wasm_args=(rustc -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate
           --profile wasm-release --target-dir "$wasm_target_dir")
link_args=(-- -Clink-args=--emit-relocs)
if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "wasm: rustup's wasm32 target"
  cargo "${wasm_args[@]}" "${link_args[@]}"
else
  # Debian's rustc 1.96 compiles the standard library for wasm32 from rust-web-src.
  # RUSTC_BOOTSTRAP lets this stable compiler take -Zbuild-std; nothing else uses it.
  log "wasm: Debian rustc with -Zbuild-std"
  # Building the standard library also lets it drop what the browser never needs: a panic
  # aborts at once (no message formatting, no unwinding support: -Cpanic=immediate-abort) and
  # carries no file and line (-Zlocation-detail=none). A panic in the browser was already an
  # abort (the profile's panic = "abort"); it now says less in the console and weighs less.
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
    cargo "${wasm_args[@]}" -Zbuild-std=std,panic_abort "${link_args[@]}"
fi
wasm_in="$wasm_target_dir/wasm32-unknown-unknown/wasm-release/app.wasm"
# Splitting, wasm-bindgen, wasm-opt and the compression take about a minute: skip them when the
# compiled WASM is the one the site was last made from.
stamp="$pkg/.made-from"
splitter="$(byoc-split-wasm --version)"
made_from="$(sha256sum "$wasm_in" | cut -d' ' -f1) $splitter"
if [ -f "$pkg/byoc-console_bg.wasm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$made_from" ]; then
  log "wasm unchanged since the last build"
else
  # The splitter (scripts/split-wasm: wasm-split-cli's library) writes the main module, a
  # module per lazy route (split_*.wasm), the code two or more of them share (chunk_*.wasm),
  # the loader they call (__wasm_split.<placeholder>.js) and the manifest of the modules each
  # page needs (page-modules.json), from which the server adds preload links to a page.
  split="$wasm_target_dir/split"
  rm -rf "$split"
  byoc-split-wasm "$wasm_in" "$split" byoc-console
  rm -f "$pkg"/split_*.wasm* "$pkg"/chunk_*.wasm* "$pkg"/__wasm_split* "$pkg"/page-modules.json
  # The loader reaches the main module's table and memory through the exports the linker
  # made: wasm-bindgen must keep them.
  wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle --out-dir "$pkg" --out-name byoc-console \
    "$split/byoc-console.wasm"
  cp "$split"/__wasm_split* "$split"/page-modules.json "$split"/split_*.wasm "$split"/chunk_*.wasm "$pkg/"
  # binaryen's wasm-opt from npm (end2end/node_modules): Debian's binaryen 108 breaks the
  # externref table of current wasm-bindgen output (the page then never hydrates).
  wasm_opt=end2end/node_modules/.bin/wasm-opt
  modules=("$pkg/byoc-console_bg.wasm" "$pkg"/split_*.wasm "$pkg"/chunk_*.wasm)
  if [ -x "$wasm_opt" ]; then
    # One wasm-opt per core. The splitter's name sections carry a subsection binaryen does not
    # know; it says so for every module and drops it (the shipped modules carry no names).
    printf '%s\0' "${modules[@]}" | xargs -0 -n1 -P"$(nproc)" bash -c '
      "$0" -Oz --enable-reference-types --enable-bulk-memory --enable-sign-ext \
        --enable-nontrapping-float-to-int --enable-multivalue --enable-mutable-globals \
        "$1" -o "$1.opt" 2> >(grep -v "unknown name subsection" >&2) && mv "$1.opt" "$1"' "$wasm_opt"
    optimised=yes
  else
    log "wasm-opt not found (run scripts/setup.sh): the WASM stays unoptimised"
  fi
  compress "${modules[@]}" "$pkg/byoc-console.js" "$pkg"/__wasm_split.*.js
  log "wasm: main module $(stat -c %s "$pkg/byoc-console_bg.wasm") B, $(ls "$pkg"/split_*.wasm | wc -l) page modules, $(ls "$pkg"/chunk_*.wasm | wc -l) shared chunks"
  # Only an optimised site counts as made: a later run with wasm-opt present redoes it.
  if [ "${optimised:-}" = yes ]; then echo "$made_from" > "$stamp"; else rm -f "$stamp"; fi
fi

# --- styles and static files --------------------------------------------------------------------
cp style/main.css "$pkg/byoc-console.css"
cp -r public/. "$site/"

compress "$pkg/byoc-console.css"

# --- the server -----------------------------------------------------------------------------------
case "$profile" in
  release) cargo build --release --bin byoc-console ;;
  debug) cargo build --bin byoc-console ;;
  none) log "site in $site"; exit 0 ;;
esac
log "site in $site, server in target/$profile/byoc-console"
