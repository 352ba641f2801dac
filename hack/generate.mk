# Code generation for the API types (api/), included by the top-level Makefile.
#   make generate         regenerate deepcopy, CRDs (deploy/crds) and the typed
#                         client (client/: clientset, listers, informers)
#   make verify-generate  fail when any generated file is stale

.PHONY: generate verify-generate
generate:
	hack/update-codegen.sh

verify-generate:
	hack/verify-codegen.sh
