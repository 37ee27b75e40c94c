-- config: show and change kubeconfig (view, contexts), as kubectl config does
-- usage: config view [--raw] [--minify] [--flatten] [-o yaml|json] [--context NAME]
--        config get-contexts [NAME] [-o name] [--no-headers]
--        config current-context
--        config use-context NAME
--        config set-context [NAME | --current] [--namespace NS] [--cluster C] [--user U]
--   --kubeconfig FILE   the file to read (and write); default $KUBECONFIG or ~/.kube/config
local args = require "ksh.args"
local kc = require "k8s.kubeconfig"
local printers = require "k8s.printers"
local ksh = require "ksh"

local o, rest = args.parse(arg, {
  { "o", "output", value = true },
  { nil, "no-headers" },
  { nil, "kubeconfig", value = true },
  { nil, "current" },
  { nil, "namespace", value = true },
  { nil, "cluster", value = true },
  { nil, "user", value = true },
  { nil, "raw" },
  { nil, "minify" },
  { nil, "flatten" },
  { nil, "context", value = true },
})

local sub = rest[1]
if not sub then ksh.usage("config: view, get-contexts, current-context, use-context NAME or set-context expected") end

local cfg, lerr = kc.load { kubeconfig = o.kubeconfig }
if not cfg then
  -- no kubeconfig at all: kubectl config view prints an empty one
  if sub == "view" and lerr.none and not (o.kubeconfig and o.kubeconfig ~= "") then cfg = nil
  else error(lerr, 0) end
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- in place, as kubectl writes it: the file keeps its owner and mode (a
-- kubeconfig is usually 0600; a new file beside it would get the umask's)
local function write(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  assert(f:close())
end

-- rewrite one file's document through ksh.yaml (kubectl re-serializes too)
local function edit(path, fn)
  local y = require "ksh.yaml"
  local doc = assert(require("k8s.util").yaml_decode(read(path)))
  if type(doc) ~= "table" then doc = {} end
  fn(doc)
  if not y.encode then error(ksh.error("unsupported", "config: writing a kubeconfig needs ksh.yaml's encoder"), 0) end
  write(path, y.encode(doc))
end

if sub == "view" then
  if rest[2] then ksh.usage("config view: unexpected arguments: %s", table.concat(rest, " ", 2)) end
  local v, err = kc.view(cfg, { raw = o.raw, minify = o.minify, flatten = o.flatten, context = o.context })
  if not v then error(err, 0) end
  local out = o.output or "yaml"
  if out == "yaml" then io.stdout:write(printers.yaml(v))
  elseif out == "json" then io.stdout:write(require("json").encode(v, { indent = 4 }), "\n")
  else ksh.usage("config view: output must be yaml or json: %s", out) end
  return
end

if sub == "get-contexts" then
  local names = {}
  if rest[2] then
    for i = 2, #rest do
      if not cfg.contexts[rest[i]] then error(ksh.error("config", ("context %s not found"):format(rest[i])), 0) end
      names[#names + 1] = rest[i]
    end
  else
    for _, n in ipairs(cfg.order.contexts) do names[#names + 1] = n end
  end
  table.sort(names)
  if o.output == "name" then
    for _, n in ipairs(names) do io.stdout:write(n, "\n") end
    return
  elseif o.output then
    ksh.usage("output must be one of '' or 'name': %s", o.output)
  end
  local rows = {}
  for i, n in ipairs(names) do
    local c = cfg.contexts[n]
    rows[i] = { cells = { n == cfg.current_context and "*" or "", n, c.cluster or "", c.user or "", c.namespace or "" } }
  end
  local t = printers.table { no_headers = o.no_headers }
  t:add { columnDefinitions = { { name = "CURRENT" }, { name = "NAME" }, { name = "CLUSTER" }, { name = "AUTHINFO" },
                                { name = "NAMESPACE" } }, rows = rows }
  io.stdout:write(t:render())
elseif sub == "current-context" then
  if not cfg.current_context then error(ksh.error("config", "current-context is not set"), 0) end
  io.stdout:write(cfg.current_context, "\n")
elseif sub == "use-context" then
  local name = rest[2] or ksh.usage("config use-context NAME")
  if not cfg.contexts[name] then
    error(ksh.error("config", ("no context exists with the name: %q"):format(name)), 0)
  end
  -- as kubectl: the first existing file of the list (or the explicit one)
  -- gets the new current-context; nothing is written when it is already set
  if cfg.current_context ~= name then
    local path = cfg.files[1]
    local text = read(path)
    local line = require("ksh.yaml").encode({ ["current-context"] = name }):gsub("\n$", "")
    local n = 0
    if not text:match("^%s*{") then -- a block mapping: change the one line, keep the rest
      local t2
      t2, n = ("\n" .. text):gsub("\ncurrent%-context:[^\n]*", "\n" .. line, 1)
      if n == 1 then text = t2:sub(2) end
      local doc = require("k8s.util").yaml_decode(text)
      if n == 0 and type(doc) == "table" and doc["current-context"] == nil and text:match("^%s*[%w\"'#-]") then
        text, n = text:gsub("\n*$", "\n") .. line .. "\n", 1
      end
    end
    if n == 1 then write(path, text)
    else edit(path, function(doc) doc["current-context"] = name end) end
  end
  io.stdout:write(("Switched to context %q.\n"):format(name))
elseif sub == "set-context" then
  local name = o.current and cfg.current_context or rest[2]
  if not name then ksh.usage("config set-context NAME | --current [--namespace NS] [--cluster C] [--user U]") end
  local c = cfg.contexts[name]
  local path = c and c["$file"] or cfg.files[1]
  edit(path, function(doc)
    if type(doc.contexts) ~= "table" then doc.contexts = require("json").array {} end
    local entry
    for _, e in ipairs(doc.contexts) do if e.name == name then entry = e end end
    if not entry then
      entry = { name = name, context = {} }
      doc.contexts[#doc.contexts + 1] = entry
    end
    entry.context = type(entry.context) == "table" and entry.context or {}
    if o.namespace then entry.context.namespace = o.namespace end
    if o.cluster then entry.context.cluster = o.cluster end
    if o.user then entry.context.user = o.user end
  end)
  io.stdout:write(("Context %q %s.\n"):format(name, c and "modified" or "created"))
else
  ksh.usage("config: unknown subcommand %q", sub)
end
