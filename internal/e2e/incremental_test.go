package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/callback"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/testenv"
)

// callbackURL is where the worker receives this corp's events.
func (h *harness) callbackURL() string {
	return "http://" + h.httpAddr + "/dingtalk/callback/" + h.corpID
}

// bindWithEvents binds through the CLI with the worker's callback URL registered.
func (h *harness) bindWithEvents() {
	h.t.Helper()
	if out, code := h.bindCLI(h.appSecret, "--callback-url", h.callbackURL()); code != 0 || !strings.Contains(out, "is active") {
		h.t.Fatalf("bind exited %d:\n%s", code, out)
	}
}

// eventuallyMatches waits until the HR store equals the simulator's org.
func (h *harness) eventuallyMatches(timeout time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		diffs, err := testenv.DiffStore(context.Background(), h.st, h.corpID, h.truth())
		if err != nil {
			h.t.Fatal(err)
		}
		if len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after %s the HR store still differs from DingTalk:\n%s", timeout, strings.Join(diffs[:min(len(diffs), 10)], "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEventsFromDingTalkReachTheStore(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 41, Employees: 300})
	h.startWorker()
	h.bindWithEvents()
	truth := h.sim.Truth(h.corpID)

	newbie, err := h.sim.AddUser(h.corpID, dingtalksim.User{UserID: "newbie001", Name: "李新", DeptIDList: []int64{truth.Departments[1].ID}, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	changed := truth.Users[7]
	changed.Title = "首席体验官"
	if _, err := h.sim.UpdateUser(h.corpID, changed); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.RemoveUser(h.corpID, truth.Users[8].UserID); err != nil {
		t.Fatal(err)
	}
	mover := truth.Users[9]
	if _, err := h.sim.MoveUser(h.corpID, mover.UserID, mover.DeptIDList[0], truth.Departments[len(truth.Departments)-1].ID); err != nil {
		t.Fatal(err)
	}
	dept := truth.Departments[2]
	dept.Name = "增长部"
	if _, err := h.sim.UpdateDepartment(h.corpID, dept); err != nil {
		t.Fatal(err)
	}
	h.eventuallyMatches(20 * time.Second)
	if n := h.count(`SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND status = 'applied'`, h.corpID); n < 5 {
		t.Fatalf("%d events applied, want the 5 mutations'", n)
	}
	if n := h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'incremental' AND status = 'succeeded'`); n == 0 {
		t.Fatal("no incremental run recorded")
	}
	trail := h.mustStarter("", "changes", "--corp-id", h.corpID, "--userid", newbie.UserID)
	if !strings.Contains(trail, "create") {
		t.Fatalf("the new hire's audit trail has no create:\n%s", trail)
	}
}

// push sends one hand-made callback to the worker, as DingTalk would.
func (h *harness) push(t *testing.T, c *callback.Crypter, plaintext string, ts time.Time, mutate func(q map[string]string, body *bytes.Buffer)) *http.Response {
	t.Helper()
	timestamp := strconv.FormatInt(ts.UnixMilli(), 10)
	enc, sig, err := c.Encrypt([]byte(plaintext), timestamp, "nonce123")
	if err != nil {
		t.Fatal(err)
	}
	q := map[string]string{"msg_signature": sig, "timestamp": timestamp, "nonce": "nonce123"}
	body := bytes.NewBufferString(fmt.Sprintf(`{"encrypt":%q}`, enc))
	if mutate != nil {
		mutate(q, body)
	}
	url := h.callbackURL() + "?msg_signature=" + q["msg_signature"] + "&timestamp=" + q["timestamp"] + "&nonce=" + q["nonce"]
	resp, err := http.Post(url, "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestHostileCallbacksAreRefusedAndDuplicatesDropped(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 42, Employees: 50})
	h.startWorker()
	h.bindWithEvents()
	reg, ok := h.sim.Callback(h.corpID)
	if !ok {
		t.Fatal("no callback registered")
	}
	good, err := callback.NewCrypter(reg.Token, reg.AESKey, h.corpID)
	if err != nil {
		t.Fatal(err)
	}
	otherOwner, _ := callback.NewCrypter(reg.Token, reg.AESKey, "dingsomeoneelse")
	wrongKey, _ := callback.NewCrypter("anothertoken", strings.Repeat("a", 43), h.corpID)
	user := h.sim.Truth(h.corpID).Users[0].UserID
	event := func(id string) string {
		return fmt.Sprintf(`{"EventType":"user_modify_org","TimeStamp":%d,"UserId":[%q],"CorpId":%q,"eventId":%q}`,
			time.Now().UnixMilli(), user, h.corpID, id)
	}
	before := h.count(`SELECT count(*) FROM inbox_events`)
	cases := []struct {
		name   string
		c      *callback.Crypter
		ts     time.Time
		mutate func(map[string]string, *bytes.Buffer)
		status int
	}{
		{"bad signature", good, time.Now(), func(q map[string]string, _ *bytes.Buffer) { q["msg_signature"] = strings.Repeat("0", 40) }, http.StatusUnauthorized},
		{"wrong key", wrongKey, time.Now(), nil, http.StatusUnauthorized},
		{"wrong owner", otherOwner, time.Now(), nil, http.StatusUnauthorized},
		{"stale timestamp", good, time.Now().Add(-time.Hour), nil, http.StatusBadRequest},
		{"malformed body", good, time.Now(), func(_ map[string]string, b *bytes.Buffer) { b.Reset(); b.WriteString("{not json") }, http.StatusBadRequest},
		{"oversized body", good, time.Now(), func(_ map[string]string, b *bytes.Buffer) { b.Reset(); b.WriteString(strings.Repeat("x", 1<<17)) }, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		if resp := h.push(t, c.c, event("hostile-"+c.name), c.ts, c.mutate); resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
		}
	}
	unknown := *h
	unknown.corpID = "dingnobody"
	if resp := unknown.push(t, good, event("x"), time.Now(), nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown corp: status %d, want 404", resp.StatusCode)
	}
	if n := h.count(`SELECT count(*) FROM inbox_events`); n != before {
		t.Fatalf("refused callbacks stored %d events", n-before)
	}
	for i := 0; i < 3; i++ {
		if resp := h.push(t, good, event("dup-1"), time.Now(), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("a valid push answered %d", resp.StatusCode)
		}
	}
	if n := h.count(`SELECT count(*) FROM inbox_events WHERE event_id = 'dup-1'`); n != 1 {
		t.Fatalf("a pushed-three-times event is stored %d times", n)
	}
	if n := h.count(`SELECT count(*) FROM inbox_events WHERE status = 'pending' AND received_at < now() - interval '30 seconds'`); n != 0 {
		t.Fatalf("%d events left pending", n)
	}
}

func TestEventsPushedWhileTheReceiverWasDownStillApply(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 43, Employees: 400})
	worker := h.startWorker()
	h.bindWithEvents()
	worker.Kill() // the receiver lives in the worker: DingTalk's pushes now fail
	users := h.sim.Truth(h.corpID).Users
	for i := 0; i < 100; i++ {
		u := users[i]
		u.Title = fmt.Sprintf("岗位%d", i)
		if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.sim.WaitPushesIdle(ctx); err != nil {
		t.Fatal(err)
	}
	h.startWorker()
	h.mustStarter("", "events", "drain", "--corp-id", h.corpID)
	h.eventuallyMatches(30 * time.Second)
	if n := h.count(`SELECT count(*) FROM inbox_events WHERE source = 'failed_list' AND status = 'applied'`); n < 100 {
		t.Fatalf("%d events recovered from the failed-push list, want 100", n)
	}
}

func TestDuplicatedDelayedAndReorderedPushesChangeNothing(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 45, Employees: 300})
	h.startWorker()
	h.bindWithEvents()
	if err := h.sim.SetPushOptions(dingtalksim.PushOptions{Seed: 7, DuplicateRate: 0.3, ReorderWindow: 8,
		Delay: 20 * time.Millisecond, Jitter: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	users := h.sim.Truth(h.corpID).Users
	for i := 0; i < 60; i++ {
		u := users[i%20] // several events per user, so order matters
		u.Title = fmt.Sprintf("岗位%d", i)
		if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range users[20:25] {
		if err := h.sim.RemoveUser(h.corpID, u.UserID); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.sim.WaitPushesIdle(ctx); err != nil {
		t.Fatal(err)
	}
	h.eventuallyMatches(30 * time.Second)
	if n := h.count(`SELECT count(*) FROM sync_changes c JOIN sync_runs r ON r.id = c.run_id
		WHERE r.kind = 'incremental' AND c.op = 'deactivate'`); n != 5 {
		t.Fatalf("%d deactivations recorded for 5 leavers", n)
	}
}

func TestWorkerKilledMidBatchLosesNothing(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 46, Employees: 500})
	h.startWorker("DINGTALK_QPS=5") // slow re-reads: a batch takes seconds
	h.bindWithEvents()
	users := h.sim.Truth(h.corpID).Users
	for i := 0; i < 40; i++ {
		u := users[i]
		u.Title = fmt.Sprintf("新岗位%d", i)
		if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'incremental' AND status = 'running'`) > 0
	})
	h.workers[len(h.workers)-1].Kill()
	h.startWorker()
	h.eventuallyMatches(90 * time.Second)
	if n := h.count(`SELECT count(*) FROM inbox_events WHERE status <> 'applied'`); n != 0 {
		t.Fatalf("%d events not applied after the kill", n)
	}
}

func TestEventsDuringAFullSyncApplyAfterIt(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 47, Employees: 2000})
	h.startWorker()
	h.bindWithEvents()
	h.limitQPS(10) // from here the crawl takes seconds
	h.workers[0].Kill()
	h.startWorker()
	h.mustStarter("", "sync", "full", "--corp-id", h.corpID)
	waitFor(t, 30*time.Second, func() bool { return h.count(`SELECT count(*) FROM staging_users`) > 0 })
	users := h.sim.Truth(h.corpID).Users
	for i := 0; i < 20; i++ { // changed while the crawl may or may not have read them yet
		u := users[len(users)-1-i]
		u.Title = fmt.Sprintf("同步中%d", i)
		if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
			t.Fatal(err)
		}
	}
	h.eventuallyMatches(90 * time.Second)
	var order struct {
		FullApplied time.Time `db:"full_applied"`
		IncStarted  time.Time `db:"inc_started"`
	}
	if err := h.st.DB().Get(&order, `SELECT
		(SELECT max(applied_at) FROM sync_runs WHERE kind = 'full') AS full_applied,
		(SELECT min(started_at) FROM sync_runs WHERE kind = 'incremental' AND started_at > (
			SELECT max(started_at) FROM sync_runs WHERE kind = 'full')) AS inc_started`); err != nil {
		t.Fatalf("no incremental run after the full sync: %v", err)
	}
	if !order.IncStarted.After(order.FullApplied) {
		t.Fatalf("events applied at %s, before the full sync's apply at %s", order.IncStarted, order.FullApplied)
	}
}
