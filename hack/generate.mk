# Code generation for the API types (api/), included by the top-level Makefile.
#   make generate         regenerate deepcopy, CRDs (deploy/crds), the typed client
#                         (client/: clientset, listers, informers) and the copies of the
#                         Gateway API CRDs in deploy/gateway-api (from the module in go.mod),
#                         then what comes from the Helm chart deploy/charts/certflow: its CRD
#                         templates (from deploy/crds), deploy/rbac/rbac.yaml and the static
#                         bundle deploy/certflow.yaml, the admission policies
#                         deploy/admission/policies.yaml (hack/update-chart.sh)
#   make verify-generate  fail when any generated file is stale

.PHONY: generate verify-generate
generate:
	hack/update-codegen.sh
	hack/update-gateway-api.sh
	hack/update-chart.sh

verify-generate:
	hack/verify-codegen.sh
	hack/update-gateway-api.sh --verify
	hack/update-chart.sh --verify
