package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/testenv"
)

// TestRecordHistories records one real history of every workflow type into
// workflows/testdata/histories, for workflows/replay_test.go to replay: a workflow change that
// would break the runs in flight then fails `make test`. Run it after a deliberate,
// versioned change of a workflow (DINGSYNC_RECORD_HISTORIES=1 go test -run TestRecordHistories
// ./internal/e2e/) and commit the new files. DINGSYNC_RECORD_HISTORIES=Import,Writeback records
// only those types, as files beside the ones already there.
func TestRecordHistories(t *testing.T) {
	types, only := recordedTypes(os.Getenv("DINGSYNC_RECORD_HISTORIES"))
	if len(types) == 0 {
		t.Skip("records workflow histories for the replay test: set DINGSYNC_RECORD_HISTORIES=1 (or a list of workflow types)")
	}
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 131, Employees: 200})
	h.startWorker()
	h.bindWithEvents()
	u := h.sim.Truth(h.corpID).Users[5]
	u.Title = "记录历史"
	if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
		t.Fatal(err)
	}
	h.eventuallyMatches(30 * time.Second)
	h.exec(`UPDATE employees SET attrs = jsonb_set(attrs, '{title}', '"漂移"') WHERE corp_id = $1 AND userid = $2`, h.corpID, u.UserID)
	h.audit("--repair")
	if err := h.sim.SetAppSecret(h.appKey, h.appSecret+"x"); err != nil {
		t.Fatal(err)
	}
	h.mustStarter("", "rotate", "--corp-id", h.corpID, "--app-secret-file", h.secretFile(h.appSecret+"x"), "--by", "rec")
	h.mustStarter("", "rotate", "--corp-id", h.corpID, "--callback", "--grace", "1s", "--by", "rec")
	h.mustStarter("", "schedules", "trigger", "--corp-id", h.corpID, "--kind", "audit")
	h.mustStarter("", "import", "attendance", "--corp-id", h.corpID, "--from", "2026-11-02", "--to", "2026-11-03", "--wait")
	h.mustStarter("", "ownership", "set", "--corp-id", h.corpID, "--field", "title=ehr", "--by", "rec")
	h.mustStarter("", "employee", "update", "--corp-id", h.corpID, "--userid", u.UserID, "--set", "title=记录写回",
		"--by", "rec", "--wait", "30s")
	waitFor(t, time.Minute, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'audit' AND trigger = 'schedule' AND status <> 'running'`) == 1
	})

	c, err := devServer.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "workflows", "testdata", "histories")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, wfType := range types {
		list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: "CorpId = '" + h.corpID + "' AND WorkflowType = '" + wfType + "'"})
		if err != nil || len(list.Executions) == 0 {
			t.Fatalf("no %s execution of corp %s to record (%v)", wfType, h.corpID, err)
		}
		for i := range min(2, len(list.Executions)) { // the two oldest (two kinds of rotation)
			ex := list.Executions[len(list.Executions)-1-i].Execution
			path := historyPath(dir, wfType, i+1, only)
			n := recordHistory(ctx, t, c, ex, path)
			t.Logf("recorded %s %s (%d events) to %s", wfType, ex.WorkflowId, n, path)
		}
	}
}

// recordHistory writes one execution's whole history as JSON (the format the Temporal CLI and
// the SDK's replayer read) and returns its number of events.
func recordHistory(ctx context.Context, t *testing.T, c client.Client, ex *common.WorkflowExecution, path string) int {
	t.Helper()
	resp, err := c.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: "default", Execution: ex, HistoryEventFilterType: enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(resp.History)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return len(resp.History.Events)
}

// recordedTypes reads DINGSYNC_RECORD_HISTORIES: "1" records every workflow type, a comma list
// only those (only=true); "" none.
func recordedTypes(setting string) (types []string, only bool) {
	switch setting {
	case "":
		return nil, false
	case "1":
		return []string{"Binding", "FullSync", "IncrementalSync", "IncrementalBatch", "Audit", "Rotate", "Scheduled",
			"Import", "Writeback"}, false
	}
	return strings.Split(setting, ","), true
}

// historyPath is where the n-th recorded history of wfType goes: <type>-<n>.json, or, when only
// some types are recorded, the first such name not yet taken, so earlier histories stay.
func historyPath(dir, wfType string, n int, only bool) string {
	for {
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.json", wfType, n))
		if _, err := os.Stat(path); !only || os.IsNotExist(err) {
			return path
		}
		n++
	}
}
