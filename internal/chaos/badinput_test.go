package chaos

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/testenv"
)

// storeTables are the tables bad input must leave untouched.
var storeTables = []string{"bindings", "credentials", "ops_log", "sync_runs", "sync_changes", "employees",
	"departments", "employee_departments", "inbox_events", "hr_snapshots", "audit_reports", "oauth_states"}

// rows counts the rows of every store table.
func (h *harness) rows() map[string]int {
	m := map[string]int{}
	for _, table := range storeTables {
		m[table] = h.count(`SELECT count(*) FROM ` + table)
	}
	return m
}

// assertRowsUnchanged fails if any table's row count differs from before.
func (h *harness) assertRowsUnchanged(what string, before map[string]int) {
	h.t.Helper()
	for table, n := range h.rows() {
		if n != before[table] {
			h.t.Errorf("%s: %s has %d rows, had %d: bad input wrote to the store", what, table, n, before[table])
		}
	}
}

// writeFile writes a file in the test's temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// failed is an exit code of 1 or 2: a bad environment or a missing file is a failure of the
// command's setting, reported with its fix, whichever of the two the starter chooses.
const failed = -1

// TestChaosBadCLIInput runs the starter with bad flags, bad --config files and bad
// environment: each is refused with an error that names the cause and the way out, usage
// errors exit 2, and nothing is written to the store.
func TestChaosBadCLIInput(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 751, Employees: 20})
	h.bind() // a bound corp, so commands get past "bind it first"
	secret := h.secretFile(h.appSecret)
	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	cfg := func(yaml string) string { return writeFile(t, "corp-"+randomHex(3)+".yaml", yaml) }
	cases := []struct {
		name string
		env  []string
		args []string
		code int      // the exit code wanted (failed: 1 or 2)
		want []string // what the error must say (cause and fix)
	}{
		{"no corp", nil, []string{"bind", "--app-key", h.appKey, "--app-secret-file", secret}, 2,
			[]string{"--corp-id is required", "管理后台"}},
		{"bad corp id", nil, []string{"bind", "--corp-id", "bad corp!", "--app-key", h.appKey, "--app-secret-file", secret}, 2,
			[]string{"is not a CorpId", "e.g."}},
		{"agent id not a number", nil, []string{"bind", "--corp-id", h.corpID, "--app-key", h.appKey, "--agent-id", "abc"}, 2,
			[]string{"--agent-id", "abc"}},
		{"negative agent id", nil, []string{"bind", "--corp-id", "dingnew1", "--app-key", h.appKey, "--agent-id", "-3", "--app-secret-file", secret}, 2,
			[]string{"AgentId must be positive", "凭证与基础信息"}},
		{"callback URL not http", nil, []string{"bind", "--corp-id", "dingnew1", "--app-key", h.appKey, "--app-secret-file", secret,
			"--callback-url", "ftp://example.com/x"}, 2, []string{"callback"}},
		{"config: wrong type", nil, []string{"bind", "--config", cfg("corp_id: dingnew1\napp_key: " + h.appKey + "\nagent_id: lots\napp_secret_file: " + secret + "\n")}, 2,
			[]string{"agent_id", "keys: corp_id"}},
		{"config: unknown key", nil, []string{"bind", "--config", cfg("corp_id: dingnew1\napp_key: " + h.appKey + "\napp_secret: hunter2\n")}, 2,
			[]string{"app_secret", "secrets go in app_secret_file"}},
		{"config: list for a string", nil, []string{"bind", "--config", cfg("corp_id: [a, b]\n")}, 2, []string{"corp_id"}},
		{"config: not YAML", nil, []string{"bind", "--config", cfg("\x00\x01{{{: : :\n\t-")}, 2, []string{"--config"}},
		{"config: missing file", nil, []string{"bind", "--config", "/nonexistent/corp.yaml"}, 2, []string{"--config", "/nonexistent/corp.yaml"}},
		{"secret file missing", nil, []string{"bind", "--corp-id", "dingnew1", "--app-key", h.appKey, "--app-secret-file", "/nonexistent/secret"}, failed,
			[]string{"AppSecret", "/nonexistent/secret"}},
		{"secret file empty", nil, []string{"bind", "--corp-id", "dingnew1", "--app-key", h.appKey, "--app-secret-file", writeFile(t, "empty", "")}, failed,
			[]string{"AppSecret"}},
		{"secret key too short", []string{"DINGSYNC_SECRET_KEY=" + short}, []string{"bind", "--corp-id", "dingnew1", "--app-key", h.appKey, "--app-secret-file", secret}, failed,
			[]string{"DINGSYNC_SECRET_KEY", "32", "openssl rand -base64 32"}},
		{"secret key not base64", []string{"DINGSYNC_SECRET_KEY=not base64!"}, []string{"rotate", "--corp-id", h.corpID, "--app-secret-file", secret}, failed,
			[]string{"DINGSYNC_SECRET_KEY", "openssl rand -base64 32"}},
		{"unknown command", nil, []string{"frobnicate"}, 2, []string{"unknown command", "frobnicate"}},
		{"unknown flag", nil, []string{"sync", "full", "--corp-id", h.corpID, "--bogus"}, 2, []string{"unknown flag", "--bogus"}},
		{"flag without value", nil, []string{"sync", "full", "--corp-id"}, 2, []string{"--corp-id"}},
		{"run id not a number", nil, []string{"runs", "--run-id", "abc"}, 2, []string{"--run-id"}},
		{"negative grace", nil, []string{"rotate", "--corp-id", h.corpID, "--callback", "--grace", "-5m"}, 2, []string{"--grace"}},
		{"rotate both ways", nil, []string{"rotate", "--corp-id", h.corpID, "--callback", "--app-secret-file", secret}, 2,
			[]string{"either --app-secret-file", "or --callback"}},
		{"bad cron", nil, []string{"schedules", "update", "--corp-id", h.corpID, "--audit-cron", "every tuesday", "--by", "chaos"}, 2,
			[]string{"every tuesday"}},
		{"Temporal unreachable", []string{"TEMPORAL_ADDRESS=127.0.0.1:1"}, []string{"bind", "--corp-id", "dingnew1", "--app-key", h.appKey, "--app-secret-file", secret}, 1,
			[]string{"TEMPORAL_ADDRESS", "make dev-server"}},
		{"database URL garbage", []string{"DATABASE_URL=postgres://%zz"}, []string{"runs", "--corp-id", h.corpID}, 1, []string{"DATABASE_URL"}},
	}
	before := h.rows()
	for _, c := range cases {
		out, code := h.starterEnv(c.env, "", c.args...)
		sc.fault("bad inputs", 1)
		if code != c.code && !(c.code == failed && (code == 1 || code == 2)) {
			t.Errorf("%s: starter %s exited %d, want %d:\n%s", c.name, strings.Join(c.args, " "), code, c.code, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the error does not say %q:\n%s", c.name, w, out)
			}
		}
		h.assertRowsUnchanged(c.name, before)
	}
}

// TestChaosBadWorkerConfig starts the worker with bad environment: each start fails at once
// with an error naming the variable and what it wants, and writes no row.
func TestChaosBadWorkerConfig(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 752, Employees: 20})
	h.bind()
	cases := []struct {
		env  string
		want []string
	}{
		{"DINGTALK_QPS=abc", []string{"DINGTALK_QPS", "positive number"}},
		{"DINGTALK_QPS=-5", []string{"DINGTALK_QPS", "positive number"}},
		{"DINGTALK_QPS=NaN", []string{"DINGTALK_QPS", "positive number"}},
		{"DINGTALK_IP_CALLS_PER_20S=lots", []string{"DINGTALK_IP_CALLS_PER_20S", "whole number"}},
		{"DINGSYNC_SECRET_KEY=" + base64.StdEncoding.EncodeToString([]byte("short")), []string{"DINGSYNC_SECRET_KEY", "openssl rand -base64 32"}},
		{"DINGSYNC_SECRET_KEY=", []string{"DINGSYNC_SECRET_KEY", "openssl rand -base64 32"}},
		{"DINGSYNC_CRAWL_CONCURRENCY=100000", []string{"DINGSYNC_CRAWL_CONCURRENCY", "from 1 to 256"}},
		{"DINGSYNC_MAX_CONCURRENT_ACTIVITIES=0", []string{"DINGSYNC_MAX_CONCURRENT_ACTIVITIES", "from 1 to"}},
		{"DINGTALK_OAPI_BASE_URL=oapi.dingtalk.com", []string{"DINGTALK_OAPI_BASE_URL", "http(s) URL"}},
		{"DINGSYNC_HTTP_ADDR=not-an-address", []string{"DINGSYNC_HTTP_ADDR"}},
		{"DINGSYNC_METRICS_ADDR=127.0.0.1:99999", []string{"DINGSYNC_METRICS_ADDR"}},
		{"DINGSYNC_SCHEDULE_TIMEZONE=Mars/Olympus_Mons", []string{"DINGSYNC_SCHEDULE_TIMEZONE", "Mars/Olympus_Mons"}},
		{"DATABASE_URL=postgres://127.0.0.1:1/nothing?sslmode=disable&connect_timeout=2", []string{"127.0.0.1:1"}},
	}
	before := h.rows()
	for _, c := range cases {
		w := testenv.StartProcess(t, binaries.Worker, h.env(c.env))
		sc.fault("bad configs", 1)
		code, err := w.WaitExit(15 * time.Second)
		if err != nil {
			w.Kill()
			t.Errorf("%s: the worker started anyway", c.env)
			continue
		}
		if code == 0 {
			t.Errorf("%s: the worker exited 0", c.env)
		}
		for _, want := range c.want {
			if !strings.Contains(w.Output(), want) {
				t.Errorf("%s: the worker's error does not say %q:\n%s", c.env, want, w.Output())
			}
		}
		h.assertRowsUnchanged(c.env, before)
	}
}
