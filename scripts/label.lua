-- label: add, change or remove labels (kubectl label)
-- usage: label RESOURCE NAME... | TYPE/NAME... | RESOURCE -l SEL | RESOURCE --all  KEY=VALUE... KEY-...
--   --overwrite          replace a label that has another value
--   -l, --selector SEL; --all; -n NS; --dry-run=server; -o name|json|yaml; --field-manager NAME
--   --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
return require("k8s.cli").metadata_command(arg, "labels")
