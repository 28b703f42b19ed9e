package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/lib/pq"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/testenv"
	"github.com/dingsync/dingsync/workflows"
)

// These tests replay a failed sync the way an engineer does from the Temporal UI: find it by
// search attribute, read why it failed, fix the cause, reset it to its first workflow task.

// breakCredentials rotates the app's secret in "DingTalk" behind dingsync's back, so the
// stored one is refused (40001) and cached tokens stop working.
func (h *harness) breakCredentials() {
	h.t.Helper()
	if err := h.sim.SetAppSecret(h.appKey, "rotated-"+randomHex(8)); err != nil {
		h.t.Fatal(err)
	}
	if err := h.sim.RevokeTokens(h.appKey); err != nil {
		h.t.Fatal(err)
	}
}

// fixCredentials puts back the secret dingsync holds, as an engineer would by re-entering it.
func (h *harness) fixCredentials() {
	h.t.Helper()
	if err := h.sim.SetAppSecret(h.appKey, h.appSecret); err != nil {
		h.t.Fatal(err)
	}
}

// orgChanges are what changeOrg did to the org, by kind.
type orgChanges struct{ added, changed, removed []string }

// changeOrg hires n people, retitles n and removes n in "DingTalk".
func (h *harness) changeOrg(n int) orgChanges {
	h.t.Helper()
	truth := h.sim.Truth(h.corpID)
	var ch orgChanges
	for i := 0; i < n; i++ {
		u, err := h.sim.AddUser(h.corpID, dingtalksim.User{UserID: fmt.Sprintf("hire%s%d", randomHex(3), i),
			Name: fmt.Sprintf("新员工%d", i), DeptIDList: []int64{truth.Departments[1+i%(len(truth.Departments)-1)].ID}, Active: true})
		if err != nil {
			h.t.Fatal(err)
		}
		ch.added = append(ch.added, u.UserID)
		changed := truth.Users[2*i]
		changed.Title = fmt.Sprintf("重置后岗位%d", i)
		if _, err := h.sim.UpdateUser(h.corpID, changed); err != nil {
			h.t.Fatal(err)
		}
		ch.changed = append(ch.changed, changed.UserID)
		gone := truth.Users[2*i+1]
		if err := h.sim.RemoveUser(h.corpID, gone.UserID); err != nil {
			h.t.Fatal(err)
		}
		ch.removed = append(ch.removed, gone.UserID)
	}
	return ch
}

// temporalCLI runs bin/temporal against srv's default namespace and returns its output.
func temporalCLI(t *testing.T, srv *testenv.DevServer, args ...string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append(args, "--address", srv.Address, "--namespace", "default")
	out, err := exec.CommandContext(ctx, filepath.Join(root, "bin", "temporal"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// awaitFailed waits until a visibility query finds exactly one failed execution, as the UI's
// filter would, and returns it.
func awaitFailed(t *testing.T, c client.Client, query string) (workflowID, runID string) {
	t.Helper()
	var found []string
	waitFor(t, 60*time.Second, func() bool {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			t.Fatalf("visibility query %q: %v", query, err)
		}
		found = found[:0]
		for _, e := range resp.Executions {
			if e.Status != enums.WORKFLOW_EXECUTION_STATUS_FAILED {
				t.Fatalf("query %q returned %s, which is %s", query, e.Execution.WorkflowId, e.Status)
			}
			workflowID, runID = e.Execution.WorkflowId, e.Execution.RunId
			found = append(found, workflowID+"/"+runID)
		}
		return len(found) > 0
	})
	if len(found) != 1 {
		t.Fatalf("query %q found %d failed executions, want 1: %v", query, len(found), found)
	}
	return workflowID, runID
}

// assertAuthFailure checks that the run failed with dingsync's typed, non-retryable
// DingTalkAuth error, whose message names the cause and the fix.
func assertAuthFailure(t *testing.T, c client.Client, workflowID, runID string) {
	t.Helper()
	err := c.GetWorkflow(context.Background(), workflowID, runID).Get(context.Background(), nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("%s failed with %v, not an application error", workflowID, err)
	}
	if appErr.Type() != activities.ErrTypeDingTalkAuth || !appErr.NonRetryable() {
		t.Fatalf("%s failed with type %q (non-retryable %v), want non-retryable %s: %v",
			workflowID, appErr.Type(), appErr.NonRetryable(), activities.ErrTypeDingTalkAuth, appErr)
	}
	for _, want := range []string{"auth (code ", "fix: check the AppKey/AppSecret", "IP whitelist"} {
		if !strings.Contains(appErr.Message(), want) {
			t.Errorf("the failure does not say %q: %s", want, appErr.Message())
		}
	}
}

// awaitResetRun waits for the run that replaced failedRunID after a reset, and returns it.
func awaitResetRun(t *testing.T, c client.Client, workflowID, failedRunID string) string {
	t.Helper()
	var runID string
	waitFor(t, 30*time.Second, func() bool {
		d, err := c.DescribeWorkflowExecution(context.Background(), workflowID, "")
		if err != nil {
			t.Fatal(err)
		}
		runID = d.WorkflowExecutionInfo.Execution.RunId
		return runID != failedRunID
	})
	return runID
}

// resetToFirstWorkflowTask resets the failed run as the UI's Reset does, and returns the
// new run's id.
func resetToFirstWorkflowTask(t *testing.T, srv *testenv.DevServer, c client.Client, workflowID, failedRunID string) string {
	t.Helper()
	temporalCLI(t, srv, "workflow", "reset", "--workflow-id", workflowID, "--run-id", failedRunID,
		"--type", "FirstWorkflowTask", "--reason", "credentials fixed")
	return awaitResetRun(t, c, workflowID, failedRunID)
}

// assertNoSecretInHistory greps a run's history, as `temporal workflow show` prints it and with
// every payload decoded as the UI shows it, for the AppSecret. The run's input must be there
// with the corp id, or the grep proves nothing.
func assertNoSecretInHistory(t *testing.T, srv *testenv.DevServer, workflowID, runID, secret, corpID string) {
	t.Helper()
	raw := temporalCLI(t, srv, "workflow", "show", "--workflow-id", workflowID, "--run-id", runID, "--output", "json")
	var history any
	if err := json.Unmarshal([]byte(raw), &history); err != nil {
		t.Fatalf("temporal workflow show printed no JSON: %v\n%.2000s", err, raw)
	}
	shown := raw + "\n" + strings.Join(decodedPayloads(history), "\n")
	if !strings.Contains(shown, fmt.Sprintf(`"CorpID":%q`, corpID)) {
		t.Fatalf("no decoded input of %s names the corp: the grep below would prove nothing:\n%.2000s", workflowID, shown)
	}
	if strings.Contains(shown, secret) {
		t.Fatalf("the AppSecret appears in the history of %s/%s", workflowID, runID)
	}
}

// decodedPayloads returns the data of every payload in a history's JSON, base64-decoded.
func decodedPayloads(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if data, ok := v["data"].(string); ok {
			if b, err := base64.StdEncoding.DecodeString(data); err == nil {
				out = append(out, string(b))
			}
		}
		for _, x := range v {
			out = append(out, decodedPayloads(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, decodedPayloads(x)...)
		}
	}
	return out
}

// assertChangesOnce checks the audit trail after run afterRun: no record has the same
// operation twice (a reset must not redo what an earlier run did), and no record was ever
// created twice.
func (h *harness) assertChangesOnce(afterRun int64) {
	h.t.Helper()
	var created, twice []string
	if err := h.st.DB().Select(&created, `SELECT entity || '/' || record_id FROM sync_changes
		WHERE corp_id = $1 AND op = 'create' GROUP BY entity, record_id HAVING count(*) > 1`, h.corpID); err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.DB().Select(&twice, `SELECT entity || '/' || record_id || ' ' || op FROM sync_changes
		WHERE corp_id = $1 AND run_id > $2 GROUP BY entity, record_id, op HAVING count(*) > 1`, h.corpID, afterRun); err != nil {
		h.t.Fatal(err)
	}
	if len(created) > 0 || len(twice) > 0 {
		h.t.Fatalf("sync_changes records the same operation twice: created twice %v; after run %d, twice %v", created, afterRun, twice)
	}
}

// assertChanged checks that run wrote exactly what changeOrg did, once each.
func (h *harness) assertChanged(runID int64, ch orgChanges) {
	h.t.Helper()
	for op, ids := range map[string][]string{"create": ch.added, "update": ch.changed, "deactivate": ch.removed} {
		n := h.count(`SELECT count(*) FROM sync_changes WHERE corp_id = $1 AND run_id = $2 AND entity = 'employee'
			AND op = $3 AND record_id = ANY($4)`, h.corpID, runID, op, pq.Array(ids))
		if n != len(ids) {
			h.t.Errorf("run %d recorded %d employee %s changes, want %d", runID, n, op, len(ids))
		}
	}
}

// runOf is the sync_runs id recorded by a Temporal run.
func (h *harness) runOf(temporalRunID string) int64 {
	h.t.Helper()
	return int64(h.count(`SELECT id FROM sync_runs WHERE corp_id = $1 AND temporal_run_id = $2`, h.corpID, temporalRunID))
}

// failFullSyncOnCredentials syncs the corp, breaks its credentials, changes the org and
// checks that the next full sync fails, findable in visibility, with nothing applied. It
// returns the failed run and the changes a replay must apply.
func (h *harness) failFullSyncOnCredentials(srv *testenv.DevServer, c client.Client, syncFull func() (string, int)) (wfID, runID string, firstRun int64, ch orgChanges) {
	h.t.Helper()
	if out, code := syncFull(); code != 0 {
		h.t.Fatalf("first sync exited %d:\n%s", code, out)
	}
	h.assertStoreMatchesDingTalk()
	firstRun = int64(h.count(`SELECT max(id) FROM sync_runs WHERE corp_id = $1`, h.corpID))
	h.breakCredentials()
	ch = h.changeOrg(3)
	out, code := syncFull()
	if code == 0 || !strings.Contains(out, "AppKey/AppSecret") {
		h.t.Fatalf("a sync with a refused secret exited %d, want a failure naming the AppKey/AppSecret:\n%s", code, out)
	}
	wfID, runID = awaitFailed(h.t, c, fmt.Sprintf("CorpId = '%s' AND ExecutionStatus = 'Failed'", h.corpID))
	if wfID != workflows.FullSyncWorkflowID(h.corpID) {
		h.t.Fatalf("the failed execution is %s, want the full sync", wfID)
	}
	assertAuthFailure(h.t, c, wfID, runID)
	failed := h.runOf(runID)
	if n := h.count(`SELECT count(*) FROM sync_changes WHERE run_id = $1`, failed); n != 0 {
		h.t.Fatalf("the failed run wrote %d changes", n)
	}
	if log := h.mustStarter("", "runs", "--run-id", itoa(failed)); !strings.Contains(log, "fix: check the AppKey/AppSecret") {
		h.t.Fatalf("`starter runs --run-id %d` does not say the fix:\n%s", failed, log)
	}
	if n := h.count(`SELECT count(*) FROM bindings WHERE corp_id = $1 AND status = 'credentials_invalid'`, h.corpID); n != 1 {
		h.t.Fatal("the failed run did not mark the binding credentials_invalid")
	}
	return wfID, runID, firstRun, ch
}

// assertReplayed checks that the reset run of a full sync succeeded and left the store
// equal to DingTalk, with each change recorded once and no secret in either run's history.
func (h *harness) assertReplayed(srv *testenv.DevServer, c client.Client, wfID, failedRunID, resetRunID string, firstRun int64, ch orgChanges) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.FullSyncResult
	if err := c.GetWorkflow(ctx, wfID, resetRunID).Get(ctx, &res); err != nil || res.Status != "succeeded" {
		h.t.Fatalf("the reset run ended %+v: %v", res, err)
	}
	if res.Created != len(ch.added) || res.Updated != len(ch.changed) || res.Deactivated != len(ch.removed) {
		h.t.Errorf("the reset run created %d, updated %d, deactivated %d; want %d, %d, %d",
			res.Created, res.Updated, res.Deactivated, len(ch.added), len(ch.changed), len(ch.removed))
	}
	h.assertStoreMatchesDingTalk()
	h.assertChanged(res.RunID, ch)
	h.assertChangesOnce(firstRun)
	if n := h.count(`SELECT count(*) FROM bindings WHERE corp_id = $1 AND status = 'active'`, h.corpID); n != 1 {
		h.t.Error("the binding is not active after the reset run")
	}
	for _, run := range []string{failedRunID, resetRunID} {
		assertNoSecretInHistory(h.t, srv, wfID, run, h.appSecret, h.corpID)
	}
}

func TestResetOfAFailedFullSyncAppliesTheChangesOnce(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 61, Employees: 300})
	h.startWorker()
	h.bind(h.appSecret)
	c, err := devServer.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	syncFull := func() (string, int) { _, out, code := h.syncFull(); return out, code }
	wfID, failedRunID, firstRun, ch := h.failFullSyncOnCredentials(devServer, c, syncFull)

	h.fixCredentials()
	resetRunID := resetToFirstWorkflowTask(t, devServer, c, wfID, failedRunID)
	h.assertReplayed(devServer, c, wfID, failedRunID, resetRunID, firstRun, ch)
}

func TestResetOfAFailedEventBatchAppliesItsEvents(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 62, Employees: 200})
	h.startWorker()
	h.bindWithEvents()
	c, err := devServer.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	firstRun := int64(h.count(`SELECT max(id) FROM sync_runs WHERE corp_id = $1`, h.corpID))
	h.breakCredentials()
	ch := h.changeOrg(1) // three events, pushed at once: one batch

	wfID, failedRunID := awaitFailed(t, c, fmt.Sprintf(
		"CorpId = '%s' AND ExecutionStatus = 'Failed' AND WorkflowType = 'IncrementalBatch'", h.corpID))
	if !strings.HasPrefix(wfID, "incbatch/"+h.corpID+"/") {
		t.Fatalf("the failed batch is %s", wfID)
	}
	assertAuthFailure(t, c, wfID, failedRunID)
	if n := h.count(`SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND status = 'pending'`, h.corpID); n == 0 {
		t.Fatal("the failed batch left no event pending")
	}

	h.fixCredentials()
	resetRunID := resetToFirstWorkflowTask(t, devServer, c, wfID, failedRunID)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res workflows.IncrementalBatchResult
	if err := c.GetWorkflow(ctx, wfID, resetRunID).Get(ctx, &res); err != nil {
		t.Fatalf("the reset batch failed: %v", err)
	}
	if n := h.count(`SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND run_id = $2 AND status = 'applied'`, h.corpID, res.RunID); n != res.Events || n == 0 {
		t.Fatalf("the reset batch (run %d) applied %d of its %d events", res.RunID, n, res.Events)
	}
	if st := h.statusOf(); st.Status != "active" {
		t.Fatalf("the binding is %s after the reset batch succeeded with fixed credentials, want active", st.Status)
	}
	// Events pushed after the batch was cut apply when incsync retries (a minute later).
	h.eventuallyMatches(90 * time.Second)
	h.assertChangesOnce(firstRun)
	created := h.count(`SELECT count(*) FROM sync_changes WHERE corp_id = $1 AND op = 'create' AND record_id = $2`, h.corpID, ch.added[0])
	if created != 1 {
		t.Fatalf("the new hire was created %d times", created)
	}
	for _, run := range []string{failedRunID, resetRunID} {
		assertNoSecretInHistory(t, devServer, wfID, run, h.appSecret, h.corpID)
	}
}
