#!/usr/bin/env bash
# Regenerates everything derived from the API types in api/:
#   api/*/v1/zz_generated.deepcopy.go   controller-gen object
#   deploy/crds/*.yaml                  controller-gen crd (one file per CRD)
#   client/clientset/versioned          client-gen
#   client/listers                      lister-gen
#   client/informers/externalversions   informer-gen
#
# Usage: hack/update-codegen.sh [ROOT]
#   ROOT (default: the repository) is the tree to generate into; it must hold
#   go.mod, go.sum, hack/boilerplate.go.txt and api/. hack/verify-codegen.sh
#   uses it to generate into a scratch copy and diff.
# The generators are built into bin/ by hack/build-tools.sh (versions pinned
# in tools/go.mod).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "${1:-$repo}" && pwd)
export GOTOOLCHAIN=local

"$repo/hack/build-tools.sh" controller-gen client-gen lister-gen informer-gen >&2
bin=$repo/bin
mod=github.com/certflow/certflow
header=$root/hack/boilerplate.go.txt
apis=("$mod/api/certmanager/v1" "$mod/api/acme/v1")

cd "$root"

echo ">> deepcopy" >&2
"$bin/controller-gen" object:headerFile="$header" paths=./api/...

echo ">> CRDs" >&2
mkdir -p deploy/crds
rm -f deploy/crds/*.yaml
"$bin/controller-gen" crd:crdVersions=v1 paths=./api/... output:crd:dir=deploy/crds

echo ">> clientset, listers, informers" >&2
rm -rf client/clientset client/listers client/informers
"$bin/client-gen" \
  --go-header-file "$header" \
  --clientset-name versioned \
  --input-base "" \
  --input "$(IFS=,; echo "${apis[*]}")" \
  --output-dir client/clientset \
  --output-pkg "$mod/client/clientset"
"$bin/lister-gen" \
  --go-header-file "$header" \
  --output-dir client/listers \
  --output-pkg "$mod/client/listers" \
  "${apis[@]}"
"$bin/informer-gen" \
  --go-header-file "$header" \
  --versioned-clientset-package "$mod/client/clientset/versioned" \
  --listers-package "$mod/client/listers" \
  --output-dir client/informers \
  --output-pkg "$mod/client/informers" \
  "${apis[@]}"
echo ">> done" >&2
