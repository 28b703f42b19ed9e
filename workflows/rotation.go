package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/store"
)

// RotateWorkflowID is the id of corpID's credential rotation: one at a time per corp.
func RotateWorkflowID(corpID string) string { return "rotate/" + corpID }

// KindRotate is the SyncKind of rotations.
const KindRotate = "rotate"

// ErrTypeRotationRolledBack fails a rotation that was undone; its message names the step.
const ErrTypeRotationRolledBack = "RotationRolledBack"

// defaultCallbackGrace is how long pushes signed with the old callback keys are still accepted
// after the new ones are active (DingTalk may have pushes in flight, or retry failed ones).
const defaultCallbackGrace = 10 * time.Minute

// RotateInput starts a rotation. For the AppSecret, the starter has stored the new secret as
// pending version Version (the secret itself never enters workflow history); for the callback
// keys the workflow draws new ones.
type RotateInput struct {
	CorpID     string
	Credential string // activities.RotateAppSecret or activities.RotateCallback
	Version    int
	Actor      string
	// Grace is how long the old callback keys stay accepted (default 10 minutes).
	Grace time.Duration
}

// RotateResult is a successful rotation.
type RotateResult struct {
	Credential string
	// Versions are the credential versions now active, by stored kind.
	Versions map[string]int
	Steps    []string
}

// Rotate rotates a corp's AppSecret (prove the pending version by fetching a token, switch to it
// atomically, smoke-test a read, retire the old one) or its callback token and AES key (draw
// new ones, register them with DingTalk, which verifies them by a check_url push, switch, wait
// the grace period while old-key pushes are still accepted, retire the old ones). Any failure
// rolls back to the previous version and fails the workflow naming the step.
func Rotate(ctx workflow.Context, in RotateInput) (RotateResult, error) {
	if in.CorpID == "" || in.Actor == "" {
		return RotateResult{}, temporal.NewNonRetryableApplicationError("a rotation needs a corp id and who rotates", ErrTypeInvalidInput, nil)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, CorpIDAttribute.ValueSet(in.CorpID),
		SyncKindAttribute.ValueSet(KindRotate)); err != nil {
		return RotateResult{}, err
	}
	r := &rotation{in: in, res: RotateResult{Credential: in.Credential, Versions: map[string]int{}}}
	var err error
	switch in.Credential {
	case activities.RotateAppSecret:
		if in.Version <= 0 {
			return RotateResult{}, temporal.NewNonRetryableApplicationError("an AppSecret rotation needs the pending version the starter stored", ErrTypeInvalidInput, nil)
		}
		r.versions = []kindVersion{{store.CredentialAppSecret, in.Version}}
		err = r.appSecret(ctx)
	case activities.RotateCallback:
		err = r.callback(ctx)
	default:
		return RotateResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown credential %q: want %q or %q",
			in.Credential, activities.RotateAppSecret, activities.RotateCallback), ErrTypeInvalidInput, nil)
	}
	result := "succeeded"
	if err != nil {
		result = "rolled_back"
	}
	var act *activities.Rotation
	_ = workflow.ExecuteActivity(shortActivity(ctx), act.CountRotation,
		activities.RotationOutcome{Credential: in.Credential, Result: result}).Get(ctx, nil)
	return r.res, err
}

type rotation struct {
	in       RotateInput
	res      RotateResult
	versions []kindVersion // the versions being rotated to, in order
}

// kindVersion is one stored credential kind and the version a rotation moves it to.
type kindVersion struct {
	kind    string
	version int
}

var rotationAct *activities.Rotation

func (r *rotation) appSecret(ctx workflow.Context) error {
	step := r.step(store.CredentialAppSecret)
	for _, s := range []struct {
		name string
		fn   any
	}{{"prove the new AppSecret (fetch a token with it)", rotationAct.ProveAppSecret},
		{"switch to the new AppSecret", rotationAct.ActivateCredential},
		{"smoke-test a read with the new AppSecret", rotationAct.SmokeTest}} {
		if err := workflow.ExecuteActivity(rotationStep(ctx, forwardStepAttempts), s.fn, step).Get(ctx, nil); err != nil {
			return r.rollback(ctx, s.name, err)
		}
		r.res.Steps = append(r.res.Steps, s.name+": ok")
	}
	return r.finish(ctx)
}

func (r *rotation) callback(ctx workflow.Context) error {
	var keys activities.CallbackKeys
	err := workflow.ExecuteActivity(rotationStep(ctx, forwardStepAttempts), rotationAct.PrepareCallbackKeys, r.step("")).Get(ctx, &keys)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("draw and store new callback keys: "+FailureMessage(err), ErrTypeRotationRolledBack, nil)
	}
	r.versions = []kindVersion{{store.CredentialCallbackToken, keys.TokenVersion}, {store.CredentialCallbackAESKey, keys.AESKeyVersion}}
	r.res.Steps = append(r.res.Steps, "draw new callback keys: ok")
	err = workflow.ExecuteActivity(rotationStep(ctx, forwardStepAttempts), rotationAct.UpdateCallback,
		activities.UpdateCallbackInput{CorpID: r.in.CorpID, Keys: keys}).Get(ctx, nil)
	if err != nil {
		return r.rollback(ctx, "register the new keys with DingTalk (update_call_back)", err)
	}
	r.res.Steps = append(r.res.Steps, "register the new keys with DingTalk: ok (its check_url push verified)")
	for _, kv := range r.versions {
		if err := workflow.ExecuteActivity(rotationStep(ctx, forwardStepAttempts), rotationAct.ActivateCredential, r.step(kv.kind)).Get(ctx, nil); err != nil {
			return r.rollback(ctx, "switch to the new callback keys", err)
		}
	}
	grace := r.in.Grace
	if grace <= 0 {
		grace = defaultCallbackGrace
	}
	r.res.Steps = append(r.res.Steps, fmt.Sprintf("switch to the new callback keys: ok; old keys accepted for %s more", grace))
	if err := workflow.Sleep(ctx, grace); err != nil {
		return err
	}
	return r.finish(ctx)
}

func (r *rotation) step(kind string) activities.RotationStep {
	s := activities.RotationStep{CorpID: r.in.CorpID, Kind: kind, Actor: r.in.Actor}
	for _, kv := range r.versions {
		if kv.kind == kind {
			s.Version = kv.version
		}
	}
	return s
}

// finish retires the replaced versions and records the new ones.
func (r *rotation) finish(ctx workflow.Context) error {
	for _, kv := range r.versions {
		if err := workflow.ExecuteActivity(rotationStep(ctx, forwardStepAttempts), rotationAct.FinishRotation, r.step(kv.kind)).Get(ctx, nil); err != nil {
			return err
		}
		r.res.Versions[kv.kind] = kv.version
	}
	r.res.Steps = append(r.res.Steps, "retire the old version: ok")
	return nil
}

// rollback undoes the rotation of every kind and fails with the step that failed and why.
func (r *rotation) rollback(ctx workflow.Context, step string, cause error) error {
	reason := fmt.Sprintf("%s failed: %s", step, FailureMessage(cause))
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	for _, kv := range r.versions {
		err := workflow.ExecuteActivity(rotationStep(dctx, 0), rotationAct.RollbackRotation,
			activities.RollbackInput{RotationStep: r.step(kv.kind), Reason: reason}).Get(dctx, nil)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(reason+"; the rollback failed too ("+FailureMessage(err)+"): check `starter status`",
				ErrTypeRotationRolledBack, nil)
		}
	}
	r.res.Steps = append(r.res.Steps, step+": failed; rolled back to the previous version")
	return temporal.NewNonRetryableApplicationError(reason+"; rolled back: the previous version is active again",
		ErrTypeRotationRolledBack, nil)
}

// forwardStepAttempts bounds the attempts of a step towards the new credential before the
// rotation rolls back; a rollback retries until it is done (attempts 0).
const forwardStepAttempts = 5

// rotationStep is for a rotation's steps. Each heartbeats every second, so a step held by a
// worker that died is retried within seconds: until the switch, DingTalk may already refuse the
// old secret and the corp's event batches wait for it.
func rotationStep(ctx workflow.Context, attempts int32) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    3 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second,
			MaximumAttempts: attempts, NonRetryableErrorTypes: append(nonRetryable, activities.ErrTypeInvalidBindingConfig)},
	})
}
