#!/usr/bin/env bash
# Runs every test of the project, after doing its own set-up. The README's test command.
# Build once, share artefacts between stages: one cargo target dir, the debug server binary
# built once and reused by every Node suite, the web package built once.
# Every stage always runs: a missing script or test file fails the run, it never skips a stage.
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
# Fails unless every pattern matches at least one file (a stage must have something to run).
need() {
  local p
  for p in "$@"; do
    compgen -G "$p" >/dev/null || { echo "test.sh: nothing matches $p" >&2; return 1; }
  done
}
# The test files of a stage must exist, then the stage runs.
run_with() {
  local pattern=$1; shift
  need "$pattern" && "$@"
}

stage "set-up" scripts/setup.sh
stage "rustfmt" cargo fmt --all --check
# Every repository path, rule id and provider section cited in the docs exists, and nothing
# cites files outside the repository; the checker's own tests first.
stage "doc paths and citations" run_with 'scripts/check-*.test.mjs' \
  sh -c 'node --test scripts/check-*.test.mjs && node scripts/check-doc-paths.mjs'
stage "clippy (host)" cargo clippy --workspace --all-targets --locked -- -D warnings
# Rustdoc of every crate without warnings: no intra-doc link to an item that does not exist.
stage "rustdoc (no broken links)" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# The browser half on wasm32; this also compiles authsplit-core for wasm32.
stage "clippy (wasm32)" cargo clippy -p authsplit-wasm --target wasm32-unknown-unknown --locked -- -D warnings
stage "rust tests (host)" cargo test --workspace --exclude authsplit-wasm --locked
# The crates meant for crates.io package and build on their own, with their path dependencies
# resolved by version (crates with `publish = false` are skipped).
stage "crates publishable (cargo publish --dry-run)" scripts/check-publish.sh
stage "build server binary" cargo build -p authsplit-server --locked
# The build step that binds the wasm module to web/loader.js refuses any other ABI; its tests.
stage "web build scripts" run_with 'web/scripts/*.test.mjs' node --test web/scripts/*.test.mjs
stage "build web package + example SPA" scripts/build-web.sh
# Fails when wasm + JS a SPA loads (gzip -9) grows past web/size-budget.json.
stage "size guard" node web/scripts/size-guard.mjs
# The npm tarball holds exactly the intended files (scripts/check-npm-pack.mjs EXPECTED).
stage "npm package contents (npm pack --dry-run)" node scripts/check-npm-pack.mjs
stage "wasm tests (headless Chromium)" run_with 'crates/authsplit-wasm/tests/*.rs' \
  cargo test -p authsplit-wasm --target wasm32-unknown-unknown --locked
# The npm package in each bundler: one install of the bundlers (npm ci once per lock hash)
# and the fixture builds (cached by input hash) happen here, outside the suites' time limit.
stage "bundler fixtures (install, pack, build)" node tests/support/bundlers.mjs
stage "end-to-end (oidc-provider + authsplit-server + Chromium)" run_with 'tests/e2e/*.test.mjs' \
  node --test --test-concurrency=2 --test-timeout=180000 \
    $(find tests/e2e -name '*.test.mjs' ! -name 'bundlers*' | sort)
# The bundler builds in Chromium, the React journey, tsc under four resolutions, attw, publint.
stage "end-to-end: the npm package in bundlers, React, TypeScript" \
  node --test --test-concurrency=2 --test-timeout=600000 \
    tests/e2e/bundlers.test.mjs tests/e2e/bundlers-types.test.mjs

printf '\nall stages passed in %ss\n' "$(( $(date +%s) - t0 ))"
