-- wrk script: POST the README's request body with a unique project short name each time,
-- so every request is accepted (202) rather than refused as a duplicate (409).
local counter = 0
local thread_tag = "a"
local threads = 0

-- Each thread of each run gets its own random tag, so names never repeat across runs.
function setup(thread)
  threads = threads + 1
  math.randomseed(os.time() * 1000 + threads)
  local tag = ""
  for _ = 1, 6 do
    tag = tag .. string.char(97 + math.random(0, 25))
  end
  thread:set("tag", tag)
end

function init(args)
  thread_tag = tag or "a"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
end

local statuses = {}

function request()
  counter = counter + 1
  local short = thread_tag .. string.format("%x", counter)
  local body = '{"payer":"demo","regulated":false,"environment":"dev","region":"us-east-1",'
    .. '"vpc":{"az_count":2,"prefix_length":24},'
    .. '"tags":{"cost_center":"1000100099","project_name":"Benchmark Project","project_short_name":"' .. short .. '"},'
    .. '"user_access_list":["whitew"],"technical_contact":{"full_name":"Walter White","username":"whitew"},'
    .. '"requestor":{"full_name":"John Doe","username":"doej","manager":"Fred Flinstone",'
    .. '"department":"Internal Affairs","email":"john.doe@example.com"},"external_transaction_id":"BENCH"}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d timeouts=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.timeout))
end
