-- etcd.ctl_admin: etcdctl's (3.6) output formats for users, roles and
-- membership changes, added to the printers of etcd.ctl (require this
-- module once; it returns etcd.ctl):
--   user_add, user_get, user_list, user_delete, user_passwd, user_grant,
--   user_revoke, role_add, role_get, role_list, role_delete, role_grant,
--   role_revoke, member_add, member_remove, member_update, member_promote,
--   move_leader, downgrade_validate, downgrade_enable, downgrade_cancel, and
--   the -w table printers (ctl.table: members, health, status, hashkv)
-- each as printer.NAME(out, resp, extra) with extra = {name =, role =, key =,
-- range_end =, id =, leader =, target =, hex =}.  A writer etcdctl lacks for
-- a response is absent here too ("X not supported as output format").
local ctl = require "etcd.ctl"
local b64 = require "ksh.b64"
local etcd = require "etcd"

local simple, json, fields, protobuf = ctl.simple, ctl.json, ctl.fields, ctl.protobuf

local function pbl() return require "etcd.pbl" end

-- json: Go's encoding/json of the gogo struct (omitempty everywhere)
local function jobj(parts) return "{" .. table.concat(parts, ",") .. "}" end
local function jhdr(p, h) if h then p[#p + 1] = '"header":' .. json.header(h) end end
local function jstrs(p, name, list)
  if list and #list > 0 then
    local t = {}
    for i, s in ipairs(list) do t[i] = ctl.jstr(s) end
    p[#p + 1] = ('"%s":[%s]'):format(name, table.concat(t, ","))
  end
end
local function jheader_only(out, r)
  local p = {}
  jhdr(p, r.header)
  out(jobj(p) .. "\n")
end

local function jperm(pm)
  local p = {}
  if pm.permType ~= 0 then p[#p + 1] = ('"permType":%d'):format(pm.permType) end
  if pm.key ~= "" then p[#p + 1] = ('"key":"%s"'):format(b64.encode(pm.key)) end
  if pm.range_end ~= "" then p[#p + 1] = ('"range_end":"%s"'):format(b64.encode(pm.range_end)) end
  return jobj(p)
end

local function jmember(m)
  local p = {}
  if m.ID ~= "0" and m.ID ~= 0 then p[#p + 1] = '"ID":' .. tostring(m.ID) end
  if m.name ~= "" then p[#p + 1] = '"name":' .. ctl.jstr(m.name) end
  jstrs(p, "peerURLs", m.peerURLs)
  jstrs(p, "clientURLs", m.clientURLs)
  if m.isLearner then p[#p + 1] = '"isLearner":true' end
  return jobj(p)
end

local function jmembers(p, name, list)
  if list and #list > 0 then
    local t = {}
    for i, m in ipairs(list) do t[i] = jmember(m) end
    p[#p + 1] = ('"%s":[%s]'):format(name, table.concat(t, ","))
  end
end

-- protobuf: the response marshalled again (pbl encodes as gogo does: fields
-- in order, zero values left out)
local function pbout(ty) return function(out, r) out(pbl().encode(ty, r)) end end

local fhdr = function(out, r, o) fields.header(out, r.header, o) end

-- ----------------------------------------------------------------- users ---

function simple.user_add(out, _, o) out(("User %s created\n"):format(o.name)) end
json.user_add = jheader_only
fields.user_add = fhdr
protobuf.user_add = pbout("AuthUserAddResponse")

function simple.user_get(out, r, o)
  local t = { "User: ", o.name, "\nRoles:" }
  for _, role in ipairs(r.roles) do t[#t + 1] = " " .. role end
  out(table.concat(t) .. "\n")
end
function json.user_get(out, r)
  local p = {}
  jhdr(p, r.header); jstrs(p, "roles", r.roles)
  out(jobj(p) .. "\n")
end
protobuf.user_get = pbout("AuthUserGetResponse")

function simple.user_list(out, r) for _, u in ipairs(r.users) do out(u .. "\n") end end
function json.user_list(out, r)
  local p = {}
  jhdr(p, r.header); jstrs(p, "users", r.users)
  out(jobj(p) .. "\n")
end
protobuf.user_list = pbout("AuthUserListResponse")

function simple.user_delete(out, _, o) out(("User %s deleted\n"):format(o.name)) end
json.user_delete = jheader_only
fields.user_delete = fhdr
protobuf.user_delete = pbout("AuthUserDeleteResponse")

function simple.user_passwd(out) out("Password updated\n") end
json.user_passwd = jheader_only
fields.user_passwd = fhdr
protobuf.user_passwd = pbout("AuthUserChangePasswordResponse")

function simple.user_grant(out, _, o) out(("Role %s is granted to user %s\n"):format(o.role, o.name)) end
json.user_grant = jheader_only
fields.user_grant = fhdr
protobuf.user_grant = pbout("AuthUserGrantRoleResponse")

function simple.user_revoke(out, _, o) out(("Role %s is revoked from user %s\n"):format(o.role, o.name)) end
json.user_revoke = jheader_only
fields.user_revoke = fhdr
protobuf.user_revoke = pbout("AuthUserRevokeRoleResponse")

-- ----------------------------------------------------------------- roles ---

function simple.role_add(out, _, o) out(("Role %s created\n"):format(o.name)) end
json.role_add = jheader_only
fields.role_add = fhdr
protobuf.role_add = pbout("AuthRoleAddResponse")

function simple.role_get(out, r, o)
  local t = { "Role " .. o.name }
  if o.name == "root" and #r.perm == 0 then
    out("Role root\nKV Read:\n\t[, <open ended>\nKV Write:\n\t[, <open ended>\n")
    return
  end
  local function range(pm)
    local s
    if pm.range_end ~= "\0" then s = ("\t[%s, %s)"):format(pm.key, pm.range_end)
    else s = ("\t[%s, <open ended>"):format(pm.key) end
    if #pm.key > 0 and etcd.prefix_end(pm.key) == pm.range_end then s = s .. (" (prefix %s)"):format(pm.key) end
    return s
  end
  local function section(title, want)
    t[#t + 1] = title
    for _, pm in ipairs(r.perm) do
      if pm.permType == want or pm.permType == 2 then
        t[#t + 1] = pm.range_end == "" and "\t" .. pm.key or range(pm)
      end
    end
  end
  section("KV Read:", 0)
  section("KV Write:", 1)
  out(table.concat(t, "\n") .. "\n")
end
function json.role_get(out, r)
  local p = {}
  jhdr(p, r.header)
  if #r.perm > 0 then
    local t = {}
    for i, pm in ipairs(r.perm) do t[i] = jperm(pm) end
    p[#p + 1] = '"perm":[' .. table.concat(t, ",") .. "]"
  end
  out(jobj(p) .. "\n")
end
local PERM_NAME = { [0] = "READ", [1] = "WRITE", [2] = "READWRITE" }
function fields.role_get(out, r, o)
  fields.header(out, r.header, o)
  for _, pm in ipairs(r.perm) do
    out(('"PermType" :  %s\n"Key" : %s\n"RangeEnd" : %s\n'):format(PERM_NAME[pm.permType] or tostring(pm.permType),
      ctl.quote(pm.key), ctl.quote(pm.range_end)))
  end
end
protobuf.role_get = pbout("AuthRoleGetResponse")

function simple.role_list(out, r) for _, u in ipairs(r.roles) do out(u .. "\n") end end
function json.role_list(out, r)
  local p = {}
  jhdr(p, r.header); jstrs(p, "roles", r.roles)
  out(jobj(p) .. "\n")
end
function fields.role_list(out, r, o)
  fields.header(out, r.header, o)
  local t = { '"Roles" :' }
  for _, role in ipairs(r.roles) do t[#t + 1] = " " .. ctl.quote(role) end
  out(table.concat(t) .. "\n")
end
protobuf.role_list = pbout("AuthRoleListResponse")

function simple.role_delete(out, _, o) out(("Role %s deleted\n"):format(o.name)) end
json.role_delete = jheader_only
fields.role_delete = fhdr
protobuf.role_delete = pbout("AuthRoleDeleteResponse")

function simple.role_grant(out, _, o) out(("Role %s updated\n"):format(o.name)) end
json.role_grant = jheader_only
fields.role_grant = fhdr
protobuf.role_grant = pbout("AuthRoleGrantPermissionResponse")

function simple.role_revoke(out, _, o)
  if o.range_end == "" then
    out(("Permission of key %s is revoked from role %s\n"):format(o.key, o.name))
  elseif o.range_end ~= "\0" then
    out(("Permission of range [%s, %s) is revoked from role %s\n"):format(o.key, o.range_end, o.name))
  else
    out(("Permission of range [%s, <open ended> is revoked from role %s\n"):format(o.key, o.name))
  end
end
json.role_revoke = jheader_only
fields.role_revoke = fhdr
protobuf.role_revoke = pbout("AuthRoleRevokePermissionResponse")

-- ------------------------------------------------------------ membership ---

local hex_id = ctl.hex_id

-- Go's %16x: the hex of the uint64, padded with spaces to 16
local function x16(id) return ("%16s"):format(hex_id(id)) end

function simple.member_add(out, r)
  out(("Member %s added%sto cluster %s\n"):format(x16(r.member and r.member.ID or "0"),
    r.member and r.member.isLearner and " as learner " or " ", x16(r.header and r.header.cluster_id or "0")))
end
function json.member_add(out, r)
  local p = {}
  jhdr(p, r.header)
  if r.member then p[#p + 1] = '"member":' .. jmember(r.member) end
  jmembers(p, "members", r.members)
  out(jobj(p) .. "\n")
end
protobuf.member_add = pbout("MemberAddResponse")

local function jmembers_resp(out, r)
  local p = {}
  jhdr(p, r.header); jmembers(p, "members", r.members)
  out(jobj(p) .. "\n")
end

function simple.member_remove(out, r, o)
  out(("Member %s removed from cluster %s\n"):format(x16(o.id), x16(r.header and r.header.cluster_id or "0")))
end
json.member_remove = jmembers_resp
protobuf.member_remove = pbout("MemberRemoveResponse")

function simple.member_update(out, r, o)
  out(("Member %s updated in cluster %s\n"):format(x16(o.id), x16(r.header and r.header.cluster_id or "0")))
end
json.member_update = jmembers_resp
protobuf.member_update = pbout("MemberUpdateResponse")

function simple.member_promote(out, r, o)
  out(("Member %s promoted in cluster %s\n"):format(x16(o.id), x16(r.header and r.header.cluster_id or "0")))
end
json.member_promote = jmembers_resp
protobuf.member_promote = pbout("MemberPromoteResponse")

protobuf.members = pbout("MemberListResponse")

function simple.move_leader(out, _, o)
  out(("Leadership transferred from %s to %s\n"):format(hex_id(o.leader), hex_id(o.target)))
end
json.move_leader = jheader_only
protobuf.move_leader = pbout("MoveLeaderResponse")

-- ---------------------------------------------------------------- table ---
-- olekukonko/tablewriter v0.0.5 as etcdctl sets it up: headers upper-cased
-- (Title: "_" -> " ") and centred, cells right-aligned, +---+ borders; a
-- cell wider than 30 columns is wrapped at spaces (WrapString's minimum
-- raggedness), the column then at least 30 wide; the rows of a multi-line
-- cell's neighbours are padded.

local MAX_WIDTH = 30

local function width(s) return utf8.len(s) or #s end

-- tablewriter's WrapWords: split words into lines of at most lim columns
-- with the least sum of squared slack (a too-long line costs 1e5 more)
local function wrap_words(words, lim)
  local n = #words
  local len = {}
  for i = 1, n do
    len[i] = {}
    len[i][i] = width(words[i])
    for j = i + 1, n do len[i][j] = len[i][j - 1] + 1 + width(words[j]) end
  end
  local nbrk, cost = {}, {}
  for i = n, 1, -1 do
    cost[i] = math.maxinteger
    if len[i][n] <= lim then
      cost[i], nbrk[i] = 0, n + 1
    else
      for j = i + 1, n do
        local d = lim - len[i][j - 1]
        local c = d * d + (cost[j] or 0)
        if len[i][j - 1] > lim then c = c + 100000 end
        if c < cost[i] then cost[i], nbrk[i] = c, j end
      end
    end
  end
  local lines, i = {}, 1
  while i <= n do
    lines[#lines + 1] = table.concat(words, " ", i, nbrk[i] - 1)
    i = nbrk[i]
  end
  return lines
end

-- tablewriter's parseDimension: the lines of a cell and its width
local function dimension(s)
  local raw, w = {}, 0
  for line in (s .. "\n"):gmatch("([^\n]*)\n") do
    raw[#raw + 1] = line
    if width(line) > w then w = width(line) end
  end
  if w > MAX_WIDTH then w = MAX_WIDTH end
  local words = {}
  for word in (table.concat(raw, " ") .. " "):gmatch("([^ ]*) ") do words[#words + 1] = word end
  local lim = w
  for _, word in ipairs(words) do if width(word) > lim then lim = width(word) end end
  local lines = wrap_words(words, lim)
  for _, line in ipairs(lines) do if width(line) > w then w = width(line) end end
  return lines, w
end

-- tablewriter's Title
local function title(h)
  h = h:gsub("_", " "):match("^%s*(.-)%s*$")
  return h:upper()
end

--- table_render(out, headers, rows): a table as etcdctl's tablewriter draws it
function ctl.table_render(out, hdr, rows)
  local w, heads, cells, height = {}, {}, {}, {}
  local hh = 1
  for i, h in ipairs(hdr) do
    local lines, cw = dimension(h)
    heads[i], w[i] = lines, cw
    if #lines > hh then hh = #lines end
  end
  for r, row in ipairs(rows) do
    cells[r], height[r] = {}, 1
    for i, c in ipairs(row) do
      local lines, cw = dimension(c)
      cells[r][i] = lines
      if cw > w[i] then w[i] = cw end
      if #lines > height[r] then height[r] = #lines end
    end
  end
  local sep = {}
  for i = 1, #hdr do sep[i] = ("-"):rep(w[i] + 2) end
  local line = "+" .. table.concat(sep, "+") .. "+\n"
  local t = { line }
  for x = 1, hh do
    local parts = {}
    for i = 1, #hdr do
      local h = title(heads[i][x] or "")
      local gap = w[i] - width(h)
      local left = gap > 0 and gap // 2 or 0
      parts[i] = " " .. (" "):rep(left) .. h .. (" "):rep(gap > 0 and gap - left or 0) .. " "
    end
    t[#t + 1] = "|" .. table.concat(parts, "|") .. "|\n"
  end
  t[#t + 1] = line
  for r = 1, #rows do
    for x = 1, height[r] do
      local parts = {}
      for i = 1, #hdr do
        local c = cells[r][i][x] or "  "
        local gap = w[i] - width(c)
        parts[i] = " " .. (" "):rep(gap > 0 and gap or 0) .. c .. " "
      end
      t[#t + 1] = "|" .. table.concat(parts, "|") .. "|\n"
    end
  end
  t[#t + 1] = line
  out(table.concat(t))
end

ctl.table = ctl.table or {}
function ctl.table.members(out, r)
  local rows = {}
  for i, m in ipairs(r.members) do
    rows[i] = { hex_id(m.ID), m.name == "" and "unstarted" or "started", m.name, table.concat(m.peerURLs, ","),
                table.concat(m.clientURLs, ","), tostring(m.isLearner) }
  end
  ctl.table_render(out, { "ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner" }, rows)
end

-- endpoint health|status|hashkv (the lists of etcd.ctl's simple printers)
function ctl.table.health(out, list)
  local rows = {}
  for i, h in ipairs(list) do rows[i] = { h.ep, tostring(h.health), h.took, h.error } end
  ctl.table_render(out, { "endpoint", "health", "took", "error" }, rows)
end

function ctl.table.status(out, list)
  local rows = {}
  for i, st in ipairs(list) do rows[i] = ctl.status_row(st) end
  ctl.table_render(out, { "endpoint", "ID", "version", "storage version", "db size", "in use", "percentage not in use",
    "quota", "is leader", "is learner", "raft term", "raft index", "raft applied index", "errors",
    "downgrade target version", "downgrade enabled" }, rows)
end

function ctl.table.hashkv(out, list)
  local rows = {}
  for i, h in ipairs(list) do rows[i] = { h.ep, tostring(h.resp.hash), tostring(h.resp.hash_revision) } end
  ctl.table_render(out, { "endpoint", "hash", "hash_revision" }, rows)
end

-- ------------------------------------------------------------- downgrade ---
-- etcdctl 3.6: simple, json and protobuf (fields and table: "not supported")

for _, a in ipairs { "validate", "enable", "cancel" } do
  simple["downgrade_" .. a] = function(out, r)
    out(("Downgrade %s success, cluster version %s\n"):format(a, r.version))
  end
  json["downgrade_" .. a] = function(out, r)
    local p = {}
    jhdr(p, r.header)
    if r.version ~= "" then p[#p + 1] = '"version":' .. ctl.jstr(r.version) end
    out(jobj(p) .. "\n")
  end
  protobuf["downgrade_" .. a] = pbout("DowngradeResponse")
end

return ctl
