-- Node express + openid-client: POST /token {code, state, code_verifier}.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"code":"bench-code","state":"st-0123456789abcdefghijklmnopqrstuvwxyzABCDE",'
  .. '"code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}'

-- The BENCHJSON line for bench/backend.mjs: `done` from bench/lua/report.lua, next to this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

