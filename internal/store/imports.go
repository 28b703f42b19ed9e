package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Import kinds (import_watermarks.kind).
const (
	ImportAttendance = "attendance"
	ImportApprovals  = "approvals"
)

// Import statuses (import_watermarks.status).
const (
	ImportRunning   = "running"
	ImportSucceeded = "succeeded"
	ImportFailed    = "failed"
	ImportSkipped   = "skipped"
)

// WriteCounts says what an upsert did: rows it created and rows it changed. The rest of what it
// was given was already stored as it is.
type WriteCounts struct {
	Inserted int
	Updated  int
}

// AttendanceRow is one clock-in record to store.
type AttendanceRow struct {
	RecordID   int64
	UserID     string
	WorkDate   string // YYYY-MM-DD in Beijing time
	CheckType  string
	TimeResult string
	CheckTime  time.Time
	Attrs      []byte // the record as DingTalk returned it (JSON)
}

const upsertAttendanceSQL = `INSERT INTO attendance_records AS t
	(corp_id, record_id, userid, work_date, check_type, time_result, user_check_time, attrs)
	SELECT $1, r.id, r.userid, r.work_date, r.check_type, r.time_result, r.check_time, r.attrs
	FROM unnest($2::bigint[], $3::text[], $4::date[], $5::text[], $6::text[], $7::timestamptz[], $8::jsonb[])
	     AS r(id, userid, work_date, check_type, time_result, check_time, attrs)
	ON CONFLICT (corp_id, record_id) DO UPDATE SET userid = EXCLUDED.userid, work_date = EXCLUDED.work_date,
	    check_type = EXCLUDED.check_type, time_result = EXCLUDED.time_result,
	    user_check_time = EXCLUDED.user_check_time, attrs = EXCLUDED.attrs, updated_at = now()
	WHERE t.attrs IS DISTINCT FROM EXCLUDED.attrs
	RETURNING (xmax = 0) AS inserted`

// UpsertAttendance stores clock-in records keyed by their DingTalk id: new ones are inserted,
// changed ones updated, unchanged ones left alone (their updated_at stays). Records repeated in
// rows count once, the last one winning.
func (s *Store) UpsertAttendance(ctx context.Context, corpID string, rows []AttendanceRow) (WriteCounts, error) {
	rows = lastByKey(rows, func(r AttendanceRow) int64 { return r.RecordID })
	if len(rows) == 0 {
		return WriteCounts{}, nil
	}
	ids, users, days := make(pq.Int64Array, len(rows)), make(pq.StringArray, len(rows)), make(pq.StringArray, len(rows))
	types, results, times, attrs := make(pq.StringArray, len(rows)), make(pq.StringArray, len(rows)),
		make(pq.StringArray, len(rows)), make(pq.StringArray, len(rows))
	for i, r := range rows {
		ids[i], users[i], days[i], types[i], results[i] = r.RecordID, r.UserID, r.WorkDate, r.CheckType, r.TimeResult
		times[i], attrs[i] = r.CheckTime.UTC().Format(time.RFC3339Nano), string(r.Attrs)
	}
	var inserted []bool
	if err := s.db.SelectContext(ctx, &inserted, upsertAttendanceSQL, corpID, ids, users, days, types, results, times, attrs); err != nil {
		return WriteCounts{}, fmt.Errorf("store attendance records: %w", err)
	}
	return countWrites(inserted), nil
}

// lastByKey drops all but the last row of each key, keeping the order of first appearance.
func lastByKey[T any, K comparable](rows []T, key func(T) K) []T {
	at := make(map[K]int, len(rows))
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		if i, ok := at[key(r)]; ok {
			out[i] = r
			continue
		}
		at[key(r)] = len(out)
		out = append(out, r)
	}
	return out
}

func countWrites(inserted []bool) WriteCounts {
	var c WriteCounts
	for _, ins := range inserted {
		if ins {
			c.Inserted++
		} else {
			c.Updated++
		}
	}
	return c
}

// AttendanceUsers returns, in userid order, the corp's employees whose clock-ins an import of
// work dates from since on reads: the active ones and those who left on or after since.
func (s *Store) AttendanceUsers(ctx context.Context, corpID string, since time.Time) ([]string, error) {
	users := []string{}
	err := s.db.SelectContext(ctx, &users, `SELECT userid FROM employees
		WHERE corp_id = $1 AND (status = 'active' OR left_at >= $2) ORDER BY userid`, corpID, since)
	return users, err
}

// ApprovalRow is one approval instance to store.
type ApprovalRow struct {
	InstanceID       string
	ProcessCode      string
	Title            string
	OriginatorUserID string
	OriginatorDeptID string
	Status           string
	Result           string
	BusinessID       string
	CreateTime       sql.NullTime
	FinishTime       sql.NullTime
	FormValues       []byte // formComponentValues (JSON array)
	Attrs            []byte // the instance as DingTalk returned it (JSON)
	// Leave is set when the instance is a leave request.
	Leave *LeaveRow
}

// LeaveRow is the typed part of a leave request.
type LeaveRow struct {
	LeaveType string
	Start     sql.NullTime
	End       sql.NullTime
	Duration  sql.NullFloat64
	Unit      string
}

const upsertApprovalSQL = `INSERT INTO approval_instances AS t (corp_id, instance_id, process_code, title,
	    originator_userid, originator_dept_id, status, result, business_id, create_time, finish_time, form_values, attrs)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
	ON CONFLICT (corp_id, instance_id) DO UPDATE SET process_code = EXCLUDED.process_code, title = EXCLUDED.title,
	    originator_userid = EXCLUDED.originator_userid, originator_dept_id = EXCLUDED.originator_dept_id,
	    status = EXCLUDED.status, result = EXCLUDED.result, business_id = EXCLUDED.business_id,
	    create_time = EXCLUDED.create_time, finish_time = EXCLUDED.finish_time, form_values = EXCLUDED.form_values,
	    attrs = EXCLUDED.attrs, updated_at = now()
	WHERE (t.process_code, t.attrs) IS DISTINCT FROM (EXCLUDED.process_code, EXCLUDED.attrs)
	RETURNING (xmax = 0) AS inserted`

const upsertLeaveSQL = `INSERT INTO leave_requests AS t (corp_id, instance_id, userid, leave_type, start_at, end_at,
	    duration, unit, status, result)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
	ON CONFLICT (corp_id, instance_id) DO UPDATE SET userid = EXCLUDED.userid, leave_type = EXCLUDED.leave_type,
	    start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at, duration = EXCLUDED.duration, unit = EXCLUDED.unit,
	    status = EXCLUDED.status, result = EXCLUDED.result, updated_at = now()
	WHERE (t.userid, t.leave_type, t.start_at, t.end_at, t.duration, t.unit, t.status, t.result)
	    IS DISTINCT FROM (EXCLUDED.userid, EXCLUDED.leave_type, EXCLUDED.start_at, EXCLUDED.end_at,
	    EXCLUDED.duration, EXCLUDED.unit, EXCLUDED.status, EXCLUDED.result)`

// UpsertApprovals stores approval instances keyed by their DingTalk id, in one transaction, and
// the leave requests among them: new ones are inserted, changed ones (a new status, an edited
// form) updated, unchanged ones left alone.
func (s *Store) UpsertApprovals(ctx context.Context, corpID string, rows []ApprovalRow) (WriteCounts, error) {
	rows = lastByKey(rows, func(r ApprovalRow) string { return r.InstanceID })
	var inserted []bool
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for _, r := range rows {
			var ins []bool
			if err := tx.SelectContext(ctx, &ins, upsertApprovalSQL, corpID, r.InstanceID, r.ProcessCode, r.Title,
				r.OriginatorUserID, r.OriginatorDeptID, r.Status, r.Result, r.BusinessID, r.CreateTime, r.FinishTime,
				jsonOr(r.FormValues, "[]"), jsonOr(r.Attrs, "{}")); err != nil {
				return fmt.Errorf("store approval instance %s: %w", r.InstanceID, err)
			}
			inserted = append(inserted, ins...)
			if r.Leave == nil {
				continue
			}
			l := r.Leave
			if _, err := tx.ExecContext(ctx, upsertLeaveSQL, corpID, r.InstanceID, r.OriginatorUserID, l.LeaveType,
				l.Start, l.End, l.Duration, l.Unit, r.Status, r.Result); err != nil {
				return fmt.Errorf("store leave request %s: %w", r.InstanceID, err)
			}
		}
		return nil
	})
	return countWrites(inserted), err
}

func jsonOr(b []byte, def string) string {
	if len(b) == 0 {
		return def
	}
	return string(b)
}

// FinalApprovalStatuses are the statuses after which an approval instance no longer changes
// (an edit or a withdrawal after approval makes a new, attached instance).
var FinalApprovalStatuses = []string{"COMPLETED", "TERMINATED"}

// ApprovalStatuses returns the stored status of each of ids the corp has (unknown ids are absent).
func (s *Store) ApprovalStatuses(ctx context.Context, corpID string, ids []string) (map[string]string, error) {
	var rows []struct {
		ID     string `db:"instance_id"`
		Status string `db:"status"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT instance_id, status FROM approval_instances
		WHERE corp_id = $1 AND instance_id = ANY($2)`, corpID, pq.StringArray(ids))
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Status
	}
	return out, err
}

// ApprovalRef names an approval instance and its form.
type ApprovalRef struct {
	InstanceID  string `db:"instance_id"`
	ProcessCode string `db:"process_code"`
}

// OpenApprovals returns up to limit of the corp's stored instances that may still change (not
// COMPLETED or TERMINATED) and were started before createdBefore, in id order after the id after.
func (s *Store) OpenApprovals(ctx context.Context, corpID string, createdBefore time.Time, after string, limit int) ([]ApprovalRef, error) {
	refs := []ApprovalRef{}
	err := s.db.SelectContext(ctx, &refs, `SELECT instance_id, process_code FROM approval_instances
		WHERE corp_id = $1 AND status NOT IN ('COMPLETED', 'TERMINATED') AND create_time < $2 AND instance_id > $3
		ORDER BY instance_id LIMIT $4`, corpID, createdBefore, after, limit)
	return refs, err
}

// ImportState is a corp's import of one kind: its watermark and its latest run.
type ImportState struct {
	CorpID     string         `db:"corp_id"`
	Kind       string         `db:"kind"`
	Watermark  sql.NullTime   `db:"watermark"`
	Status     string         `db:"status"`
	WorkflowID string         `db:"workflow_id"`
	Trigger    string         `db:"trigger"`
	RangeFrom  sql.NullTime   `db:"range_from"`
	RangeTo    sql.NullTime   `db:"range_to"`
	Fetched    int64          `db:"fetched"`
	Inserted   int64          `db:"inserted"`
	Updated    int64          `db:"updated"`
	APICalls   int64          `db:"api_calls"`
	Progress   string         `db:"progress"`
	Error      sql.NullString `db:"error"`
	StartedAt  time.Time      `db:"started_at"`
	FinishedAt sql.NullTime   `db:"finished_at"`
}

const importStateColumns = `corp_id, kind, watermark, status, workflow_id, trigger, range_from, range_to, fetched,
	inserted, updated, api_calls, progress, error, started_at, finished_at`

// ImportStates returns the corp's import states, by kind.
func (s *Store) ImportStates(ctx context.Context, corpID string) ([]ImportState, error) {
	states := []ImportState{}
	err := s.db.SelectContext(ctx, &states, `SELECT `+importStateColumns+` FROM import_watermarks
		WHERE corp_id = $1 ORDER BY kind`, corpID)
	return states, err
}

// GetImportState returns the corp's import state of kind; ok is false before its first import.
func (s *Store) GetImportState(ctx context.Context, corpID, kind string) (st ImportState, ok bool, err error) {
	err = s.db.GetContext(ctx, &st, `SELECT `+importStateColumns+` FROM import_watermarks
		WHERE corp_id = $1 AND kind = $2`, corpID, kind)
	if errors.Is(err, sql.ErrNoRows) {
		return st, false, nil
	}
	return st, err == nil, err
}

// StartImportInput names an import run.
type StartImportInput struct {
	CorpID, Kind, WorkflowID, Trigger string
	From, To                          time.Time
}

// StartImport records that an import of the corp's kind runs now (keeping the watermark).
func (s *Store) StartImport(ctx context.Context, in StartImportInput) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO import_watermarks (corp_id, kind, status, workflow_id, trigger, range_from, range_to)
		VALUES ($1, $2, 'running', $3, $4, $5, $6)
		ON CONFLICT (corp_id, kind) DO UPDATE SET status = 'running', workflow_id = EXCLUDED.workflow_id,
		    trigger = EXCLUDED.trigger, range_from = EXCLUDED.range_from, range_to = EXCLUDED.range_to, fetched = 0,
		    inserted = 0, updated = 0, api_calls = 0, progress = '', error = NULL, started_at = now(), finished_at = NULL`,
		in.CorpID, in.Kind, in.WorkflowID, in.Trigger, nullTime(in.From), nullTime(in.To))
	return err
}

// nullTime is t, or NULL when t is zero.
func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

// ImportTotals are a run's counts so far.
type ImportTotals struct {
	Fetched, Inserted, Updated, APICalls int64
}

// SetImportProgress records where the corp's running import of kind is.
func (s *Store) SetImportProgress(ctx context.Context, corpID, kind string, t ImportTotals, progress string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE import_watermarks SET fetched = $3, inserted = $4, updated = $5,
		api_calls = $6, progress = $7 WHERE corp_id = $1 AND kind = $2`,
		corpID, kind, t.Fetched, t.Inserted, t.Updated, t.APICalls, progress)
	return err
}

// FinishImport records how the corp's import of kind ended.
func (s *Store) FinishImport(ctx context.Context, corpID, kind, status, errMsg string, t ImportTotals) error {
	_, err := s.db.ExecContext(ctx, `UPDATE import_watermarks SET status = $3, error = nullif($4, ''), fetched = $5,
		inserted = $6, updated = $7, api_calls = $8, progress = '', finished_at = now() WHERE corp_id = $1 AND kind = $2`,
		corpID, kind, status, errMsg, t.Fetched, t.Inserted, t.Updated, t.APICalls)
	return err
}

// AdvanceImportWatermark moves the corp's watermark of kind to to, once [from, to] has been
// imported, if that range joins what the watermark covers (from is at most slack after it, or
// there is no watermark yet) and ends after it. It returns the watermark now in force (zero: none).
func (s *Store) AdvanceImportWatermark(ctx context.Context, corpID, kind string, from, to time.Time, slack time.Duration) (time.Time, error) {
	var wm sql.NullTime
	err := s.db.GetContext(ctx, &wm, `UPDATE import_watermarks
		SET watermark = CASE WHEN watermark IS NULL OR $3 <= watermark + make_interval(secs => $5)
		                     THEN greatest(watermark, $4) ELSE watermark END
		WHERE corp_id = $1 AND kind = $2 RETURNING watermark`, corpID, kind, from, to, slack.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("no import of %s for corp %q has started", kind, corpID)
	}
	return wm.Time, err
}
