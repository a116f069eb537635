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

-- The BENCHJSON line for bench/backend.mjs: `done` from bench/lua/report.lua, next to this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

