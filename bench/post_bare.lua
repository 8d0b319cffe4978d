wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"payer":"demo"}'

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d timeouts=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.timeout))
end
