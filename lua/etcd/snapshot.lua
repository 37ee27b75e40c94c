-- etcd.snapshot: read an etcd snapshot file (`etcdctl snapshot save`) or a
-- member's member/snap/db with no etcd running, read-only (ksh.snapshot, a
-- bbolt reader in C: src/core/bbolt.c, src/core/etcdsnap.c).
--
--   local s, err = etcd.snapshot(path [, {rev = N, force = true}])
--     rev:   the revision to read at (default: the newest in the file);
--            below the last finished compaction: err.kind "compacted", above
--            the newest: "range" (etcd's own messages)
--     force: read a db file another process holds open for writing (a
--            running member: without it err.kind "busy")
--   s.revision          the newest revision in the file (a live Range's header.revision)
--   s.compact_revision  the last finished compaction (0: none)
--   s.read_revision     the revision s reads at
--   s.header            {cluster_id = "0", member_id = "0", revision, raft_term}:
--                       a file does not know which member wrote it
--   s:get(key, opts)    as the live client's c:get: opts prefix, from_key,
--                       range_end, keys_only, count_only, limit, revision (or
--                       rev), sort_order, sort_target, min/max_mod_revision,
--                       min/max_create_revision -> {kvs, more, count, header} | nil, err;
--                       each kv also has `revisions`: how many revisions of the key the
--                       file keeps up to the read revision (history since the last compaction)
--   s.info.revisions    every revision entry read (deleted keys' included), s.info.keys
--   s:scanner(prefix, opts) / s:scan(prefix, opts): as the live client's (raw
--                       records for ksh.etcdpb.kvs / lines, or KeyValues)
--   s:close()           unmaps the file (also on garbage collection)
-- err.kind: "notfound" (no such file), "io", "busy", "corrupt" (err.page: the
-- bbolt page at fault, or err.offset: the sha256 trailer), "compacted", "range".
local core = require "ksh.snapshot"
local pb = require "ksh.etcdpb"

local M = {}

local Snap = {}
Snap.__index = Snap
Snap.__name = "etcd.snapshot"

-- etcd's wording, so `kscript etcd --snapshot F get` fails as etcdctl does against the server
local GRPC = {
  compacted = "etcdserver: mvcc: required revision has been compacted",
  range = "etcdserver: mvcc: required revision is a future revision",
}

local function open_core(path, rev, force)
  local h, e = core.open(path, rev or 0, force)
  if not h and GRPC[e.kind] then
    e.grpc_status, e.grpc_message = 11, GRPC[e.kind]
  end
  return h, e
end

--- open(path [, {rev, force}]) -> snapshot | nil, err
function M.open(path, opts)
  assert(type(path) == "string", "etcd.snapshot: path must be a string")
  opts = opts or {}
  local rev = opts.rev or opts.revision or 0
  assert(math.type(rev) == "integer", "etcd.snapshot: rev must be an integer")
  local h, e = open_core(path, rev, opts.force)
  if not h then return nil, e end
  local info = h:info()
  return setmetatable({
    _h = h, path = path, force = opts.force, info = info,
    revision = info.revision, compact_revision = info.compact_revision, read_revision = info.read_revision,
    header = { cluster_id = "0", member_id = "0", revision = info.revision, raft_term = info.term },
  }, Snap)
end

function Snap:__tostring() return ("etcd.snapshot(%s @%d)"):format(self.path, self.read_revision) end

function Snap:close()
  if self._h then self._h:close() end
  for _, h in pairs(self._at or {}) do h:close() end
  self._at = nil
end
Snap.__close = Snap.close
Snap.__gc = Snap.close

-- the core handle reading at revision rev (0/nil: the one s was opened at)
function Snap:_at_rev(rev)
  if not self._h then error("attempt to use a closed etcd snapshot", 2) end
  if not rev or rev == 0 or rev == self.read_revision then return self._h end
  self._at = self._at or {}
  if self._at[rev] then return self._at[rev] end
  local h, e = open_core(self.path, rev, true) -- this process already holds the file
  if not h then return nil, e end
  self._at[rev] = h
  return h
end

local range_of = require("etcd.range").of

local function copy_header(h)
  return { cluster_id = h.cluster_id, member_id = h.member_id, revision = h.revision, raft_term = h.raft_term }
end

--- get(key [, opts]) -> {kvs, more, count, header} | nil, err
function Snap:get(key, opts)
  opts = opts or {}
  local k, e = range_of(key, opts)
  local h, herr = self:_at_rev(opts.revision or opts.rev)
  if not h then return nil, herr end
  local r = h:query(k, e, opts)
  r.header = copy_header(self.header)
  return r
end

local Scan = {}
Scan.__index = Scan
Scan.__name = "etcd.snapshot.scan"

--- scanner(prefix [, opts]) -> a scan like the live client's: sc:records()
-- (raw records for ksh.etcdpb.kvs / lines), sc:kvs(); sc.header, sc.revision
-- and sc.count are set at once.  opts: keys_only, revision, range_end, from_key.
function Snap:scanner(prefix, opts)
  opts = opts or {}
  local o = { range_end = opts.range_end, from_key = opts.from_key, prefix = opts.range_end == nil and not opts.from_key }
  local key, range_end = range_of(prefix or "", o)
  local sc = setmetatable({ snap = self, key = key, range_end = range_end, rev = opts.revision,
                            keys_only = opts.keys_only, header = copy_header(self.header),
                            revision = self.header.revision }, Scan)
  -- as the live scanner, a failure (a compacted revision) is raised by the first read
  local h = self:_at_rev(opts.revision)
  if h then sc:_open(h) end
  return sc
end

function Scan:_open(h)
  self.h = h
  self.i, self.hi = h:span(self.key, self.range_end)
  self.count = self.hi - self.i
end

--- next_record() -> the next record | nil at the end; raises
function Scan:next_record()
  if self.done then return nil end
  if not self.h then
    local h, e = self.snap:_at_rev(self.rev)
    if not h then self.done = true; error(e, 0) end
    self:_open(h)
  end
  local rec, nxt = self.h:record(self.i, self.hi, self.keys_only)
  if not rec then self.done = true; return nil end
  self.i = nxt
  return rec
end

function Scan:records()
  return function() return self:next_record() end, nil, nil, self
end

function Scan:kvs()
  local buf, i = {}, 1
  return function()
    while i > #buf do
      local rec = self:next_record()
      if not rec then return nil end
      buf = assert(pb.kvs(rec))
      i = 1
    end
    local kv = buf[i]
    i = i + 1
    return kv
  end, nil, nil, self
end

function Scan:close() self.done = true end
Scan.__close = Scan.close

--- scan(prefix [, opts]) -> iterator over every KeyValue under prefix
function Snap:scan(prefix, opts)
  return self:scanner(prefix, opts):kvs()
end

return M
