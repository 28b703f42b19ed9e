package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/store"
)

// notifications runs `starter notifications list --json`: the corp's notifications, newest first.
func (h *harness) notifications() []store.Notification {
	h.t.Helper()
	var list []store.Notification
	if err := json.Unmarshal([]byte(h.mustStarter("", "notifications", "list", "--corp-id", h.corpID, "--json")), &list); err != nil {
		h.t.Fatal(err)
	}
	return list
}

// hrAdmins are the userids holding the hr_admin role, as `starter roles show` lists them.
func (h *harness) hrAdmins() []string {
	h.t.Helper()
	var roles []store.EmployeeRole
	if err := json.Unmarshal([]byte(h.mustStarter("", "roles", "show", "--corp-id", h.corpID, "--role", "hr_admin", "--json")), &roles); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, r := range roles {
		out = append(out, r.UserID)
	}
	return out
}

// A sync fails on an AppSecret reset in DingTalk: the HR admins get one work notification
// saying what to do, once DingTalk takes the app's credentials again (it refuses the message
// too while they are broken). The same failure again the same day is not sent again, since
// DingTalk would drop the same content to the same user.
func TestHRAdminsAreToldOnceWhenASyncFailsOnItsCredentials(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 131, Employees: 60})
	if err := h.sim.AddApp(dingtalksim.App{CorpID: h.corpID, AppKey: h.appKey, AppSecret: h.appSecret, AgentID: 4242}); err != nil {
		t.Fatal(err)
	}
	h.startWorker("DINGSYNC_NOTIFY_INTERVAL=200ms")
	if out, code := h.bindCLI(h.appSecret); code != 0 {
		t.Fatalf("bind exited %d:\n%s", code, out)
	}
	admins := h.hrAdmins()
	if len(admins) == 0 {
		t.Fatal("the org has no hr_admin to notify")
	}
	if out := h.mustStarter("", "notifications", "settings", "--corp-id", h.corpID, "--recipients", "hr_admins", "--by", "alice"); !strings.Contains(out, "notifications: on") || !strings.Contains(out, admins[0]) {
		t.Fatalf("settings:\n%s", out)
	}

	h.breakCredentials()
	if _, out, code := h.syncFull(); code == 0 {
		t.Fatalf("a sync with a reset AppSecret exited 0:\n%s", out)
	}
	waitFor(t, 30*time.Second, func() bool {
		list := h.notifications()
		return len(list) == 1 && list[0].Attempts > 0
	})
	if n := h.notifications()[0]; n.Kind != store.NotifyCredentialsInvalid || n.Status != store.NotificationPending || !strings.Contains(n.Reason, "AppKey/AppSecret") {
		t.Fatalf("while DingTalk refuses the credentials: %+v", n)
	}
	h.fixCredentials()
	waitFor(t, 60*time.Second, func() bool {
		n := h.notifications()[0]
		return n.Status != store.NotificationPending && n.CheckedAt != nil
	})
	first := h.notifications()[0]
	if first.Status != store.NotificationSent || len(first.Results) != len(admins) {
		t.Fatalf("after the fix: %+v", first)
	}
	for _, a := range admins {
		got := h.sim.Messages(h.corpID, a)
		if len(got) != 1 || first.Results[a].Status != store.RecipientUnread {
			t.Fatalf("admin %s received %d messages (result %+v), want exactly one", a, len(got), first.Results[a])
		}
		for _, want := range []string{h.corpID, "credentials invalid", "check the AppKey/AppSecret", "starter rotate --corp-id " + h.corpID} {
			if !strings.Contains(got[0].Content, want) {
				t.Fatalf("the message does not say %q:\n%s", want, got[0].Content)
			}
		}
		if strings.Contains(got[0].Content, h.appSecret) || got[0].AgentID != 4242 {
			t.Fatalf("the message carries the secret or another agent (%d):\n%s", got[0].AgentID, got[0].Content)
		}
	}

	// The same failure again the same day: the same message, which DingTalk delivers to a user
	// once a day, so the sender holds it back rather than let DingTalk drop it.
	h.breakCredentials()
	if _, out, code := h.syncFull(); code == 0 {
		t.Fatalf("the second sync exited 0:\n%s", out)
	}
	waitFor(t, 30*time.Second, func() bool {
		list := h.notifications()
		return len(list) == 2 && list[0].Status != store.NotificationPending
	})
	second := h.notifications()[0]
	if second.Status != store.NotificationDropped || second.Message != first.Message || !strings.Contains(second.Reason, "same message today") {
		t.Fatalf("the second identical failure: %+v", second)
	}
	for _, a := range admins {
		if r := second.Results[a]; r.Status != store.RecipientHeld || r.Code != "143106" {
			t.Fatalf("admin %s: %+v, want held 143106", a, r)
		}
		if n := len(h.sim.Messages(h.corpID, a)); n != 1 {
			t.Fatalf("admin %s received %d messages, want still one", a, n)
		}
	}
	if n := h.sim.Calls(h.corpID)[dingtalksim.APIMessageAsyncSend]; n != 1 {
		t.Fatalf("%d asyncsend_v2 calls, want 1", n)
	}
	if out := h.mustStarter("", "notifications", "list", "--corp-id", h.corpID); !strings.Contains(out, "dropped") || !slices.ContainsFunc(admins, func(a string) bool { return strings.Contains(out, a+" held 143106") }) {
		t.Fatalf("notifications list:\n%s", out)
	}
}

// The deletion guard holding a sync and an audit finding drift are told too; a binding without
// an agent id cannot send, and its notification fails saying how to give one.
func TestHeldDeletionsAndAuditDriftAreTold(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 132, Employees: 100})
	h.bind(h.appSecret) // no agent id
	h.startWorker("DINGSYNC_NOTIFY_INTERVAL=200ms")
	if _, out, code := h.syncFull(); code != 0 {
		t.Fatalf("first sync failed:\n%s", out)
	}
	h.exec(`INSERT INTO employees (corp_id, userid, attrs, source_hash, last_run_id) VALUES ($1, 'ghost', '{"name":"幽灵"}', 'x', 0)`, h.corpID)
	if res := h.audit(); res.Total != 1 {
		t.Fatalf("audit found %+v, want the ghost", res)
	}
	waitFor(t, 30*time.Second, func() bool {
		list := h.notifications()
		return len(list) == 1 && list[0].Status != store.NotificationPending
	})
	if n := h.notifications()[0]; n.Kind != store.NotifyAuditDrift || n.Status != store.NotificationFailed ||
		!strings.Contains(n.Reason, "--agent-id") || !strings.Contains(n.Message, "starter audit run --corp-id "+h.corpID+" --repair") {
		t.Fatalf("audit drift without an agent id: %+v", n)
	}

	h.exec(`UPDATE bindings SET agent_id = 4242 WHERE corp_id = $1`, h.corpID)
	admins := h.hrAdmins()
	removed := 0
	for _, u := range h.sim.Truth(h.corpID).Users {
		if !u.Admin && removed < 20 { // 20% leave at once: over the 10% guard
			if err := h.sim.RemoveUser(h.corpID, u.UserID); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); h.syncFull() }()
	waitFor(t, 60*time.Second, func() bool {
		list := h.notifications()
		return len(list) == 2 && list[0].CheckedAt != nil
	})
	held := h.notifications()[0]
	if held.Kind != store.NotifyDeletionsAwaiting || held.Status != store.NotificationSent || len(held.Results) != len(admins) {
		t.Fatalf("held deletions: %+v", held)
	}
	for _, a := range admins {
		got := h.sim.Messages(h.corpID, a)
		if len(got) != 1 || !strings.Contains(got[0].Content, "would deactivate 21 employees") ||
			!strings.Contains(got[0].Content, "starter deletions approve --corp-id "+h.corpID+" --by NAME") {
			t.Fatalf("admin %s received %+v", a, got)
		}
	}
	h.mustStarter("", "deletions", "reject", "--corp-id", h.corpID, "--by", "alice")
	<-done
}
