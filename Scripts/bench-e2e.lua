-- wrk script for Scripts/bench-e2e. Arguments (after wrk's "--"):
--   call  RUN_ID TOKEN BODY   POST the path given to wrk with a unique Cloister-Request-Id per request
--   plain                     send wrk's own request unchanged (the baseline: GET /healthz)
-- Every answer is tallied by status in response(), because wrk itself counts only statuses above 399 as
-- errors: a 202 (the job is still queued) or a redirect would otherwise pass as a success. done() prints one
-- machine-readable RESULT line for the calling script.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  -- A thread's number makes its request ids distinct from every other thread's in the same run.
  thread:set("thread_number", #threads)
end

local mode, prefix, request_headers, request_body, path
local counter = 0
statuses = {}

function init(args)
  mode = args[1] or "plain"
  if mode == "call" then
    -- The run id is unique per connection level of each benchmark run, so a request id never repeats: a
    -- repeated id would be answered from the stored job without the enclave doing anything.
    prefix = args[2] .. "-" .. thread_number .. "-"
    request_headers = {
      ["Authorization"] = "Bearer " .. args[3],
      ["Content-Type"] = "application/octet-stream",
    }
    request_body = args[4]
    path = wrk.path
  end
end

function request()
  if mode ~= "call" then
    return wrk.request()
  end
  counter = counter + 1
  request_headers["Cloister-Request-Id"] = prefix .. counter
  return wrk.format("POST", path, request_headers, request_body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local ok, other, codes = 0, 0, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      if status == 200 then
        ok = ok + n
      else
        other = other + n
        codes[status] = (codes[status] or 0) + n
      end
    end
  end
  local list = {}
  for status, n in pairs(codes) do table.insert(list, status .. ":" .. n) end
  table.sort(list)
  local e = summary.errors
  -- Latencies are in microseconds; requests that timed out are not in them, so timeouts are reported apart.
  io.write(string.format(
    "RESULT requests=%d ok=%d non200=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.0f " ..
    "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d codes=%s\n",
    summary.requests, ok, other, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.timeout,
    #list > 0 and table.concat(list, ",") or "-"))
end
