#!/usr/bin/env kscript
-- k8s.encryption and k8s.storage without a server: configurations read (and
-- refused) as kube-apiserver reads them, the k8s:enc: envelope, every
-- provider sealed and opened, key rotation, the provider lookup order, and
-- the etcd key of a resource (and back).  tests/k8s/encryption.t and
-- tests/k8s/stored.t check the same against a real API server.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local enc = require "k8s.encryption"
local storage = require "k8s.storage"
local b64 = require "ksh.b64"

local K32 = b64.encode(("a"):rep(32))
local K16 = b64.encode(("b"):rep(16))
local K32b = b64.encode(("c"):rep(32))
local cfg_text = ([[
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets, configmaps]
    providers:
      - aesgcm: {keys: [{name: g1, secret: %s}]}
      - aescbc: {keys: [{name: new, secret: %s}, {name: old, secret: %s}]}
      - secretbox: {keys: [{name: s1, secret: %s}]}
      - identity: {}
  - resources: ["*.apps"]
    providers:
      - secretbox: {keys: [{name: s1, secret: %s}]}
  - resources: [events]
    providers:
      - identity: {}
      - aescbc: {keys: [{name: new, secret: %s}]}
  - resources: ["*.*"]
    providers:
      - kms: {apiVersion: v2, name: vault, endpoint: unix:///x.sock}
]]):format(K32, K16, K32b, K32, K32, K16)
local cfg, err = enc.parse(cfg_text, "enc.yaml")
t.ok(cfg, "a configuration with every provider parses", err and err.message)

-- envelope
local e = enc.envelope("k8s:enc:aescbc:v1:key-1:\0\1\2")
t.ok(e and e.provider == "aescbc" and e.version == "v1" and e.key_name == "key-1" and e.prefix == "k8s:enc:aescbc:v1:key-1:",
  "envelope: provider, version, key name, prefix")
e = enc.envelope("k8s:enc:kms:v2:vault:\10\3abc")
t.ok(e and e.provider == "kms" and e.version == "v2" and e.key_name == "vault", "envelope: kms v2 and its provider name")
t.is(enc.envelope("k8s\0\10\2v1"), nil, "envelope: a protobuf value is not encrypted")
t.is(enc.envelope("{\"kind\":\"Widget\"}"), nil, "envelope: nor is JSON")
e = enc.envelope("k8s:enc:")
t.ok(e and e.provider == "unknown", "envelope: a bare k8s:enc: is still reported as encrypted")

-- each provider: the first one for the resource writes, every key reads
local key = "/registry/secrets/default/db"
local plain = "k8s\0\n\x0c\n\x02v1\x12\x06Secret payload"
local v = assert(enc.encrypt(cfg, plain, key, "secrets"))
t.is(enc.envelope(v).prefix, "k8s:enc:aesgcm:v1:g1:", "secrets: written with the first provider (aesgcm)")
t.is(enc.decrypt(cfg, v, key), plain, "aesgcm: decrypted")
local none, derr = enc.decrypt(cfg, v, "/registry/secrets/default/other")
t.ok(not none and derr.kind == "decrypt", "aesgcm: another etcd key (additional data) is kind decrypt")
v = assert(enc.encrypt(cfg, plain, "/registry/deployments/default/web", "deployments.apps"))
t.is(enc.envelope(v).prefix, "k8s:enc:secretbox:v1:s1:", "deployments.apps: the *.apps rule (secretbox)")
t.is(enc.decrypt(cfg, v, "/registry/deployments/default/web"), plain, "secretbox: decrypted")
t.is(enc.encrypt(cfg, plain, "/registry/events/default/x", "events"), plain, "events: identity first, stored as it is")
local kv, kerr = enc.encrypt(cfg, plain, "/registry/pods/default/p", "pods")
t.ok(not kv and kerr.kind == "encrypted" and kerr.provider == "kms", "pods: the *.* rule is KMS: kind encrypted")
v = assert(enc.encrypt(cfg, plain, "/registry/secrets/default/db"))
t.is(enc.envelope(v).provider, "aesgcm", "encrypt without a resource takes it from the key")
v = assert(enc.encrypt(cfg, plain, "/registry/deployments/default/db"))
t.is(enc.envelope(v).provider, "secretbox", "... a built-in group from the key (deployments: apps)")

-- aescbc and rotation: the old key still reads
local crypt = require "ksh.crypt"
local old = "k8s:enc:aescbc:v1:old:" .. crypt.seal("aescbc", ("c"):rep(32), plain)
t.is(enc.decrypt(cfg, old, key), plain, "aescbc: a value written with the old key of a rotation")
local new = "k8s:enc:aescbc:v1:new:" .. crypt.seal("aescbc", ("b"):rep(16), plain)
t.is(enc.decrypt(cfg, new, key), plain, "aescbc: the new key (AES-128)")
local wrong = "k8s:enc:aescbc:v1:new:" .. crypt.seal("aescbc", ("z"):rep(16), plain)
none, derr = enc.decrypt(cfg, wrong, key)
t.ok(not none and derr.kind == "decrypt" and derr.key_name == "new", "aescbc: a wrong key is kind decrypt naming the key")
t.like(tostring(derr), 'cannot decrypt /registry/secrets/default/db %(encrypted with aescbc key "new"%)', "... with a clear message")
-- garbage that passes the padding check: the plaintext must look stored
local garbage = "k8s:enc:aescbc:v1:new:" .. crypt.seal("aescbc", ("b"):rep(16), "not an object")
none, derr = enc.decrypt(cfg, garbage, key)
t.ok(not none and derr.kind == "decrypt" and tostring(derr):find("neither protobuf nor JSON", 1, true),
  "aescbc: a plaintext that is neither protobuf nor JSON is refused")
t.is(enc.decrypt(cfg, "k8s:enc:aescbc:v1:new:" .. crypt.seal("aescbc", ("b"):rep(16), '{"kind":"Widget"}'), key),
  '{"kind":"Widget"}', "aescbc: a JSON plaintext (custom resources) is accepted")

-- not decryptable here
none, derr = enc.decrypt(nil, v, key)
t.ok(not none and derr.kind == "encrypted" and derr.provider == "secretbox" and derr.key_name == "s1",
  "no configuration: kind encrypted with the provider and key name")
none, derr = enc.decrypt(cfg, "k8s:enc:secretbox:v1:other:" .. ("x"):rep(50), key)
t.ok(not none and derr.kind == "encrypted" and derr.key_name == "other", "a key the file does not hold: kind encrypted")
none, derr = enc.decrypt(cfg, "k8s:enc:kms:v2:vault:abc", key)
t.ok(not none and derr.kind == "encrypted" and derr.provider == "kms", "KMS: kind encrypted")
t.is(enc.decrypt(cfg, plain, key), plain, "an unencrypted value comes back as it is")
t.ok(not pcall(enc.decrypt, cfg, 42, key), "decrypt of a number raises (misuse)")

-- configurations refused
local function refused(text, pat, name)
  local c, e2 = enc.parse(text, "x.yaml")
  t.ok(not c and e2 and tostring(e2):match(pat), name, e2 and tostring(e2) or "parsed")
end
local head = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
refused("kind: Pod\n", "not EncryptionConfiguration", "another kind")
refused(head .. "resources:\n- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: k, secret: " .. b64.encode("short") .. "}]}\n",
  "16, 24 or 32%-byte key", "an AES key of 5 bytes")
refused(head .. "resources:\n- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k, secret: " .. K16 .. "}]}\n",
  "32%-byte key", "a secretbox key of 16 bytes")
refused(head .. "resources:\n- resources: [secrets]\n  providers:\n  - aesgcm: {keys: []}\n", "has no keys", "no keys")
refused(head .. "resources:\n- resources: [secrets]\n  providers:\n  - aesgcm: {keys: [{name: k, secret: '!!'}]}\n", "not base64", "a secret that is not base64")
refused(head .. "resources:\n- resources: [secrets]\n  providers:\n  - rot13: {}\n", "unknown provider", "an unknown provider")
local c2, e2 = enc.parse("{not yaml: [", "x.yaml")
t.ok(not c2 and e2.kind == "parse", "text that does not parse: kind parse")
c2, e2 = enc.load("/nonexistent/enc.yaml")
t.ok(not c2 and e2.kind == "io", "a missing file: kind io")
c2 = enc.parse('{"kind":"EncryptionConfiguration","resources":[{"resources":["secrets"],"providers":[{"identity":{}}]}]}')
t.ok(c2 and c2.resources[1].providers[1].type == "identity", "JSON is read too")

-- storage paths
local function entry(name) return assert(storage.builtin(name)) end
t.is(storage.key(entry("svc"), "default", "web"), "/registry/services/specs/default/web", "services: services/specs")
t.is(storage.key(entry("ep"), "default", "web"), "/registry/services/endpoints/default/web", "endpoints: services/endpoints")
t.is(storage.key(entry("nodes"), nil, "n1"), "/registry/minions/n1", "nodes: minions")
t.is(storage.key(entry("rc"), "ns", "r"), "/registry/controllers/ns/r", "replicationcontrollers: controllers")
t.is(storage.key(entry("ing"), "ns", "i"), "/registry/ingress/ns/i", "ingresses: ingress")
t.is(storage.key(entry("deploy"), "ns", "d"), "/registry/deployments/ns/d", "deployments: no group")
t.is(storage.key({ name = "events", group = "events.k8s.io", namespaced = true }, "ns", "e"), "/registry/events/ns/e",
  "events.k8s.io events: the core events' path")
t.is(storage.key(entry("crd"), nil, "a.b.c"), "/registry/apiextensions.k8s.io/customresourcedefinitions/a.b.c", "CRDs: group/resource")
t.is(storage.key({ name = "widgets", group = "x.example.com", namespaced = true }, "ns", "w"),
  "/registry/x.example.com/widgets/ns/w", "custom resources: group/resource")
t.is(storage.key(entry("pods"), "ns", "p", "/other/"), "/other/pods/ns/p", "--etcd-prefix")
t.is(storage.key_prefix(entry("pods"), { namespace = "ns" }), "/registry/pods/ns/", "key_prefix of a namespace")
t.is(storage.key_prefix(entry("nodes"), { namespace = "ns" }), "/registry/minions/", "key_prefix of a cluster-scoped type ignores -n")
t.ok(storage.builtin("Deployment") and storage.builtin("deployments.apps") and storage.builtin("po").name == "pods",
  "built-in names: kind, plural.group, short name")
t.is(storage.builtin("nosuch"), nil, "an unknown built-in name")
local p = storage.parse_key("/registry/services/specs/default/web")
t.ok(p and p.resource_prefix == "services/specs" and p.namespace == "default" and p.name == "web", "parse_key: services/specs")
p = storage.parse_key("/registry/apiregistration.k8s.io/apiservices/v1.apps")
t.ok(p and p.resource_prefix == "apiregistration.k8s.io/apiservices" and p.name == "v1.apps" and not p.namespace,
  "parse_key: a cluster-scoped object of a group")
local g, r = storage.group_resource("/registry/minions/n1")
t.ok(g == "" and r == "nodes", "group_resource: minions -> nodes")
g, r = storage.group_resource("/custom/ingress/ns/i")
t.ok(g == "networking.k8s.io" and r == "ingresses", "group_resource: ingress under another prefix")
t.done()
