package chaos

import (
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// scenario is one chaos test's record for the summary table: what it broke and how it ended.
type scenario struct {
	t     *testing.T
	rng   *rand.Rand
	start time.Time

	mu     sync.Mutex
	kills  int            // worker kill -9s
	faults map[string]int // other injected faults by kind
	end    time.Duration
}

var (
	reportMu  sync.Mutex
	scenarios []*scenario
)

// begin starts t's record, with its own random source (derived from the suite's seed and
// the test's name, so DINGSYNC_CHAOS_SEED replays the same draws).
func begin(t *testing.T) *scenario {
	var h uint64 = 1469598103934665603
	for _, c := range t.Name() {
		h = (h ^ uint64(c)) * 1099511628211
	}
	s := &scenario{t: t, rng: rand.New(rand.NewPCG(seed, h)), start: time.Now(), faults: map[string]int{}}
	t.Logf("chaos seed %d (DINGSYNC_CHAOS_SEED=%d replays the random draws)", seed, seed)
	reportMu.Lock()
	scenarios = append(scenarios, s)
	reportMu.Unlock()
	t.Cleanup(func() { s.mu.Lock(); s.end = time.Since(s.start); s.mu.Unlock() })
	return s
}

// killed counts a worker kill.
func (s *scenario) killed() {
	s.mu.Lock()
	s.kills++
	s.mu.Unlock()
}

// fault counts n injected faults of a kind.
func (s *scenario) fault(kind string, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.faults[kind] += n
	s.mu.Unlock()
}

// between draws a duration uniformly in [lo, hi).
func (s *scenario) between(lo, hi time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)+1))
}

// intN draws an int in [0, n).
func (s *scenario) intN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(n)
}

// printSummary writes the table of every scenario run: kills, faults, result, duration.
func printSummary(w io.Writer, total time.Duration) {
	reportMu.Lock()
	defer reportMu.Unlock()
	if len(scenarios) == 0 {
		return
	}
	mode := "short (make test)"
	if long {
		mode = "long (make chaos)"
	}
	fmt.Fprintf(w, "\nchaos suite, %s, seed %d\n", mode, seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tKILLS\tFAULTS INJECTED\tRESULT\tDURATION")
	kills := 0
	for _, s := range scenarios {
		s.mu.Lock()
		result := "pass"
		switch {
		case s.t.Skipped():
			result = "skip"
		case s.t.Failed():
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.t.Name(), s.kills, faultList(s.faults), result, s.end.Round(time.Second))
		kills += s.kills
		s.mu.Unlock()
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t\t\t%s\n", kills, total.Round(time.Second))
	tw.Flush()
}

// faultList renders faults as "kind×n, ..." in a stable order.
func faultList(faults map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(faults)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, faults[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
