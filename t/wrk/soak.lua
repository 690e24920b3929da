-- wrk script of t/63-state-soak.t: the users of a cluster, each request
-- checked as it comes back.
--
--   wrk ... -s t/wrk/soak.lua URL -- SESSIONS OUT [NEW_EVERY]
--
-- SESSIONS: a file with one session id per line ("HEX.ROUTE"). Every thread
-- sends them round robin (each thread from its own offset), one request
-- without a cookie (a new session) after every NEW_EVERY (20) of them.
-- Every request asks for "Connection: close": a connection is never reused,
-- so a reload (whose old worker processes close their idle kept-alive
-- connections, a request racing in on one included) cuts none, and a
-- socket error can only be a connection cut by a worker process's death.
-- OUT: written by done(), one line per (tenth of a second, route of the
-- session, who answered, status) with how many responses that was:
--
--   at TENTH ROUTE BACKEND STATUS COUNT
--
-- TENTH is floor(Unix time * 10) of the moment response() ran (gettimeofday
-- through LuaJIT's ffi: wrk's Lua has no finer clock than os.time()); ROUTE
-- is "-" for a new session; BACKEND the X-Backend header ("-": none). The
-- route is read from the X-Session header the proxy under test adds with
-- nginx's own $cookie_JSESSIONID (wrk does not tell which request an answer
-- belongs to). Then wrk's own counts:
--
--   summary REQUESTS CONNECT READ WRITE STATUS TIMEOUT LATENCY_MAX_US

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } soak_timeval_t;
int gettimeofday(soak_timeval_t *tv, void *tz);
]]
local tv = ffi.new("soak_timeval_t")

local function tenth()
  ffi.C.gettimeofday(tv, nil)
  return math.floor(tonumber(tv.tv_sec) * 10 + tonumber(tv.tv_usec) / 100000)
end

-- main state: the threads, for done()
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- thread state
local requests = {}
local next_request = 1
-- globals, read by done() through thread:get()
counts = {}
out_path = nil

function init(args)
  out_path = args[2]
  local new_every = tonumber(args[3] or "20")
  local ids = {}
  local f = assert(io.open(args[1], "r"), "cannot read " .. tostring(args[1]))
  for line in f:lines() do
    if line:match("%S") then ids[#ids + 1] = line:match("^%s*(.-)%s*$") end
  end
  f:close()
  assert(#ids > 0, "no session ids")
  for i, session in ipairs(ids) do
    requests[#requests + 1] = wrk.format("GET", "/s/" .. i,
      { ["Cookie"] = "JSESSIONID=" .. session, ["Connection"] = "close" })
    if i % new_every == 0 then
      requests[#requests + 1] = wrk.format("GET", "/new/" .. i, { ["Connection"] = "close" })
    end
  end
  -- each thread starts elsewhere in the list
  next_request = (id or 0) * 7919 % #requests + 1
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end

function response(status, headers, body)
  local session = headers["X-Session"]
  local route = session and session:match("^[^.]*%.(.+)$") or "-"
  local key = tenth() .. " " .. route .. " " .. (headers["X-Backend"] or "-") .. " " .. status
  counts[key] = (counts[key] or 0) + 1
end

-- main state: the threads' counts and wrk's own, to OUT
function done(summary, latency)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts")) do
      total[key] = (total[key] or 0) + n
    end
  end
  local f = assert(io.open(threads[1]:get("out_path"), "w"))
  for key, n in pairs(total) do
    f:write("at ", key, " ", n, "\n")
  end
  local e = summary.errors
  f:write(string.format("summary %d %d %d %d %d %d %d\n", summary.requests, e.connect,
    e.read, e.write, e.status, e.timeout, latency.max))
  f:close()
end
