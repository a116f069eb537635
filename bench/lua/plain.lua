-- GET of the URL given to wrk (FastAPI + fastapi-oauth20: /callback?code=…&state=…&code_verifier=…).

-- The BENCHJSON line for bench/backend.mjs: `done` from bench/lua/report.lua, next to this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

