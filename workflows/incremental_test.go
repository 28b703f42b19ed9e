package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

func TestIncrementalBatchesPendingEventsInOrderAndWaitsForFullSync(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	e := suite.NewTestWorkflowEnvironment()
	var inc *activities.Incremental
	e.RegisterActivity(inc)
	e.RegisterWorkflow(IncrementalBatch)
	// First look: a full sync runs; then two events; then nothing.
	e.OnActivity(inc.DrainFailedPushes, mock.Anything, mock.Anything).Return(activities.DrainResult{}, nil)
	e.OnActivity(inc.PendingEvents, mock.Anything, mock.Anything).Return(activities.PendingResult{FullSyncRunning: true}, nil).Once()
	e.OnActivity(inc.PendingEvents, mock.Anything, mock.Anything).Return(activities.PendingResult{EventIDs: []string{"e1", "e2"}}, nil).Once()
	e.OnActivity(inc.PendingEvents, mock.Anything, mock.Anything).Return(activities.PendingResult{}, nil)
	var batches [][]string
	e.OnWorkflow(IncrementalBatch, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in IncrementalBatchInput) (IncrementalBatchResult, error) {
			batches = append(batches, in.EventIDs)
			return IncrementalBatchResult{Events: len(in.EventIDs)}, nil
		})
	e.RegisterDelayedCallback(func() { e.CancelWorkflow() }, time.Hour)

	e.ExecuteWorkflow(IncrementalSync, IncrementalInput{CorpID: "corp1"})
	require.True(t, e.IsWorkflowCompleted())
	require.Equal(t, [][]string{{"e1", "e2"}}, batches)
}

func TestIncrementalBatchRecordsARunAndFailsVisibly(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	e := suite.NewTestWorkflowEnvironment()
	var inc *activities.Incremental
	var sync *activities.Sync
	e.RegisterActivity(inc)
	e.RegisterActivity(sync)
	e.OnActivity(sync.StartRun, mock.Anything, mock.Anything).Return(activities.StartRunResult{RunID: 9}, nil)
	e.OnActivity(inc.ApprovalRefs, mock.Anything, mock.Anything).Return(activities.ApprovalRefsResult{}, nil)
	e.OnActivity(inc.ApplyEvents, mock.Anything, mock.Anything).Return(activities.ApplyEventsResult{},
		temporal.NewNonRetryableApplicationError("bad secret", activities.ErrTypeDingTalkAuth, nil))
	var finished activities.FinishRunInput
	e.OnActivity(sync.FinishRun, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishRunInput) error {
		finished = in
		return nil
	})
	e.ExecuteWorkflow(IncrementalBatch, IncrementalBatchInput{CorpID: "corp1", EventIDs: []string{"e1"}})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(e.GetWorkflowError(), &appErr))
	require.Equal(t, store.RunFailed, finished.Status)
	require.Equal(t, store.BindingCredentialsInvalid, finished.BindingStatus)
	require.Equal(t, KindIncremental, finished.Kind)
}

func TestIncrementalBatchReReadsTheApprovalInstancesItsEventsNameBeforeApplying(t *testing.T) {
	refs := []activities.ApprovalRef{{InstanceID: "inst-1", ProcessCode: "PROC-LEAVE"}}
	for _, tc := range []struct {
		name       string
		refreshErr error
	}{{"both succeed", nil}, {"the re-read fails", temporal.NewNonRetryableApplicationError("no permission", "DingTalkPermission", nil)}} {
		t.Run(tc.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			e := suite.NewTestWorkflowEnvironment()
			var inc *activities.Incremental
			var sync *activities.Sync
			var imp *activities.Imports
			e.RegisterActivity(inc)
			e.RegisterActivity(sync)
			e.RegisterActivity(imp)
			var order []string
			e.OnActivity(sync.StartRun, mock.Anything, mock.Anything).Return(activities.StartRunResult{RunID: 9}, nil)
			e.OnActivity(inc.ApprovalRefs, mock.Anything, activities.ApprovalRefsInput{CorpID: "corp1", EventIDs: []string{"e1", "bpms1"}}).
				Return(activities.ApprovalRefsResult{Instances: refs}, nil)
			var refreshed activities.RefreshApprovalsInput
			e.OnActivity(imp.RefreshOpenApprovals, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.RefreshApprovalsInput) (activities.ImportCounts, error) {
					order, refreshed = append(order, "refresh"), in
					return activities.ImportCounts{Fetched: 1, Updated: 1, APICalls: 1}, tc.refreshErr
				})
			e.OnActivity(inc.ApplyEvents, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.ApplyEventsInput) (activities.ApplyEventsResult, error) {
					order = append(order, "apply")
					return activities.ApplyEventsResult{Events: len(in.EventIDs)}, nil
				})
			var finished activities.FinishRunInput
			e.OnActivity(sync.FinishRun, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishRunInput) error {
				finished = in
				return nil
			})
			e.ExecuteWorkflow(IncrementalBatch, IncrementalBatchInput{CorpID: "corp1", EventIDs: []string{"e1", "bpms1"}})
			require.Equal(t, activities.RefreshApprovalsInput{CorpID: "corp1", Instances: refs}, refreshed)
			if tc.refreshErr == nil {
				require.NoError(t, e.GetWorkflowError())
				// ApplyEvents marks the events applied: it runs after the re-read.
				require.Equal(t, []string{"refresh", "apply"}, order)
				require.Equal(t, store.RunSucceeded, finished.Status)
				var res IncrementalBatchResult
				require.NoError(t, e.GetWorkflowResult(&res))
				require.Equal(t, 1, res.Approvals.Updated)
				return
			}
			require.NoError(t, e.GetWorkflowError())
			require.Equal(t, []string{"refresh", "apply"}, order, "a failed re-read must not hold the contact events back")
			require.Equal(t, store.RunPartial, finished.Status)
			require.Contains(t, finished.Reason, "could not be re-read (no permission")
			require.Contains(t, finished.Reason, "starter import approvals")
			require.Empty(t, finished.BindingStatus, "the approval permission says nothing about the binding's credentials")
		})
	}
}

func TestIncrementalBatchWithoutApprovalEventsOnlyApplies(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	e := suite.NewTestWorkflowEnvironment()
	var inc *activities.Incremental
	var sync *activities.Sync
	var imp *activities.Imports
	e.RegisterActivity(inc)
	e.RegisterActivity(sync)
	e.RegisterActivity(imp)
	e.OnActivity(sync.StartRun, mock.Anything, mock.Anything).Return(activities.StartRunResult{RunID: 3}, nil)
	e.OnActivity(inc.ApprovalRefs, mock.Anything, mock.Anything).Return(activities.ApprovalRefsResult{Ignored: 2}, nil)
	e.OnActivity(inc.ApplyEvents, mock.Anything, mock.Anything).Return(activities.ApplyEventsResult{Events: 1}, nil)
	e.OnActivity(sync.FinishRun, mock.Anything, mock.Anything).Return(nil)
	e.ExecuteWorkflow(IncrementalBatch, IncrementalBatchInput{CorpID: "corp1", EventIDs: []string{"e1"}})
	require.NoError(t, e.GetWorkflowError())
	e.AssertNotCalled(t, "RefreshOpenApprovals", mock.Anything, mock.Anything)
}
