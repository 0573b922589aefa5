-- wrk script for Scripts/bench-e2e. Arguments (after wrk's "--"):
--   call  RUN_ID TOKEN BODY [CONTENT_TYPE]   POST the path given to wrk with a unique Cloister-Request-Id per
--                                            request (CONTENT_TYPE defaults to application/octet-stream)
--   plain                                    send wrk's own request unchanged (the baseline: GET /healthz)
-- Every answer is tallied by status in response(), because wrk itself counts only statuses above 399 as
-- errors: a 202 (the job is still queued) or a redirect would otherwise pass as a success. In call mode a 200
-- is a success only with Cloister-Status "ok": a failed operation (an unknown key, a refused input) is still a
-- signed 200 answer, and counting it would measure how fast the service refuses. done() prints one
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
refusals = {}

function init(args)
  mode = args[1] or "plain"
  if mode == "call" then
    -- The run id is unique per workload and connection level of each benchmark run, so a request id never
    -- repeats: a repeated id would be answered from the stored job without the enclave doing anything.
    prefix = args[2] .. "-" .. thread_number .. "-"
    request_headers = {
      ["Authorization"] = "Bearer " .. args[3],
      ["Content-Type"] = args[5] or "application/octet-stream",
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

-- The header's value whatever the case of its name on the wire (HTTP names are case-insensitive); the exact
-- spelling the host sends is tried first, so the loop runs only if that ever changes.
local function cloister_status(headers)
  local value = headers["Cloister-Status"]
  if value ~= nil then return value end
  for name, v in pairs(headers) do
    if string.lower(name) == "cloister-status" then return v end
  end
  return nil
end

function response(status, headers, body)
  if mode == "call" and status == 200 then
    local s = cloister_status(headers)
    if s ~= "ok" then
      s = s or "(none)"
      refusals[s] = (refusals[s] or 0) + 1
      return
    end
  end
  statuses[status] = (statuses[status] or 0) + 1
end

-- "key:n,key:n" sorted, or "-".
local function tally(t)
  local list = {}
  for k, n in pairs(t) do table.insert(list, k .. ":" .. n) end
  table.sort(list)
  return #list > 0 and table.concat(list, ",") or "-"
end

function done(summary, latency, requests)
  local ok, other, refused, codes, reasons = 0, 0, 0, {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      if status == 200 then
        ok = ok + n
      else
        other = other + n
        codes[status] = (codes[status] or 0) + n
      end
    end
    for s, n in pairs(thread:get("refusals")) do
      refused = refused + n
      reasons[s] = (reasons[s] or 0) + n
    end
  end
  local e = summary.errors
  -- Latencies are in microseconds; requests that timed out are not in them, so timeouts are reported apart.
  -- ok counts only successes; refused counts the 200 answers whose Cloister-Status is not "ok".
  io.write(string.format(
    "RESULT requests=%d ok=%d non200=%d refused=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "mean_us=%.0f connect_errors=%d read_errors=%d write_errors=%d timeouts=%d codes=%s refusals=%s\n",
    summary.requests, ok, other, refused, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.timeout, tally(codes),
    tally(reasons)))
end
