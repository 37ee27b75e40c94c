-- k8s.discovery: what resources a server has, and finding one by any of
-- its names.  Uses aggregated discovery (/api and /apis as
-- APIGroupDiscoveryList) when the server offers it, else the classic
-- per-group-version documents.  The result is cached on disk per server under
-- ${XDG_CACHE_HOME:-~/.cache}/kscript/discovery/ for `ttl` seconds (default
-- 600), and refreshed once when a name is not found (a just-created CRD).
--
-- A resource entry: {name = "deployments", singular = "deployment",
--   kind = "Deployment", group = "apps", version = "v1", namespaced = true,
--   verbs = {...}, short = {"deploy"}, categories = {"all"}, preferred = true}
local sys = require "ksh.sys"
local util = require "k8s.util"

local json = util.json

local M = {}
M.ttl = 600

local AGG_ACCEPT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList," ..
  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"

local function cache_dir()
  local base = os.getenv("XDG_CACHE_HOME")
  if not base or base == "" then base = (os.getenv("HOME") or "/tmp") .. "/.cache" end
  return base .. "/kscript/discovery"
end

--- cache_file(server) -> the path of a server's discovery cache
function M.cache_file(server)
  local key = server:gsub("^%a+://", ""):gsub("[^%w%.%-]", "_")
  return cache_dir() .. "/" .. key .. "/resources.json"
end

local function list_of(v)
  if type(v) ~= "table" or v == util.null then return {} end
  local t = {}
  for i, x in ipairs(v) do t[i] = x end
  return t
end

local function from_aggregated(doc, out)
  for _, g in ipairs(list_of(doc.items)) do
    local gname = (type(g.metadata) == "table" and g.metadata.name) or ""
    if gname == util.null then gname = "" end
    for vi, ver in ipairs(list_of(g.versions)) do
      for _, r in ipairs(list_of(ver.resources)) do
        local rk = type(r.responseKind) == "table" and r.responseKind or {}
        out[#out + 1] = {
          name = r.resource, singular = r.singularResource ~= util.null and r.singularResource or nil,
          kind = rk.kind, group = gname, version = ver.version,
          namespaced = r.scope == "Namespaced", verbs = list_of(r.verbs),
          short = list_of(r.shortNames), categories = list_of(r.categories), preferred = vi == 1,
        }
      end
    end
  end
end

local function from_resource_list(doc, group, version, preferred, out)
  for _, r in ipairs(list_of(doc.resources)) do
    if type(r.name) == "string" and not r.name:find("/", 1, true) then
      out[#out + 1] = {
        name = r.name, singular = (r.singularName ~= "" and r.singularName) or r.kind:lower(),
        kind = r.kind, group = group, version = version, namespaced = r.namespaced == true,
        verbs = list_of(r.verbs), short = list_of(r.shortNames), categories = list_of(r.categories),
        preferred = preferred,
      }
    end
  end
end

--- fetch(client) -> entries | nil, err: ask the server (no cache)
function M.fetch(client)
  local out = {}
  for _, root in ipairs { "/api", "/apis" } do
    local doc, resp_or_err = client:raw_request { path = root, accept = AGG_ACCEPT, decode = true }
    if not doc then return nil, resp_or_err end
    if doc.kind == "APIGroupDiscoveryList" then
      from_aggregated(doc, out)
    elseif root == "/api" then
      for _, v in ipairs(list_of(doc.versions)) do
        local rl, err = client:raw_request { path = "/api/" .. v, decode = true }
        if not rl then return nil, err end
        from_resource_list(rl, "", v, true, out)
      end
    else
      for _, g in ipairs(list_of(doc.groups)) do
        local pref = type(g.preferredVersion) == "table" and g.preferredVersion.version
        for _, v in ipairs(list_of(g.versions)) do
          local rl = client:raw_request { path = "/apis/" .. v.groupVersion, decode = true }
          -- an unavailable aggregated API must not break discovery of the rest
          if rl then from_resource_list(rl, g.name, v.version, v.version == pref, out) end
        end
      end
    end
  end
  return out
end

local function read_cache(file, ttl)
  local kind, _, mtime = sys.stat(file)
  if kind ~= "file" or os.time() - mtime > ttl then return nil end
  local f = io.open(file, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local ok, doc = pcall(json.decode, s)
  if not ok or type(doc) ~= "table" or type(doc.resources) ~= "table" then return nil end
  return doc.resources
end

local function write_cache(file, entries)
  local dir = file:match("^(.*)/")
  os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  local tmp = file .. ".tmp" .. sys.pid()
  local f = io.open(tmp, "wb")
  if not f then return end
  f:write(json.encode({ resources = entries }))
  f:close()
  os.rename(tmp, file)
end

--- resources(client [, refresh]) -> entries (memory, then disk, then server)
function M.resources(client, refresh)
  if client.discovery and not refresh then return client.discovery end
  local file = M.cache_file(client.server)
  local entries = not refresh and read_cache(file, client.discovery_ttl or M.ttl)
  if not entries then
    local err
    entries, err = M.fetch(client)
    if not entries then return nil, err end
    write_cache(file, entries)
    client.discovery_fetches = (client.discovery_fetches or 0) + 1
  end
  client.discovery = entries
  return entries
end

local function lower(s) return type(s) == "string" and s:lower() or nil end

local function has(list, v)
  for _, x in ipairs(list or {}) do if lower(x) == v then return true end end
  return false
end

local function find_in(entries, name, group, version)
  local function pass(match)
    -- preferred versions first, then the others (kind.version.group picks one)
    for _, want_pref in ipairs { true, false } do
      for _, e in ipairs(entries) do
        if (e.preferred == want_pref or version) and (group == nil or e.group == group)
            and (version == nil or e.version == version) and match(e) then
          return e
        end
      end
    end
  end
  return pass(function(e) return e.name == name end)
    or pass(function(e) return lower(e.singular) == name end)
    or pass(function(e) return has(e.short, name) end)
    or pass(function(e) return lower(e.kind) == name end)
end

local function is_version(s) return s:match("^v%d+$") or s:match("^v%d+alpha%d+$") or s:match("^v%d+beta%d+$") end

local function groups_of(entries)
  local g = {}
  for _, e in ipairs(entries) do g[e.group] = true end
  return g
end

--- lookup(client, name) -> entry | nil, err: by plural, singular, short
-- name, kind, plural.group or kind.version.group (case-insensitive)
function M.lookup(client, name)
  local want = name:lower()
  -- a miss refreshes once per lookup (not once per client: in a REPL or a
  -- long script a CRD can be created at any time), unless this lookup has
  -- just asked the server already (no cache yet)
  local fetches = client.discovery_fetches or 0
  for attempt = 1, 2 do
    local entries, err = M.resources(client, attempt == 2)
    if not entries then return nil, err end
    local base, rest = want:match("^([^%.]+)%.(.+)$")
    local e
    if base then
      local groups = groups_of(entries)
      local v, g = rest:match("^([^%.]+)%.(.+)$")
      if v and is_version(v) and groups[g] then e = find_in(entries, base, g, v) end
      if not e and is_version(rest) then e = find_in(entries, base, "", rest) end
      if not e then e = find_in(entries, base, rest) end
    else
      e = find_in(entries, want)
    end
    if e then return e end
    if (client.discovery_fetches or 0) > fetches then break end
  end
  return nil, util.error("notfound", ("the server doesn't have a resource type %q"):format(name))
end

--- category(client, name) -> entries of the category ("all"), or nil
function M.category(client, name)
  local entries, err = M.resources(client)
  if not entries then return nil, err end
  local out = {}
  for _, e in ipairs(entries) do
    if e.preferred and has(e.categories, name:lower()) then out[#out + 1] = e end
  end
  return #out > 0 and out or nil
end

return M
