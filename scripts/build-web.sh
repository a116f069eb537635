#!/usr/bin/env bash
# Builds the browser half: the wasm crate → wasm-bindgen (--target web) → the module bound to
# the hand-written loader web/loader.js (web/scripts/bind-module.mjs; wasm-bindgen's JS glue is
# not shipped) → wasm-opt -Oz (npm binaryen, never Debian's 108, whose output crashed in the
# browser: docs/TOOLCHAIN.md T2) into web/pkg/ (the module, random.js, and the module inlined
# for web/inline.js), then the example SPA into
# web/example/dist/ (static files + the package). Idempotent; a warm run takes a few seconds.
#
#   scripts/build-web.sh            # build
#   SIZE=1 scripts/build-web.sh     # … and print the gzip -9 size figures (web/scripts/size.mjs)
set -euo pipefail
cd "$(dirname "$0")/.."

# Ignore any host-wide flags (coverage, sanitizers) that would bloat or break the wasm build.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

WASM_IN=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/authsplit_wasm.wasm
PKG=web/pkg
DIST=web/example/dist
WASM_OPT=node_modules/.bin/wasm-opt

if [ ! -x "$WASM_OPT" ]; then
  echo "build-web: $WASM_OPT missing: run scripts/setup.sh (or npm ci)" >&2
  exit 1
fi
want=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
if [ -z "$have" ] || [ "$have" != "$want" ]; then
  echo "build-web: wasm-bindgen CLI ${have:-missing} != crate ${want}: run scripts/setup.sh" >&2
  exit 1
fi

echo "[build-web] cargo build (wasm-release)"
# `lean`: no std in the module, an own trapping panic handler (crates/authsplit-wasm/Cargo.toml).
cargo build -p authsplit-wasm --target wasm32-unknown-unknown --profile wasm-release --features lean --locked

# wasm-bindgen + wasm-opt only when the cargo output changed.
stamp="$PKG/.build-stamp"
sum=$( (sha256sum "$WASM_IN"; echo "$have"; "$WASM_OPT" --version; sha256sum "$0" web/scripts/bind-module.mjs web/scripts/inline-wasm.mjs) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && [ -f "$PKG/authsplit_wasm_bg.wasm" ]; then
  echo "[build-web] web/pkg up to date"
else
  echo "[build-web] wasm-bindgen --target web"
  rm -rf "$PKG.tmp"
  wasm-bindgen --target web --remove-name-section --remove-producers-section \
    --out-dir "$PKG.tmp" --out-name authsplit_wasm "$WASM_IN"
  echo "[build-web] the module bound to web/loader.js (web/scripts/bind-module.mjs)"
  node web/scripts/bind-module.mjs "$PKG.tmp" authsplit_wasm
  # wasm-bindgen's generated JS glue and its types: web/loader.js takes their place.
  rm "$PKG.tmp"/authsplit_wasm.js "$PKG.tmp"/authsplit_wasm.d.ts "$PKG.tmp"/authsplit_wasm_bg.wasm.d.ts
  echo "[build-web] wasm-opt -Oz"
  # The features rustc enables by default for wasm32-unknown-unknown; the target_features
  # section itself is not needed at run time.
  "$WASM_OPT" -Oz --strip-target-features \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$PKG.tmp/authsplit_wasm_bg.wasm" "$PKG.tmp/authsplit_wasm_bg.wasm"
  echo "[build-web] the module inlined as base64 (web/scripts/inline-wasm.mjs, for web/inline.js)"
  node web/scripts/inline-wasm.mjs "$PKG.tmp"
  rm -rf "$PKG"
  mv "$PKG.tmp" "$PKG"
  echo "$sum" > "$stamp"
fi

# The npm package ships the license texts at its root (web/package.json "files"); the
# repository keeps one copy of each, at its root.
cp LICENSE-MIT LICENSE-APACHE web/

echo "[build-web] example SPA → $DIST"
rm -rf "$DIST.tmp"
mkdir -p "$DIST.tmp/authsplit/pkg"
cp web/example/index.html web/example/app.js web/example/style.css "$DIST.tmp/"
cp web/index.js web/loader.js web/client.js "$DIST.tmp/authsplit/"
cp "$PKG/random.js" "$PKG/authsplit_wasm_bg.wasm" "$DIST.tmp/authsplit/pkg/"
rm -rf "$DIST"
mv "$DIST.tmp" "$DIST"

if [ "${SIZE:-0}" = "1" ]; then
  node web/scripts/size.mjs
fi
echo "[build-web] done"
