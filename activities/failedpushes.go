package activities

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/lib/pq"

	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/store"
)

// maxFailedPages bounds one drain (200 events a page).
const maxFailedPages = 50

// DrainResult counts what a drain stored.
type DrainResult struct {
	Fetched int
	Stored  int // new events (the rest were already in the inbox)
	Invalid int // failed pushes whose event could not be parsed (logged, skipped)
}

// DrainFailedPushes moves the events DingTalk failed to push (the receiver was down, or
// answered wrongly) into the inbox, so they apply like pushed ones. A corp without a
// registered callback has none.
func (a *Incremental) DrainFailedPushes(ctx context.Context, in CorpInput) (DrainResult, error) {
	var res DrainResult
	b, err := a.Store.GetBinding(ctx, in.CorpID)
	if err != nil || !b.CallbackURL.Valid {
		return res, temporalError(err)
	}
	app, err := loadApp(ctx, a.Store, a.Secrets, in.CorpID)
	if err != nil {
		return res, temporalError(err)
	}
	for page := 0; page < maxFailedPages; page++ {
		list, more, err := a.DingTalk.FailedPushes(ctx, app)
		if err != nil {
			return res, temporalError(fmt.Errorf("drain failed pushes: %w", err))
		}
		for _, f := range list {
			res.Fetched++
			ev, err := callback.ParseEvent([]byte(f.Data))
			if err != nil {
				res.Invalid++
				slog.Warn("skipping a failed push that does not parse", "corp", in.CorpID, "tag", f.Tag, "error", err)
				continue
			}
			inserted, err := a.Store.InsertEvent(ctx, InboxEvent(in.CorpID, ev, "failed_list"))
			if err != nil {
				return res, err
			}
			if inserted {
				res.Stored++
			}
		}
		if !more {
			break
		}
	}
	return res, nil
}

// InboxEvent is the inbox row for a parsed event from source (http, failed_list, stream).
func InboxEvent(corpID string, ev callback.Event, source string) store.InboxEvent {
	in := store.InboxEvent{CorpID: corpID, EventID: ev.ID, Type: ev.Type, UserIDs: pq.StringArray(ev.UserIDs),
		DeptIDs: pq.Int64Array(ev.DeptIDs), Source: source}
	if in.UserIDs == nil {
		in.UserIDs = pq.StringArray{}
	}
	if in.DeptIDs == nil {
		in.DeptIDs = pq.Int64Array{}
	}
	if !ev.Time.IsZero() {
		in.EventTime.Time, in.EventTime.Valid = ev.Time, true
	}
	return in
}
