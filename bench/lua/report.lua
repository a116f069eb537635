-- The one machine-readable line every bench/lua script prints for bench/backend.mjs (loaded
-- with dofile by each script). `threads_list` / `counter_names`, when a script sets them, add
-- its per-thread counters to the line.
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
