-- etcd.range: the key range of a request, shared by the live client
-- (lua/etcd.lua) and snapshot files (lua/etcd/snapshot.lua).
--   range.of(key, {prefix =, from_key =, range_end =}) -> key, range_end | key, nil
-- prefix: [key, the key after every key starting with key), "" meaning the
-- whole keyspace; from_key: [key, end of the keyspace); range_end as given.
local pb = require "ksh.etcdpb"

local M = {}

function M.of(key, o)
  assert(type(key) == "string", "etcd: key must be a string")
  if o.range_end then return key, o.range_end end
  if o.prefix then
    if key == "" then return "\0", "\0" end
    return key, pb.prefix_end(key)
  end
  if o.from_key then
    if key == "" then key = "\0" end
    return key, "\0"
  end
  return key, nil
end

return M
