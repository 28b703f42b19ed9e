package chaos

import (
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// unreliable are the background faults of the DingTalk scenarios: 5% of calls fail (-1,
// 502, 503), 2% hang until the client gives up, 5% of answers are corrupted (truncated,
// numbers as strings, result missing), on every API, token endpoints included.
func unreliable(seed int64, throttleBurst int) dingtalksim.Faults {
	return dingtalksim.Faults{Seed: seed, ErrorRate: 0.05, TimeoutRate: 0.02, MalformedRate: 0.05, ThrottleBurst: throttleBurst}
}

// countFaults records the faults the simulator answered the corp's calls with, by outcome.
func (h *harness) countFaults() {
	byOutcome := map[string]int{}
	for _, outcomes := range h.sim.CallOutcomes(h.corpID) {
		for o, n := range outcomes {
			byOutcome[o] += int(n)
		}
	}
	for _, o := range []string{dingtalksim.OutcomeError, dingtalksim.OutcomeTimeout, dingtalksim.OutcomeMalformed,
		dingtalksim.OutcomeThrottled, dingtalksim.OutcomeIPBanned, dingtalksim.OutcomeAuth} {
		h.sc.fault(o, byOutcome[o])
	}
}

// TestChaosDingTalkFaultsDuringFullSync crawls an org while DingTalk fails, hangs and
// corrupts answers, revokes every token mid-run, throttles a burst of calls with 90018 and,
// in the long suite, bans the worker's IP: the run may retry but succeeds, and the store
// equals DingTalk.
func TestChaosDingTalkFaultsDuringFullSync(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 711, Employees: pick(600, 4000)})
	h.limitQPS(20)
	if err := h.sim.SetFaults(h.corpID, unreliable(int64(sc.intN(1000)), 0)); err != nil {
		t.Fatal(err)
	}
	h.bind()
	h.startWorker()
	done := make(chan struct{})
	var code int
	var out string
	go func() {
		defer close(done)
		_, out, code = h.syncFull()
	}()
	waitFor(t, time.Minute, "the crawl stages users", func() bool { return h.count(`SELECT count(*) FROM staging_users`) > 0 })
	time.Sleep(sc.between(0, time.Second))
	if err := h.sim.RevokeTokens(h.appKey); err != nil {
		t.Fatal(err)
	}
	sc.fault("tokens revoked", 1)
	time.Sleep(sc.between(0, time.Second))
	if err := h.sim.SetFaults(h.corpID, unreliable(int64(sc.intN(1000)), 40)); err != nil {
		t.Fatal(err)
	}
	if long { // the IP-ban page: the client waits DingTalk's 5 minutes before the crawl retries
		if err := h.sim.SetLimits(dingtalksim.Limits{QPS: 20, IPBan: 3 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if err := h.sim.SetFaults(h.corpID, dingtalksim.Faults{Seed: 1, IPBanNow: true}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := h.sim.SetFaults(h.corpID, unreliable(int64(sc.intN(1000)), 40)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(pick(3*time.Minute, 15*time.Minute)):
		t.Fatal("the full sync under faults did not end")
	}
	h.countFaults()
	if code != 0 {
		t.Fatalf("sync under faults exited %d:\n%s", code, out)
	}
	h.sim.ClearFaults()
	h.assertConverged(time.Minute)
}

// TestChaosDingTalkFaultsDuringEvents streams events while DingTalk fails, hangs, corrupts
// and throttles the batches' re-reads and revokes every token mid-stream: batches retry,
// and every event applies once.
func TestChaosDingTalkFaultsDuringEvents(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 712, Employees: pick(300, 2000)})
	h.startWorker()
	h.bindWithEvents(h.callbackURL())
	if err := h.sim.SetFaults(h.corpID, unreliable(int64(sc.intN(1000)), 20)); err != nil {
		t.Fatal(err)
	}
	s := h.startStream(50*time.Millisecond, false)
	for i := 0; i < pick(1, 4); i++ {
		time.Sleep(sc.between(time.Second, 5*time.Second))
		if err := h.sim.RevokeTokens(h.appKey); err != nil {
			t.Fatal(err)
		}
		sc.fault("tokens revoked", 1)
		if err := h.sim.SetFaults(h.corpID, unreliable(int64(sc.intN(1000)), 20)); err != nil { // another 90018 burst
			t.Fatal(err)
		}
	}
	time.Sleep(sc.between(time.Second, 3*time.Second))
	t.Logf("%d changes", s.Stop())
	h.drainPushes()
	h.assertConverged(3 * time.Minute) // the faults go on: the last batches retry through them
	h.countFaults()
}
