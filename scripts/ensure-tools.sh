#!/usr/bin/env bash
# Installs the tools `make test` needs besides Go and Postgres, if they are missing:
#   promtool        (Debian's prometheus package): checks /metrics, alert rules and rule tests
#   docker-compose  (Debian's docker-compose 1.29): validates docker-compose.yml (no engine needed)
# Idempotent: with both on PATH it does nothing. Installing needs root (or sudo) and apt.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "missing ${need[*]}: install them as root: apt-get install --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing ${need[*]} and no apt-get: install promtool and docker-compose by hand" >&2
  exit 1
fi

# The prometheus package's postinst starts its service; where there is no init system
# (containers, CI) that must not happen or fail the install. invoke-rc.d asks policy-rc.d,
# and exit 101 means "do not start"; put one in place for the install if there is none.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

echo "installing ${need[*]} (apt) for the tests" >&2
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q)
if ! "${apt[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null; then
  "${apt[@]}" update >/dev/null
  "${apt[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null
fi
# The server itself is not needed: stop it if an init system started it anyway.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null && command -v docker-compose >/dev/null
