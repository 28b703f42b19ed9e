package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// WakeDebouncer coalesces wakes per corp: the first wake in a quiet period goes at once, and
// the wakes that follow within the interval become one trailing wake at its end. The
// workflow re-reads the whole inbox on every wake, so no event waits longer than the
// interval, while a burst of thousands of events costs a handful of signals, not thousands.
type WakeDebouncer struct {
	wake     func(ctx context.Context, corpID string) error
	interval time.Duration
	budget   time.Duration

	mu    sync.Mutex
	corps map[string]*corpWake
}

// NewWakeDebouncer returns a debouncer that wakes through wake at most once per interval per
// corp; budget bounds a trailing wake (the receivers bound an immediate one with their context).
func NewWakeDebouncer(wake func(ctx context.Context, corpID string) error, interval, budget time.Duration) *WakeDebouncer {
	return &WakeDebouncer{wake: wake, interval: interval, budget: budget}
}

type corpWake struct {
	last     time.Time
	trailing bool
}

// Wake wakes corpID's workflow now or schedules the trailing wake. It returns the error of an
// immediate wake (a scheduled one that fails is logged; the sweeper covers it).
func (d *WakeDebouncer) Wake(ctx context.Context, corpID string) error {
	d.mu.Lock()
	if d.corps == nil {
		d.corps = map[string]*corpWake{}
	}
	cw := d.corps[corpID]
	if cw == nil {
		cw = &corpWake{}
		d.corps[corpID] = cw
	}
	now := time.Now()
	if now.Sub(cw.last) >= d.interval {
		cw.last = now
		d.mu.Unlock()
		return d.wake(ctx, corpID)
	}
	if !cw.trailing {
		cw.trailing = true
		time.AfterFunc(cw.last.Add(d.interval).Sub(now), func() { d.trailingWake(corpID) })
	}
	d.mu.Unlock()
	return nil
}

func (d *WakeDebouncer) trailingWake(corpID string) {
	d.mu.Lock()
	cw := d.corps[corpID]
	cw.trailing, cw.last = false, time.Now()
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), d.budget)
	defer cancel()
	if err := d.wake(ctx, corpID); err != nil {
		slog.Warn("trailing wake of incremental sync failed; the sweeper will wake it", "corp", corpID, "error", err)
	}
}
