-- etcd.flags: the etcd connection flags that commands reading etcd share
-- (stored, etcd-usage), with dump-keys' meanings:
--   --endpoints URLS, --cacert FILE, --cert FILE, --key FILE   (default
--     ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY)
--   --command-timeout DUR   fail when the server sends nothing for DUR
--   --snapshot FILE [--force]   read an `etcdctl snapshot save` file (or a
--     stopped member's db; --force: a running member's) instead
--
--   local flags = require "etcd.flags"
--   local o, rest = args.parse(arg, flags.add({ ...the command's own specs... }))
--   local db = flags.open(o, "stored")   -- a live client or a snapshot; raises on failure
local M = {}

M.SPECS = {
  { nil, "endpoints", value = true },
  { nil, "cacert", value = true },
  { nil, "cert", value = true },
  { nil, "key", value = true },
  { nil, "command-timeout", value = true },
  { nil, "snapshot", value = true },
  { nil, "force" },
}

--- add(specs) -> specs with the connection flags appended (ksh.args specs)
function M.add(specs)
  for _, s in ipairs(M.SPECS) do specs[#specs + 1] = s end
  return specs
end

--- open(o, cmd [, {rev =}]) -> db, live: a snapshot file (o.snapshot) or a
-- live client; live is the client (nil for a snapshot).  Misuse is
-- ksh.usage, a failure raises the error table.
function M.open(o, cmd, opts)
  local ksh = require "ksh"
  local etcd = require "etcd"
  if o.snapshot then
    if o.endpoints then ksh.usage("%s: --snapshot reads a file: no --endpoints", cmd) end
    if type(etcd.snapshot) ~= "function" then
      error(ksh.error("notfound", cmd .. ": --snapshot needs etcd.snapshot, which this build lacks"), 0)
    end
    local s, err = etcd.snapshot(o.snapshot, { rev = opts and opts.rev, force = o.force })
    if not s then error(err, 0) end
    return s, nil
  end
  if o.force then ksh.usage("%s: --force goes with --snapshot", cmd) end
  if o.endpoints then
    local ok, why = etcd.split_endpoints(o.endpoints)
    if not ok then ksh.usage("%s: --endpoints: %s", cmd, why) end
  end
  local timeout
  if o.command_timeout then
    timeout = require("ksh.sys").parse_duration(o.command_timeout)
    if not timeout or timeout <= 0 then
      ksh.usage("%s: --command-timeout needs a duration (10s, 2m), got %q", cmd, o.command_timeout)
    end
  end
  local c, err = etcd.connect { endpoints = o.endpoints, cacert = o.cacert, cert = o.cert, key = o.key, timeout = timeout }
  if not c then error(err, 0) end
  return c, c
end

return M
