#!/usr/bin/env bash
# Installs ISC BIND 9 (named) from Debian's packages for the RFC2136 DNS-01 tests
# (internal/localstack/bind runs its own named on a loopback high port). Idempotent: does
# nothing but print the version when named is already on PATH or at /usr/sbin/named.
# The package's own system-wide service is stopped and disabled again if its
# postinst started it, so nothing is left listening on port 53.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

find_named() {
  if command -v named >/dev/null 2>&1; then
    command -v named
  elif [ -x /usr/sbin/named ]; then
    echo /usr/sbin/named
  else
    return 1
  fi
}

if ! named_bin=$(find_named); then
  running_before=0
  if pgrep -x named >/dev/null 2>&1; then running_before=1; fi
  apt_install --no-start bind9 bind9-utils
  SUDO=
  if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
  fi

  # If the postinst started the system service anyway, stop and disable it: the
  # harness runs its own named. Only a named that was not running before is stopped.
  if [ "$running_before" = 0 ] && pgrep -x named >/dev/null 2>&1; then
    $SUDO service named stop >/dev/null 2>&1 || $SUDO service bind9 stop >/dev/null 2>&1 || true
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now named >/dev/null 2>&1 || true
  fi
  if command -v update-rc.d >/dev/null 2>&1; then
    $SUDO update-rc.d named disable >/dev/null 2>&1 || true
  fi
  named_bin=$(find_named) || { echo "install-bind: named still not found after installing bind9" >&2; exit 1; }
fi

echo "named: $named_bin"
"$named_bin" -v
