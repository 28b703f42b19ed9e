package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// send decides who gets a claimed notification and sends it, returning what to record.
func (s *Sender) send(ctx context.Context, c store.NotificationClaim, now time.Time) store.NotificationUpdate {
	u := store.NotificationUpdate{Status: store.NotificationPending, Recipients: c.Resolved,
		Results: store.RecipientResults{}, AgentID: c.BindingAgentID, Attempted: true}
	fail := func(status, reason string) store.NotificationUpdate {
		u.Status, u.Reason = status, reason
		return u
	}
	switch {
	case !c.Settings.Enabled:
		return fail(store.NotificationDropped, fmt.Sprintf("notifications are off for this corp: `starter notifications settings --corp-id %s --on --by NAME` turns them on", c.CorpID))
	case !c.Settings.Wants(c.Kind):
		return fail(store.NotificationDropped, fmt.Sprintf("this corp's settings leave %s out (kinds: %s)", c.Kind, strings.Join(c.Settings.Kinds, ", ")))
	case len(c.Resolved) == 0:
		return fail(store.NotificationFailed, fmt.Sprintf("nobody to send to: no employee holds the hr_admin role and no userid is set; name recipients with `starter notifications settings --corp-id %s --recipients hr_admins,USERID --by NAME`", c.CorpID))
	case c.BindingAgentID == 0:
		return fail(store.NotificationFailed, fmt.Sprintf("the binding has no agent id, and DingTalk sends work notifications as the app's agent: bind again with `starter bind --corp-id %s --app-key KEY --agent-id N --app-secret-file FILE` (the AgentId is on the app's page in the DingTalk developer console)", c.CorpID))
	}
	toSend, held := plan(c)
	for userID, r := range held {
		u.Results[userID] = r
	}
	if len(toSend) == 0 {
		return fail(store.NotificationDropped, "held back, so DingTalk would not drop it silently: "+describe(u.Results))
	}
	app, err := s.loadApp(ctx, c.CorpID)
	if err != nil {
		return s.retryOrFail(u, c.Notification, err, now)
	}
	for start := 0; start < len(toSend); start += dingtalk.MaxMessageUsers {
		chunk := toSend[start:min(start+dingtalk.MaxMessageUsers, len(toSend))]
		task, err := s.DingTalk.SendTextMessage(ctx, app, dingtalk.TextMessage{AgentID: c.BindingAgentID, UserIDs: chunk, Content: c.Message})
		if err != nil && len(u.TaskIDs) == 0 {
			return s.retryOrFail(u, c.Notification, err, now)
		}
		for _, userID := range chunk {
			u.Results[userID] = store.RecipientResult{Status: store.RecipientSent, TaskID: task}
			if err != nil {
				u.Results[userID] = store.RecipientResult{Status: store.RecipientFailed, Detail: explain(err, c.CorpID)}
			}
		}
		if err == nil {
			u.TaskIDs = append(u.TaskIDs, task)
		}
	}
	u.Status, u.Sent, u.Next = store.NotificationSent, true, now.Add(s.resultDelay())
	if len(held) > 0 {
		u.Reason = "some recipients were held back: " + describe(held)
	}
	return u
}

// plan splits the resolved recipients into those to send to and those held back because
// DingTalk would drop the message for them: they got the same content today (143106), or
// the day's maximum of messages (143105).
func plan(c store.NotificationClaim) (toSend []string, held store.RecipientResults) {
	held = store.RecipientResults{}
	for _, userID := range c.Resolved {
		switch {
		case c.SameToday[userID]:
			held[userID] = store.RecipientResult{Status: store.RecipientHeld, Code: dingtalk.ForbiddenDuplicate,
				Detail: "got the same message today (DingTalk delivers one content to a user once a day)"}
		case c.SentToday[userID] >= dingtalk.MessagesPerUserDaily:
			held[userID] = store.RecipientResult{Status: store.RecipientHeld, Code: dingtalk.ForbiddenDailyLimit,
				Detail: fmt.Sprintf("got %d notifications today (DingTalk's daily maximum per user)", c.SentToday[userID])}
		default:
			toSend = append(toSend, userID)
		}
	}
	return toSend, held
}

// retryOrFail records a send that did not reach DingTalk: retried with backoff when waiting
// can help (credentials being fixed, throttling, an outage) until giveUpAfter, failed at
// once when it cannot (no permission, a refused request).
func (s *Sender) retryOrFail(u store.NotificationUpdate, n store.Notification, err error, now time.Time) store.NotificationUpdate {
	why := explain(err, n.CorpID)
	u.Results, u.TaskIDs = store.RecipientResults{}, nil
	if !retryable(err) {
		u.Status, u.Reason = store.NotificationFailed, why
		return u
	}
	if now.Sub(n.CreatedAt) >= giveUpAfter {
		u.Status, u.Reason = store.NotificationFailed, fmt.Sprintf("gave up after %d attempts over %s: %s", n.Attempts+1, giveUpAfter, why)
		return u
	}
	u.Next = now.Add(backoff(s.every(), n.Attempts+1))
	u.Reason = fmt.Sprintf("attempt %d failed, retrying at %s: %s", n.Attempts+1, u.Next.In(chinaTime).Format("15:04:05"), why)
	return u
}

// retryable says whether waiting can make a failed send succeed.
func retryable(err error) bool {
	var de *dingtalk.Error
	if !errors.As(err, &de) {
		return !errors.Is(err, store.ErrUnknownCorp) && !errors.Is(err, store.ErrNoCredential)
	}
	switch de.Kind {
	case dingtalk.KindAuth, dingtalk.KindThrottled, dingtalk.KindTransient:
		return true
	}
	return false
}

// explain says why a DingTalk call failed and what fixes it.
func explain(err error, corpID string) string {
	var de *dingtalk.Error
	switch {
	case errors.As(err, &de) && de.Code == "40056":
		return fmt.Sprintf("%v; fix: DingTalk refused the agent id: check the app's AgentId in the developer console and bind again with `starter bind --corp-id %s --agent-id N ...`", err, corpID)
	case errors.As(err, &de) && de.Kind == dingtalk.KindPermission:
		return fmt.Sprintf("%v; fix: grant the app the work-notification permission (qyapi_message_corpconversation, 企业会话消息) in the DingTalk developer console (权限管理)", err)
	case errors.As(err, &de):
		return fmt.Sprintf("%v; fix: %s", err, de.Hint())
	}
	return err.Error()
}

// describe lists recipients with their outcome, for a reason: "u1 held 143106 (got the same
// message today …), u2 invalid".
func describe(results store.RecipientResults) string {
	users := make([]string, 0, len(results))
	for userID := range results {
		users = append(users, userID)
	}
	slices.Sort(users)
	parts := make([]string, 0, len(users))
	for _, userID := range users {
		r := results[userID]
		p := userID + " " + r.Status
		if r.Code != "" {
			p += " " + r.Code
		}
		if r.Detail != "" {
			p += " (" + r.Detail + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}
