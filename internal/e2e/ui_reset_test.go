package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/testenv"
)

// chromiumPath is where Debian's chromium package puts the browser the UI test drives.
const chromiumPath = "/usr/bin/chromium"

// uiTools finds what the browser test needs: node, Debian's chromium and ui-tests'
// node_modules (playwright-core). When one is missing the test fails under CI and skips
// elsewhere, naming the script that installs them.
func uiTools(t *testing.T, root string) (node string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Node.js)")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (Debian's chromium)")
	}
	if _, err := os.Stat(filepath.Join(root, "ui-tests", "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "ui-tests/node_modules (npm ci in ui-tests)")
	}
	if len(missing) == 0 {
		return node
	}
	msg := fmt.Sprintf("the browser test needs %s: run scripts/ensure-ui-tools.sh (make test does)", strings.Join(missing, ", "))
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifactsDir is a fresh folder for the test's screenshots under .dingsync/artifacts
// (gitignored), kept after the test.
func artifactsDir(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(root, ".dingsync", "artifacts", t.Name()+"-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// starterOn runs the ops CLI against srv instead of the shared dev server.
func (h *harness) starterOn(srv *testenv.DevServer, args ...string) (string, int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binaries.Starter, args...)
	cmd.Env = append(os.Environ(), h.env("TEMPORAL_ADDRESS="+srv.Address)...)
	out, err := cmd.CombinedOutput()
	if exitErr, ok := err.(*exec.ExitError); ok {
		return string(out), exitErr.ExitCode()
	} else if err != nil {
		h.t.Fatalf("run starter %v: %v", args, err)
	}
	return string(out), 0
}

// uiReplay is what ui-tests/reset.mjs reports.
type uiReplay struct {
	FailedRunID string   `json:"failedRunId"`
	ResetRunID  string   `json:"resetRunId"`
	Failure     string   `json:"failure"`
	Input       string   `json:"input"`
	Screenshots []string `json:"screenshots"`
}

// TestResetFromTheTemporalUI has headless Chromium find a corp's failed full sync in the
// Temporal UI by search attribute and Reset it there, after the cause was fixed; the reset
// run must then bring the store to DingTalk's state with each change recorded once.
func TestResetFromTheTemporalUI(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	node := uiTools(t, root)
	srv, err := testenv.StartDevServer(true)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	h := newHarness(t, dingtalksim.OrgSpec{Seed: 63, Employees: 200})
	h.startWorker("TEMPORAL_ADDRESS=" + srv.Address)
	h.bind(h.appSecret)
	syncFull := func() (string, int) {
		return h.starterOn(srv, "sync", "full", "--corp-id", h.corpID, "--wait", "--json")
	}
	wfID, failedRunID, firstRun, ch := h.failFullSyncOnCredentials(srv, c, syncFull)
	h.fixCredentials()

	dir := artifactsDir(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "ui-tests", "reset.mjs"),
		"--ui", fmt.Sprintf("http://127.0.0.1:%d", srv.UIPort),
		"--query", fmt.Sprintf(`CorpId="%s" AND ExecutionStatus="Failed"`, h.corpID),
		"--workflow-id", wfID, "--artifacts", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("the browser could not reset %s: %v\n%s%s\nscreenshots in %s", wfID, err, stderr.String(), stdout.String(), dir)
	}
	t.Logf("the browser replayed %s in %s; screenshots in %s", wfID, time.Since(started).Round(time.Millisecond), dir)
	var got uiReplay
	if err := json.Unmarshal([]byte(lastLine(stdout.String())), &got); err != nil {
		t.Fatalf("reset.mjs printed no result: %v\n%s", err, stdout.String())
	}
	if got.FailedRunID != failedRunID {
		t.Fatalf("the UI opened run %s, want the failed run %s", got.FailedRunID, failedRunID)
	}
	// The failure's top line (what the UI shows first) says what broke and the fix; its type
	// is checked through the API by the CLI reset test (the UI's code view renders only the
	// lines in sight).
	if top, _, _ := strings.Cut(got.Failure[strings.Index(got.Failure, `"message"`)+1:], "\n"); !strings.Contains(top, "fix: check the AppKey/AppSecret") {
		t.Errorf("the UI's failure panel does not start with the cause and its fix:\n%s", got.Failure)
	}
	if !strings.Contains(got.Input, h.corpID) || strings.Contains(got.Input, h.appSecret) {
		t.Errorf("the UI's input panel should name the corp and hold no secret:\n%s", got.Input)
	}
	if resetRunID := awaitResetRun(t, c, wfID, failedRunID); got.ResetRunID != resetRunID {
		t.Fatalf("the UI followed run %s, but the reset run is %s", got.ResetRunID, resetRunID)
	}
	h.assertReplayed(srv, c, wfID, failedRunID, got.ResetRunID, firstRun, ch)
}
