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

type fullSyncEnv struct {
	*testsuite.TestWorkflowEnvironment
	act      *activities.Sync
	finished *activities.FinishRunInput
}

func newFullSyncEnv(t *testing.T) *fullSyncEnv {
	var suite testsuite.WorkflowTestSuite
	e := &fullSyncEnv{TestWorkflowEnvironment: suite.NewTestWorkflowEnvironment()}
	e.RegisterActivity(e.act)
	e.OnActivity(e.act.StartRun, mock.Anything, mock.Anything).Return(activities.StartRunResult{RunID: 7}, nil)
	e.OnActivity(e.act.FinishRun, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishRunInput) error { e.finished = &in; return nil })
	return e
}

func (e *fullSyncEnv) crawlReturns(res activities.CrawlResult, err error) {
	e.OnActivity(e.act.CrawlOrg, mock.Anything, activities.CrawlInput{CorpID: "corp1", RunID: 7}).Return(res, err)
}

func (e *fullSyncEnv) applyReturns(policy store.DeletionPolicy, res activities.ApplyResult) {
	e.OnActivity(e.act.ApplyRun, mock.Anything, activities.ApplyInput{RunID: 7, Policy: policy}).Return(res, nil).Once()
}

func (e *fullSyncEnv) decideAfter(d time.Duration, decision DeletionDecision) *testsuite.TestUpdateCallback {
	cb := &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(err error) { panic("update rejected: " + err.Error()) },
		OnComplete: func(any, error) {},
	}
	e.RegisterDelayedCallback(func() { e.UpdateWorkflow(UpdateDecideDeletions, "u1", cb, decision) }, d)
	return cb
}

func (e *fullSyncEnv) result(t *testing.T) (FullSyncResult, error) {
	t.Helper()
	require.True(t, e.IsWorkflowCompleted())
	var res FullSyncResult
	err := e.GetWorkflowError()
	if err == nil {
		require.NoError(t, e.GetWorkflowResult(&res))
	}
	return res, err
}

func TestFullSyncAppliesAndFinishesSucceeded(t *testing.T) {
	e := newFullSyncEnv(t)
	e.crawlReturns(activities.CrawlResult{Departments: 10, UserRows: 200, APICalls: 21}, nil)
	e.applyReturns(store.DeletionsGuarded, activities.ApplyResult{EmployeesSeen: 200, DepartmentsSeen: 10, Created: 200, DepartmentsChanged: 10})

	e.ExecuteWorkflow(FullSync, FullSyncInput{CorpID: "corp1"})
	res, err := e.result(t)
	require.NoError(t, err)
	require.Equal(t, FullSyncResult{RunID: 7, Status: store.RunSucceeded, Departments: 10, Employees: 200, Created: 200,
		DepartmentsChanged: 10, APICalls: 21}, res)
	require.Equal(t, store.RunSucceeded, e.finished.Status)
	require.Equal(t, store.BindingActive, e.finished.BindingStatus)
	require.Equal(t, KindFull, e.finished.Kind)
}

func TestFullSyncWaitsForApprovalThenAppliesDeletions(t *testing.T) {
	e := newFullSyncEnv(t)
	e.crawlReturns(activities.CrawlResult{Departments: 10, UserRows: 100}, nil)
	e.applyReturns(store.DeletionsGuarded, activities.ApplyResult{NeedsApproval: true, PendingDeletions: 60})
	e.applyReturns(store.DeletionsApproved, activities.ApplyResult{EmployeesSeen: 100, Deactivated: 60})
	e.RegisterDelayedCallback(func() {
		_, err := e.QueryWorkflow(QueryProgress)
		require.NoError(t, err)
	}, time.Hour)
	e.decideAfter(2*time.Hour, DeletionDecision{Approve: true, By: "alice"})

	e.ExecuteWorkflow(FullSync, FullSyncInput{CorpID: "corp1"})
	res, err := e.result(t)
	require.NoError(t, err)
	require.Equal(t, 60, res.Deactivated)
	require.Equal(t, "alice", res.DecidedBy)
	require.Equal(t, store.RunSucceeded, e.finished.Status)
	require.Equal(t, "alice", e.finished.DecidedBy)
}

func TestFullSyncRejectedDeletionsEndPartial(t *testing.T) {
	e := newFullSyncEnv(t)
	e.crawlReturns(activities.CrawlResult{Departments: 10, UserRows: 100}, nil)
	e.applyReturns(store.DeletionsGuarded, activities.ApplyResult{NeedsApproval: true, PendingDeletions: 60})
	e.applyReturns(store.DeletionsSkipped, activities.ApplyResult{EmployeesSeen: 100, Updated: 3, PendingDeletions: 60})
	e.decideAfter(time.Minute, DeletionDecision{Approve: false, By: "bob", Reason: "DingTalk side is wrong"})

	e.ExecuteWorkflow(FullSync, FullSyncInput{CorpID: "corp1"})
	res, err := e.result(t)
	require.NoError(t, err)
	require.Equal(t, store.RunPartial, res.Status)
	require.Contains(t, e.finished.Reason, "60 deactivations rejected by bob: DingTalk side is wrong")
}

func TestFullSyncApprovalTimeoutFailsWithNothingApplied(t *testing.T) {
	e := newFullSyncEnv(t)
	e.crawlReturns(activities.CrawlResult{Departments: 10, UserRows: 100}, nil)
	e.applyReturns(store.DeletionsGuarded, activities.ApplyResult{NeedsApproval: true, PendingDeletions: 60})

	e.ExecuteWorkflow(FullSync, FullSyncInput{CorpID: "corp1", ApprovalTimeout: 24 * time.Hour})
	_, err := e.result(t)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, ErrTypeDeletionsTimedOut, appErr.Type())
	require.Contains(t, appErr.Error(), "starter deletions approve|reject --corp-id corp1")
	require.Equal(t, store.RunFailed, e.finished.Status)
	e.AssertNumberOfCalls(t, "ApplyRun", 1)
}

func TestFullSyncDecisionValidation(t *testing.T) {
	e := newFullSyncEnv(t)
	e.OnActivity(e.act.CrawlOrg, mock.Anything, mock.Anything).After(10*time.Minute).
		Return(activities.CrawlResult{Departments: 10, UserRows: 100}, nil)
	e.applyReturns(store.DeletionsGuarded, activities.ApplyResult{NeedsApproval: true, PendingDeletions: 60})
	e.applyReturns(store.DeletionsApproved, activities.ApplyResult{Deactivated: 60})
	var rejections []string
	reject := func(d DeletionDecision) {
		e.UpdateWorkflow(UpdateDecideDeletions, "", &testsuite.TestUpdateCallback{
			OnAccept: func() { t.Errorf("decision %+v accepted, want rejected", d) },
			OnReject: func(err error) { rejections = append(rejections, err.Error()) }, OnComplete: func(any, error) {},
		}, d)
	}
	e.RegisterDelayedCallback(func() { reject(DeletionDecision{Approve: false, By: "bob"}) }, time.Minute)
	e.RegisterDelayedCallback(func() { reject(DeletionDecision{Approve: true}) }, 11*time.Minute)
	e.decideAfter(12*time.Minute, DeletionDecision{Approve: true, By: "alice"})

	e.ExecuteWorkflow(FullSync, FullSyncInput{CorpID: "corp1"})
	_, err := e.result(t)
	require.NoError(t, err)
	require.Len(t, rejections, 2)
	require.Contains(t, rejections[0], "reading DingTalk, not awaiting approval")
	require.Contains(t, rejections[1], "say who decides")
}

func TestFullSyncQuarantinesWhenTooManyDepartmentsFail(t *testing.T) {
	e := newFullSyncEnv(t)
	e.crawlReturns(activities.CrawlResult{Departments: 10, RecordErrors: 5}, nil)

	e.ExecuteWorkflow(FullSync, FullSyncInput{CorpID: "corp1"})
	_, err := e.result(t)
	require.ErrorContains(t, err, "5 of 10 departments could not be read")
	require.Equal(t, store.BindingQuarantined, e.finished.BindingStatus)
	e.AssertNotCalled(t, "ApplyRun", mock.Anything, mock.Anything)
}

func TestFullSyncPartialWhenSomeDepartmentsFail(t *testing.T) {
	e := newFullSyncEnv(t)
	e.crawlReturns(activities.CrawlResult{Departments: 10, RecordErrors: 1}, nil)
	e.applyReturns(store.DeletionsGuarded, activities.ApplyResult{EmployeesSeen: 90, RecordErrors: 1})

	e.ExecuteWorkflow(FullSync, FullSyncInput{CorpID: "corp1"})
	res, err := e.result(t)
	require.NoError(t, err)
	require.Equal(t, store.RunPartial, res.Status)
	require.Contains(t, e.finished.Reason, "1 records could not be read (departments")
}

func TestFullSyncBadCredentialsMarkBinding(t *testing.T) {
	e := newFullSyncEnv(t)
	e.crawlReturns(activities.CrawlResult{}, temporal.NewNonRetryableApplicationError(
		"dingtalk /v1.0/oauth2/accessToken: auth; fix: check the AppKey/AppSecret", activities.ErrTypeDingTalkAuth, nil))

	e.ExecuteWorkflow(FullSync, FullSyncInput{CorpID: "corp1"})
	_, err := e.result(t)
	require.ErrorContains(t, err, "check the AppKey/AppSecret")
	require.Equal(t, store.RunFailed, e.finished.Status)
	require.Equal(t, store.BindingCredentialsInvalid, e.finished.BindingStatus)
	require.Equal(t, activities.ErrTypeDingTalkAuth, e.finished.ErrorType)
}

func TestFullSyncRejectsMissingCorp(t *testing.T) {
	e := newFullSyncEnv(t)
	e.ExecuteWorkflow(FullSync, FullSyncInput{})
	_, err := e.result(t)
	require.ErrorContains(t, err, "needs a corp id")
	e.AssertNotCalled(t, "StartRun", mock.Anything, mock.Anything)
}
