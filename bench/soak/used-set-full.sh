#!/usr/bin/env bash
# Reproduction of what the saturation run hits (docs/BENCHMARKS.md "Load and soak"): the server
# remembers at most `max_used_transactions` used transaction ids (default 100000), each until
# its transaction would expire (transaction_ttl_secs, 600 s). With CAP=2 three sign-ins show
# what happens when the set is full of live ids:
#  - before server commit d442894 the oldest used id was
#    evicted and its still-valid cookie could be redeemed a SECOND time (the code went to the
#    provider twice);
#  - since d442894 the set fails closed: every further sign-in gets 503 provider_unavailable
#    until ids expire — more than CAP token exchanges within 600 s (≈167/s sustained at the
#    default; failed exchanges count too, since the id is marked before the request is sent)
#    lock every user out of signing in for up to 10 minutes.
#
#   bench/soak/used-set-full.sh   # exit 1 if the replay is accepted; prints LOCKOUT when a
#                                 # fresh sign-in is refused because the set is full
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CAP=${CAP:-2}
soak_build

"$BIN/stub_token_endpoint" 127.0.0.1:0 > "$WORK/stub.out" 2> "$WORK/stub.err" &
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

post() { curl -s --max-time 10 -H 'content-type: application/json' -H 'x-authsplit: 1' -H "origin: https://app.example" "$@"; }
new_tx() {
  post -D - -o /dev/null "$SERVER_URL/auth/transactions" \
    -d '{"provider":"stub","state":"replay-state-0123456789abcdef","code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256"}' |
    sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1
}
redeem() { # cookie → "status error"
  post -w ' %{http_code}' -H "cookie: $1" "$SERVER_URL/auth/token" \
    -d '{"provider":"stub","code":"the-same-code","state":"replay-state-0123456789abcdef","code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}' |
    python3 -c 'import sys,json; t=sys.stdin.read(); b,s=t.rsplit(" ",1); print(s, json.loads(b).get("error","(token reply)"))'
}

first=$(new_tx)
echo "sign-in 1:                    $(redeem "$first")"
echo "replay of sign-in 1 at once:  $(redeem "$first")   (expected: 400 transaction_used)"
for i in $(seq 2 $((CAP + 1))); do
  last=$(redeem "$(new_tx)")
  echo "sign-in $i:                    $last"
done
out=$(redeem "$first")
echo "replay of sign-in 1 now:      $out   (expected: 400 transaction_used)"
echo "outbound token requests the server logged: $(grep -c 'outbound call' "$WORK/server.err" || true)"
case "$last" in
  "200 "*) echo "sign-in $((CAP + 1)) (the set was full) succeeded: no lockout" ;;
  *) echo "LOCKOUT: sign-in $((CAP + 1)) refused with '$last' while the used set is full of live ids" ;;
esac
case "$out" in
  "400 transaction_used") echo "RESULT OK: the replay was refused"; exit 0 ;;
  *) echo "RESULT FAILED: a used transaction cookie was redeemed again after its id was evicted"; exit 1 ;;
esac
