-- wrk script of bench/soak/saturation.sh: full sign-ins against authsplit-server.
-- A sign-in is POST /auth/transactions (201 + transaction cookie; `state` and the S256
-- challenge of RFC 7636 Appendix B's verifier) followed by POST /auth/token with that cookie,
-- the same `state` and the verifier (→ one outbound token request to the stub → 200 + session
-- cookie). Each wrk thread keeps a FIFO of pending transaction cookies: a connection that is
-- ready sends the token request of the oldest pending transaction, or else starts a new one.
-- Every transaction cookie is redeemed exactly once. (wrk does not tell response() which
-- connection answered, so the state is the same for every transaction; the cookie — a fresh
-- transaction id sealed with AES-GCM — is what differs.)
--
-- Counts every reply that is not the expected one (201 + cookie for a transaction, 200 with an
-- access token for a token request), by status and `error` code, and completed sign-ins per
-- wall-clock second. done() writes $SOAK_WORK/wrk-summary.json and $SOAK_WORK/wrk-per-second.csv.
local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local STATE = "soak-state-0123456789abcdefghijklmnopqrstuvwxyz"
local CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
local VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

function init(args)
  local origin = os.getenv("SOAK_ORIGIN")
  local provider = os.getenv("SOAK_PROVIDER") or "stub"
  tx_sent, tx_ok, token_sent, token_ok, unexpected = 0, 0, 0, 0, 0
  bad = {}          -- "status error_code" -> count
  per_sec = {}      -- os.time() -> completed sign-ins (token 200)
  bad_per_sec = {}  -- os.time() -> unexpected replies
  pending, head, tail = {}, 1, 0
  tx_headers = { ["Content-Type"] = "application/json", ["x-authsplit"] = "1", ["Origin"] = origin }
  tx_body = '{"provider":"' .. provider .. '","state":"' .. STATE .. '","code_challenge":"'
    .. CHALLENGE .. '","code_challenge_method":"S256"}'
  token_body = '{"provider":"' .. provider .. '","code":"soak-code-0123456789","state":"' .. STATE
    .. '","code_verifier":"' .. VERIFIER .. '"}'
  token_headers = function(cookie)
    return { ["Content-Type"] = "application/json", ["x-authsplit"] = "1", ["Origin"] = origin,
             ["Cookie"] = cookie }
  end
end

function request()
  if head <= tail then
    local c = pending[head]; pending[head] = nil; head = head + 1
    token_sent = token_sent + 1
    return wrk.format("POST", "/auth/token", token_headers(c), token_body)
  end
  tx_sent = tx_sent + 1
  return wrk.format("POST", "/auth/transactions", tx_headers, tx_body)
end

function response(status, headers, body)
  if status == 201 then
    local c = headers["set-cookie"] or headers["Set-Cookie"]
    if c and body and body:find('"authorization_url"', 1, true) then
      tx_ok = tx_ok + 1
      tail = tail + 1
      pending[tail] = c:match("^([^;]+)")
      return
    end
  elseif status == 200 and body and body:find('"access_token"', 1, true) then
    token_ok = token_ok + 1
    local s = os.time()
    per_sec[s] = (per_sec[s] or 0) + 1
    return
  end
  unexpected = unexpected + 1
  local code = (body and body:match('"error"%s*:%s*"([^"]*)"')) or "-"
  local k = status .. " " .. code
  bad[k] = (bad[k] or 0) + 1
  local s = os.time()
  bad_per_sec[s] = (bad_per_sec[s] or 0) + 1
end

local function sum(name)
  local t = 0
  for _, th in ipairs(threads) do t = t + (th:get(name) or 0) end
  return t
end

local function merge(name)
  local out = {}
  for _, th in ipairs(threads) do
    for k, v in pairs(th:get(name) or {}) do out[k] = (out[k] or 0) + v end
  end
  return out
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local tok_ok = sum("token_ok")
  local bad_all = merge("bad")
  local bad_json, first = "{", true
  for k, v in pairs(bad_all) do
    bad_json = bad_json .. (first and "" or ",") .. string.format("%q:%d", k, v); first = false
  end
  bad_json = bad_json .. "}"
  local pending_left = 0
  for _, th in ipairs(threads) do
    pending_left = pending_left + ((th:get("tail") or 0) - (th:get("head") or 1) + 1)
  end
  local json = string.format(
    '{"duration_s":%.3f,"requests":%d,"requests_per_s":%.1f,"signins":%d,"signins_per_s":%.1f,'
      .. '"tx_sent":%d,"tx_ok":%d,"token_sent":%d,"token_ok":%d,"unexpected":%d,"unexpected_by_reply":%s,'
      .. '"pending_tx_at_stop":%d,"non2xx":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},'
      .. '"latency_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f,"mean":%.3f}}',
    secs, summary.requests, summary.requests / secs, tok_ok, tok_ok / secs,
    sum("tx_sent"), sum("tx_ok"), sum("token_sent"), tok_ok, sum("unexpected"), bad_json,
    pending_left, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000)
  local dir = os.getenv("SOAK_WORK")
  local f = io.open(dir .. "/wrk-summary.json", "w"); f:write(json, "\n"); f:close()
  local ps, bps = merge("per_sec"), merge("bad_per_sec")
  local keys, lo, hi = {}, nil, nil
  for k in pairs(ps) do lo = (lo and math.min(lo, k)) or k; hi = (hi and math.max(hi, k)) or k end
  for k in pairs(bps) do lo = (lo and math.min(lo, k)) or k; hi = (hi and math.max(hi, k)) or k end
  f = io.open(dir .. "/wrk-per-second.csv", "w")
  f:write("unix_s,signins,unexpected\n")
  if lo then
    for s = lo, hi do f:write(string.format("%d,%d,%d\n", s, ps[s] or 0, bps[s] or 0)) end
  end
  f:close()
  io.write("SOAKJSON ", json, "\n")
end
