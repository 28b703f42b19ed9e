#!/usr/bin/env bash
# Makes sure the Postgres server of DATABASE_URL (default 127.0.0.1:5432) answers; on a
# Debian machine with a local cluster that is down, starts it.
set -euo pipefail
url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/dingsync?sslmode=disable}
hostport=${url#*@}; hostport=${hostport%%/*}
host=${hostport%%:*}; port=${hostport##*:}; [ "$port" = "$host" ] && port=5432

answers() { timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; }

answers && exit 0
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "Postgres at $host:$port is down: starting the local cluster" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  for _ in $(seq 1 30); do answers && exit 0; sleep 1; done
fi
cat >&2 <<MSG
Postgres does not answer at $host:$port.
Start one (Debian: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start),
or point DATABASE_URL at a running server, e.g.
  export DATABASE_URL=postgres://user:password@dbhost:5432/dingsync?sslmode=disable
MSG
exit 1
