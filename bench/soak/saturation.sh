#!/usr/bin/env bash
# Load benchmark (docs/BENCHMARKS.md "Load and soak"; a benchmark, not a test): full sign-ins against the
# release authsplit-server at saturation for SECONDS (default 60), against the fast
# `stub_token_endpoint` binary (crates/authsplit-test-support) as the provider's explicit token endpoint. wrk (THREADS=2,
# CONNS=64 connections, bench/soak/signin.lua) alternates POST /auth/transactions and
# POST /auth/token; the server's RSS is sampled every second into $WORK/rss.csv.
#
#   bench/soak/saturation.sh [SECONDS=60]
#
# Environment: THREADS (2), CONNS (64), WRK_TIMEOUT (5s: a reply slower than that counts as a
# socket timeout), SOAK_MAX_USED (server.max_used_transactions; default: the server's default,
# 100000), SOAK_OUT (keep the work files in this directory), SOAK_NO_BUILD=1 (use target/release
# as it is), SOAK_LOG (server RUST_LOG, default warn).
#
# Prints requests/s, sign-ins/s, p50/p99 latency (over both request kinds), wrk's non-2xx and
# socket error counts, the Lua script's count of unexpected replies (by status and error code),
# the RSS plateau (median of the last 20 s) and max, and threads/fds at the end; exits 1 when
# anything was not as expected (an error, a dropped request, the server gone or unhealthy).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECONDS_RUN=${1:-60}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
[[ "$SECONDS_RUN" =~ ^[0-9]+$ ]] && [ "$SECONDS_RUN" -ge 1 ] && [ "$SECONDS_RUN" -le 3600 ] ||
  { echo "usage: $0 [seconds 1..3600]" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is required" >&2; exit 1; }

soak_build

"$BIN/stub_token_endpoint" 127.0.0.1:0 > "$WORK/stub.out" 2> "$WORK/stub.err" &
SOAK_PIDS+=($!)
wait_line "$WORK/stub.out" "stub listening on"
STUB=$(sed -n 's/^stub listening on //p' "$WORK/stub.out")

# Server defaults everywhere (request_timeout_ms 10000, max_concurrent_requests 64, …) but the
# listen address; the cookie key comes from the environment (start_server).
{
  echo '[server]'
  echo 'listen = "127.0.0.1:0"'
  [ -n "${SOAK_MAX_USED:-}" ] && echo "max_used_transactions = $SOAK_MAX_USED"
  cat <<TOML
[providers.stub]
authorization_endpoint = "$STUB/authorize"
token_endpoint = "$STUB/token"
client_id = "soak-client"
client_secret = "soak-secret-0123456789"
redirect_uri = "https://app.example/callback"
TOML
} > "$WORK/server.toml"
start_server "$WORK/server.toml"
echo "server $SERVER_URL (pid $SERVER_PID), stub $STUB"
rss0=$(rss_kb "$SERVER_PID")

start_rss_sampler "$SERVER_PID" "$WORK/rss.csv" 1 $((SECONDS_RUN + 30))

export SOAK_ORIGIN=https://app.example SOAK_WORK=$WORK   # the redirect URI's origin (allow_same_origin)
machine_line | tee "$WORK/machine.txt"
echo "== wrk: $SECONDS_RUN s, $THREADS threads, $CONNS connections, timeout $WRK_TIMEOUT"
run_fg "$WORK/wrk.out" timeout $((SECONDS_RUN + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_RUN}s" \
  --timeout "$WRK_TIMEOUT" --latency -s "$SOAK_DIR/signin.lua" "$SERVER_URL/auth/transactions"
sleep 1.5   # one more RSS sample after the load

# Healthy afterwards: healthz answers and one more full sign-in works.
health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$SERVER_URL/auth/healthz" || echo 000)
post() { curl -s --max-time 10 -H 'content-type: application/json' -H 'x-authsplit: 1' -H "origin: https://app.example" "$@"; }
tx_cookie=$(post -D - -o /dev/null "$SERVER_URL/auth/transactions" \
  -d '{"provider":"stub","state":"after-the-load-0123456789abcdef","code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256"}' |
  sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
after=$(post -o /dev/null -w '%{http_code}' -H "cookie: $tx_cookie" "$SERVER_URL/auth/token" \
  -d '{"provider":"stub","code":"after-code","state":"after-the-load-0123456789abcdef","code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}' || echo 000)
alive=$(kill -0 "$SERVER_PID" 2>/dev/null && echo yes || echo no)
end_threads=$(nthreads "$SERVER_PID"); end_fds=$(nfds "$SERVER_PID")

SUMMARY="$WORK/wrk-summary.json"
[ -s "$SUMMARY" ] || { echo "wrk produced no summary" >&2; exit 1; }
python3 - "$SUMMARY" "$WORK/rss.csv" "$WORK/wrk-per-second.csv" "$rss0" "$health" "$after" "$alive" \
  "$end_threads" "$end_fds" "$WORK/server.err" "$CONNS" <<'PY'
import csv, json, statistics, sys
summ, rss_csv, ps_csv, rss0, health, after, alive, thr, fds, err, conns = sys.argv[1:]
s = json.load(open(summ))
rows = [r for r in csv.DictReader(open(rss_csv))]
rss = [int(r["rss_kb"]) for r in rows]
t = [float(r["t_s"]) for r in rows]
tend = t[-1] if t else 0
last20 = [int(r["rss_kb"]) for r in rows if float(r["t_s"]) >= tend - 20] or rss
per = [r for r in csv.DictReader(open(ps_csv))]
# drop the partial first and last seconds
full = [int(r["signins"]) for r in per[1:-1]] or [int(r["signins"]) for r in per]
errlines = [l for l in open(err, errors="replace") if " ERROR " in l or "panicked" in l]
se = s["socket_errors"]
sock = se["connect"] + se["read"] + se["write"] + se["timeout"]
mb = lambda kb: kb / 1024
print()
print(f"requests/s          {s['requests_per_s']:.0f}  ({s['requests']} requests in {s['duration_s']:.1f} s)")
print(f"sign-ins/s          {s['signins_per_s']:.0f}  ({s['signins']} completed; per full second min {min(full)} / median {statistics.median(full):.0f} / max {max(full)})")
l = s["latency_ms"]
win = [sum(int(r["signins"]) for r in per[i:i + 5]) // len(per[i:i + 5]) for i in range(0, len(per), 5)]
print("sign-ins/s per 5 s  " + " ".join(str(w) for w in win))
cum, cap_at = 0, None
for i, r in enumerate(per):
    cum += int(r["signins"])
    if cap_at is None and cum >= 100000:
        cap_at = i
if cap_at is not None:
    print(f"                    (the 100000th sign-in completed in second {cap_at} of {len(per)})")
print(f"latency (both)      p50 {l['p50']:.2f} ms  p90 {l['p90']:.2f} ms  p99 {l['p99']:.2f} ms  p99.9 {l['p999']:.2f} ms  max {l['max']:.2f} ms")
print(f"non-2xx (wrk)       {s['non2xx']}")
print(f"socket errors       {sock}  (connect {se['connect']}, read {se['read']}, write {se['write']}, timeout {se['timeout']})")
print(f"unexpected replies  {s['unexpected']}  {s['unexpected_by_reply'] or ''}")
in_flight = s["tx_sent"] + s["token_sent"] - s["tx_ok"] - s["token_ok"] - s["unexpected"]
print(f"requests            transactions {s['tx_sent']} sent / {s['tx_ok']} 201; tokens {s['token_sent']} sent / {s['token_ok']} 200; "
      f"generated but unanswered when wrk stopped {in_flight} (≈ 1 per connection; wrk also regenerates a request whose first write would block), cookies not yet redeemed {s['pending_tx_at_stop']}")
print(f"RSS                 start {mb(int(rss0)):.1f} MiB, plateau (median of last 20 s) {mb(statistics.median(last20)):.1f} MiB, max {mb(max(rss)):.1f} MiB, end {mb(rss[-1]):.1f} MiB ({len(rss)} samples)")
print(f"after the load      alive {alive}, /auth/healthz {health}, one more sign-in {after}, threads {thr}, fds {fds}, ERROR/panic log lines {len(errlines)}")
for x in errlines[:5]:
    print("   ", x.rstrip()[:300])
ok = (s["non2xx"] == 0 and in_flight <= int(conns) + 8 and sock == 0 and s["unexpected"] == 0 and alive == "yes"
      and health == "200" and after == "200" and not errlines and s["signins"] > 0)
print("RESULT", "OK" if ok else "FAILED", "(zero errors, zero dropped, healthy afterwards)" if ok else "")
sys.exit(0 if ok else 1)
PY
