#!/usr/bin/env bash
# Fills the build context of the Containerfile: static certflow-worker, certflow-k8swatch
# and starter (CGO off, stripped, reproducible paths) and the machine's CA bundle.
# Usage: hack/image-context.sh DIR
set -euo pipefail
dir=${1:?usage: hack/image-context.sh DIR}
mkdir -p "$dir"
for cmd in certflow-worker certflow-k8swatch starter; do
  CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -ldflags='-s -w' -o "$dir/$cmd" "./cmd/$cmd"
done
bundle=/etc/ssl/certs/ca-certificates.crt
if [ ! -s "$bundle" ]; then
  echo "no CA bundle at $bundle (Debian's ca-certificates)" >&2
  exit 1
fi
cp "$bundle" "$dir/ca-certificates.crt"
