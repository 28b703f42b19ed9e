package store_test

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

func attendanceRow(id int64, user, result string) store.AttendanceRow {
	return store.AttendanceRow{RecordID: id, UserID: user, WorkDate: "2025-03-03", CheckType: "OnDuty", TimeResult: result,
		CheckTime: time.Date(2025, 3, 3, 1, 0, 0, 0, time.UTC), Attrs: []byte(`{"id":` + strconv.FormatInt(id, 10) + `,"timeResult":"` + result + `"}`)}
}

func TestUpsertAttendanceIsIdempotentOnRecordIDs(t *testing.T) {
	ctx := context.Background()
	st := testenv.NewStore(t)
	rows := []store.AttendanceRow{attendanceRow(1, "u1", "Normal"), attendanceRow(2, "u1", "Late"), attendanceRow(3, "u2", "Normal")}
	if c, err := st.UpsertAttendance(ctx, "corp1", rows); err != nil || c != (store.WriteCounts{Inserted: 3}) {
		t.Fatalf("first import: %+v, %v", c, err)
	}
	var stamp time.Time
	if err := st.DB().Get(&stamp, `SELECT updated_at FROM attendance_records WHERE record_id = 1`); err != nil {
		t.Fatal(err)
	}
	// A re-import changes nothing; a record DingTalk changed (a correction) updates its row; a
	// record repeated within one batch counts once; another corp's record of the same id is its own.
	if c, err := st.UpsertAttendance(ctx, "corp1", rows); err != nil || c != (store.WriteCounts{}) {
		t.Fatalf("re-import: %+v, %v", c, err)
	}
	changed := []store.AttendanceRow{attendanceRow(2, "u1", "Normal"), attendanceRow(2, "u1", "Normal"), attendanceRow(4, "u2", "Early")}
	if c, err := st.UpsertAttendance(ctx, "corp1", changed); err != nil || c != (store.WriteCounts{Inserted: 1, Updated: 1}) {
		t.Fatalf("changed import: %+v, %v", c, err)
	}
	if c, err := st.UpsertAttendance(ctx, "corp2", rows[:1]); err != nil || c.Inserted != 1 {
		t.Fatalf("other corp: %+v, %v", c, err)
	}
	var got struct {
		Result  string    `db:"time_result"`
		Day     time.Time `db:"work_date"`
		Updated time.Time `db:"updated_at"`
		Rows    int       `db:"n"`
	}
	if err := st.DB().Get(&got, `SELECT (SELECT time_result FROM attendance_records WHERE corp_id = 'corp1' AND record_id = 2) AS time_result,
		(SELECT work_date FROM attendance_records WHERE corp_id = 'corp1' AND record_id = 2) AS work_date,
		(SELECT updated_at FROM attendance_records WHERE corp_id = 'corp1' AND record_id = 1) AS updated_at,
		(SELECT count(*) FROM attendance_records) AS n`); err != nil {
		t.Fatal(err)
	}
	if got.Result != "Normal" || got.Day.Format(time.DateOnly) != "2025-03-03" || !got.Updated.Equal(stamp) || got.Rows != 5 {
		t.Fatalf("stored %+v (record 1 stamped %s): want record 2 Normal on 2025-03-03, record 1 untouched, 5 rows", got, stamp)
	}
}

func approvalRow(id, status, result string, leave bool) store.ApprovalRow {
	r := store.ApprovalRow{InstanceID: id, ProcessCode: "PROC-LEAVE", Title: "请假", OriginatorUserID: "u1", Status: status,
		Result: result, CreateTime: sql.NullTime{Time: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), Valid: true},
		FormValues: []byte(`[]`), Attrs: []byte(`{"status":"` + status + `","result":"` + result + `"}`)}
	if leave {
		r.Leave = &store.LeaveRow{LeaveType: "年假", Duration: sql.NullFloat64{Float64: 1, Valid: true}, Unit: "day",
			Start: sql.NullTime{Time: time.Date(2025, 3, 4, 1, 0, 0, 0, time.UTC), Valid: true}}
	}
	return r
}

func TestUpsertApprovalsUpdatesAChangedStatusAndItsLeave(t *testing.T) {
	ctx := context.Background()
	st := testenv.NewStore(t)
	rows := []store.ApprovalRow{approvalRow("a1", "RUNNING", "", true), approvalRow("a2", "COMPLETED", "agree", false)}
	if c, err := st.UpsertApprovals(ctx, "corp1", rows); err != nil || c != (store.WriteCounts{Inserted: 2}) {
		t.Fatalf("first import: %+v, %v", c, err)
	}
	if c, err := st.UpsertApprovals(ctx, "corp1", rows); err != nil || c != (store.WriteCounts{}) {
		t.Fatalf("re-import: %+v, %v", c, err)
	}
	open, err := st.OpenApprovals(ctx, "corp1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "", 10)
	if err != nil || len(open) != 1 || open[0] != (store.ApprovalRef{InstanceID: "a1", ProcessCode: "PROC-LEAVE"}) {
		t.Fatalf("open approvals %+v, %v: want a1", open, err)
	}
	if c, err := st.UpsertApprovals(ctx, "corp1", []store.ApprovalRow{approvalRow("a1", "COMPLETED", "agree", true)}); err != nil ||
		c != (store.WriteCounts{Updated: 1}) {
		t.Fatalf("approved: %+v, %v", c, err)
	}
	statuses, err := st.ApprovalStatuses(ctx, "corp1", []string{"a1", "a2", "a3"})
	if err != nil || len(statuses) != 2 || statuses["a1"] != "COMPLETED" {
		t.Fatalf("statuses %v, %v", statuses, err)
	}
	var approved bool
	if err := st.DB().Get(&approved, `SELECT approved FROM leave_requests WHERE corp_id = 'corp1' AND instance_id = 'a1'`); err != nil || !approved {
		t.Fatalf("leave request approved = %v, %v", approved, err)
	}
	if n := countRows(t, st, `SELECT count(*) FROM leave_requests`); n != 1 {
		t.Fatalf("%d leave requests, want 1 (a2 is not a leave)", n)
	}
}

func countRows(t *testing.T, st *store.Store, q string) int {
	t.Helper()
	var n int
	if err := st.DB().Get(&n, q); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportWatermarkAdvancesOnlyOverJoinedRanges(t *testing.T) {
	ctx := context.Background()
	st := testenv.NewStore(t)
	day := func(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, time.UTC) }
	if _, err := st.AdvanceImportWatermark(ctx, "corp1", store.ImportAttendance, day(1), day(7), 24*time.Hour); err == nil {
		t.Fatal("advanced the watermark of an import that never started")
	}
	if err := st.StartImport(ctx, store.StartImportInput{CorpID: "corp1", Kind: store.ImportAttendance, WorkflowID: "w", From: day(1), To: day(20)}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		from, to, want int
	}{
		{1, 7, 7},    // the first range sets it
		{8, 14, 14},  // the next day joins
		{20, 25, 14}, // a gap: nothing moves
		{2, 5, 14},   // behind it: nothing moves
		{10, 19, 19},
	}
	for _, s := range steps {
		wm, err := st.AdvanceImportWatermark(ctx, "corp1", store.ImportAttendance, day(s.from), day(s.to), 24*time.Hour)
		if err != nil || !wm.Equal(day(s.want)) {
			t.Fatalf("import of %d..%d: watermark %s, %v; want %s", s.from, s.to, wm, err, day(s.want))
		}
	}
	if err := st.FinishImport(ctx, "corp1", store.ImportAttendance, store.ImportSucceeded, "", store.ImportTotals{Fetched: 9, Inserted: 9}); err != nil {
		t.Fatal(err)
	}
	state, ok, err := st.GetImportState(ctx, "corp1", store.ImportAttendance)
	if err != nil || !ok || state.Status != store.ImportSucceeded || state.Inserted != 9 || !state.Watermark.Time.Equal(day(19)) {
		t.Fatalf("state %+v, %v, %v", state, ok, err)
	}
	// A new run keeps the watermark and clears the last run's counts.
	if err := st.StartImport(ctx, store.StartImportInput{CorpID: "corp1", Kind: store.ImportAttendance, WorkflowID: "w2"}); err != nil {
		t.Fatal(err)
	}
	if state, _, _ = st.GetImportState(ctx, "corp1", store.ImportAttendance); state.Inserted != 0 || !state.Watermark.Time.Equal(day(19)) ||
		state.Status != store.ImportRunning {
		t.Fatalf("after a new start: %+v", state)
	}
}
