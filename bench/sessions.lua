-- wrk script of `make bench`: the requests of many users of a Tomcat
-- cluster. Most carry the JSESSIONID cookie of an existing session (among
-- other cookies); some carry none (a new session).
--
--   wrk ... -s bench/sessions.lua URL -- SESSIONS NEW_PERCENT [PATH] [NEW_PATH]
--
-- SESSIONS: a number N (N made-up sessions "HEX.tomcatK", K = 1..3, in
-- turn), or a file with one session id per line (real Tomcat sessions).
-- NEW_PERCENT: the share of requests without a session cookie.
-- PATH: the path of session requests ("/"); NEW_PATH: of the others (PATH).
-- The requests are made once, in a fixed order (seeded), and sent in turn,
-- so that every run of every proxy sees the same traffic.

local requests = {}
local next_request = 1

local function session_ids(spec)
  local ids = {}
  local n = tonumber(spec)
  if n then
    for i = 1, n do
      ids[#ids + 1] = string.format("%08X%08X%08X%08X.tomcat%d",
        math.random(0, 0x7fffffff), math.random(0, 0x7fffffff),
        math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), (i - 1) % 3 + 1)
    end
  else
    local f = assert(io.open(spec, "r"), "cannot read " .. spec)
    for line in f:lines() do
      if line:match("%S") then ids[#ids + 1] = line:match("^%s*(.-)%s*$") end
    end
    f:close()
  end
  assert(#ids > 0, "no session ids")
  return ids
end

function init(args)
  math.randomseed(20240601)
  local ids = session_ids(args[1] or "3000")
  local new_percent = tonumber(args[2] or "10")
  local path = args[3] or "/"
  local new_path = args[4] or path
  local count = 4000
  for i = 1, count do
    if math.random(1, 100) <= new_percent then
      requests[i] = wrk.format("GET", new_path, {
        ["Cookie"] = "_ga=GA1.2.1234567890.1700000000; lang=en"
      })
    else
      local id = ids[math.random(1, #ids)]
      requests[i] = wrk.format("GET", path, {
        ["Cookie"] = "_ga=GA1.2.1234567890.1700000000; JSESSIONID=" .. id .. "; lang=en"
      })
    end
  end
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end
