#!/usr/bin/env bash
# Installs Chromium from Debian's packages for the Web UI test (test/webui drives it
# headless with chromedp). Idempotent: prints the version when a chromium,
# chromium-browser or google-chrome binary is already on PATH.
set -euo pipefail

find_chromium() {
  local b
  for b in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$b" >/dev/null 2>&1; then
      command -v "$b"
      return 0
    fi
  done
  return 1
}

if ! chromium_bin=$(find_chromium); then
  SUDO=
  if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
  chromium_bin=$(find_chromium) || { echo "install-chromium: no chromium on PATH after installing it" >&2; exit 1; }
fi

echo "chromium: $chromium_bin"
"$chromium_bin" --version 2>/dev/null || true
