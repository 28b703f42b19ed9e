package activities

import (
	"context"

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
// guard trips, nothing is applied and the run is marked awaiting_approval.
func (a *Sync) ApplyRun(ctx context.Context, in ApplyInput) (ApplyResult, error) {
	res, err := a.Store.Apply(ctx, in.RunID, in.Policy)
	if err != nil {
		return res, temporalError(err)
	}
	if res.NeedsApproval {
		if err := a.Store.AwaitApproval(ctx, in.RunID, res.PendingDeletions); err != nil {
			return res, err
		}
	}
	return res, nil
}
