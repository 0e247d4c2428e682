-- wrk script for benches/careers/run: every request a new candidate through
-- the careers form (POST /careers/jobs/1, multipart/form-data) with a resume
-- of about 200 KB whose bytes differ per request (so that every file is
-- really written: files are kept by their digest, the same bytes once).
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  n = 0
  run = os.getenv("ATSD_RUN") or "r"
  boundary = "atsd-bench-boundary"
  filler = string.rep("0123456789abcdef", 12800) -- 204,800 bytes
end

function request()
  n = n + 1
  local id = string.format("%s-%d-%d", run, tid, n)
  local body = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"first_name\"\r\n\r\nBench\r\n"
    .. "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"last_name\"\r\n\r\n" .. id .. "\r\n"
    .. "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nf-" .. id .. "@example.net\r\n"
    .. "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"resume\"; filename=\"cv.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    .. "%PDF-1.4\n% " .. id .. "\n" .. filler .. "\n%%EOF\n\r\n"
    .. "--" .. boundary .. "--\r\n"
  return wrk.format("POST", "/careers/jobs/1",
    {["Content-Type"] = "multipart/form-data; boundary=" .. boundary}, body)
end

function response(status, headers, body)
  if status ~= 303 then
    errors = (errors or 0) + 1
    if errors <= 3 then io.stderr:write("unexpected " .. status .. ": " .. string.sub(body, 1, 300) .. "\n") end
  end
end
