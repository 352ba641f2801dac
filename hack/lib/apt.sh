# Sourced by hack/install-*.sh: installs Debian packages for the project's tests and
# builds, with sudo when not root.
#
#   apt_install [--no-start] PACKAGE...
#
# Installs from the cached package lists first and updates them only if that fails.
# --no-start keeps the packages' system services from starting (a policy-rc.d that
# refuses them, removed or restored afterwards): the tests run their own servers on
# loopback high ports, and nothing may be left listening on the well-known ones.

apt_install() {
  local no_start=0
  if [ "${1:-}" = --no-start ]; then
    no_start=1
    shift
  fi
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  local policy=/usr/sbin/policy-rc.d policy_backup=
  if [ "$no_start" = 1 ]; then
    if [ -e "$policy" ]; then
      policy_backup=$(mktemp)
      $sudo cp -p "$policy" "$policy_backup"
    fi
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 0755 "$policy"
  fi
  local status=0
  if ! $sudo apt-get install -y -qq --no-install-recommends "$@"; then
    $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$@" || status=$?
  fi
  if [ "$no_start" = 1 ]; then
    if [ -n "$policy_backup" ]; then
      $sudo cp -p "$policy_backup" "$policy"
      rm -f "$policy_backup"
    else
      $sudo rm -f "$policy"
    fi
  fi
  return "$status"
}
