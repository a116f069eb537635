-- Phase 1 of the "/token alone" run: POST /auth/transactions, keep every transaction cookie
-- (one file per wrk thread, in $BENCH_DIR) for token.lua.
local n = 0
function setup(thread) thread:set("id", n); n = n + 1 end
function init(args)
  out = io.open(os.getenv("BENCH_DIR") .. "/cookies-" .. id .. ".txt", "w")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["x-authsplit"] = "1"
  wrk.headers["Origin"] = os.getenv("BENCH_ORIGIN")
  wrk.body = '{"provider":"stub","state":"st-0123456789abcdefghijklmnopqrstuvwxyzABCDE",'
    .. '"code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256"}'
end
function response(status, headers, body)
  local c = headers["set-cookie"] or headers["Set-Cookie"]
  if status == 201 and c then out:write(c:match("^([^;]+)"), "\n") end
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

