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

-- The BENCHJSON line for bench/backend.mjs: `done` from bench/lua/report.lua, next to this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

