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

type rotationEnv struct {
	*testsuite.TestWorkflowEnvironment
	act      *activities.Rotation
	calls    []string // "activity kind", in order
	finished time.Time
	outcomes []activities.RotationOutcome
}

func newRotationEnv() *rotationEnv {
	var suite testsuite.WorkflowTestSuite
	e := &rotationEnv{TestWorkflowEnvironment: suite.NewTestWorkflowEnvironment()}
	e.RegisterActivity(e.act)
	record := func(name string) func(context.Context, activities.RotationStep) error {
		return func(_ context.Context, s activities.RotationStep) error {
			e.calls = append(e.calls, name+" "+s.Kind)
			if name == "finish" {
				e.finished = e.Now()
			}
			return nil
		}
	}
	e.OnActivity(e.act.ProveAppSecret, mock.Anything, mock.Anything).Return(record("prove")).Maybe()
	e.OnActivity(e.act.ActivateCredential, mock.Anything, mock.Anything).Return(record("activate")).Maybe()
	e.OnActivity(e.act.FinishRotation, mock.Anything, mock.Anything).Return(record("finish")).Maybe()
	e.OnActivity(e.act.RollbackRotation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RollbackInput) error {
		e.calls = append(e.calls, "rollback "+in.Kind)
		return nil
	}).Maybe()
	e.OnActivity(e.act.CountRotation, mock.Anything, mock.Anything).Return(func(_ context.Context, o activities.RotationOutcome) error {
		e.outcomes = append(e.outcomes, o)
		return nil
	})
	return e
}

func TestAppSecretRotationProvesSwitchesSmokeTestsAndRetires(t *testing.T) {
	e := newRotationEnv()
	e.OnActivity(e.act.SmokeTest, mock.Anything, activities.RotationStep{CorpID: "corp1", Kind: store.CredentialAppSecret, Version: 2, Actor: "alice"}).Return(nil)
	e.ExecuteWorkflow(Rotate, RotateInput{CorpID: "corp1", Credential: activities.RotateAppSecret, Version: 2, Actor: "alice"})
	require.NoError(t, e.GetWorkflowError())
	var res RotateResult
	require.NoError(t, e.GetWorkflowResult(&res))
	require.Equal(t, map[string]int{store.CredentialAppSecret: 2}, res.Versions)
	require.Equal(t, []string{"prove app_secret", "activate app_secret", "finish app_secret"}, e.calls)
	require.Equal(t, []activities.RotationOutcome{{Credential: activities.RotateAppSecret, Result: "succeeded"}}, e.outcomes)
}

func TestFailedSmokeTestRollsBackAndNamesTheStep(t *testing.T) {
	e := newRotationEnv()
	e.OnActivity(e.act.SmokeTest, mock.Anything, mock.Anything).Return(
		temporal.NewNonRetryableApplicationError("read the root department with the new AppSecret: 60011 no permission", activities.ErrTypeDingTalkPermission, nil))
	e.ExecuteWorkflow(Rotate, RotateInput{CorpID: "corp1", Credential: activities.RotateAppSecret, Version: 2, Actor: "alice"})
	err := e.GetWorkflowError()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, ErrTypeRotationRolledBack, appErr.Type())
	require.Contains(t, appErr.Message(), "smoke-test a read with the new AppSecret failed")
	require.Contains(t, appErr.Message(), "previous version is active again")
	require.Equal(t, []string{"prove app_secret", "activate app_secret", "rollback app_secret"}, e.calls)
	require.Equal(t, "rolled_back", e.outcomes[0].Result)
}

func TestCallbackRotationKeepsOldKeysForTheGracePeriod(t *testing.T) {
	e := newRotationEnv()
	e.OnActivity(e.act.PrepareCallbackKeys, mock.Anything, mock.Anything).Return(activities.CallbackKeys{TokenVersion: 3, AESKeyVersion: 4}, nil)
	e.OnActivity(e.act.UpdateCallback, mock.Anything, activities.UpdateCallbackInput{CorpID: "corp1",
		Keys: activities.CallbackKeys{TokenVersion: 3, AESKeyVersion: 4}}).Return(nil)
	start := e.Now()
	e.ExecuteWorkflow(Rotate, RotateInput{CorpID: "corp1", Credential: activities.RotateCallback, Actor: "alice", Grace: 5 * time.Minute})
	require.NoError(t, e.GetWorkflowError())
	var res RotateResult
	require.NoError(t, e.GetWorkflowResult(&res))
	require.Equal(t, map[string]int{store.CredentialCallbackToken: 3, store.CredentialCallbackAESKey: 4}, res.Versions)
	require.GreaterOrEqual(t, e.finished.Sub(start), 5*time.Minute, "old keys retired before the grace period ended")
}
