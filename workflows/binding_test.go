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

type bindingEnv struct {
	*testsuite.TestWorkflowEnvironment
	act      *activities.Binding
	sched    *activities.Schedules
	statuses []string
	// schedules records the schedule calls: "ensure", "delete", "pause", "unpause".
	schedules []string
}

func newBindingEnv(t *testing.T) *bindingEnv {
	var suite testsuite.WorkflowTestSuite
	e := &bindingEnv{TestWorkflowEnvironment: suite.NewTestWorkflowEnvironment()}
	e.RegisterActivity(e.act)
	e.RegisterActivity(e.sched)
	e.OnActivity(e.sched.EnsureSchedules, mock.Anything, activities.CorpInput{CorpID: "corp1"}).Return(
		func(context.Context, activities.CorpInput) error {
			e.schedules = append(e.schedules, "ensure")
			return nil
		})
	e.OnActivity(e.sched.DeleteSchedules, mock.Anything, activities.CorpInput{CorpID: "corp1"}).Return(
		func(context.Context, activities.CorpInput) error {
			e.schedules = append(e.schedules, "delete")
			return nil
		})
	e.OnActivity(e.sched.PauseSchedules, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PauseSchedulesInput) error {
			e.schedules = append(e.schedules, map[bool]string{true: "pause", false: "unpause"}[in.Paused])
			return nil
		})
	e.RegisterWorkflow(FullSync)
	e.OnActivity(e.act.SetStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.StatusInput) error {
		e.statuses = append(e.statuses, in.Status)
		return nil
	})
	e.OnActivity(e.act.Snapshot, mock.Anything, mock.Anything).Return(activities.SnapshotResult{Snapshot: store.Snapshot{ID: 3}}, nil)
	e.OnActivity(e.act.RegisterCallback, mock.Anything, mock.Anything).Return(activities.CallbackResult{Registered: true, URL: "https://x/cb"}, nil)
	e.OnWorkflow(FullSync, mock.Anything, mock.Anything).Return(FullSyncResult{RunID: 1, Status: "succeeded", Employees: 10}, nil)
	e.OnRequestCancelExternalWorkflow(mock.Anything, "fullsync/corp1", "").Return(nil)
	e.RegisterWorkflow(IncrementalSync)
	e.OnWorkflow(IncrementalSync, mock.Anything, mock.Anything).Return(nil)
	return e
}

func (e *bindingEnv) update(name string, a BindingAction, rejected *string) {
	e.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept: func() {}, OnReject: func(err error) { *rejected = err.Error() }, OnComplete: func(any, error) {},
	}, a)
}

func (e *bindingEnv) state(t *testing.T) BindingState {
	t.Helper()
	v, err := e.QueryWorkflow(QueryStatus)
	require.NoError(t, err)
	var st BindingState
	require.NoError(t, v.Get(&st))
	return st
}

func TestBindingOnboardsThenUnbinds(t *testing.T) {
	e := newBindingEnv(t)
	e.OnActivity(e.act.Verify, mock.Anything, mock.Anything).Return(activities.VerifyResult{OptionalMissing: []string{"qyapi_process_read"}}, nil)
	e.OnActivity(e.act.Unbind, mock.Anything, mock.Anything).Return("HR data kept", nil)
	var rejected string
	e.RegisterDelayedCallback(func() {
		st := e.state(t)
		require.True(t, st.Onboarded)
		require.Equal(t, store.BindingActive, st.Status)
		require.Contains(t, st.Reason, "degraded: missing qyapi_process_read")
		require.Len(t, st.Steps, 6)
		require.Equal(t, "create schedules", st.Steps[5].Name)
		e.update(UpdateUnbind, BindingAction{}, &rejected)
		e.update(UpdateUnbind, BindingAction{By: "alice"}, &rejected)
	}, time.Minute)

	e.ExecuteWorkflow(Binding, BindingInput{CorpID: "corp1", Actor: "alice"})
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	var res BindingResult
	require.NoError(t, e.GetWorkflowResult(&res))
	require.Equal(t, store.BindingUnbound, res.Status)
	require.Contains(t, rejected, "say who does this")
	require.Equal(t, []string{store.BindingAuthorized, store.BindingSyncing, store.BindingActive}, e.statuses)
	require.Equal(t, []string{"ensure", "delete"}, e.schedules)
}

func TestBindingWaitsOnAMissingRequiredPermissionUntilResume(t *testing.T) {
	e := newBindingEnv(t)
	e.OnActivity(e.act.Verify, mock.Anything, mock.Anything).Return(
		activities.VerifyResult{RequiredMissing: []string{"qyapi_get_department_list"}}, nil).Once()
	e.OnActivity(e.act.Verify, mock.Anything, mock.Anything).Return(activities.VerifyResult{}, nil).Once()
	e.OnActivity(e.act.Unbind, mock.Anything, mock.Anything).Return("kept", nil)
	var rejected string
	e.RegisterDelayedCallback(func() {
		st := e.state(t)
		require.False(t, st.Onboarded)
		require.Equal(t, store.BindingPending, st.Status)
		require.Contains(t, st.Reason, "qyapi_get_department_list")
		e.update(UpdateResume, BindingAction{By: "bob"}, &rejected)
	}, time.Hour)
	e.RegisterDelayedCallback(func() {
		require.Equal(t, store.BindingActive, e.state(t).Status)
		e.update(UpdateResume, BindingAction{By: "bob"}, &rejected)
		e.update(UpdateUnbind, BindingAction{By: "bob"}, &rejected)
	}, 2*time.Hour)

	e.ExecuteWorkflow(Binding, BindingInput{CorpID: "corp1"})
	require.NoError(t, e.GetWorkflowError())
	require.Contains(t, rejected, "already active")
}

func TestBindingBadSecretMarksCredentialsInvalid(t *testing.T) {
	e := newBindingEnv(t)
	e.OnActivity(e.act.Verify, mock.Anything, mock.Anything).Return(activities.VerifyResult{},
		temporal.NewNonRetryableApplicationError("bad secret; fix: check the AppKey/AppSecret", activities.ErrTypeDingTalkAuth, nil))
	e.OnActivity(e.act.Unbind, mock.Anything, mock.Anything).Return("kept", nil)
	var rejected string
	e.RegisterDelayedCallback(func() {
		st := e.state(t)
		require.Equal(t, store.BindingCredentialsInvalid, st.Status)
		require.Contains(t, st.Reason, "check the AppKey/AppSecret")
		e.update(UpdateUnbind, BindingAction{By: "bob"}, &rejected)
	}, time.Minute)
	e.ExecuteWorkflow(Binding, BindingInput{CorpID: "corp1"})
	require.NoError(t, e.GetWorkflowError())
}

func TestAuthorizeExpiresWithWhatToDo(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	e := suite.NewTestWorkflowEnvironment()
	var act *activities.Binding
	e.RegisterActivity(act)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalAuthCodeReceived, "another-state") }, time.Hour)
	e.ExecuteWorkflow(Authorize, AuthorizeInput{CorpID: "corp1", StateHash: "h1", Timeout: 2 * time.Hour})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(e.GetWorkflowError(), &appErr))
	require.Equal(t, ErrTypeAuthorizationExpired, appErr.Type())
	require.Contains(t, appErr.Message(), "starter authorize --corp-id corp1")
}

func TestAuthorizeCompletesOnItsOwnState(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	e := suite.NewTestWorkflowEnvironment()
	var act *activities.Binding
	e.RegisterActivity(act)
	e.OnActivity(act.CompleteAuthorization, mock.Anything, activities.AuthorizeInput{CorpID: "corp1", StateHash: "h1"}).
		Return(activities.AuthorizeResult{UserID: "u1", Name: "王芳"}, nil)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalAuthCodeReceived, "h1") }, time.Hour)
	e.ExecuteWorkflow(Authorize, AuthorizeInput{CorpID: "corp1", StateHash: "h1"})
	require.NoError(t, e.GetWorkflowError())
	var res activities.AuthorizeResult
	require.NoError(t, e.GetWorkflowResult(&res))
	require.Equal(t, "u1", res.UserID)
}
