#!/usr/bin/env bash
# Soak benchmark (docs/BENCHMARKS.md "Load and soak"; a benchmark, not a test): a slow provider (every
# token request answered after 2 s: tests/support/faulty-provider.mjs through
# bench/soak/slow-provider.mjs) under CONCURRENCY=500 concurrent full sign-ins (TOTAL=2000,
# hard limit LIMIT_S=120 s; bench/soak/signins.mjs) against the release authsplit-server with
# its default limits (max_concurrent_requests 64 per provider, request_timeout_ms 10000), while
# GET /auth/healthz is polled every 200 ms (curl, a new connection each time) and the server's
# RSS is sampled every 0.5 s.
#
#   bench/soak/slow-provider.sh
#
# Environment: TOTAL (2000), CONCURRENCY (500), LIMIT_S (120), DELAY_MS (2000),
# SOAK_MAX_CONCURRENT / SOAK_TIMEOUT_MS (override server.max_concurrent_requests /
# server.request_timeout_ms), SOAK_OUT, SOAK_NO_BUILD=1, SOAK_LOG (see saturation.sh).
#
# Reports the outcome distribution of both steps (status + error code, with p50/p99/max
# duration), the provider's token request count and its highest concurrency (the cap), the
# /healthz latency (max, p99) and any non-200, the RSS max and at the end, and whether the
# server is still healthy (healthz + one more sign-in). Exits 1 when a check fails: the cap
# exceeded, a /token reply other than 200 / 503 / 504, a reply later than the deadline + 1 s,
# a /healthz failure or one slower than 1 s, a request sent upstream and then abandoned, the
# server unhealthy afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TOTAL=${TOTAL:-2000}
CONCURRENCY=${CONCURRENCY:-500}
LIMIT_S=${LIMIT_S:-120}
DELAY_MS=${DELAY_MS:-2000}

soak_build

node "$SOAK_DIR/slow-provider.mjs" "$WORK/provider-stats.json" "$DELAY_MS" > "$WORK/provider.out" 2> "$WORK/provider.err" &
PROVIDER_PID=$!
SOAK_PIDS+=("$PROVIDER_PID")
wait_line "$WORK/provider.out" "slow provider listening on"
PROV=$(sed -n 's/^slow provider listening on //p' "$WORK/provider.out")

{
  echo '[server]'
  echo 'listen = "127.0.0.1:0"'
  [ -n "${SOAK_MAX_CONCURRENT:-}" ] && echo "max_concurrent_requests = $SOAK_MAX_CONCURRENT"
  [ -n "${SOAK_TIMEOUT_MS:-}" ] && echo "request_timeout_ms = $SOAK_TIMEOUT_MS"
  cat <<TOML
[providers.slow]
authorization_endpoint = "$PROV/authorize"
token_endpoint = "$PROV/token"
client_id = "soak-client"
client_secret = "soak-secret-0123456789"
redirect_uri = "https://app.example/callback"
TOML
} > "$WORK/server.toml"
CAP=${SOAK_MAX_CONCURRENT:-64}
TIMEOUT_MS=${SOAK_TIMEOUT_MS:-10000}
start_server "$WORK/server.toml"
echo "server $SERVER_URL (pid $SERVER_PID), slow provider $PROV (${DELAY_MS} ms), cap $CAP, request_timeout_ms $TIMEOUT_MS"
rss0=$(rss_kb "$SERVER_PID")

MAX_POLLS=$(( (LIMIT_S + 60) * 5 ))
start_rss_sampler "$SERVER_PID" "$WORK/rss.csv" 0.5 $((MAX_POLLS / 2 + 10))

# /healthz poller: one curl every 200 ms (plus its own duration), bounded; stops when $WORK/stop
# exists. CSV: t_s,status,latency_ms (status 000 = no answer within 5 s).
echo "t_s,status,latency_ms" > "$WORK/healthz.csv"
(
  t0=$(date +%s.%N)
  for _ in $(seq 1 "$MAX_POLLS"); do
    [ -e "$WORK/stop" ] && break
    r=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "$SERVER_URL/auth/healthz" || true)
    now=$(date +%s.%N)
    set -- $r
    printf '%.2f,%s,%.1f\n' "$(echo "$now - $t0" | bc)" "${1:-000}" "$(echo "${2:-5} * 1000" | bc)" >> "$WORK/healthz.csv"
    sleep 0.2
  done
) &
SOAK_SAMPLER_PIDS+=($!)
sleep 2   # a baseline of /healthz and RSS before the load

machine_line | tee "$WORK/machine.txt"
echo "== $TOTAL sign-ins, $CONCURRENCY concurrent, limit ${LIMIT_S}s"
load_t0=$(date +%s.%N)
run_fg "$WORK/driver.out" timeout $((LIMIT_S + 60)) node "$SOAK_DIR/signins.mjs" "$SERVER_URL" slow "$TOTAL" "$CONCURRENCY" "$LIMIT_S" "$WORK/signins.json"
load_t1=$(date +%s.%N)
rss_load_end=$(rss_kb "$SERVER_PID")
sleep 3   # healthz and RSS after the load
touch "$WORK/stop"

# Healthy afterwards: one more sign-in (through the slow provider) and /healthz.
run_fg "$WORK/after.out" timeout 60 node "$SOAK_DIR/signins.mjs" "$SERVER_URL" slow 1 1 30 "$WORK/after.json" 2>/dev/null || true
health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$SERVER_URL/auth/healthz" || echo 000)
alive=$(kill -0 "$SERVER_PID" 2>/dev/null && echo yes || echo no)
end_threads=$(nthreads "$SERVER_PID"); end_fds=$(nfds "$SERVER_PID")
rss_end=$(rss_kb "$SERVER_PID")

kill -TERM "$PROVIDER_PID" 2>/dev/null || true
for _ in $(seq 1 50); do [ -s "$WORK/provider-stats.json" ] && break; sleep 0.1; done

python3 - "$WORK" "$rss0" "$rss_load_end" "$rss_end" "$health" "$alive" "$end_threads" "$end_fds" \
  "$CAP" "$TIMEOUT_MS" "$load_t0" "$load_t1" <<'PY'
import csv, json, statistics, sys
work, rss0, rss_load_end, rss_end, health, alive, thr, fds, cap, timeout_ms, lt0, lt1 = sys.argv[1:]
cap, timeout_ms = int(cap), int(timeout_ms)
s = json.load(open(f"{work}/signins.json"))
after = json.load(open(f"{work}/after.json")) if open(f"{work}/after.json").read(1) else {}
prov = json.load(open(f"{work}/provider-stats.json"))
rss_rows = list(csv.DictReader(open(f"{work}/rss.csv")))
rss = [int(r["rss_kb"]) for r in rss_rows]
hz = list(csv.DictReader(open(f"{work}/healthz.csv")))
hz_lat = [float(r["latency_ms"]) for r in hz]
hz_bad = [r for r in hz if r["status"] != "200"]
gaps = [float(b["t_s"]) - float(a["t_s"]) for a, b in zip(hz, hz[1:])]
errlines = [l for l in open(f"{work}/server.err", errors="replace") if " ERROR " in l or "panicked" in l]
mb = lambda kb: int(kb) / 1024
pct = lambda a, p: sorted(a)[min(len(a) - 1, max(0, int(round(p / 100 * len(a))) - 1))] if a else float("nan")

print()
print(f"sign-ins            {s['succeeded']} succeeded of {s['completed']} completed ({s['started']} started, {s['total_requested']} requested), "
      f"max {s['max_concurrent_signins']} concurrent, {s['wall_s']} s, time limit hit: {s['time_limit_hit']}, abandoned {s['abandoned_in_flight']}")
print("outcomes            (step status error: count, p50 / p99 / max duration)")
for k, v in sorted(s["outcomes"].items(), key=lambda kv: -kv[1]["count"]):
    print(f"   {k:45s} {v['count']:6d}   {v['p50_ms']} / {v['p99_ms']} / {v['max_ms']} ms")
a_ok = after.get("succeeded") == 1
tok = {k: v for k, v in s["outcomes"].items() if k.startswith("token ")}
tok200 = sum(v["count"] for k, v in tok.items() if k.startswith("token 200"))
print(f"provider            {prov['token_requests']} token requests received (token 200s: {tok200} + 1 after the load), at most {prov['max_in_flight']} at once (cap {cap})")
print(f"/healthz            {len(hz)} polls, {len(hz_bad)} not 200, latency p50 {pct(hz_lat,50):.1f} ms, p99 {pct(hz_lat,99):.1f} ms, max {max(hz_lat):.1f} ms; longest gap between answers {max(gaps):.2f} s")
print(f"RSS                 before {mb(rss0):.1f} MiB, max {mb(max(rss)):.1f} MiB, at the end of the load {mb(rss_load_end):.1f} MiB, after {mb(rss_end):.1f} MiB ({len(rss)} samples)")
print(f"after the load      alive {alive}, /auth/healthz {health}, one more sign-in {'200' if a_ok else after.get('outcomes')}, threads {thr}, fds {fds}, ERROR/panic log lines {len(errlines)}")
for x in errlines[:5]:
    print("   ", x.rstrip()[:300])

problems = []
if prov["max_in_flight"] > cap: problems.append(f"provider saw {prov['max_in_flight']} concurrent token requests > cap {cap}")
for k, v in tok.items():
    st = k.split()[1]
    if st not in ("200", "503", "504"): problems.append(f"unexpected /token outcome: {k} x{v['count']}")
    if v["max_ms"] > timeout_ms + 1000: problems.append(f"{k}: slowest {v['max_ms']} ms > deadline {timeout_ms} ms + 1 s")
for k, v in s["outcomes"].items():
    if k.startswith("transactions ") and not k.startswith("transactions 201"):
        problems.append(f"unexpected /transactions outcome: {k} x{v['count']}")
sent_ok = tok200 + (1 if a_ok else 0)  # + the sign-in after the load
if prov["token_requests"] != sent_ok: problems.append(f"{prov['token_requests'] - sent_ok} token requests reached the provider without a 200 to the browser")
if hz_bad: problems.append(f"{len(hz_bad)} /healthz polls not 200 (first at t={hz_bad[0]['t_s']} s: {hz_bad[0]['status']})")
if max(hz_lat) > 1000: problems.append(f"/healthz took up to {max(hz_lat):.0f} ms")
if s["abandoned_in_flight"] or s["completed"] < s["total_requested"] and not s["time_limit_hit"]: problems.append("sign-ins lost")
if not (alive == "yes" and health == "200" and a_ok): problems.append("server not healthy afterwards")
if errlines: problems.append(f"{len(errlines)} ERROR/panic log lines")
for p in problems: print("PROBLEM", p)
print("RESULT", "OK (cap held, deadlines held, /healthz answered, healthy afterwards)" if not problems else "FAILED")
sys.exit(1 if problems else 0)
PY
