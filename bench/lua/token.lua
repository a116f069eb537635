-- Phase 2 of the "/token alone" run: POST /auth/token, each with a fresh cookie from
-- collect.lua. A thread that runs out of cookies gets 400 transaction_used (counted non-2xx).
local n = 0
function setup(thread) thread:set("id", n); n = n + 1 end
function init(args)
  origin = os.getenv("BENCH_ORIGIN")
  cookies = {}
  for line in io.lines(os.getenv("BENCH_DIR") .. "/cookies-" .. id .. ".txt") do cookies[#cookies + 1] = line end
  idx = 0
  body = '{"provider":"stub","code":"bench-code","state":"st-0123456789abcdefghijklmnopqrstuvwxyzABCDE",'
    .. '"code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}'
end
function request()
  idx = idx + 1
  return wrk.format("POST", "/auth/token", {
    ["Content-Type"] = "application/json", ["x-authsplit"] = "1", ["Origin"] = origin,
    ["Cookie"] = cookies[math.min(idx, #cookies)] or "",
  }, body)
end

-- One machine-readable line for bench/backend.mjs.
function done(summary, latency, requests)
  local extra = ""
  if threads_list then
    local t = {}
    for _, th in ipairs(threads_list) do
      for _, k in ipairs(counter_names or {}) do t[k] = (t[k] or 0) + (th:get(k) or 0) end
    end
    for _, k in ipairs(counter_names or {}) do extra = extra .. string.format(",\"%s\":%d", k, t[k]) end
  end
  local e = summary.errors
  io.write(string.format("BENCHJSON {\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"mean_us\":%.1f,\"connect_errors\":%d,\"read_errors\":%d,\"write_errors\":%d,\"timeouts\":%d,\"non2xx\":%d%s}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.timeout, e.status, extra))
end

