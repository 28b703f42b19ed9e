package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// Rotation holds the activities of credential rotation. Secrets never leave them: workflow
// inputs and results carry credential versions only.
type Rotation struct {
	Store    *store.Store
	DingTalk *dingtalk.Client
	Secrets  *secretbox.Box
	Metrics  *metrics.Metrics
}

// Rotated credentials, the credential label of dingsync_credential_rotations_total.
const (
	RotateAppSecret = "app_secret"
	RotateCallback  = "callback"
)

// RotationStep names one credential version of a corp, and who rotates it.
type RotationStep struct {
	CorpID  string
	Kind    string // store.CredentialAppSecret, or the callback kinds via RotateCallback
	Version int
	Actor   string
}

// ProveAppSecret fetches a token with the pending AppSecret version, bypassing every cached
// token: DingTalk accepting it proves the new secret before anything switches to it.
func (a *Rotation) ProveAppSecret(ctx context.Context, in RotationStep) error {
	defer heartbeatEvery(ctx, time.Second)()
	app, err := a.appWithVersion(ctx, in.CorpID, in.Version)
	if err != nil {
		return temporalError(err)
	}
	if _, err := a.DingTalk.Token(ctx, app); err != nil {
		return temporalError(fmt.Errorf("fetch a token with the new AppSecret (version %d): %w", in.Version, err))
	}
	return nil
}

func (a *Rotation) appWithVersion(ctx context.Context, corpID string, version int) (dingtalk.App, error) {
	b, err := a.Store.GetBinding(ctx, corpID)
	if err != nil {
		return dingtalk.App{}, err
	}
	cred, _, err := a.Store.CredentialVersion(ctx, corpID, store.CredentialAppSecret, version)
	if err != nil {
		return dingtalk.App{}, err
	}
	secret, err := a.Secrets.Open(cred.Ciphertext, store.SealContext(corpID, cred.Kind, cred.Version))
	if err != nil {
		return dingtalk.App{}, fmt.Errorf("open %s version %d: %w", cred.Kind, version, err)
	}
	return dingtalk.App{CorpID: corpID, AppKey: b.AppKey, AppSecret: secret, CredentialVersion: version}, nil
}

// ActivateCredential switches the corp's credential kind to the version. Every worker's next
// DingTalk call loads the new version (tokens are cached per version, so none is reused).
func (a *Rotation) ActivateCredential(ctx context.Context, in RotationStep) error {
	defer heartbeatEvery(ctx, time.Second)()
	return a.Store.ActivateCredential(ctx, in.CorpID, in.Kind, in.Version, in.Actor)
}

// SmokeTest reads the root department with the corp's active credential.
func (a *Rotation) SmokeTest(ctx context.Context, in RotationStep) error {
	defer heartbeatEvery(ctx, time.Second)()
	app, err := loadApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return temporalError(err)
	}
	if app.CredentialVersion != in.Version {
		return fmt.Errorf("the active AppSecret is version %d, not the rotated %d: another rotation interfered", app.CredentialVersion, in.Version)
	}
	if _, err := a.DingTalk.GetDepartment(ctx, app, dingtalk.RootDepartmentID); err != nil {
		return temporalError(fmt.Errorf("read the root department with the new AppSecret: %w", err))
	}
	return nil
}

// FinishRotation retires the version the rotation replaced.
func (a *Rotation) FinishRotation(ctx context.Context, in RotationStep) error {
	defer heartbeatEvery(ctx, time.Second)()
	return a.Store.FinishRotation(ctx, in.CorpID, in.Kind, in.Version, in.Actor)
}

// RollbackInput undoes a rotation and says why.
type RollbackInput struct {
	RotationStep
	Reason string
}

// RollbackRotation makes the previous version active again and retires the new one.
func (a *Rotation) RollbackRotation(ctx context.Context, in RollbackInput) error {
	defer heartbeatEvery(ctx, time.Second)()
	return a.Store.RollbackRotation(ctx, in.CorpID, in.Kind, in.Version, in.Actor, in.Reason)
}

// RotationOutcome is a finished rotation, for metrics.
type RotationOutcome struct {
	Credential string // RotateAppSecret or RotateCallback
	Result     string // "succeeded" or "rolled_back"
}

// CountRotation counts a finished rotation in dingsync_credential_rotations_total.
func (a *Rotation) CountRotation(_ context.Context, in RotationOutcome) error {
	if a.Metrics != nil {
		a.Metrics.Rotations.WithLabelValues(in.Credential, in.Result).Inc()
	}
	return nil
}
