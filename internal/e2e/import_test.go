package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/schedules"
	"github.com/dingsync/dingsync/workflows"
)

// importCLI runs `starter import <kind> --wait --json` for the corp and decodes the result.
func (h *harness) importCLI(kind string, extra ...string) workflows.ImportResult {
	h.t.Helper()
	out := h.mustStarter("", append([]string{"import", kind, "--corp-id", h.corpID, "--wait", "--json"}, extra...)...)
	var res workflows.ImportResult
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		h.t.Fatalf("starter import %s printed no JSON result: %v\n%s", kind, err, out)
	}
	return res
}

// beijingDay is 00:00 Beijing time, days after today's.
func beijingDay(days int) time.Time {
	y, m, d := time.Now().In(dingtalksim.ChinaTime).Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, dingtalksim.ChinaTime)
}

func date(t time.Time) string { return t.Format(time.DateOnly) }

// minAttendanceCalls is the fewest attendance/list calls that read the corp's records of work
// dates from..to: per window of 7 dates and chunk of 50 users (by userid), one call per 50
// records, at least one.
func minAttendanceCalls(h *harness, from, to time.Time) int64 {
	var users []string
	for _, u := range h.sim.Truth(h.corpID).Users {
		users = append(users, u.UserID)
	}
	var calls int64
	for d := from; !d.After(to); d = d.AddDate(0, 0, 7) {
		end := d.AddDate(0, 0, 6)
		if end.After(to) {
			end = to
		}
		for i := 0; i < len(users); i += 50 {
			n := len(h.sim.Attendance(h.corpID, users[i:min(i+50, len(users))], d, end))
			calls += int64(max(1, (n+49)/50))
		}
	}
	return calls
}

func TestImportAttendanceBackfillsReimportsNothingAndContinuesFromTheWatermark(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 81, Employees: 12})
	h.startWorker()
	h.bind(h.appSecret)
	if res, out, code := h.syncFull(); code != 0 || res.Status != "succeeded" {
		t.Fatalf("full sync (exit %d):\n%s", code, out)
	}
	from, mid, yesterday := beijingDay(-30), beijingDay(-8), beijingDay(-1)
	stored := func() int { return h.count(`SELECT count(*) FROM attendance_records WHERE corp_id = $1`, h.corpID) }

	// A backfill of 23 days reads 4 windows of at most 7 dates, every record once.
	want := len(h.sim.Attendance(h.corpID, nil, from, mid))
	h.sim.ResetCalls()
	res := h.importCLI("attendance", "--from", date(from), "--to", date(mid))
	calls := h.sim.Calls(h.corpID)["/attendance/list"]
	if res.Fetched != want || res.Inserted != want || stored() != want || res.Windows != 4 || res.Watermark != date(mid) {
		t.Fatalf("backfill %s..%s: %+v, %d rows stored; the simulator holds %d records", date(from), date(mid), res, stored(), want)
	}
	if minimum := minAttendanceCalls(h, from, mid); calls != minimum {
		t.Fatalf("%d attendance/list calls for 12 users over 4 windows, the minimum is %d", calls, minimum)
	}
	// Re-importing the same range writes nothing and duplicates nothing.
	again := h.importCLI("attendance", "--from", date(from), "--to", date(mid))
	if again.Fetched != want || again.Inserted != 0 || again.Updated != 0 || stored() != want ||
		h.count(`SELECT count(DISTINCT record_id) FROM attendance_records`) != want {
		t.Fatalf("re-import: %+v, %d rows", again, stored())
	}

	// DingTalk gains a clock-in after the watermark and corrects one before it: the incremental
	// import reads from the day after the watermark to yesterday, so it finds the first only.
	user := h.truth().Users[0].UserID
	late := beijingDay(-2)
	added, err := h.sim.AddAttendance(h.corpID, []dingtalksim.AttendanceRecord{{UserID: user, WorkDate: late.UnixMilli(),
		CheckType: dingtalksim.CheckOffDuty, TimeResult: "Early", UserCheckTime: late.Add(16 * time.Hour).UnixMilli()}})
	if err != nil {
		t.Fatal(err)
	}
	old := h.sim.Attendance(h.corpID, []string{user}, beijingDay(-20), beijingDay(-14))[0]
	corrected := old
	corrected.TimeResult, corrected.SourceType = "Absenteeism", "APPROVE"
	if _, err := h.sim.AddAttendance(h.corpID, []dingtalksim.AttendanceRecord{corrected}); err != nil {
		t.Fatal(err)
	}
	inc := h.importCLI("attendance")
	newer := len(h.sim.Attendance(h.corpID, nil, mid.AddDate(0, 0, 1), yesterday))
	if inc.Backfill || inc.From != date(mid.AddDate(0, 0, 1)) || inc.To != date(yesterday) || inc.Inserted != newer ||
		inc.Watermark != date(yesterday) || stored() != want+newer {
		t.Fatalf("incremental import: %+v, %d rows; want %s..%s with %d new records", inc, stored(), date(mid.AddDate(0, 0, 1)), date(yesterday), newer)
	}
	if n := h.count(`SELECT count(*) FROM attendance_records WHERE corp_id = $1 AND record_id = $2 AND time_result = 'Early' AND userid = $3
		AND work_date = $4::date`, h.corpID, added[0].ID, user, date(late)); n != 1 {
		t.Fatal("the clock-in added after the watermark is not in the store as DingTalk has it")
	}
	if n := h.count(`SELECT count(*) FROM attendance_records WHERE record_id = $1 AND time_result = $2`, old.ID, old.TimeResult); n != 1 {
		t.Fatal("an incremental import re-read a date behind the watermark")
	}
	// A backfill over the corrected date updates that one record.
	fix := h.importCLI("attendance", "--from", date(beijingDay(-20)), "--to", date(beijingDay(-14)))
	if fix.Updated != 1 || fix.Inserted != 0 || h.count(`SELECT count(*) FROM attendance_records WHERE record_id = $1 AND time_result = 'Absenteeism'`, old.ID) != 1 {
		t.Fatalf("backfill over a corrected record: %+v", fix)
	}
	if out := h.mustStarter("", "import", "status", "--corp-id", h.corpID); !strings.Contains(out, "attendance") || !strings.Contains(out, date(yesterday)) {
		t.Fatalf("import status:\n%s", out)
	}
	for _, bad := range [][]string{{"--from", date(from)}, {"--from", "March", "--to", date(mid)}, {"--from", date(mid), "--to", date(from)}} {
		if out, code := h.starter("", append([]string{"import", "attendance", "--corp-id", h.corpID}, bad...)...); code != 2 {
			t.Fatalf("starter import attendance %v: exit %d, want 2 (usage)\n%s", bad, code, out)
		}
	}
}

func TestImportApprovalsStoresLeavesAndPicksUpNewAndDecidedInstances(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 82, Employees: 12})
	h.startWorker()
	h.bind(h.appSecret)
	// Besides the generated instances, a leave request started three days ago is still running.
	someone := h.truth().Users[0].UserID
	open, err := h.sim.AddApprovalInstance(h.corpID, dingtalksim.ApprovalInstance{ProcessCode: dingtalksim.ProcessLeave,
		OriginatorUserID: someone, CreateTime: time.Now().Add(-72 * time.Hour),
		FormValues: dingtalksim.LeaveForm("病假", beijingDay(-2), beijingDay(-2), 1, "day")})
	if err != nil {
		t.Fatal(err)
	}
	truth := h.sim.ApprovalInstances(h.corpID)
	var leaves int
	for _, inst := range truth {
		if inst.ProcessCode == dingtalksim.ProcessLeave {
			leaves++
		}
	}
	stored := func(q string, args ...any) int { return h.count(q, append([]any{h.corpID}, args...)...) }

	res := h.importCLI("approvals", "--from", date(beijingDay(-61)), "--to", date(beijingDay(0)))
	if res.Fetched != len(truth) || res.Inserted != len(truth) || res.Leaves != leaves || res.Windows != 1 ||
		stored(`SELECT count(*) FROM approval_instances WHERE corp_id = $1`) != len(truth) ||
		stored(`SELECT count(*) FROM leave_requests WHERE corp_id = $1 AND leave_type <> '' AND start_at IS NOT NULL`) != leaves {
		t.Fatalf("backfill of 61 days: %+v; the simulator holds %d instances, %d leave requests", res, len(truth), leaves)
	}
	for _, inst := range truth {
		if stored(`SELECT count(*) FROM approval_instances WHERE corp_id = $1 AND instance_id = $2 AND status = $3 AND result = $4
			AND process_code = $5 AND originator_userid = $6`, inst.ID, inst.Status, inst.Result, inst.ProcessCode, inst.OriginatorUserID) != 1 {
			t.Fatalf("instance %+v is not stored as DingTalk has it", inst)
		}
	}

	// Someone asks for leave and an older request is approved: the incremental import lists the
	// new one and re-reads the running ones started before its window.
	start := beijingDay(3)
	added, err := h.sim.AddApprovalInstance(h.corpID, dingtalksim.ApprovalInstance{ProcessCode: dingtalksim.ProcessLeave,
		OriginatorUserID: someone, FormValues: dingtalksim.LeaveForm("年假", start, start.AddDate(0, 0, 1), 2, "day")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.SetApprovalStatus(h.corpID, open.ID, dingtalksim.ApprovalCompleted, dingtalksim.ResultAgree); err != nil {
		t.Fatal(err)
	}
	inc := h.importCLI("approvals")
	if inc.Backfill || inc.Inserted != 1 || inc.Updated < 1 ||
		stored(`SELECT count(*) FROM approval_instances WHERE corp_id = $1 AND instance_id = $2 AND status = 'RUNNING'`, added.ID) != 1 ||
		stored(`SELECT count(*) FROM leave_requests WHERE corp_id = $1 AND instance_id = $2 AND duration = 2 AND unit = 'day' AND NOT approved`, added.ID) != 1 ||
		stored(`SELECT count(*) FROM approval_instances WHERE corp_id = $1 AND instance_id = $2 AND status = 'COMPLETED' AND result = 'agree'
			AND finish_time IS NOT NULL`, open.ID) != 1 {
		t.Fatalf("incremental import: %+v", inc)
	}
	if again := h.importCLI("approvals"); again.Inserted != 0 || again.Updated != 0 ||
		stored(`SELECT count(*) FROM approval_instances WHERE corp_id = $1`) != len(truth)+1 {
		t.Fatalf("re-run: %+v", again)
	}
}

func TestImportHelpTeachesTheCostAndRefusesAnUnboundCorp(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 83, Employees: 5})
	out := h.mustStarter("", "import", "attendance", "--help")
	for _, want := range []string{"attendance_records", "leave_requests", "--from", "5,000 calls a month", "import-cron"} {
		if !strings.Contains(out, want) {
			t.Fatalf("`starter import attendance --help` does not mention %q:\n%s", want, out)
		}
	}
	if out, code := h.starter("", "import", "approvals", "--corp-id", h.corpID); code != 1 || !strings.Contains(out, "bind it first") {
		t.Fatalf("import for an unbound corp: exit %d\n%s", code, out)
	}

	// The import schedule runs weekly, or not at all, when ops say so for the quota's sake.
	h.bind(h.appSecret)
	t.Cleanup(func() {
		c, err := devServer.Client()
		if err == nil {
			_ = (&schedules.Manager{Client: c}).Delete(context.Background(), h.corpID)
			c.Close()
		}
	})
	h.mustStarter("", "schedules", "update", "--corp-id", h.corpID, "--import-cron", "23 4 * * 1", "--by", "alice")
	imp := h.schedules()[schedules.KindImport]
	if next := imp.NextRun.In(dingtalksim.ChinaTime); !imp.Exists || next.Weekday() != time.Monday || next.Hour() != 4 || next.Minute() != 23 {
		t.Fatalf("import schedule after --import-cron \"23 4 * * 1\": %+v (next %s)", imp, next)
	}
	h.mustStarter("", "schedules", "update", "--corp-id", h.corpID, "--import-cron", "off", "--by", "alice")
	if got := h.schedules(); got[schedules.KindImport].Exists || !got[schedules.KindAudit].Exists {
		t.Fatalf("after --import-cron off: %+v", got)
	}
}
