-- Phase 2 of bench/token-bench.sh: POST /auth/token, each request with a fresh transaction
-- cookie collected in phase 1 (the verifier is RFC 7636 Appendix B's, matching the challenge).
-- When a thread runs out of cookies its requests fail with 400 transaction_used and wrk
-- reports them as non-2xx: size phase 1 generously.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  cookies = {}
  for line in io.lines(os.getenv("BENCH_DIR") .. "/cookies-" .. id .. ".txt") do
    cookies[#cookies + 1] = line
  end
  idx = 0
  body = '{"provider":"stub","code":"bench-code","state":"st-0123456789abcdefghijklmnopqrstuvwxyzABCDE",'
    .. '"code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}'
end

function request()
  idx = idx + 1
  local c = cookies[math.min(idx, #cookies)] or ""
  return wrk.format("POST", "/auth/token", {
    ["Content-Type"] = "application/json",
    ["x-authsplit"] = "1",
    ["Origin"] = os.getenv("BENCH_ORIGIN"),
    ["Cookie"] = c,
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("token: %d requests, %.0f req/s, p50 %.2f ms, p99 %.2f ms, errors(non-2xx) %d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
