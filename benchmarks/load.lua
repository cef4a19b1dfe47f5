-- wrk script for the scoring benchmark: POSTs the bodies of WRK_BODIES (one JSON body a
-- line) round-robin, counts correct replies (HTTP 200 holding "predictions") apart from
-- every other reply, and writes counts and latency percentiles as JSON to WRK_OUT.
-- The script's names are wrk's hooks: setup/init/request/response/done.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  correct = 0
  wrong = 0
  local requests = {}
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(os.getenv("WRK_BODIES")) do
    if #line > 0 then
      table.insert(requests, wrk.format("POST", nil, headers, line))
    end
  end
  -- Each thread starts at a different row, so that threads do not send the same rows.
  local index = (id - 1) * 7 % #requests
  request = function()
    index = index % #requests + 1
    return requests[index]
  end
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"predictions"', 1, true) then
    correct = correct + 1
  else
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  local correct_total, wrong_total = 0, 0
  for _, thread in ipairs(threads) do
    correct_total = correct_total + thread:get("correct")
    wrong_total = wrong_total + thread:get("wrong")
  end
  local errors = summary.errors
  local out = assert(io.open(os.getenv("WRK_OUT"), "w"))
  out:write(string.format(
    '{"seconds": %.6f, "replies": %d, "correct": %d, "wrong": %d, '
      .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "p99.9": %d, "max": %d, "mean": %.1f}}\n',
    summary.duration / 1e6, summary.requests, correct_total, wrong_total,
    errors.connect, errors.read, errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
  out:close()
end
