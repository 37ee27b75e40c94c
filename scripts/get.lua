-- get: show Kubernetes resources, as kubectl get does
-- usage: get RESOURCE[,RESOURCE...] [NAME...] | TYPE/NAME ... [flags]
--        get --raw PATH            (get /PATH is the same)
--   -n, --namespace NS       namespace (default: the context's)
--   -A, --all-namespaces     every namespace
--   -l, --selector SEL       label selector;  --field-selector SEL
--   -o, --output FORMAT      json | yaml | name | wide | jsonpath=... | jsonpath-file=FILE |
--                            jsonpath-as-json=... | custom-columns=... | custom-columns-file=FILE |
--                            lua=EXPR (a Lua expression over obj, one line per object)
--   --sort-by JSONPATH       sort lists by a field (.metadata.name, {.status.startTime})
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
-- Tables are printed chunk by chunk as the list arrives, aligned as
-- kubectl 1.37 aligns them: each chunk of --chunk-size objects at least as
-- wide as the chunks before it (a column widens from the chunk where a
-- wider cell appears), so a long list starts printing at once.
--
-- --sort-by sorts as kubectl does (its comparison rules and Go's sort, ties
-- included): numbers as numbers, strings that are both resource quantities
-- (1Gi, 500m) by quantity, other strings byte by byte (timestamps are in
-- time order), objects without the field first; booleans, maps and lists
-- cannot be sorted on (an error, status 1). It fetches each list in one
-- request (no chunks). As in kubectl, a field found in no object is an
-- error for -o json|yaml|name and templates ("couldn't find any field
-- with path ..."), while a table then prints nothing ("No resources
-- found"); a list of one row or one named object is not checked.
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
  { nil, "sort-by", value = true },
})

local output = o.output
local sorter = require "k8s.sorter"
local sort_by = o.sort_by ~= "" and o.sort_by or nil
-- -o jsonpath=/jsonpath-file=/jsonpath-as-json=/custom-columns=/custom-columns-file= (lua/k8s/template.lua)
local tmpl, tmpl_err = require("k8s.template").printer(output, { no_headers = o.no_headers })
if tmpl_err then io.stderr:write("error: ", tmpl_err, "\n"); return 1 end
if tmpl then output = "template" end
if output and not ({ json = true, yaml = true, name = true, wide = true, template = true })[output] then
  ksh.usage("unsupported output format %q (json, yaml, name, wide)", output)
end
-- kubectl's checks of the table flags against the output format
if o.show_labels and o.output and o.output ~= "" and o.output ~= "wide" then
  io.stderr:write(("error: --show-labels option cannot be used with %s printer\n"):format(o.output)); return 1
end
if o.label_columns and #o.label_columns > 0 and o.output and o.output:match("^custom%-columns") then
  io.stderr:write(("error: --label-columns option cannot be used with %s printer\n"):format(o.output)); return 1
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
  -- --sort-by lists in one request, as kubectl does
  fieldSelector = o.field_selector, limit = sort_by and 0 or o.chunk_size,
}
-- the options of a table request: with --sort-by each row carries its whole
-- object (includeObject=Object), to sort on any field
local function table_opts(extra)
  local t = { accept = printers.TABLE_ACCEPT, query = sort_by and { includeObject = "Object" } or nil }
  for k, v in pairs(extra or {}) do t[k] = v end
  return setmetatable(t, { __index = lopts })
end
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
            local topts = table_opts()
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
      -- --sort-by: each context's rows (or objects) sorted on their own; a
      -- field that cannot sort them is this context's error
      if sort_by then
        local sok, serr = true, nil
        for _, g in ipairs(res.groups) do
          for _, t in ipairs(g.tables) do
            if sok and type(t.rows) == "table" then sok, serr = sorter.rows(t.rows, sort_by) end
          end
        end
        if sok and not human and not (single and #res.items == 1) then sok, serr = sorter.objects(res.items, sort_by) end
        if not sok then res.groups, res.items, res.rows = {}, {}, 0; error(serr, 0) end
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
  if sort_by then
    io.stderr:write(o.watch and "warning: --watch requested, --sort-by will be ignored for watch events received\n"
      or "warning: --watch-only requested, --sort-by will be ignored\n")
  end
  local wopts = { namespace = o.namespace, all_namespaces = o.all_namespaces,
                  labelSelector = o.selector, fieldSelector = o.field_selector, limit = o.chunk_size,
                  accept = human and printers.TABLE_ACCEPT or nil, name = requests[1].name,
                  query = (human and sort_by) and { includeObject = "Object" } or nil }
  local tbl = printers.table { wide = output == "wide", namespace = o.all_namespaces and e.namespaced,
    labels = o.label_columns, show_labels = o.show_labels, no_headers = o.no_headers,
    event = o.output_watch_events }
  local doc = printers.watch_output(output, { events = o.output_watch_events,
                                              show_managed_fields = o.show_managed_fields })
  local w
  -- the first list is printed as kubectl prints it: each page one table
  -- (ev.page: a list of several pages), a single page's rows as one,
  -- sorted by --sort-by, and all of it flushed once it is all in
  local initial, sort_fatal = nil, nil
  local function sorted(t)
    if not sort_by then return t end
    local ok, err, fatal = sorter.rows(type(t.rows) == "table" and t.rows or {}, sort_by)
    if fatal then sort_fatal = err end
    if not ok then return { columnDefinitions = t.columnDefinitions, rows = {} } end
    return t
  end
  local function show(ev)
    if human then
      local obj = ev.object
      if not (type(obj) == "table" and obj.kind == "Table") then
        local m = type(obj) == "table" and obj.metadata or {}
        obj = { rows = { { cells = { m.name }, object = { metadata = m } } } }
      end
      if ev.initial then
        if ev.page and ev.page.kind == "Table" then
          -- a page of several: one table, added with its first row's event
          if ev.page_first then tbl:add(sorted(ev.page), ev.type) end
        else
          if not initial then initial = { columnDefinitions = obj.columnDefinitions, rows = {} } end
          for _, r in ipairs(type(obj.rows) == "table" and obj.rows or {}) do initial.rows[#initial.rows + 1] = r end
        end
        if sort_fatal then w:close(); return end
        if w:initial_pending() then return end
        if initial then tbl:add(sorted(initial), ev.type) end
        initial = nil
        if sort_fatal then w:close(); return end
      else
        tbl:add(obj, ev.type)
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
    local events
    events, w = k:watch(e, wopts)
    for ev in events do
      if ev.type ~= "BOOKMARK" and not (ev.initial and o.watch_only) then show(ev) end
    end
  end)
  if sort_fatal then
    io.stderr:write("error: ", sort_fatal, "\n")
    return 1
  end
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

if output == "json" and not single and not sort_by then
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
if output == "name" and not any_name and not sort_by then
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

if output == "yaml" and not single and not any_name and not sort_by then
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
  -- --sort-by: a list is sorted (one named object is printed as it is)
  if sort_by and not (single and #items == 1) then
    local ok, err = sorter.objects(items, sort_by)
    if not ok then
      io.stdout:flush()
      for _, e in ipairs(errors) do io.stderr:write(tostring(e), "\n") end
      io.stderr:write("error: ", err, "\n")
      return 1
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
-- As kubectl prints them: one table printer per resource type (a header,
-- then the rows of each chunk as it arrives, aligned chunk by chunk: see
-- printers.table), a blank line between types.
local kinds = {}
for _, r in ipairs(requests) do kinds[r.entry.kind .. "." .. r.entry.group] = true end
local with_kind = next(kinds, next(kinds)) ~= nil
local written, sep = false, false -- kubectl's trackingWriter, separatorWriter
local function emit(s)
  if s == "" then return end
  if sep then out("\n"); sep = false end
  out(s)
  written = true
end
local tbl, last
-- printer_for(entry): the table printer of this type (a new one, after a
-- blank line, when the type changes)
local function printer_for(e)
  if e == last then return tbl end
  if tbl then emit(tbl:render()) end
  if last and not o.no_headers and written then sep = true end
  tbl = printers.table { wide = output == "wide", namespace = o.all_namespaces and e.namespaced,
    labels = o.label_columns, show_labels = o.show_labels, no_headers = o.no_headers,
    kind_prefix = with_kind and (e.kind:lower() .. (e.group ~= "" and "." .. e.group or "")) or nil }
  last = e
  return tbl
end

-- the server's tables of each request ({entry, table}), in order; without
-- --sort-by each is printed as it arrives (then nil is returned)
local function each_table(fn)
  for _, r in ipairs(requests) do
    local e = r.entry
    if r.name then
      local t, err = get_one(k, e, r.name, table_opts())
      if t then fn(e, t) else report(err) end
    else
      local ok, err = ksh.try(function()
        local prog <close> = require("ksh.progress").new(e.name) -- a terminal on stderr only
        for page in k:pages(e, table_opts()) do
          fn(e, page)
          prog:add(#(type(page.rows) == "table" and page.rows or {}))
        end
      end)
      if not ok then report(err) end
    end
  end
end

if not sort_by then
  each_table(function(e, t)
    local p = printer_for(e)
    p:add(t)
    emit(p:pending())
  end)
else
  local infos = {}
  each_table(function(e, t) infos[#infos + 1] = { entry = e, table = t } end)
  -- several tables (several names or types): kubectl sorts the Table
  -- objects themselves by the field first (so a field of the objects is
  -- "not found" there, and only a field a Table has orders them)
  if #infos > 1 then
    local objs, info_of = {}, {}
    for i, inf in ipairs(infos) do objs[i], info_of[inf.table] = inf.table, inf end
    local ok, err = sorter.objects(objs, sort_by)
    if not ok then
      io.stderr:write("error: ", err, "\n")
      return 1
    end
    for i, t in ipairs(objs) do infos[i] = info_of[t] end
  end
  for _, inf in ipairs(infos) do
    local p = printer_for(inf.entry)
    local rows = inf.table.rows
    local ok, err, fatal = sorter.rows(type(rows) == "table" and rows or {}, sort_by)
    if fatal then
      -- kubectl exits here (a fatal log line); what was printed stays
      io.stdout:flush()
      io.stderr:write("error: ", err, "\n")
      return 1
    end
    -- kubectl drops a table it could not sort, silently (it prints nothing)
    if ok then p:add(inf.table) end
    emit(p:pending())
  end
end
if tbl then emit(tbl:render()) end
if not written and #errors == 0 and not o.ignore_not_found then no_resources() end
return finish()
