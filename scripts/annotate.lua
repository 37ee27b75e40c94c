-- annotate: add, change or remove annotations (kubectl annotate)
-- usage: annotate RESOURCE NAME... | TYPE/NAME... | RESOURCE -l SEL | RESOURCE --all  KEY=VALUE... KEY-...
--   --overwrite          replace an annotation that has another value
--   -l, --selector SEL; --all; -n NS; --dry-run=server; -o name|json|yaml; --field-manager NAME
--   --context, --kubeconfig, -s/--server, --token, --insecure-skip-tls-verify, --request-timeout
return require("k8s.cli").metadata_command(arg, "annotations")
