package httpapi

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dingsync/dingsync/internal/metrics"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

// IncrementalWaker wakes (starting it if needed) a corp's incremental sync workflow.
type IncrementalWaker struct {
	Client    client.Client
	TaskQueue string
}

// Wake signals incsync/<corp> that events wait in the inbox.
func (w *IncrementalWaker) Wake(ctx context.Context, corpID string) error {
	return w.signal(ctx, corpID, workflows.SignalEventsArrived)
}

// DrainFailedPushes asks incsync/<corp> to fetch the events DingTalk failed to push, now.
func (w *IncrementalWaker) DrainFailedPushes(ctx context.Context, corpID string) error {
	return w.signal(ctx, corpID, workflows.SignalDrainFailedPushes)
}

func (w *IncrementalWaker) signal(ctx context.Context, corpID, signal string) error {
	_, err := w.Client.SignalWithStartWorkflow(ctx, workflows.IncrementalWorkflowID(corpID), signal, nil,
		client.StartWorkflowOptions{ID: workflows.IncrementalWorkflowID(corpID), TaskQueue: w.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.CorpIDAttribute.ValueSet(corpID),
				workflows.SyncKindAttribute.ValueSet(workflows.KindIncremental))},
		workflows.IncrementalSync, workflows.IncrementalInput{CorpID: corpID})
	return err
}

// WritebackWaker wakes (starting it if needed) a corp's writeback of eHR changes.
type WritebackWaker struct {
	Client    client.Client
	TaskQueue string
}

// Wake signals writeback/<corp> that eHR changes wait in ehr_writes.
func (w *WritebackWaker) Wake(ctx context.Context, corpID string) error {
	_, err := w.Client.SignalWithStartWorkflow(ctx, workflows.WritebackWorkflowID(corpID), workflows.SignalWritesPending, nil,
		client.StartWorkflowOptions{ID: workflows.WritebackWorkflowID(corpID), TaskQueue: w.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.CorpIDAttribute.ValueSet(corpID),
				workflows.SyncKindAttribute.ValueSet(workflows.KindWriteback))},
		workflows.Writeback, workflows.WritebackInput{CorpID: corpID})
	return err
}

// Sweeper re-wakes the incremental sync of corps whose events wait longer than they should
// (the receiver could not signal: Temporal was down), so nothing accepted is lost; wakes the
// writeback of corps whose eHR changes wait (made through the SQL functions, which cannot
// signal Temporal, or left by a writeback that backed off); and keeps the inbox backlog and
// binding status gauges current.
type Sweeper struct {
	Store     *store.Store
	Waker     *IncrementalWaker
	Writeback *WritebackWaker // nil: eHR changes are not swept
	Metrics   *metrics.Metrics
	Every     time.Duration // how often to look (default 5 s)
	Grace     time.Duration // how long an event may wait before it counts as missed (default 3 s)
}

// Run sweeps until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	every, grace := s.Every, s.Grace
	if every <= 0 {
		every = 5 * time.Second
	}
	if grace <= 0 {
		grace = 3 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.refreshGauges(ctx)
		corps, err := s.Store.CorpsWithPendingEvents(ctx, time.Now().Add(-grace))
		if err != nil {
			slog.Warn("inbox sweep", "error", err)
			continue
		}
		for _, corp := range corps {
			if err := s.Waker.Wake(ctx, corp); err != nil {
				slog.Warn("inbox sweep: wake incremental sync", "corp", corp, "error", err)
			}
		}
		s.wakeWritebacks(ctx)
	}
}

// wakeWritebacks wakes the writeback of every corp with eHR changes waiting.
func (s *Sweeper) wakeWritebacks(ctx context.Context) {
	if s.Writeback == nil {
		return
	}
	corps, err := s.Store.CorpsWithPendingWrites(ctx, 0)
	if err != nil {
		slog.Warn("eHR write sweep", "error", err)
		return
	}
	for _, corp := range corps {
		if err := s.Writeback.Wake(ctx, corp); err != nil {
			slog.Warn("eHR write sweep: wake writeback", "corp", corp, "error", err)
		}
	}
}

// refreshGauges sets the gauges read from the store: inbox backlog and binding statuses.
func (s *Sweeper) refreshGauges(ctx context.Context) {
	if s.Metrics == nil {
		return
	}
	if n, err := s.Store.InboxBacklog(ctx); err == nil {
		s.Metrics.InboxBacklog.Set(float64(n))
	}
	if statuses, err := s.Store.BindingStatuses(ctx); err == nil {
		s.Metrics.SetBindingStatuses(statuses)
	}
}
