-- etcd.pbl: a small protobuf codec in Lua for etcd's less travelled
-- messages (leases, maintenance, cluster, auth), whose speed does not
-- matter; KV and Watch keep the C codec of ksh.etcdpb.
--
--   pbl.encode(type, table [, grpc]) -> bytes    (grpc: with the 5-byte prefix)
--   pbl.decode(type, bytes) -> table | nil, err
--   pbl.u64(n) -> the unsigned decimal text of a 64-bit integer
-- Field types: int (int64, uint32 and enums: a Lua integer), u64 (uint64:
-- an integer; decoded IDs above 2^63 wrap negative, so IDs decode as "id"),
-- id (uint64 decoded as unsigned decimal text, encoded from text or integer),
-- bool, bytes (strings), msg (sub = message name); rep = repeated.
local M = {}

local S = {}
M.schemas = S

local function F(num, name, ty, sub, rep) return { num = num, name = name, ty = ty, sub = sub, rep = rep } end

S.ResponseHeader = { F(1, "cluster_id", "id"), F(2, "member_id", "id"), F(3, "revision", "int"), F(4, "raft_term", "int") }
S.LeaseGrantRequest = { F(1, "TTL", "int"), F(2, "ID", "int") }
S.LeaseGrantResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "ID", "int"), F(3, "TTL", "int"),
                         F(4, "error", "bytes") }
S.LeaseRevokeRequest = { F(1, "ID", "int") }
S.LeaseRevokeResponse = { F(1, "header", "msg", "ResponseHeader") }
S.LeaseKeepAliveRequest = { F(1, "ID", "int") }
S.LeaseKeepAliveResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "ID", "int"), F(3, "TTL", "int") }
S.LeaseTimeToLiveRequest = { F(1, "ID", "int"), F(2, "keys", "bool") }
S.LeaseTimeToLiveResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "ID", "int"), F(3, "TTL", "int"),
                              F(4, "grantedTTL", "int"), F(5, "keys", "bytes", nil, true) }
S.LeaseLeasesRequest = {}
S.LeaseStatus = { F(1, "ID", "int") }
S.LeaseLeasesResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "leases", "msg", "LeaseStatus", true) }
S.StatusRequest = {}
S.DowngradeInfo = { F(1, "enabled", "bool"), F(2, "targetVersion", "bytes") }
S.StatusResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "version", "bytes"), F(3, "dbSize", "int"),
                     F(4, "leader", "id"), F(5, "raftIndex", "int"), F(6, "raftTerm", "int"),
                     F(7, "raftAppliedIndex", "int"), F(8, "errors", "bytes", nil, true), F(9, "dbSizeInUse", "int"),
                     F(10, "isLearner", "bool"), F(11, "storageVersion", "bytes"), F(12, "dbSizeQuota", "int"),
                     F(13, "downgradeInfo", "msg", "DowngradeInfo") }
S.HashKVRequest = { F(1, "revision", "int") }
S.HashKVResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "hash", "int"), F(3, "compact_revision", "int"),
                     F(4, "hash_revision", "int") }
S.DowngradeRequest = { F(1, "action", "int"), F(2, "version", "bytes") }
S.DowngradeResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "version", "bytes") }
S.DefragmentRequest = {}
S.DefragmentResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AlarmRequest = { F(1, "action", "int"), F(2, "memberID", "id"), F(3, "alarm", "int") }
S.AlarmMember = { F(1, "memberID", "id"), F(2, "alarm", "int") }
S.AlarmResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "alarms", "msg", "AlarmMember", true) }
S.MemberListRequest = { F(1, "linearizable", "bool") }
S.Member = { F(1, "ID", "id"), F(2, "name", "bytes"), F(3, "peerURLs", "bytes", nil, true),
             F(4, "clientURLs", "bytes", nil, true), F(5, "isLearner", "bool") }
S.MemberListResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "members", "msg", "Member", true) }
S.SnapshotRequest = {}
S.SnapshotResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "remaining_bytes", "int"), F(3, "blob", "bytes"),
                       F(4, "version", "bytes") }
S.AuthenticateRequest = { F(1, "name", "bytes"), F(2, "password", "bytes") }
S.AuthenticateResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "token", "bytes") }
S.AuthEnableRequest = {}
S.AuthEnableResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AuthDisableRequest = {}
S.AuthDisableResponse = { F(1, "header", "msg", "ResponseHeader") }
S.UserAddOptions = { F(1, "no_password", "bool") }
S.AuthUserAddRequest = { F(1, "name", "bytes"), F(2, "password", "bytes"), F(3, "options", "msg", "UserAddOptions"),
                         F(4, "hashedPassword", "bytes") }
S.AuthUserAddResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AuthUserListRequest = {}
S.AuthUserListResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "users", "bytes", nil, true) }
S.AuthRoleAddRequest = { F(1, "name", "bytes") }
S.AuthRoleAddResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AuthRoleListRequest = {}
S.AuthRoleListResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "roles", "bytes", nil, true) }
S.AuthUserGrantRoleRequest = { F(1, "user", "bytes"), F(2, "role", "bytes") }
S.AuthUserGrantRoleResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AuthUserGetRequest = { F(1, "name", "bytes") }
S.AuthUserGetResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "roles", "bytes", nil, true) }
S.AuthUserDeleteRequest = { F(1, "name", "bytes") }
S.AuthUserDeleteResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AuthUserChangePasswordRequest = { F(1, "name", "bytes"), F(2, "password", "bytes"), F(3, "hashedPassword", "bytes") }
S.AuthUserChangePasswordResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AuthUserRevokeRoleRequest = { F(1, "name", "bytes"), F(2, "role", "bytes") }
S.AuthUserRevokeRoleResponse = { F(1, "header", "msg", "ResponseHeader") }
-- permType: READ 0, WRITE 1, READWRITE 2
S.Permission = { F(1, "permType", "int"), F(2, "key", "bytes"), F(3, "range_end", "bytes") }
S.AuthRoleGetRequest = { F(1, "role", "bytes") }
S.AuthRoleGetResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "perm", "msg", "Permission", true) }
S.AuthRoleDeleteRequest = { F(1, "role", "bytes") }
S.AuthRoleDeleteResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AuthRoleGrantPermissionRequest = { F(1, "name", "bytes"), F(2, "perm", "msg", "Permission") }
S.AuthRoleGrantPermissionResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AuthRoleRevokePermissionRequest = { F(1, "role", "bytes"), F(2, "key", "bytes"), F(3, "range_end", "bytes") }
S.AuthRoleRevokePermissionResponse = { F(1, "header", "msg", "ResponseHeader") }
S.MemberAddRequest = { F(1, "peerURLs", "bytes", nil, true), F(2, "isLearner", "bool") }
S.MemberAddResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "member", "msg", "Member"),
                        F(3, "members", "msg", "Member", true) }
S.MemberRemoveRequest = { F(1, "ID", "id") }
S.MemberRemoveResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "members", "msg", "Member", true) }
S.MemberUpdateRequest = { F(1, "ID", "id"), F(2, "peerURLs", "bytes", nil, true) }
S.MemberUpdateResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "members", "msg", "Member", true) }
S.MemberPromoteRequest = { F(1, "ID", "id") }
S.MemberPromoteResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "members", "msg", "Member", true) }
S.MoveLeaderRequest = { F(1, "targetID", "id") }
S.MoveLeaderResponse = { F(1, "header", "msg", "ResponseHeader") }
S.AuthStatusRequest = {}
S.AuthStatusResponse = { F(1, "header", "msg", "ResponseHeader"), F(2, "enabled", "bool"), F(3, "authRevision", "int") }

--- u64(n) -> unsigned decimal text of the 64-bit integer n
function M.u64(n)
  if n >= 0 then return tostring(n) end
  local q = (n >> 1) // 5
  return tostring(q) .. tostring(n - q * 10)
end

local function parse_u64(s)
  if type(s) == "number" then return math.tointeger(s) end
  if type(s) ~= "string" or not s:match("^%d+$") or #s > 20 then return nil end
  local n = 0
  for d in s:gmatch("%d") do n = n * 10 + tonumber(d) end
  return n
end

local function varint(n)
  local out = {}
  repeat
    local b = n & 0x7f
    n = n >> 7
    if n ~= 0 then b = b | 0x80 end
    out[#out + 1] = string.char(b)
  until n == 0
  return table.concat(out)
end

local encode_msg

local function encode_field(f, v, out)
  local ty = f.ty
  if ty == "msg" then
    local body = encode_msg(f.sub, v)
    out[#out + 1] = varint(f.num << 3 | 2) .. varint(#body) .. body
  elseif ty == "bytes" then
    if type(v) ~= "string" then error(("etcd.pbl: %s: string expected"):format(f.name), 0) end
    if v ~= "" or f.rep then out[#out + 1] = varint(f.num << 3 | 2) .. varint(#v) .. v end
  elseif ty == "bool" then
    if v then out[#out + 1] = varint(f.num << 3) .. "\1" end
  else
    local n = ty == "id" and parse_u64(v) or math.tointeger(v)
    if not n then error(("etcd.pbl: %s: integer expected"):format(f.name), 0) end
    if n ~= 0 then out[#out + 1] = varint(f.num << 3) .. varint(n) end
  end
end

function encode_msg(name, t)
  local schema = S[name] or error("etcd.pbl: unknown message " .. tostring(name), 0)
  local out = {}
  for _, f in ipairs(schema) do
    local v = t[f.name]
    if v ~= nil then
      if f.rep then
        for _, x in ipairs(v) do encode_field(f, x, out) end
      else
        encode_field(f, v, out)
      end
    end
  end
  return table.concat(out)
end

--- encode(type, table [, grpc]) -> bytes
function M.encode(name, t, grpc)
  local body = encode_msg(name, t or {})
  if grpc then return string.pack(">BI4", 0, #body) .. body end
  return body
end

local function get_varint(s, i)
  local n, shift = 0, 0
  while true do
    local b = s:byte(i)
    if not b then return nil end
    i = i + 1
    n = n | ((b & 0x7f) << shift)
    if b < 0x80 then return n, i end
    shift = shift + 7
    if shift > 63 then return nil end
  end
end

local decode_msg

-- defaults of a decoded message: zero values, empty lists, absent messages nil
local function defaults(schema)
  local t = {}
  for _, f in ipairs(schema) do
    if f.rep then t[f.name] = {}
    elseif f.ty == "bytes" then t[f.name] = ""
    elseif f.ty == "bool" then t[f.name] = false
    elseif f.ty == "id" then t[f.name] = "0"
    elseif f.ty ~= "msg" then t[f.name] = 0 end
  end
  return t
end

function decode_msg(name, s, depth)
  local schema = S[name]
  if depth > 16 then return nil, "nested too deep" end
  local bynum = {}
  for _, f in ipairs(schema) do bynum[f.num] = f end
  local t = defaults(schema)
  local i, n = 1, #s
  while i <= n do
    local key
    key, i = get_varint(s, i)
    if not key then return nil, name .. ": bad field key" end
    local num, wt = key >> 3, key & 7
    local f = bynum[num]
    local v
    if wt == 0 then
      v, i = get_varint(s, i)
      if not v then return nil, name .. ": bad varint" end
      if f then
        if f.ty == "bool" then v = v ~= 0 elseif f.ty == "id" then v = M.u64(v) end
      end
    elseif wt == 2 then
      local len
      len, i = get_varint(s, i)
      if not len or len < 0 or i + len - 1 > n then return nil, name .. ": bad length" end
      v = s:sub(i, i + len - 1)
      i = i + len
      if f and f.ty == "msg" then
        local err
        v, err = decode_msg(f.sub, v, depth + 1)
        if not v then return nil, err end
      end
    elseif wt == 1 then
      if i + 7 > n then return nil, name .. ": bad fixed64" end
      v = string.unpack("<i8", s, i); i = i + 8
    elseif wt == 5 then
      if i + 3 > n then return nil, name .. ": bad fixed32" end
      v = string.unpack("<I4", s, i); i = i + 4
    else
      return nil, name .. ": bad wire type " .. wt
    end
    if f then
      if f.rep then
        local l = t[f.name]
        l[#l + 1] = v
      else
        t[f.name] = v
      end
    end
  end
  return t
end

--- decode(type, bytes) -> table | nil, err
function M.decode(name, s)
  if not S[name] then error("etcd.pbl: unknown message " .. tostring(name), 2) end
  return decode_msg(name, s, 0)
end

return M
