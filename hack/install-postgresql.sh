#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages for the cost curve of `make bench` against a
# Temporal server on PostgreSQL (internal/localstack runs its own postgres on a loopback
# high port, in the run's state directory). Idempotent: prints the server's directory
# when a postgres binary is already installed. The package's own cluster service is
# kept from starting (policy-rc.d), so nothing is left listening on port 5432.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

find_pg() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

if ! pg_bin=$(find_pg); then
  apt_install --no-start postgresql
  pg_bin=$(find_pg) || { echo "install-postgresql: postgres still not found after installing postgresql" >&2; exit 1; }
fi

echo "postgres: $pg_bin"
"$pg_bin/postgres" --version
