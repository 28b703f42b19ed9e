package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

func enqueue(t *testing.T, st *store.Store, key, msg string) bool {
	t.Helper()
	ok, err := st.EnqueueNotification(context.Background(), store.NewNotification{CorpID: "corp1", Kind: store.NotifyRunFailed, DedupeKey: key, Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestAnActivityRetryWritesItsNotificationOnce(t *testing.T) {
	st := testenv.NewStore(t)
	bindCorp(t, st)
	if !enqueue(t, st, "run_failed/run/1", "first") {
		t.Fatal("the first write was not inserted")
	}
	if enqueue(t, st, "run_failed/run/1", "first, written again by a retry") {
		t.Fatal("a retry with the same dedupe key inserted a second notification")
	}
	list, err := st.ListNotifications(context.Background(), "corp1", 10)
	if err != nil || len(list) != 1 || list[0].Message != "first" || list[0].Status != store.NotificationPending {
		t.Fatalf("notifications %+v, %v", list, err)
	}
	ctx := context.Background()
	for _, bad := range []store.NewNotification{
		{CorpID: "corp1", Kind: "party", DedupeKey: "k", Message: "x"},
		{CorpID: "corp1", Kind: store.NotifyAuditDrift, Message: "x"},
		{CorpID: "corp1", Kind: store.NotifyAuditDrift, DedupeKey: "k", Message: strings.Repeat("长", 683)}, // 2,049 bytes
	} {
		if _, err := st.EnqueueNotification(ctx, bad); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

func TestNotificationSettingsDefaultAndChange(t *testing.T) {
	ctx := context.Background()
	st := testenv.NewStore(t)
	bindCorp(t, st)
	got, err := st.GetNotificationSettings(ctx, "corp1")
	if err != nil || !got.Enabled || len(got.Recipients) != 1 || got.Recipients[0] != store.RecipientsHRAdmins || len(got.Kinds) != len(store.NotificationKinds) {
		t.Fatalf("defaults %+v, %v", got, err)
	}
	off := false
	if _, err := st.SetNotificationSettings(ctx, "corp1", "alice", store.NotificationSettingsUpdate{Enabled: &off, Kinds: []string{store.NotifyAuditDrift}}); err != nil {
		t.Fatal(err)
	}
	got, _ = st.GetNotificationSettings(ctx, "corp1")
	if got.Enabled || got.Recipients[0] != store.RecipientsHRAdmins || len(got.Kinds) != 1 || got.UpdatedBy != "alice" || got.Wants(store.NotifyAuditDrift) {
		t.Fatalf("after the change %+v", got)
	}
	if _, err := st.SetNotificationSettings(ctx, "corp1", "alice", store.NotificationSettingsUpdate{Kinds: []string{"party"}}); err == nil {
		t.Fatal("an unknown kind was accepted")
	}
	if _, err := st.SetNotificationSettings(ctx, "nocorp", "alice", store.NotificationSettingsUpdate{Enabled: &off}); err == nil {
		t.Fatal("settings of an unbound corp were accepted")
	}
	ops, err := st.ListOps(ctx, "corp1", 10)
	if err != nil || len(ops) == 0 || ops[0].Action != "notification settings" || ops[0].Actor != "alice" {
		t.Fatalf("ops log %+v, %v", ops, err)
	}
}

// The sender counts what each user got today from the rows it recorded: only deliveries
// since the day began count, and the same message is recognised.
func TestAClaimCountsTodaysDeliveriesPerUser(t *testing.T) {
	ctx := context.Background()
	st := testenv.NewStore(t)
	bindCorp(t, st)
	for _, u := range []string{"boss1", "boss2"} {
		if _, err := st.DB().Exec(`INSERT INTO employee_roles (corp_id, userid, role, rule) VALUES ('corp1', $1, 'hr_admin', 'org_admin')`, u); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	day := now.Add(-time.Hour)
	// Three sent rows: yesterday's (not counted), today's same message, today's other one
	// that boss2 was dropped from.
	for _, r := range []struct {
		key, msg string
		at       time.Time
		results  store.RecipientResults
	}{
		{"old", "hello", day.Add(-2 * time.Hour), store.RecipientResults{"boss1": {Status: store.RecipientRead}}},
		{"same", "hello", day.Add(time.Minute), store.RecipientResults{"boss1": {Status: store.RecipientUnread}, "boss2": {Status: store.RecipientSent}}},
		{"other", "bye", day.Add(2 * time.Minute), store.RecipientResults{"boss1": {Status: store.RecipientUnread}, "boss2": {Status: store.RecipientForbidden}}},
	} {
		enqueue(t, st, r.key, r.msg)
		found, err := st.SendNextNotification(ctx, r.at, day, func(store.NotificationClaim) store.NotificationUpdate {
			return store.NotificationUpdate{Status: store.NotificationSent, Results: r.results, Sent: true, Attempted: true}
		})
		if err != nil || !found {
			t.Fatalf("send %s: %v %v", r.key, found, err)
		}
	}
	enqueue(t, st, "new", "hello")
	var claim store.NotificationClaim
	if _, err := st.SendNextNotification(ctx, now, day, func(c store.NotificationClaim) store.NotificationUpdate {
		claim = c
		return store.NotificationUpdate{Status: store.NotificationPending, Attempted: true, Next: now.Add(time.Minute)}
	}); err != nil {
		t.Fatal(err)
	}
	if claim.DedupeKey != "new" || strings.Join(claim.Resolved, ",") != "boss1,boss2" {
		t.Fatalf("claimed %s for %v", claim.DedupeKey, claim.Resolved)
	}
	if claim.SentToday["boss1"] != 2 || claim.SentToday["boss2"] != 1 || !claim.SameToday["boss1"] || !claim.SameToday["boss2"] {
		t.Fatalf("today: sent %v, same %v; want boss1 2 (same), boss2 1 (same)", claim.SentToday, claim.SameToday)
	}
	// Not due again until its next attempt.
	if found, _ := st.SendNextNotification(ctx, now, day, func(store.NotificationClaim) store.NotificationUpdate {
		t.Fatal("a notification was claimed before its next attempt")
		return store.NotificationUpdate{}
	}); found {
		t.Fatal("found a notification before its next attempt")
	}
}

// Two workers claiming at once get different notifications.
func TestConcurrentClaimsSkipLockedNotifications(t *testing.T) {
	ctx := context.Background()
	st := testenv.NewStore(t)
	bindCorp(t, st)
	enqueue(t, st, "a", "one")
	enqueue(t, st, "b", "two")
	var wg sync.WaitGroup
	inside := make(chan string, 2)
	release := make(chan struct{})
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.SendNextNotification(ctx, time.Now(), time.Now(), func(c store.NotificationClaim) store.NotificationUpdate {
				inside <- c.DedupeKey
				<-release
				return store.NotificationUpdate{Status: store.NotificationFailed, Reason: "test"}
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	first := <-inside
	select {
	case second := <-inside:
		t.Fatalf("both workers were inside at once (%s, %s): one corp's sends must be serialized", first, second)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	var second string
	select {
	case second = <-inside:
	case <-time.After(10 * time.Second):
		t.Fatal("the second worker claimed nothing")
	}
	wg.Wait()
	if first == second {
		t.Fatalf("both workers claimed %s", first)
	}
}
