#!/usr/bin/env bash
# Installs what the browser test (internal/e2e/ui_reset_test.go) needs, if it is missing:
#   /usr/bin/chromium        Debian's chromium package (Playwright never downloads a browser here)
#   ui-tests/node_modules    playwright-core, pinned in ui-tests/package-lock.json (npm ci)
#   fonts-wqy-zenhei         a CJK font, so screenshots show DingTalk's Chinese messages
# Node.js and npm themselves come from Debian's nodejs and npm packages when they are missing.
# Idempotent: with everything in place it does nothing. apt needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "missing ${need[*]}: install them as root: apt-get install --no-install-recommends ${need[*]}" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "installing ${need[*]} (apt) for the browser test" >&2
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q)
  if ! "${apt[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null; then
    "${apt[@]}" update >/dev/null
    "${apt[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

# npm ci writes node_modules/.package-lock.json: reinstall when the lock file is newer.
if [ ! -f ui-tests/node_modules/.package-lock.json ] || [ ui-tests/package-lock.json -nt ui-tests/node_modules/.package-lock.json ]; then
  echo "installing ui-tests' npm packages (npm ci)" >&2
  (cd ui-tests && npm ci --no-audit --no-fund --loglevel=error)
fi
