-- The stub token endpoint called directly, with the request authsplit-server sends it
-- (form body, client_secret_basic with form-encoded credentials, RFC 6749 §2.3.1, §4.1.3).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Basic YmVuY2grY2xpZW50OmElMkJiJTNBYyUyNWQlMkZlK2Y="
wrk.body = "grant_type=authorization_code&code=bench-code&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback"
  .. "&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

-- The BENCHJSON line for bench/backend.mjs: `done` from bench/lua/report.lua, next to this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

