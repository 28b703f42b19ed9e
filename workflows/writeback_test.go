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

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

// writebackEnv is a test environment with the writeback's activities registered.
func writebackEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *activities.Writeback) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	e := suite.NewTestWorkflowEnvironment()
	var act *activities.Writeback
	e.RegisterActivity(act)
	return e, act
}

func writebackResult(t *testing.T, e *testsuite.TestWorkflowEnvironment) WritebackResult {
	t.Helper()
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	var res WritebackResult
	require.NoError(t, e.GetWorkflowResult(&res))
	return res
}

func TestWritebackPushesQueuedWritesInOrderAndEndsWhenIdle(t *testing.T) {
	e, act := writebackEnv(t)
	e.OnActivity(act.PendingWrites, mock.Anything, activities.CorpInput{CorpID: "corp1"}).Return([]int64{3, 5, 8}, nil).Once()
	e.OnActivity(act.PendingWrites, mock.Anything, mock.Anything).Return([]int64(nil), nil)
	var pushed []int64
	e.OnActivity(act.PushWrite, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PushWriteInput) (activities.PushWriteResult, error) {
			pushed = append(pushed, in.WriteID)
			switch in.WriteID {
			case 5:
				return activities.PushWriteResult{Status: store.WriteFailed, Reason: "60104: the mobile is taken"}, nil
			case 8:
				return activities.PushWriteResult{Status: store.WritePushed, Conflicts: 1}, nil
			}
			return activities.PushWriteResult{Status: store.WritePushed}, nil
		})

	e.ExecuteWorkflow(Writeback, WritebackInput{CorpID: "corp1"})
	require.Equal(t, WritebackResult{Pushed: 2, Failed: 1, Conflicts: 1}, writebackResult(t, e))
	require.Equal(t, []int64{3, 5, 8}, pushed)
}

func TestWritebackWokenWhileIdlePushesTheNewWrite(t *testing.T) {
	e, act := writebackEnv(t)
	e.OnActivity(act.PendingWrites, mock.Anything, mock.Anything).Return([]int64(nil), nil).Once()
	e.OnActivity(act.PendingWrites, mock.Anything, mock.Anything).Return([]int64{11}, nil).Once()
	e.OnActivity(act.PendingWrites, mock.Anything, mock.Anything).Return([]int64(nil), nil)
	e.OnActivity(act.PushWrite, mock.Anything, activities.PushWriteInput{CorpID: "corp1", WriteID: 11}).
		Return(activities.PushWriteResult{Status: store.WritePushed}, nil).Once()
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalWritesPending, nil) }, writebackIdle/2)

	e.ExecuteWorkflow(Writeback, WritebackInput{CorpID: "corp1"})
	require.Equal(t, WritebackResult{Pushed: 1}, writebackResult(t, e))
}

func TestWritebackKeepsAWriteQueuedWhileDingTalkIsUnreachable(t *testing.T) {
	e, act := writebackEnv(t)
	e.OnActivity(act.PendingWrites, mock.Anything, mock.Anything).Return([]int64{4}, nil).Twice()
	e.OnActivity(act.PendingWrites, mock.Anything, mock.Anything).Return([]int64(nil), nil)
	e.OnActivity(act.PushWrite, mock.Anything, mock.Anything).Return(activities.PushWriteResult{},
		temporal.NewNonRetryableApplicationError("DingTalk unreachable", "test", nil)).Once()
	e.OnActivity(act.PushWrite, mock.Anything, mock.Anything).Return(activities.PushWriteResult{Status: store.WritePushed}, nil).Once()
	start := e.Now()

	e.ExecuteWorkflow(Writeback, WritebackInput{CorpID: "corp1"})
	require.Equal(t, WritebackResult{Pushed: 1}, writebackResult(t, e))
	require.GreaterOrEqual(t, e.Now().Sub(start), time.Minute, "the writeback backs off before it tries the write again")
	e.AssertExpectations(t)
}

func TestWritebackNeedsACorp(t *testing.T) {
	e, _ := writebackEnv(t)
	e.ExecuteWorkflow(Writeback, WritebackInput{})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(e.GetWorkflowError(), &appErr))
	require.Equal(t, ErrTypeInvalidInput, appErr.Type())
}
