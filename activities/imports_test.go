package activities_test

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/dingsync/dingsync/activities"
	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/secretbox"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

const importCorp = "dingimportcorp"

// importFixture is the import activities against a simulated corp of n employees whose
// employees the HR store already holds (as after a full sync), on real Postgres.
type importFixture struct {
	t     *testing.T
	sim   *dingtalksim.Server
	st    *store.Store
	imp   *activities.Imports
	users []string
}

func newImportFixture(t *testing.T, n int) *importFixture {
	t.Helper()
	ctx := context.Background()
	sim := dingtalksim.New(dingtalksim.Options{})
	if err := sim.LoadOrg(dingtalksim.GenerateOrg(importCorp, dingtalksim.OrgSpec{Seed: 11, Employees: n})); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddApp(dingtalksim.App{CorpID: importCorp, AppKey: "importkey", AppSecret: "importsecret"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st := testenv.NewStore(t)
	if _, err := st.Bind(ctx, store.BindInput{CorpID: importCorp, AppKey: "importkey", Actor: "test",
		SealSecret: func(sc string) ([]byte, error) { return box.Seal("importsecret", sc) }}); err != nil {
		t.Fatal(err)
	}
	f := &importFixture{t: t, sim: sim, st: st,
		imp: &activities.Imports{Store: st, DingTalk: dingtalk.New(dingtalk.Config{OAPIBaseURL: srv.URL, APIBaseURL: srv.URL, QPS: 1000}), Secrets: box}}
	for _, u := range sim.Truth(importCorp).Users {
		f.users = append(f.users, u.UserID)
		if _, err := st.DB().Exec(`INSERT INTO employees (corp_id, userid, attrs, source_hash, last_run_id) VALUES ($1, $2, '{}', 'x', 0)`,
			importCorp, u.UserID); err != nil {
			t.Fatal(err)
		}
	}
	for _, kind := range []string{store.ImportAttendance, store.ImportApprovals} {
		if err := st.StartImport(ctx, store.StartImportInput{CorpID: importCorp, Kind: kind, WorkflowID: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// run executes activity fn with in, resuming from heartbeat when it is not nil.
func (f *importFixture) run(fn, in, heartbeat any) activities.ImportCounts {
	f.t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.imp)
	if heartbeat != nil {
		env.SetHeartbeatDetails(heartbeat)
	}
	v, err := env.ExecuteActivity(fn, in)
	if err != nil {
		f.t.Fatal(err)
	}
	var c activities.ImportCounts
	if err := v.Get(&c); err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *importFixture) count(q string) int {
	f.t.Helper()
	var n int
	if err := f.st.DB().Get(&n, q); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// minAttendanceCalls is the fewest attendance/list calls that read users' records: per chunk of
// 50 users, one page per 50 records (at least one).
func (f *importFixture) minAttendanceCalls(users []string, from, to time.Time) int {
	calls := 0
	for i := 0; i < len(users); i += 50 {
		recs := f.sim.Attendance(importCorp, users[i:min(i+50, len(users))], from, to)
		calls += max(1, (len(recs)+49)/50)
	}
	return calls
}

func TestAttendanceWindowReadsEachRecordOnceAtTheMinimumCostAndResumes(t *testing.T) {
	f := newImportFixture(t, 120)
	from := activities.DayOf(time.Now()).AddDate(0, 0, -9)
	to := from.AddDate(0, 0, 6)
	in := activities.AttendanceWindowInput{CorpID: importCorp, From: from, To: to, Window: 1, Windows: 1}
	truth := f.sim.Attendance(importCorp, nil, from, to)
	c := f.run(f.imp.ImportAttendanceWindow, in, nil)
	calls := f.sim.Calls(importCorp)[dingtalk.APIAttendanceList]
	if c.Fetched != len(truth) || c.Inserted != len(truth) || f.count(`SELECT count(*) FROM attendance_records`) != len(truth) ||
		int(calls) != f.minAttendanceCalls(f.users, from, to) || c.APICalls < calls {
		t.Fatalf("first import %+v with %d attendance/list calls; the simulator holds %d records, the minimum is %d calls",
			c, calls, len(truth), f.minAttendanceCalls(f.users, from, to))
	}
	state, _, _ := f.st.GetImportState(context.Background(), importCorp, store.ImportAttendance)
	if !state.Watermark.Time.Equal(to) {
		t.Fatalf("watermark %s after the first window, want %s", state.Watermark.Time, to)
	}
	if again := f.run(f.imp.ImportAttendanceWindow, in, nil); again.Fetched != len(truth) || again.Inserted != 0 || again.Updated != 0 {
		t.Fatalf("re-import %+v: want every record read and nothing written", again)
	}
	// A retry after a crash resumes after the last user its heartbeat names.
	f.sim.ResetCalls()
	resumed := f.run(f.imp.ImportAttendanceWindow, in, activities.AttendanceHeartbeat{After: f.users[99]})
	if calls := f.sim.Calls(importCorp)[dingtalk.APIAttendanceList]; int(calls) != f.minAttendanceCalls(f.users[100:], from, to) ||
		resumed.Fetched != len(f.sim.Attendance(importCorp, f.users[100:], from, to)) {
		t.Fatalf("resumed after user 100: %+v in %d calls", resumed, calls)
	}
}

func TestApprovalWindowSkipsFinishedInstancesAndTheRefreshReadsDecisions(t *testing.T) {
	f := newImportFixture(t, 60)
	ctx := context.Background()
	now := time.Now()
	truth := f.sim.ApprovalInstances(importCorp)
	var running, leaves int
	var open dingtalksim.ApprovalInstance
	for _, inst := range truth {
		if inst.Status == dingtalksim.ApprovalRunning {
			running, open = running+1, inst
		}
		if inst.ProcessCode == dingtalksim.ProcessLeave {
			leaves++
		}
	}
	in := activities.ApprovalWindowInput{CorpID: importCorp, From: now.Add(-100 * 24 * time.Hour), To: now.Add(time.Minute), Window: 1, Windows: 1}
	c := f.run(f.imp.ImportApprovalWindow, in, nil)
	if c.Fetched != len(truth) || c.Inserted != len(truth) || c.Leaves != leaves || running == 0 ||
		f.count(`SELECT count(*) FROM leave_requests WHERE leave_type <> '' AND start_at IS NOT NULL AND duration > 0`) != leaves {
		t.Fatalf("first import %+v; the simulator holds %d instances, %d leave requests", c, len(truth), leaves)
	}
	again := f.run(f.imp.ImportApprovalWindow, in, nil)
	if again.Fetched != running || again.Skipped != len(truth)-running || again.Inserted+again.Updated != 0 {
		t.Fatalf("re-import %+v: want only the %d running instances read", again, running)
	}
	if _, err := f.sim.SetApprovalStatus(importCorp, open.ID, dingtalksim.ApprovalCompleted, dingtalksim.ResultAgree); err != nil {
		t.Fatal(err)
	}
	refreshed := f.run(f.imp.RefreshOpenApprovals, activities.RefreshApprovalsInput{CorpID: importCorp, StartedBefore: now.Add(time.Hour)}, nil)
	statuses, err := f.st.ApprovalStatuses(ctx, importCorp, []string{open.ID})
	if err != nil || refreshed.Fetched != running || refreshed.Updated != 1 || statuses[open.ID] != "COMPLETED" {
		t.Fatalf("refresh %+v, status %v, %v: want %d read and the decided one updated", refreshed, statuses, err, running)
	}
}

func TestParseLeaveReadsDingTalksLeaveControl(t *testing.T) {
	l := activities.ParseLeave(`["2025-03-04 14:00","2025-03-04 18:00",4,"hour","调休","请假类型"]`)
	if l.LeaveType != "调休" || l.Unit != "hour" || l.Duration.Float64 != 4 || !l.Start.Valid ||
		l.Start.Time.Hour() != 14 || l.End.Time.Sub(l.Start.Time) != 4*time.Hour {
		t.Fatalf("parsed %+v", l)
	}
	if l := activities.ParseLeave(`not json`); l == nil || l.Start.Valid || l.LeaveType != "" {
		t.Fatalf("garbage parsed as %+v", l)
	}
	if l := activities.ParseLeave(`["2025-03-04"]`); !l.Start.Valid || l.Duration.Valid {
		t.Fatalf("a short value parsed as %+v", l)
	}
}

func TestAttendanceWindowWithNoEmployeesFailsRatherThanMovingTheWatermark(t *testing.T) {
	f := newImportFixture(t, 5)
	if _, err := f.st.DB().Exec(`DELETE FROM employees`); err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.imp)
	from := activities.DayOf(time.Now()).AddDate(0, 0, -9)
	_, err := env.ExecuteActivity(f.imp.ImportAttendanceWindow, activities.AttendanceWindowInput{CorpID: importCorp, From: from, To: from.AddDate(0, 0, 6)})
	if err == nil || !strings.Contains(err.Error(), "sync full") {
		t.Fatalf("import with no employees: %v", err)
	}
	if state, _, _ := f.st.GetImportState(context.Background(), importCorp, store.ImportAttendance); state.Watermark.Valid {
		t.Fatalf("the watermark moved to %s", state.Watermark.Time)
	}
}
