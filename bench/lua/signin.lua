-- Full authsplit sign-ins against authsplit-server: each sign-in is POST /auth/transactions
-- (201 + tx cookie) followed, on any free connection of the same wrk thread, by POST /auth/token
-- with that cookie and the RFC 7636 Appendix B verifier matching the registered challenge.
-- Counters: tx_ok (201s), signin_ok (200s of /token), other (any other status).
threads_list = {}
counter_names = { "tx_ok", "signin_ok", "other" }
local n = 0
function setup(thread)
  thread:set("id", n); n = n + 1
  table.insert(threads_list, thread)
end

function init(args)
  origin = os.getenv("BENCH_ORIGIN")
  tx_ok, signin_ok, other = 0, 0, 0
  queue, qhead, qtail = {}, 1, 0
  tx_body = '{"provider":"stub","state":"st-0123456789abcdefghijklmnopqrstuvwxyzABCDE",'
    .. '"code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256"}'
  token_body = '{"provider":"stub","code":"bench-code","state":"st-0123456789abcdefghijklmnopqrstuvwxyzABCDE",'
    .. '"code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}'
end

function request()
  if qhead <= qtail then
    local c = queue[qhead]; queue[qhead] = nil; qhead = qhead + 1
    return wrk.format("POST", "/auth/token", {
      ["Content-Type"] = "application/json", ["x-authsplit"] = "1", ["Origin"] = origin, ["Cookie"] = c,
    }, token_body)
  end
  return wrk.format("POST", "/auth/transactions", {
    ["Content-Type"] = "application/json", ["x-authsplit"] = "1", ["Origin"] = origin,
  }, tx_body)
end

function response(status, headers, body)
  if status == 201 then
    local c = headers["set-cookie"] or headers["Set-Cookie"]
    if c then
      tx_ok = tx_ok + 1
      qtail = qtail + 1; queue[qtail] = c:match("^([^;]+)")
    else
      other = other + 1
    end
  elseif status == 200 then
    signin_ok = signin_ok + 1
  else
    other = other + 1
  end
end

-- The BENCHJSON line for bench/backend.mjs: `done` from bench/lua/report.lua, next to this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

