-- ksh.repl: what a line typed at ksh> means, how results print, completion.
-- The C side (src/repl.c) owns readline and the loop; this file owns meaning.
local cmd = require "ksh.cmd"
local pp = require "ksh.pp"

local M = {}

--- split(line) -> words | nil, message: shell-like word splitting with
-- single quotes, double quotes (\" \\ inside) and backslash escapes.
function M.split(line)
  local words, cur, i, n = {}, nil, 1, #line
  while i <= n do
    local c = line:sub(i, i)
    if c:match("%s") then
      if cur then words[#words + 1] = cur; cur = nil end
    elseif c == "'" then
      local j = line:find("'", i + 1, true)
      if not j then return nil, "unterminated single quote" end
      cur = (cur or "") .. line:sub(i + 1, j - 1)
      i = j
    elseif c == '"' then
      local buf, j = {}, i + 1
      while true do
        if j > n then return nil, "unterminated double quote" end
        local d = line:sub(j, j)
        if d == '"' then break end
        if d == "\\" and j < n and line:sub(j + 1, j + 1):match('["\\$`]') then
          j = j + 1
          d = line:sub(j, j)
        end
        buf[#buf + 1] = d
        j = j + 1
      end
      cur = (cur or "") .. table.concat(buf)
      i = j
    elseif c == "\\" and i < n then
      cur = (cur or "") .. line:sub(i + 1, i + 1)
      i = i + 1
    else
      cur = (cur or "") .. c
    end
    i = i + 1
  end
  if cur then words[#words + 1] = cur end
  return words
end

local function command_fn(line)
  -- `cmd args &`: the command runs as a background job
  local bg
  line, bg = line:gsub("%s*&%s*$", "")
  local words, err = M.split(line)
  if not words then return "error", "ksh: " .. err end
  if #words == 0 then return "empty" end
  if bg > 0 then
    return "run", function() require("ksh").spawn(function() return cmd.run(table.unpack(words)) end) end
  end
  return "run", function() cmd.run(table.unpack(words)) end
end

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch "%a+" do keywords[w] = true end

-- An unknown word where a command was meant: the first word is neither a
-- command nor a global (nor a keyword) and is followed by arguments (`gte
-- pods`, `nosuch --flag`, `gte /api`), or stands alone close to a command's
-- name (`gte`).  `a, b = 1, 2`, `x + 1`, `x == y` stay Lua.
local function unknown_command(word, rest)
  if not word or keywords[word] or word:find(".", 1, true) or _G[word] ~= nil then return nil end
  local nextword = rest:match("^([%w_]+)")
  local args = (nextword and not keywords[nextword]) or rest:match("^%-%-?%a") or rest:match("^/%a")
  if args or (rest == "" and cmd.suggest(word)) then return cmd.unknown(word) end
  return nil
end

-- An expression line as a chunk that prints its values.  `return f(x)` would
-- be a tail call, and a tail-called function has no caller line, so an
-- argument error raised by f (`bad argument #1 to 'get'`) would lose its
-- `stdin:1:`; the values pass through an identity function instead, which
-- keeps f's call inside the chunk.  `return x;` (valid, but not an argument
-- list) keeps the plain form.
local function load_expr(e)
  local plain, err = load("return " .. e, "=stdin", "t")
  if not plain then return nil, err end
  return load("return (function(...) return ... end)(" .. e .. "\n)", "=stdin", "t") or plain
end

--- prepare(text) -> "run", fn | "more" | "error", message | "empty"
function M.prepare(text)
  if text:match("^%s*$") then return "empty" end
  if text:sub(1, 1) == "!" then return command_fn(text:sub(2)) end
  if text:sub(1, 1) == "=" then
    local f, err = load_expr(text:sub(2))
    if f then return "run", f end
    if err:match("<eof>$") then return "more" end
    return "error", err
  end
  local word, rest = text:match("^%s*([%w_][%w_%-%.]*)%s*(.*)$")
  M._line = text
  -- jobs, fg N, kill N (unless a Lua global has the name)
  local jobcmd = word and M.builtins[word] and rawget(_G, word) == nil
    and (rest == "" or rest:match("^%%?%d+%s*$")) and M.builtins[word]
  if jobcmd then
    local n = tonumber(rest:match("%d+"))
    return "run", function() return jobcmd(n) end
  end
  -- `exit` and `exit N` leave the prompt (unless exit is a Lua global)
  local code = word == "exit" and _G.exit == nil and (rest == "" and "0" or rest:match("^(%d+)%s*$"))
  if code then return "run", function() os.exit(tonumber(code)) end end
  -- `help = 5`, `get(x)`, `get.x`, `get:x()`, `get[1]` are Lua, whatever the name
  local luaish = rest and (rest:match("^=[^=]") or rest:match("^[%(%.:%[{\"']"))
  local is_cmd = word and not luaish and not word:find(".", 1, true) and cmd.exists(word)
  if is_cmd and rawget(_G, word) == nil then return command_fn(text) end
  local f = load_expr(text)
  local err
  if not f then f, err = load(text, "=stdin", "t") end
  if not luaish and not is_cmd then
    local msg = unknown_command(word, rest)
    if msg then return "error", msg end
  end
  if f then return "run", f end
  if is_cmd then return command_fn(text) end
  if err:match("<eof>$") then return "more" end
  return "error", err
end

-- Lines that carry a secret value stay out of the history file; a line
-- that merely names secrets (`get secrets -n app`) is kept.
local SECRET = {
  "%-%-token", "token%s*[=:]", "password", "passwd", "authorization%s*[:=]", "bearer%s+%S",
  "%-%-%-%-%-begin", "%-%-from%-literal", "client%-key%-data", "api[_%-]?key%s*[=:]",
  "secret%s*[=:]", "eyj[%w_%-]+%.[%w_%-]+", -- a JWT (service-account tokens)
}

--- history_ok(statement) -> false when the statement holds a secret value
function M.history_ok(stmt)
  local l = stmt:lower()
  for _, p in ipairs(SECRET) do
    if l:find(p) then return false end
  end
  return true
end

--- print_results(...): values of an expression, formatted.
function M.print_results(...)
  local n = select("#", ...)
  if n == 0 then return end
  local out = {}
  for i = 1, n do
    local v = select(i, ...)
    -- like lua -i: a top-level string prints as is
    out[i] = type(v) == "string" and v or pp.format(v)
  end
  print(table.concat(out, "\t"))
end

-- Hooks pulled from library modules (k8s._hooks): the context/namespace
-- shown in the prompt and argument completers.  Loaded for the first prompt,
-- so the context shows from the first line.
local hooks
local function lib_hooks()
  if hooks == nil then
    local ok, k8s = pcall(require, "k8s")
    hooks = ok and type(k8s) == "table" and k8s._hooks or false
  end
  return hooks or {}
end
M.context = nil
function M.prompt()
  M._settle()
  if M.context == nil then M.context = lib_hooks().prompt_context or false end
  if M.context then
    local ok, s = pcall(M.context)
    if ok and s and s ~= "" then return "ksh:" .. s .. "> " end
  end
  return "ksh> "
end

--- start(above): the prompt opens (commands now know they run at the
-- prompt); above(s, to_stderr) writes text above the line being typed.
function M.start(above)
  require("ksh").interactive = true
  M._install_jobs(above)
  if os.getenv("KSH_NO_BANNER") then return end
  io.stderr:write("kscript ", "(Lua 5.4) ", "- 'help' lists commands and explains the prompt, Ctrl-D exits\n")
end

local function sorted_keys(t, prefix, out, seen)
  for k, v in pairs(t) do
    -- names starting with _ are internals: shown only when asked for
    if type(k) == "string" and k:sub(1, #prefix) == prefix and k:match("^[%a_][%w_]*$") and not seen[k]
      and (k:sub(1, 1) ~= "_" or prefix:sub(1, 1) == "_") then
      seen[k] = true
      out[#out + 1] = { k, v }
    end
  end
end

-- Fields of a value, including those reached through __index tables.
local function fields(v, prefix)
  local out, seen, guard = {}, {}, 0
  while v ~= nil and guard < 8 do
    guard = guard + 1
    if type(v) == "table" then sorted_keys(v, prefix, out, seen) end
    local mt = getmetatable(v)
    v = type(mt) == "table" and type(mt.__index) == "table" and mt.__index or nil
  end
  return out
end

--- complete(line, start, end, text) -> candidates
function M.complete(line, start, _, text)
  local before = line:sub(1, start)
  local first = line:match("^%s*(%S+)%s") -- a command word already typed
  if first and first:sub(1, 1) == "!" then first = first:sub(2) end
  if first and before:match("%s") and cmd.exists(first) and rawget(_G, first) == nil then
    local fn = cmd.completers[first]
    if not fn then
      pcall(cmd.find, first) -- loading a command may register its completer
      fn = cmd.completers[first] or (lib_hooks().complete or {})[first]
    end
    if fn then
      local words = M.split(line:sub(1, start)) or {}
      local ok, res = pcall(fn, words, text)
      return ok and res or {}
    end
    return {}
  end
  -- Lua: a.b.c<TAB> or obj:me<TAB>
  local path, sep, last = text:match("^(.-)([%.:])([%w_]*)$")
  local out = {}
  if path and path ~= "" then
    local v = _G
    for part in path:gmatch("[^%.:]+") do
      if type(v) ~= "table" and type(getmetatable(v)) ~= "table" then return {} end
      local ok, nv = pcall(function() return v[part] end)
      if not ok then return {} end
      v = nv
    end
    for _, kv in ipairs(fields(v, last)) do
      local k, val = kv[1], kv[2]
      if sep == ":" and type(val) ~= "function" then goto continue end
      out[#out + 1] = path .. sep .. k .. (type(val) == "function" and "(" or type(val) == "table" and "." or "")
      ::continue::
    end
  else
    for _, kv in ipairs(fields(_G, text)) do
      out[#out + 1] = kv[1] .. (type(kv[2]) == "table" and "." or "")
    end
    if start == 0 or before:match("^%s*!?$") then
      local lazy = { "k8s", "etcd", "json", "yaml", "base64", "http", "pp" }
      for _, k in ipairs(lazy) do
        if k:sub(1, #text) == text and rawget(_G, k) == nil then out[#out + 1] = k .. "." end
      end
      for _, c in ipairs(cmd.list()) do
        local bare = text:gsub("^!", "")
        if c.name:sub(1, #bare) == bare then out[#out + 1] = (text:sub(1, 1) == "!" and "!" or "") .. c.name end
      end
    end
  end
  table.sort(out)
  local uniq = {}
  for i, s in ipairs(out) do
    if s ~= out[i - 1] then uniq[#uniq + 1] = s end
  end
  return uniq
end

-- ---------------------------------------------------------------- jobs
-- A task started by a statement typed at the prompt (spawn, every, after,
-- k:watch with a handler, k:informer, `cmd &`) that is still running when
-- the statement is done becomes a job: `jobs` lists them, `fg N` follows
-- one's output until it ends (Ctrl-C goes back to the prompt, the job runs
-- on), `kill N` cancels its tasks (their <close> handlers run).  Tasks a job
-- starts belong to it.  A job's output goes above the line being typed,
-- whole lines at a time; while `fg N` follows a job, the others' output is
-- held and shown when the prompt comes back.  Leaving the prompt ends them
-- all (the host cancels every task).
local loop = require "ksh.loop"

M.jobs = {}            -- id -> {id, label, tasks = {task = true}, out = {}, held = {}}
local owner = setmetatable({}, { __mode = "k" }) -- coroutine -> job
local pending = {}     -- tasks started by the current statement, not yet a job
local prune_at = 1024  -- (done tasks are dropped from pending when it reaches this)
local next_id = 1
local following        -- the job `fg` follows
local above_fn         -- C: write above the prompt

local function alive(job)
  for t in pairs(job.tasks) do
    if t.done then job.tasks[t] = nil end
  end
  return next(job.tasks) ~= nil
end

local function emit(s, err)
  if above_fn then above_fn(s, err) else (err and io.stderr or io.stdout):write(s) end
end

-- text written by a job's task: whole lines go out (or are held)
local function job_write(job, s, err)
  local key = err and "err" or "out"
  local buf = (job.partial[key] or "") .. s
  local cut = buf:match("^.*()\n")
  if not cut then job.partial[key] = buf; return end
  job.partial[key] = buf:sub(cut + 1)
  local lines = buf:sub(1, cut)
  if following and following ~= job then
    local h = job.held
    h[#h + 1] = { lines, err }
    if #h > 10000 then table.remove(h, 1); job.dropped = (job.dropped or 0) + 1 end
  else
    emit(lines, err)
  end
end

local function job_of_current()
  local co = loop.current()
  return co and owner[co]
end

local function flush_job(job)
  for key, rest in pairs(job.partial) do
    if rest ~= "" then emit(rest .. "\n", key == "err") end
    job.partial[key] = ""
  end
end

local function release_held()
  for _, job in pairs(M.jobs) do
    if #job.held > 0 then
      if job.dropped then emit(("[%d] (%d older lines dropped)\n"):format(job.id, job.dropped), true) end
      for _, h in ipairs(job.held) do emit(h[1], h[2]) end
      job.held, job.dropped = {}, nil
    end
  end
end

--- _settle(): at each prompt: the current statement's live tasks become a
-- job; ended jobs are reported once
function M._settle()
  local live = {}
  for _, t in ipairs(pending) do if not t.done then live[#live + 1] = t end end
  pending = {}
  if #live > 0 then
    local job = { id = next_id, label = (M._line or "?"):gsub("%s+", " "), tasks = {}, held = {}, partial = {} }
    next_id = next_id + 1
    for _, t in ipairs(live) do
      job.tasks[t] = true
      owner[t.co] = job
    end
    M.jobs[job.id] = job
    emit(("[%d] %s\n"):format(job.id, job.label))
  end
  release_held()
  local ids = {}
  for id in pairs(M.jobs) do ids[#ids + 1] = id end
  table.sort(ids)
  for _, id in ipairs(ids) do
    local job = M.jobs[id]
    if not alive(job) then
      flush_job(job)
      M.jobs[id] = nil
      emit(("[%d]  %-8s %s\n"):format(id, job.killed and "killed" or "done", job.label))
    end
  end
  if next(M.jobs) == nil then next_id = 1 end
end

local function find_job(n)
  if n == nil then -- the newest
    for id in pairs(M.jobs) do if not n or id > n then n = id end end
  end
  local job = n and M.jobs[n]
  if not job or not alive(job) then
    io.stderr:write(("ksh: %s: no such job\n"):format(n and ("%" .. n) or "current"))
    return nil
  end
  return job
end

M.builtins = {}

--- jobs: list the running jobs
function M.builtins.jobs()
  local ids = {}
  for id, job in pairs(M.jobs) do if alive(job) then ids[#ids + 1] = id end end
  table.sort(ids)
  for _, id in ipairs(ids) do
    local job, n = M.jobs[id], 0
    for _ in pairs(job.tasks) do n = n + 1 end
    io.stdout:write(("[%d]  running  %s%s\n"):format(id, M.jobs[id].label, n > 1 and (" (%d tasks)"):format(n) or ""))
  end
end

--- kill N: cancel every task of job N (the newest without N)
function M.builtins.kill(n)
  local job = find_job(n)
  if not job then return end
  job.killed = true
  for t in pairs(job.tasks) do t:cancel() end
  flush_job(job)
end

--- fg N: follow job N's output until it ends; Ctrl-C stops following
function M.builtins.fg(n)
  local job = find_job(n)
  if not job then return end
  io.stdout:write(job.label, "\n")
  following = job
  local _ <close> = setmetatable({}, { __close = function() following = nil end })
  local ksh = require "ksh"
  while alive(job) do
    local t = next(job.tasks)
    -- (an interruption still raises: Ctrl-C ends the following)
    local ok, err = ksh.try(t.wait, t)
    if not ok and not (type(err) == "table" and err.kind == "cancelled") then
      io.stderr:write("kscript: error in task: ", tostring(err), "\n")
    end
  end
end

function M._install_jobs(above)
  above_fn = above
  local ksh = require "ksh"
  -- every task started while the prompt runs: the statement's, or a job's
  local spawn = ksh.spawn
  ksh.spawn = function(...)
    local t = spawn(...)
    local job = job_of_current()
    if job then
      job.tasks[t] = true
      owner[t.co] = job
    else
      pending[#pending + 1] = t
      if #pending >= prune_at then -- (a long statement that starts many short tasks)
        local live = {}
        for _, p in ipairs(pending) do if not p.done then live[#live + 1] = p end end
        pending = live
        prune_at = math.max(1024, 2 * #live)
      end
    end
    return t
  end
  _G.spawn = ksh.spawn
  -- output of jobs: above the prompt, by whole lines
  local print0 = print
  _G.print = function(...)
    local job = job_of_current()
    if not job then return print0(...) end
    local n, parts = select("#", ...), {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    job_write(job, table.concat(parts, "\t") .. "\n", false)
  end
  local methods = getmetatable(io.stdout).__index
  local write0 = methods.write
  methods.write = function(f, ...)
    if f == io.stdout or f == io.stderr then
      local job = job_of_current()
      if job then
        local n, parts = select("#", ...), {}
        for i = 1, n do parts[i] = tostring((select(i, ...))) end
        job_write(job, table.concat(parts), f == io.stderr)
        return f
      end
    end
    return write0(f, ...)
  end
  io.write = function(...) return io.output():write(...) end
end

return M
