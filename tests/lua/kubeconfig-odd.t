#!/usr/bin/env kscript
-- k8s.kubeconfig on odd files (regressions from tests/fuzz/kubeconfig_fuzz.c):
-- a cluster, user or context that is not a mapping (a string, a number, a
-- list) and a clusters, users or contexts field that is not a list are nil,
-- err of kind "config" naming the entry (kubectl: "cannot unmarshal string
-- into Go struct field NamedCluster.clusters.cluster"), never a raise.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local kc = require "k8s.kubeconfig"
local path = os.tmpname()
local function load(text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return pcall(kc.load, { kubeconfig = path })
end
for _, v in ipairs {
  { "clusters:\n- name: c\n  cluster: \"ue}\"\n", "clusters[0].cluster must be a mapping" },
  { "users:\n- name: u\n  user: {token: t}\n- name: v\n  user: 5\n", "users[1].user must be a mapping" },
  { "contexts:\n- name: x\n  context: yes\n", "contexts[0].context must be a mapping" },
  -- a list where a mapping belongs, [] too (kubectl: "cannot unmarshal array
  -- into Go struct field NamedContext.contexts.context of type v1.Context")
  { "contexts:\n- name: x\n  context: [a, b]\ncurrent-context: x\n", "contexts[0].context must be a mapping, not a list" },
  { "contexts:\n- name: x\n  context: []\n", "contexts[0].context must be a mapping, not a list" },
  { "clusters:\n- name: c\n  cluster: [a]\n", "clusters[0].cluster must be a mapping, not a list" },
  { "users:\n- name: u\n  user: []\n", "users[0].user must be a mapping, not a list" },
  { "clusters:\n- [a]\n", "clusters[0] has no name" },
  -- a mapping where a list belongs ("cannot unmarshal object into Go struct
  -- field Config.clusters of type []v1.NamedCluster"), {} too
  { "clusters: {a: 1}\n", "clusters must be a list" },
  { "users: {}\n", "users must be a list" },
  { "[]", "not a mapping", "" },
  { "- apiVersion: v1\n", "not a mapping", "" },
} do
  local ok, cfg, err = load((v[3] or "apiVersion: v1\nkind: Config\n") .. v[1])
  t.ok(ok and cfg == nil and err.kind == "config" and err.message:find(v[2], 1, true),
    v[2] .. (not ok and ": raised " .. tostring(cfg) or err and (" (" .. tostring(err.message) .. ")") or ": loaded"))
end
local f = assert(io.open((os.getenv("KSCRIPT_TOP") or ".") .. "/tests/fuzz/corpus/kubeconfig/regress-cluster-string"))
local ok, cfg, err = load(f:read("a"))
f:close()
t.ok(ok and cfg == nil and err.kind == "config", "the fuzzer's input: kind config, no raise")
-- a context whose user is null (an empty YAML anchor) or a mapping: resolves
-- as one without a user, never raises
for _, u in ipairs { "&anchor", "null", "{a: 1}" } do
  local lok, c = load("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://h'}}]\n" ..
    "contexts:\n- name: x\n  context: {cluster: c, user: " .. u .. "}\ncurrent-context: x\n")
  local rok, r = pcall(kc.resolve, c, {})
  t.ok(lok and c and rok and r and r.server == "https://h" and r.user == nil, "context user " .. u .. ": no user, no raise")
end
os.remove(path)
t.done()
