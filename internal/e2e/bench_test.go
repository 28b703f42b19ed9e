package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/fieldmap"
	"github.com/dingsync/dingsync/internal/testenv"
	"github.com/dingsync/dingsync/workflows"
)

// benchScenario is one full-sync benchmark: an org size, and DingTalk's per-API QPS limit
// (0: no limit anywhere, to measure dingsync itself).
type benchScenario struct {
	name      string
	employees int
	qps       int
	runs      int
	// roster maps two smart-HR roster fields, so the sync also reads the roster of everyone.
	roster bool
}

// benchRun is what one run measured.
type benchRun struct {
	employees, departments int
	calls, minCalls        int64
	throttled              int64
	wall, floor, apply     time.Duration
	peakRSS                int64
}

// TestBenchFullSync is `make bench`: full syncs of 10k and 100k employees against the
// simulator, with DingTalk's 20 QPS limit and without any limit, printed as a table of
// medians. It is skipped in `make test`.
func TestBenchFullSync(t *testing.T) {
	runs := benchRuns(t)
	scenarios := []benchScenario{
		{name: "10k, 20 QPS", employees: 10_000, qps: 20, runs: runs},
		{name: "10k, no limit", employees: 10_000, runs: runs},
		{name: "100k, no limit", employees: 100_000, runs: runs},
		{name: "100k, 20 QPS", employees: 100_000, qps: 20, runs: 1},
		{name: "10k + 2 roster fields, 20 QPS", employees: 10_000, qps: 20, runs: runs, roster: true},
	}
	benchTable(t, "Full sync benchmarks",
		"| scenario | runs | employees | depts | API calls | ÷ minimum | throttled (90018) | wall | ÷ rate-limit floor | employees/s | apply phase | worker peak RSS |\n|---|---|---|---|---|---|---|---|---|---|---|---|",
		scenarios, func(sc benchScenario) string { return sc.name }, func(sc benchScenario) int { return sc.runs },
		benchFullSync, func(r benchRun) bool { return r.employees > 0 }, benchRow)
}

func benchFullSync(t *testing.T, sc benchScenario) benchRun {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 42, Employees: sc.employees})
	worker := h.benchWorker(sc.qps)
	h.bind(h.appSecret)
	if sc.roster {
		h.mapRosterFields()
	}
	res, out, code := h.syncFull()
	if code != 0 || res.Status != "succeeded" {
		t.Fatalf("sync failed (exit %d):\n%s", code, out)
	}
	truth := h.truth()
	run, err := h.st.GetRun(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	r := benchRun{employees: len(truth.Users), departments: len(truth.Departments), wall: run.Duration(time.Now()),
		minCalls: minimumCalls(truth)}
	if sc.roster {
		r.minCalls += int64((len(truth.Users) + dingtalk.MaxRosterUsers - 1) / dingtalk.MaxRosterUsers)
		if n := h.count(`SELECT count(*) FROM hr_employees WHERE corp_id = $1 AND custom_fields ->> 'cert_no' IS NOT NULL`, h.corpID); n != len(truth.Users) {
			t.Fatalf("%d of %d employees have their roster cert_no after the sync", n, len(truth.Users))
		}
	}
	var maxPerAPI int64
	for api, n := range h.sim.Calls(h.corpID) {
		r.calls += n
		if api != dingtalk.APIToken && n > maxPerAPI {
			maxPerAPI = n
		}
	}
	for _, outcomes := range h.sim.CallOutcomes(h.corpID) {
		r.throttled += outcomes["throttled"]
	}
	if sc.qps > 0 {
		r.floor = time.Duration(float64(maxPerAPI) / float64(sc.qps) * float64(time.Second))
	}
	if r.apply, err = applyDuration(h); err != nil {
		t.Fatal(err)
	}
	if r.peakRSS, err = worker.PeakRSS(); err != nil {
		t.Fatal(err)
	}
	return r
}

// mapRosterFields gives the binding an AgentId and a mapping of two roster fields.
func (h *harness) mapRosterFields() {
	h.t.Helper()
	h.exec(`UPDATE bindings SET agent_id = 4242 WHERE corp_id = $1`, h.corpID)
	m, err := fieldmap.Parse([]byte(`{"fields": [{"name": "cert_no", "from": "roster.sys02-certNo", "type": "string"},
		{"name": "employee_type", "from": "roster.sys01-employeeType", "type": "string"}]}`))
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.st.SetFieldMapping(context.Background(), h.corpID, "bench", m); err != nil {
		h.t.Fatal(err)
	}
}

// minimumCalls is the fewest DingTalk calls a full read of the org can make: one token, the
// root's department/get, one listsub per department, and per department one user/list page
// per 100 direct members (at least one).
func minimumCalls(truth testenv.Truth) int64 {
	members := map[int64]int{}
	for _, u := range truth.Users {
		for _, d := range u.DeptIDList {
			members[d]++
		}
	}
	calls := int64(2 + len(truth.Departments))
	for _, d := range truth.Departments {
		calls += int64(max(1, (members[d.ID]+dingtalk.MaxUserPageSize-1)/dingtalk.MaxUserPageSize))
	}
	return calls
}

// applyDuration is how long the ApplyRun activity took, read from the workflow history.
func applyDuration(h *harness) (time.Duration, error) {
	c, err := devServer.Client()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	iter := c.GetWorkflowHistory(context.Background(), workflows.FullSyncWorkflowID(h.corpID), "", false,
		enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var applyScheduled int64
	var started time.Time
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return 0, err
		}
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "ApplyRun" {
				applyScheduled = ev.GetEventId()
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId() == applyScheduled {
				started = ev.GetEventTime().AsTime()
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId() == applyScheduled {
				return ev.GetEventTime().AsTime().Sub(started), nil
			}
		}
	}
	return 0, fmt.Errorf("no completed ApplyRun in the history")
}

func benchRow(sc benchScenario, rs []benchRun) string {
	med := func(f func(benchRun) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	wall := med(func(r benchRun) float64 { return r.wall.Seconds() })
	floor := "—"
	if sc.qps > 0 {
		floor = fmt.Sprintf("%.3f", med(func(r benchRun) float64 { return r.wall.Seconds() / r.floor.Seconds() }))
	}
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %.4f | %d | %.1f s | %s | %.0f | %.2f s | %.0f MB |",
		sc.name, len(rs), rs[0].employees, rs[0].departments, rs[0].calls,
		med(func(r benchRun) float64 { return float64(r.calls) / float64(r.minCalls) }),
		int64(med(func(r benchRun) float64 { return float64(r.throttled) })), wall, floor,
		med(func(r benchRun) float64 { return float64(r.employees) / r.wall.Seconds() }),
		med(func(r benchRun) float64 { return r.apply.Seconds() }),
		math.Round(med(func(r benchRun) float64 { return float64(r.peakRSS) / (1 << 20) })))
}

func hostDescription() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "model name") {
			return strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
		}
	}
	return "unknown CPU"
}
