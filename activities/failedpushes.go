package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lib/pq"

	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// maxFailedPages bounds one drain (200 events a page).
const maxFailedPages = 50

// DrainResult counts what a drain stored.
type DrainResult struct {
	Fetched int
	Stored  int // new events (the rest were already in the inbox)
	Invalid int // failed pushes whose event could not be parsed (logged, skipped)
	// Interrupted says an earlier drain stopped between fetching a page and storing it (a
	// killed worker): DingTalk hands each failed push out once, so its events may be lost
	// and the corp needs a repair sync.
	Interrupted bool
}

// DrainFailedPushes moves the events DingTalk failed to push (the receiver was down, or
// answered wrongly) into the inbox, so they apply like pushed ones. A corp without a
// registered callback has none. The drain is marked under way in the store while pages are
// fetched, and each page is stored in one transaction: a drain that finds the mark of one
// that never finished reports it, so the workflow has a repair sync started.
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
	if res.Interrupted, err = a.Store.BeginFailedPushDrain(ctx, in.CorpID); err != nil {
		return res, err
	}
	for page := 0; page < maxFailedPages; page++ {
		list, more, err := a.DingTalk.FailedPushes(ctx, app)
		if err != nil {
			if dingTalkHandedOutNothing(err) {
				err = errors.Join(err, a.Store.EndFailedPushDrain(ctx, in.CorpID))
			}
			return res, temporalError(fmt.Errorf("drain failed pushes: %w", err))
		}
		if err := a.storeFailedPushes(ctx, in.CorpID, list, &res); err != nil {
			return res, err
		}
		if !more {
			break
		}
	}
	return res, a.Store.EndFailedPushDrain(ctx, in.CorpID)
}

// storeFailedPushes stores one page of failed pushes in the inbox, all or nothing.
func (a *Incremental) storeFailedPushes(ctx context.Context, corpID string, list []dingtalk.FailedPush, res *DrainResult) error {
	events := make([]store.InboxEvent, 0, len(list))
	for _, f := range list {
		res.Fetched++
		ev, err := f.Event()
		if err != nil {
			res.Invalid++
			slog.Warn("skipping a failed push that does not parse", "corp", corpID, "tag", f.Tag, "error", err)
			continue
		}
		events = append(events, InboxEvent(corpID, ev, "failed_list"))
	}
	stored, err := a.Store.InsertEvents(ctx, events)
	res.Stored += stored
	return err
}

// dingTalkHandedOutNothing says a failed fetch got DingTalk's answer, an error code, so no
// failed push left DingTalk; a timeout or a broken answer may have lost a page.
func dingTalkHandedOutNothing(err error) bool {
	for _, k := range []dingtalk.Kind{dingtalk.KindAuth, dingtalk.KindPermission, dingtalk.KindThrottled,
		dingtalk.KindQuota, dingtalk.KindInvalidRequest} {
		if dingtalk.IsKind(err, k) {
			return true
		}
	}
	return false
}

// InboxEvent is the inbox row for a parsed event from source (http, failed_list, stream), with
// the approval instance a bpms_instance_change event names.
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
	in.Instances = store.ApprovalRefs{}
	if a := ev.Approval; a != nil {
		in.Instances = append(in.Instances, store.ApprovalRef{InstanceID: a.InstanceID, ProcessCode: a.ProcessCode})
	}
	return in
}
