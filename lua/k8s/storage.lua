-- k8s.storage: where the API server keeps a resource in etcd.
--
--   storage.resource_prefix(entry) -> "pods", "services/specs", "example.com/widgets"
--   storage.key_prefix(entry [, {prefix =, namespace =}]) -> "/registry/pods/" or "/registry/pods/default/"
--   storage.key(entry, namespace, name [, prefix]) -> "/registry/pods/default/web-0"
--   storage.resolve(client_or_nil, name) -> entry | nil, err
--   storage.builtin(name) -> entry | nil   (the table below, no server needed)
--   storage.parse_key(key [, prefix]) -> {resource_prefix =, namespace =, name =} | nil
--
-- An entry is a discovery entry (k8s.discovery): {name =, group =, kind =,
-- namespaced =, ...}.  The rules, from k8s.io/kubernetes v1.37
-- pkg/kubeapiserver/default_storage_factory_builder.go and
-- k8s.io/apiserver pkg/server/storage/storage_factory.go:
--   * the resources kube-apiserver serves itself live under
--     <prefix>/<resource>/ with no group (DefaultStorageFactory.ResourcePrefix),
--     except SpecialDefaultResourcePrefixes: services -> services/specs,
--     endpoints -> services/endpoints, nodes -> minions, replicationcontrollers
--     -> controllers, ingresses (networking.k8s.io, extensions) -> ingress;
--   * cohabiting resources share the first group's storage: events.k8s.io
--     events are the core events (/registry/events), extensions deployments
--     the apps ones, ...;
--   * custom resources, CRDs and APIServices (apiextensions-apiserver and
--     kube-aggregator use SimpleStorageFactory) live under <prefix>/<group>/<resource>/;
--   * namespaced objects add /<namespace>/<name>, cluster-scoped ones /<name>.
-- The prefix is kube-apiserver's --etcd-prefix (default /registry).
local M = {}

M.DEFAULT_PREFIX = "/registry"

local SPECIAL = {
  ["/replicationcontrollers"] = "controllers",
  ["/endpoints"] = "services/endpoints",
  ["/nodes"] = "minions",
  ["/services"] = "services/specs",
  ["extensions/ingresses"] = "ingress",
  ["networking.k8s.io/ingresses"] = "ingress",
}

-- AddCohabitatingResources: the first of each pair is where both are stored
local COHABIT = {
  ["extensions/networkpolicies"] = "networking.k8s.io/networkpolicies",
  ["extensions/deployments"] = "apps/deployments",
  ["extensions/daemonsets"] = "apps/daemonsets",
  ["extensions/replicasets"] = "apps/replicasets",
  ["events.k8s.io/events"] = "/events",
  ["extensions/replicationcontrollers"] = "/replicationcontrollers",
  ["extensions/podsecuritypolicies"] = "policy/podsecuritypolicies",
  ["extensions/ingresses"] = "networking.k8s.io/ingresses",
}

-- the groups kube-apiserver stores with DefaultStorageFactory (no group in the key)
local BUILTIN_GROUPS = {}
for g in ([[
apps autoscaling batch policy extensions rbac.authorization.k8s.io storage.k8s.io
admissionregistration.k8s.io networking.k8s.io certificates.k8s.io coordination.k8s.io
discovery.k8s.io node.k8s.io scheduling.k8s.io events.k8s.io flowcontrol.apiserver.k8s.io
apiserverinternal.k8s.io resource.k8s.io storagemigration.k8s.io internal.apiserver.k8s.io
]]):gmatch("%S+") do BUILTIN_GROUPS[g] = true end
BUILTIN_GROUPS[""] = true

-- what kube-apiserver v1.37 serves (name group kind scope short-names), for
-- reading etcd with no API server to ask (a snapshot, a broken cluster)
local BUILTIN = {
  "configmaps - ConfigMap ns cm",
  "endpoints - Endpoints ns ep",
  "events - Event ns ev",
  "limitranges - LimitRange ns limits",
  "namespaces - Namespace cluster ns",
  "nodes - Node cluster no",
  "persistentvolumeclaims - PersistentVolumeClaim ns pvc",
  "persistentvolumes - PersistentVolume cluster pv",
  "pods - Pod ns po",
  "podtemplates - PodTemplate ns",
  "replicationcontrollers - ReplicationController ns rc",
  "resourcequotas - ResourceQuota ns quota",
  "secrets - Secret ns",
  "serviceaccounts - ServiceAccount ns sa",
  "services - Service ns svc",
  "controllerrevisions apps ControllerRevision ns",
  "daemonsets apps DaemonSet ns ds",
  "deployments apps Deployment ns deploy",
  "replicasets apps ReplicaSet ns rs",
  "statefulsets apps StatefulSet ns sts",
  "horizontalpodautoscalers autoscaling HorizontalPodAutoscaler ns hpa",
  "cronjobs batch CronJob ns cj",
  "jobs batch Job ns",
  "certificatesigningrequests certificates.k8s.io CertificateSigningRequest cluster csr",
  "clustertrustbundles certificates.k8s.io ClusterTrustBundle cluster",
  "podcertificaterequests certificates.k8s.io PodCertificateRequest ns",
  "ingressclasses networking.k8s.io IngressClass cluster",
  "ingresses networking.k8s.io Ingress ns ing",
  "ipaddresses networking.k8s.io IPAddress cluster ip",
  "networkpolicies networking.k8s.io NetworkPolicy ns netpol",
  "servicecidrs networking.k8s.io ServiceCIDR cluster",
  "poddisruptionbudgets policy PodDisruptionBudget ns pdb",
  "clusterrolebindings rbac.authorization.k8s.io ClusterRoleBinding cluster",
  "clusterroles rbac.authorization.k8s.io ClusterRole cluster",
  "rolebindings rbac.authorization.k8s.io RoleBinding ns",
  "roles rbac.authorization.k8s.io Role ns",
  "csidrivers storage.k8s.io CSIDriver cluster",
  "csinodes storage.k8s.io CSINode cluster",
  "csistoragecapacities storage.k8s.io CSIStorageCapacity ns",
  "storageclasses storage.k8s.io StorageClass cluster sc",
  "volumeattachments storage.k8s.io VolumeAttachment cluster",
  "volumeattributesclasses storage.k8s.io VolumeAttributesClass cluster vac",
  "mutatingadmissionpolicies admissionregistration.k8s.io MutatingAdmissionPolicy cluster",
  "mutatingadmissionpolicybindings admissionregistration.k8s.io MutatingAdmissionPolicyBinding cluster",
  "mutatingwebhookconfigurations admissionregistration.k8s.io MutatingWebhookConfiguration cluster",
  "validatingadmissionpolicies admissionregistration.k8s.io ValidatingAdmissionPolicy cluster",
  "validatingadmissionpolicybindings admissionregistration.k8s.io ValidatingAdmissionPolicyBinding cluster",
  "validatingwebhookconfigurations admissionregistration.k8s.io ValidatingWebhookConfiguration cluster",
  "priorityclasses scheduling.k8s.io PriorityClass cluster pc",
  "leases coordination.k8s.io Lease ns",
  "runtimeclasses node.k8s.io RuntimeClass cluster",
  "endpointslices discovery.k8s.io EndpointSlice ns",
  "deviceclasses resource.k8s.io DeviceClass cluster",
  "devicetaintrules resource.k8s.io DeviceTaintRule cluster",
  "resourceclaims resource.k8s.io ResourceClaim ns",
  "resourceclaimtemplates resource.k8s.io ResourceClaimTemplate ns",
  "resourceslices resource.k8s.io ResourceSlice cluster",
  "flowschemas flowcontrol.apiserver.k8s.io FlowSchema cluster",
  "prioritylevelconfigurations flowcontrol.apiserver.k8s.io PriorityLevelConfiguration cluster",
  "storageversionmigrations storagemigration.k8s.io StorageVersionMigration cluster",
  "customresourcedefinitions apiextensions.k8s.io CustomResourceDefinition cluster crd,crds",
  "apiservices apiregistration.k8s.io APIService cluster",
}

local builtin_entries
local function entries()
  if builtin_entries then return builtin_entries end
  builtin_entries = {}
  for _, line in ipairs(BUILTIN) do
    local name, group, kind, scope, short = line:match("^(%S+) (%S+) (%S+) (%S+) ?(%S*)$")
    local sh = {}
    for s in short:gmatch("[^,]+") do sh[#sh + 1] = s end
    builtin_entries[#builtin_entries + 1] = {
      name = name, group = group == "-" and "" or group, kind = kind, namespaced = scope == "ns",
      singular = kind:lower(), short = sh, preferred = true,
    }
  end
  return builtin_entries
end

--- builtin(name) -> entry | nil: by plural, singular, short name, kind or
-- plural.group, case-insensitive, among the built-in types (no server)
function M.builtin(name)
  local want = name:lower()
  local base, group = want:match("^([^%.]+)%.(.+)$")
  for pass = 1, 3 do
    for _, e in ipairs(entries()) do
      local n = base or want
      if (not base or e.group == group) then
        if (pass == 1 and e.name == n) or (pass == 2 and (e.singular == n or e.kind:lower() == n)) then return e end
        if pass == 3 then
          for _, s in ipairs(e.short) do if s == n then return e end end
        end
      end
    end
  end
  return nil
end

--- resolve(client, name) -> entry | nil, err: through discovery when a
-- client is given (short names, kinds, CRDs as kubectl resolves them), else
-- the built-in table; "plural.group" of an unknown group is taken as a
-- custom resource (namespaced unless opts say otherwise)
function M.resolve(client, name)
  if client then
    local e, err = require("k8s.discovery").lookup(client, name)
    if e then return e end
    if err and err.kind ~= "notfound" then
      local b = M.builtin(name)
      if b then return b end
    end
    return nil, err
  end
  local e = M.builtin(name)
  if e then return e end
  local plural, group = name:lower():match("^([^%.]+)%.(.+%..+)$")
  if plural and not BUILTIN_GROUPS[group] then
    return { name = plural, group = group, kind = plural, namespaced = nil, custom = true }
  end
  return nil, require("ksh").error("notfound",
    ("unknown resource type %q (with no API server to ask, use a built-in name or PLURAL.GROUP)"):format(name))
end

--- resource_prefix(entry) -> the path segment(s) after the etcd prefix
function M.resource_prefix(entry)
  local group, name = entry.group or "", entry.name
  local gr = group .. "/" .. name
  local co = COHABIT[gr]
  if co then group, name = co:match("^(.-)/(.*)$"); gr = co end
  if SPECIAL[gr] then return SPECIAL[gr] end
  if BUILTIN_GROUPS[group] then return name end
  return group .. "/" .. name
end

local function clean(prefix)
  prefix = prefix or M.DEFAULT_PREFIX
  if prefix == "" then prefix = "/" end
  if prefix:sub(1, 1) ~= "/" then prefix = "/" .. prefix end
  return (prefix:gsub("/+$", ""))
end
M.clean_prefix = clean

--- key_prefix(entry [, {prefix =, namespace =}]) -> "/registry/pods/" (every
-- object of the type) or "/registry/pods/NS/" (one namespace's)
function M.key_prefix(entry, opts)
  opts = opts or {}
  local p = clean(opts.prefix) .. "/" .. M.resource_prefix(entry) .. "/"
  if opts.namespace and entry.namespaced ~= false then p = p .. opts.namespace .. "/" end
  return p
end

--- key(entry, namespace, name [, prefix]) -> the etcd key of one object
function M.key(entry, namespace, name, prefix)
  local p = clean(prefix) .. "/" .. M.resource_prefix(entry) .. "/"
  if entry.namespaced ~= false and namespace then return p .. namespace .. "/" .. name end
  return p .. name
end

--- parse_key(key [, prefix]) -> {resource_prefix =, namespace =, name =} | nil
-- (namespace only when the key has one more segment; cluster-scoped types
-- with a "/" in the resource prefix, such as minions, are known)
function M.parse_key(key, prefix)
  local p = clean(prefix) .. "/"
  if key:sub(1, #p) ~= p then return nil end
  local rest = key:sub(#p + 1)
  local segs = {}
  for s in rest:gmatch("[^/]+") do segs[#segs + 1] = s end
  if #segs < 2 then return nil end
  local two = segs[1] .. "/" .. segs[2]
  local rp, i
  for _, v in pairs(SPECIAL) do if v == two then rp, i = two, 3 end end
  if not rp and segs[1]:find(".", 1, true) and #segs >= 3 then rp, i = two, 3 end
  if not rp then rp, i = segs[1], 2 end
  local left = #segs - i + 1
  if left == 1 then return { resource_prefix = rp, name = segs[i] } end
  if left == 2 then return { resource_prefix = rp, namespace = segs[i], name = segs[i + 1] } end
  return { resource_prefix = rp, name = table.concat(segs, "/", i) }
end

--- group_resource(key [, prefix]) -> group, resource | nil: the resource an
-- etcd key belongs to (the inverse of resource_prefix; for a built-in type
-- the group comes from the built-in table).  Without a prefix, /registry is
-- tried, then the key's first path segment.
function M.group_resource(key, prefix)
  local p
  if prefix then p = M.parse_key(key, prefix)
  else
    p = M.parse_key(key, M.DEFAULT_PREFIX)
    if not p then
      local first = key:match("^(/[^/]+)/")
      p = first and M.parse_key(key, first)
    end
  end
  if not p then return nil end
  local rp = p.resource_prefix
  for gr, v in pairs(SPECIAL) do
    if v == rp then
      local g, r = gr:match("^(.-)/(.*)$")
      if g ~= "extensions" then return g, r end
    end
  end
  local g, r = rp:match("^(.+%..+)/([^/]+)$")
  if g then return g, r end
  for _, e in ipairs(entries()) do
    if e.name == rp and BUILTIN_GROUPS[e.group] then return e.group, e.name end
  end
  return "", rp
end

return M
