package activities

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
)

// appRefreshInterval is how often a long-running activity re-reads the corp's active AppSecret
// version, so a rotation reaches it within seconds.
const appRefreshInterval = 3 * time.Second

// liveApp is a corp's App as a long-running activity (a crawl) uses it: re-read from the store
// every appRefreshInterval. Tokens are cached per credential version, so the first call after
// a rotation fetches a token with the new secret.
type liveApp struct {
	ctx    context.Context
	st     *store.Store
	box    *secretbox.Box
	corpID string

	mu     sync.Mutex
	app    dingtalk.App
	loaded time.Time
}

// newLiveApp loads the corp's App (the error is the first load's).
func newLiveApp(ctx context.Context, st *store.Store, box *secretbox.Box, corpID string) (*liveApp, error) {
	app, err := loadApp(ctx, st, box, corpID)
	if err != nil {
		return nil, err
	}
	return &liveApp{ctx: ctx, st: st, box: box, corpID: corpID, app: app, loaded: time.Now()}, nil
}

// Get returns the App, re-read when it is older than appRefreshInterval. A failed re-read keeps
// the App it has (the next call tries again).
func (l *liveApp) Get() dingtalk.App {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.loaded) < appRefreshInterval {
		return l.app
	}
	l.loaded = time.Now()
	app, err := loadApp(l.ctx, l.st, l.box, l.corpID)
	if err != nil {
		slog.Warn("re-read the corp's AppSecret", "corp", l.corpID, "error", err)
		return l.app
	}
	if app.CredentialVersion != l.app.CredentialVersion {
		slog.Info("switched to a rotated AppSecret", "corp", l.corpID, "version", app.CredentialVersion)
	}
	l.app = app
	return app
}

// ErrTypeCredentialsRotating is a DingTalk auth failure while the corp's AppSecret is being
// rotated: it retries, and the retry uses the new secret once the rotation switched to it.
const ErrTypeCredentialsRotating = "CredentialsRotating"

// rotationWindow is how long after a rotation an auth failure is taken for a caller still
// holding the old AppSecret.
const rotationWindow = 5 * time.Minute

// rotationAware turns an auth failure of a corp whose AppSecret is being (or was just) rotated
// into a retryable error; anything else goes through temporalError.
func rotationAware(ctx context.Context, st *store.Store, corpID string, err error) error {
	if !dingtalk.IsKind(err, dingtalk.KindAuth) {
		return temporalError(err)
	}
	rotating, lookupErr := st.RecentlyRotated(ctx, corpID, store.CredentialAppSecret, rotationWindow)
	if lookupErr != nil || !rotating {
		return temporalError(err)
	}
	return temporal.NewApplicationErrorWithOptions(
		fmt.Sprintf("DingTalk refused the AppSecret while rotate/%s switches it: retrying with the new one", corpID),
		ErrTypeCredentialsRotating, temporal.ApplicationErrorOptions{NextRetryDelay: appRefreshInterval})
}

// rotationWaitLimit bounds how long one attempt waits for a rotation under way to switch.
const rotationWaitLimit = 2 * time.Minute

// awaitRotatedApp is for a call DingTalk refused with stale's AppSecret: while a rotation of
// the corp's AppSecret is under way (a pending version stored, DingTalk already refusing the
// old one), it waits inside the attempt for the switch and returns the App with the new
// secret, rather than spending the activity's retries. switched is false when no rotation is
// pending, it rolled back, or it did not switch within rotationWaitLimit. The caller
// heartbeats meanwhile.
func awaitRotatedApp(ctx context.Context, st *store.Store, box *secretbox.Box, corpID string, stale dingtalk.App) (app dingtalk.App, switched bool, err error) {
	deadline := time.Now().Add(rotationWaitLimit)
	for time.Now().Before(deadline) {
		if app, err = loadApp(ctx, st, box, corpID); err != nil {
			return app, false, err
		}
		if app.CredentialVersion != stale.CredentialVersion {
			return app, true, nil
		}
		pending, err := st.RotationPending(ctx, corpID, store.CredentialAppSecret)
		if err != nil || !pending {
			return app, false, err
		}
		select {
		case <-ctx.Done():
			return app, false, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return app, false, nil
}
