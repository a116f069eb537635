#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian 12 machine: everything the whole project needs to
# build, demo and test. Skips whatever is already present at the right version, so a warm run
# takes a few seconds. Called by scripts/demo.sh and scripts/test.sh; safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Rust target for the browser half.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen CLI pinned to the exact wasm-bindgen version in Cargo.lock (it refuses
#    modules built by any other version). `--locked` fails against the registry mirror here.
want=$(awk '$0=="name = \"wasm-bindgen\"" {getline; gsub(/"/,"",$3); print $3}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ -n "$want" ] && [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (have: ${have:-none}; ~2.5 min)"
  cargo install wasm-bindgen-cli --version "$want"
fi

# 3. Chromium and ChromeDriver for the browser tests (Debian packages; no browser downloads):
#    chromium + chromium-driver for the wasm tests (wasm-bindgen-test-runner), and Chromium's
#    headless shell (the same Chromium built for headless use only) for the Node suites
#    (tests/support/browser.mjs).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium-headless-shell ]; then
  log "installing chromium, chromium-driver and chromium-headless-shell"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver chromium-headless-shell >/dev/null
fi

# 4. redis-server for the store tests (Debian's package). The tests start their own servers on
#    free loopback ports and stop them; they never use the system service.
if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server >/dev/null
fi

# 5. Node dependencies from the committed lock file (oidc-provider, playwright-core, binaryen…).
if [ -f package-lock.json ]; then
  lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
  stamp=node_modules/.authsplit-lock-hash
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_hash" > "$stamp"
  fi
fi

log "ready"
