package chaos

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// TestChaosTemporalRestart crashes the Temporal server (kill -9 of the dev server, whose
// state is in a file) and starts it again on the same port, during a full sync's crawl and
// while events stream: workers and the receiver ride it out (events are kept in the inbox
// and the sweeper wakes incsync), the run succeeds and every event applies once.
//
// It does not run in parallel with other scenarios: they share the dev server.
func TestChaosTemporalRestart(t *testing.T) {
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 761, Employees: pick(500, 3000)})
	h.startWorker()
	h.bindWithEvents(h.callbackURL())
	h.limitQPS(20)
	s := h.startStream(80*time.Millisecond, false)
	h.mustStarter("sync", "full", "--corp-id", h.corpID)
	waitFor(t, time.Minute, "the crawl stages users", func() bool {
		return h.count(`SELECT count(*) FROM staging_users`) > 0
	})
	for i := 0; i < pick(2, 4); i++ {
		time.Sleep(sc.between(0, 2*time.Second))
		if err := devServer.Restart(sc.between(time.Second, 4*time.Second)); err != nil {
			t.Fatalf("restart the Temporal dev server: %v", err)
		}
		sc.fault("temporal restarts", 1)
	}
	waitFor(t, 5*time.Minute, "the full sync ends", func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'full' AND status <> 'running'`) == 2
	})
	time.Sleep(time.Second)
	t.Logf("%d changes", s.Stop())
	h.drainPushes()
	h.assertConverged(3 * time.Minute)
	if n := h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'full' AND status <> 'succeeded'`); n != 0 {
		t.Fatalf("%d full syncs did not succeed across the Temporal restarts", n)
	}
}

// restartPostgres restarts the machine's Postgres cluster: every connection, of every test
// on the machine, is dropped. Only the long suite calls it.
func restartPostgres(t *testing.T) {
	t.Helper()
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) != 1 {
		t.Fatalf("want exactly one Postgres version under /etc/postgresql: %v", err)
	}
	cmd := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", versions[0].Name(), "main", "restart")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restart Postgres: %v\n%s", err, out)
	}
}

// TestChaosPostgresRestart restarts Postgres as a full sync's crawl completes (aiming at the
// apply transaction), then twice more while events stream: every activity and push that
// failed is retried (pushes refused with 503 land in DingTalk's failed list and are
// drained), the sync succeeds and every event applies once.
//
// Long suite only: the restart drops every connection on the machine, other tests' too.
func TestChaosPostgresRestart(t *testing.T) {
	if !long {
		t.Skip("long suite only (make chaos): restarting Postgres drops every connection on the machine")
	}
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 762, Employees: 5000})
	h.startWorker()
	h.bindWithEvents(h.callbackURL())
	h.limitQPS(20)
	s := h.startStream(60*time.Millisecond, false)
	h.mustStarter("sync", "full", "--corp-id", h.corpID)
	waitFor(t, 5*time.Minute, "the crawl completes", func() bool {
		return h.count(`SELECT count(*) FROM sync_runs r WHERE kind = 'full' AND applied_at IS NULL AND status = 'running'
			AND EXISTS (SELECT 1 FROM staging_departments s WHERE s.run_id = r.id)
			AND NOT EXISTS (SELECT 1 FROM staging_departments s WHERE s.run_id = r.id AND NOT (users_listed AND children_listed))`) == 1
	})
	restartAt := time.Now()
	restartPostgres(t)
	sc.fault("postgres restarts", 1)
	t.Cleanup(func() { // where the first restart hit: before the apply committed, or after
		var applied time.Time
		_ = h.st.DB().Get(&applied, `SELECT max(applied_at) FROM sync_runs WHERE kind = 'full'`)
		t.Logf("Postgres restarted at %s; the sync's apply committed at %s", restartAt.Format("15:04:05.000"), applied.Format("15:04:05.000"))
	})
	for i := 0; i < 2; i++ {
		time.Sleep(sc.between(2*time.Second, 6*time.Second))
		restartPostgres(t)
		sc.fault("postgres restarts", 1)
	}
	waitFor(t, 5*time.Minute, "the full sync ends", func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'full' AND status <> 'running'`) == 2
	})
	time.Sleep(time.Second)
	t.Logf("%d changes", s.Stop())
	h.drainPushes()
	h.assertConverged(3 * time.Minute)
	if n := h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'full' AND status <> 'succeeded'`); n != 0 {
		out := h.mustStarter("runs", "--corp-id", h.corpID)
		t.Fatalf("%d full syncs did not succeed across the Postgres restarts:\n%s", n, strings.TrimSpace(out))
	}
}
