-- k8s.sorter: kubectl get --sort-by (k8s.io/kubectl/pkg/cmd/get/sorter.go),
-- ported so the order is kubectl's byte for byte, ties and all.
--
--   local sorter = require "k8s.sorter"
--   sorter.objects(objs, field) -> true | nil, err, fatal  -- SortObjects: objs sorted in place
--   sorter.rows(rows, field)    -> true | nil, err, fatal  -- TableSorter: the rows of a server
--                                                          -- Table, by their row.object
--   (fatal: an unsortable value, where kubectl exits; else kubectl's error)
--   sorter.go_sort(n, less, swap)                    -- Go's sort.Sort (pdqsort)
--   sorter.quantity(s) -> number | nil               -- resource.ParseQuantity's value
--
-- kubectl's rules, kept: the field is a relaxed JSONPath (name.x, .name.x,
-- {.name.x}) whose first result is compared; an object without it sorts
-- before the others (kubectl's Less says "less" for it, whatever the other
-- is: with Go's unstable sort the order of such objects is Go's, so the sort
-- itself is Go's pdqsort, comparison for comparison); numbers compare as
-- numbers when both are integers or both are not; strings that both parse
-- as resource quantities (1Gi, 500m, 10) compare by quantity, else byte by
-- byte (timestamps are RFC 3339 strings: byte order is time order); null
-- sorts first; booleans, maps, lists and mixed types are "unsortable"
-- (kubectl stops with a fatal log line; here the error, status 1). The field
-- must exist in at least one object: "couldn't find any field with path".
local jsonpath = require "k8s.jsonpath"
local json = require "json"

local M = {}

local null = json.null

-- ---------------------------------------------------------------- Go's sort.Sort

--- go_sort(n, less, swap): sort.Sort over indices 0..n-1 (pdqsort, Go 1.19+)
function M.go_sort(n, less, swap)
  if n <= 1 then return end

  local function insertion_sort(a, b)
    for i = a + 1, b - 1 do
      local j = i
      while j > a and less(j, j - 1) do
        swap(j, j - 1)
        j = j - 1
      end
    end
  end

  local function sift_down(lo, hi, first)
    local root = lo
    while true do
      local child = 2 * root + 1
      if child >= hi then return end
      if child + 1 < hi and less(first + child, first + child + 1) then child = child + 1 end
      if not less(first + root, first + child) then return end
      swap(first + root, first + child)
      root = child
    end
  end

  local function heap_sort(a, b)
    local first, lo, hi = a, 0, b - a
    for i = (hi - 1) // 2, 0, -1 do sift_down(i, hi, first) end
    for i = hi - 1, 0, -1 do
      swap(first, first + i)
      sift_down(lo, i, first)
    end
  end

  local function bits_len(x)
    local l = 0
    while x > 0 do l, x = l + 1, x >> 1 end
    return l
  end

  local function break_patterns(a, b)
    local length = b - a
    if length >= 8 then
      local r = length -- xorshift seeded with the length (uint64)
      local modulus = 1 << bits_len(length)
      for idx = a + (length // 4) * 2 - 1, a + (length // 4) * 2 + 1 do
        r = r ~ (r << 13)
        r = r ~ (r >> 7) -- Lua's >> is logical, as on a uint64
        r = r ~ (r << 17)
        local other = r & (modulus - 1)
        if other >= length then other = other - length end
        swap(idx, a + other)
      end
    end
  end

  local function order2(a, b, s)
    if less(b, a) then s[1] = s[1] + 1; return b, a end
    return a, b
  end
  local function median(a, b, c, s)
    a, b = order2(a, b, s)
    b, c = order2(b, c, s)
    a, b = order2(a, b, s) -- luacheck: ignore (a is Go's too)
    return b
  end

  local INCREASING, DECREASING, UNKNOWN = 1, 2, 0
  local function choose_pivot(a, b)
    local l = b - a
    local s = { 0 }
    local i, j, k = a + l // 4 * 1, a + l // 4 * 2, a + l // 4 * 3
    if l >= 8 then
      if l >= 50 then
        i = median(i - 1, i, i + 1, s)
        j = median(j - 1, j, j + 1, s)
        k = median(k - 1, k, k + 1, s)
      end
      j = median(i, j, k, s)
    end
    if s[1] == 0 then return j, INCREASING end
    if s[1] == 12 then return j, DECREASING end
    return j, UNKNOWN
  end

  local function reverse_range(a, b)
    local i, j = a, b - 1
    while i < j do
      swap(i, j)
      i, j = i + 1, j - 1
    end
  end

  local function partial_insertion_sort(a, b)
    local i = a + 1
    for _ = 1, 5 do
      while i < b and not less(i, i - 1) do i = i + 1 end
      if i == b then return true end
      if b - a < 50 then return false end
      swap(i, i - 1)
      if i - a >= 2 then
        for j = i - 1, 1, -1 do
          if not less(j, j - 1) then break end
          swap(j, j - 1)
        end
      end
      if b - i >= 2 then
        for j = i + 1, b - 1 do
          if not less(j, j - 1) then break end
          swap(j, j - 1)
        end
      end
    end
    return false
  end

  local function partition_equal(a, b, pivot)
    swap(a, pivot)
    local i, j = a + 1, b - 1
    while true do
      while i <= j and not less(a, i) do i = i + 1 end
      while i <= j and less(a, j) do j = j - 1 end
      if i > j then break end
      swap(i, j)
      i, j = i + 1, j - 1
    end
    return i
  end

  local function partition(a, b, pivot)
    swap(a, pivot)
    local i, j = a + 1, b - 1
    while i <= j and less(i, a) do i = i + 1 end
    while i <= j and not less(j, a) do j = j - 1 end
    if i > j then
      swap(j, a)
      return j, true
    end
    swap(i, j)
    i, j = i + 1, j - 1
    while true do
      while i <= j and less(i, a) do i = i + 1 end
      while i <= j and not less(j, a) do j = j - 1 end
      if i > j then break end
      swap(i, j)
      i, j = i + 1, j - 1
    end
    swap(j, a)
    return j, false
  end

  local function pdqsort(a, b, limit)
    local was_balanced, was_partitioned = true, true
    while true do
      local length = b - a
      if length <= 12 then
        insertion_sort(a, b)
        return
      end
      if limit == 0 then
        heap_sort(a, b)
        return
      end
      if not was_balanced then
        break_patterns(a, b)
        limit = limit - 1
      end
      local pivot, hint = choose_pivot(a, b)
      if hint == DECREASING then
        reverse_range(a, b)
        pivot = (b - 1) - (pivot - a)
        hint = INCREASING
      end
      if was_balanced and was_partitioned and hint == INCREASING then
        if partial_insertion_sort(a, b) then return end
      end
      local skip = false
      if a > 0 and not less(a - 1, pivot) then
        a = partition_equal(a, b, pivot)
        skip = true
      end
      if not skip then
        local mid, already = partition(a, b, pivot)
        was_partitioned = already
        local left, right = mid - a, b - mid
        local threshold = length // 8
        if left < right then
          was_balanced = left >= threshold
          pdqsort(a, mid, limit)
          a = mid + 1
        else
          was_balanced = right >= threshold
          pdqsort(mid + 1, b, limit)
          b = mid
        end
      end
    end
  end

  pdqsort(0, n, bits_len(n))
end

-- ---------------------------------------------------------------- quantities

local DEC = { [""] = 0, n = -9, u = -6, m = -3, k = 3, M = 6, G = 9, T = 12, P = 15, E = 18 }
local BIN = { Ki = 10, Mi = 20, Gi = 30, Ti = 40, Pi = 50, Ei = 60 }

--- quantity(s) -> its value (a float) | nil when resource.ParseQuantity refuses s
function M.quantity(s)
  if s == "" then return nil end
  if s == "0" then return 0 end
  local pos, n = 1, #s
  local neg = false
  local c = s:sub(1, 1)
  if c == "-" then neg, pos = true, 2 elseif c == "+" then pos = 2 end
  while pos <= n and s:sub(pos, pos) == "0" do pos = pos + 1 end
  if pos > n then return 0 end
  local num = s:match("^%d*", pos)
  pos = pos + #num
  if pos > n then return (neg and -1 or 1) * tonumber(num) end
  if num == "" then num = "0" end
  local denom = ""
  if s:sub(pos, pos) == "." then
    pos = pos + 1
    denom = s:match("^%d*", pos)
    pos = pos + #denom
  end
  local suffix = s:sub(pos)
  -- the suffix: letters of "eEinumkKMGTP", an optional sign, digits, the end
  if suffix ~= "" and not suffix:match("^[eEinumkKMGTP]*[-+]?%d*$") then return nil end
  local digits, scale = num .. denom, -#denom
  local v
  if DEC[suffix] then
    scale = scale + DEC[suffix]
  elseif BIN[suffix] then
    v = tonumber(digits .. "e" .. scale) * 2.0 ^ BIN[suffix]
  else
    local e = suffix:match("^[eE]([-+]?%d+)$")
    if not e then return nil end
    e = tonumber(e)
    if not e or math.type(e) ~= "integer" then return nil end
    scale = scale + e
  end
  if not v then
    -- rounded up (away from zero) to the nano, as ParseQuantity does
    if scale < -9 then
      local keep = #digits + scale + 9
      local head = keep > 0 and digits:sub(1, keep) or ""
      local tail = keep > 0 and digits:sub(keep + 1) or digits
      if tail:match("[1-9]") then
        head = tostring((tonumber(head ~= "" and head or "0") or 0) + 1)
      end
      digits, scale = head ~= "" and head or "0", -9
    end
    v = tonumber(digits .. "e" .. scale)
  end
  if not v then return nil end
  return neg and -v or v
end

-- ---------------------------------------------------------------- comparison

local UNSORTABLE = {}

-- the Go type an unstructured value has
local function go_type(v)
  if v == null or v == nil then return "nil" end
  if getmetatable(v) and type(v) == "table" and v.t == "uint8" then return "uint8" end
  local t = type(v)
  if t == "string" then return "string" end
  if t == "boolean" then return "bool" end
  if t == "number" then return math.type(v) == "integer" and "int64" or "float64" end
  if t == "table" then
    if jsonpath.is_array(v) then return "[]interface {}" end
    return "map[string]interface {}"
  end
  return "float64" -- a number too large for an integer (json's big number)
end

local function unsortable(msg) error({ [UNSORTABLE] = msg }, 0) end

-- isLess for two values of the Interface kind (unstructured objects)
local function is_less(a, b)
  local ta, tb = go_type(a), go_type(b)
  if ta == "nil" and tb == "nil" then return false end
  if ta == "nil" then return true end
  if tb == "nil" then return false end
  if ta == "int64" or ta == "float64" or ta == "uint8" then
    if ta ~= tb then unsortable("unsortable interface: interface") end
    if ta == "uint8" then return a.v < b.v end
    return tonumber(a) < tonumber(b)
  end
  if ta == "string" then
    if tb ~= "string" then unsortable("unsortable interface: interface") end
    local qa = M.quantity(a)
    if not qa then return a < b end
    local qb = M.quantity(b)
    if not qb then return a < b end
    return qa < qb
  end
  unsortable("unsortable type: " .. ta)
end

-- the first result of the field in obj, or nil (missing)
local function first_value(t, obj)
  local out, full = jsonpath.values(t, obj)
  if not out then error({ jsonpath = full }, 0) end
  if full[1] and #full[1] > 0 then
    local v = full[1][1]
    if v == nil then return nil end
    return { v = v }
  end
  return nil
end

local function compile(field)
  local relaxed, err = jsonpath.relaxed(field)
  if not relaxed then return nil, err end
  local t, perr = jsonpath.parse(relaxed)
  if not t then return nil, perr end
  return t, relaxed
end

-- sort(values, swap_extra, what, field): values[i] = {v = value} | nil
local function sort_by_values(n, vals, swap_extra, what, field)
  local function less(i, j)
    local a, b = vals[i + 1], vals[j + 1]
    if not a then return true end
    if not b then return false end
    return is_less(a.v, b.v)
  end
  local function swap(i, j)
    vals[i + 1], vals[j + 1] = vals[j + 1], vals[i + 1]
    swap_extra(i + 1, j + 1)
  end
  local ok, err = pcall(M.go_sort, n, less, swap)
  if not ok then
    if type(err) == "table" and err[UNSORTABLE] then
      return nil, ("Field %s in %s is an unsortable type: interface, err: %s"):format(field, what, err[UNSORTABLE]), true
    end
    error(err, 0)
  end
  return true
end

-- values(t, list, obj_of, relaxed, jsonpath_err) -> the first value of the
-- compiled path t in each item's object | nil, err: a JSONPath failure
-- (worded by jsonpath_err), or the path found in no item
local function values(t, list, obj_of, relaxed, jsonpath_err)
  local vals, found = {}, false
  for i, it in ipairs(list) do
    local ok, v = pcall(first_value, t, obj_of(it))
    if not ok then
      if type(v) == "table" and v.jsonpath then return nil, jsonpath_err(v.jsonpath) end
      error(v, 0)
    end
    vals[i] = v
    found = found or v ~= nil
  end
  if not found then
    return nil, ("couldn't find any field with path %s in the list of objects"):format(jsonpath.go_quote(relaxed))
  end
  return vals
end

--- objects(objs, field) -> true | nil, err: kubectl's SortObjects, in place
-- (a list of decoded objects; the field must be found in one of them)
function M.objects(objs, field)
  if #objs == 0 then return true end
  local t, relaxed = compile(field)
  if not t then return nil, relaxed end
  local vals, e = values(t, objs, function(o) return o end, relaxed, function(m) return m end)
  if not vals then return nil, e end
  return sort_by_values(#objs, vals, function(i, j) objs[i], objs[j] = objs[j], objs[i] end,
    "*unstructured.Unstructured", relaxed)
end

--- rows(rows, field) -> true | nil, err: kubectl's TableSorter over the rows
-- of a server Table (each row's object: includeObject=Object); a table of
-- fewer than two rows is left as it is, unchecked, as kubectl leaves it
function M.rows(rows, field)
  if #rows <= 1 then return true end
  local relaxed = jsonpath.relaxed(field) or field
  local t, perr = jsonpath.parse(relaxed)
  if not t then return nil, "sorting error: " .. tostring(perr) end
  local vals, e = values(t, rows, function(r)
    local obj = type(r) == "table" and r.object or nil
    return obj == nil and null or obj
  end, relaxed, function(m) return ("Failed to get values using %s (%s)"):format(relaxed, m) end)
  if not vals then return nil, e end
  return sort_by_values(#rows, vals, function(i, j) rows[i], rows[j] = rows[j], rows[i] end,
    "[][][]reflect.Value", relaxed)
end

return M
