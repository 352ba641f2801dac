#!/usr/bin/env bash
# Installs Chromium from Debian's packages for the Web UI test (test/webui drives it
# headless with chromedp). Idempotent: prints the version when a chromium,
# chromium-browser or google-chrome binary is already on PATH.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

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
  apt_install chromium >/dev/null
  chromium_bin=$(find_chromium) || { echo "install-chromium: no chromium on PATH after installing it" >&2; exit 1; }
fi

echo "chromium: $chromium_bin"
"$chromium_bin" --version 2>/dev/null || true
