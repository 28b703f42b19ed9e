package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestWakeDebouncerCoalescesABurstButNeverDropsTheLastWake(t *testing.T) {
	var mu sync.Mutex
	var wakes []time.Time
	d := &WakeDebouncer{interval: 50 * time.Millisecond, budget: time.Second,
		wake: func(context.Context, string) error {
			mu.Lock()
			defer mu.Unlock()
			wakes = append(wakes, time.Now())
			return nil
		}}
	start := time.Now()
	for i := 0; i < 100; i++ {
		if err := d.Wake(context.Background(), "corp1"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(120 * time.Millisecond)
	mu.Lock()
	got := append([]time.Time(nil), wakes...)
	mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("100 wakes in a burst signalled %d times, want 2 (leading and trailing)", len(got))
	}
	if trailing := got[1].Sub(start); trailing < 45*time.Millisecond || trailing > 110*time.Millisecond {
		t.Fatalf("trailing wake after %s, want about the 50 ms interval", trailing)
	}
	// After a quiet period the next wake goes at once.
	if err := d.Wake(context.Background(), "corp1"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(wakes) != 3 {
		t.Fatalf("a wake after a quiet period was deferred (%d wakes)", len(wakes))
	}
}
