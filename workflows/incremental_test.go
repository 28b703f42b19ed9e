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
