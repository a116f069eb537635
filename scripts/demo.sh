#!/usr/bin/env bash
# The demo: a local OpenID provider (npm oidc-provider), authsplit-server configured for it and
# serving the example SPA. Does its own set-up and build. Ctrl-C stops everything it started.
#
#   scripts/demo.sh                 # http://127.0.0.1:8080, provider on :9000
#   APP_PORT=3000 OP_PORT=4000 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

APP_PORT=${APP_PORT:-8080}
OP_PORT=${OP_PORT:-9000}
APP="http://127.0.0.1:${APP_PORT}"

scripts/setup.sh
echo "[demo] building (first run: a few minutes)"
cargo build -p authsplit-server --locked
scripts/build-web.sh

run_dir=$(mktemp -d)
pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run_dir"
  echo "[demo] stopped"
}
trap cleanup INT TERM EXIT

node tests/support/op-server.mjs --port "$OP_PORT" --redirect-uri "$APP/callback" \
  --post-logout-redirect-uri "$APP/signed-out" &
pids+=($!)

# A fresh random cookie key for this demo run (never commit a real one).
cookie_key=$(head -c 64 /dev/urandom | base64 -w0)
sed -e "s#@APP@#${APP}#g" -e "s#@OP@#http://127.0.0.1:${OP_PORT}#g" \
    -e "s#@PORT@#${APP_PORT}#g" -e "s#@COOKIE_KEY@#${cookie_key}#g" \
    scripts/demo.toml.in > "$run_dir/authsplit.toml"

# Wait for the provider's discovery document before starting the backend.
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:${OP_PORT}/.well-known/openid-configuration" >/dev/null 2>&1 && break
  sleep 0.1
done

"${CARGO_TARGET_DIR:-target}"/debug/authsplit-server --config "$run_dir/authsplit.toml" --static-dir web/example/dist &
pids+=($!)

cat <<MSG

  authsplit demo is starting:
    open ${APP}/  and click "Sign in with Local OIDC provider"
    at the provider: any login and password, then "Continue"
  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
