-- The stub token endpoint called directly, with the request authsplit-server sends it
-- (form body, client_secret_basic with form-encoded credentials, RFC 6749 §2.3.1, §4.1.3).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Basic YmVuY2grY2xpZW50OmElMkJiJTNBYyUyNWQlMkZlK2Y="
wrk.body = "grant_type=authorization_code&code=bench-code&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback"
  .. "&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

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

