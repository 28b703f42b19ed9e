package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/testenv"
)

// TestTwoWorkersShareTheWorkAndDingTalksLimit runs a full sync and an audit of one corp at the
// same time on two worker processes (each takes one activity at a time, so each crawl lands on
// its own worker). Together they stay under DingTalk's per-API limit — the limiter is shared
// through Postgres, not per process — and killing one of them mid-crawl loses nothing.
func TestTwoWorkersShareTheWorkAndDingTalksLimit(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 91, Employees: 3000})
	h.bind(h.appSecret)
	h.limitQPS(10)
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	a := h.startWorker("DINGSYNC_MAX_CONCURRENT_ACTIVITIES=1")
	h.startWorker("DINGSYNC_MAX_CONCURRENT_ACTIVITIES=1", fmt.Sprintf("DINGSYNC_HTTP_ADDR=127.0.0.1:%d", ports[0]))

	h.mustStarter("", "sync", "full", "--corp-id", h.corpID)
	waitFor(t, 30*time.Second, func() bool { return h.count(`SELECT count(*) FROM staging_users`) > 0 })
	h.mustStarter("", "audit", "run", "--corp-id", h.corpID)
	waitFor(t, 30*time.Second, func() bool {
		return h.count(`SELECT count(DISTINCT run_id) FROM staging_users`) == 2
	})
	a.Kill() // one crawl loses its worker: it resumes on the other from what it staged
	waitFor(t, 4*time.Minute, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE status = 'running'`) == 0
	})
	if n := h.count(`SELECT count(*) FROM sync_runs WHERE status <> 'succeeded'`); n != 0 {
		t.Fatalf("%d runs did not succeed", n)
	}
	if n := h.count(`SELECT coalesce(sum(throttled), 0) FROM sync_runs`); n != 0 {
		t.Fatalf("DingTalk throttled %d calls: the two workers together went over its limit", n)
	}
	h.assertStoreMatchesDingTalk()
	if n := h.count(`SELECT count(*) FROM audit_reports`); n != 1 {
		t.Fatalf("%d audit reports, want 1", n)
	}
	if n := h.count(`SELECT count(*) FROM (SELECT record_id, op FROM sync_changes GROUP BY run_id, record_id, op HAVING count(*) > 1) d`); n != 0 {
		t.Fatalf("%d records changed twice by one run", n)
	}
}
