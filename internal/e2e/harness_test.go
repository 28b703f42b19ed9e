package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
	"github.com/dingsync/dingsync/workflows"
)

// harness is one test's dingsync: its own database, simulator, secret key and corp.
type harness struct {
	t         *testing.T
	dbURL     string
	st        *store.Store
	sim       *dingtalksim.Server
	simURL    string
	secretKey string
	corpID    string
	appKey    string
	appSecret string
	taskQueue string
	httpAddr  string // the worker's public endpoints (OAuth redirect)
	qps       int
	workers   []*testenv.Process
}

// newHarness makes a corp with an org of the given size in a fresh simulator (no rate
// limits unless the test sets them) and binds nothing yet.
func newHarness(t *testing.T, spec dingtalksim.OrgSpec) *harness {
	t.Helper()
	c := testenv.NewCorp(t, "dingcorp", spec)
	return &harness{t: t, dbURL: c.DBURL, st: c.Store, sim: c.Sim, simURL: c.SimURL, secretKey: c.SecretKey,
		corpID: c.CorpID, appKey: c.AppKey, appSecret: c.AppSecret, httpAddr: c.HTTPAddr,
		taskQueue: "dingsync-test-" + randomHex(6)}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string { return testenv.RandomHex(n) }

// limitQPS makes the simulator enforce a per-app per-API QPS limit, as DingTalk does, and
// the workers' client respect it.
func (h *harness) limitQPS(qps int) {
	h.t.Helper()
	if err := h.sim.SetLimits(dingtalksim.Limits{QPS: qps}); err != nil {
		h.t.Fatal(err)
	}
	h.qps = qps
}

// env is the environment dingsync's commands run with in this test.
func (h *harness) env(extra ...string) []string {
	port, _ := testenv.FreePorts(1)
	if h.qps > 0 {
		extra = append(extra, fmt.Sprintf("DINGTALK_QPS=%d", h.qps))
	}
	return append([]string{"DATABASE_URL=" + h.dbURL, "TEMPORAL_ADDRESS=" + devServer.Address,
		"DINGSYNC_SECRET_KEY=" + h.secretKey, "DINGTALK_OAPI_BASE_URL=" + h.simURL, "DINGTALK_API_BASE_URL=" + h.simURL,
		"DINGTALK_LOGIN_BASE_URL=" + h.simURL, "DINGSYNC_HTTP_ADDR=" + h.httpAddr,
		fmt.Sprintf("DINGSYNC_METRICS_ADDR=127.0.0.1:%d", port[0]), "DINGSYNC_TASK_QUEUE=" + h.taskQueue}, extra...)
}

// startWorker runs a worker process against this test's database and simulator.
func (h *harness) startWorker(extra ...string) *testenv.Process {
	w := testenv.StartProcess(h.t, binaries.Worker, h.env(extra...))
	h.workers = append(h.workers, w)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", h.httpAddr)
		if err == nil {
			conn.Close()
			return w
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the worker does not listen on %s:\n%s", h.httpAddr, w.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// starter runs the ops CLI and returns its output and exit code.
func (h *harness) starter(stdin string, args ...string) (string, int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binaries.Starter, args...)
	cmd.Env = append(os.Environ(), h.env()...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		h.t.Fatalf("run starter %v: %v", args, err)
	}
	return out.String(), code
}

// mustStarter runs the ops CLI and fails the test unless it exits 0.
func (h *harness) mustStarter(stdin string, args ...string) string {
	h.t.Helper()
	out, code := h.starter(stdin, args...)
	if code != 0 {
		h.t.Fatalf("starter %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// bind stores the corp's binding and AppSecret directly (as `starter bind` does, without
// starting the binding workflow), for tests of syncing itself.
func (h *harness) bind(secret string) {
	h.t.Helper()
	key, _ := base64.StdEncoding.DecodeString(h.secretKey)
	box, err := secretbox.New(key)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.st.Bind(context.Background(), store.BindInput{CorpID: h.corpID, AppKey: h.appKey, Actor: "test",
		SealSecret: func(sc string) ([]byte, error) { return box.Seal(secret, sc) }}); err != nil {
		h.t.Fatal(err)
	}
}

// secretFile writes secret to a file, as ops hand it to `starter bind`.
func (h *harness) secretFile(secret string) string {
	h.t.Helper()
	path := filepath.Join(h.t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// bindCLI runs `starter bind` (which starts and follows the binding workflow) for the corp.
func (h *harness) bindCLI(secret string, extra ...string) (string, int) {
	h.t.Helper()
	args := append([]string{"bind", "--corp-id", h.corpID, "--app-key", h.appKey, "--agent-id", "4242",
		"--app-secret-file", h.secretFile(secret), "--actor", "alice"}, extra...)
	return h.starter("", args...)
}

// syncFull runs `starter sync full --wait --json` and decodes the result.
func (h *harness) syncFull() (workflows.FullSyncResult, string, int) {
	h.t.Helper()
	out, code := h.starter("", "sync", "full", "--corp-id", h.corpID, "--wait", "--json")
	var res workflows.FullSyncResult
	if code == 0 {
		if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
			h.t.Fatalf("sync full printed no JSON result: %v\n%s", err, out)
		}
	}
	return res, out, code
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// truth is what the simulator holds for the corp, in the client's types.
func (h *harness) truth() testenv.Truth {
	h.t.Helper()
	raw, err := json.Marshal(h.sim.Truth(h.corpID))
	if err != nil {
		h.t.Fatal(err)
	}
	var truth testenv.Truth
	if err := json.Unmarshal(raw, &truth); err != nil {
		h.t.Fatal(err)
	}
	return truth
}

// assertStoreMatchesDingTalk fails the test unless the HR store equals the simulator's org.
func (h *harness) assertStoreMatchesDingTalk() {
	h.t.Helper()
	diffs, err := testenv.DiffStore(context.Background(), h.st, h.corpID, h.truth())
	if err != nil {
		h.t.Fatal(err)
	}
	if len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("... and %d more", len(diffs)-10))
		}
		h.t.Fatalf("the HR store differs from DingTalk:\n%s", strings.Join(diffs, "\n"))
	}
}

func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.st.DB().Get(&n, q, args...); err != nil {
		h.t.Fatal(err)
	}
	return n
}
