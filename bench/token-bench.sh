#!/usr/bin/env bash
# Benchmark of POST /auth/token against a fast local stub token endpoint (wrk; not a test).
# Phase 1 registers transactions (POST /auth/transactions) and keeps their cookies; phase 2
# redeems one fresh transaction per POST /auth/token: local checks, one outbound token request
# to the stub, response parsing, session cookie encryption. Everything on 127.0.0.1; every
# process started here is stopped on exit.
#
#   bench/token-bench.sh            # DURATION=10s THREADS=2 CONNS=32
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
PROFILE=${PROFILE:-release}

command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
flag=$([ "$PROFILE" = release ] && echo --release || true)
cargo build $flag -p authsplit-server -p authsplit-test-support --bins
bin=target/$([ "$PROFILE" = release ] && echo release || echo debug)

export BENCH_DIR; BENCH_DIR=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$BENCH_DIR"
}
trap cleanup EXIT INT TERM

wait_line() { # file pattern
  for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; return 1
}

"$bin/stub_token_endpoint" 127.0.0.1:0 > "$BENCH_DIR/stub.out" &
pids+=($!)
wait_line "$BENCH_DIR/stub.out" "stub listening on"
stub=$(sed -n 's/^stub listening on //p' "$BENCH_DIR/stub.out")

cat > "$BENCH_DIR/bench.toml" <<TOML
[server]
listen = "127.0.0.1:0"
dev_generate_cookie_key = true
max_used_transactions = 10000000
[providers.stub]
authorization_endpoint = "$stub/authorize"
token_endpoint = "$stub/token"
client_id = "bench client"
client_secret = "a+b:c%d/e f"
redirect_uri = "https://app.example/callback"
TOML
RUST_LOG=warn "$bin/authsplit-server" --config "$BENCH_DIR/bench.toml" \
  > "$BENCH_DIR/server.out" 2> "$BENCH_DIR/server.err" &
pids+=($!)
wait_line "$BENCH_DIR/server.out" "listening on"
url=$(sed -n 's/^authsplit-server listening on //p' "$BENCH_DIR/server.out")
export BENCH_ORIGIN=https://app.example   # the redirect URI's origin (allow_same_origin)

echo "== phase 1: collecting transactions ($DURATION)"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s bench/lua/collect.lua "$url/auth/transactions"
echo "collected $(cat "$BENCH_DIR"/cookies-*.txt | wc -l) transaction cookies"
echo "== phase 2: POST /auth/token ($DURATION, $CONNS connections, $THREADS threads)"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/lua/token.lua "$url/auth/token"
