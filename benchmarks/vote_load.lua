-- wrk script of benchmarks/vote_load.py. Two modes (env VOTE_LOAD_MODE):
--   vote:    POST /c/<slug>/vote/<idea> with htmx headers, rotating pre-made voters (session
--            cookie, device cookie, CSRF token each) over the thread's connections; each
--            voter walks its own order of the ideas, so no (voter, idea) pair is sent twice.
--   ceiling: POST /insert/<key> with a fresh key per request.
--   floor:   GET /healthz on the platform with the voters' cookies: what any signed-in
--            request costs before its handler runs (session cookie, user loaded, CSRF).
-- After VOTE_LOAD_SECONDS the script drains: it repeats a vote (or key) already stored, an
-- idempotent request of the same kind, so that requests wrk abandons when it stops store
-- nothing and "stored == acknowledged" can be checked exactly.

local mode = os.getenv("VOTE_LOAD_MODE")
local window = tonumber(os.getenv("VOTE_LOAD_SECONDS"))
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  thread:set("nthreads", tonumber(os.getenv("VOTE_LOAD_THREADS")))
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  deadline = os.time() + window
  acknowledged, repeated, refused, bodies = 0, 0, 0, {}
  sent = 0
  -- Send times (os.time) of the requests awaiting an answer, oldest first: see done().
  waiting, first_waiting = {}, 1
  if mode == "vote" or mode == "floor" then
    local data = dofile(os.getenv("VOTE_LOAD_DATA"))
    slug, first_idea, ideas = data.slug, data.first_idea, data.ideas
    mine = {}
    for i, voter in ipairs(data.voters) do
      if (i - 1) % nthreads == id - 1 then
        voter.k = 0
        table.insert(mine, voter)
      end
    end
    turn = 0
  end
end

local function idea_of(voter, k)
  return first_idea + (voter.offset + k * voter.step) % ideas
end

function request()
  sent = sent + 1
  waiting[sent] = os.time()
  local draining = os.time() >= deadline
  if mode == "ceiling" then
    local key = draining and (id * 1000000000 + 1) or (id * 1000000000 + sent)
    return wrk.format("POST", "/insert/" .. key, nil, "")
  end
  turn = turn % #mine + 1
  local voter = mine[turn]
  if mode == "floor" then
    return wrk.format("GET", "/healthz", {["Cookie"] = voter.cookie}, nil)
  end
  local idea
  if draining and voter.k > 0 then
    idea = idea_of(voter, 0)
  else
    idea = idea_of(voter, voter.k)
    voter.k = voter.k + 1
  end
  return wrk.format("POST", "/c/" .. slug .. "/vote/" .. idea, {
    ["Cookie"] = voter.cookie,
    ["X-CSRFToken"] = voter.csrf,
    ["HX-Request"] = "true",
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) vote-load",
  }, "")
end

function response(status, headers, body)
  waiting[first_waiting] = nil
  first_waiting = first_waiting + 1
  if mode == "floor" then
    if status == 200 then repeated = repeated + 1 else refused = refused + 1 end
    return
  end
  if status == 200 and (body:find("is counted", 1, true) or body == "inserted") then
    acknowledged = acknowledged + 1
  elseif status == 200 and (body:find("already voted", 1, true) or body == "exists") then
    repeated = repeated + 1
  else
    refused = refused + 1
    if #bodies < 3 then table.insert(bodies, status .. " " .. body:sub(1, 300)) end
  end
end

function done(summary, latency, requests)
  -- Stalled: requests still unanswered at the end, sent 3 s or more before it (os.time has
  -- whole seconds: over 2 s for sure). Each answer removes the oldest send time, whichever
  -- request it answers, so the times kept are the newest: a lower bound. wrk itself counts
  -- neither these nor answers after its timeout in the latencies.
  local ack, rep, ref, stalled, samples, now = 0, 0, 0, 0, {}, os.time()
  for _, thread in ipairs(threads) do
    for _, at in pairs(thread:get("waiting")) do
      if now - at >= 3 then stalled = stalled + 1 end
    end
    ack = ack + thread:get("acknowledged")
    rep = rep + thread:get("repeated")
    ref = ref + thread:get("refused")
    for _, b in ipairs(thread:get("bodies")) do table.insert(samples, b) end
  end
  local e = summary.errors
  io.write(string.format(
    "VOTE_LOAD {\"requests\": %d, \"duration_us\": %d, \"connect\": %d, \"read\": %d, " ..
    "\"write\": %d, \"status\": %d, \"timeout\": %d, \"p50_us\": %d, \"p90_us\": %d, " ..
    "\"p99_us\": %d, \"max_us\": %d, \"acknowledged\": %d, \"repeated\": %d, \"refused\": %d, " ..
    "\"stalled\": %d}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    ack, rep, ref, stalled))
  for _, b in ipairs(samples) do io.write("VOTE_LOAD_SAMPLE " .. b:gsub("\n", " ") .. "\n") end
end
