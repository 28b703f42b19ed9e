package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// gatedCallbackURL registers the corp's callback behind a gate that can take the receiver
// down while the worker keeps running.
func (h *harness) gatedCallbackURL(g *gate) string {
	return fmt.Sprintf("http://%s/dingtalk/callback/%s", g.addr, h.corpID)
}

// TestChaosReceiverDownAndMessyPushes streams events while the receiver goes down and up
// again (pushes fail and land in DingTalk's failed list) and DingTalk duplicates, delays,
// reorders and overlaps its pushes: after the failed-push drain every event has applied
// once and the store equals DingTalk.
func TestChaosReceiverDownAndMessyPushes(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 721, Employees: pick(300, 2000)})
	h.startWorker()
	g := newGate(t, h.httpAddr)
	h.bindWithEvents(h.gatedCallbackURL(g))
	if err := h.sim.SetPushOptions(dingtalksim.PushOptions{Seed: int64(sc.intN(1000)), DuplicateRate: 0.3,
		Delay: 20 * time.Millisecond, Jitter: 60 * time.Millisecond, ReorderWindow: 8, Concurrency: 4}); err != nil {
		t.Fatal(err)
	}
	s := h.startStream(40*time.Millisecond, true)
	for i := 0; i < pick(2, 6); i++ {
		time.Sleep(sc.between(time.Second, 3*time.Second))
		g.down()
		sc.fault("receiver outages", 1)
		time.Sleep(sc.between(500*time.Millisecond, 3*time.Second))
		g.up()
	}
	time.Sleep(time.Second)
	t.Logf("%d changes", s.Stop())
	h.drainPushes()
	h.assertConverged(3 * time.Minute)
}

// TestChaosWorkerKilledDuringFailedPushDrain takes the receiver down while the org changes,
// so every event lands in DingTalk's failed list, then kill -9s the worker at random points
// of `starter events drain`. DingTalk hands each failed push out once: an event fetched but
// not yet in the inbox when the worker dies must not be lost; the next drain finds the
// interrupted one's mark and has a repair sync started.
func TestChaosWorkerKilledDuringFailedPushDrain(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 722, Employees: pick(300, 2000)})
	h.startWorker()
	g := newGate(t, h.httpAddr)
	h.bindWithEvents(h.gatedCallbackURL(g))
	g.down()
	sc.fault("receiver outages", 1)
	s := h.newStream()
	s.rejoins = false
	changes := pick(300, 1500)
	for i := 0; i < changes; i++ {
		if err := s.change(i); err != nil {
			t.Fatal(err)
		}
	}
	h.waitPushesIdle()
	failed := h.sim.PushStats(h.corpID).Failed
	g.up()
	for i := 0; i < pick(1, 3) && h.sim.PushStats(h.corpID).Failed > 0; i++ {
		left := h.sim.PushStats(h.corpID).Failed
		h.mustStarter("events", "drain", "--corp-id", h.corpID)
		// Right after DingTalk handed out a page (its events are being stored), or a little later.
		waitFor(t, 2*time.Minute, "DingTalk hands out a page", func() bool { return h.sim.PushStats(h.corpID).Failed < left })
		time.Sleep(sc.between(0, pick(0, 200*time.Millisecond)))
		h.killWorker()
		t.Logf("killed mid-drain: %d failed pushes left in DingTalk, %d in the inbox", h.sim.PushStats(h.corpID).Failed,
			h.count(`SELECT count(*) FROM inbox_events WHERE source = 'failed_list'`))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%d of the %d failed pushes reached the inbox", h.count(`SELECT count(*) FROM inbox_events WHERE source = 'failed_list'`), failed)
		}
	})
	h.drainPushes()
	// A drain interrupted by the kill has a repair sync started; the leavers among the events it
	// lost can be more than the deletion guard lets through, and the run then asks an operator.
	h.approveHeldDeletions = true
	h.assertConverged(3 * time.Minute)
	t.Logf("%d repair syncs after interrupted drains", h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'repair'`))
}

// TestChaosStaleLeaveAfterRejoin is the smallest form of an ordering fault the messy-push
// scenario finds at random: an employee leaves while the receiver is down (the push lands in
// DingTalk's failed list), rejoins with the same userid once it is up (pushed and applied),
// and only then is the failed list drained. The old leave must not deactivate someone
// DingTalk lists as active.
func TestChaosStaleLeaveAfterRejoin(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 723, Employees: 50})
	h.startWorker()
	g := newGate(t, h.httpAddr)
	h.bindWithEvents(h.gatedCallbackURL(g))
	u := h.sim.Truth(h.corpID).Users[7]

	g.down()
	sc.fault("receiver outages", 1)
	if err := h.sim.RemoveUser(h.corpID, u.UserID); err != nil {
		t.Fatal(err)
	}
	h.waitPushesIdle()
	g.up()
	if _, err := h.sim.AddUser(h.corpID, u); err != nil {
		t.Fatal(err)
	}
	h.waitPushesIdle()
	waitFor(t, 30*time.Second, "the rejoin applies", func() bool {
		return h.count(`SELECT count(*) FROM inbox_events WHERE event_type = 'user_add_org' AND status = 'applied'`) == 1
	})
	h.drainPushes()
	h.assertConverged(30 * time.Second)
}
