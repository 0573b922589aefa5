-- wrk script for Scripts/bench-e2e. Arguments (after wrk's "--"):
--   call  RUN_ID TOKEN BODY [CONTENT_TYPE]   POST the path given to wrk with a unique Cloister-Request-Id per
--                                            request (CONTENT_TYPE defaults to application/octet-stream)
--   requests FILE THREADS TOKEN              POST the path given to wrk once per line of FILE, as
--                                            "REQUEST_ID BASE64BODY" says (Content-Type application/cbor): the
--                                            sealed, signed actions ActionRequests generated. Thread t of THREADS
--                                            takes lines t, t+THREADS, t+2*THREADS…, so no line is sent twice; a
--                                            thread that runs out counts it (exhausted) and stops, since an action
--                                            sent again would only be refused as replayed
--   plain                                    send wrk's own request unchanged (the baseline: GET /healthz)
-- Every answer is tallied by status in response(), because wrk itself counts only statuses above 399 as
-- errors: a 202 (the job is still queued) or a redirect would otherwise pass as a success. In call and requests
-- modes a 200 is a success only with Cloister-Status "ok": a failed operation (an unknown key, a refused input)
-- is still a signed 200 answer, and counting it would measure how fast the service refuses. done() prints one
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
-- requests mode: this thread's share of the file, as ready-made HTTP requests, and how often it ran dry.
local prepared = {}
local stop_request
exhausted = 0

local base64_values = {}
do
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for i = 1, #alphabet do base64_values[alphabet:byte(i)] = i - 1 end
end

-- The bytes of padded standard base64; an error on anything else.
local function base64_decode(text)
  assert(#text % 4 == 0, "base64 text of a length that is not a multiple of 4")
  local parts = {}
  for i = 1, #text, 4 do
    local a, b, c, d = text:byte(i, i + 3)
    local pad = (c == 61 and 2) or (d == 61 and 1) or 0
    local v = assert(base64_values[a], "not base64") * 262144 + assert(base64_values[b], "not base64") * 4096
      + (pad < 2 and assert(base64_values[c], "not base64") * 64 or 0) + (pad < 1 and assert(base64_values[d], "not base64") or 0)
    local x, y, z = math.floor(v / 65536), math.floor(v / 256) % 256, v % 256
    parts[#parts + 1] = pad == 0 and string.char(x, y, z) or pad == 1 and string.char(x, y) or string.char(x)
  end
  return table.concat(parts)
end

-- This thread's lines of FILE, formatted once here: init() runs before wrk starts its clock.
local function load_requests(file, threads, token)
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/cbor"}
  local f = assert(io.open(file, "r"))
  local n = 0
  for line in f:lines() do
    n = n + 1
    if (n - 1) % threads == thread_number - 1 then
      local id, body = line:match("^(%S+) (%S+)$")
      assert(id, file .. ":" .. n .. " is not REQUEST_ID BASE64BODY")
      headers["Cloister-Request-Id"] = id
      prepared[#prepared + 1] = wrk.format("POST", wrk.path, headers, base64_decode(body))
    end
  end
  f:close()
  -- What a thread that ran out sends as it stops: a read with no effect (a request id that names no request).
  stop_request = wrk.format("GET", "/v1/requests/exhausted", {["Authorization"] = "Bearer " .. token})
end

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
  elseif mode == "requests" then
    load_requests(args[2], tonumber(args[3]), args[4])
  end
end

function request()
  if mode == "requests" then
    counter = counter + 1
    local r = prepared[counter]
    if r then return r end
    -- Out of requests: this thread stops. wrk still writes what this returns, so it must not be an action again.
    exhausted = exhausted + 1
    wrk.thread:stop()
    return stop_request
  end
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
  if mode ~= "plain" and status == 200 then
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
  local ok, other, refused, codes, reasons, dry = 0, 0, 0, {}, {}, 0
  for _, thread in ipairs(threads) do
    dry = dry + thread:get("exhausted")
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
    "mean_us=%.0f connect_errors=%d read_errors=%d write_errors=%d timeouts=%d codes=%s refusals=%s exhausted=%d\n",
    summary.requests, ok, other, refused, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.timeout, tally(codes),
    tally(reasons), dry))
end
