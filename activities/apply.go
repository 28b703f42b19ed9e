package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/dingsync/dingsync/internal/store"
)

// ApplyInput names the run to apply and what to do with vanished records.
type ApplyInput struct {
	RunID  int64
	Policy store.DeletionPolicy
}

// ApplyResult is what the apply changed, or, when the deletion guard held it, how many
// deactivations wait for approval.
type ApplyResult = store.ApplyResult

// ApplyRun moves the run's staging into the HR store in one transaction. When the deletion
// guard trips, nothing is applied, the run is marked awaiting_approval and the HR admins are
// notified.
func (a *Sync) ApplyRun(ctx context.Context, in ApplyInput) (ApplyResult, error) {
	stop := heartbeatEvery(ctx, 5*time.Second)
	res, err := a.Store.Apply(ctx, in.RunID, in.Policy)
	stop()
	if err != nil {
		return res, temporalError(err)
	}
	if res.NeedsApproval {
		if err := a.Store.AwaitApproval(ctx, in.RunID, res.PendingDeletions); err != nil {
			return res, err
		}
		if err := notifyHeldDeletions(ctx, a.Store, in.RunID, res.PendingDeletions); err != nil {
			return res, err
		}
	}
	return res, nil
}

// heartbeatEvery heartbeats from a ticker until stop is called, so a worker that dies in the
// middle of one long statement is noticed after the heartbeat timeout, not the start-to-close.
func heartbeatEvery(ctx context.Context, d time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
