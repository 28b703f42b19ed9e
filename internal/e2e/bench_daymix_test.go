package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// dayMix applies a day's worth of change to 1% of an org's employees, as events: most are
// edits, some hires, some leavers, some moves between departments, at perSecond changes a
// second. It returns how many events it caused.
func (h *harness) dayMix(t *testing.T, changes, perSecond int) int {
	truth := h.sim.Truth(h.corpID)
	users, depts := truth.Users, truth.Departments
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	events := 0
	for i := range changes {
		<-tick.C
		u := users[(i*7919)%len(users)] // spread over the org, each user at most once
		var err error
		switch i % 20 {
		case 0, 1: // a hire into the same department as u
			_, err = h.sim.AddUser(h.corpID, dingtalksim.User{UserID: fmt.Sprintf("hire%06d", i), Name: "新员工",
				DeptIDList: u.DeptIDList, Title: "实习生"})
		case 2, 3: // a leaver
			err = h.sim.RemoveUser(h.corpID, u.UserID)
		case 4: // a move to another department
			to := depts[(i*31)%len(depts)].ID
			if to == u.DeptIDList[0] {
				continue
			}
			_, err = h.sim.MoveUser(h.corpID, u.UserID, u.DeptIDList[0], to)
		default: // an edit
			u.Title = fmt.Sprintf("职位%d", i)
			_, err = h.sim.UpdateUser(h.corpID, u)
		}
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		events++
	}
	return events
}

// TestBenchDayMix is `make bench`'s scale part for incremental sync: a 100,000-employee org
// (5,000 departments) bound on this machine, then 1% of its employees changing — edits, hires,
// leavers, moves — pushed as events at 10 a second under DingTalk's 20 QPS. It reports the
// event → store lag, DingTalk calls per event and that the store ends equal to DingTalk.
func TestBenchDayMix(t *testing.T) {
	if os.Getenv("DINGSYNC_BENCH") == "" {
		t.Skip("benchmarks run with `make bench`")
	}
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 111, Employees: 100_000})
	w := h.startWorker("DINGTALK_IP_CALLS_PER_20S=0", "DINGTALK_QPS=1000000")
	bindStart := time.Now()
	h.bindWithEvents() // the initial 100k sync, unthrottled to keep the bench short
	bindTime := time.Since(bindStart)
	w.Kill()
	h.limitQPS(20) // from here DingTalk's standard limit
	h.startWorker()
	// Warm up: the new worker takes over the incremental sync (Temporal moves it off the dead
	// worker's sticky queue after a few seconds) before the measured day begins.
	warm := time.Now().Truncate(time.Millisecond)
	h.mutate(t, h.sim.Truth(h.corpID).Users, 0)
	h.waitApplied(t, warm, 1, time.Minute)
	callsBefore := totalCalls(h.sim.Calls(h.corpID))

	start := time.Now().Truncate(time.Millisecond)
	n := h.dayMix(t, 1000, 10)
	h.waitApplied(t, start, n, 5*time.Minute)
	lag := h.lagSince(t, start)
	perEvent := float64(totalCalls(h.sim.Calls(h.corpID))-callsBefore) / float64(n)
	h.eventuallyMatches(2 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = h.sim.WaitPushesIdle(ctx)
	throttled := h.count(`SELECT coalesce(sum(throttled), 0) FROM sync_runs`)

	fmt.Printf("\nA day's change on a 100k org (1%% of employees, 10 events/s, 20 QPS; %s, %d cores)\n", hostDescription(), runtime.NumCPU())
	fmt.Println("| bind incl. first full sync | events | p50 lag | p99 lag | max lag | DingTalk calls per event | 90018 | store = DingTalk |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	fmt.Printf("| %s | %d | %s | %s | %s | %.2f | %d | yes |\n", bindTime.Round(time.Second), lag.events,
		lag.p50.Round(time.Millisecond), lag.p99.Round(time.Millisecond), lag.max.Round(time.Millisecond), perEvent, throttled)
}
