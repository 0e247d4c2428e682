-- wrk script for benches/intake/run: every request a new candidate
-- (POST /v1/applications), so every one is a real intake: a candidate, an
-- application, its transition and its email, in one transaction.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  n = 0
  token = os.getenv("ATSD_TOKEN")
  run = os.getenv("ATSD_RUN") or "r"
end

function request()
  n = n + 1
  local body = string.format(
    '{"posting":1,"name":"Bench %s %d %d","email":"b-%s-%d-%d@example.net"}',
    run, tid, n, run, tid, n)
  return wrk.format("POST", "/v1/applications",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
    body)
end

function response(status, headers, body)
  if status ~= 201 then
    errors = (errors or 0) + 1
    if errors <= 3 then io.stderr:write("unexpected " .. status .. ": " .. body .. "\n") end
  end
end
