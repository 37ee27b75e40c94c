-- logs: print a container's log (kubectl logs)
-- usage: logs POD [CONTAINER] | TYPE/NAME | -l SELECTOR [flags]
--   -c, --container NAME     the container (default: the pod's default or only one)
--   --all-containers         every container of the pod(s)
--   -f, --follow             stream new lines as they are written
--   --tail N                 the last N lines (default: all; 10 with -l)
--   --since DUR              newer than DUR (5s, 2m, 3h);  --since-time RFC3339
--   --timestamps             prefix each line with its time
--   --prefix                 prefix each line with [pod/NAME/CONTAINER]
--   -p, --previous           the previous instance of the container
--   --limit-bytes N;  -l, --selector SEL;  --max-log-requests N (default 5, with -l -f)
--   -n NS;  --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
-- With several pods or containers and -f, their logs are streamed at the
-- same time on the loop, each line whole.
local args = require "ksh.args"
local cli = require "k8s.cli"
local ksh = require "ksh"

local o, rest = args.parse(arg, cli.flags {
  { "c", "container", value = true },
  { nil, "all-containers" },
  { "f", "follow" },
  { nil, "tail", value = true, number = true, default = -1 },
  { nil, "since", value = true },
  { nil, "since-time", value = true },
  { nil, "timestamps" },
  { nil, "prefix" },
  { "p", "previous" },
  { nil, "limit-bytes", value = true, number = true },
  { "l", "selector", value = true },
  { nil, "max-log-requests", value = true, number = true, default = 5 },
  { nil, "pod-running-timeout", value = true },
  { nil, "ignore-errors" },
})
if #rest == 0 and not o.selector then
  ksh.usage("expected POD, TYPE/NAME, or -l SELECTOR")
end
if o.selector and #rest > 0 then
  ksh.usage("only a selector (-l) or a POD name is allowed")
end
if o.since and o.since_time then ksh.usage("at most one of `sinceTime` or `sinceSeconds` may be specified") end
local since = o.since and math.ceil(cli.duration(o.since, "--since")) or nil
local tail = o.tail
if o.selector and tail == -1 then tail = 10 end

local k = cli.connect(o)
local ns = o.namespace or k.namespace or "default"

local function fail(msg) io.stdout:flush(); io.stderr:write("error: ", msg, "\n"); return 1 end

-- the pods
local pods = {}
if o.selector then
  local list, err = k:list("pods", { namespace = ns, labelSelector = o.selector })
  if not list then return cli.fail(err) end
  pods = list.items or {}
  if #pods == 0 then io.stderr:write("No resources found in ", ns, " namespace.\n"); return 0 end
  if o.follow and #pods > o.max_log_requests then
    return fail(("you are attempting to follow %d log streams, but maximum allowed concurrency is %d, use --max-log-requests to increase the limit"):format(#pods, o.max_log_requests))
  end
else
  local typ, name = rest[1]:match("^([^/]+)/(.+)$")
  if not typ then typ, name = "pods", rest[1] end
  if rest[2] then
    if o.container then ksh.usage("only one of -c or an inline [CONTAINER] arg is allowed") end
    o.container = rest[2]
  end
  local e, rerr = k:resource(typ)
  if not e then return fail(tostring(rerr.message)) end
  if e.name == "pods" then
    local pod, err = k:get("pods", name, { namespace = ns })
    if not pod then
      if err.kind == "notfound" then
        return fail(('error from server (NotFound): pods "%s" not found in namespace "%s"'):format(name, ns))
      end
      return cli.fail(err)
    end
    pods = { pod }
  else
    -- a workload: its selector's first pod
    local obj, err = k:get(e, name, { namespace = ns })
    if not obj then return cli.fail(err) end
    local sel = obj.spec and obj.spec.selector
    sel = type(sel) == "table" and (sel.matchLabels or sel) or {}
    local parts = {}
    for key, v in pairs(sel) do if type(v) == "string" then parts[#parts + 1] = key .. "=" .. v end end
    table.sort(parts)
    local list, lerr = k:list("pods", { namespace = ns, labelSelector = table.concat(parts, ",") })
    if not list then return cli.fail(lerr) end
    if #(list.items or {}) == 0 then return fail("timed out waiting for the condition") end
    pods = { list.items[1] }
  end
end

-- the (pod, container) pairs
local streams = {}
for _, pod in ipairs(pods) do
  local names = {}
  for _, c in ipairs(pod.spec and pod.spec.containers or {}) do names[#names + 1] = c.name end
  local pname = pod.metadata.name
  if o.all_containers then
    local all = {}
    for _, c in ipairs(pod.spec.initContainers or {}) do all[#all + 1] = c.name end
    for _, n in ipairs(names) do all[#all + 1] = n end
    for _, c in ipairs(pod.spec.ephemeralContainers or {}) do all[#all + 1] = c.name end
    for _, n in ipairs(all) do streams[#streams + 1] = { pod = pod, container = n } end
  elseif o.container then
    local ok = false
    local every = {}
    for _, c in ipairs(pod.spec.initContainers or {}) do every[#every + 1] = c.name end
    for _, n in ipairs(names) do every[#every + 1] = n end
    for _, c in ipairs(pod.spec.ephemeralContainers or {}) do every[#every + 1] = c.name end
    for _, n in ipairs(every) do if n == o.container then ok = true end end
    if not ok then
      return fail(("container %s is not valid for pod %s out of: %s"):format(o.container, pname, table.concat(every, ", ")))
    end
    streams[#streams + 1] = { pod = pod, container = o.container }
  else
    local ann = pod.metadata.annotations or {}
    local def = ann["kubectl.kubernetes.io/default-container"]
    if not def then
      def = names[1]
      if #names > 1 then
        io.stderr:write(('Defaulted container "%s" out of: %s\n'):format(def, table.concat(names, ", ")))
      end
    end
    streams[#streams + 1] = { pod = pod, container = def }
  end
end

local function lopts(s)
  return { namespace = s.pod.metadata.namespace or ns, container = s.container, follow = o.follow,
    tail_lines = tail >= 0 and tail or nil, since_seconds = since, since_time = o.since_time,
    timestamps = o.timestamps, previous = o.previous, limit_bytes = o.limit_bytes }
end

local prefix_of = function(s) return ("[pod/%s/%s] "):format(s.pod.metadata.name, s.container) end

local function copy(s)
  local lo = lopts(s)
  if o.prefix then
    lo.framing = "lines"
    local st, err = k:log_stream(s.pod, lo)
    if not st then return nil, err end
    local p = prefix_of(s)
    for line in st:records() do
      io.stdout:write(p, line, "\n")
      if o.follow then io.stdout:flush() end
    end
    st:close()
    return true
  end
  local st, err = k:log_stream(s.pod, lo)
  if not st then return nil, err end
  for chunk in st:records() do
    io.stdout:write(chunk)
    if o.follow then io.stdout:flush() end
  end
  st:close()
  return true
end

local errors = {}
if o.follow and #streams > 1 then
  for _, r in ipairs(k:each(streams, copy)) do
    if not r[1] then errors[#errors + 1] = { r[2] } end
  end
else
  for _, s in ipairs(streams) do
    local ok, err = copy(s)
    if not ok then
      if o.ignore_errors then
        io.stderr:write(cli.message(err), "\n")
      else
        return cli.fail(err)
      end
    end
  end
end
return cli.report(errors)
