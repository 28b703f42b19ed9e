package sharedlimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/testenv"
)

// callLog records when calls went out.
type callLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (c *callLog) run(ctx context.Context, t *testing.T, l *Limiter, corpID, api string) {
	for {
		if err := l.Wait(ctx, corpID, api); err != nil {
			return
		}
		c.mu.Lock()
		c.times = append(c.times, time.Now())
		c.mu.Unlock()
	}
}

// maxInAnySecond is the most calls in any 1-second window (DingTalk's fixed windows are
// covered by every sliding one).
func maxInAnySecond(logs ...*callLog) int {
	var all []time.Time
	for _, c := range logs {
		c.mu.Lock()
		all = append(all, c.times...)
		c.mu.Unlock()
	}
	most := 0
	for _, start := range all {
		n := 0
		for _, t := range all {
			if !t.Before(start) && t.Before(start.Add(time.Second)) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

func TestTwoProcessesShareOneBudget(t *testing.T) {
	db := testenv.NewStore(t).DB()
	a, b := New(db, 20, 0), New(db, 20, 0)
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var la, lb callLog
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); la.run(ctx, t, a, "corp1", "/topapi/v2/user/list") }()
	time.Sleep(1500 * time.Millisecond) // a alone first, at the whole budget
	go func() { defer wg.Done(); lb.run(ctx, t, b, "corp1", "/topapi/v2/user/list") }()
	wg.Wait()
	if most := maxInAnySecond(&la, &lb); most > 21 {
		t.Fatalf("%d calls in one second from two processes sharing a budget of 20", most)
	}
	if len(lb.times) < 20 {
		t.Fatalf("the joining process made %d calls in 3.5 s: it did not get its share", len(lb.times))
	}
	if len(la.times) < 45 {
		t.Fatalf("the first process made %d calls in 5 s (alone 1.5 s, then sharing): it was starved", len(la.times))
	}
}

func TestAKilledProcessesShareReturns(t *testing.T) {
	db := testenv.NewStore(t).DB()
	a, b := New(db, 20, 0), New(db, 20, 0)
	defer a.Close()
	ctx := context.Background()
	for _, l := range []*Limiter{a, b} { // both hold a lease
		if err := l.Wait(ctx, "corp1", "/topapi/v2/department/listsub"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(renewEvery + 200*time.Millisecond)
	if got := a.limit("corp1", "/topapi/v2/department/listsub"); got != 10 {
		t.Fatalf("with two processes the share is %v, want 10", got)
	}
	// b dies without giving its lease back: it stops renewing.
	b.closed.Do(func() { close(b.stop) })
	<-b.done
	deadline := time.Now().Add(leaseTTL + 3*renewEvery)
	for a.limit("corp1", "/topapi/v2/department/listsub") != 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the share is still %v %s after the other process died", a.limit("corp1", "/topapi/v2/department/listsub"), leaseTTL+3*renewEvery)
		}
		_ = a.Wait(ctx, "corp1", "/topapi/v2/department/listsub") // still in use
		time.Sleep(100 * time.Millisecond)
	}
}

func TestTokenCallsAreExempt(t *testing.T) {
	db := testenv.NewStore(t).DB()
	l := New(db, 1, 0)
	defer l.Close()
	start := time.Now()
	for range 10 {
		if err := l.Wait(context.Background(), "corp1", dingtalk.APIToken); err != nil {
			t.Fatal(err)
		}
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatal("token calls were paced by the per-API budget")
	}
}

// limit is this process's current share of (corpID, api), in calls per second (0 if unused).
func (l *Limiter) limit(corpID, api string) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sh := l.keys[key{corpID, api}]; sh != nil {
		return float64(sh.lim.Limit())
	}
	return 0
}
