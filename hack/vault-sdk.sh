#!/usr/bin/env bash
# Prepares tools/vault/sdk-patched, the sdk module HashiCorp Vault v1.21.4 is built with
# (tools/vault/go.mod replaces github.com/hashicorp/vault/sdk with it): Vault's published
# sdk v0.21.0 does not compile with Vault v1.21.4's own code, so it is taken from the
# module cache, helper/keysutil/lock_manager.go is taken from sdk v0.25.1, and
# tools/vault/sdk.patch (ours) fixes the rest. Nothing of Vault's source is committed.
# Vault is a test fixture only (BSL licence): never shipped in the image or chart.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/tools/vault/sdk-patched
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

moddir() { # moddir MODULE@VERSION: its directory in the module cache (downloaded if missing)
  (cd "$(mktemp -d)" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}
base=$(moddir github.com/hashicorp/vault/sdk@v0.21.0)
newer=$(moddir github.com/hashicorp/vault/sdk@v0.25.1)
[ -d "$base" ] && [ -d "$newer" ] || { echo "vault-sdk: module download failed" >&2; exit 1; }

rm -rf "$out"
cp -r "$base" "$out"
chmod -R u+w "$out"
cp "$newer/helper/keysutil/lock_manager.go" "$out/helper/keysutil/lock_manager.go"
chmod u+w "$out/helper/keysutil/lock_manager.go"
# git apply, not patch(1), which a fresh machine may lack; paths are relative to the repo.
git apply -p1 --directory=tools/vault/sdk-patched "$root/tools/vault/sdk.patch"
