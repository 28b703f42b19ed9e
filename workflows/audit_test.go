package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

type auditEnv struct {
	*testsuite.TestWorkflowEnvironment
	sync     *activities.Sync
	audit    *activities.Audit
	finished *activities.FinishRunInput
	repaired *activities.RecordRepairInput
}

func newAuditEnv(t *testing.T, summary activities.AuditSummary) *auditEnv {
	var suite testsuite.WorkflowTestSuite
	e := &auditEnv{TestWorkflowEnvironment: suite.NewTestWorkflowEnvironment()}
	e.RegisterActivity(e.sync)
	e.RegisterActivity(e.audit)
	e.RegisterWorkflow(FullSync)
	e.OnActivity(e.sync.StartRun, mock.Anything, activities.StartRunInput{CorpID: "corp1", Kind: KindAudit, Trigger: "manual"}).
		Return(activities.StartRunResult{RunID: 9}, nil)
	e.OnActivity(e.sync.CrawlOrg, mock.Anything, activities.CrawlInput{CorpID: "corp1", RunID: 9}).
		Return(activities.CrawlResult{Departments: 10}, nil)
	e.OnActivity(e.audit.CompareRun, mock.Anything, activities.CompareInput{CorpID: "corp1", RunID: 9}).Return(summary, nil)
	e.OnActivity(e.sync.FinishRun, mock.Anything, mock.MatchedBy(func(in activities.FinishRunInput) bool { return in.Kind == KindAudit })).
		Return(func(_ context.Context, in activities.FinishRunInput) error { e.finished = &in; return nil })
	e.OnActivity(e.audit.RecordRepair, mock.Anything, mock.Anything).
		Return(func(_ context.Context, in activities.RecordRepairInput) error { e.repaired = &in; return nil })
	return e
}

func (e *auditEnv) result(t *testing.T) AuditResult {
	t.Helper()
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	var res AuditResult
	require.NoError(t, e.GetWorkflowResult(&res))
	return res
}

func TestAuditReportsWithoutRepairingUnlessAsked(t *testing.T) {
	e := newAuditEnv(t, activities.AuditSummary{ReportID: 3, Total: 2, Drift: map[string]int{store.DriftMissing: 2}})
	e.ExecuteWorkflow(Audit, AuditInput{CorpID: "corp1"})
	res := e.result(t)
	require.Equal(t, AuditResult{RunID: 9, ReportID: 3, Total: 2, Drift: map[string]int{store.DriftMissing: 2}}, res)
	require.Equal(t, store.RunSucceeded, e.finished.Status)
	require.Empty(t, e.finished.BindingStatus, "an audit leaves the binding's status alone")
	require.Nil(t, e.repaired)
}

func TestAuditRepairsDriftThroughARepairRun(t *testing.T) {
	e := newAuditEnv(t, activities.AuditSummary{ReportID: 3, Total: 1, Drift: map[string]int{store.DriftExtra: 1}, RepairByPolicy: true})
	e.OnWorkflow(FullSync, mock.Anything, FullSyncInput{CorpID: "corp1", Kind: KindRepair, Trigger: "audit"}).
		Return(FullSyncResult{RunID: 11, Status: store.RunSucceeded}, nil)
	e.ExecuteWorkflow(Audit, AuditInput{CorpID: "corp1"})
	res := e.result(t)
	require.Equal(t, int64(11), res.RepairRunID)
	require.Equal(t, &activities.RecordRepairInput{ReportID: 3, RepairRunID: 11}, e.repaired)
}

func TestCleanAuditStartsNoRepair(t *testing.T) {
	e := newAuditEnv(t, activities.AuditSummary{ReportID: 3, RepairByPolicy: true})
	e.ExecuteWorkflow(Audit, AuditInput{CorpID: "corp1", Repair: true})
	res := e.result(t)
	require.Zero(t, res.RepairRunID)
	require.Nil(t, e.repaired)
}

func TestAuditWithUnreadableDepartmentsIsPartial(t *testing.T) {
	e := newAuditEnv(t, activities.AuditSummary{ReportID: 3, UnreadableDepartments: 2})
	e.ExecuteWorkflow(Audit, AuditInput{CorpID: "corp1"})
	e.result(t)
	require.Equal(t, store.RunPartial, e.finished.Status)
	require.Contains(t, e.finished.Reason, "2 departments could not be read")
}
