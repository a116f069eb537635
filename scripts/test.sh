#!/usr/bin/env bash
# Runs every test of the project, after doing its own set-up. The README's test command.
# Build once, share artefacts between stages: one cargo target dir, the debug server binary
# built once and reused by every Node suite, the web package built once.
# Every stage always runs: a missing script or test file fails the run, it never skips a stage.
#
# The checks and builds run one after the other. Then three lanes run at the same time, because
# the end-to-end suites mostly wait (on browsers, deadlines, retries) rather than compute: the
# Rust tests (all cargo work, one after the other: cargo holds one lock on the target dir), the
# bundler suite, and the end-to-end suites. A lane's output goes to a log that is printed whole
# when the stage ends, so stages never interleave; a failed stage fails the run, after the other
# lanes have finished. The publish dry-run (compiling, nothing timed) runs at a lower CPU
# priority than the suites that assert deadlines.
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

# A stage inside a lane: its output goes to its own log, which is printed whole (between its
# `===` lines) when it ends, so the lanes' output never interleaves. Returns the stage's status.
lane_stage() {
  local name=$1; shift
  local log; log=$(mktemp "$logs/stage.XXXXXX")
  local s rc=0; s=$(date +%s)
  "$@" >"$log" 2>&1 || rc=$?
  {
    printf '\n=== %s\n' "$name"
    cat "$log"
    if [ "$rc" = 0 ]; then
      printf '=== %s: ok (%ss)\n' "$name" "$(( $(date +%s) - s ))"
    else
      printf '=== %s: FAILED (exit %s, %ss)\n' "$name" "$rc" "$(( $(date +%s) - s ))"
    fi
  } | flock "$logs" cat
  return "$rc"
}
# Starts a lane (a shell function running lane_stage calls) in the background.
lane() {
  printf '\n=== lane started: %s\n' "$1"
  "$@" &
  lane_pids+=("$!")
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
stage "build server binary" cargo build -p authsplit-server --locked
# Every test binary is built here, before the lanes, so the Rust lane below only runs them.
stage "build test binaries (host, wasm32)" sh -c \
  'cargo test --workspace --exclude authsplit-wasm --locked --no-run &&
   cargo test -p authsplit-wasm --target wasm32-unknown-unknown --locked --no-run'
# The build step that binds the wasm module to web/loader.js refuses any other ABI; its tests.
stage "web build scripts" run_with 'web/scripts/*.test.mjs' node --test web/scripts/*.test.mjs
stage "build web package + example SPA" scripts/build-web.sh
# Fails when wasm + JS a SPA loads (gzip -9) grows past web/size-budget.json.
stage "size guard" node web/scripts/size-guard.mjs
# The npm tarball holds exactly the intended files (scripts/check-npm-pack.mjs EXPECTED).
stage "npm package contents (npm pack --dry-run)" node scripts/check-npm-pack.mjs
# The npm package in each bundler: one install of the bundlers (npm ci once per lock hash)
# and the fixture builds (cached by input hash) happen here, outside the suites' time limit.
stage "bundler fixtures (install, pack, build)" node tests/support/bundlers.mjs

# The e2e files, longest first (measured), so that no long one starts last; the rest follow in
# name order. Every file under tests/e2e except the bundler suites runs once; a listed file that
# is missing fails the stage.
E2E_FIRST=(faults providers spa-journeys security spa backend inapp hardening provider-logout op-fixture)
run_e2e() {
  local f files=()
  for f in "${E2E_FIRST[@]}"; do
    need "tests/e2e/$f.test.mjs" || return 1
    files+=("tests/e2e/$f.test.mjs")
  done
  for f in $(find tests/e2e -name '*.test.mjs' ! -name 'bundlers*' | sort); do
    [[ " ${files[*]} " == *" $f "* ]] || files+=("$f")
  done
  node --test --test-concurrency=4 --test-timeout=180000 "${files[@]}"
}
lane_rust() {
  lane_stage "rust tests (host)" cargo test --workspace --exclude authsplit-wasm --locked &&
  # The crates meant for crates.io package and build on their own, with their path
  # dependencies resolved by version (crates with `publish = false` are skipped).
  lane_stage "crates publishable (cargo publish --dry-run)" nice -n 10 scripts/check-publish.sh &&
  lane_stage "wasm tests (headless Chromium)" run_with 'crates/authsplit-wasm/tests/*.rs' \
    cargo test -p authsplit-wasm --target wasm32-unknown-unknown --locked
}
# The bundler builds in Chromium, the React journey, tsc under four resolutions, attw, publint.
lane_bundlers() {
  lane_stage "end-to-end: the npm package in bundlers, React, TypeScript" \
    node --test --test-concurrency=2 --test-timeout=600000 \
      tests/e2e/bundlers.test.mjs tests/e2e/bundlers-types.test.mjs
}
# Each file is its own process with its own oidc-provider / server / Chromium, so files run
# side by side; inside a file the tests run one after the other.
lane_e2e() {
  lane_stage "end-to-end (oidc-provider + authsplit-server + Chromium)" run_with 'tests/e2e/*.test.mjs' run_e2e
}
logs=$(mktemp -d "${TMPDIR:-/tmp}/authsplit-test-logs.XXXXXX")
lane_pids=()
trap 'kill "${lane_pids[@]}" 2>/dev/null || true; rm -rf "$logs"' INT TERM
lane lane_e2e
lane lane_bundlers
lane lane_rust
failed=0
for pid in "${lane_pids[@]}"; do
  wait "$pid" || failed=1
done
rm -rf "$logs"
if [ "$failed" != 0 ]; then
  printf '\ntest.sh: a stage FAILED (see "=== …: FAILED" above)\n' >&2
  exit 1
fi

printf '\nall stages passed in %ss\n' "$(( $(date +%s) - t0 ))"
