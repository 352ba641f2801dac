#!/usr/bin/env bash
# Installs buildah from Debian's packages for `make image` (no container engine or
# registry is needed: the image is built from scratch and written to an OCI archive).
# Idempotent: prints the version when buildah is already there.
set -euo pipefail
if ! command -v buildah >/dev/null 2>&1; then
  SUDO=
  if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq --no-install-recommends buildah >/dev/null
fi
buildah --version
