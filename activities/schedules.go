package activities

import (
	"context"

	"github.com/dingsync/dingsync/internal/schedules"
	"github.com/dingsync/dingsync/internal/store"
)

// Schedules holds the activities that keep a binding's Temporal Schedules.
type Schedules struct {
	Store   *store.Store
	Manager *schedules.Manager
}

// EnsureSchedules creates or updates the corp's schedules from its binding's settings.
func (a *Schedules) EnsureSchedules(ctx context.Context, in CorpInput) error {
	b, err := a.Store.GetBinding(ctx, in.CorpID)
	if err != nil {
		return temporalError(err)
	}
	return a.Manager.Ensure(ctx, b)
}

// DeleteSchedules removes the corp's schedules.
func (a *Schedules) DeleteSchedules(ctx context.Context, in CorpInput) error {
	return a.Manager.Delete(ctx, in.CorpID)
}

// PauseSchedulesInput pauses or unpauses a corp's schedules, saying why.
type PauseSchedulesInput struct {
	CorpID string
	Paused bool
	Note   string
}

// PauseSchedules pauses or unpauses every schedule of the corp.
func (a *Schedules) PauseSchedules(ctx context.Context, in PauseSchedulesInput) error {
	return a.Manager.SetPaused(ctx, in.CorpID, in.Paused, in.Note)
}
