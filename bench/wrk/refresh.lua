-- Refresh-token rotation under load: every request spends one refresh token
-- and its answer carries the next one. Each token is used once (a second use
-- would be reuse and end the session), so each thread keeps a queue of live
-- tokens, at least one per connection: the file BENCH_TOKENS holds one per
-- line, and thread i of BENCH_THREADS takes lines i, i+n, i+2n...
-- The result line is the one bench.lua prints (loaded from BENCH_LUA).
dofile(os.getenv("BENCH_LUA"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local counter = 0
function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

local queue = {}
function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  local line_no = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line_no % n == index then queue[#queue + 1] = line end
    line_no = line_no + 1
  end
end

function request()
  -- An empty queue means answers were lost: the request fails and is counted
  local token = table.remove(queue) or "spent"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if status == 200 and token then queue[#queue + 1] = token end
end
