package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

// importBenchScenario is one attendance import benchmark: an org size, a number of days, and
// DingTalk's per-API QPS limit (0: none, to measure dingsync itself).
type importBenchScenario struct {
	name      string
	employees int
	days      int
	qps       int
	runs      int
}

// importBenchRun is what one run measured.
type importBenchRun struct {
	employees, workDays, rows  int
	calls, minCalls, throttled int64
	chunkWindows               int64
	wall                       time.Duration
	peakRSS                    int64
}

// TestBenchImportAttendance is part of `make bench`: a backfill of 30 days of attendance for
// 10k employees against the simulator, with DingTalk's 20 QPS limit and without any limit,
// printed as a table of medians. It is skipped in `make test`.
func TestBenchImportAttendance(t *testing.T) {
	runs := benchRuns(t)
	scenarios := []importBenchScenario{
		{name: "10k × 30 days, 20 QPS", employees: 10_000, days: 30, qps: 20, runs: 1},
		{name: "10k × 30 days, no limit", employees: 10_000, days: 30, runs: runs},
	}
	benchTable(t, "Attendance import benchmarks",
		"| scenario | runs | employees | work days | records | API calls | minimum | ÷ minimum | 50-user × 7-day chunks | throttled (90018) | wall | ÷ rate-limit floor | records/s | worker peak RSS |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
		scenarios, func(sc importBenchScenario) string { return sc.name }, func(sc importBenchScenario) int { return sc.runs },
		benchImport, func(r importBenchRun) bool { return r.rows > 0 }, importBenchRow)
}

func benchImport(t *testing.T, sc importBenchScenario) importBenchRun {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 42, Employees: sc.employees})
	worker := h.benchWorker(sc.qps)
	h.bind(h.appSecret)
	if res, out, code := h.syncFull(); code != 0 || res.Status != "succeeded" {
		t.Fatalf("full sync (exit %d):\n%s", code, out)
	}
	from, to := beijingDay(-sc.days), beijingDay(-1)
	h.sim.ResetCalls()
	res := h.importLong("attendance", "--from", date(from), "--to", date(to))
	state, _, err := h.st.GetImportState(context.Background(), h.corpID, store.ImportAttendance)
	if err != nil || state.Status != store.ImportSucceeded {
		t.Fatalf("import state %+v, %v", state, err)
	}
	r := importBenchRun{employees: len(h.truth().Users), rows: h.count(`SELECT count(*) FROM attendance_records`),
		calls: h.sim.Calls(h.corpID)["/attendance/list"], minCalls: minAttendanceCalls(h, from, to),
		wall: state.FinishedAt.Time.Sub(state.StartedAt)}
	if r.rows != res.Fetched || r.rows != len(h.sim.Attendance(h.corpID, nil, from, to)) {
		t.Fatalf("stored %d records, read %d; the simulator holds %d", r.rows, res.Fetched, len(h.sim.Attendance(h.corpID, nil, from, to)))
	}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		if dingtalksim.IsWorkDay(d) {
			r.workDays++
		}
	}
	r.chunkWindows = int64((r.employees+49)/50) * int64((sc.days+6)/7)
	r.throttled = h.sim.CallOutcomes(h.corpID)["/attendance/list"]["throttled"]
	if r.peakRSS, err = worker.PeakRSS(); err != nil {
		t.Fatal(err)
	}
	return r
}

// importLong starts `starter import <kind>` without --wait (a run at 20 QPS outlasts the
// harness's 5-minute limit on a command) and waits for the workflow's result.
func (h *harness) importLong(kind string, extra ...string) workflows.ImportResult {
	h.t.Helper()
	out := h.mustStarter("", append([]string{"import", kind, "--corp-id", h.corpID, "--json"}, extra...)...)
	var started struct {
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &started); err != nil {
		h.t.Fatalf("starter import printed no ids: %v\n%s", err, out)
	}
	c, err := devServer.Client()
	if err != nil {
		h.t.Fatal(err)
	}
	defer c.Close()
	var res workflows.ImportResult
	if err := c.GetWorkflow(context.Background(), started.WorkflowID, started.RunID).Get(context.Background(), &res); err != nil {
		h.t.Fatalf("import %s: %v", started.WorkflowID, err)
	}
	return res
}

func importBenchRow(sc importBenchScenario, rs []importBenchRun) string {
	med := func(f func(importBenchRun) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	floor := "—"
	if sc.qps > 0 {
		floor = fmt.Sprintf("%.3f", med(func(r importBenchRun) float64 {
			return r.wall.Seconds() / (float64(r.calls) / float64(sc.qps))
		}))
	}
	r := rs[0]
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %.4f | %d | %d | %.1f s | %s | %.0f | %.0f MB |",
		sc.name, len(rs), r.employees, r.workDays, r.rows, r.calls, r.minCalls,
		med(func(r importBenchRun) float64 { return float64(r.calls) / float64(r.minCalls) }), r.chunkWindows,
		int64(med(func(r importBenchRun) float64 { return float64(r.throttled) })),
		med(func(r importBenchRun) float64 { return r.wall.Seconds() }), floor,
		med(func(r importBenchRun) float64 { return float64(r.rows) / r.wall.Seconds() }),
		math.Round(med(func(r importBenchRun) float64 { return float64(r.peakRSS) / (1 << 20) })))
}
