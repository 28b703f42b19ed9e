package e2e

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// withCorp is another corp in the same simulator, database and workers as h: the returned
// harness shares everything but the corp and its app.
func (h *harness) withCorp(spec dingtalksim.OrgSpec) *harness {
	h.t.Helper()
	o := *h
	o.corpID, o.appKey, o.appSecret = "dingcorp"+randomHex(4), "dingapp"+randomHex(4), "sec-"+randomHex(16)
	if err := h.sim.LoadOrg(dingtalksim.GenerateOrg(o.corpID, spec)); err != nil {
		h.t.Fatal(err)
	}
	if err := h.sim.AddApp(dingtalksim.App{CorpID: o.corpID, AppKey: o.appKey, AppSecret: o.appSecret}); err != nil {
		h.t.Fatal(err)
	}
	return &o
}

// streamEvents changes one of the corp's employees every 1/perSecond s for d, each pushed as
// an event, and returns when done.
func (h *harness) streamEvents(t *testing.T, perSecond int, d time.Duration) {
	users := h.sim.Truth(h.corpID).Users
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	for i, start := 0, time.Now(); time.Since(start) < d; i++ {
		<-tick.C
		h.mutate(t, users, i)
	}
}

// TestBenchMultiCorpFairness is `make bench`'s fairness part: three corps bound to one worker,
// each under its own DingTalk limit (20 QPS per API). The event → store lag of two quiet corps
// receiving 10 events/s each is measured alone, then while the third corp runs a full sync of
// 20,000 employees and a burst of 2,000 events: one corp's load must not starve the others.
func TestBenchMultiCorpFairness(t *testing.T) {
	if os.Getenv("DINGSYNC_BENCH") == "" {
		t.Skip("benchmarks run with `make bench`")
	}
	busy := newHarness(t, dingtalksim.OrgSpec{Seed: 101, Employees: 20_000})
	quiet := []*harness{busy.withCorp(dingtalksim.OrgSpec{Seed: 102, Employees: 2_000}),
		busy.withCorp(dingtalksim.OrgSpec{Seed: 103, Employees: 2_000})}
	busy.limitQPS(20)
	busy.startWorker()
	for _, h := range append([]*harness{busy}, quiet...) {
		h.bindWithEvents()
	}
	const rate, seconds = 10, 30
	measure := func(load func()) []lagStats {
		start := time.Now().Truncate(time.Millisecond)
		var wg sync.WaitGroup
		for _, h := range quiet {
			wg.Add(1)
			go func() { defer wg.Done(); h.streamEvents(t, rate, seconds*time.Second) }()
		}
		if load != nil {
			load()
		}
		wg.Wait()
		var out []lagStats
		for _, h := range quiet {
			h.waitApplied(t, start, rate*seconds*9/10, 2*time.Minute)
			out = append(out, h.lagSince(t, start))
		}
		return out
	}
	alone := measure(nil)
	loadStart := time.Now()
	loaded := measure(func() {
		busy.mustStarter("", "sync", "full", "--corp-id", busy.corpID)
		users := busy.sim.Truth(busy.corpID).Users
		for i := range 2000 {
			busy.mutate(t, users, i)
		}
	})
	waitFor(t, 10*time.Minute, func() bool {
		return busy.count(`SELECT count(*) FROM sync_runs WHERE corp_id = $1 AND kind = 'full' AND status = 'running'`, busy.corpID) == 0
	})
	busyWall := time.Since(loadStart)
	throttled := busy.count(`SELECT coalesce(sum(throttled), 0) FROM sync_runs`)

	fmt.Printf("\nMulti-corp fairness (3 corps, one worker, 20 QPS per corp per API; %s, %d cores)\n", hostDescription(), runtime.NumCPU())
	fmt.Println("| quiet corp | 10 events/s alone: p50 / p99 | while another corp full-syncs 20k and takes 2,000 events: p50 / p99 |")
	fmt.Println("|---|---|---|")
	for i := range quiet {
		fmt.Printf("| %d | %s / %s | %s / %s |\n", i+1, alone[i].p50.Round(time.Millisecond), alone[i].p99.Round(time.Millisecond),
			loaded[i].p50.Round(time.Millisecond), loaded[i].p99.Round(time.Millisecond))
	}
	fmt.Printf("busy corp: full sync and burst done in %s; 90018 responses over all corps: %d\n", busyWall.Round(time.Second), throttled)
}
