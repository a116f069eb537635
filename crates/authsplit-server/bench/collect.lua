-- Phase 1 of bench/token-bench.sh: POST /auth/transactions, keep every transaction cookie
-- (one file per wrk thread) for phase 2. Each transaction is single-use.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

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
  local c = headers["Set-Cookie"] or headers["set-cookie"]
  if status == 201 and c then
    out:write(c:match("^([^;]+)"), "\n")
  end
end
