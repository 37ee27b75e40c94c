-- ksh: the prelude every kscript state loads.  The loop's verbs become
-- globals (sleep, spawn, after, every, wait, now) so scripts read top to bottom.
local loop = require "ksh.loop"

local M = { verbose = false }

--- Errors: one shape everywhere, {kind = "...", message = "...", ...fields}.
-- ksh.error(kind, message [, fields]) builds one; tostring() gives the message.
-- It is the one builder in Lua: the same function as ksh.loop.error (C,
-- src/lua/error.c, which the bindings use too); k8s.util.error and etcd's
-- errors are this function.
M.error = loop.error
M.is_interrupt = loop.is_interrupt

-- Called by the runner before anything runs: flags from the command line.
function M._start(flags)
  M.verbose = flags == "verbose"
end

--- Raise a usage error: the runner prints the message and exits 2.
function M.usage(fmt, ...)
  error(loop.error("usage", select("#", ...) > 0 and fmt:format(...) or fmt), 0)
end

--- Like pcall, but an interruption (Ctrl-C, SIGTERM, --timeout) is never
-- caught: library code uses this where it wants to recover from failures.
function M.try(fn, ...)
  local r = table.pack(pcall(fn, ...))
  if not r[1] and loop.is_interrupt(r[2]) then error(r[2], 0) end
  return table.unpack(r, 1, r.n)
end

local Task = {}
Task.__index = Task
Task.__name = "ksh.task"

--- spawn(fn, ...) -> task: run fn(...) as a new task on the loop.
-- task:wait() returns its results (or raises its error); task:cancel() stops it.
function M.spawn(fn, ...)
  assert(type(fn) == "function", "spawn: function expected")
  local t = setmetatable({ done = false, waiters = {} }, Task)
  local tb
  local function keep_traceback(e) -- under -v, where the error happened
    if M.verbose then tb = debug.traceback(nil, 2) end
    return e
  end
  t.co = loop.spawn(function(...)
    local r = table.pack(xpcall(fn, keep_traceback, ...))
    t.done = true
    if r[1] then
      t.results = table.pack(table.unpack(r, 2, r.n))
    else
      t.err = r[2]
    end
    local w = t.waiters
    t.waiters = {}
    for _, co in ipairs(w) do loop.wake(co) end
    -- nobody to hand the error to: let the host report it
    if t.err ~= nil and #w == 0 then
      M._task_traceback = tb -- the host prints it with the report (-v)
      error(t.err, 0)
    end
  end, ...)
  return t
end

function Task:wait()
  while not self.done do
    self.waiters[#self.waiters + 1] = loop.current()
    loop.suspend()
  end
  if self.err ~= nil then error(self.err, 0) end
  return table.unpack(self.results, 1, self.results.n)
end

function Task:cancel()
  if not self.done then loop.cancel(self.co) end
end

function Task:__tostring()
  return ("task (%s)"):format(self.done and "done" or "running")
end

--- wait(t1, t2, ...) -> r1, r2, ...: wait for every task, return the first
-- result of each; raises the first error met.
function M.wait(...)
  local n = select("#", ...)
  local res = {}
  for i = 1, n do
    res[i] = (select(i, ...)):wait()
  end
  return table.unpack(res, 1, n)
end

--- events(open [, handler]): the two forms of a watch over a watcher object
-- (w:next() -> event or nil, w:close()) made by open().  Without a handler: an
-- iterator, nil, nil, w (for ev in ...).  With one: a task that opens the
-- watcher and calls handler(ev) for each event until it returns false or the
-- watcher ends, then closes it.  Used by the etcd v2 and v3 clients.
function M.events(open, handler)
  if handler then
    return M.spawn(function()
      local w = open()
      while true do
        local ev = w:next()
        if ev == nil or handler(ev) == false then break end
      end
      w:close()
    end)
  end
  local w = open()
  return function() return w:next() end, nil, nil, w
end

M.sleep = loop.sleep
M.now = loop.now

--- after(seconds, fn) -> task: run fn once, later.
function M.after(secs, fn)
  return M.spawn(function()
    loop.sleep(secs)
    return fn()
  end)
end

--- every(seconds, fn) -> task: run fn every interval until it returns false
-- or the task is cancelled.
function M.every(secs, fn)
  return M.spawn(function()
    while true do
      loop.sleep(secs)
      if fn() == false then return end
    end
  end)
end

-- Coroutines made with coroutine.create/wrap may wait too (a generator
-- that reads a watch, say): a wait inside one yields a mark that these
-- wrappers pass up to the task, and they hand the task's wake-up values back.
do
  local MARK = loop.wait_mark
  local raw_resume, raw_yield, status = coroutine.resume, coroutine.yield, coroutine.status
  local function pass(co, ok, ...)
    if ok and select("#", ...) == 1 and (...) == MARK and status(co) == "suspended" then
      return pass(co, raw_resume(co, raw_yield(MARK)))
    end
    return ok, ...
  end
  function coroutine.resume(co, ...) return pass(co, raw_resume(co, ...)) end
  function coroutine.wrap(f)
    local co = coroutine.create(f)
    return function(...)
      local r = table.pack(coroutine.resume(co, ...))
      if not r[1] then error(r[2], 0) end
      return table.unpack(r, 2, r.n)
    end
  end
end

for _, name in ipairs { "sleep", "spawn", "after", "every", "wait", "now" } do
  _G[name] = M[name]
end
_G.ksh = M

-- Lazily loaded globals: the modules a prompt user reaches for by name.
local lazy = { pp = "ksh.pp", yaml = "ksh.yaml", base64 = "ksh.b64", json = "json",
               http = "ksh.http", k8s = "k8s", etcd = "etcd" }
setmetatable(_G, {
  __index = function(_, k)
    local mod = lazy[k]
    if mod then
      local ok, v = pcall(require, mod)
      if ok then
        rawset(_G, k, v)
        return v
      end
    end
    return nil
  end,
})

return M
