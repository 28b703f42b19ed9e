package chaos

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
	"sync"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
	"github.com/dingsync/dingsync/workflows"
)

// harness is one scenario's dingsync: its own database, simulator, task queue, secret key
// and corp, on the package's dev server, with the worker and starter run as processes.
type harness struct {
	t         *testing.T
	sc        *scenario
	dbURL     string
	st        *store.Store
	sim       *dingtalksim.Server
	simURL    string
	secretKey string
	corpID    string
	appKey    string
	appSecret string
	taskQueue string
	httpAddr  string // the worker's public endpoints (event receiver)
	// approveHeldDeletions makes assertConverged approve, as an operator would, the deletions
	// a full or repair sync holds over the deletion guard.
	approveHeldDeletions bool

	mu     sync.Mutex
	worker *testenv.Process // the worker now running, if any
}

// newHarness makes a corp with an org of the given size in a fresh simulator without rate
// limits (scenarios set their own).
func newHarness(t *testing.T, sc *scenario, spec dingtalksim.OrgSpec) *harness {
	t.Helper()
	c := testenv.NewCorp(t, "dingchaos", spec)
	return &harness{t: t, sc: sc, dbURL: c.DBURL, st: c.Store, sim: c.Sim, simURL: c.SimURL, secretKey: c.SecretKey,
		corpID: c.CorpID, appKey: c.AppKey, appSecret: c.AppSecret, httpAddr: c.HTTPAddr,
		taskQueue: "dingsync-chaos-" + randomHex(6)}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string { return testenv.RandomHex(n) }

// limitQPS makes the simulator enforce DingTalk's per-app per-API limit, so a crawl takes
// seconds: time to break it.
func (h *harness) limitQPS(qps int) {
	h.t.Helper()
	if err := h.sim.SetLimits(dingtalksim.Limits{QPS: qps}); err != nil {
		h.t.Fatal(err)
	}
}

// env is the environment dingsync's commands run with in this scenario.
func (h *harness) env(extra ...string) []string {
	port, _ := testenv.FreePorts(1)
	return append([]string{"DATABASE_URL=" + h.dbURL, "TEMPORAL_ADDRESS=" + devServer.Address,
		"DINGSYNC_SECRET_KEY=" + h.secretKey, "DINGTALK_OAPI_BASE_URL=" + h.simURL, "DINGTALK_API_BASE_URL=" + h.simURL,
		"DINGTALK_LOGIN_BASE_URL=" + h.simURL, "DINGSYNC_HTTP_ADDR=" + h.httpAddr,
		fmt.Sprintf("DINGSYNC_METRICS_ADDR=127.0.0.1:%d", port[0]), "DINGSYNC_TASK_QUEUE=" + h.taskQueue}, extra...)
}

// startWorker runs a worker process and waits until its receiver listens.
func (h *harness) startWorker(extra ...string) {
	h.t.Helper()
	w := testenv.StartProcess(h.t, binaries.Worker, h.env(extra...))
	h.mu.Lock()
	h.worker = w
	h.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.Dial("tcp", h.httpAddr)
		if err == nil {
			conn.Close()
			return
		}
		if _, err := w.WaitExit(10 * time.Millisecond); err == nil || time.Now().After(deadline) {
			h.t.Fatalf("the worker does not listen on %s:\n%s", h.httpAddr, w.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killWorker kill -9s the running worker and starts another, as a supervisor would.
func (h *harness) killWorker(extra ...string) {
	h.t.Helper()
	h.mu.Lock()
	w := h.worker
	h.mu.Unlock()
	if code, err := w.WaitExit(10 * time.Millisecond); err == nil {
		h.t.Fatalf("the worker had exited by itself (code %d) before the kill:\n%s", code, w.Output())
	}
	w.Kill()
	h.sc.killed()
	h.startWorker(extra...)
}

// assertWorkerAlive fails the test if the worker exited (crashed) by itself.
func (h *harness) assertWorkerAlive() {
	h.t.Helper()
	h.mu.Lock()
	w := h.worker
	h.mu.Unlock()
	if code, err := w.WaitExit(10 * time.Millisecond); err == nil {
		h.t.Fatalf("the worker exited with code %d:\n%s", code, w.Output())
	}
}

// starter runs the ops CLI with extra environment and returns its output and exit code.
func (h *harness) starterEnv(env []string, stdin string, args ...string) (string, int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binaries.Starter, args...)
	cmd.Env = append(append(os.Environ(), h.env()...), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		h.t.Errorf("run starter %v: %v", args, err)
		return out.String(), -1
	}
	return out.String(), code
}

// starter runs the ops CLI and returns its output and exit code.
func (h *harness) starter(stdin string, args ...string) (string, int) {
	h.t.Helper()
	return h.starterEnv(nil, stdin, args...)
}

// mustStarter runs the ops CLI and fails the test unless it exits 0.
func (h *harness) mustStarter(args ...string) string {
	h.t.Helper()
	out, code := h.starter("", args...)
	if code != 0 {
		h.t.Fatalf("starter %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// bind stores the corp's binding and AppSecret directly, as `starter bind` does, without
// the binding workflow (no events): for scenarios about syncing itself.
func (h *harness) bind() {
	h.t.Helper()
	key, _ := base64.StdEncoding.DecodeString(h.secretKey)
	box, err := secretbox.New(key)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.st.Bind(context.Background(), store.BindInput{CorpID: h.corpID, AppKey: h.appKey, Actor: "chaos",
		SealSecret: func(sc string) ([]byte, error) { return box.Seal(h.appSecret, sc) }}); err != nil {
		h.t.Fatal(err)
	}
}

// secretFile writes secret to a file, as ops hand it to the starter.
func (h *harness) secretFile(secret string) string {
	h.t.Helper()
	path := filepath.Join(h.t.TempDir(), "secret-"+randomHex(3))
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// callbackURL is where the worker receives this corp's events.
func (h *harness) callbackURL() string {
	return "http://" + h.httpAddr + "/dingtalk/callback/" + h.corpID
}

// bindWithEvents binds through the CLI (verify, probe, snapshot, register the callback at
// url, initial full sync) and fails unless the corp ends active.
func (h *harness) bindWithEvents(url string) {
	h.t.Helper()
	out, code := h.starter("", "bind", "--corp-id", h.corpID, "--app-key", h.appKey, "--agent-id", "4242",
		"--app-secret-file", h.secretFile(h.appSecret), "--actor", "chaos", "--callback-url", url)
	if code != 0 || !strings.Contains(out, "is active") {
		h.t.Fatalf("bind exited %d:\n%s", code, out)
	}
}

// syncFull runs `starter sync full --wait --json` and decodes the result.
func (h *harness) syncFull() (workflows.FullSyncResult, string, int) {
	h.t.Helper()
	out, code := h.starter("", "sync", "full", "--corp-id", h.corpID, "--wait", "--json")
	var res workflows.FullSyncResult
	if code == 0 {
		if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
			h.t.Errorf("sync full printed no JSON result: %v\n%s", err, out)
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

// count runs a count query, retrying for a while if the database is unreachable (a
// scenario may be restarting Postgres).
func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	deadline := time.Now().Add(time.Minute)
	for {
		err := h.st.DB().Get(&n, q, args...)
		if err == nil {
			return n
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: %v", q, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exec runs SQL against the scenario's HR store.
func (h *harness) exec(q string, args ...any) {
	h.t.Helper()
	if _, err := h.st.DB().Exec(q, args...); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
}

// waitFor polls cond every 50 ms until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
