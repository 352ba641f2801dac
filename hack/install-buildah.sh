#!/usr/bin/env bash
# Installs buildah from Debian's packages for `make image` (no container engine or
# registry is needed: the image is built from scratch and written to an OCI archive).
# Idempotent: prints the version when buildah is already there.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"
if ! command -v buildah >/dev/null 2>&1; then
  apt_install buildah >/dev/null
fi
buildah --version
