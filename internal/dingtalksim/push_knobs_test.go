package dingtalksim

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestPushKnobs(t *testing.T) {
	t.Run("duplicates", func(t *testing.T) {
		e, rc := newPushEnv(t, PushOptions{DuplicateRate: 1})
		ids := e.addUsers(3, "dup")
		e.waitPushes()
		got := userIDsOf(rc.events())
		if want := []string{ids[0], ids[0], ids[1], ids[1], ids[2], ids[2]}; !slices.Equal(got, want) {
			t.Fatalf("received %v, want each twice: %v", got, want)
		}
		if evs := rc.events(); evs[0].event.ID != evs[1].event.ID {
			t.Fatal("a duplicate has another eventId")
		}
	})
	t.Run("delay", func(t *testing.T) {
		e, rc := newPushEnv(t, PushOptions{Delay: 40 * time.Millisecond, Jitter: 10 * time.Millisecond})
		start := time.Now()
		ids := e.addUsers(4, "late")
		if n := len(rc.events()); n != 0 {
			t.Fatalf("%d pushes arrived before their delay", n)
		}
		e.waitPushes()
		if took := time.Since(start); took < 160*time.Millisecond {
			t.Fatalf("4 pushes delayed 40 ms each took %s", took)
		}
		if got := userIDsOf(rc.events()); !slices.Equal(got, ids) {
			t.Fatalf("received %v, want %v in order", got, ids)
		}
	})
	t.Run("paused", func(t *testing.T) {
		e, rc := newPushEnv(t, PushOptions{Paused: true})
		ids := e.addUsers(3, "held")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := e.sim.WaitPushesIdle(ctx); err == nil {
			t.Fatal("WaitPushesIdle returned while pushes are held")
		}
		if st := e.sim.PushStats(testCorp); st.Queued != 3 || len(rc.events()) != 0 {
			t.Fatalf("paused: stats %+v, %d received", st, len(rc.events()))
		}
		check(t, e.sim.SetPushOptions(PushOptions{}))
		e.waitPushes()
		if got := userIDsOf(rc.events()); !slices.Equal(got, ids) {
			t.Fatalf("received %v, want %v in order", got, ids)
		}
	})
	t.Run("reorder", func(t *testing.T) {
		const window = 4
		e, rc := newPushEnv(t, PushOptions{Paused: true})
		ids := e.addUsers(30, "mix")
		check(t, e.sim.SetPushOptions(PushOptions{ReorderWindow: window, Seed: 3}))
		e.waitPushes()
		got := userIDsOf(rc.events())
		if slices.Equal(got, ids) || !slices.Equal(slices.Sorted(slices.Values(got)), ids) {
			t.Fatalf("received %v: want a shuffle of %v", got, ids)
		}
		for pos, id := range got {
			if i := slices.Index(ids, id); pos < i-(window-1) {
				t.Fatalf("event %d arrived at %d, ahead of its window of %d", i, pos, window)
			}
		}
	})
}

// newPushEnv is an env whose corp has a callback for user_add_org at a fresh receiver,
// with the push options o.
func newPushEnv(t *testing.T, o PushOptions) (*env, *receiver) {
	t.Helper()
	e := newEnv(t, noQPS)
	rc := newReceiver(t)
	e.register(e.token(testKey, testSecret), APICallbackRegister, []string{EventUserAddOrg}, rc.srv.URL, CodeOK)
	check(t, e.sim.SetPushOptions(o))
	return e, rc
}
