#!/usr/bin/env bash
# Copies the standard-channel Gateway API CRDs that certflow's HTTP-01 solver needs
# (GatewayClass, Gateway, HTTPRoute, ReferenceGrant) and the gateway-shim reads
# (ListenerSet) from the sigs.k8s.io/gateway-api module pinned in go.mod into
# deploy/gateway-api/, unchanged. The local stack
# installs them next to deploy/crds so HTTPRoutes can be created.
#
# Usage:
#   hack/update-gateway-api.sh            write deploy/gateway-api/*.yaml
#   hack/update-gateway-api.sh --verify   fail when deploy/gateway-api/ differs from the module
# The module comes from the Go module cache (downloaded through the proxy if missing);
# a version bump in go.mod followed by `make generate` updates the copies.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

module=sigs.k8s.io/gateway-api
crds=(gatewayclasses gateways httproutes listenersets referencegrants)
out=deploy/gateway-api

verify=0
case "${1:-}" in
  "") ;;
  --verify) verify=1 ;;
  *) echo "usage: $0 [--verify]" >&2; exit 2 ;;
esac

version=$(go list -m -f '{{.Version}}' "$module")
dir=$(go list -m -f '{{.Dir}}' "$module")
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  go mod download "$module"
  dir=$(go list -m -f '{{.Dir}}' "$module")
fi
src=$dir/config/crd/standard
if [ ! -d "$src" ]; then
  echo "update-gateway-api: $src not found ($module $version)" >&2
  exit 1
fi

target=$out
if [ $verify = 1 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  target=$tmp/gateway-api
fi
mkdir -p "$target"
rm -f "$target"/gateway.networking.k8s.io_*.yaml
for c in "${crds[@]}"; do
  f=gateway.networking.k8s.io_$c.yaml
  # The module cache is read-only: install gives the copy ordinary permissions.
  install -m 0644 "$src/$f" "$target/$f"
done

if [ $verify = 1 ]; then
  if ! diff -r -x '*.md' "$target" "$out" >"$tmp/diff.txt" 2>&1; then
    echo "deploy/gateway-api/ is not $module $version's standard CRDs; run 'make generate':" >&2
    head -n 20 "$tmp/diff.txt" >&2
    exit 1
  fi
  echo "deploy/gateway-api/ matches $module $version" >&2
else
  echo ">> Gateway API CRDs of $module $version (standard channel) in $out/" >&2
fi
