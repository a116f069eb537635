#!/usr/bin/env bash
# Reproduction of a finding of the saturation run (docs/BENCHMARKS.md "Load and soak"): once
# `max_used_transactions` ids are remembered, redeeming one more evicts the used id "closest
# to expiry" even though its transaction cookie is still valid (all ids have the same TTL, so
# the victim is simply the oldest one), and that cookie can then be redeemed AGAIN: a second
# token request with the same code reaches the provider (REFERENCE: a code is sent at most
# once). At the default cap (100000) this happens as soon as more than 100000 sign-ins complete
# within transaction_ttl_secs (600 s), i.e. above ≈167 sign-ins/s sustained; here the cap is
# CAP=2 so that three sign-ins show it.
#
#   bench/soak/replay-after-eviction.sh      # exit 0: replay refused; exit 1: replay accepted
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CAP=${CAP:-2}
soak_build

"$BIN/examples/stub_token_endpoint" 127.0.0.1:0 > "$WORK/stub.out" 2> "$WORK/stub.err" &
SOAK_PIDS+=($!)
wait_line "$WORK/stub.out" "stub listening on"
STUB=$(sed -n 's/^stub listening on //p' "$WORK/stub.out")
cat > "$WORK/server.toml" <<TOML
[server]
listen = "127.0.0.1:0"
max_used_transactions = $CAP
[providers.stub]
authorization_endpoint = "$STUB/authorize"
token_endpoint = "$STUB/token"
client_id = "soak-client"
client_secret = "soak-secret-0123456789"
redirect_uri = "https://app.example/callback"
TOML
SOAK_LOG=${SOAK_LOG:-info} start_server "$WORK/server.toml"

post() { curl -s --max-time 10 -H 'content-type: application/json' -H 'x-authsplit: 1' -H "origin: $SERVER_URL" "$@"; }
new_tx() {
  post -D - -o /dev/null "$SERVER_URL/auth/transactions" \
    -d '{"provider":"stub","state":"s1","code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256"}' |
    sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1
}
redeem() { # cookie → "status error"
  post -w ' %{http_code}' -H "cookie: $1" "$SERVER_URL/auth/token" \
    -d '{"provider":"stub","code":"the-same-code","state":"s1","code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}' |
    python3 -c 'import sys,json; t=sys.stdin.read(); b,s=t.rsplit(" ",1); print(s, json.loads(b).get("error","(token reply)"))'
}

first=$(new_tx)
echo "sign-in 1:                    $(redeem "$first")"
echo "replay of sign-in 1 at once:  $(redeem "$first")   (expected: 400 transaction_used)"
for i in $(seq 2 $((CAP + 1))); do
  echo "sign-in $i:                    $(redeem "$(new_tx)")"
done
out=$(redeem "$first")
echo "replay of sign-in 1 now:      $out   (expected: 400 transaction_used)"
echo "outbound token requests the server logged: $(grep -c 'outbound call' "$WORK/server.err" || true)"
case "$out" in
  "400 transaction_used") echo "RESULT OK: the replay was refused"; exit 0 ;;
  *) echo "RESULT FAILED: a used transaction cookie was redeemed again after its id was evicted"; exit 1 ;;
esac
