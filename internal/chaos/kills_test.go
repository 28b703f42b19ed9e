package chaos

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/workflows"
)

// parallelInShort runs the scenario alongside the other short ones in `make test` (they share
// nothing but the dev server); the long suite runs one scenario at a time.
func parallelInShort(t *testing.T) {
	if !long {
		t.Parallel()
	}
}

// progress is how much a crawl or batch has done so far: rows staged or applied, and events
// applied.
func (h *harness) progress() int {
	return h.count(`SELECT (SELECT count(*) FROM staging_users) + (SELECT count(*) FROM staging_departments)
		+ (SELECT count(*) FROM sync_changes) + (SELECT count(*) FROM inbox_events WHERE status = 'applied')`)
}

// running counts the corp's runs of the given kinds still running.
func (h *harness) running(kinds ...string) int {
	return h.count(`SELECT count(*) FROM sync_runs WHERE corp_id = $1 AND status = 'running' AND kind = ANY($2)`,
		h.corpID, "{"+strings.Join(kinds, ",")+"}")
}

// killAtRandomPoints kills the worker up to kills times while active holds, each time at a
// random point: once the restarted worker has made progress again, after a random delay up
// to maxDelay. It returns how many kills it made.
func (h *harness) killAtRandomPoints(kills int, maxDelay time.Duration, active func() bool) int {
	h.t.Helper()
	made := 0
	for made < kills {
		mark := h.progress()
		waitFor(h.t, 3*time.Minute, "progress after a kill", func() bool { return h.progress() > mark || !active() })
		time.Sleep(h.sc.between(0, maxDelay))
		if !active() {
			break
		}
		h.killWorker()
		made++
	}
	return made
}

// runsOf says whether runs of the given kinds are running.
func (h *harness) runsOf(kinds ...string) func() bool {
	return func() bool { return h.running(kinds...) > 0 }
}

// TestChaosWorkerKillsDuringFullSync kill -9s the worker at random points of a full sync
// (crawl, and in the long suite also right when the apply starts): the run still succeeds
// with the store equal to DingTalk, each record created once, and a second sync finds
// nothing to do.
func TestChaosWorkerKillsDuringFullSync(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 701, Employees: pick(800, 5000)})
	h.limitQPS(pick(20, 10)) // the crawl takes seconds: time to kill it
	h.bind()
	h.startWorker()

	type outcome struct {
		res  workflows.FullSyncResult
		out  string
		code int
	}
	done := make(chan outcome, 1)
	go func() {
		res, out, code := h.syncFull()
		done <- outcome{res, out, code}
	}()
	waitFor(t, time.Minute, "the crawl starts", func() bool { return h.running("full") == 1 })
	made := h.killAtRandomPoints(pick(1, 6), 2*time.Second, h.runsOf("full"))
	if long { // the last kill right after the crawl, as the apply transaction starts
		waitFor(t, 5*time.Minute, "the crawl completes", func() bool {
			return h.count(`SELECT count(*) FROM sync_runs r WHERE kind = 'full' AND applied_at IS NULL AND status = 'running'
				AND EXISTS (SELECT 1 FROM staging_departments s WHERE s.run_id = r.id)
				AND NOT EXISTS (SELECT 1 FROM staging_departments s WHERE s.run_id = r.id AND NOT (users_listed AND children_listed))`) == 1 ||
				h.running("full") == 0
		})
		if h.running("full") == 1 {
			h.killWorker()
			made++
		}
	}
	t.Logf("%d kills during the full sync", made)
	o := <-done
	if o.code != 0 || o.res.Status != "succeeded" {
		t.Fatalf("sync after %d kills exited %d (%+v):\n%s", made, o.code, o.res, o.out)
	}
	h.assertConverged(time.Minute)
	truth := h.truth()
	if n := h.count(`SELECT count(*) FROM sync_changes WHERE op = 'create'`); n != len(truth.Users)+len(truth.Departments) {
		t.Fatalf("%d create changes, want one per employee and department (%d)", n, len(truth.Users)+len(truth.Departments))
	}
	if long {
		again, out, code := h.syncFull()
		if code != 0 || again.Created+again.Updated+again.Deactivated+again.DepartmentsChanged != 0 {
			t.Fatalf("a second sync after the kills changed %+v (exit %d):\n%s", again, code, out)
		}
	}
}

// TestChaosWorkerKillsDuringEventStream kill -9s the worker at random points while events
// stream in (hires, leavers, rejoiners, moves, renames): pushes to the dead receiver land
// in DingTalk's failed list and the drain brings them back; every event applies once.
func TestChaosWorkerKillsDuringEventStream(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 702, Employees: pick(300, 2000)})
	h.startWorker()
	h.bindWithEvents(h.callbackURL())
	// 10 changes a second: below what the re-reads can apply at DingTalk's 20 QPS (user/get),
	// so the backlog a kill leaves drains.
	s := h.startStream(100*time.Millisecond, false)

	made := h.killAtRandomPoints(pick(1, 8), 3*time.Second, func() bool { return true })
	time.Sleep(time.Second)
	changes := s.Stop()
	t.Logf("%d kills during %d changes", made, changes)
	h.drainPushes()
	h.assertConverged(3 * time.Minute)
}

// drainPushes waits until the simulator has pushed everything (delivered or failed), then
// runs `starter events drain` and waits until DingTalk's failed list is empty.
func (h *harness) drainPushes() {
	h.t.Helper()
	h.waitPushesIdle()
	if h.sim.PushStats(h.corpID).Failed == 0 {
		return
	}
	h.mustStarter("events", "drain", "--corp-id", h.corpID)
	waitFor(h.t, pick(2*time.Minute, 5*time.Minute), "DingTalk's failed-push list drained", func() bool { return h.sim.PushStats(h.corpID).Failed == 0 })
}

// waitPushesIdle waits until the simulator has no push queued or in flight.
func (h *harness) waitPushesIdle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := h.sim.WaitPushesIdle(ctx); err != nil {
		h.t.Fatal(err)
	}
}
