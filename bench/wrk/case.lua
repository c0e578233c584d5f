-- case.lua: one bench case for wrk, from the environment (bench/run sets it).
--   BENCH_METHOD   PUT, PATCH, POST
--   BENCH_PATH     /users/...
--   BENCH_BODY     the request body
--   BENCH_HEADERS  "Name: value" lines
-- The request is static (no request() function), so wrk builds it once.
-- done() prints one machine-readable line:
--   BENCH rps=<n> p50_us=<n> p99_us=<n> requests=<n> errors=<n> non2xx=<n>
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.path = os.getenv("BENCH_PATH") or "/"
wrk.body = os.getenv("BENCH_BODY")
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
   local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
   if name then
      wrk.headers[name] = value
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("BENCH rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d non2xx=%d\n",
      summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
      summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
