-- k8s.util: small helpers shared by the k8s modules: the JSON and YAML
-- codecs, errors from metav1.Status, URL query strings.

local M = {}

M.json = require "json"
M.null = M.json.null

--- error(kind, message [, fields]) -> the project's error table
M.error = require("ksh").error

function M.yaml_decode(s)
  return require("ksh.yaml").decode(s)
end

function M.b64_decode(s)
  return require("ksh.b64").decode(s)
end

function M.json_decode(s)
  return M.json.decode(s)
end

-- ---------------------------------------------------------------- misuse
-- Misuse raises, naming the caller's line, as luaL_argerror does.  These run
-- directly inside an API function, so level 3 is the line that called it.

-- "nil|string" reads "string expected" (luaL_optstring's words); a
-- resource is a name, or a discovery entry passed through: "string"
local function want_text(types)
  if types == "string|table" then return "string" end
  local t = {}
  for w in types:gmatch("[^|]+") do if w ~= "nil" then t[#t + 1] = w end end
  return table.concat(t, " or ")
end

--- check_arg(n, fname, v, "string|table" [, level]): v's type is one of types
function M.check_arg(n, fname, v, types, level)
  local t = type(v)
  for w in types:gmatch("[^|]+") do if w == t then return v end end
  error(("bad argument #%d to '%s' (%s expected, got %s)"):format(n, fname, want_text(types), t), level or 3)
end

--- check_opts(n, fname, opts, {field = "string|nil", ...} [, level]): opts is
-- nil or a table whose named fields have those types
function M.check_opts(n, fname, opts, fields, level)
  if opts == nil then return end
  local t = type(opts)
  if t ~= "table" then
    error(("bad argument #%d to '%s' (table expected, got %s)"):format(n, fname, t), level or 3)
  end
  for field, types in pairs(fields) do
    local ft = type(opts[field])
    if ft ~= "nil" then
      local okt = false
      for w in types:gmatch("[^|]+") do if w == ft then okt = true end end
      if not okt then
        error(("bad argument #%d to '%s' (%s: %s expected, got %s)"):format(n, fname, field, want_text(types), ft), level or 3)
      end
    end
  end
end

--- check_self(self, class, fname [, level]): a method called on its object
function M.check_self(self, class, fname, level)
  if getmetatable(self) ~= class then
    error(("calling '%s' on bad self (%s expected, got %s; use obj:%s(...))")
      :format(fname, class.__name or "object", type(self), fname), level or 3)
  end
end

--- escape(s) -> s percent-encoded for a query value or a path segment
function M.escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- query(t) -> "?a=1&b=2" (sorted keys; "" for none)
function M.query(t)
  if not t then return "" end
  local keys = {}
  for k, v in pairs(t) do
    if v ~= nil and v ~= false and v ~= "" then keys[#keys + 1] = k end
  end
  if #keys == 0 then return "" end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if v == true then v = "true" end
    parts[#parts + 1] = M.escape(k) .. "=" .. M.escape(v)
  end
  return "?" .. table.concat(parts, "&")
end

local reason_kind = {
  NotFound = "notfound", Forbidden = "forbidden", Unauthorized = "unauthorized",
  Conflict = "conflict", AlreadyExists = "exists", Gone = "gone", Expired = "gone",
  Invalid = "invalid", BadRequest = "badrequest", MethodNotAllowed = "notallowed",
  NotAcceptable = "notacceptable", UnsupportedMediaType = "unsupported",
  TooManyRequests = "toomanyrequests", Timeout = "timeout", ServerTimeout = "timeout",
  InternalError = "internal", ServiceUnavailable = "unavailable", RequestEntityTooLarge = "toolarge",
}
local code_kind = {
  [400] = "badrequest", [401] = "unauthorized", [403] = "forbidden", [404] = "notfound",
  [405] = "notallowed", [406] = "notacceptable", [409] = "conflict", [410] = "gone",
  [413] = "toolarge", [415] = "unsupported", [422] = "invalid", [429] = "toomanyrequests",
  [500] = "internal", [503] = "unavailable", [504] = "timeout",
}
M.reason_kind = reason_kind

--- status_error(status_code, body_or_status, request_line [, extra]) -> err
-- err = {kind, message, status, reason, details, code, body, request}
function M.status_error(code, body, reqline, extra)
  local st
  if type(body) == "table" then
    st = body
  elseif type(body) == "string" and body:match("^%s*{") then
    local ok, v = pcall(M.json.decode, body)
    if ok and type(v) == "table" and v.kind == "Status" then st = v end
  end
  local reason = st and type(st.reason) == "string" and st.reason ~= "" and st.reason or nil
  local kind = (reason and reason_kind[reason]) or code_kind[code] or "http"
  local text
  if st and type(st.message) == "string" and st.message ~= "" then
    text = st.message
  elseif type(body) == "string" and body ~= "" and #body < 400 and not body:match("^%s*{") then
    text = body:gsub("%s+$", "")
  else
    text = ("the server returned HTTP %d"):format(code)
  end
  local label = reason or (code == 404 and "NotFound") or ("HTTP " .. code)
  local msg = ("Error from server (%s): %s"):format(label, text)
  if extra and extra ~= "" then msg = msg .. " " .. extra end
  return M.error(kind, msg, {
    status = code, code = st and st.code or code, reason = reason, details = st and st.details,
    status_object = st, body = type(body) == "string" and body or nil, request = reqline,
  })
end

return M
