package notify

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// check asks DingTalk what became of a sent notification's tasks and records each
// recipient's outcome. DingTalk answers asyncsend_v2 with success even when a limit drops
// the message, so this is where a silent drop shows: the recipient is in forbidden_list.
func (s *Sender) check(ctx context.Context, n store.Notification, now time.Time) store.NotificationUpdate {
	u := store.NotificationUpdate{Status: store.NotificationSent, Reason: n.Reason, Recipients: n.Recipients,
		Results: maps.Clone(n.Results), AgentID: n.AgentID.Int64, TaskIDs: n.TaskIDs, Checked: true}
	if u.Results == nil {
		u.Results = store.RecipientResults{}
	}
	checks := n.ResultChecks + 1
	app, err := s.loadApp(ctx, n.CorpID)
	for _, task := range n.TaskIDs {
		if err != nil {
			break
		}
		var res dingtalk.SendResult
		if res, err = s.DingTalk.GetSendResult(ctx, app, n.AgentID.Int64, task); err == nil {
			apply(u.Results, task, res)
		}
	}
	switch {
	case err != nil && retryable(err) && checks < maxResultChecks:
		u.Next = now.Add(backoff(s.resultDelay(), checks))
		return u
	case err != nil:
		return finish(u, "could not read the result: "+explain(err, n.CorpID))
	case unknown(u.Results) > 0 && checks < maxResultChecks:
		u.Next = now.Add(backoff(s.resultDelay(), checks))
		return u
	}
	return finish(u, "")
}

// apply records task's result for the recipients it was sent to.
func apply(results store.RecipientResults, task int64, res dingtalk.SendResult) {
	set := func(users []string, status string) {
		for _, userID := range users {
			if r, ok := results[userID]; ok && r.TaskID == task {
				r.Status = status
				results[userID] = r
			}
		}
	}
	set(res.ReadUserIDs, store.RecipientRead)
	set(res.UnreadUserIDs, store.RecipientUnread)
	set(res.InvalidUserIDs, store.RecipientInvalid)
	set(res.FailedUserIDs, store.RecipientFailed)
	set(res.ForbiddenUserIDs, store.RecipientForbidden)
	for _, f := range res.Forbidden {
		r, ok := results[f.UserID]
		if !ok || r.TaskID != task {
			continue
		}
		r.Status, r.Code = store.RecipientForbidden, f.Code
		switch f.Code {
		case dingtalk.ForbiddenDailyLimit:
			r.Detail = "DingTalk dropped it: the user reached the daily maximum of messages from this app"
		case dingtalk.ForbiddenDuplicate:
			r.Detail = "DingTalk dropped it: the user got the same content today"
		}
		results[f.UserID] = r
	}
}

// unknown counts the recipients DingTalk has not reported on yet.
func unknown(results store.RecipientResults) int {
	n := 0
	for _, r := range results {
		if r.Status == store.RecipientSent {
			n++
		}
	}
	return n
}

// finish settles a checked notification's status: sent if DingTalk delivered it (or may
// have) to anyone, dropped if every recipient was held back or dropped over a limit, failed
// otherwise.
func finish(u store.NotificationUpdate, why string) store.NotificationUpdate {
	u.Final = true
	delivered, limited := 0, 0
	for _, r := range u.Results {
		switch {
		case r.Delivered():
			delivered++
		case r.Status == store.RecipientHeld || r.Status == store.RecipientForbidden:
			limited++
		}
	}
	switch {
	case delivered > 0:
		u.Status = store.NotificationSent
	case limited == len(u.Results):
		u.Status = store.NotificationDropped
	default:
		u.Status = store.NotificationFailed
	}
	if delivered < len(u.Results) {
		u.Reason = fmt.Sprintf("delivered to %d of %d: %s", delivered, len(u.Results), describe(notDelivered(u.Results)))
	}
	if why != "" {
		u.Reason = why + "; " + u.Reason
	}
	return u
}

func notDelivered(results store.RecipientResults) store.RecipientResults {
	out := store.RecipientResults{}
	for userID, r := range results {
		if !r.Delivered() {
			out[userID] = r
		}
	}
	return out
}
