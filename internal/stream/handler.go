package stream

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// Outcomes of Stream events, label values of dingsync_callbacks_total beside the HTTP
// receiver's.
const (
	// OutcomeAccepted is an event stored and its sync woken.
	OutcomeAccepted = "stream_accepted"
	// OutcomeUnsignaled is an event stored whose sync was not woken in time (the sweeper will).
	OutcomeUnsignaled = "stream_accepted_unsignaled"
	// OutcomeDuplicate is an event already in the inbox: acknowledged and dropped.
	OutcomeDuplicate = "stream_duplicate"
	// OutcomeMalformed is an event that does not parse, or names another corp: acknowledged
	// (DingTalk would redeliver it forever) and dropped, with a log line.
	OutcomeMalformed = "stream_malformed"
	// OutcomeStoreFailed is an event that could not be stored: answered LATER, so DingTalk
	// redelivers it.
	OutcomeStoreFailed = "stream_store_failed"
)

// handler returns the frame handler of corpID's connection: parse, store, wake. It returns
// nil (the event is acknowledged) only once the event is committed or judged unusable.
func (in *Intake) handler(corpID string) dingtalk.StreamHandler {
	return func(ctx context.Context, f dingtalk.StreamFrame) error {
		outcome, err := in.accept(ctx, corpID, f)
		in.count(outcome)
		return err
	}
}

func (in *Intake) accept(ctx context.Context, corpID string, f dingtalk.StreamFrame) (string, error) {
	ev, err := f.ContactEvent()
	if err == nil && ev.CorpID != "" && ev.CorpID != corpID {
		err = fmt.Errorf("the event is for corp %q, not this connection's", ev.CorpID)
	}
	if err == nil && ev.Type == callback.EventCheckURL {
		err = fmt.Errorf("check_url is an HTTP push event")
	}
	if err != nil {
		slog.Warn("stream intake: dropping an event that cannot be used", "corp", corpID,
			"event_id", f.Header("eventId"), "event_type", f.Header("eventType"), "error", err)
		return OutcomeMalformed, nil
	}
	inserted, err := in.Store.InsertEvent(ctx, activities.InboxEvent(corpID, ev, store.EventIntakeStream))
	if err != nil {
		return OutcomeStoreFailed, fmt.Errorf("store event %s: %w", ev.ID, err)
	}
	if !inserted {
		return OutcomeDuplicate, nil
	}
	wctx, cancel := context.WithTimeout(ctx, in.WakeBudget)
	defer cancel()
	if err := in.wakes.Wake(wctx, corpID); err != nil {
		slog.Warn("event stored but its sync not woken; the sweeper will", "corp", corpID, "error", err)
		return OutcomeUnsignaled, nil
	}
	return OutcomeAccepted, nil
}

func (in *Intake) count(outcome string) {
	if in.Metrics != nil {
		in.Metrics.Callbacks.WithLabelValues(outcome).Inc()
	}
}
