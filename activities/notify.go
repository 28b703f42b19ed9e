package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/dingsync/dingsync/internal/notify"
	"github.com/dingsync/dingsync/internal/store"
)

// The activities below write work notifications to the outbox where the events happen; the
// worker's notify.Sender delivers them. Each has a dedupe key (the run id), so a retried
// activity writes its notification once.

// chinaTime is the zone of the day incremental failures are told once in.
var chinaTime = time.FixedZone("CST", 8*3600)

// corpOf names the corp for a message.
func corpOf(ctx context.Context, st *store.Store, corpID string) (notify.Corp, error) {
	name, err := st.CorpName(ctx, corpID)
	return notify.Corp{ID: corpID, Name: name}, err
}

// enqueue writes n, saying which event it is about when it cannot.
func enqueue(ctx context.Context, st *store.Store, n store.NewNotification) error {
	if _, err := st.EnqueueNotification(ctx, n); err != nil {
		return fmt.Errorf("notify the HR admins of corp %s: %w", n.CorpID, err)
	}
	return nil
}

// notifyFailedRun tells the HR admins about a failed run (and the binding status it caused).
func notifyFailedRun(ctx context.Context, st *store.Store, in FinishRunInput) error {
	if in.Status != store.RunFailed {
		return nil
	}
	corp, err := corpOf(ctx, st, in.CorpID)
	if err != nil {
		return err
	}
	n, ok := notify.ForFailedRun(notify.FailedRun{Corp: corp, RunID: in.RunID, Kind: in.Kind, ErrorType: in.ErrorType,
		Reason: in.Reason, BindingStatus: in.BindingStatus, Day: time.Now().In(chinaTime).Format(time.DateOnly)})
	if !ok {
		return nil
	}
	return enqueue(ctx, st, n)
}

// notifyHeldDeletions tells the HR admins that the deletion guard holds a run's apply.
func notifyHeldDeletions(ctx context.Context, st *store.Store, runID int64, pending int) error {
	run, err := st.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	corp, err := corpOf(ctx, st, run.CorpID)
	if err != nil {
		return err
	}
	return enqueue(ctx, st, notify.ForHeldDeletions(corp, runID, run.Kind, pending))
}

// notifyDrift tells the HR admins that an audit found drift.
func notifyDrift(ctx context.Context, st *store.Store, rep store.AuditReport) error {
	if rep.Drift.Total() == 0 {
		return nil
	}
	corp, err := corpOf(ctx, st, rep.CorpID)
	if err != nil {
		return err
	}
	return enqueue(ctx, st, notify.ForAuditDrift(corp, rep.RunID, rep.Drift))
}
