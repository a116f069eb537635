#!/usr/bin/env bash
# Runs every test of the project, after doing its own set-up. The README's test command.
# Build once, share artefacts between stages: one cargo target dir, the debug server binary
# built once and reused by every Node suite, the web package built once.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# The Node suites run the binary this script builds (never build inside a test).
export AUTHSPLIT_SERVER_BIN="${AUTHSPLIT_SERVER_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/authsplit-server}"

t0=$(date +%s)
stage() {
  local name=$1; shift
  local s; s=$(date +%s)
  printf '\n=== %s\n' "$name"
  "$@"
  printf '=== %s: ok (%ss)\n' "$name" "$(( $(date +%s) - s ))"
}

stage "set-up" scripts/setup.sh
stage "rustfmt" cargo fmt --all --check
stage "clippy (host)" cargo clippy --workspace --all-targets --locked -- -D warnings
# The browser half on wasm32; this also compiles authsplit-core for wasm32.
stage "clippy (wasm32)" cargo clippy -p authsplit-wasm --target wasm32-unknown-unknown --locked -- -D warnings
stage "rust tests (host)" cargo test --workspace --exclude authsplit-wasm --locked
stage "build server binary" cargo build -p authsplit-server --locked
if [ -x scripts/build-web.sh ]; then
  stage "build web package + example SPA" scripts/build-web.sh
  # Fails when wasm + JS a SPA loads (gzip -9) grows past web/size-budget.json.
  stage "size guard" node web/scripts/size-guard.mjs
fi
if [ -f crates/authsplit-wasm/tests/web.rs ] || ls crates/authsplit-wasm/tests/*.rs >/dev/null 2>&1; then
  stage "wasm tests (headless Chromium)" cargo test -p authsplit-wasm --target wasm32-unknown-unknown --locked
fi
if ls tests/e2e/*.test.mjs >/dev/null 2>&1; then
  # The npm package in each bundler: one install of the bundlers (npm ci once per lock hash)
  # and the fixture builds (cached by input hash) happen here, outside the suites' time limit.
  stage "bundler fixtures (install, pack, build)" node tests/support/bundlers.mjs
  stage "end-to-end (oidc-provider + authsplit-server + Chromium)" node --test --test-concurrency=2 --test-timeout=180000 \
    $(find tests/e2e -name '*.test.mjs' ! -name 'bundlers*' | sort)
  # The bundler builds in Chromium, the React journey, tsc under four resolutions, attw, publint.
  stage "end-to-end: the npm package in bundlers, React, TypeScript" node --test --test-concurrency=2 --test-timeout=600000 \
    tests/e2e/bundlers.test.mjs tests/e2e/bundlers-types.test.mjs
fi

printf '\nall stages passed in %ss\n' "$(( $(date +%s) - t0 ))"
