package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// TestRotateAppSecretUnderLoadFailsNothingAndLosesNothing is the proof: the AppSecret
// is reset in DingTalk and rotated in dingsync while a 10k-employee full sync crawls and
// events stream in. No run fails, no event is lost, and the sync finishes with the new secret
// (the old one is dead and its tokens revoked before the crawl ends).
func TestRotateAppSecretUnderLoadFailsNothingAndLosesNothing(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 81, Employees: 10_000})
	h.startWorker()
	h.bindWithEvents()
	h.limitQPS(40) // from here the crawl takes seconds
	h.workers[0].Kill()
	h.startWorker()

	ctx, stopEvents := context.WithCancel(context.Background())
	var events sync.WaitGroup
	events.Add(1)
	go func() { // a stream of changes, one every 50 ms, pushed as events
		defer events.Done()
		users := h.sim.Truth(h.corpID).Users
		for i := 0; ctx.Err() == nil; i++ {
			u := users[i%len(users)]
			u.Title = fmt.Sprintf("轮换中%d", i)
			if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	defer func() { stopEvents(); events.Wait() }()

	h.mustStarter("", "sync", "full", "--corp-id", h.corpID)
	waitFor(t, 30*time.Second, func() bool { return h.count(`SELECT count(*) FROM staging_users`) > 500 })
	newSecret := "rotated-" + randomHex(16)
	if err := h.sim.SetAppSecret(h.appKey, newSecret); err != nil { // reset in the console: the old secret is dead
		t.Fatal(err)
	}
	out := h.mustStarter("", "rotate", "--corp-id", h.corpID, "--app-secret-file", h.secretFile(newSecret), "--by", "alice")
	if !strings.Contains(out, "retire the old version: ok") {
		t.Fatalf("rotate did not finish:\n%s", out)
	}
	if err := h.sim.RevokeTokens(h.appKey); err != nil { // from now only the new secret gets a token
		t.Fatal(err)
	}
	callsAtRevoke := totalCalls(h.sim.Calls(h.corpID))
	if n := h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'full' AND status = 'running'`); n != 1 {
		t.Fatalf("%d full syncs still running after the rotation: the test rotated too late to prove anything", n)
	}
	waitFor(t, 3*time.Minute, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'full' AND status <> 'running'`) == 2
	})
	if totalCalls(h.sim.Calls(h.corpID)) == callsAtRevoke {
		t.Fatal("the full sync made no DingTalk call after the old tokens were revoked: it did not go on with the new secret")
	}
	stopEvents()
	events.Wait()
	h.eventuallyMatches(2 * time.Minute)
	if n := h.count(`SELECT count(*) FROM sync_runs WHERE status <> 'succeeded'`); n != 0 {
		t.Fatalf("%d runs did not succeed during the rotation", n)
	}
	if n := h.count(`SELECT count(*) FROM inbox_events WHERE status <> 'applied'`); n != 0 {
		t.Fatalf("%d events not applied", n)
	}
	if n := h.count(`SELECT count(*) FROM credentials WHERE kind = 'app_secret' AND status = 'active' AND version = 2`); n != 1 {
		t.Fatal("the rotated AppSecret (version 2) is not the active one")
	}
	if n := h.count(`SELECT count(*) FROM ops_log WHERE action = 'rotate app_secret'`); n != 3 {
		t.Fatalf("%d rotation steps in the ops log, want stored pending, activated and succeeded", n)
	}
}

// TestRotateToAWrongSecretRollsBackAndSaysWhere: a secret DingTalk refuses is never switched to.
func TestRotateToAWrongSecretRollsBackAndSaysWhere(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 82, Employees: 50})
	h.bind(h.appSecret)
	h.startWorker()
	out, code := h.starter("", "rotate", "--corp-id", h.corpID, "--app-secret-file", h.secretFile("typo-"+randomHex(8)), "--by", "alice")
	if code == 0 || !strings.Contains(out, "prove the new AppSecret") || !strings.Contains(out, "previous version is active again") {
		t.Fatalf("rotation to a wrong secret: exit %d\n%s", code, out)
	}
	if n := h.count(`SELECT count(*) FROM credentials WHERE kind = 'app_secret' AND status = 'active' AND version = 1`); n != 1 {
		t.Fatal("the original AppSecret is not active after the rollback")
	}
	if _, out, code := h.syncFull(); code != 0 {
		t.Fatalf("sync after a rolled-back rotation failed:\n%s", out)
	}
	if out, code := h.starter("", "rotate", "--corp-id", h.corpID, "--by", "alice"); code != 2 || !strings.Contains(out, "--app-secret-file") {
		t.Fatalf("rotate without a secret or --callback: exit %d\n%s", code, out)
	}
}

// TestRotateCallbackKeysKeepsEventsFlowing: new callback keys are registered and verified by
// DingTalk's check_url push; events pushed with the new keys apply; the old keys are retired
// after the grace period.
func TestRotateCallbackKeysKeepsEventsFlowing(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 83, Employees: 100})
	h.startWorker()
	h.bindWithEvents()
	out := h.mustStarter("", "rotate", "--corp-id", h.corpID, "--callback", "--grace", "1s", "--by", "alice")
	if !strings.Contains(out, "check_url push verified") {
		t.Fatalf("callback rotation:\n%s", out)
	}
	if n := h.count(`SELECT count(*) FROM credentials WHERE kind IN ('callback_token', 'callback_aes_key') AND status = 'active' AND version = 2`); n != 2 {
		t.Fatal("the new callback keys (version 2) are not active")
	}
	if n := h.count(`SELECT count(*) FROM credentials WHERE kind IN ('callback_token', 'callback_aes_key') AND status IN ('previous', 'pending')`); n != 0 {
		t.Fatal("old callback keys were not retired after the grace period")
	}
	u := h.sim.Truth(h.corpID).Users[3]
	u.Title = "新钥匙之后"
	if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
		t.Fatal(err)
	}
	h.eventuallyMatches(30 * time.Second)
	if st := h.sim.PushStats(h.corpID); st.Failed != 0 {
		t.Fatalf("pushes failed after the rotation: %+v", st)
	}
}
