-- __complete: candidates for the shell completion scripts (hidden)
-- usage: kscript __complete WORD... CURRENT
--   The words of the command line after `kscript`, the last one being the
--   word under the cursor (possibly empty).  Prints one candidate per line,
--   then a line `:N` with cobra's directive bits, as kubectl's hidden
--   __complete does: 1 error, 2 no space after the word, 4 no file
--   completion.  Resources, object names, namespaces and contexts come
--   from the live cluster and the kubeconfig with a 3 s timeout; nothing
--   ever prompts.  `kscript completion bash|zsh|fish` prints the scripts
--   that call it.
local cmd = require "ksh.cmd"

local NOSPACE, NOFILE = 2, 4
local words = { ... }
local text = table.remove(words) or ""

local function emit(list, directive)
  local seen = {}
  for _, c in ipairs(list) do
    if not seen[c] and c:sub(1, #text) == text then
      seen[c] = true
      print(c)
    end
  end
  print(":" .. (directive or 0))
end

-- kscript's own options come before the command (kscript [options] COMMAND)
local GLOBAL_VALUE = { ["-e"] = true, ["--timeout"] = true, ["-l"] = true }
local i = 1
while words[i] and words[i]:sub(1, 1) == "-" do
  if GLOBAL_VALUE[words[i]] then i = i + 1 end
  i = i + 1
end
local name = words[i]
local rest = {}
for j = i + 1, #words do rest[#rest + 1] = words[j] end

local function commands()
  local out = {}
  for _, c in ipairs(cmd.list()) do
    if c.name:sub(1, 2) ~= "__" then out[#out + 1] = c.name end
  end
  return out
end

if not name then
  if text:sub(1, 1) == "-" then
    return emit({ "--help", "--version", "--timeout", "-e", "-i", "-v" }, NOFILE)
  end
  return emit(commands(), 0) -- a SCRIPT.lua path is a command too: files stay on
end
if not cmd.exists(name) then return emit({}, 0) end
local usage = cmd.usage(name) or ""
local prev = rest[#rest]

-- flags: every --long and -s spelled in the command's help header
local function flags()
  local out = { "--help" }
  for f in usage:gmatch("%-%-[%a][%w%-]*") do out[#out + 1] = f end
  for f in usage:gmatch("[%s,(|]%-(%a)[%s,=]") do out[#out + 1] = "-" .. f end
  table.sort(out)
  return out
end
if text:sub(1, 1) == "-" then return emit(flags(), NOFILE) end

if prev == "--context" or prev == "--cluster" or prev == "--user" then
  local ok, kc = pcall(require, "k8s.kubeconfig")
  local cfg = ok and kc.load {}
  local out = {}
  local field = prev == "--context" and "contexts" or prev == "--cluster" and "clusters" or "users"
  for n in pairs(cfg and cfg[field] or {}) do out[#out + 1] = n end
  table.sort(out)
  return emit(out, NOFILE)
end
if prev == "-f" or prev == "--filename" or prev == "--kubeconfig" or prev == "--cacert"
  or prev == "--cert" or prev == "--key" or prev == "--snapshot" then
  return emit({}, 0)
end

if prev == "-o" or prev == "--output" then
  return emit({ "json", "yaml", "name", "wide", "jsonpath=", "custom-columns=" }, NOFILE)
end
if name == "etcd" and (prev == "-w" or prev == "--write-out") then
  return emit({ "simple", "json", "fields", "protobuf", "table" }, NOFILE)
end

local SUB = {
  etcd = { "get", "put", "del", "txn", "compaction", "alarm", "defrag", "endpoint", "watch", "version",
           "lease", "member", "snapshot", "lock", "elect", "auth", "user", "role" },
  completion = { "bash", "zsh", "fish" },
}
if name == "help" then return emit(commands(), NOFILE) end
if SUB[name] and #rest == 0 then return emit(SUB[name], NOFILE) end

-- the Kubernetes commands: resource types, then names (k8s's completer)
local ok, k8s = pcall(require, "k8s")
local hook = ok and type(k8s) == "table" and k8s._hooks and k8s._hooks.complete
local fn = cmd.completers[name] or (hook and (hook[name] or (usage:match("RESOURCE") or usage:match("TYPE/NAME")) and hook.get))
if fn then
  local w = { name }
  for _, x in ipairs(rest) do w[#w + 1] = x end
  local good, list = pcall(fn, w, text)
  return emit(good and list or {}, NOFILE)
end
-- other commands with subcommands in their usage lines (config view, ...)
if #rest == 0 then
  local out = {}
  local n = name:gsub("%-", "%%-")
  for line in ("\n" .. usage):gmatch("\n([^\n]*)") do
    local sub = line:match("^usage: " .. n .. " ([%l][%w%-]*)") or line:match("^%s+" .. n .. " ([%l][%w%-]*)")
    if sub then out[#out + 1] = sub end
  end
  if #out > 0 then return emit(out, NOFILE) end
end
return emit({}, 0)
