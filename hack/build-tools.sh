#!/usr/bin/env bash
# Builds the local stack's servers and the dev tools from Go modules into bin/.
# Each tool is rebuilt only when its version stamp in bin/ is missing or different,
# so a warm run costs a few stat calls. Usage: hack/build-tools.sh [tool...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/bin
mkdir -p "$bin"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
TEMPORAL_CLI_VERSION=1.5.1
PEBBLE_VERSION=v2.10.3
HELM_VERSION=v4.3.2
# HashiCorp Vault, for the Vault issuer's integration tests only: its licence (BSL)
# allows it as a test fixture; bin/vault is never shipped or bundled in the image or chart.
VAULT_VERSION=v1.21.4

# stamp NAME VERSION: true when bin/NAME was built at VERSION.
fresh() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.version" 2>/dev/null)" = "$2" ]; }
done_() { echo "$2" > "$bin/.$1.version"; }

build() { # build NAME VERSION MODULE_DIR PACKAGE [LDFLAGS]
  local name=$1 version=$2 dir=$3 pkg=$4 ldflags=${5:-}
  if fresh "$name" "$version"; then return 0; fi
  local start=$SECONDS
  echo ">> building $name $version (cold builds take minutes; logs stream below)" >&2
  (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$bin/$name" "$pkg")
  done_ "$name" "$version"
  echo ">> built $name in $((SECONDS - start))s" >&2
}

k8s_ldflags() {
  local v=$K8S_VERSION major minor
  major=$(echo "${v#v}" | cut -d. -f1); minor=$(echo "${v#v}" | cut -d. -f2)
  local f=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f="$f -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "$f"
}

tool() {
  case $1 in
    etcd) build etcd "$ETCD_VERSION" tools/etcd go.etcd.io/etcd/server/v3 ;;
    kube-apiserver) build kube-apiserver "$K8S_VERSION" tools/kube k8s.io/kubernetes/cmd/kube-apiserver "$(k8s_ldflags)" ;;
    kubectl) build kubectl "$K8S_VERSION" tools/kube k8s.io/kubernetes/cmd/kubectl "$(k8s_ldflags)" ;;
    temporal) build temporal "$TEMPORAL_CLI_VERSION" tools/temporal github.com/temporalio/cli/cmd/temporal \
      "-X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_CLI_VERSION" ;;
    # The Temporal server and its SQL schema tool, of the release the CLI embeds: make
    # bench runs them on PostgreSQL (internal/localstack/temporalpg.go).
    temporal-server) build temporal-server "$(temporal_server_version)" tools/temporal go.temporal.io/server/cmd/server ;;
    temporal-sql-tool) build temporal-sql-tool "$(temporal_server_version)" tools/temporal go.temporal.io/server/cmd/tools/sql ;;
    helm) build helm "$HELM_VERSION" tools/helm helm.sh/helm/v4/cmd/helm \
      "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" ;;
    pebble) build pebble "$PEBBLE_VERSION" tools github.com/letsencrypt/pebble/v2/cmd/pebble ;;
    pebble-challtestsrv) build pebble-challtestsrv "$PEBBLE_VERSION" tools github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv ;;
    controller-gen) build controller-gen "$(tools_version sigs.k8s.io/controller-tools)" tools sigs.k8s.io/controller-tools/cmd/controller-gen ;;
    client-gen|lister-gen|informer-gen) build "$1" "$(tools_version k8s.io/code-generator)" tools "k8s.io/code-generator/cmd/$1" ;;
    # The local stack's DNS-01 webhook (a nested module on cert-manager's webhook library);
    # stamped with a hash of its sources, which live in this repository.
    certflow-dnswebhook) build certflow-dnswebhook "$(cat tools/dnswebhook/go.mod tools/dnswebhook/go.sum tools/dnswebhook/*.go | sha256sum | cut -c1-16)" \
      tools/dnswebhook . ;;
    workflowcheck) build workflowcheck "$(tools_version go.temporal.io/sdk/contrib/tools/workflowcheck)" tools go.temporal.io/sdk/contrib/tools/workflowcheck ;;
    vault) # its sdk module is patched first (hack/vault-sdk.sh); the stamp names the patch
      local v="$VAULT_VERSION+sdk-patch.$(sha256sum tools/vault/sdk.patch hack/vault-sdk.sh | sha256sum | cut -c1-12)"
      fresh vault "$v" || hack/vault-sdk.sh
      build vault "$v" tools/vault github.com/hashicorp/vault ;;
    *) echo "unknown tool $1" >&2; return 2 ;;
  esac
}

tools_version() { (cd tools && go list -m -f '{{.Version}}' "$1"); }
temporal_server_version() { (cd tools/temporal && go list -m -f '{{.Version}}' go.temporal.io/server); }

if [ $# -eq 0 ]; then
  set -- etcd kube-apiserver kubectl temporal pebble pebble-challtestsrv certflow-dnswebhook helm controller-gen workflowcheck
fi
for t in "$@"; do tool "$t"; done
