-- get: show Kubernetes resources, as kubectl get does
-- usage: get RESOURCE[,RESOURCE...] [NAME...] | TYPE/NAME ... [flags]
--        get --raw PATH            (get /PATH is the same)
--   -n, --namespace NS       namespace (default: the context's)
--   -A, --all-namespaces     every namespace
--   -l, --selector SEL       label selector;  --field-selector SEL
--   -o, --output FORMAT      json | yaml | name | wide
--   --show-labels, -L, --label-columns KEY   label columns
--   --no-headers, --show-managed-fields, --chunk-size N (default 500, 0: no paging)
--   -w, --watch [--watch-only] [--output-watch-events]
--   --context NAME, --kubeconfig FILE, -s/--server URL, --token T,
--   --insecure-skip-tls-verify, --request-timeout SECONDS
--   --contexts A,B,C | --all-contexts   several clusters at once (below)
--
-- Several contexts (--contexts a,b,c, or --all-contexts: every context of
-- the kubeconfig, by name as `config get-contexts` lists them) are fetched
-- at once and printed in the order given: one table with a leading CONTEXT
-- column; -o json one List (or the object, for one NAME) per context, one
-- after the other; -o yaml the same separated by "---"; -o name
-- CONTEXT/kind/name (a context name may hold "/": the last two fields are
-- kubectl's kind/name); templates render once per context. A context that
-- fails (out of reach, unknown, a refusal) is reported once after the
-- output, `kscript: get: context NAME: ...`, prints nothing itself if it
-- could not be reached, and makes the status 1; the others print. Each
-- connection must be up within 5 s (TLS included), so a cluster out of
-- reach never stalls the run (contexts of one server wait for its one
-- connection, to share it: on a silent server they time out one after the
-- other). Not with --context, --server, -w or paths.
--
-- Errors as kubectl prints them: a server's refusal per object
-- (`Error from server (NotFound): pods "nope" not found`), an unknown type
-- (`error: the server doesn't have a resource type "foo"`), then status 1.
-- Any other failure (kubeconfig, connection, TLS) is raised for the runner.
local args = require "ksh.args"
local k8s = require "k8s"
-- Lists and watches make many short-lived tables, page after page: the
-- generational collector keeps peak memory near one page (33 -> 19 MB for
-- 5,000 ConfigMaps as -o json, same time).
collectgarbage("generational")
local printers = require "k8s.printers"
local discovery = require "k8s.discovery"
local ksh = require "ksh"

local o, rest = args.parse(arg, {
  { "n", "namespace", value = true },
  { "A", "all-namespaces" },
  { "l", "selector", value = true },
  { nil, "field-selector", value = true },
  { "o", "output", value = true },
  { nil, "show-labels" },
  { "L", "label-columns", value = true, list = true, split = "," },
  { nil, "no-headers" },
  { nil, "show-managed-fields" },
  { nil, "chunk-size", value = true, number = true, default = 500 },
  { "w", "watch" },
  { nil, "watch-only" },
  { nil, "output-watch-events" },
  { nil, "raw", value = true },
  { nil, "context", value = true },
  { nil, "kubeconfig", value = true },
  { "s", "server", value = true },
  { nil, "token", value = true },
  { nil, "insecure-skip-tls-verify" },
  { nil, "request-timeout", value = true },
  { nil, "ignore-not-found" },
  { nil, "contexts", value = true, list = true, split = "," },
  { nil, "all-contexts" },
})

local output = o.output
-- -o jsonpath=/jsonpath-file=/jsonpath-as-json=/custom-columns=/custom-columns-file= (lua/k8s/template.lua)
local tmpl, tmpl_err = require("k8s.template").printer(output, { no_headers = o.no_headers })
if tmpl_err then io.stderr:write("error: ", tmpl_err, "\n"); return 1 end
if tmpl then output = "template" end
if output and not ({ json = true, yaml = true, name = true, wide = true, template = true })[output] then
  ksh.usage("unsupported output format %q (json, yaml, name, wide)", output)
end

local function out(s) io.stdout:write(s) end

-- kubectl's rule: a whole number is seconds, else a Go duration (1s, 2m, 3h)
local function timeout_of(s)
  if not s or s == "0" then return nil end
  if s:match("^%d+$") then return tonumber(s) end
  local secs, err = require("ksh.sys").parse_duration(s)
  if not secs or secs < 0 then ksh.usage("invalid --request-timeout %q: %s", s, tostring(err or "negative")) end
  return secs > 0 and secs or nil
end

-- what to fetch: { {entry =, name = nil | NAME}, ... }
-- expand(k, type) -> {entry} | the entries of a category ("all") | nil, err
local function expand(k, typ)
  local e, err = k:resource(typ)
  if e then return { e } end
  if err.kind == "notfound" and not typ:find(".", 1, true) then
    local cat, cerr2 = discovery.category(k, typ)
    if cat then return cat end
    if cerr2 then return nil, cerr2 end
  end
  return nil, err
end

-- plan(k) -> requests, single | nil, err (a type the server does not have)
local function plan(k)
  local requests, single = {}, false
  if rest[1]:find("/", 1, true) then
    for _, a in ipairs(rest) do
      local typ, name = a:match("^([^/]+)/(.+)$")
      if not typ then ksh.usage("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form") end
      local es, err = expand(k, typ)
      if not es then return nil, err end
      requests[#requests + 1] = { entry = es[1], name = name }
    end
    single = #requests == 1
  else
    local types = {}
    for typ in rest[1]:gmatch("[^,]+") do
      local es, err = expand(k, typ)
      if not es then return nil, err end
      for _, e in ipairs(es) do types[#types + 1] = e end
    end
    if #rest > 1 then
      if #types > 1 then ksh.usage("names can only be given with one resource type (or use TYPE/NAME)") end
      for i = 2, #rest do requests[#requests + 1] = { entry = types[1], name = rest[i] } end
      single = #requests == 1
    else
      for _, e in ipairs(types) do requests[#requests + 1] = { entry = e } end
    end
  end
  return requests, single
end

local lopts = {
  namespace = o.namespace, all_namespaces = o.all_namespaces, labelSelector = o.selector,
  fieldSelector = o.field_selector, limit = o.chunk_size,
}
local popts = { show_managed_fields = o.show_managed_fields }

-- one object; when it is not found in a namespace other than default,
-- kubectl asks for the namespace and reports that one missing instead
local function get_one(k, e, name, opts)
  local obj, err = k:get(e, name, opts)
  if obj or err.kind ~= "notfound" or not e.namespaced then return obj, err end
  local ns = o.namespace or k.namespace
  if ns and ns ~= "" and ns ~= "default" then
    local _, nerr = k:get("/api/v1/namespaces/" .. ns)
    if nerr and nerr.kind == "notfound" then return nil, nerr end
  end
  return nil, err
end

-- ---------------------------------------------------------------- several contexts
-- --contexts a,b,c | --all-contexts: every context fetched at once (one task
-- each on the loop), printed in the order given: one table with a leading
-- CONTEXT column; -o json|yaml: one List (or object) per context, yaml ones
-- separated by "---"; -o name: CONTEXT/kind/name. A context that fails is
-- reported once after the output (kscript: get: context NAME: ...), the
-- others print, status 1. Each connection must be up within CONNECT_TIMEOUT
-- seconds, so a cluster out of reach never stalls the others for long.
local CONNECT_TIMEOUT = 5

local function several_contexts()
  if o.contexts and o.all_contexts then ksh.usage("--contexts and --all-contexts exclude each other") end
  if o.context or o.server then ksh.usage("--contexts/--all-contexts exclude --context and --server") end
  if o.watch or o.watch_only then ksh.usage("--contexts/--all-contexts do not apply to --watch") end
  if o.raw or (rest[1] and rest[1]:sub(1, 1) == "/") then ksh.usage("--contexts/--all-contexts do not apply to --raw or a path") end
  if #rest == 0 then
    ksh.usage("you must specify the type of resource to get (kscript get pods, kscript api-resources lists them)")
  end
  local names, seen = {}, {}
  if o.all_contexts then
    -- as `kubectl config get-contexts` lists them: by name
    local cfg, err = require("k8s.kubeconfig").load { kubeconfig = o.kubeconfig }
    if not cfg then error(err, 0) end
    for _, n in ipairs(cfg.order.contexts) do names[#names + 1] = n end
    table.sort(names)
    if #names == 0 then error(ksh.error("config", "the kubeconfig has no contexts"), 0) end
  else
    for _, n in ipairs(o.contexts) do
      if not seen[n] then names[#names + 1], seen[n] = n, true end
    end
    if #names == 0 then ksh.usage("--contexts: context names expected (a,b,c)") end
  end

  local human = output == nil or output == "wide"
  local request_timeout = timeout_of(o.request_timeout)
  local connect_timeout = math.min(CONNECT_TIMEOUT, request_timeout or CONNECT_TIMEOUT)

  -- fetch(name) -> {name, errors, groups = {{key, entry, tables}}, items, rows,
  -- planned (the types resolved), down (a failure other than a server's refusal)}
  local function fetch(name)
    local res = { name = name, errors = {}, groups = {}, items = {}, rows = 0 }
    local function fail(err)
      -- misuse (the same in every context) is raised by the main task, once
      if type(err) == "table" and err.kind == "usage" then res.usage = err; return end
      if type(err) ~= "table" or not err.status then res.down = true end
      if o.ignore_not_found and type(err) == "table" and err.status and err.kind == "notfound" then return end
      res.errors[#res.errors + 1] = err
    end
    local ok, err = ksh.try(function()
      local k, cerr = k8s.connect {
        context = name, namespace = o.namespace, kubeconfig = o.kubeconfig, token = o.token,
        insecure_skip_tls_verify = o.insecure_skip_tls_verify, request_timeout = request_timeout,
        connect_timeout = connect_timeout,
      }
      if not k then error(cerr, 0) end
      res.namespace = k.namespace
      local requests, single = plan(k)
      if not requests then error(single, 0) end
      res.planned, res.single = true, single
      for _, r in ipairs(requests) do
        local e = r.entry
        local rok, rerr = ksh.try(function()
          if human then
            local key = e.kind .. "." .. e.group
            local g = res.groups[#res.groups]
            if not g or g.key ~= key then
              g = { key = key, entry = e, tables = {} }
              res.groups[#res.groups + 1] = g
            end
            local topts = setmetatable({ accept = printers.TABLE_ACCEPT }, { __index = lopts })
            if r.name then
              local t, gerr = get_one(k, e, r.name, topts)
              if not t then error(gerr, 0) end
              g.tables[#g.tables + 1] = t
              res.rows = res.rows + 1
            else
              for page in k:pages(e, topts) do
                g.tables[#g.tables + 1] = page
                res.rows = res.rows + #(type(page.rows) == "table" and page.rows or {})
              end
            end
          elseif r.name then
            local obj, gerr = get_one(k, e, r.name, lopts)
            if not obj then error(gerr, 0) end
            res.items[#res.items + 1] = obj
          else
            for page in k:pages(e, lopts) do
              for _, it in ipairs(page.items or {}) do res.items[#res.items + 1] = it end
            end
          end
        end)
        if not rok then
          fail(rerr)
          if res.down then return end -- out of reach: ask it nothing more
        end
      end
    end)
    if not ok then fail(err) end
    return res
  end

  local tasks, results = {}, {}
  for i, n in ipairs(names) do tasks[i] = ksh.spawn(fetch, n) end
  for i, t in ipairs(tasks) do results[i] = t:wait() end
  for _, res in ipairs(results) do
    if res.usage then error(res.usage, 0) end
  end

  if human then
    -- one table per resource type, its rows in the order of the contexts
    local keys, parts, entry_of, total, errs = {}, {}, {}, 0, 0
    for _, res in ipairs(results) do
      total, errs = total + res.rows, errs + #res.errors
      for _, g in ipairs(res.groups) do
        if not parts[g.key] then
          parts[g.key], entry_of[g.key] = {}, g.entry
          keys[#keys + 1] = g.key
        end
        table.insert(parts[g.key], { name = res.name, tables = g.tables })
      end
    end
    local written = false
    for _, key in ipairs(keys) do
      local e = entry_of[key]
      local tbl = printers.table { context = true, wide = output == "wide", namespace = o.all_namespaces and e.namespaced,
        labels = o.label_columns, show_labels = o.show_labels, no_headers = o.no_headers,
        kind_prefix = #keys > 1 and (e.kind:lower() .. (e.group ~= "" and "." .. e.group or "")) or nil }
      for _, p in ipairs(parts[key]) do
        for _, t in ipairs(p.tables) do tbl:add(t, nil, p.name) end
      end
      local s = tbl:render()
      if s ~= "" then
        -- a blank line between resource types, as kubectl prints
        if written and not o.no_headers then out("\n") end
        out(s)
        written = true
      end
    end
    if total == 0 and errs == 0 and not o.ignore_not_found then
      -- "in NS namespace." only when every context looked in the same one
      local ns = o.namespace
      if not ns then
        for _, res in ipairs(results) do
          if ns == nil then ns = res.namespace or "default" elseif ns ~= (res.namespace or "default") then ns = false end
        end
      end
      local all_namespaced = not o.all_namespaces and ns
      for _, key in ipairs(keys) do all_namespaced = all_namespaced and entry_of[key].namespaced end
      if all_namespaced then
        io.stderr:write(("No resources found in %s namespace.\n"):format(ns))
      else
        io.stderr:write("No resources found\n")
      end
    end
  else
    local docs = 0
    for _, res in ipairs(results) do
      -- a context out of reach prints nothing (not an empty List)
      if res.planned and not res.down then
        local items = res.items
        if tmpl then
          local text, terr = tmpl:render(items, res.single)
          if text then out(text) else res.errors[#res.errors + 1] = terr end
        elseif output == "name" then
          for _, it in ipairs(items) do out(res.name .. "/" .. printers.name(it, nil) .. "\n") end
        elseif not (res.single and #items == 0) then
          local obj = (res.single and #items == 1) and items[1] or printers.as_list(items)
          if output == "json" then
            out(printers.json(obj, popts))
          else
            out((docs > 0 and "---\n" or "") .. printers.yaml(obj, popts))
          end
          docs = docs + 1
        end
      end
    end
  end
  io.stdout:flush()
  local status = 0
  for _, res in ipairs(results) do
    for _, err in ipairs(res.errors) do
      io.stderr:write("kscript: get: context ", res.name, ": ", tostring(err), "\n")
      status = 1
    end
  end
  return status
end

if o.contexts or o.all_contexts then return several_contexts() end

local k, cerr = k8s.connect {
  namespace = o.namespace, context = o.context, kubeconfig = o.kubeconfig, server = o.server,
  token = o.token, insecure_skip_tls_verify = o.insecure_skip_tls_verify,
  request_timeout = timeout_of(o.request_timeout),
}
if not k then error(cerr, 0) end

-- kubectl's words for an unknown type: "error: ...", status 1
local function type_error(err)
  if type(err) ~= "table" or err.kind ~= "notfound" or err.status then error(err, 0) end
  io.stderr:write("error: ", tostring(err), "\n")
  return 1
end

-- paths: --raw PATH prints the body as the server sent it (kubectl --raw);
-- get /PATH decodes JSON and prints it as -o json (or -o yaml) would, at a
-- terminal or when -o asks; piped without -o it is the body as sent.
local pretty = false
if not o.raw and rest[1] and rest[1]:sub(1, 1) == "/" then
  o.raw = rest[1]
  if output == "json" or output == "yaml" then
    pretty = output
  elseif output == nil and require("ksh.sys").isatty("stdout") then
    pretty = "json"
  elseif output ~= nil then
    ksh.usage("-o %s does not apply to a path (json or yaml)", output)
  end
end
if o.raw then
  local body, resp = k:raw_request { path = o.raw, accept = "application/json, */*", decode = false }
  if not body then
    if type(resp) ~= "table" or not resp.status then error(resp, 0) end
    io.stderr:write(tostring(resp), "\n")
    return 1
  end
  local ctype = resp.headers and resp.headers["content-type"] or ""
  if pretty and ctype:find("json", 1, true) then
    local v, derr = require("json").decode(body)
    if v == nil and derr then
      error(ksh.error("protocol", ("GET %s: invalid JSON in the response: %s"):format(o.raw, tostring(derr))), 0)
    end
    out(pretty == "yaml" and printers.yaml(v) or printers.json(v))
  else
    out(body)
  end
  return 0
end

if #rest == 0 then
  ksh.usage("you must specify the type of resource to get (kscript get pods, kscript api-resources lists them)")
end

local requests, single = plan(k)
if not requests then return type_error(single) end

-- A server's refusal of one request: kubectl goes on with the others and
-- prints each as "Error from server (...): ..." after the output; anything
-- else is raised.
local errors = {}
local function report(err)
  if type(err) ~= "table" or not err.status then error(err, 0) end
  if o.ignore_not_found and err.kind == "notfound" then return end
  errors[#errors + 1] = err
end

-- kubectl: "No resources found in NS namespace." when every type asked for
-- is namespaced and -A is not given, else "No resources found" (no period)
local function no_resources()
  local all_namespaced = not o.all_namespaces
  for _, r in ipairs(requests) do all_namespaced = all_namespaced and r.entry.namespaced end
  if all_namespaced then
    io.stderr:write(("No resources found in %s namespace.\n"):format(o.namespace or k.namespace or "default"))
  else
    io.stderr:write("No resources found\n")
  end
end

-- the errors after the output, as kubectl prints them; the status
local function finish()
  io.stdout:flush()
  for _, err in ipairs(errors) do io.stderr:write(tostring(err), "\n") end
  return #errors > 0 and 1 or 0
end

-- ---------------------------------------------------------------- watch
if o.watch or o.watch_only then
  local types = {}
  for _, r in ipairs(requests) do types[r.entry.name .. "." .. r.entry.group] = true end
  if next(types, next(types)) then ksh.usage("you may only watch one resource type at a time") end
  local e = requests[1].entry
  local human = output == nil or output == "wide"
  local wopts = { namespace = o.namespace, all_namespaces = o.all_namespaces,
                  labelSelector = o.selector, fieldSelector = o.field_selector, limit = o.chunk_size,
                  accept = human and printers.TABLE_ACCEPT or nil, name = requests[1].name }
  local tbl = printers.table { wide = output == "wide", namespace = o.all_namespaces and e.namespaced,
    labels = o.label_columns, show_labels = o.show_labels, no_headers = o.no_headers,
    event = o.output_watch_events }
  local doc = printers.watch_output(output, { events = o.output_watch_events,
                                              show_managed_fields = o.show_managed_fields })
  local function show(ev)
    if human then
      local obj = ev.object
      if type(obj) == "table" and obj.kind == "Table" then
        tbl:add(obj, ev.type)
      else
        local m = type(obj) == "table" and obj.metadata or {}
        tbl:add({ rows = { { cells = { m.name }, object = { metadata = m } } } }, ev.type)
      end
      out(tbl:render())
    elseif output == "name" then
      out(printers.name(ev.object, e) .. "\n")
    else
      local s = doc(ev)
      if s then out(s) end
    end
    io.stdout:flush()
  end
  -- (kubectl's watch never says "No resources found")
  local ok, err = ksh.try(function()
    for ev in k:watch(e, wopts) do
      if ev.type ~= "BOOKMARK" and not (ev.initial and o.watch_only) then show(ev) end
    end
  end)
  if not ok then report(err) end
  return finish()
end

-- ---------------------------------------------------------------- json, streamed
-- A list prints page by page as it arrives, laid out exactly as kubectl's
-- List wrapper, so memory stays bounded by a page whatever the list's size.
-- The items go from the response bytes to the output in C
-- (json.write_items): no Lua table is built for an object that is only
-- printed.

-- each_body(entry, fn): GET the list page by page as k:pages does (same
-- query, an expired continue token goes on from the one the server offers),
-- fn(body) -> the page's continue token
local function each_body(e, fn)
  local p, perr = k:path(e, nil, lopts)
  if not p then error(perr, 0) end
  local limit = lopts.limit or 500
  local cont
  repeat
    local q = { labelSelector = lopts.labelSelector, fieldSelector = lopts.fieldSelector,
                limit = limit > 0 and limit or nil, continue = cont }
    local body, err = k:raw_request { path = p, query = q, decode = false }
    if not body then
      local st = err.status_object
      local nc = type(st) == "table" and type(st.metadata) == "table" and st.metadata.continue
      if err.kind == "gone" and cont and type(nc) == "string" and nc ~= "" then
        q.continue = nc
        body, err = k:raw_request { path = p, query = q, decode = false }
      end
      if not body then error(err, 0) end
    end
    cont = fn(body, p)
  until not cont
end

if output == "json" and not single then
  local json = require "json"
  local started = false
  local HEAD = '{\n    "apiVersion": "v1",\n    "items": [\n'
  local function emit(it)
    local s = json.encode(printers.prepare(it, popts), { indent = 4, sort_keys = true })
    out((started and ",\n" or HEAD) .. "        " .. (s:gsub("\n", "\n        ")))
    started = true
  end
  for _, r in ipairs(requests) do
    if r.name then
      local obj, err = get_one(k, r.entry, r.name, lopts)
      if obj then emit(obj) else report(err) end
    else
      local e = r.entry
      local ok, err = ksh.try(function()
        each_body(e, function(body, path)
          local n, cont = json.write_items(io.stdout, body, {
            lead = started and ",\n" or HEAD, kind = e.kind,
            api_version = e.group == "" and e.version or e.group .. "/" .. e.version,
            managed_fields = o.show_managed_fields })
          if not n then
            if cont.kind ~= "parse" then error(cont, 0) end
            error(ksh.error("protocol", ("GET %s: invalid JSON in the response: %s"):format(path, tostring(cont))), 0)
          end
          started = started or n > 0
          return cont
        end)
      end)
      if not ok then report(err) end
    end
  end
  out(started and "\n    ],\n" or '{\n    "apiVersion": "v1",\n    "items": [],\n')
  out('    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n')
  return finish()
end

-- ---------------------------------------------------------------- yaml, streamed
-- Lists only (no NAME): kubectl's List as yaml, items from the response
-- bytes in C (yaml.list_writer), page by page as they arrive.
local any_name = false
for _, r in ipairs(requests) do any_name = any_name or r.name ~= nil end
-- -o name of lists: one line per item, also from the bytes in C
if output == "name" and not any_name then
  local json = require "json"
  for _, r in ipairs(requests) do
    local e = r.entry
    local ok, err = ksh.try(function()
      each_body(e, function(body, path)
        local n, cont = json.write_items(io.stdout, body, { format = "name", kind = e.kind,
          api_version = e.group == "" and e.version or e.group .. "/" .. e.version })
        if not n then
          if cont.kind ~= "parse" then error(cont, 0) end
          error(ksh.error("protocol", ("GET %s: invalid JSON in the response: %s"):format(path, tostring(cont))), 0)
        end
        return cont
      end)
    end)
    if not ok then report(err) end
  end
  return finish()
end

if output == "yaml" and not single and not any_name then
  local w = require("ksh.yaml").list_writer(io.stdout)
  for _, r in ipairs(requests) do
    local e = r.entry
    local ok, err = ksh.try(function()
      each_body(e, function(body, path)
        local n, cont = w:items(body, { kind = e.kind, managed_fields = o.show_managed_fields,
          api_version = e.group == "" and e.version or e.group .. "/" .. e.version })
        if not n then
          if cont.kind ~= "parse" then error(cont, 0) end
          error(ksh.error("protocol", ("GET %s: invalid JSON in the response: %s"):format(path, tostring(cont))), 0)
        end
        return cont
      end)
    end)
    if not ok then report(err) end
  end
  w:finish()
  return finish()
end

-- ---------------------------------------------------------------- json / yaml / name
if output == "json" or output == "yaml" or output == "name" or tmpl then
  local items = {}
  for _, r in ipairs(requests) do
    if r.name then
      local obj, err = get_one(k, r.entry, r.name, lopts)
      if obj then items[#items + 1] = obj else report(err) end
    else
      local ok, err = ksh.try(function()
        for page in k:pages(r.entry, lopts) do
          for _, it in ipairs(page.items or {}) do items[#items + 1] = it end
        end
      end)
      if not ok then report(err) end
    end
  end
  if tmpl then
    local text, err = tmpl:render(items, single)
    -- a template's failure is worded as kubectl words it: shown after the
    -- output like a server's refusal, status 1
    if text then out(text) else errors[#errors + 1] = err end
  elseif output == "name" then
    local buf = {}
    for i, it in ipairs(items) do buf[i] = printers.name(it, nil) end
    if #buf > 0 then out(table.concat(buf, "\n") .. "\n") end
  else
    local obj = (single and #items == 1) and items[1] or printers.as_list(items)
    if not (single and #items == 0) then
      out(output == "json" and printers.json(obj, popts) or printers.yaml(obj, popts))
    end
  end
  return finish()
end

-- ---------------------------------------------------------------- tables
local kinds = {}
for _, r in ipairs(requests) do kinds[r.entry.kind .. "." .. r.entry.group] = true end
local with_kind = next(kinds, next(kinds)) ~= nil
local total, written, last = 0, false, nil
local tbl
for _, r in ipairs(requests) do
  local e = r.entry
  if e ~= last then
    if tbl then
      local s = tbl:render()
      if s ~= "" then
        out(s)
        written = true
      end
    end
    tbl = printers.table { wide = output == "wide", namespace = o.all_namespaces and e.namespaced,
      labels = o.label_columns, show_labels = o.show_labels, no_headers = o.no_headers,
      kind_prefix = with_kind and (e.kind:lower() .. (e.group ~= "" and "." .. e.group or "")) or nil }
    tbl.sep = written and not o.no_headers
    last = e
  end
  local topts = setmetatable({ accept = printers.TABLE_ACCEPT }, { __index = lopts })
  if r.name then
    local t, err = get_one(k, e, r.name, topts)
    if t then
      tbl:add(t)
      total = total + 1
    else
      report(err)
    end
  else
    local ok, err = ksh.try(function()
      for page in k:pages(e, topts) do
        tbl:add(page)
        total = total + #page.rows
      end
    end)
    if not ok then report(err) end
  end
  -- a blank line between resource groups, as kubectl prints
  if tbl.sep and tbl:count() > 0 then
    out("\n")
    tbl.sep = false
  end
end
if tbl then out(tbl:render()) end
if total == 0 and #errors == 0 and not o.ignore_not_found then no_resources() end
return finish()
