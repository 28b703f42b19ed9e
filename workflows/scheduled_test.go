package workflows

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/dingsync/dingsync/internal/schedules"
)

func runScheduled(t *testing.T, in schedules.RunInput, setup func(*testsuite.TestWorkflowEnvironment)) (ScheduledResult, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	e := suite.NewTestWorkflowEnvironment()
	e.RegisterWorkflow(Audit)
	e.RegisterWorkflow(FullSync)
	setup(e)
	e.ExecuteWorkflow(Scheduled, in)
	require.True(t, e.IsWorkflowCompleted())
	var res ScheduledResult
	if err := e.GetWorkflowError(); err != nil {
		return res, err
	}
	require.NoError(t, e.GetWorkflowResult(&res))
	return res, nil
}

func TestScheduledAuditRunsTheCorpsAudit(t *testing.T) {
	res, err := runScheduled(t, schedules.RunInput{CorpID: "corp1", Kind: schedules.KindAudit}, func(e *testsuite.TestWorkflowEnvironment) {
		e.OnWorkflow(Audit, mock.Anything, AuditInput{CorpID: "corp1", Trigger: "schedule"}).Return(AuditResult{RunID: 4, Total: 2}, nil)
	})
	require.NoError(t, err)
	require.Equal(t, "audit/corp1", res.WorkflowID)
	require.Equal(t, &AuditResult{RunID: 4, Total: 2}, res.Audit)
	require.Empty(t, res.Skipped)
}

func TestScheduledFullSyncIsSkippedWhileOneRuns(t *testing.T) {
	res, err := runScheduled(t, schedules.RunInput{CorpID: "corp1", Kind: schedules.KindFullSync}, func(e *testsuite.TestWorkflowEnvironment) {
		e.OnWorkflow(FullSync, mock.Anything, FullSyncInput{CorpID: "corp1", Trigger: "schedule"}).
			Return(FullSyncResult{}, &temporal.ChildWorkflowExecutionAlreadyStartedError{})
	})
	require.NoError(t, err)
	require.Contains(t, res.Skipped, "fullsync/corp1 was already running")
	require.Nil(t, res.Sync)
}

func TestScheduledRefusesAnUnknownKind(t *testing.T) {
	_, err := runScheduled(t, schedules.RunInput{CorpID: "corp1", Kind: "weekly"}, func(*testsuite.TestWorkflowEnvironment) {})
	require.ErrorContains(t, err, `unknown schedule kind "weekly"`)
}
