package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// lagStats are the event → store lags of a set of applied events.
type lagStats struct {
	events        int
	p50, p99, max time.Duration
	drain         time.Duration // first event to last applied
	intake        time.Duration // first event to last received
}

func (h *harness) lagSince(t *testing.T, since time.Time) lagStats {
	t.Helper()
	var s struct {
		N      int     `db:"n"`
		P50    float64 `db:"p50"`
		P99    float64 `db:"p99"`
		Max    float64 `db:"max"`
		Drain  float64 `db:"drain"`
		Intake float64 `db:"intake"`
	}
	err := h.st.DB().Get(&s, `SELECT count(*) AS n,
		coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - event_time)), 0) AS p50,
		coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - event_time)), 0) AS p99,
		coalesce(max(extract(epoch FROM applied_at - event_time)), 0) AS max,
		coalesce(extract(epoch FROM max(applied_at) - min(event_time)), 0) AS drain,
		coalesce(extract(epoch FROM max(received_at) - min(event_time)), 0) AS intake
		FROM inbox_events WHERE corp_id = $1 AND status = 'applied' AND event_time >= $2`, h.corpID, since)
	if err != nil {
		t.Fatal(err)
	}
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	return lagStats{events: s.N, p50: sec(s.P50), p99: sec(s.P99), max: sec(s.Max), drain: sec(s.Drain), intake: sec(s.Intake)}
}

// mutate changes one employee's title in DingTalk, which pushes user_modify_org.
func (h *harness) mutate(t *testing.T, users []dingtalksim.User, i int) {
	u := users[i%len(users)]
	u.Title = fmt.Sprintf("职位%d", i)
	if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
		t.Fatal(err)
	}
}

// waitApplied waits until n events since since are applied.
func (h *harness) waitApplied(t *testing.T, since time.Time, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for h.count(`SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND status = 'applied' AND event_time >= $2`, h.corpID, since) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d events applied after %s: %d received since, %d pending; pushes %+v; runs: %d failed",
				n, timeout, h.count(`SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND event_time >= $2`, h.corpID, since),
				h.count(`SELECT count(*) FROM inbox_events WHERE corp_id = $1 AND status = 'pending'`, h.corpID),
				h.sim.PushStats(h.corpID), h.count(`SELECT count(*) FROM sync_runs WHERE status = 'failed'`))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBenchIncrementalLag is `make bench`'s incremental part: event → store lag at 50 events/s
// sustained, and the time to drain a burst of 5,000 events, against a 10k-employee org with
// no simulator rate limit (dingsync's own overhead) — printed as a table.
func TestBenchIncrementalLag(t *testing.T) {
	if os.Getenv("DINGSYNC_BENCH") == "" {
		t.Skip("benchmarks run with `make bench`")
	}
	seconds := 120
	if s := os.Getenv("DINGSYNC_BENCH_LAG_SECONDS"); s != "" {
		seconds, _ = strconv.Atoi(s)
	}
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 44, Employees: 10_000})
	h.startWorker("DINGTALK_IP_CALLS_PER_20S=0", "DINGTALK_QPS=1000000")
	h.bindWithEvents()
	users := h.sim.Truth(h.corpID).Users

	// Event times are whole milliseconds: cut-offs are too.
	start := time.Now().Truncate(time.Millisecond)
	tick := time.NewTicker(20 * time.Millisecond) // 50 events/s
	n := 0
	for time.Since(start) < time.Duration(seconds)*time.Second {
		<-tick.C
		h.mutate(t, users, n)
		n++
	}
	tick.Stop()
	h.waitApplied(t, start, n, time.Minute)
	sustained := h.lagSince(t, start)
	callsBefore := totalCalls(h.sim.Calls(h.corpID))

	// A burst goes out as a busy DingTalk sends it: several pushes in flight at once.
	opts := h.sim.CurrentPushOptions()
	opts.Concurrency = burstPushConcurrency
	if err := h.sim.SetPushOptions(opts); err != nil {
		t.Fatal(err)
	}
	burstStart := time.Now().Truncate(time.Millisecond)
	for i := 0; i < 5000; i++ {
		h.mutate(t, users, n+i)
	}
	h.waitApplied(t, burstStart, 5000, 5*time.Minute)
	burst := h.lagSince(t, burstStart)
	perEvent := float64(totalCalls(h.sim.Calls(h.corpID))-callsBefore) / 5000
	h.eventuallyMatches(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = h.sim.WaitPushesIdle(ctx)

	fmt.Printf("\nIncremental sync lag (10k employees, no simulator limit; %s, %d cores)\n", hostDescription(), runtime.NumCPU())
	fmt.Println("| load | events | p50 lag | p99 lag | max lag | all received | drain time | DingTalk calls per event |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	fmt.Printf("| 50 events/s for %d s | %d | %s | %s | %s | — | — | — |\n", seconds, sustained.events,
		sustained.p50.Round(time.Millisecond), sustained.p99.Round(time.Millisecond), sustained.max.Round(time.Millisecond))
	fmt.Printf("| burst of 5,000 (%d pushes in flight) | %d | %s | %s | %s | %s | %s | %.2f |\n", burstPushConcurrency, burst.events, burst.p50.Round(time.Millisecond),
		burst.p99.Round(time.Millisecond), burst.max.Round(time.Millisecond), burst.intake.Round(time.Millisecond), burst.drain.Round(time.Millisecond), perEvent)
}

// burstPushConcurrency is the pushes the simulator has in flight per corp during the burst.
const burstPushConcurrency = 8

func totalCalls(byAPI map[string]int64) int64 {
	var n int64
	for api, c := range byAPI {
		if api != dingtalk.APIToken {
			n += c
		}
	}
	return n
}
