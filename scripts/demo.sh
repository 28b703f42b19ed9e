#!/usr/bin/env bash
# make demo: a whole dingsync on this machine, on the embedded defaults. It starts a Temporal
# dev server (UI on :8233), the DingTalk simulator with a 2,000-employee org, and a worker;
# binds the corp (verification, permissions, snapshot, event callback, initial full sync),
# changes the org in the simulator — the pushed events apply by themselves — shows the audit
# trail, shows a full sync finding nothing left to do, an audit finding and repairing a change
# made behind dingsync's back, the schedules, the binding's status and a summary, then streams
# live changes until Ctrl-C. Everything it started stops when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

state=.dingsync/demo
mkdir -p "$state"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
wait_http() { # url what
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "$2 did not come up: see $state/*.log" >&2; exit 1
}

# The demo keeps its own database so every run starts from the same empty store.
base=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/dingsync?sslmode=disable}
export DATABASE_URL=${base%%\?*}_demo
[[ $base == *\?* ]] && DATABASE_URL="$DATABASE_URL?${base#*\?}"
psql "${base%/*}/postgres" -qc "DROP DATABASE IF EXISTS $(basename "${DATABASE_URL%%\?*}") WITH (FORCE)" >/dev/null

# A credentials key for this machine's demo, made once (production keeps it in a secret store).
[ -s .dingsync/secret.key ] || openssl rand -base64 32 > .dingsync/secret.key
export DINGSYNC_SECRET_KEY=$(cat .dingsync/secret.key)
[ -s "$state/app-secret" ] || openssl rand -hex 16 > "$state/app-secret"

export TEMPORAL_ADDRESS=127.0.0.1:7233
export DINGTALK_OAPI_BASE_URL=http://127.0.0.1:18080 DINGTALK_API_BASE_URL=http://127.0.0.1:18080
export DINGSYNC_METRICS_ADDR=127.0.0.1:9464 DINGSYNC_HTTP_ADDR=127.0.0.1:8088 DINGTALK_LOGIN_BASE_URL=http://127.0.0.1:18080
corp=dingdemo0001 appkey=dingdemoappkey

step "Temporal dev server (UI: http://127.0.0.1:8233)"
bin/temporal server start-dev --ip 127.0.0.1 --ui-port 8233 --log-level error \
  --search-attribute CorpId=Keyword --search-attribute SyncKind=Keyword --search-attribute BindingStatus=Keyword \
  >"$state/temporal.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:8233 "the Temporal dev server"

step "DingTalk simulator with a 2,000-employee org"
bin/dingtalk-sim --addr 127.0.0.1:18080 --corp-id $corp --app-key $appkey \
  --app-secret-file "$state/app-secret" --employees 2000 --seed 7 >"$state/simulator.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:18080/_sim/calls?corpId=$corp" "the simulator"

step "worker (metrics: http://$DINGSYNC_METRICS_ADDR/metrics)"
bin/worker >"$state/worker.log" 2>&1 &
pids+=($!)
wait_http "http://$DINGSYNC_METRICS_ADDR/metrics" "the worker"

step "bind the corp: verify, check every permission, snapshot, register events, initial full sync"
callback=http://$DINGSYNC_HTTP_ADDR/dingtalk/callback/$corp
echo "starter bind --corp-id $corp --app-key $appkey --agent-id 1001 --app-secret-file ... --callback-url $callback"
bin/starter bind --corp-id $corp --app-key $appkey --agent-id 1001 --app-secret-file "$state/app-secret" \
  --callback-url "$callback" --actor demo

step "meanwhile in DingTalk: a department is renamed and an employee leaves"
dept=$(curl -fsS "http://127.0.0.1:18080/_sim/truth?corpId=$corp" | python3 -c 'import json,sys; t=json.load(sys.stdin); print([d for d in t["departments"] if d["dept_id"]!=1][0]["dept_id"])')
user=$(curl -fsS "http://127.0.0.1:18080/_sim/truth?corpId=$corp" | python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["users"][3]["userid"])')
curl -fsS -X PATCH "http://127.0.0.1:18080/_sim/departments/$dept?corpId=$corp" -d '{"name":"数字化转型部"}' >/dev/null
curl -fsS -X DELETE "http://127.0.0.1:18080/_sim/users/$user?corpId=$corp" >/dev/null
echo "renamed department $dept, removed user $user; DingTalk pushes both events to $callback"
sleep 2

step "incremental sync applied them: starter changes --corp-id $corp --dept-id $dept / --userid $user"
bin/starter changes --corp-id $corp --dept-id "$dept"
bin/starter changes --corp-id $corp --userid "$user"

step "a full sync now finds nothing left to do: starter sync full --corp-id $corp --wait"
bin/starter sync full --corp-id $corp --wait

step "a consistency audit: someone edits the HR store behind dingsync's back, the audit finds it, --repair fixes it"
psql "$DATABASE_URL" -qc "UPDATE employees SET attrs = jsonb_set(attrs, '{title}', '\"手改的职位\"') WHERE corp_id = '$corp' AND userid = (SELECT userid FROM employees WHERE corp_id = '$corp' AND status = 'active' ORDER BY userid LIMIT 1)"
bin/starter audit run --corp-id $corp --repair --wait
bin/starter audit show --corp-id $corp --findings 3

step "the corp's schedules (daily audit, nightly full sync): starter schedules list --corp-id $corp"
bin/starter schedules list --corp-id $corp

step "the sync log: starter runs --corp-id $corp"
bin/starter runs --corp-id $corp --limit 8

step "the binding: starter status --corp-id $corp"
bin/starter status --corp-id $corp

summary=$(psql "$DATABASE_URL" -Atc "SELECT
  (SELECT count(*) FROM employees WHERE corp_id = '$corp' AND status = 'active'),
  (SELECT count(*) FROM departments WHERE corp_id = '$corp' AND status = 'active'),
  (SELECT coalesce(sum(api_calls), 0) FROM sync_runs WHERE corp_id = '$corp'),
  (SELECT count(*) FROM sync_runs WHERE corp_id = '$corp')" | tr '|' ' ')
read -r employees departments calls runs <<<"$summary"
cat <<MSG

$(printf '\033[1m')Summary$(printf '\033[0m'): $employees employees in $departments departments in the HR store, $runs runs, $calls DingTalk API calls, ${SECONDS}s.
Where to look:
  Temporal UI   http://127.0.0.1:8233/namespaces/default/workflows?query=CorpId%3D%22$corp%22
  schedules     http://127.0.0.1:8233/namespaces/default/schedules
  metrics       http://$DINGSYNC_METRICS_ADDR/metrics   (dingsync_*)
  the binding   bin/starter status --corp-id $corp
  HR store      psql $DATABASE_URL -c 'select userid, name, title, status from hr_employees limit 5'
MSG

# A live stream of changes in DingTalk, each pushed as an event and applied by incremental
# sync: until Ctrl-C on a terminal, five changes otherwise.
users=$(curl -fsS "http://127.0.0.1:18080/_sim/truth?corpId=$corp" | python3 -c 'import json,sys; print(" ".join(u["userid"] for u in json.load(sys.stdin)["users"][:200]))')
read -ra users <<<"$users"
rounds=5
if [ -t 0 ]; then
  rounds=-1
  step "live: the simulator changes an employee's title every 2 s; each change reaches the store by itself (Ctrl-C stops everything)"
else
  step "live: five changes in DingTalk, each reaching the store by itself"
fi
for ((i = 1; rounds < 0 || i <= rounds; i++)); do
  u=${users[RANDOM % ${#users[@]}]}
  curl -fsS -X PATCH "http://127.0.0.1:18080/_sim/users/$u?corpId=$corp" -d "{\"title\":\"实时职位$i\"}" >/dev/null
  sleep 2
  line=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FILTER (WHERE status = 'applied'),
      coalesce(round(extract(epoch FROM (SELECT applied_at - event_time FROM inbox_events WHERE corp_id = '$corp' AND status = 'applied' ORDER BY applied_at DESC LIMIT 1)) * 1000), 0),
      (SELECT attrs ->> 'title' FROM employees WHERE corp_id = '$corp' AND userid = '$u')
    FROM inbox_events WHERE corp_id = '$corp'" | tr '|' ' ')
  read -r applied lag title <<<"$line"
  printf '  change %-3d %-24s title in the store: %-12s events applied: %-5s last event to store: %s ms\n' "$i" "$u" "$title" "$applied" "$lag"
done
